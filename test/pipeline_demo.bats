#!/usr/bin/env bats
# pipeline_demo.bats: the embedded default job (pipelines/demo.mk) end to end on tiny
# settings: checkpoints, losses and metrics per epoch; up to date after a finished run; a deleted
# epoch redone alone, byte for byte; resume after kill -9 mid-epoch; a failing tool (gen-step,
# disc-step or clip-embed) failing the job without hanging; the CLIP branch on and off; FID and
# CLIP score at test epochs; sample grids and the metrics plot as valid PNGs; the eval target; the
# sample target (a captions file as one grid per caption); the progress lines (bin/progress);
# TEXT_ENCODER=clip; SAVE_INTERVAL; going on without CLIP's BPE file; the demo CLIP (trained by
# clip-train from the streams batches draws, resumed after kill -9); R-precision and CLIP-FID as
# their tools compute them; FID_INTERVAL; sample grids with a caption under each row; compare;
# the run in TensorBoard (RUN/tb, read back with the tensorboard package's reader).
# The data: bin/make-dataset's CUB-layout dataset through import-cub, a random DAMSM and batches; the
# epoch's cond rows and CLIP features are those of the captions batches chose.
# And its tools: noise, synth-shapes (with captions), npy-png and plot-metrics.
#
# The tests that redo an epoch pass NOEVAL (no test, no grid) to stay fast.
#
# IMSIZE is 32, not 16: DF-GAN's NetC reads nf*8 channels, which only imsize >= 32 gives.

load helpers

# the demo CLIP tiny too: 1 epoch of 9 steps of 4 pairs; sample grids of 2 captions x 2 fakes
TINY_CLIP=("CLIP_INIT=--embed-dim 32 --width 64 --layers 2 --patch 8 --image-size 32 --text-width 64 --text-layers 2"
  CLIP_HEAD_WIDTH=32 CLIP_EPOCHS=1 CLIP_BATCH=4)
# G and D on the random DAMSM here (the demo's default conditions them on the demo CLIP's features:
# the TEXT_ENCODER=clip and compare tests); Inception's FID at every test
TINY=(IMSIZE=32 NF=2 BATCH=4 COND=8 Z=8 MAX_EPOCH=2 MAX_BATCHES=2 IMAGES=48 TEST_N=8 TEST_INTERVAL=2 FID_INTERVAL=1
  TEXT_ENCODER=damsm "${TINY_CLIP[@]}" SAMPLE_ROWS=2 SAMPLE_COLS=2)
NOEVAL=(TEST_INTERVAL=0 GEN_INTERVAL=0)

MK() { make --no-print-directory -f "$ROOT/pipelines/demo.mk" "$@"; }

setup_file() {
  unset MAKEFLAGS MFLAGS MAKELEVEL
  make --no-print-directory -s -C "$ROOT" bin/noise bin/synth-shapes bin/gen-step bin/disc-step \
    bin/make-dataset bin/import-cub bin/encode-text bin/batches bin/clip-embed bin/clip-train bin/tokenize bin/inception-stats bin/fid \
    bin/feature-stats bin/r-precision bin/npy-png bin/npy-info bin/plot-metrics bin/progress bin/run-epoch bin/tb-log >&2
  # one tiny run that the tests below copy before they change anything
  BASE="$BATS_FILE_TMPDIR/base"
  MK train "${TINY[@]}" RUN="$BASE" > "$BATS_FILE_TMPDIR/base.out" 2>&1 || { cat "$BATS_FILE_TMPDIR/base.out" >&2; return 1; }
}

setup() {
  common_setup
  unset MAKEFLAGS MFLAGS MAKELEVEL
  BASE="$BATS_FILE_TMPDIR/base"
}

# epoch1_by_hand RUN EMB: epoch 1 of a TINY run without the CLIP loss, made by batches (on the
# per-caption cache EMB), noise, disc-step and gen-step alone; its checkpoints must be RUN's
epoch1_by_hand() {
  batches --cache "$1/data/train_images.npy" --shapes "$1/data/train_shapes.npy" --emb "$2" --imsize 32 --batch 4 --epoch 1 --seed 0 \
    --max-batches 2 --images "$T/real.npy" --cond "$T/cond.npy"
  noise --batch 4 --dim 8 --batches 2 --seed 1 -o "$T/z.npy"
  mkfifo "$T/f" "$T/g"
  disc-step train --ckpt "$1/ckpt/D_000.npz" --real "$T/real.npy" --cond "$T/cond.npy" \
    --fake "$T/f" --grad-out "$T/g" --save "$T/D.npz" --log "$T/d.jsonl" &
  gen-step train --ckpt "$1/ckpt/G_000.npz" --noise "$T/z.npy" --cond "$T/cond.npy" \
    --fake-out "$T/f" --grad "$T/g" --save "$T/G.npz" --log "$T/g.jsonl"
  wait $!
  cmp "$T/G.npz" "$1/ckpt/G_001.npz"
  cmp "$T/D.npz" "$1/ckpt/D_001.npz"
}

@test "train: a checkpoint pair per epoch, MAX_EPOCH*MAX_BATCHES loss lines, a metrics line per epoch" {
  grep -q '^epoch 1/2: errD ' "$BATS_FILE_TMPDIR/base.out"
  grep -q '^epoch 2/2: errD ' "$BATS_FILE_TMPDIR/base.out"
  for e in 000 001 002; do [ -f "$BASE/ckpt/G_$e.npz" ] && [ -f "$BASE/ckpt/D_$e.npz" ]; done
  [ ! -e "$BASE/ckpt/G_003.npz" ]
  [ ! -e "$BASE/tmp" ]
  assert_no_temp "$BASE/ckpt"
  py "
import json
run = sys.argv[1]
for e, step in [(1, 2), (2, 4)]:
    for m in 'GD':
        z = np.load('%s/ckpt/%s_%03d.npz' % (run, m, e))
        assert int(z['adam.step']) == step, (m, e, z['adam.step'])
        assert all(np.isfinite(z[k]).all() for k in z.files)
g0, g2 = np.load(run + '/ckpt/G_000.npz'), np.load(run + '/ckpt/G_002.npz')
assert set(g0.files) <= set(g2.files) and any(not np.array_equal(g0[k], g2[k]) for k in g0.files)
lines = open(run + '/losses.jsonl').read().splitlines()
assert len(lines) == 4, lines
rows = [json.loads(l) for l in lines]
assert [r['batch'] for r in rows] == [1, 2, 1, 2]
assert all(np.isfinite(r['errD']) and np.isfinite(r['errG']) for r in rows)
m = open(run + '/metrics.csv').read().splitlines()
head = m[0].split(',')
assert head == 'epoch,errD,errG,clip_loss,fid,clip_score,r_precision,r_precision_std,clip_fid,seconds,eval_seconds,eval_weights'.split(','), m
assert len(m) == 3, m
clip = [json.loads(l) for e in (1, 2) for l in open('%s/log/clip_%03d.jsonl' % (run, e))]
assert [r['batch'] for r in clip] == [1, 2, 1, 2], clip
for e, line in enumerate(m[1:], 1):
    c = dict(zip(head, line.split(',')))
    v = {k: float(c[k]) for k in ('epoch', 'errD', 'errG', 'clip_loss', 'seconds')}
    assert v['epoch'] == e and all(np.isfinite(list(v.values()))) and v['seconds'] >= 0, line
    want = np.mean([r['errD'] for r in rows[2 * e - 2:2 * e]])
    assert abs(v['errD'] - want) < 1e-4 * max(1, abs(want)), (line, want)
    want = np.mean([r['clip_loss'] for r in clip[2 * e - 2:2 * e]])
    assert abs(v['clip_loss'] - want) < 1e-4 * max(1, abs(want)), (line, want)
    # TEST_INTERVAL=2: FID, CLIP score, R-precision and CLIP-FID at epoch 2 only, the weights labelled
    tested = ('fid', 'clip_score', 'r_precision', 'r_precision_std', 'clip_fid', 'eval_seconds', 'eval_weights')
    if e == 1:
        assert all(c[k] == '' for k in tested), line
    else:
        assert float(c['fid']) > 0 and -100 <= float(c['clip_score']) <= 100, line
        # one repetition: no spread; R-precision a fraction of the 8 test images
        assert float(c['r_precision']) * 8 in range(9) and float(c['r_precision_std']) == 0, line
        assert float(c['clip_fid']) > 0, line
        assert float(c['eval_seconds']) > 0 and c['eval_weights'] == 'random-inception+demo-clip+random-damsm', line
" "$BASE"
}

@test "a finished run is up to date; a deleted last epoch is redone alone, byte for byte" {
  cp -a "$BASE" "$T/run"
  R="$T/run"
  run MK -q train "${TINY[@]}" RUN="$R"
  assert_ok
  run MK train "${TINY[@]}" RUN="$R"
  assert_ok
  [[ "$output" == *"Nothing to be done for 'train'"* ]]
  rm "$R"/ckpt/G_002.npz "$R"/ckpt/D_002.npz
  run MK train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R"
  assert_ok
  [[ "$output" == *"epoch 2/2"* && "$output" != *"epoch 1/2"* && "$output" != *"init:"* ]]
  cmp "$R/ckpt/G_002.npz" "$BASE/ckpt/G_002.npz"
  cmp "$R/ckpt/D_002.npz" "$BASE/ckpt/D_002.npz"
  cmp "$R/losses.jsonl" "$BASE/losses.jsonl"
  [ "$(wc -l < "$R/metrics.csv")" -eq 3 ]
  # more epochs continue the same run; other settings are refused
  run --separate-stderr MK train "${TINY[@]}" NF=4 RUN="$R"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"was made with \"imsize=32 nf=2 "*'found "imsize=32 nf=4 '* ]]
}

