/* calib.c: calibration (and --report) samples from a directory. Two layouts:
 *   flat:     DIR/<anything>.pb or .npy, sorted by file name (strcmp), for single-input graphs.
 *             A file shaped like the input is one sample; one whose leading dim N stands before
 *             the input's shape (or replaces its leading 1) holds N samples in C order.
 *   per-case: no such files in DIR, but subfolders (sorted by name; e.g. the ONNX test-case
 *             layout's test_data_set_*), each one sample holding input_K.pb or input_K.npy for
 *             every graph input K (ONNX order). This is the layout for several inputs.
 * .pb is an ONNX TensorProto (onnx_load_tensor); .npy is read here, strictly: format versions
 * 1-3, dtype '<f4' or '<f8' (converted to float), C order, and the size the header promises.
 * Nothing is guessed: a shape or type that does not fit the graph input is an error naming
 * the file. The samples live in the graph's arena. */
#include "frontend.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CALIB_MAX_FILES 100000          /* entries of a sample directory */
#define CALIB_MAX_ELEMS ((int64_t)1 << 28) /* float elements over all samples (1 GiB) */

/* ---- .npy ---- */

/* The value of 'key' in the header dict text h: a pointer just past "'key':" and blanks. */
static const char *npy_field(const char *h, const char *key) {
    char pat[32];
    snprintf(pat, sizeof pat, "'%s'", key);
    const char *p = strstr(h, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p++ != ':')
        return NULL;
    while (*p == ' ')
        p++;
    return p;
}

/* Parse an .npy file of len bytes at buf into t (float data in the arena). */
static bool npy_parse(Arena *a, const char *path, const uint8_t *buf, size_t len, Tensor *t,
                      Diag *d) {
    if (len < 10 || memcmp(buf, "\x93NUMPY", 6) != 0)
        return diag_error(d, "'%s': not an .npy file (bad magic)", path);
    int major = buf[6];
    size_t hlen, start;
    if (major == 1) {
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8;
        start = 10;
    } else if (major == 2 || major == 3) {
        if (len < 12)
            return diag_error(d, "'%s': truncated .npy header", path);
        hlen = (size_t)buf[8] | (size_t)buf[9] << 8 | (size_t)buf[10] << 16 |
               (size_t)buf[11] << 24;
        start = 12;
    } else {
        return diag_error(d, "'%s': unsupported .npy format version %d", path, major);
    }
    if (hlen > len - start || hlen > 65536)
        return diag_error(d, "'%s': truncated .npy header", path);
    char *h = arena_strndup(a, (const char *)buf + start, hlen);
    const char *descr = npy_field(h, "descr"), *fo = npy_field(h, "fortran_order");
    const char *shape = npy_field(h, "shape");
    if (!descr || !fo || !shape || *shape != '(')
        return diag_error(d, "'%s': malformed .npy header", path);
    int esize;
    if (strncmp(descr, "'<f4'", 5) == 0)
        esize = 4;
    else if (strncmp(descr, "'<f8'", 5) == 0)
        esize = 8;
    else
        return diag_error(d, "'%s': .npy dtype %.8s: calibration samples must be float32 "
                          "('<f4') or float64 ('<f8')", path, descr);
    if (strncmp(fo, "False", 5) != 0)
        return diag_error(d, "'%s': Fortran-order .npy arrays are not supported", path);
    memset(t, 0, sizeof *t);
    t->name = path;
    t->dtype = DT_FLOAT;
    int64_t numel = 1;
    const char *p = shape + 1;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p == ')')
            break;
        char *end;
        errno = 0;
        long long v = strtoll(p, &end, 10);
        if (end == p || errno || v < 0 || v > CALIB_MAX_ELEMS || t->rank == QCC_MAX_RANK)
            return diag_error(d, "'%s': malformed .npy shape", path);
        t->shape[t->rank++] = v;
        numel = v && numel > CALIB_MAX_ELEMS / v ? CALIB_MAX_ELEMS + 1 : numel * v;
        p = end;
    }
    if (numel > CALIB_MAX_ELEMS)
        return diag_error(d, "'%s': .npy array too large", path);
    t->shape_known = true;
    size_t body = len - start - hlen;
    if (body != (size_t)numel * (size_t)esize)
        return diag_error(d, "'%s': .npy data is %zu bytes, the header says %lld", path, body,
                          (long long)numel * esize);
    float *out = arena_calloc(a, (size_t)numel + 1, sizeof *out);
    const uint8_t *src = buf + start + hlen;
    for (int64_t i = 0; i < numel; i++) {
        if (esize == 4) {
            memcpy(&out[i], src + 4 * i, 4);
        } else {
            double v;
            memcpy(&v, src + 8 * i, 8);
            out[i] = (float)v;
        }
    }
    t->data = out;
    return true;
}

