# pipelines/real.mk: real data driven by a YAML config, included by pipelines/bird.mk and
# pipelines/coco.mk (which set CFG, RUN, PIPE, IMPORT_FLAGS, DATA_LAYOUT and EXAMPLE_NAME first).
# Not meant to be run alone. It reads the config, checks that every file it names is here, says
# how the data and the weights are had, and includes pipelines/common.mk for the rest (the epochs,
# samples, tests, eval and metrics, as pipelines/demo.mk).
#   1. The config, read by bin/cfg: a config bin/cfg refuses stops make with bin/cfg's line
#      (FILE:LINE: what was expected, what was found). Variables on the make command line override
#      the config's (make -f pipelines/bird.mk MAX_EPOCH=3); the names are bin/cfg's (BATCH_SIZE,
#      Z_DIM, COND_DIM, MANUAL_SEED, CHECKPOINT, ...). MAX_BATCHES=N (not a config key) caps the
#      batches per epoch, EVAL_EPOCH picks eval's epoch and SAMPLE_EPOCH sample's (default the
#      last; with a checkpoint, see 4, naming either too is refused), CAPTIONS sample's captions
#      (default example_captions, else DF-GAN's example captions of the dataset, else the test
#      captions). ranks (RANKS=N) runs each epoch's step tools as MPI jobs of N ranks, with MPIRUN,
#      MPI_FLAGS and HOSTFILE from the command line (pipelines/common.mk's "ranks").
#      Kept as $(RUN)/config.mk, written only once every check has passed.
#   2. Before any work, every file the config names is checked: DATA_DIR in DF-GAN's layout, the
#      DAMSM encoder (TEXT.DAMSM_NAME, with text_encoder damsm), CLIP (clip_weights, when
#      lambda_clip > 0, test_interval > 0 or text_encoder clip) and CLIP's BPE file (CLIP_BPE, see
#      common.mk), Inception (inception_weights, when test_interval > 0) and the FID statistics
#      (npz_path, when set; empty: computed from the test split); for sample, eval, all and check
#      the checkpoint too (when set). A missing one stops make with one line: the key, the expected
#      path and how to get it (data/README.md). A refusal leaves nothing behind: no $(RUN) is made.
#      So is a value that Make or the shell would read as syntax (pipelines/guard.mk): data_dir
#      may hold any characters (blanks, quotes, ; $ ...: Make sees it only through the link
#      $(RUN)/dataset, the shell as one quoted word); the other paths, RUN and CFG are refused,
#      naming the key or variable, when they hold blanks or any of ;|:=%*?[]()#$\`"'; numbers,
#      device and text_encoder given on the command line are checked as bin/cfg checks the config's.
#   3. The data (target `data`): import-cub's uint8 caches of the train and test splits
#      (IMPORT_FLAGS: --coco for COCO; TEXT.CAPTIONS_PER_IMAGE captions each), the DAMSM vocabulary
#      (DATA_DIR/captions_DAMSM.pickle when present, else built from the train then test captions),
#      .pth/.safetensors weights converted once by bin/ckpt import into $(RUN)/weights/.
#   4. `train`, `sample`, `eval`, `all`, `clean`: pipelines/common.mk; `check`: the config and its
#      files only (writes nothing). text_encoder clip conditions G and D on CLIP's text features:
#      cond_dim must be CLIP's embed dim (512 for ViT-B/32). checkpoint (CHECKPOINT=), as DF-GAN's:
#      the generator that sample and eval use instead of the run's last epoch, DF-GAN's
#      state_epoch_N.pth (converted once by bin/ckpt import --dfgan into $(RUN)/weights/<name>/G.npz
#      and D.npz) or a G_<eee>.npz as it is; its outputs carry its name: samples/<captions>_<name>/
#      (checkpoint.txt in it), eval/<name>.txt ("checkpoint PATH"). A missing file, or a generator
#      whose imsize, nf, z_dim or cond_dim (read back from its shapes) are not the config's, stops
#      make with one line. Empty: the run's last epoch (EVAL_EPOCH, SAMPLE_EPOCH). train does not
#      read it: a run starts from its own last saved epoch or from new weights (DF-GAN's
#      resume_epoch/resume_model_path are not config keys).
# Under $(RUN): config.mk, config.txt (the run's identity; another refused), dataset (a link to
# data_dir, absolute), data/ (caches),
# weights/ (converted weights; <name>/ and <name>.source, the checkpoint's conversion and its
# path), ckpt/, log/, samples/, eval/, losses.jsonl, metrics.csv, metrics.png.

