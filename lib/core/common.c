/* common.c: error reporting, exit codes and allocation helpers (see common.h). */
#include "core/common.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *progname = "dfgan";
char **tool_argv;

/* OpenMP threads that spin while they wait (libgomp's default) take the core from the thread they
 * wait for whenever anything else runs on the machine (a training step becomes several times
 * slower beside one other busy process), and gain nothing when idle. libgomp reads its wait policy once,
 * when it loads, so a process started without OMP_WAIT_POLICY sets it to passive and starts itself
 * again (glibc hands argv to constructors). A short spin before sleeping (GOMP_SPINCOUNT=1000, a
 * few microseconds) saves the kernel round trip of most of a step's ~340 parallel regions on idle
 * cores and costs little beside a busy one, where a longer spin does not (commit fe100e6 has the
 * measurements). An explicit OMP_WAIT_POLICY is
 * left as it is, with whatever GOMP_SPINCOUNT the user set.
 * The program starts again from its own file's path (/proc/self/exe resolved), with the same
 * argv: the kernel names a process after the file it execs, so exec'ing "/proc/self/exe" itself
 * would show every tool as "exe" to ps, top and pkill. */
__attribute__((constructor)) static void omp_wait_passive(int argc, char **argv, char **envp) {
    (void)argc; (void)envp;
    if (getenv("OMP_WAIT_POLICY") || !argv || !argv[0]) return;
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self);
    if (n <= 0 || (size_t)n >= sizeof self) return;     /* no /proc, or a path too long: go on as we are */
    self[n] = 0;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
    if (!getenv("GOMP_SPINCOUNT") && setenv("GOMP_SPINCOUNT", "1000", 1) != 0) return;
    execv(self, argv);     /* returns only if that fails (a file replaced meanwhile): go on as we are */
}
static void (*die_hook)(void);

void set_die_hook(void (*hook)(void)) { die_hook = hook; }

/* buf[0..n) to fd in full (EINTR retried; any other failure gives up: there is no one to tell) */
static void write_fd(int fd, const char *buf, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, buf, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) break;
        buf += w;
        n -= (size_t)w;
    }
}

/* An error line appended to the file that DFGAN_ERROR_LOG names, when set (common.h): "<code> <line>"
 * in one O_APPEND write, so that the tools of one run may share the file. */
static void log_error(int code, const char *line, size_t n) {
    const char *path = getenv("DFGAN_ERROR_LOG");
    if (!path || !*path) return;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) return;
    char buf[4200];
    int k = snprintf(buf, sizeof buf, "%d %.*s", code, (int)n, line);
    if (k > 0) write_fd(fd, buf, (size_t)k < sizeof buf ? (size_t)k : sizeof buf - 1);
    close(fd);
}

/* "progname: message\n" in one write, so that lines of threads or processes sharing stderr never
 * interleave within a line (a long line is cut to the buffer, ending in "..."); what stdout holds
 * is flushed first, so a terminal or a file taking both shows them in the order they were made.
 * SIGPIPE is ignored meanwhile: a closed stdout (tool -o - | head) must not kill the process
 * before its message is out. code > 0: an error line, logged too (log_error). */
static void vmessage(int code, const char *fmt, va_list ap) {
    struct sigaction ign, old;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigemptyset(&ign.sa_mask);
    sigaction(SIGPIPE, &ign, &old);
    fflush(stdout);
    char line[4096];
    int k = snprintf(line, sizeof line, "%s: ", progname);
    if (k < 0) return;
    if ((size_t)k < sizeof line) {
        int m = vsnprintf(line + k, sizeof line - (size_t)k, fmt, ap);
        k = m < 0 ? k : k + m;
    }
    if ((size_t)k >= sizeof line - 1) { k = (int)sizeof line - 1; memcpy(line + k - 3, "...", 3); }
    line[k++] = '\n';
    write_fd(STDERR_FILENO, line, (size_t)k);
    if (code > 0) log_error(code, line, (size_t)k);
    sigaction(SIGPIPE, &old, NULL);
}

