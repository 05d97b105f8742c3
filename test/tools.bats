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

# ---- output folders: checked when the options are read, before any work ----

# every option that names an output, as "FLAG|TOOL ARGS" with @OUT@ where the path goes; the
# inputs named do not exist: the output check comes first (make-dataset checks its --out folder
# itself, before any image, in its own words)
OUTPUTS='
--images|batches --cache x --emb x --imsize 8 --batch 1 --epoch 0 --images @OUT@ --cond c
--cond|batches --cache x --emb x --imsize 8 --batch 1 --epoch 0 --images i --cond @OUT@
--index|batches --cache x --emb x --imsize 8 --batch 1 --epoch 0 --images i --cond c --index @OUT@
-o|cfg make x.yml -o @OUT@
-o|ckpt import x -o @OUT@
-o|ckpt import --dfgan x -o @OUT@
-o|clip-embed text --weights w --in x -o @OUT@
--log|clip-embed loss --weights w --text t --in x --log @OUT@
-o|clip-embed --init -o @OUT@
-o|clip-train train --weights w --images i --ids d -o @OUT@
--state|clip-train train --weights w --images i --ids d -o o --state @OUT@
--log|clip-train train --weights w --images i --ids d -o o --log @OUT@
--dump-grads|clip-train train --weights w --images i --ids d -o o --dump-grads @OUT@
-o|disc-step init --imsize 32 --nf 2 --cond-dim 8 -o @OUT@
--save|disc-step train --ckpt x --real x --cond x --fake x --grad-out g --save @OUT@
--grad-out|disc-step train --ckpt x --real x --cond x --fake x --grad-out @OUT@ --save s
--log|disc-step train --ckpt x --real x --cond x --fake x --grad-out g --save s --log @OUT@
--dump-grads|disc-step train --ckpt x --real x --cond x --fake x --grad-out g --save s --dump-grads @OUT@
-o|encode-text --weights w -o @OUT@
--words|encode-text --weights w --words @OUT@
-o|encode-text --init --vocab-size 10 -o @OUT@
-o|feature-stats -o @OUT@ x
-o|gen-step init --imsize 32 --nf 2 --z-dim 4 --cond-dim 8 -o @OUT@
-o|gen-step forward --ckpt x --noise x --cond x -o @OUT@
--save|gen-step train --ckpt x --noise x --cond x --grad g --save @OUT@
--fake-out|gen-step train --ckpt x --noise x --cond x --grad g --save s --fake-out @OUT@
--log|gen-step train --ckpt x --noise x --cond x --grad g --save s --log @OUT@
--dump-grads|gen-step train --ckpt x --noise x --cond x --grad g --save s --dump-grads @OUT@
--images|import-cub --root r --split train --imsize 32 --images @OUT@ --captions c
--captions|import-cub --root r --split train --imsize 32 --images i --captions @OUT@
--filenames|import-cub --root r --split train --imsize 32 --images i --captions c --filenames @OUT@
--boxes|import-cub --root r --split train --imsize 32 --images i --captions c --boxes @OUT@
--crops|import-cub --root r --split train --imsize 32 --images i --captions c --crops @OUT@
--shapes|import-cub --root r --split train --imsize 32 --images i --captions c --shapes @OUT@
-o|inception-stats --weights w -o @OUT@ x
--features-out|inception-stats --weights w --features-out @OUT@ -o o x
-o|inception-stats --init -o @OUT@
|make-dataset --out @OUT@
-o|noise --batch 1 --dim 1 --batches 1 -o @OUT@
-o|npy-png --in x -o @OUT@
-o|plot-metrics --in x -o @OUT@
--draws-out|r-precision --images x --text x --draws-out @OUT@
--images|synth-shapes --imsize 16 --batch 2 --batches 1 --cond-dim 4 --images @OUT@ --cond c
--cond|synth-shapes --imsize 16 --batch 2 --batches 1 --cond-dim 4 --images i --cond @OUT@
--captions|synth-shapes --imsize 16 --batch 2 --batches 1 --cond-dim 4 --images i --cond c --captions @OUT@
-o|tokenize --clip -o @OUT@ x
-o|tokenize --build-vocab -o @OUT@ x
'
# the tools with no output file path: they print, or take a folder (tb-log --dir) or make FIFOs
# (run-epoch --fifo), checked before any work by their own rules in tensorboard.bats, run_epoch.bats
NO_OUTPUT=" fid kid npy-info progress tb-log run-epoch "

