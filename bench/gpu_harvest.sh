#!/usr/bin/env bash
# bench/gpu_harvest.sh: `make test-gpu`, everything a GPU is lent for, in one run that prints one
# summary block to paste into a note (bench/gpu_summary.sh formats it):
#  1. the checks of test/gpu/ on the device (GPU_BACKEND=cuda: every op against its CPU twin,
#     racecheck, clip-embed, the DF-GAN step, inception-stats, encode-text, the pipelines' flags);
#  2. timings against PyTorch eager on the same GPU, in the same run (FP32, TF32 off on both sides):
#     the bird config's training step (IMSIZE 256, NF 32, BATCH 32): ours in one process
#     (build/bench/cuda/step_bench), ours as the pipelines run it (gen-step and disc-step through
#     FIFOs under bin/run-epoch), and with the CLIP loss (clip-embed loss and the copies beside
#     them, a random ViT-B/32), each also with --ipc (the fakes and gradients as CUDA IPC records
#     of GPU buffers instead of bytes); PyTorch's DF-GAN loop without and with the CLIP loss
#     (bench/dfgan_step_torch.py --device cuda); clip-embed's loss alone against the same tower
#     in PyTorch (bench/clip_bench_torch.py); inception-stats images per second against
#     pytorch-fid's InceptionV3 (bench/inception_bench.py);
#  3. the bytes a step moves through pipes and over PCIe, the measured pipe rate (bench/pipe_rate
#     through a FIFO, and through run-epoch's copy to two readers) and PCIe rate (pcie_torch.py),
#     and the time they cost a step by that estimate and as measured (pipeline − one process).
# A pipelined step is timed as the difference of two epochs of STEPS and STEPS/3 batches divided
# by the difference of their lengths, so start-up, loading and saving drop out.
#
#   bench/gpu_harvest.sh                  on the GPU (fails in one line where there is none)
#   BACKEND=emu bench/gpu_harvest.sh      a dry run on the CUDA emulation of test/emu/ at tiny sizes
#                                         (IMSIZE 32, NF 4, BATCH 2, STEPS 3, a tiny CLIP; PyTorch
#                                         on the CPU; the checks skipped unless CHECKS=1): proves
#                                         the script and its summary, measures nothing of worth
# Environment: IMSIZE NF BATCH STEPS (the step), INCEPTION_N (images), CHECKS (0 skips the
# checks), CHECK_TIMEOUT (seconds for the checks, default 240), PYTHON (one that imports torch).
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BACKEND=${BACKEND:-cuda}
case "$BACKEND" in
  cuda)
    nvidia-smi -L 2>/dev/null | grep -q '^GPU' ||
      { echo "test-gpu: expected a GPU, found none (nvidia-smi -L lists no GPU; make test runs these checks on the CUDA emulation)" >&2; exit 1; }
    [ -x bin/cuda/gen-step ] && [ -x build/bench/cuda/step_bench ] ||
      { echo "test-gpu: expected the CUDA build (bin/cuda/, build/bench/cuda/step_bench), found none (no nvcc, or NO_CUDA=1)" >&2; exit 1; }
    BIN=$ROOT/bin STEP_BENCH=$ROOT/build/bench/cuda/step_bench TORCH_DEV=cuda
    IMSIZE=${IMSIZE:-256} NF=${NF:-32} BATCH=${BATCH:-32} STEPS=${STEPS:-12} INCEPTION_N=${INCEPTION_N:-512}
    CLIP_INIT=() TEXT_DIM=512 TOWER=768,12,12,32,224 CHECKS=${CHECKS:-1}
    ;;
  emu)
    [ -x build/emu/bin/cuda/gen-step ] && [ -x build/emu/bench/cuda/step_bench ] ||
      { echo "test-gpu: expected the CUDA emulation built (make emu), found build/emu/ incomplete" >&2; exit 1; }
    BIN=$ROOT/build/emu/bin STEP_BENCH=$ROOT/build/emu/bench/cuda/step_bench TORCH_DEV=cpu
    IMSIZE=${IMSIZE:-32} NF=${NF:-4} BATCH=${BATCH:-2} STEPS=${STEPS:-3} INCEPTION_N=${INCEPTION_N:-2}
    CLIP_INIT=(--embed-dim 32 --width 64 --layers 1 --patch 8 --image-size 32 --text-width 64 --text-layers 1
               --head-width 32) TEXT_DIM=32 TOWER=64,1,2,8,32 CHECKS=${CHECKS:-0}
    ;;
  *) echo "test-gpu: expected BACKEND cuda or emu, found '$BACKEND'" >&2; exit 2 ;;
