# Makefile: builds every tool into bin/ (the CPU variant, always) and, where nvcc exists, its CUDA
# variant into bin/cuda/ (`bin/X --device cuda` hands over to `bin/cuda/X`, so the CPU variant
# never loads the CUDA libraries); and runs the tests (`make test`), the benchmarks (`make bench`) and the fixture scripts
# (`make goldens`, needs PyTorch).
#
#   make                 build everything (NO_CUDA=1 to leave CUDA out even where nvcc exists,
#                        NO_MPI=1 to leave MPI out even where mpicc exists)
#   make test            bats suites in test/ (needs numpy), and those of test/gpu/ on the CPU
#                        emulation of CUDA (test/emu/, built where a C++ compiler exists)
#   make test-gpu        on a real GPU: test/gpu/'s checks on it, timings against PyTorch there,
#                        one summary block (bench/gpu_harvest.sh; fails in one line without a GPU)
#   make test-gpu-dry    the same dry, on the CUDA emulation at tiny sizes
#   make bench           benchmarks against PyTorch on this machine
#   make goldens         regenerate test/fixtures from test/reference/*.py (needs torch)

CC      ?= cc
OPT     ?= -O3 -march=native
CFLAGS  += -std=c11 $(OPT) -Wall -Wextra -D_GNU_SOURCE -Ilib -Ikernels -fopenmp
# OpenBLAS's OpenMP build shares our OpenMP threads (two thread pools spinning on 2 cores halve
# the speed); the pthread build is the fallback.
BLAS_OMP ?= /usr/lib/x86_64-linux-gnu/openblas-openmp
comma    := ,
BLAS_LIB ?= $(if $(wildcard $(BLAS_OMP)/libopenblas.so),-L$(BLAS_OMP) -Wl$(comma)-rpath$(comma)$(BLAS_OMP)) -lopenblas
LDLIBS  += $(BLAS_LIB) -llapacke -lpng -ljpeg -lyaml -lz -lm
PYTHON  ?= $(shell for p in python3 /usr/bin/python3; do $$p -c 'import numpy' 2>/dev/null && { echo $$p; break; }; done)

CUDA_HOME ?= /usr/local/cuda
NVCC      ?= $(shell command -v nvcc 2>/dev/null || { test -x $(CUDA_HOME)/bin/nvcc && echo $(CUDA_HOME)/bin/nvcc; })
NVFLAGS   ?= -O3 -std=c++17 -Ilib -Ikernels -gencode arch=compute_90,code=sm_90 -gencode arch=compute_80,code=compute_80

# MPI for data-parallel ranks (lib/core/dist.c) where mpicc exists; without it every tool is rank
# 0 of 1. The CUDA variant's all-reduce goes through NCCL where nccl.h and libnccl sit beside the
# CUDA toolkit's (lib/core/dist_gpu.c), else through MPI over a host copy.
MPICC     ?= $(shell command -v mpicc 2>/dev/null)
ifeq ($(NO_MPI)$(if $(MPICC),,none),)
MPI_CFLAGS := $(shell $(MPICC) --showme:compile 2>/dev/null || pkg-config --cflags mpi-c 2>/dev/null)
MPI_LIBS   := $(shell $(MPICC) --showme:link 2>/dev/null || pkg-config --libs mpi-c 2>/dev/null)
DIST_FLAGS := -DDIST_MPI $(MPI_CFLAGS)
LDLIBS     += -Wl,--push-state,--as-needed $(MPI_LIBS) -Wl,--pop-state
endif

