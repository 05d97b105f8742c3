/* tokenize: captions (UTF-8, one per line) to int32 token ids.
 *
 *   tokenize --clip [--bpe FILE] [--context 77] [-o OUT] [FILE...]            -> (N,77) CLIP BPE ids
 *   tokenize --vocab VOCAB [--max-words 18] [--seed S | --first] [FILE...]    -> (N,18) DAMSM ids
 *   tokenize --build-vocab [--captions-per-file K] [-o VOCAB.txt] [FILE...]   -> vocabulary file
 *
 * One output row per input line (an empty line gives a row of padding). The CLIP ids are OpenAI's
 * tokenizer's (lib/text/bpe.h, lib/text/textclean.h); the DAMSM ids DF-GAN's (lib/text/damsm_vocab.h). */
#include "core/atomic_file.h"
#include "text/bpe.h"
#include "core/common.h"
#include "core/toolopts.h"
#include "text/damsm_vocab.h"
#include "io/npy.h"
#include "text/utf8.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage[] =
    "usage: tokenize --clip [--bpe FILE] [--context N] [--batch B] [-o OUT] [FILE...]\n"
    "       tokenize --vocab VOCAB [--max-words N] [--seed S | --first] [--batch B] [-o OUT] [FILE...]\n"
    "       tokenize --build-vocab [--captions-per-file K] [-o VOCAB.txt] [FILE...]\n"
    "Turn captions (UTF-8 text, one caption per line) into int32 token ids, one row per line, written\n"
    "as .npy to OUT (atomically) or standard output. FILEs are read in order; none, or -, is standard\n"
    "input. --files-from LIST adds the paths listed in LIST (one a line) after the FILEs.\n"
    "\n"
    "  --clip            OpenAI CLIP's BPE tokenizer: (lines,context) ids, 49406 first, 49407 last,\n"
    "                    zeros after; longer captions are cut with 49407 kept last (truncate=True).\n"
    "                    Text clean-up as OpenAI's: ftfy.fix_text (all but its mojibake repair),\n"
    "                    html.unescape twice, whitespace collapsed, lowercase.\n"
    "  --bpe FILE        the merges, bpe_simple_vocab_16e6.txt.gz; default: $CLIP_BPE, then\n"
    "                    ../shared/data/clip/, data/clip/ and share/dfgan/ beside this program's\n"
    "                    repository (from openai/CLIP: clip/bpe_simple_vocab_16e6.txt.gz, or any\n"
    "                    open_clip install).\n"
    "  --context N       ids per row (default 77)\n"
    "  --vocab VOCAB     DF-GAN's DAMSM words: lowercase, \\w+ runs, non-ASCII characters dropped,\n"
    "                    unknown words dropped, 0-padded: (lines,max-words) ids. VOCAB: one word per\n"
    "                    line, line i = id i, line 0 '<end>' (as --build-vocab writes), or DF-GAN's\n"
    "                    captions_DAMSM.pickle (its wordtoix; checked against ixtoword).\n"
    "  --max-words N     ids per row (default 18, DF-GAN's WORDS_NUM)\n"
    "  --seed S          a caption with more than N words keeps a random sorted subset of N of them,\n"
    "                    as DF-GAN's get_caption: numpy's RandomState(S) (MT19937) shuffles\n"
    "                    arange(words) for each such caption in order (default S = 0)\n"
    "  --first           keep the first N words instead\n"
    "  --build-vocab     write the vocabulary of the captions as DF-GAN's build_dictionary: '<end>',\n"
    "                    then every word in order of first appearance (give train then test files)\n"
    "  --captions-per-file K  use at most K captions with words per file (DF-GAN's\n"
    "                    CAPTIONS_PER_IMAGE: 10 for birds, 5 for COCO); default all\n"
    "  --batch B         write arrays of at most B rows back to back (default: one array)\n"
    "  -o OUT            output path (default standard output)\n"
    "  --device cpu      the CPU only (no CUDA path; cuda is refused)\n"
    "Invalid UTF-8 is an error (as Python's strict decoding, which DF-GAN and CLIP use).\n"
    "Exit status: 0 ok, 2 bad usage or bad input (one line on stderr), 1 a read or write failure.\n";

typedef enum { MODE_NONE, MODE_CLIP, MODE_VOCAB, MODE_BUILD } mode_t_;

