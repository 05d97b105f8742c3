/* config.c: the config schema and its libyaml reader (see config.h). */
#include "io/config.h"
#include "core/common.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

/* The schema. Defaults are DF-GAN's (tobran/DF-GAN code/cfg/bird.yml and miscc/config.py) where
 * the seed has one; lambda_clip's 0.01 is the seed's CLIP weight. Sizes are positive; the
 * intervals may be 0 ("never", as in pipelines/demo.mk) except save_interval, which resuming
 * needs. */
#define BIG 1e9
static const cfg_key schema[] = {
    {"CONFIG_NAME", CFG_STRING, 0, "", 0, 0, NULL, "the run's name (default: the file's name without .yml)"},
    {"dataset_name", CFG_STRING, 0, "", 0, 0, NULL, "the dataset (birds, coco)"},
    {"data_dir", CFG_PATH, 0, "", 0, 0, NULL, "the dataset's folder"},
    {"imsize", CFG_INT, CFG_REQUIRED | CFG_POW2, NULL, 32, 4096, NULL, "image side in pixels, a power of two"},
    {"z_dim", CFG_INT, CFG_REQUIRED, NULL, 1, 65536, NULL, "noise size"},
    {"cond_dim", CFG_INT, CFG_REQUIRED, NULL, 1, 65536, NULL, "sentence embedding size"},
    {"manual_seed", CFG_INT, 0, "100", 0, 4294967295.0, NULL, "random seed"},
    {"max_epoch", CFG_INT, CFG_REQUIRED, NULL, 1, BIG, NULL, "train epochs 1..max_epoch"},
    {"batch_size", CFG_INT, CFG_REQUIRED, NULL, 1, 65536, NULL, "images per batch"},
    {"nf", CFG_INT, CFG_REQUIRED, NULL, 1, 4096, NULL, "base channel count of G and D"},
    {"ch_size", CFG_INT, 0, "3", 3, 3, NULL, "image channels (RGB)"},
    {"lr_g", CFG_FLOAT, CFG_MIN_OPEN, "0.0001", 0, 1, NULL, "G's Adam learning rate"},
    {"lr_d", CFG_FLOAT, CFG_MIN_OPEN, "0.0004", 0, 1, NULL, "D's Adam learning rate"},
    {"gen_interval", CFG_INT, 0, "1", 0, BIG, NULL, "a sample grid every so many epochs (0: never)"},
    {"test_interval", CFG_INT, 0, "10", 0, BIG, NULL, "FID and CLIP score every so many epochs (0: never)"},
    {"save_interval", CFG_INT, 0, "10", 1, BIG, NULL, "a checkpoint every so many epochs"},
    {"truncation", CFG_BOOL, 0, "1", 0, 0, NULL, "sample with truncated noise"},
    {"trunc_rate", CFG_FLOAT, CFG_MIN_OPEN, "0.88", 0, 1e6, NULL, "the truncated noise's scale"},
    {"sample_times", CFG_INT, 0, "10", 1, 1e6, NULL, "eval's repetitions over the test split"},
    {"npz_path", CFG_PATH, 0, "", 0, 0, NULL, "the test split's Inception statistics (empty: computed)"},
    {"example_captions", CFG_PATH, 0, "", 0, 0, NULL, "captions for the sample target (empty: DF-GAN's example captions)"},
    {"checkpoint", CFG_PATH, 0, "", 0, 0, NULL, "sample's and eval's G: state_epoch_N.pth or G_<eee>.npz (empty: the run's last)"},
    {"imgs_per_sent", CFG_INT, 0, "16", 1, 4096, NULL, "the sample target's fakes per caption (a grid each)"},
    {"device", CFG_STRING, 0, "cpu", 0, 0, "cpu|cuda", "where the tools run"},
    {"ranks", CFG_INT, 0, "1", 1, 65536, NULL, "data-parallel ranks of each epoch's step tools (MPI; 1: one process each)"},
    {"text_encoder", CFG_STRING, 0, "damsm", 0, 0, "damsm|clip", "sentence embeddings from DAMSM or CLIP"},
    {"lambda_clip", CFG_FLOAT, 0, "0.01", 0, 1e6, NULL, "the CLIP loss's weight (0: off)"},
    {"clip_weights", CFG_PATH, 0, "", 0, 0, NULL, "OpenAI CLIP weights, .npz"},
    {"inception_weights", CFG_PATH, 0, "", 0, 0, NULL, "torchvision inception_v3 weights, .npz"},
    {"TEXT.WORDS_NUM", CFG_INT, 0, "18", 1, 77, NULL, "words per caption kept"},
    {"TEXT.EMBEDDING_DIM", CFG_INT, 0, "256", 1, 65536, NULL, "DAMSM embedding size"},
    {"TEXT.CAPTIONS_PER_IMAGE", CFG_INT, 0, "10", 1, 1000, NULL, "captions per image"},
    {"TEXT.DAMSM_NAME", CFG_PATH, 0, "", 0, 0, NULL, "DAMSM text encoder weights, .npz"},
};
#define NKEYS (sizeof schema / sizeof schema[0])

