#!/usr/bin/env bats
# pipeline_bird.bats: pipelines/bird.mk (and coco.mk) driven by a config: the config included
# (command-line overrides), the required files checked before any work, the data and caches, and
# training with checkpoints every save_interval epochs, samples, FID and CLIP score, and resume;
# captions per image from the config, text_encoder clip, a missing CLIP BPE file, the sample target.
# The data: bin/make-dataset's CUB-layout dataset as DATA_DIR; the config: cfg/bird.yml with tiny
# sizes and its weight paths pointing at random weights written by the tools' --init.

load helpers

MK() { make --no-print-directory -f "$ROOT/pipelines/bird.mk" "$@"; }

setup_file() {
  unset MAKEFLAGS MFLAGS MAKELEVEL
  make --no-print-directory -s -C "$ROOT" bin/cfg bin/make-dataset bin/import-cub bin/tokenize \
    bin/encode-text bin/clip-embed bin/ckpt bin/gen-step bin/disc-step bin/noise bin/batches \
    bin/inception-stats bin/fid bin/npy-png bin/npy-info bin/plot-metrics bin/progress >&2
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
  [ ! -e "$T/run/data" ] && [ ! -e "$T/run/ckpt" ] && [ ! -e "$T/run/weights" ]
  [ "$(printf '%s\n' "$output" | grep -c .)" -eq 1 ]
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
  [ ! -e "$T/run/data" ] && [ ! -e "$T/r2/data" ] && [ ! -e "$T/r3/data" ] && [ ! -e "$T/r4/data" ]
}

@test "bird.mk and coco.mk: a bad config (unknown key) is refused through bin/cfg" {
  echo 'bogus_key: 1' >> "$T/bird.yml"
  run -2 MK train CFG="$T/bird.yml" RUN="$T/run"
  [[ "$output" == *"bogus_key"* ]]
  [ ! -e "$T/run/config.mk" ] && [ ! -e "$T/run/data" ]
  run -2 make --no-print-directory -f "$ROOT/pipelines/coco.mk" train CFG="$T/bird.yml" RUN="$T/run"
  [[ "$output" == *"bogus_key"* ]]
}

@test "coco.mk: checks the COCO layout" {
  run -2 make --no-print-directory -f "$ROOT/pipelines/coco.mk" train CFG="$T/bird.yml" RUN="$T/run"
  [[ "$output" == *"data_dir"*"images/train2014"* ]]
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
  [ ! -e "$T/run/data" ]
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
