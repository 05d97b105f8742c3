#!/usr/bin/env python3
"""dfgan_step_torch.py: the PyTorch side of `make bench`: one full DF-GAN training step exactly as
tobran/DF-GAN's train loop runs it (D step with MA-GP by double backward, then the G step through
the updated D), float32 on the CPU with the given thread count. Prints "key value" lines.

    dfgan_step_torch.py [--imsize 64] [--nf 16] [--batch 16] [--cond 256] [--z 100] [--steps 5] [--threads 2]
"""
import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'reference'))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import dfgan_ref as ref  # noqa: E402  (DF-GAN's modules)


def main():
    ap = argparse.ArgumentParser()
    for k, v in [('imsize', 64), ('nf', 16), ('batch', 16), ('cond', 256), ('z', 100), ('steps', 5), ('threads', 2)]:
        ap.add_argument('--' + k, type=int, default=v)
    a = ap.parse_args()
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    netG = ref.NetG(a.nf, a.z, a.cond, a.imsize, 3)
    netD = ref.NetD(a.nf, a.imsize, 3)
    netC = ref.NetC(a.nf, a.cond)
    optG = torch.optim.Adam(netG.parameters(), lr=1e-4, betas=(0.0, 0.9))
    optD = torch.optim.Adam(list(netD.parameters()) + list(netC.parameters()), lr=4e-4, betas=(0.0, 0.9))
    imgs = torch.rand(a.batch, 3, a.imsize, a.imsize) * 2 - 1
    times = []
    for step in range(a.steps + 1):
        sent = torch.randn(a.batch, a.cond)
        noise = torch.randn(a.batch, a.z)
        t0 = time.perf_counter()
        real = imgs.clone().requires_grad_()
        sent.requires_grad_()
        real_features = netD(real)
        pred_real = netC(real_features, sent)
        errD_real = F.relu(1.0 - pred_real).mean()
        mis_features = torch.cat((real_features[1:], real_features[0:1]), dim=0)
        errD_mis = F.relu(1.0 + netC(mis_features, sent)).mean()
        fake = netG(noise, sent)
        errD_fake = F.relu(1.0 + netC(netD(fake.detach()), sent)).mean()
        errD_MAGP = ref.MA_GP(real, sent, pred_real)
        errD = errD_real + (errD_fake + errD_mis) / 2.0 + errD_MAGP
        optD.zero_grad()
        errD.backward()
        optD.step()
        errG = -netC(netD(fake), sent).mean()
        optG.zero_grad()
        errG.backward()
        optG.step()
        if step > 0:
            times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print('step_s %.4f' % min(times))
    print('step_mean_s %.4f' % (sum(times) / len(times)))
    print('peak_rss_mb %.1f' % (rss / 1024.0))
    print('peak_rss_over_import_mb %.1f' % ((rss - rss0) / 1024.0))
    print('torch %s threads %d' % (torch.__version__, torch.get_num_threads()))


if __name__ == '__main__':
    main()
