#!/usr/bin/env bats
# test/tokenize_pickle.bats: `tokenize --vocab captions_DAMSM.pickle`, DF-GAN's own vocabulary file
# ([train_captions, test_captions, ixtoword, wordtoix]), against test/reference/damsm_pickle_ref.py:
# pickles written by Python's pickle (protocols 2 and 4, and one with shuffled ids) and the ids
# DF-GAN's code gives with their wordtoix, compared exactly; and bad pickles refused in one line.

load helpers

FIX="$BATS_TEST_DIRNAME/fixtures/damsm_pickle"
TOKFIX="$BATS_TEST_DIRNAME/fixtures/tokenize"

setup() {
  common_setup
  cd "$T"
  LINES=("$TOKFIX/bird.txt" "$TOKFIX/coco.txt" "$FIX/lines.txt")
}

# same_ids OUT.npy KEY: exactly the fixture's ids
same_ids() {
  py '
a = np.load(sys.argv[1]); z = np.load(sys.argv[2])[sys.argv[3]]
assert a.dtype == np.int32, a.dtype
assert a.shape == z.shape, (a.shape, z.shape)
bad = np.nonzero((a != z).any(axis=1))[0]
for i in bad[:5]:
    print("row %d\n  expected %s\n  found    %s" % (i, z[i].tolist(), a[i].tolist()))
assert len(bad) == 0, "%d of %d rows differ" % (len(bad), len(a))
' "$1" "$FIX/expected.npz" "$2"
}

@test "pickle: DF-GAN's captions_DAMSM.pickle (protocol 2 and 4) gives DF-GAN's ids, --first and --seed" {
  for p in p2 p4; do
    run --separate-stderr tokenize --vocab "$FIX/captions_$p.pickle" --first "${LINES[@]}" -o first.npy
    assert_ok
    [ -z "$stderr" ]
    same_ids first.npy first
    tokenize --vocab "$FIX/captions_$p.pickle" --seed 0 "${LINES[@]}" > seed0.npy
    same_ids seed0.npy seed0
  done
  # some captions are longer than 18 words, so --seed really subsamples
  py 'z = np.load(sys.argv[1]); assert (z["first"] != z["seed0"]).any()' "$FIX/expected.npz"
}

@test "pickle: the pickle's ids are used as they are (shuffled ids, not order of appearance)" {
  tokenize --vocab "$FIX/captions_shuffled.pickle" --first "${LINES[@]}" > first.npy
  same_ids first.npy shuffled_first
  tokenize --vocab "$FIX/captions_shuffled.pickle" --seed 0 "${LINES[@]}" > seed0.npy
  same_ids seed0.npy shuffled_seed0
  py 'z = np.load(sys.argv[1]); assert (z["first"] != z["shuffled_first"]).any()' "$FIX/expected.npz"
}

@test "pickle: the same words as a --build-vocab text file give the same ids" {
  # wordtoix in id order, one word a line, is the text vocabulary of the same ids
  py '
import pickle
w = pickle.load(open(sys.argv[1], "rb"))[3]
open("v.txt", "w").write("".join(k + "\n" for k, _ in sorted(w.items(), key=lambda kv: kv[1])))
' "$FIX/captions_shuffled.pickle"
  tokenize --vocab v.txt --first "${LINES[@]}" > txt.npy
  tokenize --vocab "$FIX/captions_shuffled.pickle" --first "${LINES[@]}" > pk.npy
  cmp txt.npy pk.npy
}

# bad PICKLE_NAME PYTHON_OBJECT_EXPRESSION MESSAGE: refused with exit 2, one line, no output file
bad() {
  py "
import pickle
ok_i = {0: '<end>', 1: 'bird'}; ok_w = {'<end>': 0, 'bird': 1}
pickle.dump($2, open(sys.argv[1], 'wb'), protocol=2)" "$1"
  run --separate-stderr tokenize --vocab "$1" -o out.npy /dev/null
  assert_fails 2 "tokenize: $3"
  [ ! -e out.npy ]
}

