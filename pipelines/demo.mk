# pipelines/demo.mk: the embedded default training job ("demo"): CLIP-enhanced DF-GAN trained on the
# built-in synthetic dataset, made by bin/make-dataset in exactly CUB's layout as DF-GAN reads it and
# imported by bin/import-cub as real CUB is, so it runs on a fresh machine with no dataset and no
# weights. Without weight files it trains a small CLIP of its own on the train split first
# (bin/clip-train, once per run: "demo-clip"), which gives the condition of G and D (its text
# features), the CLIP loss, the CLIP score, R-precision and CLIP-FID; the Inception network (FID) and
# the DAMSM text encoder (TEXT_ENCODER=damsm) are randomly initialised from a seed. The numbers are
# labelled so (metrics.csv's eval_weights column, the eval file) and are not comparable with
# published ones. This file says how the data and the weights are made and what the settings are;
# the epochs, samples, tests and metrics are pipelines/common.mk's, shared with bird.mk and coco.mk.
#
#   make -f pipelines/demo.mk train     build the tools if needed, make the data, the cached text
#                                          embeddings, the test statistics and the initial G and D
#                                          once, the demo CLIP once, then train epochs 1..MAX_EPOCH
#                                          (the default goal), with sample grids, CLIP score,
#                                          R-precision, CLIP-FID and FID as they go
#   make -f pipelines/demo.mk sample    the captions of CAPTIONS (default: DF-GAN's example bird
#                                          captions, else the test captions) as PNG grids of the last
#                                          epoch's G, IMGS_PER_SENT fakes each (trains first if needed)
#   make -f pipelines/demo.mk eval      FID, CLIP score, R-precision and CLIP-FID of one checkpoint
#                                          (EVAL_EPOCH, default the last) on the test set,
#                                          SAMPLE_TIMES repetitions: written to
#                                          $(RUN)/eval/epoch_<eee>.txt and printed
#   make -f pipelines/demo.mk all       train, sample and eval
#   make -f pipelines/demo.mk compare   the experiment: LAMBDA_CLIP=0 against COMPARE_LAMBDA, two
#                                          runs from the same data and CLIP, a table and a plot of
#                                          their metrics per epoch under COMPARE_DIR (see below)
#   make -f pipelines/demo.mk clean     remove $(RUN)
#
# Variables (override on the command line: make -f pipelines/demo.mk train MAX_EPOCH=10 DEVICE=cuda):
#   IMSIZE=32  NF=16  BATCH=16  Z=32 (noise size)  IMAGES=6000 (make-dataset's images, 48 at least;
#     about 3/4 train)   TEXT_ENCODER=clip (G and D conditioned on CLIP's text features; damsm: on
#     a random DAMSM's sentence embeddings, which barely differ between captions (cosine 0.89 on
#     average), so G learns to ignore them; the default without CLIP's BPE file)
#   COND: the sentence-embedding size: with clip CLIP's embed dim (CLIP_INIT's --embed-dim for the
#     demo CLIP, 512 (ViT-B/32) for CLIP_WEIGHTS); 256 (the random DAMSM's, even) with damsm
#   MAX_EPOCH=10   MAX_BATCHES=0 (batches per epoch: floor(train images / BATCH), drop_last, at most
#     MAX_BATCHES when not 0)   RUN=runs/demo   DEVICE=cpu (or cuda)   SEED=0
#   LAMBDA_CLIP=0.3 (the CLIP loss's weight; 0 drops the CLIP branch. The seed's 0.01 was tuned for
#     OpenAI's CLIP at 256 px; with the demo CLIP at 32 px the CLIP loss's gradient wrt the fakes is
#     2-3x the adversarial one's at weight 1, so 0.01 would be 2-3% of it, 0.3 about as large)
#   LR_G=0.0001  LR_D=0.0004 (Adam, DF-GAN's)
#   GEN_INTERVAL=1 (a sample grid every so many epochs; 0: none)
#   TEST_INTERVAL=1 (the tests every so many epochs: CLIP score, R-precision, CLIP-FID; 0: none)
#   FID_INTERVAL=$(MAX_EPOCH) (Inception's FID at the test epochs that are multiples of it: by
#     default the last only, as Inception here is random and costs a minute a test; 0: never, but eval)
#   SAMPLE_ROWS=8 SAMPLE_COLS=8 (the sample grids: test captions spread over the test set, a row
#     each with its caption written under it, SAMPLE_COLS fakes each from the same noise per column)
#   SAVE_INTERVAL=1 (checkpoints kept every so many epochs, and the last; the others are deleted
#     once used, and resuming starts from the last kept one)
#   TEST_N=128 (the test set: TEST_N images spread evenly over the test split, whose images come
#     class by class (import-cub --spread); 0: all)   SAMPLE_TIMES=1 (eval's repetitions)
#   EVAL_EPOCH=$(MAX_EPOCH) (the eval target's checkpoint)   SAMPLE_EPOCH=$(MAX_EPOCH) (sample's)
#   CAPTIONS (sample's captions file)   IMGS_PER_SENT=16 (sample's fakes per caption)
#   TRUNC_RATE=0.88  TRUNCATION=1 (the samples' and tests' noise truncated at 2 and scaled, as DF-GAN)
#   CLIP_WEIGHTS= (an OpenAI CLIP .npz; empty: the demo CLIP, CLIP_INIT's sizes (width 128, 4+4
#     layers, patch 8, 32 px, embed 128) from CLIP_SEED=0, trained CLIP_EPOCHS=5 epochs of batches of
#     CLIP_BATCH=64 at CLIP_LR=1e-3 with CLIP_WARMUP=30 steps of warm-up and a cosine decay; its
#     state saved every CLIP_SAVE_EVERY=50 steps; CLIP_EPOCHS=0: the random CLIP itself, untrained)
#     CLIP_HEAD_WIDTH=64
#   CLIP_BPE: CLIP's BPE merges (default: ../shared/data/clip/, data/clip/ or share/dfgan/ beside the
#     checkout); without it the demo trains with no CLIP loss and no CLIP score and says so
#   INCEPTION_WEIGHTS= (torchvision inception_v3 .npz, see bin/ckpt; empty: random from seed 0)
#   COMPARE_DIR=runs/compare  COMPARE_LAMBDA=0.3 (compare's second run; the first has LAMBDA_CLIP=0)
#   PROGRESS=auto (tty|plain|off)  PROGRESS_EVERY=10 (seconds between plain progress lines)
#     PROGRESS_STEPS=0 (a plain line every so many steps too)
#   TB=on (TensorBoard event files in $(RUN)/tb; off: none)
#   RANKS=1 (each epoch's gen-step, disc-step and clip-embed loss as MPI jobs of RANKS ranks, BATCH/RANKS
#     samples a rank; RANKS must divide BATCH)  MPIRUN=mpirun  MPI_FLAGS=-q  HOSTFILE= (machines to
#     spread the ranks over; see pipelines/common.mk's "ranks" and README's "Over ranks and machines")
# A RUN folder remembers IMSIZE NF BATCH COND Z IMAGES MAX_BATCHES SEED LAMBDA_CLIP
# TEXT_ENCODER TEST_N and the weights, the demo CLIP's settings included (in $(RUN)/config.txt) and
# refuses others; MAX_EPOCH may grow to continue training, DEVICE, RANKS, the intervals, SAMPLE_TIMES,
# CLIP_SAVE_EVERY and the learning rates LR_G LR_D may change. STEPS (the old
# synth-shapes setting) is refused.
# A diverged epoch (a NaN or Inf in a loss or a gradient: gen-step and disc-step stop, exit 3) ends
# the run with a last line naming the epoch, the step and the value, the checkpoints kept, and the
# command that goes on from them with learning rates a tenth of these.
#
# What it writes under $(RUN):
#   data/dataset/                    make-dataset's CUB-layout dataset (IMAGES images, seed SEED)
#   data/train_images.npy, train_shapes.npy, train_all_captions.txt, train_filenames.txt   import-cub's
#                                    train split: uint8 pixels of every image at its own size (shorter
#                                    side R = int(IMSIZE*76/64)) and (offset, H, W) rows; K=10 captions
#                                    per image
#   data/testsplit_*                 the whole test split (its captions go into the vocabulary)
#   data/vocab.txt                   DAMSM words of the train then the test captions (tokenize --build-vocab)
#   data/train_ids.npy, train_cond.npy   (damsm) DAMSM ids (N*10,18) and sentence embeddings (N*10,COND)
#   data/train_clip_ids.npy, train_text_features.npy   CLIP ids and text features (N*10,E), every caption
#   data/test_*                      the test set: TEST_N test images spread over the split
#                                    (test_cache.npy, and test_images.npy as float), each one's first
#                                    caption (test_captions.txt) with its CLIP features (and DAMSM
#                                    embedding), noise, test_stats.npz (Inception, once) and
#                                    test_clip_stats.npz (the CLIP's image features, for CLIP-FID)
#   data/sample_rows.txt, sample_captions.txt, sample_text_features.npy (sample_cond.npy)   the
#                                    sample grids' SAMPLE_ROWS test captions, each SAMPLE_COLS times
#   weights/clip_random.npz          the demo CLIP's random start (CLIP_INIT, CLIP_SEED)
#   weights/clip_demo.npz, clip_demo_eval.txt   the demo CLIP, trained, and its test-split
#                                    image->text top-1 (a line of every eval file)
#   weights/clip_demo/               its training: the caption ids (train_ids.npy, test_ids_all.npy),
#                                    log.jsonl (a line per step: loss, batch top-1, logit_scale, lr),
#                                    state.npz while training (deleted once clip_demo.npz is in place)
#   weights/damsm_random.npz, inception_random.npz   the random weights
#   ckpt/G_000.npz, ckpt/D_000.npz   initial weights (G from seed 2*SEED, D from 2*SEED+1)
#   ckpt/G_<eee>.npz, D_<eee>.npz    weights and Adam state after epoch eee (3 digits), every
#                                    SAVE_INTERVAL epochs and the last
#   log/index_<eee>.npy              the epoch's batches --index: int32 (B,5) per batch (image, caption
#                                    row, crop row, crop column, flipped)
#   log/losses_<eee>.jsonl           the epoch's per-batch losses from disc-step
#                                    ({"batch": 1, "errD": .., "err_real": .., "err_fake": .., ...})
#   log/clip_<eee>.jsonl             the epoch's per-batch CLIP loss ({"batch", "clip_loss", "mean_cos"})
#   log/metrics_<eee>.csv            the epoch's training line: epoch,errD,errG,clip_loss,seconds
#   log/eval_<eee>.csv               a test epoch's line: fid,clip_score,r_precision,r_precision_std,
#                                    clip_fid,eval_seconds,candidates,chance
#   losses.jsonl                     every epoch's per-batch losses, one line per batch
#   metrics.csv                      "epoch,errD,errG,clip_loss,fid,clip_score,r_precision,
#                                    r_precision_std,clip_fid,seconds,eval_seconds,eval_weights" then
#                                    one line per epoch: batch means; the metrics at test epochs
#                                    (empty otherwise; fid at FID_INTERVAL's); clip_loss is
#                                    lambda-weighted, as added to G's loss (empty when LAMBDA_CLIP=0);
#                                    eval_weights says which weights were random or the demo's own
#                                    (inception, clip, damsm)
#   metrics.png                      metrics.csv drawn, one small panel per column (bin/plot-metrics)
#   samples/epoch_<eee>.png          every GEN_INTERVAL epochs: a grid of G_<eee>'s fakes, row i for
#                                    line i of samples/captions.txt (written under the row),
#                                    SAMPLE_COLS fakes a row from fixed truncated noise (seed SEED)
#   samples/<name>_<eee>/            (sample) sent_001.png ...: a grid per caption of CAPTIONS (a
#                                    file <name>.txt), captions.txt, fakes.npy
#   eval/epoch_<eee>.txt             (eval) FID, CLIP score, R-precision (std, chance), CLIP-FID of
#                                    G_<eee>, the weights, the demo CLIP's own top-1
#   tb/                              TensorBoard event files (bin/tb-log), one per epoch and kind: the
#                                    per-batch losses (batch/errD ...), the metrics (epoch/..., FID),
#                                    the sample grid ("fixed results"); see pipelines/common.mk
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
# deterministic: a redone epoch gives byte-identical checkpoints (same DEVICE, RANKS and thread count).
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
LAMBDA_CLIP   ?= 0.3
LR_G          ?= 0.0001
LR_D          ?= 0.0004
GEN_INTERVAL  ?= 1
TEST_INTERVAL ?= 1
FID_INTERVAL  ?= $(MAX_EPOCH)
SAVE_INTERVAL ?= 1
TEST_N        ?= 128
SAMPLE_TIMES  ?= 1
EVAL_EPOCH    ?= $(MAX_EPOCH)
IMGS_PER_SENT ?= 16
# G and D on the demo CLIP's text features, when CLIP's BPE file is there (where common.mk looks)
ROOT          := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
BPE_HERE      := $(wildcard $(or $(CLIP_BPE),$(ROOT)/../shared/data/clip/bpe_simple_vocab_16e6.txt.gz $(ROOT)/data/clip/bpe_simple_vocab_16e6.txt.gz $(ROOT)/share/dfgan/bpe_simple_vocab_16e6.txt.gz))
TEXT_ENCODER  ?= $(if $(BPE_HERE),clip,damsm)
CLIP_WEIGHTS      ?=
INCEPTION_WEIGHTS ?=
CLIP_SEED     ?= 0
# the demo's own CLIP: these sizes from seed CLIP_SEED, then trained on the train split (clip-train)
CLIP_INIT     ?= --embed-dim 128 --width 128 --layers 4 --patch 8 --image-size 32 --text-width 128 --text-layers 4
CLIP_HEAD_WIDTH ?= 64
CLIP_EPOCHS   ?= 5
CLIP_BATCH    ?= 64
CLIP_LR       ?= 1e-3
CLIP_WARMUP   ?= 30
CLIP_SAVE_EVERY ?= 50
# the sentence embedding: the random DAMSM's 256, or CLIP's embed dim
COND          ?= $(if $(filter clip,$(TEXT_ENCODER)),$(if $(CLIP_WEIGHTS),512,$(or $(patsubst --embed-dim=%,%,$(filter --embed-dim=%,$(subst --embed-dim ,--embed-dim=,$(CLIP_INIT)))),512)),256)
# make-dataset writes 10 captions per image, DAMSM reads at most 18 words of each
K             := 10
WORDS_NUM     := 18
# without CLIP's BPE file: no CLIP loss and no CLIP score, said in one line
NO_CLIP_BPE   := fallback

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

