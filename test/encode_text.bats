#!/usr/bin/env bats
# test/encode_text.bats: bin/encode-text (DF-GAN's DAMSM text encoder, RNN_ENCODER in eval mode)
# against the fixtures of test/reference/damsm_ref.py (torch.nn.LSTM over pack_padded_sequence in
# float64, through DF-GAN's own sort / encode / unsort path, random weights at full size:
# vocab 500, 300, 128 per direction): sentence and word embeddings within 1e-5 (rel L2); streams
# of several arrays, int64 ids, batch independence; --init (keys, shapes, ranges, seeds); and the
# manners: errors exit 2 with one line, nothing on stdout, no output file left.

load helpers

FIX="$BATS_TEST_DIRNAME/fixtures/damsm"
W="$FIX/weights.npz"

setup() {
  common_setup
  cd "$T"
}

CMP() { "$PYTHON" "$ROOT/test/reference/compare.py" "$@"; }

# write_ids FILE PYEXPR: np.save(FILE, eval(PYEXPR)) with `ids` = the fixture's first array.
write_ids() {
  py 'ids = np.load(sys.argv[3]); np.save(sys.argv[1], eval(sys.argv[2]))' "$1" "$2" "$FIX/ids.npy"
}

# bad_weights FILE PYCODE: the fixture weights as dict `w`, changed by PYCODE, saved to FILE.
bad_weights() {
  py 'w = dict(np.load(sys.argv[3])); exec(sys.argv[2]); np.savez(sys.argv[1], **w)' "$1" "$2" "$W"
}

@test "encode-text --help prints the usage on stdout and exits 0" {
  run --separate-stderr encode-text --help
  assert_ok
  [[ "$output" == usage:* ]]
  [[ "$output" == *--words* ]]
  [[ "$output" == *--init* ]]
  [ -z "$stderr" ]
}

# ---------------------------------------------------------------- parity with PyTorch

@test "parity: sentence embeddings of every fixture array within 1e-5 of PyTorch's float64" {
  run --separate-stderr encode-text --weights "$W" -o sent.npy < "$FIX/ids.npy"
  assert_ok
  [ -z "$stderr" ]
  run CMP sent.npy "$FIX/expected.npz:sent.*" --tol 1e-5
  echo "$output"
  echo "# sentence: ${lines[-1]}" >&3
  assert_ok
}

@test "parity: word embeddings (--words) within 1e-5 of PyTorch's, zeros past each length" {
  encode-text --weights "$W" --words words.npy -o sent.npy < "$FIX/ids.npy"
  run CMP words.npy "$FIX/expected.npz:words.*" --tol 1e-5
  echo "$output"
  echo "# words: ${lines[-1]}" >&3
  assert_ok
  CMP sent.npy "$FIX/expected.npz:sent.*" --tol 1e-5
  py '
f = open(sys.argv[1], "rb"); i = np.load(open(sys.argv[2], "rb"))
w = np.load(f)
assert w.dtype == np.float32 and w.shape == (7, 256, 18), (w.dtype, w.shape)
lens = (i != 0).sum(1)
for r, n in enumerate(lens):
    assert not w[r, :, n:].any(), r        # exactly zero past the length
    assert (w[r, :, :n] != 0).any(axis=0).all(), r
' words.npy "$FIX/ids.npy"
  # the sentence is the forward half at len-1 and the backward half at 0, bit for bit
  py '
s = np.load(sys.argv[1]); w = np.load(sys.argv[2]); i = np.load(sys.argv[3])
for r, n in enumerate((i != 0).sum(1)):
    assert np.array_equal(s[r, :128], w[r, :128, n - 1]) and np.array_equal(s[r, 128:], w[r, 128:, 0]), r
' sent.npy words.npy "$FIX/ids.npy"
}

