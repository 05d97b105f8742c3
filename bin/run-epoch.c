/* run-epoch: run the commands of one training epoch side by side (gen-step train, disc-step train,
 * clip-embed loss, ... joined by FIFOs), stop them all at the first failure, and name the command
 * that failed first.
 *
 *   run-epoch [--fifo PATH]... [--grace S] [--settle S] ::: CMD [ARG]... [::: CMD ...]
 *             [:::copy IN OUT...] [:::watch CMD [ARG]...]
 *   run-epoch --copy IN OUT...
 *
 * Three kinds of command, each introduced by its separator word:
 *   :::       a command that must succeed (exec'd as given, no shell);
 *   :::copy   a built-in relay: reads IN and writes every byte to each OUT, opened in that order
 *             (like `tee OUT2... < IN > OUT1`; an OUT that is not there is made as a file); it
 *             must succeed too;
 *   :::watch  a command that only looks on (bin/progress): started with the others, sent SIGTERM
 *             once they have all ended; its exit status is ignored.
 * run-epoch makes the --fifo FIFOs first and removes them at the end; the children inherit its
 * stdin, stdout and stderr. It blocks in sigwaitinfo() until a child ends or a signal comes (no
 * polling). The first failure sends SIGTERM to every child still running (one blocked for ever
 * opening or reading a FIFO whose other end will never come included) and SIGKILL to those left
 * after --grace seconds. With --settle S the others first get S seconds to end by themselves: an
 * MPI launcher (mpirun) whose own rank has failed is ending its job then, and OpenMPI's mpirun
 * signalled in the middle of that says so in a banner or crashes; those still running after S
 * seconds (blocked on a FIFO) are stopped as above. The command named is the first, in the order they ended, of the best
 * ranked failure:
 *   1. exited with a status 1..127 (failed by itself, even just after the others were stopped);
 *   2. killed by a signal (or exited 128+N), other than those below;
 *   3. killed by SIGPIPE (or exited 141): it only saw its reader go away;
 *   4. killed by the SIGTERM or SIGKILL that run-epoch sent it (or exited 143 or 137): stopped.
 * Exit status: 0 when every command (and copy) succeeded; else the named command's status (128+N
 * for signal N), after one line on stderr naming it; 2 bad usage; 1 a failure of run-epoch itself.
 * Sent SIGINT, SIGTERM or SIGHUP, it stops the children the same way, removes the FIFOs and dies
 * of that signal. On Linux each child gets SIGTERM if run-epoch itself dies (PR_SET_PDEATHSIG).
 *
 * --copy IN OUT... is :::copy alone, in this process, with "%r" in a path standing for the rank an
 * MPI launcher gave it (core/dist.h; 0 without one): `mpirun -np N run-epoch --copy 'a.%r' 'b.%r'`
 * runs rank r's copy on the machine where rank r of the other jobs (the same hostfile and mapping)
 * read and write its FIFOs. */
#include "core/common.h"
#include "core/dist.h"
#include "core/toolopts.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

static const char usage[] =
    "usage: run-epoch [--fifo PATH]... [--grace S] [--settle S] ::: CMD [ARG]... [::: CMD [ARG]...]...\n"
    "                 [:::copy IN OUT [OUT]...]... [:::watch CMD [ARG]...]...\n"
    "       run-epoch --copy IN OUT [OUT]...\n"
    "\n"
    "Run the commands side by side (e.g. one training epoch's tools joined by FIFOs) and wait for\n"
    "them all. At the first failure every command still running is sent SIGTERM (SIGKILL after\n"
    "--grace seconds), and one line on stderr names the command that failed first: one that exited\n"
    "1..127 before one killed by a signal, before one killed by SIGPIPE, before one run-epoch stopped.\n"
    "  :::        a command that must succeed (run as given, no shell)\n"
    "  :::copy    built in: copy IN to every OUT, opened in that order (tee OUT2 < IN > OUT1)\n"
    "  :::watch   a command that looks on: sent SIGTERM once the others have ended, its status ignored\n"
    "An argument cannot be one of these three words.\n"
    "\n"
    "options:\n"
    "  --fifo PATH   make a FIFO at PATH (new) before starting, remove it at the end (repeatable)\n"
    "  --grace S     seconds between SIGTERM and SIGKILL when stopping the commands (default 5)\n"
    "  --settle S    at the first failure, seconds the others get to end by themselves before\n"
    "                they are stopped (default 0; MPI jobs ending their ranks after a failure)\n"
    "  --copy        no commands: copy IN to every OUT here, as :::copy does; %r in a path is the\n"
    "                rank an MPI launcher gave this process (mpirun -np N run-epoch --copy ...)\n"
    "  --device cpu  the only device (run-epoch computes nothing)\n"
    "  -h, --help    this help\n"
    "\n"
    "Exit status: 0 all succeeded; the failing command's status (128+N if killed by signal N);\n"
    "2 bad usage; 1 a failure of run-epoch itself. Killed by SIGINT, SIGTERM or SIGHUP, it stops\n"
    "the commands and dies of the same signal.\n";