# The weights: given files, or made once per run (labelled so in the metrics): the demo's CLIP
# trained on the train split (CLIP_EPOCHS > 0) from random weights, random DAMSM and Inception
CLIP_TRAIN   ?= $(ROOT)/bin/clip-train
CLIP_KIND    := $(if $(CLIP_WEIGHTS),pretrained,$(if $(filter-out 0,$(CLIP_EPOCHS)),demo,random))
CLIP_W       := $(or $(CLIP_WEIGHTS),$(if $(filter demo,$(CLIP_KIND)),$(WDIR)/clip_demo.npz,$(WDIR)/clip_random.npz))
CLIP_DIR     := $(WDIR)/clip_demo
# the demo CLIP's own test (its image->text top-1), a line of every eval file
EVAL_EXTRA   := $(if $(filter demo,$(CLIP_KIND)),$(WDIR)/clip_demo_eval.txt)
INCEPTION_W  := $(or $(INCEPTION_WEIGHTS),$(WDIR)/inception_random.npz)
DAMSM_W      := $(WDIR)/damsm_random.npz
VOCAB        := $(DATA)/vocab.txt
empty        :=
space        := $(empty) $(empty)
CLIP_ID      := $(if $(filter demo,$(CLIP_KIND)),demo:$(CLIP_EPOCHS):$(CLIP_BATCH):$(CLIP_LR):$(CLIP_WARMUP):)random:$(CLIP_SEED):$(subst $(space),,$(CLIP_INIT)):$(CLIP_HEAD_WIDTH)
CONFIG_EXTRA := images=$(IMAGES) test_n=$(TEST_N) clip=$(or $(CLIP_WEIGHTS),$(CLIP_ID)) inception=$(or $(INCEPTION_WEIGHTS),random:0)
EXTRA_TOOLS  := make-dataset clip-train
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
$(foreach v,IMAGES TEST_N CLIP_SEED CLIP_EPOCHS CLIP_BATCH CLIP_WARMUP CLIP_SAVE_EVERY,$(if $(shell [[ "$($(v))" =~ ^[0-9]+$$ ]] && echo y),,$(error $(v) expects a whole number, found '$($(v))')))
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

