# pipelines/demo.mk: the embedded default training job ("demo"): CLIP-enhanced DF-GAN trained on the
# built-in synthetic dataset, made by bin/make-dataset in exactly CUB's layout as DF-GAN reads it and
# imported by bin/import-cub as real CUB is, so it runs on a fresh machine with no dataset and no
# weights. Without weight files the DAMSM text encoder (cond), the CLIP model (loss and score) and
# the Inception network (FID) are randomly initialised from a seed, made once per run: the numbers
# are labelled so (metrics.csv's eval_weights column, the eval file) and are not comparable with
# published ones. This file says how the data and the weights are made and what the settings are;
# the epochs, samples, tests and metrics are pipelines/common.mk's, shared with bird.mk and coco.mk.
#
#   make -f pipelines/demo.mk train     build the tools if needed, make the data, the cached text
#                                          embeddings, the test statistics and the initial G and D
#                                          once, then train epochs 1..MAX_EPOCH (the default goal),
#                                          with sample grids, FID and CLIP score as they go
#   make -f pipelines/demo.mk sample    the captions of CAPTIONS (default: DF-GAN's example bird
#                                          captions, else the test captions) as PNG grids of the last
#                                          epoch's G, IMGS_PER_SENT fakes each (trains first if needed)
#   make -f pipelines/demo.mk eval      FID and CLIP score of one checkpoint (EVAL_EPOCH, default the
#                                          last) on the test set, SAMPLE_TIMES repetitions: written to
#                                          $(RUN)/eval/epoch_<eee>.txt and printed
#   make -f pipelines/demo.mk all       train, sample and eval
#   make -f pipelines/demo.mk clean     remove $(RUN)
#
# Variables (override on the command line: make -f pipelines/demo.mk train MAX_EPOCH=10 DEVICE=cuda):
#   IMSIZE=32  NF=16  BATCH=16  Z=32 (noise size)  IMAGES=6000 (make-dataset's images, 48 at least;
#     about 3/4 train)   TEXT_ENCODER=damsm (or clip: G and D conditioned on CLIP's text features)
#   COND: the sentence-embedding size: 256 (the random DAMSM's, even) with damsm; with clip CLIP's
#     embed dim (CLIP_INIT's --embed-dim for the random CLIP, 512 (ViT-B/32) for CLIP_WEIGHTS)
#   MAX_EPOCH=10   MAX_BATCHES=0 (batches per epoch: floor(train images / BATCH), drop_last, at most
#     MAX_BATCHES when not 0)   RUN=runs/demo   DEVICE=cpu (or cuda)   SEED=0
#   LAMBDA_CLIP=0.01 (the CLIP loss's weight, the seed's lambda_clip; 0 drops the CLIP branch)
#   LR_G=0.0001  LR_D=0.0004 (Adam, DF-GAN's)
#   GEN_INTERVAL=1 (a sample grid every so many epochs; 0: none)
#   TEST_INTERVAL=1 (FID and CLIP score every so many epochs; 0: none)
#   SAVE_INTERVAL=1 (checkpoints kept every so many epochs, and the last; the others are deleted
#     once used, and resuming starts from the last kept one)
#   TEST_N=128 (the test set: the test split's first TEST_N images; 0: all)   SAMPLE_TIMES=1 (eval's repetitions)
#   EVAL_EPOCH=$(MAX_EPOCH) (the eval target's checkpoint)   SAMPLE_EPOCH=$(MAX_EPOCH) (sample's)
#   CAPTIONS (sample's captions file)   IMGS_PER_SENT=16 (sample's fakes per caption)
#   TRUNC_RATE=0.88  TRUNCATION=1 (the samples' and tests' noise truncated at 2 and scaled, as DF-GAN)
#   CLIP_WEIGHTS= (an OpenAI CLIP .npz; empty: a small random CLIP from CLIP_SEED=0 with CLIP_INIT's
#     sizes)  CLIP_HEAD_WIDTH (32 for the random one, else 64)
#   CLIP_BPE: CLIP's BPE merges (default: ../shared/data/clip/, data/clip/ or share/dfgan/ beside the
#     checkout); without it the demo trains with no CLIP loss and no CLIP score and says so
#   INCEPTION_WEIGHTS= (torchvision inception_v3 .npz, see bin/ckpt; empty: random from seed 0)
#   PROGRESS=auto (tty|plain|off)  PROGRESS_EVERY=10 (seconds between plain progress lines)
#     PROGRESS_STEPS=0 (a plain line every so many steps too)
# A RUN folder remembers IMSIZE NF BATCH COND Z IMAGES MAX_BATCHES SEED LAMBDA_CLIP LR_G LR_D
# TEXT_ENCODER TEST_N and the weights (in $(RUN)/config.txt) and refuses others; MAX_EPOCH may grow
# to continue training, DEVICE, the intervals and SAMPLE_TIMES may change. STEPS (the old
# synth-shapes setting) is refused.
#
# What it writes under $(RUN):
#   data/dataset/                    make-dataset's CUB-layout dataset (IMAGES images, seed SEED)
#   data/train_images.npy, train_shapes.npy, train_all_captions.txt, train_filenames.txt   import-cub's
#                                    train split: uint8 pixels of every image at its own size (shorter
#                                    side R = int(IMSIZE*76/64)) and (offset, H, W) rows; K=10 captions
#                                    per image
#   data/testsplit_*                 the whole test split (its captions go into the vocabulary)
#   data/vocab.txt                   DAMSM words of the train then the test captions (tokenize --build-vocab)
#   data/train_ids.npy, train_cond.npy   DAMSM ids (N*10,18) and sentence embeddings (N*10,COND)
#   data/train_clip_ids.npy, train_text_features.npy   CLIP ids and text features (N*10,E), every caption
#   data/test_*                      the test set: the first TEST_N test images (test_cache.npy, and
#                                    test_images.npy as float for Inception), each one's first caption
#                                    (test_captions.txt) with its DAMSM embedding and CLIP features,
#                                    noise, and test_stats.npz (Inception, once)
#   data/sample_captions.txt, sample_cond.npy   the first BATCH test captions, for the sample grids
#   weights/damsm_random.npz, clip_random.npz, inception_random.npz   the random weights
#   ckpt/G_000.npz, ckpt/D_000.npz   initial weights (G from seed 2*SEED, D from 2*SEED+1)
#   ckpt/G_<eee>.npz, D_<eee>.npz    weights and Adam state after epoch eee (3 digits), every
#                                    SAVE_INTERVAL epochs and the last
#   log/index_<eee>.npy              the epoch's batches --index: int32 (B,5) per batch (image, caption
#                                    row, crop row, crop column, flipped)
#   log/losses_<eee>.jsonl           the epoch's per-batch losses from disc-step
#                                    ({"batch": 1, "errD": .., "err_real": .., "err_fake": .., ...})
#   log/clip_<eee>.jsonl             the epoch's per-batch CLIP loss ({"batch", "clip_loss", "mean_cos"})
#   log/metrics_<eee>.csv            the epoch's training line: epoch,errD,errG,clip_loss,seconds
#   log/eval_<eee>.csv               a test epoch's line: fid,clip_score,eval_seconds
#   losses.jsonl                     every epoch's per-batch losses, one line per batch
#   metrics.csv                      "epoch,errD,errG,clip_loss,fid,clip_score,seconds,eval_seconds,
#                                    eval_weights" then one line per epoch: batch means; fid and
#                                    clip_score at test epochs (empty otherwise); clip_loss is
#                                    lambda-weighted, as added to G's loss (empty when LAMBDA_CLIP=0);
#                                    eval_weights says which weights were random (inception, clip, damsm)
#   metrics.png                      metrics.csv drawn, one small panel per column (bin/plot-metrics)
#   samples/epoch_<eee>.png          every GEN_INTERVAL epochs: a grid (8 per row) of G_<eee>'s fakes
#                                    for fixed truncated noise (seed SEED) and the first BATCH test
#                                    captions, listed in samples/captions.txt
#   samples/<name>_<eee>/            (sample) sent_001.png ...: a grid per caption of CAPTIONS (a
#                                    file <name>.txt), captions.txt, fakes.npy
#   eval/epoch_<eee>.txt             (eval) FID and CLIP score of G_<eee>
#
# An epoch: bin/batches writes its real images, cond rows and --index into $(RUN)/tmp/epoch_<eee>/
# (and, with the CLIP branch, the CLIP features of the same captions), and noise (noise --seed
# SEED+e) into a file; bin/run-epoch runs gen-step train, disc-step train and (when LAMBDA_CLIP is
# not 0) clip-embed loss side by side for the whole epoch, weights resident, joined by FIFOs in
# $(RUN)/tmp/epoch_<eee>/: gen-step --fake-out -> a copy -> both disc-step --fake and clip-embed
# loss; disc-step --grad-out and clip-embed's gradient -> gen-step's two --grad streams (summed);
# clip-embed's gradient passes through a second copy, because clip-embed opens its output before
# reading a batch and gen-step opens its --grad streams only after writing one, which would wait
# for each other for ever. clip-embed reads the cached text features of the same captions, in the same order
# as the cond stream. Everything the epoch writes goes into that folder first; only when every tool
# has succeeded are its logs, then D, then G renamed into place, G last: G_<eee>.npz existing means
# the epoch is complete. The sample grid and the test of epoch e are made before epoch e+1 starts
# (order-only prerequisites), so they appear as training goes. bin/progress shows the epoch's
# progress on stderr meanwhile.
#
# Resuming: each epoch is one Make rule whose outputs are its checkpoint pair and logs, made from
# the previous epoch's pair, so running make again after an interruption (Ctrl-C, kill -9, a
# crash) redoes only the epochs whose outputs are missing, starting from the last complete one;
# the interrupted epoch's folder is thrown away first, and temp files the kill left (a tool's
# .<name>.tmp.XXXXXX) are removed unless a live process holds them (pipelines/guard.mk). losses.jsonl and metrics.csv are rebuilt
# from the per-epoch files, so a partial epoch can never leave duplicated lines. Training is
# deterministic: a redone epoch gives byte-identical checkpoints (same DEVICE and thread count).
#
# Failures: bin/run-epoch waits for the tools; the first one to fail makes it stop the others (they
# may be blocked for ever opening or reading a FIFO whose other end will never come), name the
# failing tool (one that failed by itself rather than one that only saw a broken pipe or was
# stopped) and exit with its status, and the recipe fails with that status, the tool's own error
# line on stderr. The epoch's outputs are never touched on failure (.DELETE_ON_ERROR guards the
# rest).