esac
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$(nproc)}
COND=256 Z=100
TORCH_PY=
for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c 'import torch, numpy' 2>/dev/null; then TORCH_PY=$p; break; fi
done
NP_PY=$TORCH_PY
[ -n "$NP_PY" ] || for p in ${PYTHON:-} python3 /usr/bin/python3; do
  if "$p" -c 'import numpy' 2>/dev/null; then NP_PY=$p; break; fi
done
[ -n "$NP_PY" ] || { echo "test-gpu: expected a Python with numpy (PYTHON=...), found none" >&2; exit 1; }

tmp=$(mktemp -d) && [ -d "$tmp" ] || { echo "test-gpu: expected a scratch folder (mktemp -d), found none" >&2; exit 1; }
trap 'rm -rf "$tmp"' EXIT
R=$tmp/results          # key value lines for the summary
put() { echo "$1 $2" >> "$R"; }
note() { echo "== $*" >&2; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b - a }'; }
put backend "$BACKEND"
put config "imsize=$IMSIZE nf=$NF batch=$BATCH cond=$COND z=$Z steps=$STEPS"
if [ "$BACKEND" = cuda ]; then
  put device "$(nvidia-smi --query-gpu=name,driver_version,pcie.link.gen.current,pcie.link.width.current --format=csv,noheader | head -1 | tr -s ' ' | tr ' ' '_')"
else
  put device "CUDA_emulation_(test/emu)_on_$(nproc)_CPU_cores"
fi
put cudnn "$(make -s cuda-info 2>/dev/null | sed -n 's/^cuDNN: //p' | cut -d: -f1 | tr ' ' '_')"
put torch "$([ -n "$TORCH_PY" ] && "$TORCH_PY" -c 'import torch; print(torch.__version__)' || echo none)"

# ---- 1. the checks ----
if [ "$CHECKS" != 0 ]; then
  note "checks: bats test/gpu/ on $BACKEND"
  GPU_BACKEND=$BACKEND PYTHON=$NP_PY timeout "${CHECK_TIMEOUT:-240}" bats --tap test/gpu/ > "$tmp/checks.tap" 2>&1
  rc=$?
  put checks_passed "$(grep -c '^ok ' "$tmp/checks.tap" | tr -d ' ')"
  put checks_failed "$(grep -c '^not ok ' "$tmp/checks.tap" | tr -d ' ')"
  put checks_skipped "$(grep -c '^ok .* # skip' "$tmp/checks.tap" | tr -d ' ')"
  [ "$rc" -ne 124 ] || put checks_timeout "${CHECK_TIMEOUT:-240}"
  grep '^not ok ' "$tmp/checks.tap" | sed 's/^not ok [0-9]* /check_failed /' | tr -s ' ' >> "$R"
  cp "$tmp/checks.tap" "${TMPDIR:-/tmp}/test-gpu-checks.tap" 2>/dev/null || true
else
  put checks_passed skipped
fi

# ---- data: real images, cond, noise, text features, weights ----
note "data and weights ($IMSIZE px, batch $BATCH)"
short=$(( STEPS / 3 > 0 ? STEPS / 3 : 1 ))
# in_N/: the streams of an epoch of N batches (real images, cond, noise, CLIP text features) and
# fakes.npy (N batches of random images, for clip-embed loss alone)
for n in "$STEPS" "$short"; do
  mkdir -p "$tmp/in_$n"
  "$NP_PY" -c '
import sys, numpy as np
d, S, B, C, Z, N, E = sys.argv[1], *map(int, sys.argv[2:])
r = np.random.RandomState(0)
for name, shape in (("real", (B, 3, S, S)), ("cond", (B, C)), ("noise", (B, Z)), ("text", (B, E)),
                    ("fakes", (B, 3, S, S))):
    with open(d + "/" + name + ".npy", "wb") as f:
        for _ in range(N):
            np.save(f, (r.uniform(-1, 1, shape) if name in ("real", "fakes") else r.randn(*shape)).astype(np.float32))
' "$tmp/in_$n" "$IMSIZE" "$BATCH" "$COND" "$Z" "$n" "$TEXT_DIM"
done
"$BIN/gen-step" init --imsize "$IMSIZE" --nf "$NF" --z-dim "$Z" --cond-dim "$COND" --seed 1 -o "$tmp/G.npz"
"$BIN/disc-step" init --imsize "$IMSIZE" --nf "$NF" --cond-dim "$COND" --seed 2 -o "$tmp/D.npz"
"$BIN/clip-embed" --init --seed 3 "${CLIP_INIT[@]}" -o "$tmp/clip.npz"
HW=("${CLIP_INIT[@]:(-2)}")   # clip-embed's --head-width for the tiny CLIP (none: the default 64)