EVAL_WEIGHTS := $(if $(INCEPTION_WEIGHTS),pretrained,random)-inception$(if $(CLIP_USED),+$(CLIP_KIND)-clip)$(if $(CLIP_COND),,+random-damsm)
EVAL_NOTE    := $(if $(findstring random,$(EVAL_WEIGHTS))$(findstring demo,$(EVAL_WEIGHTS)),$(if $(findstring random,$(EVAL_WEIGHTS)),random$(if $(findstring demo,$(EVAL_WEIGHTS)),$(comma) and the demo's own CLIP),the demo's own CLIP): not comparable with published numbers,the weight files given)

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
@'$(IMPORT_CUB)' --root '$(DS)' --split $(1) --imsize $(IMSIZE) --captions-per-image $(K) $(if $(filter-out 0,$(3)),--limit $(3) --spread) \
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
	'$(CLIP_EMBED)' --init --seed $(CLIP_SEED) $(CLIP_INIT) --head-width $(CLIP_HEAD_WIDTH) -o '$@'

# ---- the demo's CLIP: trained once on the train split (CLIP_EPOCHS > 0) ----
# bin/clip-train from the random CLIP, contrastively on (image, caption) pairs drawn as the GAN's
# batches are (random crops and flips, one of each image's captions; epoch e shuffled from (SEED, e)):
# CLIP_EPOCHS epochs of floor(train images / CLIP_BATCH) steps, AdamW at CLIP_LR with CLIP_WARMUP
# warm-up steps and a cosine decay to the last step. Two runs of bin/batches per epoch give the image
# and the caption-id streams (the same draws), each epoch after the other into one FIFO; run-epoch
# runs them beside clip-train and stops all at the first failure. clip-train keeps its state
# (weights and Adam) in $(CLIP_DIR)/state.npz every CLIP_SAVE_EVERY steps: after an interruption
# (kill -9 included) the same recipe resumes from it, skipping the batches it has trained on, and
# ends with the same weights. The trained weights go to $(CLIP_DIR)/clip.npz, then into place as
# clip_demo.npz last, once its test-split image->text top-1 (clip-train eval on the test set's
# centre crops, one caption each) is in clip_demo_eval.txt: clip_demo.npz existing means complete.
CLIP_BATCHES = '$(BATCHES)' --cache '$(DATA)/train_images.npy' --shapes '$(DATA)/train_shapes.npy' --emb '$(CLIP_DIR)/train_ids.npy' \
    --imsize $(IMSIZE) --batch $(CLIP_BATCH) --seed $(SEED)
# bash -c's script: ARGS... --epoch e for e = 0 .. $$1-1, written as one stream into $$2 (held open
# across the epochs, so the reader sees one end of stream)
CLIP_STREAM := for ((e = 0; e < $$1; e++)); do "$${@:3}" --epoch $$e || exit; done > "$$2"
$(CLIP_DIR)/train_ids.npy: $(DATA)/train_all_captions.txt | $(TOOLS)
	@mkdir -p '$(@D)'
	'$(TOKENIZE)' --clip $(BPE_FLAG) -o '$@' '$<'
$(CLIP_DIR)/test_ids_all.npy: $(DATA)/test_all_captions.txt | $(TOOLS)
	@mkdir -p '$(@D)'
	'$(TOKENIZE)' --clip $(BPE_FLAG) -o '$@' '$<'
$(WDIR)/clip_demo.npz $(WDIR)/clip_demo_eval.txt &: $(WDIR)/clip_random.npz $(CLIP_DIR)/train_ids.npy $(DATA)/train_images.npy $(DATA)/train_shapes.npy \
                       $(DATA)/train_filenames.txt $(CLIP_DIR)/test_ids_all.npy $(DATA)/test_cache.npy $(DATA)/test_shapes.npy | $(TOOLS)
	@d='$(CLIP_DIR)'
	n=$$(wc -l < '$(DATA)/train_filenames.txt')
	steps=$$(( n / $(CLIP_BATCH) * $(CLIP_EPOCHS) ))
	if [ $$steps -lt 1 ]; then echo "$(PIPE): expected at least CLIP_BATCH=$(CLIP_BATCH) training images for CLIP, found $$n$(if $(MORE_TRAIN_HINT), $(MORE_TRAIN_HINT))" >&2; exit 2; fi
	warmup=$$(( $(CLIP_WARMUP) < steps ? $(CLIP_WARMUP) : steps - 1 ))
	rm -f "$$d"/*.fifo "$$d/clip.npz" "$$d/eval.txt"
	if [ -f "$$d/state.npz" ]; then
	    at=$$('$(NPY_INFO)' "$$d/state.npz" | awk '$$1 == "adam.step" { sub(/min=/, "", $$4); print $$4 }')
	    head -n "$$at" "$$d/log.jsonl" > "$$d/log.part" 2>/dev/null || true
	    mv "$$d/log.part" "$$d/log.jsonl"
	    echo "clip: resuming the demo CLIP's training at step $$at/$$steps ($$d/state.npz)"
	else
	    rm -f "$$d/log.jsonl"
	    echo "clip: training the demo CLIP on the train split: $(CLIP_EPOCHS) epochs of $$((n / $(CLIP_BATCH))) batches of $(CLIP_BATCH) ($(CLIP_INIT)) -> $@"
	fi
	t0=$$(date +%s%N)
	'$(RUN_EPOCH)' --fifo "$$d/images.fifo" --fifo "$$d/ids.fifo" \
	    ::: bash -c '$(CLIP_STREAM)' clip-stream $(CLIP_EPOCHS) "$$d/images.fifo" $(CLIP_BATCHES) --images - --cond /dev/null \
	    ::: bash -c '$(CLIP_STREAM)' clip-stream $(CLIP_EPOCHS) "$$d/ids.fifo" $(CLIP_BATCHES) --images /dev/null --cond - \
	    ::: '$(CLIP_TRAIN)' train --device $(DEVICE) --weights '$<' --head-width $(CLIP_HEAD_WIDTH) --images "$$d/images.fifo" --ids "$$d/ids.fifo" \
	        --lr $(CLIP_LR) --warmup $$warmup --cosine $$steps --state "$$d/state.npz" --save-every $(CLIP_SAVE_EVERY) \
	        --log "$$d/log.jsonl" -o "$$d/clip.npz" \
	    || { rc=$$?; echo "$(PIPE): expected the demo CLIP to train, found a tool failing (exit $$rc); $$d/state.npz kept to resume from" >&2; exit $$rc; }
	got=$$(wc -l < "$$d/log.jsonl")
	[ "$$got" -eq $$steps ] || { echo "$(PIPE): expected $$steps steps of CLIP training, found $$got in $$d/log.jsonl" >&2; exit 1; }
	secs=$$(( ($$(date +%s%N) - t0) / 1000000 ))
	k=$$(wc -l < '$(DATA)/test_filenames.txt')
	'$(BATCHES)' --cache '$(DATA)/test_cache.npy' --shapes '$(DATA)/test_shapes.npy' --emb "$$d/test_ids_all.npy" --imsize $(IMSIZE) \
	    --batch $$k --epoch 0 --seed $(SEED) --no-augment --images "$$d/test_images.npy" --cond "$$d/test_ids.npy"
	'$(CLIP_TRAIN)' eval --device $(DEVICE) --weights "$$d/clip.npz" --head-width $(CLIP_HEAD_WIDTH) --images "$$d/test_images.npy" --ids "$$d/test_ids.npy" > "$$d/eval.txt"
	rm -f "$$d/test_images.npy" "$$d/test_ids.npy"
	loss() { sed -n "$$1"p "$$d/log.jsonl" | sed 's/.*"loss": \([^,]*\),.*/\1/'; }
	top1=$$(awk '$$1 == "image_to_text_top1" { print $$2 }' "$$d/eval.txt")
	chance=$$(awk -v k=$$k 'BEGIN { printf "%.4f", 1 / k }')
	secs=$$(awk -v s=$$secs 'BEGIN { printf "%.1f", s / 1000 }')
	echo "demo_clip_top1 $$top1 (the demo CLIP's image->text top-1 on the $$k test images, their captions by cosine; chance $$chance; trained $$steps steps in $$secs s, loss $$(loss 1) -> $$(loss $$steps))" > "$$d/eval.txt"
	echo "clip: the demo CLIP, $$steps steps in $$secs s, loss $$(loss 1) -> $$(loss $$steps); test image->text top-1 $$top1 over $$k test images (chance $$chance) -> $(WDIR)/clip_demo.npz"
	mv "$$d/eval.txt" '$(WDIR)/clip_demo_eval.txt'
	mv "$$d/clip.npz" '$(WDIR)/clip_demo.npz'
	rm -f "$$d/state.npz"
$(WDIR)/inception_random.npz: | $(TOOLS) $(RUN)/config.txt
	@mkdir -p '$(WDIR)'
	echo "inception: random Inception-v3 weights (seed 0) -> $@"
	'$(INCEPTION)' --init --seed 0 -o '$@'

# an interrupted run's stale temp files (pipelines/guard.mk), before any work
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),train)),)
$(call sweep_temps,$(RUN))
endif