PIPE          := demo.mk
IMSIZE        ?= 32
NF            ?= 16
BATCH         ?= 16
Z             ?= 32
MAX_EPOCH     ?= 10
IMAGES        ?= 6000
MAX_BATCHES   ?= 0
RUN           ?= runs/demo
DEVICE        ?= cpu
SEED          ?= 0
TRUNCATION    ?= 1
TRUNC_RATE    ?= 0.88
LAMBDA_CLIP   ?= 0.01
LR_G          ?= 0.0001
LR_D          ?= 0.0004
GEN_INTERVAL  ?= 1
TEST_INTERVAL ?= 1
SAVE_INTERVAL ?= 1
TEST_N        ?= 128
SAMPLE_TIMES  ?= 1
EVAL_EPOCH    ?= $(MAX_EPOCH)
IMGS_PER_SENT ?= 16
TEXT_ENCODER  ?= damsm
CLIP_WEIGHTS      ?=
INCEPTION_WEIGHTS ?=
CLIP_SEED     ?= 0
CLIP_INIT     ?= --embed-dim 32 --width 64 --layers 2 --patch 8 --image-size 32 --text-width 64 --text-layers 2 --head-width 32
CLIP_HEAD_WIDTH ?= $(if $(CLIP_WEIGHTS),64,32)
# the sentence embedding: the random DAMSM's 256, or CLIP's embed dim
COND          ?= $(if $(filter clip,$(TEXT_ENCODER)),$(if $(CLIP_WEIGHTS),512,$(or $(patsubst --embed-dim=%,%,$(filter --embed-dim=%,$(subst --embed-dim ,--embed-dim=,$(CLIP_INIT)))),512)),256)
# make-dataset writes 10 captions per image, DAMSM reads at most 18 words of each
K             := 10
WORDS_NUM     := 18
# without CLIP's BPE file: no CLIP loss and no CLIP score, said in one line
NO_CLIP_BPE   := fallback

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
MAKE_DATASET ?= $(ROOT)/bin/make-dataset