# tb_check RUN: RUN/tb as TensorBoard reads it (EventAccumulator) holds exactly the run's numbers: a
# scalar batch/<key> per number of log/losses_<eee>.jsonl and log/clip_<eee>.jsonl at step
# (e-1)*2 + batch (2 batches an epoch), one per number of metrics.csv at step epoch (FID, and
# epoch/<column> for the others), each once and in step order, equal as float32; the sample grid of
# each epoch as the image "fixed results", its PNG bytes and size. Prints each tag's steps.
tb_check() {
  "$TBPY" -c '
import json, struct, sys
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
run = sys.argv[1]
ea = EventAccumulator(run + "/tb", size_guidance={"scalars": 0, "images": 0})
ea.Reload()
got = {t: [(e.step, e.value) for e in ea.Scalars(t)] for t in ea.Tags()["scalars"]}
want = {}
for e in (1, 2):
    for name in ("losses", "clip"):
        for line in open("%s/log/%s_%03d.jsonl" % (run, name, e)):
            r = json.loads(line)
            for k, v in r.items():
                if k != "batch":
                    want.setdefault("batch/" + k, []).append(((e - 1) * 2 + r["batch"], v))
rows = open(run + "/metrics.csv").read().splitlines()
head = rows[0].split(",")
for row in rows[1:]:
    c = dict(zip(head, row.split(",")))
    for k in head[1:]:
        try:
            v = float(c[k])
        except ValueError:
            continue
        want.setdefault("FID" if k == "fid" else "epoch/" + k, []).append((int(c["epoch"]), v))
need = {"batch/errD", "batch/errG", "batch/clip_loss", "epoch/errD", "epoch/errG", "epoch/clip_loss", "epoch/seconds",
        "FID", "epoch/clip_score", "epoch/r_precision", "epoch/clip_fid", "epoch/eval_seconds"}
assert need <= set(want), sorted(need - set(want))
assert sorted(got) == sorted(want), (sorted(got), sorted(want))
for t in sorted(want):
    assert [s for s, _ in got[t]] == [s for s, _ in want[t]], (t, got[t], want[t])
    assert all(g == float(np.float32(w)) for (_, g), (_, w) in zip(got[t], want[t])), (t, got[t], want[t])
    print(t, *[s for s, _ in got[t]])
assert ea.Tags()["images"] == ["fixed results"], ea.Tags()["images"]
imgs = ea.Images("fixed results")
assert [i.step for i in imgs] == [1, 2], [i.step for i in imgs]
for i in imgs:
    b = i.encoded_image_string
    assert b == open("%s/samples/epoch_%03d.png" % (run, i.step), "rb").read(), i.step
    w, h = struct.unpack(">II", b[16:24])
    assert b[12:16] == b"IHDR" and (i.width, i.height) == (w, h) and w == 2 * 34 + 2 and h > w, (i.width, i.height, w, h)
print("fixed results", *[i.step for i in imgs])' "$1"
}

