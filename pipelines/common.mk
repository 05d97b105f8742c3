# pipelines/common.mk: the training machinery every pipeline shares (demo.mk, and bird.mk and coco.mk
# through real.mk): text embeddings, the epochs, the checkpoints, sample grids, the tests (FID, CLIP
# score, R-precision, CLIP-FID), the eval and sample targets, the metrics. Not meant to be run alone: the including file says where
# the data and the weights come from and sets the settings first.
#
# What the including file sets before `include common.mk`:
#   PIPE (its name in messages: demo.mk, bird.mk ...), RUN, and the settings
#     IMSIZE NF BATCH Z COND SEED MAX_EPOCH MAX_BATCHES DEVICE LR_G LR_D LAMBDA_CLIP
#     GEN_INTERVAL TEST_INTERVAL SAVE_INTERVAL SAMPLE_TIMES EVAL_EPOCH IMGS_PER_SENT
#     TRUNCATION (1/0) TRUNC_RATE, WORDS_NUM (DAMSM words per caption), K (captions per image),
#     TEXT_ENCODER (damsm or clip: what G and D are conditioned on); optional, with defaults here:
#     FID_INTERVAL (Inception's FID at the test epochs that are its multiples; default every test),
#     SAMPLE_ROWS SAMPLE_COLS (the sample grids: 8 test captions x 8 fakes)
#   VOCAB, DAMSM_W, CLIP_W, INCEPTION_W: the files the tools read (the including file has the rules
#     that make the ones it makes); CLIP_HEAD_WIDTH; FID_STATS (default: computed from the test set)
#   CONFIG_EXTRA: its part of the run's identity; EVAL_WEIGHTS and EVAL_NOTE: how the eval weights
#     are labelled (metrics.csv's eval_weights column, the eval file); EVAL_EXTRA (optional): a file
#     whose lines every eval file gets (with the CLIP metrics); EXTRA_TOOLS, TOOLS_PREP (a
#     command run before the tools are built); NO_CLIP_BPE: what to do without CLIP's BPE file
#     (fallback: no CLIP loss and no CLIP score, said in one line; else an error)
#   CAPTIONS_DEFAULT: the sample target's captions when CAPTIONS is not given
#   CK_G (optional; pipelines/real.mk's checkpoint): a generator that sample and eval use instead of
#     the run's G_<SAMPLE_EPOCH>/G_<EVAL_EPOCH>, with CK_NAME (its name in their outputs), CK_LABEL
#     (how they name it) and CK_DEPS (more prerequisites of them); the including file has the rule
#     that makes CK_G when it is made
# and, after it, the rules that make $(DATA)/train_images.npy, train_shapes.npy, train_all_captions.txt,
# train_filenames.txt (the training split: import-cub --shapes's cache, every image as DF-GAN's
# Resize(int(IMSIZE*76/64)) leaves it, K captions per image, N names), test_cache.npy,
# test_shapes.npy, test_all_captions.txt, test_filenames.txt (the test set).
#
# What this file makes under $(RUN) (see pipelines/demo.mk's header for the whole list):
#   data/: train_cond.npy (DAMSM, every train caption), train_text_features.npy
#     (CLIP, every train caption), the test set's first caption per image (test_captions.txt, every
#     K-th line) with test_cond.npy / test_text_features.npy, sample_rows.txt (SAMPLE_ROWS of them
#     spread over the test set) and sample_captions.txt (each SAMPLE_COLS times), test_images.npy,
#     test_stats.npz (Inception), test_clip_stats.npz (CLIP image features), test_noise.npy,
#     sample_noise.npy. With TEXT_ENCODER
#     clip the CLIP text features are the condition too (COND = CLIP's embed dim): one cache serves
#     both, no DAMSM encoder is read.
#   ckpt/G_<eee>.npz D_<eee>.npz: every SAVE_INTERVAL epochs and the last (the others are Make
#     intermediates, deleted once the next epoch, the grid and the test that read them are made)
#   log/, losses.jsonl, metrics.csv, metrics.png, samples/epoch_<eee>.png, eval/epoch_<eee>.txt,
#   samples/<captions>_<eee>/ (sample: one PNG grid per caption), tmp/ (an epoch under way); with
#   CK_G, samples/<captions>_<CK_NAME>/ and eval/<CK_NAME>.txt instead; tb/ (TensorBoard, see below)
#
# Progress: while an epoch runs, bin/progress follows its loss logs and draws a one-line bar on
# stderr (epoch, step/steps, it/s, ETA, last losses) when stderr is a terminal, or writes a plain
# line every PROGRESS_EVERY seconds otherwise (PROGRESS_STEPS=K: every K steps too; PROGRESS=off:
# nothing; PROGRESS=tty|plain forces a mode).

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := train
.PHONY: train sample eval all clean data

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
ifeq ($(strip $(RUN)),)
$(error RUN expects a folder, found nothing)
endif
# The tools, overridable (the tests put failing ones in their place).
GEN_STEP    ?= $(ROOT)/bin/gen-step
DISC_STEP   ?= $(ROOT)/bin/disc-step
NOISE       ?= $(ROOT)/bin/noise
IMPORT_CUB  ?= $(ROOT)/bin/import-cub
ENCODE_TEXT ?= $(ROOT)/bin/encode-text
BATCHES     ?= $(ROOT)/bin/batches
CLIP_EMBED  ?= $(ROOT)/bin/clip-embed
TOKENIZE    ?= $(ROOT)/bin/tokenize
INCEPTION   ?= $(ROOT)/bin/inception-stats
FID         ?= $(ROOT)/bin/fid
FEATURE_STATS ?= $(ROOT)/bin/feature-stats
R_PRECISION ?= $(ROOT)/bin/r-precision
NPY_PNG     ?= $(ROOT)/bin/npy-png
PLOT        ?= $(ROOT)/bin/plot-metrics
NPY_INFO    ?= $(ROOT)/bin/npy-info
PROGRESS_TOOL ?= $(ROOT)/bin/progress
RUN_EPOCH   ?= $(ROOT)/bin/run-epoch
TB_LOG      ?= $(ROOT)/bin/tb-log
PROGRESS       ?= auto
PROGRESS_EVERY ?= 10
PROGRESS_STEPS ?= 0
# TensorBoard event files under $(RUN)/tb (off: none)
TB             ?= on
# IPC=auto: with DEVICE=cuda an epoch's step tools hand the fakes and gradients to each other as CUDA
# IPC records of GPU buffers (--ipc, lib/train/ipc_link.h) instead of their bytes; IPC=off: the bytes
IPC            ?= auto
# (one rank only: the tools refuse --ipc with more)
IPC_FLAGS       = $(if $(and $(filter cuda,$(DEVICE)),$(filter-out off,$(IPC))),$(if $(RANKED),,--ipc))

CKPT := $(RUN)/ckpt
DATA := $(RUN)/data
LOG  := $(RUN)/log
WDIR := $(RUN)/weights
comma := ,
# the goals read the settings (clean does not)
WORKING := $(filter-out clean compare,$(or $(MAKECMDGOALS),train))

# Inception's FID at the test epochs that are multiples of FID_INTERVAL (default: every test)
FID_INTERVAL ?= $(TEST_INTERVAL)
# the fixed sample grids: SAMPLE_ROWS test captions (a row each) x SAMPLE_COLS noise vectors
SAMPLE_ROWS ?= 8
SAMPLE_COLS ?= 8

