#!/usr/bin/env bats
# diverge.bats: a diverged step stops loudly (issue 15). gen-step and disc-step check every step's
# losses, parameter gradient, weights and Adam state (lib/train/stepcheck.c) and its output batch;
# the first NaN or Inf ends the tool with exit 3 and one line naming the step and the quantity,
# before any checkpoint is written; the checkpoint writers refuse a NaN or Inf whatever the path
# (ckpt_save, ckpt_save_grads, dfgan_save); each step's parameter-gradient norm is logged; a tool's
# error line also goes to DFGAN_ERROR_LOG. The pipeline's side is in pipeline_demo.bats.

load helpers
load diverge

setup() {
  common_setup
  cd "$T"
  diverge_data 4
  # the cond rows times 1e30 (finite, but G overflows inside)
  py "
c = []
with open('cond.npy', 'rb') as f:
    for _ in range(4): c.append(np.load(f))
with open('cond_big.npy', 'wb') as f:
    for a in c: np.save(f, a * np.float32(1e30))
"
}

# all_finite FILE...: every float array of every .npz is finite
all_finite() {
  py "
for p in sys.argv[1:]:
    z = np.load(p)
    for k in z.files:
        a = z[k]
        assert a.dtype.kind != 'f' or np.isfinite(a).all(), (p, k)
" "$@"
}

@test "disc-step at lr 10 diverges at step 2: exit 3, one line naming the step and the loss, no checkpoint, no --grad-out" {
  run --separate-stderr disc-step train --ckpt D.npz --real real.npy --cond cond.npy --fake fake.npy --grad-out gf.npy \
    --save D2.npz --lr 10 --log d.jsonl
  assert_fails 3 "disc-step: step 2: expected a finite loss, found +Inf in magp (*, beyond float32's range)"
  [ ! -e D2.npz ] && [ ! -e gf.npy ]
  assert_no_temp .
  # step 1 was logged, finite, with its parameter-gradient norm
  [ "$(wc -l < d.jsonl)" -eq 1 ]
  py "
import json
l = json.loads(open('d.jsonl').read())
assert l['batch'] == 1 and all(np.isfinite(v) for v in l.values()) and l['param_grad_norm'] > 0, l
"
  # at lr 1 Adam's squared gradient overflows where the gradient did not
  run --separate-stderr disc-step train --ckpt D.npz --real real.npy --cond cond.npy --fake fake.npy --grad-out gf.npy \
    --save D2.npz --lr 1 --log d1.jsonl
  assert_fails 3 "disc-step: step 2: expected finite values after the Adam step, found +Inf in adam.exp_avg_sq.netD.*"
  [ ! -e D2.npz ] && [ ! -e gf.npy ]
  # the same run at DF-GAN's rate trains on
  run --separate-stderr disc-step train --ckpt D.npz --real real.npy --cond cond.npy --fake fake.npy --grad-out gf.npy \
    --save D2.npz --log d2.jsonl
  assert_ok
  all_finite D2.npz
}

@test "gen-step at lr 100 diverges at step 2: NaN in its fakes, or in the gradient of a named weight; nothing written" {
  run --separate-stderr gen-step train --ckpt G.npz --noise z.npy --cond cond.npy --grad g.npy --save G2.npz \
    --fake-out f.npy --lr 100 --log g.jsonl
  assert_fails 3 "gen-step: step 2: expected finite values, found NaN in the fake images at (0,0,0,0)"
  [ ! -e G2.npz ] && [ ! -e f.npy ]
  assert_no_temp .
  [ "$(wc -l < g.jsonl)" -eq 1 ]
  # without --fake-out the fakes stay on the device: the backward pass meets them
  run --separate-stderr gen-step train --ckpt G.npz --noise z.npy --cond cond.npy --grad g.npy --save G2.npz \
    --lr 100 --log g2.jsonl
  assert_fails 3 "gen-step: step 2: expected finite values, found NaN in the gradient of fc.weight at (0,0)"
  [ ! -e G2.npz ]
}