/* The error line is the last line on stderr, and after all of stdout (flushed by vmessage, not
 * at exit, SIGPIPE ignored from here on so that the exit status stays the error's): only the
 * first error of the process is printed. Another thread dying meanwhile (an OpenMP worker out of
 * memory, say) waits for the exit the first one makes; the same thread dying again in the
 * clean-up (die_hook, atexit) leaves at once, silently. */
static int dying;                 /* 0, then 1 once a thread has taken the exit */
static pthread_t dying_thread;

_Noreturn static void vdie(int code, const char *fmt, va_list ap) {
    if (__atomic_exchange_n(&dying, 1, __ATOMIC_ACQ_REL)) {
        if (pthread_equal(__atomic_load_n(&dying_thread, __ATOMIC_ACQUIRE), pthread_self())) _exit(code);
        for (;;) pause();
    }
    __atomic_store_n(&dying_thread, pthread_self(), __ATOMIC_RELEASE);
    signal(SIGPIPE, SIG_IGN);
    vmessage(code, fmt, ap);
    if (die_hook) { void (*h)(void) = die_hook; die_hook = NULL; h(); }
    exit(code);
}

void die_usage(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vdie(EXIT_USAGE, fmt, ap); }
void die_runtime(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vdie(EXIT_RUNTIME, fmt, ap); }
void die_nonfinite(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vdie(EXIT_NONFINITE, fmt, ap); }
int seterr(char *err, size_t errlen, const char *fmt, ...) {
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

void warnx(const char *fmt, ...) { va_list ap; va_start(ap, fmt); vmessage(0, fmt, ap); va_end(ap); }

void *xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) die_runtime("expected %zu bytes of memory, found malloc failing", n);
    return p;
}
void *xcalloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) die_runtime("expected %zu bytes of memory, found calloc failing", n * size);
    return p;
}
void *xrealloc(void *p, size_t n) {
    void *q = realloc(p, n ? n : 1);
    if (!q) die_runtime("expected %zu bytes of memory, found realloc failing", n);
    return q;
}
char *xstrdup(const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

long parse_long(const char *flag, const char *s, long lo, long hi) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < lo || v > hi)
        die_usage("%s expects an integer in [%ld, %ld], found '%s'", flag, lo, hi, s);
    return v;
}
double parse_double_in(const char *flag, const char *s, double lo, double hi, int open) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (!*s || *end || (errno && errno != ERANGE)) die_usage("%s expects a number, found '%s'", flag, s);
    int lo_ok = isinf(lo) || (open & PD_LO_OPEN ? v > lo : v >= lo);
    int hi_ok = isinf(hi) || (open & PD_HI_OPEN ? v < hi : v <= hi);
    if (isfinite(v) && lo_ok && hi_ok) return v;   /* ERANGE: an overflow is Inf, an underflow its tiny value */
    char range[96] = "";
    if (!isinf(lo) && !isinf(hi))
        snprintf(range, sizeof range, " in %c%g, %g%c", open & PD_LO_OPEN ? '(' : '[', lo, hi, open & PD_HI_OPEN ? ')' : ']');
    else if (!isinf(lo)) snprintf(range, sizeof range, " %s %g", open & PD_LO_OPEN ? ">" : ">=", lo);
    else if (!isinf(hi)) snprintf(range, sizeof range, " %s %g", open & PD_HI_OPEN ? "<" : "<=", hi);
    die_usage("%s expects a finite number%s, found '%s'", flag, range, s);
}
double parse_double(const char *flag, const char *s) { return parse_double_in(flag, s, -INFINITY, INFINITY, 0); }

void close_stdout_or_die(void) {
    if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
        die_runtime("expected to write standard output, found %s", strerror(errno));
}

const char *show_key(char *out, size_t outlen, const char *s) {
    size_t k = 0;
    for (; *s && k + 8 < outlen; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch >= 0x20 && ch != 0x7f && ch != '\'' && ch != '\\') out[k++] = (char)ch;
        else k += (size_t)snprintf(out + k, outlen - k, "\\x%02x", ch);
    }
    if (*s) { memcpy(out + k, "...", 3); k += 3; }
    out[k] = 0;
    return out;
}
