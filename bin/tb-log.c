/* tb-log: a run's values as a TensorBoard event file (lib/io/tfevents.h), so that
 * `tensorboard --logdir runs` shows the run: scalars from the command line, from the per-batch JSON
 * lines of the step tools (--log) and from a metrics CSV, and PNG images (the sample grid).
 *
 * One call writes one file, DIR/events.out.tfevents.<secs>.<host>.<KEY>, and a later call with the
 * same KEY replaces it (under its first name) instead of adding another. That is what makes the
 * pipelines' calls safe to repeat: TensorBoard shows every event of every file in the folder, so
 * appending to one growing file would duplicate an epoch's events whenever a call is repeated (a
 * resume after kill -9 repeats the recipe whose target was not yet committed) and a torn append
 * would lose the rest of the file; rewriting everything from the run's files each epoch would be
 * idempotent too but copies every earlier sample grid again each epoch. With one file per call,
 * made whole in memory first, written to a temp file and renamed into place, a file is either
 * absent or complete, and repeating a call (its KEY names the epoch and the kind, e.g.
 * e003-losses) gives the same file again. The pipelines (pipelines/common.mk) call tb-log before an
 * epoch's outputs are moved into place, so a kill in between repeats both; the grid and the test
 * are logged just after their file is made, which make deletes when the call fails or make is
 * interrupted (only a kill -9 in that moment leaves one unlogged). Temp names hold no "tfevents",
 * so TensorBoard never reads one; a stale one of the same KEY is removed. Nothing here runs a shell.
 *
 * Events: the file_version first; then the --scalar and --image values at --step (one event); then
 * one event per JSON line (step = --step-base + its "batch"), then one per CSV row (step = its first
 * column). Values are stored as float (TensorBoard's simple_value); nan and inf are kept as they
 * are (a diverging run shows them). */
#include "core/atomic_file.h"
#include "core/common.h"
#include "core/toolopts.h"
#include "io/tfevents.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: tb-log --dir DIR --key KEY [--step N] [--scalar TAG=VALUE]... [--image TAG=FILE.png]...\n"
    "              [--jsonl FILE [--step-base B]] [--csv FILE [--columns LIST] [--csv-step N]]\n"
    "              [--prefix P] [--rename NAME=TAG]... [--wall-time SECS]\n"
    "\n"
    "Write the values given as one TensorBoard event file in DIR (a run's tb/ folder, for\n"
    "`tensorboard --logdir`): DIR/events.out.tfevents.<secs>.<host>.<KEY>, written atomically. A later\n"
    "call with the same KEY replaces that file (keeping its name) rather than adding another, so a\n"
    "call repeated after a crash or on resume neither duplicates nor loses events: give each call\n"
    "its own KEY (e.g. e003-losses, e003-grid) and repeat it freely. Values are stored as float.\n"
    "\n"
    "sources (any mix, at least one):\n"
    "  --scalar TAG=VALUE  a scalar at --step (repeatable; split at the last '=')\n"
    "  --image TAG=FILE    a PNG image at --step, its bytes as they are (repeatable; split at the\n"
    "                      first '=')\n"
    "  --step N            the step of --scalar and --image (default 0)\n"
    "  --jsonl FILE        JSON lines of flat objects, {\"batch\": K, \"NAME\": VALUE, ...} each (the step\n"
    "                      tools' --log): every number NAME a scalar at step B+K\n"
    "  --step-base B       added to the batch numbers of --jsonl (default 0), e.g. (epoch-1)*batches\n"
    "  --csv FILE          a CSV (no quoting): a header line of column names, then rows; the first\n"
    "                      column is the step, every other cell holding a number a scalar tagged\n"
    "                      with its column's name; empty and text cells are skipped\n"
    "  --columns LIST      the column names of a CSV without a header line (comma separated)\n"
    "  --csv-step N        only the CSV row whose step is N (one must be there)\n"
    "\n"
    "tags and times:\n"
    "  --prefix P          put before the tags from --jsonl and --csv (e.g. batch/)\n"
    "  --rename NAME=TAG   the JSON key or column NAME is tagged TAG, without the prefix; TAG - leaves\n"
    "                      it out (repeatable; e.g. --rename fid=FID as DF-GAN names it)\n"
    "  --wall-time SECS    the events' time, seconds since 1970 (default: now)\n"
    "  --device cpu        the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help          this help\n"
    "\n"
    "DIR is made when missing (its parent must exist). One call per KEY at a time.\n"
    "Exit status: 0 ok, 2 bad usage or bad input, 1 a write failure.\n";

