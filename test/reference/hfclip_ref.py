#!/usr/bin/env python3
"""hfclip_ref.py: Hugging Face CLIPModel .safetensors files from an OpenAI-layout CLIP, for
test/ckpt_hfclip.bats (`ckpt import` of HF CLIP weights). Needs numpy only; the test runs it.

    python3 test/reference/hfclip_ref.py WEIGHTS.npz OUTDIR
    (without arguments, as `make goldens` runs it, it writes nothing: there are no committed fixtures)

WEIGHTS.npz is an OpenAI CLIP state_dict (the tiny one of test/fixtures/clip/weights.npz). Writes
to OUTDIR:
    hf_f32.safetensors   the same weights under transformers' CLIPModel names (models/clip/
                         modeling_clip.py, checked against transformers 5.24.0 and the 4.x names
                         of the hub's files: vision_model.embeddings.patch_embedding.weight,
                         ...pre_layrnorm..., encoder.layers.N.self_attn.{q,k,v,out}_proj,
                         layer_norm1/2, mlp.fc1/fc2, post_layernorm, final_layer_norm,
                         visual_projection.weight = proj.T, text_projection.weight =
                         text_projection.T, logit_scale) plus the int64 position_ids buffers that
                         older hub files carry; tensors in sorted key order, as safetensors saves
    hf_f16.safetensors, hf_bf16.safetensors   the same in float16 and bfloat16
    expected_f16.npz, expected_bf16.npz       the OpenAI weights rounded to those types, as float32
    hf_no_k.safetensors  hf_f32 without text_model.encoder.layers.1.self_attn.k_proj.bias
    hf_v_shape.safetensors   hf_f32 with vision layer 0's v_proj.weight (16,32) instead of (32,32)
    hf_odd.safetensors   hf_f32 with one key that is no CLIPModel name
The safetensors files are written by hand: an 8-byte little-endian header length, the JSON header
{name: {dtype, shape, data_offsets}, "__metadata__": {"format": "pt"}} padded with spaces to 8
bytes, then the data, little-endian, C order.
"""
import json
import os
import re
import sys

import numpy as np


def to_hf(sd):
    """OpenAI state_dict -> HF CLIPModel state_dict (numpy arrays)."""
    hf = {}
    blk = {"attn.out_proj.": "self_attn.out_proj.", "ln_1.": "layer_norm1.", "ln_2.": "layer_norm2.",
           "mlp.c_fc.": "mlp.fc1.", "mlp.c_proj.": "mlp.fc2."}
    for k, v in sd.items():
        m = re.match(r"^(visual\.)?transformer\.resblocks\.(\d+)\.(.*)$", k)
        if m:
            tower = "vision_model" if m.group(1) else "text_model"
            pre = "%s.encoder.layers.%s." % (tower, m.group(2))
            rest = m.group(3)
            if rest in ("attn.in_proj_weight", "attn.in_proj_bias"):
                w = rest.split("_")[-1]
                q, kk, vv = np.split(v, 3, axis=0)
                hf[pre + "self_attn.q_proj." + w] = q
                hf[pre + "self_attn.k_proj." + w] = kk
                hf[pre + "self_attn.v_proj." + w] = vv
                continue
            for a, b in blk.items():
                if rest.startswith(a):
                    hf[pre + b + rest[len(a):]] = v
                    break
            else:
                raise KeyError(k)
            continue
        simple = {
            "visual.conv1.weight": "vision_model.embeddings.patch_embedding.weight",
            "visual.class_embedding": "vision_model.embeddings.class_embedding",
            "visual.positional_embedding": "vision_model.embeddings.position_embedding.weight",
            "visual.ln_pre.weight": "vision_model.pre_layrnorm.weight",
            "visual.ln_pre.bias": "vision_model.pre_layrnorm.bias",
            "visual.ln_post.weight": "vision_model.post_layernorm.weight",
            "visual.ln_post.bias": "vision_model.post_layernorm.bias",
            "token_embedding.weight": "text_model.embeddings.token_embedding.weight",
            "positional_embedding": "text_model.embeddings.position_embedding.weight",
            "ln_final.weight": "text_model.final_layer_norm.weight",
            "ln_final.bias": "text_model.final_layer_norm.bias",
            "logit_scale": "logit_scale",
        }
        if k in simple:
            hf[simple[k]] = v
        elif k == "visual.proj":
            hf["visual_projection.weight"] = np.ascontiguousarray(v.T)
        elif k == "text_projection":
            hf["text_projection.weight"] = np.ascontiguousarray(v.T)
        else:
            raise KeyError(k)
    hf["vision_model.embeddings.position_ids"] = np.arange(sd["visual.positional_embedding"].shape[0], dtype=np.int64)[None]
    hf["text_model.embeddings.position_ids"] = np.arange(sd["positional_embedding"].shape[0], dtype=np.int64)[None]
    return hf


