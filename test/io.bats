#!/usr/bin/env bats
# test/io.bats: the tensor I/O layer (lib/io/npy.h, npz, stream, atomic_file; bin/npy-info) against
# numpy, both ways: every dtype and byte order, format versions 1.0/2.0/3.0, 0-d and empty
# arrays, pipes and FIFOs, .npz stored/deflated/zip64, and the error cases (exit 2, one line on
# stderr saying what was expected and found, nothing on stdout, no output file left behind).

load helpers

setup() {
  common_setup
  cd "$T"
}

# Python definitions shared by the tests: the arrays numpy writes, and how they are compared.
ARR='
import io
def arrays():
    rng = np.random.default_rng(7)
    out = []
    for dt in ["<f4", "<f8", "<f2", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "|b1"]:
        d = np.dtype(dt)
        if d.kind == "f":
            a = rng.standard_normal((2, 3, 4)).astype(d)
            a.flat[:4] = [np.nan, np.inf, -np.inf, -0.0]
        elif d.kind == "b":
            a = rng.integers(0, 2, (5,)).astype(bool)
        else:
            i = np.iinfo(d)
            a = rng.integers(i.min, i.max, (3, 4), dtype=d, endpoint=True)
            a.flat[:2] = [i.min, i.max]
        out.append(a)
    out += [a.astype(a.dtype.newbyteorder(">")) for a in out if a.dtype.itemsize > 1]
    out += [np.array(3.5, "<f4"), np.array(-9, ">i8"), np.zeros((0, 3), "<f8"), np.zeros((2, 0, 4), ">i4"),
            np.arange(96, dtype="<f4").reshape(2, 3, 2, 2, 1, 2, 1, 2)]
    assert len(out) == 26
    return out
VERSIONS = [(1, 0), (2, 0), (3, 0)]
def encode(a, i):
    b = io.BytesIO()
    np.lib.format.write_array(b, a, version=VERSIONS[i % 3])
    return b.getvalue()
def write_stream(path, arrs):
    with open(path, "wb") as f:
        for i, a in enumerate(arrs):
            f.write(encode(a, i))
def same(a, b):
    """b is a read back: native byte order, same shape, same bits"""
    return b.dtype == a.dtype.newbyteorder("=") and b.shape == a.shape and a.astype(b.dtype).tobytes() == b.tobytes()
def check_stream(f, arrs, ours):
    for i, a in enumerate(arrs):
        if ours:  # what we write: format 1.0, header padded to 64 bytes
            pos = f.tell(); head = f.read(10); f.seek(pos)
            assert head[:8] == b"\x93NUMPY\x01\x00", head
            assert (10 + int.from_bytes(head[8:10], "little")) % 64 == 0, head
        b = np.lib.format.read_array(f)
        assert same(a, b), (i, a.dtype, a.shape, b.dtype, b.shape, a, b)
    assert f.read() == b"", "expected the end of the stream, found more bytes"
def raw(path, header, data=b"", version=1):
    """an .npy file with a hand-made header"""
    h = header.encode("latin1")
    n = len(h).to_bytes(2 if version == 1 else 4, "little")
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]) + n + h + data)
'

NPZ_ITEMS='
kw = dict(w=np.arange(6, dtype="<f4").reshape(2, 3), step=np.array(42, "<i8"), big=np.array([1.5, -2], ">f8"),
          empty=np.zeros((0, 2), "|u1"), flags=np.array([True, False]))
def check_npz(path, kw):
    z = np.load(path)
    assert z.files == list(kw), (z.files, list(kw))
    for k, a in kw.items():
        assert z[k].dtype == a.dtype.newbyteorder("=") and z[k].shape == a.shape and np.array_equal(z[k], a), (k, z[k], a)
'
NPZ_LISTING='w float32 (2,3) min=0 max=5 mean=2.5
step int64 () min=42 max=42 mean=42
big float64 (2,) min=-2 max=1.5 mean=-0.25
empty uint8 (0,2)
flags bool (2,) min=0 max=1 mean=0.5'

# ---- numpy writes, we read ----

