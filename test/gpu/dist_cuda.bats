#!/usr/bin/env bats
# dist_cuda.bats (make test-gpu): gen-step and disc-step as ranks on the GPU (lib/core/dist.h) against
# one process on the same GPU, through per-rank FIFOs as in test/dist.bats. NCCL needs a GPU per rank
# (it refuses two ranks on one GPU), so: one rank through NCCL on any GPU (a one-rank communicator:
# NCCL's set-up and all-reduce on the device, byte-identical to a plain run); two ranks sharing one GPU
# through MPI over a host copy; two ranks through NCCL where two GPUs exist. Skipped where no GPU is
# usable or mpirun or NCCL is missing.

load ../helpers

FXS="$BATS_TEST_DIRNAME/../fixtures"

setup() {
  common_setup
  nvidia-smi -L >/dev/null 2>&1 || skip "no GPU here"
  command -v mpirun >/dev/null 2>&1 || skip "no mpirun here"
  [ -x "$ROOT/bin/cuda/disc-step" ] || skip "no CUDA build"
  ldd "$ROOT/bin/cuda/disc-step" | grep -q libnccl || skip "bin/cuda built without NCCL"
  MPI=(timeout 300 mpirun -q --oversubscribe --allow-run-as-root --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
  GPUS=$(nvidia-smi -L | grep -c '^GPU')
  cd "$T"
}

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

# three steps of the imsize-64 fixture (batch 4): its two batches, then its first again
streams() {
  py "
for n in ['real', 'cond', 'noise', 'more']:
    f = open(sys.argv[1] + '/' + n + '.npy', 'rb'); a = [np.load(f), np.load(f)]
    with open(n + '.npy', 'wb') as g:
        for t in range(3): np.save(g, a[t % 2])
" "$FXS/dfgan_eq64"
}

# epoch N OUT: gen-step and disc-step on --device cuda, N ranks (0: plain processes), per-rank FIFOs
epoch() {
  local n=$1 out=$2 r mpi=(timeout 300) FX="$FXS/dfgan_eq64"
  [ "$n" -gt 0 ] && mpi=("${MPI[@]}" -np "$n")
  mkdir -p "$out"
  for ((r = 0; r < (n > 0 ? n : 1); r++)); do mkfifo "$out/fake.$r" "$out/grad.$r"; done
  "${mpi[@]}" disc-step train --device cuda --ckpt "$FX/D.npz" --real real.npy --cond cond.npy --fake "$out/fake.%r" \
      --grad-out "$out/grad.%r" --save "$out/D.npz" --dump-grads "$out/dg.npz" --log "$out/d.log" 2> "$out/d.err" &
  local dpid=$!
  "${mpi[@]}" gen-step train --device cuda --ckpt "$FX/G.npz" --noise noise.npy --cond cond.npy --fake-out "$out/fake.%r" \
      --grad "$out/grad.%r" --grad more.npy --save "$out/G.npz" --dump-grads "$out/gg.npz" --log "$out/g.log" 2> "$out/g.err"
  wait "$dpid"
}

@test "cuda: one rank through NCCL writes what one process writes, byte for byte" {
  streams
  epoch 0 one
  epoch 1 nccl1
  for f in D.npz G.npz dg.npz gg.npz d.log g.log; do cmp "one/$f" "nccl1/$f"; done
  [ ! -s nccl1/d.err ]          # NCCL, not the host copy (which says so)
}

@test "cuda: two ranks on one GPU (through MPI in host memory) against one process: within 1e-5" {
  streams
  epoch 0 one
  export CUDA_VISIBLE_DEVICES=0
  epoch 2 two
  grep -qx "disc-step (rank 0 of 2): gradients summed through MPI in host memory: ranks share a GPU (NCCL needs one GPU per rank)" two/d.err
  for f in D G dg gg; do CMP "two/$f.npz" "one/$f.npz" --tol 1e-5 --quiet; done
  [ "$(wc -l < two/d.log)" -eq 3 ]
}

@test "cuda: two ranks on two GPUs through NCCL against one process: within 1e-5" {
  [ "$GPUS" -ge 2 ] || skip "one GPU here: NCCL takes one per rank"
  streams
  epoch 0 one
  epoch 2 two
  [ ! -s two/d.err ] && [ ! -s two/g.err ]
  for f in D G dg gg; do CMP "two/$f.npz" "one/$f.npz" --tol 1e-5 --quiet; done
}
