#!/usr/bin/env bats
# test/tokenize.bats: bin/tokenize against the fixtures of test/reference/tokenize_ref.py, which
# runs OpenAI's own CLIP tokenizer (clip/simple_tokenizer.py) and DF-GAN's caption code:
#   --clip   ids equal OpenAI's on every example caption and on 1,741 varied strings (contexts
#            77, 16, 2, 1); the strings where ftfy's mojibake repair matters are listed apart
#            as known differences, with what we give instead;
#   --vocab / --build-vocab   DF-GAN's vocabulary and ids (first words, seeded subsets);
# and the manners: errors (exit 2, one line, nothing on stdout, no output file left), streams,
# batches, the BPE file's search path, and the speed on 100,000 captions.

load helpers

FIX="$BATS_TEST_DIRNAME/fixtures/tokenize"

setup() {
  common_setup
  unset CLIP_BPE
  BPE="$ROOT/../shared/data/clip/bpe_simple_vocab_16e6.txt.gz"
  cd "$T"
}

need_bpe() {
  [ -f "$BPE" ] || skip "CLIP's BPE merges are not at $BPE (shared/ beside the repository)"
}

# same_ids OUT.npy FIXTURE.npz KEY LINES.txt: exactly equal, else the first different lines.
same_ids() {
  py '
a = np.load(sys.argv[1]); z = np.load(sys.argv[2])[sys.argv[3]]
lines = open(sys.argv[4], encoding="utf-8", newline="").read().split("\n")[:-1]
assert a.dtype == np.int32, a.dtype
assert a.shape == z.shape, (a.shape, z.shape)
bad = np.nonzero((a != z).any(axis=1))[0]
for i in bad[:5]:
    print("line %d %r\n  expected %s\n  found    %s" % (i + 1, lines[i][:100], z[i][z[i] != 0].tolist(), a[i][a[i] != 0].tolist()))
assert len(bad) == 0, "%d of %d rows differ" % (len(bad), len(a))
' "$@"
}

@test "tokenize --help prints the usage on stdout and exits 0" {
  run --separate-stderr tokenize --help
  assert_ok
  [[ "$output" == usage:* ]]
  [[ "$output" == *--build-vocab* ]]
  [ -z "$stderr" ]
}

# ---------------------------------------------------------------- CLIP

@test "clip: every example caption (bird, coco) gets OpenAI's ids" {
  need_bpe
  for name in bird coco; do
    shared="$ROOT/../shared/data/example_captions/$name.txt"
    if [ -f "$shared" ]; then cmp "$shared" "$FIX/$name.txt"; fi
    run --separate-stderr tokenize --clip "$FIX/$name.txt" -o "$name.npy"
    assert_ok
    same_ids "$name.npy" "$FIX/clip_$name.npz" ids "$FIX/$name.txt"
  done
}

@test "clip: 1,741 varied strings get OpenAI's ids exactly" {
  need_bpe
  [ "$(wc -l < "$FIX/clip_strings.txt")" -ge 1000 ]
  run --separate-stderr tokenize --clip --bpe "$BPE" "$FIX/clip_strings.txt" -o ids.npy
  assert_ok
  same_ids ids.npy "$FIX/clip_strings.npz" ids "$FIX/clip_strings.txt"
}

@test "clip: --context 16, 2 and 1 truncate as clip.tokenize(truncate=True)" {
  need_bpe
  for c in 16 2 1; do
    tokenize --clip --context "$c" "$FIX/clip_strings.txt" > ids.npy
    same_ids ids.npy "$FIX/clip_strings.npz" "ids_ctx$c" "$FIX/clip_strings.txt"
  done
  # rows longer than the context end in the end token
  py 'a = np.load("ids.npy"); assert a.shape[1] == 1 and (a == 49407).all()'
}

@test "clip: known differences: mojibake that ftfy would re-decode is tokenized as it stands" {
  # ftfy.fix_text's fix_encoding (mojibake repair: "cafÃ©" -> "café") is not reproduced. On these
  # strings our ids are OpenAI's tokenizer's with fix_text(..., fix_encoding=False), and differ
  # from OpenAI's own.
  need_bpe
  tokenize --clip "$FIX/clip_known_diff.txt" > ids.npy
  same_ids ids.npy "$FIX/clip_known_diff.npz" ours "$FIX/clip_known_diff.txt"
  py '
a = np.load("ids.npy"); z = np.load(sys.argv[1])
assert ((a != z["openai"]).any(axis=1)).all(), "expected every known difference to differ from OpenAI"
print("%d known differences" % len(a))
' "$FIX/clip_known_diff.npz"
}

