#!/usr/bin/env bats
# progress.bats: bin/progress, the epoch's progress line: the plain line's format and values, the
# terminal's bar (forced with --tty, and found by itself under script(1)), following logs as they
# grow (a line per step, its end at the last step), stopping on SIGTERM or when its parent ends,
# and usage errors.

load helpers

setup_file() {
  unset MAKEFLAGS MFLAGS MAKELEVEL
  make --no-print-directory -s -C "$ROOT" bin/progress >&2
}

# logs in $T: two steps of disc-step's losses (the second line's values shown), one CLIP line,
# and the start of a third losses line (not a step yet)
logs() {
  printf '%s\n' '{"batch": 1, "errD": 1.5, "errG": 0.25}' '{"batch": 2, "errD": 1.25, "errG": -0.5, "clip_loss": 7}' > "$T/losses.jsonl"
  printf '{"batch": 3, "errD": 9' >> "$T/losses.jsonl"
  printf '%s\n' '{"batch": 1, "clip_loss": 0.0099123, "mean_cos": 0.01}' > "$T/clip.jsonl"
  # 100 s ago: 2 steps are 0.02 it/s, the 2 left 100 s more
  START=$(( $(date +%s%N) - 100000000000 ))
}

@test "progress --plain: step, percent, it/s, ETA and the last values, keys looked up log by log" {
  logs
  run --separate-stderr progress --plain --once --steps 4 --prefix "epoch 2/3" --start "$START" \
    --keys errD,errG,clip_loss,mean_cos,missing --log "$T/losses.jsonl" --log "$T/clip.jsonl"
  assert_ok
  [ -z "$output" ]
  [[ "$stderr" =~ ^"epoch 2/3: step 2/4 (50%), 0.02 it/s, ETA 1:4"[0-9]", errD 1.25, errG -0.5, clip_loss 7, mean_cos 0.01"$ ]] || { echo "$stderr"; false; }
  # no prefix; clip_loss from the second log when the first has none; no steps yet
  printf '%s\n' '{"batch": 1, "errD": 2}' > "$T/one.jsonl"
  run --separate-stderr progress --plain --once --steps 3 --keys errD,clip_loss --log "$T/one.jsonl" --log "$T/clip.jsonl"
  assert_ok
  [[ "$stderr" =~ ^"step 1/3 (33%), "[0-9.]+" it/s, ETA "[0-9:]+", errD 2, clip_loss 0.009912"$ ]] || { echo "$stderr"; false; }
  run --separate-stderr progress --plain --once --steps 3 --keys errD --log "$T/nothing-yet.jsonl"
  assert_ok
  assert_equal "$stderr" "step 0/3 (0%), - it/s, ETA -"
}

@test "progress --tty: a bar redrawn in place, cut to the terminal's width" {
  logs
  run --separate-stderr progress --tty --once --steps 4 --prefix "epoch 2/3" --start "$START" --keys errD,errG \
    --log "$T/losses.jsonl"
  assert_ok
  [[ "$stderr" =~ ^$'\r'"epoch 2/3 [==========>         ] 2/4 0.02 it/s ETA 1:4"[0-9]" errD 1.25 errG -0.5"$'\e[K'$ ]] || { echo "$stderr" | od -c; false; }
  COLUMNS=30 run --separate-stderr progress --tty --once --steps 4 --prefix "epoch 2/3" --keys errD --log "$T/losses.jsonl"
  assert_equal "$stderr" $'\r'"epoch 2/3 [==========>       "$'\e[K'
}

@test "progress: a terminal on stderr is found by itself (script), a pipe gets plain lines" {
  command -v script >/dev/null || skip "no script(1)"
  logs
  script -qec "'$ROOT/bin/progress' --once --steps 4 --keys errD --log '$T/losses.jsonl'" /dev/null > "$T/tty.out"
  grep -q $'\r\\[==========>         \\] 2/4 .* errD 1.25\e\\[K' "$T/tty.out" || { od -c "$T/tty.out"; false; }
  progress --once --steps 4 --keys errD --log "$T/losses.jsonl" 2> "$T/pipe.out"
  grep -qx 'step 2/4 (50%), .* it/s, ETA .*, errD 1.25' "$T/pipe.out"
}