@test "TensorBoard: RUN/tb holds the run's losses, metrics and grids; a redone epoch replaces its files; up to date after; TB=off" {
  TBPY=
  for p in "$PYTHON" /usr/bin/python3; do
    if "$p" -c 'import numpy, tensorboard.backend.event_processing.event_accumulator' 2>/dev/null; then TBPY=$p; break; fi
  done
  [ -n "$TBPY" ] || skip "tensorboard is not importable (pip install tensorboard; .ci/install-deps does not install it)"
  cp -a "$BASE" "$T/run"
  R="$T/run"
  run tb_check "$R"
  assert_ok
  steps=$output
  [[ "$steps" == *"batch/errD 1 2 3 4"$'\n'* && "$steps" == *"epoch/errD 1 2"$'\n'* && "$steps" == *"FID 2"$'\n'* ]]
  ls "$R/tb" > "$T/files.txt"
  [ "$(wc -l < "$T/files.txt")" -eq 9 ]       # 2 epochs x losses, clip, metrics, grid; epoch 2's test
  # the last epoch redone (its grid and test too): its files replaced under their names, no point twice
  rm "$R"/ckpt/G_002.npz "$R"/ckpt/D_002.npz "$R"/samples/epoch_002.png
  run MK train "${TINY[@]}" RUN="$R"
  assert_ok
  [[ "$output" == *"epoch 2/2"* && "$output" == *"sample grid of epoch 002"* && "$output" == *"test of epoch 2"* ]]
  [[ "$output" != *"epoch 1/2"* ]]
  run tb_check "$R"
  assert_ok
  assert_equal "$output" "$steps"
  ls -A "$R/tb" | cmp - "$T/files.txt"
  # up to date: make -q says so, make does nothing and writes no event file
  stat -c '%n %Y %s' "$R"/tb/* > "$T/stat.txt"
  run MK -q train "${TINY[@]}" RUN="$R"
  assert_ok
  run MK train "${TINY[@]}" RUN="$R"
  assert_ok
  [[ "$output" == *"Nothing to be done for 'train'"* ]]
  stat -c '%n %Y %s' "$R"/tb/* | cmp - "$T/stat.txt"
  # TB=off: no event files; another value refused
  rm -r "$R/tb" "$R"/ckpt/G_002.npz "$R"/ckpt/D_002.npz
  run MK train "${TINY[@]}" "${NOEVAL[@]}" TB=off RUN="$R"
  assert_ok
  [[ "$output" == *"epoch 2/2"* ]]
  [ ! -e "$R/tb" ]
  run --separate-stderr MK train "${TINY[@]}" TB=yes RUN="$R"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"demo.mk: TB expects on or off, found 'yes'"* ]]
}

@test "progress: a plain line per step with its losses (PROGRESS_STEPS=1), a bar with PROGRESS=tty, none with PROGRESS=off" {
  cp -a "$BASE" "$T/run"
  R="$T/run"
  rm "$R"/ckpt/G_002.npz "$R"/ckpt/D_002.npz
  run --separate-stderr MK train "${TINY[@]}" "${NOEVAL[@]}" PROGRESS_STEPS=1 RUN="$R"
  assert_ok
  [[ "$output" == *"epoch 2/2: errD "* ]]
  printf '%s\n' "$stderr" | grep '^epoch 2/2: step ' > "$T/lines" || true
  py "
import json, re
lines = open(sys.argv[1]).read().splitlines()
assert len(lines) == 2, lines
d = [json.loads(l) for l in open(sys.argv[2])]
c = ['%.4g' % json.loads(l)['clip_loss'] for l in open(sys.argv[3])]
for i, l in enumerate(lines):
    m = re.fullmatch(r'epoch 2/2: step (\d)/2 \((\d+)%\), [0-9.]+ it/s, ETA [0-9:]+, errD (\S+), errG (\S+)(?:, clip_loss (\S+))?', l)
    assert m and m.group(1) == str(i + 1) and m.group(2) == str(50 * (i + 1)), l
    # the step's own losses; the CLIP loss of the last batch clip-embed has logged (it runs ahead
    # of disc-step's log, or behind)
    assert m.group(3) == '%.4g' % d[i]['errD'] and m.group(4) == '%.4g' % d[i]['errG'], (l, d[i])
    assert m.group(5) is None or m.group(5) in c, (l, c)
" "$T/lines" "$R/log/losses_002.jsonl" "$R/log/clip_002.jsonl"
  # watching changes nothing
  cmp "$R/ckpt/G_002.npz" "$BASE/ckpt/G_002.npz"
  # a bar on a terminal (forced): drawn while disc-step starts (held back half a second), cleared
  # at the end, before the epoch's line
  printf '#!/bin/sh\nsleep 0.5\nexec "%s" "$@"\n' "$ROOT/bin/disc-step" > "$T/late-disc"
  chmod +x "$T/late-disc"
  rm "$R"/ckpt/G_002.npz "$R"/ckpt/D_002.npz
  run --separate-stderr MK train "${TINY[@]}" "${NOEVAL[@]}" PROGRESS=tty DISC_STEP="$T/late-disc" RUN="$R"
  assert_ok
  [[ "$stderr" == *$'\r'"epoch 2/2 [>                   ] 0/2 - it/s ETA -"$'\e[K'*$'\r\e[K'* ]] || { echo "$stderr" | od -c | head -20; false; }
  [[ "$stderr" != *"step "* ]]
  rm "$R"/ckpt/G_002.npz "$R"/ckpt/D_002.npz
  run --separate-stderr MK train "${TINY[@]}" "${NOEVAL[@]}" PROGRESS=off PROGRESS_STEPS=1 DISC_STEP="$T/late-disc" RUN="$R"
  assert_ok
  [[ "$stderr" != *"step "* && "$stderr" != *$'\r'* ]]
  cmp "$R/ckpt/G_002.npz" "$BASE/ckpt/G_002.npz"
  run --separate-stderr MK train "${TINY[@]}" PROGRESS=yes RUN="$R"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"demo.mk: PROGRESS expects auto, tty, plain or off, found 'yes'"* ]]
}

@test "sample: the captions of a file as one PNG grid each, truncated noise, arbitrary words through the vocabulary" {
  cp -a "$BASE" "$T/run"
  R="$T/run"
  # a blank line (skipped), words the vocabulary lacks (dropped), the first caption twice
  printf '%s\n' 'a small red circle on a white background' '' 'a zebra with a big blue square' \
    'a small red circle on a white background' > "$T/mine.txt"
  run --separate-stderr MK sample "${TINY[@]}" CAPTIONS="$T/mine.txt" IMGS_PER_SENT=4 RUN="$R"
  assert_ok
  [[ "$output" == *"samples of epoch 2: 3 captions of $T/mine.txt x 4 images -> $R/samples/mine_002/sent_*.png"* ]]
  [[ "$output" != *"epoch 1/2"* && "$output" != *"epoch 2/2"* ]]
  [ -f "$R/samples/mine_002/sent_003.png" ] && [ ! -e "$R/samples/mine_002/sent_004.png" ]
  assert_no_temp "$R/samples"
  run MK -q sample "${TINY[@]}" CAPTIONS="$T/mine.txt" IMGS_PER_SENT=4 RUN="$R"
  assert_ok
  # caption 2 by hand: its DAMSM ids (the first 18 known words), its embedding for each of the 4
  # fakes, DF-GAN's truncated noise (at 2, times 0.88, seed SEED+2000) and G_002
  printf 'a zebra with a big blue square\n%.0s' 1 2 3 4 > "$T/two.txt"
  tokenize --vocab "$R/data/vocab.txt" --first -o "$T/ids.npy" "$T/two.txt"
  encode-text --weights "$R/weights/damsm_random.npz" --ids "$T/ids.npy" -o "$T/cond.npy"
  noise --batch 4 --dim 8 --batches 1 --seed 2000 --truncate 2 --trunc-rate 0.88 -o "$T/z.npy"
  gen-step forward --ckpt "$R/ckpt/G_002.npz" --noise "$T/z.npy" --cond "$T/cond.npy" -o "$T/two.npy"
  py "
import struct
f = open(sys.argv[1], 'rb'); x = [np.load(f) for _ in range(3)]; assert f.read() == b''
assert all(a.shape == (4, 3, 32, 32) and a.dtype == np.float32 and np.abs(a).max() <= 1 for a in x)
# caption 2's fakes are those made by hand (to rounding: encode-text's sums differ in the last bit
# from one run to another), nearer them than caption 1's are
two = np.load(sys.argv[2])
d = np.abs(x[1] - two).max()
assert d < 1e-6 and d < np.abs(x[0] - two).max() / 10, (d, np.abs(x[0] - two).max())
# the same caption, the same noise: the same grid; the 4 fakes of a grid apart
assert np.array_equal(x[0], x[2])
assert all(not np.allclose(x[0][0], x[0][i]) for i in (1, 2, 3))
assert open(sys.argv[3]).read().splitlines() == [open(sys.argv[4]).read().splitlines()[i] for i in (0, 2, 3)]
# each grid: 2x2 images of 32 px, 2 px apart (npy-png's default)
for i in (1, 2, 3):
    b = open('%s/sent_%03d.png' % (sys.argv[5], i), 'rb').read()
    assert b[:8] == b'\x89PNG\r\n\x1a\n' and struct.unpack('>II', b[16:24]) == (70, 70)
" "$R/samples/mine_002/fakes.npy" "$T/two.npy" "$R/samples/mine_002/captions.txt" "$T/mine.txt" "$R/samples/mine_002"
  # a caption with no word of the vocabulary is named
  printf '%s\n' 'a red circle' 'zebra quokka' > "$T/bad.txt"
  run --separate-stderr MK sample "${TINY[@]}" CAPTIONS="$T/bad.txt" IMGS_PER_SENT=2 RUN="$R"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"demo.mk: expected a word of the vocabulary ($R/data/vocab.txt) in every caption of $T/bad.txt, found none in caption 2: zebra quokka"* ]]
  [ ! -e "$R/samples/bad_002" ]
  run --separate-stderr MK sample "${TINY[@]}" CAPTIONS="$T/none.txt" RUN="$R"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"demo.mk: CAPTIONS: expected a captions file (one caption a line), found no '$T/none.txt'"* ]]
}

@test "sample: by default the seed's example captions (shared/data), else the run's test captions" {
  cp -a "$BASE" "$T/run"
  R="$T/run"
  ex="$ROOT/../shared/data/example_captions/bird.txt"
  run MK sample "${TINY[@]}" IMGS_PER_SENT=1 RUN="$R"
  assert_ok
  if [ -f "$ex" ]; then
    n=$(awk 'NF' "$ex" | wc -l)
    [[ "$output" == *"samples of epoch 2: $n captions of $(cd "$(dirname "$ex")" && pwd)/bird.txt x 1 images"* ]]
    [ -f "$R/samples/bird_002/sent_$(printf %03d "$n").png" ]
  else
    [[ "$output" == *"samples of epoch 2: 2 captions of $R/samples/captions.txt"* ]]
  fi
}

@test "a job killed with kill -9 mid-epoch resumes from the last complete epoch, byte for byte" {
  cp -a "$BASE" "$T/run"
  R="$T/run"
  rm "$R"/ckpt/G_002.npz "$R"/ckpt/D_002.npz
  # a disc-step whose --real stream stalls after the first batch, so the job is surely mid-epoch
  mkfifo "$T/stalled.fifo"
  printf '#!/bin/bash\nargs=()\nwhile [ $# -gt 0 ]; do\n  if [ "$1" = --real ]; then { head -c $(( $(stat -c %%s "$2") / 2 )) "$2"; sleep 60; } > "%s" & args+=(--real "%s"); shift 2\n  else args+=("$1"); shift; fi\ndone\nexec "%s" "${args[@]}"\n' \
    "$T/stalled.fifo" "$T/stalled.fifo" "$ROOT/bin/disc-step" > "$T/slow-disc"
  chmod +x "$T/slow-disc"
  setsid make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R" DISC_STEP="$T/slow-disc" \
    > "$T/killed.out" 2>&1 3>&- &
  local pid=$! stat
  for _ in $(seq 1500); do [ -s "$R/tmp/epoch_002/losses.jsonl" ] && break; sleep 0.02; done
  [ "$(wc -l < "$R/tmp/epoch_002/losses.jsonl")" -eq 1 ]
  read -r -a stat < "/proc/$pid/stat"     # field 5: the process group (setsid made make its leader)
  kill -KILL -- "-${stat[4]}"
  wait "$pid" || true
  # the whole job died in batch 2 of epoch 2: epoch 1 intact, nothing of epoch 2 in place
  [ -f "$R/ckpt/G_001.npz" ] && [ -f "$R/ckpt/D_001.npz" ]
  [ ! -e "$R/ckpt/G_002.npz" ] && [ ! -e "$R/ckpt/D_002.npz" ]
  assert_no_temp "$R/ckpt"
  [ -z "$(procs_with "$R/tmp/")" ]
  run MK train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R"
  assert_ok
  [[ "$output" == *"epoch 2/2"* && "$output" != *"epoch 1/2"* ]]
  [ ! -e "$R/tmp" ]
  assert_no_temp "$R/ckpt"
  # the same as the run that was never interrupted, and no loss line twice
  for f in ckpt/G_002.npz ckpt/D_002.npz losses.jsonl; do cmp "$R/$f" "$BASE/$f"; done
}

@test "a tool failing at the start of an epoch fails the job instead of hanging, and the run resumes" {
  R="$T/run"
  fail_wrapper disc-step bad-disc
  fail_wrapper gen-step bad-gen
  fail_wrapper clip-embed bad-clip loss
  # disc-step dies before opening its FIFOs (gen-step would wait for ever to open --fake-out), then
  # gen-step does (disc-step would wait for ever to open --fake), then clip-embed (the copy of the
  # fakes would wait for ever to open its second output)
  for w in DISC_STEP="$T/bad-disc" GEN_STEP="$T/bad-gen" CLIP_EMBED="$T/bad-clip"; do
    run --separate-stderr timeout 60 make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R" "$w"
    [ "$status" -eq 2 ]
    [[ "$stderr" == *"bad-"*": expected a test, found a planted failure"* ]]
    [[ "$stderr" == *"run-epoch: expected every command to succeed, found command "[0-9]" (bad-"*") exiting with status 3"* ]]
    [[ "$stderr" == *"demo.mk: expected epoch 001 to train, found a tool failing (exit 3)"* ]]
    [ -f "$R/ckpt/G_000.npz" ] && [ ! -e "$R/ckpt/G_001.npz" ] && [ ! -e "$R/ckpt/D_001.npz" ]
    assert_no_temp "$R/ckpt"
    [ -z "$(procs_with "$R/tmp/")" ]
  done
  run MK train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R"
  assert_ok
  cmp "$R/ckpt/G_002.npz" "$BASE/ckpt/G_002.npz"
}

@test "a tool failing mid-epoch fails the job" {
  R="$T/run"
  # disc-step given a one-batch --real: it fails at batch 2, while gen-step waits on the FIFOs
  "$ROOT/bin/synth-shapes" --imsize 32 --batch 4 --batches 1 --cond-dim 8 --images "$T/one.npy" --cond "$T/onec.npy"
  printf '#!/bin/bash\nargs=(); for a in "$@"; do [[ "$a" == */epoch_001/real.npy ]] && a="%s"; args+=("$a"); done\nexec "%s" "${args[@]}"\n' \
    "$T/one.npy" "$ROOT/bin/disc-step" > "$T/short-disc"
  chmod +x "$T/short-disc"
  run --separate-stderr timeout 60 make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R" DISC_STEP="$T/short-disc"
  [ "$status" -eq 2 ]
  local cause="disc-step: expected --real, --cond and --fake to hold the same number of batches, found --real ending at batch 2"
  [[ "$stderr" == *"$cause"* ]]
  # gen-step ends too (exit 2, its --grad ends early): run-epoch, waking to both ended, may name either;
  # the pipeline's last line names the first error written (DFGAN_ERROR_LOG keeps the order)
  [[ "$stderr" == *"run-epoch: expected every command to succeed, found command "[0-9]" ("@(short-disc|gen-step)") exiting with status 2"* ]]
  [[ "$(pipeline_last_line)" == "demo.mk: expected epoch 001 to train, found a tool failing (exit 2); $R/ckpt/*_000.npz kept; the first error: $cause" ]]
  [ ! -e "$R/ckpt/G_001.npz" ] && [ ! -e "$R/log/losses_001.jsonl" ]
  assert_no_temp "$R/ckpt"
  [ -z "$(procs_with "$R/tmp/")" ]
  # clip-embed given one batch of text features: it fails at batch 2 (the copy of the fakes and
  # gen-step wait on it)
  printf '#!/bin/bash\nargs=(); for a in "$@"; do [[ "$a" == */epoch_001/text.npy ]] && { head -c $(( $(stat -c %%s "$a") / 2 )) "$a" > "%s"; a="%s"; }; args+=("$a"); done\nexec "%s" "${args[@]}"\n' \
    "$T/onetext.npy" "$T/onetext.npy" "$ROOT/bin/clip-embed" > "$T/short-clip"
  chmod +x "$T/short-clip"
  run --separate-stderr timeout 60 make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R" CLIP_EMBED="$T/short-clip"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"clip-embed: "*"--text"* ]]
  # gen-step then ends too, exit 2 (its --grad stream ends early); when run-epoch wakes to find both
  # ended it cannot tell which exited first, so either may be named
  [[ "$stderr" == *"run-epoch: expected every command to succeed, found command "[0-9]" ("@(short-clip|gen-step)") exiting with status 2"* ]]
  [[ "$stderr" == *"demo.mk: expected epoch 001 to train, found a tool failing (exit 2)"* ]]
  [ ! -e "$R/ckpt/G_001.npz" ] && [ ! -e "$R/log/clip_001.jsonl" ]
  [ -z "$(procs_with "$R/tmp/")" ]
}

# all_ckpts_finite DIR: every array of every .npz in DIR is finite (and there is at least one)
all_ckpts_finite() {
  py "
import glob
files = glob.glob(sys.argv[1] + '/*.npz')
assert files, 'no checkpoint in ' + sys.argv[1]
for p in files:
    z = np.load(p)
    for k in z.files:
        assert z[k].dtype.kind != 'f' or np.isfinite(z[k]).all(), (p, k)
" "$1"
}

