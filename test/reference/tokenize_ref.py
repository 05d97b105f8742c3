#!/usr/bin/env python3
"""tokenize_ref.py: golden fixtures for bin/tokenize (test/tokenize.bats), from the real thing.

    /usr/bin/python3 test/reference/tokenize_ref.py          (writes test/fixtures/tokenize/)

Needs, for /usr/bin/python3:
    pip install --break-system-packages ftfy regex
    pip install --break-system-packages --no-deps openai-clip
The CLIP reference is OpenAI's own clip/simple_tokenizer.py from the openai-clip package, loaded
as a file (the package's __init__ would import torch); clip.tokenize(..., truncate=True) is its
few lines of padding and truncation, written out below. The DAMSM reference is DF-GAN's code
(code/lib/datasets.py load_captions, build_dictionary, get_caption), with nltk's
RegexpTokenizer(r'\\w+') as the nltk of its time ran it: the stdlib re's findall.

CLIP strings on which ftfy's mojibake repair (fix_encoding) changes the ids go to the
known-differences fixture, with both OpenAI's ids and the ids with fix_encoding=False (which is
what bin/tokenize reproduces); all other strings must match OpenAI's ids exactly.
"""
import gzip
import hashlib
import importlib.util
import os
import random
import re
import shutil
import sys
import types
import unicodedata

import numpy as np
import ftfy

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT = os.path.join(ROOT, "test", "fixtures", "tokenize")
SHARED = os.path.join(ROOT, "..", "shared", "data")
BPE = os.path.join(SHARED, "clip", "bpe_simple_vocab_16e6.txt.gz")
BPE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"


def load_openai_tokenizer_module(name):
    spec = importlib.util.find_spec("clip")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("tokenize_ref.py: expected OpenAI's clip package (pip install --no-deps openai-clip), found none")
    path = os.path.join(list(spec.submodule_search_locations)[0], "simple_tokenizer.py")
    src = open(path, encoding="utf-8").read()
    assert "<|startoftext|>" in src and "merges[1:49152-256-2+1]" in src, path
    s = importlib.util.spec_from_file_location(name, path)
    m = importlib.util.module_from_spec(s)
    s.loader.exec_module(m)
    return m


with open(BPE, "rb") as f:
    assert hashlib.sha256(f.read()).hexdigest() == BPE_SHA256, BPE
st = load_openai_tokenizer_module("openai_simple_tokenizer")
tok = st.SimpleTokenizer(BPE)
# The same tokenizer with ftfy's mojibake repair off: what bin/tokenize implements.
st2 = load_openai_tokenizer_module("openai_simple_tokenizer_noenc")
st2.ftfy = types.SimpleNamespace(fix_text=lambda t: ftfy.fix_text(t, fix_encoding=False))
tok2 = st2.SimpleTokenizer(BPE)


def clip_tokenize(t, texts, context_length=77):
    """clip.tokenize(texts, context_length, truncate=True) without torch."""
    sot, eot = t.encoder["<|startoftext|>"], t.encoder["<|endoftext|>"]
    result = np.zeros((len(texts), context_length), dtype=np.int32)
    for i, text in enumerate(texts):
        tokens = [sot] + t.encode(text) + [eot]
        if len(tokens) > context_length:
            tokens = tokens[:context_length]
            tokens[-1] = eot
        result[i, :len(tokens)] = tokens
    return result


# ---------------------------------------------------------------- strings

rng = random.Random(20240611)

WORDS = ("a bird with red wings and small black beak this is yellow the belly white crown "
         "grey tail feathers long short pointed bill orange brown blue green has an on of "
         "people sitting table food plate pizza man woman riding horse beach train station "
         "street cat dog sleeping couch giraffe standing field tennis player racket skateboard").split()
