#!/usr/bin/env python3
"""dfgan_step_torch.py: the PyTorch side of `make bench` and `make test-gpu`: one full DF-GAN
training step exactly as tobran/DF-GAN's train loop runs it (D step with MA-GP by double backward,
then the G step through the updated D), float32, eager, on the CPU with the given thread count or
on the GPU (--device cuda: TF32 off, as our kernels; each step timed to its end with a
synchronise). --clip LAMBDA adds the CLIP loss to G's (a random ViT-B/32 image tower,
bench/clip_vit_torch.py, frozen, against random text features), as clip-embed loss does in the
pipelines. Prints "key value" lines.

    dfgan_step_torch.py [--imsize 64] [--nf 16] [--batch 16] [--cond 256] [--z 100] [--steps 5]
                        [--threads 2] [--device cpu|cuda] [--clip LAMBDA]
                        [--clip-tower WIDTH,LAYERS,HEADS,PATCH,SIZE (default 768,12,12,32,224)]
"""
import argparse
import os
import resource
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'reference'))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import dfgan_ref as ref  # noqa: E402  (DF-GAN's modules)


def main():
    ap = argparse.ArgumentParser()
    for k, v in [('imsize', 64), ('nf', 16), ('batch', 16), ('cond', 256), ('z', 100), ('steps', 5), ('threads', 2)]:
        ap.add_argument('--' + k, type=int, default=v)
    ap.add_argument('--device', default='cpu', choices=['cpu', 'cuda'])
    ap.add_argument('--clip', type=float, default=0.0, metavar='LAMBDA')
    ap.add_argument('--clip-tower', default='768,12,12,32,224', metavar='WIDTH,LAYERS,HEADS,PATCH,SIZE')
    a = ap.parse_args()
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    cuda = a.device == 'cuda'
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    netG = ref.NetG(a.nf, a.z, a.cond, a.imsize, 3).to(dev)
    netD = ref.NetD(a.nf, a.imsize, 3).to(dev)
    netC = ref.NetC(a.nf, a.cond).to(dev)
    tower = None
    if a.clip > 0:
        from clip_vit_torch import VisionTower, clip_loss
        tower = VisionTower(*map(int, a.clip_tower.split(','))).to(dev).eval()
        for p in tower.parameters():
            p.requires_grad_(False)
    optG = torch.optim.Adam(netG.parameters(), lr=1e-4, betas=(0.0, 0.9))
    optD = torch.optim.Adam(list(netD.parameters()) + list(netC.parameters()), lr=4e-4, betas=(0.0, 0.9))
    imgs = torch.rand(a.batch, 3, a.imsize, a.imsize, device=dev) * 2 - 1
    times = []
    for step in range(a.steps + 1):
        sent = torch.randn(a.batch, a.cond, device=dev)
        noise = torch.randn(a.batch, a.z, device=dev)
        text = torch.randn(a.batch, 512, device=dev) if tower is not None else None
        if cuda:
            torch.cuda.synchronize()
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
        if tower is not None:
            errG = errG + clip_loss(tower, fake, text, a.clip)
        optG.zero_grad()
        errG.backward()
        optG.step()
        if cuda:
            torch.cuda.synchronize()
        if step > 0:
            times.append(time.perf_counter() - t0)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print('step_s %.4f' % min(times))
    print('step_mean_s %.4f' % (sum(times) / len(times)))
    print('peak_rss_mb %.1f' % (rss / 1024.0))
    print('peak_rss_over_import_mb %.1f' % ((rss - rss0) / 1024.0))
    if cuda:
        print('peak_gpu_mb %.1f' % (torch.cuda.max_memory_allocated() / 2 ** 20))
    print('torch %s threads %d device %s' % (torch.__version__, torch.get_num_threads(), a.device))


if __name__ == '__main__':
    main()
