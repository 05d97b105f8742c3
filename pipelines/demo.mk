# pipelines/demo.mk: the embedded default training job ("demo"). DF-GAN trained on a built-in synthetic
# captioned-image source (bin/synth-shapes: coloured shapes whose "sentence embedding" is a fixed
# projection of their attributes), so it runs on a fresh machine with no dataset and no weights.
#
#   make -f pipelines/demo.mk train     build the tools if needed, make the data and the initial
#                                          G and D once, then train epochs 1..MAX_EPOCH (the default goal)
#   make -f pipelines/demo.mk sample    fakes for fixed noise from the last epoch's G (trains first
#                                          if that epoch is not done)
#   make -f pipelines/demo.mk all       train and sample
#   make -f pipelines/demo.mk clean     remove $(RUN)
#
# Variables (override on the command line: make -f pipelines/demo.mk train MAX_EPOCH=10 DEVICE=cuda):
#   IMSIZE=32  NF=8  BATCH=16  COND=32 (sentence-embedding size)  Z=32 (noise size)
#   MAX_EPOCH=3   STEPS=8 (batches per epoch)   RUN=runs/demo   DEVICE=cpu (or cuda)   SEED=0
#   TRUNC=2  TRUNC_RATE=0.88 (the sample target's truncated noise, as DF-GAN samples)
# A RUN folder remembers IMSIZE NF BATCH COND Z STEPS SEED (in $(RUN)/config.txt) and refuses others;
# MAX_EPOCH may grow to continue training, DEVICE may change.
#
# What it writes under $(RUN):
#   data/images.npy, data/cond.npy   the training stream: STEPS batches (B,3,S,S) and (B,COND)
#   ckpt/G_000.npz, ckpt/D_000.npz   initial weights (G from seed 2*SEED, D from 2*SEED+1)
#   ckpt/G_<eee>.npz, D_<eee>.npz    weights and Adam state after epoch eee (3 digits)
#   log/losses_<eee>.jsonl           the epoch's per-batch losses from disc-step
#                                    ({"batch": 1, "errD": .., "err_real": .., "err_fake": .., ...})
#   log/metrics_<eee>.csv            the epoch's metrics line
#   losses.jsonl                     every epoch's per-batch losses, MAX_EPOCH*STEPS lines
#   metrics.csv                      "epoch,errD,errG,seconds" then one line per epoch (batch means)
#   samples_<eee>.npy                (sample) G_<eee>'s fakes (BATCH,3,S,S) for the captions of the
#                                    first training batch and fixed truncated noise (seed SEED)
#
# An epoch: noise for the epoch (noise --seed SEED+e) into a file; gen-step train and disc-step
# train run side by side for the whole epoch, weights resident, joined by two FIFOs in
# $(RUN)/tmp/epoch_<eee>/ (gen-step --fake-out -> disc-step --fake, disc-step --grad-out ->
# gen-step --grad). Everything the epoch writes goes into that folder first; only when both tools
# have succeeded are its logs, then D, then G renamed into place, G last: G_<eee>.npz existing
# means the epoch is complete.
#
# Resuming: each epoch is one Make rule whose outputs are its checkpoint pair and logs, made from
# the previous epoch's pair, so running make again after an interruption (Ctrl-C, kill -9, a
# crash) redoes only the epochs whose outputs are missing, starting from the last complete one;
# the interrupted epoch's folder is thrown away first. losses.jsonl and metrics.csv are rebuilt
# from the per-epoch logs, so a partial epoch can never leave duplicated lines. Training is
# deterministic: a redone epoch gives byte-identical checkpoints (same DEVICE and thread count).
#
# Failures: the two tools are started in the background and the recipe waits for the first one to
# end. If it failed, the other is killed (it may be blocked for ever opening or reading a FIFO
# whose other end will never come) and the recipe fails with the failing tool's status, its error
# line on stderr; if it succeeded, the other one's status decides. The epoch's outputs are never
# touched on failure (.DELETE_ON_ERROR guards the rest).
#
# The data source is the part issue 6 replaces: epoch_real/epoch_cond name the streams epoch e
# reads and DATA_FILES what must be made before; the rest of the file does not care.

IMSIZE     ?= 32
NF         ?= 8
BATCH      ?= 16
COND       ?= 32
Z          ?= 32
MAX_EPOCH     ?= 3
STEPS      ?= 8
RUN        ?= runs/demo
DEVICE     ?= cpu
SEED       ?= 0
TRUNC      ?= 2
TRUNC_RATE ?= 0.88

ROOT := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))..)
# The tools, overridable (the tests put a failing disc-step in its place).
GEN_STEP  ?= $(ROOT)/bin/gen-step
DISC_STEP ?= $(ROOT)/bin/disc-step
NOISE     ?= $(ROOT)/bin/noise
SYNTH     ?= $(ROOT)/bin/synth-shapes

SHELL       := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.ONESHELL:
.DELETE_ON_ERROR:
.SUFFIXES:
.DEFAULT_GOAL := train
.PHONY: train sample all clean

