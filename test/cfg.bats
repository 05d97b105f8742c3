#!/usr/bin/env bats
# test/cfg.bats: bin/cfg, the config reader the Make pipelines include (lib/config.{h,c}):
# cfg/bird.yml and cfg/coco.yml check and give the expected Make variables; a Makefile that
# includes `cfg make`'s output sees the same strings (spaces, $, #, backslashes) and a variable on
# make's command line still wins; every kind of bad config is refused with exit 2, one line on
# stderr naming the file, the line and the key, and nothing on stdout. checkpoint (sample's and
# eval's generator) is a path key; DF-GAN's resume_epoch/resume_model_path are not keys.

load helpers

setup() {
  common_setup
  cd "$T"
}

# base FILE: a minimal good config, the required keys on lines 1-6; tests append from line 7.
base() {
  printf '%s\n' 'imsize: 64' 'z_dim: 100' 'cond_dim: 256' 'batch_size: 8' 'nf: 32' 'max_epoch: 2' > "$1"
}

# bad LINE...: base config plus LINEs, checked; the caller asserts on the failure.
bad() {
  base x.yml
  printf '%s\n' "$@" >> x.yml
  run --separate-stderr cfg check x.yml
}

@test "cfg: bird.yml and coco.yml check clean" {
  run --separate-stderr cfg check "$ROOT/cfg/bird.yml"
  assert_ok; assert_equal "$output" ""; assert_equal "$stderr" ""
  run --separate-stderr cfg check "$ROOT/cfg/coco.yml"
  assert_ok; assert_equal "$output" ""; assert_equal "$stderr" ""
}

@test "cfg make: bird.yml's variables, defaults filled in" {
  run --separate-stderr cfg make "$ROOT/cfg/bird.yml"
  assert_ok
  for want in 'CONFIG_NAME := bird' 'IMSIZE := 256' 'Z_DIM := 100' 'COND_DIM := 256' 'BATCH_SIZE := 32' \
      'NF := 32' 'MAX_EPOCH := 1301' 'GEN_INTERVAL := 1' 'TEST_INTERVAL := 10' 'SAVE_INTERVAL := 10' \
      'TRUNCATION := 1' 'TRUNC_RATE := 0.88' 'SAMPLE_TIMES := 10' 'LAMBDA_CLIP := 0.01' 'DEVICE := cpu' \
      'LR_G := 0.0001' 'LR_D := 0.0004' 'MANUAL_SEED := 100' 'TEXT_WORDS_NUM := 18' 'TEXT_EMBEDDING_DIM := 256' \
      'TEXT_CAPTIONS_PER_IMAGE := 10' 'TEXT_DAMSM_NAME := data/birds/DAMSMencoder/text_encoder200.npz' \
      'CLIP_WEIGHTS := data/clip/clip.npz' 'TEXT_ENCODER := damsm' 'INCEPTION_WEIGHTS :=' 'CHECKPOINT :='; do
    grep -qxF -- "$want" <<<"$output" || { echo "missing: $want"; echo "$output"; return 1; }
  done
  # one line per schema key plus the header comment
  assert_equal "$(grep -c ' :=' <<<"$output")" "$(cfg schema | wc -l)"
  run --separate-stderr cfg make "$ROOT/cfg/coco.yml" --prefix CFG_
  assert_ok
  for want in 'CFG_CONFIG_NAME := coco' 'CFG_TEST_INTERVAL := 5' 'CFG_SAMPLE_TIMES := 1' 'CFG_MAX_EPOCH := 301' \
      'CFG_TEXT_CAPTIONS_PER_IMAGE := 5' 'CFG_DATA_DIR := data/coco'; do
    grep -qxF -- "$want" <<<"$output" || { echo "missing: $want"; echo "$output"; return 1; }
  done
}

