#!/usr/bin/env bats
# dist.bats: gen-step, disc-step and clip-embed loss as ranks of MPI jobs (lib/core/dist.h) on the
# CPU, with OpenMPI on this machine's cores (--oversubscribe): N ranks against one process on the
# same global batch (the DF-GAN fixtures' streams, per-rank FIFOs between the tools as a pipeline
# wires them), against PyTorch's float64 reference with the tolerances of dfgan_step.bats, the
# per-rank and shared stream rules, and failures: one line naming the rank, the whole job ended,
# no hang, the previous checkpoint kept. Skipped where mpirun or a build with MPI is missing.

load helpers
load diverge

FXS="$BATS_TEST_DIRNAME/fixtures"

setup() {
  common_setup
  command -v mpirun >/dev/null 2>&1 || skip "no mpirun here (openmpi-bin, libopenmpi-dev: .ci/install-deps)"
  ldd "$ROOT/bin/disc-step" | grep -q libmpi || skip "bin/ built without MPI (no mpicc at build time)"
  # a container without a network: shared memory between the ranks only; as root (CI) too
  MPI=(mpirun -q --oversubscribe --allow-run-as-root --mca btl self,vader --mca btl_vader_single_copy_mechanism none)
  cd "$T"
}

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

# streams NAME STEPS: the fixture's streams with STEPS batches (its batches, then again from its
# first) into ./real.npy cond.npy noise.npy more.npy
streams() {
  py "
for n in ['real', 'cond', 'noise', 'more']:
    f = open(sys.argv[1] + '/' + n + '.npy', 'rb'); a = [np.load(f), np.load(f)]
    with open(n + '.npy', 'wb') as g:
        for t in range(int(sys.argv[2])): np.save(g, a[t % 2])
" "$FXS/$1" "$2"
}

# epoch N OUT FX: one epoch of gen-step and disc-step on N ranks (N = 0: plain processes, no
# mpirun) through per-rank FIFOs, as a pipeline wires it; fakes and gradients teed into OUT/ as
# fakes.R.npy and grads.R.npy; checkpoints, dumps and logs in OUT/
epoch() {
  local n=$1 out=$2 fx=$3 r mpi=(timeout 120)
  [ "$n" -gt 0 ] && mpi=(timeout 120 "${MPI[@]}" -np "$n")
  mkdir -p "$out"
  for ((r = 0; r < (n > 0 ? n : 1); r++)); do
    mkfifo "$out/fake.$r" "$out/fake2.$r" "$out/grad.$r" "$out/grad2.$r"
    timeout 120 tee "$out/fakes.$r.npy" < "$out/fake.$r" > "$out/fake2.$r" &
    timeout 120 tee "$out/grads.$r.npy" < "$out/grad.$r" > "$out/grad2.$r" &
  done
  "${mpi[@]}" disc-step train --ckpt "$fx/D.npz" --real real.npy --cond cond.npy --fake "$out/fake2.%r" \
      --grad-out "$out/grad.%r" --save "$out/D.npz" --dump-grads "$out/dg.npz" --log "$out/d.log" &
  local dpid=$!
  "${mpi[@]}" gen-step train --ckpt "$fx/G.npz" --noise noise.npy --cond cond.npy --fake-out "$out/fake.%r" \
      --grad "$out/grad2.%r" --grad more.npy --save "$out/G.npz" --dump-grads "$out/gg.npz" --log "$out/g.log"
  wait "$dpid"
  wait
}

# joined OUT N NAME: the ranks' OUT/NAME.R.npy streams joined batch by batch into OUT/NAME.npy
joined() {
  py "
d, n, name = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fs = [open('%s/%s.%d.npy' % (d, name, r), 'rb') for r in range(n)]
with open('%s/%s.npy' % (d, name), 'wb') as g:
    while True:
        try: parts = [np.load(f) for f in fs]
        except (EOFError, ValueError): break
        np.save(g, np.concatenate(parts))
" "$1" "$2" "$3"
}