typedef enum { RUN, COPY, WATCH } kind;
static const char *const separators[] = {":::", ":::copy", ":::watch"};

typedef struct {
    kind kind;
    char **argv;  /* NULL-terminated; COPY: IN OUT... */
    int argc;
    pid_t pid;    /* > 0 while running */
    int status;   /* waitpid's, once ended */
    int ended;    /* 0 running or never started; else its place in the order the children ended */
    int stopped;  /* run-epoch sent it SIGTERM or SIGKILL */
} child;

typedef struct {
    char **fifos;
    int nfifos;
    double grace;
    double settle;
    int copy;      /* --copy: argv[copy..] are IN OUT... */
    child *cmds;
    int ncmds;
} options;

/* ---- the command line ---- */

static int separator_kind(const char *s) {
    for (int k = 0; k < 3; k++)
        if (!strcmp(s, separators[k])) return k;
    return -1;
}

static void parse(options *o, int argc, char **argv) {
    enum { FIFO = TOPT_FIRST, GRACE, SETTLE, COPY_ONLY };
    static const struct option longopts[] = {{"fifo", 1, 0, FIFO}, {"grace", 1, 0, GRACE}, {"settle", 1, 0, SETTLE},
                                             {"copy", 0, 0, COPY_ONLY}, {0, 0, 0, 0}};
    int copy_only = 0;
    memset(o, 0, sizeof *o);
    o->grace = 5;
    o->fifos = xcalloc((size_t)argc, sizeof *o->fifos);
    o->cmds = xcalloc((size_t)argc, sizeof *o->cmds);
    /* run-epoch's own options end at the first separator: only argv[1..first) is parsed as options */
    int first = 1;
    while (first < argc && separator_kind(argv[first]) < 0) first++;
    toolopts t;
    topt_begin(&t, first, argv, usage, "", longopts, TOOL_CPU);
    for (int c; (c = topt_next(&t)) != -1;) {
        switch (c) {
        case FIFO: o->fifos[o->nfifos++] = optarg; break;
        case GRACE:
            o->grace = parse_double("--grace", optarg);
            if (!(o->grace >= 0 && o->grace <= 3600)) die_usage("--grace expects seconds in [0, 3600], found '%s'", optarg);
            break;
        case SETTLE:
            o->settle = parse_double("--settle", optarg);
            if (!(o->settle >= 0 && o->settle <= 3600)) die_usage("--settle expects seconds in [0, 3600], found '%s'", optarg);
            break;
        case COPY_ONLY: copy_only = 1; break;
        }
    }
    topt_device(&t);
    if (copy_only) {
        if (first < argc) die_usage("expected --copy IN OUT [OUT]... alone, found '%s' after it", argv[first]);
        if (o->nfifos) die_usage("expected --copy IN OUT [OUT]... alone, found --fifo");
        if (argc - optind < 2) die_usage("expected --copy IN OUT [OUT]..., found %d path", argc - optind);
        o->copy = optind;
        return;
    }
    if (optind < first) die_usage("expected :::, :::copy or :::watch before a command, found '%s'", argv[optind]);
    if (first == argc) die_usage("expected ::: and a command, found none (see --help)");
    const int optind = first;
    /* each separator starts a command; the words up to the next one are its argv (the separator's
     * slot is reused as the previous command's terminating NULL) */
    int runs = 0;
    for (int i = optind; i < argc;) {
        child *cmd = &o->cmds[o->ncmds++];
        cmd->kind = (kind)separator_kind(argv[i]);
        int j = i + 1;
        while (j < argc && separator_kind(argv[j]) < 0) j++;
        cmd->argv = argv + i + 1;
        cmd->argc = j - i - 1;
        if (cmd->argc == 0) die_usage("expected a command after %s (command %d), found none", argv[i], o->ncmds);
        if (cmd->kind == COPY && cmd->argc < 2)
            die_usage("expected :::copy IN OUT [OUT]... (command %d), found %d path", o->ncmds, cmd->argc);
        runs += cmd->kind != WATCH;
        i = j;
    }
    if (!runs) die_usage("expected at least one ::: or :::copy command, found only :::watch");
    for (int k = 0; k < o->ncmds; k++) o->cmds[k].argv[o->cmds[k].argc] = NULL;
}

/* a command's name in messages: its program's base name, or "copy" */
static const char *name_of(const child *c) {
    if (c->kind == COPY) return "copy";
    const char *slash = strrchr(c->argv[0], '/');
    return slash ? slash + 1 : c->argv[0];
}

