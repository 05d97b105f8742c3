#!/usr/bin/env bats
# run_epoch.bats: bin/run-epoch alone, with tiny shell commands in place of the epoch's tools:
# commands joined by FIFOs and :::copy succeeding; the first failure stopping the others (one
# blocked for ever opening a FIFO, one asleep, one ignoring SIGTERM until --grace) and named; a
# command exiting 1 named before one killed by a signal or by SIGPIPE; exit statuses; :::watch;
# run-epoch itself stopped (SIGTERM) or killed (kill -9); --settle (the others given time to end
# by themselves after a failure, as MPI jobs ending their ranks); --copy alone (%r: the launcher's
# rank); usage errors in one line.
# Every child command has $T in its argv, so that `left` finds any that outlived run-epoch, and
# execs what runs long (run-epoch signals its commands, not their children).

load helpers

setup_file() {
  unset MAKEFLAGS MFLAGS MAKELEVEL
  make --no-print-directory -s -C "$ROOT" bin/run-epoch >&2
}

# left: run-epoch's commands still running, the processes whose command line holds $T and that
# are not run-epoch (nor timeout) itself (none: nothing printed)
left() {
  local f args
  for f in /proc/[0-9]*/cmdline; do
    mapfile -d '' args 2>/dev/null < "$f" || continue
    [[ "${args[*]}" == *"$T/"* && "${args[0]}" != *run-epoch && "${args[0]}" != timeout ]] && echo "${f%/cmdline}: ${args[*]}"
  done
  return 0
}

setup() {
  common_setup
  # a command asleep for 1000 s, $T in its argv (exec: no child process of its own to outlive it)
  asleep=(bash -c 'exec -a "$0" sleep 1000' "$T/asleep")
}

# ms: milliseconds since 1970
ms() { echo $(( $(date +%s%N) / 1000000 )); }

@test "run-epoch: commands joined by FIFOs and :::copy all succeed: exit 0, the data through, FIFOs removed" {
  seq 1 200000 > "$T/in.txt"   # 1.2 MB: many pipe buffers through the copy
  run --separate-stderr run-epoch --fifo "$T/a" --fifo "$T/b" --fifo "$T/c" \
    ::: sh -c 'cat "$1" > "$2"; echo producer done' sh "$T/in.txt" "$T/a" \
    :::copy "$T/a" "$T/b" "$T/c" "$T/copy.txt" \
    ::: sh -c 'cat "$1" > "$2"' sh "$T/b" "$T/out_b.txt" \
    ::: sh -c 'cat "$1" > "$2"' sh "$T/c" "$T/out_c.txt"
  assert_ok
  [ -z "$stderr" ]
  assert_equal "$output" "producer done"
  for f in out_b out_c copy; do cmp "$T/in.txt" "$T/$f.txt"; done
  [ ! -e "$T/a" ] && [ ! -e "$T/b" ] && [ ! -e "$T/c" ]
  [ -z "$(left)" ]
}

@test "run-epoch: the first failure stops the others (one blocked for ever on a FIFO, one asleep) and is named with its status" {
  local t0=$(ms)
  # command 3 fails at once; 1 waits for ever to open a FIFO nobody else opens; 2 sleeps; 4
  # reads a FIFO whose writer (5) waits for command 3's output that never comes
  run --separate-stderr timeout 20 run-epoch --fifo "$T/never" --fifo "$T/p" \
    ::: sh -c 'exec cat "$1"' sh "$T/never" \
    ::: "${asleep[@]}" \
    ::: sh -c 'echo "bad-tool: expected a test, found a planted failure" >&2; exit 3' sh "$T/" \
    ::: sh -c 'exec cat "$1" > /dev/null' sh "$T/p" \
    ::: bash -c 'exec -a "$0" sleep 1000 > "$1"' "$T/writer" "$T/p"
  [ "$status" -eq 3 ]
  [ -z "$output" ]
  assert_equal "${#stderr_lines[@]}" 2
  assert_equal "${stderr_lines[0]}" "bad-tool: expected a test, found a planted failure"
  assert_equal "${stderr_lines[1]}" "run-epoch: expected every command to succeed, found command 3 (sh) exiting with status 3"
  (( $(ms) - t0 < 5000 ))
  [ ! -e "$T/never" ] && [ ! -e "$T/p" ]
  [ -z "$(left)" ]
}