@test "cfg make: defaults for a minimal config; CONFIG_NAME from the file's name" {
  base tiny.yml
  run --separate-stderr cfg make tiny.yml
  assert_ok
  for want in 'CONFIG_NAME := tiny' 'IMSIZE := 64' 'GEN_INTERVAL := 1' 'TEST_INTERVAL := 10' 'SAVE_INTERVAL := 10' \
      'TRUNCATION := 1' 'TRUNC_RATE := 0.88' 'SAMPLE_TIMES := 10' 'LAMBDA_CLIP := 0.01' 'DEVICE := cpu' \
      'LR_G := 0.0001' 'LR_D := 0.0004' 'MANUAL_SEED := 100' 'CH_SIZE := 3' 'TEXT_WORDS_NUM := 18' \
      'TEXT_EMBEDDING_DIM := 256' 'TEXT_CAPTIONS_PER_IMAGE := 10' 'TEXT_DAMSM_NAME :=' 'CLIP_WEIGHTS :=' \
      'TEXT_ENCODER := damsm' 'IMGS_PER_SENT := 16' 'EXAMPLE_CAPTIONS :='; do
    grep -qxF -- "$want" <<<"$output" || { echo "missing: $want"; echo "$output"; return 1; }
  done
}

@test "cfg get: one value by YAML key, nested key or Make name" {
  run --separate-stderr cfg get "$ROOT/cfg/bird.yml" imsize
  assert_ok; assert_equal "$output" 256
  run --separate-stderr cfg get "$ROOT/cfg/coco.yml" TEXT.CAPTIONS_PER_IMAGE
  assert_ok; assert_equal "$output" 5
  run --separate-stderr cfg get "$ROOT/cfg/bird.yml" TEXT_WORDS_NUM
  assert_ok; assert_equal "$output" 18
  run --separate-stderr cfg get "$ROOT/cfg/bird.yml" truncation
  assert_ok; assert_equal "$output" 1
  base b.yml; printf 'truncation: off\nlr_g: +2e-4\n' >> b.yml
  run --separate-stderr cfg get b.yml truncation
  assert_ok; assert_equal "$output" 0
  run --separate-stderr cfg get b.yml lr_g
  assert_ok; assert_equal "$output" 2e-4
  run --separate-stderr cfg get b.yml bach_size
  assert_fails 2 "cfg: expected a config key (see cfg schema), found 'bach_size'"
}

@test "cfg make: an included file gives Make the values; the command line overrides them" {
  cfg make "$ROOT/cfg/bird.yml" > config.mk
  cat > Makefile <<'EOF'
include config.mk
show: ; @echo "$(MAX_EPOCH) $(IMSIZE) $(TEXT_WORDS_NUM) $(LAMBDA_CLIP) $(TRUNCATION) $(DEVICE)"
EOF
  run make -s show
  assert_ok; assert_equal "$output" "1301 256 18 0.01 1 cpu"
  run make -s show MAX_EPOCH=3 DEVICE=cuda
  assert_ok; assert_equal "$output" "3 256 18 0.01 1 cuda"
  # the pipeline's rule: the generated file is remade from the config, then included
  base my.yml
  cat > Makefile <<'EOF'
RUN := run
$(RUN)/config.mk: my.yml ; @mkdir -p $(RUN) && cfg make $< -o $@
include $(RUN)/config.mk
show: ; @echo "$(CONFIG_NAME) $(MAX_EPOCH)"
EOF
  run make -s show
  assert_ok; assert_equal "$output" "my 2"
  sed -i 's/^max_epoch: .*/max_epoch: 7/' my.yml
  run make -s show MAX_EPOCH=9
  assert_ok; assert_equal "$output" "my 9"
  run make -s show
  assert_ok; assert_equal "$output" "my 7"
  # a refused config stops make and leaves the last good config.mk, no temp file
  printf 'bach_size: 3\n' >> my.yml
  run make -s show
  [ "$status" -ne 0 ]
  [[ "$output" == *"cfg: my.yml:7: unknown key 'bach_size' (did you mean 'batch_size'?)"* ]]
  grep -qx 'MAX_EPOCH := 7' run/config.mk
  assert_no_temp run
  run make -s show
  [ "$status" -ne 0 ]
}

