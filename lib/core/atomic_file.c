/* atomic_file.c: temp file + fsync + rename outputs, removed on any error exit (see atomic_file.h). */
#include "core/atomic_file.h"
#include "core/common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct atomic_file {
    char *path;             /* the output path as given, for messages */
    char *target;           /* what the temp file is renamed to: path, or the file a symlink there points to */
    char *tmp;              /* temp file path, NULL when written directly */
    char *dir;              /* folder of path, for the fsync after rename */
    FILE *f;
    int is_stdout;
    struct atomic_file *next;
};

/* Open temp files. Changed only with the catchable signals blocked, so the handler sees a whole list. */
static atomic_file *volatile open_list;
static int installed;
static const int caught[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};
#define NCAUGHT ((int)(sizeof caught / sizeof caught[0]))

static void on_signal(int sig) {
    for (atomic_file *a = open_list; a; a = a->next)
        if (a->tmp) unlink(a->tmp);
    signal(sig, SIG_DFL);
    raise(sig);
}

static void block(sigset_t *old) {
    sigset_t s;
    sigemptyset(&s);
    for (int i = 0; i < NCAUGHT; i++) sigaddset(&s, caught[i]);
    sigprocmask(SIG_BLOCK, &s, old);
}
static void unblock(const sigset_t *old) { sigprocmask(SIG_SETMASK, old, NULL); }

static void at_exit(void) { af_abort_all(); }

static void install(void) {
    if (installed) return;
    installed = 1;
    set_die_hook(af_abort_all);
    atexit(at_exit);
    for (int i = 0; i < NCAUGHT; i++) {
        struct sigaction sa, old;
        if (sigaction(caught[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN) continue; /* keep ignored */
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sigemptyset(&sa.sa_mask);
        sigaction(caught[i], &sa, NULL);
    }
}

static void unlink_out(atomic_file *a) {
    sigset_t old;
    block(&old);
    for (atomic_file *volatile *p = &open_list; *p; p = &(*p)->next)
        if (*p == a) { *p = a->next; break; }
    unblock(&old);
}

static void destroy(atomic_file *a) {
    free(a->path);
    free(a->target);
    free(a->tmp);
    free(a->dir);
    free(a);
}

static int is_path_error(int e) {
    return e == ENOENT || e == ENOTDIR || e == EACCES || e == EPERM || e == EROFS || e == EISDIR ||
           e == ENAMETOOLONG || e == ELOOP || e == EEXIST;
}
static int last_was_path_error;

atomic_file *af_open_err(const char *path, char *err, size_t errlen) {
    struct stat st;
    install();
    last_was_path_error = 1;
    if (!path || !*path) {
        snprintf(err, errlen, "expected an output path, found an empty one");
        return NULL;
    }
    atomic_file *a = xcalloc(1, sizeof *a);
    a->path = xstrdup(path);
    if (strcmp(path, "-") == 0) {
        a->f = stdout;
        a->is_stdout = 1;
        return a;
    }
    int exists = stat(path, &st) == 0;
    if (exists && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode))) {
        if (!(a->f = fopen(path, "wb"))) {
            int e = errno;
            last_was_path_error = is_path_error(e);
            snprintf(err, errlen, "expected a writable file at '%s', found %s", path, strerror(e));
            destroy(a);
            return NULL;
        }
        return a;
    }
    if (exists && S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "expected a file path for output, found a folder '%s'", path);
        destroy(a);
        return NULL;
    }
    /* An output path that is a symlink to a file: replace the file it points to, not the link. */
    struct stat lst;
    if (exists && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode)) {
        char *real = realpath(path, NULL);
        if (real) { a->target = xstrdup(real); free(real); }
    }
    if (!a->target) a->target = xstrdup(path);
    path = a->target;
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    if (!*base) {
        snprintf(err, errlen, "expected a file name in the output path, found '%s'", a->path);
        destroy(a);
        return NULL;
    }
    if (!slash) a->dir = xstrdup(".");
    else if (slash == path) a->dir = xstrdup("/");
    else {
        a->dir = xmalloc((size_t)(slash - path) + 1);
        memcpy(a->dir, path, (size_t)(slash - path));
        a->dir[slash - path] = 0;
    }
    size_t n = strlen(a->dir) + strlen(base) + 16;
    a->tmp = xmalloc(n);
    snprintf(a->tmp, n, "%s/.%s.tmp.XXXXXX", a->dir, base);
    sigset_t old;
    block(&old); /* register before a signal can leave the new file behind */
    int fd = mkstemp(a->tmp);
    int e = errno;
    if (fd >= 0) { a->next = open_list; open_list = a; }
    unblock(&old);
    if (fd < 0) {
        last_was_path_error = is_path_error(e);
        snprintf(err, errlen, "expected a writable folder for '%s', found '%s': %s", a->path, a->dir, strerror(e));
        destroy(a);
        return NULL;
    }
    /* mkstemp makes 0600; give the file the mode an ordinary create (or the old file) would have. */
    mode_t mode;
    if (exists && S_ISREG(st.st_mode)) mode = st.st_mode & 07777;
    else { mode_t um = umask(0); umask(um); mode = 0666 & ~um; }
    if (fchmod(fd, mode) != 0) { /* not fatal: the data is what matters */ }
    if (!(a->f = fdopen(fd, "wb"))) {
        e = errno;
        last_was_path_error = 0;
        close(fd);
        unlink(a->tmp);
        unlink_out(a);
        snprintf(err, errlen, "expected to open a temp file for '%s', found %s", a->path, strerror(e));
        destroy(a);
        return NULL;
    }
    return a;
}