@test "every output option is checked before any work: a missing folder, a file as the folder, a folder at the path (exit 2, one line naming the option)" {
  mkdir -p "$T/w"; cd "$T/w"
  : > "$T/file"
  mkdir "$T/dir"
  local flag cmd args n=0 seen=" "
  while IFS='|' read -r flag cmd; do
    [ -n "$cmd" ] || continue
    read -r -a args <<< "$cmd"
    seen+="${args[0]} "
    local pre=${flag:+$flag: }
    run --separate-stderr "${args[@]//@OUT@/$T/none/out.x}"
    assert_fails 2 "${args[0]}: ${pre}expected a writable folder for '$T/none/out.x', found '$T/none': No such file or directory" || { echo "($cmd)" >&2; return 1; }
    run --separate-stderr "${args[@]//@OUT@/$T/file/out.x}"
    assert_fails 2 "${args[0]}: ${pre}expected a writable folder for '$T/file/out.x', found '$T/file': Not a directory" || { echo "($cmd)" >&2; return 1; }
    if [ "${args[0]}" != make-dataset ] && [[ "$cmd" != *--dfgan* ]]; then
      run --separate-stderr "${args[@]//@OUT@/$T/dir}"
      assert_fails 2 "${args[0]}: ${pre}expected a file path for output, found a folder '$T/dir'" || { echo "($cmd)" >&2; return 1; }
    fi
    [ -z "$(find "$T/w" "$T/dir" -mindepth 1)" ] || { echo "$cmd left files: $(find "$T/w" "$T/dir" -mindepth 1)" >&2; return 1; }
    n=$((n + 1))
  done <<< "$OUTPUTS"
  [ "$n" -ge 45 ]
  # every tool is here or prints only
  for t in $(tools) fid; do
    [[ "$seen$NO_OUTPUT" == *" $t "* ]] || { echo "$t: no output option in OUTPUTS (nor in NO_OUTPUT)" >&2; return 1; }
  done
}

# ---- process name and error line ----

@test "the tools keep their own name for ps and pkill (ps -o comm=), after the OpenMP re-exec too" {
  cd "$T"
  local t pid
  for t in "noise --batch 1 --dim 1 --batches 1" "gen-step init --imsize 32 --nf 1 --z-dim 2 --cond-dim 2" "inception-stats --init"; do
    rm -f out.fifo && mkfifo out.fifo
    # without OMP_WAIT_POLICY the tool starts itself again (lib/core/common.c); it then blocks opening its FIFO
    env -u OMP_WAIT_POLICY "$ROOT/bin/"$t -o out.fifo &
    pid=$!
    for _ in $(seq 600); do tr '\0' '\n' < "/proc/$pid/environ" 2>/dev/null | grep -qx 'OMP_WAIT_POLICY=passive' && break; sleep 0.05; done
    tr '\0' '\n' < "/proc/$pid/environ" | grep -qx 'OMP_WAIT_POLICY=passive'     # re-exec'd
    assert_equal "$(ps -o comm= -p "$pid")" "${t%% *}"
    assert_equal "$(tr '\0' ' ' < "/proc/$pid/cmdline")" "$ROOT/bin/$t -o out.fifo "
    cat out.fifo > /dev/null
    wait "$pid"
  done
}

@test "the error line is the last line on stderr: after the warnings and log lines, after stdout, one only when threads fail together" {
  # every OpenMP thread failing at once: one whole error line, last (the old three-part fprintf
  # printed two or interleaved them)
  for _ in $(seq 20); do
    run --separate-stderr die_race 8
    [ "$status" -eq 1 ] && [ "${#stderr_lines[@]}" -eq 2 ] || { echo "exit $status: $stderr" >&2; return 1; }
    [ "${stderr_lines[0]}" = "die_race: warning: a warning before the error" ]
    [[ "${stderr_lines[1]}" == "die_race: expected nothing to fail, found thread "*" of 8 failing ("*"0123456789)" ]]
    # stdout and stderr into one file: the error after stdout's data, not before it
    die_race 8 > "$T/both" 2>&1 || true
    [[ "$(tail -n 1 "$T/both")" == "die_race: expected nothing to fail, found thread "* ]]
    [ "$(head -n 1 "$T/both")" = "stdout data written before the error" ]
  done
  # a training tool's per-batch lines (no --log: on stderr) come before its error, which ends stderr
  cd "$T"
  gen-step init --imsize 32 --nf 1 --z-dim 2 --cond-dim 2 -o G.npz
  py 'r = np.random.default_rng(0)
with open("z.npy", "wb") as f:
    for _ in range(2): np.save(f, r.standard_normal((2, 2)).astype(np.float32))
with open("c.npy", "wb") as f:
    for _ in range(2): np.save(f, r.standard_normal((2, 2)).astype(np.float32))
np.save("g.npy", r.standard_normal((2, 3, 32, 32)).astype(np.float32) * 1e-3)'
  run --separate-stderr gen-step train --ckpt G.npz --noise z.npy --cond c.npy --grad g.npy --save G2.npz
  [ "$status" -eq 2 ] && [ "${#stderr_lines[@]}" -eq 2 ] || { echo "exit $status: $stderr" >&2; return 1; }
  [[ "${stderr_lines[0]}" == "gen-step: batch 1 grad_norm "* ]]
  [[ "${stderr_lines[1]}" == "gen-step: --grad g.npy: expected "* ]]
  [ ! -e G2.npz ]
  # npy-info's lines on stdout for the arrays before a bad one, its error after them in one stream
  py 'np.save("one.npy", np.zeros((2, 3), np.float32))'
  { cat one.npy; printf 'not an array'; } > bad.npy
  npy-info bad.npy > both 2>&1 || true
  [[ "$(head -n 1 both)" == *"(2,3)"* ]]
  [[ "$(tail -n 1 both)" == "npy-info: "* ]]
}