CKPT := $(RUN)/ckpt
DATA := $(RUN)/data
LOG  := $(RUN)/log

isnum = $(shell [[ "$(1)" =~ ^[0-9]+$$ ]] && echo y)
$(foreach v,MAX_EPOCH STEPS SEED,$(if $(call isnum,$($(v))),,$(error $(v) expects a whole number, found '$($(v))')))
ifeq ($(strip $(RUN)),)
$(error RUN expects a folder, found nothing)
endif

# epochs 001..MAX_EPOCH, each with the one before it ("000:001 001:002 ...")
EPOCH_IDS   := $(shell seq -f %03g 1 $(MAX_EPOCH))
EPOCH_PAIRS := $(shell for ((e = 1; e <= $(MAX_EPOCH); e++)); do printf '%03d:%03d ' $$((e - 1)) $$e; done)
LAST        := $(lastword 000 $(EPOCH_IDS))

# The run's identity: a RUN folder made with other settings is refused rather than mixed.
CONFIG     := imsize=$(IMSIZE) nf=$(NF) batch=$(BATCH) cond=$(COND) z=$(Z) steps=$(STEPS) seed=$(SEED)
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
TOOL_NAMES  := gen-step disc-step noise synth-shapes
TOOLS       := $(addprefix $(ROOT)/bin/,$(TOOL_NAMES))
TOOLS_STALE := $(shell $(MAKE) -s -C '$(ROOT)' -q $(addprefix bin/,$(TOOL_NAMES)) >/dev/null 2>&1 || echo y)
ifneq ($(TOOLS_STALE),)
.PHONY: tools
$(TOOLS): tools ;
tools:
	@$(MAKE) --no-print-directory -C '$(ROOT)' $(addprefix bin/,$(TOOL_NAMES))
endif

# ---- the data source (issue 6 swaps this part) ----
# epoch_real/epoch_cond: the image and sentence-embedding streams epoch $(1) reads (one array per
# batch); DATA_FILES: what must exist before any epoch runs.
epoch_real = $(DATA)/images.npy
epoch_cond = $(DATA)/cond.npy
DATA_FILES := $(DATA)/images.npy $(DATA)/cond.npy

$(RUN)/config.txt:
	@mkdir -p '$(RUN)'
	echo '$(CONFIG)' > '$@'

$(DATA)/images.npy $(DATA)/cond.npy &: | $(TOOLS) $(RUN)/config.txt
	@echo "data: $(STEPS) batches of $(BATCH) synthetic $(IMSIZE)x$(IMSIZE) shapes -> $(DATA)/images.npy, cond.npy"
	mkdir -p '$(DATA)'
	'$(SYNTH)' --imsize $(IMSIZE) --batch $(BATCH) --batches $(STEPS) --cond-dim $(COND) --seed $(SEED) \
	    --images '$(DATA)/images.npy' --cond '$(DATA)/cond.npy'