@test "a diverged run stops at the epoch and step that diverged, naming the value, keeps only finite checkpoints, and goes on with the rates it suggests" {
  R="$T/run"
  run --separate-stderr timeout 120 make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R" \
    LR_G=10 LR_D=10
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"disc-step: step 2: expected a finite loss, found +Inf in magp"* ]]     # the tool's own line
  last=$(pipeline_last_line)
  [[ "$last" == "demo.mk: epoch 1 diverged at step 2: +Inf in magp ("*") (disc-step); kept $R/ckpt/G_000.npz, D_000.npz; continue with lower learning rates, e.g. make -f pipelines/demo.mk train "*" LR_G=1 LR_D=1" ]]
  [[ "$last" == *" RUN=$R "* && "$last" == *" CLIP_INIT='--embed-dim 32 --width 64 "* && "$last" == *" MAX_EPOCH=2 "* ]]
  [ "$(ls "$R/ckpt")" = "$(printf 'D_000.npz\nG_000.npz')" ]
  all_ckpts_finite "$R/ckpt"
  [ ! -e "$R/metrics.csv" ] || ! grep -qi 'nan\|inf' "$R/metrics.csv"
  # the suggested command, as the line gives it (run in the checkout): lr 1 diverges too, in Adam's
  # state, and says so; lr 0.1 trains on from the kept epoch to the end
  lr=10
  for try in 1 2 3; do
    run --separate-stderr timeout 120 bash -c 'cd "$1" && eval "$2"' _ "$ROOT" "${last#*e.g. }"
    lr=$(awk -v l="$lr" 'BEGIN { print l / 10 }')
    [ "$status" -ne 0 ] || break
    all_ckpts_finite "$R/ckpt"
    last=$(pipeline_last_line)
    [[ "$last" == "demo.mk: epoch "[0-9]" diverged at step "[0-9]*": "*" ("@(disc|gen)"-step); kept "*"LR_G=$(awk -v l="$lr" 'BEGIN { print l / 10 }') LR_D="* ]]
  done
  assert_ok
  [ "$lr" = 0.1 ]
  all_ckpts_finite "$R/ckpt"
  [ -f "$R/ckpt/G_002.npz" ] && [ -f "$R/ckpt/D_002.npz" ]
  [ "$(wc -l < "$R/metrics.csv")" -eq 3 ] && ! grep -qi 'nan\|inf' "$R/metrics.csv"
}

@test "a NaN in an epoch's loss logs stops the epoch loudly instead of reaching metrics.csv" {
  R="$T/run"
  # clip-embed as it is, but its last clip_loss logged as nan
  printf '#!/bin/bash\n"%s" "$@" || exit\nfor ((i = 1; i <= $#; i++)); do [ "${!i}" = --log ] && { j=$((i + 1)); sed -i '"'"'$ s/"clip_loss": [^,}]*/"clip_loss": nan/'"'"' "${!j}"; }; done\nexit 0\n' \
    "$ROOT/bin/clip-embed" > "$T/nan-clip"
  chmod +x "$T/nan-clip"
  run --separate-stderr timeout 120 make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R" \
    CLIP_EMBED="$T/nan-clip"
  [ "$status" -ne 0 ]
  assert_equal "$(pipeline_last_line)" "demo.mk: expected finite losses in epoch 1, found clip_loss nan in $R/tmp/epoch_001/clip.jsonl; $R/ckpt/*_000.npz kept"
  [ ! -e "$R/ckpt/G_001.npz" ] && [ ! -e "$R/log/metrics_001.csv" ] && [ ! -e "$R/metrics.csv" ]
}

@test "a NaN a tool refuses as input mid-epoch reads as the divergence it is: the epoch, the step (its batch + 1), the value and the stream" {
  R="$T/run"
  # gen-step as it would fail on a poisoned gradient stream: its one line (copied to DFGAN_ERROR_LOG), exit 3
  printf '#!/bin/bash\nif [ "$1" = train ]; then m="gen-step: --grad /x/grad.fifo: expected finite values, found NaN at (0,1,2,3) in batch 4"\n echo "$m" >&2; echo "3 $m" >> "$DFGAN_ERROR_LOG"; exit 3; fi\nexec "%s" "$@"\n' \
    "$ROOT/bin/gen-step" > "$T/nan-gen"
  chmod +x "$T/nan-gen"
  run --separate-stderr timeout 120 make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R" \
    GEN_STEP="$T/nan-gen"
  [ "$status" -ne 0 ]     # make's own status (2) for a failed recipe
  last=$(pipeline_last_line)
  [[ "$last" == "demo.mk: epoch 1 diverged at step 5: NaN at (0,1,2,3) in its input --grad (gen-step); kept $R/ckpt/G_000.npz, D_000.npz; continue with lower learning rates, e.g. make -f pipelines/demo.mk train "*" LR_G=1e-05 LR_D=4e-05" ]]
  [ "$(ls "$R/ckpt")" = "$(printf 'D_000.npz\nG_000.npz')" ]
}

@test "the learning rates are no part of a run's identity: a run made when they were goes on" {
  R="$T/run"
  cp -a "$BASE" "$R"
  # config.txt as runs made before wrote it (lr_g and lr_d after lambda_clip)
  sed -i 's/ text_encoder=/ lr_g=0.0001 lr_d=0.0004 text_encoder=/' "$R/config.txt"
  grep -q ' lr_g=0.0001 lr_d=0.0004 ' "$R/config.txt"
  run MK train "${TINY[@]}" RUN="$R"
  assert_ok
  [[ "$output" == *"Nothing to be done for 'train'"* ]]
  # other settings still refused
  run --separate-stderr MK train "${TINY[@]}" RUN="$R" NF=4
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"was made with \"imsize=32 nf=2 "* ]]
}

@test "settings that are no more (STEPS, TRUNC) are refused with one line naming them" {
  run --separate-stderr MK train RUN="$T/run" STEPS=3
  assert_fails 2 "*STEPS is no longer a setting*found STEPS=3*"
  run --separate-stderr MK train RUN="$T/run" TRUNC=2
  assert_fails 2 "*TRUNC is no longer a setting*TRUNCATION=1*found TRUNC=2*"
  [ ! -e "$T/run" ]
}

@test "RUN and the paths with blanks, ; \$ backticks, quotes or newlines are refused in one line naming the variable; nothing is run" {
  local rule="a path without blanks or any of ;|:=%*?[]()#\$\\\`\"' (Make or the shell would read them)" c v shown
  cd "$T"
  for c in ' ' ';' '$$' '`' "'" '"' '\' '#' ':' '|' $'\n'; do
    for v in RUN CLIP_WEIGHTS INCEPTION_WEIGHTS CAPTIONS CLIP_BPE; do
      run --separate-stderr MK train RUN="$T/run" "$v=$T/a${c}touch PWNED${c}b"
      [ "$status" -eq 2 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [ -z "$output" ] || { echo "$v with $c: status $status: $stderr" >&2; return 1; }
      shown=${c/\$\$/\$}; shown=${shown/$'\n'/\\n}
      [[ "$stderr" == *"demo.mk: $v: expected $rule, found '$T/a${shown}touch PWNED${shown}b'.  Stop." ]] || { echo "found: $stderr" >&2; return 1; }
    done
  done
  # clean too: it removes RUN
  run --separate-stderr MK clean RUN="$T/x' '/"
  [ "$status" -eq 2 ] && [[ "$stderr" == *"demo.mk: RUN: expected $rule, found '$T/x' '/'.  Stop." ]]
  # the settings that recipes hold as words
  run --separate-stderr MK train RUN="$T/run" 'NF=2;touch PWNED'
  assert_fails 2 "*demo.mk: NF: expected a number, found '2;touch PWNED'.  Stop."
  run --separate-stderr MK train RUN="$T/run" 'CLIP_INIT=--width 64 `touch PWNED`'
  assert_fails 2 "*demo.mk: CLIP_INIT: expected --options and numbers, found '\`touch' in '--width 64 \`touch PWNED\`'.  Stop."
  # a newline between the words would end the recipe's line: the next one would run as a command
  run --separate-stderr MK train RUN="$T/run" $'CLIP_INIT=--width 64\ntouch pwned'
  assert_fails 2 "*demo.mk: CLIP_INIT: expected --options and numbers on one line, found '--width 64?ntouch pwned'.  Stop."
  run --separate-stderr MK train RUN="$T/run" DEVICE=gpu
  assert_fails 2 "*demo.mk: DEVICE: expected one of cpu|cuda, found 'gpu'.  Stop."
  [ ! -e "$T/run" ] && [ -z "$(find "$T" -name 'PWNED*' -o -name pwned)" ]
}

@test "an interrupted run's stale temp files (kill -9 leaves them) are removed when it goes on, unless a live process holds one" {
  cp -a "$BASE" "$T/run"
  R="$T/run"
  head -c 4096 /dev/zero > "$R/weights/.inception_random.npz.tmp.k9Xa1Q"
  head -c 4096 /dev/zero > "$R/ckpt/.G_002.npz.tmp.Zz0011"
  : > "$R/data/.test_stats.npz.tmp.held01"
  sleep 60 3>> "$R/data/.test_stats.npz.tmp.held01" &
  local holder=$!
  run --separate-stderr MK train "${TINY[@]}" RUN="$R"
  kill "$holder"
  assert_ok
  assert_equal "$stderr" "demo.mk: removed 2 stale temp file(s) of an interrupted run under $R"
  [ ! -e "$R/weights/.inception_random.npz.tmp.k9Xa1Q" ] && [ ! -e "$R/ckpt/.G_002.npz.tmp.Zz0011" ]
  [ -e "$R/data/.test_stats.npz.tmp.held01" ]
  # nothing else touched: the run was up to date
  cmp "$R/ckpt/G_002.npz" "$BASE/ckpt/G_002.npz"
  # once nothing holds it, the last one goes too
  wait "$holder" || true
  run --separate-stderr MK train "${TINY[@]}" RUN="$R"
  assert_ok
  assert_equal "$stderr" "demo.mk: removed 1 stale temp file(s) of an interrupted run under $R"
  [ -z "$(find "$R" -name '.*.tmp.*')" ]
}

@test "clean removes the run" {
  cp -a "$BASE" "$T/run"
  run MK clean RUN="$T/run" NF=5
  assert_ok
  [ ! -e "$T/run" ]
}

@test "LAMBDA_CLIP=0 drops the CLIP branch: other G than with it, the same G as gen-step and disc-step alone" {
  R="$T/run"
  run MK train "${TINY[@]}" "${NOEVAL[@]}" MAX_EPOCH=1 LAMBDA_CLIP=0 RUN="$R"
  assert_ok
  [[ "$output" == *"epoch 1/1: errD "* && "$output" != *clip_loss* && "$output" != *"clip text features"* ]]
  [ ! -s "$R/log/clip_001.jsonl" ]
  [ "$(sed -n 2p "$R/metrics.csv" | cut -d, -f4)" = "" ]
  # the same starting point as the run with the branch, another end
  cmp "$R/ckpt/G_000.npz" "$BASE/ckpt/G_000.npz"
  ! cmp -s "$R/ckpt/G_001.npz" "$BASE/ckpt/G_001.npz"
  # epoch 1 by hand, with no CLIP anywhere: batches' streams for epoch 1, byte for byte the same checkpoints
  epoch1_by_hand "$R" "$R/data/train_cond.npy"
  # the run remembers its lambda
  run --separate-stderr MK train "${TINY[@]}" MAX_EPOCH=1 RUN="$R"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"lambda_clip=0 "*"found \""*"lambda_clip=0.3 "* ]]
}

