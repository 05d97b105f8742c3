#!/usr/bin/env bats
# harvest.bats: the parts of `make test-gpu` (bench/gpu_harvest.sh) that need no GPU: its summary
# block from canned results (bench/gpu_summary.sh: the table, the ratios, the targets, the estimate
# of what the pipes cost, n/a with the reason for what failed), the PyTorch scripts it runs
# (they compile; --help where torch imports), and its one-line refusal without a GPU. The whole
# harvest runs dry on the CUDA emulation with `make test-gpu-dry` (about 2 minutes, not here).

load ../helpers

setup() {
  common_setup
  cd "$T"
}

@test "gpu_summary.sh: the block from canned results (ratios, CLIP's share, targets, estimate, failures)" {
  run -0 "$ROOT/bench/gpu_summary.sh" "$BATS_TEST_DIRNAME/harvest_results.txt"
  echo "$output"
  [ "${lines[0]}" = "==== make test-gpu: summary ====" ]
  [[ "${lines[1]}" == "device  NVIDIA H100 80GB HBM3, 550.54, 5, 16 | backend cuda | "* ]]
  [[ "$output" == *"checks  40 passed, 1 failed, 0 skipped | failed: cuda: a step at imsize 64"* ]]
  grep -q '^bird step, pipelined (gen-step|disc-step) *0.1105 s *0.2300 s *2.08x$' <<<"$output"
  grep -q '^bird step + CLIP loss, pipelined *0.1350 s *0.2900 s *2.15x$' <<<"$output"
  grep -q '^bird step, pipelined, --ipc *0.0951 s *0.2300 s *2.42x$' <<<"$output"
  grep -q '^bird step + CLIP loss, pipelined, --ipc *0.1002 s *0.2900 s *2.89x$' <<<"$output"
  grep -q '^what the CLIP loss adds to the step *+22% *+26%$' <<<"$output"
  grep -q '^clip-embed loss alone, per batch *0.0300 s *n/a *-$' <<<"$output"
  grep -q '^inception-stats, images/s *1200.5 *1000.1 1.20x (ours/torch)$' <<<"$output"
  grep -q '^bytes/step  pipes 50.3 MB (151.0 MB with CLIP); PCIe 125.8 MB (201.3 MB with CLIP); an image tensor 25.2 MB$' <<<"$output"
  # 2 hops of 25.2 MB at 3600 MB/s = 14.0 ms; PCIe 2·25.2/12.1e3 + 2·25.2/10.5e3 s = 9.0 ms; 22.9 / 110.5 = 21%
  grep -q '^estimate  pipes+PCIe on the critical path: 22.9 ms (14.0 + 9.0) = 21% of the step; with CLIP 56.5 ms = 42%$' <<<"$output"
  grep -q '^measured  pipelined - one process: +29.3 ms a step (+36%;' <<<"$output"
  # 95.1 - 110.5 = -15.4 ms (-14%); 100.2 - 135.0 = -34.8 ms (-26%)
  grep -q '^measured  --ipc - bytes: -15.4 ms a step (-14%); with CLIP -34.8 ms (-26%)$' <<<"$output"
  grep -q '^targets  checks pass: NO | step >= 2x PyTorch: yes | CLIP adds < 25%: yes | inception >= PyTorch: yes$' <<<"$output"
  grep -q '^n/a     clip_loss_torch_s: ModuleNotFoundError: No module$' <<<"$output"
  [ "${lines[-1]}" = "================================" ]
}

@test "gpu_summary.sh: nothing measured gives n/a everywhere, not an error; a usage error exits 2" {
  echo "backend cuda" > r.txt
  run -0 "$ROOT/bench/gpu_summary.sh" r.txt
  echo "$output"
  grep -q '^bird step, pipelined (gen-step|disc-step) *n/a *n/a *-$' <<<"$output"
  grep -q '^targets  checks pass: NO | step >= 2x PyTorch: n/a | CLIP adds < 25%: n/a | inception >= PyTorch: n/a$' <<<"$output"
  run -2 "$ROOT/bench/gpu_summary.sh" missing.txt
}

@test "the harvest's scripts: bash and Python syntax; the PyTorch scripts' --help where torch imports" {
  bash -n "$ROOT/bench/gpu_harvest.sh"
  bash -n "$ROOT/bench/gpu_summary.sh"
  for f in dfgan_step_torch clip_bench_torch inception_bench clip_vit_torch pcie_torch; do
    "$PYTHON" -c 'import py_compile, sys; py_compile.compile(sys.argv[1], cfile=sys.argv[2], doraise=True)' \
      "$ROOT/bench/$f.py" "$T/$f.pyc"
  done
  tp=
  for p in "$PYTHON" python3 /usr/bin/python3; do "$p" -c 'import torch' 2>/dev/null && { tp=$p; break; }; done
  [ -n "$tp" ] || skip "no Python here imports torch"
  for f in dfgan_step_torch clip_bench_torch pcie_torch; do
    run -0 "$tp" "$ROOT/bench/$f.py" --help
    [[ "$output" == usage:*--* ]]
  done
  run -0 "$tp" "$ROOT/bench/dfgan_step_torch.py" --help
  [[ "$output" == *--device* ]] && [[ "$output" == *--clip* ]]
}

@test "make test-gpu without a GPU: one line saying so, a failure" {
  ! nvidia-smi -L 2>/dev/null | grep -q '^GPU' || skip "a GPU is here (make test-gpu would run the harvest)"
  run --separate-stderr make --no-print-directory -s -C "$ROOT" test-gpu
  [ "$status" -ne 0 ]
  [ -z "$output" ]
  [ "${stderr_lines[0]}" = "test-gpu: expected a GPU, found none (nvidia-smi -L lists no GPU; make test runs these checks on the CUDA emulation)" ]
  run --separate-stderr env BACKEND=cuda "$ROOT/bench/gpu_harvest.sh"
  [ "$status" -eq 1 ]
  [ "$stderr" = "test-gpu: expected a GPU, found none (nvidia-smi -L lists no GPU; make test runs these checks on the CUDA emulation)" ]
}