const cfg_key *config_schema(size_t *n) { *n = NKEYS; return schema; }

void config_make_name(const cfg_key *k, char *out, size_t n) {
    size_t i = 0;
    for (const char *s = k->key; *s && i + 1 < n; s++) out[i++] = *s == '.' ? '_' : (char)toupper((unsigned char)*s);
    if (n) out[i] = 0;
}

int config_index(const char *key) {
    char name[128];
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(schema[i].key, key) == 0) return (int)i;
        config_make_name(&schema[i], name, sizeof name);
        if (strcmp(name, key) == 0) return (int)i;
    }
    return -1;
}

/* ---- reading ---- */

typedef struct {
    const char *file;
    char *err;
    size_t errlen;
    yaml_parser_t p;
    const unsigned char *buf;
    size_t len;
    config *c;
} reader;

static const char *type_word(cfg_type t) {
    switch (t) {
    case CFG_INT: return "an integer";
    case CFG_FLOAT: return "a number";
    case CFG_BOOL: return "true or false";
    case CFG_PATH: return "a path";
    default: return "a string";
    }
}

/* s (n bytes) quoted for a one-line message: non-printable bytes as \n, \t, \xNN; long text cut. */
static void show(const char *s, size_t n, char *out, size_t outlen) {
    size_t o = 0;
    out[o++] = '\'';
    for (size_t i = 0; i < n && o + 8 < outlen; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (i >= 48) { memcpy(out + o, "...", 3); o += 3; break; }
        if (ch == '\n') { out[o++] = '\\'; out[o++] = 'n'; }
        else if (ch == '\t') { out[o++] = '\\'; out[o++] = 't'; }
        else if (ch < 0x20 || ch == 0x7f) o += (size_t)snprintf(out + o, outlen - o, "\\x%02x", ch);
        else out[o++] = (char)ch;
    }
    out[o++] = '\'';
    out[o] = 0;
}

static int fail(reader *r, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(reader *r, int line, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) return seterr(r->err, r->errlen, "%s:%d: %s", r->file, line, msg);
    return seterr(r->err, r->errlen, "%s: %s", r->file, msg);
}

static int line_at_offset(const reader *r, size_t off) {
    int line = 1;
    for (size_t i = 0; i < off && i < r->len; i++) line += r->buf[i] == '\n';
    return line;
}

/* The next event, or -1 with libyaml's message; anchors, aliases and tags are refused here. */
static int next(reader *r, yaml_event_t *e) {
    if (!yaml_parser_parse(&r->p, e)) {
        yaml_parser_t *p = &r->p;
        const char *problem = p->problem ? p->problem : "cannot parse";
        if (p->error == YAML_MEMORY_ERROR) return fail(r, 0, "out of memory parsing YAML");
        if (p->error == YAML_READER_ERROR) {
            if (p->problem_value != -1)
                return fail(r, line_at_offset(r, p->problem_offset), "YAML syntax error: %s (byte 0x%02x at offset %zu)",
                            problem, (unsigned)p->problem_value & 0xff, p->problem_offset);
            return fail(r, line_at_offset(r, p->problem_offset), "YAML syntax error: %s", problem);
        }
        int line = (int)p->problem_mark.line + 1;
        if (p->context)
            return fail(r, line, "YAML syntax error: %s at column %d (%s at line %d)", problem,
                        (int)p->problem_mark.column + 1, p->context, (int)p->context_mark.line + 1);
        return fail(r, line, "YAML syntax error: %s at column %d", problem, (int)p->problem_mark.column + 1);
    }
    int line = (int)e->start_mark.line + 1;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (e->type) {
    case YAML_ALIAS_EVENT:
        anchor = e->data.alias.anchor;
        yaml_event_delete(e);
        (void)anchor;
        return fail(r, line, "aliases are not supported in a config");
    case YAML_SCALAR_EVENT: anchor = e->data.scalar.anchor; tag = e->data.scalar.tag; break;
    case YAML_SEQUENCE_START_EVENT: anchor = e->data.sequence_start.anchor; tag = e->data.sequence_start.tag; break;
    case YAML_MAPPING_START_EVENT: anchor = e->data.mapping_start.anchor; tag = e->data.mapping_start.tag; break;
    default: break;
    }
    if (anchor) { yaml_event_delete(e); return fail(r, line, "anchors are not supported in a config"); }
    if (tag) {
        char t[128];
        show((const char *)tag, strlen((const char *)tag), t, sizeof t);
        yaml_event_delete(e);
        return fail(r, line, "tags are not supported in a config, found %s", t);
    }
    if (e->type == YAML_SCALAR_EVENT && e->data.scalar.length > CFG_MAX_SCALAR) {
        yaml_event_delete(e);
        return fail(r, line, "expected a scalar of at most %d bytes, found a longer one", CFG_MAX_SCALAR);
    }
    return 0;
}