@test "TEXT_ENCODER=clip: G and D conditioned on the cached CLIP text features, COND following CLIP's embed dim, no DAMSM" {
  local tiny=() a
  for a in "${TINY[@]}"; do [[ "$a" == COND=* ]] || tiny+=("$a"); done
  # a COND other than CLIP's embed dim (the random CLIP's 32) is refused, naming it
  run --separate-stderr MK train "${TINY[@]}" "${NOEVAL[@]}" MAX_EPOCH=1 TEXT_ENCODER=clip RUN="$T/bad"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"demo.mk: expected cond_dim (COND) to be CLIP's embed dim 32 with text_encoder clip, found 8"* ]]
  [ ! -e "$T/bad/ckpt/G_000.npz" ]
  run --separate-stderr MK train "${tiny[@]}" "${NOEVAL[@]}" MAX_EPOCH=1 TEXT_ENCODER=BERT RUN="$T/bad"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"demo.mk: TEXT_ENCODER (text_encoder) expects damsm or clip, found 'BERT'"* ]]
  # without the CLIP loss: epoch 1 is gen-step and disc-step alone on batches' rows of the CLIP cache
  R="$T/run"
  run MK train "${tiny[@]}" "${NOEVAL[@]}" MAX_EPOCH=1 LAMBDA_CLIP=0 TEXT_ENCODER=clip RUN="$R"
  assert_ok
  [[ "$output" == *"init: NetG and NetD/NetC (imsize 32, nf 2, z 8, cond 32)"* && "$output" != *damsm* ]]
  grep -q ' cond=32 .*text_encoder=clip ' "$R/config.txt"
  [ ! -e "$R/weights/damsm_random.npz" ] && [ ! -e "$R/data/train_cond.npy" ]
  cmp "$R/data/train_text_features.npy" "$BASE/data/train_text_features.npy"
  epoch1_by_hand "$R" "$R/data/train_text_features.npy"
  py "
g = np.load(sys.argv[1])
assert g['fc.weight'].shape[1] == 8 and g['GBlocks.0.fuse1.affine0.fc_gamma.linear1.weight'].shape[1] == 8 + 32
" "$R/ckpt/G_001.npz"
  # with the CLIP loss and a test: FID and CLIP score labelled without DAMSM; sample's captions
  # through CLIP's tokenizer and text tower
  R="$T/run2"
  run MK train "${tiny[@]}" MAX_EPOCH=1 TEST_INTERVAL=1 TEXT_ENCODER=clip RUN="$R"
  assert_ok
  [[ "$output" == *"epoch 1/1: errD "*" clip_loss "* ]]
  tail -n 1 "$R/metrics.csv" | awk -F, '$1 == 1 && $5 > 0 && $6 != "" && $7 != "" && $9 > 0 && $12 == "random-inception+demo-clip" { ok = 1 } END { exit !ok }'
  printf '%s\n' 'a zebra on a unicycle' 'a small green ring' > "$T/caps.txt"
  run MK sample "${tiny[@]}" MAX_EPOCH=1 TEST_INTERVAL=1 TEXT_ENCODER=clip CAPTIONS="$T/caps.txt" IMGS_PER_SENT=2 RUN="$R"
  assert_ok
  printf 'a zebra on a unicycle\n%.0s' 1 2 > "$T/one.txt"
  tokenize --clip -o "$T/ids.npy" "$T/one.txt"
  clip-embed text --weights "$R/weights/clip_demo.npz" --head-width 32 --in "$T/ids.npy" -o "$T/c.npy"
  noise --batch 2 --dim 8 --batches 1 --seed 2000 --truncate 2 --trunc-rate 0.88 -o "$T/z2.npy"
  gen-step forward --ckpt "$R/ckpt/G_001.npz" --noise "$T/z2.npy" --cond "$T/c.npy" -o "$T/one.npy"
  py "
f = open(sys.argv[1], 'rb'); x = [np.load(f) for _ in range(2)]
one = np.load(sys.argv[2])
assert x[0].shape == (2, 3, 32, 32) and np.abs(x[0] - one).max() < 1e-5, np.abs(x[0] - one).max()
assert np.abs(x[1] - one).max() > 10 * np.abs(x[0] - one).max()
" "$R/samples/caps_001/fakes.npy" "$T/one.npy"
}

@test "SAVE_INTERVAL: checkpoints every so many epochs and at the last, resuming from the last one kept" {
  R="$T/run"
  run MK train "${TINY[@]}" "${NOEVAL[@]}" MAX_EPOCH=3 SAVE_INTERVAL=2 GEN_INTERVAL=1 RUN="$R"
  assert_ok
  [ -f "$R/ckpt/G_000.npz" ] && [ ! -e "$R/ckpt/G_001.npz" ] && [ ! -e "$R/ckpt/D_001.npz" ]
  [ -f "$R/ckpt/G_002.npz" ] && [ -f "$R/ckpt/D_002.npz" ] && [ -f "$R/ckpt/G_003.npz" ] && [ -f "$R/ckpt/D_003.npz" ]
  # epoch 1's grid was made from G_001 before it went
  [ -f "$R/samples/epoch_001.png" ] && [ -f "$R/samples/epoch_003.png" ]
  [ "$(wc -l < "$R/metrics.csv")" -eq 4 ]
  cmp "$R/ckpt/G_002.npz" "$BASE/ckpt/G_002.npz"
  run MK -q train "${TINY[@]}" "${NOEVAL[@]}" MAX_EPOCH=3 SAVE_INTERVAL=2 GEN_INTERVAL=1 RUN="$R"
  assert_ok
  cp "$R/ckpt/G_003.npz" "$T/G_003.npz"
  rm "$R/ckpt/G_003.npz" "$R/ckpt/D_003.npz"
  run MK train "${TINY[@]}" "${NOEVAL[@]}" MAX_EPOCH=3 SAVE_INTERVAL=2 GEN_INTERVAL=1 RUN="$R"
  assert_ok
  [[ "$output" == *"epoch 3/3"* && "$output" != *"epoch 1/3"* && "$output" != *"epoch 2/3"* ]]
  cmp "$R/ckpt/G_003.npz" "$T/G_003.npz"
  run --separate-stderr MK train "${TINY[@]}" SAVE_INTERVAL=0 RUN="$R"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"demo.mk: SAVE_INTERVAL expects a whole number >= 1, found '0'"* ]]
}

@test "no CLIP BPE file: the demo trains with lambda_clip 0 and no CLIP score, and says so in one line" {
  R="$T/run"
  NOBPE=(CLIP_BPE="$T/nothere.txt.gz")
  run --separate-stderr MK train "${TINY[@]}" MAX_EPOCH=1 TEST_INTERVAL=1 "${NOBPE[@]}" RUN="$R"
  assert_ok
  [ "$(grep -c 'BPE' <<<"$stderr")" -eq 1 ]
  [[ "$stderr" == *"demo.mk: no CLIP BPE file (CLIP_BPE=$T/nothere.txt.gz): training with lambda_clip 0 and no CLIP score; get bpe_simple_vocab_16e6.txt.gz from openai/CLIP and set CLIP_BPE=PATH for them"* ]]
  [[ "$output" == *"epoch 1/1: errD "* && "$output" != *clip_loss* && "$output" == *"no clip_score (no CLIP BPE file)"* ]]
  [ ! -e "$R/weights/clip_random.npz" ] && [ ! -e "$R/weights/clip_demo.npz" ] && [ ! -e "$R/data/train_text_features.npy" ]
  [ ! -s "$R/log/clip_001.jsonl" ]
  grep -q ' lambda_clip=0:no-bpe ' "$R/config.txt"
  # FID still; no CLIP loss, no CLIP score, no CLIP among the weights
  tail -n 1 "$R/metrics.csv" | awk -F, '$1 == 1 && $4 == "" && $5 > 0 && $6 $7 $8 $9 == "" && $12 == "random-inception+random-damsm" { ok = 1 } END { exit !ok }'
  # the epoch is LAMBDA_CLIP=0's
  run MK train "${TINY[@]}" "${NOEVAL[@]}" MAX_EPOCH=1 LAMBDA_CLIP=0 RUN="$T/zero"
  assert_ok
  cmp "$R/ckpt/G_001.npz" "$T/zero/ckpt/G_001.npz"
  run MK -q train "${TINY[@]}" MAX_EPOCH=1 TEST_INTERVAL=1 "${NOBPE[@]}" RUN="$R"
  assert_ok
  run MK eval "${TINY[@]}" MAX_EPOCH=1 TEST_INTERVAL=1 "${NOBPE[@]}" RUN="$R"
  assert_ok
  grep -qx 'clip_score none (no CLIP BPE file)' "$R/eval/epoch_001.txt"
  grep -qx 'r_precision none (no CLIP BPE file)' "$R/eval/epoch_001.txt"
  grep -qx 'clip_fid none (no CLIP BPE file)' "$R/eval/epoch_001.txt"
  # the run goes on without CLIP: with the file found again it is another run
  run --separate-stderr MK train "${TINY[@]}" MAX_EPOCH=1 TEST_INTERVAL=1 RUN="$R"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"lambda_clip=0:no-bpe "*"found \""*"lambda_clip=0.3 "* ]]
  # the demo's default condition is then the DAMSM's
  local tiny=() a
  for a in "${TINY[@]}"; do [[ "$a" == COND=* || "$a" == TEXT_ENCODER=* ]] || tiny+=("$a"); done
  run --separate-stderr MK train "${tiny[@]}" "${NOEVAL[@]}" MAX_EPOCH=1 "${NOBPE[@]}" RUN="$T/nb"
  assert_ok
  grep -q ' cond=256 .*text_encoder=damsm ' "$T/nb/config.txt"
  # CLIP cond cannot do without it
  run --separate-stderr MK train "${TINY[@]}" TEXT_ENCODER=clip "${NOBPE[@]}" RUN="$T/clip"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"demo.mk: text_encoder clip: expected CLIP's BPE merges bpe_simple_vocab_16e6.txt.gz (CLIP_BPE=$T/nothere.txt.gz), found none"* ]]
}