static bool npy_load(Arena *a, const char *path, Tensor *t, Diag *d) {
    FILE *f = fopen(path, "rb");
    if (!f)
        return diag_error(d, "cannot read '%s'", path);
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 0 ||
        (uint64_t)sb.st_size > (uint64_t)CALIB_MAX_ELEMS * 8 + 65536) {
        fclose(f);
        return diag_error(d, "'%s': unreadable or too large", path);
    }
    size_t len = (size_t)sb.st_size;
    uint8_t *buf = arena_alloc(a, len + 1);
    bool ok = fread(buf, 1, len, f) == len;
    fclose(f);
    if (!ok)
        return diag_error(d, "cannot read '%s'", path);
    return npy_parse(a, path, buf, len, t, d);
}

/* ---- directories ---- */

static bool has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), m = strlen(suf);
    return n >= m && strcmp(s + n - m, suf) == 0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted entries of dir: sample files (want_dirs false) or subdirectories. */
static const char **list_dir(Arena *a, const char *dir, bool want_dirs, int *count, Diag *d) {
    DIR *dp = opendir(dir);
    *count = 0;
    if (!dp) {
        diag_error(d, "cannot open calibration directory '%s'", dir);
        return NULL;
    }
    const char **names = arena_calloc(a, CALIB_MAX_FILES, sizeof *names);
    struct dirent *e;
    while ((e = readdir(dp)) && *count < CALIB_MAX_FILES) {
        if (e->d_name[0] == '.')
            continue;
        size_t dl = strlen(dir);
        char *path = arena_printf(a, "%s%s%s", dir, dl && dir[dl - 1] == '/' ? "" : "/",
                                  e->d_name);
        struct stat sb;
        if (stat(path, &sb) != 0)
            continue;
        bool is_dir = S_ISDIR(sb.st_mode);
        bool sample = S_ISREG(sb.st_mode) &&
                      (has_suffix(e->d_name, ".pb") || has_suffix(e->d_name, ".npy"));
        if (want_dirs ? is_dir : sample)
            names[(*count)++] = path;
    }
    closedir(dp);
    qsort(names, (size_t)*count, sizeof *names, cmp_str);
    return names;
}

static bool load_any(Arena *a, const char *path, Tensor *t, Diag *d) {
    if (has_suffix(path, ".npy"))
        return npy_load(a, path, t, d);
    if (!onnx_load_tensor(a, path, t, d))
        return false;
    if (t->dtype != DT_FLOAT)
        return diag_error(d, "'%s': a %s tensor: calibration samples must be float", path,
                          dtype_name(t->dtype));
    t->name = path; /* diagnostics name the file */
    return true;
}

static const char *shape_str(Arena *a, const Tensor *t) {
    char buf[256];
    int n = snprintf(buf, sizeof buf, "[");
    for (int i = 0; i < t->rank && n < 200; i++)
        n += snprintf(buf + n, sizeof buf - (size_t)n, "%s%lld", i ? "," : "",
                      (long long)t->shape[i]);
    snprintf(buf + n, sizeof buf - (size_t)n, "]");
    return arena_strdup(a, buf);
}

/* How many samples of input `in` file t holds: 1 if shapes are equal, N for [N] + shape or
 * for shape with its leading 1 replaced by N; 0 (after a diagnostic) otherwise. */
static int64_t samples_in(Arena *a, const Tensor *t, const Tensor *in, Diag *d) {
    bool same = t->rank == in->rank, lead_n = t->rank == in->rank + 1;
    bool repl = t->rank == in->rank && in->rank > 0 && in->shape[0] == 1;
    for (int i = 0; i < in->rank; i++) {
        same = same && t->shape[i] == in->shape[i];
        lead_n = lead_n && t->shape[i + 1] == in->shape[i];
        repl = repl && (i == 0 || t->shape[i] == in->shape[i]);
    }
    if (same)
        return 1;
    if ((lead_n || repl) && t->shape[0] > 0)
        return t->shape[0];
    diag_error(d, "'%s': shape %s does not fit graph input '%s' %s", t->name,
               shape_str(a, t), in->name, shape_str(a, in));
    return 0;
}

