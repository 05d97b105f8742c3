#!/usr/bin/env python3
"""inception_ref.py: golden features for test/inception.bats (inception-stats).

Random Inception-v3 weights cannot be committed (~90 MB), so they are made from a seed with
numpy's legacy generator (make_weights, numpy only: the test regenerates them identically), and
only the expected features are committed. Writes test/fixtures/inception/expected.npz:
  fid     (3,2048) float64  pytorch-fid 0.3.0's InceptionV3([3]) (FIDInceptionA/C/E_1/E_2 blocks,
                            resize_input, normalize_input) in float64, on [0,1] = (x + 1)/2
  dfgan   (3,2048) float64  DF-GAN's evaluation in float64: code/lib/modules.py calculate_fid's
                            norm = Compose([Normalize((-1,-1,-1), (2,2,2)), Resize((299, 299))])
                            then code/models/inception.py's InceptionV3 (torchvision blocks,
                            F.upsample(align_corners=True), per-channel transform_input)
  seed    ()  int64         the seed of make_weights and make_inputs
The images (make_inputs) are two arrays: (2,3,64,80) and (1,3,320,301), uniform in [-1,1].

Needs torch, torchvision (python3-torchvision) and pytorch-fid (pip install pytorch-fid --no-deps);
the tests import make_weights/make_inputs from here and need only numpy.
    python3 test/reference/inception_ref.py
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "fixtures", "inception")
SEED = 5


def layers():
    """(name, C, OC, KH, KW) of torchvision's Inception3 BasicConv2d modules up to Mixed_7c"""
    L = [("Conv2d_1a_3x3", 3, 32, 3, 3), ("Conv2d_2a_3x3", 32, 32, 3, 3), ("Conv2d_2b_3x3", 32, 64, 3, 3),
         ("Conv2d_3b_1x1", 64, 80, 1, 1), ("Conv2d_4a_3x3", 80, 192, 3, 3)]
    for p, cin, pf in (("Mixed_5b", 192, 32), ("Mixed_5c", 256, 64), ("Mixed_5d", 288, 64)):
        L += [(p + ".branch1x1", cin, 64, 1, 1), (p + ".branch5x5_1", cin, 48, 1, 1), (p + ".branch5x5_2", 48, 64, 5, 5),
              (p + ".branch3x3dbl_1", cin, 64, 1, 1), (p + ".branch3x3dbl_2", 64, 96, 3, 3),
              (p + ".branch3x3dbl_3", 96, 96, 3, 3), (p + ".branch_pool", cin, pf, 1, 1)]
    L += [("Mixed_6a.branch3x3", 288, 384, 3, 3), ("Mixed_6a.branch3x3dbl_1", 288, 64, 1, 1),
          ("Mixed_6a.branch3x3dbl_2", 64, 96, 3, 3), ("Mixed_6a.branch3x3dbl_3", 96, 96, 3, 3)]
    for p, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
        L += [(p + ".branch1x1", 768, 192, 1, 1), (p + ".branch7x7_1", 768, c7, 1, 1), (p + ".branch7x7_2", c7, c7, 1, 7),
              (p + ".branch7x7_3", c7, 192, 7, 1), (p + ".branch7x7dbl_1", 768, c7, 1, 1),
              (p + ".branch7x7dbl_2", c7, c7, 7, 1), (p + ".branch7x7dbl_3", c7, c7, 1, 7),
              (p + ".branch7x7dbl_4", c7, c7, 7, 1), (p + ".branch7x7dbl_5", c7, 192, 1, 7),
              (p + ".branch_pool", 768, 192, 1, 1)]
    L += [("Mixed_7a.branch3x3_1", 768, 192, 1, 1), ("Mixed_7a.branch3x3_2", 192, 320, 3, 3),
          ("Mixed_7a.branch7x7x3_1", 768, 192, 1, 1), ("Mixed_7a.branch7x7x3_2", 192, 192, 1, 7),
          ("Mixed_7a.branch7x7x3_3", 192, 192, 7, 1), ("Mixed_7a.branch7x7x3_4", 192, 192, 3, 3)]
    for p, cin in (("Mixed_7b", 1280), ("Mixed_7c", 2048)):
        L += [(p + ".branch1x1", cin, 320, 1, 1), (p + ".branch3x3_1", cin, 384, 1, 1),
              (p + ".branch3x3_2a", 384, 384, 1, 3), (p + ".branch3x3_2b", 384, 384, 3, 1),
              (p + ".branch3x3dbl_1", cin, 448, 1, 1), (p + ".branch3x3dbl_2", 448, 384, 3, 3),
              (p + ".branch3x3dbl_3a", 384, 384, 1, 3), (p + ".branch3x3dbl_3b", 384, 384, 3, 1),
              (p + ".branch_pool", cin, 192, 1, 1)]
    return L


