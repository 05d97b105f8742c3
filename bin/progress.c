/* progress: follow JSON-lines loss logs that other tools append to (disc-step --log, clip-embed
 * --log) and show how far an epoch has come on stderr: a one-line bar redrawn in place when stderr
 * is a terminal, plain lines every so many seconds or steps otherwise.
 *
 * The pipelines (pipelines/common.mk) start it beside the epoch's tools and stop it when they end.
 * A step is a complete line of the first --log; the values shown are those of --keys in the last
 * complete line of the logs (the first log that has the key). Nothing is read from stdin and
 * nothing is written to stdout. */
#define _POSIX_C_SOURCE 200809L
#include "core/common.h"
#include "core/toolopts.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: progress --steps N --log FILE [--log FILE ...] [--keys K1,K2,...] [--prefix TEXT]\n"
    "                [--start NS] [--every SECONDS] [--every-steps K] [--poll SECONDS]\n"
    "                [--pid PID] [--tty | --plain] [--once]\n"
    "\n"
    "Follow JSON-lines logs that other tools append to and show the progress of N steps on stderr:\n"
    "a step is a complete line of the first --log; KEYS' values come from the last complete line\n"
    "of the logs (the first log holding the key). A log that does not exist yet counts as empty.\n"
    "  terminal (stderr a tty, or --tty): one line redrawn in place ('\\r', cleared to its end):\n"
    "    PREFIX [=====>    ] S/N R it/s ETA M:SS K1 V1 K2 V2\n"
    "  otherwise (or --plain): a line every --every seconds and every --every-steps steps:\n"
    "    PREFIX: step S/N (P%), R it/s, ETA M:SS, K1 V1, K2 V2\n"
    "The rate counts from --start; before the first step it and the ETA are '-'. It ends when\n"
    "the first log has N lines, when it is sent SIGTERM, SIGINT or SIGHUP (a terminal's line is\n"
    "cleared first) or when the process it watches ends (--pid, default its parent).\n"
    "\n"
    "options:\n"
    "  --steps N         steps in all\n"
    "  --log FILE        a JSON-lines log (repeatable; the first one counts the steps)\n"
    "  --keys LIST       comma-separated keys to show (default: none)\n"
    "  --prefix TEXT     what the line starts with (e.g. 'epoch 2/3')\n"
    "  --start NS        the start, in nanoseconds since 1970 (date +%s%N; default: now)\n"
    "  --every S         plain: a line every S seconds (default 10; 0: never by time)\n"
    "  --every-steps K   plain: a line at every K-th step too (default 0: never)\n"
    "  --poll S          how often the logs are read (default 0.1)\n"
    "  --pid PID         end when process PID ends (default: when the parent changes)\n"
    "  --tty, --plain    the terminal or the plain form, whatever stderr is\n"
    "  --once            read the logs once, print one line (no clearing) and exit\n"
    "  --device cpu      the CPU only (no CUDA path; cuda is refused)\n"
    "  -h, --help        this help\n"
    "\n"
    "Exit status: 0 ok, 2 bad usage, 1 a write failure.\n";

#define MAX_LOGS 8
#define MAX_KEYS 16
#define LINE_MAX_KEPT 4096

typedef struct {
    const char *path;
    long offset;                /* bytes consumed */
    char partial[LINE_MAX_KEPT]; /* the line being read (a complete one is moved to last) */
    size_t npartial;
    char last[LINE_MAX_KEPT];   /* the last complete line */
    long lines;
} logfile;

typedef struct {
    long steps, every_steps;
    double every, poll;
    const char *prefix;
    char *keys[MAX_KEYS];
    int nkeys;
    logfile logs[MAX_LOGS];
    int nlogs;
    int tty, once;
    long pid;     /* the process watched, 0: the parent at start */
    double start; /* seconds since 1970 */
} options;