@test "gen-step on finite cond rows of 1e30 (G overflows inside) stops at step 1, naming what overflowed" {
  run --separate-stderr gen-step train --ckpt G.npz --noise z.npy --cond cond_big.npy --grad g.npy --save G2.npz \
    --fake-out f.npy --log g.jsonl
  assert_fails 3 "gen-step: step 1: expected finite values*, found @(NaN|+Inf|-Inf) in *"
  [ ! -e G2.npz ] && [ ! -e f.npy ] && [ ! -s g.jsonl ]
}

@test "gen-step forward on cond rows G overflows on writes no NaN images: exit 3 naming the batch and index" {
  # cond rows of 3e38, finite: G's activations overflow, tanh(Inf - Inf) is NaN
  py "
with open('cond.npy', 'rb') as f, open('cond_max.npy', 'wb') as g:
    for _ in range(4): np.save(g, np.full_like(np.load(f), 3e38))
"
  run --separate-stderr gen-step forward --ckpt G.npz --noise z.npy --cond cond_max.npy -o f.npy
  assert_fails 3 "gen-step: expected finite fake images, found NaN at (0,0,0,0) in batch 0 (G overflowed on its --noise and --cond)"
  [ ! -e f.npy ]
  gen-step forward --ckpt G.npz --noise z.npy --cond cond.npy -o f.npy
  [ -s f.npy ]
}

@test "an Adam update that overflows one weight is named exactly: the key and the index, in both tools" {
  plant_m D.npz D_m.npz netD.DBlocks.1.conv_r.2.weight 5,2,1,0
  run --separate-stderr disc-step train --ckpt D_m.npz --real real.npy --cond cond.npy --fake fake.npy --grad-out gf.npy \
    --save D2.npz --beta1 0.99 --log d.jsonl
  assert_fails 3 "disc-step: step 1: expected finite values after the Adam step, found -Inf in netD.DBlocks.1.conv_r.2.weight at (5,2,1,0)"
  [ ! -e D2.npz ] && [ ! -e gf.npy ]
  plant_m G.npz G_m.npz GBlocks.1.c1.weight 3,1,2,0
  run --separate-stderr gen-step train --ckpt G_m.npz --noise z.npy --cond cond.npy --grad g.npy --save G2.npz \
    --beta1 0.99 --log g.jsonl
  assert_fails 3 "gen-step: step 1: expected finite values after the Adam step, found -Inf in GBlocks.1.c1.weight at (3,1,2,0)"
  [ ! -e G2.npz ]
  # without the planted value the same steps go through
  plant_m D.npz D_0.npz netD.conv_img.bias 0
  py "z = dict(np.load('D_0.npz')); z['adam.exp_avg.netD.conv_img.bias'][0] = 0; np.savez('D_0.npz', **z)"
  run --separate-stderr disc-step train --ckpt D_0.npz --real real.npy --cond cond.npy --fake fake.npy --grad-out gf.npy \
    --save D2.npz --beta1 0.99 --log d0.jsonl
  assert_ok
}

@test "param_grad_norm in both logs is the L2 norm of the parameter gradient (--dump-grads, the last batch)" {
  disc-step train --ckpt D.npz --real real.npy --cond cond.npy --fake fake.npy --grad-out gf.npy --save D2.npz \
    --dump-grads DG.npz --log d.jsonl
  gen-step train --ckpt G.npz --noise z.npy --cond cond.npy --grad gf.npy --save G2.npz --dump-grads GG.npz --log g.jsonl
  py "
import json
for log, dump, keys in (('d.jsonl', 'DG.npz', 8), ('g.jsonl', 'GG.npz', 3)):
    lines = [json.loads(l) for l in open(log)]
    assert len(lines) == 4 and len(lines[-1]) == keys, lines[-1]
    z = np.load(dump)
    norm = np.sqrt(sum((z[k].astype(np.float64) ** 2).sum() for k in z.files))
    got = lines[-1]['param_grad_norm']
    assert norm > 0 and abs(got - norm) <= 1e-6 * norm, (log, got, norm)
    assert len({l['param_grad_norm'] for l in lines}) == 4, lines      # one per step
# the existing keys are kept, in their order
assert list(json.loads(open('d.jsonl').readline())) == ['batch', 'errD', 'err_real', 'err_fake', 'err_mis', 'magp', 'errG', 'param_grad_norm']
assert list(json.loads(open('g.jsonl').readline())) == ['batch', 'grad_norm', 'param_grad_norm']
"
}