# the samples' captions: the first training batch (synth-shapes' batch 0 does not depend on --batches)
$(DATA)/sample_images.npy $(DATA)/sample_cond.npy &: | $(TOOLS) $(RUN)/config.txt
	@mkdir -p '$(DATA)'
	'$(SYNTH)' --imsize $(IMSIZE) --batch $(BATCH) --batches 1 --cond-dim $(COND) --seed $(SEED) \
	    --images '$(DATA)/sample_images.npy' --cond '$(DATA)/sample_cond.npy'

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
'$(NOISE)' --batch $(BATCH) --dim $(Z) --batches $(STEPS) --seed $$(($(SEED) + 10#$(E))) -o "$$tmp/noise.npy"
t0=$$(date +%s%N)
pids=
trap '[ -z "$$pids" ] || kill $$pids 2>/dev/null || true' EXIT
'$(DISC_STEP)' train --device $(DEVICE) --ckpt '$(CKPT)/D_$(PREV).npz' --real '$(call epoch_real,$(E))' \
    --cond '$(call epoch_cond,$(E))' --fake "$$tmp/fake.fifo" --grad-out "$$tmp/grad.fifo" \
    --save "$$tmp/D.npz" --log "$$tmp/losses.jsonl" &
dpid=$$!
'$(GEN_STEP)' train --device $(DEVICE) --ckpt '$(CKPT)/G_$(PREV).npz' --noise "$$tmp/noise.npy" \
    --cond '$(call epoch_cond,$(E))' --fake-out "$$tmp/fake.fifo" --grad "$$tmp/grad.fifo" \
    --save "$$tmp/G.npz" --log "$$tmp/gen.jsonl" &
gpid=$$!
pids="$$dpid $$gpid"
# Wait for the first tool to end, polling every 0.1 s (bash's wait -n misses a job that ended
# before it was called; the read times out on a FIFO nobody writes: a sleep without a child
# process). If it failed, kill the other, which may be blocked for ever on a FIFO.
exec 9<> "$$tmp/tick.fifo"
alive() { kill -0 "$$1" 2>/dev/null; }
while alive $$dpid && alive $$gpid; do read -rt 0.1 -u 9 || true; done
exec 9<&-
if alive $$dpid; then first=$$gpid second=$$dpid; else first=$$dpid second=$$gpid; fi
rc=0
wait $$first || rc=$$?
if [ $$rc -ne 0 ]; then
    kill $$second 2>/dev/null || true
    wait $$second || true
else
    wait $$second || rc=$$?
fi
pids=
if [ $$rc -ne 0 ]; then
    echo "demo.mk: expected epoch $(E) to train, found a tool failing (exit $$rc); $(CKPT)/*_$(PREV).npz kept" >&2
    exit $$rc
fi
n=$$(wc -l < "$$tmp/losses.jsonl")
if [ "$$n" -ne $(STEPS) ]; then
    echo "demo.mk: expected $(STEPS) loss lines in epoch $(E), found $$n" >&2
    exit 1
fi
secs=$$(( ($$(date +%s%N) - t0) / 1000000 ))
awk -v e=$$((10#$(E))) -v ms=$$secs '
    function val(k,   s) {
        if (!match($$0, "\"" k "\": [^,}]+")) { print "demo.mk: expected " k " in " FILENAME ", found " $$0 > "/dev/stderr"; exit 1 }
        s = substr($$0, RSTART + length(k) + 4, RLENGTH - length(k) - 4)
        if (s ~ /nan|inf/) bad = 1
        return s + 0
    }
    { d += val("errD"); g += val("errG"); n++ }
    END { if (bad) printf "%d,nan,nan,%.3f\n", e, ms / 1000; else printf "%d,%.6g,%.6g,%.3f\n", e, d / n, g / n, ms / 1000 }
' "$$tmp/losses.jsonl" > "$$tmp/metrics.csv"
IFS=, read -r _ mD mG s < "$$tmp/metrics.csv"
echo "epoch $$((10#$(E)))/$(MAX_EPOCH): errD $$mD errG $$mG ($$s s, $(STEPS) batches)"
mv "$$tmp/losses.jsonl" '$(LOG)/losses_$(E).jsonl'
mv "$$tmp/metrics.csv" '$(LOG)/metrics_$(E).csv'
mv "$$tmp/D.npz" '$(CKPT)/D_$(E).npz'
mv "$$tmp/G.npz" '$(CKPT)/G_$(E).npz'
rm -rf "$$tmp"
rmdir '$(RUN)/tmp' 2>/dev/null || true
endef

epoch_outs = $(CKPT)/G_$(1).npz $(CKPT)/D_$(1).npz $(LOG)/losses_$(1).jsonl $(LOG)/metrics_$(1).csv
define EPOCH_RULE
$(call epoch_outs,$(2)) &: $(CKPT)/G_$(1).npz $(CKPT)/D_$(1).npz $(DATA_FILES) | $(TOOLS)
	$$(run_epoch)
$(call epoch_outs,$(2)): private PREV := $(1)
$(call epoch_outs,$(2)): private E := $(2)
endef
$(foreach p,$(EPOCH_PAIRS),$(eval $(call EPOCH_RULE,$(word 1,$(subst :, ,$(p))),$(word 2,$(subst :, ,$(p))))))

# ---- logs, metrics, samples ----
$(RUN)/losses.jsonl: $(foreach e,$(EPOCH_IDS),$(LOG)/losses_$(e).jsonl)
	@cat /dev/null $^ > '$@.part'
	mv '$@.part' '$@'

$(RUN)/metrics.csv: $(foreach e,$(EPOCH_IDS),$(LOG)/metrics_$(e).csv)
	@{ echo epoch,errD,errG,seconds; cat /dev/null $^; } > '$@.part'
	mv '$@.part' '$@'
	echo "trained to epoch $(LAST): $(CKPT)/G_$(LAST).npz and D_$(LAST).npz; per-batch losses in $(RUN)/losses.jsonl; per-epoch metrics in $@"

train: $(CKPT)/G_$(LAST).npz $(CKPT)/D_$(LAST).npz $(RUN)/losses.jsonl $(RUN)/metrics.csv

$(DATA)/sample_noise.npy: | $(TOOLS) $(RUN)/config.txt
	@mkdir -p '$(DATA)'
	'$(NOISE)' --batch $(BATCH) --dim $(Z) --batches 1 --seed $(SEED) --truncate $(TRUNC) --trunc-rate $(TRUNC_RATE) -o '$@'

$(RUN)/samples_%.npy: $(CKPT)/G_%.npz $(DATA)/sample_noise.npy $(DATA)/sample_cond.npy | $(TOOLS)
	@'$(GEN_STEP)' forward --device $(DEVICE) --ckpt '$<' --noise '$(DATA)/sample_noise.npy' --cond '$(DATA)/sample_cond.npy' -o '$@'
	echo "samples of epoch $*: $@ (real images of the same captions: $(DATA)/sample_images.npy)"

sample: $(RUN)/samples_$(LAST).npy

all: train sample

clean:
	rm -rf -- '$(RUN)'
