# Makefile: builds every tool into bin/ (the CPU variant, always) and, where nvcc exists, its CUDA
# variant into bin/cuda/ (`bin/X --device cuda` hands over to `bin/cuda/X`, so the CPU variant
# never loads the CUDA libraries: 200 MB and 80 ms less per process); and runs the tests (`make test`), the benchmarks (`make bench`) and the fixture scripts
# (`make goldens`, needs PyTorch).
#
#   make                 build everything (NO_CUDA=1 to leave CUDA out even where nvcc exists)
#   make test            bats suites in test/ (needs numpy)
#   make test-gpu        CPU-vs-CUDA op comparison; needs a GPU
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

LIB_DIRS  := core io image text models train eval import
LIB_SRC   := $(wildcard $(LIB_DIRS:%=lib/%/*.c))
LIB_HDR   := $(wildcard $(LIB_DIRS:%=lib/%/*.h))
CPU_SRC   := $(wildcard lib/cpu/*.c)
TOOL_SRC  := $(wildcard bin/*.c)
TOOLS     := $(TOOL_SRC:.c=)
LIB_OBJ   := $(LIB_SRC:lib/%.c=build/lib/%.o) $(CPU_SRC:lib/cpu/%.c=build/cpu/%.o)
F64_OBJ   := $(CPU_SRC:lib/cpu/%.c=build/f64/%.o)
TEST_SRC  := $(wildcard test/c/*.c)
TEST_BIN  := $(TEST_SRC:test/c/%.c=build/test/%)
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=build/bench/%)

ifeq ($(NO_CUDA)$(if $(NVCC),,none),)
CU_SRC     := $(wildcard kernels/*.cu)
CU_OBJ     := $(CU_SRC:kernels/%.cu=build/cuda/%.o)
CUDA_LIBS  := -L$(CUDA_HOME)/lib64 -lcublas -lcudart -Wl,-rpath,$(CUDA_HOME)/lib64 -lstdc++
CUDA_TOOLS := $(TOOL_SRC:bin/%.c=bin/cuda/%)
GPU_CHECK_BACKEND := build/libcuda.a
else
CUDA_TOOLS :=
GPU_CHECK_BACKEND := build/libnocuda.a
endif

.PHONY: all test test-gpu bench goldens clean
all: $(TOOLS) $(CUDA_TOOLS) $(TEST_BIN) $(BENCH_BIN)

build/lib/%.o: lib/%.c $(LIB_HDR)
	@mkdir -p $(@D)
	$(CC) $(CFLAGS) -c $< -o $@
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
build/libnocuda.a: build/nocuda.o
	rm -f $@ && ar rcs $@ $^
build/libcuda.a: $(CU_OBJ)
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

build/lib build/cpu build/f64 build/cuda build/test build/bench bin/cuda:
	mkdir -p $@

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
# build/.flavour names the build that is there; rewritten (so newer than every object) only when
# SANITIZE changes.
FLAVOUR := $(if $(SANITIZE),sanitize,plain)
build/.flavour: flavour-check
	@mkdir -p build && { [ "$$(cat $@ 2>/dev/null)" = $(FLAVOUR) ] || echo $(FLAVOUR) > $@; }
$(LIB_OBJ) $(F64_OBJ) build/nocuda.o $(TOOLS) $(CUDA_TOOLS) $(TEST_BIN) $(BENCH_BIN): build/.flavour

.PHONY: fuzz fuzz-build fuzz-cc sanitize-test flavour-check
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

test: all
	PYTHON=$(PYTHON) test/run.sh

test-gpu: all
	PYTHON=$(PYTHON) bats test/gpu/

bench: all
	PYTHON=$(PYTHON) bench/run.sh

goldens: all
	cd test/reference && for s in *_ref.py; do $(PYTHON) $$s || exit 1; done

clean:
	rm -rf build $(TOOLS) bin/cuda
