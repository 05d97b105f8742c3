#!/usr/bin/env bats
# ckpt.bats: checkpoint import (bin/ckpt) against files written by torch and safetensors
# (test/reference/ckpt_ref.py wrote test/fixtures/ckpt/): the zip, legacy and protocol-4 PyTorch
# formats, safetensors and npz imported exactly; DF-GAN's training checkpoint turned into our
# G.npz/D.npz exactly and trained on by gen-step and disc-step; hostile, broken and truncated
# files refused with one line and exit 2, nothing written, nothing executed.

load helpers

FX="$ROOT/test/fixtures/ckpt"

# same_npz ACTUAL EXPECTED: same keys in the same order, same dtypes, shapes and bytes
same_npz() {
  py "
a, e = np.load(sys.argv[1]), np.load(sys.argv[2])
if a.files != e.files: sys.exit('keys differ: %s vs %s' % (a.files, e.files))
for k in e.files:
    x, y = a[k], e[k]
    if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
        sys.exit('%s: found %s %s, expected %s %s' % (k, x.dtype, x.shape, y.dtype, y.shape))
print('%d arrays equal' % len(e.files))
" "$1" "$2"
}

# refused WANT: the last run exited 2 with one line 'ckpt: <path>: <WANT glob>' and nothing on stdout
refused() {
  local want=$1
  want=${want//[/\\[}
  want=${want//]/\\]}
  assert_fails 2 "ckpt: *$want"
}

@test "ckpt --help, and usage errors exit 2 with one line" {
  run --separate-stderr ckpt --help
  assert_ok
  [[ "$output" == usage:* ]]
  run --separate-stderr ckpt
  assert_fails 2 "ckpt: expected a command (list or import), found none (see --help)"
  run --separate-stderr ckpt convert x
  assert_fails 2 "ckpt: expected a command (list or import), found 'convert'"
  run --separate-stderr ckpt import "$FX/sd_zip.pt"
  assert_fails 2 "ckpt: import expects -o OUT.npz, found none"
  run --separate-stderr ckpt list "$FX/sd_zip.pt" "$FX/sd_zip.pt"
  assert_fails 2 "ckpt: expected one input FILE, found also '$FX/sd_zip.pt'"
  run --separate-stderr ckpt list --bogus "$FX/sd_zip.pt"
  assert_fails 2 "ckpt: expected a known option, found '--bogus' (see --help)"
  run --separate-stderr ckpt list "$T/missing.pt"
  assert_fails 2 "ckpt: expected a readable file, found '$T/missing.pt': No such file or directory"
}

@test "state dicts in the zip, legacy and protocol-4 formats list and import exactly" {
  # their float16 corner cases hold Inf and NaN: refused (exit 3, the first one named) unless
  # --allow-nonfinite, which imports them as they are
  for f in sd_zip.pt sd_legacy.pt sd_proto4.pt; do
    echo "# $f"
    run --separate-stderr ckpt list "$FX/$f"
    assert_ok
    assert_equal "$output" "$(cat "$FX/sd_list.txt")"
    run --separate-stderr ckpt import "$FX/$f" -o "$T/$f.npz"
    assert_fails 3 "ckpt: $FX/$f: expected finite values, found +Inf at (1,1) in 'half'"
    [ ! -e "$T/$f.npz" ]
    run --separate-stderr ckpt import --allow-nonfinite "$FX/$f" -o "$T/$f.npz"
    assert_ok
    same_npz "$T/$f.npz" "$FX/sd_expected.npz"
  done
  assert_no_temp "$T"
}

@test "import reads stdin and writes stdout" {
  ckpt import --allow-nonfinite - -o - < "$FX/sd_legacy.pt" > "$T/out.npz"
  same_npz "$T/out.npz" "$FX/sd_expected.npz"
}

@test "safetensors lists and imports exactly (float16/bfloat16/float64 to float32, ints kept)" {
  run --separate-stderr ckpt list "$FX/st.safetensors"
  assert_ok
  assert_equal "$output" "$(cat "$FX/st_list.txt")"
  run --separate-stderr ckpt import "$FX/st.safetensors" -o "$T/st.npz"
  assert_ok
  same_npz "$T/st.npz" "$FX/st_expected.npz"
}

@test "safetensors: data_offsets must tile the data exactly (overlapping, identical, gapped offsets and trailing bytes refused)" {
  cd "$T"
  # st NAME DATA_BYTES ENTRY...: a safetensors file whose tensors are ENTRYs "name:dtype:shape:begin:end"
  st() {
    py '
import json, struct
h = {}
for e in sys.argv[3:]:
    n, dt, shape, b, en = e.split(":")
    h[n] = {"dtype": dt, "shape": [int(x) for x in shape.split(",") if x], "data_offsets": [int(b), int(en)]}
h = json.dumps(h).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + bytes(range(int(sys.argv[2]))))' "$@"
  }
  local tail="(the tensors' data_offsets tiling the data, none sharing a byte and none left over)"
  st overlap.st 16 a:F32:2:0:8 b:F32:2:4:12
  run --separate-stderr ckpt import overlap.st -o out.npz
  assert_fails 2 "ckpt: overlap.st: expected tensor 'b' to begin at data byte 8 $tail, found [4, 12] (overlapping another)"
  st identical.st 16 a:F32:2:0:8 b:F32:2:0:8
  run --separate-stderr ckpt import identical.st -o out.npz
  assert_fails 2 "ckpt: identical.st: expected tensor 'b' to begin at data byte 8 $tail, found [0, 8] (overlapping another)"
  st gap.st 20 a:F32:2:0:8 b:F32:2:12:20
  run --separate-stderr ckpt list gap.st
  assert_fails 2 "ckpt: gap.st: expected tensor 'b' to begin at data byte 8 $tail, found [12, 20] (a gap before it)"
  st late.st 12 a:F32:2:4:12
  run --separate-stderr ckpt import late.st -o out.npz
  assert_fails 2 "ckpt: late.st: expected tensor 'a' to begin at data byte 0 $tail, found [4, 12] (a gap before it)"
  st trailing.st 12 a:F32:2:0:8
  run --separate-stderr ckpt import trailing.st -o out.npz
  assert_fails 2 "ckpt: trailing.st: expected the tensors' data_offsets to cover the 12 data bytes, found 4 bytes after the last tensor's end"
  [ ! -e out.npz ]
  # what the reference implementation accepts: offsets out of header order, empty tensors anywhere
  # (even at the same offset), and no tensor at all over no data
  st ok.st 16 b:F32:2:8:16 e:F32:0:8:8 f:I8:0:8:8 a:F32:2:0:8
  run --separate-stderr ckpt import ok.st -o out.npz
  assert_ok
  py 'z = np.load("out.npz"); d = bytes(range(16))
assert z.files == ["b", "e", "f", "a"], z.files
assert z["a"].tobytes() == d[:8] and z["b"].tobytes() == d[8:] and z["e"].shape == (0,) and z["f"].dtype == np.int8'
  st none.st 0
  run --separate-stderr ckpt list none.st
  assert_ok
}

@test "our .npz lists and imports as itself" {
  run --separate-stderr ckpt list "$FX/dfgan_D.npz"
  assert_ok
  [[ "${lines[0]}" == "netD.conv_img.weight float32 (1,3,3,3)" ]]
  [[ "${lines[-1]}" == "adam.step int64 ()" ]]
  run --separate-stderr ckpt import "$FX/dfgan_D.npz" -o "$T/D.npz"
  assert_ok
  same_npz "$T/D.npz" "$FX/dfgan_D.npz"
}

@test "a DF-GAN checkpoint imported whole keeps tensors under dotted paths, skips the rest" {
  run --separate-stderr ckpt import "$FX/dfgan_state_epoch_3.pth" -o "$T/all.npz"
  assert_ok
  py "
z = np.load(sys.argv[1]); g = np.load(sys.argv[2])
assert np.array_equal(z['model.netG.fc.weight'], g['fc.weight'])
assert np.array_equal(z['optimizers.optimizer_G.state.0.exp_avg'], g['adam.exp_avg.fc.weight'])
assert z['optimizers.optimizer_G.state.0.step'].dtype == np.float32     # torch 1.13 keeps step as a tensor
assert not [k for k in z.files if 'param_groups' in k or k == 'epoch']
" "$T/all.npz" "$FX/dfgan_G.npz"
}

@test "--dfgan makes our G.npz and D.npz exactly (zip format; DDP prefixes in the legacy format)" {
  for f in dfgan_state_epoch_3.pth dfgan_ddp_legacy.pth; do
    echo "# $f"
    run --separate-stderr ckpt import --dfgan "$FX/$f" -o "$T/$f"
    assert_ok
    [[ "$stderr" == "ckpt: epoch 3: $T/$f/G.npz: NetG imsize 32 nf 1 z 4 cond 3, Adam step 2, lr 0.0001, betas (0, 0.9); "* ]]
    same_npz "$T/$f/G.npz" "$FX/dfgan_G.npz"
    same_npz "$T/$f/D.npz" "$FX/dfgan_D.npz"
    assert_no_temp "$T/$f"
  done
}

@test "gen-step and disc-step train on an imported DF-GAN checkpoint, its Adam state going on" {
  ckpt import --dfgan "$FX/dfgan_state_epoch_3.pth" -o "$T/ck" 2>/dev/null
  py "
r = np.random.default_rng(5)
np.save(sys.argv[1] + '/noise.npy', r.standard_normal((2, 4)).astype(np.float32))
np.save(sys.argv[1] + '/cond.npy', r.standard_normal((2, 3)).astype(np.float32))
np.save(sys.argv[1] + '/real.npy', np.tanh(r.standard_normal((2, 3, 32, 32))).astype(np.float32))
" "$T"
  run --separate-stderr gen-step forward --ckpt "$T/ck/G.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" -o "$T/fake.npy"
  assert_ok
  run --separate-stderr disc-step train --ckpt "$T/ck/D.npz" --real "$T/real.npy" --cond "$T/cond.npy" \
      --fake "$T/fake.npy" --grad-out "$T/gf.npy" --save "$T/D2.npz" --log "$T/d.log"
  assert_ok
  run --separate-stderr gen-step train --ckpt "$T/ck/G.npz" --noise "$T/noise.npy" --cond "$T/cond.npy" \
      --grad "$T/gf.npy" --save "$T/G2.npz" --log "$T/g.log"
  assert_ok
  py "
d2 = np.load(sys.argv[1]); fake = np.load(sys.argv[2]); gf = np.load(sys.argv[3])
g2, g1 = np.load(sys.argv[4]), np.load(sys.argv[5])
assert int(d2['adam.step']) == 3, int(d2['adam.step'])      # the imported Adam state went on
assert int(g2['adam.step']) == 3, int(g2['adam.step'])
assert fake.shape == gf.shape == (2, 3, 32, 32) and np.isfinite(gf).all() and np.abs(fake).max() <= 1
assert not np.array_equal(g2['to_rgb.1.weight'], g1['to_rgb.1.weight'])   # G took its step
" "$T/D2.npz" "$T/fake.npy" "$T/gf.npy" "$T/G2.npz" "$T/ck/G.npz"
}

@test "hostile and broken files: list and import refuse each with one line, write nothing, run nothing" {
  cd "$T"
  n=0
  while IFS='|' read -r file mode want; do
    [ "$mode" = any ] || continue
    echo "# $file"
    run --separate-stderr ckpt list "$FX/bad/$file"
    refused "$want"
    [[ "$stderr" == *"$file"* ]]
    run --separate-stderr ckpt import "$FX/bad/$file" -o "$T/out.npz"
    refused "$want"
    [ ! -e "$T/out.npz" ]
    n=$((n + 1))
  done < "$FX/bad/cases.txt"
  [ "$n" -ge 50 ]
  [ ! -e "$T/PWNED" ]
  assert_no_temp "$T"
}

@test "--dfgan refuses checkpoints that do not fit our models, writing nothing" {
  n=0
  while IFS='|' read -r file mode want; do
    [ "$mode" = dfgan ] || continue
    echo "# $file"
    run --separate-stderr ckpt import --dfgan "$FX/bad/$file" -o "$T/out"
    refused "$want"
    [ ! -e "$T/out" ]
    n=$((n + 1))
  done < "$FX/bad/cases.txt"
  [ "$n" -ge 6 ]
  run --separate-stderr ckpt import --dfgan "$FX/st.safetensors" -o "$T/out"
  assert_fails 2 "ckpt: $FX/st.safetensors: expected a PyTorch checkpoint for --dfgan, found a safetensors file"
  run --separate-stderr ckpt import --dfgan "$FX/sd_zip.pt" -o "$T/out"
  assert_fails 2 "ckpt: $FX/sd_zip.pt: expected a DF-GAN checkpoint with a dict checkpoint['model'], found none"
  [ ! -e "$T/out" ]
}

@test "truncated files are refused at every cut, nothing written" {
  for f in sd_zip.pt sd_legacy.pt sd_proto4.pt st.safetensors; do
    size=$(wc -c < "$FX/$f")
    for cut in 1 7 9 40 200 $((size / 2)) $((size - 100)) $((size - 23)) $((size - 1)); do
      head -c "$cut" "$FX/$f" > "$T/cut"
      run --separate-stderr ckpt import "$T/cut" -o "$T/out.npz"
      if [ "$status" -ne 2 ] || [ "${#stderr_lines[@]}" -ne 1 ] || [ -n "$output" ] || [ -e "$T/out.npz" ]; then
        echo "$f cut at $cut of $size: status $status, stderr: $stderr" >&2
        return 1
      fi
    done
  done
  assert_no_temp "$T"
}

@test "an output folder that is missing is an error before anything is written" {
  run --separate-stderr ckpt import "$FX/sd_zip.pt" -o "$T/no/such/out.npz"
  [ "$status" -eq 1 ] || [ "$status" -eq 2 ]
  [ "${#stderr_lines[@]}" -eq 1 ]
  [ ! -e "$T/no" ]
}

@test "fuzzer-found inputs (test/fixtures/ckpt/fuzz) end cleanly: exit 0 or 2, at most one line" {
  [ -d "$FX/fuzz" ] || skip "no fuzz regression inputs"
  for f in "$FX"/fuzz/*; do
    run --separate-stderr ckpt import "$f" -o "$T/out.npz"
    if { [ "$status" -ne 0 ] && [ "$status" -ne 2 ]; } || [ "${#stderr_lines[@]}" -gt 1 ]; then
      echo "$f: status $status, stderr: $stderr" >&2
      return 1
    fi
    rm -f "$T/out.npz"
  done
}
