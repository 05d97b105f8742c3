#!/usr/bin/env bats
# pipelines_device.bats: with DEVICE=cuda every compute tool a pipeline runs gets --device cuda and
# no other tool gets --device at all, read from the commands make would run (make -n) for the
# whole job (all: data, caches, epochs, grids, tests, sample, eval) of demo.mk (DAMSM and CLIP
# conditions, RANKS=2) and bird.mk on tiny settings. Compute tools: gen-step, disc-step, clip-embed,
# inception-stats, encode-text, clip-train; their --init / init modes (random weights) compute
# nothing and are held to the other tools' rule. Needs no GPU: it reads commands, runs none.

load ../helpers

setup() {
  common_setup
  unset MAKEFLAGS MFLAGS MAKELEVEL
  cd "$T"
  : > bpe.txt.gz      # CLIP_BPE only has to exist for make to plan the CLIP loss and score
}

# check_devices DRYRUN: the rule above over make -n's output in DRYRUN; prints each compute call
check_devices() {
  py '
import re
text = open(sys.argv[1]).read().replace("\\\n", " ")
compute = {"gen-step", "disc-step", "clip-embed", "inception-stats", "encode-text", "clip-train"}
seen, bad = set(), []
for line in text.splitlines():
    for seg in re.split(r"\s(?::::(?:copy|watch)?|\|\||&&|\||;)\s|\$\(", line):
        m = re.search(r"\x27?[^\x27\s]*/bin/([a-z0-9-]+)\x27?((?:\s+\S+)?)", seg)
        if not m:
            continue
        tool, sub = m.group(1), m.group(2).strip()
        init = sub == "init" or re.search(r"\s--init\b", seg) is not None
        has = re.search(r"\s--device[\s=]cuda\b", seg) is not None
        anydev = re.search(r"\s--device\b", seg) is not None
        if tool in compute and not init:
            seen.add(tool + (" " + sub if tool == "clip-embed" else ""))
            if not has: bad.append("no --device cuda: " + seg.strip()[:160])
        elif anydev:
            bad.append("--device given to a tool that computes nothing here: " + seg.strip()[:160])
want = {"gen-step", "disc-step", "inception-stats", "clip-embed loss", "clip-embed score", "clip-embed text"}
want |= set(sys.argv[2].split())
missing = want - seen
assert not bad, "\n".join(bad)
assert not missing, "expected calls of %s in the plan, found none" % sorted(missing)
print("compute calls with --device cuda:", " ".join(sorted(seen)))' "$@"
}

@test "demo.mk DEVICE=cuda: every compute tool gets --device cuda, no other tool gets --device (damsm cond)" {
  make --no-print-directory -n -f "$ROOT/pipelines/demo.mk" all DEVICE=cuda RUN="$T/run" MAX_EPOCH=2 \
    TEST_INTERVAL=1 GEN_INTERVAL=1 LAMBDA_CLIP=0.01 TEXT_ENCODER=damsm CLIP_BPE="$T/bpe.txt.gz" > plan.txt
  check_devices plan.txt encode-text
}

@test "demo.mk DEVICE=cuda, text_encoder clip: the same" {
  make --no-print-directory -n -f "$ROOT/pipelines/demo.mk" all DEVICE=cuda RUN="$T/run" MAX_EPOCH=1 \
    TEXT_ENCODER=clip COND=32 CLIP_BPE="$T/bpe.txt.gz" > plan.txt
  check_devices plan.txt ""
}