PUNCT = [".", ",", "!", "?", ";", ":", "...", "--", "\u2014", "\u2013", "(", ")", "[", "]", "{", "}", "\"", "'",
         "`", "/", "\\", "@", "#", "$", "%", "^", "*", "+", "=", "~", "|", "<", ">", "_", "&", "\u00ab", "\u00bb",
         "\u00bf", "\u00a1", "\u2026", "\u2022", "\u00a9", "\u00ae", "\u2122", "\u00b0", "\u00b1", "\u00d7", "\u00f7",
         "\u20ac", "\u00a3", "\u00a5", "!!!", "?!", "''", "'''", "'-'", ":)", ";-)", "<3", "->", "=>", "**", "__"]
DIGITS = ["0", "7", "42", "1999", "3.14", "1,000", "10k", "2nd", "007", "12345678901234567890", "\u0663",
          "\u096b", "\u00bd", "\u00b2", "\u216b", "\u2460", "\uff15", "\U0001d7d8", "4\u20444", "1st", "50%", "$9.99",
          "10:30", "2020-01-01", "+49", "-3", "1e10", "0x1F"]
CONTRACTIONS = ["don't", "it's", "we're", "they've", "I'm", "you'll", "he'd", "IT'S", "DON'T", "We'Re", "can't",
                "won't", "o'clock", "rock'n'roll", "'tis", "'90s", "students'", "don\u2019t", "it\u2019s",
                "\u02bctis", "'s", "'S", "'ll", "'LL", "'d'd", "'m'", "'ve've", "''s", "'\u017f", "it'\u017f",
                "l'amour", "aujourd'hui", "y'all'd've"]
ACCENTED = ["caf\u00e9", "na\u00efve", "fa\u00e7ade", "\u00fcber", "\u00c6r\u00f8sk\u00f8bing", "S\u00e3o Paulo",
            "Z\u00fcrich", "\u0141\u00f3d\u017a", "cr\u00e8me br\u00fbl\u00e9e", "jalape\u00f1o", "Dvo\u0159\u00e1k",
            "\u00c5ngstr\u00f6m", "\u0130stanbul", "stra\u00dfe", "STRASSE", "\u017ftra\u00dfe", "\u00c9COLE",
            "\u0152uvre", "\u0105\u0119\u0107", "\u0110\u00f0", "\u00de\u00fe", "Ng\u01b0\u1eddi Vi\u1ec7t",
            "\u1ea0\u1eb0", "\u01c5", "\u1e9e"]
GREEK = ["\u039f\u03b4\u03c5\u03c3\u03c3\u03ad\u03b1\u03c2", "\u039f\u0394\u039f\u03a3", "\u03a3\u03af\u03c3\u03c5\u03c6\u03bf\u03c2",
         "\u03b1\u03b2\u03b3", "\u03a3\u0391\u03a3 \u03a3\u0391\u03a3", "\u1f48\u0394\u03a5\u03a3\u03a3\u0395\u038e\u03a3",
         "\u03a3", "\u0391\u03a3.", "\u03a3\u03b1", "\u0391\u03a3\u0345", "\u0391\u03a3'\u0391", "\u0391\u03a3\u00ad",
         "\u0391\u03a3\u0301\u0392", "\u0391\u0301\u03a3", "\u1fb3", "\u0390", "\u03d0\u03d1"]
CYRILLIC = ["\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440", "\u0416\u0401\u041b\u0422\u042b\u0419",
            "\u0451\u043b\u043a\u0430", "\u0423\u043a\u0440\u0430\u0457\u043d\u0430", "\u0462", "\u0439",
            "\u0438\u0306", "\u0490\u0491"]
CJK = ["\u9e1f", "\u4e00\u53ea\u7ea2\u8272\u7684\u9e1f", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8",
       "\u30ab\u30bf\u30ab\u30ca", "\uff76\uff80\uff76\uff85", "\ud55c\uad6d\uc5b4 \ubb38\uc7a5", "\u6f22\u5b57\u304b\u306a\u4ea4\u3058\u308a",
       "\u3105\u3106\u3107", "\u3042\u3099", "\u304b\u3099", "\uff8a\uff9f", "\U00020000\U0002a6d6", "\u3007", "\u3000\u9ce5\u3000"]
