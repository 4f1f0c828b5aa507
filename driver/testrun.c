/* testrun.c: the operating-system side of `qcc test`: temp directories, whole-file I/O and
 * child processes with a timeout (posix_spawn, argv arrays: no shell, so no quoting). It
 * knows nothing about ONNX or comparisons. */
#include "testcase.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

char *tc_join(Arena *a, const char *dir, const char *name) {
    size_t n = strlen(dir);
    return arena_printf(a, "%s%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", name);
}

bool tc_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

bool tc_is_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

char *tc_mkdtemp(Arena *a) {
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !tmp[0] || !tc_is_dir(tmp))
        tmp = "/tmp";
    char *path = tc_join(a, tmp, "qcc-test-XXXXXX");
    if (!mkdtemp(path)) {
        fprintf(stderr, "qcc test: error: cannot create a directory in %s: %s\n", tmp,
                strerror(errno));
        return NULL;
    }
    return path;
}

void tc_rmtree(const char *dir) {
    DIR *dp = opendir(dir);
    if (!dp)
        return;
    Arena a;
    arena_init(&a);
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        unlink(tc_join(&a, dir, e->d_name)); /* the harness only ever writes plain files */
    }
    closedir(dp);
    arena_free(&a);
    rmdir(dir);
}

char *tc_read_file(Arena *a, const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size < 0) {
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = arena_alloc(a, n + 1);
    size_t got = n ? fread(buf, 1, n, f) : 0;
    fclose(f);
    if (got != n)
        return NULL;
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

bool tc_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f)
        return false;
    bool ok = (len == 0 || fwrite(data, 1, len, f) == len);
    return (fclose(f) == 0) && ok;
}

void tc_split_words(Arena *a, const char *s, const char **argv, int *n, int max) {
    while (s && *s) {
        s += strspn(s, " \t\n");
        size_t w = strcspn(s, " \t\n");
        if (w == 0)
            break;
        if (*n < max)
            argv[(*n)++] = arena_strndup(a, s, w);
        s += w;
    }
}

int tc_wait(pid_t pid, int timeout_s, bool *timed_out) {
    /* Poll with a growing sleep: most children (cc, the harness) end within a second, and a
     * blocking waitpid could not enforce the timeout. */
    long waited_us = 0, step_us = 100;
    *timed_out = false;
    for (;;) {
        int status;
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0 && errno != EINTR)
            return -1;
        if (timeout_s > 0 && waited_us >= (long)timeout_s * 1000000L) {
            kill(pid, SIGKILL);
            *timed_out = true;
            while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
            return status;
        }
        struct timespec ts = {0, step_us * 1000L};
        nanosleep(&ts, NULL);
        waited_us += step_us;
        if (step_us < 20000)
            step_us *= 2;
    }
}

int tc_spawn(const char *const *argv, const char *log, int timeout_s, bool *timed_out) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    if (log) {
        posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    pid_t pid;
    fflush(stdout);
    fflush(stderr);
    int rc = posix_spawnp(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    *timed_out = false;
    if (rc != 0) {
        errno = rc;
        return -1;
    }
    return tc_wait(pid, timeout_s, timed_out);
}

const char *tc_status_text(Arena *a, int status, bool timed_out, int timeout_s) {
    if (timed_out)
        return arena_printf(a, "timeout after %d s", timeout_s);
    if (status == -1)
        return "could not start";
    if (WIFEXITED(status))
        return arena_printf(a, "exit %d", WEXITSTATUS(status));
    if (WIFSIGNALED(status))
        return arena_printf(a, "signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
    return arena_printf(a, "status %d", status);
}