@test "a numpy stream of every dtype, both byte orders, versions 1.0/2.0/3.0, 0-d and empty arrays copies exactly" {
  py "$ARR
write_stream('in.npy', arrays())"
  run --separate-stderr npy_roundtrip stream in.npy out.npy
  assert_ok
  [ -z "$output" ] && [ -z "$stderr" ]
  py "$ARR
with open('out.npy', 'rb') as f:
    check_stream(f, arrays(), True)"
  assert_no_temp .
}

@test "npy-info lists each array of a stream with its dtype, shape and statistics" {
  py "$ARR
arrs = [np.arange(6, dtype='>f8').reshape(2, 3), np.array([1, -2, 3], '|i1'), np.array(7, '<u8'),
        np.zeros((0, 4), '<f4'), np.array([1.0, np.nan, -3], '<f2'), np.array([True, False, True, True]),
        np.array([2**64 - 1, 0], '<u8'), np.array([-2**63, 2**63 - 1], '>i8'), np.array([[-70000], [5]], '<i4'),
        np.array([65535, 1], '>u2'), np.array([4e9, 1], '<u4'), np.array([-32768, 0], '<i2'), np.array([0, 255], '|u1'),
        np.array([0.25, -1e30], '<f4')]
write_stream('s.npy', arrs)"
  run --separate-stderr npy-info s.npy
  assert_ok
  assert_equal "$output" "0 float64 (2,3) min=0 max=5 mean=2.5
1 int8 (3,) min=-2 max=3 mean=0.666667
2 uint64 () min=7 max=7 mean=7
3 float32 (0,4)
4 float16 (3,) min=-3 max=1 mean=-1 nan=1
5 bool (4,) min=0 max=1 mean=0.75
6 uint64 (2,) min=0 max=18446744073709551615 mean=9.22337e+18
7 int64 (2,) min=-9223372036854775808 max=9223372036854775807 mean=0
8 int32 (2,1) min=-70000 max=5 mean=-34997.5
9 uint16 (2,) min=1 max=65535 mean=32768
10 uint32 (2,) min=1 max=4000000000 mean=2e+09
11 int16 (2,) min=-32768 max=0 mean=-16384
12 uint8 (2,) min=0 max=255 mean=127.5
13 float32 (2,) min=-1e+30 max=0.25 mean=-5e+29"
  [ -z "$stderr" ]
  # several files: every line names its file; an empty file is an empty stream
  : > empty.npy
  run --separate-stderr npy-info empty.npy s.npy
  assert_ok
  [ "${#lines[@]}" -eq 14 ]
  assert_equal "${lines[0]}" "s.npy: 0 float64 (2,3) min=0 max=5 mean=2.5"
  assert_equal "${lines[13]}" "s.npy: 13 float32 (2,) min=-1e+30 max=0.25 mean=-5e+29"
}

@test "npy-info --help goes to stdout with exit 0; a bad option is a usage error" {
  run --separate-stderr npy-info --help
  assert_ok
  [[ "${lines[0]}" == "usage: npy-info [FILE...]" ]]
  [ -z "$stderr" ]
  run --separate-stderr npy-info --bogus
  assert_fails 2 "npy-info: expected a known option, found '--bogus' (see --help)"
}

@test "streams pass through pipes: stdin to stdout, and npy-info on stdin" {
  py "$ARR
write_stream('in.npy', arrays())"
  cat in.npy | npy_roundtrip stream - - | py "$ARR
check_stream(io.BytesIO(sys.stdin.buffer.read()), arrays(), True)"
  run --separate-stderr npy-info in.npy
  assert_ok
  [ "${#lines[@]}" -eq 26 ]
  local from_file=$output
  run --separate-stderr bash -c 'cat in.npy | npy-info'
  assert_ok
  assert_equal "$output" "$from_file"
  assert_equal "${lines[0]}" "0 float32 (2,3,4) min=-inf max=inf mean=nan nan=1 inf=2"
  assert_equal "${lines[12]}" "12 float32 (2,3,4) min=-inf max=inf mean=nan nan=1 inf=2"
  assert_equal "${lines[23]}" "23 float64 (0,3)"
  assert_equal "${lines[25]}" "25 float32 (2,3,2,2,1,2,1,2) min=0 max=95 mean=47.5"
}