# ---- the settings, checked ----
isnum = $(shell [[ "$(1)" =~ ^[0-9]+$$ ]] && echo y)
ifneq ($(WORKING),)
$(foreach v,MAX_EPOCH MAX_BATCHES SEED GEN_INTERVAL TEST_INTERVAL FID_INTERVAL SAVE_INTERVAL SAMPLE_TIMES EVAL_EPOCH IMGS_PER_SENT K PROGRESS_EVERY PROGRESS_STEPS,$(if $(call isnum,$($(v))),,$(error $(PIPE): $(v) expects a whole number, found '$($(v))')))
ifeq ($(shell [[ "$(LAMBDA_CLIP)" =~ ^[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$$ ]] && echo y),)
$(error $(PIPE): LAMBDA_CLIP expects a number >= 0, found '$(LAMBDA_CLIP)')
endif
$(foreach v,SAVE_INTERVAL IMGS_PER_SENT K SAMPLE_ROWS SAMPLE_COLS,$(if $(shell [ '$($(v))' -ge 1 ] 2>/dev/null && echo y),,$(error $(PIPE): $(v) expects a whole number >= 1, found '$($(v))')))
$(if $(filter damsm clip,$(TEXT_ENCODER)),,$(error $(PIPE): TEXT_ENCODER (text_encoder) expects damsm or clip, found '$(TEXT_ENCODER)'))
$(if $(filter auto tty plain off,$(PROGRESS)),,$(error $(PIPE): PROGRESS expects auto, tty, plain or off, found '$(PROGRESS)'))
$(if $(filter on off,$(TB)),,$(error $(PIPE): TB expects on or off, found '$(TB)'))
$(if $(filter auto off,$(IPC)),,$(error $(PIPE): IPC expects auto or off, found '$(IPC)'))
endif

# ---- ranks: each epoch's step tools as RANKS data-parallel ranks (lib/core/dist.h) ----
# RANKS=1 (the default; config key ranks for bird.mk and coco.mk): one process per tool, no MPI at
# all. RANKS=N > 1: gen-step, disc-step and clip-embed loss each run as one job of N ranks,
# "$(MPIRUN) $(MPI_FLAGS) -np N ...", every rank taking BATCH/N samples of each batch (RANKS must
# divide BATCH), rank 0 writing the checkpoints and logs; for OpenMPI's mpirun --oversubscribe is
# added when N exceeds this machine's cores, --allow-run-as-root as root. HOSTFILE=F spreads the
# ranks over the machines it lists (--hostfile F --map-by slot, every job alike, so that rank r of
# each tool shares a machine and its FIFOs); each machine needs the repository built at the same
# path and RUN at the same path on a file system they share (README, "Over ranks and machines").
# The other tools (data, sample grids, tests) stay one process.
RANKS     ?= 1
MPIRUN    ?= mpirun
MPI_FLAGS ?= -q
HOSTFILE  ?=
RANKS_WHO := $(if $(CFG),$(call who,RANKS,ranks),RANKS)
ifneq ($(WORKING),)
$(call plain_count,$(RANKS),$(RANKS_WHO))
$(call plain_path,$(MPIRUN),MPIRUN)
$(call plain_args,$(MPI_FLAGS),MPI_FLAGS)
$(call plain_path,$(HOSTFILE),HOSTFILE)
endif
RANKED := $(and $(WORKING),$(filter-out 1,$(RANKS)))
ifneq ($(and $(WORKING),$(RANKED)),)
$(if $(strip $(MPIRUN)),,$(error $(PIPE): MPIRUN: expected an MPI launcher to run RANKS=$(RANKS), found it empty))
$(if $(shell command -v '$(MPIRUN)'),,$(error $(PIPE): MPIRUN: expected an MPI launcher (OpenMPI's mpirun) to run RANKS=$(RANKS), found no '$(MPIRUN)'))
$(if $(and $(HOSTFILE),$(if $(wildcard $(HOSTFILE)),,y)),$(error $(PIPE): HOSTFILE: expected a hostfile (a machine a line: NAME slots=N), found no '$(HOSTFILE)'))
$(if $(call strip_chars,$(BATCH),$(DIGITS)),,$(if $(filter-out 0,$(shell echo $$(( $(BATCH) % $(RANKS) )))),$(error \
  $(PIPE): expected RANKS to divide BATCH ($(BATCH)), found RANKS=$(RANKS)$(if $(CFG), (RANKS: $(RANKS_WHO); BATCH: $(call who,BATCH_SIZE,batch_size))))))
endif
# the cores as OpenMPI counts them (physical cores this process may use), at most nproc; the flags
# added for OpenMPI's mpirun (another launcher gets MPI_FLAGS alone, and HOSTFILE as --hostfile); -x
# hands the epoch's DFGAN_ERROR_LOG (below) to ranks on other machines too
CORES     = $(shell n=$$(nproc); c=$$(lscpu -p=CORE,SOCKET 2>/dev/null | grep '^[0-9]' | sort -u | wc -l); [ "$$c" -ge 1 ] && [ "$$c" -lt "$$n" ] && n=$$c; echo $$n)
OPEN_MPI  = $(shell '$(MPIRUN)' --version 2>/dev/null | grep -q 'Open MPI' && echo y)
MPI_AUTO  = $(if $(HOSTFILE),--hostfile '$(HOSTFILE)' $(if $(OPEN_MPI),--map-by slot),$(if $(OPEN_MPI),$(if $(shell [ $(RANKS) -gt $(CORES) ] && echo y),--oversubscribe))) \
            $(if $(and $(OPEN_MPI),$(filter 0,$(shell id -u))),--allow-run-as-root) $(if $(OPEN_MPI),-x DFGAN_ERROR_LOG)
# MPI_RUN: what goes before a step tool's command (nothing with one rank). run-epoch's stdin is
# /dev/null then: mpirun reads its stdin to hand to rank 0 (a make in the background would be
# stopped, SIGTTIN), and the tools read none.
MPI_RUN  := $(if $(RANKED),'$(MPIRUN)' $(strip $(MPI_FLAGS) $(MPI_AUTO)) -np $(RANKS)$(space))
# after a failure, the seconds the other jobs get to end their ranks by themselves (run-epoch
# --settle; OpenMPI's mpirun stopped in the middle of that prints a banner or crashes)
RANK_SETTLE := 3
# rk: a per-rank FIFO's part of its name (fake$(rk).fifo: the tools' "fake.%r.fifo", fake.0.fifo ...
# made one per rank; with one rank fake.fifo); rank_fifos NAMES: --fifo for each NAME.fifo in
# $$tmp, one per rank; rank_copy IN OUTS: IN.fifo copied to the OUTS' .fifo, by run-epoch itself
# (:::copy) with one rank, else by a job of ranks (run-epoch --copy), so that rank r's copy runs
# on the machine of rank r's tools, where their FIFOs meet
rk         := $(if $(RANKED),.%r)
RANK_IDS   := $(if $(RANKED),$(shell seq 0 $$(($(RANKS) - 1))))
rank_fifos  = $(foreach n,$(1),$(foreach f,$(if $(RANKED),$(foreach r,$(RANK_IDS),$(n).$(r)),$(n)),--fifo "$$tmp/$(f).fifo"))
rank_copy   = $(if $(RANKED),::: $(MPI_RUN)'$(RUN_EPOCH)' --copy,:::copy) $(foreach n,$(1),"$$tmp/$(n)$(rk).fifo")

# ---- CLIP: its BPE file, the loss, the score, the condition ----
# tokenize --clip needs CLIP's BPE merges: $(CLIP_BPE) (from the command line or the environment),
# else where bin/tokenize looks for it beside the repository. Without it the demo goes on with no
# CLIP loss and no CLIP score (NO_CLIP_BPE=fallback, one line saying so); real data stop.
BPE_NAME := bpe_simple_vocab_16e6.txt.gz
ifeq ($(strip $(CLIP_BPE)),)
CLIP_BPE := $(firstword $(wildcard $(ROOT)/../shared/data/clip/$(BPE_NAME) $(ROOT)/data/clip/$(BPE_NAME) $(ROOT)/share/dfgan/$(BPE_NAME)))
BPE_WHERE := ../shared/data/clip/, data/clip/ or share/dfgan/ beside $(ROOT)
else
BPE_WHERE := CLIP_BPE=$(CLIP_BPE)
endif
BPE_OK     := $(if $(strip $(CLIP_BPE)),$(if $(wildcard $(CLIP_BPE)),y))
CLIP_COND  := $(filter clip,$(TEXT_ENCODER))
LAMBDA_ON  := $(shell awk 'BEGIN { if ($(or $(LAMBDA_CLIP),0) + 0 > 0) print "y" }')
TEST_ON    := $(filter-out 0,$(TEST_INTERVAL))
ifeq ($(and $(WORKING),$(if $(BPE_OK),,y),$(or $(LAMBDA_ON),$(TEST_ON),$(CLIP_COND))),y)
BPE_MISSING := expected CLIP's BPE merges $(BPE_NAME) ($(BPE_WHERE)), found none; get it from openai/CLIP (clip/$(BPE_NAME)) and set CLIP_BPE=PATH
ifneq ($(CLIP_COND),)
$(error $(PIPE): text_encoder clip: $(BPE_MISSING))
else ifeq ($(NO_CLIP_BPE),fallback)
$(shell echo "$(PIPE): no CLIP BPE file ($(BPE_WHERE)): training with lambda_clip 0 and no CLIP score; get $(BPE_NAME) from openai/CLIP and set CLIP_BPE=PATH for them" >&2)
else
$(error $(PIPE): $(BPE_MISSING))
endif
endif
# CLIP_ON: the CLIP loss in the epoch; SCORE_ON: the CLIP score in the tests; CLIP_USED: CLIP's
# weights are read at all
CLIP_ON   := $(and $(BPE_OK),$(LAMBDA_ON))
SCORE_ON  := $(BPE_OK)
CLIP_USED := $(or $(CLIP_ON),$(and $(SCORE_ON),$(TEST_ON)),$(CLIP_COND))
BPE_FLAG  := --bpe '$(CLIP_BPE)'
CLIP_FLAGS := --weights '$(CLIP_W)' --head-width $(CLIP_HEAD_WIDTH)
# cond_of SET: the condition cache of train, test or sample (DAMSM embeddings, or CLIP features)
cond_of = $(DATA)/$(1)_$(if $(CLIP_COND),text_features,cond).npy
FID_STATS ?= $(DATA)/test_stats.npz

# ---- epochs ----
# 001..MAX_EPOCH, each with the one before it ("000:001 001:002 ..."); checkpoints kept every
# SAVE_INTERVAL epochs and at MAX_EPOCH, the others intermediate (made, used by the next epoch, its
# grid and its test, then deleted by make), so resuming starts from the last kept pair
EPOCH_IDS   := $(shell seq -f %03g 1 $(MAX_EPOCH))
EPOCH_PAIRS := $(shell for ((e = 1; e <= $(MAX_EPOCH); e++)); do printf '%03d:%03d ' $$((e - 1)) $$e; done)
LAST        := $(lastword 000 $(EPOCH_IDS))
every       = $(shell for ((e = 1; e <= $(MAX_EPOCH); e++)); do (( $(1) > 0 && e % $(1) == 0 )) && printf '%03d ' $$e; done; true)
GEN_IDS     := $(call every,$(GEN_INTERVAL))
TEST_IDS    := $(call every,$(TEST_INTERVAL))
# the test epochs that compute Inception's FID too (every FID_INTERVAL epochs; the CLIP metrics at every test)
FID_IDS     := $(filter $(TEST_IDS),$(call every,$(FID_INTERVAL)))
SAVE_IDS    := $(sort $(call every,$(SAVE_INTERVAL)) $(LAST))
EVAL_ID     := $(shell printf %03d $(EVAL_EPOCH))
TRUNC_FLAGS := $(if $(filter 1,$(TRUNCATION)),--truncate 2) --trunc-rate $(TRUNC_RATE)
.INTERMEDIATE: $(foreach e,$(filter-out $(SAVE_IDS),$(EPOCH_IDS)),$(CKPT)/G_$(e).npz $(CKPT)/D_$(e).npz)

# ---- the run's identity: a RUN folder made with other settings is refused rather than mixed ----
# (the learning rates are not part of it: a diverged run goes on with lower ones; a run made when
# they were, its config.txt naming lr_g and lr_d, is read without them)
CONFIG     := imsize=$(IMSIZE) nf=$(NF) batch=$(BATCH) cond=$(COND) z=$(Z) max_batches=$(MAX_BATCHES) seed=$(SEED) lambda_clip=$(if $(or $(BPE_OK),$(if $(LAMBDA_ON),,y)),$(LAMBDA_CLIP),0:no-bpe) text_encoder=$(TEXT_ENCODER) $(CONFIG_EXTRA)
OLD_CONFIG := $(filter-out lr_g=% lr_d=%,$(shell cat '$(RUN)/config.txt' 2>/dev/null))
ifneq ($(WORKING),)
ifneq ($(OLD_CONFIG),)
ifneq ($(OLD_CONFIG),$(strip $(CONFIG)))
$(error $(PIPE): $(RUN) was made with "$(OLD_CONFIG)", found "$(strip $(CONFIG))": set them back, pick another RUN=, or make -f pipelines/$(PIPE) clean)
endif
endif
endif
$(RUN)/config.txt:
	@mkdir -p '$(RUN)'
	printf '%s\n' '$(subst ','\'',$(strip $(CONFIG)))' > '$@'

# ---- the tools: built through the main Makefile when missing or out of date (checked once, here),
# so a finished run is up to date for make -q and a changed source is rebuilt before use ----
TOOL_NAMES  := gen-step disc-step noise import-cub encode-text batches clip-embed tokenize inception-stats fid feature-stats r-precision npy-png npy-info plot-metrics progress run-epoch tb-log $(EXTRA_TOOLS)
TOOLS       := $(addprefix $(ROOT)/bin/,$(TOOL_NAMES))
TOOLS_STALE := $(shell $(MAKE) -s -C '$(ROOT)' -q $(addprefix bin/,$(TOOL_NAMES)) >/dev/null 2>&1 || echo y)
ifneq ($(TOOLS_STALE),)
.PHONY: tools
$(TOOLS): tools ;
tools:
	@$(TOOLS_PREP)
	$(MAKE) --no-print-directory -C '$(ROOT)' $(addprefix bin/,$(TOOL_NAMES))
endif

# ---- text: DAMSM sentence embeddings and CLIP text features, cached once ----
# damsm_of IDS [FLAGS]: DAMSM sentence embeddings of the captions file $< into $@ (token ids kept in
# IDS; FLAGS: more tokenize flags, e.g. --batch B for arrays of B rows)
define damsm_of
@'$(TOKENIZE)' --vocab '$(VOCAB)' --max-words $(WORDS_NUM) $(2) -o '$(1)' '$<'
'$(ENCODE_TEXT)' --device $(DEVICE) --weights '$(DAMSM_W)' --ids '$(1)' -o '$@'
echo "damsm sentence embeddings: $< -> $@"
endef
$(DATA)/train_cond.npy: $(DATA)/train_all_captions.txt $(VOCAB) $(DAMSM_W) | $(TOOLS)
	$(call damsm_of,$(DATA)/train_ids.npy)
$(DATA)/test_cond.npy: $(DATA)/test_captions.txt $(VOCAB) $(DAMSM_W) | $(TOOLS)
	$(call damsm_of,$(DATA)/test_ids.npy)
$(DATA)/sample_cond.npy: $(DATA)/sample_captions.txt $(VOCAB) $(DAMSM_W) | $(TOOLS)
	$(call damsm_of,$(DATA)/sample_ids.npy,--batch $(SAMPLE_COLS))

# text_features IDS [FLAGS]: CLIP text features of the captions file $< into $@, one array (ids kept
# in IDS; FLAGS: more tokenize flags, e.g. --batch B for arrays of B rows)
define text_features
@'$(TOKENIZE)' --clip $(BPE_FLAG) $(2) -o '$(1)' '$<'
'$(CLIP_EMBED)' text --device $(DEVICE) $(CLIP_FLAGS) --in '$(1)' -o '$@'
echo "clip text features: $< -> $@"
endef
$(DATA)/train_text_features.npy: $(DATA)/train_all_captions.txt $(CLIP_W) | $(TOOLS)
	$(call text_features,$(DATA)/train_clip_ids.npy)
$(DATA)/test_text_features.npy: $(DATA)/test_captions.txt $(CLIP_W) | $(TOOLS)
	$(call text_features,$(DATA)/test_clip_ids.npy)
$(DATA)/sample_text_features.npy: $(DATA)/sample_captions.txt $(CLIP_W) | $(TOOLS)
	$(call text_features,$(DATA)/sample_clip_ids.npy,--batch $(SAMPLE_COLS))

# the test captions: each test image's first caption (image i's are lines i*K+1 .. i*K+K); the
# sample grids' captions: SAMPLE_ROWS of them spread over the test set (line floor(i*n/SAMPLE_ROWS)+1
# for row i: sample_rows.txt, copied to samples/captions.txt), and each one SAMPLE_COLS times in a
# row for the grid's cond (sample_captions.txt)
$(DATA)/test_captions.txt: $(DATA)/test_all_captions.txt
	@awk '(NR - 1) % $(K) == 0' '$<' > '$@.part'
	mv '$@.part' '$@'
$(DATA)/sample_rows.txt: $(DATA)/test_captions.txt
	@n=$$(wc -l < '$<')
	if [ $$n -lt $(SAMPLE_ROWS) ]; then echo "$(PIPE): expected at least SAMPLE_ROWS=$(SAMPLE_ROWS) test images for the samples, found $$n$(if $(MORE_TEST_HINT), $(MORE_TEST_HINT))" >&2; exit 2; fi
	awk -v n=$$n -v rows=$(SAMPLE_ROWS) 'BEGIN { for (i = 0; i < rows; i++) want[int(i * n / rows) + 1] = 1 } NR in want' '$<' > '$@.part'
	mv '$@.part' '$@'
$(RUN)/samples/captions.txt: $(DATA)/sample_rows.txt
	@mkdir -p '$(@D)'
	cp '$<' '$@.part'
	mv '$@.part' '$@'
$(DATA)/sample_captions.txt: $(DATA)/sample_rows.txt
	@awk '{ for (c = 0; c < $(SAMPLE_COLS); c++) print }' '$<' > '$@.part'
	mv '$@.part' '$@'

# ---- the test set for FID ----
# its images: the centre IMSIZE crop of every cached image (torchvision's CenterCrop, no flip) as
# float in [-1,1], one array (bin/batches --no-augment, on the token ids as its per-caption rows)
$(DATA)/test_ids_all.npy: $(DATA)/test_all_captions.txt $(VOCAB) | $(TOOLS)
	@'$(TOKENIZE)' --vocab '$(VOCAB)' --max-words $(WORDS_NUM) -o '$@' '$<'
$(DATA)/test_images.npy: $(DATA)/test_cache.npy $(DATA)/test_shapes.npy $(DATA)/test_ids_all.npy $(DATA)/test_filenames.txt | $(TOOLS)
	@n=$$(wc -l < '$(DATA)/test_filenames.txt')
	'$(BATCHES)' --cache '$<' --shapes '$(DATA)/test_shapes.npy' --emb '$(DATA)/test_ids_all.npy' --imsize $(IMSIZE) \
	    --batch $$n --epoch 0 --seed $(SEED) --no-augment --images '$@' --cond /dev/null
	echo "test data: $$n images of the test split -> $@"
$(DATA)/test_stats.npz: $(DATA)/test_images.npy $(INCEPTION_W) $(DATA)/test_filenames.txt | $(TOOLS)
	@t0=$$(date +%s%N)
	'$(INCEPTION)' --device $(DEVICE) --weights '$(INCEPTION_W)' -o '$@' '$<' 2> '$@.err' || { cat '$@.err' >&2; rm -f '$@.err'; exit 1; }
	rm -f '$@.err'
	echo "test stats: $$(wc -l < '$(DATA)/test_filenames.txt') images ($(EVAL_WEIGHTS)) -> $@ ($$(( ($$(date +%s%N) - t0) / 1000000 )) ms)"
$(DATA)/test_noise.npy: $(DATA)/test_filenames.txt | $(TOOLS)
	@'$(NOISE)' --batch $$(wc -l < '$<') --dim $(Z) --batches 1 --seed $$(($(SEED) + 1000)) $(TRUNC_FLAGS) -o '$@'

# ---- an epoch's streams ----
# bin/batches shuffles from (SEED, e), drops the last partial batch, draws one caption per image,
# crops and flips: the epoch's real images, cond rows and --index into $(RUN)/tmp/epoch_<eee>/; with
# the CLIP loss on DAMSM cond, a second run with the same seed and epoch on the CLIP feature cache
# gives the text features of exactly the same captions (the same draws); with CLIP cond the cond
# rows are those features.
epoch_real = $(RUN)/tmp/epoch_$(1)/real.npy
epoch_cond = $(RUN)/tmp/epoch_$(1)/cond.npy
epoch_text = $(RUN)/tmp/epoch_$(1)/$(if $(CLIP_COND),cond,text).npy
DATA_FILES := $(DATA)/train_images.npy $(DATA)/train_shapes.npy $(call cond_of,train) $(DATA)/train_filenames.txt $(if $(CLIP_ON),$(DATA)/train_text_features.npy $(CLIP_W))
BATCHES_ARGS = --cache '$(DATA)/train_images.npy' --shapes '$(DATA)/train_shapes.npy' --imsize $(IMSIZE) --batch $(BATCH) --epoch $$((10\#$(E))) --seed $(SEED) $(if $(filter-out 0,$(MAX_BATCHES)),--max-batches $(MAX_BATCHES))
define epoch_data
n=$$(wc -l < '$(DATA)/train_filenames.txt')
steps=$$((n / $(BATCH)))
$(if $(filter-out 0,$(MAX_BATCHES)),(( steps <= $(MAX_BATCHES) )) || steps=$(MAX_BATCHES))
if [ $$steps -lt 1 ]; then echo "$(PIPE): expected at least BATCH=$(BATCH) training images, found $$n$(if $(MORE_TRAIN_HINT), $(MORE_TRAIN_HINT))" >&2; exit 2; fi
'$(BATCHES)' $(BATCHES_ARGS) --emb '$(call cond_of,train)' --images '$(call epoch_real,$(E))' --cond '$(call epoch_cond,$(E))' --index "$$tmp/index.npy"
$(if $(and $(CLIP_ON),$(if $(CLIP_COND),,y)),'$(BATCHES)' $(BATCHES_ARGS) --emb '$(DATA)/train_text_features.npy' --images /dev/null --cond '$(call epoch_text,$(E))' --index "$$tmp/index_text.npy"
cmp -s "$$tmp/index.npy" "$$tmp/index_text.npy" || { echo "$(PIPE): expected the CLIP features of the same captions as cond in epoch $(E)$(comma) found other draws" >&2; exit 1; })
endef

# ---- model ----
# With CLIP cond, G and D read CLIP's embed dim: COND must be the width of the feature cache.
define cond_dim_check
e=$$('$(NPY_INFO)' '$(call cond_of,train)' | awk 'NR == 1 { split($$3, s, /[(,)]/); print s[3] }')
[ "$$e" = $(COND) ] || { echo "$(PIPE): expected cond_dim (COND) to be CLIP's embed dim $$e with text_encoder clip, found $(COND)" >&2; exit 2; }
endef
$(CKPT)/G_000.npz $(CKPT)/D_000.npz &: $(if $(CLIP_COND),$(call cond_of,train)) | $(TOOLS) $(RUN)/config.txt
	@$(if $(CLIP_COND),$(cond_dim_check))
	echo "init: NetG and NetD/NetC (imsize $(IMSIZE), nf $(NF), z $(Z), cond $(COND)) -> $(CKPT)/G_000.npz, D_000.npz"
	mkdir -p '$(CKPT)'
	'$(GEN_STEP)' init --imsize $(IMSIZE) --nf $(NF) --z-dim $(Z) --cond-dim $(COND) --seed $$((2 * $(SEED))) -o '$(CKPT)/G_000.npz'
	'$(DISC_STEP)' init --imsize $(IMSIZE) --nf $(NF) --cond-dim $(COND) --seed $$((2 * $(SEED) + 1)) -o '$(CKPT)/D_000.npz'

# ---- TensorBoard: `tensorboard --logdir runs` shows a run as it trains (TB=off: not written) ----
# bin/tb-log writes one event file per call into $(RUN)/tb, one KEY per epoch and kind, and a call
# repeated with the same KEY (an epoch redone on resume) replaces its file: no duplicated points.
#   e<eee>-losses, e<eee>-clip  the epoch's per-batch losses (disc-step's --log: errD, errG, err_real
#                               ...; clip-embed loss's: clip_loss, mean_cos) as batch/<key> at the
#                               global step (e-1)*steps + batch; written with run_epoch's outputs,
#                               before they are moved into place
#   e<eee>-metrics              the epoch's line of metrics.csv (epoch/errD, errG, clip_loss, seconds)
#   e<eee>-test                 a test epoch's metrics (FID, as DF-GAN tags it; epoch/clip_score,
#                               r_precision, r_precision_std, clip_fid, eval_seconds)
#   e<eee>-grid                 the sample grid, "fixed results" as DF-GAN names it
# each at step e. The grid and the test are logged once their file is made: a failed call (or make
# interrupted) deletes that file too, so both are made again.
TB_ON  := $(filter on,$(TB))
TB_DIR := $(RUN)/tb
define tb_epoch
'$(TB_LOG)' --dir '$(TB_DIR)' --key e$(E)-losses --prefix batch/ --jsonl "$$tmp/losses.jsonl" --step-base $$(( (10#$(E) - 1) * steps ))
$(if $(CLIP_ON),'$(TB_LOG)' --dir '$(TB_DIR)' --key e$(E)-clip --prefix batch/ --jsonl "$$tmp/clip.jsonl" --step-base $$(( (10#$(E) - 1) * steps )))
'$(TB_LOG)' --dir '$(TB_DIR)' --key e$(E)-metrics --prefix epoch/ --csv "$$tmp/metrics.csv" --columns epoch,errD,errG,clip_loss,seconds
endef
# the test of epoch $* read into fid score rp rps cfid s (empty: not computed this epoch)
define tb_test
tb=()
for kv in FID="$$fid" epoch/clip_score="$$score" epoch/r_precision="$$rp" epoch/r_precision_std="$$rps" epoch/clip_fid="$$cfid" epoch/eval_seconds="$$s"; do
    [ -z "$${kv#*=}" ] || tb+=(--scalar "$$kv")
done
'$(TB_LOG)' --dir '$(TB_DIR)' --key e$*-test --step $$((10#$*)) "$${tb[@]}"
endef

# One epoch: $(PREV) -> $(E) (target-specific, set by EPOCH_RULE below). bin/run-epoch runs the
# epoch's tools side by side, joined by FIFOs in $(RUN)/tmp/epoch_<eee>/ (see its header):
# disc-step and gen-step; with the CLIP loss also clip-embed loss, a copy of the fakes to both
# disc-step and clip-embed, and a copy of clip-embed's gradient to gen-step's second --grad. That
# second copy only decouples an open order: clip-embed opens its output before it reads a batch,
# gen-step opens its --grad streams after it has written one, so joined directly they would wait
# for each other for ever; the copy opens clip-embed's output at once and gen-step's --grad when
# gen-step gets there. bin/progress looks on (:::watch). The first tool to fail stops the others;
# run-epoch names it and exits with its status, and nothing of the epoch is moved into place.
# With RANKS > 1 each tool and each copy is one job of RANKS ranks ($(MPI_RUN), "ranks" above),
# every FIFO one per rank, rank r of each job meeting rank r of the others through them; the
# real/cond/noise/text files are shared, each rank reading its rows; rank 0 writes the logs and
# checkpoints. A rank that fails ends its job (one line naming it: "disc-step (rank 1 of 2): ...");
# run-epoch gives the other jobs RANK_SETTLE seconds to end theirs before it stops them.
PROGRESS_MODE := $(if $(filter tty,$(PROGRESS)),--tty,$(if $(filter plain,$(PROGRESS)),--plain))
# A diverged epoch: a step tool exits 3 saying "step N: expected ..., found <what>" (train/stepcheck.h),
# a line that DFGAN_ERROR_LOG (core/common.h) copies into the epoch's errors.log; it is the cause even
# where run-epoch names another tool (one that failed on the streams the diverged one left). The run
# ends with one line: the epoch, the step, what was found and by which tool, the checkpoints kept
# (PREV's, unless make removes them as intermediates at its exit: then the last pair saved, or there
# at the start) and a command going on from them with learning rates a tenth of these (RESUME_ARGS:
# the other command-line settings, each shell-quoted where it needs to be).
# A value that a diverged tool passed on and the next one refused as input ("tool: --grad F: expected
# finite values, found NaN at (i,j) in batch K", K from 0) reads as the same divergence at step K+1.
# Any other failure ends with the first error line a tool (any rank, any machine) wrote to errors.log,
# where the lines keep the order they were written in: mpirun relays each job's stderr on its own, so
# on the terminal a rank's line may follow the lines it caused.
CKPT_AT_START := $(patsubst $(CKPT)/G_%.npz,%,$(wildcard $(CKPT)/G_[0-9][0-9][0-9].npz))
SHELL_SAFE  := $(FLAG_CHARS) A B C D E F G H I J K L M N O P Q R S T U V W X Y Z _ / $(comma) = : @
resume_word = $(1)=$(if $(call strip_chars,$(value $(1)),$(SHELL_SAFE)),$(call shq,$(value $(1))),$(value $(1)))
RESUME_ARGS = $(strip $(foreach v,$(sort $(.VARIABLES)),$(if $(filter command line,$(origin $(v))),$(if $(filter LR_G LR_D,$(v)),,$(call resume_word,$(v))))))
define run_epoch
@tmp='$(RUN)/tmp/epoch_$(E)'
rm -rf "$$tmp"
mkdir -p "$$tmp" '$(LOG)'
$(epoch_data)
'$(NOISE)' --batch $(BATCH) --dim $(Z) --batches $$steps --seed $$(($(SEED) + 10#$(E))) -o "$$tmp/noise.npy"
t0=$$(date +%s%N)
export DFGAN_ERROR_LOG="$$tmp/errors.log"
rc=0
'$(RUN_EPOCH)' $(if $(RANKED),--settle $(RANK_SETTLE) < /dev/null )$(call rank_fifos,fake grad) \
    $(if $(CLIP_ON),$(call rank_fifos,fake_d fake_c cgrad_out cgrad) \
    $(call rank_copy,fake fake_d fake_c) \
    ::: $(MPI_RUN)'$(CLIP_EMBED)' loss --device $(DEVICE) $(IPC_FLAGS) $(CLIP_FLAGS) --lambda $(LAMBDA_CLIP) --text '$(call epoch_text,$(E))' \
        --in "$$tmp/fake_c$(rk).fifo" -o "$$tmp/cgrad_out$(rk).fifo" --log "$$tmp/clip.jsonl" \
    $(call rank_copy,cgrad_out cgrad)) \
    ::: $(MPI_RUN)'$(DISC_STEP)' train --device $(DEVICE) $(IPC_FLAGS) --lr $(LR_D) --ckpt '$(CKPT)/D_$(PREV).npz' --real '$(call epoch_real,$(E))' \
        --cond '$(call epoch_cond,$(E))' --fake "$$tmp/$(if $(CLIP_ON),fake_d,fake)$(rk).fifo" --grad-out "$$tmp/grad$(rk).fifo" \
        --save "$$tmp/D.npz" --log "$$tmp/losses.jsonl" \
    ::: $(MPI_RUN)'$(GEN_STEP)' train --device $(DEVICE) $(IPC_FLAGS) --lr $(LR_G) --ckpt '$(CKPT)/G_$(PREV).npz' --noise "$$tmp/noise.npy" \
        --cond '$(call epoch_cond,$(E))' --fake-out "$$tmp/fake$(rk).fifo" --grad "$$tmp/grad$(rk).fifo" $(if $(CLIP_ON),--grad "$$tmp/cgrad$(rk).fifo") \
        --save "$$tmp/G.npz" --log "$$tmp/gen.jsonl" \
    $(if $(filter-out off,$(PROGRESS)),:::watch '$(PROGRESS_TOOL)' $(PROGRESS_MODE) --steps $$steps --prefix "epoch $$((10#$(E)))/$(MAX_EPOCH)" \
        --start $$t0 --every $(PROGRESS_EVERY) --every-steps $(PROGRESS_STEPS) --keys errD$(comma)errG$(if $(CLIP_ON),$(comma)clip_loss) \
        --log "$$tmp/losses.jsonl" $(if $(CLIP_ON),--log "$$tmp/clip.jsonl")) \
    || rc=$$?
if [ $$rc -ne 0 ]; then
    why=$$(awk '$$1 == 3 { sub(/^3 /, ""); print; exit }' "$$tmp/errors.log" 2>/dev/null || true)
    if [[ "$$why" =~ ^(.*):\ (--[a-z-]+)[^:]*:\ expected\ finite\ values,\ found\ ([^ ]+\ at\ [^ ]+)\ in\ batch\ ([0-9]+)$$ ]]; then
        why="$${BASH_REMATCH[1]}: step $$((BASH_REMATCH[4] + 1)): expected finite values, found $${BASH_REMATCH[3]} in its input $${BASH_REMATCH[2]}"
    fi
    if [[ "$$why" =~ ^(.*):\ step\ ([0-9]+):\ expected\ [^,]*,\ found\ (.*)$$ ]]; then
        kept=000
        for e in $(sort 000 $(SAVE_IDS) $(CKPT_AT_START)); do (( 10#$$e > 10#$(PREV) )) || kept=$$e; done
        lr=$$(awk 'BEGIN { printf "LR_G=%.6g LR_D=%.6g", $(LR_G) / 10, $(LR_D) / 10 }')
        echo "$(PIPE): epoch $$((10#$(E))) diverged at step $${BASH_REMATCH[2]}: $${BASH_REMATCH[3]} ($${BASH_REMATCH[1]}); kept $(CKPT)/G_$$kept.npz, D_$$kept.npz; continue with lower learning rates, e.g. make -f pipelines/$(PIPE) train "$(call shq,$(RESUME_ARGS))" $$lr" >&2
        exit 3
    fi
    first=$$(sed -n '1{s/^[0-9]* //;p;q}' "$$tmp/errors.log" 2>/dev/null || true)
    echo "$(PIPE): expected epoch $(E) to train, found a tool failing (exit $$rc); $(CKPT)/*_$(PREV).npz kept$${first:+; the first error: $$first}" >&2
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
        if (s ~ /nan|inf/ && bad == "") bad = k " " s " in " FILENAME
        return s + 0
    }
    FNR == 1 { f++ }
    f == 1 { d += val("errD"); g += val("errG"); n++ }
    f == 2 { c += val("clip_loss"); nc++ }
    END {
        if (bad != "") { print "$(PIPE): expected finite losses in epoch " e ", found " bad "; $(CKPT)/*_$(PREV).npz kept" > "/dev/stderr"; exit 3 }
        printf "%d,%.6g,%.6g,", e, d / n, g / n
        if (nc) printf "%.6g", c / nc
        printf ",%.3f\n", ms / 1000
    }
' "$$tmp/losses.jsonl" "$$tmp/clip.jsonl" > "$$tmp/metrics.csv"
IFS=, read -r _ mD mG mC s < "$$tmp/metrics.csv"
echo "epoch $$((10#$(E)))/$(MAX_EPOCH): errD $$mD errG $$mG$(if $(CLIP_ON), clip_loss $$mC) ($$s s, $$steps batches)"
$(if $(TB_ON),$(tb_epoch))
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

# ---- the fixed sample grids: G_<eee>'s fakes for fixed noise and the first BATCH test captions ----
# the grid's noise: SAMPLE_COLS truncated vectors (seed SEED), the same for every row
$(DATA)/sample_noise.npy: | $(TOOLS) $(RUN)/config.txt
	@mkdir -p '$(DATA)'
	'$(NOISE)' --batch $(SAMPLE_COLS) --dim $(Z) --batches 1 --seed $(SEED) $(TRUNC_FLAGS) -o '$@.one'
	for ((r = 0; r < $(SAMPLE_ROWS); r++)); do cat '$@.one'; done > '$@.part'
	rm '$@.one'
	mv '$@.part' '$@'
# a grid of the fixed samples: row i is line i of samples/captions.txt (its caption written under
# the row), SAMPLE_COLS fakes each, column j from the same noise in every row
$(RUN)/samples/epoch_%.png: $(CKPT)/G_%.npz $(DATA)/sample_noise.npy $(call cond_of,sample) $(RUN)/samples/captions.txt | $(TOOLS)
	@'$(GEN_STEP)' forward --device $(DEVICE) --ckpt '$<' --noise '$(DATA)/sample_noise.npy' --cond '$(call cond_of,sample)' \
	    -o - | '$(NPY_PNG)' --cols $(SAMPLE_COLS) --labels '$(RUN)/samples/captions.txt' -o '$@'
	$(if $(TB_ON),'$(TB_LOG)' --dir '$(TB_DIR)' --key e$*-grid --step $$((10#$*)) --image 'fixed results=$@')
	echo "sample grid of epoch $*: $@ (row i: line i of $(RUN)/samples/captions.txt)"

# ---- sample: the captions of a text file as PNG grids, DF-GAN's sample_example ----
# CAPTIONS (default CAPTIONS_DEFAULT, the seed's example captions), one caption a line, blank lines
# skipped; each caption's grid holds IMGS_PER_SENT fakes of G_<SAMPLE_EPOCH> (default the last),
# the same truncated noise for every caption (seed SEED+2000; truncation at 2 when TRUNCATION,
# scaled by TRUNC_RATE). Arbitrary words: DAMSM ids through the run's vocabulary (the first
# WORDS_NUM known words; unknown words dropped, a caption with none is refused) or CLIP's BPE.
# Under $(RUN)/samples/<captions file's name>_<eee>/ (_<CK_NAME>/ with CK_G): captions.txt,
# checkpoint.txt (the generator), sent_001.png ..., fakes.npy (one (IMGS_PER_SENT,3,S,S) array per
# caption).
define sample_cond_clip
'$(TOKENIZE)' --clip $(BPE_FLAG) --batch $(IMGS_PER_SENT) -o "$$tmp/ids.npy" "$$tmp/repeated.txt"
'$(CLIP_EMBED)' text --device $(DEVICE) $(CLIP_FLAGS) --in "$$tmp/ids.npy" -o "$$tmp/cond.npy"
endef
define sample_cond_damsm
'$(TOKENIZE)' --vocab '$(VOCAB)' --max-words $(WORDS_NUM) --first --batch $(IMGS_PER_SENT) -o "$$tmp/ids.npy" "$$tmp/repeated.txt"
'$(ENCODE_TEXT)' --device $(DEVICE) --weights '$(DAMSM_W)' --ids "$$tmp/ids.npy" -o "$$tmp/cond.npy" 2> "$$tmp/err" || {
    a=$$(sed -n 's/.*empty caption.* in array \([0-9]*\).*/\1/p' "$$tmp/err")
    [ -n "$$a" ] || { cat "$$tmp/err" >&2; exit 1; }
    echo "$(PIPE): expected a word of the vocabulary ($(VOCAB)) in every caption of $(CAPTIONS), found none in caption $$((a + 1)): $$(sed -n "$$((a + 1))p" "$$tmp/captions.txt")" >&2
    exit 2
}
endef
CAPTIONS      ?= $(CAPTIONS_DEFAULT)
SAMPLE_EPOCH  ?= $(MAX_EPOCH)
SAMPLE_ID     := $(shell printf %03d $(SAMPLE_EPOCH))
# G: the run's G_<SAMPLE_EPOCH>, or the including file's CK_G (named CK_NAME in the folder's name)
SAMPLE_G      := $(or $(CK_G),$(CKPT)/G_$(SAMPLE_ID).npz)
SAMPLE_DIR    := $(RUN)/samples/$(basename $(notdir $(CAPTIONS)))_$(or $(CK_NAME),$(SAMPLE_ID))
ifneq ($(filter sample all,$(MAKECMDGOALS)),)
$(if $(call isnum,$(SAMPLE_EPOCH)),,$(error $(PIPE): SAMPLE_EPOCH expects a whole number, found '$(SAMPLE_EPOCH)'))
$(if $(wildcard $(CAPTIONS)),,$(error $(PIPE): CAPTIONS: expected a captions file (one caption a line), found no '$(CAPTIONS)'))
endif
$(SAMPLE_DIR)/fakes.npy: $(SAMPLE_G) $(CK_DEPS) $(CAPTIONS) $(if $(CLIP_COND),$(CLIP_W),$(VOCAB) $(DAMSM_W)) | $(TOOLS) $(RUN)/config.txt
	@tmp='$(SAMPLE_DIR).tmp'
	rm -rf "$$tmp" && mkdir -p "$$tmp"
	echo "$(or $(CK_LABEL),$<)" > "$$tmp/checkpoint.txt"
	tr -d '\r' < '$(CAPTIONS)' | awk 'NF' > "$$tmp/captions.txt"
	n=$$(wc -l < "$$tmp/captions.txt")
	[ $$n -gt 0 ] || { echo "$(PIPE): expected captions in $(CAPTIONS), found none" >&2; exit 2; }
	awk -v p=$(IMGS_PER_SENT) '{ for (i = 0; i < p; i++) print }' "$$tmp/captions.txt" > "$$tmp/repeated.txt"
	$(if $(CLIP_COND),$(sample_cond_clip),$(sample_cond_damsm))
	'$(NOISE)' --batch $(IMGS_PER_SENT) --dim $(Z) --batches 1 --seed $$(($(SEED) + 2000)) $(TRUNC_FLAGS) -o "$$tmp/z1.npy"
	for ((i = 0; i < n; i++)); do cat "$$tmp/z1.npy"; done > "$$tmp/noise.npy"
	'$(GEN_STEP)' forward --device $(DEVICE) --ckpt '$<' --noise "$$tmp/noise.npy" --cond "$$tmp/cond.npy" -o "$$tmp/fakes.npy"
	# the arrays are all the same size: split into one per caption, each a grid
	split -n $$n -d -a 6 "$$tmp/fakes.npy" "$$tmp/one_"
	i=0
	for f in "$$tmp"/one_*; do i=$$((i + 1)); '$(NPY_PNG)' --in "$$f" -o "$$(printf '%s/sent_%03d.png' "$$tmp" $$i)"; done
	rm -f "$$tmp"/one_* "$$tmp/repeated.txt" "$$tmp/z1.npy" "$$tmp/err" "$$tmp/ids.npy" "$$tmp/cond.npy" "$$tmp/noise.npy"
	rm -rf '$(SAMPLE_DIR)'
	mv "$$tmp" '$(SAMPLE_DIR)'
	echo "$(if $(CK_G),samples of $(CK_LABEL),samples of epoch $$((10#$(SAMPLE_ID)))): $$n captions of $(CAPTIONS) x $(IMGS_PER_SENT) images -> $(SAMPLE_DIR)/sent_*.png"

# ---- tests: FID, CLIP score, R-precision, CLIP-FID ----
# eval_fakes G OUT TIMES FID: G's fakes for the test captions, TIMES repetitions (noise seeds
# SEED+1000+r), and their metrics as "fid,clip_score,r_precision,r_precision_std,clip_fid,seconds,
# candidates,chance" in OUT (atomically; the last two: R-precision's fewest captions per ranking and
# its chance level): Inception's FID against FID_STATS when FID is not empty (else empty); with
# the CLIP BPE file (else empty) one pass of CLIP over the fakes (clip-embed score --features-out)
# gives the CLIP score, R-precision (bin/r-precision: each fake's own caption among 99 captions of
# other test images by CLIP cosine, draws from SEED; mean and std over the TIMES repetitions; with
# fewer than 100 test captions, among all the others) and CLIP-FID (the Fréchet distance of the
# CLIP's image features, raw projections as clean-fid's CLIP features, against the test images').
define eval_fakes
t0=$$(date +%s%N)
n=$$(wc -l < '$(DATA)/test_filenames.txt')
tmp='$(2).tmp'
rm -rf "$$tmp" && mkdir -p "$$tmp"
for ((r = 0; r < $(3); r++)); do
    if [ $$r -eq 0 ]; then cp '$(DATA)/test_noise.npy' "$$tmp/noise.npy"; else
        '$(NOISE)' --batch $$n --dim $(Z) --batches 1 --seed $$(($(SEED) + 1000 + r)) $(TRUNC_FLAGS) -o "$$tmp/noise.npy"; fi
    '$(GEN_STEP)' forward --device $(DEVICE) --ckpt '$(1)' --noise "$$tmp/noise.npy" --cond '$(call cond_of,test)' -o - >> "$$tmp/fakes.npy"
    $(if $(SCORE_ON),cat '$(DATA)/test_text_features.npy' >> "$$tmp/text.npy")
done
fid=
$(if $(4),'$(INCEPTION)' --device $(DEVICE) --weights '$(INCEPTION_W)' -o "$$tmp/stats.npz" "$$tmp/fakes.npy" 2> "$$tmp/inception.err" || { cat "$$tmp/inception.err" >&2; exit 1; }
fid=$$('$(FID)' '$(FID_STATS)' "$$tmp/stats.npz")
[ -n "$$fid" ] || { echo "$(PIPE): expected a FID for $(1)$(comma) found none" >&2; exit 1; })
score= rp= rps= cfid= rpc= rpch=
$(if $(SCORE_ON),score=$$('$(CLIP_EMBED)' score --device $(DEVICE) $(CLIP_FLAGS) --text "$$tmp/text.npy" --in "$$tmp/fakes.npy" --features-out "$$tmp/features.npy" | awk '$$1 == "clip_score" { print $$2 }')
'$(R_PRECISION)' --images "$$tmp/features.npy" --text '$(DATA)/test_text_features.npy' --seed $(SEED) > "$$tmp/rp.txt"
rp=$$(awk '$$1 == "r_precision" { print $$2 }' "$$tmp/rp.txt")
rps=$$(awk '$$1 == "r_precision_std" { print $$2 }' "$$tmp/rp.txt")
rpc=$$(awk '$$1 == "candidates" { print $$2 }' "$$tmp/rp.txt")
rpch=$$(awk '$$1 == "chance" { print $$2 }' "$$tmp/rp.txt")
'$(FEATURE_STATS)' -o "$$tmp/clip_stats.npz" "$$tmp/features.npy"
cfid=$$('$(FID)' '$(DATA)/test_clip_stats.npz' "$$tmp/clip_stats.npz" 2> "$$tmp/fid.err") || { cat "$$tmp/fid.err" >&2; exit 1; }
[ -n "$$score" ] && [ -n "$$rp" ] && [ -n "$$cfid" ] || { echo "$(PIPE): expected a CLIP score$(comma) an R-precision and a CLIP-FID for $(1)$(comma) found '$$score'$(comma) '$$rp' and '$$cfid'" >&2; exit 1; })
echo "$$fid,$$score,$$rp,$$rps,$$cfid,$$(( ($$(date +%s%N) - t0) / 1000000 )),$$rpc,$$rpch" | awk -F, -v OFS=, '{ $$6 = sprintf("%.3f", $$6 / 1000); print }' > "$$tmp/out.csv"
mv "$$tmp/out.csv" '$(2)'
rm -rf "$$tmp"
endef
EVAL_INPUTS := $(DATA)/test_filenames.txt $(FID_STATS) $(call cond_of,test) $(DATA)/test_noise.npy $(INCEPTION_W) $(if $(SCORE_ON),$(DATA)/test_text_features.npy $(DATA)/test_clip_stats.npz $(CLIP_W) $(EVAL_EXTRA))
SCORE_TEXT  := $(if $(SCORE_ON),clip_score $$score r_precision $$rp clip_fid $$cfid,no clip_score (no CLIP BPE file))

# the test images' CLIP features (raw projections), as statistics for CLIP-FID
$(DATA)/test_clip_stats.npz: $(DATA)/test_images.npy $(CLIP_W) | $(TOOLS)
	@'$(CLIP_EMBED)' image --device $(DEVICE) --raw $(CLIP_FLAGS) --in '$<' | '$(FEATURE_STATS)' -o '$@'
	echo "test clip stats: $$(wc -l < '$(DATA)/test_filenames.txt') images ($(CLIP_W)) -> $@"

$(LOG)/eval_%.csv: $(CKPT)/G_%.npz $(EVAL_INPUTS) | $(TOOLS)
	@$(call eval_fakes,$<,$@,1,$(filter $*,$(FID_IDS)))
	IFS=, read -r fid score rp rps cfid s _ < '$@'
	$(if $(TB_ON),$(tb_test))
	echo "test of epoch $$((10#$*)): fid $${fid:-(not this epoch: FID_INTERVAL=$(FID_INTERVAL))} $(SCORE_TEXT) ($$(wc -l < '$(DATA)/test_filenames.txt') images, $(EVAL_WEIGHTS) weights; $$s s)"

# eval_report LABEL: eval's file for the generator $< (named LABEL in it): SAMPLE_TIMES repetitions
define eval_report
@mkdir -p '$(@D)'
$(call eval_fakes,$<,$@.csv,$(SAMPLE_TIMES),y)
IFS=, read -r fid score rp rps cfid s rpc rpch < '$@.csv'
rm '$@.csv'
n=$$(wc -l < '$(DATA)/test_filenames.txt')
{ echo "checkpoint $(1)"
  echo "fid $$fid"
  echo "clip_score $(if $(SCORE_ON),$$score,none (no CLIP BPE file))"
  echo "r_precision $(if $(SCORE_ON),$$rp,none (no CLIP BPE file))"
  $(if $(SCORE_ON),echo "r_precision_std $$rps (over $(SAMPLE_TIMES) sample_times)"
  echo "r_precision_chance $$rpch (each fake's own caption ranked by CLIP cosine among $$rpc captions of the test set$$( [ "$$rpc" -ge 100 ] || echo ": fewer than 100 test captions$(comma) all the others"))")
  echo "clip_fid $(if $(SCORE_ON),$$cfid (the Frechet distance of the CLIP's image features),none (no CLIP BPE file))"
  echo "images $$((n * $(SAMPLE_TIMES))) ($$n test captions x $(SAMPLE_TIMES) sample_times)"
  echo "weights $(EVAL_WEIGHTS) ($(EVAL_NOTE))"
  $(if $(and $(SCORE_ON),$(EVAL_EXTRA)),cat '$(EVAL_EXTRA)')
  echo "seconds $$s"; } > '$@.part'
mv '$@.part' '$@'
endef
$(RUN)/eval/epoch_%.txt: $(CKPT)/G_%.npz $(EVAL_INPUTS) | $(TOOLS)
	$(call eval_report,$<)
# the including file's CK_G, in place of the run's own (eval/<CK_NAME>.txt)
EVAL_FILE := $(if $(CK_G),$(RUN)/eval/$(CK_NAME).txt,$(RUN)/eval/epoch_$(EVAL_ID).txt)
ifneq ($(CK_G),)
$(EVAL_FILE): $(CK_G) $(CK_DEPS) $(EVAL_INPUTS) | $(TOOLS)
	$(call eval_report,$(CK_LABEL))
endif

# ---- logs, metrics ----
$(RUN)/losses.jsonl: $(foreach e,$(EPOCH_IDS),$(LOG)/losses_$(e).jsonl)
	@cat /dev/null $^ > '$@.part'
	mv '$@.part' '$@'

METRICS_HEAD := epoch,errD,errG,clip_loss,fid,clip_score,r_precision,r_precision_std,clip_fid,seconds,eval_seconds,eval_weights
$(RUN)/metrics.csv: $(foreach e,$(EPOCH_IDS),$(LOG)/metrics_$(e).csv) $(foreach e,$(TEST_IDS),$(LOG)/eval_$(e).csv)
	@{ echo $(METRICS_HEAD)
	   for e in $(EPOCH_IDS); do
	       IFS=, read -r ep d g c s < '$(LOG)'/metrics_$$e.csv
	       fid= score= rp= rps= cfid= es= w=
	       if [ -f '$(LOG)'/eval_$$e.csv ] && [[ " $(TEST_IDS) " == *" $$e "* ]]; then IFS=, read -r fid score rp rps cfid es _ < '$(LOG)'/eval_$$e.csv; w=$(EVAL_WEIGHTS); fi
	       echo "$$ep,$$d,$$g,$$c,$$fid,$$score,$$rp,$$rps,$$cfid,$$s,$$es,$$w"
	   done; } > '$@.part'
	mv '$@.part' '$@'
	echo "trained to epoch $(LAST): $(CKPT)/G_$(LAST).npz and D_$(LAST).npz; per-batch losses in $(RUN)/losses.jsonl; per-epoch metrics in $@ (plot: $(RUN)/metrics.png); sample grids in $(RUN)/samples/"

$(RUN)/metrics.png: $(RUN)/metrics.csv | $(TOOLS)
	@'$(PLOT)' --in '$<' -o '$@'

# ---- targets ----
train: $(CKPT)/G_$(LAST).npz $(CKPT)/D_$(LAST).npz $(foreach e,$(GEN_IDS),$(RUN)/samples/epoch_$(e).png) \
       $(RUN)/losses.jsonl $(RUN)/metrics.csv $(RUN)/metrics.png

sample: $(SAMPLE_DIR)/fakes.npy

eval: $(EVAL_FILE)
	@cat '$<'

all: train sample eval

data: $(DATA_FILES)

clean:
	rm -rf -- '$(RUN)'
