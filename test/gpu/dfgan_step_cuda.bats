#!/usr/bin/env bats
# dfgan_step_cuda.bats (make test-gpu): the DF-GAN step on --device cuda against the same PyTorch
# fixtures as the CPU suite, and CUDA against CPU on a larger random configuration. Skipped where
# no GPU is usable.

load ../helpers

setup() {
  common_setup
  nvidia-smi -L >/dev/null 2>&1 || skip "no GPU here"
}

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

@test "cuda: a two-batch epoch through FIFOs matches PyTorch (both fixtures)" {
  for name in dfgan_small32 dfgan_eq64; do
    FX="$ROOT/test/fixtures/$name"
    rm -f "$T"/*.fifo
    mkfifo "$T/fake.fifo" "$T/fake2.fifo" "$T/grad.fifo" "$T/grad2.fifo"
    tee "$T/fakes.npy" < "$T/fake.fifo" > "$T/fake2.fifo" &
    tee "$T/grads.npy" < "$T/grad.fifo" > "$T/grad2.fifo" &
    disc-step train --device cuda --ckpt "$FX/D.npz" --real "$FX/real.npy" --cond "$FX/cond.npy" --fake "$T/fake2.fifo" \
        --grad-out "$T/grad.fifo" --save "$T/D.npz" --dump-grads "$T/dg.npz" --log "$T/d.log" &
    gen-step train --device cuda --ckpt "$FX/G.npz" --noise "$FX/noise.npy" --cond "$FX/cond.npy" --fake-out "$T/fake.fifo" \
        --grad "$T/grad2.fifo" --grad "$FX/more.npy" --save "$T/G.npz" --dump-grads "$T/gg.npz" --log "$T/g.log"
    wait
    CMP "$T/fakes.npy" "$FX/expected.npz:fake.*" --tol 1e-4
    CMP "$T/grads.npy" "$FX/expected.npz:grad_fake.*" --tol 1e-4
    CMP "$T/dg.npz" "$FX/expected.npz" --map =dgrad. --tol 1e-4
    CMP "$T/gg.npz" "$FX/expected.npz" --map =ggrad. --tol 1e-4
  done
}

@test "cuda: a step at imsize 64, nf 8, batch 8 agrees with the CPU" {
  gen-step init --imsize 64 --nf 8 --z-dim 16 --cond-dim 32 --seed 1 -o "$T/G.npz"
  disc-step init --imsize 64 --nf 8 --cond-dim 32 --seed 2 -o "$T/D.npz"
  py "
r = np.random.RandomState(0)
np.save(sys.argv[1] + '/noise.npy', r.randn(8, 16).astype('f4'))
np.save(sys.argv[1] + '/cond.npy', r.randn(8, 32).astype('f4'))
np.save(sys.argv[1] + '/real.npy', r.uniform(-1, 1, (8, 3, 64, 64)).astype('f4'))
" "$T"
  for dev in cpu cuda; do
    gen-step forward --device $dev --ckpt "$T/G.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" -o "$T/fake_$dev.npy"
    disc-step train --device $dev --ckpt "$T/D.npz" --real "$T/real.npy" --cond "$T/cond.npy" --fake "$T/fake_cpu.npy" \
        --grad-out "$T/gf_$dev.npy" --save "$T/D_$dev.npz" --dump-grads "$T/dg_$dev.npz" --log "$T/d_$dev.log"
    gen-step train --device $dev --ckpt "$T/G.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" --grad "$T/gf_cpu.npy" \
        --save "$T/G_$dev.npz" --dump-grads "$T/gg_$dev.npz" --log "$T/g_$dev.log"
  done
  CMP "$T/fake_cuda.npy" "$T/fake_cpu.npy" --tol 1e-5
  CMP "$T/gf_cuda.npy" "$T/gf_cpu.npy" --tol 1e-4
  CMP "$T/dg_cuda.npz" "$T/dg_cpu.npz" --tol 1e-4
  CMP "$T/gg_cuda.npz" "$T/gg_cpu.npz" --tol 1e-4
}
