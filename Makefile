# Makefile: builds every tool into bin/ (the CPU variant, always) and, where nvcc exists, its CUDA
# variant into bin/cuda/ (`bin/X --device cuda` hands over to `bin/cuda/X`, so the CPU variant
# never loads the CUDA libraries: 200 MB and 80 ms less per process); and runs the tests (`make test`), the benchmarks (`make bench`) and the fixture scripts
# (`make goldens`, needs PyTorch).
#
#   make                 build everything (NO_CUDA=1 to leave CUDA out even where nvcc exists,
#                        NO_MPI=1 to leave MPI out even where mpicc exists)
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
BENCH_SRC := $(wildcard bench/*.c)
BENCH_BIN := $(BENCH_SRC:bench/%.c=build/bench/%)

ifeq ($(NO_CUDA)$(if $(NVCC),,none),)
CU_SRC     := $(wildcard kernels/*.cu)
CU_OBJ     := $(CU_SRC:kernels/%.cu=build/cuda/%.o)
NCCL_OK    := $(and $(DIST_FLAGS),$(wildcard $(CUDA_HOME)/include/nccl.h),$(wildcard $(CUDA_HOME)/lib64/libnccl.so))
DIST_GPU_FLAGS := -DDIST_CUDA -I$(CUDA_HOME)/include $(if $(NCCL_OK),-DDIST_NCCL $(DIST_FLAGS))
CUDA_LIBS  := -L$(CUDA_HOME)/lib64 $(if $(NCCL_OK),-lnccl) -lcublas -lcudart -Wl,-rpath,$(CUDA_HOME)/lib64 -lstdc++
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

build/lib build/cpu build/f64 build/cuda build/test build/bench bin/cuda:
	mkdir -p $@

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
