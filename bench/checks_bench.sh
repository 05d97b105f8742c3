#!/usr/bin/env bash
# bench/checks_bench.sh: what the per-step NaN/Inf checks cost (issue 15) against the step they guard,
# at the demo config (32 px, nf 16, batch 16) and the bird config (256 px, nf 32, batch 32; fewer
# steps): build/bench/step_bench's checks_step_s (the tools' checks: losses, the update's two passes
# over each model's weights and Adam state, the fakes and D's gradient wrt them), checks_input_s
# (first_nonfinite over the step's input batches: real images, cond twice, noise, fakes and the
# gradient wrt them, as the stream readers check them) and their share of the mean step, target < 1%.
# Environment: DEVICE (cpu; cuda where a GPU is), STEPS_DEMO (10), STEPS_BIRD (1; each step at the
# bird config takes tens of seconds on 2 cores and ~14 GB).
set -euo pipefail
cd "$(dirname "$0")/.."
key() { awk -v k="$1" '$1 == k { print $2 }' <<<"$2"; }

share() {   # share NAME IMSIZE NF BATCH STEPS
  local out
  out=$(build/bench/step_bench --imsize "$2" --nf "$3" --batch "$4" --cond 256 --z 100 --steps "$5" --device "${DEVICE:-cpu}")
  awk -v name="$1" -v px="$2" -v nf="$3" -v b="$4" -v steps="$5" -v step="$(key step_mean_s "$out")" \
      -v c="$(key checks_step_s "$out")" -v i="$(key checks_input_s "$out")" -v pct="$(key checks_share_pct "$out")" 'BEGIN {
    printf "== checks, %s config (%d px, nf %d, batch %d, %d steps, %s): step %.4f s; the steps'"'"' checks %.3f ms, the inputs'"'"' %.3f ms: %.2f%% of the step (target < 1%%)\n",
      name, px, nf, b, steps, ENVIRON["DEVICE"] ? ENVIRON["DEVICE"] : "cpu", step, 1000 * c, 1000 * i, pct }'
}

share demo 32 16 16 "${STEPS_DEMO:-10}"
share bird 256 32 32 "${STEPS_BIRD:-1}"