ARABIC = ["\u0637\u0627\u0626\u0631 \u0623\u062d\u0645\u0631", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645",
          "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u0639\u064e\u0631\u064e\u0628\u0650\u064a\u0651",
          "\u0661\u0662\u0663", "\u05e9\u05dc\u05d5\u05dd \u05e2\u05d5\u05dc\u05dd", "\ufdfa", "\u0644\u0627"]
INDIC = ["\u0939\u093f\u0928\u094d\u0926\u0940", "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e",
         "\u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f", "\u0e20\u0e32\u0e29\u0e32\u0e44\u0e17\u0e22",
         "\u0ba4\u0bae\u0bbf\u0bb4\u0bcd", "\u09ac\u09be\u0982\u09b2\u09be", "\u0b13", "\u0b47\u0b3e", "\u0915\u093c"]
OTHER_SCRIPTS = ["\u130d\u12d5\u12dd", "\u13e3\u13b3\u13a9", "\U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522",
                 "\U0001d401\U0001d428\U0001d425\U0001d41d", "\u210c", "\u210f", "\u2126", "\u212a", "\u212b", "\u10d0\u10d1",
                 "\u0531\u0532", "\u1780\u17d2", "\ua000", "\U00010400\U00010428", "\u24b6\u24d0", "\u2160\u2170"]
EMOJI = ["\U0001f426", "\U0001f99c", "\U0001f44d\U0001f3fd", "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",
         "\U0001f1fa\U0001f1f8", "\u2764\ufe0f", "\u263a", "\U0001f3f3\ufe0f\u200d\U0001f308", "\U0001f642\U0001f642\U0001f642",
         "\u2728", "\U0001f525", "1\ufe0f\u20e3", "\u00a9\ufe0f", "\U0001f600", "\U0001f9d1\U0001f3ff\u200d\U0001f4bb"]
HTML = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&#x27;", "&nbsp;", "&eacute;", "&amp;amp;", "&amp;amp;amp;",
        "&AMP;", "&NTILDE;", "&nTILDE;", "&notit;", "&not", "&notin", "&ampx", "&#0;", "&#128;", "&#x110000;",
        "&#xD800;", "&#65", "&#x41", "&#99999999999;", "&copy", "&hellip;", "&mdash;", "&unknown;", "&#;", "&;",
        "& amp;", "&lt;b&gt;bold&lt;/b&gt;", "&#38;amp;", "&ThickSpace;", "&NotEqualTilde;", "&Jscr;", "&szlig;",
        "&SZLIG;", "&EACUTE;", "&#x1F426;", "&#128038;", "&#13;", "&#11;", "&#x9F;", "&#65abc;", "&#xzz;",
        "&ampamp;", "&amp&amp", "&Aacute", "&aacutex", "&#0000065;", "&#x000041;", "&rsquo;", "&lsquo;s",
        "&#8217;s", "&apos;", "&frac12;", "&sup2;", "&fjlig;", "&nGt;", "&nbsp", "&NBSP;", "&lt", "&LT;",
        "&verylongnamethatisnotanentityatallxyz;", "&abcdefghijklmnopqrstuvwxyz;", "&amp;#39;", "&amp;lt;"]
SPACES = ["\t", "  ", "\u00a0", "\u2003", "\u3000", "\u200b", "\x0b", "\x0c", "\x1c", "\x1f", "\u2028", "\u2029",
          "\x85", "\r", "\u1680", "\u202f", "\u205f", "\ufeff", " \t ", "\u180e", "\u2000\u200a"]
