# pipelines/real.mk: real data driven by a YAML config, included by pipelines/bird.mk and
# pipelines/coco.mk (which set CFG, RUN, PIPE, IMPORT_FLAGS, DATA_LAYOUT and EXAMPLE_NAME first).
# Not meant to be run alone. It reads the config, checks that every file it names is here, says
# how the data and the weights are had, and includes pipelines/common.mk for the rest (the epochs,
# samples, tests, eval and metrics, as pipelines/demo.mk).
#   1. $(RUN)/config.mk from $(CFG) by bin/cfg (atomically), included: a config bin/cfg refuses
#      stops make with bin/cfg's line (FILE:LINE: what was expected, what was found). Variables on
#      the make command line override the config's (make -f pipelines/bird.mk MAX_EPOCH=3); the
#      names are bin/cfg's (BATCH_SIZE, Z_DIM, COND_DIM, MANUAL_SEED, ...). MAX_BATCHES=N (not a
#      config key) caps the batches per epoch, EVAL_EPOCH picks eval's checkpoint and SAMPLE_EPOCH
#      sample's (default the last), CAPTIONS sample's captions (default example_captions, else
#      DF-GAN's example captions of the dataset, else the test captions).
#   2. Before any work, every file the config names is checked: DATA_DIR in DF-GAN's layout, the
#      DAMSM encoder (TEXT.DAMSM_NAME, with text_encoder damsm), CLIP (clip_weights, when
#      lambda_clip > 0, test_interval > 0 or text_encoder clip) and CLIP's BPE file (CLIP_BPE, see
#      common.mk), Inception (inception_weights, when test_interval > 0) and the FID statistics
#      (npz_path, when set; empty: computed from the test split); a missing one stops make with
#      one line: the key, the expected path and how to get it (data/README.md).
#   3. The data (target `data`): import-cub's uint8 caches of the train and test splits
#      (IMPORT_FLAGS: --coco for COCO; TEXT.CAPTIONS_PER_IMAGE captions each), the DAMSM vocabulary
#      (DATA_DIR/captions_DAMSM.pickle when present, else built from the train then test captions),
#      .pth/.safetensors weights converted once by bin/ckpt import into $(RUN)/weights/.
#   4. `train`, `sample`, `eval`, `all`, `clean`: pipelines/common.mk; `check`: the config and its
#      files only. text_encoder clip conditions G and D on CLIP's text features: cond_dim must be
#      CLIP's embed dim (512 for ViT-B/32). The checkpoint key is not read (sample and eval take
#      the run's own checkpoints).
# Under $(RUN): config.mk, config.txt (the run's identity; another refused), data/ (caches),
# weights/ (converted weights), ckpt/, log/, samples/, eval/, losses.jsonl, metrics.csv, metrics.png.