@test "clip: stdin, '-', several files and --batch" {
  need_bpe
  head -n 3 "$FIX/bird.txt" > a.txt
  tail -n 2 "$FIX/bird.txt" > b.txt
  cat a.txt b.txt > ab.txt
  tokenize --clip ab.txt > all.npy
  tokenize --clip < ab.txt > stdin.npy
  tokenize --clip a.txt - < b.txt > parts.npy
  cmp all.npy stdin.npy
  cmp all.npy parts.npy
  tokenize --clip --batch 2 ab.txt > batches.npy
  py '
f = open("batches.npy", "rb"); whole = np.load("all.npy")
parts = [np.lib.format.read_array(f) for _ in range(3)]
assert f.read() == b""
assert [p.shape for p in parts] == [(2, 77), (2, 77), (1, 77)], [p.shape for p in parts]
assert (np.concatenate(parts) == whole).all()
'
}

@test "clip: empty input is one (0,77) array; an empty line is [sot, eot]" {
  need_bpe
  tokenize --clip < /dev/null > empty.npy
  py 'a = np.load("empty.npy"); assert a.shape == (0, 77) and a.dtype == np.int32, a.shape'
  printf '\n\n' | tokenize --clip --context 4 > two.npy
  py 'a = np.load("two.npy"); assert a.tolist() == [[49406, 49407, 0, 0]] * 2, a'
  tokenize --clip --batch 5 < /dev/null > none.npy
  [ ! -s none.npy ]
}

@test "clip: -o writes atomically and leaves no temp file" {
  need_bpe
  run --separate-stderr tokenize --clip -o out.npy "$FIX/coco.txt"
  assert_ok
  [ -z "$output" ]
  py 'assert np.load("out.npy").shape == (62, 77)'
  assert_no_temp .
}

@test "clip: the BPE file is found through --bpe, \$CLIP_BPE and the default path; plain text works too" {
  need_bpe
  echo "a photo of a bird" > cap.txt
  tokenize --clip cap.txt > default.npy
  CLIP_BPE="$BPE" tokenize --clip cap.txt > env.npy
  gzip -dc "$BPE" > merges.txt
  tokenize --clip --bpe merges.txt cap.txt > plain.npy
  cmp default.npy env.npy
  cmp default.npy plain.npy
  py 'assert np.load("default.npy")[0, :7].tolist() == [49406, 320, 1125, 539, 320, 3329, 49407]'
}

@test "clip: a missing BPE file is one line naming the flag, the variable, the paths and where to get it" {
  run --separate-stderr tokenize --clip --bpe nowhere.gz /dev/null
  assert_fails 2 "tokenize: expected a readable BPE merges file at 'nowhere.gz' (--bpe), found: No such file or directory"
  CLIP_BPE=gone.gz run --separate-stderr tokenize --clip /dev/null
  assert_fails 2 "tokenize: expected a readable BPE merges file at 'gone.gz' (\$CLIP_BPE), found: No such file or directory"
  mkdir -p inst/bin
  cp "$ROOT/bin/tokenize" inst/bin/
  run --separate-stderr inst/bin/tokenize --clip -o out.npy /dev/null
  assert_fails 2 "tokenize: expected CLIP's BPE merges bpe_simple_vocab_16e6.txt.gz from --bpe FILE, \$CLIP_BPE or one of $T/inst/../shared/data/clip/bpe_simple_vocab_16e6.txt.gz, $T/inst/data/clip/bpe_simple_vocab_16e6.txt.gz, $T/inst/share/dfgan/bpe_simple_vocab_16e6.txt.gz, found none (get it from the openai/CLIP repository, clip/bpe_simple_vocab_16e6.txt.gz, or any open_clip install)"
  [ ! -e out.npy ]
  assert_no_temp .
}