/* What an unexpected event is, for "found ...". */
static void describe(const yaml_event_t *e, char *out, size_t n) {
    switch (e->type) {
    case YAML_SCALAR_EVENT:
        if (e->data.scalar.length == 0 && e->data.scalar.plain_implicit) snprintf(out, n, "nothing");
        else show((const char *)e->data.scalar.value, e->data.scalar.length, out, n);
        break;
    case YAML_SEQUENCE_START_EVENT: snprintf(out, n, "a sequence"); break;
    case YAML_MAPPING_START_EVENT: snprintf(out, n, "a mapping"); break;
    default: snprintf(out, n, "the end of the document"); break;
    }
}

static int is_null(const yaml_event_t *e) {
    if (e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) return 0;
    const char *v = (const char *)e->data.scalar.value;
    return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") || !strcmp(v, "NULL");
}

static int match_any(const char *v, const char *const *words) {
    for (; *words; words++) if (!strcmp(v, *words)) return 1;
    return 0;
}

/* A plain decimal integer: 0, or an optional sign and digits without a leading zero. */
static int parse_int(const char *v, long long *out) {
    const char *s = v;
    if (*s == '+' || *s == '-') s++;
    if (!isdigit((unsigned char)*s) || (s[0] == '0' && s[1])) return 0;
    for (const char *t = s; *t; t++) if (!isdigit((unsigned char)*t)) return 0;
    if (strlen(s) > 15) return 0;
    *out = strtoll(v, NULL, 10);
    return 1;
}

/* A plain decimal number: [sign] digits [. digits] [e [sign] digits], or [sign] . digits [...]. */
static int parse_float(const char *v, double *out) {
    const char *s = v;
    int digits = 0;
    if (*s == '+' || *s == '-') s++;
    while (isdigit((unsigned char)*s)) s++, digits++;
    if (*s == '.') { s++; while (isdigit((unsigned char)*s)) s++, digits++; }
    if (!digits) return 0;
    if (*s == 'e' || *s == 'E') {
        s++;
        if (*s == '+' || *s == '-') s++;
        if (!isdigit((unsigned char)*s)) return 0;
        while (isdigit((unsigned char)*s)) s++;
    }
    if (*s) return 0;
    errno = 0;
    *out = strtod(v, NULL);
    return isfinite(*out);
}