typedef struct {
    mode_t_ mode;
    const char *bpe, *vocab, *out, *files_from;
    int context, max_words, first, per_file;
    long batch;
    uint32_t seed;
    const char **files;
    size_t nfiles, files_cap, nargv_files;   /* files[nargv_files..] are copies from --files-from */
} options;

static void add_file(options *o, const char *path) {
    if (o->nfiles == o->files_cap) o->files = xrealloc(o->files, (o->files_cap = o->files_cap ? 2 * o->files_cap : 16) * sizeof *o->files);
    o->files[o->nfiles++] = path;
}

static void set_mode(options *o, mode_t_ m, const char *flag) {
    static const char *names[] = {"", "--clip", "--vocab", "--build-vocab"};
    if (o->mode != MODE_NONE && o->mode != m) die_usage("expected one of --clip, --vocab, --build-vocab, found %s with %s", names[o->mode], flag);
    o->mode = m;
}

static void parse(options *o, int argc, char **argv) {
    enum { CLIP = TOPT_FIRST, VOCAB, BUILD, BPE, CONTEXT, MAXW, SEED, FIRST, PERFILE, FILESFROM, BATCH };
    static const struct option longopts[] = {
        {"clip", 0, 0, CLIP}, {"vocab", 1, 0, VOCAB}, {"build-vocab", 0, 0, BUILD}, {"bpe", 1, 0, BPE},
        {"context", 1, 0, CONTEXT}, {"max-words", 1, 0, MAXW}, {"seed", 1, 0, SEED}, {"first", 0, 0, FIRST},
        {"captions-per-file", 1, 0, PERFILE}, {"files-from", 1, 0, FILESFROM}, {"batch", 1, 0, BATCH},
        {"out", 1, 0, 'o'}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->context = CLIP_CONTEXT;
    o->max_words = DAMSM_WORDS_NUM;
    o->per_file = -1;
    const char *only_clip = NULL, *only_vocab = NULL, *only_build = NULL, *seed_flag = NULL, *batch_flag = NULL;
    toolopts t;
    topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case CLIP: set_mode(o, MODE_CLIP, "--clip"); break;
        case VOCAB: set_mode(o, MODE_VOCAB, "--vocab"); o->vocab = optarg; break;
        case BUILD: set_mode(o, MODE_BUILD, "--build-vocab"); break;
        case BPE: o->bpe = optarg; only_clip = "--bpe"; break;
        case CONTEXT: o->context = (int)parse_long("--context", optarg, 1, 1 << 20); only_clip = "--context"; break;
        case MAXW: o->max_words = (int)parse_long("--max-words", optarg, 1, 1 << 20); only_vocab = "--max-words"; break;
        case SEED: o->seed = (uint32_t)parse_long("--seed", optarg, 0, 4294967295L); only_vocab = seed_flag = "--seed"; break;
        case FIRST: o->first = 1; only_vocab = "--first"; break;
        case PERFILE: o->per_file = (int)parse_long("--captions-per-file", optarg, 1, INT_MAX); only_build = "--captions-per-file"; break;
        case FILESFROM: o->files_from = optarg; break;
        case BATCH: o->batch = parse_long("--batch", optarg, 1, LONG_MAX); batch_flag = "--batch"; break;
        case 'o': o->out = optarg; break;
        }
    }
    while (optind < argc) add_file(o, argv[optind++]);
    if (o->mode == MODE_NONE) die_usage("expected one of --clip, --vocab VOCAB or --build-vocab, found none");
    if (only_clip && o->mode != MODE_CLIP) die_usage("expected %s only with --clip, found it with %s", only_clip, o->mode == MODE_VOCAB ? "--vocab" : "--build-vocab");
    if (only_vocab && o->mode != MODE_VOCAB) die_usage("expected %s only with --vocab, found it with %s", only_vocab, o->mode == MODE_CLIP ? "--clip" : "--build-vocab");
    if (only_build && o->mode != MODE_BUILD) die_usage("expected %s only with --build-vocab, found it with %s", only_build, o->mode == MODE_CLIP ? "--clip" : "--vocab");
    if (o->first && seed_flag) die_usage("expected --seed or --first, found both");
    if (batch_flag && o->mode == MODE_BUILD) die_usage("expected --batch only with --clip or --vocab, found it with --build-vocab");
    o->nargv_files = o->nfiles;
    if (o->files_from) {
        FILE *f = fopen(o->files_from, "r");
        if (!f) die_usage("expected a readable list of files (--files-from), found '%s': %s", o->files_from, strerror(errno));
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, f)) >= 0) {
            while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
            if (len) add_file(o, xstrdup(line));
        }
        if (ferror(f)) die_runtime("expected to read '%s', found %s", o->files_from, strerror(errno));
        free(line);
        fclose(f);
    } else if (o->nfiles == 0) {
        add_file(o, "-");
        o->nargv_files = 1;
    }
}

