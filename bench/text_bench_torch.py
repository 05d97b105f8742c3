#!/usr/bin/env python3
"""text_bench_torch.py: the PyTorch side of bench/text_bench.sh: DF-GAN's caption path for N captions:
tokenisation as DF-GAN's (lowercase, RegexpTokenizer(r'\\w+') on ASCII, vocabulary lookup, first 18
words), then the DAMSM RNN_ENCODER (test/reference/damsm_ref.py) over batches, float32, eval mode.
    text_bench_torch.py CAPTIONS.txt VOCAB.txt WEIGHTS.npz BATCH THREADS
Prints "seconds S" (tokenise + encode, weights already loaded) and "captions_per_s R"."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'test', 'reference'))
import numpy as np  # noqa: E402
import torch  # noqa: E402
import damsm_ref as ref  # noqa: E402


def main():
    caps_path, vocab_path, weights, batch, threads = sys.argv[1:6]
    batch, threads = int(batch), int(threads)
    torch.set_default_dtype(torch.float32)
    torch.set_num_threads(threads)
    words = [w.rstrip('\n') for w in open(vocab_path, encoding='utf-8')]
    wordtoix = {w: i for i, w in enumerate(words)}
    w = np.load(weights)
    enc = ref.RNN_ENCODER(w['encoder.weight'].shape[0], nhidden=256).float().eval()   # DF-GAN: EMBEDDING_DIM 256
    enc.load_state_dict({k: torch.from_numpy(w[k]) for k in w.files})
    lines = open(caps_path, encoding='utf-8').read().splitlines()
    t0 = time.perf_counter()
    for s in range(0, len(lines) - batch + 1, batch):
        ids = np.zeros((batch, 18), np.int64)
        lens = np.zeros(batch, np.int64)
        for i, line in enumerate(lines[s:s + batch]):
            toks = re.findall(r'\w+', line.encode('ascii', 'ignore').decode('ascii').lower())
            t = [wordtoix[x] for x in toks if x in wordtoix][:18]
            ids[i, :len(t)] = t
            lens[i] = max(len(t), 1)
        ref.prepare(enc, torch.from_numpy(ids), torch.from_numpy(lens))
    dt = time.perf_counter() - t0
    n = (len(lines) // batch) * batch
    print('seconds %.3f' % dt)
    print('captions_per_s %.0f' % (n / dt))


if __name__ == '__main__':
    main()