static volatile sig_atomic_t stop_signal;
static void on_signal(int sig) { stop_signal = sig; }

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static void parse(options *o, int argc, char **argv) {
    enum { STEPS = TOPT_FIRST, LOG, KEYS, PREFIX, START, EVERY, EVERY_STEPS, POLL, PID, TTY, PLAIN, ONCE };
    static const struct option longopts[] = {
        {"steps", 1, 0, STEPS}, {"log", 1, 0, LOG}, {"keys", 1, 0, KEYS}, {"prefix", 1, 0, PREFIX},
        {"start", 1, 0, START}, {"every", 1, 0, EVERY}, {"every-steps", 1, 0, EVERY_STEPS},
        {"poll", 1, 0, POLL}, {"pid", 1, 0, PID}, {"tty", 0, 0, TTY}, {"plain", 0, 0, PLAIN}, {"once", 0, 0, ONCE},
        {0, 0, 0, 0}};
    memset(o, 0, sizeof *o);
    o->every = 10;
    o->poll = 0.1;
    o->prefix = "";
    o->tty = -1;
    o->start = now();
    toolopts t;
    topt_begin(&t, argc, argv, usage, "", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case STEPS: o->steps = parse_long("--steps", optarg, 1, 1L << 40); break;
        case LOG:
            if (o->nlogs == MAX_LOGS) die_usage("expected at most %d --log, found more", MAX_LOGS);
            o->logs[o->nlogs++].path = optarg;
            break;
        case KEYS: {
            char *s = xstrdup(optarg);
            for (char *k = strtok(s, ","); k; k = strtok(NULL, ",")) {
                if (o->nkeys == MAX_KEYS) die_usage("expected at most %d --keys, found more in '%s'", MAX_KEYS, optarg);
                o->keys[o->nkeys++] = k;
            }
            break;
        }
        case PREFIX: o->prefix = optarg; break;
        case START: o->start = 1e-9 * (double)parse_long("--start", optarg, 0, 0x7fffffffffffffffL); break;
        case EVERY:
            o->every = parse_double("--every", optarg);
            if (!(o->every >= 0) || isinf(o->every)) die_usage("--every expects seconds >= 0, found '%s'", optarg);
            break;
        case EVERY_STEPS: o->every_steps = parse_long("--every-steps", optarg, 0, 1L << 40); break;
        case POLL:
            o->poll = parse_double("--poll", optarg);
            if (!(o->poll > 0 && o->poll <= 60)) die_usage("--poll expects seconds in (0, 60], found '%s'", optarg);
            break;
        case PID: o->pid = parse_long("--pid", optarg, 1, 0x7fffffffL); break;
        case TTY: case PLAIN:
            if (o->tty != -1 && o->tty != (c == TTY)) die_usage("expected one of --tty and --plain, found both");
            o->tty = c == TTY;
            break;
        case ONCE: o->once = 1; break;
        }
    }
    topt_end(&t);
    if (!o->steps) die_usage("expected --steps N, found none");
    if (!o->nlogs) die_usage("expected --log FILE, found none");
    if (o->tty == -1) o->tty = isatty(2);
}

/* Read what was appended to l since the last call. count: the first log's lines are steps, and
 * each complete line is handed to on_line (the plain form's --every-steps lines). */
static void follow(logfile *l, void (*on_line)(void *), void *ctx) {
    FILE *f = fopen(l->path, "rb");
    if (!f) return;
    if (fseek(f, 0, SEEK_END) == 0) {
        long size = ftell(f);
        if (size < l->offset) { l->offset = 0; l->npartial = 0; l->lines = 0; l->last[0] = 0; } /* replaced */
    }
    if (fseek(f, l->offset, SEEK_SET) != 0) { fclose(f); return; }
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (buf[i] == '\n') {
                memcpy(l->last, l->partial, l->npartial);
                l->last[l->npartial] = 0;
                l->npartial = 0;
                l->lines++;
                if (on_line) on_line(ctx);
            } else if (l->npartial + 1 < sizeof l->partial) {
                l->partial[l->npartial++] = buf[i];
            }
        }
        l->offset += (long)n;
    }
    fclose(f);
}

/* The value of "key": in line, formatted into out ("-" when absent). */
static int value_of(const char *line, const char *key, char *out, size_t n) {
    size_t kl = strlen(key);
    for (const char *p = strchr(line, '"'); p; p = strchr(p + 1, '"')) {
        if (strncmp(p + 1, key, kl) || p[kl + 1] != '"') continue;
        const char *v = p + kl + 2;
        while (*v == ' ' || *v == '\t') v++;
        if (*v++ != ':') continue;
        while (*v == ' ' || *v == '\t') v++;
        char *end;
        double x = strtod(v, &end);
        if (end == v) {
            if (*v == '"') { /* a string value, as it is */
                const char *e = strchr(v + 1, '"');
                snprintf(out, n, "%.*s", e ? (int)(e - v - 1) : 0, v + 1);
                return 1;
            }
            continue;
        }
        snprintf(out, n, "%.4g", x);
        return 1;
    }
    return 0;
}

static void clock_text(double s, char *out, size_t n) {
    if (!(s >= 0) || s > 1e9) { snprintf(out, n, "-"); return; }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(out, n, "%ld:%02ld", t / 60, t % 60);
}

typedef struct {
    options *o;
    int drawn;          /* a terminal line is on the screen */
    double last_print;  /* plain: when the last line was written */
} state;