# What reaches Make and the shell, checked before any use (pipelines/guard.mk): the paths become
# Make words and sit in recipes' quotes, so blanks and Make's or the shell's characters in them are
# refused in one line naming the variable, as are settings that are not numbers, cpu|cuda
# or (CLIP_INIT) --options and numbers.
include $(ROOT)/pipelines/guard.mk
$(call plain_path,$(RUN),RUN)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),train)),)
$(foreach v,CLIP_WEIGHTS INCEPTION_WEIGHTS CAPTIONS CLIP_BPE,$(call plain_path,$($(v)),$(v)))
$(foreach v,IMSIZE NF BATCH Z COND MAX_EPOCH IMAGES MAX_BATCHES SEED TRUNCATION TRUNC_RATE LAMBDA_CLIP \
  LR_G LR_D GEN_INTERVAL TEST_INTERVAL SAVE_INTERVAL TEST_N SAMPLE_TIMES EVAL_EPOCH IMGS_PER_SENT CLIP_SEED \
  CLIP_HEAD_WIDTH $(if $(SAMPLE_EPOCH),SAMPLE_EPOCH),$(call plain_number,$($(v)),$(v)))
$(call plain_choice,$(DEVICE),cpu cuda,DEVICE)
$(call plain_flags,$(CLIP_INIT),CLIP_INIT)
endif
DATA := $(RUN)/data
WDIR := $(RUN)/weights
DS   := $(DATA)/dataset