@test "outputs: float32 (B,256) per input array, the same through -o, --ids and stdout" {
  encode-text --weights "$W" < "$FIX/ids.npy" > a.npy
  encode-text --weights "$W" --ids "$FIX/ids.npy" -o b.npy
  cmp a.npy b.npy
  py '
f = open(sys.argv[1], "rb")
shapes = []
while f.peek(1):
    a = np.load(f); assert a.dtype == np.float32; shapes.append(a.shape)
assert shapes == [(7, 256), (5, 256), (4, 256)], shapes
' a.npy
}

@test "streams: int64 ids give the same bytes as int32" {
  py '
f = open(sys.argv[1], "rb"); g = open("ids64.npy", "wb")
while f.peek(1): np.save(g, np.load(f).astype(np.int64))
' "$FIX/ids.npy"
  encode-text --weights "$W" --words w32.npy < "$FIX/ids.npy" > s32.npy
  encode-text --weights "$W" --words w64.npy < ids64.npy > s64.npy
  cmp s32.npy s64.npy
  cmp w32.npy w64.npy
}

@test "streams: a batch split into several arrays, reordered or alone, gives the same rows" {
  py '
ids = np.load(sys.argv[1])
with open("split.npy", "wb") as f:
    for part in (ids[:3], ids[3:4], ids[4:]): np.save(f, part)
perm = np.array([6, 2, 0, 5, 1, 4, 3])
np.save("perm.npy", ids[perm]); np.save("perm_idx.npy", perm)
with open("alone.npy", "wb") as f:
    for r in range(len(ids)): np.save(f, ids[r:r + 1])
' "$FIX/ids.npy"
  write_ids one.npy 'ids'
  encode-text --weights "$W" --words w.npy < one.npy > s.npy
  for x in split perm alone; do encode-text --weights "$W" --words "w_$x.npy" < "$x.npy" > "s_$x.npy"; done
  py '
def stream(p):
    f = open(p, "rb"); out = []
    while f.peek(1): out.append(np.load(f))
    return np.concatenate(out)
s, w = np.load("s.npy"), np.load("w.npy")
perm = np.load("perm_idx.npy")
for name, idx in (("split", slice(None)), ("alone", slice(None)), ("perm", perm)):
    for a, ref in ((stream("s_%s.npy" % name), s), (stream("w_%s.npy" % name), w)):
        err = np.linalg.norm(a - ref[idx]) / np.linalg.norm(ref)
        assert err < 1e-6, (name, err)
'
}

@test "streams: an empty stream gives an empty output; an array of no rows gives (0,256)" {
  : > empty.npy
  run --separate-stderr encode-text --weights "$W" -o out.npy < empty.npy
  assert_ok
  [ -f out.npy ] && [ ! -s out.npy ]
  py 'np.save("zero.npy", np.zeros((0, 18), np.int32))'
  encode-text --weights "$W" --words w.npy < zero.npy > s.npy
  py 'assert np.load("s.npy").shape == (0, 256) and np.load("w.npy").shape == (0, 256, 18)'
}

# ---------------------------------------------------------------- --init

