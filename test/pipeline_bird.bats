#!/usr/bin/env bats
# pipeline_bird.bats: pipelines/bird.mk (and coco.mk) driven by a config: the config included
# (command-line overrides), the required files checked before any work, the data and caches, and
# training with checkpoints every save_interval epochs, samples, FID and CLIP score, and resume;
# captions per image from the config, text_encoder clip, a missing CLIP BPE file, the sample target;
# the checkpoint key (a G_<eee>.npz, or DF-GAN's state_epoch_N.pth converted once) for sample and
# eval, its refusals, and train unaffected by it. A refused run leaves no RUN folder behind.
# The data: bin/make-dataset's CUB-layout dataset as DATA_DIR; the config: cfg/bird.yml with tiny
# sizes and its weight paths pointing at random weights written by the tools' --init.

load helpers

MK() { make --no-print-directory -f "$ROOT/pipelines/bird.mk" "$@"; }

setup_file() {
  unset MAKEFLAGS MFLAGS MAKELEVEL
  make --no-print-directory -s -C "$ROOT" bin/cfg bin/make-dataset bin/import-cub bin/tokenize \
    bin/encode-text bin/clip-embed bin/ckpt bin/gen-step bin/disc-step bin/noise bin/batches \
    bin/inception-stats bin/fid bin/npy-png bin/npy-info bin/plot-metrics bin/progress bin/tb-log >&2
}

setup() {
  common_setup
  unset MAKEFLAGS MFLAGS MAKELEVEL
  W="$T/w"
  mkdir -p "$W"
  make-dataset --out "$T/birds" --images 48 --seed 1 >/dev/null 2>&1
  encode-text --init --vocab-size 1000 --seed 3 -o "$W/text_encoder200.npz"
  clip-embed --init --seed 4 --embed-dim 32 --width 64 --layers 1 --patch 8 --image-size 32 \
    --text-width 64 --text-layers 1 -o "$W/clip.npz"
  inception-stats --init --seed 5 -o "$W/inception.npz" 2>/dev/null
  # cfg/bird.yml, tiny, its files in $T; npz_path empty: the test statistics computed
  sed -e 's|^data_dir:.*|data_dir: '"$T/birds"'|' -e 's|^imsize:.*|imsize: 32|' -e 's|^nf:.*|nf: 2|' \
      -e 's|^batch_size:.*|batch_size: 4|' -e 's|^max_epoch:.*|max_epoch: 1|' \
      -e 's|^test_interval:.*|test_interval: 1|' -e 's|^save_interval:.*|save_interval: 2|' \
      -e 's|^sample_times:.*|sample_times: 1|' -e 's|^npz_path:.*|npz_path: ""|' \
      -e 's|^clip_weights:.*|clip_weights: '"$W/clip.npz"'\ninception_weights: '"$W/inception.npz"'|' \
      -e 's|DAMSM_NAME:.*|DAMSM_NAME: '"$W/text_encoder200.npz"'|' \
      "$ROOT/cfg/bird.yml" > "$T/bird.yml"
  cd "$T"
}

@test "bird.mk: the config is included, the data and caches are made, one epoch trained and tested" {
  run -0 MK train CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=2
  grep -q '^IMSIZE := 32$' "$T/run/config.mk"
  grep -q '^BATCH_SIZE := 4$' "$T/run/config.mk"
  # the per-image-size cache (import-cub --shapes): 36 images, shorter side 38, blocks back to back
  py 'p = np.load(sys.argv[1]); s = np.load(sys.argv[2])
assert p.dtype == np.uint8 and p.ndim == 1 and s.dtype == np.int64 and s.shape == (36, 3), (p.shape, s.shape)
assert (np.minimum(s[:, 1], s[:, 2]) == 38).all(), s
assert (s[:, 0] == np.concatenate([[0], np.cumsum(3 * s[:, 1] * s[:, 2])[:-1]])).all() and p.size == (3 * s[:, 1] * s[:, 2]).sum()' \
    "$T/run/data/train_images.npy" "$T/run/data/train_shapes.npy"
  py 'a = np.load(sys.argv[1]); assert a.shape == (360, 256), a.shape' "$T/run/data/train_cond.npy"
  py 'a = np.load(sys.argv[1]); assert a.shape == (360, 32), a.shape' "$T/run/data/train_text_features.npy"
  [ "$(wc -l < "$T/run/data/train_all_captions.txt")" -eq 360 ]
  [ -f "$T/run/data/vocab.txt" ]
  [ -f "$T/run/ckpt/G_001.npz" ] && [ -f "$T/run/ckpt/D_001.npz" ]
  [ -f "$T/run/samples/epoch_001.png" ] && [ -f "$T/run/metrics.png" ]
  [ "$(head -c 8 "$T/run/samples/epoch_001.png" | od -An -tx1 | tr -d ' ')" = 89504e470d0a1a0a ]
  [ "$(wc -l < "$T/run/losses.jsonl")" -eq 2 ]
  head -n 1 "$T/run/metrics.csv" | grep -q '^epoch,errD,errG,clip_loss,fid,clip_score,'
  tail -n 1 "$T/run/metrics.csv" | awk -F, '$1 == 1 && $5 + 0 > 0 && $6 != "" { ok = 1 } END { exit !ok }'
  [ ! -e "$T/run/tmp" ]
  # TensorBoard's event files, one per key (named after the key, which has no dot; contents: pipeline_demo.bats)
  assert_equal "$(ls "$T/run/tb" | sed 's/.*\.//' | sort | tr '\n' ' ')" \
    "e001-clip e001-grid e001-losses e001-metrics e001-test "
  # up to date now
  make -q --no-print-directory -f "$ROOT/pipelines/bird.mk" train CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=2
}

