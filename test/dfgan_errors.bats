#!/usr/bin/env bats
# dfgan_errors.bats: gen-step and disc-step on bad input: one line "tool: expected …, found …" on
# stderr, exit 2 (usage, input) or 1 (runtime), nothing on stdout, nothing half-written.

load helpers

setup() {
  common_setup
  FX="$ROOT/test/fixtures/dfgan_small32"
  # batch 0 of the small32 fixture, and variants
  py "
d = sys.argv[2]
for n in ['real', 'cond', 'noise']:
    f = open(sys.argv[1] + '/' + n + '.npy', 'rb'); np.save(d + '/' + n + '.npy', np.load(f))
np.save(d + '/fake.npy', np.load(sys.argv[1] + '/expected.npz')['fake.0'])
np.save(d + '/cond64.npy', np.load(d + '/cond.npy').astype(np.float64))
np.save(d + '/cond_b2.npy', np.load(d + '/cond.npy')[:2])
np.save(d + '/noise_wide.npy', np.zeros((3, 7), np.float32))
with open(d + '/noise2.npy', 'wb') as f:
    for _ in range(2): np.save(f, np.load(d + '/noise.npy'))
z = dict(np.load(sys.argv[1] + '/D.npz'))
w = z['netD.DBlocks.1.conv_r.0.weight']; z['netD.DBlocks.1.conv_r.0.weight'] = w[:, :-1]
np.savez(d + '/D_badshape.npz', **z)
z = dict(np.load(sys.argv[1] + '/D.npz')); z['netD.extra.weight'] = np.zeros(3, np.float32)
np.savez(d + '/D_extra.npz', **z)
z = dict(np.load(sys.argv[1] + '/D.npz')); del z['netD.DBlocks.1.conv_r.2.weight']
np.savez(d + '/D_missing.npz', **z)
" "$FX" "$T"
  head -c 3000 "$T/real.npy" > "$T/real_cut.npy"
  head -c 100 "$FX/G.npz" > "$T/G_cut.npz"
}

@test "--help goes to stdout and exits 0" {
  for tool in gen-step disc-step; do
    run --separate-stderr $tool --help
    assert_ok
    [[ "$output" == *"usage: $tool init"* ]]
    [ -z "$stderr" ]
  done
}

@test "usage errors exit 2 with one line" {
  run --separate-stderr gen-step
  assert_fails 2 "gen-step: expected a command (init, forward or train), found none (see --help)"
  run --separate-stderr disc-step fly
  assert_fails 2 "disc-step: expected a command (init or train), found 'fly'"
  run --separate-stderr gen-step forward --ckpt "$FX/G.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" -o "$T/o.npy" --bogus
  assert_fails 2 "gen-step: expected a known option, found '--bogus' (see --help)"
  run --separate-stderr gen-step init --imsize 48 --nf 2 --z-dim 3 --cond-dim 3 -o "$T/g.npz"
  assert_fails 2 "gen-step: --imsize expects a power of two of at least 32 (DF-GAN's 8·nf features at 4x4), found 48"
  run --separate-stderr disc-step init --imsize 32 --nf x --cond-dim 3 -o "$T/d.npz"
  assert_fails 2 "disc-step: --nf expects an integer in [1, 4096], found 'x'"
  run --separate-stderr gen-step train --ckpt "$FX/G.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" --save "$T/G2.npz"
  assert_fails 2 "gen-step: train expects --grad and --save, found --grad missing"
  [ ! -e "$T/g.npz" ] && [ ! -e "$T/d.npz" ] && [ ! -e "$T/G2.npz" ]
}

@test "a missing input file is named" {
  run --separate-stderr gen-step forward --ckpt "$FX/G.npz" --noise "$T/nope.npy" --cond "$T/cond.npy" -o "$T/o.npy"
  assert_fails 2 "gen-step: --noise: expected a readable file, found '$T/nope.npy': No such file or directory"
  run --separate-stderr disc-step train --ckpt "$T/nope.npz" --real "$T/real.npy" --cond "$T/cond.npy" --fake "$T/fake.npy" --save "$T/D2.npz"
  assert_fails 2 "disc-step: *nope.npz*"
  [ ! -e "$T/o.npy" ] && [ ! -e "$T/D2.npz" ]
  assert_no_temp "$T"
}