/* ---- the FIFOs: removed on every way out of run-epoch (the die hook, the end) ---- */

static char **made_fifos;
static int nmade;

static void remove_fifos(void) {
    for (int i = 0; i < nmade; i++) unlink(made_fifos[i]);
    nmade = 0;
}

static void make_fifos(const options *o) {
    made_fifos = o->fifos;
    set_die_hook(remove_fifos);
    for (int i = 0; i < o->nfifos; i++) {
        if (mkfifo(o->fifos[i], 0600) != 0)
            die_usage("--fifo: expected a new FIFO at '%s', found %s", o->fifos[i],
                      errno == EEXIST ? "something there" : strerror(errno));
        nmade = i + 1;
    }
}

/* ---- a child: the copy loop, or exec ---- */

static void write_all(int fd, const char *buf, size_t n, const char *path) {
    while (n > 0) {
        ssize_t k = write(fd, buf, n);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) die_runtime("copy: expected to write '%s', found %s", path, strerror(errno));
        buf += k;
        n -= (size_t)k;
    }
}

/* :::copy IN OUT...: IN opened first, then each OUT in order (the opens of FIFOs block until the
 * other end is opened, so the order is part of the protocol); a reader that goes away kills the
 * copy with SIGPIPE */
static _Noreturn void copy(char **paths, int n) {
    int in = open(paths[0], O_RDONLY);
    if (in < 0) die_runtime("copy: expected to read '%s', found %s", paths[0], strerror(errno));
    int *out = xcalloc((size_t)n, sizeof *out);
    for (int i = 1; i < n; i++) {
        out[i] = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC, 0666);
        if (out[i] < 0) die_runtime("copy: expected to write '%s', found %s", paths[i], strerror(errno));
    }
    static char buf[1 << 17];
    for (;;) {
        ssize_t k = read(in, buf, sizeof buf);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) die_runtime("copy: expected to read '%s', found %s", paths[0], strerror(errno));
        if (k == 0) break;
        for (int i = 1; i < n; i++) write_all(out[i], buf, (size_t)k, paths[i]);
    }
    for (int i = 1; i < n; i++)
        if (close(out[i]) != 0) die_runtime("copy: expected to write '%s', found %s", paths[i], strerror(errno));
    _exit(0); /* not exit(): the parent's atexit handlers are not the child's */
}

