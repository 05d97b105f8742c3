#!/usr/bin/env python3
"""PyTorch float64 reference for bin/encode-text (DF-GAN's DAMSM text encoder); writes the
golden fixtures in test/fixtures/damsm/. Needs torch + numpy; run from anywhere (`make goldens`
runs it from test/reference).

The module is DF-GAN's RNN_ENCODER (tobran/DF-GAN code/models/DAMSM.py), written again here:
nn.Embedding(V, 300) -> nn.Dropout(0.5) -> pack_padded_sequence -> nn.LSTM(300, 128,
batch_first=True, bidirectional=True) -> pad_packed_sequence; words = output.transpose(1, 2),
sent = hidden[0].transpose(0, 1).contiguous().view(-1, 256); in eval mode (dropout inactive),
float64. The captions go through DF-GAN's own path (code/lib/datasets.py prepare_data:
sort_sents by length, descending -> encode_tokens -> rm_sort back to the input order).
DF-GAN pads the word embeddings to the longest caption of the batch; the tool pads to the ids'
width L, so the reference is padded on with zeros to L.

Weights: random, at full size (vocab 500, ninput 300, 128 hidden per direction), drawn as
RNN_ENCODER draws them (encoder.weight U(-0.1, 0.1), LSTM U(-1/sqrt(128), 1/sqrt(128))) but
rounded to multiples of 2^-12, so that the float32 file is exact and, compressed, small enough
to commit (random float32 mantissas do not compress: 2.4 MB; on the grid, ~1 MB). The float64
run starts from exactly these values.

Fixture layout (test/fixtures/damsm/):
  weights.npz   RNN_ENCODER's state_dict, float32, keys exactly PyTorch's (compressed)
  ids.npy       a stream of int32 id arrays (0 = padding after the words):
                  0: (7,18) lengths 18,1,5,12,18,3,9 (full rows, a one-word row, ties)
                  1: (5,18) lengths 2,7,1,4,7 (none full: padding past the batch's longest)
                  2: (4,10) lengths 10,6,1,3 (another width)
  expected.npz  sent.<i> (B,256) and words.<i> (B,256,L), float64, for each array i
                (compressed)
Checks made here on every run: sent equals the words at each caption's ends (forward half at
len-1, backward half at 0); each caption encoded alone gives what it gives in its batch; the
same run in float32 PyTorch is within 1e-6 (rel L2) of the float64 one (printed).
"""
import io
import os
import sys
import warnings
import zipfile

import numpy as np
import torch
import torch.nn as nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', 'fixtures', 'damsm')
sys.path.insert(0, HERE)
from compare import rel_err  # noqa: E402

VOCAB, NINPUT, NHIDDEN = 500, 300, 256          # NHIDDEN: both directions, as RNN_ENCODER's
SEED = 20240611
BATCHES = [(18, [18, 1, 5, 12, 18, 3, 9]), (18, [2, 7, 1, 4, 7]), (10, [10, 6, 1, 3])]
GRID = 2.0 ** -12


class RNN_ENCODER(nn.Module):
    """DF-GAN's DAMSM text encoder (LSTM, one layer, bidirectional)."""

    def __init__(self, ntoken, ninput=300, drop_prob=0.5, nhidden=128, nlayers=1, bidirectional=True):
        super().__init__()
        self.n_steps = 18
        self.ntoken, self.ninput, self.drop_prob = ntoken, ninput, drop_prob
        self.nlayers, self.bidirectional = nlayers, bidirectional
        self.num_directions = 2 if bidirectional else 1
        self.nhidden = nhidden // self.num_directions
        self.encoder = nn.Embedding(self.ntoken, self.ninput)
        self.drop = nn.Dropout(self.drop_prob)
        # dropout between layers: none with one layer (PyTorch warns about it, as it does for DF-GAN)
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', UserWarning)
            self.rnn = nn.LSTM(self.ninput, self.nhidden, self.nlayers, batch_first=True,
                               dropout=self.drop_prob, bidirectional=self.bidirectional)

    def init_hidden(self, bsz):
        weight = next(self.parameters()).data
        shape = (self.nlayers * self.num_directions, bsz, self.nhidden)
        return weight.new_zeros(shape), weight.new_zeros(shape)

    def forward(self, captions, cap_lens, hidden):
        emb = self.drop(self.encoder(captions))
        emb = pack_padded_sequence(emb, cap_lens.data.tolist(), batch_first=True)
        output, hidden = self.rnn(emb, hidden)
        output = pad_packed_sequence(output, batch_first=True)[0]
        words_emb = output.transpose(1, 2)
        sent_emb = hidden[0].transpose(0, 1).contiguous().view(-1, self.nhidden * self.num_directions)
        return words_emb, sent_emb


