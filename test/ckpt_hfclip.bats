#!/usr/bin/env bats
# test/ckpt_hfclip.bats: `ckpt import` of Hugging Face CLIPModel weights. test/reference/hfclip_ref.py
# (numpy only, run here) rewrites the tiny OpenAI-layout CLIP of test/fixtures/clip/weights.npz under
# transformers' names as .safetensors (float32, float16, bfloat16; q/k/v split, projections
# transposed, position_ids added); the import must give back the OpenAI weights exactly (rounded to
# the file's type), and clip-embed must give the same features with them as with the original.

load helpers

CLIPFIX="$BATS_TEST_DIRNAME/fixtures/clip"
W="$CLIPFIX/weights.npz"
HW=(--head-width 8)

setup() {
  common_setup
  cd "$T"
  "$PYTHON" "$ROOT/test/reference/hfclip_ref.py" "$W" hf
}

# same_npz GOT.npz WANT.npz: the same keys, float32, equal exactly
same_npz() {
  py '
a = np.load(sys.argv[1]); e = np.load(sys.argv[2])
assert sorted(a.files) == sorted(e.files), sorted(set(a.files) ^ set(e.files))
for k in e.files:
    assert a[k].dtype == np.float32, (k, a[k].dtype)
    assert a[k].shape == e[k].shape, (k, a[k].shape, e[k].shape)
    assert (a[k] == e[k]).all(), (k, np.abs(a[k] - e[k]).max())
' "$1" "$2"
}

@test "hf-clip: a float32 CLIPModel .safetensors imports to the OpenAI weights exactly" {
  run --separate-stderr ckpt import hf/hf_f32.safetensors -o clip.npz
  assert_ok
  [ -z "$stderr" ]
  [ -z "$output" ]
  same_npz clip.npz "$W"
  # --hf-clip says the same explicitly
  ckpt import --hf-clip hf/hf_f32.safetensors -o clip2.npz
  cmp clip.npz clip2.npz
}

@test "hf-clip: float16 and bfloat16 files import as float32" {
  ckpt import hf/hf_f16.safetensors -o f16.npz
  same_npz f16.npz hf/expected_f16.npz
  ckpt import --hf-clip hf/hf_bf16.safetensors -o bf16.npz
  same_npz bf16.npz hf/expected_bf16.npz
}

@test "hf-clip: clip-embed gives the same features with the imported weights as with the original" {
  ckpt import hf/hf_f32.safetensors -o clip.npz
  py 'f = open(sys.argv[1], "rb"); np.save("im.npy", np.load(f))' "$CLIPFIX/images.npy"
  clip-embed image --weights "$W" "${HW[@]}" < im.npy > a.npy
  clip-embed image --weights clip.npz "${HW[@]}" < im.npy > b.npy
  cmp a.npy b.npy
  clip-embed text --weights "$W" "${HW[@]}" < "$CLIPFIX/ids.npy" > ta.npy
  clip-embed text --weights clip.npz "${HW[@]}" < "$CLIPFIX/ids.npy" > tb.npy
  cmp ta.npy tb.npy
}

@test "hf-clip: --keep-names imports HF's own names; --hf-clip refuses other files" {
  ckpt import --keep-names hf/hf_f32.safetensors -o raw.npz
  py '
z = np.load("raw.npz")
assert "vision_model.pre_layrnorm.weight" in z.files and "text_model.embeddings.position_ids" in z.files, z.files[:5]
assert z["text_model.embeddings.position_ids"].dtype == np.int64'
  run --separate-stderr ckpt import --hf-clip "$W" -o x.npz
  assert_fails 2 "ckpt: --hf-clip expects Hugging Face CLIPModel keys (vision_model.*, text_model.*) in '$W', found none"
  [ ! -e x.npz ]
  # an OpenAI-layout file is imported as it is
  ckpt import "$W" -o same.npz
  same_npz same.npz "$W"
  run --separate-stderr ckpt import --hf-clip --keep-names hf/hf_f32.safetensors -o x.npz
  assert_fails 2 "ckpt: expected one of --dfgan, --hf-clip, --keep-names, found --hf-clip with --keep-names"
  run --separate-stderr ckpt list --hf-clip hf/hf_f32.safetensors
  assert_fails 2 "ckpt: list expects only FILE, found --hf-clip"
}

@test "hf-clip: a missing or misshapen q/k/v part, or a foreign key, is refused in one line naming the key" {
  run --separate-stderr ckpt import hf/hf_no_k.safetensors -o x.npz
  assert_fails 2 "ckpt: expected 'text_model.encoder.layers.1.self_attn.k_proj.bias' (the k part of 'transformer.resblocks.1.attn.in_proj_bias') in 'hf/hf_no_k.safetensors', found none"
  [ ! -e x.npz ]
  run --separate-stderr ckpt import hf/hf_v_shape.safetensors -o x.npz
  assert_fails 2 "ckpt: expected q, k and v parts of one shape (at least 1-D) for 'visual.transformer.resblocks.0.attn.in_proj_weight' in 'hf/hf_v_shape.safetensors', found (32,32) for 'vision_model.encoder.layers.0.self_attn.q_proj.weight' and (16,32) for 'vision_model.encoder.layers.0.self_attn.v_proj.weight'"
  [ ! -e x.npz ]
  run --separate-stderr ckpt import hf/hf_odd.safetensors -o x.npz
  assert_fails 2 "ckpt: expected Hugging Face CLIPModel keys in 'hf/hf_odd.safetensors' (vision_model.*, text_model.*, visual_projection, text_projection, logit_scale), found 'vision_model.encoder.layers.0.self_attn.rotary.weight'"
  [ ! -e x.npz ]
}