# The weights: given files, or random ones made once per run (labelled so in the metrics)
CLIP_W       := $(or $(CLIP_WEIGHTS),$(WDIR)/clip_random.npz)
INCEPTION_W  := $(or $(INCEPTION_WEIGHTS),$(WDIR)/inception_random.npz)
DAMSM_W      := $(WDIR)/damsm_random.npz
VOCAB        := $(DATA)/vocab.txt
CONFIG_EXTRA := images=$(IMAGES) test_n=$(TEST_N) clip=$(or $(CLIP_WEIGHTS),random:$(CLIP_SEED)) inception=$(or $(INCEPTION_WEIGHTS),random:0)
EXTRA_TOOLS  := make-dataset
TOOLS_PREP   := '$(ROOT)/.ci/install-deps'
MORE_TRAIN_HINT := (raise IMAGES)
MORE_TEST_HINT  := (raise TEST_N or IMAGES)
# sample's captions: DF-GAN's example bird captions (the demo's data are in CUB's layout; their
# words that the demo's vocabulary lacks are dropped), else the test captions of the sample grids
EXAMPLE_CAPTIONS := $(abspath $(firstword $(wildcard $(ROOT)/../shared/data/example_captions/bird.txt $(ROOT)/data/example_captions/bird.txt)))
CAPTIONS_DEFAULT := $(or $(EXAMPLE_CAPTIONS),$(RUN)/samples/captions.txt)

include $(ROOT)/pipelines/common.mk