@test "ckpt_save and ckpt_save_grads refuse a NaN or Inf in a weight, in Adam's state or in a gradient; nothing written" {
  run --separate-stderr ckpt_nonfinite none ok.npz
  assert_ok
  all_finite ok.npz
  py "z = np.load('ok.npz'); assert sorted(z.files) == sorted(['a.weight', 'b.bias', 'adam.step'] + ['adam.exp_avg%s.%s' % (s, k) for s in ('', '_sq') for k in ('a.weight', 'b.bias')])"
  run --separate-stderr ckpt_nonfinite data out.npz
  assert_fails 3 "ckpt_nonfinite: out.npz: expected finite values to save, found NaN in a.weight at (1,2)"
  run --separate-stderr ckpt_nonfinite exp_avg out.npz
  assert_fails 3 "ckpt_nonfinite: out.npz: expected finite values to save, found +Inf in adam.exp_avg.b.bias at (3)"
  run --separate-stderr ckpt_nonfinite exp_avg_sq out.npz
  assert_fails 3 "ckpt_nonfinite: out.npz: expected finite values to save, found -Inf in adam.exp_avg_sq.a.weight at (0,1)"
  run --separate-stderr ckpt_nonfinite grad out.npz
  assert_fails 3 "ckpt_nonfinite: out.npz: expected finite values to save, found NaN in b.bias at (0)"
  [ ! -e out.npz ]
  assert_no_temp .
}

@test "ckpt import --dfgan refuses a DF-GAN checkpoint holding a NaN; no G.npz or D.npz; --allow-nonfinite copies it as it is" {
  # the fixture's first stored tensor (NetG's fc.weight) with its second value NaN, as a zip .pth
  "$PYTHON" -c "
import struct, sys, zipfile
zi = zipfile.ZipFile(sys.argv[1]); zo = zipfile.ZipFile(sys.argv[2], 'w', zipfile.ZIP_STORED)
for n in zi.namelist():
    b = zi.read(n)
    if n.endswith('/data/0'): b = b[:4] + struct.pack('<f', float('nan')) + b[8:]
    zo.writestr(n, b)
zo.close()
" "$ROOT/test/fixtures/ckpt/dfgan_state_epoch_3.pth" nan.pth
  run --separate-stderr ckpt import --dfgan nan.pth -o out
  assert_fails 3 "ckpt: nan.pth: expected finite values, found NaN at (0,1) in 'fc.weight'"
  [ ! -e out/G.npz ] && [ ! -e out/D.npz ]
  # asked for, a faithful copy (to inspect a diverged run): the NaN where it was, nothing else changed
  ckpt import --dfgan --allow-nonfinite nan.pth -o out 2>/dev/null
  "$PYTHON" -c "
import numpy as np, sys
g = np.load(sys.argv[1])['fc.weight']
assert np.isnan(g[0, 1]) and np.isfinite(np.delete(g.ravel(), 1)).all(), g
" out/G.npz
}

@test "DFGAN_ERROR_LOG: each tool's error line appended as '<status> <line>', stderr unchanged" {
  export DFGAN_ERROR_LOG="$T/errors.log"
  run --separate-stderr disc-step train --ckpt D.npz --real real.npy --cond cond.npy --fake fake.npy --grad-out gf.npy \
    --save D2.npz --lr 10 --log d.jsonl
  [ "$status" -eq 3 ]
  run --separate-stderr gen-step train --ckpt nope.npz --noise z.npy --cond cond.npy --grad g.npy --save G2.npz
  [ "$status" -eq 2 ]
  [ "$(wc -l < errors.log)" -eq 2 ]
  [[ "$(sed -n 1p errors.log)" == "3 disc-step: step 2: expected a finite loss, found +Inf in magp ("*")" ]]
  assert_equal "$(sed -n 2p errors.log)" "2 $stderr"
  # warnings are not errors: nothing appended by a tool that succeeds
  gen-step forward --ckpt G.npz --noise z.npy --cond cond.npy -o f2.npy
  [ "$(wc -l < errors.log)" -eq 2 ]
}
