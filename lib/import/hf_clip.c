/* hf_clip.c: Hugging Face CLIPModel names to OpenAI CLIP's (see hf_clip.h). */
#include "import/hf_clip.h"

#include "core/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { HF_SAME, HF_TRANSPOSE, HF_QKV, HF_DROP };

static int starts(const char *s, const char *p) { return strncmp(s, p, strlen(p)) == 0; }

int hf_clip_detect(const cki_file *f) {
    static const char *pfx[] = {"vision_model.embeddings.", "vision_model.encoder.layers.", "text_model.embeddings.",
                                "text_model.encoder.layers."};
    for (int i = 0; i < f->n; i++)
        for (size_t k = 0; k < sizeof pfx / sizeof *pfx; k++)
            if (starts(f->t[i].key, pfx[k])) return 1;
    return 0;
}

/* "weight" or "bias" after prefix p of s: the suffix, else NULL. */
static const char *param_after(const char *s, const char *p) {
    if (!starts(s, p)) return NULL;
    s += strlen(p);
    return !strcmp(s, "weight") || !strcmp(s, "bias") ? s : NULL;
}

/* The OpenAI name of HF key k into out; *kind what to do; for HF_QKV *part is 0, 1, 2 (q, k, v).
 * 0 ok, -1 not a CLIPModel key. */
static int map_name(const char *k, char *out, size_t outlen, int *kind, int *part) {
    *kind = HF_SAME;
    *part = -1;
    const char *x;
    if (!strcmp(k, "logit_scale")) { snprintf(out, outlen, "%s", k); return 0; }
    if (!strcmp(k, "visual_projection.weight")) { *kind = HF_TRANSPOSE; snprintf(out, outlen, "visual.proj"); return 0; }
    if (!strcmp(k, "text_projection.weight")) { *kind = HF_TRANSPOSE; snprintf(out, outlen, "text_projection"); return 0; }
    int vision;
    if (starts(k, "vision_model.")) { vision = 1; k += strlen("vision_model."); }
    else if (starts(k, "text_model.")) { vision = 0; k += strlen("text_model."); }
    else return -1;
    const char *P = vision ? "visual." : "";
    if (!strcmp(k, "embeddings.position_ids")) { *kind = HF_DROP; out[0] = 0; return 0; }
    if (!strcmp(k, "embeddings.position_embedding.weight")) { snprintf(out, outlen, "%spositional_embedding", P); return 0; }
    if (vision) {
        if (!strcmp(k, "embeddings.patch_embedding.weight")) { snprintf(out, outlen, "visual.conv1.weight"); return 0; }
        if (!strcmp(k, "embeddings.class_embedding")) { snprintf(out, outlen, "visual.class_embedding"); return 0; }
        if ((x = param_after(k, "pre_layrnorm."))) { snprintf(out, outlen, "visual.ln_pre.%s", x); return 0; }
        if ((x = param_after(k, "post_layernorm."))) { snprintf(out, outlen, "visual.ln_post.%s", x); return 0; }
    } else {
        if (!strcmp(k, "embeddings.token_embedding.weight")) { snprintf(out, outlen, "token_embedding.weight"); return 0; }
        if ((x = param_after(k, "final_layer_norm."))) { snprintf(out, outlen, "ln_final.%s", x); return 0; }
    }
    if (!starts(k, "encoder.layers.")) return -1;
    k += strlen("encoder.layers.");
    size_t nd = strspn(k, "0123456789");
    if (nd == 0 || nd > 6 || (nd > 1 && k[0] == '0') || k[nd] != '.') return -1;
    int N = atoi(k);
    k += nd + 1;
    static const struct { const char *hf, *oa; } blk[] = {
        {"self_attn.out_proj.", "attn.out_proj."}, {"layer_norm1.", "ln_1."}, {"layer_norm2.", "ln_2."},
        {"mlp.fc1.", "mlp.c_fc."}, {"mlp.fc2.", "mlp.c_proj."}};
    for (size_t i = 0; i < sizeof blk / sizeof *blk; i++)
        if ((x = param_after(k, blk[i].hf))) {
            snprintf(out, outlen, "%stransformer.resblocks.%d.%s%s", P, N, blk[i].oa, x);
            return 0;
        }
    static const char *qkv[3] = {"self_attn.q_proj.", "self_attn.k_proj.", "self_attn.v_proj."};
    for (int i = 0; i < 3; i++)
        if ((x = param_after(k, qkv[i]))) {
            *kind = HF_QKV;
            *part = i;
            snprintf(out, outlen, "%stransformer.resblocks.%d.attn.in_proj_%s", P, N, x);
            return 0;
        }
    return -1;
}

void hf_clip_out_free(hf_clip_out *o) {
    for (int i = 0; i < o->n; i++) {
        free(o->items[i].key);
        if (o->owned[i]) free(o->items[i].arr.data);
    }
    free(o->items);
    free(o->owned);
    memset(o, 0, sizeof *o);
}

/* Read tensor i of f as float32 into a (*owned: malloc'd). */
static int read_f32(const cki_file *f, int i, npy_array *a, int *owned, char *err, size_t errlen) {
    int borrowed = 0;
    if (!ck_dtype_is_float(f->t[i].dtype))
        return seterr(err, errlen, "expected a floating-point tensor for '%s' in '%s', found %s", f->t[i].key, f->path,
                      ck_dtype_name(f->t[i].dtype));
    if (cki_tensor_read(&f->t[i], a, &borrowed, err, errlen)) return -1;
    *owned = !borrowed;
    return 0;
}