@test "data: make-dataset through import-cub; an epoch's cond rows and CLIP features are those of the captions batches chose" {
  # the same dataset and caches made by hand
  make-dataset --out "$T/ds" --images 48 --seed 0 2>/dev/null
  import-cub --root "$T/ds" --split train --imsize 32 --images "$T/tr.npy" --shapes "$T/trs.npy" --captions "$T/tr.txt" 2>/dev/null
  import-cub --root "$T/ds" --split test --imsize 32 --images "$T/te.npy" --captions "$T/te.txt" 2>/dev/null
  cmp "$T/tr.npy" "$BASE/data/train_images.npy"
  cmp "$T/trs.npy" "$BASE/data/train_shapes.npy"
  # the FID test set: the centre IMSIZE crops (no flips) of TEST_N test images spread over the split
  import-cub --root "$T/ds" --split test --imsize 32 --limit 8 --spread --images "$T/tc.npy" --shapes "$T/tcs.npy" --captions "$T/tc.txt" 2>/dev/null
  py "
p, s, x = np.load(sys.argv[1]), np.load(sys.argv[2]), np.load(sys.argv[3])
assert x.shape == (8, 3, 32, 32) and x.dtype == np.float32, x.shape
want = []
for o, h, w in s:
    img = p[o:o + 3 * h * w].reshape(3, h, w)
    t, l = int(round((h - 32) / 2.0)), int(round((w - 32) / 2.0))
    want.append((img[:, t:t + 32, l:l + 32].astype(np.float32) / 255 - 0.5) / 0.5)
# the same 8 crops, in batches' shuffled order: each one matches exactly one
hits = [[j for j in range(8) if np.allclose(x[i], want[j], atol=1e-6)] for i in range(8)]
assert sorted(sum(hits, [])) == list(range(8)), hits
" "$T/tc.npy" "$T/tcs.npy" "$BASE/data/test_images.npy"
  cmp "$T/tc.txt" "$BASE/data/test_all_captions.txt"
  cmp "$T/tr.txt" "$BASE/data/train_all_captions.txt"
  tokenize --build-vocab -o "$T/vocab.txt" "$T/tr.txt" "$T/te.txt"
  cmp "$T/vocab.txt" "$BASE/data/vocab.txt"
  # every caption has words (encode-text refuses an empty one)
  ! grep -qv '[a-z]' "$T/tr.txt" "$T/te.txt"
  # epoch 2 again: the same draws as the run's (its --index is kept in log/), once on the DAMSM
  # embeddings and once on the CLIP features
  B=(--cache "$BASE/data/train_images.npy" --shapes "$BASE/data/train_shapes.npy" --imsize 32 --batch 4 --epoch 2 --seed 0 --max-batches 2)
  batches "${B[@]}" --emb "$BASE/data/train_cond.npy" --images /dev/null --cond "$T/cond.npy" --index "$T/idx.npy"
  batches "${B[@]}" --emb "$BASE/data/train_text_features.npy" --images /dev/null --cond "$T/text.npy" --index "$T/idx2.npy"
  cmp "$T/idx.npy" "$BASE/log/index_002.npy"
  cmp "$T/idx.npy" "$T/idx2.npy"
  # the chosen captions, encoded on their own: DAMSM and CLIP
  py "
f = open(sys.argv[1], 'rb'); idx = np.concatenate([np.load(f), np.load(f)])
lines = open(sys.argv[2]).read().splitlines()
assert idx.shape == (8, 5) and len(set(idx[:, 0])) == 8 and all(idx[:, 1] // 10 == idx[:, 0]), idx
open(sys.argv[3], 'w').write(''.join(lines[r] + '\n' for r in idx[:, 1]))
" "$T/idx.npy" "$BASE/data/train_all_captions.txt" "$T/chosen.txt"
  tokenize --vocab "$BASE/data/vocab.txt" --batch 4 -o "$T/ids.npy" "$T/chosen.txt"
  encode-text --weights "$BASE/weights/damsm_random.npz" --ids "$T/ids.npy" -o "$T/damsm.npy"
  tokenize --clip --batch 4 -o "$T/cids.npy" "$T/chosen.txt"
  clip-embed text --weights "$BASE/weights/clip_demo.npz" --head-width 32 --in "$T/cids.npy" -o "$T/clip.npy"
  py "
import re
def arrays(p, n=2):
    f = open(p, 'rb'); return np.concatenate([np.load(f) for _ in range(n)])
idx = arrays(sys.argv[1])[:, 1]
cond, text, damsm, clip = (arrays(sys.argv[i]) for i in (2, 3, 4, 5))
emb, feats = np.load(sys.argv[6]), np.load(sys.argv[7])
assert emb.shape == (360, 8) and feats.shape == (360, 32), (emb.shape, feats.shape)
# the streams are the cache rows of the chosen captions
assert cond.shape == (8, 8) and np.array_equal(cond, emb[idx])
assert text.shape == (8, 32) and np.array_equal(text, feats[idx])
# and those rows are the captions' DAMSM embeddings and CLIP features (a caption of more than 18
# words keeps a random subset of them, drawn in file order: those are compared only when short)
short = [len(re.findall(r'\w+', l)) <= 18 for l in open(sys.argv[8]).read().splitlines()]
assert sum(short) >= 4, short
assert np.allclose(cond[short], damsm[short], atol=1e-5), np.abs(cond - damsm).max()
assert np.allclose(text, clip, atol=1e-5), np.abs(text - clip).max()
assert np.allclose(np.linalg.norm(text, axis=1), 1, atol=1e-5)
" "$T/idx.npy" "$T/cond.npy" "$T/text.npy" "$T/damsm.npy" "$T/clip.npy" "$BASE/data/train_cond.npy" "$BASE/data/train_text_features.npy" "$T/chosen.txt"
}

@test "sample grids and the metrics plot are PNGs of the expected size" {
  py "
import struct, zlib
def png(p):
    b = open(p, 'rb').read()
    assert b[:8] == b'\x89PNG\r\n\x1a\n', p
    n, kind = struct.unpack('>I4s', b[8:16])
    assert kind == b'IHDR' and n == 13, (p, kind)
    w, h, depth, colour = struct.unpack('>IIBB', b[16:26])
    assert zlib.crc32(b[12:29]) == struct.unpack('>I', b[29:33])[0], p
    assert depth == 8 and colour == 2, (p, depth, colour)
    assert b[-12:] == b'\0\0\0\0IEND\xaeB\`\x82', p
    return w, h
run = sys.argv[1]
# 2 rows of 2 fakes of 32 px, 2 px apart, each row's caption under it: 16 characters of 4 px a line
caps = open(run + '/samples/captions.txt').read().splitlines()
lines = []
for c in caps:
    w, n = c.split(), 0
    while w:
        k, s = 1, w[0]
        while k < len(w) and len(s) + 1 + len(w[k]) <= 16: s += ' ' + w[k]; k += 1
        w, n = w[k:], n + 1
    lines.append(n)
for e in (1, 2):
    assert png('%s/samples/epoch_%03d.png' % (run, e)) == (2 * 34 + 2, 2 * 34 + 2 + sum(6 * n + 2 for n in lines)), lines
w, h = png(run + '/metrics.png')
assert w >= 200 and h >= 100, (w, h)
# the grid's rows: 2 test captions spread over the 8 (lines 1 and 5), each once per column in the cond
test = open(run + '/data/test_captions.txt').read().splitlines()
assert caps == [test[0], test[4]], (caps, test)
assert open(run + '/data/sample_captions.txt').read().splitlines() == [caps[0]] * 2 + [caps[1]] * 2
" "$BASE"
}

@test "eval: FID and CLIP score of a chosen checkpoint, written to a file and printed" {
  cp -a "$BASE" "$T/run"
  R="$T/run"
  run MK eval "${TINY[@]}" EVAL_EPOCH=1 SAMPLE_TIMES=2 RUN="$R"
  assert_ok
  [[ "$output" != *"epoch 1/2"* ]]
  [ -f "$R/eval/epoch_001.txt" ]
  [[ "$output" == *"$(cat "$R/eval/epoch_001.txt")"* ]]
  py "
lines = dict(l.split(' ', 1) for l in open(sys.argv[1]).read().splitlines())
assert lines['checkpoint'].endswith('/ckpt/G_001.npz'), lines
assert float(lines['fid']) > 0 and -100 <= float(lines['clip_score']) <= 100, lines
assert lines['images'].startswith('16 '), lines
assert lines['weights'] == 'random-inception+demo-clip+random-damsm (random, and the demo\'s own CLIP: not comparable with published numbers)', lines
assert 0 <= float(lines['r_precision']) <= 1 and float(lines['clip_fid'].split()[0]) > 0, lines
assert lines['r_precision_std'].startswith(('0.', '1.')) and lines['r_precision_std'].endswith('(over 2 sample_times)'), lines
assert lines['r_precision_chance'].startswith('0.125000 (') and 'among 8 captions' in lines['r_precision_chance'], lines
assert 'fewer than 100' in lines['r_precision_chance'], lines
assert lines['demo_clip_top1'].split()[0] == open(sys.argv[2]).read().split()[1], lines
" "$R/eval/epoch_001.txt" "$R/weights/clip_demo_eval.txt"
  assert_no_temp "$R/eval"
  # the numbers are the tools': G_001's fakes for the test noise (repetition 1) and noise seed
  # SEED+1001 (repetition 2), one CLIP pass over them, r-precision with seed SEED, the Frechet
  # distance of their CLIP features against the test images'
  D="$R/data"
  noise --batch 8 --dim 8 --batches 1 --seed 1001 --truncate 2 --trunc-rate 0.88 -o "$T/z2.npy"
  { gen-step forward --ckpt "$R/ckpt/G_001.npz" --noise "$D/test_noise.npy" --cond "$D/test_cond.npy" -o -
    gen-step forward --ckpt "$R/ckpt/G_001.npz" --noise "$T/z2.npy" --cond "$D/test_cond.npy" -o -; } > "$T/fakes.npy"
  cat "$D/test_text_features.npy" "$D/test_text_features.npy" > "$T/text.npy"
  clip-embed score --weights "$R/weights/clip_demo.npz" --head-width 32 --text "$T/text.npy" --in "$T/fakes.npy" \
    --features-out "$T/f.npy" > "$T/score.txt"
  r-precision --images "$T/f.npy" --text "$D/test_text_features.npy" --seed 0 > "$T/rp.txt"
  feature-stats -o "$T/cs.npz" "$T/f.npy"
  clip-embed image --raw --weights "$R/weights/clip_demo.npz" --head-width 32 --in "$D/test_images.npy" | feature-stats -o "$T/ts.npz"
  cmp "$T/ts.npz" "$D/test_clip_stats.npz"
  [ "$(fid "$D/test_clip_stats.npz" "$T/cs.npz")" = "$(awk '$1 == "clip_fid" { print $2 }' "$R/eval/epoch_001.txt")" ]
  [ "$(awk '$1 == "r_precision" { print $2 }' "$T/rp.txt")" = "$(awk '$1 == "r_precision" { print $2 }' "$R/eval/epoch_001.txt")" ]
  [ "$(awk '$1 == "r_precision_std" { print $2 }' "$T/rp.txt")" = "$(awk '$1 == "r_precision_std" { print $2 }' "$R/eval/epoch_001.txt")" ]
  [ "$(awk '$1 == "clip_score" { print $2 }' "$T/score.txt")" = "$(awk '$1 == "clip_score" { print $2 }' "$R/eval/epoch_001.txt")" ]
}

@test "the demo CLIP: clip-train from the random CLIP on batches' streams, epochs back to back; its test top-1; CLIP_EPOCHS=0 keeps it random" {
  D="$BASE/data" W="$BASE/weights"
  [[ "$(cat "$BATS_FILE_TMPDIR/base.out")" == *"clip: the demo CLIP, 9 steps in "*" s, loss "*"; test image->text top-1 "*" over 8 test images (chance 0.1250) -> $W/clip_demo.npz"* ]]
  [ ! -e "$W/clip_demo/state.npz" ] && [ "$(wc -l < "$W/clip_demo/log.jsonl")" -eq 9 ]
  assert_no_temp "$W"
  # by hand: the tokenizer's ids of every train caption, epoch 0 of batches (seed 0, 4 a batch)
  # as images and as ids, clip-train with the recipe's schedule (9 steps: warm-up 8, cosine to 9)
  tokenize --clip -o "$T/ids.npy" "$D/train_all_captions.txt"
  cmp "$T/ids.npy" "$W/clip_demo/train_ids.npy"
  A=(--cache "$D/train_images.npy" --shapes "$D/train_shapes.npy" --emb "$T/ids.npy" --imsize 32 --batch 4 --seed 0 --epoch 0)
  batches "${A[@]}" --images "$T/img.npy" --cond /dev/null
  batches "${A[@]}" --images /dev/null --cond "$T/cid.npy"
  clip-train train --weights "$W/clip_random.npz" --head-width 32 --images "$T/img.npy" --ids "$T/cid.npy" --lr 1e-3 \
    --warmup 8 --cosine 9 --log "$T/log.jsonl" -o "$T/clip.npz"
  cmp "$T/clip.npz" "$W/clip_demo.npz"
  cmp "$T/log.jsonl" "$W/clip_demo/log.jsonl"
  # its test: the test set's centre crops and one caption each, as batches --no-augment draws them
  tokenize --clip -o "$T/tids.npy" "$D/test_all_captions.txt"
  batches --cache "$D/test_cache.npy" --shapes "$D/test_shapes.npy" --emb "$T/tids.npy" --imsize 32 --batch 8 --epoch 0 \
    --seed 0 --no-augment --images "$T/ti.npy" --cond "$T/tc.npy"
  top1=$(clip-train eval --weights "$W/clip_demo.npz" --head-width 32 --images "$T/ti.npy" --ids "$T/tc.npy" | awk '$1 == "image_to_text_top1" { print $2 }')
  [[ "$(cat "$W/clip_demo_eval.txt")" == "demo_clip_top1 $top1 (the demo CLIP's image->text top-1 on the 8 test images"* ]]
  # the run's CLIP features are the demo CLIP's
  clip-embed text --weights "$W/clip_demo.npz" --head-width 32 --in "$T/ids.npy" -o "$T/feats.npy"
  cmp "$T/feats.npy" "$D/train_text_features.npy"
  # CLIP_EPOCHS=0: the random CLIP itself, labelled random; another run than the trained one's
  R="$T/run"
  run MK train "${TINY[@]}" "${NOEVAL[@]}" MAX_EPOCH=1 TEST_INTERVAL=1 CLIP_EPOCHS=0 RUN="$R"
  assert_ok
  [[ "$output" != *"demo CLIP"* ]]
  [ ! -e "$R/weights/clip_demo.npz" ] && cmp "$R/weights/clip_random.npz" "$W/clip_random.npz"
  tail -n 1 "$R/metrics.csv" | grep -q ',random-inception+random-clip+random-damsm$'
  run --separate-stderr MK train "${TINY[@]}" MAX_EPOCH=1 RUN="$R"
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"clip=random:0:"*"found \""*"clip=demo:1:4:1e-3:30:random:0:"* ]]
}

