#!/usr/bin/env bats
# nonfinite.bats: a NaN or an Inf in what a user hands a tool is refused (issue 15; core/finite.h).
# Every stream of every tool that reads float tensors, and the checkpoints, weights and stats files
# they load, gets NaN, +Inf and -Inf injected at a known place; the tool must exit 3 with ONE line
# "tool: NAME: expected finite values, found V at (i,j,...) in batch K" (NAME the flag or the file,
# K the array's index in the stream as npy-info numbers them) or "... in 'key'" for an archive's
# member, as the last line on stderr, nothing on stdout and nothing in its output folder. npy-info
# reports them instead, and the flags that take numbers refuse non-finite ones (exit 2).

load helpers

FX="$ROOT/test/fixtures"

setup_file() {
  common_setup
  cd "$BATS_FILE_TMPDIR"
  # clean inputs: small32's streams (2 batches of 3), CLIP's images (3 arrays) and text features for
  # them, features, stats files, images for npy-png and inception-stats, a cache for batches
  py '
d32 = sys.argv[1] + "/dfgan_small32/"
def stream(path, arrays):
    with open(path, "wb") as f:
        for a in arrays: np.save(f, a)
def read_stream(path):
    n, out = os.path.getsize(path), []
    with open(path, "rb") as f:
        while f.tell() < n: out.append(np.load(f))
    return out
for n in ["noise", "cond", "real"]:
    stream(n + ".npy", read_stream(d32 + n + ".npy"))
stream("im.npy", read_stream(sys.argv[1] + "/clip/images.npy"))
rng = np.random.default_rng(0)
stream("tx.npy", [rng.standard_normal((3, 16)).astype(np.float32) for _ in range(3)])
stream("fa.npy", [rng.standard_normal((5, 4)).astype(np.float32) for _ in range(2)])
stream("fb.npy", [rng.standard_normal((5, 4)) for _ in range(2)])
x = rng.standard_normal((10, 4))
np.savez("sa.npz", mu=x.mean(0), sigma=np.cov(x, rowvar=False))
np.savez("pa.npz", mu=x.mean(0), sigma=np.cov(x, rowvar=False), count=np.int64(10),
         scatter=np.cov(x, rowvar=False) * 9)
stream("ri.npy", [rng.standard_normal((2, 3)).astype(np.float32) for _ in range(2)])
stream("rt.npy", [rng.standard_normal((4, 3)).astype(np.float32)])
stream("x.npy", [rng.uniform(-1, 1, (2, 3, 16, 16)).astype(np.float32) for _ in range(2)])
stream("p.npy", [rng.uniform(-1, 1, (2, 3, 4, 4)).astype(np.float32) for _ in range(2)])
np.save("cache.npy", rng.integers(0, 256, (4, 3, 8, 8), dtype=np.uint8))
np.save("emb.npy", rng.standard_normal((8, 5)).astype(np.float32))
' "$FX"
  inception-stats --init --seed 3 -o inc.npz
}

setup() {
  common_setup
  B="$BATS_FILE_TMPDIR"
  cd "$T"
  mkdir o   # every output goes here: it must stay empty when a tool refuses
}

# poison SPEC...: each SPEC "SRC DST WHERE INDEX VALUE" writes DST, a copy of SRC (an .npy stream,
# or an .npz when SRC ends so) with VALUE (nan, inf, -inf) at INDEX ("2,0,5") of array WHERE (its
# index in the stream, or the archive's key). One Python for all of them.
poison() {
  py '
for spec in sys.argv[1:]:
    src, dst, where, idx, v = spec.split()
    idx = tuple(int(i) for i in idx.split(","))
    if src.endswith(".npz"):
        z = dict(np.load(src))
        z[where] = z[where].copy(); z[where][idx] = float(v)
        np.savez(dst, **z)
        continue
    n, arrs = os.path.getsize(src), []
    with open(src, "rb") as f:
        while f.tell() < n: arrs.append(np.load(f))
    arrs[int(where)][idx] = float(v)
    with open(dst, "wb") as f:
        for a in arrs: np.save(f, a)' "$@"
}