@test "run-epoch: the cause named: exiting 1..127 before killed by a signal, before killed by SIGPIPE, before stopped" {
  # command 1 dies of SIGKILL first (once command 2 has set its trap); command 2 ignores the
  # SIGTERM that follows and exits 1: command 2 is the cause
  run --separate-stderr timeout 20 run-epoch --fifo "$T/sync" \
    ::: sh -c 'read x < "$1"; kill -KILL $$' sh "$T/sync" \
    ::: sh -c 'trap "" TERM; echo > "$1"; sleep 0.3; echo "tool2: expected x, found y" >&2; exit 1' sh "$T/sync"
  [ "$status" -eq 1 ]
  assert_equal "${stderr_lines[0]}" "tool2: expected x, found y"
  assert_equal "${stderr_lines[1]}" "run-epoch: expected every command to succeed, found command 2 (sh) exiting with status 1"
  # alone, the signal is the cause (128+9), the other one stopped
  run --separate-stderr timeout 20 run-epoch ::: sh -c 'kill -KILL $$' sh "$T/" ::: "${asleep[@]}"
  assert_fails 137 "run-epoch: expected every command to succeed, found command 1 (sh) killed by signal 9 (Killed)"
  # reader 4 closes its FIFO: the copy dies of SIGPIPE first (then the writer, 1), and reader 4,
  # ignoring the SIGTERM, exits 2 (or dies of SIGSEGV) after: reader 4 is the cause
  local reader='trap "" TERM; exec 3< "$1"; head -c 300000 <&3 > /dev/null; exec 3<&-; sleep 0.3; echo "reader: expected z, found w" >&2'
  for end in 'exit 2' 'kill -SEGV $$'; do
    run --separate-stderr timeout 20 run-epoch --fifo "$T/a" --fifo "$T/b" --fifo "$T/c" \
      ::: sh -c 'exec yes > "$1"' sh "$T/a" \
      :::copy "$T/a" "$T/b" "$T/c" \
      ::: sh -c 'exec cat "$1" > /dev/null' sh "$T/b" \
      ::: sh -c "$reader; $end" sh "$T/c"
    assert_equal "${stderr_lines[0]}" "reader: expected z, found w"
    if [ "$end" = 'exit 2' ]; then
      [ "$status" -eq 2 ]
      assert_equal "${stderr_lines[1]}" "run-epoch: expected every command to succeed, found command 4 (sh) exiting with status 2"
    else
      [ "$status" -eq 139 ]
      assert_equal "${stderr_lines[1]}" "run-epoch: expected every command to succeed, found command 4 (sh) killed by signal 11 (Segmentation fault)"
    fi
  done
  # the copy alone on a broken pipe (and the writer behind it): SIGPIPE is the status (128+13)
  run --separate-stderr timeout 20 run-epoch --fifo "$T/a" --fifo "$T/b" \
    ::: sh -c 'exec yes > "$1"' sh "$T/a" :::copy "$T/a" "$T/b" ::: sh -c 'exec head -c 1 "$1" > /dev/null' sh "$T/b"
  [ "$status" -eq 141 ]
  [[ "${stderr_lines[-1]}" == "run-epoch: expected every command to succeed, found command "[12]" ("*") killed by signal 13 (Broken pipe)"* ]]
  [ -z "$(left)" ]
}

@test "run-epoch: a command ignoring SIGTERM is killed after --grace; one not found exits 127" {
  local t0=$(ms)
  run --separate-stderr timeout 20 run-epoch --grace 0.2 --fifo "$T/sync" \
    ::: sh -c 'read x < "$1"; exit 4' sh "$T/sync" \
    ::: sh -c 'trap "" TERM; echo > "$1"; while :; do :; done' sh "$T/sync"
  assert_fails 4 "run-epoch: expected every command to succeed, found command 1 (sh) exiting with status 4"
  (( $(ms) - t0 < 5000 ))
  [ -z "$(left)" ]
  run -127 --separate-stderr run-epoch ::: "$T/no-such-tool" --flag ::: "${asleep[@]}"
  [ "$status" -eq 127 ]
  assert_equal "${stderr_lines[0]}" "run-epoch: expected a command to run, found '$T/no-such-tool': No such file or directory"
  assert_equal "${stderr_lines[1]}" "run-epoch: expected every command to succeed, found command 1 (no-such-tool) exiting with status 127"
  [ -z "$(left)" ]
}

