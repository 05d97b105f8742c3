#!/usr/bin/env bash
# test/run.sh: `make test`. Runs the bats suites (TAP on stdout) and ends with the plain summary
# line "N passed, N failed"; exits non-zero if any test failed or bats itself failed.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
bats --tap test/ | tee "$log"
rc=${PIPESTATUS[0]}
passed=$(grep -c '^ok ' "$log")
failed=$(grep -c '^not ok ' "$log")
skipped=$(grep -c '^ok .* # skip' "$log")
echo "$((passed - skipped)) passed, $failed failed, $skipped skipped"
[ "$rc" -eq 0 ] && [ "$failed" -eq 0 ]