def make_weights(seed):
    """float32 state_dict (torchvision keys, no fc/AuxLogits): conv N(0, 2/fan_in); BatchNorm
    weight U(0.5,1.5), bias N(0,0.1²), running_mean N(0,0.1²), running_var U(0.5,1.5)"""
    rng = np.random.RandomState(seed)
    sd = {}
    for name, c, oc, kh, kw in layers():
        f32 = np.float32
        sd[name + ".conv.weight"] = (rng.standard_normal((oc, c, kh, kw)) * np.sqrt(2.0 / (c * kh * kw))).astype(f32)
        sd[name + ".bn.weight"] = rng.uniform(0.5, 1.5, oc).astype(f32)
        sd[name + ".bn.bias"] = (0.1 * rng.standard_normal(oc)).astype(f32)
        sd[name + ".bn.running_mean"] = (0.1 * rng.standard_normal(oc)).astype(f32)
        sd[name + ".bn.running_var"] = rng.uniform(0.5, 1.5, oc).astype(f32)
    return sd


def make_inputs(seed):
    rng = np.random.RandomState(seed + 1)
    return [rng.uniform(-1, 1, s).astype(np.float32) for s in ((2, 3, 64, 80), (1, 3, 320, 301))]


def load_into(net, sd):
    import torch
    msd = net.state_dict()
    mine = {k for k in msd if not k.startswith(("fc.", "AuxLogits.")) and not k.endswith("num_batches_tracked")}
    assert mine == set(sd), (sorted(mine ^ set(sd)))[:5]
    for k, v in sd.items():
        assert tuple(msd[k].shape) == v.shape, (k, msd[k].shape, v.shape)
        msd[k] = torch.from_numpy(v.astype(np.float64))
    net.load_state_dict(msd)
    return net.double().eval()


def fid_model(sd):
    """pytorch-fid's InceptionV3([3]) with its FID blocks, sd instead of the downloaded weights"""
    from pytorch_fid import inception as pfi

    def fid_inception_v3():
        net = pfi._inception_v3(num_classes=1008, aux_logits=False, weights=None)
        net.Mixed_5b = pfi.FIDInceptionA(192, pool_features=32)
        net.Mixed_5c = pfi.FIDInceptionA(256, pool_features=64)
        net.Mixed_5d = pfi.FIDInceptionA(288, pool_features=64)
        net.Mixed_6b = pfi.FIDInceptionC(768, channels_7x7=128)
        net.Mixed_6c = pfi.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6d = pfi.FIDInceptionC(768, channels_7x7=160)
        net.Mixed_6e = pfi.FIDInceptionC(768, channels_7x7=192)
        net.Mixed_7b = pfi.FIDInceptionE_1(1280)
        net.Mixed_7c = pfi.FIDInceptionE_2(2048)
        return load_into(net, sd)

    pfi.fid_inception_v3 = fid_inception_v3
    return pfi.InceptionV3([3]).double().eval()


def dfgan_features(sd, x):
    """DF-GAN's evaluation path (code/lib/modules.py + code/models/inception.py), float64"""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
    import torchvision.transforms as transforms

    inc = load_into(torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=False), sd)
    blocks = nn.Sequential(inc.Conv2d_1a_3x3, inc.Conv2d_2a_3x3, inc.Conv2d_2b_3x3, nn.MaxPool2d(3, 2),
                           inc.Conv2d_3b_1x1, inc.Conv2d_4a_3x3, nn.MaxPool2d(3, 2),
                           inc.Mixed_5b, inc.Mixed_5c, inc.Mixed_5d, inc.Mixed_6a, inc.Mixed_6b, inc.Mixed_6c,
                           inc.Mixed_6d, inc.Mixed_6e, inc.Mixed_7a, inc.Mixed_7b, inc.Mixed_7c,
                           nn.AdaptiveAvgPool2d((1, 1))).double().eval()
    norm = transforms.Compose([transforms.Normalize((-1, -1, -1), (2, 2, 2)), transforms.Resize((299, 299))])
    with torch.no_grad():
        x = norm(torch.from_numpy(x.astype(np.float64)))
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=True)
        x = x.clone()
        x[:, 0] = x[:, 0] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        x[:, 1] = x[:, 1] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        x[:, 2] = x[:, 2] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        return blocks(x)[:, :, 0, 0].numpy()


def main():
    import torch
    torch.set_grad_enabled(False)
    sd = make_weights(SEED)
    xs = make_inputs(SEED)
    fm = fid_model(sd)
    fid = np.concatenate([fm(torch.from_numpy((x.astype(np.float64) + 1) / 2))[0][:, :, 0, 0].numpy() for x in xs])
    dfgan = np.concatenate([dfgan_features(sd, x) for x in xs])
    os.makedirs(OUT, exist_ok=True)
    np.savez(os.path.join(OUT, "expected.npz"), fid=fid, dfgan=dfgan, seed=np.int64(SEED))
    print("inception_ref: fid features mean %.4g std %.4g; dfgan mean %.4g std %.4g; rel diff fid/dfgan %.3g"
          % (fid.mean(), fid.std(), dfgan.mean(), dfgan.std(), np.linalg.norm(fid - dfgan) / np.linalg.norm(fid)))


if __name__ == "__main__":
    main()