CONTROLS = ["\x00", "\x01", "\x07", "\x1b[31m", "\x1b[0m", "\x1b[1;32m", "\x1b[\u0663m", "\x1b[", "\x1b]0;x\x07", "\x7f",
            "\u206a", "\ufffc", "\ufff9", "\u200d", "\u200e", "\u202e", "\x80", "\x92", "\x93", "\x94", "\x9d",
            "\x81", "\x85", "\ufffd", "\ufffd\ufffd", "\U000e0041", "\U0001d173"]
LIGWIDTH = ["\ufb01", "\ufb02", "\ufb03", "\ufb06", "\ufb05", "\u0132", "\u01c6", "\u0149", "\u01c4\u01c5",
            "\uff21\uff22\uff23", "\uff11\uff12\uff13", "\uff01", "\uff8a\uff9f", "\uffe5", "\uff02\uff07",
            "\uffe3", "\uffe9", "\uff5e", "\uff0c\uff0e", "\uff41\uff42"]
QUOTES = ["\u201cquoted\u201d", "\u2018single\u2019", "\u201elow\u201c", "\u201b", "\u2033", "\u2039\u203a",
          "\u201f", "\u02bc", "\u2019s", "\u2019S", "\u2019ll"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "A\u030a", "\u1100\u1161\u11a8", "\u1100\u1161", "\uac00\u11a8",
             "\u0345", "q\u0307\u0323", "a\u0323\u0302", "o\u0328\u0304", "\u0301abc", "e\u0301\u0301",
             "a\u0301\u0316", "\u00e9\u0316", "\u1e0b\u0323", "\u0041\u030a\u0301", "\u212b\u0301",
             "\u0f71\u0f72", "\u0f73", "\u0344", "\u2260", "=\u0338", "\u1100\u1100\u1161"]
SPECIAL = ["<|startoftext|>", "<|endoftext|>", "<|ENDOFTEXT|>", "<|\u017ftartoftext|>", "</w>", "<|endoftext|",
           "<start_of_text>", "x<|endoftext|>y", "!<|endoftext|>", "<|endoftext|><|endoftext|>", "a</w>b"]
MISC = ["http://example.com/a_b?c=d&e=f", "user@example.com", "#hashtag", "@mention", "C++", "e.g.", "U.S.A.",
        "3x3", "A4", "mp3", "x86_64", "snake_case_word", "CamelCaseWord", "ALLCAPS", "x" * 40, "ab" * 30,
        "\u00e9" * 20, "!" * 50, "\U0001f426" * 10, "a-b-c", "A/B", "1/2", "w/o", "&", "<", ">", "<>", "\\n",
        "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis"]
MOJIBAKE = ["caf\u00c3\u00a9", "\u00c3\u00bcber", "\u00e2\u20ac\u0153hello\u00e2\u20ac\x9d", "don\u00e2\u20ac\u2122t",
            "\u00c3\xa0 la", "\u00f0\u0178\u02dc\u20ac", "\u00d0\u00bf\u00d1\u20ac\u00d0\u00b8\u00d0\u00b2\u00d0\u00b5\u00d1\u201a",
            "\u00c3\u00a9t\u00c3\u00a9", "Ã©", "â€”", "Ã¶sterreich", "sÃ³", "voilÃ le travail", "\u00c2\u00a0x",
            "Ã\x83Â©", "#â€ﾟ"]

POOLS = [WORDS, PUNCT, DIGITS, CONTRACTIONS, ACCENTED, GREEK, CYRILLIC, CJK, ARABIC, INDIC, OTHER_SCRIPTS, EMOJI,
         HTML, SPACES, CONTROLS, LIGWIDTH, QUOTES, COMBINING, SPECIAL, MISC]
SEPS = [" ", " ", " ", " ", "", "  ", "\t", "\u00a0", ", ", "-"]


def piece():
    pool = rng.choice(POOLS[:1] * 6 + POOLS)
    return rng.choice(pool)