@test "run-epoch: :::watch runs beside the others, is stopped (SIGTERM) when they end, and its status is ignored" {
  run --separate-stderr timeout 20 run-epoch ::: sleep 0.2 \
    :::watch sh -c 'trap "echo stopped > \"\$1\"; exit 5" TERM; while :; do sleep 0.05; done' sh "$T/watch.txt"
  assert_ok
  assert_equal "$(cat "$T/watch.txt")" stopped
  # a watcher that fails at once changes nothing; one that ends by itself neither
  run --separate-stderr timeout 20 run-epoch :::watch sh -c 'exit 7' ::: sleep 0.2 :::watch true
  assert_ok
  # stopped with the others when one fails
  run --separate-stderr timeout 20 run-epoch :::watch "${asleep[@]}" ::: sh -c 'sleep 0.1; exit 6'
  [ "$status" -eq 6 ]
  [[ "$stderr" == *"found command 2 (sh) exiting with status 6"* ]]
  [ -z "$(left)" ]
}

@test "run-epoch: sent SIGTERM it stops the commands, removes its FIFOs and dies of it; killed with -9, its commands get SIGTERM" {
  run-epoch --fifo "$T/f" ::: "${asleep[@]}" ::: sh -c 'exec cat "$1"' sh "$T/f" 2> "$T/err" &
  local pid=$!
  for _ in $(seq 200); do [ -e "$T/f" ] && [ -n "$(left)" ] && break; sleep 0.01; done
  sleep 0.1
  kill -TERM "$pid"
  local rc=0
  wait "$pid" || rc=$?
  [ "$rc" -eq 143 ]
  [ ! -s "$T/err" ]
  [ ! -e "$T/f" ]
  [ -z "$(left)" ]
  run-epoch ::: "${asleep[@]}" ::: "${asleep[@]}" &
  pid=$!
  for _ in $(seq 200); do [ "$(left | wc -l)" -eq 2 ] && break; sleep 0.01; done
  [ "$(left | wc -l)" -eq 2 ]
  kill -KILL "$pid"
  wait "$pid" || true
  for _ in $(seq 200); do [ -z "$(left)" ] && break; sleep 0.01; done
  [ -z "$(left)" ]
}

@test "run-epoch --settle: after a failure the others get S seconds to end by themselves, then are stopped" {
  local t0=$(ms)
  # command 1 fails at once; command 2 ends by itself 1 s later (with 0: it is not stopped); 3
  # would sleep for ever and is stopped once the 2 s are over
  run --separate-stderr timeout 20 run-epoch --settle 2 \
    ::: sh -c 'exit 4' sh "$T/" \
    ::: sh -c 'sleep 1; echo "ended by itself" > "$1"' sh "$T/second" \
    ::: "${asleep[@]}"
  [ "$status" -eq 4 ]
  assert_equal "$stderr" "run-epoch: expected every command to succeed, found command 1 (sh) exiting with status 4"
  assert_equal "$(cat "$T/second")" "ended by itself"
  local took=$(( $(ms) - t0 ))
  (( took >= 2000 && took < 6000 ))
  [ -z "$(left)" ]
  # everything ending within the settling: no waiting for the rest of it
  t0=$(ms)
  run --separate-stderr timeout 20 run-epoch --settle 30 ::: sh -c 'exit 4' sh "$T/" ::: sh -c 'sleep 0.5' sh "$T/"
  [ "$status" -eq 4 ]
  (( $(ms) - t0 < 5000 ))
  # without it (the default), command 2 is stopped at once
  run --separate-stderr timeout 20 run-epoch ::: sh -c 'exit 4' sh "$T/" \
    ::: sh -c 'sleep 1; echo "ended by itself" > "$1"' sh "$T/third"
  [ "$status" -eq 4 ] && [ ! -e "$T/third" ]
  run --separate-stderr run-epoch --settle -1 ::: true
  assert_fails 2 "run-epoch: --settle expects seconds in [0, 3600], found '-1'"
}