@test "demo.mk DEVICE=cuda RANKS=2: the same, the step tools as MPI jobs of 2 ranks" {
  command -v mpirun >/dev/null 2>&1 || skip "no mpirun here (RANKS=2 needs a launcher)"
  make --no-print-directory -n -f "$ROOT/pipelines/demo.mk" all DEVICE=cuda RUN="$T/run" MAX_EPOCH=1 \
    TEXT_ENCODER=damsm LAMBDA_CLIP=0.01 RANKS=2 CLIP_BPE="$T/bpe.txt.gz" > plan.txt
  check_devices plan.txt encode-text
  # clip-embed loss, disc-step and gen-step each under mpirun
  [ "$(grep -o "'mpirun' [^']*-np 2 '[^']*/bin/[a-z-]*' [a-z]* --device cuda" plan.txt | wc -l)" -eq 3 ]
}

@test "bird.mk DEVICE=cuda (a tiny config): the same, DAMSM cond" {
  W="$T/w"
  mkdir -p "$W"
  encode-text --init --vocab-size 30 --seed 3 -o "$W/text_encoder200.npz"
  clip-embed --init --seed 4 --embed-dim 32 --width 64 --layers 1 --patch 8 --image-size 32 \
    --text-width 64 --text-layers 1 -o "$W/clip.npz"
  inception-stats --init --seed 5 -o "$W/inception.npz" 2>/dev/null
  make-dataset --out "$T/birds" --images 48 --seed 1 >/dev/null 2>&1
  sed -e 's|^data_dir:.*|data_dir: '"$T/birds"'|' -e 's|^imsize:.*|imsize: 32|' -e 's|^nf:.*|nf: 2|' \
      -e 's|^batch_size:.*|batch_size: 4|' -e 's|^max_epoch:.*|max_epoch: 1|' \
      -e 's|^test_interval:.*|test_interval: 1|' -e 's|^npz_path:.*|npz_path: ""|' \
      -e 's|^clip_weights:.*|clip_weights: '"$W/clip.npz"'\ninception_weights: '"$W/inception.npz"'|' \
      -e 's|DAMSM_NAME:.*|DAMSM_NAME: '"$W/text_encoder200.npz"'|' \
      "$ROOT/cfg/bird.yml" > "$T/bird.yml"
  make --no-print-directory -n -f "$ROOT/pipelines/bird.mk" all CFG="$T/bird.yml" RUN="$T/run" DEVICE=cuda \
    CLIP_BPE="$T/bpe.txt.gz" > plan.txt
  check_devices plan.txt encode-text
}

# check_ipc DRYRUN WANT: the calls in make -n's output that carry --ipc are exactly WANT (words
# "gen-step:train disc-step:train clip-embed:loss", or ""), and each of them also --device cuda
check_ipc() {
  py '
import re
text = open(sys.argv[1]).read().replace("\\\n", " ")
got, bad = set(), []
for line in text.splitlines():
    for seg in re.split(r"\s(?::::(?:copy|watch)?|\|\||&&|\||;)\s|\$\(", line):
        m = re.search(r"\x27?[^\x27\s]*/bin/([a-z0-9-]+)\x27?\s+(\S+)", seg)
        if m and re.search(r"\s--ipc\b", seg):
            got.add(m.group(1) + ":" + m.group(2))
            if not re.search(r"\s--device[\s=]cuda\b", seg): bad.append(seg.strip()[:160])
want = set(sys.argv[2].split())
assert got == want, "expected --ipc on %s, found it on %s" % (sorted(want), sorted(got))
assert not bad, "--ipc without --device cuda: " + "\n".join(bad)' "$@"
}

@test "demo.mk: with DEVICE=cuda an epoch's gen-step, disc-step and clip-embed loss get --ipc; IPC=off or DEVICE=cpu: none" {
  local all="gen-step:train disc-step:train clip-embed:loss"
  for s in "DEVICE=cuda:$all" "DEVICE=cuda IPC=off:" "DEVICE=cpu:" "DEVICE=cpu IPC=auto:"; do
    # shellcheck disable=SC2086
    make --no-print-directory -n -f "$ROOT/pipelines/demo.mk" all ${s%%:*} RUN="$T/run" MAX_EPOCH=1 \
      LAMBDA_CLIP=0.01 CLIP_BPE="$T/bpe.txt.gz" > plan.txt
    check_ipc plan.txt "${s#*:}"
  done
  run --separate-stderr make --no-print-directory -n -f "$ROOT/pipelines/demo.mk" all DEVICE=cuda IPC=on RUN="$T/run" \
    CLIP_BPE="$T/bpe.txt.gz"
  [ "$status" -ne 0 ]
  [[ "$stderr" == *"demo.mk: IPC expects auto or off, found 'on'"* ]]
}