/* One line of the current state, without a newline. */
static void format_line(state *st, char *out, size_t n) {
    options *o = st->o;
    long s = o->logs[0].lines;
    double elapsed = now() - o->start, rate = s > 0 && elapsed > 0 ? (double)s / elapsed : 0;
    char rtext[32], eta[32];
    if (rate > 0) {
        snprintf(rtext, sizeof rtext, rate >= 100 ? "%.0f" : rate >= 10 ? "%.1f" : "%.2f", rate);
        clock_text(s >= o->steps ? 0 : (double)(o->steps - s) / rate, eta, sizeof eta);
    } else {
        snprintf(rtext, sizeof rtext, "-");
        snprintf(eta, sizeof eta, "-");
    }
    size_t used = 0;
#define PUT(...) do { int k_ = snprintf(out + used, used < n ? n - used : 0, __VA_ARGS__); if (k_ > 0) used += (size_t)k_; } while (0)
    const char *sep = *o->prefix ? " " : "";
    if (o->tty) {
        enum { WIDTH = 20 };
        long fill = s >= o->steps ? WIDTH : (long)((double)s * WIDTH / (double)o->steps);
        char bar[WIDTH + 1];
        for (long i = 0; i < WIDTH; i++) bar[i] = i < fill ? '=' : i == fill ? '>' : ' ';
        bar[WIDTH] = 0;
        PUT("%s%s[%s] %ld/%ld %s it/s ETA %s", o->prefix, sep, bar, s, o->steps, rtext, eta);
    } else {
        PUT("%s%sstep %ld/%ld (%ld%%), %s it/s, ETA %s", o->prefix, *o->prefix ? ": " : "", s, o->steps,
            (long)((double)(s < o->steps ? s : o->steps) * 100 / (double)o->steps), rtext, eta);
    }
    for (int k = 0; k < o->nkeys; k++) {
        char v[64];
        int found = 0;
        for (int i = 0; i < o->nlogs && !found; i++) found = value_of(o->logs[i].last, o->keys[k], v, sizeof v);
        if (!found) continue;
        PUT(o->tty ? " %s %s" : ", %s %s", o->keys[k], v);
    }
#undef PUT
}

static void emit(const char *s) {
    if (fputs(s, stderr) == EOF || fflush(stderr) != 0) exit(EXIT_RUNTIME); /* stderr gone: nothing to say it on */
}

static void draw_tty(state *st) {
    char line[1024];
    format_line(st, line, sizeof line);
    struct winsize ws;
    long cols = 0;
    if (ioctl(2, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) cols = ws.ws_col;
    else if (getenv("COLUMNS")) cols = atol(getenv("COLUMNS"));
    if (cols <= 0) cols = 80;
    if ((long)strlen(line) > cols - 1) line[cols > 1 ? cols - 1 : 0] = 0; /* never wrap: '\r' would redraw the wrong row */
    char out[1100];
    snprintf(out, sizeof out, "\r%s\033[K", line);
    emit(out);
    st->drawn = 1;
}

static void print_plain(state *st) {
    char line[1024];
    format_line(st, line, sizeof line);
    strcat(line, "\n");
    emit(line);
    st->last_print = now();
}

/* plain --every-steps: a line when the first log reaches a multiple of K */
static void on_step(void *ctx) {
    state *st = ctx;
    options *o = st->o;
    if (!o->tty && !o->once && o->every_steps > 0 && o->logs[0].lines % o->every_steps == 0) {
        for (int i = 1; i < o->nlogs; i++) follow(&o->logs[i], NULL, NULL);
        print_plain(st);
    }
}

int main(int argc, char **argv) {
    progname = "progress";
    options o;
    parse(&o, argc, argv);
    state st = {&o, 0, now()};
    if (o.once) {
        for (int i = 0; i < o.nlogs; i++) follow(&o.logs[i], NULL, NULL);
        if (o.tty) draw_tty(&st);
        else print_plain(&st);
        return 0;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    pid_t parent = getppid();
    for (;;) {
        long before = o.logs[0].lines;
        follow(&o.logs[0], on_step, &st);
        for (int i = 1; i < o.nlogs; i++) follow(&o.logs[i], NULL, NULL);
        int done = o.logs[0].lines >= o.steps;
        int gone = o.pid ? kill((pid_t)o.pid, 0) != 0 && errno == ESRCH : getppid() != parent;
        if (stop_signal || done || gone) break;
        double t = now();
        if (o.tty) {
            if (o.logs[0].lines != before || !st.drawn || t - st.last_print >= 0.5) { draw_tty(&st); st.last_print = t; }
        } else if (o.every > 0 && t - st.last_print >= o.every) {
            print_plain(&st);
        }
        struct timespec d = {(time_t)o.poll, (long)((o.poll - (double)(time_t)o.poll) * 1e9)};
        nanosleep(&d, NULL); /* a signal cuts it short */
    }
    if (o.tty && st.drawn) emit("\r\033[K");
    return 0;
}