/* ---- finding the BPE file ---- */

static int readable(const char *p) { return access(p, R_OK) == 0; }

static clip_bpe *load_bpe(const char *flag_path) {
    char err[1024];
    const char *path = NULL, *how = NULL;
    if (flag_path) { path = flag_path; how = "--bpe"; }
    else if (getenv("CLIP_BPE") && *getenv("CLIP_BPE")) { path = getenv("CLIP_BPE"); how = "$CLIP_BPE"; }
    if (path) {
        if (!readable(path)) die_usage("expected a readable BPE merges file at '%s' (%s), found: %s", path, how, strerror(errno));
    } else {
        /* <repo>/../shared/data/clip, <repo>/data/clip, <prefix>/share/dfgan: <repo> or <prefix> is
         * the folder above the one holding this program. */
        static char cand[3][PATH_MAX + 64];
        char exe[PATH_MAX], tried[3 * (PATH_MAX + 64) + 16] = "";
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        const char *root = "..";
        if (n > 0) {
            exe[n] = 0;
            char *slash = strrchr(exe, '/');
            if (slash) { *slash = 0; slash = strrchr(exe, '/'); }
            if (slash) { *slash = 0; root = exe[0] ? exe : "/"; }
        }
        snprintf(cand[0], sizeof cand[0], "%s/../shared/data/clip/%s", root, CLIP_BPE_FILE);
        snprintf(cand[1], sizeof cand[1], "%s/data/clip/%s", root, CLIP_BPE_FILE);
        snprintf(cand[2], sizeof cand[2], "%s/share/dfgan/%s", root, CLIP_BPE_FILE);
        for (int k = 0; k < 3 && !path; k++) {
            if (readable(cand[k])) path = cand[k];
            else { if (k) strcat(tried, ", "); strcat(tried, cand[k]); }
        }
        if (!path)
            die_usage("expected CLIP's BPE merges %s from --bpe FILE, $CLIP_BPE or one of %s, found none "
                      "(get it from the openai/CLIP repository, clip/%s, or any open_clip install)",
                      CLIP_BPE_FILE, tried, CLIP_BPE_FILE);
    }
    clip_bpe *t = clip_bpe_load(path, err, sizeof err);
    if (!t) die_usage("%s", err);
    return t;
}

/* ---- the row writer ---- */

typedef struct {
    atomic_file *af;
    int width;
    long batch;
    int32_t *rows;
    size_t n, cap;
    long written;
} rows_out;

static void flush_rows(rows_out *w, int force) {
    if (!w->n && !force) return;
    int64_t shape[2] = {(int64_t)w->n, w->width};
    if (npy_write(af_stream(w->af), NPY_I4, 2, shape, w->rows) != 0)
        die_runtime("expected to write the token ids, found %s", strerror(errno));
    w->n = 0;
    w->written++;
}

static int32_t *next_row(rows_out *w) {
    if (w->batch && (long)w->n == w->batch) flush_rows(w, 0);
    if (w->n == w->cap) w->rows = xrealloc(w->rows, (w->cap = w->cap ? 2 * w->cap : 256) * (size_t)w->width * sizeof *w->rows);
    return w->rows + w->n++ * (size_t)w->width;
}

/* ---- input ---- */

typedef struct {
    const char *path;
    FILE *f;
    char *line;
    size_t cap;
    long lineno;
} reader;

static int open_reader(reader *r, const char *path) {
    memset(r, 0, sizeof *r);
    r->path = strcmp(path, "-") ? path : "standard input";
    r->f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!r->f) die_usage("expected a readable captions file, found '%s': %s", path, strerror(errno));
    return 0;
}