@test "streams pass through FIFOs both ways, with a writer that dribbles its bytes" {
  mkfifo fin fout
  timeout 60 "$PYTHON" -c "import sys, time
import numpy as np
$ARR
with open('fin', 'wb') as f:
    for i, a in enumerate(arrays()):
        d = encode(a, i)
        for part in (d[:5], d[5:len(d) // 2], d[len(d) // 2:]):
            f.write(part); f.flush(); time.sleep(0.002)
" 3>&- &
  local writer=$!
  timeout 60 "$PYTHON" -c "import sys
import numpy as np
$ARR
with open('fout', 'rb') as f:
    data = f.read()
check_stream(io.BytesIO(data), arrays(), True)
" 3>&- &
  local reader=$!
  run --separate-stderr timeout 60 npy_roundtrip stream fin fout
  assert_ok
  wait "$writer"
  wait "$reader"
  [ -p fout ]   # written in place, not replaced by a file
  assert_no_temp .
}

# ---- we write, numpy reads ----

@test "float32 arrays we write are read by numpy (read_array and np.load)" {
  run --separate-stderr npy_roundtrip write-f32 out.npy
  assert_ok
  py "$ARR
exp = [np.arange(6, dtype='<f4').reshape(2, 3), np.array([-1.5, -0.5, 0.5, 1.5], '<f4'), np.zeros((0, 3), '<f4'),
       np.array(7, '<f4')]
with open('out.npy', 'rb') as f:
    check_stream(f, exp, True)
assert np.array_equal(np.load('out.npy'), exp[0]) and np.load('out.npy').dtype == np.float32"
  # the header is the one np.save writes for the same array
  npy_roundtrip header 0 2 3 > ours.hdr
  py "
import io
b = io.BytesIO(); np.save(b, np.zeros((2, 3), '<f4')); b = b.getvalue()
ours = open('ours.hdr', 'rb').read()
assert len(ours) == 128 and ours == b[:len(ours)], (ours, b[:len(ours)])"
}

@test "arrays of every dtype we write are read by numpy with the right dtype and values" {
  run --separate-stderr npy_roundtrip write-all all.npy
  assert_ok
  py "
dts = ['<f4', '<f8', '<i4', '<i8', '|u1', '|i1', '<f2', '|b1', '<i2', '<u2', '<u4', '<u8']
vals = {'f': [-1.5, 0, 2.25], 'i': [-7, 0, 100], 'u': [0, 7, 200], 'b': [True, False, True]}
with open('all.npy', 'rb') as f:
    for dt in dts:
        a = np.lib.format.read_array(f)
        e = np.array(vals[np.dtype(dt).kind], dt)
        assert a.dtype == e.dtype and a.shape == (3,) and np.array_equal(a, e), (dt, a, e)
    assert f.read() == b''"
}

# ---- .npz ----

@test "npz from np.savez (stored) and np.savez_compressed (deflated) is listed and rewritten exactly" {
  py "$NPZ_ITEMS
np.savez('s.npz', **kw)
np.savez_compressed('c.npz', **kw)"
  for f in s c; do
    run --separate-stderr npy-info $f.npz
    assert_ok
    assert_equal "$output" "$NPZ_LISTING"
    run --separate-stderr npy_roundtrip npz $f.npz $f.out.npz
    assert_ok
    py "$NPZ_ITEMS
check_npz(sys.argv[1], kw)" $f.out.npz
  done
  # an .npz on stdin
  run --separate-stderr bash -c 'npy-info < c.npz'
  assert_ok
  assert_equal "$output" "$NPZ_LISTING"
  assert_no_temp .
}

@test "zip64 npz written by Python's zipfile (force_zip64, and zip64 central directory and end records) is read" {
  py "$NPZ_ITEMS
import zipfile
def save(path):
    with zipfile.ZipFile(path, 'w') as z:
        for k, a in kw.items():
            with z.open(k + '.npy', 'w', force_zip64=True) as f:
                np.lib.format.write_array(f, a)
save('z64local.npz')
zipfile.ZIP64_LIMIT = 0          # now every size and offset goes to zip64 fields and records
save('z64full.npz')
data = open('z64full.npz', 'rb').read()
assert b'PK\x06\x06' in data and b'PK\x06\x07' in data
assert all(zi.extra[:2] == b'\x01\x00' for zi in zipfile.ZipFile('z64full.npz').infolist()[1:])"
  for f in z64local z64full; do
    run --separate-stderr npy-info $f.npz
    assert_ok
    assert_equal "$output" "$NPZ_LISTING"
    run --separate-stderr npy_roundtrip npz $f.npz out.npz
    assert_ok
    py "$NPZ_ITEMS
check_npz('out.npz', kw)"
  done
}

@test "npz we write is read by np.load, plain and zip64" {
  local check="
import zipfile
z = np.load(sys.argv[1])
assert z.files == ['w', 'step', 'bytes', 'empty', 'block.0/gamma'], z.files
exp = dict(w=np.arange(6, dtype='<f4').reshape(2, 3), step=np.array(42, '<i8'), bytes=np.array([0, 1, 254, 255], '|u1'),
           empty=np.zeros(0, '<f8'), **{'block.0/gamma': np.array([0.5, -2], '<f8')})
for k, e in exp.items():
    assert z[k].dtype == e.dtype and z[k].shape == e.shape and np.array_equal(z[k], e), (k, z[k], e)
zf = zipfile.ZipFile(sys.argv[1])
assert zf.testzip() is None
assert all(zi.compress_type == zipfile.ZIP_STORED for zi in zf.infolist())
zip64 = [zi.extra[:2] == b'\x01\x00' for zi in zf.infolist()]
assert zip64 == [sys.argv[2] == 'zip64'] * 5, zip64
assert (b'PK\x06\x06' in open(sys.argv[1], 'rb').read()) == (sys.argv[2] == 'zip64')"
  run --separate-stderr npy_roundtrip write-npz w.npz
  assert_ok
  py "$check" w.npz plain
  run --separate-stderr npy_roundtrip write-npz w64.npz --zip64
  assert_ok
  py "$check" w64.npz zip64
  # and we read our own zip64 back
  run --separate-stderr npy-info w64.npz
  assert_ok
  assert_equal "$output" "$(npy-info w.npz)"
  assert_equal "${lines[0]}" "w float32 (2,3) min=0 max=5 mean=2.5"
  assert_equal "${lines[2]}" "bytes uint8 (4,) min=0 max=255 mean=127.5"
  # written byte for byte the same each time (fixed timestamps)
  npy_roundtrip write-npz w2.npz
  cmp w.npz w2.npz
  assert_no_temp .
}

# ---- typed streams (stream.h) ----

@test "ts_read_f32 checks dtype and shape and names the flag and the array" {
  py "
with open('ok.npy', 'wb') as f:
    np.lib.format.write_array(f, np.arange(6, dtype='<f4').reshape(2, 3))
    np.lib.format.write_array(f, np.ones((4, 3), '>f4'))
with open('mixed.npy', 'wb') as f:
    np.lib.format.write_array(f, np.ones((2, 3), '<f4'))
    np.lib.format.write_array(f, np.ones((2, 3), '<f8'))"
  run --separate-stderr npy_roundtrip f32 ok.npy -1 3
  assert_ok
  assert_equal "$output" "0 (2,3) 15
1 (4,3) 12"
  run --separate-stderr npy_roundtrip f32 mixed.npy -1 3
  [ "$status" -eq 2 ]
  assert_equal "$output" "0 (2,3) 6"
  assert_equal "$stderr" "npy_roundtrip: --in: expected float32 (?,3), found float64 (2,3) in array 1"
  run --separate-stderr npy_roundtrip f32 ok.npy 4 3
  assert_fails 2 "npy_roundtrip: --in: expected float32 (4,3), found float32 (2,3) in array 0"
  run --separate-stderr npy_roundtrip f32 ok.npy -1
  assert_fails 2 "npy_roundtrip: --in: expected float32 (?,), found float32 (2,3) in array 0"
  head -c $((128 + 24 + 128 + 20)) ok.npy > cut.npy
  run --separate-stderr npy_roundtrip f32 cut.npy -1 3
  [ "$status" -eq 2 ]
  assert_equal "$stderr" "npy_roundtrip: --in: expected float32 (?,3), found a truncated array (20 of 48 bytes) in array 1"
  run --separate-stderr npy_roundtrip f32 nope.npy 2 3
  assert_fails 2 "npy_roundtrip: --in: expected a readable file, found 'nope.npy': No such file or directory"
}

# ---- errors: exit 2, one line, nothing on stdout, no output left ----

@test "a Fortran-order array is refused" {
  py "np.save('f.npy', np.asfortranarray(np.ones((2, 3))))"
  run --separate-stderr npy-info f.npy
  assert_fails 2 "npy-info: expected C order, found fortran_order True in array 0 of 'f.npy'"
  run --separate-stderr npy_roundtrip stream f.npy out.npy
  assert_fails 2 "npy_roundtrip: expected C order, found fortran_order True in array 0 of 'f.npy'"
  [ ! -e out.npy ]
  assert_no_temp .
}

@test "a truncated array (head -c) is an error, also after a good one, and leaves no output" {
  py "np.save('a.npy', np.arange(24, dtype='<f4').reshape(2, 3, 4))"
  head -c 150 a.npy > t.npy
  run --separate-stderr npy-info t.npy
  assert_fails 2 "npy-info: expected 96 bytes of array data, found 22 (truncated stream) in array 0 of 't.npy'"
  head -c 40 a.npy > h.npy
  run --separate-stderr npy-info h.npy
  assert_fails 2 "npy-info: expected 118 bytes of .npy header, found 30 (truncated stream) in array 0 of 'h.npy'"
  head -c 7 a.npy > m.npy
  run --separate-stderr npy-info m.npy
  assert_fails 2 "npy-info: expected an .npy header, found 7 bytes (truncated stream) in array 0 of 'm.npy'"
  # the second array cut short: the copy written so far is removed
  cat a.npy t.npy > t2.npy
  run --separate-stderr npy_roundtrip stream t2.npy out.npy
  assert_fails 2 "npy_roundtrip: expected 96 bytes of array data, found 22 (truncated stream) in array 1 of 't2.npy'"
  [ ! -e out.npy ]
  assert_no_temp .
  # through a pipe, too
  run --separate-stderr bash -c 'cat t2.npy | npy_roundtrip stream - out.npy'
  assert_fails 2 "npy_roundtrip: expected 96 bytes of array data, found 22 (truncated stream) in array 1 of '-'"
  [ ! -e out.npy ]
  assert_no_temp .
}

@test "a garbage file, a missing file and a missing output folder are refused" {
  printf 'hello world\n' > g.npy
  run --separate-stderr npy-info g.npy
  assert_fails 2 "npy-info: expected an .npy magic string, found 'hello ' in array 0 of 'g.npy'"
  printf 'Python\n' > p.npy
  run --separate-stderr npy-info p.npy
  assert_fails 2 "npy-info: expected an .npy magic string, found 'Pyth' in array 0 of 'p.npy'"
  printf '\x00\x01\xff\x93NUMPY' > b.npy
  run --separate-stderr npy-info b.npy
  assert_fails 2 "npy-info: expected an .npy magic string, found '\\x00\\x01\\xff\\x93NU' in array 0 of 'b.npy'"
  run --separate-stderr npy-info nope.npy
  assert_fails 2 "npy-info: expected a readable file, found 'nope.npy': No such file or directory"
  # an .npz given where a stream is expected
  py "np.savez('z.npz', a=np.ones(2))"
  run --separate-stderr npy_roundtrip stream z.npz out.npy
  assert_fails 2 "npy_roundtrip: expected an .npy magic string, found 'PK\\x03\\x04' (a zip archive: an .npz?) in array 0 of 'z.npz'"
  [ ! -e out.npy ]
  py "np.save('a.npy', np.ones(2))"
  run --separate-stderr npy_roundtrip stream a.npy nodir/out.npy
  assert_fails 2 "npy_roundtrip: expected a writable folder for 'nodir/out.npy', found 'nodir': No such file or directory"
  [ ! -e nodir ]
}

@test "object, structured, string and complex dtypes are refused without being evaluated" {
  py "np.save('o.npy', np.array([1, 'a', None], dtype=object), allow_pickle=True)
np.save('s.npy', np.zeros(2, dtype=[('a', '<f4'), ('b', '<i4')]))
np.save('u.npy', np.array(['abc']))
np.save('c.npy', np.ones(2, np.complex64))"
  run --separate-stderr npy-info o.npy
  assert_fails 2 "npy-info: expected a numeric dtype, found '|O' (object arrays are not supported) in array 0 of 'o.npy'"
  run --separate-stderr npy-info s.npy
  assert_fails 2 "npy-info: expected a numeric dtype such as '<f4', found a structured dtype in array 0 of 's.npy'"
  run --separate-stderr npy-info u.npy
  assert_fails 2 "npy-info: expected a numeric dtype such as '<f4', '<i8' or '|u1', found '<U3' in array 0 of 'u.npy'"
  run --separate-stderr npy-info c.npy
  assert_fails 2 "npy-info: expected a numeric dtype such as '<f4', '<i8' or '|u1', found '<c8' in array 0 of 'c.npy'"
}

@test "hostile and malformed headers are refused with clear messages" {
  py "$ARR
raw('big.npy', \"{'descr': '<f4', 'fortran_order': False, 'shape': (1000000, 1000000), }\n\")
raw('ovf.npy', \"{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }\n\")
raw('neg.npy', \"{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 3), }\n\")
raw('huge.npy', 'x' * 10, version=2)
with open('huge.npy', 'r+b') as f: f.seek(8); f.write((2**32 - 1).to_bytes(4, 'little'))
raw('v4.npy', '{}', version=4)
raw('key.npy', \"{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'evil': __import__('os'), }\n\")
raw('nokey.npy', \"{'descr': '<f4', 'shape': (2,)}\n\")
raw('junk.npy', \"{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}; import os\n\")
raw('dims.npy', \"{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }\n\")
# odd but valid: any key order, double quotes, no spaces, no trailing comma, Python 2 longs
raw('odd.npy', '{\"shape\":(2L,3L),\"fortran_order\":False,\"descr\":\">i2\"}' + ' ' * 20 + '\n',
    np.arange(6, dtype='>i2').tobytes())
raw('f1.npy', \"{'descr': '<f4', 'fortran_order': True, 'shape': (1, 3), }\n\", np.arange(3, dtype='<f4').tobytes())"
  run --separate-stderr npy-info big.npy
  assert_fails 2 "npy-info: expected at most 1099511627776 bytes of array data, found shape (1000000,1000000) of float32 in array 0 of 'big.npy'"
  run --separate-stderr npy-info ovf.npy
  assert_fails 2 "npy-info: expected at most 1099511627776 bytes of array data, found shape (4611686018427387904,4611686018427387904) of float64 in array 0 of 'ovf.npy'"
  run --separate-stderr npy-info neg.npy
  assert_fails 2 "npy-info: expected non-negative dimensions, found a negative one in the shape in array 0 of 'neg.npy'"
  run --separate-stderr npy-info huge.npy
  assert_fails 2 "npy-info: expected an .npy header of at most 1048576 bytes, found one of 4294967295 bytes in array 0 of 'huge.npy'"
  run --separate-stderr npy-info v4.npy
  assert_fails 2 "npy-info: expected .npy format version 1.0, 2.0 or 3.0, found 4.0 in array 0 of 'v4.npy'"
  run --separate-stderr npy-info key.npy
  assert_fails 2 "npy-info: expected only the keys 'descr', 'fortran_order' and 'shape' in the .npy header, found 'evil' in array 0 of 'key.npy'"
  run --separate-stderr npy-info nokey.npy
  assert_fails 2 "npy-info: expected the keys 'descr', 'fortran_order' and 'shape' in the .npy header, found no 'fortran_order' in array 0 of 'nokey.npy'"
  run --separate-stderr npy-info junk.npy
  assert_fails 2 "npy-info: expected an .npy header dict like {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)}, found *'junk.npy'"
  run --separate-stderr npy-info dims.npy
  assert_fails 2 "npy-info: expected at most 8 dimensions, found more in array 0 of 'dims.npy'"
  run --separate-stderr npy-info odd.npy f1.npy
  assert_ok
  assert_equal "$output" "odd.npy: 0 int16 (2,3) min=0 max=5 mean=2.5
f1.npy: 0 float32 (1,3) min=0 max=2 mean=1"
}

@test "corrupt and truncated npz archives are refused with the path named" {
  py "$NPZ_ITEMS
import zipfile
np.savez('s.npz', **kw)
np.savez_compressed('c.npz', **kw)
d = open('s.npz', 'rb').read()
open('cut.npz', 'wb').write(d[:300])
crc = bytearray(d); crc[d.index(b'\x93NUMPY') + 130] ^= 0xff; open('crc.npz', 'wb').write(crc)
eocd = d.rindex(b'PK\x05\x06')
far = bytearray(d); far[eocd + 16:eocd + 20] = (10**9).to_bytes(4, 'little'); open('far.npz', 'wb').write(far)
zi = zipfile.ZipFile('c.npz').infolist()[0]
c = bytearray(open('c.npz', 'rb').read()); o = zi.header_offset
start = o + 30 + int.from_bytes(c[o + 26:o + 28], 'little') + int.from_bytes(c[o + 28:o + 30], 'little')
c[start:start + 8] = b'\xff' * 8; open('defl.npz', 'wb').write(c)
np.savez('fort.npz', a=np.asfortranarray(np.ones((2, 3))))"
  run --separate-stderr npy-info cut.npz
  assert_fails 2 "npy-info: expected a zip end-of-central-directory record in 'cut.npz', found none (truncated, or not a zip)"
  run --separate-stderr npy-info crc.npz
  assert_fails 2 "npy-info: expected CRC-32 * for member 'w.npy' of 'crc.npz', found * (corrupt archive)"
  run --separate-stderr npy-info far.npz
  assert_fails 2 "npy-info: expected a central directory of 5 entries within the * bytes of 'far.npz', found it out of bounds (truncated or corrupt archive)"
  run --separate-stderr npy-info defl.npz
  assert_fails 2 "npy-info: expected a valid deflate stream in member 'w.npy' of 'defl.npz', found * (corrupt archive)"
  run --separate-stderr npy-info fort.npz
  assert_fails 2 "npy-info: expected C order, found fortran_order True (member 'a.npy' of 'fort.npz')"
  for f in cut crc far defl fort; do
    run --separate-stderr npy_roundtrip npz $f.npz out.npz
    [ "$status" -eq 2 ]
    [ "${#stderr_lines[@]}" -eq 1 ]
    [[ "$stderr" == "npy_roundtrip: expected "*"'$f.npz'"* ]]
    [ ! -e out.npz ]
  done
  run --separate-stderr npy_roundtrip npz nope.npz out.npz
  assert_fails 2 "npy_roundtrip: expected a readable file, found 'nope.npz': No such file or directory"
  assert_no_temp .
}

@test "a writer killed by SIGTERM mid-stream leaves no temp file and no output" {
  mkfifo fin
  timeout 60 "$PYTHON" -c "import time
import numpy as np
import io
b = io.BytesIO(); np.lib.format.write_array(b, np.ones(3, '<f4'))
with open('fin', 'wb') as f:
    f.write(b.getvalue()); f.flush(); time.sleep(30)" 3>&- &
  local writer=$!
  npy_roundtrip stream fin out.npy 3>&- &
  local pid=$!
  for _ in $(seq 200); do
    [ -n "$(find . -maxdepth 1 -name '.out.npy.tmp.*')" ] && break
    sleep 0.05
  done
  [ -n "$(find . -maxdepth 1 -name '.out.npy.tmp.*')" ]   # writing into its temp file
  sleep 0.2
  kill -TERM "$pid"
  local st=0
  wait "$pid" || st=$?
  kill "$writer" 2>/dev/null || true
  wait "$writer" || true
  [ "$st" -eq 143 ]
  [ ! -e out.npy ]
  assert_no_temp .
}
