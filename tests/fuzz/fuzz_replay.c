/* fuzz_replay.c: runs saved fuzz inputs through the fuzz target without libFuzzer, so the seed
 * corpus and crash reproducers are regression tests under any compiler (and under
 * -Db_sanitize=address,undefined). Arguments are files or directories (every regular file in
 * them, in name order); exit status 0 unless an argument cannot be read. */
#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Feed one file; false if it cannot be read. */
static bool replay_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "fuzz_replay: cannot open %s\n", path);
        return false;
    }
    uint8_t *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            uint8_t *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                fprintf(stderr, "fuzz_replay: out of memory reading %s\n", path);
                return false;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    bool ok = !ferror(f);
    fclose(f);
    if (ok) {
        printf("replay %s (%zu bytes)\n", path, len);
        fflush(stdout); /* the name is out before a crash inside the target */
        LLVMFuzzerTestOneInput(buf, len);
    } else {
        fprintf(stderr, "fuzz_replay: cannot read %s\n", path);
    }
    free(buf);
    return ok;
}

static int replay_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file directly in dir, sorted so runs are reproducible. */
static bool replay_dir(const char *dir, int *count) {
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "fuzz_replay: cannot open directory %s\n", dir);
        return false;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    for (struct dirent *e; (e = readdir(dp));) {
        if (e->d_name[0] == '.')
            continue; /* ".", ".." and hidden files (editor droppings) */
        if (n == cap) {
            size_t ncap = cap ? 2 * cap : 64;
            char **nn = realloc(names, ncap * sizeof *names);
            if (!nn) {
                ok = false;
                break;
            }
            names = nn;
            cap = ncap;
        }
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        char *path = malloc(len);
        if (!path) {
            ok = false;
            break;
        }
        snprintf(path, len, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
            names[n++] = path;
        else
            free(path);
    }
    closedir(dp);
    if (n)
        qsort(names, n, sizeof *names, replay_cmp);
    for (size_t i = 0; i < n; i++) {
        ok = replay_file(names[i]) && ok;
        free(names[i]);
        ++*count;
    }
    free(names);
    if (!ok)
        fprintf(stderr, "fuzz_replay: error listing %s\n", dir);
    return ok;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_replay FILE|DIR...\n");
        return 2;
    }
    bool ok = true;
    int count = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            ok = replay_dir(argv[i], &count) && ok;
        } else {
            ok = replay_file(argv[i]) && ok;
            count++;
        }
    }
    printf("fuzz_replay: %d inputs, no crash\n", count);
    if (count == 0)
        fprintf(stderr, "fuzz_replay: no input found: a missing corpus must not pass\n");
    return ok && count > 0 ? 0 : 1;
}