@test "cfg make: paths with spaces, \$, #, backslashes, blanks, ; and backticks reach Make unchanged, running nothing" {
  base base.yml
  # JSON strings are YAML double-quoted scalars: Python writes each value into a config and
  # into want$i.txt; Make's $(file ...) and cfg get must give back the same bytes.
  py '
import json
vals = ["data/my birds", "a$b", "$(HOME)", "x#y", "a\\#b", "a\\\\#b", "back\\", "back\\\\", "  lead", "trail  ",
        "tab\there", "\tlead tab", "semi;colon: =eq %pct", "\\", "#", "$", "$$", "quote\"s and '"'"'s", "ünïcödé/路径", "",
        "/tmp/x;>PWNED;#", "`touch PWNED`", "$(shell touch PWNED)"]
base = open("base.yml").read()
for i, v in enumerate(vals):
    open("v%d.yml" % i, "w", encoding="utf-8").write(base + "data_dir: " + json.dumps(v, ensure_ascii=False) + "\n")
    open("want%d.txt" % i, "w", encoding="utf-8").write(v + "\n")
print(len(vals))' > n.txt
  printf 'include v.mk\n$(file >got.txt,$(DATA_DIR))\nall: ; @:\n' > Makefile
  for ((i = 0; i < $(cat n.txt); i++)); do
    cfg make "v$i.yml" > v.mk
    rm -f got.txt
    make -s
    cmp got.txt "want$i.txt" || { echo "value $i: $(cat "want$i.txt") came back as $(cat got.txt)"; return 1; }
    cfg get "v$i.yml" data_dir > got.txt
    cmp got.txt "want$i.txt" || { echo "cfg get: value $i: $(cat "want$i.txt") came back as $(cat got.txt)"; return 1; }
  done
  [ ! -e PWNED ]
}

@test "cfg: unknown key, with the nearest known one" {
  bad 'bach_size: 3'
  assert_fails 2 "cfg: x.yml:7: unknown key 'bach_size' (did you mean 'batch_size'?)"
  bad 'TEXT:' '  WORDS_NUM: 18' '  WORD_NUM: 18'
  assert_fails 2 "cfg: x.yml:9: unknown key 'TEXT.WORD_NUM' (did you mean 'TEXT.WORDS_NUM'?)"
  bad 'colour: blue'
  assert_fails 2 "cfg: x.yml:7: unknown key 'colour'"
  bad 'k0: 1'
  assert_fails 2 "cfg: x.yml:7: unknown key 'k0'"
}

@test "cfg: checkpoint is a path (CHECKPOINT, empty by default); DF-GAN's resume keys are not config keys" {
  base c.yml
  run --separate-stderr cfg make c.yml
  assert_ok
  grep -qxF 'CHECKPOINT :=' <<<"$output"
  printf '%s\n' 'checkpoint: ./saved_models/bird/state_epoch_1220.pth' >> c.yml
  run --separate-stderr cfg get c.yml CHECKPOINT
  assert_ok; assert_equal "$output" ./saved_models/bird/state_epoch_1220.pth
  # train starts from the run's own checkpoints only: resume_epoch / resume_model_path are refused
  bad 'resume_epoch: 3'
  assert_fails 2 "cfg: x.yml:7: unknown key 'resume_epoch'"
  bad 'resume_model_path: ./saved_models/bird/'
  assert_fails 2 "cfg: x.yml:7: unknown key 'resume_model_path'"
}

@test "cfg: missing required key" {
  printf '%s\n' 'z_dim: 100' 'cond_dim: 256' 'batch_size: 8' 'nf: 32' 'max_epoch: 2' > x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:1: missing required key 'imsize'"
  run --separate-stderr cfg make x.yml
  assert_fails 2 "cfg: x.yml:1: missing required key 'imsize'"
  printf 'imsize:\n' >> x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:6: expected an integer for 'imsize', found nothing"
}

