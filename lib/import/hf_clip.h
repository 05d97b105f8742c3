/* hf_clip.h: Hugging Face CLIPModel weights (transformers' modeling_clip.py names, as in the
 * hub's model.safetensors / pytorch_model.bin) renamed to OpenAI CLIP's state_dict (clip.h), so
 * that `ckpt import` turns a downloaded HF CLIP into the .npz clip-embed reads.
 *
 *   vision_model.embeddings.patch_embedding.weight      visual.conv1.weight
 *   vision_model.embeddings.class_embedding             visual.class_embedding
 *   vision_model.embeddings.position_embedding.weight   visual.positional_embedding
 *   vision_model.pre_layrnorm.{weight,bias}             visual.ln_pre.*          (HF's spelling)
 *   vision_model.post_layernorm.{weight,bias}           visual.ln_post.*
 *   vision_model.encoder.layers.N.BLOCK                 visual.transformer.resblocks.N.BLOCK'
 *   visual_projection.weight (E,W)                      visual.proj = its transpose (W,E)
 *   text_model.embeddings.token_embedding.weight        token_embedding.weight
 *   text_model.embeddings.position_embedding.weight     positional_embedding
 *   text_model.encoder.layers.N.BLOCK                   transformer.resblocks.N.BLOCK'
 *   text_model.final_layer_norm.{weight,bias}           ln_final.*
 *   text_projection.weight (E,W)                        text_projection = its transpose (W,E)
 *   logit_scale                                         logit_scale
 *   {vision,text}_model.embeddings.position_ids         dropped (a buffer, not a weight)
 * with BLOCK -> BLOCK':
 *   self_attn.{q,k,v}_proj.{weight,bias}   attn.in_proj_{weight,bias}: q, k, v concatenated on dim 0
 *   self_attn.out_proj.*   attn.out_proj.*      layer_norm1.*  ln_1.*      layer_norm2.*  ln_2.*
 *   mlp.fc1.*              mlp.c_fc.*           mlp.fc2.*      mlp.c_proj.*
 * Floating tensors come out float32 (float16, bfloat16, float64 converted). Any other key, an
 * integer tensor, a q/k/v part without its two siblings or of another shape, or a projection that
 * is not 2-D is an error naming the key. Partial models (CLIPVisionModelWithProjection,
 * CLIPTextModelWithProjection) map to the keys they have. */
#ifndef DFGAN_HF_CLIP_H
#define DFGAN_HF_CLIP_H

#include "import/ckpt_import.h"
#include "io/npz.h"

/* Nonzero when f's keys are HF CLIP's (some key starts with vision_model.embeddings.,
 * vision_model.encoder.layers., text_model.embeddings. or text_model.encoder.layers.). */
int hf_clip_detect(const cki_file *f);

typedef struct {
    int n;
    npz_item *items;       /* OpenAI keys (malloc'd) and float32 arrays */
    int *owned;            /* items[i].arr.data malloc'd (else it points into the cki_file) */
} hf_clip_out;

/* Map every tensor of f (listed, flattened) to OpenAI's names; f must stay open while out is
 * used. 0 ok, -1 with a one-line "expected ..., found ..." message (out left empty). */
int hf_clip_convert(const cki_file *f, hf_clip_out *out, char *err, size_t errlen);
void hf_clip_out_free(hf_clip_out *out);

#endif
