# pipelines/bird.mk: DF-GAN with the CLIP loss on CUB-200 birds, driven by cfg/bird.yml.
#   make -f pipelines/bird.mk [train|sample|eval|all|data|check|clean] [CFG=cfg/bird.yml] [RUN=runs/bird] [KEY=VALUE ...]
#   make -f pipelines/bird.mk sample eval CHECKPOINT=state_epoch_N.pth   (a saved generator instead of
#       the run's last epoch: DF-GAN's training checkpoint, converted once, or a G_<eee>.npz)
# DATA_DIR in DF-GAN's CUB layout (CUB_200_2011/images, images.txt, bounding_boxes.txt, text/,
# train|test/filenames.pickle), imported with DF-GAN's bbox crop. See pipelines/real.mk and
# pipelines/common.mk.
CFG  ?= cfg/bird.yml
RUN  ?= runs/bird
PIPE := bird.mk
IMPORT_FLAGS :=
DATA_LAYOUT  := CUB_200_2011/images.txt CUB_200_2011/bounding_boxes.txt
EXAMPLE_NAME := bird
include $(dir $(lastword $(MAKEFILE_LIST)))real.mk
