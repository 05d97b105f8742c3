#!/usr/bin/env python3
"""damsm_pickle_ref.py: fixtures for `tokenize --vocab captions_DAMSM.pickle` (test/tokenize_pickle.bats).

    python3 test/reference/damsm_pickle_ref.py       (writes test/fixtures/damsm_pickle/; needs numpy only)

DF-GAN's captions_DAMSM.pickle is what its code/lib/datasets.py load_text_data writes and reads:
    train_captions, test_captions, ixtoword, wordtoix, n_words = self.build_dictionary(train_captions, test_captions)
    with open(filepath, 'wb') as f:
        pickle.dump([train_captions, test_captions, ixtoword, wordtoix], f, protocol=2)
    ...
    x = pickle.load(f); train_captions, test_captions = x[0], x[1]; ixtoword, wordtoix = x[2], x[3]
with the captions as lists of lists of int ids. Written here by Python's own pickle, protocol 2 (as
DF-GAN) and protocol 4 (the default of Python 3.8+, FRAME and MEMOIZE opcodes), from the captions of
test/fixtures/tokenize/bird.txt (train) and coco.txt (test): some 600 words, so the ids take
BININT1 and BININT2. A third pickle has the same words under shuffled ids (not DF-GAN's order of
first appearance), so the test sees that the pickle's ids are used, not rebuilt.

The expected ids are DF-GAN's utils.tokenize + get_caption per line (one row per line, as
bin/tokenize), the first 18 words (--first) and a seeded subset (np.random.seed(0), --seed 0), of
the lines of bird.txt, coco.txt and lines.txt (written here: unknown words, accents, long captions).
"""
import os
import pickle
import random
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tokenize_ref import damsm_ids  # noqa: E402  (DF-GAN's tokenize + get_caption, one place)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
TOK = os.path.join(ROOT, "test", "fixtures", "tokenize")
OUT = os.path.join(ROOT, "test", "fixtures", "damsm_pickle")

# nltk's RegexpTokenizer(r'\w+') as DF-GAN's nltk ran it (see tokenize_ref.py)
word_tokenize = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.DOTALL).findall


def load_captions(path):
    """DF-GAN's load_captions for one file, every non-empty line a caption."""
    out = []
    with open(path, "r", encoding="utf-8") as f:
        for cap in f.read().split("\n"):
            if len(cap) == 0:
                continue
            cap = cap.replace("\ufffd\ufffd", " ")
            tokens = word_tokenize(cap.lower())
            if len(tokens) == 0:
                continue
            new = []
            for t in tokens:
                t = t.encode("ascii", "ignore").decode("ascii")
                if len(t) > 0:
                    new.append(t)
            out.append(new)
    return out


def build_dictionary(train_captions, test_captions):
    """What DF-GAN's build_dictionary computes, written here: every word of the train then the test
    captions in order of first appearance gets the next id from 1 (id 0 is '<end>'), and the
    captions become lists of those ids. Returns [train ids, test ids, ixtoword, wordtoix, n]."""
    wordtoix = {'<end>': 0}
    for caption in train_captions + test_captions:
        for word in caption:
            wordtoix.setdefault(word, len(wordtoix))
    ixtoword = {i: w for w, i in wordtoix.items()}

    def ids(captions):
        return [[wordtoix[w] for w in c if w in wordtoix] for c in captions]
    return [ids(train_captions), ids(test_captions), ixtoword, wordtoix, len(ixtoword)]


EXTRA = [
    "A small bird with a RED crown, white belly and black wings.",
    "Naïve café birds: the bird's beak is short; zyzzyva unknownword qwxz.",
    "this bird has a long pointed beak and a short tail and its wings are brown with white "
    "stripes while its belly is yellow and its head is grey with a black eye ring and a crest",
    "",
    "!!! ??? ...",
    "an old diesel locomotive coming upon a track switch next to a large crowd of skiers in the "
    "twilight with two cows grazing on a pasture under the moon",
]


def read_lines(path):
    """One caption per line as bin/tokenize reads them (a last line without its newline counts)."""
    lines = open(path, encoding="utf-8", newline="").read().split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def main():
    os.makedirs(OUT, exist_ok=True)
    train = load_captions(os.path.join(TOK, "bird.txt"))
    test = load_captions(os.path.join(TOK, "coco.txt"))
    tr, te, ixtoword, wordtoix, n = build_dictionary(train, test)
    for proto in (2, 4):
        with open(os.path.join(OUT, "captions_p%d.pickle" % proto), "wb") as f:
            pickle.dump([tr, te, ixtoword, wordtoix], f, protocol=proto)

    # the same words under other ids ('<end>' stays 0), dicts in another order
    rng = random.Random(7)
    words = [w for w in wordtoix if w != "<end>"]
    ids = list(range(1, n))
    rng.shuffle(ids)
    w2 = {"<end>": 0}
    order = list(zip(words, ids))
    rng.shuffle(order)
    for w, i in order:
        w2[w] = i
    i2 = {i: w for w, i in sorted(w2.items(), key=lambda kv: -kv[1])}
    tr2 = [[w2[ixtoword[i]] for i in c] for c in tr]
    te2 = [[w2[ixtoword[i]] for i in c] for c in te]
    with open(os.path.join(OUT, "captions_shuffled.pickle"), "wb") as f:
        pickle.dump([tr2, te2, i2, w2], f, protocol=2)

    with open(os.path.join(OUT, "lines.txt"), "w", encoding="utf-8", newline="") as f:
        f.write("\n".join(EXTRA) + "\n")
    lines = read_lines(os.path.join(TOK, "bird.txt")) + read_lines(os.path.join(TOK, "coco.txt")) + EXTRA
    np.savez_compressed(os.path.join(OUT, "expected.npz"),
                        first=damsm_ids(lines, wordtoix), seed0=damsm_ids(lines, wordtoix, seed=0),
                        shuffled_first=damsm_ids(lines, w2), shuffled_seed0=damsm_ids(lines, w2, seed=0),
                        n_words=np.int64(n))
    print("damsm_pickle_ref.py: %d words, %d lines, %d over 18 words" %
          (n, len(lines), sum(len(c) > 18 for c in load_captions(os.path.join(OUT, "lines.txt")))))


if __name__ == "__main__":
    main()