@test "--init: RNN_ENCODER's keys, shapes and init ranges; a seed gives the same file" {
  run --separate-stderr encode-text --init --vocab-size 777 --seed 5 -o a.npz
  assert_ok
  encode-text --init --vocab-size 777 --seed 5 -o b.npz
  encode-text --init --vocab-size 777 --seed 6 -o c.npz
  cmp a.npz b.npz
  ! cmp -s a.npz c.npz
  py '
z = np.load("a.npz"); c = np.load("c.npz")
keys = ["encoder.weight"] + ["rnn.%s_l0%s" % (k, s) for s in ("", "_reverse")
                             for k in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
assert list(z.keys()) == keys, list(z.keys())
shapes = [(777, 300), (512, 300), (512, 128), (512,), (512,)] + [(512, 300), (512, 128), (512,), (512,)]
for k, s in zip(keys, shapes):
    a = z[k]
    assert a.dtype == np.float32 and a.shape == s, (k, a.dtype, a.shape)
    bound = 0.1 if k == "encoder.weight" else 1 / np.sqrt(128)
    assert np.abs(a).max() <= bound and np.abs(a).max() > 0.98 * bound, (k, np.abs(a).max())
    # uniform on [-b, b): mean 0, std b/sqrt(3) (within 5 standard errors)
    sd = bound / np.sqrt(3)
    assert abs(a.mean()) < 5 * sd / np.sqrt(a.size), (k, a.mean())
    assert abs(a.std() / sd - 1) < 5 * np.sqrt(0.8 / a.size) / 2, (k, a.std())
    assert not np.array_equal(a, c[k]), k
# parameters are drawn independently of each other
assert not np.array_equal(z["rnn.bias_ih_l0"], z["rnn.bias_hh_l0"])
'
}

@test "--init: --ninput and --nhidden set the sizes, and the file encodes" {
  encode-text --init --vocab-size 40 --ninput 16 --nhidden 8 --seed 1 -o small.npz
  py '
z = np.load("small.npz")
assert z["encoder.weight"].shape == (40, 16) and z["rnn.weight_ih_l0_reverse"].shape == (16, 16)
assert z["rnn.weight_hh_l0"].shape == (16, 4)
assert np.abs(z["rnn.weight_hh_l0"]).max() <= 0.5
np.save("ids.npy", np.array([[3, 39, 1, 0], [7, 0, 0, 0]], np.int32))
'
  encode-text --weights small.npz --words w.npy < ids.npy > s.npy
  py '
s = np.load("s.npy"); w = np.load("w.npy")
assert s.shape == (2, 8) and w.shape == (2, 8, 4) and np.isfinite(s).all() and (np.abs(s) < 1).all()
'
}

@test "--init: writes atomically to stdout with -o - (numpy reads it)" {
  encode-text --init --vocab-size 10 --ninput 4 --nhidden 2 > z.npz
  py 'assert np.load("z.npz")["encoder.weight"].shape == (10, 4)'
}

# ---------------------------------------------------------------- bad input

@test "bad ids: float ids, 1-d or 3-d arrays -> exit 2 naming the array" {
  write_ids f.npy 'ids.astype(np.float32)'
  run --separate-stderr encode-text --weights "$W" < f.npy
  assert_fails 2 "encode-text: stdin: expected int32 token ids (B,L), found float32 (7,18) in array 0"
  write_ids d3.npy 'ids[None]'
  run --separate-stderr encode-text --weights "$W" --ids d3.npy
  assert_fails 2 "encode-text: --ids: expected int32 token ids (B,L), found int32 (1,7,18) in array 0"
  # the second array of a stream is bad: named, and nothing left at -o
  py 'f = open("two.npy", "wb"); np.save(f, np.ones((2, 4), np.int32)); np.save(f, np.ones(4, np.int32))'
  run --separate-stderr encode-text --weights "$W" -o out.npy < two.npy
  assert_fails 2 "encode-text: stdin: expected int32 token ids (B,L), found int32 (4,) in array 1"
  [ ! -e out.npy ]
  assert_no_temp .
}

@test "bad ids: an id outside the vocabulary -> exit 2 naming the row, the column and the id" {
  write_ids big.npy 'np.where(np.arange(18) == 3, 500, ids) * (ids != 0)'
  run --separate-stderr encode-text --weights "$W" < big.npy
  assert_fails 2 "encode-text: stdin: expected token ids in [0,500) (the encoder's vocabulary), found 500 in row 0, column 3 in array 0"
  write_ids neg.npy 'np.where((np.arange(7) == 5)[:, None] & (np.arange(18) == 0), -2, ids)'
  run --separate-stderr encode-text --weights "$W" --words w.npy -o s.npy < neg.npy
  assert_fails 2 "encode-text: stdin: expected token ids in [0,500) (the encoder's vocabulary), found -2 in row 5, column 0 in array 0"
  [ ! -e w.npy ] && [ ! -e s.npy ]
  write_ids huge.npy 'np.where(ids == ids[2, 0], 2**40, ids).astype(np.int64)'
  run --separate-stderr encode-text --weights "$W" < huge.npy
  assert_fails 2 "encode-text: stdin: expected token ids that fit int32, found 1099511627776 in row 2 of array 0"
}

@test "bad ids: a caption of padding only -> exit 2 naming the row (PyTorch refuses zero lengths)" {
  write_ids empty.npy 'np.where((np.arange(7) == 4)[:, None], 0, ids)'
  run --separate-stderr encode-text --weights "$W" --words w.npy < empty.npy
  assert_fails 2 "encode-text: stdin: expected at least one word (non-zero id) in every caption, found an empty caption (padding only) in row 4 in array 0"
  [ ! -e w.npy ]
  py 'np.save("blank.npy", np.zeros((3, 18), np.int32))'
  run --separate-stderr encode-text --weights "$W" < blank.npy
  assert_fails 2 "encode-text: stdin: expected at least one word (non-zero id) in every caption, found an empty caption (padding only) in row 0 in array 0"
}

@test "bad ids: a word after padding -> exit 2 (lengths are counted from the start)" {
  write_ids gap.npy 'np.where((np.arange(7) == 1)[:, None] & (np.arange(18) == 4), 9, ids)'
  run --separate-stderr encode-text --weights "$W" < gap.npy
  assert_fails 2 "encode-text: stdin: expected padding (0) only after a caption's words, found id 9 after padding in row 1, column 4 in array 0"
}

@test "bad ids: a truncated stream -> exit 2; nothing left at -o or --words" {
  head -c 300 "$FIX/ids.npy" > t1.npy
  run --separate-stderr encode-text --weights "$W" < t1.npy
  assert_fails 2 "encode-text: stdin: expected int32 token ids (B,L), found a truncated array (172 of 504 bytes) in array 0"
  # the second array is cut: the first was encoded, yet no file is left behind
  head -c 1000 "$FIX/ids.npy" > t2.npy
  run --separate-stderr encode-text --weights "$W" --words w.npy -o s.npy < t2.npy
  assert_fails 2 "encode-text: stdin: expected int32 token ids (B,L), found a truncated array (*) in array 1"
  [ ! -e s.npy ] && [ ! -e w.npy ]
  assert_no_temp .
  head -c 40 "$FIX/ids.npy" > t3.npy
  run --separate-stderr encode-text --weights "$W" < t3.npy
  assert_fails 2 "encode-text: stdin: expected * in array 0"
}

@test "bad weights: a wrong shape, a missing key, a stray key, float64 -> exit 2 naming the key" {
  write_ids ids.npy 'ids'
  bad_weights w1.npz 'w["rnn.weight_hh_l0_reverse"] = w["rnn.weight_hh_l0_reverse"][:, :64]'
  run --separate-stderr encode-text --weights w1.npz -o s.npy < ids.npy
  assert_fails 2 "encode-text: w1.npz: expected 'rnn.weight_hh_l0_reverse' float32 (512,128), found float32 (512,64)"
  [ ! -e s.npy ]
  bad_weights w2.npz 'w["rnn.weight_ih_l0"] = w["rnn.weight_ih_l0"][:, :299]'
  run --separate-stderr encode-text --weights w2.npz < ids.npy
  assert_fails 2 "encode-text: w2.npz: expected 'rnn.weight_ih_l0' float32 (512,300), found float32 (512,299)"
  bad_weights w3.npz 'w["rnn.weight_hh_l0"] = w["rnn.weight_hh_l0"][:500]'
  run --separate-stderr encode-text --weights w3.npz < ids.npy
  assert_fails 2 "encode-text: w3.npz: expected 'rnn.weight_hh_l0' float32 (4*nhidden,nhidden) (an LSTM's), found float32 (500,128)"
  bad_weights w4.npz 'del w["rnn.bias_hh_l0_reverse"]'
  run --separate-stderr encode-text --weights w4.npz < ids.npy
  assert_fails 2 "encode-text: w4.npz: expected key 'rnn.bias_hh_l0_reverse' for this architecture, found none"
  bad_weights w5.npz 'del w["encoder.weight"]'
  run --separate-stderr encode-text --weights w5.npz < ids.npy
  assert_fails 2 "encode-text: w5.npz: expected key 'encoder.weight' (DAMSM RNN_ENCODER's state_dict), found none"
  bad_weights w6.npz 'w["rnn.weight_ih_l1"] = w["rnn.weight_ih_l0"]'
  run --separate-stderr encode-text --weights w6.npz < ids.npy
  assert_fails 2 "encode-text: w6.npz: expected only keys of this architecture, found unexpected key 'rnn.weight_ih_l1'"
  bad_weights w7.npz 'w = {k: v.astype(np.float64) for k, v in w.items()}'
  run --separate-stderr encode-text --weights w7.npz < ids.npy
  assert_fails 2 "encode-text: w7.npz: expected 'encoder.weight' float32 (vocab,ninput), found float64 (500,300)"
  bad_weights w8.npz 'w["rnn.bias_ih_l0"] = w["rnn.bias_ih_l0"][None]'
  run --separate-stderr encode-text --weights w8.npz < ids.npy
  assert_fails 2 "encode-text: w8.npz: expected 'rnn.bias_ih_l0' float32 (512,), found float32 (1,512)"
  run --separate-stderr encode-text --weights nope.npz < ids.npy
  assert_fails 2 "encode-text: *nope.npz*"
  echo "not a zip" > junk.npz
  run --separate-stderr encode-text --weights junk.npz < ids.npy
  assert_fails 2 "encode-text: *junk.npz*"
}

@test "usage errors -> exit 2" {
  run --separate-stderr encode-text < "$FIX/ids.npy"
  assert_fails 2 "encode-text: expected --weights DAMSM.npz (or --init), found none"
  run --separate-stderr encode-text --weights "$W" --bogus
  assert_fails 2 "encode-text: expected a known option, found '--bogus' (see --help)"
  run --separate-stderr encode-text --weights "$W" --device tpu
  assert_fails 2 "encode-text: --device expects cpu or cuda, found 'tpu'"
  run --separate-stderr encode-text --weights "$W" --words - < "$FIX/ids.npy"
  assert_fails 2 "encode-text: expected --words and -o to name different outputs, found both '-'"
  run --separate-stderr encode-text --init -o x.npz
  assert_fails 2 "encode-text: expected --vocab-size with --init, found none"
  run --separate-stderr encode-text --init --vocab-size 5 --nhidden 7 -o x.npz
  assert_fails 2 "encode-text: --nhidden expects an even size (two directions), found 7"
  run --separate-stderr encode-text --init --vocab-size 5 --weights "$W" -o x.npz
  assert_fails 2 "encode-text: expected --init without --weights, --words or --ids, found --weights"
  run --separate-stderr encode-text --weights "$W" --seed 3 < "$FIX/ids.npy"
  assert_fails 2 "encode-text: expected --vocab-size, --seed, --ninput and --nhidden only with --init, found --seed"
  run --separate-stderr encode-text --init --vocab-size 0 -o x.npz
  assert_fails 2 "encode-text: *--vocab-size*"
  [ ! -e x.npz ]
  assert_no_temp .
}

# ---------------------------------------------------------------- speed

@test "10,000 captions (vocab 5,450, lengths 1..18) encode (the time is printed; speed is measured by make bench)" {
  encode-text --init --vocab-size 5450 --seed 1 -o d.npz
  py '
r = np.random.default_rng(0)
lens = np.clip(np.round(r.normal(14, 4, 10000)), 1, 18).astype(int)
ids = np.zeros((10000, 18), np.int32)
for i, n in enumerate(lens): ids[i, :n] = r.integers(1, 5450, n)
np.save("10k.npy", ids)
'
  t0=$(date +%s%N)
  encode-text --weights d.npz < 10k.npy > s.npy
  t1=$(date +%s%N)
  ms=$(( (t1 - t0) / 1000000 ))
  echo "# encode-text: 10,000 captions in $ms ms" >&3
  py 'a = np.load("s.npy"); assert a.shape == (10000, 256) and np.isfinite(a).all()'
}
