#!/usr/bin/env bats
# tensorboard.bats: TensorBoard event files written from C (lib/io/tfevents.c, bin/tb-log), read
# back with the `tensorboard` Python package's own reader (EventAccumulator, which checks every
# record's CRC-32C): scalars from the command line, the step tools' JSON lines and a metrics CSV,
# the sample grid as a PNG image (its bytes and size), the calls a pipeline makes after each epoch
# on a run's files; a call repeated, or killed with -9 and repeated, leaves one complete file per
# key; usage and input errors. The read-back tests skip when tensorboard is not importable
# (pip install tensorboard); the C-level check (CRC-32C vectors, the protobuf bytes) always runs.

load helpers

setup_file() {
  unset MAKEFLAGS MFLAGS MAKELEVEL
  make --no-print-directory -s -C "$ROOT" bin/tb-log bin/npy-png build/test/tfevents_check >&2
}

setup() {
  common_setup
  TBPY=
  for p in "$PYTHON" /usr/bin/python3 python3; do
    if "$p" -c 'import tensorboard.backend.event_processing.event_accumulator' 2>/dev/null; then TBPY=$p; break; fi
  done
}

need_tb() { [ -n "$TBPY" ] || skip "tensorboard is not importable (pip install tensorboard)"; }

# tb_dump DIR: what TensorBoard reads in DIR, one line per event value, tags sorted, steps in order:
#   scalar TAG STEP VALUE(%.7g) WALL(%.3f)
#   image TAG STEP WIDTHxHEIGHT SHA256
tb_dump() {
  "$TBPY" - "$1" <<'EOF'
import hashlib, sys
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
ea = EventAccumulator(sys.argv[1], size_guidance={"scalars": 0, "images": 0})
ea.Reload()
tags = ea.Tags()
for t in sorted(tags["scalars"]):
    for e in ea.Scalars(t):
        print("scalar %s %d %.7g %.3f" % (t, e.step, e.value, e.wall_time))
for t in sorted(tags["images"]):
    for e in ea.Images(t):
        print("image %s %d %dx%d %s" % (t, e.step, e.width, e.height, hashlib.sha256(e.encoded_image_string).hexdigest()))
EOF
}

# a 2x3 grid of 6 images 4x4 (npy-png, as the pipelines make the sample grid) in $T/grid.png
grid_png() {
  py "np.lib.format.write_array(open(sys.argv[1], 'wb'), (np.arange(6*3*4*4) % 7 / 3.5 - 1).astype('<f4').reshape(6, 3, 4, 4))" "$T/fakes.npy"
  npy-png --cols 3 --in "$T/fakes.npy" -o "$T/grid.png"
}

tfevents_files() { find "$1" -maxdepth 1 -name '*tfevents*' -printf '%f\n' | sort; }

@test "tfevents: CRC-32C known vectors, the records' and events' bytes as TensorBoard's protobuf classes give them (test/c/tfevents_check.c)" {
  run "$ROOT/build/test/tfevents_check"
  echo "$output"
  [ "$status" -eq 0 ]
  [[ "$output" == *"tfevents_check: 23 checks, 0 failed"* ]]
}

