# pipelines/coco.mk: DF-GAN with the CLIP loss on COCO-2014, driven by cfg/coco.yml.
#   make -f pipelines/coco.mk [train|sample|eval|all|data|check|clean] [CFG=cfg/coco.yml] [RUN=runs/coco] [KEY=VALUE ...]
#   make -f pipelines/coco.mk sample eval CHECKPOINT=state_epoch_N.pth   (a saved generator instead of
#       the run's last epoch: DF-GAN's training checkpoint, converted once, or a G_<eee>.npz)
# DATA_DIR in DF-GAN's COCO layout (images/train2014, images/val2014, text/,
# train|test/filenames.pickle), imported whole (no box). See pipelines/real.mk and
# pipelines/common.mk.
CFG  ?= cfg/coco.yml
RUN  ?= runs/coco
PIPE := coco.mk
IMPORT_FLAGS := --coco
DATA_LAYOUT  := images/train2014 images/val2014
EXAMPLE_NAME := coco
include $(dir $(lastword $(MAKEFILE_LIST)))real.mk