# ---- compare: the experiment, the CLIP loss off against on ----
# Two runs of `train` from the same seed and data, LAMBDA_CLIP=0 and LAMBDA_CLIP=COMPARE_LAMBDA, with
# the same settings otherwise (those given on the command line pass on to both) and Inception's FID
# at every epoch (FID_INTERVAL=1 unless given), one after the other under COMPARE_DIR: lambda_0/ and
# lambda_<L>/, sharing COMPARE_DIR/data/ and COMPARE_DIR/weights/ (one dataset, one demo CLIP,
# trained once). Then the table COMPARE_DIR/compare.csv (per epoch: CLIP score, R-precision,
# Inception FID and CLIP-FID of each run) and COMPARE_DIR/compare.png (the same, one panel per
# metric, a line per run); the table is printed.
COMPARE_DIR    ?= runs/compare
COMPARE_LAMBDA ?= 0.3
CMP_METRICS    := clip_score r_precision fid clip_fid
CMP_FID        := $(if $(filter command line,$(origin FID_INTERVAL)),$(FID_INTERVAL),1)
.PHONY: compare
compare:
	@$(if $(call isnum,$(CMP_FID)),,echo "$(PIPE): FID_INTERVAL expects a whole number$(comma) found '$(CMP_FID)'" >&2; exit 2)
	[[ "$(COMPARE_LAMBDA)" =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$$ ]] && [ "$(COMPARE_LAMBDA)" != 0 ] || { echo "$(PIPE): COMPARE_LAMBDA expects a number > 0, found '$(COMPARE_LAMBDA)'" >&2; exit 2; }
	for l in 0 $(COMPARE_LAMBDA); do
	    echo "compare: LAMBDA_CLIP=$$l -> $(COMPARE_DIR)/lambda_$$l"
	    $(MAKE) --no-print-directory -f '$(ROOT)/pipelines/demo.mk' train RUN='$(COMPARE_DIR)'/lambda_$$l \
	        DATA='$(COMPARE_DIR)/data' WDIR='$(COMPARE_DIR)/weights' LAMBDA_CLIP=$$l FID_INTERVAL=$(CMP_FID)
	done
	awk -F, -v lb=$(COMPARE_LAMBDA) -v want='$(CMP_METRICS)' '
	    BEGIN { m = split(want, w, " ") }
	    FNR == 1 { f++; for (j = 1; j <= NF; j++) col[f, $$j] = j; next }
	    { e = $$1; if (!(e in seen)) { seen[e] = 1; order[++n] = e }
	      for (k = 1; k <= m; k++) val[f, e, k] = $$(col[f, w[k]]) }
	    END {
	        printf "epoch"; for (k = 1; k <= m; k++) printf ",%s_lambda_0,%s_lambda_%s", w[k], w[k], lb; print ""
	        for (i = 1; i <= n; i++) { e = order[i]; printf "%s", e; for (k = 1; k <= m; k++) printf ",%s,%s", val[1, e, k], val[2, e, k]; print "" }
	    }' '$(COMPARE_DIR)/lambda_0/metrics.csv' '$(COMPARE_DIR)/lambda_$(COMPARE_LAMBDA)/metrics.csv' > '$(COMPARE_DIR)/compare.csv.part'
	mv '$(COMPARE_DIR)/compare.csv.part' '$(COMPARE_DIR)/compare.csv'
	'$(PLOT)' --in '$(COMPARE_DIR)/lambda_0/metrics.csv' --in '$(COMPARE_DIR)/lambda_$(COMPARE_LAMBDA)/metrics.csv' \
	    --label 'lambda_clip 0' --label 'lambda_clip $(COMPARE_LAMBDA)' --columns $(subst $(space),$(comma),$(CMP_METRICS)) -o '$(COMPARE_DIR)/compare.png'
	awk -F, '{ for (j = 1; j <= NF; j++) printf "%*s%s", (j == 1 ? 5 : 22), $$j, (j == NF ? "\n" : " ") }' '$(COMPARE_DIR)/compare.csv'
	echo "compare: the table $(COMPARE_DIR)/compare.csv, the plot $(COMPARE_DIR)/compare.png; the runs $(COMPARE_DIR)/lambda_0/ and lambda_$(COMPARE_LAMBDA)/"
