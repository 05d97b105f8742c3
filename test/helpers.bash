# test/helpers.bash: shared set-up for the bats suites (load it with `load helpers`).
#
# setup (or common_setup, for a suite with its own setup) provides:
#   ROOT    the repository root; bin/ and build/test/ are put first on PATH
#   PYTHON  a Python that imports numpy: $PYTHON if set, else python3 or /usr/bin/python3
#   T       a scratch folder for this test (bats removes it)
# and the helpers below.
bats_require_minimum_version 1.5.0

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"   # this file is in test/, whichever suite loads it

common_setup() {
  if [ -z "${PYTHON:-}" ] || ! "$PYTHON" -c 'import numpy' 2>/dev/null; then
    PYTHON=
    for p in python3 /usr/bin/python3; do
      if "$p" -c 'import numpy' 2>/dev/null; then PYTHON=$p; break; fi
    done
  fi
  if [ -z "$PYTHON" ]; then
    echo "no Python that imports numpy: install python3-numpy or set PYTHON" >&2
    return 1
  fi
  export PYTHON
  T="$BATS_TEST_TMPDIR"
  PATH="$ROOT/bin:$ROOT/build/test:$PATH"
}

setup() { common_setup; }

# py CODE [ARG...]: run CODE with numpy imported as np (and sys, os); extra args in sys.argv[1:].
py() {
  local code=$1; shift
  "$PYTHON" -c "import sys, os
import numpy as np
$code" "$@"
}

# assert_fails STATUS MESSAGE: the last `run --separate-stderr ...` exited with STATUS, wrote
# exactly one line on stderr, equal to MESSAGE (a glob pattern when MESSAGE contains *), and
# nothing on stdout.
assert_fails() {
  local want_status=$1 want=$2
  if [ "$status" -ne "$want_status" ]; then
    echo "expected exit status $want_status, found $status; stderr: $stderr" >&2; return 1
  fi
  if [ "${#stderr_lines[@]}" -ne 1 ]; then
    echo "expected exactly one line on stderr, found ${#stderr_lines[@]}: $stderr" >&2; return 1
  fi
  local match=0
  if [[ "$want" == *'*'* ]]; then
    # shellcheck disable=SC2053
    [[ "$stderr" == $want ]] && match=1
  else
    [[ "$stderr" == "$want" ]] && match=1
  fi
  if [ "$match" -ne 1 ]; then
    printf 'expected stderr: %s\nfound stderr:    %s\n' "$want" "$stderr" >&2; return 1
  fi
  if [ -n "$output" ]; then
    echo "expected nothing on stdout, found: $output" >&2; return 1
  fi
}

# assert_ok: the last `run` exited 0 (prints what it said otherwise).
assert_ok() {
  if [ "$status" -ne 0 ]; then
    echo "expected exit status 0, found $status; stdout: $output; stderr: ${stderr:-}" >&2; return 1
  fi
}

# assert_no_temp DIR: no temp files ("*.tmp.*", as atomic_file.h makes them) are left in DIR.
assert_no_temp() {
  local left
  left=$(find "$1" -maxdepth 1 -name '.*.tmp.*' -print)
  if [ -n "$left" ]; then echo "expected no temp files in $1, found: $left" >&2; return 1; fi
}

# assert_equal FOUND EXPECTED: string equality with both shown on failure.
assert_equal() {
  if [ "$1" != "$2" ]; then printf 'expected: %s\nfound:    %s\n' "$2" "$1" >&2; return 1; fi
}

# procs_with TEXT: the running processes whose command line contains TEXT (none: nothing printed)
procs_with() {
  local f args
  for f in /proc/[0-9]*/cmdline; do
    mapfile -d '' args < "$f" 2>/dev/null || continue
    [[ "${args[*]}" != *"$1"* ]] || echo "${f%/cmdline}: ${args[*]}"
  done
}

# fail_wrapper TOOL NAME [SUBCOMMAND]: a script in $T standing in for TOOL that fails its SUBCOMMAND
# (default train) at once (exit 3)
fail_wrapper() {
  printf '#!/bin/sh\nif [ "$1" = %s ]; then echo "%s: expected a test, found a planted failure" >&2; exit 3; fi\nexec "%s" "$@"\n' \
    "${3:-train}" "$2" "$ROOT/bin/$1" > "$T/$2"
  chmod +x "$T/$2"
}

# pipeline_last_line: the last line of the last run's stderr that the pipeline wrote (make's own
# trailer, "make: *** [TARGET] Error 3", follows it: GNU make always says which target failed)
pipeline_last_line() {
  local l
  for ((l = ${#stderr_lines[@]} - 1; l >= 0; l--)); do
    [[ "${stderr_lines[l]}" =~ ^make(\[[0-9]+\])?:\ \*\*\*\  ]] || { printf '%s\n' "${stderr_lines[l]}"; return; }
  done
}
