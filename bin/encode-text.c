/* encode-text: DF-GAN's DAMSM text encoder (RNN_ENCODER, eval mode): token ids in, sentence
 * embeddings (and word embeddings on request) out; or, with --init, a random encoder with
 * RNN_ENCODER's initialisation. The model is lib/models/damsm.c; this file parses options and runs the
 * loop over the stream. */
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/toolopts.h"
#include "core/checkpoint.h"
#include "models/damsm.h"
#include "io/npz.h"
#include "io/stream_ids.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: encode-text --weights DAMSM.npz [--words FILE] [--ids FILE|-] [-o FILE|-] [--device cpu|cuda]\n"
    "       encode-text --init --vocab-size V [--seed K] [--ninput E] [--nhidden H] [-o FILE|-]\n"
    "\n"
    "Encode token ids (bin/tokenize --vocab: int32 (B,L) arrays back to back, 0 = padding after the\n"
    "words; int64 accepted) with DF-GAN's DAMSM text encoder, RNN_ENCODER in eval mode: embedding,\n"
    "bidirectional LSTM over each caption's words (pack_padded_sequence semantics). Writes one float32\n"
    "(B,256) array of sentence embeddings per input array ([forward final h, backward final h]; 256\n"
    "is the encoder's hidden size, both directions).\n"
    "A caption of padding only is an error, as in PyTorch, which refuses zero lengths.\n"
    "\n"
    "options:\n"
    "  --weights FILE     RNN_ENCODER's state_dict as .npz (encoder.weight, rnn.weight_ih_l0, ...,\n"
    "                     rnn.bias_hh_l0_reverse); sizes are read from the shapes\n"
    "  --ids FILE         token ids; - is stdin (default)\n"
    "  -o, --out FILE     sentence embeddings, float32 (B,256) per array; - is stdout (default)\n"
    "  --words FILE       also write word embeddings, float32 (B,256,L) per array (DF-GAN's words_emb,\n"
    "                     zeros past each length, L = the ids' width)\n"
    "  --device cpu|cuda  where the LSTM runs (default cpu); on cuda its recurrent weights are uploaded\n"
    "                     once and each new word's input projection (computed on the CPU) once\n"
    "  --init             write a random encoder to -o instead: encoder.weight U(-0.1,0.1), every LSTM\n"
    "                     weight and bias U(-1/sqrt(H/2), 1/sqrt(H/2)), from the Philox generator\n"
    "  --vocab-size V     with --init: vocabulary size (rows of encoder.weight)\n"
    "  --seed K           with --init: generator seed (default 0)\n"
    "  --ninput E         with --init: word embedding size (default 300)\n"
    "  --nhidden H        with --init: sentence embedding size, both directions (default 256, even)\n"
    "  -h, --help         this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage or input, 1 a runtime failure (writing, memory), 3 a NaN or Inf\n"
    "in the weights.\n";

typedef struct {
    const char *weights, *words, *ids, *out;
    int init;
    long vocab, seed, ninput, nhidden;
    device_t dev;
} options;

