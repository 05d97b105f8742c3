#!/usr/bin/env bats
# dfgan_step.bats: gen-step and disc-step against the PyTorch float64 reference
# (test/reference/dfgan_ref.py wrote test/fixtures/dfgan_*): init layouts, fake images, the D step
# with MA-GP, the gradient wrt the fake images, every parameter gradient, the Adam updates, and a
# two-batch epoch run through FIFOs exactly as a pipeline runs it.

load helpers

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

cfg() { py "import json; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$FX/config.json" "$1"; }

# batch0 NAME: the first array of the fixture stream NAME.npy into $T/NAME0.npy
batch0() { py "f = open(sys.argv[1], 'rb'); np.save(sys.argv[2], np.load(f))" "$FX/$1.npy" "$T/${1}0.npy"; }

# check_update NEW.npz OLD.npz EXPECTED_PREFIX TOL: the change of every weight equals the reference's
check_update() {
  py "
new, old, exp = np.load(sys.argv[1]), np.load(sys.argv[2]), np.load(sys.argv[3])
pre, tol, worst = sys.argv[4], float(sys.argv[5]), 0.0
for k in old.files:
    d, e = new[k].astype(np.float64) - old[k], exp[pre + k].astype(np.float64) - old[k]
    ne = np.linalg.norm(e)
    err = np.linalg.norm(d - e) / ne if ne > 0 else np.linalg.norm(d)
    if not err <= tol: sys.exit('update of %s: rel err %.3g exceeds %g' % (k, err, tol))
    worst = max(worst, err)
print('max update err %.3g over %d keys' % (worst, len(old.files)))
" "$1" "$2" "$FX/expected.npz" "$3" "$4"
}

step_one_batch() {
  FX="$ROOT/test/fixtures/$1"
  for n in real cond noise more; do batch0 $n; done
  py "np.save(sys.argv[2], np.load(sys.argv[1])['fake.0'])" "$FX/expected.npz" "$T/fake0.npy"
  run --separate-stderr gen-step forward --ckpt "$FX/G.npz" --noise "$T/noise0.npy" --cond "$T/cond0.npy" -o "$T/gfake.npy"
  assert_ok
  CMP "$T/gfake.npy" "$FX/expected.npz:fake.0" --tol 1e-4
  run --separate-stderr disc-step train --ckpt "$FX/D.npz" --real "$T/real0.npy" --cond "$T/cond0.npy" \
      --fake "$T/fake0.npy" --grad-out "$T/gf0.npy" --save "$T/D1.npz" --dump-grads "$T/dg1.npz" --log "$T/d.log"
  assert_ok
  CMP "$T/dg1.npz" "$FX/expected.npz" --map =dgrad1. --tol 1e-4
  CMP "$T/gf0.npy" "$FX/expected.npz:grad_fake.0" --tol 1e-4
  check_update "$T/D1.npz" "$FX/D.npz" D1. 1e-3
  py "
import json
got = json.loads(open(sys.argv[1]).readline()); e = np.load(sys.argv[2])
for k in ['errD', 'err_real', 'err_fake', 'err_mis', 'magp', 'errG']:
    want = float(e[k + '.0'])
    assert abs(got[k] - want) <= 1e-4 * max(abs(want), 1e-3), (k, got[k], want)
assert got['magp'] > 0
" "$T/d.log" "$FX/expected.npz"
  run --separate-stderr gen-step train --ckpt "$FX/G.npz" --noise "$T/noise0.npy" --cond "$T/cond0.npy" \
      --grad "$T/gf0.npy" --grad "$T/more0.npy" --save "$T/G1.npz" --dump-grads "$T/gg1.npz" --fake-out "$T/ff.npy"
  assert_ok
  CMP "$T/ff.npy" "$FX/expected.npz:fake.0" --tol 1e-4
  CMP "$T/gg1.npz" "$FX/expected.npz" --map =ggrad1. --tol 1e-4
  check_update "$T/G1.npz" "$FX/G.npz" G1. 1e-3
  # Adam's state is saved under PyTorch's names and the step count
  py "
z = np.load(sys.argv[1]); assert int(z['adam.step']) == 1
assert any(k.startswith('adam.exp_avg_sq.') for k in z.files)
" "$T/G1.npz"
}