/* Next line as code points (without its '\n'); 0 at the end. */
static int read_line(reader *r, u32buf *cps) {
    errno = 0;
    ssize_t len = getline(&r->line, &r->cap, r->f);
    if (len < 0) {
        if (ferror(r->f)) die_runtime("expected to read '%s', found %s", r->path, strerror(errno ? errno : EIO));
        return 0;
    }
    r->lineno++;
    if (len && r->line[len - 1] == '\n') len--;
    size_t bad;
    cps->n = 0;
    if (utf8_decode(cps, (const unsigned char *)r->line, (size_t)len, &bad) != 0)
        die_usage("expected UTF-8 text, found byte 0x%02x at line %ld, byte %zu of '%s'",
                  (unsigned char)r->line[bad], r->lineno, bad + 1, r->path);
    return 1;
}

static void close_reader(reader *r) {
    if (r->f && r->f != stdin) fclose(r->f);
    free(r->line);
}

int main(int argc, char **argv) {
    progname = "tokenize";
    options o;
    parse(&o, argc, argv);
    /* the outputs' folders, before any work */
    check_output_dir(o.out, "-o");

    clip_bpe *bpe = NULL;
    damsm_vocab vocab;
    memset(&vocab, 0, sizeof vocab);
    char err[1024];
    if (o.mode == MODE_CLIP) bpe = load_bpe(o.bpe);
    if (o.mode == MODE_VOCAB && damsm_vocab_load(&vocab, o.vocab, err, sizeof err) != 0) die_usage("%s", err);
    if (o.mode == MODE_BUILD) damsm_vocab_init_builder(&vocab);

    atomic_file *af = af_open(o.out ? o.out : "-");
    rows_out w = {af, o.mode == MODE_CLIP ? o.context : o.max_words, o.batch, NULL, 0, 0, 0};
    u32buf cps = {0};
    damsm_words words = {0};
    damsm_rng rng;
    damsm_rng_seed(&rng, o.seed);
    int32_t *ids = NULL;
    int64_t *perm = NULL;
    size_t ids_cap = 0;

    for (size_t fi = 0; fi < o.nfiles; fi++) {
        reader r;
        open_reader(&r, o.files[fi]);
        long used = 0;
        while (read_line(&r, &cps)) {
            if (o.mode == MODE_CLIP) {
                clip_tokenize(bpe, &cps, o.context, next_row(&w));
            } else if (o.mode == MODE_VOCAB) {
                damsm_split(&words, cps.p, cps.n);
                if (words.n > ids_cap) {
                    ids_cap = 2 * words.n;
                    ids = xrealloc(ids, ids_cap * sizeof *ids);
                    perm = xrealloc(perm, ids_cap * sizeof *perm);
                }
                size_t n = 0;
                for (size_t k = 0; k < words.n; k++) {
                    int32_t id = damsm_vocab_id(&vocab, words.buf + words.off[k], words.wlen[k]);
                    if (id >= 0) ids[n++] = id;
                }
                damsm_select(next_row(&w), o.max_words, ids, n, o.first ? NULL : &rng, perm);
            } else {
                /* load_captions reads with Python's universal newlines (CR and CRLF end lines too);
                 * empty lines and lines without \w tokens are not captions. */
                size_t s0 = 0, nseg = cps.n;
                int done = 0;
                for (size_t e = 0; e <= nseg && !done; e++) {
                    if (e < nseg && cps.p[e] != '\r') continue;
                    size_t len = e - s0;
                    const uint32_t *seg = cps.p + s0;
                    s0 = e + 1;
                    if (len == 0 || damsm_split(&words, seg, len) == 0) continue;
                    damsm_vocab_add(&vocab, &words);
                    done = o.per_file > 0 && ++used == o.per_file;
                }
                if (done) break;
            }
        }
        close_reader(&r);
    }

    if (o.mode == MODE_BUILD) {
        if (damsm_vocab_write(&vocab, af_stream(af)) != 0) die_runtime("expected to write the vocabulary, found %s", strerror(errno));
    } else if (!o.batch) {
        flush_rows(&w, 1);
    } else {
        flush_rows(&w, 0);
    }
    af_commit(af);
    close_stdout_or_die();
    for (size_t k = o.nargv_files; k < o.nfiles; k++) free((char *)o.files[k]);
    free(o.files);
    free(w.rows);
    free(ids);
    free(perm);
    u32_free(&cps);
    damsm_words_free(&words);
    damsm_vocab_free(&vocab);
    clip_bpe_free(bpe);
    return EXIT_OK;
}