/* Check scalar e as the value of schema key k and store its canonical text. */
static int set_value(reader *r, int k, const yaml_event_t *e) {
    const cfg_key *key = &schema[k];
    const char *v = (const char *)e->data.scalar.value;
    size_t n = e->data.scalar.length;
    int line = (int)e->start_mark.line + 1;
    int plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    char shown[256], canon[64];
    show(v, n, shown, sizeof shown);
    if (is_null(e)) {
        if (key->flags & CFG_REQUIRED)
            return fail(r, line, "expected %s for '%s', found nothing", type_word(key->type), key->key);
        return 0; /* not set: the default stays */
    }
    if (key->type != CFG_STRING && key->type != CFG_PATH && !plain)
        return fail(r, line, "expected %s for '%s', found the quoted string %s", type_word(key->type), key->key, shown);
    const char *value = v;
    switch (key->type) {
    case CFG_INT: {
        long long x;
        if (!parse_int(v, &x))
            return fail(r, line, "expected an integer for '%s', found %s", key->key, shown);
        if ((double)x < key->min || (double)x > key->max) {
            if (key->min == key->max)
                return fail(r, line, "expected %.0f for '%s', found %lld", key->min, key->key, x);
            return fail(r, line, "expected an integer from %.0f to %.0f for '%s', found %lld", key->min, key->max, key->key, x);
        }
        if ((key->flags & CFG_POW2) && (x & (x - 1)))
            return fail(r, line, "expected a power of two for '%s', found %lld", key->key, x);
        snprintf(canon, sizeof canon, "%lld", x);
        value = canon;
        break;
    }
    case CFG_FLOAT: {
        double x;
        if (!parse_float(v, &x))
            return fail(r, line, "expected a number for '%s', found %s", key->key, shown);
        int low = (key->flags & CFG_MIN_OPEN) ? !(x > key->min) : x < key->min;
        if (low || x > key->max)
            return fail(r, line, "expected a number %s %g and at most %g for '%s', found %s",
                        (key->flags & CFG_MIN_OPEN) ? "above" : "of at least", key->min, key->max, key->key, shown);
        if (*v == '+') value = v + 1;
        break;
    }
    case CFG_BOOL: {
        static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON", NULL};
        static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF", NULL};
        if (match_any(v, yes)) value = "1";
        else if (match_any(v, no)) value = "0";
        else return fail(r, line, "expected true or false for '%s', found %s", key->key, shown);
        break;
    }
    default:
        if (strlen(v) != n)
            return fail(r, line, "expected %s for '%s', found one holding a NUL byte", type_word(key->type), key->key);
        for (size_t i = 0; i < n; i++) {
            unsigned char ch = (unsigned char)v[i];
            if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
                return fail(r, line, "expected %s without control characters for '%s', found %s", type_word(key->type), key->key, shown);
        }
        if (key->choices) {
            size_t cl = strlen(key->choices);
            int ok = 0;
            for (const char *c = key->choices; c < key->choices + cl;) {
                const char *bar = strchr(c, '|');
                size_t wl = bar ? (size_t)(bar - c) : strlen(c);
                if (wl == n && !memcmp(c, v, n)) ok = 1;
                c += wl + 1;
            }
            if (!ok) return fail(r, line, "expected one of %s for '%s', found %s", key->choices, key->key, shown);
        }
        break;
    }
    free(r->c->value[k]);
    r->c->value[k] = xstrdup(value);
    return 0;
}

/* Levenshtein distance, capped, for "did you mean". */
static int distance(const char *a, const char *b) {
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int c = d[i - 1][j - 1] + (tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]));
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

static int unknown_key(reader *r, int line, const char *prefix, const char *name, size_t n) {
    char shown[256], full[CFG_MAX_SCALAR + 64];
    size_t pl = strlen(prefix);
    memcpy(full, prefix, pl);
    memcpy(full + pl, name, n);
    full[pl + n] = 0;
    show(full, pl + n, shown, sizeof shown);
    const char *best = NULL;
    int bestd = 3;
    for (size_t i = 0; i < NKEYS; i++) {
        int dd = distance(full, schema[i].key);
        if (dd < bestd && 3 * dd <= (int)strlen(full)) bestd = dd, best = schema[i].key;
    }
    if (best) return fail(r, line, "unknown key %s (did you mean '%s'?)", shown, best);
    return fail(r, line, "unknown key %s", shown);
}

/* Is name the section (nested mapping) of some schema key, e.g. "TEXT"? */
static int is_section(const char *name) {
    size_t n = strlen(name);
    for (size_t i = 0; i < NKEYS; i++)
        if (!strncmp(schema[i].key, name, n) && schema[i].key[n] == '.') return 1;
    return 0;
}