@test "wrong shapes and dtypes between streams are refused, naming expected and found" {
  run --separate-stderr gen-step forward --ckpt "$FX/G.npz" --noise "$T/noise_wide.npy" --cond "$T/cond.npy" -o "$T/o.npy"
  assert_fails 2 "gen-step: --noise: expected float32 (B,6), found float32 (3,7) in array 0"
  run --separate-stderr gen-step forward --ckpt "$FX/G.npz" --noise "$T/noise.npy" --cond "$T/cond64.npy" -o "$T/o.npy"
  assert_fails 2 "gen-step: --cond: expected float32 (3,8), found float64 (3,8) in array 0"
  run --separate-stderr gen-step forward --ckpt "$FX/G.npz" --noise "$T/noise.npy" --cond "$T/cond_b2.npy" -o "$T/o.npy"
  assert_fails 2 "gen-step: --cond: expected float32 (3,8), found float32 (2,8) in array 0"
  run --separate-stderr disc-step train --ckpt "$FX/D.npz" --real "$T/real.npy" --cond "$T/cond_b2.npy" --fake "$T/fake.npy" --grad-out "$T/g.npy" --save "$T/D2.npz"
  assert_fails 2 "disc-step: --cond: expected float32 (3,8), found float32 (2,8) in array 0"
  run --separate-stderr disc-step train --ckpt "$FX/D.npz" --real "$T/real.npy" --cond "$T/cond.npy" --fake "$T/noise.npy" --grad-out "$T/g.npy" --save "$T/D2.npz"
  assert_fails 2 "disc-step: --fake: expected float32 (3,3,32,32), found float32 (3,6) in array 0"
  [ ! -e "$T/o.npy" ] && [ ! -e "$T/g.npy" ] && [ ! -e "$T/D2.npz" ]
  assert_no_temp "$T"
}

@test "streams with different numbers of batches are refused and nothing is written" {
  run --separate-stderr gen-step forward --ckpt "$FX/G.npz" --noise "$T/noise2.npy" --cond "$T/cond.npy" -o "$T/o.npy"
  assert_fails 2 "gen-step: expected --noise and --cond to hold the same number of batches, found --cond ending at batch 2"
  run --separate-stderr gen-step forward --ckpt "$FX/G.npz" --noise "$T/noise.npy" --cond "$T/noise2.npy" -o "$T/o.npy"
  assert_fails 2 "gen-step: --cond: expected float32 (3,8), found float32 (3,6) in array 0"
  run --separate-stderr disc-step train --ckpt "$FX/D.npz" --real "$T/real.npy" --cond "$T/cond.npy" --fake /dev/null --grad-out "$T/g.npy" --save "$T/D2.npz"
  assert_fails 2 "disc-step: expected --real, --cond and --fake to hold the same number of batches, found --fake ending at batch 1"
  run --separate-stderr gen-step train --ckpt "$FX/G.npz" --noise "$T/noise2.npy" --cond "$T/noise2.npy" --grad "$T/fake.npy" --save "$T/G2.npz"
  assert_fails 2 "gen-step: --cond: expected float32 (3,8), found float32 (3,6) in array 0"
  cp "$T/cond.npy" "$T/cond2.npy"; cat "$T/cond.npy" >> "$T/cond2.npy"
  run --separate-stderr gen-step train --ckpt "$FX/G.npz" --noise "$T/noise2.npy" --cond "$T/cond2.npy" --grad "$T/fake.npy" --save "$T/G2.npz" --fake-out "$T/f.npy" --log "$T/log"
  assert_fails 2 "gen-step: --grad $T/fake.npy: expected a gradient for batch 2, found the end of the stream"
  cp "$T/fake.npy" "$T/fake2.npy"; cat "$T/fake.npy" >> "$T/fake2.npy"
  run --separate-stderr gen-step train --ckpt "$FX/G.npz" --noise "$T/noise2.npy" --cond "$T/cond2.npy" --grad "$T/fake2.npy" --grad "$T/fake.npy" --save "$T/G2.npz" --log "$T/log"
  assert_fails 2 "gen-step: expected --grad $T/fake2.npy and --grad $T/fake.npy to hold the same number of batches, found --grad $T/fake.npy ending at batch 2"
  run --separate-stderr gen-step train --ckpt "$FX/G.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" --grad "$T/fake2.npy" --save "$T/G2.npz" --log "$T/log"
  assert_fails 2 "gen-step: --grad $T/fake2.npy: expected 1 batches, found more"
  run --separate-stderr gen-step train --ckpt "$FX/G.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" --grad "$T/cond.npy" --save "$T/G2.npz"
  assert_fails 2 "gen-step: --grad $T/cond.npy: expected float32 (3,3,32,32), found float32 (3,8) in array 0"
  [ ! -e "$T/o.npy" ] && [ ! -e "$T/G2.npz" ] && [ ! -e "$T/f.npy" ]
  assert_no_temp "$T"
}