def bf16_bits(a):
    """float32 -> bfloat16 bits, round to nearest even (as torch's .bfloat16())."""
    b = np.ascontiguousarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    b = (b + 0x7FFF + ((b >> 16) & 1)) >> 16
    return b.astype(np.uint16)


def bf16_value(bits):
    return (bits.astype(np.uint32) << 16).view(np.float32)


def write_safetensors(path, tensors):
    """tensors: {name: (dtype string, shape, raw bytes)}."""
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        dt, shape, raw = tensors[name]
        header[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(np.uint64(len(h)).astype("<u8").tobytes())
        f.write(h)
        for b in blobs:
            f.write(b)


def encode(hf, kind):
    out = {}
    for k, v in hf.items():
        if v.dtype == np.int64:
            out[k] = ("I64", v.shape, v.astype("<i8").tobytes())
        elif kind == "f32":
            out[k] = ("F32", v.shape, v.astype("<f4").tobytes())
        elif kind == "f16":
            out[k] = ("F16", v.shape, v.astype("<f2").tobytes())
        else:
            out[k] = ("BF16", v.shape, bf16_bits(v).astype("<u2").tobytes())
    return out


def main():
    if len(sys.argv) == 1:      # `make goldens`: nothing is committed, the test writes its own files
        print("hfclip_ref.py: no fixtures to write (test/ckpt_hfclip.bats runs it with WEIGHTS.npz OUTDIR)")
        return
    if len(sys.argv) != 3:
        sys.exit("usage: hfclip_ref.py WEIGHTS.npz OUTDIR")
    z = np.load(sys.argv[1])
    out = sys.argv[2]
    os.makedirs(out, exist_ok=True)
    sd = {k: z[k].astype(np.float32) for k in z.files}
    hf = to_hf(sd)
    assert sum(v.size for k, v in hf.items() if "position_ids" not in k) == sum(v.size for v in sd.values())
    for kind in ("f32", "f16", "bf16"):
        write_safetensors(os.path.join(out, "hf_%s.safetensors" % kind), encode(hf, kind))
    np.savez(os.path.join(out, "expected_f16.npz"), **{k: v.astype(np.float16).astype(np.float32) for k, v in sd.items()})
    np.savez(os.path.join(out, "expected_bf16.npz"), **{k: bf16_value(bf16_bits(v)).reshape(v.shape) for k, v in sd.items()})
    t = encode(hf, "f32")
    del t["text_model.encoder.layers.1.self_attn.k_proj.bias"]
    write_safetensors(os.path.join(out, "hf_no_k.safetensors"), t)
    t = encode(hf, "f32")
    t["vision_model.encoder.layers.0.self_attn.v_proj.weight"] = ("F32", (16, 32), np.zeros((16, 32), "<f4").tobytes())
    write_safetensors(os.path.join(out, "hf_v_shape.safetensors"), t)
    t = encode(hf, "f32")
    t["vision_model.encoder.layers.0.self_attn.rotary.weight"] = ("F32", (2,), np.zeros(2, "<f4").tobytes())
    write_safetensors(os.path.join(out, "hf_odd.safetensors"), t)


if __name__ == "__main__":
    main()