/* in the child, between fork and exec: run-epoch's signal mask undone, SIGTERM when it dies */
static _Noreturn void child_main(const child *c, const sigset_t *mask, pid_t parent) {
    set_die_hook(NULL); /* the FIFOs are the parent's to remove */
#ifdef __linux__
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(128 + SIGTERM); /* the parent died before prctl */
#else
    (void)parent;
#endif
    sigprocmask(SIG_SETMASK, mask, NULL);
    if (c->kind == COPY) {
        signal(SIGPIPE, SIG_DFL);
        copy(c->argv, c->argc);
    }
    execvp(c->argv[0], c->argv);
    int e = errno;
    fprintf(stderr, "%s: expected a command to run, found '%s': %s\n", progname, c->argv[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
}

/* ---- the parent: start, wait, stop ---- */

typedef struct {
    options *o;
    sigset_t waited;  /* SIGCHLD, SIGALRM and the stopping signals: blocked, taken by sigwaitinfo */
    int settling;     /* a command failed: the others have --settle seconds to end (SIGALRM) */
    int stopping;     /* SIGTERM sent to every child still running */
    int nended;
    int caught;       /* SIGINT, SIGTERM or SIGHUP received */
} run;

static void signal_running(run *r, int sig) {
    for (int i = 0; i < r->o->ncmds; i++) {
        child *c = &r->o->cmds[i];
        if (c->pid > 0) { kill(c->pid, sig); c->stopped = 1; }
    }
}

/* SIGALRM after s seconds (at once for 0) */
static void alarm_in(double s) {
    struct itimerval t = {{0, 0}, {(time_t)s, (long)(fmod(s, 1.0) * 1e6)}};
    if (t.it_value.tv_sec == 0 && t.it_value.tv_usec == 0) t.it_value.tv_usec = 1;
    setitimer(ITIMER_REAL, &t, NULL);
}

/* SIGTERM to every child still running, SIGKILL to those left after the grace (SIGALRM) */
static void stop_all(run *r) {
    if (r->stopping) return;
    r->stopping = 1;
    signal_running(r, SIGTERM);
    alarm_in(r->o->grace);
}

/* a command failed: stop the others, after --settle seconds when given */
static void on_failure(run *r) {
    if (r->stopping || r->settling) return;
    if (r->o->settle <= 0) { stop_all(r); return; }
    r->settling = 1;
    alarm_in(r->o->settle);
}

static int failed(int status) { return !(WIFEXITED(status) && WEXITSTATUS(status) == 0); }

/* every child that has ended, in the order waitpid gives them; a failure stops the rest */
static void reap(run *r) {
    pid_t pid;
    int status;
    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        for (int i = 0; i < r->o->ncmds; i++) {
            child *c = &r->o->cmds[i];
            if (c->pid != pid) continue;
            c->pid = 0;
            c->status = status;
            c->ended = ++r->nended;
            if (c->kind != WATCH && failed(status)) on_failure(r);
        }
    }
}

static int running(const run *r, int watchers) {
    int n = 0;
    for (int i = 0; i < r->o->ncmds; i++)
        n += r->o->cmds[i].pid > 0 && (watchers || r->o->cmds[i].kind != WATCH);
    return n;
}

static void supervise(run *r) {
    for (;;) {
        if (!running(r, 0)) stop_all(r); /* only watchers left */
        if (!running(r, 1)) return;
        siginfo_t si;
        int sig = sigwaitinfo(&r->waited, &si);
        if (sig == SIGCHLD) reap(r);
        else if (sig == SIGALRM && !r->stopping) stop_all(r); /* the settling is over */
        else if (sig == SIGALRM) signal_running(r, SIGKILL);
        else if (sig > 0) { r->caught = sig; stop_all(r); }
    }
}

/* a failure's rank (0: none): the lowest names the cause */
static int rank(const child *c) {
    if (c->kind == WATCH || !c->ended || !failed(c->status)) return 0;
    int code = WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 128 + WTERMSIG(c->status);
    if (code < 128) return 1;
    if (c->stopped && (code == 128 + SIGTERM || code == 128 + SIGKILL)) return 4;
    if (code == 128 + SIGPIPE) return 3;
    return 2;
}

/* the first failure of the lowest rank, or NULL when every command succeeded */
static const child *cause(const options *o) {
    const child *best = NULL;
    for (int i = 0; i < o->ncmds; i++) {
        const child *c = &o->cmds[i];
        int k = rank(c);
        if (k && (!best || k < rank(best) || (k == rank(best) && c->ended < best->ended))) best = c;
    }
    return best;
}

int main(int argc, char **argv) {
    progname = "run-epoch";
    options o;
    parse(&o, argc, argv);
    if (o.copy) { /* --copy: this process is the copy, its paths this rank's */
        int n = argc - o.copy;
        char **paths = xcalloc((size_t)n, sizeof *paths);
        for (int i = 0; i < n; i++) {
            char buf[4096];
            paths[i] = xstrdup(dist_launcher_path(argv[o.copy + i], buf, sizeof buf));
        }
        signal(SIGPIPE, SIG_DFL);
        copy(paths, n);
    }
    make_fifos(&o);

    run r = {.o = &o};
    sigset_t old;
    sigemptyset(&r.waited);
    const int waited[] = {SIGCHLD, SIGALRM, SIGINT, SIGTERM, SIGHUP};
    for (size_t i = 0; i < sizeof waited / sizeof *waited; i++) sigaddset(&r.waited, waited[i]);
    signal(SIGCHLD, SIG_DFL); /* an inherited SIG_IGN would reap the children behind our back */
    sigprocmask(SIG_BLOCK, &r.waited, &old);

    pid_t self = getpid();
    int fork_errno = 0;
    for (int i = 0; i < o.ncmds && !fork_errno; i++) {
        pid_t pid = fork();
        if (pid == 0) child_main(&o.cmds[i], &old, self);
        if (pid < 0) { fork_errno = errno; stop_all(&r); break; }
        o.cmds[i].pid = pid;
    }
    supervise(&r);
    remove_fifos();

    if (r.caught) { /* die of it, as if never caught */
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, r.caught);
        signal(r.caught, SIG_DFL);
        raise(r.caught);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        return 128 + r.caught;
    }
    if (fork_errno) die_runtime("expected to start %d commands, found fork failing: %s", o.ncmds, strerror(fork_errno));
    const child *c = cause(&o);
    if (!c) return 0;
    char how[96];
    if (WIFEXITED(c->status)) snprintf(how, sizeof how, "exiting with status %d", WEXITSTATUS(c->status));
    else snprintf(how, sizeof how, "killed by signal %d (%s)", WTERMSIG(c->status), strsignal(WTERMSIG(c->status)));
    warnx("expected every command to succeed, found command %d (%s) %s", (int)(c - o.cmds) + 1, name_of(c), how);
    return WIFEXITED(c->status) ? WEXITSTATUS(c->status) : 128 + WTERMSIG(c->status);
}