def mix(n):
    s = ""
    for _ in range(n):
        s += piece() + rng.choice(SEPS)
    return s


ASSIGNED = [c for c in range(0x20, 0x30000) if unicodedata.category(chr(c)) not in ("Cn", "Cs", "Co")
            and c != 0x0A]


def random_codepoints(n):
    return "".join(chr(rng.choice(ASSIGNED)) for _ in range(n))


def varied_strings():
    out = []
    for pool in POOLS:                                   # every piece alone and inside a caption
        for p in pool:
            out.append(p)
            out.append("a bird " + p + " with wings")
    out += [mix(rng.randint(2, 25)) for _ in range(450)]
    out += [mix(rng.randint(2, 12)).upper() for _ in range(40)]
    out += [mix(rng.randint(2, 12)).title() for _ in range(40)]
    out += [mix(rng.randint(80, 140)) for _ in range(30)]           # more than 77 tokens
    out += [" ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 120))) for _ in range(10)]
    out += [random_codepoints(rng.randint(1, 30)) for _ in range(150)]
    out += ["", " ", "\t", "\u00a0\u3000", "  \t  ", "\u200b", "\x0b\x0c", "&nbsp;", "&#32;", ".", "'", "''"]
    out += MOJIBAKE + ["a bird " + m for m in MOJIBAKE]
    # one line each: no '\n' inside a string
    return [s.replace("\n", " ") for s in out]


def read_lines(path):
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


# ---------------------------------------------------------------- DAMSM (DF-GAN's code)

# DF-GAN's RegexpTokenizer(r'\w+').tokenize(s): in the nltk of DF-GAN's time (3.x before 2026) that
# is re.compile(r'\w+', re.UNICODE | re.MULTILINE | re.DOTALL).findall(s) with the stdlib re, which
# is what the published captions_DAMSM.pickle vocabularies were built with. (The newest nltk
# compiles it with the third-party `regex` engine instead, whose \w also takes combining marks such
# as U+0307, so it splits some non-ASCII words differently; nltk is not used here for that reason.)
_word_re = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.DOTALL)
word_tokenize = _word_re.findall


def load_captions(paths, embeddings_num=None):
    """DF-GAN's TextImgDataset.load_captions, one path per 'image'."""
    all_captions = []
    for cap_path in paths:
        with open(cap_path, "r", encoding="utf-8") as f:   # universal newlines, as DF-GAN's open()
            captions = f.read().encode("utf-8").decode("utf8").split("\n")
            cnt = 0
            for cap in captions:
                if len(cap) == 0:
                    continue
                cap = cap.replace("\ufffd\ufffd", " ")
                tokens = word_tokenize(cap.lower())
                if len(tokens) == 0:
                    continue
                tokens_new = []
                for t in tokens:
                    t = t.encode("ascii", "ignore").decode("ascii")
                    if len(t) > 0:
                        tokens_new.append(t)
                all_captions.append(tokens_new)
                cnt += 1
                if embeddings_num is not None and cnt == embeddings_num:
                    break
    return all_captions


def build_dictionary(captions):
    """DF-GAN's build_dictionary: ixtoword."""
    from collections import defaultdict
    word_counts = defaultdict(float)
    for sent in captions:
        for word in sent:
            word_counts[word] += 1
    vocab = [w for w in word_counts if word_counts[w] >= 0]
    ixtoword = {0: "<end>"}
    for ix, w in enumerate(vocab, 1):
        ixtoword[ix] = w
    return [ixtoword[i] for i in range(len(ixtoword))]