atomic_file *af_open(const char *path) {
    char err[512];
    atomic_file *a = af_open_err(path, err, sizeof err);
    if (!a) {
        if (last_was_path_error) die_usage("%s", err);
        die_runtime("%s", err);
    }
    return a;
}

FILE *af_stream(atomic_file *af) { return af->f; }

void check_output_dir(const char *path, const char *flag) {
    struct stat st;
    if (!path || !strcmp(path, "-") || (stat(path, &st) == 0 && (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)))) return;
    char err[512];
    atomic_file *a = af_open_err(path, err, sizeof err);
    if (!a) {
        if (last_was_path_error) die_usage("%s: %s", flag, err);
        die_runtime("%s: %s", flag, err);
    }
    af_abort(a);
}

void check_append_file(const char *path, const char *flag) {
    struct stat st;
    if (path && stat(path, &st) == 0 && !S_ISDIR(st.st_mode) && access(path, W_OK) == 0) return;
    check_output_dir(path, flag);
}

void check_output_folder(const char *dir, const char *flag) {
    struct stat st;
    if (!dir || !*dir) die_usage("%s: expected an output folder, found an empty path", flag);
    if (stat(dir, &st) != 0) {   /* made by the tool: its parent must take it */
        size_t n = strlen(dir);
        while (n > 1 && dir[n - 1] == '/') n--;
        char *d = xmalloc(n + 1);
        memcpy(d, dir, n);
        d[n] = 0;
        check_output_dir(d, flag);
        free(d);
        return;
    }
    if (!S_ISDIR(st.st_mode)) die_usage("%s: expected an output folder, found a file '%s'", flag, dir);
    size_t n = strlen(dir) + 8;
    char *probe = xmalloc(n);
    snprintf(probe, n, "%s/.check", dir);
    check_output_dir(probe, flag);
    free(probe);
}

int af_commit_err(atomic_file *a, char *err, size_t errlen) {
    int e = 0;
    if (a->is_stdout) {
        if (fflush(stdout) != 0 || ferror(stdout)) {
            e = errno ? errno : EIO;
            snprintf(err, errlen, "expected to write standard output, found %s", strerror(e));
            destroy(a);
            return -1;
        }
        destroy(a);
        return 0;
    }
    if (!a->tmp) { /* FIFO or device, written directly */
        errno = 0;
        int bad = fflush(a->f) != 0 || ferror(a->f);
        if (bad) e = errno ? errno : EIO;
        if (fclose(a->f) != 0 && !bad) { bad = 1; e = errno ? errno : EIO; }
        if (bad) {
            snprintf(err, errlen, "expected to write '%s', found %s", a->path, strerror(e));
            destroy(a);
            return -1;
        }
        destroy(a);
        return 0;
    }
    errno = 0;
    const char *what = "write";
    int bad = 0;
    if (fflush(a->f) != 0 || ferror(a->f)) bad = 1;
    else if (fsync(fileno(a->f)) != 0 && errno != EINVAL && errno != EROFS) { bad = 1; what = "fsync"; }
    if (bad) e = errno ? errno : EIO;
    if (fclose(a->f) != 0 && !bad) { bad = 1; e = errno ? errno : EIO; }
    a->f = NULL;
    if (!bad && rename(a->tmp, a->target) != 0) { bad = 1; e = errno; what = "rename a temp file onto"; }
    if (bad) {
        unlink(a->tmp);
        unlink_out(a);
        snprintf(err, errlen, "expected to %s '%s', found %s", what, a->path, strerror(e));
        destroy(a);
        return -1;
    }
    unlink_out(a);
    int dfd = open(a->dir, O_RDONLY | O_DIRECTORY);
    if (dfd >= 0) { (void)fsync(dfd); close(dfd); } /* some file systems refuse; the rename stands */
    destroy(a);
    return 0;
}

void af_commit(atomic_file *af) {
    char err[512];
    if (af_commit_err(af, err, sizeof err) != 0) die_runtime("%s", err);
}

void af_abort(atomic_file *a) {
    if (!a) return;
    if (a->is_stdout) { fflush(stdout); destroy(a); return; }
    if (a->tmp) {
        unlink(a->tmp);
        unlink_out(a);
    }
    if (a->f) fclose(a->f);
    destroy(a);
}

void af_abort_all(void) {
    sigset_t old;
    block(&old);
    atomic_file *a = open_list;
    open_list = NULL;
    unblock(&old);
    while (a) {
        atomic_file *next = a->next;
        unlink(a->tmp);
        if (a->f) fclose(a->f);
        destroy(a);
        a = next;
    }
}