@test "cfg: wrong types" {
  bad 'batch_size: many'
  assert_fails 2 "cfg: x.yml:7: duplicate key 'batch_size' (first at line 4)"
  printf '%s\n' 'imsize: 64' 'z_dim: 100' 'cond_dim: 256' 'nf: 32' 'max_epoch: 2' 'lr_g: 1e-4' 'batch_size: many' > x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:7: expected an integer for 'batch_size', found 'many'"
  sed -i 's/^batch_size: .*/batch_size: 8.5/' x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:7: expected an integer for 'batch_size', found '8.5'"
  sed -i 's/^batch_size: .*/batch_size: "8"/' x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:7: expected an integer for 'batch_size', found the quoted string '8'"
  sed -i 's/^batch_size: .*/batch_size: 010/' x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:7: expected an integer for 'batch_size', found '010'"
  sed -i 's/^batch_size: .*/batch_size: [8, 16]/' x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:7: expected an integer for 'batch_size', found a sequence"
  bad 'truncation: maybe'
  assert_fails 2 "cfg: x.yml:7: expected true or false for 'truncation', found 'maybe'"
  bad 'lambda_clip: lots'
  assert_fails 2 "cfg: x.yml:7: expected a number for 'lambda_clip', found 'lots'"
  bad 'lambda_clip: .nan'
  assert_fails 2 "cfg: x.yml:7: expected a number for 'lambda_clip', found '.nan'"
  bad 'TEXT: 18'
  assert_fails 2 "cfg: x.yml:7: expected a mapping for 'TEXT', found '18'"
  bad 'TEXT:' '  WORDS_NUM: {a: 1}'
  assert_fails 2 "cfg: x.yml:8: expected an integer for 'TEXT.WORDS_NUM', found a mapping"
  bad 'data_dir: "two\nlines"'
  assert_fails 2 "cfg: x.yml:7: expected a path without control characters for 'data_dir', found 'two\\nlines'"
  bad 'data_dir: "nul\0byte"'
  assert_fails 2 "cfg: x.yml:7: expected a path for 'data_dir', found one holding a NUL byte"
}

@test "cfg: values out of range" {
  bad 'save_interval: 0'
  assert_fails 2 "cfg: x.yml:7: expected an integer from 1 to 1000000000 for 'save_interval', found 0"
  sed -i 's/^imsize: .*/imsize: 100/' x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:1: expected a power of two for 'imsize', found 100"
  sed -i 's/^imsize: .*/imsize: 16/' x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:1: expected an integer from 32 to 4096 for 'imsize', found 16"
  bad 'device: gpu'
  assert_fails 2 "cfg: x.yml:7: expected one of cpu|cuda for 'device', found 'gpu'"
  bad 'text_encoder: bert'
  assert_fails 2 "cfg: x.yml:7: expected one of damsm|clip for 'text_encoder', found 'bert'"
  bad 'text_encoder: CLIP'
  assert_fails 2 "cfg: x.yml:7: expected one of damsm|clip for 'text_encoder', found 'CLIP'"
  bad 'imgs_per_sent: 0'
  assert_fails 2 "cfg: x.yml:7: expected an integer from 1 to 4096 for 'imgs_per_sent', found 0"
  bad 'lambda_clip: -0.5'
  assert_fails 2 "cfg: x.yml:7: expected a number of at least 0 and at most 1e+06 for 'lambda_clip', found '-0.5'"
  bad 'lr_d: 0'
  assert_fails 2 "cfg: x.yml:7: expected a number above 0 and at most 1 for 'lr_d', found '0'"
  bad 'batch_size: -1'
  assert_fails 2 "cfg: x.yml:7: duplicate key 'batch_size' (first at line 4)"
  sed -i '4d' x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:6: expected an integer from 1 to 65536 for 'batch_size', found -1"
  bad 'TEXT:' '  EMBEDDING_DIM: 128'
  assert_fails 2 "cfg: x.yml:3: expected 'cond_dim' to equal 'TEXT.EMBEDDING_DIM' with text_encoder damsm, found 256 and 128"
  printf 'text_encoder: clip\n' >> x.yml
  run --separate-stderr cfg check x.yml
  assert_ok
  run --separate-stderr cfg get x.yml text_encoder
  assert_ok; assert_equal "$output" clip
}

@test "cfg: duplicate keys, top level and nested" {
  bad 'nf: 16'
  assert_fails 2 "cfg: x.yml:7: duplicate key 'nf' (first at line 5)"
  bad 'TEXT:' '  WORDS_NUM: 18' '  WORDS_NUM: 20'
  assert_fails 2 "cfg: x.yml:9: duplicate key 'TEXT.WORDS_NUM' (first at line 8)"
  bad 'TEXT: {}' 'TEXT: {}'
  assert_fails 2 "cfg: x.yml:8: duplicate key 'TEXT' (first at line 7)"
}

@test "cfg: YAML syntax errors name the line" {
  bad 'lambda_clip: 0.01' 'nf 16' 'device: cpu'
  assert_fails 2 "cfg: x.yml:9: YAML syntax error: could not find expected ':' at column 1 (while scanning a simple key at line 8)"
  bad 'data_dir: "open'
  assert_fails 2 "cfg: x.yml:8: YAML syntax error: found unexpected end of stream at column 1 (while scanning a quoted scalar at line 7)"
  printf 'imsize: 64\n\xff\xfe: 1\n' > x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:2: YAML syntax error: invalid leading UTF-8 octet (byte 0xff at offset 11)"
}