def damsm_ids(lines, wordtoix, word_num=18, seed=None):
    """DF-GAN's utils.tokenize per line (one row per line, as bin/tokenize), then get_caption."""
    if seed is not None:
        np.random.seed(seed)
    rows = np.zeros((len(lines), word_num), dtype=np.int32)
    for r, sent in enumerate(lines):
        sent = sent.replace("\ufffd\ufffd", " ")
        rev = []
        for t in word_tokenize(sent.lower()):
            t = t.encode("ascii", "ignore").decode("ascii")
            if len(t) > 0 and t in wordtoix:
                rev.append(wordtoix[t])
        sent_caption = np.asarray(rev).astype("int64")
        num_words = len(sent_caption)
        x = np.zeros((word_num, 1), dtype="int64")
        if num_words <= word_num:
            x[:num_words, 0] = sent_caption
        elif seed is None:                      # --first
            x[:, 0] = sent_caption[:word_num]
        else:
            ix = list(np.arange(num_words))
            np.random.shuffle(ix)
            ix = ix[:word_num]
            ix = np.sort(ix)
            x[:, 0] = sent_caption[ix]
        rows[r] = x[:, 0]
    return rows


# ---------------------------------------------------------------- write

def main():
    os.makedirs(OUT, exist_ok=True)
    examples = []
    for name in ("bird", "coco"):
        src = os.path.join(SHARED, "example_captions", name + ".txt")
        shutil.copyfile(src, os.path.join(OUT, name + ".txt"))     # as it is (bird.txt ends without '\n')
        lines = read_lines(src)
        examples.append(lines)
        np.savez_compressed(os.path.join(OUT, "clip_%s.npz" % name), ids=clip_tokenize(tok, lines))

    strings = varied_strings()
    ids = clip_tokenize(tok, strings)
    ids2 = clip_tokenize(tok2, strings)
    same = [i for i in range(len(strings)) if (ids[i] == ids2[i]).all()]
    diff = [i for i in range(len(strings)) if not (ids[i] == ids2[i]).all()]
    exact = [strings[i] for i in same]
    known = [strings[i] for i in diff]
    for name, lines in (("clip_strings.txt", exact), ("clip_known_diff.txt", known)):
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="") as f:
            f.write("".join(l + "\n" for l in lines))
    np.savez_compressed(os.path.join(OUT, "clip_strings.npz"), ids=ids[same],
                        ids_ctx16=clip_tokenize(tok, exact, 16), ids_ctx2=clip_tokenize(tok, exact, 2),
                        ids_ctx1=clip_tokenize(tok, exact, 1))
    np.savez_compressed(os.path.join(OUT, "clip_known_diff.npz"), openai=ids[diff], ours=ids2[diff])

    # DAMSM: the vocabulary of bird.txt, coco.txt and the strings (as three caption files)
    files = [os.path.join(OUT, n) for n in ("bird.txt", "coco.txt", "clip_strings.txt")]
    vocab = build_dictionary(load_captions(files))
    vocab5 = build_dictionary(load_captions(files, embeddings_num=5))
    for name, v in (("damsm_vocab.txt", vocab), ("damsm_vocab_per5.txt", vocab5)):
        with open(os.path.join(OUT, name), "w", encoding="utf-8", newline="") as f:
            f.write("".join(w + "\n" for w in v))
    wordtoix = {w: i for i, w in enumerate(vocab)}
    lines = read_lines(files[2])
    np.savez_compressed(os.path.join(OUT, "damsm_ids.npz"),
                        first=damsm_ids(lines, wordtoix), seed0=damsm_ids(lines, wordtoix, seed=0),
                        seed1234=damsm_ids(lines, wordtoix, seed=1234),
                        max5_seed3=damsm_ids(lines, wordtoix, word_num=5, seed=3))
    long_caps = sum(1 for l in lines if len([t for t in word_tokenize(l.lower()) if t.encode("ascii", "ignore")]) > 18)
    print("tokenize_ref.py: %d example captions, %d strings matched exactly, %d known differences (ftfy's "
          "mojibake repair), %d DAMSM words, %d captions over 18 words"
          % (sum(map(len, examples)), len(exact), len(known), len(vocab), long_caps), file=sys.stderr)


if __name__ == "__main__":
    main()
