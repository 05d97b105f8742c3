/* inception.h: Inception-v3 to its 2048-d pool3 features (the input of the final fully
 * connected layer), float32 on the CPU, for FID statistics.
 *
 * Weights: torchvision's Inception3 state_dict keys (`Conv2d_1a_3x3.conv.weight`,
 * `Conv2d_1a_3x3.bn.weight|bias|running_mean|running_var`, `Mixed_5b.branch1x1.conv.weight`,
 * ...), as torchvision's inception_v3_google-*.pth and pytorch-fid's pt_inception-2015-12-05-*.pth
 * hold them (after bin/ckpt import). `fc.*`, `AuxLogits.*` and `*.num_batches_tracked` are
 * ignored; any other key, a missing key or a wrong shape is an error. BatchNorm (eps 0.001,
 * eval mode) is folded into each convolution at load: w' = w·γ/√(var+eps), b' = β − mean·γ/√(var+eps).
 *
 * Variants (what differs is the input transform and the pooling of some blocks):
 *   INCEPTION_FID   pytorch-fid's InceptionV3 (and TTUR's graph): Mixed_5b..5d FIDInceptionA and
 *                   Mixed_6b..6e FIDInceptionC and Mixed_7b FIDInceptionE_1 average-pool with
 *                   count_include_pad=False; Mixed_7c FIDInceptionE_2 max-pools (3x3, stride 1,
 *                   pad 1) in its pool branch. Input [0,1] images: F.interpolate to 299
 *                   (bilinear, align_corners=False), then 2x − 1.
 *   INCEPTION_DFGAN DF-GAN's evaluation (code/lib/modules.py, calculate_fid and eval, with
 *                   code/models/inception.py): torchvision's blocks (count_include_pad=True
 *                   everywhere, avg pool in Mixed_7c). Its input transform is
 *                     norm = transforms.Compose([transforms.Normalize((-1,-1,-1), (2,2,2)),
 *                                                transforms.Resize((299, 299))])
 *                   i.e. [−1,1] → [0,1] and a bilinear resize to 299 with align_corners=False
 *                   (torchvision's tensor Resize; no antialiasing in the torchvision of its
 *                   time, and none matters when upsampling), then InceptionV3.forward's
 *                   F.upsample(x, size=(299,299), mode='bilinear', align_corners=True), an
 *                   identity on 299x299 input, then per channel x·(std/0.5) + (mean − 0.5)/0.5
 *                   with ImageNet's mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225).
 *                   So the resize that acts is the align_corners=False one.
 * Images enter as the tools hold them: float32 (B,3,H,W) NCHW in [−1,1]; any H, W.
 *
 * Device: on the CPU by default; after inception_to_device(m, DEVICE_CUDA) the weights are on the
 * GPU (uploaded once) and so are the network input and every activation (grow-only buffers of the
 * model, allocated at the first batch of a size and reused after), and every op runs there. The
 * functions below keep host pointers for the images and the features on either device. */
#ifndef DFGAN_INCEPTION_H
#define DFGAN_INCEPTION_H

#include <stddef.h>
#include <stdint.h>

#include "core/tensor.h"
#include "io/npz.h"

#define INCEPTION_DIM 2048
#define INCEPTION_SIZE 299
#define INCEPTION_BN_EPS 1e-3

typedef enum { INCEPTION_FID = 0, INCEPTION_DFGAN = 1 } inception_variant;

typedef struct {
    const char *name;                     /* "Mixed_5b.branch1x1" */
    int C, OC, KH, KW, sh, sw, ph, pw;
    float *w, *b;                          /* folded (OC,C,KH,KW), (OC) */
} inception_conv;

#define INCEPTION_BUFS 10

typedef struct {
    inception_variant variant;
    device_t dev;                          /* where it computes (DEVICE_CPU unless inception_to_device) */
    int nconv;
    inception_conv *conv;                  /* in forward order, weights in host memory */
    inception_conv *dconv;                 /* the same with the weights on the GPU (inception_to_device) */
    float *dbuf;                           /* dconv's weights and biases, in one GPU allocation */
    float *bufs[INCEPTION_BUFS];           /* grow-only scratch on dev: activations, input, image */
    size_t caps[INCEPTION_BUFS];
} inception;

/* The convolutions, their key prefixes and shapes (torchvision's order); n set to the count. */
const inception_conv *inception_layers(int *n);

/* Fold and load the weights from z (as read from path, for messages). 0 ok; -1 with a one-line
 * "PATH: expected ..., found ..." message; ERR_NONFINITE (core/finite.h) for a NaN or Inf in a weight:
 * "PATH: expected finite values, found NaN at (i) in 'Conv2d_1a_3x3.bn.running_var'". */
int inception_load(inception *m, const npz *z, const char *path, inception_variant v, char *err, size_t errlen);
void inception_free(inception *m);

/* Key (int64, 0-d: the seed) that marks weights made by inception_write_random; ignored by
 * inception_load, so that tools can say that their outputs come from random weights. */
#define INCEPTION_RANDOM_KEY "inception_random_init_seed"

/* Random weights under torchvision's keys (conv weights N(0, 2/fan_in), BN γ U(0.5,1.5),
 * β N(0, 0.1²), running_mean N(0, 0.1²), running_var U(0.5,1.5); Philox from seed), written to
 * path as an .npz. 0 ok, -1 with a message. */
int inception_write_random(const char *path, uint64_t seed, char *err, size_t errlen);

/* Compute on dev from now on (call once, after inception_load): for DEVICE_CUDA the weights are
 * uploaded; DEVICE_CPU does nothing. */
void inception_to_device(inception *m, device_t dev);

/* The network input for B images, (3,B,299,299) CNHW on the model's device: a buffer of the model
 * (grow-only; the same one for every call, its contents kept while B does not grow). */
float *inception_input(inception *m, int B);

/* Preprocess one image x (3,H,W) NCHW float in [−1,1] (host memory) into sample b of the network
 * input net_in (3,B,299,299) CNHW (on the model's device), as the variant does. */
void inception_preprocess(inception *m, float *net_in, int b, int B, const float *x, int H, int W);

/* The first n samples of net_in (3,B,299,299) moved to the layout of n samples, (3,n,299,299), in
 * place: a partial last batch, ready for inception_forward(m, feat, net_in, n). */
void inception_pack_input(inception *m, float *net_in, int n, int B);

/* feat (B,2048) row-major (host memory) = pool3 features of the preprocessed input net_in
 * (3,B,299,299) on the model's device (net_in is kept intact). */
void inception_forward(inception *m, float *feat, const float *net_in, int B);

#endif
