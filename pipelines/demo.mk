# pipelines/demo.mk: the embedded default training job ("demo"): CLIP-enhanced DF-GAN trained on the
# built-in synthetic dataset, made by bin/make-dataset in exactly CUB's layout as DF-GAN reads it and
# imported by bin/import-cub as real CUB is, so it runs on a fresh machine with no dataset and no
# weights. Without weight files the DAMSM text encoder (cond), the CLIP model (loss and score) and
# the Inception network (FID) are randomly initialised from a seed, made once per run: the numbers
# are labelled so (metrics.csv's eval_weights column, the eval file) and are not comparable with
# published ones.
#
#   make -f pipelines/demo.mk train     build the tools if needed, make the data, the cached CLIP
#                                          text features, the test statistics and the initial G and
#                                          D once, then train epochs 1..MAX_EPOCH (the default goal),
#                                          with sample grids, FID and CLIP score as they go
#   make -f pipelines/demo.mk sample    fakes for fixed noise from the last epoch's G, as .npy and
#                                          a PNG grid (trains first if that epoch is not done)
#   make -f pipelines/demo.mk eval      FID and CLIP score of one checkpoint (EVAL_EPOCH, default the
#                                          last) on the test set, SAMPLE_TIMES repetitions: written to
#                                          $(RUN)/eval/epoch_<eee>.txt and printed
#   make -f pipelines/demo.mk all       train, sample and eval
#   make -f pipelines/demo.mk clean     remove $(RUN)
#
# Variables (override on the command line: make -f pipelines/demo.mk train MAX_EPOCH=10 DEVICE=cuda):
#   IMSIZE=32  NF=8  BATCH=16  Z=32 (noise size)  COND=256 (the random DAMSM's sentence-embedding
#     size, DAMSM's; even)  IMAGES=480 (make-dataset's images, 48 at least; about 3/4 train)
#   MAX_EPOCH=3   MAX_BATCHES=0 (batches per epoch: floor(train images / BATCH), drop_last, at most
#     MAX_BATCHES when not 0)   RUN=runs/demo   DEVICE=cpu (or cuda)   SEED=0
#   LAMBDA_CLIP=0.01 (the CLIP loss's weight, the seed's lambda_clip; 0 drops the CLIP branch)
#   GEN_INTERVAL=1 (a sample grid every so many epochs; 0: none)
#   TEST_INTERVAL=1 (FID and CLIP score every so many epochs; 0: none)
#   TEST_N=64 (the test set: the test split's first TEST_N images; 0: all)   SAMPLE_TIMES=1 (eval's repetitions)
#   EVAL_EPOCH=$(MAX_EPOCH) (the eval target's checkpoint)
#   TRUNC=2  TRUNC_RATE=0.88 (the samples' and tests' truncated noise, as DF-GAN samples)
#   CLIP_WEIGHTS= (an OpenAI CLIP .npz; empty: a small random CLIP from CLIP_SEED=0 with CLIP_INIT's
#     sizes)  CLIP_HEAD_WIDTH (32 for the random one, else 64)
#   INCEPTION_WEIGHTS= (torchvision inception_v3 .npz, see bin/ckpt; empty: random from seed 0)
# A RUN folder remembers IMSIZE NF BATCH COND Z IMAGES MAX_BATCHES SEED LAMBDA_CLIP TEST_N and the
# weights (in $(RUN)/config.txt) and refuses others; MAX_EPOCH may grow to continue training, DEVICE,
# the intervals and SAMPLE_TIMES may change. STEPS (the old synth-shapes setting) is refused.
#
# What it writes under $(RUN):
#   data/dataset/                    make-dataset's CUB-layout dataset (IMAGES images, seed SEED)
#   data/train_images.npy, train_all_captions.txt, train_filenames.txt   import-cub's train split:
#                                    uint8 (N,3,R,R), R = int(IMSIZE*76/64); 10 captions per image
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
#   ckpt/G_<eee>.npz, D_<eee>.npz    weights and Adam state after epoch eee (3 digits)
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
#   samples_<eee>.npy                (sample) the same fakes as an .npy array (BATCH,3,S,S)
#   eval/epoch_<eee>.txt             (eval) FID and CLIP score of G_<eee>
#
# An epoch: bin/batches writes its real images, cond rows and --index into $(RUN)/tmp/epoch_<eee>/
# (and, with the CLIP branch, the CLIP features of the same captions), and noise (noise --seed
# SEED+e) into a file; gen-step train, disc-step train
# and (when LAMBDA_CLIP is not 0) tee and clip-embed loss run side by side for the whole epoch,
# weights resident, joined by FIFOs in $(RUN)/tmp/epoch_<eee>/: gen-step --fake-out -> tee -> both
# disc-step --fake and clip-embed loss; disc-step --grad-out and clip-embed's gradient -> gen-step's
# two --grad streams (summed); clip-embed's gradient passes through a cat, because clip-embed
# opens its output before reading a batch and gen-step opens its --grad streams only after
# writing one, which would wait for each other for ever. clip-embed reads the cached text features of the same captions, in
# the same order as the cond stream. Everything the epoch writes goes into that folder first; only
# when every tool has succeeded are its logs, then D, then G renamed into place, G last: G_<eee>.npz
# existing means the epoch is complete. The sample grid and the test of epoch e are made before
# epoch e+1 starts (order-only prerequisites), so they appear as training goes.
#
# Resuming: each epoch is one Make rule whose outputs are its checkpoint pair and logs, made from
# the previous epoch's pair, so running make again after an interruption (Ctrl-C, kill -9, a
# crash) redoes only the epochs whose outputs are missing, starting from the last complete one;
# the interrupted epoch's folder is thrown away first. losses.jsonl and metrics.csv are rebuilt
# from the per-epoch files, so a partial epoch can never leave duplicated lines. Training is
# deterministic: a redone epoch gives byte-identical checkpoints (same DEVICE and thread count).
#
# Failures: the tools are started in the background and the recipe waits for the first one to
# end. If it failed, the others are killed (they may be blocked for ever opening or reading a FIFO
# whose other end will never come) and the recipe fails with the failing tool's status (that of
# one that failed by itself, when the first to end was tee on a broken pipe), its error line on
# stderr; if it succeeded, it waits for the next. The epoch's outputs are never touched on
# failure (.DELETE_ON_ERROR guards the rest).
#
# The data source (below) is the one part that knows the dataset: epoch_real/epoch_cond/epoch_text
# name the streams epoch e reads, epoch_data makes them and DATA_FILES is what must be made before.

