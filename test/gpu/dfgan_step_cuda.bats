#!/usr/bin/env bats
# dfgan_step_cuda.bats: the DF-GAN step on --device cuda, on the GPU (make test-gpu) or on the CUDA
# emulation (make test), see gpu.bash: against the same PyTorch fixtures as the CPU suite, and
# CUDA against CPU on a larger random configuration.
#
# CUDA against CPU compares like with like, on data where that comparison means something. The
# CPU runs with DFGAN_CPU_CONV=im2col, the im2col + gemm convolutions the CUDA twins run (its
# Winograd and direct paths round differently). And the data are checked to be well conditioned:
# a pre-activation within rounding of 0 takes the leaky ReLU's other slope under any change of
# rounding, which moves G's gradients by ~4e-4 at this size, on the CPU alone (measured: with the
# data of seed 0, multiplying the inputs by 1 + 1e-7·u flips one such value in 1 run of 3). So a
# test first shows that the CPU's gradients move by under 2e-5 when the inputs move by 1e-6, more
# than the rounding differences between the CPU and a GPU; then 1e-4 bounds CUDA against CPU.

load ../helpers
load gpu
load ../diverge

setup() {
  common_setup
  gpu_setup
}

teardown() { kill_jobs; }

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

@test "cuda: a two-batch epoch through FIFOs matches PyTorch (both fixtures)" {
  for name in dfgan_small32 dfgan_eq64; do
    FX="$ROOT/test/fixtures/$name"
    rm -f "$T"/*.fifo
    mkfifo "$T/fake.fifo" "$T/fake2.fifo" "$T/grad.fifo" "$T/grad2.fifo"
    tee "$T/fakes.npy" < "$T/fake.fifo" > "$T/fake2.fifo" 3>&- &
    tee "$T/grads.npy" < "$T/grad.fifo" > "$T/grad2.fifo" 3>&- &
    disc-step train --device cuda --ckpt "$FX/D.npz" --real "$FX/real.npy" --cond "$FX/cond.npy" --fake "$T/fake2.fifo" \
        --grad-out "$T/grad.fifo" --save "$T/D.npz" --dump-grads "$T/dg.npz" --log "$T/d.log" 3>&- &
    dpid=$!
    gen-step train --device cuda --ckpt "$FX/G.npz" --noise "$FX/noise.npy" --cond "$FX/cond.npy" --fake-out "$T/fake.fifo" \
        --grad "$T/grad2.fifo" --grad "$FX/more.npy" --save "$T/G.npz" --dump-grads "$T/gg.npz" --log "$T/g.log"
    wait "$dpid"
    wait
    CMP "$T/fakes.npy" "$FX/expected.npz:fake.*" --tol 1e-4
    CMP "$T/grads.npy" "$FX/expected.npz:grad_fake.*" --tol 1e-4
    CMP "$T/dg.npz" "$FX/expected.npz" --map =dgrad. --tol 1e-4
    CMP "$T/gg.npz" "$FX/expected.npz" --map =ggrad. --tol 1e-4
  done
}

# step_data: G, D, noise, cond and real images of the step comparison in $T (data seed 1; seed 0
# holds a pre-activation within rounding of 0)
step_data() {
  gen-step init --imsize 64 --nf 8 --z-dim 16 --cond-dim 32 --seed 1 -o "$T/G.npz"
  disc-step init --imsize 64 --nf 8 --cond-dim 32 --seed 2 -o "$T/D.npz"
  py "
r = np.random.RandomState(1)
np.save(sys.argv[1] + '/noise.npy', r.randn(8, 16).astype('f4'))
np.save(sys.argv[1] + '/cond.npy', r.randn(8, 32).astype('f4'))
np.save(sys.argv[1] + '/real.npy', r.uniform(-1, 1, (8, 3, 64, 64)).astype('f4'))
" "$T"
}

# step DEV SUFFIX: on DEV, G's fakes (fake_SUFFIX), D's step on the CPU's fakes (gf_, dg_, D_SUFFIX)
# and G's step on the CPU's gradient (gg_, G_SUFFIX), from the inputs noise, cond, real, fake_cpu
# and gf_cpu with SUFFIX appended (none: the data; _p: perturbed)
step() {
  local dev=$1 s=$2
  gen-step forward --device $dev --ckpt "$T/G.npz" --noise "$T/noise$s.npy" --cond "$T/cond$s.npy" -o "$T/fake_$dev$s.npy"
  disc-step train --device $dev --ckpt "$T/D.npz" --real "$T/real$s.npy" --cond "$T/cond$s.npy" --fake "$T/fake_cpu$s.npy" \
      --grad-out "$T/gf_$dev$s.npy" --save "$T/D_$dev$s.npz" --dump-grads "$T/dg_$dev$s.npz" --log /dev/null
  gen-step train --device $dev --ckpt "$T/G.npz" --noise "$T/noise$s.npy" --cond "$T/cond$s.npy" --grad "$T/gf_cpu$s.npy" \
      --save "$T/G_$dev$s.npz" --dump-grads "$T/gg_$dev$s.npz" --log /dev/null
}

@test "cuda: the step comparison's data are well conditioned (the CPU moves under 2e-5 when they move by 1e-6)" {
  export DFGAN_CPU_CONV=im2col
  step_data
  step cpu ""
  for k in 1 2 3; do
    py "
r = np.random.RandomState(100 + int(sys.argv[2]))
for f in ('noise', 'cond', 'real'):
    a = np.load(sys.argv[1] + '/' + f + '.npy')
    np.save(sys.argv[1] + '/' + f + '_p.npy', (a * (1 + 1e-6 * r.uniform(-1, 1, a.shape))).astype('f4'))
" "$T" $k
    step cpu _p
    for f in fake_cpu gf_cpu; do CMP "$T/${f}_p.npy" "$T/$f.npy" --tol 2e-5 --quiet; done
    for f in dg_cpu gg_cpu; do CMP "$T/${f}_p.npz" "$T/$f.npz" --tol 2e-5 --quiet; done
  done
}

@test "cuda: a step at imsize 64, nf 8, batch 8 agrees with the CPU's im2col convolutions" {
  export DFGAN_CPU_CONV=im2col
  step_data
  step cpu ""
  step cuda ""
  CMP "$T/fake_cuda.npy" "$T/fake_cpu.npy" --tol 1e-5
  CMP "$T/gf_cuda.npy" "$T/gf_cpu.npy" --tol 1e-4
  CMP "$T/dg_cuda.npz" "$T/dg_cpu.npz" --tol 1e-4
  CMP "$T/gg_cuda.npz" "$T/gg_cpu.npz" --tol 1e-4
  CMP "$T/D_cuda.npz" "$T/D_cpu.npz" --tol 1e-4
  CMP "$T/G_cuda.npz" "$T/G_cpu.npz" --tol 1e-4
}

@test "cuda: a diverging step stops as on the CPU (exit 3, the same step, quantity, key and index; nothing written)" {
  # the gradient check on the device (vec_first_nonfinite) and the weights' and Adam state's after
  # the step: lr 100 sends G's gradient to NaN at step 2; a planted Adam state sends one weight of
  # D to -Inf at step 1 (diverge.bats has the CPU side of both)
  cd "$T"
  diverge_data 2
  plant_m D.npz D_m.npz netD.DBlocks.1.conv_r.2.weight 5,2,1,0
  for dev in cpu cuda; do
    run --separate-stderr gen-step train --device $dev --ckpt G.npz --noise z.npy --cond cond.npy --grad g.npy \
      --save G2.npz --lr 100 --log g.jsonl
    assert_fails 3 "gen-step: step 2: expected finite values, found NaN in the gradient of fc.weight at (0,0)"
    run --separate-stderr disc-step train --device $dev --ckpt D_m.npz --real real.npy --cond cond.npy --fake fake.npy \
      --grad-out gf.npy --save D2.npz --beta1 0.99 --log d.jsonl
    assert_fails 3 "disc-step: step 1: expected finite values after the Adam step, found -Inf in netD.DBlocks.1.conv_r.2.weight at (5,2,1,0)"
    [ ! -e G2.npz ] && [ ! -e D2.npz ] && [ ! -e gf.npy ]
  done
}