@test "bird.mk: checkpoints every save_interval epochs, resume from the last saved one" {
  run -0 MK train CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=1 MAX_EPOCH=3 TEST_INTERVAL=0 GEN_INTERVAL=1
  # save_interval 2: epochs 2 and 3 (the last) kept, 1 not
  [ -f "$T/run/ckpt/G_002.npz" ] && [ -f "$T/run/ckpt/G_003.npz" ] && [ ! -e "$T/run/ckpt/G_001.npz" ]
  [ -f "$T/run/samples/epoch_001.png" ] && [ -f "$T/run/samples/epoch_003.png" ]
  [ "$(wc -l < "$T/run/metrics.csv")" -eq 4 ]
  cp "$T/run/ckpt/G_003.npz" "$T/G_003.npz"
  rm "$T/run/ckpt/G_003.npz" "$T/run/ckpt/D_003.npz"
  run -0 MK train CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=1 MAX_EPOCH=3 TEST_INTERVAL=0 GEN_INTERVAL=1
  [[ "$output" == *"epoch 3/3"* ]] && [[ "$output" != *"epoch 1/3"* ]] && [[ "$output" != *"epoch 2/3"* ]]
  cmp "$T/run/ckpt/G_003.npz" "$T/G_003.npz"
  # another setting for the same RUN is refused
  run -2 MK train CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=1 MAX_EPOCH=3 NF=4
  [[ "$output" == *"was made with"* ]]
}

@test "bird.mk: a command-line variable overrides the config" {
  run -0 MK data CFG="$T/bird.yml" RUN="$T/run" TEXT_WORDS_NUM=5
  py 'a = np.load(sys.argv[1]); assert a.shape[1] == 5, a.shape' "$T/run/data/train_ids.npy"
}

@test "bird.mk: a .pth DAMSM encoder is converted once into RUN/weights" {
  # a .npz renamed .pth is read by bin/ckpt import by its content
  cp "$W/text_encoder200.npz" "$W/text_encoder200.pth"
  sed -i 's|text_encoder200.npz|text_encoder200.pth|' "$T/bird.yml"
  run -0 MK data CFG="$T/bird.yml" RUN="$T/run"
  [ -f "$T/run/weights/damsm.npz" ]
  [ -f "$T/run/data/train_cond.npy" ]
}

@test "bird.mk: a missing weight file stops make before any work, naming the key and path" {
  rm "$W/text_encoder200.npz"
  run -2 MK train CFG="$T/bird.yml" RUN="$T/run"
  [[ "$output" == *"TEXT.DAMSM_NAME"*"$W/text_encoder200.npz"* ]]
  [[ "$output" == *"data/README.md"* ]]
  # nothing left behind: no RUN folder at all (its config.mk is written only once the checks pass)
  [ ! -e "$T/run" ]
  [ "$(printf '%s\n' "$output" | grep -c .)" -eq 1 ]
  # coco.mk alike; a RUN that exists is left as it was
  run -2 make --no-print-directory -f "$ROOT/pipelines/coco.mk" train CFG="$T/bird.yml" RUN="$T/run"
  [ ! -e "$T/run" ]
  mkdir "$T/run"
  run -2 MK train CFG="$T/bird.yml" RUN="$T/run"
  [ -z "$(ls -A "$T/run")" ]
}

@test "bird.mk: missing CLIP weights, FID statistics or dataset are named" {
  mv "$W/clip.npz" "$W/clip.gone"
  run -2 MK train CFG="$T/bird.yml" RUN="$T/run"
  [[ "$output" == *"clip_weights"*"$W/clip.npz"* ]]
  mv "$W/clip.gone" "$W/clip.npz"
  run -2 MK train CFG="$T/bird.yml" RUN="$T/r2" INCEPTION_WEIGHTS="$W/inc.npz"
  [[ "$output" == *"inception_weights"*"$W/inc.npz"* ]]
  run -2 MK train CFG="$T/bird.yml" RUN="$T/r4" NPZ_PATH="$W/bird_val256_FIDK0.npz"
  [[ "$output" == *"npz_path"*"$W/bird_val256_FIDK0.npz"* ]]
  rm -r "$T/birds/test"
  run -2 MK train CFG="$T/bird.yml" RUN="$T/r3"
  [[ "$output" == *"data_dir"*"$T/birds/test/filenames.pickle"* ]]
  [ ! -e "$T/run" ] && [ ! -e "$T/r2" ] && [ ! -e "$T/r3" ] && [ ! -e "$T/r4" ]
}

