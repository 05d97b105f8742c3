#!/usr/bin/env bats
# tools.bats: the command-line conventions every tool in bin/ shares (lib/core/toolopts.h): --help
# on stdout with exit 0, --device cpu everywhere and cuda only where a tool has a CUDA path (the
# others refuse it in one line, exit 2), and the same one-line usage errors for an unknown option
# and a missing value. The tools are every bin/*.c, so a new tool is checked too.

load helpers

CUDA_TOOLS=" gen-step disc-step clip-embed clip-train inception-stats encode-text "

# the tools, and the command word a tool needs before its options
tools() { for f in "$ROOT"/bin/*.c; do t=${f##*/}; echo "${t%.c}"; done; }
command_of() {
  case $1 in gen-step | disc-step) echo init ;; clip-train) echo train ;; ckpt) echo list ;; cfg) echo check ;; *) echo ;; esac
}

@test "every tool answers --help and -h with its usage on stdout and exit 0" {
  for t in $(tools); do
    for h in --help -h; do
      run --separate-stderr "$t" $h
      [ "$status" -eq 0 ] || { echo "$t $h: exit $status" >&2; return 1; }
      [[ "${lines[0]}" == "usage: $t "* ]] || { echo "$t $h: first line '${lines[0]}'" >&2; return 1; }
      [ -z "$stderr" ] || { echo "$t $h: stderr '$stderr'" >&2; return 1; }
    done
    [[ "$output" == *"--device cpu"* ]] || { echo "$t --help does not document --device" >&2; return 1; }
  done
}

@test "a tool without a CUDA path refuses --device cuda in one line, exit 2; the CUDA tools take it" {
  local n=0
  for t in $(tools); do
    mkdir -p "$T/w"; cd "$T/w"
    run --separate-stderr "$t" $(command_of "$t") --device cuda
    if [[ "$CUDA_TOOLS" == *" $t "* ]]; then
      [[ "$stderr" != *"no CUDA path"* ]] || { echo "$t refuses cuda: $stderr" >&2; return 1; }
    else
      assert_fails 2 "$t: expected --device cpu (this tool has no CUDA path), found cuda" || { echo "($t)" >&2; return 1; }
      n=$((n + 1))
    fi
    [ -z "$(ls -A "$T/w")" ] || { echo "$t left files: $(ls -A "$T/w")" >&2; return 1; }
  done
  [ "$n" -ge 15 ]
}

@test "every tool takes --device cpu, refuses other devices, and words unknown options and missing values alike" {
  for t in $(tools); do
    cmd=$(command_of "$t")
    run --separate-stderr "$t" $cmd --device cpu --bogus
    assert_fails 2 "$t: expected a known option, found '--bogus' (see --help)" || { echo "($t)" >&2; return 1; }
    run --separate-stderr "$t" $cmd --device tpu
    assert_fails 2 "$t: --device expects cpu or cuda, found 'tpu'" || { echo "($t)" >&2; return 1; }
    run --separate-stderr "$t" $cmd --device
    assert_fails 2 "$t: expected a value after --device, found none" || { echo "($t)" >&2; return 1; }
  done
}