# logs_match A B TOL: two JSON-lines logs with the same batches and keys, values within TOL relative
logs_match() {
  py "
import json
a = [json.loads(l) for l in open(sys.argv[1])]; b = [json.loads(l) for l in open(sys.argv[2])]
assert len(a) == len(b) and len(a) > 0, (len(a), len(b))
for x, y in zip(a, b):
    assert x.keys() == y.keys(), (x.keys(), y.keys())
    for k in x:
        assert abs(x[k] - y[k]) <= float(sys.argv[3]) * max(abs(y[k]), 1e-3), (k, x[k], y[k])
" "$1" "$2" "$3"
}

@test "mpirun -np 1 writes what one process writes, byte for byte" {
  streams dfgan_small32 2
  epoch 0 one "$FXS/dfgan_small32"
  epoch 1 mpi1 "$FXS/dfgan_small32"
  for f in D.npz G.npz dg.npz gg.npz d.log g.log fakes.0.npy grads.0.npy; do cmp "one/$f" "mpi1/$f"; done
}

@test "2 ranks against one process: after 3 steps every parameter within 1e-5 relative L2" {
  # imsize 64 (equal-channel D blocks), batch 4: 2 samples a rank; G and D, Adam's state too
  streams dfgan_eq64 3
  epoch 0 one "$FXS/dfgan_eq64"
  epoch 2 two "$FXS/dfgan_eq64"
  CMP two/D.npz one/D.npz --tol 1e-5 --quiet
  CMP two/G.npz one/G.npz --tol 1e-5 --quiet
  CMP two/dg.npz one/dg.npz --tol 1e-5 --quiet
  CMP two/gg.npz one/gg.npz --tol 1e-5 --quiet
  joined two 2 fakes; joined two 2 grads
  CMP two/fakes.npy one/fakes.0.npy --tol 1e-5 --quiet
  CMP two/grads.npy one/grads.0.npy --tol 1e-5 --quiet
  logs_match two/d.log one/d.log 1e-5
  logs_match two/g.log one/g.log 1e-5
  # rank 0 alone wrote the logs: one line a batch
  [ "$(wc -l < two/d.log)" -eq 3 ] && [ "$(wc -l < two/g.log)" -eq 3 ]
  py "z = np.load(sys.argv[1]); assert int(z['adam.step']) == 3" two/D.npz
  assert_no_temp two
}

@test "3 ranks of one sample each against one process: the mismatched pairs cross every border" {
  # batch 3 on 3 ranks: each rank's one mismatched pair takes the previous rank's sentence
  streams dfgan_small32 3
  epoch 0 one "$FXS/dfgan_small32"
  epoch 3 three "$FXS/dfgan_small32"
  CMP three/D.npz one/D.npz --tol 1e-5 --quiet
  CMP three/G.npz one/G.npz --tol 1e-5 --quiet
  CMP three/dg.npz one/dg.npz --tol 1e-5 --quiet
  logs_match three/d.log one/d.log 1e-5
}