@test "tb-log: scalars from the command line, JSON lines and a CSV, read back by TensorBoard (tags, steps, values, times)" {
  need_tb
  printf '%s\n' '{"batch": 1, "errD": 1.5, "errG": 0.25, "note": "a string", "ok": true}' \
    '{"batch": 2, "errD": 1.25, "errG": -0.5}' '' '{"batch":3,"errD":1e-3,"errG":nan, "x": null}' > "$T/losses.jsonl"
  printf '%s\n' 'epoch,errD,errG,clip_loss,fid,clip_score,seconds,eval_seconds,eval_weights' \
    '1,1.2,0.3,,,,2.5,,' '2,1.1,0.4,,95.5,0.25,2.4,3.1,random' > "$T/metrics.csv"
  mkdir "$T/run"
  run --separate-stderr tb-log --dir "$T/run/tb" --key e001-losses --jsonl "$T/losses.jsonl" --step-base 30 \
    --prefix batch/ --wall-time 1700000000.5
  assert_ok
  [ -z "$output$stderr" ]
  run --separate-stderr tb-log --dir "$T/run/tb" --key metrics --csv "$T/metrics.csv" --rename fid=FID \
    --rename seconds=- --rename eval_seconds=- --wall-time 1700000100
  assert_ok
  run --separate-stderr tb-log --dir "$T/run/tb" --key lr --scalar lr_g=0.0001 --scalar 'a=b=-2' --step 7 --wall-time 1700000200
  assert_ok
  run tb_dump "$T/run/tb"
  assert_ok
  assert_equal "$output" "scalar FID 2 95.5 1700000100.000
scalar a=b 7 -2 1700000200.000
scalar batch/errD 31 1.5 1700000000.500
scalar batch/errD 32 1.25 1700000000.500
scalar batch/errD 33 0.001 1700000000.500
scalar batch/errG 31 0.25 1700000000.500
scalar batch/errG 32 -0.5 1700000000.500
scalar batch/errG 33 nan 1700000000.500
scalar clip_score 2 0.25 1700000100.000
scalar errD 1 1.2 1700000100.000
scalar errD 2 1.1 1700000100.000
scalar errG 1 0.3 1700000100.000
scalar errG 2 0.4 1700000100.000
scalar lr_g 7 0.0001 1700000200.000"
  # one file per key, named as SummaryWriter names them, each starting with file_version brain.Event:2
  host=$(hostname)
  run tfevents_files "$T/run/tb"
  assert_equal "$output" "events.out.tfevents.1700000000.${host//[^A-Za-z0-9._-]/_}.e001-losses
events.out.tfevents.1700000100.${host//[^A-Za-z0-9._-]/_}.metrics
events.out.tfevents.1700000200.${host//[^A-Za-z0-9._-]/_}.lr"
  run "$TBPY" -c '
import glob, sys
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
for f in sorted(glob.glob(sys.argv[1] + "/events.*")):
    ev = list(EventFileLoader(f).Load())
    print(ev[0].file_version, ev[0].wall_time, len(ev))' "$T/run/tb"
  assert_equal "$output" "brain.Event:2 1700000000.5 4
brain.Event:2 1700000100.0 3
brain.Event:2 1700000200.0 2"
  assert_no_temp "$T/run/tb"
}

@test "tb-log: the sample grid as a PNG image: TensorBoard gets its bytes as they are, its size and step" {
  need_tb
  grid_png
  run --separate-stderr tb-log --dir "$T/tb" --key e003-grid --image "fixed results=$T/grid.png" --step 3 --wall-time 5
  assert_ok
  sha=$(sha256sum < "$T/grid.png"); sha=${sha%% *}
  run tb_dump "$T/tb"
  assert_ok
  # 3 columns of 4 pixels and 4 gaps of 2 across, 2 rows down
  assert_equal "$output" "image fixed results 3 20x14 $sha"
  # an RGBA PNG is kept as it is (colorspace 4), beside a scalar of the same event
  py "
import zlib, struct
def chunk(t, d): return struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d))
raw = b''.join(b'\0' + bytes(range(8)) for _ in range(3))
open(sys.argv[1], 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', 2, 3, 8, 6, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))" "$T/rgba.png"
  run --separate-stderr tb-log --dir "$T/tb2" --key x --image "rgba=$T/rgba.png" --scalar s=1 --step 9 --wall-time 5
  assert_ok
  run "$TBPY" -c '
import glob, sys
from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto.event_pb2 import Event
ev = Event.FromString(list(RawEventFileLoader(glob.glob(sys.argv[1] + "/events.*")[0]).Load())[1])
for v in ev.summary.value:
    print(ev.step, v.tag, v.WhichOneof("value"), v.image.height, v.image.width, v.image.colorspace, len(v.image.encoded_image_string))' "$T/tb2"
  assert_equal "$output" "9 s simple_value 0 0 0 0
9 rgba image 3 2 4 $(stat -c %s "$T/rgba.png")"
}

# Calls of the kind a pipeline makes after each epoch E (of STEPS batches) into RUN/tb, on the files
# of a run (pipelines/common.mk's own calls are tested in pipeline_demo.bats): the per-batch losses
# (disc-step's --log, and clip-embed loss's), the epoch's row of metrics.csv, and the sample grid,
# each under its own key, each repeatable.
epoch_calls() {
  local run=$1 E=$2 steps=$3 e
  e=$(printf %03d "$E")
  tb-log --dir "$run/tb" --key "e$e-losses" --jsonl "$run/log/losses_$e.jsonl" --prefix batch/ \
    --step-base $(( (E - 1) * steps ))
  tb-log --dir "$run/tb" --key "e$e-clip" --jsonl "$run/log/clip_$e.jsonl" --prefix batch/ --step-base $(( (E - 1) * steps ))
  tb-log --dir "$run/tb" --key "e$e-metrics" --csv "$run/metrics.csv" --csv-step "$E" --prefix epoch/ \
    --rename fid=FID
  tb-log --dir "$run/tb" --key "e$e-grid" --image "fixed results=$run/samples/epoch_$e.png" --step "$E"
}

@test "tb-log: a run's epochs as the pipeline logs them (losses, CLIP loss, metrics.csv, the grid), repeated on resume without duplicates" {
  need_tb
  grid_png
  R="$T/runs/demo"
  mkdir -p "$R/log" "$R/samples"
  for e in 001 002; do
    for b in 1 2 3; do
      echo "{\"batch\": $b, \"errD\": ${e#00}.$b, \"err_real\": 0.5, \"err_fake\": 0.25, \"err_mis\": 0.125, \"magp\": 0.0625, \"errG\": -$b}"
    done > "$R/log/losses_$e.jsonl"
    : > "$R/log/clip_$e.jsonl"
    cp "$T/grid.png" "$R/samples/epoch_$e.png"
  done
  printf '{"batch": %d, "clip_loss": 0.%d, "mean_cos": 0.2}\n' 1 7 2 6 3 5 > "$R/log/clip_002.jsonl"
  printf '%s\n' 'epoch,errD,errG,clip_loss,fid,clip_score,seconds,eval_seconds,eval_weights' \
    '1,1.2,-2,,,,2.5,,' > "$R/metrics.csv"
  epoch_calls "$R" 1 3
  echo '2,2.2,-2,0.6,95.5,0.25,2.4,3.1,random' >> "$R/metrics.csv"
  epoch_calls "$R" 2 3
  run tb_dump "$R/tb"
  assert_ok
  echo "$output" | sed '/^scalar/s/ [^ ]*$//' > "$T/first.txt"
  # resumed: epoch 2's calls again (the same events), and all of them once more
  epoch_calls "$R" 2 3
  epoch_calls "$R" 1 3
  epoch_calls "$R" 2 3
  run tb_dump "$R/tb"
  echo "$output" | sed '/^scalar/s/ [^ ]*$//' > "$T/again.txt"
  cmp "$T/first.txt" "$T/again.txt"
  [ "$(tfevents_files "$R/tb" | wc -l)" -eq 8 ]
  sha=$(sha256sum < "$T/grid.png")
  assert_equal "$(grep -v '^scalar batch/err_\|^scalar batch/magp' "$T/first.txt")" "scalar FID 2 95.5
scalar batch/clip_loss 4 0.7
scalar batch/clip_loss 5 0.6
scalar batch/clip_loss 6 0.5
scalar batch/errD 1 1.1
scalar batch/errD 2 1.2
scalar batch/errD 3 1.3
scalar batch/errD 4 2.1
scalar batch/errD 5 2.2
scalar batch/errD 6 2.3
scalar batch/errG 1 -1
scalar batch/errG 2 -2
scalar batch/errG 3 -3
scalar batch/errG 4 -1
scalar batch/errG 5 -2
scalar batch/errG 6 -3
scalar batch/mean_cos 4 0.2
scalar batch/mean_cos 5 0.2
scalar batch/mean_cos 6 0.2
scalar epoch/clip_loss 2 0.6
scalar epoch/clip_score 2 0.25
scalar epoch/errD 1 1.2
scalar epoch/errD 2 2.2
scalar epoch/errG 1 -2
scalar epoch/errG 2 -2
scalar epoch/eval_seconds 2 3.1
scalar epoch/seconds 1 2.5
scalar epoch/seconds 2 2.4
image fixed results 1 20x14 ${sha%% *}
image fixed results 2 20x14 ${sha%% *}"
  [ "$(grep -c '^scalar batch/magp' "$T/first.txt")" -eq 6 ]
}

@test "tb-log: killed with -9 at random moments and run again: never a partial or second file of a key, no temp left" {
  awk 'BEGIN { for (b = 1; b <= 150000; b++) printf "{\"batch\": %d, \"errD\": %d.5, \"errG\": 0.25}\n", b, b % 97 }' > "$T/big.jsonl"
  mkdir "$T/ref" "$T/run"
  tb-log --dir "$T/ref" --key e007-losses --jsonl "$T/big.jsonl" --wall-time 99
  ref=$(tfevents_files "$T/ref")
  [ -n "$ref" ]
  for i in 1 2 3 4 5 6 7 8 9 10; do
    tb-log --dir "$T/run" --key e007-losses --jsonl "$T/big.jsonl" --wall-time 99 &
    pid=$!
    sleep "0.$((100 + RANDOM % 250))"
    kill -9 $pid 2>/dev/null || true
    wait $pid || true
    files=$(tfevents_files "$T/run")
    if [ -n "$files" ]; then
      assert_equal "$files" "$ref"
      cmp "$T/run/$files" "$T/ref/$ref"
    fi
  done
  tb-log --dir "$T/run" --key e007-losses --jsonl "$T/big.jsonl" --wall-time 99
  assert_equal "$(tfevents_files "$T/run")" "$ref"
  cmp "$T/run/$ref" "$T/ref/$ref"
  assert_equal "$(find "$T/run" -mindepth 1 ! -name "$ref" | wc -l)" 0
}

@test "tb-log: a stale temp of the key is removed, a second file of the key is folded into the first" {
  mkdir "$T/tb"
  tb-log --dir "$T/tb" --key k --scalar a=1 --wall-time 10
  f=$(tfevents_files "$T/tb")
  cp "$T/tb/$f" "$T/tb/events.out.tfevents.20.otherhost.k"
  echo half > "$T/tb/..tb-log.k.tmp.AbC123"
  echo done-not-renamed > "$T/tb/.tb-log.k"
  echo other > "$T/tb/..tb-log.kk.tmp.XyZ"
  tb-log --dir "$T/tb" --key k --scalar a=2 --wall-time 30
  assert_equal "$(ls -A "$T/tb" | sort)" "..tb-log.kk.tmp.XyZ
$f"
  if [ -n "$TBPY" ]; then
    run tb_dump "$T/tb"
    assert_equal "$output" "scalar a 0 2 30.000"
  fi
}

@test "tb-log: usage and input errors in one line, exit 2, nothing written and no folder made" {
  grid_png
  mkdir "$T/r"
  printf '%s\n' '{"batch": 1, "errD": 1}' '{"batch": 2, "errD": [1]}' > "$T/nested.jsonl"
  printf '%s\n' '{"errD": 1}' > "$T/nobatch.jsonl"
  printf '%s\n' '{"batch": 1.5, "errD": 1}' > "$T/frac.jsonl"
  printf '%s\n' '{"batch": 1, "errD": 1} x' > "$T/trail.jsonl"
  printf '%s\n' 'epoch,a' '1,2' 'x,3' > "$T/badstep.csv"
  printf '%s\n' 'epoch,a' '1,2,3' > "$T/fields.csv"
  head -c 20 "$T/grid.png" > "$T/cut.png"
  d="$T/r/tb"
  run --separate-stderr tb-log --dir "$d" --scalar a=1
  assert_fails 2 "tb-log: expected --key KEY, found none"
  run --separate-stderr tb-log --dir "$d" --key e1
  assert_fails 2 "tb-log: expected a source (--scalar, --image, --jsonl or --csv), found none"
  run --separate-stderr tb-log --dir "$d" --key 'a.b' --scalar a=1
  assert_fails 2 "tb-log: --key expects a letter, then letters, digits, '-' or '_' (64 at most), found 'a.b'"
  run --separate-stderr tb-log --dir "$d" --key 1a --scalar a=1
  assert_fails 2 "tb-log: --key expects a letter, then letters, digits, '-' or '_' (64 at most), found '1a'"
  run --separate-stderr tb-log --dir "$d" --key k --scalar a
  assert_fails 2 "tb-log: --scalar expects TAG=VALUE, found 'a'"
  run --separate-stderr tb-log --dir "$d" --key k --scalar a=x
  assert_fails 2 "tb-log: --scalar expects a number, found 'x'"
  run --separate-stderr tb-log --dir "$d" --key k --scalar $'a\tb=1'
  assert_fails 2 "tb-log: --scalar: expected a tag of 1..256 printable bytes, found 'a\\x09b'"
  run --separate-stderr tb-log --dir "$d" --key k --image "g=$T/cut.png"
  assert_fails 2 "tb-log: --image: '$T/cut.png': expected a PNG's IHDR chunk of 13 bytes first, found the file ending"
  run --separate-stderr tb-log --dir "$d" --key k --image "g=$T/nested.jsonl"
  assert_fails 2 "tb-log: --image: '$T/nested.jsonl': expected a PNG file (its 8-byte signature), found other bytes"
  run --separate-stderr tb-log --dir "$d" --key k --image "g=$T/none.png"
  assert_fails 2 "tb-log: --image: expected a readable PNG file, found '$T/none.png': No such file or directory"
  run --separate-stderr tb-log --dir "$d" --key k --jsonl "$T/nested.jsonl"
  assert_fails 2 "tb-log: --jsonl: expected a number, string, true, false or null for \"errD\" in line 2 of '$T/nested.jsonl', found another value"
  run --separate-stderr tb-log --dir "$d" --key k --jsonl "$T/nobatch.jsonl"
  assert_fails 2 "tb-log: --jsonl: expected \"batch\": a whole number >= 0 in line 1 of '$T/nobatch.jsonl', found none"
  run --separate-stderr tb-log --dir "$d" --key k --jsonl "$T/frac.jsonl"
  assert_fails 2 "tb-log: --jsonl: expected \"batch\": a whole number >= 0 in line 1 of '$T/frac.jsonl', found another number"
  run --separate-stderr tb-log --dir "$d" --key k --jsonl "$T/trail.jsonl"
  assert_fails 2 "tb-log: --jsonl: expected the end of line 1 of '$T/trail.jsonl' after its object, found more"
  run --separate-stderr tb-log --dir "$d" --key k --csv "$T/badstep.csv"
  assert_fails 2 "tb-log: --csv: expected a whole-number step in the first column of line 3 of '$T/badstep.csv', found 'x'"
  run --separate-stderr tb-log --dir "$d" --key k --csv "$T/fields.csv"
  assert_fails 2 "tb-log: --csv: expected 2 fields in line 2 of '$T/fields.csv', found 3"
  run --separate-stderr tb-log --dir "$d" --key k --csv "$T/badstep.csv" --csv-step 5 --columns a,b
  assert_fails 2 "tb-log: --csv: expected a whole-number step in the first column of line 1 of '$T/badstep.csv', found 'epoch'"
  printf '%s\n' '1,2' '2,3' > "$T/nohead.csv"
  run --separate-stderr tb-log --dir "$d" --key k --csv "$T/nohead.csv" --columns epoch,a --csv-step 5
  assert_fails 2 "tb-log: --csv: expected one row of step 5 in '$T/nohead.csv', found 0"
  run --separate-stderr tb-log --dir "$d" --key k --csv-step 5 --scalar a=1
  assert_fails 2 "tb-log: expected --csv with --columns and --csv-step, found no --csv"
  run --separate-stderr tb-log --dir "$T/nowhere/tb" --key k --scalar a=1
  assert_fails 2 "tb-log: --dir: expected '$T/nowhere/tb' or a writable folder to make it in, found '$T/nowhere': No such file or directory"
  run --separate-stderr tb-log --dir "$T/grid.png" --key k --scalar a=1
  assert_fails 2 "tb-log: --dir: expected a folder, found '$T/grid.png' is not one"
  [ -z "$(ls -A "$T/r")" ]
  # the good one: the folder is made
  run --separate-stderr tb-log --dir "$d/" --key k --csv "$T/nohead.csv" --columns epoch,a --csv-step 2
  assert_ok
  [ "$(tfevents_files "$d" | wc -l)" -eq 1 ]
}