IMSIZE        ?= 32
NF            ?= 8
BATCH         ?= 16
COND          ?= 256
Z             ?= 32
MAX_EPOCH     ?= 3
IMAGES        ?= 480
MAX_BATCHES   ?= 0
RUN           ?= runs/demo
DEVICE        ?= cpu
SEED          ?= 0
TRUNC         ?= 2
TRUNC_RATE    ?= 0.88
LAMBDA_CLIP   ?= 0.01
GEN_INTERVAL  ?= 1
TEST_INTERVAL ?= 1
TEST_N        ?= 64
SAMPLE_TIMES  ?= 1
EVAL_EPOCH    ?= $(MAX_EPOCH)
CLIP_WEIGHTS      ?=
INCEPTION_WEIGHTS ?=
CLIP_SEED     ?= 0
CLIP_INIT     ?= --embed-dim 32 --width 64 --layers 2 --patch 8 --image-size 32 --text-width 64 --text-layers 2 --head-width 32
CLIP_HEAD_WIDTH ?= $(if $(CLIP_WEIGHTS),64,32)

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
# The tools, overridable (the tests put failing ones in their place).
GEN_STEP   ?= $(ROOT)/bin/gen-step
DISC_STEP  ?= $(ROOT)/bin/disc-step
NOISE      ?= $(ROOT)/bin/noise
MAKE_DATASET ?= $(ROOT)/bin/make-dataset
IMPORT_CUB ?= $(ROOT)/bin/import-cub
ENCODE_TEXT ?= $(ROOT)/bin/encode-text
BATCHES    ?= $(ROOT)/bin/batches
CLIP_EMBED ?= $(ROOT)/bin/clip-embed
TOKENIZE   ?= $(ROOT)/bin/tokenize
INCEPTION  ?= $(ROOT)/bin/inception-stats
FID        ?= $(ROOT)/bin/fid
NPY_PNG    ?= $(ROOT)/bin/npy-png
PLOT       ?= $(ROOT)/bin/plot-metrics

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := train
.PHONY: train sample eval all clean