@test "one D step and one G step match PyTorch (imsize 32, no equal-channel D block)" {
  step_one_batch dfgan_small32
}

@test "one D step and one G step match PyTorch (imsize 64, equal-channel blocks)" {
  step_one_batch dfgan_eq64
  # the unused shortcut of the equal-channel D block: no gradient, no Adam state, untouched
  py "
d1, d0 = np.load(sys.argv[1]), np.load(sys.argv[2])
k = 'netD.DBlocks.3.conv_s.weight'
assert np.array_equal(d1[k], d0[k])
assert 'adam.exp_avg.' + k not in d1.files
assert 'adam.exp_avg.netD.DBlocks.2.conv_s.weight' in d1.files
" "$T/D1.npz" "$FX/D.npz"
}

# an epoch of two batches through FIFOs: gen-step writes fakes before reading their gradients
pipeline_epoch() {
  FX="$ROOT/test/fixtures/$1"
  mkfifo "$T/fake.fifo" "$T/fake2.fifo" "$T/grad.fifo" "$T/grad2.fifo"
  tee "$T/fakes.npy" < "$T/fake.fifo" > "$T/fake2.fifo" &
  tee "$T/grads.npy" < "$T/grad.fifo" > "$T/grad2.fifo" &
  disc-step train --ckpt "$FX/D.npz" --real "$FX/real.npy" --cond "$FX/cond.npy" --fake "$T/fake2.fifo" \
      --grad-out "$T/grad.fifo" --save "$T/D.npz" --dump-grads "$T/dg.npz" --log "$T/d.log" &
  local dpid=$!
  gen-step train --ckpt "$FX/G.npz" --noise "$FX/noise.npy" --cond "$FX/cond.npy" --fake-out "$T/fake.fifo" \
      --grad "$T/grad2.fifo" --grad "$FX/more.npy" --save "$T/G.npz" --dump-grads "$T/gg.npz"
  wait "$dpid"
  wait
  CMP "$T/fakes.npy" "$FX/expected.npz:fake.*" --tol 1e-4
  CMP "$T/grads.npy" "$FX/expected.npz:grad_fake.*" --tol 1e-4
  CMP "$T/dg.npz" "$FX/expected.npz" --map =dgrad. --tol 1e-4
  CMP "$T/gg.npz" "$FX/expected.npz" --map =ggrad. --tol 1e-4
  check_update "$T/D.npz" "$FX/D.npz" D. 1e-3
  check_update "$T/G.npz" "$FX/G.npz" G. 1e-3
  CMP "$T/D.npz" "$FX/expected.npz" --map adam.exp_avg_sq.=adamD.v. --keys '^adam.exp_avg_sq' --subset --tol 1e-3
  CMP "$T/G.npz" "$FX/expected.npz" --map adam.exp_avg_sq.=adamG.v. --keys '^adam.exp_avg_sq' --tol 1e-3
  [ "$(wc -l < "$T/d.log")" -eq 2 ]
  py "
z = np.load(sys.argv[1]); assert int(z['adam.step']) == 2
" "$T/D.npz"
}

@test "a two-batch epoch through FIFOs matches PyTorch (imsize 32)" {
  pipeline_epoch dfgan_small32
}

@test "a two-batch epoch through FIFOs matches PyTorch (imsize 64)" {
  pipeline_epoch dfgan_eq64
}