@test "progress: follows growing logs, a line every --every-steps steps, ends at the last step" {
  : > "$T/l.jsonl"
  { for i in 1 2 3; do sleep 0.2; printf '{"batch": %d, "errD": %d.5}\n' $i $i >> "$T/l.jsonl"; done; } &
  run --separate-stderr timeout 20 progress --steps 3 --every 0 --every-steps 1 --poll 0.05 --prefix e --keys errD --log "$T/l.jsonl"
  wait
  assert_ok
  [ "${#stderr_lines[@]}" -eq 3 ]
  for i in 1 2 3; do
    [[ "${stderr_lines[i - 1]}" == "e: step $i/3 ($(( i * 100 / 3 ))%), "*" it/s, ETA "*", errD $i.5" ]] || { echo "$stderr"; false; }
  done
  # the terminal's line is drawn while it waits, then cleared
  { sleep 0.5; echo '{"batch": 4}' >> "$T/l.jsonl"; } &
  run --separate-stderr timeout 20 progress --tty --steps 4 --poll 0.05 --log "$T/l.jsonl"
  wait
  assert_ok
  [[ "$stderr" == $'\r'*"] 3/4 "*$'\r\e[K' ]] || { echo "$stderr" | od -c; false; }
}

@test "progress: plain lines by time; stops on SIGTERM (clearing a terminal's line) and when its parent ends" {
  printf '%s\n' '{"errD": 1}' > "$T/l.jsonl"
  progress --steps 5 --every 0.2 --poll 0.05 --keys errD --log "$T/l.jsonl" 2> "$T/plain.err" &
  local pid=$!
  for _ in $(seq 200); do [ "$(wc -l < "$T/plain.err")" -ge 2 ] && break; sleep 0.05; done
  kill -TERM $pid
  wait $pid
  # lines by time, all the same but for the rate and the ETA
  [ "$(wc -l < "$T/plain.err")" -ge 2 ]
  [ "$(grep -cv '^step 1/5 (20%), .* it/s, ETA .*, errD 1$' "$T/plain.err")" -eq 0 ]
  progress --tty --steps 5 --poll 0.05 --log "$T/l.jsonl" 2> "$T/tty.err" &
  pid=$!
  sleep 0.3
  kill -TERM $pid
  wait $pid
  [[ "$(cat "$T/tty.err")" == $'\r'*$'\r\e[K' ]]
  # the process it watches (a shell) ends at once: it ends too, within a poll
  bash -c "'$ROOT/bin/progress' --pid \$\$ --steps 5 --poll 0.05 --log '$T/l.jsonl' >/dev/null 2>&1 & echo \$! > '$T/pid'"
  for _ in $(seq 100); do kill -0 "$(cat "$T/pid")" 2>/dev/null || break; sleep 0.05; done
  if kill -0 "$(cat "$T/pid")" 2>/dev/null; then kill "$(cat "$T/pid")"; false; fi
}

@test "progress: --help, and usage errors as one line with exit 2" {
  run --separate-stderr progress --help
  assert_ok
  [[ "$output" == "usage: progress --steps N"* ]]
  run --separate-stderr progress --log x
  assert_fails 2 "progress: expected --steps N, found none"
  run --separate-stderr progress --steps 3
  assert_fails 2 "progress: expected --log FILE, found none"
  run --separate-stderr progress --steps 0 --log x
  assert_fails 2 "progress: --steps expects an integer in [1, 1099511627776], found '0'"
  run --separate-stderr progress --steps 3 --log x --tty --plain
  assert_fails 2 "progress: expected one of --tty and --plain, found both"
  run --separate-stderr progress --steps 3 --log x --every -1
  assert_fails 2 "progress: --every expects seconds >= 0, found '-1'"
  run --separate-stderr progress --steps 3 --log x --pid 0
  assert_fails 2 "progress: --pid expects an integer in [1, 2147483647], found '0'"
  run --separate-stderr progress --steps 3 --log x --colour
  assert_fails 2 "progress: expected a known option, found '--colour' (see --help)"
}