@test "a truncated stream is an error, and no output is left" {
  run --separate-stderr disc-step train --ckpt "$FX/D.npz" --real "$T/real_cut.npy" --cond "$T/cond.npy" --fake "$T/fake.npy" --grad-out "$T/g.npy" --save "$T/D2.npz"
  assert_fails 2 "disc-step: --real: expected float32 (B,3,32,32), found a truncated array (* of * bytes) in array 0"
  [ ! -e "$T/g.npy" ] && [ ! -e "$T/D2.npz" ]
  assert_no_temp "$T"
}

@test "a checkpoint that does not fit is refused, naming the key" {
  run --separate-stderr disc-step train --ckpt "$FX/G.npz" --real "$T/real.npy" --cond "$T/cond.npy" --fake "$T/fake.npy" --save "$T/D2.npz"
  assert_fails 2 "disc-step: $FX/G.npz: expected a D checkpoint with key 'netD.conv_img.weight' (nf,3,3,3), found none"
  run --separate-stderr gen-step forward --ckpt "$FX/D.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" -o "$T/o.npy"
  assert_fails 2 "gen-step: $FX/D.npz: expected a NetG state_dict with key 'to_rgb.1.weight', found none"
  run --separate-stderr disc-step train --ckpt "$T/D_badshape.npz" --real "$T/real.npy" --cond "$T/cond.npy" --fake "$T/fake.npy" --save "$T/D2.npz"
  assert_fails 2 "disc-step: $T/D_badshape.npz: expected 'netD.DBlocks.1.conv_r.0.weight' float32 (8,4,4,4), found float32 (8,3,4,4)"
  run --separate-stderr disc-step train --ckpt "$T/D_missing.npz" --real "$T/real.npy" --cond "$T/cond.npy" --fake "$T/fake.npy" --save "$T/D2.npz"
  assert_fails 2 "disc-step: $T/D_missing.npz: expected key 'netD.DBlocks.1.conv_r.2.weight' for this architecture, found none"
  run --separate-stderr disc-step train --ckpt "$T/D_extra.npz" --real "$T/real.npy" --cond "$T/cond.npy" --fake "$T/fake.npy" --save "$T/D2.npz"
  assert_fails 2 "disc-step: $T/D_extra.npz: expected only keys of this architecture, found unexpected key 'netD.extra.weight'"
  run --separate-stderr gen-step forward --ckpt "$T/G_cut.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" -o "$T/o.npy"
  assert_fails 2 "gen-step: *G_cut.npz*"
  [ ! -e "$T/o.npy" ] && [ ! -e "$T/D2.npz" ]
  assert_no_temp "$T"
}

@test "--device cuda without a GPU is a one-line runtime error" {
  if nvidia-smi -L >/dev/null 2>&1; then skip "this machine has a GPU"; fi
  run --separate-stderr gen-step init --imsize 32 --nf 2 --z-dim 4 --cond-dim 3 -o "$T/g.npz" --device cuda
  assert_fails 1 "gen-step: expected a usable GPU for --device cuda, found none*"
  run --separate-stderr disc-step train --ckpt "$FX/D.npz" --real "$T/real.npy" --cond "$T/cond.npy" --fake "$T/fake.npy" --save "$T/D2.npz" --device cuda
  assert_fails 1 "disc-step: expected a usable GPU for --device cuda, found none*"
  run --separate-stderr gen-step init --imsize 32 --nf 2 --z-dim 4 --cond-dim 3 -o "$T/g.npz" --device tpu
  assert_fails 2 "gen-step: --device expects cpu or cuda, found 'tpu'"
  [ ! -e "$T/g.npz" ] && [ ! -e "$T/D2.npz" ]
}

@test "a failed write is reported (output into a full device)" {
  [ -w /dev/full ] || skip "no /dev/full"
  run --separate-stderr gen-step forward --ckpt "$FX/G.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" -o /dev/full
  [ "$status" -eq 1 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "$stderr" == "gen-step: expected to write images to '/dev/full', found a write error" ]]
}