enum { MAX_ITEMS = 256, MAX_TAG = 256, MAX_KEY = 64, MAX_IMAGE = 1 << 30, MAX_COLS = 256 };

typedef struct { const char *tag, *text; } item;   /* TAG and VALUE or FILE */

typedef struct {
    const char *dir, *key, *jsonl, *csv, *columns, *prefix;
    long step, step_base, csv_step;
    int has_csv_step;
    double wall_time;
    item scalars[MAX_ITEMS], images[MAX_ITEMS], renames[MAX_ITEMS];
    int nscalar, nimage, nrename;
} options;

/* TAG=REST split at the first (or last) '=' into it */
static void split_item(const char *flag, char *arg, int last, item *it) {
    char *eq = last ? strrchr(arg, '=') : strchr(arg, '=');
    if (!eq || eq == arg || !eq[1]) die_usage("%s expects TAG=%s, found '%s'", flag, last ? "VALUE" : "FILE", arg);
    *eq = 0;
    it->tag = arg;
    it->text = eq + 1;
}

static void add_item(const char *flag, char *arg, int last, item *list, int *n) {
    if (*n == MAX_ITEMS) die_usage("%s: expected at most %d of them, found more", flag, MAX_ITEMS);
    split_item(flag, arg, last, &list[(*n)++]);
}

/* a tag: 1..MAX_TAG bytes, no control characters */
static void check_tag(const char *where, const char *tag) {
    char shown[96];
    size_t n = strlen(tag);
    int ok = n > 0 && n <= MAX_TAG;
    for (size_t i = 0; ok && i < n; i++) ok = (unsigned char)tag[i] >= 0x20 && tag[i] != 0x7f;
    if (!ok) die_usage("%s: expected a tag of 1..%d printable bytes, found '%s'", where, MAX_TAG, show_key(shown, sizeof shown, tag));
}