static void parse(options *o, int argc, char **argv) {
    enum { WEIGHTS = TOPT_FIRST, WORDS, IDS, INIT, VOCAB, SEED, NINPUT, NHIDDEN };
    static const struct option longopts[] = {
        {"weights", 1, 0, WEIGHTS}, {"words", 1, 0, WORDS}, {"ids", 1, 0, IDS}, {"out", 1, 0, 'o'},
        {"init", 0, 0, INIT}, {"vocab-size", 1, 0, VOCAB}, {"seed", 1, 0, SEED},
        {"ninput", 1, 0, NINPUT}, {"nhidden", 1, 0, NHIDDEN}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->ids = "-";
    o->out = "-";
    o->vocab = -1;
    o->seed = -1;
    o->ninput = -1;
    o->nhidden = -1;
    toolopts t;
    topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CUDA);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case WEIGHTS: o->weights = optarg; break;
        case WORDS: o->words = optarg; break;
        case IDS: o->ids = optarg; break;
        case 'o': o->out = optarg; break;
        case INIT: o->init = 1; break;
        case VOCAB: o->vocab = parse_long("--vocab-size", optarg, 1, INT32_MAX); break;
        case SEED: o->seed = parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
        case NINPUT: o->ninput = parse_long("--ninput", optarg, 1, 1L << 20); break;
        case NHIDDEN: o->nhidden = parse_long("--nhidden", optarg, 2, 1L << 16); break;
        }
    }
    topt_end(&t);
    if (o->init) {
        if (o->weights || o->words || strcmp(o->ids, "-"))
            die_usage("expected --init without --weights, --words or --ids, found %s",
                      o->weights ? "--weights" : o->words ? "--words" : "--ids");
        if (o->vocab < 0) die_usage("expected --vocab-size with --init, found none");
        if (o->seed < 0) o->seed = 0;
        if (o->ninput < 0) o->ninput = 300;
        if (o->nhidden < 0) o->nhidden = 256;
        if (o->nhidden % 2) die_usage("--nhidden expects an even size (two directions), found %ld", o->nhidden);
        if ((int64_t)o->vocab * o->ninput > ((int64_t)1 << 34))
            die_usage("expected --vocab-size times --ninput at most 2^34, found %lld", (long long)o->vocab * o->ninput);
        return;
    }
    if (o->vocab >= 0 || o->seed >= 0 || o->ninput >= 0 || o->nhidden >= 0)
        die_usage("expected --vocab-size, --seed, --ninput and --nhidden only with --init, found %s",
                  o->vocab >= 0 ? "--vocab-size" : o->seed >= 0 ? "--seed" : o->ninput >= 0 ? "--ninput" : "--nhidden");
    if (!o->weights) die_usage("expected --weights DAMSM.npz (or --init), found none");
    if (o->words && (!strcmp(o->words, "-") ? !strcmp(o->out, "-") : !strcmp(o->words, o->out)))
        die_usage("expected --words and -o to name different outputs, found both '%s'", o->words);
    o->dev = topt_device(&t);
}

static void write_or_die(atomic_file *af, const char *path, int ndim, const int64_t *shape, const float *data) {
    if (npy_write(af_stream(af), NPY_F4, ndim, shape, data) != 0)
        die_runtime("expected to write to '%s', found %s", path, strerror(errno));
}

int main(int argc, char **argv) {
    progname = "encode-text";
    options o;
    parse(&o, argc, argv);
    /* the outputs' folders, before any work */
    check_output_dir(o.out, "-o");
    check_output_dir(o.words, "--words");
    damsm_encoder m;

    if (o.init) {
        damsm_create(&m, (int)o.vocab, (int)o.ninput, (int)(o.nhidden / 2));
        damsm_init(&m, (uint64_t)o.seed);
        ckpt_save(&m.ps, o.out);
        if (!strcmp(o.out, "-")) close_stdout_or_die();
        damsm_free(&m);
        return 0;
    }

    damsm_load(&m, o.weights);
    damsm_to_device(&m, o.dev);
    const int64_t D2 = 2 * (int64_t)m.nhidden;
    tstream in;
    ts_open(&in, !strcmp(o.ids, "-") ? "stdin" : "--ids", o.ids);
    atomic_file *out = af_open(o.out);
    atomic_file *wout = o.words ? af_open(o.words) : NULL;
    npy_array a;
    while (ts_read_ids(&in, -1, &a)) {
        const int64_t B = a.shape[0], L = a.shape[1];
        int *lens = xmalloc((size_t)(B ? B : 1) * sizeof *lens);
        char err[256];
        if (damsm_lengths(&m, a.data, B, L, lens, err, sizeof err) != 0)
            die_usage("%s: %s in array %ld", in.name, err, in.index - 1);
        float *sent = xmalloc((size_t)(B ? B : 1) * (size_t)D2 * sizeof(float));
        float *words = wout ? xmalloc((size_t)(B ? B : 1) * (size_t)D2 * (size_t)L * sizeof(float)) : NULL;
        damsm_forward(&m, sent, words, a.data, lens, B, L);
        write_or_die(out, o.out, 2, (int64_t[]){B, D2}, sent);
        if (wout) write_or_die(wout, o.words, 3, (int64_t[]){B, D2, L}, words);
        free(sent);
        free(words);
        free(lens);
        npy_free(&a);
    }
    ts_close(&in);
    af_commit(out);
    if (wout) af_commit(wout);
    if (!strcmp(o.out, "-") || (o.words && !strcmp(o.words, "-"))) close_stdout_or_die();
    damsm_free(&m);
    return 0;
}