@test "pickle: wrong structure is refused in one line (exit 2)" {
  bad d.pickle '{"a": 1}' \
    "expected [train_captions, test_captions, ixtoword, wordtoix] in 'd.pickle', found a dict"
  bad three.pickle '[[[1]], [[1]], ok_i]' \
    "expected [train_captions, test_captions, ixtoword, wordtoix] in 'three.pickle', found a list of 3"
  bad tuple.pickle '([[1]], [[1]], ok_i, ok_w)' \
    "expected [train_captions, test_captions, ixtoword, wordtoix] in 'tuple.pickle', found a tuple of 4"
  bad caps.pickle '[{}, [[1]], ok_i, ok_w]' \
    "expected train_captions (item 0) of 'caps.pickle' to be a list, found a dict"
  bad wl.pickle '[[[1]], [[1]], ok_i, [["<end>", 0]]]' \
    "expected wordtoix (item 3) of 'wl.pickle' to be a dict, found a list"
  bad empty.pickle '[[], [], {}, {}]' \
    "expected 1 to 2^30 words in wordtoix of 'empty.pickle', found 0"
}

@test "pickle: bad keys and ids are refused in one line (non-str keys, no <end>, ids not 0..n-1)" {
  bad bytes.pickle '[[[1]], [[1]], ok_i, {b"<end>": 0, b"bird": 1}]' \
    "expected str keys in wordtoix of 'bytes.pickle', found a bytes at entry 0"
  bad int.pickle '[[[1]], [[1]], ok_i, {0: "<end>"}]' \
    "expected str keys in wordtoix of 'int.pickle', found an int at entry 0"
  bad noend.pickle '[[[1]], [[1]], {0: "bird", 1: "red"}, {"bird": 0, "red": 1}]' \
    "expected '<end>' (id 0) in wordtoix of 'noend.pickle', found no '<end>'"
  bad end1.pickle '[[[1]], [[1]], {1: "<end>", 0: "bird"}, {"bird": 0, "<end>": 1}]' \
    "expected '<end>' to be id 0 in wordtoix of 'end1.pickle', found id 0 'bird'"
  bad gap.pickle '[[[1]], [[1]], {0: "<end>", 2: "bird"}, {"<end>": 0, "bird": 2}]' \
    "expected ids 0 to 1 in wordtoix of 'gap.pickle', found 'bird': 2"
  bad dup.pickle '[[[1]], [[1]], ok_i, {"<end>": 0, "bird": 1, "red": 1}]' \
    "expected each id once in wordtoix of 'dup.pickle', found 1 for 'bird' and 'red'"
  bad strid.pickle '[[[1]], [[1]], ok_i, {"<end>": 0, "bird": "1"}]' \
    "expected int ids in wordtoix of 'strid.pickle', found a str for 'bird'"
  bad inv.pickle '[[[1]], [[1]], {0: "<end>", 1: "red"}, ok_w]' \
    "expected ixtoword to be the inverse of wordtoix in 'inv.pickle', found ixtoword[1] = 'red' where wordtoix gives 'bird'"
  bad invn.pickle '[[[1]], [[1]], {0: "<end>"}, ok_w]' \
    "expected ixtoword to have the 2 entries of wordtoix in 'invn.pickle', found 1"
}

@test "pickle: truncated and code-running pickles are refused, nothing runs" {
  head -c 20 "$FIX/captions_p2.pickle" > trunc.pickle
  run --separate-stderr tokenize --vocab trunc.pickle /dev/null
  assert_fails 2 "tokenize: expected a STOP opcode, found the data ending (truncated pickle) (pickle byte 20 of trunc.pickle)"
  py '
import os, pickle
class E:
    def __reduce__(self): return (os.system, ("touch pwned",))
pickle.dump([[[1]], [[1]], {0: "<end>"}, {"<end>": E()}], open("evil.pickle", "wb"), protocol=2)'
  run --separate-stderr tokenize --vocab evil.pickle /dev/null
  assert_fails 2 "tokenize: expected a pickled state dict using only tensors, storages, OrderedDict and plain data, found the global '*system' (refused: unpickling it could run code) (pickle byte * of evil.pickle)"
  [ ! -e pwned ]
}

@test "a COCO-size captions_DAMSM.pickle (millions of token ids) is read" {
  cd "$T"
  py '
import pickle
words = ["<end>"] + ["w%d" % i for i in range(1, 27000)]
caps = [[(7 * i + j) % 26999 + 1 for j in range(15)] for i in range(320000)]   # 4.8 M ids
pickle.dump([caps[:250000], caps[250000:], dict(enumerate(words)), {w: i for i, w in enumerate(words)}],
            open("big.pickle", "wb"), protocol=4)
open("c.txt", "w").write("w5 w26999 nope w1\n")'
  run --separate-stderr tokenize --vocab big.pickle --first -o ids.npy c.txt
  assert_ok
  py 'assert np.load("ids.npy")[0, :4].tolist() == [5, 26999, 1, 0]'
}