static void parse(options *o, int argc, char **argv) {
    enum { DIR_ = TOPT_FIRST, KEY, STEP, SCALAR, IMAGE, JSONL, STEP_BASE, CSV, COLUMNS, CSV_STEP, PREFIX, RENAME, WALL };
    static const struct option longopts[] = {
        {"dir", 1, 0, DIR_}, {"key", 1, 0, KEY}, {"step", 1, 0, STEP}, {"scalar", 1, 0, SCALAR},
        {"image", 1, 0, IMAGE}, {"jsonl", 1, 0, JSONL}, {"step-base", 1, 0, STEP_BASE}, {"csv", 1, 0, CSV},
        {"columns", 1, 0, COLUMNS}, {"csv-step", 1, 0, CSV_STEP}, {"prefix", 1, 0, PREFIX},
        {"rename", 1, 0, RENAME}, {"wall-time", 1, 0, WALL}, {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->prefix = "";
    o->wall_time = -1;
    const long big = 1L << 53;   /* steps TensorBoard's float64 axis keeps exact */
    toolopts t;
    topt_begin(&t, argc, argv, usage, "", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case DIR_: o->dir = optarg; break;
        case KEY: o->key = optarg; break;
        case STEP: o->step = parse_long("--step", optarg, -big, big); break;
        case SCALAR: add_item("--scalar", optarg, 1, o->scalars, &o->nscalar); break;
        case IMAGE: add_item("--image", optarg, 0, o->images, &o->nimage); break;
        case JSONL: o->jsonl = optarg; break;
        case STEP_BASE: o->step_base = parse_long("--step-base", optarg, 0, big); break;
        case CSV: o->csv = optarg; break;
        case COLUMNS: o->columns = optarg; break;
        case CSV_STEP: o->csv_step = parse_long("--csv-step", optarg, -big, big); o->has_csv_step = 1; break;
        case PREFIX: o->prefix = optarg; break;
        case RENAME: add_item("--rename", optarg, 0, o->renames, &o->nrename); break;
        case WALL:
            o->wall_time = parse_double("--wall-time", optarg);
            if (!(o->wall_time >= 0) || !isfinite(o->wall_time))
                die_usage("--wall-time expects seconds since 1970 (a finite number >= 0), found '%s'", optarg);
            break;
        }
    }
    topt_end(&t);
    if (!o->dir || !*o->dir) die_usage("expected --dir DIR, found none");
    if (!o->key) die_usage("expected --key KEY, found none");
    int ok = isalpha((unsigned char)o->key[0]) && strlen(o->key) <= MAX_KEY;
    for (const char *s = o->key; ok && *s; s++) ok = isalnum((unsigned char)*s) || *s == '-' || *s == '_';
    char shown[96];
    if (!ok)
        die_usage("--key expects a letter, then letters, digits, '-' or '_' (%d at most), found '%s'", MAX_KEY,
                  show_key(shown, sizeof shown, o->key));
    if (!o->nscalar && !o->nimage && !o->jsonl && !o->csv)
        die_usage("expected a source (--scalar, --image, --jsonl or --csv), found none");
    if ((o->columns || o->has_csv_step) && !o->csv) die_usage("expected --csv with --columns and --csv-step, found no --csv");
    if (o->step_base && !o->jsonl) die_usage("expected --jsonl with --step-base, found no --jsonl");
    for (int i = 0; i < o->nscalar; i++) check_tag("--scalar", o->scalars[i].tag);
    for (int i = 0; i < o->nimage; i++) check_tag("--image", o->images[i].tag);
    for (int i = 0; i < o->nrename; i++)
        if (strcmp(o->renames[i].text, "-")) check_tag("--rename", o->renames[i].text);
    if (strlen(o->prefix) > MAX_TAG) die_usage("--prefix: expected at most %d bytes, found more", MAX_TAG);
}

/* ---- the output folder: checked before any input is read ---- */
static int dir_exists(const char *dir) {
    struct stat st;
    if (stat(dir, &st) != 0) return 0;
    if (!S_ISDIR(st.st_mode)) die_usage("--dir: expected a folder, found '%s' is not one", dir);
    return 1;
}

static void check_dir(const char *dir) {
    if (dir_exists(dir)) {
        if (access(dir, W_OK | X_OK) != 0) die_usage("--dir: expected a writable folder, found '%s': %s", dir, strerror(errno));
        return;
    }
    /* the parent: "a/b" and "a/b/" -> "a", "b" -> ".", "/b" -> "/" */
    char *parent = xstrdup(dir);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = 0;
    char *slash = strrchr(parent, '/');
    if (!slash) strcpy(parent, ".");
    else slash[slash == parent] = 0;
    if (access(parent, W_OK | X_OK) != 0)
        die_usage("--dir: expected '%s' or a writable folder to make it in, found '%s': %s", dir, parent, strerror(errno));
    free(parent);
}

/* ---- the tag of a JSON key or CSV column: renamed, or the prefix and the name (NULL: left out) ---- */
static const char *tag_of(const options *o, const char *where, const char *name, char *out, size_t n) {
    for (int i = 0; i < o->nrename; i++)
        if (!strcmp(o->renames[i].tag, name)) return strcmp(o->renames[i].text, "-") ? o->renames[i].text : NULL;
    snprintf(out, n, "%s%s", o->prefix, name);
    check_tag(where, out);
    return out;
}

/* ---- --jsonl: flat objects, one a line ---- */
static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t' || *s == '\r') s++;
    return s;
}

/* what a message says was found at p */
static const char *found_at(const char *p) { return *p == '\n' || !*p ? "the end of the line" : "another token"; }

/* a JSON string at s (after its opening quote) into out (NULL: skipped); the end after the closing
 * quote, or NULL */
static const char *json_string(const char *s, char *out, size_t n) {
    size_t k = 0;
    for (; *s && *s != '"'; s++) {
        char c = *s;
        if ((unsigned char)c < 0x20) return NULL;
        if (c == '\\') {
            c = *++s;
            if (c != '"' && c != '\\' && c != '/') return NULL;   /* the step tools' keys need no other escape */
        }
        if (!out) continue;
        if (k + 1 < n) out[k++] = c;
        else return NULL;
    }
    if (*s != '"') return NULL;
    if (out) out[k] = 0;
    return s + 1;
}