# ---- 2. ours: one process, the pipeline, the pipeline with CLIP, the CLIP loss alone ----
note "step, ours in one process"
"$STEP_BENCH" --device cuda --imsize "$IMSIZE" --nf "$NF" --batch "$BATCH" --cond "$COND" --z "$Z" --steps "$STEPS" > "$tmp/inproc.txt" 2>&1 &&
  put step_ours_inproc_s "$(awk '$1 == "step_mean_s" { print $2 }' "$tmp/inproc.txt")" ||
  put step_ours_inproc_s "failed:$(tail -1 "$tmp/inproc.txt" | tr ' ' '_')"

# epoch N CLIP IPC: the first N batches through FIFOs as the pipelines run them (CLIP 1: with the CLIP
# loss and the copies; IPC 1: the step tools with --ipc); prints its wall seconds
epoch() {
  local n=$1 clip=$2 t0 t1 e=$tmp/e$1_$2_$3 i=$tmp/in_$1
  mkdir -p "$e"
  local c=() x=()
  [ "$3" = 1 ] && x=(--ipc)
  if [ "$clip" = 1 ]; then
    c=(--fifo "$e/fake_d" --fifo "$e/fake_c" --fifo "$e/cg_out" --fifo "$e/cg"
       :::copy "$e/fake" "$e/fake_d" "$e/fake_c"
       ::: "$BIN/clip-embed" loss --device cuda "${x[@]}" --weights "$tmp/clip.npz" "${HW[@]}" --lambda 0.01
           --text "$i/text.npy" --in "$e/fake_c" -o "$e/cg_out" --log "$e/clip.log"
       :::copy "$e/cg_out" "$e/cg")
  fi
  t0=$(date +%s.%N)
  "$ROOT/bin/run-epoch" --fifo "$e/fake" --fifo "$e/grad" "${c[@]}" \
    ::: "$BIN/disc-step" train --device cuda "${x[@]}" --ckpt "$tmp/D.npz" --real "$i/real.npy" --cond "$i/cond.npy" \
        --fake "$e/$([ "$clip" = 1 ] && echo fake_d || echo fake)" --grad-out "$e/grad" --save "$e/D.npz" --log "$e/d.log" \
    ::: "$BIN/gen-step" train --device cuda "${x[@]}" --ckpt "$tmp/G.npz" --noise "$i/noise.npy" --cond "$i/cond.npy" \
        --fake-out "$e/fake" --grad "$e/grad" $([ "$clip" = 1 ] && echo --grad "$e/cg") --save "$e/G.npz" --log "$e/g.log" \
    2> "$e/err" || { echo "failed:$(tail -1 "$e/err" | tr ' ' '_')"; return; }
  t1=$(date +%s.%N)
  secs "$t0" "$t1"
}
per_step() {   # per_step T_LONG T_SHORT: seconds per step from two epochs, or the failure
  case "$1 $2" in *failed*) echo "$1 $2" | grep -o 'failed:[^ ]*' | head -1; return ;; esac
  awk -v a="$1" -v b="$2" -v n="$STEPS" -v m="$short" 'BEGIN { printf "%.4f", (a - b) / (n - m) }'
}
for clip in 0 1; do
  for ipc in 0 1; do
    note "step, ours through FIFOs$([ $clip = 1 ] && echo ', with the CLIP loss')$([ $ipc = 1 ] && echo ', --ipc')"
    tl=$(epoch "$STEPS" $clip $ipc); ts=$(epoch "$short" $clip $ipc)
    put "step_ours_pipe$([ $clip = 1 ] && echo _clip)$([ $ipc = 1 ] && echo _ipc)_s" "$(per_step "$tl" "$ts")"
  done
done
note "clip-embed loss alone"
cl() {
  local n=$1 t0 t1
  t0=$(date +%s.%N)
  "$BIN/clip-embed" loss --device cuda --weights "$tmp/clip.npz" "${HW[@]}" --lambda 0.01 \
    --text "$tmp/in_$n/text.npy" --in "$tmp/in_$n/fakes.npy" -o /dev/null --log /dev/null 2> "$tmp/cl.err" ||
    { echo "failed:$(tail -1 "$tmp/cl.err" | tr ' ' '_')"; return; }
  t1=$(date +%s.%N)
  secs "$t0" "$t1"
}
put clip_loss_ours_s "$(per_step "$(cl "$STEPS")" "$(cl "$short")")"
note "inception-stats"
mkdir -p "$tmp/inc"
if "$NP_PY" bench/inception_bench.py make "$tmp/inc" "$INCEPTION_N" 0 "$IMSIZE" 2> "$tmp/inc.err"; then
  "$BIN/inception-stats" --device cuda --weights "$tmp/inc/w.npz" --batch "$BATCH" -o "$tmp/inc/s.npz" "$tmp/inc/in.npy" 2> "$tmp/inc.err" &&
    put inception_ours_ips "$(sed -n 's/.* \([0-9.]*\) images\/s.*/\1/p' "$tmp/inc.err")" ||
    put inception_ours_ips "failed:$(tail -1 "$tmp/inc.err" | tr ' ' '_')"