static int same_shape(const npy_array *a, const npy_array *b) {
    if (a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return 0;
    return 1;
}

int hf_clip_convert(const cki_file *f, hf_clip_out *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    out->items = xcalloc((size_t)f->n + 1, sizeof *out->items);
    out->owned = xcalloc((size_t)f->n + 1, sizeof *out->owned);
    int *qkv = xmalloc(3 * ((size_t)f->n + 1) * sizeof *qkv);   /* per output item: its q, k, v tensors */
    char name[CKI_MAX_KEY + 64];
    static const char qkvname[3] = {'q', 'k', 'v'};
    for (int i = 0; i < f->n; i++) {
        int kind, part;
        if (map_name(f->t[i].key, name, sizeof name, &kind, &part)) {
            seterr(err, errlen, "expected Hugging Face CLIPModel keys in '%s' (vision_model.*, text_model.*, "
                   "visual_projection, text_projection, logit_scale), found '%s'", f->path, f->t[i].key);
            goto fail;
        }
        if (kind == HF_DROP) continue;
        if (kind == HF_QKV) {
            int j;
            for (j = 0; j < out->n; j++)
                if (qkv[3 * j] != -2 && !strcmp(out->items[j].key, name)) break;
            if (j == out->n) {
                out->items[out->n].key = xstrdup(name);
                qkv[3 * j] = qkv[3 * j + 1] = qkv[3 * j + 2] = -1;
                out->n++;
            }
            qkv[3 * j + part] = i;
            continue;
        }
        int j = out->n;
        qkv[3 * j] = -2;                         /* not a join */
        out->items[j].key = xstrdup(name);
        out->n++;
        npy_array *a = &out->items[j].arr;
        if (read_f32(f, i, a, &out->owned[j], err, errlen)) goto fail;
        if (kind == HF_TRANSPOSE) {
            if (a->ndim != 2) {
                char s[64];
                npy_format_shape(s, sizeof s, a->ndim, a->shape);
                seterr(err, errlen, "expected a 2-D (embed, width) matrix for '%s' in '%s', found shape %s", f->t[i].key,
                       f->path, s);
                goto fail;
            }
            int64_t R = a->shape[0], C = a->shape[1];
            float *t = xmalloc((size_t)(R * C > 0 ? R * C : 1) * sizeof *t);
            const unsigned char *s = a->data;     /* possibly unaligned when borrowed from the file */
            for (int64_t r = 0; r < R; r++)
                for (int64_t c = 0; c < C; c++) memcpy(&t[c * R + r], s + (size_t)(r * C + c) * sizeof *t, sizeof *t);
            if (out->owned[j]) free(a->data);
            a->data = t;
            out->owned[j] = 1;
            a->shape[0] = C;
            a->shape[1] = R;
        }
    }
    /* the joins: q, k, v concatenated along dim 0 */
    for (int j = 0; j < out->n; j++) {
        if (qkv[3 * j] == -2) continue;
        int first = -1;
        for (int p = 0; p < 3 && first < 0; p++) first = qkv[3 * j + p];
        for (int p = 0; p < 3; p++)
            if (qkv[3 * j + p] < 0) {
                /* name the missing key after a present sibling: ...self_attn.X_proj.{weight,bias} */
                const char *k = f->t[first].key;
                const char *s = strstr(k, "self_attn.");
                size_t at = (size_t)(s - k) + strlen("self_attn.");
                seterr(err, errlen, "expected '%.*s%c%s' (the %c part of '%s') in '%s', found none", (int)at, k, qkvname[p],
                       k + at + 1, qkvname[p], out->items[j].key, f->path);
                goto fail;
            }
        npy_array part[3];
        int owned[3] = {0, 0, 0};
        memset(part, 0, sizeof part);
        int bad = 0;
        for (int p = 0; p < 3 && !bad; p++) {
            if (read_f32(f, qkv[3 * j + p], &part[p], &owned[p], err, errlen)) { bad = 1; break; }
            if (part[p].ndim < 1 || !same_shape(&part[p], &part[0])) {
                char s0[64], s1[64];
                npy_format_shape(s0, sizeof s0, part[0].ndim, part[0].shape);
                npy_format_shape(s1, sizeof s1, part[p].ndim, part[p].shape);
                seterr(err, errlen, "expected q, k and v parts of one shape (at least 1-D) for '%s' in '%s', found %s for '%s' "
                       "and %s for '%s'", out->items[j].key, f->path, s0, f->t[qkv[3 * j]].key, s1, f->t[qkv[3 * j + p]].key);
                bad = 1;
            }
        }
        if (!bad) {
            npy_array *a = &out->items[j].arr;
            *a = part[0];
            a->shape[0] = 3 * part[0].shape[0];
            a->count = 3 * part[0].count;
            size_t each = (size_t)part[0].count * sizeof(float);
            a->data = xmalloc(3 * each + 1);
            for (int p = 0; p < 3; p++) memcpy((char *)a->data + p * each, part[p].data, each);
            out->owned[j] = 1;
        }
        for (int p = 0; p < 3; p++)
            if (owned[p]) free(part[p].data);
        if (bad) goto fail;
    }
    free(qkv);
    return 0;
fail:
    free(qkv);
    hf_clip_out_free(out);
    return -1;
}
