#!/usr/bin/env bash
# bench/gpu_summary.sh RESULTS: the one block that bench/gpu_harvest.sh (`make test-gpu`) prints
# at its end, from its RESULTS file of "key value" lines (values without spaces; a value
# "failed:..." or a missing key shows as n/a with the reason). Kept apart from the harvest so
# that it can be checked without a GPU (test/gpu/harvest.bats feeds it canned results).
#
# Keys: backend device cudnn torch config checks_passed checks_failed checks_skipped
# checks_timeout check_failed (repeated: a failed check's name); step_ours_inproc_s
# step_ours_pipe_s step_ours_pipe_clip_s step_ours_pipe_ipc_s step_ours_pipe_clip_ipc_s (--ipc:
# CUDA IPC records instead of bytes) step_torch_s step_torch_clip_s clip_loss_ours_s
# clip_loss_torch_s inception_ours_ips inception_torch_ips (seconds per step or batch, images per
# second); image_tensor_bytes pipe_bytes_step pipe_bytes_step_clip pcie_bytes_step
# pcie_bytes_step_clip; pipe_mbs pipe_copy_mbs (MB/s); pcie_{h2d,d2h}_{pageable,pinned}_gbs.
#
# The estimate of what the Unix shape costs a step (the README's "cost of the pipes"): on the
# critical path, without CLIP the fakes' hop G -> D and the gradient's D -> G at the pipe rate;
# with CLIP the fakes through run-epoch's copy (at the copy rate) and CLIP's gradient back through
# the copy (two hops); over PCIe four image tensors (fakes down and up, gradient down and up), five
# with CLIP (G's second gradient), at the measured pageable rates, else PCIe 5.0 x16's 64 GB/s.
set -euo pipefail
[ $# -eq 1 ] && [ -r "$1" ] || { echo "usage: gpu_summary.sh RESULTS" >&2; exit 2; }
awk '
function has(k) { return (k in v) && v[k] !~ /^failed/ && v[k] != "" }
function num(k) { return has(k) ? v[k] + 0 : -1 }
function why(k,   s) { s = (k in v) ? (v[k] ~ /^failed/ ? substr(v[k], 8) : v[k]) : "not measured"; gsub(/_/, " ", s); return s }
function plain(s) { gsub(/_/, " ", s); return s }
function cell(k, unit, fmt) { return has(k) ? sprintf(fmt, v[k]) unit : "n/a" }
function ratio(a, b) { return (a > 0 && b > 0) ? sprintf("%.2fx", a / b) : "-" }
function pct(x) { return sprintf("%+.0f%%", 100 * x) }
function yesno(c) { return c ? "yes" : "NO" }
{ k = $1; $1 = ""; sub(/^ /, ""); if (k == "check_failed") fails = fails (fails ? "; " : "") $0; else v[k] = $0 }
END {
  mb = 1e6
  print "==== make test-gpu: summary ===="
  printf "device  %s | backend %s | cuDNN %s | torch %s\n", plain(v["device"]), v["backend"], plain(v["cudnn"]), v["torch"]
  printf "config  %s (FP32 both sides, TF32 off)\n", v["config"]
  if (v["checks_passed"] == "skipped") print "checks  skipped"
  else printf "checks  %d passed, %d failed, %d skipped%s%s\n", v["checks_passed"] - v["checks_skipped"], v["checks_failed"],
       v["checks_skipped"], ("checks_timeout" in v) ? ", TIMED OUT after " v["checks_timeout"] " s" : "", fails ? " | failed: " fails : ""
  printf "%-44s %12s %12s %8s\n", "timing (mean)", "ours", "PyTorch", "torch/ours"
  printf "%-44s %12s %12s %8s\n", "bird step, one process", cell("step_ours_inproc_s", " s", "%.4f"), "", ""
  printf "%-44s %12s %12s %8s\n", "bird step, pipelined (gen-step|disc-step)", cell("step_ours_pipe_s", " s", "%.4f"),
         cell("step_torch_s", " s", "%.4f"), ratio(num("step_torch_s"), num("step_ours_pipe_s"))
  printf "%-44s %12s %12s %8s\n", "bird step + CLIP loss, pipelined", cell("step_ours_pipe_clip_s", " s", "%.4f"),
         cell("step_torch_clip_s", " s", "%.4f"), ratio(num("step_torch_clip_s"), num("step_ours_pipe_clip_s"))
  printf "%-44s %12s %12s %8s\n", "bird step, pipelined, --ipc", cell("step_ours_pipe_ipc_s", " s", "%.4f"),
         cell("step_torch_s", " s", "%.4f"), ratio(num("step_torch_s"), num("step_ours_pipe_ipc_s"))
  printf "%-44s %12s %12s %8s\n", "bird step + CLIP loss, pipelined, --ipc", cell("step_ours_pipe_clip_ipc_s", " s", "%.4f"),
         cell("step_torch_clip_s", " s", "%.4f"), ratio(num("step_torch_clip_s"), num("step_ours_pipe_clip_ipc_s"))
  co = (num("step_ours_pipe_clip_s") > 0 && num("step_ours_pipe_s") > 0) ? num("step_ours_pipe_clip_s") / num("step_ours_pipe_s") - 1 : ""
  ct = (num("step_torch_clip_s") > 0 && num("step_torch_s") > 0) ? num("step_torch_clip_s") / num("step_torch_s") - 1 : ""
  printf "%-44s %12s %12s\n", "what the CLIP loss adds to the step", co == "" ? "n/a" : pct(co), ct == "" ? "n/a" : pct(ct)
  printf "%-44s %12s %12s %8s\n", "clip-embed loss alone, per batch", cell("clip_loss_ours_s", " s", "%.4f"),
         cell("clip_loss_torch_s", " s", "%.4f"), ratio(num("clip_loss_torch_s"), num("clip_loss_ours_s"))
  printf "%-44s %12s %12s %8s\n", "inception-stats, images/s", cell("inception_ours_ips", "", "%.1f"),
         cell("inception_torch_ips", "", "%.1f"), ratio(num("inception_ours_ips"), num("inception_torch_ips")) " (ours/torch)"
  img = num("image_tensor_bytes")
  printf "bytes/step  pipes %.1f MB (%.1f MB with CLIP); PCIe %.1f MB (%.1f MB with CLIP); an image tensor %.1f MB\n",
         num("pipe_bytes_step") / mb, num("pipe_bytes_step_clip") / mb, num("pcie_bytes_step") / mb, num("pcie_bytes_step_clip") / mb, img / mb
  pr = num("pipe_mbs"); cr = num("pipe_copy_mbs")
  h2d = num("pcie_h2d_pageable_gbs"); d2h = num("pcie_d2h_pageable_gbs")
  spec = !(h2d > 0 && d2h > 0)
  if (spec) { h2d = 64; d2h = 64 }
  printf "rates   pipe %s MB/s, through run-epoch'"'"'s copy to 2 readers %s MB/s; PCIe %s\n", has("pipe_mbs") ? sprintf("%.0f", pr) : "n/a",
         has("pipe_copy_mbs") ? sprintf("%.0f", cr) : "n/a",
         spec ? "64 GB/s (PCIe 5.0 x16 spec, not measured)" : sprintf("pageable H2D %.1f / D2H %.1f GB/s, pinned %s / %s GB/s", h2d, d2h,
         cell("pcie_h2d_pinned_gbs", "", "%.1f"), cell("pcie_d2h_pinned_gbs", "", "%.1f"))
  if (pr > 0 && img > 0) {
    pcie1 = img / (h2d * 1e9) * 2 + img / (d2h * 1e9) * 2
    p0 = 2 * img / (pr * mb); c1 = (cr > 0 ? img / (cr * mb) : img / (pr * mb)) + 2 * img / (pr * mb)
    e0 = p0 + pcie1; e1 = c1 + pcie1 + img / (h2d * 1e9)
    s0 = num("step_ours_pipe_s"); s1 = num("step_ours_pipe_clip_s")
    printf "estimate  pipes+PCIe on the critical path: %.1f ms (%.1f + %.1f)%s; with CLIP %.1f ms%s\n", 1e3 * e0, 1e3 * p0, 1e3 * pcie1,
           (s0 > 0 ? sprintf(" = %.0f%% of the step", 100 * e0 / s0) : ""), 1e3 * e1, (s1 > 0 ? sprintf(" = %.0f%%", 100 * e1 / s1) : "")
  }
  if (num("step_ours_pipe_s") > 0 && num("step_ours_inproc_s") > 0)
    printf "measured  pipelined - one process: %+.1f ms a step (%s; the one-process step keeps the PCIe copies)\n",
           1e3 * (num("step_ours_pipe_s") - num("step_ours_inproc_s")), pct(num("step_ours_pipe_s") / num("step_ours_inproc_s") - 1)
  i0 = num("step_ours_pipe_ipc_s"); i1 = num("step_ours_pipe_clip_ipc_s"); s0 = num("step_ours_pipe_s"); s1 = num("step_ours_pipe_clip_s")
  if (i0 > 0 && s0 > 0)
    printf "measured  --ipc - bytes: %+.1f ms a step (%s)%s\n", 1e3 * (i0 - s0), pct(i0 / s0 - 1),
           (i1 > 0 && s1 > 0) ? sprintf("; with CLIP %+.1f ms (%s)", 1e3 * (i1 - s1), pct(i1 / s1 - 1)) : ""
  ok = has("checks_failed") && v["checks_failed"] == 0 && !("checks_timeout" in v)
  printf "targets  checks pass: %s | step >= 2x PyTorch: %s | CLIP adds < 25%%: %s | inception >= PyTorch: %s\n",
         v["checks_passed"] == "skipped" ? "skipped" : yesno(ok),
         (num("step_torch_s") > 0 && num("step_ours_pipe_s") > 0) ? yesno(num("step_torch_s") >= 2 * num("step_ours_pipe_s")) : "n/a",
         co == "" ? "n/a" : yesno(co < 0.25),
         (num("inception_ours_ips") > 0 && num("inception_torch_ips") > 0) ? yesno(num("inception_ours_ips") >= num("inception_torch_ips")) : "n/a"
  for (k in v) if (v[k] ~ /^failed/) printf "n/a     %s: %s\n", k, why(k)
  print "================================"
}' "$1"
