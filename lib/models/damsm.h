/* damsm.h: DF-GAN's (AttnGAN's) DAMSM text encoder, RNN_ENCODER in eval mode, on the CPU or the GPU:
 *
 *   ids (B,L) -> embedding (vocab, E=300) -> [dropout: inactive in eval] -> one-layer
 *   bidirectional LSTM (H=128 per direction; PyTorch's gate order i, f, g, o; b_ih and b_hh)
 *   over each caption's true length, with pack_padded_sequence semantics
 *   -> sentence (B,2H) = [forward final h, backward final h]   (hidden[0].transpose(0,1).view(-1,2H))
 *   -> words (B,2H,L) = the padded packed output, zeros past each length  (output.transpose(1,2))
 *
 * A caption's length is its number of non-zero ids; they come first and 0 (padding, DF-GAN's
 * `<end>`) fills the rest of the row. The forward direction reads tokens 0..len-1, the backward
 * direction starts at token len-1, as PyTorch's packed sequences give them.
 *
 * Parameters live in a param_set under RNN_ENCODER's state_dict keys, in its order:
 *   encoder.weight (V,E)   rnn.weight_ih_l0 (4H,E)   rnn.weight_hh_l0 (4H,H)
 *   rnn.bias_ih_l0 (4H)    rnn.bias_hh_l0 (4H)       and the same with the suffix _reverse.
 *
 * Speed: the input projection of a word (emb·W_ihᵀ + b_ih + b_hh, both directions) depends only on
 * its id, so it is computed once per distinct id (one sgemm for the ids a batch brings that were
 * not seen before) and cached for the rest of the stream. The recurrence is the op lstm_forward
 * (lib/core/op_list.h, lib/cpu/lstm.c) over that cache: captions sorted by length, work units
 * of (up to 128 captions, direction) spread over the OpenMP threads, one sgemm (n_s,H)·(H,4H)
 * per step. Results do not depend on the number of threads (bit for bit); across different
 * batchings of the same captions they agree to float32 rounding (~1e-7).
 *
 * Device: after damsm_to_device(m, DEVICE_CUDA) the recurrence runs on the GPU (lstm_forward's CUDA
 * twin): W_hh is uploaded once, the projection cache has a GPU copy to which the rows a batch adds
 * are uploaded (one copy per batch), and the ids, sentence and word embeddings of a batch go
 * through grow-only GPU buffers. The new rows themselves are still computed on the CPU (a gather
 * and an sgemm per new id, once per stream). damsm_forward keeps host pointers on either device. */
#ifndef DFGAN_DAMSM_H
#define DFGAN_DAMSM_H

#include <stddef.h>
#include <stdint.h>

#include "core/params.h"

typedef struct {
    param_set ps;              /* on the CPU */
    int vocab, ninput, nhidden;   /* nhidden: per direction (RNN_ENCODER's nhidden / 2) */
    int i_emb, i_wih[2], i_whh[2], i_bih[2], i_bhh[2];
    float *proj;               /* (vocab, 2·4H) cache of input projections, rows filled on demand */
    unsigned char *have;       /* (vocab) 1 where proj's row is filled */
    device_t dev;              /* where the recurrence runs (DEVICE_CPU unless damsm_to_device) */
    float *d_whh[2], *d_proj;  /* on the GPU: W_hh of each direction, proj's copy */
    int32_t *d_ids;            /* grow-only GPU buffers of a batch: ids (B,L), sent, words */
    float *d_sent, *d_words;
    size_t cap_ids, cap_sent, cap_words;
} damsm_encoder;

/* Register the parameters for these sizes (nhidden per direction) and allocate them (zeros). */
void damsm_create(damsm_encoder *m, int vocab, int ninput, int nhidden);
/* Read an .npz of RNN_ENCODER's state_dict: sizes from the shapes of encoder.weight and
 * rnn.weight_hh_l0, every key checked (dies with exit 2 naming the path and the key). */
void damsm_load(damsm_encoder *m, const char *path);
/* RNN_ENCODER's initialisation from Philox (parameter i from stream i under seed):
 * encoder.weight U(-0.1, 0.1) (init_weights), every LSTM weight and bias U(-1/√H, 1/√H) (nn.LSTM). */
void damsm_init(damsm_encoder *m, uint64_t seed);
void damsm_free(damsm_encoder *m);
/* Run on dev from now on (after damsm_load or damsm_init): for DEVICE_CUDA, W_hh and the cache of
 * projections so far are uploaded; DEVICE_CPU does nothing. */
void damsm_to_device(damsm_encoder *m, device_t dev);

/* Check a batch of ids and fill lens (B): 0 ok, else -1 with "expected ..., found ..." in err
 * naming the row (ids outside [0, vocab), a row of padding only, a non-zero id after padding). */
int damsm_lengths(const damsm_encoder *m, const int32_t *ids, int64_t B, int64_t L, int *lens, char *err, size_t errlen);

/* sent (B,2H); words (B,2H,L) or NULL. ids checked by damsm_lengths first. */
void damsm_forward(damsm_encoder *m, float *sent, float *words, const int32_t *ids, const int *lens, int64_t B,
                   int64_t L);

#endif