@test "the demo CLIP killed with kill -9 mid-training resumes from its state, to the same weights; never a half-written clip_demo.npz" {
  R="$T/run"
  # a clip-train whose image stream stalls after 5 batches of 4 (the stream stays open), so the job
  # is surely mid-training, its state saved at step 4
  mkfifo "$T/stalled.fifo"
  printf '#!/bin/bash
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = --images ]; then { head -c %d; sleep 60; } < "$2" > "%s" & args+=(--images "%s"); shift 2
  else args+=("$1"); shift; fi
done
exec "%s" "${args[@]}"
' \
    $((5 * (128 + 4 * 3 * 32 * 32 * 4))) "$T/stalled.fifo" "$T/stalled.fifo" "$ROOT/bin/clip-train" > "$T/slow-clip"
  chmod +x "$T/slow-clip"
  setsid make --no-print-directory -f "$ROOT/pipelines/demo.mk" train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R" CLIP_TRAIN="$T/slow-clip" \
    CLIP_SAVE_EVERY=2 > "$T/killed.out" 2>&1 3>&- &
  local pid=$! stat
  for _ in $(seq 1500); do [ "$(cat "$R/weights/clip_demo/log.jsonl" 2>/dev/null | wc -l)" -ge 5 ] && break; sleep 0.02; done
  [ "$(wc -l < "$R/weights/clip_demo/log.jsonl")" -eq 5 ]
  read -r -a stat < "/proc/$pid/stat"
  kill -KILL -- "-${stat[4]}"
  wait "$pid" || true
  [ -f "$R/weights/clip_demo/state.npz" ] && [ ! -e "$R/weights/clip_demo.npz" ] && [ ! -e "$R/weights/clip_demo_eval.txt" ]
  [ ! -e "$R/weights/clip_demo/clip.npz" ]
  assert_no_temp "$R/weights" && assert_no_temp "$R/weights/clip_demo"
  [ -z "$(procs_with "$R/weights/")" ]
  [ "$(npy-info "$R/weights/clip_demo/state.npz" | awk '$1 == "adam.step" { print $4 }')" = min=4 ]
  run MK train "${TINY[@]}" "${NOEVAL[@]}" RUN="$R"
  assert_ok
  [[ "$output" == *"clip: resuming the demo CLIP's training at step 4/9"* && "$output" == *"epoch 2/2"* ]]
  cmp "$R/weights/clip_demo.npz" "$BASE/weights/clip_demo.npz"
  cmp "$R/weights/clip_demo/log.jsonl" "$BASE/weights/clip_demo/log.jsonl"
  [ ! -e "$R/weights/clip_demo/state.npz" ]
  cmp "$R/ckpt/G_002.npz" "$BASE/ckpt/G_002.npz"
}

@test "FID_INTERVAL: Inception's FID at every so many test epochs, the CLIP metrics at every one" {
  cp -a "$BASE" "$T/run"
  R="$T/run"
  run MK train "${TINY[@]}" TEST_INTERVAL=1 FID_INTERVAL=2 RUN="$R"
  assert_ok
  [[ "$output" == *"test of epoch 1: fid (not this epoch: FID_INTERVAL=2) clip_score "*" r_precision "*" clip_fid "* ]]
  [[ "$output" != *"epoch 1/2"* ]]
  sed -n 2p "$R/metrics.csv" | awk -F, '$5 == "" && $6 != "" && $7 != "" && $9 > 0 { ok = 1 } END { exit !ok }'
  cmp <(sed -n 3p "$R/metrics.csv" | cut -d, -f1-9) <(sed -n 3p "$BASE/metrics.csv" | cut -d, -f1-9)
}

@test "compare: LAMBDA_CLIP=0 against COMPARE_LAMBDA from the same data and CLIP, a table and a plot per epoch" {
  # the demo's default condition: the demo CLIP's text features (COND its embed dim)
  local tiny=() a
  for a in "${TINY[@]}"; do [[ "$a" == COND=* || "$a" == TEXT_ENCODER=* ]] || tiny+=("$a"); done
  C="$T/cmp"
  run MK compare "${tiny[@]}" TEST_INTERVAL=1 COMPARE_DIR="$C" COMPARE_LAMBDA=0.5
  assert_ok
  # one dataset, one demo CLIP, trained once; two runs
  [ "$(grep -c '^make-dataset: ' <<<"$output")" -eq 1 ] && [ "$(grep -c '^clip: the demo CLIP, ' <<<"$output")" -eq 1 ]
  [ -d "$C/data" ] && [ -f "$C/weights/clip_demo.npz" ] && [ ! -e "$C/lambda_0/data" ] && [ ! -e "$C/lambda_0.5/weights" ]
  cmp "$C/weights/clip_demo.npz" "$BASE/weights/clip_demo.npz"
  grep -q ' lambda_clip=0 .* text_encoder=clip ' "$C/lambda_0/config.txt" && grep -q ' lambda_clip=0.5 ' "$C/lambda_0.5/config.txt"
  [ -f "$C/compare.png" ] && [ -f "$C/lambda_0/samples/epoch_002.png" ] && [ -f "$C/lambda_0.5/samples/epoch_002.png" ]
  [[ "$output" == *"compare: the table $C/compare.csv, the plot $C/compare.png"* ]]
  py "
def table(p):
    rows = [l.split(',') for l in open(p).read().splitlines()]
    return [dict(zip(rows[0], r)) for r in rows[1:]]
a, b, c = table(sys.argv[1] + '/lambda_0/metrics.csv'), table(sys.argv[1] + '/lambda_0.5/metrics.csv'), table(sys.argv[1] + '/compare.csv')
assert list(c[0]) == ['epoch'] + [m + s for m in ('clip_score', 'r_precision', 'fid', 'clip_fid') for s in ('_lambda_0', '_lambda_0.5')], list(c[0])
assert [r['epoch'] for r in c] == ['1', '2']
for i in range(2):
    # the CLIP loss only in the second run; FID at every epoch (FID_INTERVAL=1), and every metric
    assert a[i]['clip_loss'] == '' and float(b[i]['clip_loss']) > 0, (a[i], b[i])
    for m in ('clip_score', 'r_precision', 'fid', 'clip_fid'):
        assert c[i][m + '_lambda_0'] == a[i][m] != '' and c[i][m + '_lambda_0.5'] == b[i][m] != '', (m, c[i])
" "$C"
  # done: nothing is redone
  run MK compare "${tiny[@]}" TEST_INTERVAL=1 COMPARE_DIR="$C" COMPARE_LAMBDA=0.5
  assert_ok
  [[ "$output" != *"epoch 1/2"* ]]
  run --separate-stderr MK compare "${tiny[@]}" COMPARE_DIR="$C" COMPARE_LAMBDA=0
  [ "$status" -eq 2 ]
  [[ "$stderr" == *"demo.mk: COMPARE_LAMBDA expects a number > 0, found '0'"* ]]
}