ifeq ($(strip $(RUN)),)
$(error RUN expects a folder, found nothing)
endif
ifeq ($(strip $(CFG)),)
$(error CFG expects a config file (cfg/*.yml), found nothing)
endif
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
comma := ,
CFG_TOOL  ?= $(ROOT)/bin/cfg
CKPT_TOOL ?= $(ROOT)/bin/ckpt

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

# ---- the settings under common.mk's names ----
DATA  := $(RUN)/data
WDIR  := $(RUN)/weights
DS    := $(DATA_DIR)
BATCH := $(BATCH_SIZE)
Z     := $(Z_DIM)
COND  := $(COND_DIM)
SEED  := $(MANUAL_SEED)
K     := $(TEXT_CAPTIONS_PER_IMAGE)
WORDS_NUM := $(TEXT_WORDS_NUM)
MAX_BATCHES ?= 0
EVAL_EPOCH  ?= $(MAX_EPOCH)
CLIP_HEAD_WIDTH ?= 64
NO_CLIP_BPE := error
NEED_CLIP := $(or $(shell awk 'BEGIN { if ($(or $(LAMBDA_CLIP),0) + 0 > 0) print "y" }'),$(filter-out 0,$(TEST_INTERVAL)),$(filter clip,$(TEXT_ENCODER)))
NEED_DAMSM := $(filter damsm,$(TEXT_ENCODER))

# ---- required files: checked before any work ----
# need KEY PATH HOW: stop with one line when PATH is missing
need = $(if $(wildcard $(2)),,$(error $(PIPE): config key $(1) ($(CFG)): expected '$(2)', found none; $(3)))
HOWTO_DATA := get the dataset in DF-GAN's layout as data/README.md says
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),train)),)
$(if $(strip $(DATA_DIR)),,$(error $(PIPE): config key data_dir ($(CFG)): expected the dataset's folder, found it empty; $(HOWTO_DATA)))
$(call need,data_dir,$(DS)/train/filenames.pickle,$(HOWTO_DATA))
$(call need,data_dir,$(DS)/test/filenames.pickle,$(HOWTO_DATA))
$(foreach f,$(DATA_LAYOUT),$(call need,data_dir,$(DS)/$(f),$(HOWTO_DATA)))
ifneq ($(NEED_DAMSM),)
$(if $(strip $(TEXT_DAMSM_NAME)),,$(error $(PIPE): config key TEXT.DAMSM_NAME ($(CFG)): expected the DAMSM text encoder's path, found it empty; set it to DF-GAN's text_encoder*.pth (see data/README.md)))
$(call need,TEXT.DAMSM_NAME,$(TEXT_DAMSM_NAME),download DF-GAN's DAMSM text encoder (data/README.md); a .pth is converted once by bin/ckpt import)
endif
ifneq ($(NEED_CLIP),)
$(if $(strip $(CLIP_WEIGHTS)),,$(error $(PIPE): config key clip_weights ($(CFG)): expected OpenAI CLIP weights (needed when lambda_clip > 0$(comma) test_interval > 0 or text_encoder clip), found it empty; set it to ViT-B-32.pt converted by bin/ckpt import, or a .pth/.safetensors))
$(call need,clip_weights,$(CLIP_WEIGHTS),get OpenAI's CLIP ViT-B/32 weights (.pt/.pth/.safetensors are converted once by bin/ckpt import; see data/README.md))
endif
ifneq ($(filter-out 0,$(TEST_INTERVAL)),)
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
FID_STATS   := $(or $(NPZ_PATH),$(DATA)/test_stats.npz)
# the vocabulary: DF-GAN's captions_DAMSM.pickle (the one its DAMSM encoder was trained with) when
# present, else built from the train then the test captions as DF-GAN's build_dictionary
VOCAB := $(or $(wildcard $(DS)/captions_DAMSM.pickle),$(DATA)/vocab.txt)

CONFIG_EXTRA := k=$(K) words=$(WORDS_NUM) data=$(DATA_DIR) damsm=$(TEXT_DAMSM_NAME) clip=$(CLIP_WEIGHTS) inception=$(INCEPTION_WEIGHTS)
EVAL_WEIGHTS := config
EVAL_NOTE    := from $(CFG)
EXTRA_TOOLS  := cfg ckpt
CAPTIONS_DEFAULT := $(or $(EXAMPLE_CAPTIONS),$(firstword $(wildcard $(ROOT)/../shared/data/example_captions/$(EXAMPLE_NAME).txt $(ROOT)/data/example_captions/$(EXAMPLE_NAME).txt)),$(RUN)/samples/captions.txt)

include $(ROOT)/pipelines/common.mk

define convert_rule
$(WDIR)/$(1).npz: $(2) | $(RUN)/config.mk
	@mkdir -p '$(WDIR)'
	'$(CKPT_TOOL)' import '$$<' -o '$$@'
	echo "$(1) weights: $$< -> $$@"
endef
$(if $(and $(NEED_DAMSM),$(filter-out %.npz,$(TEXT_DAMSM_NAME))),$(eval $(call convert_rule,damsm,$(TEXT_DAMSM_NAME))))
$(if $(and $(NEED_CLIP),$(filter-out %.npz,$(CLIP_WEIGHTS))),$(eval $(call convert_rule,clip,$(CLIP_WEIGHTS))))
$(if $(and $(TEST_ON),$(filter-out %.npz,$(INCEPTION_WEIGHTS))),$(eval $(call convert_rule,inception,$(INCEPTION_WEIGHTS))))

# ---- the data: import-cub's caches of the two splits, the vocabulary ----
# import split: import-cub's cache of one split (atomic outputs)
define import_split
@mkdir -p '$(DATA)'
'$(IMPORT_CUB)' --root '$(DS)' --split $(1) --imsize $(IMSIZE) --captions-per-image $(K) $(IMPORT_FLAGS) \
    --images '$(DATA)/$(1)_images.npy' --shapes '$(DATA)/$(1)_shapes.npy' --captions '$(DATA)/$(1)_all_captions.txt' --filenames '$(DATA)/$(1)_filenames.txt'
echo "$(1) split: $$(wc -l < '$(DATA)/$(1)_filenames.txt') images from $(DS) -> $(DATA)"
endef
$(DATA)/train_images.npy $(DATA)/train_shapes.npy $(DATA)/train_all_captions.txt $(DATA)/train_filenames.txt &: $(DS)/train/filenames.pickle | $(TOOLS) $(RUN)/config.txt
	$(call import_split,train)
$(DATA)/test_cache.npy $(DATA)/test_shapes.npy $(DATA)/test_all_captions.txt $(DATA)/test_filenames.txt &: $(DS)/test/filenames.pickle | $(TOOLS) $(RUN)/config.txt
	$(call import_split,test)
	mv '$(DATA)/test_images.npy' '$(DATA)/test_cache.npy'
$(DATA)/vocab.txt: $(DATA)/train_all_captions.txt $(DATA)/test_all_captions.txt | $(TOOLS)
	@'$(TOKENIZE)' --build-vocab -o '$@' $^
	echo "vocab: $$(( $$(wc -l < '$@') - 1 )) words (no $(DS)/captions_DAMSM.pickle) -> $@"

.PHONY: check
check: ; @echo "$(PIPE): $(CFG) is good and every file it names is here"
