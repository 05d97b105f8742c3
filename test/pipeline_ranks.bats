#!/usr/bin/env bats
# pipeline_ranks.bats: the pipelines with RANKS=N (pipelines/common.mk's "ranks"): each epoch's
# gen-step, disc-step, clip-embed loss and the copies between them as MPI jobs of N ranks through
# per-rank FIFOs. Against RANKS=1 on the same data (the demo on tiny settings, the CLIP loss on and
# off; bird.mk's config key ranks): the parameters, the logged losses, one copy of each output;
# make -n's plans (RANKS=1 byte-identical to the default; the mpirun jobs and FIFOs of RANKS=N);
# the settings refused before any work; a rank failing, a run killed with kill -9 mid-epoch and
# resumed, a hostfile. OpenMPI on this machine's cores (--oversubscribe added by the pipeline where
# the ranks outnumber them), shared memory only, as test/dist.bats runs it. Skipped where mpirun
# or a build with MPI is missing.

load helpers

# the demo on tiny settings, as pipeline_demo.bats's TINY: 3 steps an epoch, 2 samples a rank, no
# tests or grids; the CLIP loss on (LAMBDA_CLIP's default), G and D on the random DAMSM
TINY=(IMSIZE=32 NF=4 BATCH=4 COND=8 Z=8 MAX_EPOCH=2 MAX_BATCHES=3 IMAGES=48 TEST_N=8 TEST_INTERVAL=0 GEN_INTERVAL=0
  TEXT_ENCODER=damsm "CLIP_INIT=--embed-dim 32 --width 64 --layers 2 --patch 8 --image-size 32 --text-width 64 --text-layers 2"
  CLIP_HEAD_WIDTH=32 CLIP_EPOCHS=1 CLIP_BATCH=4 SAMPLE_ROWS=2 SAMPLE_COLS=2)
# no network in the container: shared memory between the ranks (as test/dist.bats)
FLAGS="MPI_FLAGS=-q --mca btl self,vader --mca btl_vader_single_copy_mechanism none"

MK() { make --no-print-directory -f "$ROOT/pipelines/demo.mk" "$@"; }

have_mpi() {
  command -v mpirun >/dev/null 2>&1 || { echo "no mpirun here (openmpi-bin, libopenmpi-dev: .ci/install-deps)"; return 1; }
  ldd "$ROOT/bin/disc-step" | grep -q libmpi || { echo "bin/ built without MPI (no mpicc at build time)"; return 1; }
}

