#!/usr/bin/env bats
# nonfinite.bats: the CUDA variants refuse NaN and Inf in their inputs as the CPU ones do
# (test/nonfinite.bats), on the GPU (make test-gpu) or on the CUDA emulation (make test), see
# gpu.bash: the checks run on the host, as the streams and checkpoints are read, before anything is
# uploaded. Exit 3, the one message as the last line on stderr, nothing written.

load ../helpers
load gpu

FX="$ROOT/test/fixtures"

setup() {
  common_setup
  gpu_setup
  cd "$T"
  mkdir o
  py '
def read_stream(path):
    n, out = os.path.getsize(path), []
    with open(path, "rb") as f:
        while f.tell() < n: out.append(np.load(f))
    return out
def poison(src, dst, k, idx, v):
    a = read_stream(src); a[k][idx] = v
    with open(dst, "wb") as f:
        for x in a: np.save(f, x)
d = sys.argv[1]
poison(d + "/dfgan_small32/cond.npy", "cond.npy", 1, (2, 3), np.nan)
poison(d + "/dfgan_small32/real.npy", "real.npy", 1, (0, 2, 31, 0), -np.inf)
poison(d + "/clip/images.npy", "im.npy", 2, (1, 0, 5, 6), np.inf)
np.save("tx.npy", np.ones((3, 16), np.float32))
z = dict(np.load(d + "/dfgan_small32/G.npz")); z["fc.bias"] = z["fc.bias"].copy(); z["fc.bias"][9] = np.nan
np.savez("G.npz", **z)
x = np.zeros((2, 3, 8, 8), np.float32); x[1, 1, 4, 4] = np.nan; np.save("x.npy", x)' "$FX"
}

# refused MESSAGE: exit 3, MESSAGE the last line on stderr and its only error line, nothing in o/
refused() {
  [ "$status" -eq 3 ] || { echo "expected exit 3, found $status: $stderr" >&2; return 1; }
  assert_equal "${stderr_lines[${#stderr_lines[@]}-1]}" "$1"
  [ "$(grep -c ': expected ' <<< "$stderr")" -eq 1 ] || { echo "expected one error line: $stderr" >&2; return 1; }
  [ -z "$(ls -A o)" ] || { echo "expected no output, found $(ls -A o)" >&2; return 1; }
}

@test "cuda: gen-step, disc-step, clip-embed and inception-stats refuse NaN/Inf inputs on the host, exit 3" {
  G32="$FX/dfgan_small32"
  run --separate-stderr gen-step forward --device cuda --ckpt "$G32/G.npz" --noise "$G32/noise.npy" --cond cond.npy -o o/f.npy
  refused "gen-step: --cond: expected finite values, found NaN at (2,3) in batch 1"
  run --separate-stderr gen-step forward --device cuda --ckpt G.npz --noise "$G32/noise.npy" --cond "$G32/cond.npy" -o o/f.npy
  refused "gen-step: G.npz: expected finite values, found NaN at (9) in 'fc.bias'"
  run --separate-stderr disc-step train --device cuda --ckpt "$G32/D.npz" --real real.npy --cond "$G32/cond.npy" \
    --fake "$G32/real.npy" --grad-out o/g.npy --save o/D.npz --log "$T/d.log"
  refused "disc-step: --real: expected finite values, found -Inf at (0,2,31,0) in batch 1"
  run --separate-stderr clip-embed image --device cuda --head-width 8 --weights "$FX/clip/weights.npz" --in im.npy -o o/f.npy
  refused "clip-embed: --in: expected finite values, found +Inf at (1,0,5,6) in batch 2"
  run --separate-stderr inception-stats --init --seed 1 -o "$T/inc.npz"
  assert_ok
  run --separate-stderr inception-stats --device cuda --weights "$T/inc.npz" -o o/s.npz x.npy
  refused "inception-stats: x.npy: expected finite values, found NaN at (1,1,4,4) in batch 0"
}
