#!/usr/bin/env bats
# inception.bats: inception-stats --device cuda on the GPU (make test-gpu) or on the CUDA emulation
# (make test), see gpu.bash: Inception-v3's features and statistics against PyTorch's (the
# fixture of test/reference/inception_ref.py, as test/inception.bats reads it) and against the
# CPU, both variants, with a partial last batch (3 images, --batch 2).

load ../helpers
load gpu

FX="$ROOT/test/fixtures/inception"

setup_file() {
  common_setup
  cd "$BATS_FILE_TMPDIR"
  py 'sys.path.insert(0, sys.argv[1])
from inception_ref import make_weights, make_inputs
seed = int(np.load(sys.argv[2])["seed"])
np.savez("w.npz", **make_weights(seed))
with open("in.npy", "wb") as f:
    for x in make_inputs(seed):
        np.save(f, x)' "$ROOT/test/reference" "$FX/expected.npz"
}

setup() {
  common_setup
  gpu_setup
  W="$BATS_FILE_TMPDIR/w.npz"
  IN="$BATS_FILE_TMPDIR/in.npy"
  cd "$T"
}

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

@test "cuda: inception-stats features within 1e-4 of PyTorch and 1e-5 of the CPU, statistics alike (fid, dfgan; a partial batch)" {
  for v in fid dfgan; do
    for dev in cpu cuda; do
      run --separate-stderr inception-stats --device $dev --weights "$W" --variant $v --batch 2 \
        --features-out f_${v}_$dev.npy -o s_${v}_$dev.npz "$IN"
      [ "$status" -eq 0 ] || { echo "$dev $v: $stderr"; false; }
      [[ "$stderr" == *"3 images, variant $v"* ]]
    done
    py 'f = open(sys.argv[1], "rb"); a = [np.load(f) for _ in range(2)]
assert [x.shape for x in a] == [(2, 2048), (1, 2048)], [x.shape for x in a]
np.save(sys.argv[2], np.concatenate(a))' f_${v}_cuda.npy f_${v}_cuda_all.npy
    CMP f_${v}_cuda_all.npy "$FX/expected.npz:$v" --tol 1e-4
    CMP f_${v}_cuda.npy f_${v}_cpu.npy --tol 1e-5
    CMP s_${v}_cuda.npz s_${v}_cpu.npz --keys '^mu$' --tol 1e-5
  done
}