static void jsonl_events(const options *o, FILE *out, double wall) {
    FILE *f = fopen(o->jsonl, "r");
    if (!f) die_usage("--jsonl: expected a readable file, found '%s': %s", o->jsonl, strerror(errno));
    char *line = NULL, key[MAX_TAG + 1], tag[2 * MAX_TAG + 2], where[64];
    size_t cap = 0;
    long lineno = 0;
    tfe_summary s = {0};
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        snprintf(where, sizeof where, "--jsonl line %ld", lineno);
        const char *p = skip_ws(line);
        if (*p == '\n' || !*p) continue;
        if (*p++ != '{') die_usage("--jsonl: expected a JSON object in line %ld of '%s', found another value", lineno, o->jsonl);
        double batch = NAN;
        int has_batch = 0;
        tfe_summary_clear(&s);
        p = skip_ws(p);
        if (*p == '}') die_usage("--jsonl: expected \"batch\" in line %ld of '%s', found an empty object", lineno, o->jsonl);
        for (;;) {
            const char *q = *p == '"' ? json_string(p + 1, key, sizeof key) : NULL;
            if (!q) die_usage("--jsonl: expected a plain quoted key (at most %d bytes) in line %ld of '%s', found %s", MAX_TAG, lineno, o->jsonl, found_at(p));
            p = skip_ws(q);
            if (*p != ':') die_usage("--jsonl: expected ':' after \"%s\" in line %ld of '%s', found %s", key, lineno, o->jsonl, found_at(p));
            p++;
            p = skip_ws(p);
            char *end;
            double v = strtod(p, &end);
            if (end != p) {   /* a number (nan and inf as the tools print them) */
                p = end;
                if (!strcmp(key, "batch")) { batch = v; has_batch = 1; }
                else {
                    const char *t = tag_of(o, where, key, tag, sizeof tag);
                    if (t) tfe_summary_scalar(&s, t, (float)v);
                }
            } else if (*p == '"') {   /* a string: no scalar */
                if (!(p = json_string(p + 1, NULL, 0)))
                    die_usage("--jsonl: expected a plain string value for \"%s\" in line %ld of '%s', found another token", key, lineno, o->jsonl);
            } else if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) {
                p += 4;
            } else if (!strncmp(p, "false", 5)) {
                p += 5;
            } else {
                die_usage("--jsonl: expected a number, string, true, false or null for \"%s\" in line %ld of '%s', found %s", key, lineno, o->jsonl,
                          *p == '\n' || !*p ? "the end of the line" : "another value");
            }
            p = skip_ws(p);
            if (*p == ',') { p = skip_ws(p + 1); continue; }
            if (*p == '}') break;
            die_usage("--jsonl: expected ',' or '}' after \"%s\" in line %ld of '%s', found %s", key, lineno, o->jsonl, found_at(p));
        }
        p = skip_ws(p + 1);
        if (*p && *p != '\n') die_usage("--jsonl: expected the end of line %ld of '%s' after its object, found more", lineno, o->jsonl);
        if (!(batch >= 0 && batch <= 9007199254740992.0 && batch == floor(batch)))
            die_usage("--jsonl: expected \"batch\": a whole number >= 0 in line %ld of '%s', found %s", lineno, o->jsonl,
                      has_batch ? "another number" : "none");
        if (o->step_base + batch > 9007199254740992.0)
            die_usage("--jsonl: expected --step-base + batch <= 2^53 in line %ld of '%s', found more", lineno, o->jsonl);
        if (tfe_write_summary(out, wall, (int64_t)(o->step_base + batch), &s) != 0) die_runtime("expected to build the events, found %s", strerror(errno));
    }
    if (ferror(f)) die_usage("--jsonl: expected to read '%s', found %s", o->jsonl, strerror(errno));
    fclose(f);
    free(line);
    tfe_summary_free(&s);
}

/* ---- --csv ---- */
static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n')) *--e = 0;
    return s;
}

/* split s (modified) at commas into at most MAX_COLS trimmed fields */
static int split_csv(const char *what, char *s, char **f) {
    int n = 0;
    for (;;) {
        if (n == MAX_COLS) die_usage("%s: expected at most %d columns, found more", what, MAX_COLS);
        char *c = strchr(s, ',');
        if (c) *c = 0;
        f[n++] = trim(s);
        if (!c) return n;
        s = c + 1;
    }
}

