# pipelines/common.mk: the config-driven pipeline for real data, included by pipelines/bird.mk and
# pipelines/coco.mk (which set CFG, RUN, PIPE and IMPORT_FLAGS first). Not meant to be run alone.
#
# The same machinery as pipelines/demo.mk (its epoch, sample, test, eval and metrics rules are
# copied here, demo.mk being left as it is), with the data, the weights and the settings from the
# config:
#   1. $(RUN)/config.mk from $(CFG) by bin/cfg (atomically), included: a config bin/cfg refuses
#      stops make with bin/cfg's line (FILE:LINE: what was expected, what was found). Variables on
#      the make command line override the config's (make -f pipelines/bird.mk MAX_EPOCH=3); the
#      names are bin/cfg's (BATCH_SIZE, Z_DIM, COND_DIM, MANUAL_SEED, ...). MAX_BATCHES=N (not a
#      config key) caps the batches per epoch, EVAL_EPOCH picks eval's checkpoint (default the last).
#   2. Before any work, every file the config names is checked: DATA_DIR in DF-GAN's layout, the
#      DAMSM encoder (TEXT.DAMSM_NAME), CLIP (clip_weights, when lambda_clip > 0 or test_interval > 0),
#      Inception (inception_weights, when test_interval > 0) and the FID statistics (npz_path, when
#      set; empty: computed from the test split); a missing one stops make with one line: the key,
#      the expected path and how to get it (data/README.md).
#   3. The data and caches (target `data`): import-cub's uint8 caches of the train and test splits
#      (IMPORT_FLAGS: --coco for COCO), the DAMSM vocabulary (DATA_DIR/captions_DAMSM.pickle when
#      present, else built from the train then test captions), .pth/.safetensors weights converted
#      once by bin/ckpt import into $(RUN)/weights/, DAMSM sentence embeddings and CLIP text
#      features of every train caption, and for the tests the first caption of each test image.
#   4. `train`: epochs 1..max_epoch as demo.mk (batches, gen-step/disc-step/clip-embed through
#      FIFOs, weights resident, lr_g/lr_d, DF-GAN's order). Checkpoints ckpt/G_<eee>.npz, D_<eee>.npz
#      are kept every save_interval epochs and at max_epoch; the others are Make intermediates,
#      deleted once the next epoch, the samples and the tests that read them are made, so running
#      make again after an interruption resumes from the last kept pair. Sample grids every
#      gen_interval epochs (truncated noise when truncation is true), FID (against npz_path) and
#      CLIP score every test_interval, metrics.csv/metrics.png/losses.jsonl as demo.mk.
#      `sample`, `eval` (sample_times repetitions), `all`, `clean` as demo.mk.
# Not done: text_encoder: clip (refused), the checkpoint and example_captions keys (ignored).
#
# Under $(RUN): config.mk, config.txt (the run's identity; another refused), data/ (caches),
# weights/ (converted weights), ckpt/, log/, samples/, eval/, losses.jsonl, metrics.csv, metrics.png.

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := train
.PHONY: train data clean check sample eval all

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
CFG_TOOL   ?= $(ROOT)/bin/cfg
IMPORT_CUB ?= $(ROOT)/bin/import-cub
TOKENIZE   ?= $(ROOT)/bin/tokenize
ENCODE_TEXT ?= $(ROOT)/bin/encode-text
CLIP_EMBED ?= $(ROOT)/bin/clip-embed
CKPT_TOOL  ?= $(ROOT)/bin/ckpt
CLIP_HEAD_WIDTH ?= 64

