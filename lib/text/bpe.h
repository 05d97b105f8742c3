/* bpe.h: OpenAI CLIP's tokenizer (clip/simple_tokenizer.py, SimpleTokenizer, with clip.tokenize's
 * truncate=True), reproduced id for id:
 *
 *   ids = [49406] + encode(text) + [49407], cut to the first `context` ids with the last set to
 *   49407 when longer, zero-padded to `context`.
 *   encode: clip_clean (textclean.h), then the tokens found by
 *     <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
 *   (regex module, IGNORECASE), each token's UTF-8 bytes mapped through bytes_to_unicode, then
 *   byte-pair merges (lowest rank first, every occurrence left to right) with "</w>" on the last
 *   symbol, then vocabulary ids.
 * The vocabulary is built as OpenAI does from bpe_simple_vocab_16e6.txt.gz: the 256 byte symbols
 * in bytes_to_unicode order, the same with "</w>", the first 48,894 merges (lines 1..48894 after
 * the header: merges[1:49152-256-2+1]), then <|startoftext|> and <|endoftext|>. Strings map to
 * ids as in a Python dict built in that order (a later duplicate wins). */
#ifndef DFGAN_BPE_H
#define DFGAN_BPE_H

#include <stddef.h>
#include <stdint.h>

#include "text/unicode.h"

#define CLIP_BPE_FILE "bpe_simple_vocab_16e6.txt.gz"
#define CLIP_NMERGES (49152 - 256 - 2)   /* 48894 */
#define CLIP_CONTEXT 77

typedef struct clip_bpe clip_bpe;

/* Load the merges (gzip or plain text). NULL with a one-line "expected ..., found ..." in err. */
clip_bpe *clip_bpe_load(const char *path, char *err, size_t errlen);
void clip_bpe_free(clip_bpe *t);
int32_t clip_sot(const clip_bpe *t);   /* 49406 */
int32_t clip_eot(const clip_bpe *t);   /* 49407 */
int clip_vocab_size(const clip_bpe *t);

/* Token ids of already-cleaned text (clip_clean): at most max are written; returns how many
 * (it stops at max, so max = context - 1 is enough to know whether truncation happens). */
size_t clip_encode_clean(clip_bpe *t, const uint32_t *s, size_t n, int32_t *ids, size_t max);

/* One row of clip.tokenize(text, context_length=context, truncate=True) for one caption given
 * as code points (cleaned here; s is clobbered). row has context entries. */
void clip_tokenize(clip_bpe *t, u32buf *s, int context, int32_t *row);

#endif