@test "clip: a BPE file that is not CLIP's is refused in one line" {
  need_bpe
  gzip -dc "$BPE" | head -n 1000 | gzip > short.gz
  run --separate-stderr tokenize --clip --bpe short.gz /dev/null
  assert_fails 2 "tokenize: expected at least 48894 merge lines after the header in 'short.gz', found 1000"
  { gzip -dc "$BPE" | head -n 10; echo "a b c"; gzip -dc "$BPE" | tail -n +12; } | gzip > bad.gz
  run --separate-stderr tokenize --clip --bpe bad.gz /dev/null
  assert_fails 2 "tokenize: expected two symbols on line 11 of 'bad.gz', found 'a b c'"
  head -c 100 "$BPE" > trunc.gz
  run --separate-stderr tokenize --clip --bpe trunc.gz /dev/null
  [ "$status" -eq 2 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
}

# ---------------------------------------------------------------- input errors

@test "invalid UTF-8 is an error naming the line and byte, and no output is left" {
  need_bpe
  printf 'a fine caption\nbad \xff byte\n' > bad.txt
  run --separate-stderr tokenize --clip bad.txt -o out.npy
  assert_fails 2 "tokenize: expected UTF-8 text, found byte 0xff at line 2, byte 5 of 'bad.txt'"
  [ ! -e out.npy ]
  assert_no_temp .
  for seq in '\xc0\xaf' '\xed\xa0\x80' '\xf4\x90\x80\x80' '\xe2\x82' '\x80'; do
    printf "x$seq" > s.txt
    run --separate-stderr tokenize --vocab "$FIX/damsm_vocab.txt" s.txt
    assert_fails 2 "tokenize: expected UTF-8 text, found byte 0x* at line 1, byte 2 of 's.txt'"
  done
  printf 'ok\n' | tokenize --build-vocab > /dev/null
  printf '\xfe\n' > b2.txt
  run --separate-stderr tokenize --build-vocab b2.txt
  assert_fails 2 "tokenize: expected UTF-8 text, found byte 0xfe at line 1, byte 1 of 'b2.txt'"
}

@test "bad flags: exit 2 with one line" {
  run --separate-stderr tokenize
  assert_fails 2 "tokenize: expected one of --clip, --vocab VOCAB or --build-vocab, found none"
  run --separate-stderr tokenize --clip --wat
  assert_fails 2 "tokenize: expected a known option, found '--wat' (see --help)"
  run --separate-stderr tokenize --clip --vocab v.txt
  assert_fails 2 "tokenize: expected one of --clip, --vocab, --build-vocab, found --clip with --vocab"
  run --separate-stderr tokenize --vocab "$FIX/damsm_vocab.txt" --seed 1 --first
  assert_fails 2 "tokenize: expected --seed or --first, found both"
  run --separate-stderr tokenize --clip --context 0
  assert_fails 2 "tokenize: --context expects an integer in [1, 1048576], found '0'"
  run --separate-stderr tokenize --vocab "$FIX/damsm_vocab.txt" --max-words x
  assert_fails 2 "tokenize: --max-words expects an integer in [1, 1048576], found 'x'"
  run --separate-stderr tokenize --vocab "$FIX/damsm_vocab.txt" --bpe x.gz
  assert_fails 2 "tokenize: expected --bpe only with --clip, found it with --vocab"
  run --separate-stderr tokenize --clip --first
  assert_fails 2 "tokenize: expected --first only with --vocab, found it with --clip"
  run --separate-stderr tokenize --build-vocab --batch 3
  assert_fails 2 "tokenize: expected --batch only with --clip or --vocab, found it with --build-vocab"
  run --separate-stderr tokenize --clip --captions-per-file 2
  assert_fails 2 "tokenize: expected --captions-per-file only with --build-vocab, found it with --clip"
  run --separate-stderr tokenize --clip -o
  assert_fails 2 "tokenize: expected a value after -o, found none"
  run --separate-stderr tokenize --clip missing.txt
  [ -f "$BPE" ] || skip "no BPE file"
  assert_fails 2 "tokenize: expected a readable captions file, found 'missing.txt': No such file or directory"
}

# ---------------------------------------------------------------- DAMSM

@test "damsm: --build-vocab equals DF-GAN's build_dictionary (all captions, and 5 per file)" {
  run --separate-stderr tokenize --build-vocab "$FIX/bird.txt" "$FIX/coco.txt" "$FIX/clip_strings.txt" -o vocab.txt
  assert_ok
  cmp vocab.txt "$FIX/damsm_vocab.txt"
  tokenize --build-vocab --captions-per-file 5 "$FIX/bird.txt" "$FIX/coco.txt" "$FIX/clip_strings.txt" > v5.txt
  cmp v5.txt "$FIX/damsm_vocab_per5.txt"
  printf '%s\n' "$FIX/bird.txt" "$FIX/coco.txt" > list.txt
  tokenize --build-vocab --files-from list.txt "$FIX/clip_strings.txt" > order.txt
  # positional FILEs first, then the listed ones: a different first-appearance order
  [ "$(sort order.txt | md5sum)" = "$(sort vocab.txt | md5sum)" ]
  [ "$(head -n 1 order.txt)" = "<end>" ]
  assert_no_temp .
}

@test "damsm: ids equal DF-GAN's (first 18 words, seeded random subsets, --max-words)" {
  V="$FIX/damsm_vocab.txt"
  S="$FIX/clip_strings.txt"
  tokenize --vocab "$V" --first "$S" > first.npy
  same_ids first.npy "$FIX/damsm_ids.npz" first "$S"
  tokenize --vocab "$V" "$S" > seed0.npy
  same_ids seed0.npy "$FIX/damsm_ids.npz" seed0 "$S"
  tokenize --vocab "$V" --seed 1234 "$S" > seed1234.npy
  same_ids seed1234.npy "$FIX/damsm_ids.npz" seed1234 "$S"
  tokenize --vocab "$V" --max-words 5 --seed 3 "$S" > m5.npy
  same_ids m5.npy "$FIX/damsm_ids.npz" max5_seed3 "$S"
}

@test "damsm: the seeded subsets are numpy's RandomState shuffles, live" {
  py '
rs = np.random.RandomState(99)
words = ["w%d" % i for i in range(1, 200)]
with open("v.txt", "w") as f: f.write("<end>\n" + "\n".join(words) + "\n")
with open("c.txt", "w") as f:
    for n in list(range(0, 70)) + [rs.randint(19, 400) for _ in range(200)]:
        f.write(" ".join(rs.choice(words, n)) + "\n")
'
  tokenize --vocab v.txt --seed 4242 c.txt > ids.npy
  py '
wordtoix = {w: i for i, w in enumerate(open("v.txt").read().split())}
np.random.seed(4242)
a = np.load("ids.npy")
for r, line in enumerate(open("c.txt").read().split("\n")[:-1]):
    cap = np.asarray([wordtoix[w] for w in line.split()], dtype="int64")
    x = np.zeros(18, dtype="int64")
    if len(cap) <= 18: x[:len(cap)] = cap
    else:
        ix = list(np.arange(len(cap))); np.random.shuffle(ix); x[:] = cap[np.sort(ix[:18])]
    assert (a[r] == x).all(), (r, a[r], x)
'
}

@test "damsm: lowercase, \\w runs, non-ASCII dropped inside words, unknown words dropped" {
  printf '<end>\nbird\ncaf\nnave\nred_wing\n2\n' > v.txt
  printf 'A BIRD café\nNaïve red_wing, 2 birds\n\n' | tokenize --vocab v.txt --max-words 4 > ids.npy
  py 'assert np.load("ids.npy").tolist() == [[1, 2, 0, 0], [3, 4, 5, 0], [0, 0, 0, 0]], np.load("ids.npy")'
}

@test "damsm: bad vocabularies are refused in one line (missing, no <end>, repeated word)" {
  run --separate-stderr tokenize --vocab nowhere.txt /dev/null
  assert_fails 2 "tokenize: expected a readable vocabulary file (--vocab), found 'nowhere.txt': No such file or directory"
  printf 'bird\n' > v1.txt
  run --separate-stderr tokenize --vocab v1.txt /dev/null
  assert_fails 2 "tokenize: expected '<end>' on line 1 of vocabulary 'v1.txt', found 'bird'"
  printf '<end>\nbird\nbird\n' > v2.txt
  run --separate-stderr tokenize --vocab v2.txt /dev/null
  assert_fails 2 "tokenize: expected each word once in vocabulary 'v2.txt', found 'bird' again on line 3"
  printf '<end>\n\nbird\n' > v3.txt
  run --separate-stderr tokenize --vocab v3.txt /dev/null
  assert_fails 2 "tokenize: expected a word on line 2 of vocabulary 'v3.txt', found an empty line"
  : > v4.txt
  run --separate-stderr tokenize --vocab v4.txt /dev/null
  assert_fails 2 "tokenize: expected '<end>' on line 1 of vocabulary 'v4.txt', found an empty file"
}

# ---------------------------------------------------------------- speed

@test "100,000 captions tokenize both ways (the time is printed; speed is measured by make bench)" {
  need_bpe
  py '
import random
r = random.Random(1)
caps = [l for n in ("bird", "coco") for l in open(os.path.join(sys.argv[1], n + ".txt")).read().split("\n") if l]
words = " ".join(caps).split()
with open("100k.txt", "w") as f:
    for i in range(100000):
        f.write(" ".join(r.choice(words) for _ in range(r.randint(8, 25))) + "\n")
' "$FIX"
  tokenize --build-vocab 100k.txt > v.txt
  for mode in "--clip" "--vocab v.txt"; do
    t0=$(date +%s%N)
    tokenize $mode 100k.txt > ids.npy
    t1=$(date +%s%N)
    ms=$(( (t1 - t0) / 1000000 ))
    echo "# tokenize $mode: 100,000 captions in $ms ms" >&3
  done
  py 'assert np.load("ids.npy").shape == (100000, 18)'
}
