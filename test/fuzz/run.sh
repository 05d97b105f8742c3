#!/usr/bin/env bash
# test/fuzz/run.sh: `make fuzz`. For each harness NAME given (build/fuzz/NAME_fuzz, built from
# test/fuzz/NAME_fuzz.c by `make fuzz-build`):
#   1. replay: run it once over each committed input: its seeds (test/fuzz/corpus/NAME/), its saved
#      crash inputs (test/fuzz/crashes/NAME/) and the matching bad inputs of test/fixtures; a crash,
#      a leak, UB or an exit fails the run;
#   2. fuzz it for FUZZ_S seconds (default 60; 0 skips this), growing build/fuzz/corpus/NAME/ from
#      the seeds, with test/fuzz/NAME.dict as libFuzzer's dictionary when there is one. An input
#      that crashes is saved in build/fuzz/crashes/NAME/ and fails the run: fix the reader, then
#      move the input into test/fuzz/crashes/NAME/ (named after what it found), so that every later
#      run, CI's included, replays it.
# Ends with one line per harness: executions, libFuzzer's coverage (cov: edges, ft: features) and
# corpus size; the full logs are in build/fuzz/logs/. Exit 1 when any harness failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
FUZZ_S=${FUZZ_S:-60}
# The tools' constructor re-executes a process started without OMP_WAIT_POLICY (lib/core/common.c);
# a fuzzer needs none of that.
export OMP_WAIT_POLICY=passive
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# Committed inputs beyond the harness's own folders, replayed as regression inputs.
extra_inputs() {
  case $1 in
    ckpt|dfgan) ls test/fixtures/ckpt/bad/* test/fixtures/ckpt/fuzz/* test/fixtures/ckpt/*.pt* ;;
    safetensors) ls test/fixtures/ckpt/bad/st_* test/fixtures/ckpt/*.safetensors ;;
  esac 2>/dev/null
}

mkdir -p build/fuzz/logs
summary=() failed=0
for name in "$@"; do
  bin=build/fuzz/${name}_fuzz log=build/fuzz/logs/$name.log
  if [ ! -x "$bin" ]; then echo "fuzz: expected $bin (make fuzz-build), found none" >&2; exit 2; fi
  mapfile -t inputs < <(find "test/fuzz/corpus/$name" "test/fuzz/crashes/$name" -type f ! -name '.*' 2>/dev/null | sort;
                        extra_inputs "$name")
  if [ ${#inputs[@]} -gt 0 ] && ! "$bin" -runs=1 "${inputs[@]}" > "$log.replay" 2>&1; then
    echo "fuzz: $name: a committed input fails (log: $log.replay):" >&2
    grep -aE 'ERROR|Running:|SUMMARY|fuzz:' "$log.replay" | tail -5 >&2
    summary+=("$name: REPLAY FAILED (${#inputs[@]} inputs)")
    failed=1
    continue
  fi
  line="$name: replayed ${#inputs[@]} inputs"
  if [ "$FUZZ_S" -gt 0 ]; then
    corpus=build/fuzz/corpus/$name crashes=build/fuzz/crashes/$name
    mkdir -p "$corpus" "$crashes"
    dict=() seeds=()
    [ -f "test/fuzz/$name.dict" ] && dict=("-dict=test/fuzz/$name.dict")
    for d in "test/fuzz/corpus/$name" "test/fuzz/crashes/$name"; do [ -d "$d" ] && seeds+=("$d"); done
    "$bin" -max_total_time="$FUZZ_S" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$crashes/" "${dict[@]}" "$corpus" "${seeds[@]}" > "$log" 2>&1
    rc=$?
    done_line=$(grep -aE '^#[0-9]+[[:space:]]+(DONE|pulse|NEW|REDUCE|INITED)' "$log" | tail -1)
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$done_line")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$done_line")
    corp=$(sed -n 's/.* corp: \([0-9]*\/[0-9a-zA-Z]*\).*/\1/p' <<< "$done_line")
    line+=", fuzzed ${FUZZ_S}s: ${execs:-?} execs, cov ${cov:-?}, ft ${ft:-?}, corpus ${corp:-?}"
    if [ $rc -ne 0 ]; then
      echo "fuzz: $name: found a failing input (log: $log):" >&2
      grep -aE 'ERROR|SUMMARY|fuzz:|Test unit written' "$log" | tail -5 >&2
      line+=" FAILED: see $crashes/"
      failed=1
    fi
  fi
  summary+=("$line")
done
printf '%s\n' "${summary[@]}"
exit $failed