@test "ranks match PyTorch's float64 reference with one process's tolerances" {
  for case in "dfgan_small32 3" "dfgan_eq64 2"; do
    set -- $case
    FX="$FXS/$1"
    streams "$1" 2
    epoch "$2" "r$2" "$FX"
    joined "r$2" "$2" fakes; joined "r$2" "$2" grads
    CMP "r$2/fakes.npy" "$FX/expected.npz:fake.*" --tol 1e-4 --quiet
    CMP "r$2/grads.npy" "$FX/expected.npz:grad_fake.*" --tol 1e-4 --quiet
    CMP "r$2/dg.npz" "$FX/expected.npz" --map =dgrad. --tol 1e-4 --quiet
    CMP "r$2/gg.npz" "$FX/expected.npz" --map =ggrad. --tol 1e-4 --quiet
    CMP "r$2/D.npz" "$FX/expected.npz" --map adam.exp_avg_sq.=adamD.v. --keys '^adam.exp_avg_sq' --subset --tol 1e-3 --quiet
    CMP "r$2/G.npz" "$FX/expected.npz" --map adam.exp_avg_sq.=adamG.v. --keys '^adam.exp_avg_sq' --tol 1e-3 --quiet
    # the updates: as close to float64's as dfgan_step.bats asks of one process
    for m in D G; do
      py "
new, old, exp = np.load(sys.argv[1]), np.load(sys.argv[2]), np.load(sys.argv[3])
for k in old.files:
    d, e = new[k].astype(np.float64) - old[k], exp[sys.argv[4] + k].astype(np.float64) - old[k]
    ne = np.linalg.norm(e)
    err = np.linalg.norm(d - e) / ne if ne > 0 else np.linalg.norm(d)
    assert err <= 1e-3, (k, err)
" "r$2/$m.npz" "$FX/$m.npz" "$FX/expected.npz" "$m."
    done
    rm -f ./*.npy
  done
}

@test "clip-embed loss on 2 ranks: the gradient wrt the images and the logged loss are one process's" {
  W="$FXS/clip/weights.npz"
  py "
r = np.random.RandomState(3)
with open('img.npy', 'wb') as f, open('txt.npy', 'wb') as g, open('img.0.npy', 'wb') as f0, open('img.1.npy', 'wb') as f1:
    for t in range(2):
        x = r.uniform(-1, 1, (4, 3, 32, 32)).astype('f4')
        np.save(f, x); np.save(f0, x[:2]); np.save(f1, x[2:])
        np.save(g, r.randn(4, 16).astype('f4'))
"
  clip-embed loss --weights "$W" --head-width 8 --text txt.npy --in img.npy -o g1.npy --log c1.log
  # the images per rank (as a tee of gen-step's fakes gives them), the text features shared
  timeout 120 "${MPI[@]}" -np 2 clip-embed loss --weights "$W" --head-width 8 --text txt.npy --in 'img.%r.npy' -o 'g2.%r.npy' --log c2.log
  joined . 2 g2
  CMP g2.npy g1.npy --tol 1e-5 --quiet
  logs_match c2.log c1.log 1e-6
  # the shared images file, each rank reading its rows of it: the same
  timeout 120 "${MPI[@]}" -np 2 clip-embed loss --weights "$W" --head-width 8 --text txt.npy --in img.npy -o 'g3.%r.npy'
  cmp g3.0.npy g2.0.npy
  cmp g3.1.npy g2.1.npy
}

@test "MPMD: gen-step and disc-step as one job compute what two jobs do" {
  streams dfgan_eq64 2
  epoch 2 two "$FXS/dfgan_eq64"
  mkdir one
  mkfifo one/fake.0 one/fake.1 one/grad.0 one/grad.1
  FX="$FXS/dfgan_eq64"
  timeout 120 "${MPI[@]}" -np 2 disc-step train --ckpt "$FX/D.npz" --real real.npy --cond cond.npy --fake 'one/fake.%r' \
      --grad-out 'one/grad.%r' --save one/D.npz --log one/d.log : \
      -np 2 gen-step train --ckpt "$FX/G.npz" --noise noise.npy --cond cond.npy --fake-out 'one/fake.%r' \
      --grad 'one/grad.%r' --grad more.npy --save one/G.npz --log one/g.log
  cmp one/D.npz two/D.npz
  cmp one/G.npz two/G.npz
  cmp one/d.log two/d.log
}

@test "a batch the ranks do not divide is refused in one line, and nothing is written" {
  streams dfgan_small32 2     # batch 3
  FX="$FXS/dfgan_small32"
  run --separate-stderr timeout 120 "${MPI[@]}" -np 2 disc-step train --ckpt "$FX/D.npz" --real real.npy --cond cond.npy \
      --fake real.npy --save D.npz
  assert_fails 2 "disc-step (rank 0 of 2): --real: expected a batch that 2 ranks divide, found 3 rows in array 0"
  [ ! -e D.npz ]
  assert_no_temp .
}

@test "over ranks, outputs need a per-rank path and shared inputs a regular file: one line each" {
  streams dfgan_eq64 1
  FX="$FXS/dfgan_eq64"
  run --separate-stderr timeout 120 "${MPI[@]}" -np 2 disc-step train --ckpt "$FX/D.npz" --real real.npy --cond cond.npy \
      --fake real.npy --grad-out g.npy --save D.npz
  assert_fails 2 "disc-step (rank 0 of 2): --grad-out: expected a per-rank path (with %r) on 2 ranks, found 'g.npy'"
  run --separate-stderr timeout 120 "${MPI[@]}" -np 2 gen-step train --ckpt "$FX/G.npz" --noise - --cond cond.npy \
      --grad real.npy --save G.npz < noise.npy
  assert_fails 2 "gen-step (rank 0 of 2): --noise: expected a regular file or a per-rank path (with %r) on 2 ranks, found '-', not a regular file"
  run --separate-stderr timeout 120 "${MPI[@]}" -np 2 clip-embed text --weights "$FXS/clip/weights.npz" --head-width 8 -o 't.%r.npy'
  assert_fails 2 "clip-embed (rank 0 of 2): expected the loss mode on 2 ranks (the others run as one process), found text"
  run --separate-stderr timeout 120 "${MPI[@]}" -np 2 disc-step train --ckpt missing.npz --real real.npy --cond cond.npy \
      --fake real.npy --save D.npz
  assert_fails 2 "disc-step (rank 0 of 2): expected a readable file, found 'missing.npz': No such file or directory"
  [ ! -e D.npz ] && [ ! -e G.npz ]
}

@test "a rank that fails ends the whole job with one line naming it; the checkpoint is kept" {
  streams dfgan_eq64 2
  FX="$FXS/dfgan_eq64"
  cp "$FX/D.npz" D.npz
  # rank 1's fakes end with a wrong image size at batch 2; rank 0's are fine
  py "
f = open('real.npy', 'rb'); a = [np.load(f), np.load(f)]
with open('fk.0.npy', 'wb') as g:
    for x in a: np.save(g, x[:2])
with open('fk.1.npy', 'wb') as g:
    np.save(g, a[0][2:]); np.save(g, a[1][2:, :, :32])
"
  run --separate-stderr timeout 60 "${MPI[@]}" -np 2 disc-step train --ckpt D.npz --real real.npy --cond cond.npy \
      --fake 'fk.%r.npy' --save D.npz --log d.log
  assert_fails 2 "disc-step (rank 1 of 2): --fake: expected float32 (2,3,64,64), found float32 (2,3,32,64) in array 1"
  cmp D.npz "$FX/D.npz"
  assert_no_temp .
  [ "$(wc -l < d.log)" -eq 1 ]
}

@test "a NaN in a shared file's rows of rank 1 is refused by that rank, named by its index in the whole batch (exit 3)" {
  streams dfgan_eq64 2
  FX="$FXS/dfgan_eq64"
  cp "$FX/D.npz" D.npz
  # batch 1 of real.npy (4 rows: rank 0 reads rows 0-1, rank 1 rows 2-3) gets a NaN at (3,1,5,7)
  py "
f = open('real.npy', 'rb'); a = [np.load(f), np.load(f)]
a[1][3, 1, 5, 7] = np.nan
with open('poisoned.npy', 'wb') as g:
    for x in a: np.save(g, x)
"
  run --separate-stderr timeout 60 "${MPI[@]}" -np 2 disc-step train --ckpt D.npz --real poisoned.npy --cond cond.npy \
      --fake real.npy --save D.npz --log d.log
  assert_fails 3 "disc-step (rank 1 of 2): --real: expected finite values, found NaN at (3,1,5,7) in batch 1"
  cmp D.npz "$FX/D.npz"
  assert_no_temp .
}

@test "a step that diverges stops every rank at once: exit 3, one line (rank 0's) naming the step and the value; nothing written" {
  streams dfgan_eq64 2
  FX="$FXS/dfgan_eq64"
  cp "$FX/D.npz" D.npz
  # Adam's state of one weight planted so that the first update sends it to -Inf, on every rank alike
  plant_m "$FX/D.npz" D_m.npz netD.DBlocks.1.conv_r.2.weight 5,2,1,0
  run --separate-stderr timeout 60 "${MPI[@]}" -np 2 disc-step train --ckpt D_m.npz --real real.npy --cond cond.npy \
      --fake real.npy --grad-out 'g.%r.npy' --save D.npz --beta1 0.99 --log d.log
  assert_fails 3 "disc-step (rank 0 of 2): step 1: expected finite values after the Adam step, found -Inf in netD.DBlocks.1.conv_r.2.weight at (5,2,1,0)"
  cmp D.npz "$FX/D.npz"
  [ ! -e g.0.npy ] && [ ! -e g.1.npy ]
  assert_no_temp .
  # and a rate that overflows the losses: the same step on every rank, said once
  run --separate-stderr timeout 60 "${MPI[@]}" -np 2 disc-step train --ckpt D.npz --real real.npy --cond cond.npy \
      --fake real.npy --grad-out 'g.%r.npy' --save D.npz --lr 1000 --log d2.log
  assert_fails 3 "disc-step (rank 0 of 2): step "[12]": expected *, found @(NaN|+Inf|-Inf) in *"
  cmp D.npz "$FX/D.npz"
}

@test "a rank killed by a signal ends the whole job, no hang; the checkpoint is kept" {
  streams dfgan_eq64 2
  FX="$FXS/dfgan_eq64"
  cp "$FX/D.npz" D.npz
  mkfifo fk.0 fk.1
  timeout 120 "${MPI[@]}" -np 2 disc-step train --ckpt D.npz --real real.npy --cond cond.npy --fake 'fk.%r' --save D.npz --log d.log &
  local job=$!
  # the first batch's fakes to both ranks, then nothing: the ranks wait for batch 2
  exec 7> fk.0 8> fk.1
  py "
f = open('real.npy', 'rb'); x = np.load(f)
import io
for fd, rows in [(7, x[:2]), (8, x[2:])]:
    b = io.BytesIO(); np.save(b, rows); os.write(fd, b.getvalue())
"
  for i in $(seq 100); do [ -s d.log ] && break; sleep 0.1; done
  [ -s d.log ]
  # rank 1: the disc-step child of mpirun whose environment says so
  local victim= ranks
  ranks=$(pgrep -P "$(pgrep -P "$job")")     # timeout -> mpirun -> the ranks
  for p in $ranks; do
    tr '\0' '\n' < /proc/$p/environ | grep -qx OMPI_COMM_WORLD_RANK=1 && victim=$p
  done
  [ -n "$victim" ]
  kill -9 "$victim"
  local rc=0 t0=$SECONDS
  wait "$job" || rc=$?
  exec 7>&- 8>&-
  [ "$rc" -ne 0 ]
  (( SECONDS - t0 < 30 ))
  for p in $ranks; do ! kill -0 "$p" 2>/dev/null; done
  cmp D.npz "$FX/D.npz"
}

@test "a failing disc-step job ends the gen-step job through the FIFOs, no hang" {
  streams dfgan_eq64 2
  FX="$FXS/dfgan_eq64"
  cp "$FX/G.npz" G.npz
  # D's real images end after one batch: every disc-step rank finds it, rank 0 says it
  py "f = open('real.npy', 'rb'); np.save('real1.npy', np.load(f))"
  mkfifo fake.0 fake.1 grad.0 grad.1
  timeout 60 "${MPI[@]}" -np 2 disc-step train --ckpt "$FX/D.npz" --real real1.npy --cond cond.npy --fake 'fake.%r' \
      --grad-out 'grad.%r' --save D.npz 2> d.err &
  local dpid=$! rc=0
  timeout 60 "${MPI[@]}" -np 2 gen-step train --ckpt G.npz --noise noise.npy --cond cond.npy --fake-out 'fake.%r' \
      --grad 'grad.%r' --save G.npz 2> g.err || rc=$?
  local drc=0
  wait "$dpid" || drc=$?
  cat d.err g.err
  [ "$drc" -eq 2 ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 124 ]
  grep -qx "disc-step (rank 0 of 2): expected --real, --cond and --fake to hold the same number of batches, found --real ending at batch 2" d.err
  cmp G.npz "$FX/G.npz"
  [ ! -e D.npz ]
}
