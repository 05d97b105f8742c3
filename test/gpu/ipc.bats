#!/usr/bin/env bats
# ipc.bats: --ipc, the training loop's device buffers carried between CUDA tools as CUDA IPC records
# (lib/train/ipc_link.h, lib/io/ipc_record.h), on the GPU (make test-gpu) or on the CUDA emulation
# (make test; its IPC maps the writer's pages into the reader's process, test/emu/ipc.cc), see
# gpu.bash. An epoch of 3 batches wired as pipelines/common.mk wires it (run-epoch, FIFOs, with the
# CLIP loss the two :::copy stages) gives the same checkpoints and logs with --ipc as without; the
# records are on every stream of the loop; and the readers that cannot take a record refuse it in
# one line: a CPU reader, a CUDA tool without --ipc, a record whose writer is gone, one from another
# GPU or machine, one that names no buffer; --ipc itself wants --device cuda and a FIFO or pipe.

load ../helpers
load gpu

setup() {
  common_setup
  gpu_setup
  cd "$T"
  gen-step init --imsize 32 --nf 2 --z-dim 8 --cond-dim 16 --seed 1 -o G.npz
  disc-step init --imsize 32 --nf 2 --cond-dim 16 --seed 2 -o D.npz
  clip-embed --init --seed 4 --embed-dim 32 --width 64 --layers 1 --patch 8 --image-size 32 \
    --text-width 64 --text-layers 1 -o clip.npz
  py "
r = np.random.RandomState(1)
for name, shape in (('noise', (4, 8)), ('cond', (4, 16)), ('real', (4, 3, 32, 32)), ('text', (4, 32)), ('more', (4, 3, 32, 32))):
    with open(name + '.npy', 'wb') as f:
        for b in range(3):
            a = r.randn(*shape) if name != 'real' else r.uniform(-1, 1, shape)
            np.save(f, (a * (1e-3 if name == 'more' else 1)).astype('f4'))
"
}

teardown() { kill_jobs; }