ifeq ($(strip $(RUN)),)
$(error RUN expects a folder, found nothing)
endif
ifeq ($(strip $(CFG)),)
$(error CFG expects a config file (cfg/*.yml), found nothing)
endif
ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
comma := ,
include $(ROOT)/pipelines/guard.mk
WORKING_GOALS := $(filter-out clean,$(or $(MAKECMDGOALS),train))
$(call plain_path,$(RUN),RUN)
$(call plain_path,$(CFG),CFG)
CFG_TOOL  ?= $(ROOT)/bin/cfg
CKPT_TOOL ?= $(ROOT)/bin/ckpt

# ---- the config ----
# Read at parse time when $(RUN)/config.mk is missing or older than $(CFG) (so the checks below never
# see stale values): bin/cfg writes it into a temp file outside $(RUN) (atomically), included and
# removed at once; bin/cfg's error line stops make. $(RUN)/config.mk itself is written at the end of
# this file, once every parse-time check has passed, so a refusal leaves no $(RUN) behind.
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),train)),)
ifneq ($(shell [ -f '$(CFG)' ] && echo y),y)
$(error CFG: expected a config file, found no '$(CFG)' (see cfg/bird.yml, cfg/coco.yml))
endif
CFG_FRESH := $(shell [ '$(RUN)/config.mk' -nt '$(CFG)' ] && echo y)
ifeq ($(CFG_FRESH),y)
include $(RUN)/config.mk
else
CFG_TMP := $(shell mktemp "$${TMPDIR:-/tmp}/dfgan-config.XXXXXX")
ifeq ($(CFG_TMP),)
$(error $(PIPE): expected a temp file for the config ($${TMPDIR:-/tmp}), found mktemp failing)
endif
CFG_ERR := $(shell '$(CFG_TOOL)' make '$(CFG)' -o '$(CFG_TMP)' 2>&1 >/dev/null || echo "cfg: refused '$(CFG)'")
ifneq ($(strip $(CFG_ERR)),)
$(shell rm -f '$(CFG_TMP)')
$(error $(CFG_ERR))
endif
# -include: the temp file is gone before make would look at its included files again
-include $(CFG_TMP)
$(shell rm -f '$(CFG_TMP)')
endif
else
# clean: no config read; the epoch lists stay empty
MAX_EPOCH := 0
endif

MAX_BATCHES ?= 0
EVAL_EPOCH  ?= $(MAX_EPOCH)
CLIP_HEAD_WIDTH ?= 64

# ---- what the config hands to Make and the shell: checked before any use (pipelines/guard.mk) ----
# Every path but data_dir becomes a Make word (a prerequisite, a $(wildcard) argument) and sits in
# recipes' quotes: blanks and Make's or the shell's characters in it are refused, naming the key (or
# the variable given on the command line). data_dir may hold any of them (a dataset folder with
# blanks is common): Make only ever sees $(RUN)/dataset, a link to it made once the checks have
# passed, and the shell sees it as one quoted word ($(call shq,...)). The numbers and device are
# checked too, as command-line overrides skip bin/cfg.
PATH_KEYS := TEXT_DAMSM_NAME:TEXT.DAMSM_NAME CLIP_WEIGHTS:clip_weights INCEPTION_WEIGHTS:inception_weights \
  NPZ_PATH:npz_path EXAMPLE_CAPTIONS:example_captions CHECKPOINT:checkpoint
NUMBER_KEYS := IMSIZE:imsize Z_DIM:z_dim COND_DIM:cond_dim MANUAL_SEED:manual_seed MAX_EPOCH:max_epoch \
  BATCH_SIZE:batch_size NF:nf LR_G:lr_g LR_D:lr_d GEN_INTERVAL:gen_interval TEST_INTERVAL:test_interval \
  SAVE_INTERVAL:save_interval TRUNCATION:truncation TRUNC_RATE:trunc_rate SAMPLE_TIMES:sample_times \
  IMGS_PER_SENT:imgs_per_sent LAMBDA_CLIP:lambda_clip TEXT_WORDS_NUM:TEXT.WORDS_NUM \
  TEXT_EMBEDDING_DIM:TEXT.EMBEDDING_DIM TEXT_CAPTIONS_PER_IMAGE:TEXT.CAPTIONS_PER_IMAGE
ifneq ($(WORKING_GOALS),)
key_check = $(foreach p,$(2),$(call $(1),$($(word 1,$(subst :, ,$(p)))),$(call who,$(word 1,$(subst :, ,$(p))),$(word 2,$(subst :, ,$(p))))))
$(call key_check,plain_path,$(PATH_KEYS))
$(call key_check,plain_number,$(NUMBER_KEYS))
$(foreach v,MAX_BATCHES CLIP_HEAD_WIDTH $(if $(EVAL_EPOCH),EVAL_EPOCH) $(if $(SAMPLE_EPOCH),SAMPLE_EPOCH),$(call plain_number,$($(v)),$(v)))
$(call plain_choice,$(DEVICE),cpu cuda,$(call who,DEVICE,device))
$(call plain_path,$(CAPTIONS),CAPTIONS)
$(call plain_path,$(CLIP_BPE),CLIP_BPE)
endif

# ---- the settings under common.mk's names ----
DATA  := $(RUN)/data
WDIR  := $(RUN)/weights
DS    := $(RUN)/dataset
BATCH := $(BATCH_SIZE)
Z     := $(Z_DIM)
COND  := $(COND_DIM)
SEED  := $(MANUAL_SEED)
K     := $(TEXT_CAPTIONS_PER_IMAGE)
WORDS_NUM := $(TEXT_WORDS_NUM)
NO_CLIP_BPE := error
NEED_CLIP := $(or $(shell awk 'BEGIN { if ($(or $(LAMBDA_CLIP),0) + 0 > 0) print "y" }'),$(filter-out 0,$(TEST_INTERVAL)),$(filter clip,$(TEXT_ENCODER)))
NEED_DAMSM := $(filter damsm,$(TEXT_ENCODER))

# ---- required files: checked before any work ----
# need KEY PATH HOW: stop with one line when PATH (a plain path) is missing
need = $(if $(wildcard $(2)),,$(error $(PIPE): config key $(1) ($(CFG)): expected '$(2)', found none; $(3)))
HOWTO_DATA := get the dataset in DF-GAN's layout as data/README.md says
# data_dir's files, looked for by the shell (data_dir is any text): the first one missing
DATA_NEEDS := train/filenames.pickle test/filenames.pickle $(DATA_LAYOUT)
ifneq ($(WORKING_GOALS),)
$(if $(strip $(DATA_DIR)),,$(error $(PIPE): config key data_dir ($(CFG)): expected the dataset's folder, found it empty; $(HOWTO_DATA)))
DATA_MISSING := $(shell d=$(call shq,$(DATA_DIR)); for f in $(DATA_NEEDS); do [ -e "$$d/$$f" ] || { echo "$$f"; break; }; done)
$(if $(DATA_MISSING),$(error $(PIPE): config key data_dir ($(CFG)): expected '$(DATA_DIR)/$(DATA_MISSING)', found none; $(HOWTO_DATA)))
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
VOCAB := $(if $(shell [ -e $(call shq,$(DATA_DIR)/captions_DAMSM.pickle) ] && echo y),$(DS)/captions_DAMSM.pickle,$(DATA)/vocab.txt)

CONFIG_EXTRA := k=$(K) words=$(WORDS_NUM) data=$(DATA_DIR) damsm=$(TEXT_DAMSM_NAME) clip=$(CLIP_WEIGHTS) inception=$(INCEPTION_WEIGHTS)
EVAL_WEIGHTS := config
EVAL_NOTE    := from $(CFG)
EXTRA_TOOLS  := cfg ckpt
CAPTIONS_DEFAULT := $(or $(EXAMPLE_CAPTIONS),$(firstword $(wildcard $(ROOT)/../shared/data/example_captions/$(EXAMPLE_NAME).txt $(ROOT)/data/example_captions/$(EXAMPLE_NAME).txt)),$(RUN)/samples/captions.txt)

# ---- checkpoint: the generator of sample and eval ----
# Empty (the default): sample and eval take the run's own G_<SAMPLE_EPOCH> / G_<EVAL_EPOCH>. A path:
# sample and eval take that generator instead, and say so: samples/<captions>_<CK_NAME>/,
# eval/<CK_NAME>.txt ("checkpoint PATH" in it), CK_NAME being the file's name without its suffix
# (characters other than letters, digits and ._+- as _; "ckpt_" before one beginning "epoch_", which
# the run's own eval files are). A .npz is used as it is (gen-step's G: a run's G_<eee>.npz); any
# other file is DF-GAN's training checkpoint (state_epoch_N.pth), converted once by
# bin/ckpt import --dfgan into $(WDIR)/<CK_NAME>/G.npz and D.npz (into a temp folder, renamed into
# place). $(WDIR)/<CK_NAME>.source holds its absolute path: naming another file of the same name
# makes the conversion and the outputs again. Checked at parse time for sample, eval, all and check,
# before any work: a missing file, or a generator whose sizes (read back from its shapes: imsize
# from the number of G blocks, nf, z_dim, cond_dim) are not the config's, stops make with one line.
# train never reads it (it starts from the run's own last saved epoch, or a new G and D).
CK_PATH  := $(strip $(CHECKPOINT))
CK_WHO   := $(if $(filter command line,$(origin CHECKPOINT)),CHECKPOINT (command line),config key checkpoint ($(CFG)))
CK_GOALS := $(filter sample eval all check,$(MAKECMDGOALS))
ifneq ($(CK_PATH),)
CK_NAME  := $(shell printf '%s' '$(basename $(notdir $(CK_PATH)))' | tr -c 'A-Za-z0-9._+-' _ | sed 's/^epoch_/ckpt_epoch_/')
CK_NAME  := $(or $(CK_NAME),checkpoint)
CK_SRC   := $(WDIR)/$(CK_NAME).source
CK_DEPS  := $(CK_SRC)
ifneq ($(filter %.npz,$(CK_PATH)),)
CK_G     := $(CK_PATH)
CK_LABEL := $(CK_PATH)
CK_KEYS  :=
CK_KIND  := a generator (.npz, keys fc.weight, GBlocks.*, to_rgb.1.weight: a run's G_<eee>.npz)
else
CK_G     := $(WDIR)/$(CK_NAME)/G.npz
CK_LABEL := $(CK_PATH) (DF-GAN's; converted to $(CK_G))
CK_KEYS  := model.netG.
CK_KIND  := DF-GAN's training checkpoint (state_epoch_N.pth, with model.netG.*)
endif
ifneq ($(CK_GOALS),)
ifeq ($(wildcard $(CK_PATH)),)
$(error $(PIPE): $(CK_WHO): expected a generator checkpoint '$(CK_PATH)' (DF-GAN's state_epoch_N.pth or a G_<eee>.npz), found none; fix the path, or empty it (checkpoint: '' or CHECKPOINT=) to use the run's own last epoch)
endif
# an epoch asked for on the command line too: which generator is meant is unclear
CK_CLASH := $(if $(filter sample all,$(CK_GOALS)),$(if $(filter command line,$(origin SAMPLE_EPOCH)),SAMPLE_EPOCH)) \
            $(if $(filter eval all,$(CK_GOALS)),$(if $(filter command line,$(origin EVAL_EPOCH)),EVAL_EPOCH))
ifneq ($(strip $(CK_CLASH)),)
$(error $(PIPE): $(firstword $(CK_CLASH)) picks one of the run's own epochs but $(CK_WHO) names '$(CK_PATH)'; add CHECKPOINT= to use the run's epochs, or drop $(firstword $(CK_CLASH)))
endif
# the generator's sizes as "imsize nf z cond" (NetG as lib/models/netg.c infers it), "none" without its
# keys, or "error LINE" when bin/ckpt cannot read the file
CK_AWK := index($$1, p) == 1 { k = substr($$1, length(p) + 1); split($$3, s, /[(,)]/); \
  if (k == "fc.weight") z = s[3]; else if (k == "to_rgb.1.weight") nf = s[3]; \
  else if (k == "GBlocks.0.fuse1.affine0.fc_gamma.linear1.weight") zc = s[3]; \
  else if (k ~ /^GBlocks\.[0-9]+\.c1\.weight$$/) nb++ } \
  END { if (z == "" || nf == "" || zc == "" || nb < 1) print "none"; else printf "%d %d %d %d\n", 2 ^ (nb + 2), nf, z, zc - z }
$(shell [ -x '$(CKPT_TOOL)' ] || MAKEFLAGS= $(MAKE) -s -C '$(ROOT)' bin/ckpt >&2)
CK_ARCH := $(shell out=$$('$(CKPT_TOOL)' list '$(CK_PATH)' 2>&1) || { printf 'error %s\n' "$$out" | head -n 1; exit 0; }; \
  printf '%s\n' "$$out" | awk -v p='$(CK_KEYS)' '$(CK_AWK)')
ifeq ($(firstword $(CK_ARCH)),error)
$(error $(PIPE): $(CK_WHO): expected $(CK_KIND), found '$(CK_PATH)' unreadable ($(wordlist 2,999,$(CK_ARCH))))
endif
ifeq ($(CK_ARCH),none)
$(error $(PIPE): $(CK_WHO): expected $(CK_KIND), found no NetG in '$(CK_PATH)' (bin/ckpt list shows its keys))
endif
CK_WANT := $(IMSIZE) $(NF) $(Z_DIM) $(COND_DIM)
ifneq ($(CK_ARCH),$(CK_WANT))
$(error $(PIPE): $(CK_WHO): expected a generator of imsize $(word 1,$(CK_WANT)), nf $(word 2,$(CK_WANT)), z_dim $(word 3,$(CK_WANT)), cond_dim $(word 4,$(CK_WANT)) (the config's), found imsize $(word 1,$(CK_ARCH)), nf $(word 2,$(CK_ARCH)), z_dim $(word 3,$(CK_ARCH)), cond_dim $(word 4,$(CK_ARCH)) in '$(CK_PATH)'; name a checkpoint of this config, or set the config's sizes to its)
endif
endif
endif

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
# the checkpoint's conversion (DF-GAN's state_epoch_N.pth): G.npz and D.npz with Adam state into a
# temp folder, renamed into place
ifneq ($(and $(CK_GOALS),$(CK_PATH),$(filter-out %.npz,$(CK_PATH))),)
$(CK_G): $(CK_PATH) $(CK_SRC) | $(TOOLS) $(RUN)/config.mk
	@rm -rf '$(WDIR)/$(CK_NAME).tmp'
	'$(CKPT_TOOL)' import --dfgan '$<' -o '$(WDIR)/$(CK_NAME).tmp'
	rm -rf '$(@D)'
	mv '$(WDIR)/$(CK_NAME).tmp' '$(@D)'
	echo "checkpoint: $< (DF-GAN's) -> $(@D)/G.npz, D.npz"
endif

# ---- the data: import-cub's caches of the two splits, the vocabulary ----
# import split: import-cub's cache of one split (atomic outputs)
define import_split
@mkdir -p '$(DATA)'
'$(IMPORT_CUB)' --root '$(DS)' --split $(1) --imsize $(IMSIZE) --captions-per-image $(K) $(IMPORT_FLAGS) \
    --images '$(DATA)/$(1)_images.npy' --shapes '$(DATA)/$(1)_shapes.npy' --captions '$(DATA)/$(1)_all_captions.txt' --filenames '$(DATA)/$(1)_filenames.txt'
echo "$(1) split: $$(wc -l < '$(DATA)/$(1)_filenames.txt') images from "$(call shq,$(DATA_DIR))" -> $(DATA)"
endef
$(DATA)/train_images.npy $(DATA)/train_shapes.npy $(DATA)/train_all_captions.txt $(DATA)/train_filenames.txt &: $(DS)/train/filenames.pickle | $(TOOLS) $(RUN)/config.txt
	$(call import_split,train)
$(DATA)/test_cache.npy $(DATA)/test_shapes.npy $(DATA)/test_all_captions.txt $(DATA)/test_filenames.txt &: $(DS)/test/filenames.pickle | $(TOOLS) $(RUN)/config.txt
	$(call import_split,test)
	mv '$(DATA)/test_images.npy' '$(DATA)/test_cache.npy'
$(DATA)/vocab.txt: $(DATA)/train_all_captions.txt $(DATA)/test_all_captions.txt | $(TOOLS)
	@'$(TOKENIZE)' --build-vocab -o '$@' $^
	echo "vocab: $$(( $$(wc -l < '$@') - 1 )) words (no "$(call shq,$(DATA_DIR))"/captions_DAMSM.pickle) -> $@"

.PHONY: check
check: ; @echo "$(PIPE): $(CFG) is good and every file it names is here"

# ---- every parse-time check has passed: $(RUN) is made now ----
# $(RUN)/config.mk (when it was missing or stale; check writes nothing), $(RUN)/dataset (the link
# to data_dir, made again when it points elsewhere), and the checkpoint's .source when it names
# another file than before; an interrupted run's stale temp files are removed
ifneq ($(filter-out clean check,$(or $(MAKECMDGOALS),train)),)
ifneq ($(CFG_FRESH),y)
CFG_ERR := $(shell mkdir -p '$(RUN)' && '$(CFG_TOOL)' make '$(CFG)' -o '$(RUN)/config.mk' 2>&1 >/dev/null || echo "cfg: refused '$(CFG)'")
ifneq ($(strip $(CFG_ERR)),)
$(error $(CFG_ERR))
endif
endif
DS_ERR := $(shell d=$(call shq,$(DATA_DIR)); [ "$${d#/}" != "$$d" ] || d="$$PWD/$$d"; \
  [ "$$(readlink '$(DS)' 2>/dev/null)" = "$$d" ] && exit 0; \
  mkdir -p '$(RUN)' && ln -sfn -- "$$d" '$(DS).part' && mv -fT '$(DS).part' '$(DS)' || echo "expected to link '$(DS)' to the dataset, found it failing")
ifneq ($(strip $(DS_ERR)),)
$(error $(PIPE): $(DS_ERR))
endif
$(call sweep_temps,$(RUN))
ifneq ($(and $(CK_PATH),$(filter-out check,$(CK_GOALS))),)
CK_ERR := $(shell a='$(abspath $(CK_PATH))'; [ "$$(cat '$(CK_SRC)' 2>/dev/null)" = "$$a" ] && exit 0; \
  mkdir -p '$(WDIR)' && printf '%s\n' "$$a" > '$(CK_SRC).part' && mv '$(CK_SRC).part' '$(CK_SRC)' || echo "expected to write '$(CK_SRC)', found it failing")
ifneq ($(strip $(CK_ERR)),)
$(error $(PIPE): $(CK_ERR))
endif
endif
endif