static void csv_events(const options *o, FILE *out, double wall) {
    FILE *f = fopen(o->csv, "r");
    if (!f) die_usage("--csv: expected a readable file, found '%s': %s", o->csv, strerror(errno));
    char *line = NULL, *head = NULL, *names[MAX_COLS], *fld[MAX_COLS], tag[2 * MAX_TAG + 2];
    size_t cap = 0;
    long lineno = 0, found = 0;
    int ncol;
    if (o->columns) {
        head = xstrdup(o->columns);
        ncol = split_csv("--columns", head, names);
    } else {
        if (getline(&line, &cap, f) < 0) die_usage("--csv: expected a header line in '%s', found an empty file", o->csv);
        lineno = 1;
        head = xstrdup(line);
        ncol = split_csv("--csv", head, names);
    }
    if (ncol < 2) die_usage("--csv: expected at least 2 columns (the step, then values) in '%s', found %d", o->csv, ncol);
    for (int j = 1; j < ncol; j++)
        if (!*names[j]) die_usage("--csv: expected a name for column %d of '%s', found none", j + 1, o->csv);
    tfe_summary s = {0};
    while (getline(&line, &cap, f) >= 0) {
        lineno++;
        if (!*trim(line)) continue;
        int n = split_csv("--csv", line, fld);
        if (n != ncol) die_usage("--csv: expected %d fields in line %ld of '%s', found %d", ncol, lineno, o->csv, n);
        char *end;
        errno = 0;
        long long step = strtoll(fld[0], &end, 10);
        if (!*fld[0] || *end || errno || llabs(step) > (1LL << 53))
            die_usage("--csv: expected a whole-number step in the first column of line %ld of '%s', found '%s'", lineno, o->csv, fld[0]);
        if (o->has_csv_step && step != o->csv_step) continue;
        found++;
        tfe_summary_clear(&s);
        for (int j = 1; j < ncol; j++) {
            double v = strtod(fld[j], &end);
            if (!*fld[j] || *end) continue;   /* empty or text */
            const char *t = tag_of(o, "--csv", names[j], tag, sizeof tag);
            if (t) tfe_summary_scalar(&s, t, (float)v);
        }
        if (tfe_write_summary(out, wall, step, &s) != 0) die_runtime("expected to build the events, found %s", strerror(errno));
    }
    if (ferror(f)) die_usage("--csv: expected to read '%s', found %s", o->csv, strerror(errno));
    if (o->has_csv_step && found != 1)
        die_usage("--csv: expected one row of step %ld in '%s', found %ld", o->csv_step, o->csv, found);
    fclose(f);
    free(line);
    free(head);
    tfe_summary_free(&s);
}

/* ---- --image: the PNG's bytes ---- */
static unsigned char *read_png(const char *path, size_t *n, int *h, int *w, int *cs) {
    FILE *f = fopen(path, "rb");
    if (!f) die_usage("--image: expected a readable PNG file, found '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode))
        die_usage("--image: expected a regular PNG file, found '%s' is not one", path);
    if (st.st_size > MAX_IMAGE) die_usage("--image: expected a PNG of at most %d bytes, found '%s' of %lld", MAX_IMAGE, path, (long long)st.st_size);
    unsigned char *p = xmalloc(st.st_size ? (size_t)st.st_size : 1);
    *n = fread(p, 1, (size_t)st.st_size, f);
    if (*n != (size_t)st.st_size || ferror(f)) die_usage("--image: expected to read '%s', found %s", path, ferror(f) ? strerror(errno) : "it shorter");
    fclose(f);
    char err[256];
    if (tfe_png_info(p, *n, h, w, cs, err, sizeof err) != 0) die_usage("--image: '%s': %s", path, err);
    return p;
}

/* ---- the file: its name (an earlier one of the same KEY, else a new one) and its atomic write ---- */
static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int is_key_file(const char *name, const char *key) {
    static const char pre[] = "events.out.tfevents.";
    if (strncmp(name, pre, sizeof pre - 1)) return 0;
    const char *s = name + sizeof pre - 1, *d = s;
    while (isdigit((unsigned char)*d)) d++;
    if (d == s || *d != '.') return 0;
    size_t n = strlen(d), k = strlen(key);
    return n > k + 2 && d[n - k - 1] == '.' && !strcmp(d + n - k, key);   /* ".<host>.<key>", host not empty */
}

static void host_name(char *out, size_t n) {
    if (gethostname(out, n) != 0 || !*out) snprintf(out, n, "localhost");
    out[n - 1] = 0;
    for (char *s = out; *s; s++)
        if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' && *s != '.') *s = '_';
}

static void sync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0 || fsync(fd) != 0) die_runtime("--dir: expected to sync '%s', found %s", dir, strerror(errno));
    close(fd);
}

