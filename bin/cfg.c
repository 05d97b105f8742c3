/* cfg: check a YAML run config (cfg/NAME.yml) and hand it to Make.
 *
 *   cfg check FILE.yml                  validate; silent, exit 0 when good
 *   cfg make FILE.yml [--prefix P] [-o OUT]   Make assignments for every key, defaults filled in
 *   cfg get FILE.yml KEY                one value
 *   cfg schema                          the keys: type, default, constraint
 *
 * The schema and the reading rules are in lib/config.{h,c}. A pipeline includes the assignments:
 *   $(RUN)/config.mk: cfg/bird.yml bin/cfg ; bin/cfg make $< -o $@
 * (-o writes atomically: with "> $@" a refused config would leave an empty config.mk that the
 * next make takes as up to date)
 *   include $(RUN)/config.mk
 * and a variable given on make's command line (MAX_EPOCH=3) still wins over the file's. */
#include "core/common.h"
#include "core/toolopts.h"
#include "core/atomic_file.h"
#include "io/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
    "usage: cfg check FILE.yml\n"
    "       cfg make FILE.yml [--prefix PREFIX] [-o OUT.mk]\n"
    "       cfg get FILE.yml KEY\n"
    "       cfg schema\n"
    "Read a run config (one YAML mapping with DF-GAN's keys, the nested TEXT mapping, and\n"
    "lambda_clip, the weight files, device) and check it against the schema (`cfg schema`):\n"
    "unknown, missing required and duplicate keys, wrong types, values out of range, anchors,\n"
    "aliases and tags are errors.\n"
    "  check   print nothing; exit 0 when the file is good\n"
    "  make    print \"NAME := VALUE\" for every key, defaults filled in: NAME is the key upper-cased\n"
    "          with nested keys joined by '_' (TEXT.WORDS_NUM -> TEXT_WORDS_NUM), after PREFIX;\n"
    "          VALUE is quoted for Make ($ # \\ and blanks kept); booleans are 1 or 0;\n"
    "          -o writes OUT.mk atomically (never an empty or half-written file) instead of stdout\n"
    "  get     print one value (KEY as in the file, TEXT.WORDS_NUM, or its Make name)\n"
    "  schema  print the keys: name, type, default (or 'required'), allowed values, meaning\n"
    "  --device cpu   the CPU only (no CUDA path; cuda is refused)\n"
    "Exit status: 0 ok, 2 bad usage or a bad config (one line on stderr: FILE:LINE: what was\n"
    "expected, what was found), 1 a write failure.\n";

static const char *type_name(cfg_type t) {
    static const char *const names[] = {"int", "float", "bool", "string", "path"};
    return names[t];
}

static void load(config *c, const char *path) {
    char err[1024];
    if (config_load(c, path, err, sizeof err)) die_usage("%s", err);
}

static void print_schema(void) {
    size_t n;
    const cfg_key *k = config_schema(&n);
    for (size_t i = 0; i < n; i++) {
        char range[96] = "";
        if (k[i].choices) snprintf(range, sizeof range, "%s", k[i].choices);
        else if (k[i].type == CFG_INT)
            snprintf(range, sizeof range, "%.0f..%.0f%s", k[i].min, k[i].max, k[i].flags & CFG_POW2 ? ", power of 2" : "");
        else if (k[i].type == CFG_FLOAT)
            snprintf(range, sizeof range, "%s%g..%g", k[i].flags & CFG_MIN_OPEN ? ">" : "", k[i].min, k[i].max);
        const char *def = k[i].flags & CFG_REQUIRED ? "required" : *k[i].def ? k[i].def : "''";
        if (!strcmp(k[i].key, "CONFIG_NAME")) def = "(file name)";
        printf("%-24s %-6s %-12s %-22s %s\n", k[i].key, type_name(k[i].type), def, range, k[i].doc);
    }
}

int main(int argc, char **argv) {
    progname = "cfg";
    enum { PREFIX = TOPT_FIRST };
    static const struct option longopts[] = {{"prefix", 1, 0, PREFIX}, {"out", 1, 0, 'o'}, {0, 0, 0, 0}};
    static const char *const cmds[] = {"check", "make", "get", "schema"};
    toolopts t;
    topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CPU);
    const char *cmd = topt_command(&t, cmds, 4, "check, make, get, schema");
    const char *prefix = NULL, *out = NULL;
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case PREFIX:
            prefix = optarg;
            for (const char *p = prefix; *p; p++)
                if (!(*p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
                    die_usage("expected --prefix of letters, digits and '_', found '%s'", prefix);
            break;
        case 'o': out = optarg; break;
        }
    }
    if (strcmp(cmd, "make") && (prefix || out))
        die_usage("expected --prefix and -o only with make, found %s with %s", prefix ? "--prefix" : "-o", cmd);
    check_output_dir(out, "-o");   /* before any work */
    char **args = argv + optind;
    const int nargs = argc - optind;
    config c;
    if (!strcmp(cmd, "schema")) {
        if (nargs != 0) die_usage("expected no arguments after schema, found '%s'", args[0]);
        print_schema();
    } else if (!strcmp(cmd, "check")) {
        if (nargs != 1) die_usage("expected cfg check FILE.yml, found %d arguments", nargs);
        load(&c, args[0]);
        config_free(&c);
    } else if (!strcmp(cmd, "get")) {
        if (nargs != 2) die_usage("expected cfg get FILE.yml KEY, found %d arguments", nargs);
        if (config_index(args[1]) < 0) die_usage("expected a config key (see cfg schema), found '%s'", args[1]);
        load(&c, args[0]);
        printf("%s\n", config_get(&c, args[1]));
        config_free(&c);
    } else {
        if (nargs > 1) die_usage("expected one FILE.yml, found '%s' too", args[1]);
        const char *file = nargs ? args[0] : NULL;
        if (!prefix) prefix = "";
        if (!out) out = "-";
        if (!file) die_usage("expected cfg make FILE.yml, found no file");
        load(&c, file);
        /* Quote everything before printing, so that a failure leaves stdout empty. */
        size_t n;
        const cfg_key *k = config_schema(&n);
        char **q = xcalloc(n, sizeof *q);
        for (size_t i = 0; i < n; i++) {
            q[i] = config_make_quote(c.value[i]);
            if (!q[i]) die_usage("%s:%d: expected a value Make can hold for '%s', found control characters", file, c.line[i], k[i].key);
        }
        int plain_name = 1; /* a comment line must not end in '\\' nor hold a newline */
        for (const unsigned char *p = (const unsigned char *)file; *p; p++) plain_name &= *p >= 0x20 && *p != 0x7f && *p != '\\';
        atomic_file *af = af_open(out);
        FILE *o = af_stream(af);
        fprintf(o, "# made by bin/cfg from %s: do not edit (variables on make's command line override these)\n",
                plain_name ? file : "a config");
        for (size_t i = 0; i < n; i++) {
            char name[128];
            config_make_name(&k[i], name, sizeof name);
            fprintf(o, "%s%s :=%s%s\n", prefix, name, *q[i] ? " " : "", q[i]);
            free(q[i]);
        }
        free(q);
        af_commit(af);
        config_free(&c);
    }
    close_stdout_or_die();
    return 0;
}