@test "resuming from a saved checkpoint continues the run exactly" {
  FX="$ROOT/test/fixtures/dfgan_small32"
  # batch 1 from the fixture's start, then batch 2 from the saved checkpoints (Adam state included)
  py "
f = {n: open(sys.argv[1] + '/' + n + '.npy', 'rb') for n in ['real', 'cond', 'noise', 'more']}
for t in range(2):
    for n in f: np.save(sys.argv[2] + '/%s%d.npy' % (n, t), np.load(f[n]))
e = np.load(sys.argv[1] + '/expected.npz')
for t in range(2): np.save(sys.argv[2] + '/fake%d.npy' % t, e['fake.%d' % t])
" "$FX" "$T"
  disc-step train --ckpt "$FX/D.npz" --real "$T/real0.npy" --cond "$T/cond0.npy" --fake "$T/fake0.npy" \
      --grad-out "$T/gf0.npy" --save "$T/D1.npz" 2>/dev/null
  gen-step train --ckpt "$FX/G.npz" --noise "$T/noise0.npy" --cond "$T/cond0.npy" --grad "$T/gf0.npy" \
      --grad "$T/more0.npy" --save "$T/G1.npz"
  gen-step forward --ckpt "$T/G1.npz" --noise "$T/noise1.npy" --cond "$T/cond1.npy" -o "$T/gfake1.npy"
  CMP "$T/gfake1.npy" "$FX/expected.npz:fake.1" --tol 1e-4
  disc-step train --ckpt "$T/D1.npz" --real "$T/real1.npy" --cond "$T/cond1.npy" --fake "$T/fake1.npy" \
      --grad-out "$T/gf1.npy" --save "$T/D1.npz" 2>/dev/null
  gen-step train --ckpt "$T/G1.npz" --noise "$T/noise1.npy" --cond "$T/cond1.npy" --grad "$T/gf1.npy" \
      --grad "$T/more1.npy" --save "$T/G1.npz"
  check_update "$T/D1.npz" "$FX/D.npz" D. 1e-3
  check_update "$T/G1.npz" "$FX/G.npz" G. 1e-3
  assert_no_temp "$T"
}

@test "init writes PyTorch's state_dict keys and shapes, with DF-GAN's initialisation" {
  for name in dfgan_small32 dfgan_eq64; do
    FX="$ROOT/test/fixtures/$name"
    run --separate-stderr gen-step init --imsize "$(cfg imsize)" --nf "$(cfg nf)" --z-dim "$(cfg z_dim)" \
        --cond-dim "$(cfg cond_dim)" --seed 3 -o "$T/G.npz"
    assert_ok
    run --separate-stderr disc-step init --imsize "$(cfg imsize)" --nf "$(cfg nf)" --cond-dim "$(cfg cond_dim)" -o "$T/D.npz"
    assert_ok
    py "
import re
for path, keys in [(sys.argv[1], sys.argv[3]), (sys.argv[2], sys.argv[4])]:
    z = np.load(path)
    want = [l.split() for l in open(keys) if l.strip()]
    assert z.files == [k for k, _ in want], (path, z.files[:5])
    for k, dims in want:
        assert z[k].shape == tuple(int(d) for d in dims.split(',')), (k, z[k].shape, dims)
        assert z[k].dtype == np.float32
g, d = np.load(sys.argv[1]), np.load(sys.argv[2])
for k in g.files:
    if re.search(r'fc_gamma\.linear2\.weight|fc_beta\.linear2\.(weight|bias)', k): assert not g[k].any(), k
    elif k.endswith('fc_gamma.linear2.bias'): assert (g[k] == 1).all(), k
    else:
        w = g[k if k.endswith('weight') else k[:-4] + 'weight']
        bound = 1 / np.sqrt(np.prod(w.shape[1:]))
        assert np.abs(g[k]).max() <= bound and (g[k].size < 16 or np.abs(g[k]).max() > 0.5 * bound), k
        if g[k].size > 200: assert abs(g[k].std() - bound / np.sqrt(3)) < 0.15 * bound, k
for k in d.files:
    if k.endswith('gamma'): assert d[k].shape == (1,) and d[k][0] == 0, k
" "$T/G.npz" "$T/D.npz" "$FX/keys_G.txt" "$FX/keys_D.txt"
  done
  # the seed decides the weights
  gen-step init --imsize 32 --nf 2 --z-dim 4 --cond-dim 3 --seed 3 -o "$T/a.npz"
  gen-step init --imsize 32 --nf 2 --z-dim 4 --cond-dim 3 --seed 3 -o "$T/b.npz"
  gen-step init --imsize 32 --nf 2 --z-dim 4 --cond-dim 3 --seed 4 -o "$T/c.npz"
  cmp "$T/a.npz" "$T/b.npz"
  ! cmp -s "$T/a.npz" "$T/c.npz"
}