@test "bird.mk and coco.mk: a bad config (unknown key) is refused through bin/cfg" {
  echo 'bogus_key: 1' >> "$T/bird.yml"
  run -2 MK train CFG="$T/bird.yml" RUN="$T/run"
  [[ "$output" == *"bogus_key"* ]]
  [ ! -e "$T/run" ]
  run -2 make --no-print-directory -f "$ROOT/pipelines/coco.mk" train CFG="$T/bird.yml" RUN="$T/run"
  [[ "$output" == *"bogus_key"* ]]
}

@test "coco.mk: checks the COCO layout" {
  run -2 make --no-print-directory -f "$ROOT/pipelines/coco.mk" train CFG="$T/bird.yml" RUN="$T/run"
  [[ "$output" == *"data_dir"*"images/train2014"* ]]
  [ ! -e "$T/run" ]
}

@test "bird.mk: captions per image from the config (COCO's 5): the caches, the test captions and the draws follow it" {
  run -0 MK train CFG="$T/bird.yml" RUN="$T/run" TEXT_CAPTIONS_PER_IMAGE=5 MAX_BATCHES=2
  [ "$(wc -l < "$T/run/data/train_all_captions.txt")" -eq 180 ]
  [ "$(wc -l < "$T/run/data/test_all_captions.txt")" -eq 60 ]
  # each test image's first caption; each train caption's embedding; draws among the image's own 5
  awk 'NR % 5 == 1' "$T/run/data/test_all_captions.txt" | cmp - "$T/run/data/test_captions.txt"
  [ "$(wc -l < "$T/run/data/test_captions.txt")" -eq 12 ]
  head -n 5 "$T/birds/text/$(head -n 1 "$T/run/data/test_filenames.txt").txt" | cmp - <(head -n 5 "$T/run/data/test_all_captions.txt")
  py "
f = open(sys.argv[1], 'rb'); idx = np.concatenate([np.load(f) for _ in range(2)])
assert idx.shape == (8, 5) and all(idx[:, 1] // 5 == idx[:, 0]) and len(set(idx[:, 1] % 5)) > 1, idx
assert np.load(sys.argv[2]).shape == (180, 256)
" "$T/run/log/index_001.npy" "$T/run/data/train_cond.npy"
  tail -n 1 "$T/run/metrics.csv" | awk -F, '$1 == 1 && $5 + 0 > 0 && $6 != "" { ok = 1 } END { exit !ok }'
}

@test "bird.mk: text_encoder clip conditions on CLIP's text features: no DAMSM encoder needed, cond_dim CLIP's embed dim" {
  rm "$W/text_encoder200.npz"
  sed -i 's/^text_encoder: .*/text_encoder: clip/' "$T/bird.yml"
  run -2 MK train CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=1 TEST_INTERVAL=0
  [[ "$output" == *"bird.mk: expected cond_dim (COND) to be CLIP's embed dim 32 with text_encoder clip, found 256"* ]]
  [ ! -e "$T/run/ckpt/G_000.npz" ]
  run -0 MK train CFG="$T/bird.yml" RUN="$T/run2" COND_DIM=32 MAX_BATCHES=1 TEST_INTERVAL=0
  [ -f "$T/run2/ckpt/G_001.npz" ] && [ ! -e "$T/run2/data/train_cond.npy" ] && [ ! -e "$T/run2/weights/damsm.npz" ]
  grep -q ' cond=32 .*text_encoder=clip ' "$T/run2/config.txt"
  py 'g = np.load(sys.argv[1]); assert g["GBlocks.0.fuse1.affine0.fc_gamma.linear1.weight"].shape[1] == 100 + 32' "$T/run2/ckpt/G_001.npz"
}

@test "bird.mk: no CLIP BPE file stops make before any work, naming it" {
  run -2 MK train CFG="$T/bird.yml" RUN="$T/run" CLIP_BPE="$T/nothere.txt.gz"
  [[ "$output" == *"bird.mk: expected CLIP's BPE merges bpe_simple_vocab_16e6.txt.gz (CLIP_BPE=$T/nothere.txt.gz), found none; get it from openai/CLIP"* ]]
  [ "$(printf '%s\n' "$output" | grep -c .)" -eq 1 ]
  [ ! -e "$T/run" ]
}

@test "bird.mk: sample turns a captions file into a PNG grid per caption" {
  printf '%s\n' 'this bird is red with a black beak' 'a small yellow bird' > "$T/caps.txt"
  run -0 MK sample CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=1 TEST_INTERVAL=0 GEN_INTERVAL=0 CAPTIONS="$T/caps.txt" IMGS_PER_SENT=3
  [[ "$output" == *"samples of epoch 1: 2 captions of $T/caps.txt x 3 images -> $T/run/samples/caps_001/sent_*.png"* ]]
  [ -f "$T/run/samples/caps_001/sent_002.png" ]
  py "
f = open(sys.argv[1], 'rb'); x = [np.load(f) for _ in range(2)]
assert all(a.shape == (3, 3, 32, 32) and np.abs(a).max() <= 1 for a in x) and f.read() == b''
" "$T/run/samples/caps_001/fakes.npy"
}

# ---- checkpoint: sample and eval from a named generator ----

# sample_by_hand G CAPTIONS PER Z OUT: gen-step forward on the sample target's noise (seed
# manual_seed + 2000, truncated at 2, scaled 0.88, the same for every caption) and the captions'
# condition as the pipeline makes it (DAMSM through the run's vocabulary, or CLIP with HAND_COND=clip),
# with the generator G, into OUT
sample_by_hand() {
  local g=$1 caps=$2 per=$3 z=$4 out=$5 n
  n=$(grep -c . "$caps")
  noise --batch "$per" --dim "$z" --batches 1 --seed 2100 --truncate 2 --trunc-rate 0.88 -o "$T/z1.npy"
  for ((i = 0; i < n; i++)); do cat "$T/z1.npy"; done > "$T/hand_noise.npy"
  awk -v p="$per" 'NF { for (i = 0; i < p; i++) print }' "$caps" > "$T/hand_caps.txt"
  if [ "${HAND_COND:-damsm}" = clip ]; then
    tokenize --clip --batch "$per" -o "$T/hand_ids.npy" "$T/hand_caps.txt"
    clip-embed text --weights "$W/clip3.npz" --head-width 64 --in "$T/hand_ids.npy" -o "$T/hand_cond.npy"
  else
    tokenize --vocab "$T/run/data/vocab.txt" --max-words 18 --first --batch "$per" -o "$T/hand_ids.npy" "$T/hand_caps.txt"
    encode-text --weights "$W/text_encoder200.npz" --ids "$T/hand_ids.npy" -o "$T/hand_cond.npy"
  fi
  gen-step forward --ckpt "$g" --noise "$T/hand_noise.npy" --cond "$T/hand_cond.npy" -o "$out"
}

@test "bird.mk: checkpoint naming a G_<eee>.npz: sample and eval use it (by-hand fakes and FID equal), the run's epochs untouched" {
  gen-step init --imsize 32 --nf 2 --z-dim 100 --cond-dim 256 --seed 9 -o "$T/G_777.npz"
  sed -i "s|^checkpoint:.*|checkpoint: $T/G_777.npz|" "$T/bird.yml"
  printf '%s\n' 'this bird is red with a black beak' 'a small yellow bird' > "$T/caps.txt"
  run -0 MK sample eval CFG="$T/bird.yml" RUN="$T/run" CAPTIONS="$T/caps.txt" IMGS_PER_SENT=3
  [[ "$output" == *"samples of $T/G_777.npz: 2 captions of $T/caps.txt x 3 images -> $T/run/samples/caps_G_777/sent_*.png"* ]]
  # nothing trained: no checkpoints of the run's own
  [ ! -e "$T/run/ckpt" ] && [ ! -e "$T/run/samples/caps_001" ]
  [ -f "$T/run/samples/caps_G_777/sent_002.png" ]
  [ "$(cat "$T/run/samples/caps_G_777/checkpoint.txt")" = "$T/G_777.npz" ]
  sample_by_hand "$T/G_777.npz" "$T/caps.txt" 3 100 "$T/hand.npy"
  cmp "$T/hand.npy" "$T/run/samples/caps_G_777/fakes.npy"
  # eval: eval/G_777.txt names it; its FID is the generator's on the test noise and captions
  [ -f "$T/run/eval/G_777.txt" ] && [ ! -e "$T/run/eval/epoch_001.txt" ]
  grep -qxF "checkpoint $T/G_777.npz" "$T/run/eval/G_777.txt"
  [[ "$output" == *"checkpoint $T/G_777.npz"*"fid "* ]]
  gen-step forward --ckpt "$T/G_777.npz" --noise "$T/run/data/test_noise.npy" --cond "$T/run/data/test_cond.npy" -o "$T/test_fakes.npy"
  inception-stats --weights "$W/inception.npz" -o "$T/test_fakes_stats.npz" "$T/test_fakes.npy" 2>/dev/null
  fid=$(fid "$T/run/data/test_stats.npz" "$T/test_fakes_stats.npz")
  grep -qxF "fid $fid" "$T/run/eval/G_777.txt"
  # another generator of the same config gives other fakes
  gen-step init --imsize 32 --nf 2 --z-dim 100 --cond-dim 256 --seed 10 -o "$T/G_778.npz"
  run -0 MK sample CFG="$T/bird.yml" RUN="$T/run" CAPTIONS="$T/caps.txt" IMGS_PER_SENT=3 CHECKPOINT="$T/G_778.npz"
  ! cmp -s "$T/run/samples/caps_G_778/fakes.npy" "$T/run/samples/caps_G_777/fakes.npy"
  # up to date with the config's; an empty CHECKPOINT= goes back to the run's own last epoch (not trained)
  make -q --no-print-directory -f "$ROOT/pipelines/bird.mk" sample CFG="$T/bird.yml" RUN="$T/run" CAPTIONS="$T/caps.txt" IMGS_PER_SENT=3
  run -1 make -q --no-print-directory -f "$ROOT/pipelines/bird.mk" sample CFG="$T/bird.yml" RUN="$T/run" CAPTIONS="$T/caps.txt" IMGS_PER_SENT=3 CHECKPOINT=
}

@test "bird.mk: checkpoint naming DF-GAN's state_epoch_N.pth: converted once into RUN/weights, sample and eval use it" {
  # the config of test/fixtures/ckpt/dfgan_state_epoch_3.pth (ckpt_ref.py: imsize 32, nf 1, z 4,
  # cond 3): conditioned on a CLIP of embed dim 3
  clip-embed --init --seed 4 --embed-dim 3 --width 64 --layers 1 --patch 8 --image-size 32 \
    --text-width 64 --text-layers 1 -o "$W/clip3.npz"
  sed -i -e 's/^nf:.*/nf: 1/' -e 's/^z_dim:.*/z_dim: 4/' -e 's/^cond_dim:.*/cond_dim: 3/' \
      -e 's/^text_encoder:.*/text_encoder: clip/' -e "s|^clip_weights:.*|clip_weights: $W/clip3.npz|" "$T/bird.yml"
  cp "$ROOT/test/fixtures/ckpt/dfgan_state_epoch_3.pth" "$T/state_epoch_3.pth"
  printf '%s\n' 'this bird is red with a black beak' 'a small yellow bird' > "$T/caps.txt"
  run -0 MK sample eval CFG="$T/bird.yml" RUN="$T/run" CAPTIONS="$T/caps.txt" IMGS_PER_SENT=2 CHECKPOINT="$T/state_epoch_3.pth"
  [[ "$output" == *"checkpoint: $T/state_epoch_3.pth (DF-GAN's) -> $T/run/weights/state_epoch_3/G.npz, D.npz"* ]]
  [ ! -e "$T/run/ckpt" ] && [ ! -e "$T/run/weights/state_epoch_3.tmp" ]
  # bin/ckpt import --dfgan's G and D, Adam state included (ckpt.bats checks those against PyTorch)
  py '
for got, want in ((sys.argv[1], sys.argv[3]), (sys.argv[2], sys.argv[4])):
    a, b = np.load(got), np.load(want)
    assert sorted(a.files) == sorted(b.files), (got, sorted(set(a.files) ^ set(b.files)))
    assert "adam.step" in a.files and all(np.array_equal(a[k], b[k]) for k in b.files), got' \
    "$T/run/weights/state_epoch_3/G.npz" "$T/run/weights/state_epoch_3/D.npz" \
    "$ROOT/test/fixtures/ckpt/dfgan_G.npz" "$ROOT/test/fixtures/ckpt/dfgan_D.npz"
  [ "$(cat "$T/run/weights/state_epoch_3.source")" = "$T/state_epoch_3.pth" ]
  HAND_COND=clip sample_by_hand "$ROOT/test/fixtures/ckpt/dfgan_G.npz" "$T/caps.txt" 2 4 "$T/hand.npy"
  cmp "$T/hand.npy" "$T/run/samples/caps_state_epoch_3/fakes.npy"
  py 'f = open(sys.argv[1], "rb"); x = [np.load(f) for _ in range(2)]
assert all(a.shape == (2, 3, 32, 32) for a in x) and f.read() == b""' "$T/run/samples/caps_state_epoch_3/fakes.npy"
  grep -qxF "checkpoint $T/state_epoch_3.pth (DF-GAN's; converted to $T/run/weights/state_epoch_3/G.npz)" "$T/run/eval/state_epoch_3.txt"
  grep -q '^fid [0-9]' "$T/run/eval/state_epoch_3.txt"
  # converted once: other captions reuse it; then up to date
  printf '%s\n' 'a bird' > "$T/one.txt"
  run -0 MK sample CFG="$T/bird.yml" RUN="$T/run" CAPTIONS="$T/one.txt" IMGS_PER_SENT=2 CHECKPOINT="$T/state_epoch_3.pth"
  [[ "$output" != *"checkpoint:"* ]] && [ -f "$T/run/samples/one_state_epoch_3/sent_001.png" ]
  make -q --no-print-directory -f "$ROOT/pipelines/bird.mk" sample CFG="$T/bird.yml" RUN="$T/run" CAPTIONS="$T/one.txt" IMGS_PER_SENT=2 CHECKPOINT="$T/state_epoch_3.pth"
  # another file of the same name (older, elsewhere) is converted again and the samples remade
  mkdir "$T/other" && cp "$T/state_epoch_3.pth" "$T/other/" && touch -d '2001-01-01' "$T/other/state_epoch_3.pth"
  run -0 MK sample CFG="$T/bird.yml" RUN="$T/run" CAPTIONS="$T/one.txt" IMGS_PER_SENT=2 CHECKPOINT="$T/other/state_epoch_3.pth"
  [[ "$output" == *"checkpoint: $T/other/state_epoch_3.pth (DF-GAN's) -> "* ]]
  [[ "$output" == *"samples of $T/other/state_epoch_3.pth"* ]]
}

@test "bird.mk: a missing or mismatched checkpoint stops sample and eval before any work, one line, no RUN left" {
  sed -i "s|^checkpoint:.*|checkpoint: $T/gone/state_epoch_9.pth|" "$T/bird.yml"
  run -2 MK sample CFG="$T/bird.yml" RUN="$T/run"
  [[ "$output" == *"bird.mk: config key checkpoint ($T/bird.yml): expected a generator checkpoint '$T/gone/state_epoch_9.pth'"*"found none; fix the path, or empty it (checkpoint: '' or CHECKPOINT=)"* ]]
  [ "$(printf '%s\n' "$output" | grep -c .)" -eq 1 ] && [ ! -e "$T/run" ]
  run -2 MK eval CFG="$T/bird.yml" RUN="$T/run" CHECKPOINT="$T/G_404.npz"
  [[ "$output" == *"bird.mk: CHECKPOINT (command line): expected a generator checkpoint '$T/G_404.npz'"* ]]
  [ "$(printf '%s\n' "$output" | grep -c .)" -eq 1 ] && [ ! -e "$T/run" ]
  # DF-GAN's tiny checkpoint against this config's sizes
  run -2 MK eval CFG="$T/bird.yml" RUN="$T/run" CHECKPOINT="$ROOT/test/fixtures/ckpt/dfgan_state_epoch_3.pth"
  [[ "$output" == *"bird.mk: CHECKPOINT (command line): expected a generator of imsize 32, nf 2, z_dim 100, cond_dim 256 (the config's), found imsize 32, nf 1, z_dim 4, cond_dim 3 in '$ROOT/test/fixtures/ckpt/dfgan_state_epoch_3.pth'"* ]]
  [ "$(printf '%s\n' "$output" | grep -c .)" -eq 1 ] && [ ! -e "$T/run" ]
  # a G of another size; a G of the config's sizes but 64 pixels; not a G; not a checkpoint
  gen-step init --imsize 32 --nf 4 --z-dim 100 --cond-dim 256 -o "$T/G_004.npz"
  run -2 MK sample CFG="$T/bird.yml" RUN="$T/run" CHECKPOINT="$T/G_004.npz"
  [[ "$output" == *"(the config's), found imsize 32, nf 4, z_dim 100, cond_dim 256 in '$T/G_004.npz'"* ]]
  gen-step init --imsize 64 --nf 2 --z-dim 100 --cond-dim 256 -o "$T/G_064.npz"
  run -2 MK sample CFG="$T/bird.yml" RUN="$T/run" CHECKPOINT="$T/G_064.npz"
  [[ "$output" == *"found imsize 64, nf 2, z_dim 100, cond_dim 256 in"* ]]
  run -2 MK sample CFG="$T/bird.yml" RUN="$T/run" CHECKPOINT="$W/clip.npz"
  [[ "$output" == *"CHECKPOINT (command line): expected a generator (.npz"*"found no NetG in '$W/clip.npz'"* ]]
  echo 'not a checkpoint' > "$T/state_epoch_1.pth"
  run -2 MK sample CFG="$T/bird.yml" RUN="$T/run" CHECKPOINT="$T/state_epoch_1.pth"
  [[ "$output" == *"expected DF-GAN's training checkpoint (state_epoch_N.pth"*"found '$T/state_epoch_1.pth' unreadable (ckpt: "* ]]
  [ "$(printf '%s\n' "$output" | grep -c .)" -eq 1 ] && [ ! -e "$T/run" ]
  # an epoch asked for as well
  gen-step init --imsize 32 --nf 2 --z-dim 100 --cond-dim 256 -o "$T/G_002.npz"
  run -2 MK sample CFG="$T/bird.yml" RUN="$T/run" CHECKPOINT="$T/G_002.npz" SAMPLE_EPOCH=1
  [[ "$output" == *"bird.mk: SAMPLE_EPOCH picks one of the run's own epochs but CHECKPOINT (command line) names '$T/G_002.npz'; add CHECKPOINT= to use the run's epochs, or drop SAMPLE_EPOCH"* ]]
  [ ! -e "$T/run" ]
}

@test "bird.mk: train does not read checkpoint: a missing one is no error, the epochs are those of a run without it" {
  sed -i "s|^checkpoint:.*|checkpoint: $T/gone/state_epoch_9.pth|" "$T/bird.yml"
  grep -qx "checkpoint: $T/gone/state_epoch_9.pth" "$T/bird.yml"
  run -0 MK train CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=1 TEST_INTERVAL=0
  run -0 MK train CFG="$T/bird.yml" RUN="$T/run2" MAX_BATCHES=1 TEST_INTERVAL=0 CHECKPOINT=
  cmp "$T/run/ckpt/G_001.npz" "$T/run2/ckpt/G_001.npz"
  cmp "$T/run/ckpt/D_001.npz" "$T/run2/ckpt/D_001.npz"
  cmp "$T/run/config.txt" "$T/run2/config.txt"
  [ ! -e "$T/run/weights" ]
  # the run is up to date whatever checkpoint names; sample with one takes it, not G_001
  make -q --no-print-directory -f "$ROOT/pipelines/bird.mk" train CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=1 TEST_INTERVAL=0 CHECKPOINT="$T/run2/ckpt/G_001.npz"
  printf '%s\n' 'a small yellow bird' > "$T/caps.txt"
  gen-step init --imsize 32 --nf 2 --z-dim 100 --cond-dim 256 --seed 9 -o "$T/G_777.npz"
  run -0 MK sample CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=1 TEST_INTERVAL=0 CAPTIONS="$T/caps.txt" IMGS_PER_SENT=2 CHECKPOINT="$T/G_777.npz"
  run -0 MK sample CFG="$T/bird.yml" RUN="$T/run" MAX_BATCHES=1 TEST_INTERVAL=0 CAPTIONS="$T/caps.txt" IMGS_PER_SENT=2 CHECKPOINT=
  [[ "$output" == *"samples of epoch 1: "* ]]
  ! cmp -s "$T/run/samples/caps_G_777/fakes.npy" "$T/run/samples/caps_001/fakes.npy"
  sample_by_hand "$T/run/ckpt/G_001.npz" "$T/caps.txt" 2 100 "$T/hand.npy"
  cmp "$T/hand.npy" "$T/run/samples/caps_001/fakes.npy"
}

# ---- what a config hands to Make and the shell (pipelines/guard.mk) ----

@test "bird.mk: data_dir with blanks, ; \$ backticks, quotes and backslashes works as literal characters; nothing is run" {
  # the issue's injection: "/tmp/x;>PWNED;#" once made Make read ">PWNED;#..." as a recipe (with
  # the folder "x" there to satisfy the prerequisite it cut off)
  mkdir "$T/x"
  make-dataset --out "$T/x;>PWNED;#" --images 48 --seed 1 >/dev/null 2>&1
  sed -i "s|^data_dir:.*|data_dir: \"$T/x;>PWNED;#\"|" "$T/bird.yml"
  run cfg check "$T/bird.yml"
  assert_ok
  run -0 MK data CFG="$T/bird.yml" RUN="$T/run"
  [ ! -e "$T/PWNED" ] && [ ! -e "$T/x/PWNED" ]
  [ "$(wc -l < "$T/run/data/train_filenames.txt")" -eq 36 ]
  [[ "$output" == *"train split: 36 images from $T/x;>PWNED;# -> $T/run/data"* ]]
  # every other character a shell or Make reads: a folder with all of them, written in YAML's
  # double quotes (\" and \\ escaped)
  local d="$T/my birds; \$(touch PWNED1) \`touch PWNED2\` it's \"q\" #x \\y %z *"
  mv "$T/birds" "$d"
  py 'import json; print("data_dir: " + json.dumps(sys.argv[1]))' "$d" > "$T/dd.txt"
  sed -i '/^data_dir:/d' "$T/bird.yml" && cat "$T/dd.txt" >> "$T/bird.yml"
  [ "$(cfg get "$T/bird.yml" data_dir)" = "$d" ]
  run -0 MK data CFG="$T/bird.yml" RUN="$T/run2"
  [[ "$output" == *"train split: 36 images from $d -> $T/run2/data"* ]]
  [ "$(readlink "$T/run2/dataset")" = "$d" ]
  [ "$(wc -l < "$T/run2/data/train_all_captions.txt")" -eq 360 ] && [ -f "$T/run2/data/train_cond.npy" ]
  grep -qF "data=$d " "$T/run2/config.txt"
  [ -z "$(find "$T" / -maxdepth 1 -name 'PWNED*' 2>/dev/null)" ]
  # the same run again: its identity is the same, nothing to do
  run -0 MK data CFG="$T/bird.yml" RUN="$T/run2"
  [[ "$output" != *"split"* ]]
  make -q --no-print-directory -f "$ROOT/pipelines/bird.mk" data CFG="$T/bird.yml" RUN="$T/run2"
  # a missing one is named as written
  py 'import json; print("data_dir: " + json.dumps(sys.argv[1]))' "$d/gone" >> "$T/bird.yml"
  sed -i '0,/^data_dir:/{/^data_dir:/d}' "$T/bird.yml"
  run -2 MK data CFG="$T/bird.yml" RUN="$T/run3"
  [[ "$output" == *"config key data_dir ($T/bird.yml): expected '$d/gone/train/filenames.pickle', found none"* ]]
  [ ! -e "$T/run3" ]
}

# refused WHO VALUE: the last `run --separate-stderr` stopped make at parse time (exit 2) with one
# line naming WHO and the whole VALUE (compared as plain text), nothing on stdout
refused() {
  local rule="a path without blanks or any of ;|:=%*?[]()#\$\\\`\"' (Make or the shell would read them)"
  [ "$status" -eq 2 ] && [ "${#stderr_lines[@]}" -eq 1 ] && [ -z "$output" ] || { echo "status $status: $stderr" >&2; return 1; }
  [[ "$stderr" == *"bird.mk: $1: expected $rule, found '$2'.  Stop." ]] || { echo "found: $stderr" >&2; return 1; }
}

@test "bird.mk: other paths with blanks, ; \$ backticks or quotes are refused in one line naming the key, before any work" {
  local c bad
  for c in ' ' ';' '$' '`' "'" '"' '\' '#' ':' '%' '*' '(' '|' '='; do
    bad="$W/cl${c}ip.npz"
    py 'import json; print("clip_weights: " + json.dumps(sys.argv[1]))' "$bad" > "$T/cw.txt"
    sed -e '/^clip_weights:/d' "$T/bird.yml" > "$T/b2.yml" && cat "$T/cw.txt" >> "$T/b2.yml"
    [ "$(cfg get "$T/b2.yml" clip_weights)" = "$bad" ]
    run --separate-stderr MK train CFG="$T/b2.yml" RUN="$T/run"
    refused "config key clip_weights ($T/b2.yml)" "$bad"
    [ ! -e "$T/run" ]
  done
  # the command line's paths alike, named as the variable; RUN and CFG; numbers and device
  run --separate-stderr MK train CFG="$T/bird.yml" RUN="$T/run" CHECKPOINT="$T/my G.npz"
  refused "CHECKPOINT (command line)" "$T/my G.npz"
  run --separate-stderr MK train CFG="$T/bird.yml" RUN="$T/run" 'TEXT_DAMSM_NAME=$$(touch PWNED).npz'
  refused "TEXT_DAMSM_NAME (command line)" '$(touch PWNED).npz'
  run --separate-stderr MK train CFG="$T/bird.yml" RUN="$T/my run"
  refused RUN "$T/my run"
  cp "$T/bird.yml" "$T/it's.yml"
  run --separate-stderr MK train CFG="$T/it's.yml" RUN="$T/run"
  refused CFG "$T/it's.yml"
  run --separate-stderr MK train CFG="$T/bird.yml" RUN="$T/run" 'BATCH_SIZE=4;touch PWNED'
  assert_fails 2 "*bird.mk: BATCH_SIZE (command line): expected a number, found '4;touch PWNED'.  Stop."
  run --separate-stderr MK train CFG="$T/bird.yml" RUN="$T/run" 'DEVICE=cpu `touch PWNED`'
  assert_fails 2 "*bird.mk: DEVICE (command line): expected one of cpu|cuda, found 'cpu \`touch PWNED\`'.  Stop."
  # a newline never reaches Make: bin/cfg refuses it, naming the key
  printf 'npz_path: "a\\nb"\n' >> "$T/bird.yml"
  sed -i '/^npz_path: ""/d' "$T/bird.yml"
  run --separate-stderr MK train CFG="$T/bird.yml" RUN="$T/run"
  assert_fails 2 "*cfg: $T/bird.yml:*: expected a path without control characters for 'npz_path', found 'a*nb'*"
  [ ! -e "$T/run" ] && [ -z "$(find "$T" "$PWD" -maxdepth 1 -name 'PWNED*')" ]
}

@test "bird.mk: an interrupted run's stale temp files are removed when it goes on, unless a live process holds one" {
  run -0 MK data CFG="$T/bird.yml" RUN="$T/run"
  head -c 1000 /dev/zero > "$T/run/data/.train_cond.npy.tmp.AbC123"
  mkdir -p "$T/run/weights" && head -c 1000 /dev/zero > "$T/run/weights/.damsm.npz.tmp.XyZ789"
  : > "$T/run/data/.held.npy.tmp.Q1w2E3"
  sleep 60 3>> "$T/run/data/.held.npy.tmp.Q1w2E3" &
  local holder=$!
  run -0 MK data CFG="$T/bird.yml" RUN="$T/run"
  kill "$holder"
  [[ "$output" == *"bird.mk: removed 2 stale temp file(s) of an interrupted run under $T/run"* ]]
  [ ! -e "$T/run/data/.train_cond.npy.tmp.AbC123" ] && [ ! -e "$T/run/weights/.damsm.npz.tmp.XyZ789" ]
  [ -e "$T/run/data/.held.npy.tmp.Q1w2E3" ]
}