@test "cfg: not one mapping: a list, a scalar, an empty file, two documents, a missing file" {
  printf -- '- imsize: 64\n' > x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:1: expected a mapping of config keys, found a sequence"
  printf 'hello\n' > x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:1: expected a mapping of config keys, found 'hello'"
  : > x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:1: expected a mapping of config keys, found an empty file"
  base x.yml; printf -- '---\nnf: 3\n' >> x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:7: expected one YAML document, found a second"
  run --separate-stderr cfg make nothere.yml
  assert_fails 2 "cfg: nothere.yml: expected a readable config file, found No such file or directory"
  run --separate-stderr cfg check .
  assert_fails 2 "cfg: .: expected a readable config file, found a read error"
  printf '[1, 2]: 3\n' > x.yml
  run --separate-stderr cfg check x.yml
  assert_fails 2 "cfg: x.yml:1: expected a key name, found a sequence"
}

@test "cfg: hostile YAML: alias bomb, anchors, tags, deep nesting, huge input" {
  py '
lines = ["data_dir: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]"]
for i in range(1, 9):
    p = chr(ord("a") + i - 1)
    lines.append("%s: &%s [%s]" % (chr(ord("a") + i), chr(ord("a") + i), ",".join(["*" + p] * 9)))
open("bomb.yml", "w").write("\n".join(lines) + "\n")'
  run --separate-stderr cfg check bomb.yml
  assert_fails 2 "cfg: bomb.yml:1: anchors are not supported in a config"
  bad 'data_dir: *x'
  assert_fails 2 "cfg: x.yml:7: aliases are not supported in a config"
  bad 'data_dir: &p data'
  assert_fails 2 "cfg: x.yml:7: anchors are not supported in a config"
  bad 'data_dir: !!str data'
  assert_fails 2 "cfg: x.yml:7: tags are not supported in a config, found 'tag:yaml.org,2002:str'"
  py 'open("deep.yml", "w").write("imsize: " + "[" * 200000 + "]" * 200000 + "\n")'
  run --separate-stderr cfg check deep.yml
  assert_fails 2 "cfg: deep.yml:1: expected an integer for 'imsize', found a sequence"
  py 'open("deep.yml", "w").write("[" * 500000 + "\n")'
  run --separate-stderr cfg check deep.yml
  assert_fails 2 "cfg: deep.yml:1: expected a mapping of config keys, found a sequence"
  py 'open("deep.yml", "w").write("".join("  " * i + "k%d:\n" % i for i in range(900)))'
  run --separate-stderr cfg check deep.yml
  assert_fails 2 "cfg: deep.yml:1: unknown key 'k0'"
  py 'open("big.yml", "w").write("# " + "x" * (1 << 20) + "\n")'
  run --separate-stderr cfg check big.yml
  assert_fails 2 "cfg: big.yml: expected a config of at most 1048576 bytes, found a larger file"
  py 'open("long.yml", "w").write("data_dir: " + "x" * 5000 + "\n")'
  run --separate-stderr cfg check long.yml
  assert_fails 2 "cfg: long.yml:1: expected a scalar of at most 4096 bytes, found a longer one"
}

@test "cfg: usage errors and --help" {
  run --separate-stderr cfg --help
  assert_ok; [[ "$output" == usage:* ]]
  run --separate-stderr cfg
  assert_fails 2 "cfg: expected a command (check, make, get, schema), found none (see --help)"
  run --separate-stderr cfg frob x.yml
  assert_fails 2 "cfg: expected a command (check, make, get, schema), found 'frob'"
  base x.yml
  run --separate-stderr cfg make x.yml --prefix 'A B'
  assert_fails 2 "cfg: expected --prefix of letters, digits and '_', found 'A B'"
  run --separate-stderr cfg make x.yml --verbose
  assert_fails 2 "cfg: expected a known option, found '--verbose' (see --help)"
  run --separate-stderr cfg check x.yml -o y.mk
  assert_fails 2 "cfg: expected --prefix and -o only with make, found -o with check"
  run --separate-stderr cfg get x.yml
  assert_fails 2 "cfg: expected cfg get FILE.yml KEY, found 1 arguments"
}