def prepare(encoder, captions, caption_lens):
    """DF-GAN's prepare_data without the images: sort_sents, encode_tokens, rm_sort."""
    sorted_lens, idx = torch.sort(caption_lens, 0, True)
    caps = captions[idx]
    with torch.no_grad():
        words, sent = encoder(caps, sorted_lens, encoder.init_hidden(caps.size(0)))

    def rm_sort(x):
        y = torch.empty_like(x)
        for i, s in enumerate(idx):
            y[s] = x[i]
        return y
    return rm_sort(sent), rm_sort(words)


def make_weights(rng):
    h = NHIDDEN // 2
    b = 1.0 / np.sqrt(h)

    def uni(shape, bound):
        return np.round(rng.uniform(-bound, bound, size=shape) / GRID) * GRID
    w = {'encoder.weight': uni((VOCAB, NINPUT), 0.1)}
    for s in ('', '_reverse'):
        w['rnn.weight_ih_l0' + s] = uni((4 * h, NINPUT), b)
        w['rnn.weight_hh_l0' + s] = uni((4 * h, h), b)
        w['rnn.bias_ih_l0' + s] = uni((4 * h,), b)
        w['rnn.bias_hh_l0' + s] = uni((4 * h,), b)
    w = {k: v.astype(np.float32) for k, v in w.items()}
    assert all(np.array_equal(v.astype(np.float64) / GRID, np.round(v.astype(np.float64) / GRID)) for v in w.values())
    return w


def make_ids(rng, width, lens):
    ids = np.zeros((len(lens), width), dtype=np.int32)
    for r, n in enumerate(lens):
        ids[r, :n] = rng.integers(1, VOCAB, size=n)
    return ids


def encoder_from(weights, dtype):
    enc = RNN_ENCODER(VOCAB, NINPUT, nhidden=NHIDDEN).to(dtype)
    sd = enc.state_dict()
    assert list(sd.keys()) == list(weights.keys()), (list(sd.keys()), list(weights.keys()))
    enc.load_state_dict({k: torch.from_numpy(v.astype(np.float64)).to(dtype) for k, v in weights.items()})
    return enc.eval()


def run(enc, ids, dtype):
    caps = torch.from_numpy(ids.astype(np.int64))
    lens = torch.from_numpy((ids != 0).sum(1).astype(np.int64))
    sent, words = prepare(enc, caps, lens)
    pad = ids.shape[1] - words.shape[2]
    words = torch.nn.functional.pad(words, (0, pad))
    return sent.to(torch.float64).numpy(), words.to(torch.float64).numpy()


def save_npz(path, arrays, compress):
    """np.savez(_compressed) with fixed timestamps, so that reruns give identical bytes."""
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(path + '.tmp', 'w', mode) as z:
        for k, v in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(v), allow_pickle=False)
            info = zipfile.ZipInfo(k + '.npy', date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = mode
            info.external_attr = 0o644 << 16
            z.writestr(info, buf.getvalue())
    os.replace(path + '.tmp', path)


def main():
    rng = np.random.default_rng(SEED)
    weights = make_weights(rng)
    batches = [make_ids(rng, width, lens) for width, lens in BATCHES]
    batches[0][0, 0], batches[0][4, 17] = VOCAB - 1, 1        # the first and the last word id
    enc64, enc32 = encoder_from(weights, torch.float64), encoder_from(weights, torch.float32)

    expected = {}
    worst32 = 0.0
    for i, ids in enumerate(batches):
        sent, words = run(enc64, ids, torch.float64)
        lens = (ids != 0).sum(1)
        h = NHIDDEN // 2
        for r, n in enumerate(lens):
            assert np.array_equal(sent[r, :h], words[r, :h, n - 1]) and np.array_equal(sent[r, h:], words[r, h:, 0])
            assert not words[r, :, n:].any()
            s1, w1 = run(enc64, ids[r:r + 1], torch.float64)
            assert rel_err(s1[0], sent[r]) < 1e-14 and rel_err(w1[0], words[r]) < 1e-14, r
        s32, w32 = run(enc32, ids, torch.float32)
        e = max(rel_err(s32, sent), rel_err(w32, words))
        assert e < 1e-6, e
        worst32 = max(worst32, e)
        expected['sent.%d' % i] = sent
        expected['words.%d' % i] = words
        print('array %d: ids %s, lengths %s, |sent| %.3f' % (i, ids.shape, lens.tolist(), np.linalg.norm(sent)))
    print('float32 PyTorch vs float64: worst rel L2 %.2e' % worst32)

    os.makedirs(OUT, exist_ok=True)
    save_npz(os.path.join(OUT, 'weights.npz'), weights, True)
    with open(os.path.join(OUT, 'ids.npy.tmp'), 'wb') as f:
        for ids in batches:
            np.save(f, ids)
    os.replace(os.path.join(OUT, 'ids.npy.tmp'), os.path.join(OUT, 'ids.npy'))
    save_npz(os.path.join(OUT, 'expected.npz'), expected, True)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print('wrote %s (%d bytes)' % (OUT, total))


if __name__ == '__main__':
    main()