LIB_DIRS  := core io image text models train eval import
LIB_SRC   := $(filter-out lib/core/dist_gpu.c,$(wildcard $(LIB_DIRS:%=lib/%/*.c)))
LIB_HDR   := $(wildcard $(LIB_DIRS:%=lib/%/*.h))
CPU_SRC   := $(wildcard lib/cpu/*.c)
TOOL_SRC  := $(wildcard bin/*.c)
TOOLS     := $(TOOL_SRC:.c=)
LIB_OBJ   := $(LIB_SRC:lib/%.c=build/lib/%.o) $(CPU_SRC:lib/cpu/%.c=build/cpu/%.o)
F64_OBJ   := $(CPU_SRC:lib/cpu/%.c=build/f64/%.o)
TEST_SRC  := $(wildcard test/c/*.c)
TEST_BIN  := $(TEST_SRC:test/c/%.c=build/test/%)
# the tools with a device path: those whose options take --device cuda (lib/core/toolopts.h's
# TOOL_CUDA, which step_common_begin passes for gen-step and disc-step); only they get bin/cuda/X
DEVICE_TOOLS := $(patsubst bin/%.c,%,$(shell grep -lE 'TOOL_CUDA|step_common_begin' bin/*.c))
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=build/bench/%)

# cuDNN, where its header and library are found (NO_CUDNN=1 to leave it out): conv2d_rect_forward
# then runs each convolution shape on cuDNN when that measures faster (kernels/conv_rect_cudnn.cu);
# without it, on im2col + cuBLAS. `make cuda-info` says which.
CUDNN_H   := $(if $(NO_CUDNN),,$(firstword $(wildcard $(CUDA_HOME)/include/cudnn.h /usr/include/cudnn.h /usr/include/x86_64-linux-gnu/cudnn.h)))
CUDNN_LIB := $(if $(NO_CUDNN),,$(firstword $(wildcard $(CUDA_HOME)/lib64/libcudnn.so /usr/lib/x86_64-linux-gnu/libcudnn.so)))
CUDNN     := $(and $(CUDNN_H),$(CUDNN_LIB))

ifeq ($(NO_CUDA)$(if $(NVCC),,none),)
CU_SRC     := $(wildcard kernels/*.cu)
CU_OBJ     := $(CU_SRC:kernels/%.cu=build/cuda/%.o)
NCCL_OK    := $(and $(DIST_FLAGS),$(wildcard $(CUDA_HOME)/include/nccl.h),$(wildcard $(CUDA_HOME)/lib64/libnccl.so))
DIST_GPU_FLAGS := -DDIST_CUDA -I$(CUDA_HOME)/include $(if $(NCCL_OK),-DDIST_NCCL $(DIST_FLAGS))
CUDA_LIBS  := -L$(CUDA_HOME)/lib64 $(if $(CUDNN),-L$(dir $(CUDNN_LIB)) -lcudnn) $(if $(NCCL_OK),-lnccl) -lcublas -lcudart -Wl,-rpath,$(CUDA_HOME)/lib64 -lstdc++
NVFLAGS    += $(if $(CUDNN),-DHAVE_CUDNN -I$(dir $(CUDNN_H)))
CUDA_TOOLS := $(DEVICE_TOOLS:%=bin/cuda/%) build/bench/cuda/step_bench
GPU_CHECK_BACKEND := build/libcuda.a
else
CUDA_TOOLS :=
GPU_CHECK_BACKEND := build/libnocuda.a
endif

# The CUDA sources on the CPU emulation of test/emu/ (kernels/*.cu compiled as C++ against its
# cuda_runtime.h and cublas_v2.h): build/emu/libcuda_emu.a, the CPU-vs-CUDA checks linked with it in
# build/emu/test/, and for each tool with a device path a copy of bin/X in build/emu/bin/ that hands
# --device cuda over to build/emu/bin/cuda/X (linked with it). make test runs test/gpu/ on them.
EMU_CXX   := $(shell command -v $(CXX) 2>/dev/null)
EMU_FLAGS ?= -std=c++17 -O2 -Wall -Wextra -D_GNU_SOURCE -DCUDA_EMU -fstack-clash-protection \
             -Itest/emu/include -Ilib -Ikernels
EMU_SRC   := $(filter-out test/emu/selftest.cc,$(wildcard test/emu/*.cc))
EMU_HDR   := $(wildcard test/emu/*.h test/emu/include/*.h)
EMU_CU    := $(wildcard kernels/*.cu)
EMU_OBJ   := $(EMU_CU:kernels/%.cu=build/emu/kernels/%.o) $(EMU_SRC:test/emu/%.cc=build/emu/%.o)
EMU_TOOLS := $(DEVICE_TOOLS)
EMU_CHECKS := build/emu/test/gpu_ops_check build/emu/test/gpu_clip_check
EMU_SELFTEST := build/emu/test/cuda_emu_selftest
ifeq ($(EMU_CXX),)
EMU_SKIP  := no C++ compiler ($(CXX)) to build the CUDA emulation of test/emu/
EMU_ALL   :=
else
EMU_SKIP  :=
EMU_ALL   := $(EMU_CHECKS) $(EMU_SELFTEST) $(EMU_TOOLS:%=build/emu/bin/%) $(EMU_TOOLS:%=build/emu/bin/cuda/%) \
             build/emu/bench/cuda/step_bench
endif

.PHONY: all emu test test-gpu test-gpu-dry bench goldens clean cuda-info
all: $(TOOLS) $(CUDA_TOOLS) $(TEST_BIN) $(BENCH_BIN)

build/lib/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
build/lib/core/dist.o: CFLAGS += $(DIST_FLAGS)
# dist_gpu.c twice: without a GPU beside nocuda.c, with CUDA (and NCCL) beside the kernels
build/dist_gpu.o: lib/core/dist_gpu.c $(LIB_HDR) | build/lib
	$(CC) $(CFLAGS) -c $< -o $@
build/cuda/dist_gpu.o: lib/core/dist_gpu.c $(LIB_HDR) | build/cuda
	$(CC) $(CFLAGS) $(DIST_GPU_FLAGS) -c $< -o $@
build/nocuda.o: kernels/nocuda.c $(LIB_HDR) $(wildcard kernels/*.h) | build/lib
	$(CC) $(CFLAGS) -c $< -o $@
build/cpu/%.o: lib/cpu/%.c $(LIB_HDR) $(wildcard lib/cpu/*.h) | build/cpu
	$(CC) $(CFLAGS) -c $< -o $@
build/f64/%.o: lib/cpu/%.c $(LIB_HDR) $(wildcard lib/cpu/*.h) | build/f64
	$(CC) $(CFLAGS) -DOPS_F64 -c $< -o $@
build/cuda/%.o: kernels/%.cu $(LIB_HDR) $(wildcard kernels/*.h) | build/cuda
	$(NVCC) $(NVFLAGS) -c $< -o $@

build/libdfgan.a: $(LIB_OBJ)
	rm -f $@ && ar rcs $@ $^
build/libnocuda.a: build/nocuda.o build/dist_gpu.o
	rm -f $@ && ar rcs $@ $^
build/libcuda.a: $(CU_OBJ) build/cuda/dist_gpu.o
	rm -f $@ && ar rcs $@ $^
build/libf64.a: $(F64_OBJ)
	rm -f $@ && ar rcs $@ $^

bin/%: bin/%.c build/libdfgan.a build/libnocuda.a
	$(CC) $(CFLAGS) $< build/libdfgan.a build/libnocuda.a $(LDLIBS) -o $@
bin/cuda/%: bin/%.c build/libdfgan.a build/libcuda.a | bin/cuda
	$(CC) $(CFLAGS) $< build/libdfgan.a build/libcuda.a $(LDLIBS) $(CUDA_LIBS) -o $@
build/test/gpu_ops_check build/test/gpu_clip_check: build/test/%: test/c/%.c test/c/gpu_check.h build/libdfgan.a build/libf64.a $(GPU_CHECK_BACKEND) | build/test
	$(CC) $(CFLAGS) $< build/libf64.a build/libdfgan.a $(GPU_CHECK_BACKEND) $(LDLIBS) $(if $(CUDA_TOOLS),$(CUDA_LIBS)) -o $@
build/test/%: test/c/%.c build/libdfgan.a build/libf64.a build/libnocuda.a | build/test
	$(CC) $(CFLAGS) $< build/libf64.a build/libdfgan.a build/libnocuda.a $(LDLIBS) -o $@
build/bench/%: bench/%.c build/libdfgan.a build/libnocuda.a | build/bench
	$(CC) $(CFLAGS) $< build/libdfgan.a build/libnocuda.a $(LDLIBS) -o $@
build/bench/cuda/step_bench: bench/step_bench.c build/libdfgan.a build/libcuda.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< build/libdfgan.a build/libcuda.a $(LDLIBS) $(CUDA_LIBS) -o $@

$(EMU_CU:kernels/%.cu=build/emu/kernels/%.o): build/emu/kernels/%.o: kernels/%.cu $(LIB_HDR) $(wildcard kernels/*.h) $(EMU_HDR) | build/emu/kernels
	$(CXX) $(EMU_FLAGS) -x c++ -c $< -o $@
$(EMU_SRC:test/emu/%.cc=build/emu/%.o) build/emu/selftest.o: build/emu/%.o: test/emu/%.cc $(EMU_HDR) | build/emu/kernels
	$(CXX) $(EMU_FLAGS) -c $< -o $@
# (with dist_gpu.c's no-GPU build: the emulation has no NCCL and one device)
build/emu/libcuda_emu.a: $(EMU_OBJ) build/dist_gpu.o
	rm -f $@ && ar rcs $@ $^
$(EMU_CHECKS): build/emu/test/%: test/c/%.c test/c/gpu_check.h build/libdfgan.a build/libf64.a build/emu/libcuda_emu.a | build/emu/test
	$(CC) $(CFLAGS) $< build/libf64.a build/libdfgan.a build/emu/libcuda_emu.a $(LDLIBS) -lstdc++ -o $@
$(EMU_SELFTEST): build/emu/selftest.o build/libdfgan.a build/emu/libcuda_emu.a | build/emu/test
	$(CC) $(CFLAGS) $< build/libdfgan.a build/emu/libcuda_emu.a $(LDLIBS) -lstdc++ -o $@
$(EMU_TOOLS:%=build/emu/bin/cuda/%): build/emu/bin/cuda/%: bin/%.c build/libdfgan.a build/emu/libcuda_emu.a | build/emu/bin/cuda
	$(CC) $(CFLAGS) $< build/libdfgan.a build/emu/libcuda_emu.a $(LDLIBS) -lstdc++ -o $@
$(EMU_TOOLS:%=build/emu/bin/%): build/emu/bin/%: bin/% | build/emu/bin/cuda
	cp $< $@
build/emu/bench/cuda/step_bench: bench/step_bench.c build/libdfgan.a build/emu/libcuda_emu.a
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) $< build/libdfgan.a build/emu/libcuda_emu.a $(LDLIBS) -lstdc++ -o $@

build/lib build/cpu build/f64 build/cuda build/test build/bench bin/cuda build/emu/kernels build/emu/test build/emu/bin/cuda:
	mkdir -p $@

emu: $(EMU_ALL)

# ---- fuzzing and the sanitizer build ----
#   make fuzz [FUZZ_S=N]  build the libFuzzer harnesses test/fuzz/*_fuzz.c into build/fuzz/ (clang,
#                         -fsanitize=fuzzer,address,undefined over the whole library, with pickle.h's
#                         bounds lowered), replay their seeds and saved crash inputs, then fuzz each
#                         for N seconds (default 60; 0: replay only). test/fuzz/run.sh, which says more.
#   make fuzz-build       the harnesses only
#   make SANITIZE=1 ...   everything built with ASan + UBSan (any UB is fatal), in place: whenever
#                         SANITIZE changes between two makes, build/.flavour makes every C object and
#                         program rebuild, so `make SANITIZE=1 test` and then `make` each rebuild once.
#   make sanitize-test    the SANITIZE=1 build, then the parser and tool suites (SAN_SUITES) under it
FUZZ_CC     ?= clang
FUZZ_S      ?= 60
FUZZ_DEFS   := -DPK_MAX_OBJECTS='(1<<18)' -DPK_MAX_ITEMS='(1<<20)' -DPK_MAX_STACK='(1<<16)' \
               -DPK_MAX_MEMO='(1<<16)' -DPK_MAX_STR='((size_t)1<<24)' -DCKI_MAX_VISITS='(1<<20)'
FUZZ_CFLAGS := -std=c11 -g -O1 -D_GNU_SOURCE -Ilib -Ikernels -fopenmp -fno-omit-frame-pointer \
               -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined $(FUZZ_DEFS)
FUZZ_OBJ    := $(LIB_SRC:lib/%.c=build/fuzz/lib/%.o) $(CPU_SRC:lib/cpu/%.c=build/fuzz/cpu/%.o) build/fuzz/nocuda.o
FUZZ_BIN    := $(patsubst test/fuzz/%.c,build/fuzz/%,$(wildcard test/fuzz/*_fuzz.c))
SAN_SUITES  ?= test/io.bats test/reader_errors.bats test/ckpt.bats test/ckpt_hfclip.bats test/cfg.bats \
               test/tokenize_pickle.bats test/dataset.bats test/dfgan_errors.bats test/tools.bats
# detect_leaks=0: a tool exits without freeing what it holds (die_usage, die_runtime, or the end
# of main), by design; the readers' leaks are the fuzzers' to find (libFuzzer checks every input).
# protect_shadow_gap=0: the CUDA runtime maps memory where ASan would otherwise guard its shadow.
SAN_ASAN    := detect_leaks=0:protect_shadow_gap=0
SAN_UBSAN   := print_stacktrace=1:halt_on_error=1
ifdef SANITIZE
CFLAGS += -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
export ASAN_OPTIONS ?= $(SAN_ASAN)
export UBSAN_OPTIONS ?= $(SAN_UBSAN)
endif
FLAVOUR := $(if $(SANITIZE),sanitize,plain)
ifneq ($(if $(MAKECMDGOALS),$(filter-out fuzz fuzz-build fuzz-cc clean sanitize-test,$(MAKECMDGOALS)),all),)
ifneq ($(FLAVOUR),$(shell cat build/.flavour 2>/dev/null))
$(shell mkdir -p build && echo $(FLAVOUR) > build/.flavour)
endif
endif
build/.flavour:
	@mkdir -p build && echo $(FLAVOUR) > $@
$(LIB_OBJ) $(F64_OBJ) build/nocuda.o $(TOOLS) $(CUDA_TOOLS) $(TEST_BIN) $(BENCH_BIN): build/.flavour

.PHONY: fuzz fuzz-build fuzz-cc sanitize-test
fuzz: fuzz-build
	FUZZ_S=$(FUZZ_S) test/fuzz/run.sh $(FUZZ_BIN:build/fuzz/%_fuzz=%)
fuzz-build: $(FUZZ_BIN)
sanitize-test:
	$(MAKE) SANITIZE=1 all
	ASAN_OPTIONS=$(SAN_ASAN) UBSAN_OPTIONS=$(SAN_UBSAN) PYTHON=$(PYTHON) bats --tap $(SAN_SUITES)
fuzz-cc:
	@command -v $(FUZZ_CC) >/dev/null || { echo "fuzz: expected $(FUZZ_CC) with libFuzzer (.ci/install-deps installs clang, libclang-rt-dev and libomp-dev), found no $(FUZZ_CC)" >&2; exit 2; }
$(FUZZ_OBJ): | fuzz-cc

build/fuzz/lib/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
build/fuzz/cpu/%.o: lib/cpu/%.c $(LIB_HDR) $(wildcard lib/cpu/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wno-pass-failed -c $< -o $@
build/fuzz/nocuda.o: kernels/nocuda.c $(LIB_HDR) $(wildcard kernels/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -c $< -o $@
build/fuzz/libdfgan.a: $(FUZZ_OBJ)
	rm -f $@ && ar rcs $@ $^
build/fuzz/%_fuzz: test/fuzz/%_fuzz.c test/fuzz/fuzz_common.h build/fuzz/libdfgan.a
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< build/fuzz/libdfgan.a $(LDLIBS) -o $@


test: all emu
	PYTHON=$(PYTHON) CUDA_EMU_SKIP='$(EMU_SKIP)' test/run.sh

# the harvest of a lent GPU (bench/gpu_harvest.sh): the checks of test/gpu/ on it, then timings
# against PyTorch on it, then one summary block; or one line saying what is missing (a GPU, nvcc)
test-gpu:
	@nvidia-smi -L 2>/dev/null | grep -q '^GPU' || { echo "test-gpu: expected a GPU, found none (nvidia-smi -L lists no GPU; make test runs these checks on the CUDA emulation)" >&2; exit 1; }
	@[ -n "$(CUDA_TOOLS)" ] || { echo "test-gpu: expected the CUDA build, found none (no nvcc, or NO_CUDA=1)" >&2; exit 1; }
	@$(MAKE) --no-print-directory all
	PYTHON=$(PYTHON) bench/gpu_harvest.sh

# the same harvest dry, on the CUDA emulation at tiny sizes (about 2 minutes; numbers of no worth)
test-gpu-dry: all emu
	BACKEND=emu PYTHON=$(PYTHON) bench/gpu_harvest.sh

cuda-info:
	@echo "nvcc: $(or $(NVCC),none)$(if $(NO_CUDA), (NO_CUDA=1: not used))"
	@echo "cuDNN: $(if $(CUDNN),$(CUDNN_H) and $(CUDNN_LIB): conv2d_rect_forward uses it where faster,absent ($(if $(NO_CUDNN),NO_CUDNN=1,no cudnn.h and libcudnn.so under $(CUDA_HOME) or /usr)): convolutions on im2col + cuBLAS)"

bench: all
	PYTHON=$(PYTHON) bench/run.sh

goldens: all
	cd test/reference && for s in *_ref.py; do $(PYTHON) $$s || exit 1; done

clean:
	rm -rf build $(TOOLS) bin/cuda
