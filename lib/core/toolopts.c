/* toolopts.c: the command-line skeleton of the tools (see toolopts.h). */
#include "core/toolopts.h"
#include "core/common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void topt_begin(toolopts *t, int argc, char **argv, const char *usage, const char *shortopts,
                const struct option *longopts, tool_device kind) {
    memset(t, 0, sizeof *t);
    t->argc = argc;
    t->argv = argv;
    t->usage = usage;
    t->kind = kind;
    t->device = "cpu";
    tool_argv = argv;
    if (snprintf(t->shortopts, sizeof t->shortopts, ":%sh", shortopts ? shortopts : "") >= (int)sizeof t->shortopts)
        die_runtime("expected at most %zu short options, found '%s'", sizeof t->shortopts - 3, shortopts);
    int n = 0;
    for (; longopts && longopts[n].name; n++) {
        if (n == TOPT_MAX_LONG) die_runtime("expected at most %d long options, found more", TOPT_MAX_LONG);
        t->longopts[n] = longopts[n];
    }
    t->longopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    t->longopts[n++] = (struct option){"device", required_argument, NULL, TOPT_DEVICE};
    t->longopts[n] = (struct option){0, 0, 0, 0};
    optind = 1;
    opterr = 0;
}

void topt_help(const toolopts *t) {
    fputs(t->usage, stdout);
    close_stdout_or_die();
    exit(EXIT_OK);
}

const char *topt_command(toolopts *t, const char *const *cmds, int n, const char *list) {
    char **argv = t->argv;
    if (t->argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) topt_help(t);
    if (t->argc < 2 || (argv[1][0] == '-' && argv[1][1]))
        die_usage("expected a command (%s), found %s (see --help)", list, t->argc < 2 ? "none" : argv[1]);
    for (int i = 0; i < n; i++)
        if (!strcmp(argv[1], cmds[i])) {
            t->cmd = argv[1];
            optind = 2;
            return t->cmd;
        }
    die_usage("expected a command (%s), found '%s'", list, argv[1]);
}

static void set_device(toolopts *t, const char *v) {
    if (strcmp(v, "cpu") && strcmp(v, "cuda")) die_usage("--device expects cpu or cuda, found '%s'", v);
    if (!strcmp(v, "cuda") && t->kind != TOOL_CUDA)
        die_usage("expected --device cpu (this tool has no CUDA path), found cuda");
    t->device = v;
}

int topt_next(toolopts *t) {
    for (;;) {
        int c = getopt_long(t->argc, t->argv, t->shortopts, t->longopts, NULL);
        const char *arg = t->argv[optind - 1];
        switch (c) {
        case 'h': topt_help(t);
        case TOPT_DEVICE: set_device(t, optarg); continue;
        case ':': die_usage("expected a value after %s, found none", arg);
        case '?':
            /* an unknown short option inside a cluster ("-xo") is named alone */
            if (optopt > 0 && optopt < 256 && !(arg[0] == '-' && arg[1] == '-'))
                die_usage("expected a known option, found '-%c' (see --help)", optopt);
            die_usage("expected a known option, found '%s' (see --help)", arg);
        default: return c;
        }
    }
}

void topt_end(const toolopts *t) {
    if (optind >= t->argc) return;
    if (t->cmd) die_usage("expected only options after '%s', found '%s'", t->cmd, t->argv[optind]);
    die_usage("expected only options, found '%s'", t->argv[optind]);
}

device_t topt_device(const toolopts *t) {
    return t->kind == TOOL_CUDA ? device_parse(t->device) : DEVICE_CPU;
}