CKPT := $(RUN)/ckpt
DATA := $(RUN)/data
LOG  := $(RUN)/log
WDIR := $(RUN)/weights

isnum = $(shell [[ "$(1)" =~ ^[0-9]+$$ ]] && echo y)
$(foreach v,MAX_EPOCH IMAGES MAX_BATCHES SEED GEN_INTERVAL TEST_INTERVAL TEST_N SAMPLE_TIMES EVAL_EPOCH CLIP_SEED,$(if $(call isnum,$($(v))),,$(error $(v) expects a whole number, found '$($(v))')))
ifeq ($(shell [[ "$(LAMBDA_CLIP)" =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$$ ]] && echo y),)
$(error LAMBDA_CLIP expects a number >= 0, found '$(LAMBDA_CLIP)')
endif
ifeq ($(origin STEPS),command line)
$(error STEPS is no longer a setting: an epoch is floor(train images / BATCH) batches, at most MAX_BATCHES (0: no cap), found STEPS=$(STEPS))
endif
ifeq ($(shell [ "$(IMAGES)" -ge 48 ] 2>/dev/null && echo y),)
$(error IMAGES expects a whole number >= 48 (make-dataset's minimum), found '$(IMAGES)')
endif
ifeq ($(strip $(RUN)),)
$(error RUN expects a folder, found nothing)
endif
# LAMBDA_CLIP = 0 (0, 0.0, 0e5 ...) drops the CLIP branch from the epoch
CLIP_ON := $(shell awk 'BEGIN { if ($(LAMBDA_CLIP) + 0 > 0) print "y" }')

# epochs 001..MAX_EPOCH, each with the one before it ("000:001 001:002 ...")
EPOCH_IDS   := $(shell seq -f %03g 1 $(MAX_EPOCH))
EPOCH_PAIRS := $(shell for ((e = 1; e <= $(MAX_EPOCH); e++)); do printf '%03d:%03d ' $$((e - 1)) $$e; done)
LAST        := $(lastword 000 $(EPOCH_IDS))
every       = $(shell for ((e = 1; e <= $(MAX_EPOCH); e++)); do (( $(1) > 0 && e % $(1) == 0 )) && printf '%03d ' $$e; done; true)
GEN_IDS     := $(call every,$(GEN_INTERVAL))
TEST_IDS    := $(call every,$(TEST_INTERVAL))
EVAL_ID     := $(shell printf %03d $(EVAL_EPOCH))

# The weights: given files, or random ones made once per run (labelled so in the metrics)
CLIP_W        := $(or $(CLIP_WEIGHTS),$(WDIR)/clip_random.npz)
INCEPTION_W   := $(or $(INCEPTION_WEIGHTS),$(WDIR)/inception_random.npz)
CLIP_FLAGS    := --weights '$(CLIP_W)' --head-width $(CLIP_HEAD_WIDTH)
EVAL_WEIGHTS  := $(if $(INCEPTION_WEIGHTS),pretrained-inception,random-inception)+$(if $(CLIP_WEIGHTS),pretrained-clip,random-clip)+random-damsm
$(foreach w,$(CLIP_WEIGHTS) $(INCEPTION_WEIGHTS),$(if $(wildcard $(w)),,$(error expected the weights file '$(w)', found none: convert the official weights with bin/ckpt import (see README), or leave CLIP_WEIGHTS/INCEPTION_WEIGHTS empty for random ones)))

# The run's identity: a RUN folder made with other settings is refused rather than mixed.
CONFIG     := imsize=$(IMSIZE) nf=$(NF) batch=$(BATCH) cond=$(COND) z=$(Z) images=$(IMAGES) max_batches=$(MAX_BATCHES) seed=$(SEED) lambda_clip=$(LAMBDA_CLIP) test_n=$(TEST_N) clip=$(or $(CLIP_WEIGHTS),random:$(CLIP_SEED)) inception=$(or $(INCEPTION_WEIGHTS),random:0)
OLD_CONFIG := $(shell cat '$(RUN)/config.txt' 2>/dev/null)
ifneq ($(filter-out clean,$(or $(MAKECMDGOALS),train)),)
ifneq ($(OLD_CONFIG),)
ifneq ($(OLD_CONFIG),$(CONFIG))
$(error $(RUN) was made with "$(OLD_CONFIG)", found "$(CONFIG)": set them back, pick another RUN=, or make -f pipelines/demo.mk clean)
endif
endif
endif

# The tools: built through the main Makefile when missing or out of date (checked once, here), so a
# finished run is up to date for make -q and a changed source is rebuilt before use.
TOOL_NAMES  := gen-step disc-step noise make-dataset import-cub encode-text batches clip-embed tokenize inception-stats fid npy-png plot-metrics
TOOLS       := $(addprefix $(ROOT)/bin/,$(TOOL_NAMES))
TOOLS_STALE := $(shell $(MAKE) -s -C '$(ROOT)' -q $(addprefix bin/,$(TOOL_NAMES)) >/dev/null 2>&1 || echo y)
ifneq ($(TOOLS_STALE),)
.PHONY: tools
$(TOOLS): tools ;
tools:
	@'$(ROOT)/.ci/install-deps'
	@$(MAKE) --no-print-directory -C '$(ROOT)' $(addprefix bin/,$(TOOL_NAMES))
endif

# ---- the data source ----
# The built-in dataset in CUB's layout (bin/make-dataset), imported as real CUB is (bin/import-cub:
# DF-GAN's bbox crop, resize to int(IMSIZE*76/64), uint8 cache; 10 captions per image), a DAMSM
# vocabulary from the train then the test captions (as DF-GAN's build_dictionary), a random DAMSM
# text encoder (cond = its 256-d sentence embeddings; labelled random like the other weights), and
# cached DAMSM embeddings and CLIP text features of every training caption. Each epoch, bin/batches
# shuffles from (SEED, epoch), drops the last partial batch, draws one caption per image and crops
# and flips: the epoch's real images, cond rows and --index into $(RUN)/tmp/epoch_<eee>/; a second
# batches run with the same seed and epoch on the CLIP feature cache gives the text features of
# exactly the same captions (the same draws), which the CLIP loss reads.
# epoch_real/epoch_cond/epoch_text: the streams epoch $(1) reads; epoch_data: the recipe lines that
# make them; DATA_FILES: what must exist before any epoch runs.
DS := $(DATA)/dataset
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
if [ $$steps -lt 1 ]; then echo "demo.mk: expected at least BATCH=$(BATCH) training images, found $$n (raise IMAGES)" >&2; exit 2; fi
'$(BATCHES)' $(BATCHES_ARGS) --emb '$(DATA)/train_cond.npy' --images '$(call epoch_real,$(E))' --cond '$(call epoch_cond,$(E))' --index "$$tmp/index.npy"
$(if $(CLIP_ON),'$(BATCHES)' $(BATCHES_ARGS) --emb '$(DATA)/train_text_features.npy' --images /dev/null --cond '$(call epoch_text,$(E))' --index "$$tmp/index_text.npy"
cmp -s "$$tmp/index.npy" "$$tmp/index_text.npy" || { echo "demo.mk: expected the CLIP features of the same captions as cond in epoch $(E)$(comma) found other draws" >&2; exit 1; })
endef

$(RUN)/config.txt:
	@mkdir -p '$(RUN)'
	echo '$(CONFIG)' > '$@'

$(DS)/train/filenames.pickle: | $(TOOLS) $(RUN)/config.txt
	@rm -rf '$(DS)' '$(DS).tmp'
	mkdir -p '$(DATA)'
	'$(MAKE_DATASET)' --out '$(DS).tmp' --images $(IMAGES) --seed $(SEED)
	mv '$(DS).tmp' '$(DS)'

# import split prefix [limit]: the import-cub cache of one split
define import_split
@'$(IMPORT_CUB)' --root '$(DS)' --split $(1) --imsize $(IMSIZE) $(if $(filter-out 0,$(3)),--limit $(3)) --images '$(DATA)/$(2)images.npy' \
    --captions '$(DATA)/$(2)all_captions.txt' --filenames '$(DATA)/$(2)filenames.txt'
endef
$(DATA)/train_images.npy $(DATA)/train_all_captions.txt $(DATA)/train_filenames.txt &: $(DS)/train/filenames.pickle | $(TOOLS)
	$(call import_split,train,train_)
# the whole test split (its captions make the vocabulary), and the test set: its first TEST_N images
$(DATA)/testsplit_images.npy $(DATA)/testsplit_all_captions.txt $(DATA)/testsplit_filenames.txt &: $(DS)/train/filenames.pickle | $(TOOLS)
	$(call import_split,test,testsplit_)
$(DATA)/test_cache.npy $(DATA)/test_all_captions.txt $(DATA)/test_filenames.txt &: $(DS)/train/filenames.pickle | $(TOOLS)
	$(call import_split,test,test_,$(TEST_N))
	mv '$(DATA)/test_images.npy' '$(DATA)/test_cache.npy'

$(DATA)/vocab.txt: $(DATA)/train_all_captions.txt $(DATA)/testsplit_all_captions.txt | $(TOOLS)
	@'$(TOKENIZE)' --build-vocab -o '$@' $^
	echo "vocab: $$(( $$(wc -l < '$@') - 1 )) words -> $@"

$(WDIR)/damsm_random.npz: $(DATA)/vocab.txt | $(TOOLS)
	@mkdir -p '$(WDIR)'
	echo "damsm: a random DAMSM text encoder (seed $(SEED), vocab $$(wc -l < '$<'), $(COND)-d) -> $@"
	'$(ENCODE_TEXT)' --init --vocab-size $$(wc -l < '$<') --seed $(SEED) --nhidden $(COND) -o '$@'

# DAMSM sentence embeddings of a captions file (token ids kept beside): damsm_of ids-path
define damsm_of
@'$(TOKENIZE)' --vocab '$(DATA)/vocab.txt' -o '$(1)' '$<'
'$(ENCODE_TEXT)' --weights '$(WDIR)/damsm_random.npz' --ids '$(1)' -o '$@'
echo "damsm sentence embeddings: $< -> $@"
endef
$(DATA)/train_cond.npy: $(DATA)/train_all_captions.txt $(DATA)/vocab.txt $(WDIR)/damsm_random.npz | $(TOOLS)
	$(call damsm_of,$(DATA)/train_ids.npy)

# the test captions: each test image's first caption; the samples': the first BATCH of them
$(DATA)/test_captions.txt: $(DATA)/test_all_captions.txt
	@awk 'NR % 10 == 1' '$<' > '$@.part'
	mv '$@.part' '$@'
$(DATA)/sample_captions.txt: $(DATA)/test_captions.txt
	@n=$$(wc -l < '$<')
	if [ $$n -lt $(BATCH) ]; then echo "demo.mk: expected at least BATCH=$(BATCH) test images for the samples, found $$n (raise TEST_N or IMAGES)" >&2; exit 2; fi
	head -n $(BATCH) '$<' > '$@.part'
	mv '$@.part' '$@'
$(DATA)/test_cond.npy: $(DATA)/test_captions.txt $(DATA)/vocab.txt $(WDIR)/damsm_random.npz | $(TOOLS)
	$(call damsm_of,$(DATA)/test_ids.npy)
$(DATA)/sample_cond.npy: $(DATA)/sample_captions.txt $(DATA)/vocab.txt $(WDIR)/damsm_random.npz | $(TOOLS)
	$(call damsm_of,$(DATA)/sample_ids.npy)

# the test images for FID: the whole uncropped RxR cache as float in [-1,1], one array (bin/batches
# with the crop as large as the image; it also flips half of them, which FID's statistics barely see)
$(DATA)/test_ids_all.npy: $(DATA)/test_all_captions.txt $(DATA)/vocab.txt | $(TOOLS)
	@'$(TOKENIZE)' --vocab '$(DATA)/vocab.txt' -o '$@' '$<'
$(DATA)/test_images.npy: $(DATA)/test_cache.npy $(DATA)/test_ids_all.npy $(DATA)/test_filenames.txt | $(TOOLS)
	@n=$$(wc -l < '$(DATA)/test_filenames.txt')
	'$(BATCHES)' --cache '$<' --emb '$(DATA)/test_ids_all.npy' --imsize $$(( $(IMSIZE) * 76 / 64 )) --batch $$n --epoch 0 \
	    --seed $(SEED) --images '$@' --cond /dev/null
	echo "test data: $$n images of the test split -> $@"

$(DATA)/test_noise.npy: $(DATA)/test_filenames.txt | $(TOOLS)
	@'$(NOISE)' --batch $$(wc -l < '$<') --dim $(Z) --batches 1 --seed $$(($(SEED) + 1000)) --truncate $(TRUNC) --trunc-rate $(TRUNC_RATE) -o '$@'

# ---- weights and cached features ----
$(WDIR)/clip_random.npz: | $(TOOLS) $(RUN)/config.txt
	@mkdir -p '$(WDIR)'
	echo "clip: a random CLIP (seed $(CLIP_SEED): $(CLIP_INIT)) -> $@"
	'$(CLIP_EMBED)' --init --seed $(CLIP_SEED) $(CLIP_INIT) -o '$@'

$(WDIR)/inception_random.npz: | $(TOOLS) $(RUN)/config.txt
	@mkdir -p '$(WDIR)'
	echo "inception: random Inception-v3 weights (seed 0) -> $@"
	'$(INCEPTION)' --init --seed 0 -o '$@'

# CLIP text features of a captions file, one array (tokens on the way, kept beside them): text_features ids-path
define text_features
@'$(TOKENIZE)' --clip -o '$(1)' '$<'
'$(CLIP_EMBED)' text $(CLIP_FLAGS) --in '$(1)' -o '$@'
echo "clip text features: $< -> $@"
endef
$(DATA)/train_text_features.npy: $(DATA)/train_all_captions.txt $(CLIP_W) | $(TOOLS)
	$(call text_features,$(DATA)/train_clip_ids.npy)
$(DATA)/test_text_features.npy: $(DATA)/test_captions.txt $(CLIP_W) | $(TOOLS)
	$(call text_features,$(DATA)/test_clip_ids.npy)

$(DATA)/test_stats.npz: $(DATA)/test_images.npy $(INCEPTION_W) $(DATA)/test_filenames.txt | $(TOOLS)
	@t0=$$(date +%s%N)
	'$(INCEPTION)' --weights '$(INCEPTION_W)' -o '$@' '$<' 2> '$@.err' || { cat '$@.err' >&2; rm -f '$@.err'; exit 1; }
	rm -f '$@.err'
	echo "test stats: $$(wc -l < '$(DATA)/test_filenames.txt') images ($(EVAL_WEIGHTS)) -> $@ ($$(( ($$(date +%s%N) - t0) / 1000000 )) ms)"

# ---- model ----
$(CKPT)/G_000.npz $(CKPT)/D_000.npz &: | $(TOOLS) $(RUN)/config.txt
	@echo "init: NetG and NetD/NetC (nf $(NF), z $(Z), cond $(COND)) -> $(CKPT)/G_000.npz, D_000.npz"
	mkdir -p '$(CKPT)'
	'$(GEN_STEP)' init --imsize $(IMSIZE) --nf $(NF) --z-dim $(Z) --cond-dim $(COND) --seed $$((2 * $(SEED))) -o '$(CKPT)/G_000.npz'
	'$(DISC_STEP)' init --imsize $(IMSIZE) --nf $(NF) --cond-dim $(COND) --seed $$((2 * $(SEED) + 1)) -o '$(CKPT)/D_000.npz'

# One epoch: $(PREV) -> $(E) (target-specific, set by EPOCH_RULE below).
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
'$(DISC_STEP)' train --device $(DEVICE) --ckpt '$(CKPT)/D_$(PREV).npz' --real '$(call epoch_real,$(E))' \
    --cond '$(call epoch_cond,$(E))' --fake "$$fake_d" --grad-out "$$tmp/grad.fifo" \
    --save "$$tmp/D.npz" --log "$$tmp/losses.jsonl" &
pids="$$pids $$!"
'$(GEN_STEP)' train --device $(DEVICE) --ckpt '$(CKPT)/G_$(PREV).npz' --noise "$$tmp/noise.npy" \
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
    echo "demo.mk: expected epoch $(E) to train, found a tool failing (exit $$rc); $(CKPT)/*_$(PREV).npz kept" >&2
    exit $$rc
fi
n=$$(wc -l < "$$tmp/losses.jsonl")
if [ "$$n" -ne $$steps ]; then
    echo "demo.mk: expected $$steps loss lines in epoch $(E), found $$n" >&2
    exit 1
fi
$(if $(CLIP_ON),,: > "$$tmp/clip.jsonl")
secs=$$(( ($$(date +%s%N) - t0) / 1000000 ))
awk -v e=$$((10#$(E))) -v ms=$$secs '
    function val(k,   s) {
        if (!match($$0, "\"" k "\": [^,}]+")) { print "demo.mk: expected " k " in " FILENAME ", found " $$0 > "/dev/stderr"; exit 1 }
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
	'$(NOISE)' --batch $(BATCH) --dim $(Z) --batches 1 --seed $(SEED) --truncate $(TRUNC) --trunc-rate $(TRUNC_RATE) -o '$@'

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
        '$(NOISE)' --batch $$n --dim $(Z) --batches 1 --seed $$(($(SEED) + 1000 + r)) --truncate $(TRUNC) --trunc-rate $(TRUNC_RATE) -o "$$tmp/noise.npy"; fi
    '$(GEN_STEP)' forward --device $(DEVICE) --ckpt '$(1)' --noise "$$tmp/noise.npy" --cond '$(DATA)/test_cond.npy' -o - >> "$$tmp/fakes.npy"
    cat '$(DATA)/test_text_features.npy' >> "$$tmp/text.npy"
done
'$(INCEPTION)' --weights '$(INCEPTION_W)' -o "$$tmp/stats.npz" "$$tmp/fakes.npy" 2> "$$tmp/inception.err" || { cat "$$tmp/inception.err" >&2; exit 1; }
fid=$$('$(FID)' '$(DATA)/test_stats.npz' "$$tmp/stats.npz")
score=$$('$(CLIP_EMBED)' score $(CLIP_FLAGS) --text "$$tmp/text.npy" --in "$$tmp/fakes.npy" | awk '$$1 == "clip_score" { print $$2 }')
[ -n "$$fid" ] && [ -n "$$score" ] || { echo "demo.mk: expected a FID and a CLIP score for $(1), found '$$fid' and '$$score'" >&2; exit 1; }
echo "$$fid,$$score,$$(( ($$(date +%s%N) - t0) / 1000000 ))" | awk -F, '{ printf "%s,%s,%.3f\n", $$1, $$2, $$3 / 1000 }' > "$$tmp/out.csv"
mv "$$tmp/out.csv" '$(2)'
rm -rf "$$tmp"
endef
EVAL_INPUTS := $(DATA)/test_filenames.txt $(DATA)/test_stats.npz $(DATA)/test_cond.npy $(DATA)/test_noise.npy $(DATA)/test_text_features.npy $(INCEPTION_W) $(CLIP_W)

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
	  echo "weights $(EVAL_WEIGHTS) (random: not comparable with published numbers)"
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

clean:
	rm -rf -- '$(RUN)'