/* Append n samples of input `in` taken from t (consecutive blocks). */
static void add_samples(Arena *a, Tensor *dst, const Tensor *t, const Tensor *in, int64_t n) {
    int64_t per = tensor_numel(in);
    for (int64_t k = 0; k < n; k++) {
        Tensor *s = &dst[k];
        *s = *in;
        s->name = t->name;
        s->flags = 0;
        s->data = n == 1 ? t->data : arena_memdup(a, (const float *)t->data + k * per,
                                                   (size_t)per * sizeof(float));
    }
}

bool calib_load_samples(Graph *g, const char *dir, SampleSet *s, Diag *d) {
    Arena *a = g->arena;
    memset(s, 0, sizeof *s);
    s->ninputs = g->ninputs;
    for (int j = 0; j < g->ninputs; j++) {
        const Tensor *in = &g->tensors[g->inputs[j]];
        if (in->dtype != DT_FLOAT || !in->shape_known)
            return diag_error(d, "graph input '%s' must be float with a static shape to "
                              "calibrate", in->name);
    }
    int nfiles = 0, ndirs = 0;
    const char **files = list_dir(a, dir, false, &nfiles, d);
    if (!files)
        return false;
    const char **dirs = nfiles ? NULL : list_dir(a, dir, true, &ndirs, d);
    if (nfiles && g->ninputs != 1)
        return diag_error(d, "'%s': the graph has %d inputs: give one subfolder per sample "
                          "holding input_0.pb ... input_%d.pb", dir, g->ninputs, g->ninputs - 1);
    if (!nfiles && !ndirs)
        return diag_error(d, "'%s': no calibration samples (.pb or .npy files, or subfolders "
                          "with input_K.pb)", dir);
    int64_t cap = nfiles ? nfiles : ndirs, elems = 0;
    s->t = arena_calloc(a, (size_t)cap * (size_t)g->ninputs, sizeof *s->t);
    if (nfiles) {
        const Tensor *in = &g->tensors[g->inputs[0]];
        for (int f = 0; f < nfiles; f++) {
            Tensor t;
            if (!load_any(a, files[f], &t, d))
                return false;
            int64_t n = samples_in(a, &t, in, d);
            if (n == 0)
                return false;
            elems += n * tensor_numel(in);
            if (elems > CALIB_MAX_ELEMS || s->n + n > 1000000)
                return diag_error(d, "'%s': more calibration data than %lld floats", dir,
                                  (long long)CALIB_MAX_ELEMS);
            if (s->n + n > cap) { /* a file holding several samples: grow */
                cap = 2 * (s->n + n);
                Tensor *nt = arena_calloc(a, (size_t)cap, sizeof *nt);
                memcpy(nt, s->t, (size_t)s->n * sizeof *nt);
                s->t = nt;
            }
            add_samples(a, &s->t[s->n], &t, in, n);
            s->n += (int)n;
        }
        return true;
    }
    for (int k = 0; k < ndirs; k++) {
        for (int j = 0; j < g->ninputs; j++) {
            const Tensor *in = &g->tensors[g->inputs[j]];
            char *path = arena_printf(a, "%s/input_%d.pb", dirs[k], j);
            struct stat sb;
            if (stat(path, &sb) != 0)
                path = arena_printf(a, "%s/input_%d.npy", dirs[k], j);
            Tensor t;
            if (!load_any(a, path, &t, d))
                return false;
            if (samples_in(a, &t, in, d) != 1)
                return d->errors ? false
                                 : diag_error(d, "'%s': one sample per file in a subfolder",
                                              path);
            elems += tensor_numel(in);
            if (elems > CALIB_MAX_ELEMS)
                return diag_error(d, "'%s': more calibration data than %lld floats", dir,
                                  (long long)CALIB_MAX_ELEMS);
            add_samples(a, &s->t[(size_t)s->n * g->ninputs + j], &t, in, 1);
        }
        s->n++;
    }
    return true;
}