else
  put inception_ours_ips "failed:$(tail -1 "$tmp/inc.err" | tr ' ' '_')"
fi

# ---- 2'. PyTorch eager on the same device ----
if [ -n "$TORCH_PY" ]; then
  note "PyTorch ($TORCH_DEV)"
  tp() {   # tp KEY FIELD SCRIPT ARGS...: FIELD of the script's output as KEY, or the failure
    local key=$1 field=$2; shift 2
    if "$TORCH_PY" "$@" > "$tmp/tp.out" 2> "$tmp/tp.err"; then
      put "$key" "$(awk -v f="$field" '$1 == f { print $2 }' "$tmp/tp.out")"
    else
      put "$key" "failed:$(tail -1 "$tmp/tp.err" | tr ' ' '_' | cut -c1-120)"
    fi
  }
  A=(--imsize "$IMSIZE" --nf "$NF" --batch "$BATCH" --cond "$COND" --z "$Z" --steps "$STEPS" --threads "$OMP_NUM_THREADS" --device "$TORCH_DEV")
  tp step_torch_s step_mean_s bench/dfgan_step_torch.py "${A[@]}"
  tp step_torch_clip_s step_mean_s bench/dfgan_step_torch.py "${A[@]}" --clip 0.01 --clip-tower "$TOWER"
  tp clip_loss_torch_s image_s bench/clip_bench_torch.py --batch "$BATCH" --size "$IMSIZE" --threads "$OMP_NUM_THREADS" \
    --device "$TORCH_DEV" --reps 3 --tower "$TOWER"
  tp inception_torch_ips torch_ips bench/inception_bench.py torch "$tmp/inc" "$BATCH" "$OMP_NUM_THREADS" "$TORCH_DEV"
  if [ "$TORCH_DEV" = cuda ]; then
    "$TORCH_PY" bench/pcie_torch.py > "$tmp/pcie.txt" 2>&1 && sed -n 's/^\([hd]2[hd]_[a-z]*_gbs\) /pcie_\1 /p' "$tmp/pcie.txt" >> "$R"
  fi
else
  put torch_missing "no_Python_imports_torch"
fi

# ---- 3. pipes: rate through a FIFO, and through run-epoch's copy to two readers ----
note "pipe rates"
mkfifo "$tmp/p1"
build/bench/pipe_rate write --shape "32,3,256,256" --count 40 > "$tmp/p1" &
put pipe_mbs "$(build/bench/pipe_rate read < "$tmp/p1" | awk '{ print $8 }')"
wait
bin/run-epoch --fifo "$tmp/pa" --fifo "$tmp/pb" --fifo "$tmp/pc" \
  ::: sh -c "'$ROOT/build/bench/pipe_rate' write --count 40 > '$tmp/pa'" :::copy "$tmp/pa" "$tmp/pb" "$tmp/pc" \
  ::: sh -c "'$ROOT/build/bench/pipe_rate' read < '$tmp/pb' > '$tmp/rb'" \
  ::: sh -c "'$ROOT/build/bench/pipe_rate' read < '$tmp/pc' > '$tmp/rc'" &&
  put pipe_copy_mbs "$(cat "$tmp/rb" "$tmp/rc" | awk '{ s = (s == "" || $8 < s) ? $8 : s } END { print s }')"
# the bytes of a step at this config (an image tensor is BATCH·3·IMSIZE²·4 bytes)
img=$(( BATCH * 3 * IMSIZE * IMSIZE * 4 ))
put image_tensor_bytes "$img"
put pipe_bytes_step "$(( 2 * img ))"          # fakes G -> D, D's gradient D -> G
put pipe_bytes_step_clip "$(( 6 * img ))"     # + fakes copy -> D and -> CLIP, CLIP's gradient -> copy -> G
put pcie_bytes_step "$(( 5 * img ))"          # G: fakes down, grad up; D: real up, fakes up, grad down
put pcie_bytes_step_clip "$(( 8 * img ))"     # + CLIP: fakes up, grad down; G: its second grad up

bench/gpu_summary.sh "$R"
