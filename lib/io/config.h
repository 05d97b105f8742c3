/* config.h: the YAML run configuration (cfg/NAME.yml), read with libyaml against a fixed schema.
 *
 * A config is one YAML mapping with DF-GAN's seed keys (imsize, z_dim, cond_dim, batch_size, nf,
 * max_epoch, ..., and the nested TEXT mapping) plus this project's (lambda_clip, the weight files,
 * device, text_encoder). config_schema() lists every key with its type, whether it is required,
 * its default and its constraint; `bin/cfg schema` prints the table.
 *
 * Reading is strict, so that a typo stops a pipeline before it trains for a day with a default:
 * unknown keys, missing required keys, duplicate keys, values of the wrong type or out of range
 * are errors. So are anchors, aliases and tags (a config has no use for them, and refusing them
 * makes "billion laughs" documents harmless), more than one document, and files over
 * CFG_MAX_FILE bytes. The parser reads libyaml's events and stops at the first one it does not
 * expect, so nesting depth never grows past the schema's two levels.
 *
 * Values are kept as canonical text (what `cfg get` prints and `cfg make` assigns):
 *   int     decimal, as written, without a leading '+' (leading zeros are refused: YAML 1.1 reads
 *           010 as octal 8)
 *   float   as written (a plain decimal or exponent number: 0.01, 1e-4; .inf and .nan refused)
 *   bool    1 or 0 (YAML 1.1 plain true/false/yes/no/on/off in any of the three cases)
 *   string  the scalar's text; a plain null (empty, ~, null) means "not set"
 *   path    a string naming a file, relative to where make runs (the repository root); its
 *           existence is not checked here: the pipelines say how to get missing weights
 * A quoted scalar is a string in YAML, so `imsize: "256"` is refused. Strings and paths may not
 * hold control characters but tab (newlines included): every value must survive a Make
 * assignment. What a pipeline may then do with a path (a Make word, a word in a recipe's quotes)
 * is checked where it is used: pipelines/guard.mk, pipelines/real.mk. */
#ifndef DFGAN_CONFIG_H
#define DFGAN_CONFIG_H

#include <stddef.h>

#define CFG_MAX_FILE   (1 << 20) /* bytes of YAML */
#define CFG_MAX_SCALAR 4096      /* bytes of one key or value */

typedef enum { CFG_INT, CFG_FLOAT, CFG_BOOL, CFG_STRING, CFG_PATH } cfg_type;

enum {
    CFG_REQUIRED = 1,  /* no default: the file must set it */
    CFG_POW2 = 2,      /* int: a power of two */
    CFG_MIN_OPEN = 4,  /* float: strictly above min */
};

typedef struct {
    const char *key;     /* YAML key; a nested key as "TEXT.WORDS_NUM" */
    cfg_type type;
    unsigned flags;      /* CFG_REQUIRED, CFG_POW2, CFG_MIN_OPEN */
    const char *def;     /* default as canonical text (NULL when required; "" for none) */
    double min, max;     /* int and float: the allowed range (inclusive unless CFG_MIN_OPEN) */
    const char *choices; /* string: the allowed values, "cpu|cuda"; NULL for any */
    const char *doc;     /* one line for `cfg schema` */
} cfg_key;

/* The schema: *n entries, in the order `cfg make` prints them. */
const cfg_key *config_schema(size_t *n);

typedef struct {
    char *file;     /* the path it was read from */
    size_t n;       /* = the schema's size */
    char **value;   /* canonical text per schema entry, defaults filled in */
    int *line;      /* 1-based line where the file set it; 0 for a default */
} config;

/* Read and validate path into c. On failure returns -1 with one line in err,
 * "FILE:LINE: what was expected, what was found" (FILE alone when there is no line), and c holds
 * nothing to free. */
int config_load(config *c, const char *path, char *err, size_t errlen);
void config_free(config *c);

/* The schema index of key ("imsize", "TEXT.WORDS_NUM", or its Make name "TEXT_WORDS_NUM"), or -1. */
int config_index(const char *key);
/* A key's canonical value, or NULL for a key not in the schema. */
const char *config_get(const config *c, const char *key);
long config_int(const config *c, const char *key);      /* 0 for a key of another type */
double config_float(const config *c, const char *key);  /* ints read as floats too */
int config_bool(const config *c, const char *key);

/* The Make variable name of schema key k: upper case, '.' replaced by '_' ("TEXT_WORDS_NUM"),
 * written into out (size n). */
void config_make_name(const cfg_key *k, char *out, size_t n);

/* value quoted for the right-hand side of a GNU Make ":=" assignment, so that the variable holds
 * exactly value: '$' doubled, '#' escaped with its preceding backslashes doubled, a trailing
 * backslash and leading or trailing blanks protected with "$()". Returns a malloc'd string, or
 * NULL when value holds a newline or another control character but tab (Make cannot hold it in
 * one assignment line). */
char *config_make_quote(const char *value);

#endif