# the demo's own settings, checked
ifneq ($(WORKING),)
$(foreach v,IMAGES TEST_N CLIP_SEED,$(if $(shell [[ "$($(v))" =~ ^[0-9]+$$ ]] && echo y),,$(error $(v) expects a whole number, found '$($(v))')))
ifeq ($(origin STEPS),command line)
$(error STEPS is no longer a setting: an epoch is floor(train images / BATCH) batches, at most MAX_BATCHES (0: no cap), found STEPS=$(STEPS))
endif
ifeq ($(origin TRUNC),command line)
$(error TRUNC is no longer a setting: TRUNCATION=1 truncates the noise at 2 as DF-GAN (0: no truncation) and TRUNC_RATE scales it, found TRUNC=$(TRUNC))
endif
ifeq ($(shell [ "$(IMAGES)" -ge 48 ] 2>/dev/null && echo y),)
$(error IMAGES expects a whole number >= 48 (make-dataset's minimum), found '$(IMAGES)')
endif
$(foreach w,$(CLIP_WEIGHTS) $(INCEPTION_WEIGHTS),$(if $(wildcard $(w)),,$(error expected the weights file '$(w)', found none: convert the official weights with bin/ckpt import (see README), or leave CLIP_WEIGHTS/INCEPTION_WEIGHTS empty for random ones)))
endif

EVAL_WEIGHTS := $(if $(INCEPTION_WEIGHTS),pretrained,random)-inception$(if $(CLIP_USED),+$(if $(CLIP_WEIGHTS),pretrained,random)-clip)$(if $(CLIP_COND),,+random-damsm)
EVAL_NOTE    := $(if $(findstring random,$(EVAL_WEIGHTS)),random: not comparable with published numbers,the weight files given)

# ---- the data: the built-in dataset in CUB's layout, imported as real CUB is ----
# bin/make-dataset writes it; bin/import-cub crops around the boxes as DF-GAN, resizes to
# int(IMSIZE*76/64) and caches uint8 arrays: the train split, the whole test split (its captions
# make the vocabulary) and the test set (its first TEST_N images).
$(DS)/train/filenames.pickle: | $(TOOLS) $(RUN)/config.txt
	@rm -rf '$(DS)' '$(DS).tmp'
	mkdir -p '$(DATA)'
	'$(MAKE_DATASET)' --out '$(DS).tmp' --images $(IMAGES) --seed $(SEED)
	mv '$(DS).tmp' '$(DS)'

# import split prefix [limit] [shapes]: the import-cub cache of one split; with shapes, each image
# keeps its aspect as DF-GAN's Resize(int(IMSIZE*76/64)) leaves it (prefix + shapes.npy: offset, H, W)
define import_split
@'$(IMPORT_CUB)' --root '$(DS)' --split $(1) --imsize $(IMSIZE) --captions-per-image $(K) $(if $(filter-out 0,$(3)),--limit $(3)) \
    --images '$(DATA)/$(2)images.npy' $(if $(4),--shapes '$(DATA)/$(2)shapes.npy') --captions '$(DATA)/$(2)all_captions.txt' --filenames '$(DATA)/$(2)filenames.txt'
endef
$(DATA)/train_images.npy $(DATA)/train_shapes.npy $(DATA)/train_all_captions.txt $(DATA)/train_filenames.txt &: $(DS)/train/filenames.pickle | $(TOOLS)
	$(call import_split,train,train_,0,shapes)
$(DATA)/testsplit_images.npy $(DATA)/testsplit_all_captions.txt $(DATA)/testsplit_filenames.txt &: $(DS)/train/filenames.pickle | $(TOOLS)
	$(call import_split,test,testsplit_)
$(DATA)/test_cache.npy $(DATA)/test_shapes.npy $(DATA)/test_all_captions.txt $(DATA)/test_filenames.txt &: $(DS)/train/filenames.pickle | $(TOOLS)
	$(call import_split,test,test_,$(TEST_N),shapes)
	mv '$(DATA)/test_images.npy' '$(DATA)/test_cache.npy'

# ---- the random weights, made once per run ----
# a DAMSM vocabulary from the train then the test captions (as DF-GAN's build_dictionary), and a
# random DAMSM text encoder over it (its 256-d sentence embeddings are the cond)
$(VOCAB): $(DATA)/train_all_captions.txt $(DATA)/testsplit_all_captions.txt | $(TOOLS)
	@'$(TOKENIZE)' --build-vocab -o '$@' $^
	echo "vocab: $$(( $$(wc -l < '$@') - 1 )) words -> $@"
$(WDIR)/damsm_random.npz: $(VOCAB) | $(TOOLS)
	@mkdir -p '$(WDIR)'
	echo "damsm: a random DAMSM text encoder (seed $(SEED), vocab $$(wc -l < '$<'), $(COND)-d) -> $@"
	'$(ENCODE_TEXT)' --init --vocab-size $$(wc -l < '$<') --seed $(SEED) --nhidden $(COND) -o '$@'
$(WDIR)/clip_random.npz: | $(TOOLS) $(RUN)/config.txt
	@mkdir -p '$(WDIR)'
	echo "clip: a random CLIP (seed $(CLIP_SEED): $(CLIP_INIT)) -> $@"
	'$(CLIP_EMBED)' --init --seed $(CLIP_SEED) $(CLIP_INIT) -o '$@'
$(WDIR)/inception_random.npz: | $(TOOLS) $(RUN)/config.txt
	@mkdir -p '$(WDIR)'
	echo "inception: random Inception-v3 weights (seed 0) -> $@"
	'$(INCEPTION)' --init --seed 0 -o '$@'

# an interrupted run's stale temp files (pipelines/guard.mk), before any work
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),train)),)
$(call sweep_temps,$(RUN))
endif
