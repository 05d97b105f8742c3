#!/usr/bin/env bats
# encode_text.bats: encode-text --device cuda (DAMSM's LSTM on the GPU) on the GPU (make test-gpu)
# or on the CUDA emulation (make test), see gpu.bash: sentence and word embeddings of the fixture's
# three arrays (test/reference/damsm_ref.py, PyTorch in float64) within 1e-5 of PyTorch and of
# the CPU; and a longer random stream whose later arrays bring new words (the cache of input
# projections grows on the GPU between batches).

load ../helpers
load gpu

FIX="$ROOT/test/fixtures/damsm"
W="$FIX/weights.npz"

setup() {
  common_setup
  gpu_setup
  cd "$T"
}

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

@test "cuda: encode-text sentence and word embeddings within 1e-5 of PyTorch and of the CPU" {
  for dev in cpu cuda; do
    encode-text --device $dev --weights "$W" --words w_$dev.npy -o s_$dev.npy < "$FIX/ids.npy"
  done
  CMP s_cuda.npy "$FIX/expected.npz:sent.*" --tol 1e-5
  CMP w_cuda.npy "$FIX/expected.npz:words.*" --tol 1e-5
  CMP s_cuda.npy s_cpu.npy --tol 1e-5
  CMP w_cuda.npy w_cpu.npy --tol 1e-5
}

@test "cuda: a stream of 6 arrays, new words in each, agrees with the CPU (the projection cache grows)" {
  py '
r = np.random.RandomState(4)
with open("ids.npy", "wb") as f:
    for k in range(6):
        B = [1, 30, 7, 64, 3, 20][k]
        ids = np.zeros((B, 18), np.int32)
        for b in range(B):
            n = r.randint(1, 19)
            ids[b, :n] = r.randint(1 + 80 * k, 81 + 80 * k, n)   # ids 1..480: new ones in each array
        np.save(f, ids)'
  for dev in cpu cuda; do
    encode-text --device $dev --weights "$W" -o s_$dev.npy --ids ids.npy
  done
  CMP s_cuda.npy s_cpu.npy --tol 1e-5
}