static char *join(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

static void write_file(const options *o, const unsigned char *data, size_t n, double wall) {
    if (mkdir(o->dir, 0777) != 0 && errno != EEXIST) die_usage("--dir: expected to make '%s', found %s", o->dir, strerror(errno));
    if (!dir_exists(o->dir)) die_usage("--dir: expected a folder, found no '%s'", o->dir);
    /* the temp: ".tb-log.<KEY>" through atomic_file (its own temp ".<that>.tmp.XXXXXX"), then renamed */
    char part_name[MAX_KEY + 16], tmp_prefix[MAX_KEY + 24];
    snprintf(part_name, sizeof part_name, ".tb-log.%s", o->key);
    snprintf(tmp_prefix, sizeof tmp_prefix, "%s.tmp.", part_name);
    DIR *d = opendir(o->dir);
    if (!d) die_usage("--dir: expected a readable folder, found '%s': %s", o->dir, strerror(errno));
    char **same = NULL;   /* earlier files of this KEY, sorted */
    size_t nsame = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (is_key_file(e->d_name, o->key)) {
            same = xrealloc(same, (nsame + 1) * sizeof *same);
            same[nsame++] = xstrdup(e->d_name);
        } else if (!strncmp(e->d_name + 1, tmp_prefix, strlen(tmp_prefix)) && e->d_name[0] == '.') {
            char *stale = join(o->dir, e->d_name);   /* a temp a killed call left */
            unlink(stale);
            free(stale);
        }
    }
    closedir(d);
    if (nsame > 1) qsort(same, nsame, sizeof *same, cmp_names);
    char fresh[512], host[256];
    if (!nsame) {
        host_name(host, sizeof host);
        tfe_file_name(fresh, sizeof fresh, (long)floor(wall), host, o->key);
    }
    const char *name = nsame ? same[0] : fresh;

    char *part = join(o->dir, part_name), *final = join(o->dir, name);
    atomic_file *af = af_open(part);
    if (n && fwrite(data, 1, n, af_stream(af)) != n) die_runtime("expected to write '%s', found %s", part, strerror(errno));
    af_commit(af);
    if (rename(part, final) != 0) die_runtime("expected to rename '%s' to '%s', found %s", part, final, strerror(errno));
    for (size_t i = 1; i < nsame; i++) {   /* more than one of the same KEY: keep the first only */
        char *extra = join(o->dir, same[i]);
        if (unlink(extra) != 0 && errno != ENOENT) die_runtime("expected to remove '%s', found %s", extra, strerror(errno));
        free(extra);
    }
    sync_dir(o->dir);
    for (size_t i = 0; i < nsame; i++) free(same[i]);
    free(same);
    free(part);
    free(final);
}

int main(int argc, char **argv) {
    progname = "tb-log";
    options o;
    parse(&o, argc, argv);
    check_dir(o.dir);
    double wall = o.wall_time;
    if (wall < 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        wall = (double)ts.tv_sec + ts.tv_nsec * 1e-9;
    }

    /* every event in memory first: bad input leaves nothing on disk */
    char *mem = NULL;
    size_t n = 0;
    FILE *out = open_memstream(&mem, &n);
    if (!out) die_runtime("expected memory for the events, found %s", strerror(errno));
    if (tfe_write_file_version(out, wall) != 0) die_runtime("expected to build the events, found %s", strerror(errno));
    tfe_summary s = {0};
    for (int i = 0; i < o.nscalar; i++) {
        double v = parse_double("--scalar", o.scalars[i].text);
        tfe_summary_scalar(&s, o.scalars[i].tag, (float)v);
    }
    for (int i = 0; i < o.nimage; i++) {
        size_t len;
        int h, w, cs;
        unsigned char *png = read_png(o.images[i].text, &len, &h, &w, &cs);
        tfe_summary_image(&s, o.images[i].tag, h, w, cs, png, len);
        free(png);
    }
    if (tfe_write_summary(out, wall, o.step, &s) != 0) die_runtime("expected to build the events, found %s", strerror(errno));
    tfe_summary_free(&s);
    if (o.jsonl) jsonl_events(&o, out, wall);
    if (o.csv) csv_events(&o, out, wall);
    if (fclose(out) != 0) die_runtime("expected memory for the events, found %s", strerror(errno));

    write_file(&o, (const unsigned char *)mem, n, wall);
    free(mem);
    return 0;
}
