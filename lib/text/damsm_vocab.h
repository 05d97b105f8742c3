/* damsm_vocab.h: DF-GAN's word tokens for the DAMSM text encoder (code/lib/datasets.py,
 * load_captions / build_dictionary / get_caption, and code/lib/utils.py tokenize):
 *
 *   tokens = RegexpTokenizer(r'\w+').tokenize(caption.lower())        (Python re, Unicode \w)
 *   each token t -> t.encode('ascii', 'ignore').decode('ascii'), dropped when it becomes empty
 *   ids = [wordtoix[t] for t in tokens if t in wordtoix]
 * (DF-GAN's caption.replace("\ufffd\ufffd", " ") changes no token: U+FFFD is not \w.)
 *
 * A vocabulary file holds one word per line, line i being id i, line 0 "<end>" (id 0, padding).
 * build_dictionary's vocabulary: the distinct words of the train then test captions in order of
 * first appearance (it keeps every word: its count threshold is >= 0), ids from 1. */
#ifndef DFGAN_DAMSM_VOCAB_H
#define DFGAN_DAMSM_VOCAB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/strmap.h"
#include "text/unicode.h"

#define DAMSM_WORDS_NUM 18   /* DF-GAN's TEXT.WORDS_NUM */

/* ---- words of one caption ---- */
typedef struct { char *buf; size_t len, cap; size_t *off, *wlen; size_t n, ncap; } damsm_words;
void damsm_words_free(damsm_words *w);
/* Replace w's contents by the ASCII-folded words of a caption given as code points. Returns the
 * number of \w+ tokens before folding (DF-GAN skips a caption when it is 0). */
size_t damsm_split(damsm_words *w, const uint32_t *cps, size_t n);

/* ---- vocabulary ---- */
typedef struct { strmap map; size_t n; } damsm_vocab;
/* Read a vocabulary file (text as above), or DF-GAN's captions_DAMSM.pickle (told by its first
 * byte; its wordtoix, checked against ixtoword). 0 ok; -1 with a one-line "expected ..., found ..."
 * in err (a reader of outside files: it never exits). */
int damsm_vocab_load(damsm_vocab *v, const char *path, char *err, size_t errlen);
void damsm_vocab_free(damsm_vocab *v);
/* id of a word, or -1 */
int32_t damsm_vocab_id(const damsm_vocab *v, const char *word, size_t len);

/* ---- the vocabulary builder: words in order of first appearance after "<end>" ---- */
void damsm_vocab_init_builder(damsm_vocab *v);
void damsm_vocab_add(damsm_vocab *v, const damsm_words *w);
/* Write "<end>\n" and the words, one a line. 0 ok, -1 on a write error. */
int damsm_vocab_write(const damsm_vocab *v, FILE *f);

/* ---- numpy's legacy RandomState (MT19937), for get_caption's shuffle ---- */
typedef struct { uint32_t mt[624]; int mti; } damsm_rng;
void damsm_rng_seed(damsm_rng *r, uint32_t seed);      /* np.random.seed(seed) */
uint32_t damsm_rng_next32(damsm_rng *r);
/* RandomState.random_interval(max): uniform in [0, max] by masked rejection. */
uint64_t damsm_rng_interval(damsm_rng *r, uint64_t max);

/* Fill row[0..max_words) from ids[0..n) as get_caption does: n <= max_words: the ids then zeros;
 * longer: with rng, ix = shuffle(arange(n)) (np.random.shuffle), the first max_words of ix
 * sorted, ids[ix]; with rng NULL, the first max_words ids (--first). perm is scratch of n. */
void damsm_select(int32_t *row, int max_words, const int32_t *ids, size_t n, damsm_rng *rng, int64_t *perm);

#endif