# epoch TAG CLIP [FLAG...]: an epoch as common.mk's run_epoch runs it (its FIFO names, its copies),
# each step tool with --device cuda and the FLAGs; outputs D_TAG.npz, G_TAG.npz, d_TAG.log (disc-step's
# losses), g_TAG.log, c_TAG.log (clip-embed's, with CLIP=clip). EXTRA_GRAD, when set, is one more
# --grad of gen-step's; CAPTURE=1 adds a file to each copy's outputs (fakes_TAG.npy, cgrads_TAG.npy).
epoch() {
  local tag=$1 clip=$2
  shift 2
  rm -f ./*.fifo
  local cap=${CAPTURE:+1}
  if [ "$clip" = clip ]; then
    run-epoch --fifo fake.fifo --fifo grad.fifo --fifo fake_d.fifo --fifo fake_c.fifo --fifo cgrad_out.fifo --fifo cgrad.fifo \
      :::copy fake.fifo fake_d.fifo fake_c.fifo ${cap:+fakes_$tag.npy} \
      ::: clip-embed loss --device cuda "$@" --weights clip.npz --lambda 0.5 --text text.npy \
          --in fake_c.fifo -o cgrad_out.fifo --log "c_$tag.log" \
      :::copy cgrad_out.fifo cgrad.fifo ${cap:+cgrads_$tag.npy} \
      ::: disc-step train --device cuda "$@" --lr 4e-4 --ckpt D.npz --real real.npy --cond cond.npy --fake fake_d.fifo \
          --grad-out grad.fifo --save "D_$tag.npz" --log "d_$tag.log" \
      ::: gen-step train --device cuda "$@" --lr 1e-4 --ckpt G.npz --noise noise.npy --cond cond.npy --fake-out fake.fifo \
          --grad grad.fifo --grad cgrad.fifo ${EXTRA_GRAD:+--grad "$EXTRA_GRAD"} --save "G_$tag.npz" --log "g_$tag.log"
  else
    run-epoch --fifo fake.fifo --fifo grad.fifo \
      ::: disc-step train --device cuda "$@" --lr 4e-4 --ckpt D.npz --real real.npy --cond cond.npy --fake fake.fifo \
          --grad-out grad.fifo --save "D_$tag.npz" --log "d_$tag.log" \
      ::: gen-step train --device cuda "$@" --lr 1e-4 --ckpt G.npz --noise noise.npy --cond cond.npy --fake-out fake.fifo \
          --grad grad.fifo ${EXTRA_GRAD:+--grad "$EXTRA_GRAD"} --save "G_$tag.npz" --log "g_$tag.log"
  fi
}

# same A B: the runs tagged A and B wrote the same checkpoints byte for byte and the same logs. The
# logs print 9 digits; gen-step's grad_norm is the only value computed another way under --ipc
# (vec_dot on the GPU instead of a sum on the host, both in double), so it is held to 1e-8 relative
# (a difference in the last printed digit), the rest to equality.
same() {
  cmp "D_$1.npz" "D_$2.npz"
  cmp "G_$1.npz" "G_$2.npz"
  cmp "d_$1.log" "d_$2.log"
  [ ! -e "c_$1.log" ] || cmp "c_$1.log" "c_$2.log"
  py "
import json
a = [json.loads(l) for l in open(sys.argv[1])]
b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) == 3, (len(a), len(b))
for x, y in zip(a, b):
    assert x['batch'] == y['batch'] and abs(x['grad_norm'] - y['grad_norm']) <= 1e-8 * abs(x['grad_norm']), (x, y)
" "g_$1.log" "g_$2.log"
  [ "$(wc -l < "d_$1.log")" -eq 3 ]
}

@test "ipc: an epoch (gen-step, disc-step, FIFOs) with --ipc writes the same checkpoints and logs as without" {
  epoch plain none
  epoch ipc none --ipc
  same plain ipc
  # and the checkpoints moved: the comparison compares a step
  ! cmp -s G.npz G_ipc.npz
}

@test "ipc: an epoch with the CLIP loss (run-epoch's two copies, clip-embed loss) with --ipc: the same" {
  epoch plain clip
  epoch ipc clip --ipc
  same plain ipc
  ! cmp -s D.npz D_ipc.npz
}

@test "ipc: the records are on every stream of the loop: slots 0 1 0, the shape, this GPU and machine, live writers" {
  CAPTURE=1 epoch ipc clip --ipc
  py "
machine = open('/proc/sys/kernel/random/boot_id').read().strip()
writers = []
for name in ('fakes_ipc.npy', 'cgrads_ipc.npy'):
    f = open(name, 'rb')
    recs = [np.load(f) for _ in range(3)]
    assert f.read() == b'', name
    pids = set()
    for i, r in enumerate(recs):
        b = r.tobytes()
        assert r.dtype == np.uint8 and r.shape == (256,) and b[:8] == b'DFGANIPC', (name, r.dtype, r.shape, b[:8])
        assert np.frombuffer(b[8:16], '<u4').tolist() == [1, i % 2], (name, i)
        assert b[144:148] == b'<f4\0' and np.frombuffer(b[148:152], '<u4')[0] == 4
        assert np.frombuffer(b[152:184], '<i8').tolist() == [4, 3, 32, 32], name
        assert b[208:248].rstrip(b'\0').decode() == machine
        assert np.frombuffer(b[248:256], '<u8')[0] >= 4 * 3 * 32 * 32 * 4
        pids.add(int(np.frombuffer(b[184:192], '<i8')[0]))
    assert len(pids) == 1, pids
    writers += pids
assert writers[0] != writers[1], writers    # gen-step's, clip-embed's
"
  # D's gradient: a CUDA gen-step without --ipc refuses it (the other streams' records are refused below)
  rm -f ./*.fifo
  run --separate-stderr run-epoch --fifo fake.fifo --fifo grad.fifo \
    ::: disc-step train --device cuda --ipc --ckpt D.npz --real real.npy --cond cond.npy --fake fake.fifo \
        --grad-out grad.fifo --save D_x.npz --log /dev/null \
    ::: gen-step train --device cuda --ckpt G.npz --noise noise.npy --cond cond.npy --fake-out fake.fifo \
        --grad grad.fifo --save G_x.npz --log /dev/null
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"gen-step: --grad grad.fifo: expected float32 (4,3,32,32), found a CUDA IPC record (its writer ran with --ipc; only a CUDA tool with --ipc on the same GPU reads it)"* ]]
}

@test "ipc: gen-step --ipc takes records and plain arrays in one step (D's records, a file's gradient): the same as without" {
  EXTRA_GRAD=more.npy epoch plain none
  EXTRA_GRAD=more.npy epoch ipc none --ipc
  same plain ipc
  epoch base none
  ! cmp -s G_base.npz G_plain.npz    # the file's gradient counts
}

@test "ipc: a CPU reader, npy-info and a CUDA tool without --ipc meeting a record refuse it in one line" {
  rm -f ./*.fifo
  mkfifo fake.fifo grad.fifo
  cat fake.fifo > fakes.npy &
  gen-step train --device cuda --ipc --ckpt G.npz --noise noise.npy --cond cond.npy --fake-out fake.fifo \
    --grad more.npy --save G_r.npz --log /dev/null
  wait
  [ "$(stat -c %s fakes.npy)" -eq $((3 * (128 + 256))) ]
  local refusal="found a CUDA IPC record (its writer ran with --ipc; only a CUDA tool with --ipc on the same GPU reads it)"
  for dev in cpu cuda; do
    run --separate-stderr disc-step train --device $dev --ckpt D.npz --real real.npy --cond cond.npy --fake fakes.npy \
      --save D_x.npz --log /dev/null
    assert_fails 2 "disc-step: --fake: expected float32 (4,3,32,32), $refusal"
  done
  run --separate-stderr clip-embed loss --weights clip.npz --text text.npy --in fakes.npy -o g.npy
  assert_fails 2 "clip-embed: --in: expected float32 (B,3,H,W), $refusal"
  run --separate-stderr npy-info fakes.npy
  assert_fails 2 "npy-info: expected an array, $refusal in array 0 of 'fakes.npy'"
  # and the writer has ended: a reader with --ipc says so
  run --separate-stderr disc-step train --device cuda --ipc --ckpt D.npz --real real.npy --cond cond.npy --fake fakes.npy \
    --save D_x.npz --log /dev/null
  assert_fails 2 "disc-step: --fake: expected a CUDA IPC record from a live writer, found its writer (pid *) gone in array 0"
}

@test "ipc: a record from another machine, or naming no buffer of a live process, is refused in one line" {
  rm -f ./*.fifo
  mkfifo fake.fifo
  cat fake.fifo > fakes.npy &
  gen-step train --device cuda --ipc --ckpt G.npz --noise noise.npy --cond cond.npy --fake-out fake.fifo \
    --grad more.npy --save G_r.npz --log /dev/null
  wait
  # another machine: its boot id; a live process (this shell) that wrote no such record
  py "
f = open('fakes.npy', 'rb')
r = np.load(f)
a = r.copy(); a[208:248] = 0; a[208:215] = np.frombuffer(b'elsewhr', np.uint8)
np.save('other_machine.npy', a)
b = r.copy(); b[184:192] = np.frombuffer(np.array([int(sys.argv[1])], '<i8').tobytes(), np.uint8)
np.save('other_pid.npy', b)
" "$$"
  run --separate-stderr disc-step train --device cuda --ipc --ckpt D.npz --real real.npy --cond cond.npy \
    --fake other_machine.npy --save D_x.npz --log /dev/null
  assert_fails 2 "disc-step: --fake: expected a CUDA IPC record from this machine (boot id *), found one from another (elsewhr) in array 0"
  run --separate-stderr disc-step train --device cuda --ipc --ckpt D.npz --real real.npy --cond cond.npy \
    --fake other_pid.npy --save D_x.npz --log /dev/null
  assert_fails 1 "disc-step: --fake: expected to open the event of a CUDA IPC record (pid $$, slot 0), found cudaIpcOpenEventHandle failing (CUDA error *) in array 0"
}

@test "ipc: a record from another GPU is refused in one line (emulation: CUDA_EMU_PCI_BUS_ID)" {
  [ "$GPU_BACKEND" = emu ] || skip "one GPU cannot pose as another (the emulation's CUDA_EMU_PCI_BUS_ID)"
  rm -f ./*.fifo
  run --separate-stderr run-epoch --fifo fake.fifo --fifo grad.fifo \
    ::: disc-step train --device cuda --ipc --ckpt D.npz --real real.npy --cond cond.npy --fake fake.fifo \
        --grad-out grad.fifo --save D_x.npz --log /dev/null \
    ::: env CUDA_EMU_PCI_BUS_ID=0000:02:00.0 gen-step train --device cuda --ipc --ckpt G.npz --noise noise.npy \
        --cond cond.npy --fake-out fake.fifo --grad grad.fifo --save G_x.npz --log /dev/null
  [ "$status" -eq 2 ]
  [[ "$stderr" == "disc-step: --fake: expected a CUDA IPC record from this GPU (0000:01:00.0), found one from GPU 0000:02:00.0 in array 0"* ]]
  [[ "$stderr" == *"run-epoch: "*"disc-step"* ]]
}

@test "ipc: --ipc wants --device cuda, train (or loss), and a FIFO or pipe to write records to" {
  run --separate-stderr gen-step train --device cpu --ipc --ckpt G.npz --noise noise.npy --cond cond.npy --grad more.npy --save G_x.npz
  assert_fails 2 "gen-step: expected --ipc with --device cuda (it hands GPU buffers between CUDA tools), found --device cpu"
  run --separate-stderr disc-step train --ipc --ckpt D.npz --real real.npy --cond cond.npy --fake real.npy --save D_x.npz
  assert_fails 2 "disc-step: expected --ipc with --device cuda (it hands GPU buffers between CUDA tools), found --device cpu"
  run --separate-stderr clip-embed loss --ipc --weights clip.npz --text text.npy --in real.npy -o g.fifo
  assert_fails 2 "clip-embed: expected --ipc with --device cuda (it hands GPU buffers between CUDA tools), found --device cpu"
  run --separate-stderr gen-step forward --device cuda --ipc --ckpt G.npz --noise noise.npy --cond cond.npy -o f.npy
  assert_fails 2 "gen-step: expected --ipc only with train, found it with forward"
  run --separate-stderr clip-embed score --device cuda --ipc --weights clip.npz --text text.npy --in real.npy
  assert_fails 2 "clip-embed: expected --lambda, --no-grad, --log and --ipc only with loss, found --ipc"
  : > exists.npy
  run --separate-stderr gen-step train --device cuda --ipc --ckpt G.npz --noise noise.npy --cond cond.npy --grad more.npy \
    --fake-out exists.npy --save G_x.npz
  assert_fails 2 "gen-step: --fake-out: expected a pipe or FIFO with --ipc (a record names GPU memory that lives only while its writer runs), found a regular file 'exists.npy'"
  run --separate-stderr disc-step train --device cuda --ipc --ckpt D.npz --real real.npy --cond cond.npy --fake real.npy \
    --grad-out new.npy --save D_x.npz
  assert_fails 2 "disc-step: --grad-out: expected a pipe or FIFO with --ipc (a record names GPU memory that lives only while its writer runs), found 'new.npy' (a regular file to be)"
  [ ! -e new.npy ] && [ ! -e D_x.npz ] && [ ! -e G_x.npz ]
}