# redo RUN COPY: COPY, a copy of RUN without its trained epochs (their checkpoints and logs)
redo() {
  cp -a "$1" "$2"
  rm -f "$2"/ckpt/[GD]_00[1-9].npz "$2"/log/* "$2"/losses.jsonl "$2"/metrics.csv "$2"/metrics.png
}

setup_file() {
  unset MAKEFLAGS MFLAGS MAKELEVEL
  make --no-print-directory -s -C "$ROOT" all >&2
  have_mpi >/dev/null || return 0
  # BASE: one process a tool; BASE2: the same data, both epochs again as 2 ranks, the mpirun
  # commands logged by a launcher that records them and runs mpirun
  BASE="$BATS_FILE_TMPDIR/base"
  MK train "${TINY[@]}" RUN="$BASE" > "$BATS_FILE_TMPDIR/base.out" 2>&1 || { cat "$BATS_FILE_TMPDIR/base.out" >&2; return 1; }
  printf '#!/bin/sh\nprintf "%%s\\n" "$*" >> "%s"\nexec mpirun "$@"\n' "$BATS_FILE_TMPDIR/mpirun.log" > "$BATS_FILE_TMPDIR/mpirun-log"
  chmod +x "$BATS_FILE_TMPDIR/mpirun-log"
  redo "$BASE" "$BATS_FILE_TMPDIR/base2"
  MK train "${TINY[@]}" RUN="$BATS_FILE_TMPDIR/base2" RANKS=2 MPIRUN="$BATS_FILE_TMPDIR/mpirun-log" "$FLAGS" \
    > "$BATS_FILE_TMPDIR/base2.out" 2>&1 || { cat "$BATS_FILE_TMPDIR/base2.out" >&2; return 1; }
}

setup() {
  common_setup
  unset MAKEFLAGS MFLAGS MAKELEVEL
  local why
  why=$(have_mpi) || skip "$why"
  BASE="$BATS_FILE_TMPDIR/base"
  BASE2="$BATS_FILE_TMPDIR/base2"
  cd "$T"
}

# same_training A B E COND: epoch E of runs A (ranks) and B (one process) agree: every parameter of
# G and D within 1e-5 relative L2, but for the sentence channels of netC's first conv (the last COND
# of its inputs): their first step's exact gradient is 0 at a fresh D (the real, mismatched and
# fake hinge terms cancel, README "Over ranks and machines"), so float32 leaves rounding noise that
# Adam turns into a step of up to lr whose sign depends on the summation order, within 1e-3 there.
# Adam's moments within 1e-3, its step count equal; the per-batch losses and the epoch's means
# within 1e-4 relative (1e-5 absolute near 0)
same_training() {
  py "
a_run, b_run, e, c = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def rel(x, y):
    x, y = x.astype(np.float64), y.astype(np.float64)
    return np.linalg.norm(x - y) / max(np.linalg.norm(y), 1e-30)
for m in 'GD':
    a, b = np.load('%s/ckpt/%s_%s.npz' % (a_run, m, e)), np.load('%s/ckpt/%s_%s.npz' % (b_run, m, e))
    assert a.files == b.files, (m, set(a.files) ^ set(b.files))
    for k in a.files:
        x, y = a[k], b[k]
        assert x.shape == y.shape, (m, k, x.shape, y.shape)
        if k == 'adam.step':
            assert int(x) == int(y) == 3 * int(e), (m, k, x, y)
        elif k.startswith('adam.'):
            assert rel(x, y) <= 1e-3, (m, k, rel(x, y))
        elif k == 'netC.joint_conv.0.weight':
            assert x.shape[1] > c and rel(x[:, :-c], y[:, :-c]) <= 1e-5, (m, k, 'image channels', rel(x[:, :-c], y[:, :-c]))
            assert rel(x[:, -c:], y[:, -c:]) <= 1e-3, (m, k, 'sentence channels', rel(x[:, -c:], y[:, -c:]))
        else:
            assert rel(x, y) <= 1e-5, (m, k, rel(x, y))
import json
for log in ('losses', 'clip'):
    la = [json.loads(l) for l in open('%s/log/%s_%s.jsonl' % (a_run, log, e))]
    lb = [json.loads(l) for l in open('%s/log/%s_%s.jsonl' % (b_run, log, e))]
    assert len(la) == len(lb) and [r.keys() for r in la] == [r.keys() for r in lb], (log, la, lb)
    for ra, rb in zip(la, lb):
        for k in ra:
            assert abs(ra[k] - rb[k]) <= 1e-4 * max(abs(rb[k]), 0.1), (log, k, ra[k], rb[k])
ma = open('%s/log/metrics_%s.csv' % (a_run, e)).read().split(',')
mb = open('%s/log/metrics_%s.csv' % (b_run, e)).read().split(',')
assert ma[0] == mb[0] and (ma[3] == '') == (mb[3] == ''), (ma, mb)
for x, y in zip(ma[1:4], mb[1:4]):
    if y: assert abs(float(x) - float(y)) <= 1e-4 * max(abs(float(y)), 0.1), (ma, mb)
" "$1" "$2" "$3" "$4"
}

# files RUN: its files, relative, sorted (the data and weights made once left out)
# (TensorBoard's event files named with their second of creation: the same name for both runs here)
files() { (cd "$1" && find . -type f ! -path './data/*' ! -path './weights/*' | sed 's/tfevents\.[0-9]*\./tfevents.T./' | sort); }

@test "RANKS=2 against RANKS=1 (the CLIP loss on): every parameter within 1e-5 after an epoch of 3 steps, the same losses, one copy of each output" {
  [ -n "$(grep -l clip_loss "$BASE/log/clip_001.jsonl")" ] || { echo "expected the CLIP loss on (CLIP's BPE file), found it off" >&2; return 1; }
  same_training "$BASE2" "$BASE" 001 8
  # every step tool and copy ran as one job of 2 ranks, 5 a epoch: the copy of the fakes, clip-embed
  # loss, the copy of its gradient, disc-step, gen-step
  local log="$BATS_FILE_TMPDIR/mpirun.log"
  [ "$(grep -vcx -- --version "$log")" -eq 10 ]     # (the pipeline asks the launcher's --version once)
  [ "$(grep -c -- ' -np 2 ' "$log")" -eq 10 ]
  for tool in "run-epoch --copy .*/fake\.%r\.fifo" "clip-embed loss" "run-epoch --copy .*/cgrad_out\.%r\.fifo" "disc-step train" "gen-step train"; do
    [ "$(grep -c -- "/bin/$tool" "$log")" -eq 2 ] || { echo "expected 2 jobs of $tool, found: $(cat "$log")" >&2; return 1; }
  done
  # one copy of every output, as one process writes them: the same files, no per-rank ones, no tmp/
  assert_equal "$(files "$BASE2")" "$(files "$BASE")"
  [ ! -e "$BASE2/tmp" ]
  [ "$(wc -l < "$BASE2/log/losses_001.jsonl")" -eq 3 ]
  [ "$(wc -l < "$BASE2/log/clip_001.jsonl")" -eq 3 ]
  [ "$(wc -l < "$BASE2/losses.jsonl")" -eq 6 ]
  [ "$(wc -l < "$BASE2/metrics.csv")" -eq 3 ]
  grep -q '^epoch 2/2: errD ' "$BATS_FILE_TMPDIR/base2.out"
  assert_no_temp "$BASE2/ckpt"
}