/* The body of a mapping whose MAPPING_START has been read; prefix "" or "TEXT.". */
static int read_mapping(reader *r, const char *prefix, int depth, int *seen) {
    yaml_event_t e;
    char full[CFG_MAX_SCALAR + 64], shown[256];
    for (;;) {
        if (next(r, &e)) return -1;
        if (e.type == YAML_MAPPING_END_EVENT) { yaml_event_delete(&e); return 0; }
        int line = (int)e.start_mark.line + 1;
        if (e.type != YAML_SCALAR_EVENT) {
            describe(&e, shown, sizeof shown);
            yaml_event_delete(&e);
            return fail(r, line, "expected a key name, found %s", shown);
        }
        const char *name = (const char *)e.data.scalar.value;
        size_t n = e.data.scalar.length;
        snprintf(full, sizeof full, "%s%s", prefix, name);
        int k = -1;
        if (strlen(name) == n)
            for (size_t i = 0; i < NKEYS; i++) if (!strcmp(schema[i].key, full)) k = (int)i;
        int section = depth == 0 && strlen(name) == n && is_section(full);
        if (k < 0 && !section) {
            int rc = unknown_key(r, line, prefix, name, n);
            yaml_event_delete(&e);
            return rc;
        }
        int slot = section ? (int)NKEYS : k; /* seen[NKEYS]: the one section */
        if (seen[slot]) {
            int first = seen[slot];
            yaml_event_delete(&e);
            return fail(r, line, "duplicate key '%s' (first at line %d)", full, first);
        }
        seen[slot] = line;
        yaml_event_delete(&e);

        if (next(r, &e)) return -1;
        int vline = (int)e.start_mark.line + 1;
        if (section) {
            if (e.type == YAML_MAPPING_START_EVENT) {
                yaml_event_delete(&e);
                char sub[CFG_MAX_SCALAR + 72];
                snprintf(sub, sizeof sub, "%s.", full);
                if (read_mapping(r, sub, depth + 1, seen)) return -1;
                continue;
            }
            if (e.type == YAML_SCALAR_EVENT && is_null(&e)) { yaml_event_delete(&e); continue; }
            describe(&e, shown, sizeof shown);
            yaml_event_delete(&e);
            return fail(r, vline, "expected a mapping for '%s', found %s", full, shown);
        }
        if (e.type != YAML_SCALAR_EVENT) {
            describe(&e, shown, sizeof shown);
            yaml_event_delete(&e);
            return fail(r, vline, "expected %s for '%s', found %s", type_word(schema[k].type), full, shown);
        }
        int rc = set_value(r, k, &e);
        yaml_event_delete(&e);
        if (rc) return -1;
        r->c->line[k] = vline;
    }
}

static int read_document(reader *r) {
    yaml_event_t e;
    char shown[256];
    if (next(r, &e)) return -1;          /* STREAM_START */
    yaml_event_delete(&e);
    if (next(r, &e)) return -1;
    if (e.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&e);
        return fail(r, 1, "expected a mapping of config keys, found an empty file");
    }
    yaml_event_delete(&e);               /* DOCUMENT_START */
    if (next(r, &e)) return -1;
    int top_line = (int)e.start_mark.line + 1;
    if (e.type != YAML_MAPPING_START_EVENT) {
        describe(&e, shown, sizeof shown);
        yaml_event_delete(&e);
        return fail(r, top_line, "expected a mapping of config keys, found %s", shown);
    }
    yaml_event_delete(&e);
    int seen[NKEYS + 1];
    memset(seen, 0, sizeof seen);
    if (read_mapping(r, "", 0, seen)) return -1;
    if (next(r, &e)) return -1;          /* DOCUMENT_END */
    yaml_event_delete(&e);
    if (next(r, &e)) return -1;
    if (e.type != YAML_STREAM_END_EVENT) {
        int line = (int)e.start_mark.line + 1;
        yaml_event_delete(&e);
        return fail(r, line, "expected one YAML document, found a second");
    }
    yaml_event_delete(&e);
    for (size_t i = 0; i < NKEYS; i++)
        if ((schema[i].flags & CFG_REQUIRED) && !seen[i]) {
            /* a nested key's line is its section's, else the mapping's first */
            int line = strchr(schema[i].key, '.') && seen[NKEYS] ? seen[NKEYS] : top_line;
            return fail(r, line, "missing required key '%s'", schema[i].key);
        }
    /* Across keys: DAMSM's sentence embedding is G's condition. */
    int cd = config_index("cond_dim"), ed = config_index("TEXT.EMBEDDING_DIM"), te = config_index("text_encoder");
    if (!strcmp(r->c->value[te], "damsm") && strcmp(r->c->value[cd], r->c->value[ed]))
        return fail(r, r->c->line[cd] ? r->c->line[cd] : r->c->line[ed],
                    "expected 'cond_dim' to equal 'TEXT.EMBEDDING_DIM' with text_encoder damsm, found %s and %s",
                    r->c->value[cd], r->c->value[ed]);
    return 0;
}