ifeq ($(strip $(RUN)),)
$(error RUN expects a folder, found nothing)
endif
ifeq ($(strip $(CFG)),)
$(error CFG expects a config file (cfg/*.yml), found nothing)
endif

# ---- the config ----
# Regenerated at parse time when missing or older than $(CFG) (so the checks below never see stale
# values), atomically by bin/cfg -o; bin/cfg's error line stops make.
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),train)),)
ifneq ($(shell [ -f '$(CFG)' ] && echo y),y)
$(error CFG: expected a config file, found no '$(CFG)' (see cfg/bird.yml, cfg/coco.yml))
endif
ifneq ($(shell [ '$(RUN)/config.mk' -nt '$(CFG)' ] && echo y),y)
CFG_ERR := $(shell mkdir -p '$(RUN)' && '$(CFG_TOOL)' make '$(CFG)' -o '$(RUN)/config.mk' 2>&1 >/dev/null || echo "cfg: refused '$(CFG)'")
ifneq ($(strip $(CFG_ERR)),)
$(error $(CFG_ERR))
endif
endif
include $(RUN)/config.mk
else
# clean: no config read; the epoch lists stay empty
MAX_EPOCH := 0
endif

DATA := $(RUN)/data
WDIR := $(RUN)/weights
DS   := $(DATA_DIR)
K    := $(TEXT_CAPTIONS_PER_IMAGE)
CLIP_ON := $(shell awk 'BEGIN { if ($(or $(LAMBDA_CLIP),0) + 0 > 0) print "y" }')
TEST_ON := $(filter-out 0,$(TEST_INTERVAL))
NEED_CLIP := $(or $(CLIP_ON),$(TEST_ON))

# ---- required files: checked before any work ----
# need KEY PATH HOW: stop with one line when PATH is missing
need = $(if $(wildcard $(2)),,$(error $(PIPE): config key $(1) ($(CFG)): expected '$(2)', found none; $(3)))
HOWTO_DATA := get the dataset in DF-GAN's layout as data/README.md says
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),train)),)
$(if $(strip $(DATA_DIR)),,$(error $(PIPE): config key data_dir ($(CFG)): expected the dataset's folder, found it empty; $(HOWTO_DATA)))
$(call need,data_dir,$(DS)/train/filenames.pickle,$(HOWTO_DATA))
$(call need,data_dir,$(DS)/test/filenames.pickle,$(HOWTO_DATA))
$(foreach f,$(DATA_LAYOUT),$(call need,data_dir,$(DS)/$(f),$(HOWTO_DATA)))
$(if $(strip $(TEXT_DAMSM_NAME)),,$(error $(PIPE): config key TEXT.DAMSM_NAME ($(CFG)): expected the DAMSM text encoder's path, found it empty; set it to DF-GAN's text_encoder*.pth (see data/README.md)))
$(call need,TEXT.DAMSM_NAME,$(TEXT_DAMSM_NAME),download DF-GAN's DAMSM text encoder (data/README.md); a .pth is converted once by bin/ckpt import)
ifneq ($(NEED_CLIP),)
$(if $(strip $(CLIP_WEIGHTS)),,$(error $(PIPE): config key clip_weights ($(CFG)): expected OpenAI CLIP weights (needed when lambda_clip > 0 or test_interval > 0), found it empty; set it to ViT-B-32.pt converted by bin/ckpt import, or a .pth/.safetensors))
$(call need,clip_weights,$(CLIP_WEIGHTS),get OpenAI's CLIP ViT-B/32 weights (.pt/.pth/.safetensors are converted once by bin/ckpt import; see data/README.md))
endif
ifneq ($(TEST_ON),)
$(if $(strip $(INCEPTION_WEIGHTS)),,$(error $(PIPE): config key inception_weights ($(CFG)): expected torchvision inception_v3 weights (needed for FID when test_interval > 0), found it empty; set it to pt_inception-2015-12-05 or inception_v3_google .pth (converted by bin/ckpt import), or test_interval: 0))
$(call need,inception_weights,$(INCEPTION_WEIGHTS),get pytorch-fid's pt_inception-2015-12-05-6726825d.pth or torchvision's inception_v3_google .pth (converted once by bin/ckpt import))
ifneq ($(strip $(NPZ_PATH)),)
$(call need,npz_path,$(NPZ_PATH),download DF-GAN's FID statistics of the test split (data/README.md), or set npz_path: '' to compute them)
endif
endif
endif

# ---- weights: .npz as given, others converted once into $(WDIR) ----
# npz_of KEYNAME PATH: the .npz that the tools read
npz_of = $(if $(filter %.npz,$(2)),$(2),$(WDIR)/$(1).npz)
DAMSM_W     := $(call npz_of,damsm,$(TEXT_DAMSM_NAME))
CLIP_W      := $(call npz_of,clip,$(CLIP_WEIGHTS))
INCEPTION_W := $(call npz_of,inception,$(INCEPTION_WEIGHTS))
define convert_rule
$(WDIR)/$(1).npz: $(2) | $(RUN)/config.mk
	@mkdir -p '$(WDIR)'
	'$(CKPT_TOOL)' import '$$<' -o '$$@'
	echo "$(1) weights: $$< -> $$@"
endef
$(if $(filter-out %.npz,$(TEXT_DAMSM_NAME)),$(eval $(call convert_rule,damsm,$(TEXT_DAMSM_NAME))))
$(if $(and $(NEED_CLIP),$(filter-out %.npz,$(CLIP_WEIGHTS))),$(eval $(call convert_rule,clip,$(CLIP_WEIGHTS))))
$(if $(and $(TEST_ON),$(filter-out %.npz,$(INCEPTION_WEIGHTS))),$(eval $(call convert_rule,inception,$(INCEPTION_WEIGHTS))))

# ---- settings from the config (command-line variables override the config's names) ----
GEN_STEP   ?= $(ROOT)/bin/gen-step
DISC_STEP  ?= $(ROOT)/bin/disc-step
NOISE      ?= $(ROOT)/bin/noise
BATCHES    ?= $(ROOT)/bin/batches
INCEPTION  ?= $(ROOT)/bin/inception-stats
FID        ?= $(ROOT)/bin/fid
NPY_PNG    ?= $(ROOT)/bin/npy-png
PLOT       ?= $(ROOT)/bin/plot-metrics
MAX_BATCHES ?= 0
BATCH := $(BATCH_SIZE)
Z     := $(Z_DIM)
COND  := $(COND_DIM)
SEED  := $(MANUAL_SEED)
TRUNC_FLAGS := $(if $(filter 1,$(TRUNCATION)),--truncate 2) --trunc-rate $(TRUNC_RATE)
EVAL_EPOCH ?= $(MAX_EPOCH)
CKPT := $(RUN)/ckpt
LOG  := $(RUN)/log
FID_STATS := $(or $(NPZ_PATH),$(DATA)/test_stats.npz)
CLIP_FLAGS := --weights '$(CLIP_W)' --head-width $(CLIP_HEAD_WIDTH)
EVAL_WEIGHTS := config

ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),train)),)
isnum = $(shell [[ "$(1)" =~ ^[0-9]+$$ ]] && echo y)
$(foreach v,MAX_EPOCH MAX_BATCHES SAVE_INTERVAL GEN_INTERVAL TEST_INTERVAL SAMPLE_TIMES EVAL_EPOCH,$(if $(call isnum,$($(v))),,$(error $(PIPE): $(v) expects a whole number, found '$($(v))')))
ifneq ($(COND),$(TEXT_EMBEDDING_DIM))
$(error $(PIPE): config key cond_dim ($(CFG)): expected the DAMSM embedding size TEXT.EMBEDDING_DIM=$(TEXT_EMBEDDING_DIM), found $(COND))
endif
ifneq ($(TEXT_ENCODER),damsm)
$(error $(PIPE): config key text_encoder ($(CFG)): expected damsm (text_encoder: clip is not yet supported by this pipeline), found $(TEXT_ENCODER))
endif
endif

# epochs 001..MAX_EPOCH, each with the one before it; checkpoints kept every SAVE_INTERVAL epochs and
# at MAX_EPOCH; the others are intermediate (made, used by the next epoch, samples and tests, then
# deleted by make), so resuming starts from the last kept pair
EPOCH_IDS   := $(shell seq -f %03g 1 $(MAX_EPOCH))
EPOCH_PAIRS := $(shell for ((e = 1; e <= $(MAX_EPOCH); e++)); do printf '%03d:%03d ' $$((e - 1)) $$e; done)
LAST        := $(lastword 000 $(EPOCH_IDS))
every       = $(shell for ((e = 1; e <= $(MAX_EPOCH); e++)); do (( $(1) > 0 && e % $(1) == 0 )) && printf '%03d ' $$e; done; true)
GEN_IDS     := $(call every,$(GEN_INTERVAL))
TEST_IDS    := $(call every,$(TEST_INTERVAL))
SAVE_IDS    := $(sort $(call every,$(SAVE_INTERVAL)) $(LAST))
EVAL_ID     := $(shell printf %03d $(EVAL_EPOCH))
.INTERMEDIATE: $(foreach e,$(filter-out $(SAVE_IDS),$(EPOCH_IDS)),$(CKPT)/G_$(e).npz $(CKPT)/D_$(e).npz)

# The run's identity: a RUN folder made with other settings is refused rather than mixed.
CONFIG     := imsize=$(IMSIZE) nf=$(NF) batch=$(BATCH) cond=$(COND) z=$(Z) max_batches=$(MAX_BATCHES) seed=$(SEED) lambda_clip=$(LAMBDA_CLIP) lr_g=$(LR_G) lr_d=$(LR_D) data=$(DATA_DIR) damsm=$(TEXT_DAMSM_NAME) clip=$(CLIP_WEIGHTS) inception=$(INCEPTION_WEIGHTS)
OLD_CONFIG := $(shell cat '$(RUN)/config.txt' 2>/dev/null)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),train)),)
ifneq ($(OLD_CONFIG),)
ifneq ($(OLD_CONFIG),$(CONFIG))
$(error $(PIPE): $(RUN) was made with "$(OLD_CONFIG)", found "$(CONFIG)": set them back, pick another RUN=, or make -f pipelines/$(PIPE) clean)
endif
endif
endif
$(RUN)/config.txt:
	@mkdir -p '$(RUN)'
	echo '$(CONFIG)' > '$@'

# The tools: built through the main Makefile when missing or out of date (checked once, here).
TOOL_NAMES  := cfg ckpt gen-step disc-step noise import-cub encode-text batches clip-embed tokenize inception-stats fid npy-png plot-metrics
TOOLS       := $(addprefix $(ROOT)/bin/,$(TOOL_NAMES))
TOOLS_STALE := $(shell $(MAKE) -s -C '$(ROOT)' -q $(addprefix bin/,$(TOOL_NAMES)) >/dev/null 2>&1 || echo y)
ifneq ($(TOOLS_STALE),)
.PHONY: tools
$(TOOLS): tools ;
tools:
	@$(MAKE) --no-print-directory -C '$(ROOT)' $(addprefix bin/,$(TOOL_NAMES))
endif

# ---- data ----
# import split prefix: import-cub's cache of one split (atomic outputs)
define import_split
@mkdir -p '$(DATA)'
'$(IMPORT_CUB)' --root '$(DS)' --split $(1) --imsize $(IMSIZE) --captions-per-image $(K) $(IMPORT_FLAGS) \
    --images '$(DATA)/$(1)_images.npy' --captions '$(DATA)/$(1)_all_captions.txt' --filenames '$(DATA)/$(1)_filenames.txt'
echo "$(1) split: $$(wc -l < '$(DATA)/$(1)_filenames.txt') images from $(DS) -> $(DATA)"
endef
$(DATA)/train_images.npy $(DATA)/train_all_captions.txt $(DATA)/train_filenames.txt &: $(DS)/train/filenames.pickle | $(TOOLS) $(RUN)/config.txt
	$(call import_split,train)
$(DATA)/test_cache.npy $(DATA)/test_all_captions.txt $(DATA)/test_filenames.txt &: $(DS)/test/filenames.pickle | $(TOOLS) $(RUN)/config.txt
	$(call import_split,test)
	mv '$(DATA)/test_images.npy' '$(DATA)/test_cache.npy'

# the vocabulary: DF-GAN's captions_DAMSM.pickle (the one its DAMSM encoder was trained with) when
# present, else built from the train then the test captions as DF-GAN's build_dictionary
VOCAB := $(or $(wildcard $(DS)/captions_DAMSM.pickle),$(DATA)/vocab.txt)
$(DATA)/vocab.txt: $(DATA)/train_all_captions.txt $(DATA)/test_all_captions.txt | $(TOOLS)
	@'$(TOKENIZE)' --build-vocab -o '$@' $^
	echo "vocab: $$(( $$(wc -l < '$@') - 1 )) words (no $(DS)/captions_DAMSM.pickle) -> $@"

# DAMSM sentence embeddings of a captions file (token ids kept beside): damsm_of ids-path
define damsm_of
@'$(TOKENIZE)' --vocab '$(VOCAB)' --max-words $(TEXT_WORDS_NUM) -o '$(1)' '$<'
'$(ENCODE_TEXT)' --weights '$(DAMSM_W)' --ids '$(1)' -o '$@'
echo "damsm sentence embeddings: $< -> $@"
endef
$(DATA)/train_cond.npy: $(DATA)/train_all_captions.txt $(VOCAB) $(DAMSM_W) | $(TOOLS)
	$(call damsm_of,$(DATA)/train_ids.npy)
$(DATA)/test_cond.npy: $(DATA)/test_captions.txt $(VOCAB) $(DAMSM_W) | $(TOOLS)
	$(call damsm_of,$(DATA)/test_ids.npy)
$(DATA)/sample_cond.npy: $(DATA)/sample_captions.txt $(VOCAB) $(DAMSM_W) | $(TOOLS)
	$(call damsm_of,$(DATA)/sample_ids.npy)

# the test captions: each test image's first caption; the samples': the first BATCH of them
$(DATA)/test_captions.txt: $(DATA)/test_all_captions.txt
	@awk '(NR - 1) % $(K) == 0' '$<' > '$@.part'
	mv '$@.part' '$@'
$(DATA)/sample_captions.txt: $(DATA)/test_captions.txt
	@n=$$(wc -l < '$<')
	if [ $$n -lt $(BATCH) ]; then echo "$(PIPE): expected at least BATCH=$(BATCH) test images for the samples, found $$n" >&2; exit 2; fi
	head -n $(BATCH) '$<' > '$@.part'
	mv '$@.part' '$@'

# the test images for FID (when NPZ_PATH is empty): the uncropped RxR cache as float in [-1,1]
$(DATA)/test_ids_all.npy: $(DATA)/test_all_captions.txt $(VOCAB) | $(TOOLS)
	@'$(TOKENIZE)' --vocab '$(VOCAB)' --max-words $(TEXT_WORDS_NUM) -o '$@' '$<'
$(DATA)/test_images.npy: $(DATA)/test_cache.npy $(DATA)/test_ids_all.npy $(DATA)/test_filenames.txt | $(TOOLS)
	@n=$$(wc -l < '$(DATA)/test_filenames.txt')
	'$(BATCHES)' --cache '$<' --emb '$(DATA)/test_ids_all.npy' --imsize $$(( $(IMSIZE) * 76 / 64 )) --batch $$n --epoch 0 \
	    --seed $(SEED) --images '$@' --cond /dev/null
$(DATA)/test_stats.npz: $(DATA)/test_images.npy $(INCEPTION_W) | $(TOOLS)
	@'$(INCEPTION)' --weights '$(INCEPTION_W)' -o '$@' '$<' 2> '$@.err' || { cat '$@.err' >&2; rm -f '$@.err'; exit 1; }
	rm -f '$@.err'
	echo "test stats (no npz_path): $@"

$(DATA)/test_noise.npy: $(DATA)/test_filenames.txt | $(TOOLS)
	@'$(NOISE)' --batch $$(wc -l < '$<') --dim $(Z) --batches 1 --seed $$(($(SEED) + 1000)) $(TRUNC_FLAGS) -o '$@'

# CLIP text features of a captions file, one array (tokens kept beside): text_features ids-path
define text_features
@'$(TOKENIZE)' --clip -o '$(1)' '$<'
'$(CLIP_EMBED)' text $(CLIP_FLAGS) --in '$(1)' -o '$@'
echo "clip text features: $< -> $@"
endef
$(DATA)/train_text_features.npy: $(DATA)/train_all_captions.txt $(CLIP_W) | $(TOOLS)
	$(call text_features,$(DATA)/train_clip_ids.npy)
$(DATA)/test_text_features.npy: $(DATA)/test_captions.txt $(CLIP_W) | $(TOOLS)
	$(call text_features,$(DATA)/test_clip_ids.npy)

# epoch e's streams, made by bin/batches (as demo.mk: shuffle from (SEED, e), drop_last, one caption
# per image, random crop and flip; the CLIP features of the same captions from the same draws)
comma := ,
epoch_real = $(RUN)/tmp/epoch_$(1)/real.npy
epoch_cond = $(RUN)/tmp/epoch_$(1)/cond.npy
epoch_text = $(RUN)/tmp/epoch_$(1)/text.npy
DATA_FILES := $(DATA)/train_images.npy $(DATA)/train_cond.npy $(DATA)/train_filenames.txt $(if $(CLIP_ON),$(DATA)/train_text_features.npy $(CLIP_W))
BATCHES_ARGS = --cache '$(DATA)/train_images.npy' --imsize $(IMSIZE) --batch $(BATCH) --epoch $$((10\#$(E))) --seed $(SEED) $(if $(filter-out 0,$(MAX_BATCHES)),--max-batches $(MAX_BATCHES))
define epoch_data
n=$$(wc -l < '$(DATA)/train_filenames.txt')
steps=$$((n / $(BATCH)))
$(if $(filter-out 0,$(MAX_BATCHES)),(( steps <= $(MAX_BATCHES) )) || steps=$(MAX_BATCHES))
if [ $$steps -lt 1 ]; then echo "$(PIPE): expected at least BATCH=$(BATCH) training images, found $$n" >&2; exit 2; fi
'$(BATCHES)' $(BATCHES_ARGS) --emb '$(DATA)/train_cond.npy' --images '$(call epoch_real,$(E))' --cond '$(call epoch_cond,$(E))' --index "$$tmp/index.npy"
$(if $(CLIP_ON),'$(BATCHES)' $(BATCHES_ARGS) --emb '$(DATA)/train_text_features.npy' --images /dev/null --cond '$(call epoch_text,$(E))' --index "$$tmp/index_text.npy"
cmp -s "$$tmp/index.npy" "$$tmp/index_text.npy" || { echo "$(PIPE): expected the CLIP features of the same captions as cond in epoch $(E)$(comma) found other draws" >&2; exit 1; })
endef

# ---- model ----
$(CKPT)/G_000.npz $(CKPT)/D_000.npz &: | $(TOOLS) $(RUN)/config.txt
	@echo "init: NetG and NetD/NetC (imsize $(IMSIZE), nf $(NF), z $(Z), cond $(COND)) -> $(CKPT)/G_000.npz, D_000.npz"
	mkdir -p '$(CKPT)'
	'$(GEN_STEP)' init --imsize $(IMSIZE) --nf $(NF) --z-dim $(Z) --cond-dim $(COND) --seed $$((2 * $(SEED))) -o '$(CKPT)/G_000.npz'
	'$(DISC_STEP)' init --imsize $(IMSIZE) --nf $(NF) --cond-dim $(COND) --seed $$((2 * $(SEED) + 1)) -o '$(CKPT)/D_000.npz'

define run_epoch
@tmp='$(RUN)/tmp/epoch_$(E)'
rm -rf "$$tmp"
mkdir -p "$$tmp" '$(LOG)'
mkfifo "$$tmp/fake.fifo" "$$tmp/grad.fifo" "$$tmp/tick.fifo"
$(epoch_data)
'$(NOISE)' --batch $(BATCH) --dim $(Z) --batches $$steps --seed $$(($(SEED) + 10#$(E))) -o "$$tmp/noise.npy"
t0=$$(date +%s%N)
pids=
trap '[ -z "$$pids" ] || kill $$pids 2>/dev/null || true' EXIT
$(if $(CLIP_ON),
mkfifo "$$tmp/fake_d.fifo" "$$tmp/fake_c.fifo" "$$tmp/cgrad_out.fifo" "$$tmp/cgrad.fifo"
fake_d="$$tmp/fake_d.fifo"
tee "$$tmp/fake_c.fifo" < "$$tmp/fake.fifo" > "$$tmp/fake_d.fifo" &
pids="$$pids $$!"
'$(CLIP_EMBED)' loss $(CLIP_FLAGS) --lambda $(LAMBDA_CLIP) --text '$(call epoch_text,$(E))' \
    --in "$$tmp/fake_c.fifo" -o "$$tmp/cgrad_out.fifo" --log "$$tmp/clip.jsonl" &
pids="$$pids $$!"
cat < "$$tmp/cgrad_out.fifo" > "$$tmp/cgrad.fifo" &
pids="$$pids $$!"
more_grad=(--grad "$$tmp/cgrad.fifo")
,
fake_d="$$tmp/fake.fifo"
more_grad=()
)
'$(DISC_STEP)' train --device $(DEVICE) --lr $(LR_D) --ckpt '$(CKPT)/D_$(PREV).npz' --real '$(call epoch_real,$(E))' \
    --cond '$(call epoch_cond,$(E))' --fake "$$fake_d" --grad-out "$$tmp/grad.fifo" \
    --save "$$tmp/D.npz" --log "$$tmp/losses.jsonl" &
pids="$$pids $$!"
'$(GEN_STEP)' train --device $(DEVICE) --lr $(LR_G) --ckpt '$(CKPT)/G_$(PREV).npz' --noise "$$tmp/noise.npy" \
    --cond '$(call epoch_cond,$(E))' --fake-out "$$tmp/fake.fifo" --grad "$$tmp/grad.fifo" "$${more_grad[@]}" \
    --save "$$tmp/G.npz" --log "$$tmp/gen.jsonl" &
pids="$$pids $$!"
# Wait for the tools one by one as they end, polling every 0.1 s (bash's wait -n misses a job that
# ended before it was called; the read times out on a FIFO nobody writes: a sleep without a child
# process). The first one failing kills the rest, which may be blocked for ever on a FIFO.
exec 9<> "$$tmp/tick.fifo"
rc=0
while [ -n "$$pids" ]; do
    ended=
    for p in $$pids; do kill -0 $$p 2>/dev/null || { ended=$$p; break; }; done
    if [ -z "$$ended" ]; then read -rt 0.1 -u 9 || true; continue; fi
    rest=
    for p in $$pids; do [ $$p = $$ended ] || rest="$$rest $$p"; done
    pids=$$rest
    wait $$ended || rc=$$?
    if [ $$rc -ne 0 ]; then
        # the others are killed; one that had already failed by itself (exit 1..127) is the cause
        # when the first one to end only saw a broken pipe (tee: 141) or a signal
        kill $$pids 2>/dev/null || true
        for p in $$pids; do r=0; wait $$p || r=$$?; if [ $$rc -ge 128 ] && [ $$r -ge 1 ] && [ $$r -lt 128 ]; then rc=$$r; fi; done
        pids=
    fi
done
exec 9<&-
if [ $$rc -ne 0 ]; then
    echo "$(PIPE): expected epoch $(E) to train, found a tool failing (exit $$rc); $(CKPT)/*_$(PREV).npz kept" >&2
    exit $$rc
fi
n=$$(wc -l < "$$tmp/losses.jsonl")
if [ "$$n" -ne $$steps ]; then
    echo "$(PIPE): expected $$steps loss lines in epoch $(E), found $$n" >&2
    exit 1
fi
$(if $(CLIP_ON),,: > "$$tmp/clip.jsonl")
secs=$$(( ($$(date +%s%N) - t0) / 1000000 ))
awk -v e=$$((10#$(E))) -v ms=$$secs '
    function val(k,   s) {
        if (!match($$0, "\"" k "\": [^,}]+")) { print "$(PIPE): expected " k " in " FILENAME ", found " $$0 > "/dev/stderr"; exit 1 }
        s = substr($$0, RSTART + length(k) + 4, RLENGTH - length(k) - 4)
        if (s ~ /nan|inf/) bad = 1
        return s + 0
    }
    FNR == 1 { f++ }
    f == 1 { d += val("errD"); g += val("errG"); n++ }
    f == 2 { c += val("clip_loss"); nc++ }
    END {
        if (bad) { printf "%d,nan,nan,nan,%.3f\n", e, ms / 1000; exit }
        printf "%d,%.6g,%.6g,", e, d / n, g / n
        if (nc) printf "%.6g", c / nc
        printf ",%.3f\n", ms / 1000
    }
' "$$tmp/losses.jsonl" "$$tmp/clip.jsonl" > "$$tmp/metrics.csv"
IFS=, read -r _ mD mG mC s < "$$tmp/metrics.csv"
echo "epoch $$((10#$(E)))/$(MAX_EPOCH): errD $$mD errG $$mG$(if $(CLIP_ON), clip_loss $$mC) ($$s s, $$steps batches)"
mv "$$tmp/index.npy" '$(LOG)/index_$(E).npy'
mv "$$tmp/losses.jsonl" '$(LOG)/losses_$(E).jsonl'
mv "$$tmp/clip.jsonl" '$(LOG)/clip_$(E).jsonl'
mv "$$tmp/metrics.csv" '$(LOG)/metrics_$(E).csv'
mv "$$tmp/D.npz" '$(CKPT)/D_$(E).npz'
mv "$$tmp/G.npz" '$(CKPT)/G_$(E).npz'
rm -rf "$$tmp"
rmdir '$(RUN)/tmp' 2>/dev/null || true
endef

# the previous epoch's grid and test, made before this epoch (order-only: never a reason to retrain)
epoch_after = $(if $(filter $(1),$(GEN_IDS)),$(RUN)/samples/epoch_$(1).png) $(if $(filter $(1),$(TEST_IDS)),$(LOG)/eval_$(1).csv)
epoch_outs = $(CKPT)/G_$(1).npz $(CKPT)/D_$(1).npz $(LOG)/index_$(1).npy $(LOG)/losses_$(1).jsonl $(LOG)/clip_$(1).jsonl $(LOG)/metrics_$(1).csv
define EPOCH_RULE
$(call epoch_outs,$(2)) &: $(CKPT)/G_$(1).npz $(CKPT)/D_$(1).npz $(DATA_FILES) | $(TOOLS) $(call epoch_after,$(1))
	$$(run_epoch)
$(call epoch_outs,$(2)): private PREV := $(1)
$(call epoch_outs,$(2)): private E := $(2)
endef
$(foreach p,$(EPOCH_PAIRS),$(eval $(call EPOCH_RULE,$(word 1,$(subst :, ,$(p))),$(word 2,$(subst :, ,$(p))))))

# ---- samples and tests ----
$(DATA)/sample_noise.npy: | $(TOOLS) $(RUN)/config.txt
	@mkdir -p '$(DATA)'
	'$(NOISE)' --batch $(BATCH) --dim $(Z) --batches 1 --seed $(SEED) $(TRUNC_FLAGS) -o '$@'

$(RUN)/samples_%.npy: $(CKPT)/G_%.npz $(DATA)/sample_noise.npy $(DATA)/sample_cond.npy | $(TOOLS)
	@'$(GEN_STEP)' forward --device $(DEVICE) --ckpt '$<' --noise '$(DATA)/sample_noise.npy' --cond '$(DATA)/sample_cond.npy' -o '$@'
	echo "samples of epoch $*: $@ (captions: $(DATA)/sample_captions.txt)"

$(RUN)/samples/captions.txt: $(DATA)/sample_captions.txt
	@mkdir -p '$(@D)'
	cp '$<' '$@.part'
	mv '$@.part' '$@'

# a grid of the fixed samples (8 a row, the order of samples/captions.txt)
$(RUN)/samples/epoch_%.png: $(CKPT)/G_%.npz $(DATA)/sample_noise.npy $(DATA)/sample_cond.npy $(RUN)/samples/captions.txt | $(TOOLS)
	@'$(GEN_STEP)' forward --device $(DEVICE) --ckpt '$<' --noise '$(DATA)/sample_noise.npy' --cond '$(DATA)/sample_cond.npy' \
	    -o - | '$(NPY_PNG)' --cols 8 -o '$@'
	echo "sample grid of epoch $*: $@ (captions: $(RUN)/samples/captions.txt)"

# eval_fakes G OUT TIMES: FID and CLIP score of G's fakes for the test captions, TIMES repetitions
# (noise seeds SEED+1000+r), as "fid,clip_score,seconds" in OUT (atomically).
define eval_fakes
t0=$$(date +%s%N)
n=$$(wc -l < '$(DATA)/test_filenames.txt')
tmp='$(2).tmp'
rm -rf "$$tmp" && mkdir -p "$$tmp"
for ((r = 0; r < $(3); r++)); do
    if [ $$r -eq 0 ]; then cp '$(DATA)/test_noise.npy' "$$tmp/noise.npy"; else
        '$(NOISE)' --batch $$n --dim $(Z) --batches 1 --seed $$(($(SEED) + 1000 + r)) $(TRUNC_FLAGS) -o "$$tmp/noise.npy"; fi
    '$(GEN_STEP)' forward --device $(DEVICE) --ckpt '$(1)' --noise "$$tmp/noise.npy" --cond '$(DATA)/test_cond.npy' -o - >> "$$tmp/fakes.npy"
    cat '$(DATA)/test_text_features.npy' >> "$$tmp/text.npy"
done
'$(INCEPTION)' --weights '$(INCEPTION_W)' -o "$$tmp/stats.npz" "$$tmp/fakes.npy" 2> "$$tmp/inception.err" || { cat "$$tmp/inception.err" >&2; exit 1; }
fid=$$('$(FID)' '$(FID_STATS)' "$$tmp/stats.npz")
score=$$('$(CLIP_EMBED)' score $(CLIP_FLAGS) --text "$$tmp/text.npy" --in "$$tmp/fakes.npy" | awk '$$1 == "clip_score" { print $$2 }')
[ -n "$$fid" ] && [ -n "$$score" ] || { echo "$(PIPE): expected a FID and a CLIP score for $(1), found '$$fid' and '$$score'" >&2; exit 1; }
echo "$$fid,$$score,$$(( ($$(date +%s%N) - t0) / 1000000 ))" | awk -F, '{ printf "%s,%s,%.3f\n", $$1, $$2, $$3 / 1000 }' > "$$tmp/out.csv"
mv "$$tmp/out.csv" '$(2)'
rm -rf "$$tmp"
endef
EVAL_INPUTS := $(DATA)/test_filenames.txt $(FID_STATS) $(DATA)/test_cond.npy $(DATA)/test_noise.npy $(DATA)/test_text_features.npy $(INCEPTION_W) $(CLIP_W)

$(LOG)/eval_%.csv: $(CKPT)/G_%.npz $(EVAL_INPUTS) | $(TOOLS)
	@$(call eval_fakes,$<,$@,1)
	IFS=, read -r fid score s < '$@'
	echo "test of epoch $$((10#$*)): fid $$fid clip_score $$score ($$(wc -l < '$(DATA)/test_filenames.txt') images, $(EVAL_WEIGHTS) weights; $$s s)"

$(RUN)/eval/epoch_%.txt: $(CKPT)/G_%.npz $(EVAL_INPUTS) | $(TOOLS)
	@mkdir -p '$(@D)'
	$(call eval_fakes,$<,$@.csv,$(SAMPLE_TIMES))
	IFS=, read -r fid score s < '$@.csv'
	rm '$@.csv'
	{ echo "checkpoint $<"
	  echo "fid $$fid"
	  echo "clip_score $$score"
	  n=$$(wc -l < '$(DATA)/test_filenames.txt')
	  echo "images $$((n * $(SAMPLE_TIMES))) ($$n test captions x $(SAMPLE_TIMES) sample_times)"
	  echo "weights $(EVAL_WEIGHTS) (from $(CFG))"
	  echo "seconds $$s"; } > '$@.part'
	mv '$@.part' '$@'

# ---- logs, metrics ----
$(RUN)/losses.jsonl: $(foreach e,$(EPOCH_IDS),$(LOG)/losses_$(e).jsonl)
	@cat /dev/null $^ > '$@.part'
	mv '$@.part' '$@'

METRICS_HEAD := epoch,errD,errG,clip_loss,fid,clip_score,seconds,eval_seconds,eval_weights
$(RUN)/metrics.csv: $(foreach e,$(EPOCH_IDS),$(LOG)/metrics_$(e).csv) $(foreach e,$(TEST_IDS),$(LOG)/eval_$(e).csv)
	@{ echo $(METRICS_HEAD)
	   for e in $(EPOCH_IDS); do
	       IFS=, read -r ep d g c s < '$(LOG)'/metrics_$$e.csv
	       fid= score= es= w=
	       if [ -f '$(LOG)'/eval_$$e.csv ] && [[ " $(TEST_IDS) " == *" $$e "* ]]; then IFS=, read -r fid score es < '$(LOG)'/eval_$$e.csv; w=$(EVAL_WEIGHTS); fi
	       echo "$$ep,$$d,$$g,$$c,$$fid,$$score,$$s,$$es,$$w"
	   done; } > '$@.part'
	mv '$@.part' '$@'
	echo "trained to epoch $(LAST): $(CKPT)/G_$(LAST).npz and D_$(LAST).npz; per-batch losses in $(RUN)/losses.jsonl; per-epoch metrics in $@ (plot: $(RUN)/metrics.png); sample grids in $(RUN)/samples/"

$(RUN)/metrics.png: $(RUN)/metrics.csv | $(TOOLS)
	@'$(PLOT)' --in '$<' -o '$@'

train: $(CKPT)/G_$(LAST).npz $(CKPT)/D_$(LAST).npz $(foreach e,$(GEN_IDS),$(RUN)/samples/epoch_$(e).png) \
       $(RUN)/losses.jsonl $(RUN)/metrics.csv $(RUN)/metrics.png

sample: $(RUN)/samples_$(LAST).npy $(RUN)/samples/epoch_$(LAST).png

eval: $(RUN)/eval/epoch_$(EVAL_ID).txt
	@cat '$<'

all: train sample eval


data: $(DATA_FILES)
check: ; @echo "$(PIPE): $(CFG) is good and every file it names is here"

clean:
	rm -rf -- '$(RUN)'