@test "RANKS=2 against RANKS=1 with the CLIP loss off: the same, two jobs an epoch" {
  local one="$T/one" two="$T/two" share=(DATA="$BASE/data" WDIR="$BASE/weights")
  MK train "${TINY[@]}" MAX_EPOCH=1 LAMBDA_CLIP=0 "${share[@]}" RUN="$one" > /dev/null 2>&1
  run --separate-stderr MK train "${TINY[@]}" MAX_EPOCH=1 LAMBDA_CLIP=0 "${share[@]}" RUN="$two" RANKS=2 "$FLAGS"
  assert_ok
  [[ "$output" == *"epoch 1/1: errD "* ]]
  [[ "$output" != *clip_loss* ]]
  same_training "$two" "$one" 001 8
  [ ! -s "$two/log/clip_001.jsonl" ]
  assert_equal "$(files "$two")" "$(files "$one")"
}

@test "make -n: RANKS=1 is the default's plan byte for byte, no mpirun; RANKS=N runs each step tool and copy as one mpirun -np N job, a FIFO per rank" {
  local plan=(--no-print-directory -n -f "$ROOT/pipelines/demo.mk" all RUN="$T/run" MAX_EPOCH=2 TEST_INTERVAL=1 GEN_INTERVAL=1)
  make "${plan[@]}" > default.txt
  make "${plan[@]}" RANKS=1 > one.txt
  # the one difference: a diverged epoch's hint repeats the command line's settings, RANKS=1 among them
  [ "$(grep -c ' RANKS=1 ' one.txt)" -eq 2 ]
  sed 's/ RANKS=1 / /' one.txt | cmp default.txt -
  [ -z "$(grep 'mpirun\|%r\|--settle\|--copy' one.txt)" ]
  grep -q -- "--fifo \"\$tmp/fake.fifo\" --fifo \"\$tmp/grad.fifo\"" one.txt
  # RANKS=2: per epoch 5 jobs (CLIP loss on), every FIFO twice, the launcher's default flags
  make "${plan[@]}" RANKS=2 > two.txt
  local root=$(id -u | sed 's/^0$/ --allow-run-as-root/; /^[1-9]/d') n
  root+=" -x DFGAN_ERROR_LOG"    # every rank, on any machine, appends its error line where the epoch reads it
  for job in "run-epoch' --copy:4" "clip-embed' loss:2" "disc-step' train:2" "gen-step' train:2"; do
    [ "$(grep -o "::: 'mpirun' -q$root -np 2 '$ROOT/bin/${job%:*}" two.txt | wc -l)" -eq "${job##*:}" ] || { echo "expected ${job##*:} jobs of ${job%:*}" >&2; return 1; }
  done
  [ "$(grep -o "::: 'mpirun'" two.txt | wc -l)" -eq 10 ]
  [ "$(grep -c "run-epoch' --settle 3 < /dev/null --fifo \"\$tmp/fake.0.fifo\" --fifo \"\$tmp/fake.1.fifo\" --fifo \"\$tmp/grad.0.fifo\"" two.txt)" -eq 2 ]
  for f in fake grad fake_d fake_c cgrad_out cgrad; do
    [ "$(grep -o -- "--fifo \"\$tmp/$f\.[01]\.fifo\"" two.txt | sort -u | wc -l)" -eq 2 ]
    [ -z "$(grep -- "\$tmp/$f\.fifo" two.txt)" ]
  done
  grep -q -- "--fake-out \"\$tmp/fake.%r.fifo\" --grad \"\$tmp/grad.%r.fifo\" --grad \"\$tmp/cgrad.%r.fifo\"" two.txt
  grep -q -- "--fake \"\$tmp/fake_d.%r.fifo\" --grad-out \"\$tmp/grad.%r.fifo\"" two.txt
  grep -q -- "--in \"\$tmp/fake_c.%r.fifo\" -o \"\$tmp/cgrad_out.%r.fifo\"" two.txt
  grep -q "^export DFGAN_ERROR_LOG=" two.txt
  # the tests, grids and data stay one process
  [ -n "$(grep "inception-stats\|clip-embed' score\|clip-embed' text\|npy-png\|batches'" two.txt)" ]
  [ -z "$(grep "inception-stats\|clip-embed' score\|clip-embed' text\|npy-png\|batches'" two.txt | grep mpirun)" ]
  # more ranks than cores: --oversubscribe; a hostfile: --hostfile F --map-by slot instead
  n=$(( $(nproc) + 1 ))
  make "${plan[@]}" RANKS=$n BATCH=$((4 * n)) > many.txt
  [ "$(grep -o "'mpirun' -q --oversubscribe$root -np $n '" many.txt | wc -l)" -eq 10 ]
  printf 'localhost slots=2\n' > hosts
  make "${plan[@]}" RANKS=2 HOSTFILE="$T/hosts" "MPI_FLAGS=-q -x NCCL_DEBUG=INFO" > hosts.txt
  [ "$(grep -o "'mpirun' -q -x NCCL_DEBUG=INFO --hostfile '$T/hosts' --map-by slot$root -np 2 '" hosts.txt | wc -l)" -eq 10 ]
}

@test "the ranks' settings are refused before any work in one line naming them: RANKS not dividing BATCH, not a whole number >= 1; MPIRUN, MPI_FLAGS, HOSTFILE" {
  run --separate-stderr MK train RUN="$T/run" RANKS=3
  assert_fails 2 "*demo.mk: expected RANKS to divide BATCH (16), found RANKS=3.  Stop."
  run --separate-stderr MK train RUN="$T/run" RANKS=3 BATCH=4
  assert_fails 2 "*demo.mk: expected RANKS to divide BATCH (4), found RANKS=3.  Stop."
  local v
  for v in 0 01 -2 x 2.0 '1 2' '2;touch PWNED' '$$(touch PWNED)' '`touch PWNED`' $'2\ntouch PWNED'; do
    run --separate-stderr MK train RUN="$T/run" RANKS="$v"
    [ "$status" -eq 2 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [ -z "$output" ] || { echo "RANKS=$v: status $status: $stderr" >&2; return 1; }
    [[ "$stderr" == *"demo.mk: RANKS: expected a whole number >= 1, found '"*"'.  Stop." ]] || { echo "RANKS=$v: $stderr" >&2; return 1; }
  done
  local rule="a path without blanks or any of ;|:=%*?[]()#\$\\\`\"' (Make or the shell would read them)"
  run --separate-stderr MK train RUN="$T/run" RANKS=2 'MPIRUN=mpirun;touch PWNED'
  [ "$status" -eq 2 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "$stderr" == *"demo.mk: MPIRUN: expected $rule, found 'mpirun;touch PWNED'.  Stop." ]]
  run --separate-stderr MK train RUN="$T/run" RANKS=2 MPIRUN="$T/no-mpirun"
  assert_fails 2 "*demo.mk: MPIRUN: expected an MPI launcher (OpenMPI's mpirun) to run RANKS=2, found no '$T/no-mpirun'.  Stop."
  run --separate-stderr MK train RUN="$T/run" RANKS=2 MPIRUN=
  assert_fails 2 "*demo.mk: MPIRUN: expected an MPI launcher to run RANKS=2, found it empty.  Stop."
  for v in '-q;touch PWNED' '-q `touch PWNED`' '-q $$(touch PWNED)' "-q 'x'" '-q >PWNED'; do
    run --separate-stderr MK train RUN="$T/run" RANKS=2 MPI_FLAGS="$v"
    [ "$status" -eq 2 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [[ "$stderr" == *"demo.mk: MPI_FLAGS: expected words of letters, digits and -_.,=:/+@ only, found '"* ]] \
      || { echo "MPI_FLAGS=$v: status $status: $stderr" >&2; return 1; }
  done
  run --separate-stderr MK train RUN="$T/run" RANKS=2 $'MPI_FLAGS=-q\ntouch PWNED'
  assert_fails 2 "*demo.mk: MPI_FLAGS: expected words on one line, found '-q?ntouch PWNED'.  Stop."
  run --separate-stderr MK train RUN="$T/run" RANKS=2 HOSTFILE="$T/hosts"
  assert_fails 2 "*demo.mk: HOSTFILE: expected a hostfile (a machine a line: NAME slots=N), found no '$T/hosts'.  Stop."
  run --separate-stderr MK train RUN="$T/run" RANKS=2 HOSTFILE="$T/a b"
  [ "$status" -eq 2 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [[ "$stderr" == *"demo.mk: HOSTFILE: expected $rule, found '$T/a b'.  Stop." ]]
  [ ! -e "$T/run" ]
  [ -z "$(find "$T" -name 'PWNED*')" ]
}

@test "a rank that fails ends the epoch's jobs: one line naming it, the checkpoints kept, no hang, and the run resumes" {
  local R="$T/run" t0=$SECONDS
  cp -a "$BASE2" "$R"
  rm "$R"/ckpt/[GD]_002.npz
  # rank 1's real images end after one batch; rank 0's are whole (epoch 2)
  "$ROOT/bin/synth-shapes" --imsize 32 --batch 4 --batches 1 --cond-dim 8 --images "$T/one.npy" --cond "$T/onec.npy"
  printf '#!/bin/bash\nargs=(); for a in "$@"; do [[ "$a" == */real.npy && "$OMPI_COMM_WORLD_RANK" = 1 ]] && a="%s"; args+=("$a"); done\nexec "%s" "${args[@]}"\n' \
    "$T/one.npy" "$ROOT/bin/disc-step" > "$T/short-disc"
  chmod +x "$T/short-disc"
  run --separate-stderr timeout 120 make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" RUN="$R" RANKS=2 "$FLAGS" DISC_STEP="$T/short-disc"
  [ "$status" -eq 2 ]
  # the rank's own line (relayed by its mpirun, in any order with the others' relays), and the
  # pipeline's last line naming it as the first error written
  local cause="disc-step (rank 1 of 2): expected --real, --cond and --fake to hold the same number of batches, found --real ending at batch 2"
  [[ "$stderr" == *"$cause"* ]]
  [[ "$stderr" == *"run-epoch: expected every command to succeed, found command "[0-9]" (mpirun) exiting with status 2"* ]]
  [[ "$(pipeline_last_line)" == "demo.mk: expected epoch 002 to train, found a tool failing (exit 2); $R/ckpt/*_001.npz kept; the first error: $cause" ]]
  cmp "$R/ckpt/G_001.npz" "$BASE2/ckpt/G_001.npz"
  cmp "$R/ckpt/D_001.npz" "$BASE2/ckpt/D_001.npz"
  [ ! -e "$R/ckpt/G_002.npz" ]
  [ ! -e "$R/log/losses_002.jsonl" ]
  assert_no_temp "$R/ckpt"
  [ -z "$(procs_with "$R/tmp/")" ]
  # a disc-step that fails before opening its FIFOs: every other job blocked on them is stopped
  fail_wrapper disc-step bad-disc
  run --separate-stderr timeout 120 make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" RUN="$R" RANKS=2 "$FLAGS" DISC_STEP="$T/bad-disc"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"bad-disc: expected a test, found a planted failure"* ]]
  [[ "$stderr" == *"run-epoch: expected every command to succeed, found command "[0-9]" (mpirun) exiting with status 3"* ]]
  [[ "$stderr" == *"demo.mk: expected epoch 002 to train, found a tool failing (exit 3)"* ]]
  [ -z "$(procs_with "$R/tmp/")" ]
  (( SECONDS - t0 < 100 ))
  run MK train "${TINY[@]}" RUN="$R" RANKS=2 "$FLAGS"
  assert_ok
  cmp "$R/ckpt/G_002.npz" "$BASE2/ckpt/G_002.npz"
  cmp "$R/ckpt/D_002.npz" "$BASE2/ckpt/D_002.npz"
}

@test "a RANKS=2 job killed with kill -9 mid-epoch resumes from the last complete epoch, byte for byte as the run never interrupted" {
  local R="$T/run"
  cp -a "$BASE2" "$R"
  rm "$R"/ckpt/[GD]_002.npz
  # disc-step ranks whose --fake stream stalls after their first batch (2 images of 32 px: the
  # array's 128-byte header and its data), the stream held open until the rank is gone
  mkdir "$T/stall"
  printf '#!/bin/bash\nr=$OMPI_COMM_WORLD_RANK; me=$$; args=()\nwhile [ $# -gt 0 ]; do\n  if [ "$1" = --fake ]; then\n    mkfifo "%s/$r"\n    { exec 3< "${2//%%r/$r}"; head -c %d <&3; while kill -0 $me 2>/dev/null; do sleep 0.1; done; } > "%s/$r" &\n    args+=(--fake "%s/%%r"); shift 2\n  else args+=("$1"); shift; fi\ndone\nexec "%s" "${args[@]}"\n' \
    "$T/stall" $((128 + 2 * 3 * 32 * 32 * 4)) "$T/stall" "$T/stall" "$ROOT/bin/disc-step" > "$T/slow-disc"
  chmod +x "$T/slow-disc"
  setsid make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" RUN="$R" RANKS=2 "$FLAGS" DISC_STEP="$T/slow-disc" \
    > "$T/killed.out" 2>&1 3>&- &
  local pid=$! stat
  for _ in $(seq 1500); do [ -s "$R/tmp/epoch_002/losses.jsonl" ] && break; sleep 0.02; done
  [ "$(wc -l < "$R/tmp/epoch_002/losses.jsonl")" -eq 1 ]
  read -r -a stat < "/proc/$pid/stat"     # field 5: the process group (setsid made make its leader)
  kill -KILL -- "-${stat[4]}"
  wait "$pid" || true
  # the ranks have process groups of their own (mpirun's): they end once their mpirun is gone
  for _ in $(seq 100); do [ -z "$(procs_with "$R/tmp/")" ] && break; sleep 0.1; done
  [ -z "$(procs_with "$R/tmp/")" ] || { procs_with "$R/tmp/" >&2; return 1; }
  [ -f "$R/ckpt/G_001.npz" ]
  [ ! -e "$R/ckpt/G_002.npz" ]
  [ ! -e "$R/ckpt/D_002.npz" ]
  assert_no_temp "$R/ckpt"
  run MK train "${TINY[@]}" RUN="$R" RANKS=2 "$FLAGS"
  assert_ok
  [[ "$output" == *"epoch 2/2"* ]]
  [[ "$output" != *"epoch 1/2"* ]]
  [ ! -e "$R/tmp" ]
  for f in ckpt/G_002.npz ckpt/D_002.npz losses.jsonl; do cmp "$R/$f" "$BASE2/$f"; done
}

@test "HOSTFILE (this machine as localhost): the jobs mapped by --hostfile, the copies as ranks; the same checkpoints" {
  local R="$T/run"
  cp -a "$BASE2" "$R"
  rm "$R"/ckpt/[GD]_002.npz
  printf 'localhost slots=2\n' > "$T/hosts"
  run MK train "${TINY[@]}" RUN="$R" RANKS=2 "$FLAGS" HOSTFILE="$T/hosts"
  assert_ok
  for f in ckpt/G_002.npz ckpt/D_002.npz losses.jsonl; do cmp "$R/$f" "$BASE2/$f"; done
}

@test "bird.mk: config key ranks 2 trains as ranks, as ranks 1 does; a ranks that does not divide batch_size, or not a whole number, is refused naming the key" {
  W="$T/w"
  mkdir -p "$W"
  make-dataset --out "$T/birds" --images 48 --seed 1 >/dev/null 2>&1
  encode-text --init --vocab-size 1000 --seed 3 -o "$W/text_encoder200.npz"
  clip-embed --init --seed 4 --embed-dim 32 --width 64 --layers 1 --patch 8 --image-size 32 \
    --text-width 64 --text-layers 1 -o "$W/clip.npz"
  sed -e 's|^data_dir:.*|data_dir: '"$T/birds"'|' -e 's|^imsize:.*|imsize: 32|' -e 's|^nf:.*|nf: 4|' \
      -e 's|^batch_size:.*|batch_size: 4|' -e 's|^max_epoch:.*|max_epoch: 1|' -e 's|^test_interval:.*|test_interval: 0|' \
      -e 's|^gen_interval:.*|gen_interval: 0|' -e 's|^lambda_clip:.*|lambda_clip: 0.3|' \
      -e 's|^clip_weights:.*|clip_weights: '"$W/clip.npz"'|' -e 's|DAMSM_NAME:.*|DAMSM_NAME: '"$W/text_encoder200.npz"'|' \
      "$ROOT/cfg/bird.yml" > one.yml
  sed 's|^ranks:.*|ranks: 2|' one.yml > two.yml
  BMK() { make --no-print-directory -f "$ROOT/pipelines/bird.mk" "$@"; }
  run BMK train CFG="$T/one.yml" RUN="$T/one" MAX_BATCHES=3
  assert_ok
  run BMK train CFG="$T/two.yml" RUN="$T/two" MAX_BATCHES=3 "$FLAGS"
  assert_ok
  grep -q '^RANKS := 2$' "$T/two/config.mk"
  same_training "$T/two" "$T/one" 001 256
  sed 's|^ranks:.*|ranks: 3|' one.yml > three.yml
  run --separate-stderr BMK train CFG="$T/three.yml" RUN="$T/three"
  assert_fails 2 "*bird.mk: expected RANKS to divide BATCH (4), found RANKS=3 (RANKS: config key ranks ($T/three.yml); BATCH: config key batch_size ($T/three.yml)).  Stop."
  run --separate-stderr BMK train CFG="$T/one.yml" RUN="$T/three" RANKS=x
  assert_fails 2 "*bird.mk: RANKS (command line): expected a whole number >= 1, found 'x'.  Stop."
  sed 's|^ranks:.*|ranks: 0|' one.yml > zero.yml
  run --separate-stderr BMK train CFG="$T/zero.yml" RUN="$T/three"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"zero.yml:"*"'ranks'"* ]]
  [ ! -e "$T/three" ]
}