/* The file's name without folders and ".yml"/".yaml": CONFIG_NAME's default. */
static char *stem(const char *path) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    size_t n = strlen(b);
    if (n > 4 && !strcmp(b + n - 4, ".yml")) n -= 4;
    else if (n > 5 && !strcmp(b + n - 5, ".yaml")) n -= 5;
    char *s = xmalloc(n + 1);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)b[i];
        if (ch >= 0x20 && ch != 0x7f) s[o++] = (char)ch;
    }
    s[o] = 0;
    return s;
}

int config_load(config *c, const char *path, char *err, size_t errlen) {
    memset(c, 0, sizeof *c);
    reader r = {.file = path, .err = err, .errlen = errlen, .c = c};
    FILE *f = fopen(path, "rb");
    if (!f) return fail(&r, 0, "expected a readable config file, found %s", strerror(errno));
    unsigned char *buf = xmalloc(CFG_MAX_FILE + 1);
    size_t len = fread(buf, 1, CFG_MAX_FILE + 1, f);
    int rerr = ferror(f);
    fclose(f);
    if (rerr) { free(buf); return fail(&r, 0, "expected a readable config file, found a read error"); }
    if (len > CFG_MAX_FILE) { free(buf); return fail(&r, 0, "expected a config of at most %d bytes, found a larger file", CFG_MAX_FILE); }
    r.buf = buf;
    r.len = len;

    c->file = xstrdup(path);
    c->n = NKEYS;
    c->value = xcalloc(NKEYS, sizeof *c->value);
    c->line = xcalloc(NKEYS, sizeof *c->line);
    for (size_t i = 0; i < NKEYS; i++) c->value[i] = xstrdup(schema[i].def ? schema[i].def : "");
    int ci = config_index("CONFIG_NAME");
    free(c->value[ci]);
    c->value[ci] = stem(path);

    if (!yaml_parser_initialize(&r.p)) { free(buf); config_free(c); return fail(&r, 0, "out of memory"); }
    yaml_parser_set_input_string(&r.p, buf, len);
    int rc = read_document(&r);
    yaml_parser_delete(&r.p);
    free(buf);
    if (rc) config_free(c);
    return rc;
}

void config_free(config *c) {
    if (c->value) for (size_t i = 0; i < c->n; i++) free(c->value[i]);
    free(c->value);
    free(c->line);
    free(c->file);
    memset(c, 0, sizeof *c);
}

const char *config_get(const config *c, const char *key) {
    int i = config_index(key);
    return i < 0 ? NULL : c->value[i];
}

long config_int(const config *c, const char *key) {
    int i = config_index(key);
    return i < 0 || schema[i].type != CFG_INT ? 0 : strtol(c->value[i], NULL, 10);
}

double config_float(const config *c, const char *key) {
    int i = config_index(key);
    return i < 0 || (schema[i].type != CFG_FLOAT && schema[i].type != CFG_INT) ? 0 : strtod(c->value[i], NULL);
}

int config_bool(const config *c, const char *key) {
    int i = config_index(key);
    return i >= 0 && schema[i].type == CFG_BOOL && !strcmp(c->value[i], "1");
}

/* ---- Make ---- */

char *config_make_quote(const char *v) {
    size_t n = strlen(v);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if ((ch < 0x20 && ch != '\t') || ch == 0x7f) return NULL;
    }
    char *out = xmalloc(4 * n + 8), *o = out;
    if (n && (v[0] == ' ' || v[0] == '\t')) o = stpcpy(o, "$()");
    for (size_t i = 0; i < n;) {
        if (v[i] == '\\') {
            size_t k = 0;
            while (i + k < n && v[i + k] == '\\') k++;
            /* Before '#', Make halves a run of backslashes and an odd run escapes the '#': write
             * 2k+1. At the end of the line a run would continue the line: keep it, add "$()". */
            size_t w = i + k < n && v[i + k] == '#' ? 2 * k + 1 : k;
            for (size_t j = 0; j < w; j++) *o++ = '\\';
            if (i + k < n && v[i + k] == '#') { *o++ = '#'; k++; }
            else if (i + k == n) o = stpcpy(o, "$()");
            i += k;
            continue;
        }
        if (v[i] == '$') { *o++ = '$'; *o++ = '$'; }
        else if (v[i] == '#') { *o++ = '\\'; *o++ = '#'; }
        else *o++ = v[i];
        i++;
    }
    if (n && (v[n - 1] == ' ' || v[n - 1] == '\t')) o = stpcpy(o, "$()");
    *o = 0;
    return out;
}