@test "run-epoch --copy: IN to every OUT in this process; %r is the MPI launcher's rank, 0 without one" {
  seq 1 100000 > "$T/in.0"
  run --separate-stderr run-epoch --copy "$T/in.%r" "$T/a.%r" "$T/b"
  assert_ok
  [ -z "$output$stderr" ]
  cmp "$T/in.0" "$T/a.0" && cmp "$T/in.0" "$T/b"
  # as rank 1 of an OpenMPI or an MPICH/hydra job (their environments)
  seq 5 > "$T/in.1"
  OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=1 run-epoch --copy "$T/in.%r" "$T/c.%r"
  PMI_SIZE=2 PMI_RANK=1 run-epoch --copy "$T/in.%r" "$T/d.%r"
  cmp "$T/in.1" "$T/c.1" && cmp "$T/in.1" "$T/d.1"
  # FIFOs, opened in order: a reader of OUT, a writer of IN
  mkfifo "$T/f_in" "$T/f_out"
  cat "$T/f_out" > "$T/e" &
  seq 3 > "$T/f_in" &
  timeout 20 run-epoch --copy "$T/f_in" "$T/f_out"
  wait
  assert_equal "$(cat "$T/e")" $'1\n2\n3'
  run --separate-stderr run-epoch --copy "$T/in.0"
  assert_fails 2 "run-epoch: expected --copy IN OUT [OUT]..., found 1 path"
  run --separate-stderr run-epoch --copy "$T/in.0" "$T/x" ::: true
  assert_fails 2 "run-epoch: expected --copy IN OUT [OUT]... alone, found ':::' after it"
  run --separate-stderr run-epoch --copy --fifo "$T/f" "$T/in.0" "$T/x"
  assert_fails 2 "run-epoch: expected --copy IN OUT [OUT]... alone, found --fifo"
  run --separate-stderr run-epoch --copy "$T/missing" "$T/x"
  assert_fails 1 "run-epoch: copy: expected to read '$T/missing', found No such file or directory"
  [ ! -e "$T/x" ] && [ ! -e "$T/f" ]
}

@test "run-epoch: --help on stdout; usage errors in one line, exit 2, nothing started" {
  run --separate-stderr run-epoch --help
  assert_ok
  [[ "$output" == "usage: run-epoch "* && "$output" == *":::watch"* ]]
  [ -z "$stderr" ]
  run --separate-stderr run-epoch
  assert_fails 2 "run-epoch: expected ::: and a command, found none (see --help)"
  run --separate-stderr run-epoch touch "$T/x"
  assert_fails 2 "run-epoch: expected :::, :::copy or :::watch before a command, found 'touch'"
  run --separate-stderr run-epoch ::: touch "$T/x" ::: ::: true
  assert_fails 2 "run-epoch: expected a command after ::: (command 2), found none"
  run --separate-stderr run-epoch ::: touch "$T/x" :::copy "$T/a"
  assert_fails 2 "run-epoch: expected :::copy IN OUT [OUT]... (command 2), found 1 path"
  run --separate-stderr run-epoch :::watch touch "$T/x"
  assert_fails 2 "run-epoch: expected at least one ::: or :::copy command, found only :::watch"
  run --separate-stderr run-epoch --grace -1 ::: touch "$T/x"
  assert_fails 2 "run-epoch: --grace expects seconds in [0, 3600], found '-1'"
  run --separate-stderr run-epoch --fifo ::: touch "$T/x"
  assert_fails 2 "run-epoch: expected a value after --fifo, found none"
  run --separate-stderr run-epoch --fifos "$T/f" ::: touch "$T/x"
  assert_fails 2 "run-epoch: expected a known option, found '--fifos' (see --help)"
  # after the first separator every word is the commands'
  run --separate-stderr run-epoch ::: printf '%s\n' --fifo --grace
  assert_ok
  assert_equal "$output" $'--fifo\n--grace'
  # an existing path, a missing folder: the FIFOs made before it are removed
  : > "$T/there"
  run --separate-stderr run-epoch --fifo "$T/new" --fifo "$T/there" ::: touch "$T/x"
  assert_fails 2 "run-epoch: --fifo: expected a new FIFO at '$T/there', found something there"
  run --separate-stderr run-epoch --fifo "$T/new" --fifo "$T/no/f" ::: touch "$T/x"
  assert_fails 2 "run-epoch: --fifo: expected a new FIFO at '$T/no/f', found No such file or directory"
  [ ! -e "$T/new" ] && [ ! -e "$T/x" ]
}
