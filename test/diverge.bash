# test/diverge.bash: what the tests of a diverging step share (diverge.bats, gpu/dfgan_step_cuda.bats,
# dist.bats; load helpers first):
#   diverge_data N              in the current folder: tiny G.npz and D.npz (imsize 32, nf 2, z 8,
#                               cond 8), N batches of 4 synthetic pairs (real.npy, cond.npy), noise
#                               (z.npy), G's fakes of them (fake.npy) and a small gradient wrt those
#                               fakes, 1e-3 everywhere (g.npy)
#   plant_m IN OUT KEY INDEX    OUT: checkpoint IN after one Adam step of zero state, except that
#                               exp_avg of KEY at INDEX ("5,2,1,0") is 3e38: the next Adam step with
#                               beta1 0.99 sends that weight, and no other, to -Inf

diverge_data() {
  gen-step init --imsize 32 --nf 2 --z-dim 8 --cond-dim 8 -o G.npz
  disc-step init --imsize 32 --nf 2 --cond-dim 8 -o D.npz
  synth-shapes --imsize 32 --batch 4 --batches "$1" --cond-dim 8 --images real.npy --cond cond.npy
  noise --batch 4 --dim 8 --batches "$1" --seed 1 -o z.npy
  gen-step forward --ckpt G.npz --noise z.npy --cond cond.npy -o fake.npy
  py "
with open('g.npy', 'wb') as f:
    for _ in range(int(sys.argv[1])): np.save(f, np.full((4, 3, 32, 32), 1e-3, np.float32))
" "$1"
}

plant_m() {
  py "
z = dict(np.load(sys.argv[1])); out = dict(z)
for k, v in z.items():
    if not k.startswith('adam.'):
        out['adam.exp_avg.' + k] = np.zeros_like(v); out['adam.exp_avg_sq.' + k] = np.zeros_like(v)
out['adam.exp_avg.' + sys.argv[3]][tuple(int(i) for i in sys.argv[4].split(','))] = 3e38
out['adam.step'] = np.array(1, np.int64)
np.savez(sys.argv[2], **out)
" "$@"
}