# name_of VALUE: the value as the messages name it
name_of() { case $1 in nan) echo NaN ;; inf) echo +Inf ;; -inf) echo -Inf ;; esac; }

# refused MESSAGE: the last `run --separate-stderr` exited 3 with MESSAGE as the last line on stderr
# and its only error line (the lines before it: the step tools' per-batch losses, a warning), wrote
# nothing on stdout and left nothing in o/ (no output, no temp file)
refused() {
  if [ "$status" -ne 3 ]; then echo "expected exit 3, found $status; stderr: $stderr" >&2; return 1; fi
  local last=${stderr_lines[${#stderr_lines[@]}-1]}
  if [ "$last" != "$1" ]; then printf 'expected last line: %s\nfound stderr:       %s\n' "$1" "$stderr" >&2; return 1; fi
  local errors
  errors=$(grep -c ': expected ' <<< "$stderr")
  if [ "$errors" -ne 1 ]; then echo "expected one error line on stderr, found $errors: $stderr" >&2; return 1; fi
  if [ -n "$output" ]; then echo "expected nothing on stdout, found: $output" >&2; return 1; fi
  if [ -n "$(ls -A o)" ]; then echo "expected no output, found: $(ls -A o)" >&2; return 1; fi
}

# table TOOL_FN ROW...: for NaN, +Inf and -Inf and each ROW "VAR SRC WHERE INDEX NAME" (NAME the
# stream's name in the message, @ standing for the poisoned file's path; WHERE a batch or a key), the
# variable VAR is set to a poisoned copy of SRC, the others to their clean files, TOOL_FN runs the
# tool (with `run --separate-stderr`) and it must refuse naming NAME, the value, INDEX and WHERE.
table() {
  local fn=$1; shift
  local specs=() v row
  for v in nan inf -inf; do
    local k=0
    for row in "$@"; do
      read -r var src where idx name <<< "$row"
      local ext=${src##*.}
      specs+=("$src $T/bad_${v}_$k.$ext $where $idx $v")
      k=$((k + 1))
    done
  done
  poison "${specs[@]}"
  for v in nan inf -inf; do
    local k=0
    for row in "$@"; do
      read -r var src where idx name <<< "$row"
      local ext=${src##*.} w
      local bad="$T/bad_${v}_$k.$ext"
      # the clean files, then the poisoned one
      noise=$B/noise.npy cond=$B/cond.npy real=$B/real.npy grad=$B/real.npy fake=$B/real.npy G=$FX/dfgan_small32/G.npz
      D=$FX/dfgan_small32/D.npz im=$B/im.npy tx=$B/tx.npy W=$FX/clip/weights.npz fa=$B/fa.npy fb=$B/fb.npy
      sa=$B/sa.npz pa=$B/pa.npz ri=$B/ri.npy rt=$B/rt.npy x=$B/x.npy p=$B/p.npy inc=$B/inc.npz emb=$B/emb.npy
      damsm=$FX/damsm/weights.npz
      printf -v "$var" %s "$bad"
      if [[ "$where" =~ ^[0-9]+$ ]] && [ "$ext" = npy ]; then w="in batch $where"; else w="in '$where'"; fi
      [ "$var" = emb ] && w="in '$bad'"   # a single array, named by its file
      "$fn"
      refused "${TOOL}: ${name//@/$bad}: expected finite values, found $(name_of $v) at ($idx) $w" ||
        { echo "(row '$row', value $v)" >&2; return 1; }
      k=$((k + 1))
    done
  done
}

@test "finite_check: first_nonfinite (float32, float64) at block edges, names, indices, check_finite's message" {
  run finite_check
  assert_ok
  [[ "$output" == *" checks passed" ]]
}

@test "gen-step forward and train: NaN/Inf in --noise, --cond, --grad and a weight of --ckpt exit 3" {
  TOOL=gen-step
  fwd() { run --separate-stderr gen-step forward --ckpt "$G" --noise "$noise" --cond "$cond" -o o/f.npy; }
  table fwd "noise $B/noise.npy 1 2,5 --noise" "cond $B/cond.npy 0 0,7 --cond" "G $FX/dfgan_small32/G.npz fc.weight 3,1 @"
  train() {
    run --separate-stderr gen-step train --ckpt "$G" --noise "$noise" --cond "$cond" --grad "$grad" --save o/G2.npz \
      --fake-out o/f.npy
  }
  table train "noise $B/noise.npy 1 0,0 --noise" "cond $B/cond.npy 1 2,3 --cond" "grad $B/real.npy 1 2,0,5,7 --grad @" \
    "G $FX/dfgan_small32/G.npz GBlocks.0.c1.weight 7,15,2,2 @"
}

@test "disc-step train: NaN/Inf in --real, --cond, --fake and a weight of --ckpt exit 3" {
  TOOL=disc-step
  train() {
    run --separate-stderr disc-step train --ckpt "$D" --real "$real" --cond "$cond" --fake "$fake" --grad-out o/g.npy \
      --save o/D2.npz
  }
  table train "real $B/real.npy 1 2,0,5,7 --real" "cond $B/cond.npy 0 1,1 --cond" "fake $B/real.npy 1 0,2,31,31 --fake" \
    "D $FX/dfgan_small32/D.npz netD.conv_img.weight 1,2,0,1 @"
}

@test "clip-embed image, loss, score: NaN/Inf in the images, --text and the weights exit 3" {
  TOOL=clip-embed
  image() { run --separate-stderr clip-embed image --head-width 8 --weights "$W" --in "$im" -o o/f.npy; }
  table image "im $B/im.npy 2 1,2,3,4 --in" "W $FX/clip/weights.npz visual.proj 2,5 @"
  loss() { run --separate-stderr clip-embed loss --head-width 8 --weights "$W" --text "$tx" --in "$im" -o o/g.npy; }
  table loss "im $B/im.npy 1 0,0,19,27 --in" "tx $B/tx.npy 2 2,15 --text"
  score() { run --separate-stderr clip-embed score --head-width 8 --weights "$W" --text "$tx" --features-out o/f.npy < "$im"; }
  table score "im $B/im.npy 0 2,1,0,0 stdin" "tx $B/tx.npy 1 0,3 --text"
}

@test "inception-stats: NaN/Inf in an image stream (file or stdin) exit 3; a NaN weight too" {
  TOOL=inception-stats
  file() { run --separate-stderr inception-stats --weights "$inc" -o o/s.npz --features-out o/f.npy "$x"; }
  stdin() { run --separate-stderr inception-stats --weights "$inc" -o o/s.npz < "$x"; }
  table file "x $B/x.npy 1 1,2,15,0 @"
  table stdin "x $B/x.npy 0 0,0,0,0 stdin"
  # the weights: one value (the file is 87 MB)
  poison "$B/inc.npz $T/incbad.npz Mixed_6b.branch7x7_2.bn.running_var 17 nan"
  run --separate-stderr inception-stats --weights incbad.npz -o o/s.npz "$B/x.npy"
  refused "inception-stats: incbad.npz: expected finite values, found NaN at (17) in 'Mixed_6b.branch7x7_2.bn.running_var'"
}

@test "an all-NaN batch into inception-stats is refused, where it used to give finite statistics" {
  py 'np.save("allnan.npy", np.full((4, 3, 16, 16), np.nan, np.float32))'
  run --separate-stderr inception-stats --weights "$B/inc.npz" -o o/s.npz allnan.npy
  refused "inception-stats: allnan.npy: expected finite values, found NaN at (0,0,0,0) in batch 0"
}

@test "clip-embed: image features that overflow from finite images are refused before they are written" {
  # 3e38 in every pixel: finite, but the network overflows (Inception's ReLUs swallow such NaNs, so
  # its features stay finite: the check there has no finite input to fail on)
  py 'np.save("huge.npy", np.full((2, 3, 16, 16), 3e38, np.float32))
np.save("tx.npy", np.ones((2, 16), np.float32))'
  for mode in score image; do
    local args=(--text tx.npy --features-out o/f.npy)
    [ $mode = image ] && args=(-o o/f.npy)
    run --separate-stderr clip-embed $mode --head-width 8 --weights "$FX/clip/weights.npz" "${args[@]}" --in huge.npy
    [ "$status" -eq 3 ] && [ -z "$(ls -A o)" ] && [ -z "$output" ]
    [[ "$stderr" =~ ^"clip-embed: image features: expected finite values, found "(NaN|[+-]Inf)" at (0,"[0-9]+") in batch 0"$ ]]
  done
}

@test "fid, feature-stats (streams, --merge), kid, r-precision: NaN/Inf in features and stats files exit 3" {
  TOOL=fid
  fidrun() { run --separate-stderr fid "$sa" "$B/sa.npz"; }
  table fidrun "sa $B/sa.npz sigma 1,2 @" "sa $B/sa.npz mu 3 @"
  TOOL=feature-stats
  fs() { run --separate-stderr feature-stats -o o/s.npz "$fa" "$fb"; }
  table fs "fa $B/fa.npy 1 4,2 @" "fb $B/fb.npy 0 0,3 @"
  merge() { run --separate-stderr feature-stats --merge -o o/s.npz "$B/pa.npz" "$pa"; }
  table merge "pa $B/pa.npz scatter 2,3 @" "pa $B/pa.npz mu 0 @"
  TOOL=kid
  kidrun() { run --separate-stderr kid --features "$fa" --features "$fb" --subset-size 5 --subsets 2; }
  table kidrun "fa $B/fa.npy 1 4,3 @" "fb $B/fb.npy 1 2,2 @"
  TOOL=r-precision
  rp() { run --separate-stderr r-precision --images "$ri" --text "$rt" --draws-out o/d.npy; }
  table rp "ri $B/ri.npy 1 1,2 @" "rt $B/rt.npy 0 3,0 @"
}

@test "feature-stats: statistics that overflow float64 are refused, not written" {
  py 'np.save("big.npy", np.array([[1e200, 0], [-1e200, 1], [3e200, 2]]))'
  run --separate-stderr feature-stats -o o/s.npz big.npy
  refused "feature-stats: the statistics: expected finite values, found +Inf at (0,0) in 'sigma'"
}

@test "npy-png refuses NaN/Inf unless --allow-nonfinite, which draws them" {
  TOOL=npy-png
  png() { run --separate-stderr npy-png --in "$p" -o o/g.png; }
  table png "p $B/p.npy 1 1,2,3,0 --in"
  # drawn as the clamp draws -1 (NaN: black) and +1 (+Inf: white): the same PNG bytes
  poison "$B/p.npy $T/pn.npy 1 0,0,0,0 nan" "$B/p.npy $T/pi.npy 0 1,1,1,1 inf" \
    "$B/p.npy $T/en.npy 1 0,0,0,0 -1" "$B/p.npy $T/ei.npy 0 1,1,1,1 1"
  for k in n i; do
    run --separate-stderr npy-png --allow-nonfinite --in p$k.npy -o o/$k.png
    assert_ok
    run --separate-stderr npy-png --in e$k.npy -o e$k.png
    assert_ok
    cmp o/$k.png e$k.png
  done
  ! cmp o/n.png o/i.png
}

@test "batches: NaN/Inf in a float32 --emb exit 3 before any batch is written" {
  TOOL=batches
  bt() {
    run --separate-stderr batches --cache "$B/cache.npy" --emb "$emb" --imsize 8 --batch 2 --epoch 0 \
      --images o/i.npy --cond o/c.npy --index o/x.npy
  }
  table bt "emb $B/emb.npy 0 5,3 --emb"
}

@test "encode-text: a NaN/Inf weight exit 3 naming the key and the index" {
  TOOL=encode-text
  et() { run --separate-stderr encode-text --weights "$damsm" --ids "$FX/damsm/ids.npy" -o o/s.npy; }
  table et "damsm $FX/damsm/weights.npz rnn.weight_hh_l0_reverse 511,127 @"
}

@test "ckpt import refuses NaN/Inf (exit 3, the key) unless --allow-nonfinite; npy-info counts them and never refuses" {
  TOOL=ckpt
  imp() { run --separate-stderr ckpt import "$G" -o o/G.npz; }
  table imp "G $FX/dfgan_small32/G.npz fc.bias 200 @"
  poison "$FX/dfgan_small32/G.npz $T/Gn.npz fc.weight 3,1 nan" "$FX/dfgan_small32/G.npz $T/Gi.npz fc.weight 0,0 -inf"
  run --separate-stderr ckpt import --allow-nonfinite Gn.npz -o o/G.npz
  assert_ok
  run --separate-stderr npy-info o/G.npz
  assert_ok
  [[ "${lines[0]}" =~ ^"fc.weight float32 (256,6) min=".*" nan=1"$ ]]
  [ "${#lines[@]}" -ge 10 ]
  # npy-info: a stream and an archive with NaN and Inf are reported, never refused
  poison "$B/real.npy $T/r1.npy 1 0,0,0,0 nan" "$T/r1.npy $T/r2.npy 1 0,0,0,1 inf" "$T/r2.npy $T/r3.npy 1 2,2,2,2 -inf"
  run --separate-stderr npy-info r3.npy Gi.npz
  assert_ok
  [ -z "$stderr" ]
  [[ "${lines[1]}" =~ ^"r3.npy: 1 float32 (3,3,32,32) min=-inf max=inf mean=nan nan=1 inf=2"$ ]]
  [[ "${lines[2]}" =~ ^"Gi.npz: fc.weight float32 (256,6) min=-inf max=".*" mean=-inf inf=1"$ ]]
}

@test "numeric flags refuse non-finite numbers and values outside their range (exit 2)" {
  for e in nan inf -1; do
    run --separate-stderr fid --eps $e "$B/sa.npz" "$B/sa.npz"
    assert_fails 2 "fid: --eps expects a finite number >= 0, found '$e'"
  done
  run --separate-stderr gen-step train --lr inf --ckpt "$FX/dfgan_small32/G.npz" --noise "$B/noise.npy" \
    --cond "$B/cond.npy" --grad "$B/real.npy" --save o/G2.npz
  assert_fails 2 "gen-step: --lr expects a finite number >= 0, found 'inf'"
  run --separate-stderr disc-step train --beta2 nan --ckpt "$FX/dfgan_small32/D.npz" --real "$B/real.npy" \
    --cond "$B/cond.npy" --fake "$B/real.npy" --grad-out o/g.npy --save o/D2.npz
  assert_fails 2 "disc-step: --beta2 expects a finite number in [0, 1), found 'nan'"
  for a in "--lr -1:--lr expects a finite number >= 0, found '-1'" "--beta1 1:--beta1 expects a finite number in [0, 1), found '1'" \
           "--eps 0:--eps expects a finite number > 0, found '0'"; do
    run --separate-stderr disc-step train ${a%%:*} --ckpt "$FX/dfgan_small32/D.npz" --real "$B/real.npy" \
      --cond "$B/cond.npy" --fake "$B/real.npy" --grad-out o/g.npy --save o/D2.npz
    assert_fails 2 "disc-step: ${a#*:}"
  done
  run --separate-stderr clip-embed loss --head-width 8 --lambda -0.5 --weights "$FX/clip/weights.npz" --text "$B/tx.npy" --in "$B/im.npy"
  assert_fails 2 "clip-embed: --lambda expects a finite number >= 0, found '-0.5'"
  run --separate-stderr clip-train train --beta1 1 --weights "$FX/clip/weights.npz" --images x --ids y -o o/w.npz
  assert_fails 2 "clip-train: --beta1 expects a finite number in [0, 1), found '1'"
  run --separate-stderr kid --gamma 1e999 --features "$B/fa.npy" --features "$B/fb.npy"
  assert_fails 2 "kid: --gamma expects a finite number > 0, found '1e999'"
  run --separate-stderr tb-log --dir o/tb --key k --scalar loss=nan
  assert_fails 2 "tb-log: --scalar expects a finite number, found 'nan'"
  run --separate-stderr progress --every -inf
  assert_fails 2 "progress: --every expects a finite number, found '-inf'"
  [ -z "$(ls -A o)" ]
}
