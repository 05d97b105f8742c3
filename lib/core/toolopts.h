/* toolopts.h: the command line of every tool in bin/. getopt_long over the tool's own options plus
 * the two that every tool has:
 *   -h, --help           the usage on stdout, exit 0
 *   --device cpu|cuda    where to compute (default cpu); a tool without a CUDA path refuses cuda:
 *                        "tool: expected --device cpu (this tool has no CUDA path), found cuda" (exit 2)
 * and the usage errors, one line each, exit 2 (common.h):
 *   "expected a known option, found '--bogus' (see --help)"
 *   "expected a value after --ckpt, found none"
 *   "expected only options, found 'x'"                       (topt_end)
 *   "expected a command (init or train), found 'fly'"        (topt_command)
 * Long options may be abbreviated and take "--name=value" (getopt_long); operands may come between
 * options and "--" ends the options.
 *
 *   toolopts t;
 *   topt_begin(&t, argc, argv, usage, "o:", longopts, TOOL_CPU);   longopts: the tool's own, {0}-ended,
 *                                                                  long-only codes from TOPT_FIRST
 *   for (int c; (c = topt_next(&t)) != -1;)
 *       switch (c) { case 'o': out = optarg; break; ... }
 *   topt_end(&t);                    no operands (or read argv[optind..] instead)
 *   device_t dev = topt_device(&t);  after the other checks: cuda may hand over to bin/cuda/<tool> */
#ifndef DFGAN_TOOLOPTS_H
#define DFGAN_TOOLOPTS_H
#include "core/tensor.h"

#include <getopt.h>

typedef enum {
    TOOL_CPU,     /* no CUDA path: --device cpu only */
    TOOL_CUDA     /* --device cuda runs the CUDA variant (tensor.h, device_parse) */
} tool_device;

enum { TOPT_FIRST = 256,            /* a tool's long-only option codes start here */
       TOPT_DEVICE = 0x10000,       /* --device (handled here) */
       TOPT_MAX_LONG = 64 };        /* long options a tool may have */

typedef struct {
    int argc;
    char **argv;
    const char *usage;
    tool_device kind;
    const char *cmd;                /* the command word (topt_command), or NULL */
    const char *device;             /* --device's value: "cpu" or "cuda" */
    char shortopts[64];
    struct option longopts[TOPT_MAX_LONG + 3];
} toolopts;

/* Set up the parse of argv (sets tool_argv, for the CUDA hand-over). shortopts as getopt's, without
 * the leading ':' and without 'h'; longopts the tool's own, without --help and --device. */
void topt_begin(toolopts *t, int argc, char **argv, const char *usage, const char *shortopts,
                const struct option *longopts, tool_device kind);
/* For a tool whose first argument is a command: answers -h/--help there, else dies unless argv[1] is
 * one of cmds[0..n-1] ("expected a command (LIST), found ..."); parsing goes on from argv[2]. */
const char *topt_command(toolopts *t, const char *const *cmds, int n, const char *list);
/* The next of the tool's options (optarg as getopt_long's), or -1 after the last; --help, --device
 * and the usage errors are handled here. */
int topt_next(toolopts *t);
/* Dies when an operand is left: "expected only options[ after 'CMD'], found 'x'". */
void topt_end(const toolopts *t);
/* --device as a device: DEVICE_CPU, or for cuda device_parse's (may execv bin/cuda/<tool>, or die). */
device_t topt_device(const toolopts *t);
/* Print the usage on stdout and exit 0. */
_Noreturn void topt_help(const toolopts *t);
#endif