@test "npy-png and plot-metrics: --help, and errors as one line with exit 2 and nothing written" {
  run --separate-stderr npy-png --help
  assert_ok
  [[ "$output" == usage:\ npy-png* ]]
  run --separate-stderr plot-metrics --help
  assert_ok
  [[ "$output" == usage:\ plot-metrics* ]]
  py "np.save(sys.argv[1], np.zeros((2, 1, 8, 8), np.float32))" "$T/gray.npy"
  run --separate-stderr npy-png --in "$T/gray.npy" -o "$T/x.png"
  assert_fails 2 "npy-png: --in: expected float32 (B,3,H,W), found float32 (2,1,8,8) in array 0"
  run --separate-stderr npy-png --in "$T/gray.npy"
  assert_fails 2 "npy-png: expected -o OUT.png, found none"
  printf 'epoch,errD\n1,2,3\n' > "$T/m.csv"
  run --separate-stderr plot-metrics --in "$T/m.csv" -o "$T/x.png"
  assert_fails 2 "plot-metrics: --in: expected 2 fields in line 2, found 3"
  [ ! -e "$T/x.png" ]
  assert_no_temp "$T"
}

@test "plot-metrics: a long table is read with a few reallocs (the table grows geometrically), drawn the same as its rows say" {
  # an LD_PRELOAD shim counting realloc calls into REALLOC_COUNT
  cat > "$T/count.c" <<'CEOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
static long calls;
void *realloc(void *p, size_t n) {
    static void *(*real)(void *, size_t);
    if (!real) real = (void *(*)(void *, size_t))dlsym(RTLD_NEXT, "realloc");
    calls++;
    return real(p, n);
}
__attribute__((destructor)) static void report(void) {
    const char *path = getenv("REALLOC_COUNT");
    FILE *f = path ? fopen(path, "w") : NULL;
    if (f) { fprintf(f, "%ld\n", calls); fclose(f); }
}
CEOF
  cc -shared -fPIC -O1 -o "$T/count.so" "$T/count.c" -ldl
  awk 'BEGIN { print "epoch,errD,errG"; for (i = 1; i <= 20000; i++) printf "%d,%.3f,%.3f\n", i, 1 + sin(i / 500), 2 + cos(i / 700) }' > "$T/long.csv"
  LD_PRELOAD="$T/count.so" REALLOC_COUNT="$T/n" plot-metrics --in "$T/long.csv" -o "$T/long.png"
  [ "$(cat "$T/n")" -lt 100 ] || { echo "expected fewer than 100 reallocs for 20000 rows, found $(cat "$T/n")" >&2; return 1; }
  # the same picture as the table given whole in one read: the rows are all there
  head -n 10001 "$T/long.csv" > "$T/half.csv"
  plot-metrics --in "$T/long.csv" -o "$T/long2.png"
  plot-metrics --in "$T/half.csv" -o "$T/half.png"
  cmp "$T/long.png" "$T/long2.png"
  ! cmp -s "$T/long.png" "$T/half.png"
}

# ---- noise ----

@test "noise: standard normal (B,Z) arrays, the same for a seed whatever the batch size" {
  noise --batch 100 --dim 50 --batches 20 --seed 7 -o "$T/z.npy"
  noise --batch 100 --dim 50 --batches 20 --seed 7 > "$T/z2.npy"
  cmp "$T/z.npy" "$T/z2.npy"
  noise --batch 200 --dim 50 --batches 10 --seed 7 -o "$T/z3.npy"
  noise --batch 100 --dim 50 --batches 20 --seed 8 -o "$T/z4.npy"
  noise --batch 100 --dim 50 --batches 20 --seed 7 --truncate 1.5 --trunc-rate 0.5 -o "$T/t.npy"
  py "
def read_all(p):
    f, out = open(p, 'rb'), []
    size = os.path.getsize(p)
    while f.tell() < size: out.append(np.load(f))
    return out
a, b, c, t = (read_all(sys.argv[i]) for i in (1, 2, 3, 4))
assert len(a) == 20 and all(x.shape == (100, 50) and x.dtype == np.float32 for x in a)
assert len(b) == 10 and b[0].shape == (200, 50)
x = np.concatenate(a).ravel()
assert np.array_equal(x, np.concatenate(b).ravel())
assert abs(x.mean()) < 0.01 and abs(x.std() - 1) < 0.01, (x.mean(), x.std())
assert np.abs(x).max() > 3.5
assert abs(np.corrcoef(x, np.concatenate(c).ravel())[0, 1]) < 0.02
y = np.concatenate(t).ravel()
assert np.abs(y).max() <= 0.75 and np.abs(y).max() > 0.74
assert abs(y.std() - 0.5 * 0.74265) < 0.005, y.std()
# truncation resamples the values outside only: those inside are the untruncated draws, scaled
inside = np.abs(x) <= 1.5
assert np.allclose(y[inside], 0.5 * x[inside])
" "$T/z.npy" "$T/z3.npy" "$T/z4.npy" "$T/t.npy"
}

@test "noise: --help, and errors as one line with exit 2 and nothing written" {
  run --separate-stderr noise --help
  assert_ok
  [[ "$output" == usage:\ noise\ --batch* ]]
  run --separate-stderr noise --batch 4 --batches 2 -o "$T/z.npy"
  assert_fails 2 "noise: expected --batch, --dim and --batches, found --dim missing"
  run --separate-stderr noise --batch 4 --dim 3 --batches 2 --truncate 0 -o "$T/z.npy"
  assert_fails 2 "noise: --truncate expects a finite bound > 0, found '0'"
  run --separate-stderr noise --batch 4 --dim 3 --batches 2 --trunc-rate -1 -o "$T/z.npy"
  assert_fails 2 "noise: --trunc-rate expects a finite number > 0, found '-1'"
  run --separate-stderr noise --batch x --dim 3 --batches 2
  assert_fails 2 "noise: --batch expects an integer in *, found 'x'"
  run --separate-stderr noise --batch 4 --dim 3 --batches 2 --sed 1
  assert_fails 2 "noise: expected a known option, found '--sed' (see --help)"
  run --separate-stderr noise --batch 4 --dim 3 --batches 2 -o "$T/no/z.npy"
  assert_fails 2 "noise: -o: expected a writable folder for '$T/no/z.npy', found '$T/no': No such file or directory"
  [ ! -e "$T/z.npy" ]
  assert_no_temp "$T"
}

# ---- synth-shapes ----

@test "synth-shapes: (B,3,S,S) images in [-1,1] and (B,C) embeddings that carry the attributes" {
  synth-shapes --imsize 24 --batch 50 --batches 4 --cond-dim 32 --seed 3 --images "$T/i.npy" --cond "$T/c.npy"
  synth-shapes --imsize 24 --batch 50 --batches 4 --cond-dim 32 --seed 3 --images "$T/i2.npy" --cond "$T/c2.npy"
  cmp "$T/i.npy" "$T/i2.npy"
  cmp "$T/c.npy" "$T/c2.npy"
  synth-shapes --imsize 24 --batch 50 --batches 1 --cond-dim 32 --seed 3 --images "$T/i1.npy" --cond - > "$T/c1.npy"
  synth-shapes --imsize 24 --batch 50 --batches 1 --cond-dim 32 --seed 4 --images "$T/j.npy" --cond "$T/d.npy"
  py "
def read_all(p):
    f, out, size = open(p, 'rb'), [], os.path.getsize(p)
    while f.tell() < size: out.append(np.load(f))
    return out
I, C = read_all(sys.argv[1]), read_all(sys.argv[2])
assert len(I) == 4 and len(C) == 4
assert all(x.shape == (50, 3, 24, 24) and x.dtype == np.float32 for x in I)
assert all(c.shape == (50, 32) and c.dtype == np.float32 for c in C)
x, c = np.concatenate(I), np.concatenate(C)
assert x.min() >= -1 and x.max() <= 1
for img in x:
    v = np.unique(img.reshape(3, -1).T, axis=0)
    assert len(v) > 2, len(v)                            # background, shape, and anti-aliased edges
    corner, centre_ish = img[:, 0, 0], img.reshape(3, -1).T
    assert (np.abs(centre_ish - corner).max(axis=1) > 0.3).sum() >= 9   # a shape of at least ~9 px
# the first batch does not depend on --batches; another seed gives other samples
assert np.array_equal(np.load(sys.argv[3]), I[0]) and np.array_equal(np.load(sys.argv[4]), C[0])
assert not np.array_equal(np.load(sys.argv[5]), I[0]) and not np.array_equal(np.load(sys.argv[6]), C[0])
# an embedding is a sum of 5 of 23 fixed columns, one per attribute: rank <= 23 - 4
r = np.linalg.matrix_rank(c.astype(np.float64), tol=1e-4)
assert 12 <= r <= 19, r
# the same attributes give the same embedding, and embeddings differ with them
u, inv = np.unique(c, axis=0, return_inverse=True)
assert 30 < len(u) < len(c)
" "$T/i.npy" "$T/c.npy" "$T/i1.npy" "$T/c1.npy" "$T/j.npy" "$T/d.npy"
}

@test "synth-shapes: --help, and errors as one line with exit 2 and nothing written" {
  run --separate-stderr synth-shapes -h
  assert_ok
  [[ "$output" == usage:\ synth-shapes* ]]
  run --separate-stderr synth-shapes --imsize 16 --batch 2 --batches 1 --cond-dim 4 --images "$T/i.npy"
  assert_fails 2 "synth-shapes: expected --imsize, --batch, --batches, --cond-dim, --images and --cond, found --cond missing"
  run --separate-stderr synth-shapes --imsize 16 --batch 2 --batches 1 --cond-dim 4 --images "$T/i.npy" --cond "$T/i.npy"
  assert_fails 2 "synth-shapes: expected different paths for --images and --cond, found '$T/i.npy' twice"
  run --separate-stderr synth-shapes --imsize 4 --batch 2 --batches 1 --cond-dim 4 --images "$T/i.npy" --cond "$T/c.npy"
  assert_fails 2 "synth-shapes: --imsize expects an integer in [8, 4096], found '4'"
  run --separate-stderr synth-shapes --imsize 16 --batch 2 --batches 1 --cond-dim 4 --images "$T/i.npy" --cond "$T/no/c.npy"
  assert_fails 2 "synth-shapes: --cond: expected a writable folder for '$T/no/c.npy', found '$T/no': No such file or directory"
  [ ! -e "$T/i.npy" ]
  assert_no_temp "$T"
}
