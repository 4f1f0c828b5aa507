/* testcase.c: `qcc test DIR...`: for each ONNX test case, compile the model (qcc_compile),
 * build a generated harness around <name>_run with the C compiler, run it on every
 * test_data_set_N and compare with output_K.pb (testcmp.c). Each case runs in a forked child
 * so a crash or internal error in the compiler fails that case, not the whole batch. */
#include "testcase.h"
#include "../frontend/frontend.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

#define TC_CC_TIMEOUT 300   /* seconds for the C compiler on one generated model */
#define TC_RUN_TIMEOUT 60   /* seconds for one harness run */
#define TC_CASE_TIMEOUT 900 /* seconds for a whole case (compile + build + every set) */
#define TC_MAX_SETS 64      /* test_data_set_N folders read per case */
#define TC_MAX_ARGS 128     /* words of a compiler or harness command line */

static void tc_usage(FILE *f) {
    fputs("usage: qcc test DIR... [options]\n"
          "\n"
          "DIR is an ONNX test case: model.onnx (or the one *.onnx in DIR) and\n"
          "test_data_set_*/input_K.pb, output_K.pb. Each model is compiled, built into a\n"
          "harness with the C compiler, run on every data set and compared.\n"
          "\n"
          "options:\n"
          "  --model FILE        the model (for DIRs that hold only test_data_set_*)\n"
          "  --requant=MODE      fixed (default) or float, as for qcc\n"
          "  --name NAME         symbol prefix of the generated code (default: model)\n"
          "  --cc CMD            C compiler (default: $CC, else cc)\n"
          "  --cflags FLAGS      extra flags after -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror\n"
          "  --target=T          code generator backend, as for qcc (default: c). cuda: built\n"
          "                      with nvcc and run on the GPU when one is present, else built\n"
          "                      as C++ ($CXX, else g++) with the emulation header; outputs\n"
          "                      must also equal the C backend's bit for bit on every data set\n"
          "  --cuda-arch=sm_XX   as for qcc (nvcc -arch)\n"
          "  --runner CMD        run the harness through CMD (an emulator for a cross --cc:\n"
          "                      \"qemu-aarch64 -L /usr/aarch64-linux-gnu\")\n"
          "  --save-outputs DIR  also copy every raw output to DIR/set_N_out_K.bin (existing\n"
          "                      DIR), to compare two backends byte for byte\n"
          "  --sanitize          build the harness with -fsanitize=undefined,address\n"
          "  --tol-steps N       float outputs of a DequantizeLinear: within N steps of its\n"
          "                      scale (default 1)\n"
          "  --int-tol N         integer outputs: within N (default 0: exact)\n"
          "  --atol X, --rtol X  other float outputs: |got-want| <= atol + rtol*|want|\n"
          "                      (default 1e-5, 1e-3)\n"
          "  --top1              fail when the argmax over the last dim differs\n"
          "  --classify          a compile error saying 'unsupported' is UNSUPPORTED, not FAIL\n"
          "  --freeze-params     if the model needs constant parameters that the test feeds as\n"
          "                      inputs (node tests), compile them in from test_data_set_0\n"
          "  --keep              keep the temporary directories (printed)\n"
          "  --qat FILE.pt, --calibrate DIR, --calib-method=M, --calib-percentile=P,\n"
          "  --calib-bins=N, --act-dtype=T, --weights=G, --skip NODE, --samples DIR\n"
          "                      a float model (--model) quantized by qcc, as for qcc\n"
          "  -v                  print compiler diagnostics and commands\n"
          "  -h, --help          this text\n"
          "\n"
          "The last line reads 'N passed, M failed'. Exit 0 if nothing failed, 1 otherwise,\n"
          "77 if no DIR exists (a skipped test for meson).\n",
          f);
}

/* "--opt=value" or "--opt value"; NULL if argv[*i] is not opt, or (setting *bad after a
 * message) if its value is missing. */
static const char *tc_opt(int argc, char **argv, int *i, const char *opt, bool *bad) {
    return option_value(argc, argv, i, opt, "qcc test", bad);
}

static bool tc_number(const char *opt, const char *v, double *out) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= 0)) {
        fprintf(stderr, "qcc test: error: %s needs a non-negative number, not '%s'\n", opt, v);
        return false;
    }
    *out = x;
    return true;
}

/* Parses options into o and the DIRs into dirs; false after printing the problem. */
static bool tc_parse(int argc, char **argv, TestOptions *o, const char **dirs, int *ndirs,
                     bool *help) {
    for (int i = 1; i < argc; i++) {
        const char *v;
        bool bad = false;
        double x;
        int fo;
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            *help = true;
            return true;
        } else if (strcmp(a, "-v") == 0) {
            o->verbose++;
        } else if (strcmp(a, "--keep") == 0) {
            o->keep = true;
        } else if (strcmp(a, "--sanitize") == 0) {
            o->sanitize = true;
        } else if (strcmp(a, "--classify") == 0) {
            o->classify = true;
        } else if (strcmp(a, "--freeze-params") == 0) {
            o->freeze = true;
        } else if (strcmp(a, "--top1") == 0) {
            o->top1 = true;
        } else if ((v = tc_opt(argc, argv, &i, "--model", &bad))) {
            o->model = v;
        } else if ((v = tc_opt(argc, argv, &i, "--name", &bad))) {
            o->co.name = v;
        } else if ((v = tc_opt(argc, argv, &i, "--cc", &bad))) {
            o->cc = v;
        } else if ((v = tc_opt(argc, argv, &i, "--cuda-arch", &bad))) {
            o->co.cuda_arch = v;
        } else if ((v = tc_opt(argc, argv, &i, "--cflags", &bad))) {
            o->cflags = v;
        } else if ((v = tc_opt(argc, argv, &i, "--target", &bad))) {
            if (!target_find(v)) {
                fprintf(stderr, "qcc test: error: unknown target '%s'\n", v);
                return false;
            }
            o->co.target = v;
        } else if ((v = tc_opt(argc, argv, &i, "--runner", &bad))) {
            o->runner = v;
        } else if ((v = tc_opt(argc, argv, &i, "--save-outputs", &bad))) {
            if (!tc_is_dir(v)) {
                fprintf(stderr, "qcc test: error: --save-outputs: no directory '%s'\n", v);
                return false;
            }
            o->save_dir = v;
        } else if ((v = tc_opt(argc, argv, &i, "--requant", &bad))) {
            if (strcmp(v, "fixed") != 0 && strcmp(v, "float") != 0) {
                fprintf(stderr, "qcc test: error: --requant must be 'fixed' or 'float'\n");
                return false;
            }
            o->co.requant = strcmp(v, "float") == 0 ? REQUANT_FLOAT : REQUANT_FIXED;
        } else if ((v = tc_opt(argc, argv, &i, "--tol-steps", &bad))) {
            if (!tc_number("--tol-steps", v, &o->tol_steps))
                return false;
        } else if ((v = tc_opt(argc, argv, &i, "--int-tol", &bad))) {
            if (!tc_number("--int-tol", v, &x))
                return false;
            o->int_tol = (int64_t)x;
        } else if ((v = tc_opt(argc, argv, &i, "--atol", &bad))) {
            if (!tc_number("--atol", v, &o->atol))
                return false;
        } else if ((v = tc_opt(argc, argv, &i, "--rtol", &bad))) {
            if (!tc_number("--rtol", v, &o->rtol))
                return false;
        } else if (!bad && (fo = float_options_parse(argc, argv, &i, &o->co, "qcc test"))) {
            if (fo < 0)
                return false;
        } else if (bad) {
            return false;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "qcc test: error: unknown option '%s' (see qcc test --help)\n", a);
            return false;
        } else {
            dirs[(*ndirs)++] = a;
        }
    }
    return true;
}

/* "…/lenet5_qat/qdq/" -> "lenet5_qat/qdq": the last two path components. */
static const char *tc_label(Arena *a, const char *dir) {
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    size_t start = n, slashes = 0;
    while (start > 0) {
        if (dir[start - 1] == '/' && ++slashes == 2)
            break;
        start--;
    }
    return arena_strndup(a, dir + start, n - start);
}

/* The model of a case: --model, DIR/model.onnx, the one *.onnx in DIR, or NAME.onnx beside
 * a NAME.ort-ref folder (the conformance models' layout). NULL if none. */
static const char *tc_find_model(Arena *a, const TestOptions *o, const char *dir) {
    if (o->model)
        return o->model;
    char *p = tc_join(a, dir, "model.onnx");
    if (tc_is_file(p))
        return p;
    const char *found = NULL;
    int count = 0;
    DIR *dp = opendir(dir);
    struct dirent *e;
    while (dp && (e = readdir(dp)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n > 5 && strcmp(e->d_name + n - 5, ".onnx") == 0) {
            found = tc_join(a, dir, e->d_name);
            count++;
        }
    }
    if (dp)
        closedir(dp);
    if (count == 1)
        return found;
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (count == 0 && n > 8 && strncmp(dir + n - 8, ".ort-ref", 8) == 0) {
        p = arena_printf(a, "%.*s.onnx", (int)(n - 8), dir);
        if (tc_is_file(p))
            return p;
    }
    return NULL;
}

static int tc_cmp_sets(const void *x, const void *y) {
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    long ia = strtol(strrchr(a, '_') + 1, NULL, 10), ib = strtol(strrchr(b, '_') + 1, NULL, 10);
    return ia < ib ? -1 : ia > ib;
}

/* test_data_set_N folder names of dir in numeric order; returns how many. */
static int tc_find_sets(Arena *a, const char *dir, const char **sets) {
    int n = 0;
    DIR *dp = opendir(dir);
    struct dirent *e;
    while (dp && (e = readdir(dp)) != NULL && n < TC_MAX_SETS) {
        if (strncmp(e->d_name, "test_data_set_", 14) == 0 && tc_is_dir(tc_join(a, dir,
                                                                               e->d_name)))
            sets[n++] = arena_strdup(a, e->d_name);
    }
    if (dp)
        closedir(dp);
    qsort(sets, (size_t)n, sizeof *sets, tc_cmp_sets);
    return n;
}

/* The first "error:" line of a diagnostics log (or its first line), without the newline. */
static const char *tc_first_error(Arena *a, const char *log) {
    if (!log || !log[0])
        return "(no diagnostic)";
    const char *p = strstr(log, "error:");
    if (!p)
        p = log;
    while (p > log && p[-1] != '\n')
        p--;
    return arena_strndup(a, p, strcspn(p, "\n"));
}

static bool tc_says_unsupported(const char *line) {
    for (const char *p = line; *p; p++)
        if (strncasecmp(p, "unsupported", 11) == 0 || strncasecmp(p, "not supported", 13) == 0)
            return true;
    return false;
}

/* The graph-output grid: follow data-movement ops back to a DequantizeLinear with a
 * constant scale. The frontend's graph is enough (no pass needed). */
static void tc_out_scale(const Graph *g, int t, OutSpec *s) {
    for (int hops = 0; hops < 16; hops++) {
        int p = graph_producer(g, t);
        if (p < 0)
            return;
        const Node *n = &g->nodes[p];
        switch (n->op) {
        case OP_RESHAPE: case OP_FLATTEN: case OP_SQUEEZE: case OP_UNSQUEEZE:
        case OP_TRANSPOSE: case OP_IDENTITY:
            t = n->in[0];
            continue;
        case OP_DEQUANTIZE: {
            if (n->nin < 2 || n->in[1] < 0)
                return;
            const Tensor *sc = &g->tensors[n->in[1]];
            if (!tensor_is_const(sc) || sc->dtype != DT_FLOAT || tensor_numel(sc) < 1)
                return;
            s->nscale = (int)tensor_numel(sc);
            s->scale = sc->data;
            s->axis = (int)n->a.axis.axis;
            return;
        }
        default:
            return;
        }
    }
}

static void tc_macro_name(char *buf, size_t size, const char *name) {
    size_t i = 0;
    for (; name[i] && i + 1 < size; i++)
        buf[i] = (char)toupper((unsigned char)name[i]);
    buf[i] = '\0';
}

/* main.c around <name>_run: reads raw inputs named on the command line, writes raw outputs.
 * Buffers are malloc'd at their exact size so --sanitize catches overruns. */
static void tc_harness(StrBuf *sb, const Graph *g, const char *name) {
    char up[128];
    tc_macro_name(up, sizeof up, name);
    int ni = g->ninputs, no = g->noutputs;
    sb_printf(sb, "/* generated by qcc test */\n#include <stdio.h>\n#include <stdlib.h>\n"
              "#include <stdint.h>\n#include \"model.h\"\n\n");
    sb_puts(sb, "static void *alloc_bytes(size_t n) {\n"
                "    void *p = malloc(n ? n : 1);\n"
                "    if (!p) {\n        fputs(\"out of memory\\n\", stderr);\n        exit(2);\n"
                "    }\n    return p;\n}\n\n");
    if (ni > 0)
        sb_puts(sb, "static void read_raw(const char *path, void *buf, size_t n) {\n"
                    "    FILE *f = fopen(path, \"rb\");\n    size_t got;\n    int extra;\n"
                    "    if (!f) {\n        fprintf(stderr, \"cannot open %s\\n\", path);\n"
                    "        exit(2);\n    }\n    got = n ? fread(buf, 1, n, f) : 0;\n"
                    "    extra = fgetc(f);\n    fclose(f);\n    if (got != n || extra != EOF) {\n"
                    "        fprintf(stderr, \"%s: expected %lu bytes\\n\", path, "
                    "(unsigned long)n);\n        exit(2);\n    }\n}\n\n");
    sb_puts(sb, "static void write_raw(const char *path, const void *buf, size_t n) {\n"
                "    FILE *f = fopen(path, \"wb\");\n"
                "    if (!f || (n && fwrite(buf, 1, n, f) != n) || fclose(f) != 0) {\n"
                "        fprintf(stderr, \"cannot write %s\\n\", path);\n        exit(2);\n"
                "    }\n}\n\n");
    sb_printf(sb, "int main(int argc, char **argv) {\n    int rc;\n");
    for (int k = 0; k < ni; k++) {
        const char *ct = dtype_ctype(g->tensors[g->inputs[k]].dtype);
        sb_printf(sb, "    %s *in%d = alloc_bytes(sizeof(%s) * %s_INPUT%d_SIZE);\n", ct, k, ct,
                  up, k);
    }
    for (int k = 0; k < no; k++) {
        const char *ct = dtype_ctype(g->tensors[g->outputs[k]].dtype);
        sb_printf(sb, "    %s *out%d = alloc_bytes(sizeof(%s) * %s_OUTPUT%d_SIZE);\n", ct, k, ct,
                  up, k);
    }
    sb_printf(sb, "    if (argc != %d) {\n        fputs(\"usage: harness IN... OUT...\\n\", "
              "stderr);\n        return 2;\n    }\n", 1 + ni + no);
    for (int k = 0; k < ni; k++)
        sb_printf(sb, "    read_raw(argv[%d], in%d, sizeof *in%d * %s_INPUT%d_SIZE);\n", 1 + k,
                  k, k, up, k);
    sb_printf(sb, "    rc = %s_run(", name);
    for (int k = 0; k < ni + no; k++)
        sb_printf(sb, "%s%s%d", k ? ", " : "", k < ni ? "in" : "out", k < ni ? k : k - ni);
    sb_puts(sb, ");\n    if (rc != 0) {\n        fprintf(stderr, \"_run returned %d\\n\", rc);\n"
                "        return 3;\n    }\n");
    for (int k = 0; k < no; k++)
        sb_printf(sb, "    write_raw(argv[%d], out%d, sizeof *out%d * %s_OUTPUT%d_SIZE);\n",
                  1 + ni + k, k, k, up, k);
    for (int k = 0; k < ni; k++)
        sb_printf(sb, "    free(in%d);\n", k);
    for (int k = 0; k < no; k++)
        sb_printf(sb, "    free(out%d);\n", k);
    sb_puts(sb, "    return 0;\n}\n");
}

/* Convert a loaded input tensor to the graph input's dtype and write it raw. */
static bool tc_write_input(Arena *a, const Tensor *t, DType want, const char *path) {
    int64_t n = tensor_numel(t);
    size_t sz = dtype_size(want);
    if (t->dtype == want)
        return tc_write_file(path, t->data, (size_t)n * sz);
    unsigned char *buf = arena_alloc(a, (size_t)n * sz + 1);
    for (int64_t i = 0; i < n; i++) {
        unsigned char *p = buf + (size_t)i * sz;
        if (want == DT_FLOAT) {
            float v = (float)tensor_get_f(t, i);
            memcpy(p, &v, sizeof v);
        } else if (want == DT_DOUBLE) {
            double v = tensor_get_f(t, i);
            memcpy(p, &v, sizeof v);
        } else {
            int64_t v = tensor_get_i(t, i); /* host is little endian: the low bytes */
            memcpy(p, &v, sz);
        }
    }
    return tc_write_file(path, buf, (size_t)n * sz);
}

/* Print the tail of a log file to stderr (compiler errors, sanitizer reports). */
static void tc_show_log(Arena *a, const char *path, int max_lines) {
    char *log = tc_read_file(a, path, NULL);
    if (!log || !log[0])
        return;
    int lines = 0;
    for (const char *p = log; *p && lines < max_lines; lines++) {
        size_t n = strcspn(p, "\n");
        fprintf(stderr, "    %.*s\n", (int)n, p);
        p += n + (p[n] == '\n');
    }
}

/* Do the inputs frozen from set0 (those not in runtime_index) hold the same bytes in set? */
static bool tc_same_frozen(Arena *a, const char *dir, const char *set0, const char *set,
                           const int *runtime_index, int nruntime) {
    for (int k = 0;; k++) {
        bool runtime = false;
        for (int j = 0; j < nruntime; j++)
            runtime |= runtime_index[j] == k;
        const char *name = arena_printf(a, "input_%d.pb", k);
        size_t l0, l1;
        const char *b0 = tc_read_file(a, tc_join(a, tc_join(a, dir, set0), name), &l0);
        if (!b0)
            return true;
        if (runtime)
            continue;
        const char *b1 = tc_read_file(a, tc_join(a, tc_join(a, dir, set), name), &l1);
        if (!b1 || l0 != l1 || memcmp(b0, b1, l0) != 0)
            return false;
    }
}

/* qcc_compile with its diagnostics captured in tmp/compile.log (*log gets the text):
 * --classify needs the first error, and the parent shows the log if the compiler crashes. */
static int tc_compile_logged(Arena *a, const TestOptions *o, const char *model,
                             const char *csrc, const char *tmp, char **log) {
    const char *clog = tc_join(a, tmp, "compile.log");
    fflush(stderr);
    int saved = dup(2);
    FILE *lf = fopen(clog, "w");
    if (saved < 0 || !lf) {
        fprintf(stderr, "qcc test: error: cannot write %s\n", clog);
        return 1;
    }
    dup2(fileno(lf), 2);
    fclose(lf);
    int rc = qcc_compile(model, csrc, &o->co);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    *log = tc_read_file(a, clog, NULL);
    if (o->verbose && *log)
        fputs(*log, stderr);
    return rc;
}

/* Write main.c and build it with the model into exe; NULL, or what went wrong. */
static const char *tc_build_harness(Arena *a, const TestOptions *o, const Graph *g,
                                    const char *tmp, const char *csrc, const char *exe) {
    StrBuf sb;
    sb_init(&sb);
    tc_harness(&sb, g, o->co.name);
    const char *hsrc = tc_join(a, tmp, "main.c");
    bool wrote = tc_write_file(hsrc, sb.data, sb.len);
    sb_free(&sb);
    if (!wrote)
        return arena_printf(a, "cannot write %s", hsrc);
    const char *argv[TC_MAX_ARGS + 16];
    int n = 0;
    tc_split_words(a, o->cc, argv, &n, TC_MAX_ARGS / 2);
    if (n == 0)
        argv[n++] = "cc";
    const char *std_flags[] = {"-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic", "-Werror"};
    for (size_t i = 0; i < sizeof std_flags / sizeof *std_flags; i++)
        argv[n++] = std_flags[i];
    if (o->sanitize) {
        argv[n++] = "-fsanitize=undefined,address";
        argv[n++] = "-fno-sanitize-recover=all";
    }
    tc_split_words(a, o->cflags, argv, &n, TC_MAX_ARGS);
    const char *tail[] = {"-o", exe, hsrc, csrc, "-lm", NULL};
    for (size_t i = 0; i < sizeof tail / sizeof *tail; i++)
        argv[n++] = tail[i];
    if (o->verbose) {
        for (int i = 0; argv[i]; i++)
            fprintf(stderr, "%s%s", i ? " " : "+ ", argv[i]);
        fputc('\n', stderr);
    }
    const char *blog = tc_join(a, tmp, "build.log");
    bool to;
    int st = tc_spawn(argv, blog, TC_CC_TIMEOUT, &to);
    if (st == 0)
        return NULL;
    tc_show_log(a, blog, 40);
    return arena_printf(a, "building the generated C failed (%s; %s)",
                  tc_status_text(a, st, to, TC_CC_TIMEOUT), argv[0]);
}

/* A GPU to run CUDA output on: nvcc ($NVCC or /usr/local/cuda/bin/nvcc) and a device node. */
static const char *tc_nvcc(void) {
    const char *nv = getenv("NVCC");
    return nv && nv[0] ? nv : "/usr/local/cuda/bin/nvcc";
}

static bool tc_cuda_gpu(void) {
    return access(tc_nvcc(), X_OK) == 0 && access("/dev/nvidia0", R_OK) == 0;
}

/* --target=cuda: main.c with the C compiler, then model.cu with nvcc when a GPU is present,
 * else as C++ ($CXX, else g++) with runtime_min/qcc_cuda_emu.h (written into tmp). */
static const char *tc_build_cuda(Arena *a, const TestOptions *o, const Graph *g,
                                 const char *tmp, const char *cusrc, const char *exe) {
    StrBuf sb;
    sb_init(&sb);
    tc_harness(&sb, g, o->co.name);
    const char *hsrc = tc_join(a, tmp, "main.c"), *hobj = tc_join(a, tmp, "main.o");
    const char *emu = tc_join(a, tmp, "qcc_cuda_emu.h");
    bool wrote = tc_write_file(hsrc, sb.data, sb.len) &&
                 tc_write_file(emu, qcc_cuda_emu_h_text, strlen(qcc_cuda_emu_h_text));
    sb_free(&sb);
    if (!wrote)
        return arena_printf(a, "cannot write into %s", tmp);
    const char *argv[TC_MAX_ARGS + 24];
    const char *blog = tc_join(a, tmp, "build.log");
    for (int step = 0; step < 2; step++) {
        int n = 0;
        if (step == 0) {
            tc_split_words(a, o->cc, argv, &n, TC_MAX_ARGS / 2);
            if (n == 0)
                argv[n++] = "cc";
            const char *flags[] = {"-std=c99", "-O2", "-Wall", "-Wextra", "-Wpedantic",
                                   "-Werror", "-c", "-o", hobj, hsrc, NULL};
            for (size_t i = 0; flags[i]; i++)
                argv[n++] = flags[i];
        } else if (tc_cuda_gpu()) {
            const char *arch = o->co.cuda_arch ? o->co.cuda_arch : "sm_75";
            const char *flags[] = {tc_nvcc(), "-O2", arena_printf(a, "-arch=%s", arch),
                                   "-o", exe, cusrc, hobj, NULL};
            for (size_t i = 0; flags[i]; i++)
                argv[n++] = flags[i];
        } else {
            const char *cxx = getenv("CXX");
            tc_split_words(a, cxx && cxx[0] ? cxx : "g++", argv, &n, TC_MAX_ARGS / 2);
            const char *flags[] = {"-std=c++17", "-O2", "-Wall", "-Wextra", "-Werror",
                                   "-x", "c++", "-include", emu, cusrc, "-x", "none", hobj,
                                   "-o", exe, NULL};
            for (size_t i = 0; flags[i]; i++)
                argv[n++] = flags[i];
        }
        argv[n] = NULL;
        if (o->verbose) {
            for (int i = 0; argv[i]; i++)
                fprintf(stderr, "%s%s", i ? " " : "+ ", argv[i]);
            fputc('\n', stderr);
        }
        bool to;
        int st = tc_spawn(argv, blog, TC_CC_TIMEOUT, &to);
        if (st != 0) {
            tc_show_log(a, blog, 40);
            return arena_printf(a, "building the %s failed (%s; %s)",
                                step ? "generated CUDA" : "harness",
                                tc_status_text(a, st, to, TC_CC_TIMEOUT), argv[0]);
        }
    }
    return NULL;
}

/* Print "FAIL label: ..." and evaluate to TC_FAIL. */
#define TC_FAILED(...) (printf("FAIL %s: ", label), printf(__VA_ARGS__), putchar('\n'), TC_FAIL)

/* One case, in the child process. Prints its PASS/FAIL/UNSUPPORTED line. */
static int tc_case(Arena *a, const TestOptions *o, const char *dir, const char *tmp,
                   const char *label) {
    const char *model = tc_find_model(a, o, dir);
    if (!model)
        return TC_FAILED("no model.onnx (or single *.onnx) in %s; use --model", dir);
    const char *sets[TC_MAX_SETS];
    int nsets = tc_find_sets(a, dir, sets);
    if (nsets == 0)
        return TC_FAILED("no test_data_set_* in %s", dir);

    /* Compile; node tests that feed parameters as inputs get them frozen on request. */
    bool cuda = strcmp(o->co.target, "cuda") == 0;
    const char *csrc = tc_join(a, tmp, cuda ? "model.cu" : "model.c");
    char *log = NULL;
    int rc = tc_compile_logged(a, o, model, csrc, tmp, &log);
    int runtime_index[QCC_MAX_IO * 4], nruntime = -1;
    const char *orig_model = model;
    char frozen[256] = "";
    if (rc != 0 && o->freeze && log && strstr(log, "constant")) {
        const char *fmodel = tc_join(a, tmp, "frozen.onnx");
        if (tc_freeze(a, model, tc_join(a, dir, sets[0]), fmodel, runtime_index, &nruntime,
                      frozen, sizeof frozen)) {
            if (o->verbose)
                fprintf(stderr, "qcc test: retrying with %s compiled in\n", frozen);
            model = fmodel;
            rc = tc_compile_logged(a, o, model, csrc, tmp, &log);
        } else {
            nruntime = -1;
        }
    }
    if (rc != 0) {
        const char *first = tc_first_error(a, log);
        if (frozen[0] && strncmp(first, model, strlen(model)) == 0)
            first = arena_printf(a, "%s (frozen)%s", orig_model, first + strlen(model));
        if (o->classify && tc_says_unsupported(first)) {
            printf("UNSUPPORTED %s: %s\n", label, first);
            return TC_UNSUPPORTED;
        }
        if (!o->verbose && log)
            fputs(log, stderr);
        return TC_FAILED("compile: %s", first);
    }

    /* Input dtypes and output grids from the frontend's graph. */
    Graph g;
    graph_init(&g, a);
    Diag quiet;
    diag_init(&quiet, model, NULL);
    if (!onnx_load(&g, model, &quiet))
        return TC_FAILED("cannot re-read %s", model);
    /* A float model that qcc quantizes (--qat, --calibrate): its outputs come out of the
     * DequantizeLinear quantize_graph put there, whose scale is the grid --tol-steps means. */
    if ((o->co.qat || o->co.calibrate) && !float_model_quantize(&g, &o->co, &quiet))
        return TC_FAILED("cannot quantize %s again to find its output grid", model);
    if (nruntime < 0) {
        nruntime = g.ninputs;
        for (int k = 0; k < g.ninputs; k++)
            runtime_index[k] = k;
    } else if (nruntime != g.ninputs) {
        return TC_FAILED("frozen model has %d inputs, expected %d", g.ninputs, nruntime);
    }
    OutSpec *specs = arena_calloc(a, (size_t)g.noutputs + 1, sizeof *specs);
    OutStats *stats = arena_calloc(a, (size_t)g.noutputs + 1, sizeof *stats);
    for (int k = 0; k < g.noutputs; k++) {
        specs[k].name = g.tensors[g.outputs[k]].name;
        specs[k].dtype = g.tensors[g.outputs[k]].dtype;
        tc_out_scale(&g, g.outputs[k], &specs[k]);
    }
    for (int k = 0; k < g.ninputs + g.noutputs; k++) {
        DType t = g.tensors[k < g.ninputs ? g.inputs[k] : g.outputs[k - g.ninputs]].dtype;
        if (t == DT_UNDEF || t == DT_FLOAT16)
            return TC_FAILED("graph port %d has type %s, which qcc test cannot feed", k,
                           dtype_name(t));
    }

    /* Build the harness. */
    const char *exe = tc_join(a, tmp, "harness");
    const char *why = cuda ? tc_build_cuda(a, o, &g, tmp, csrc, exe)
                           : tc_build_harness(a, o, &g, tmp, csrc, exe);
    if (why)
        return TC_FAILED("%s", why);
    /* --target=cuda: the C backend's build of the same model is the reference */
    const char *ref_exe = cuda ? tc_join(a, tmp, "ref_harness") : NULL;
    int64_t ref_same = 0;
    if (cuda) {
        TestOptions ro = *o;
        ro.co.target = "c";
        const char *rsrc = tc_join(a, tmp, "ref_model.c");
        char *rlog_text = NULL;
        if (tc_compile_logged(a, &ro, model, rsrc, tmp, &rlog_text) != 0)
            return TC_FAILED("compile (C reference): %s", tc_first_error(a, rlog_text));
        why = tc_build_harness(a, &ro, &g, tmp, rsrc, ref_exe);
        if (why)
            return TC_FAILED("C reference: %s", why);
    }
    bool to;
    int st;

    /* Run every data set and compare. */
    const char *rargv[2 * QCC_MAX_IO * 4 + 2 + TC_MAX_ARGS];
    const char *rlog = tc_join(a, tmp, "run.log");
    bool ok = true;
    for (int s = 0; s < nsets; s++) {
        const char *sdir = tc_join(a, dir, sets[s]);
        int r = 0;
        tc_split_words(a, o->runner, rargv, &r, TC_MAX_ARGS); /* none: runs exe directly */
        int first_out = r + 1 + g.ninputs; /* rargv index of out0.bin */
        rargv[r++] = exe;
        for (int k = 0; k < g.ninputs; k++) {
            Tensor t;
            Diag d;
            const char *ipath = arena_printf(a, "input_%d.pb", runtime_index[k]);
            diag_init(&d, tc_join(a, sdir, ipath), stderr);
            if (!onnx_load_tensor(a, d.file, &t, &d))
                return TC_FAILED("%s: cannot read input %d", sets[s], k);
            const Tensor *gi = &g.tensors[g.inputs[k]];
            if (tensor_numel(&t) != tensor_numel(gi))
                return TC_FAILED("%s input %d (%s): %lld elements, the model takes %lld",
                               sets[s], k, gi->name, (long long)tensor_numel(&t),
                               (long long)tensor_numel(gi));
            rargv[r] = tc_join(a, tmp, arena_printf(a, "in%d.bin", k));
            if (!tc_write_input(a, &t, gi->dtype, rargv[r++]))
                return TC_FAILED("cannot write %s", rargv[r - 1]);
        }
        if (frozen[0] && s > 0 && !tc_same_frozen(a, dir, sets[0], sets[s], runtime_index,
                                                  nruntime))
            return TC_FAILED("%s: inputs frozen from %s (%s) have other values here", sets[s],
                             sets[0], frozen);
        for (int k = 0; k < g.noutputs; k++)
            rargv[r++] = tc_join(a, tmp, arena_printf(a, "out%d.bin", k));
        rargv[r] = NULL;
        st = tc_spawn(rargv, rlog, TC_RUN_TIMEOUT, &to);
        if (st != 0) {
            tc_show_log(a, rlog, 40);
            return TC_FAILED("%s: the harness failed (%s)", sets[s],
                           tc_status_text(a, st, to, TC_RUN_TIMEOUT));
        }
        if (cuda) {
            const char *cargv[2 * QCC_MAX_IO * 4 + 2];
            int r2 = 0;
            for (; rargv[r2]; r2++)
                cargv[r2] = rargv[r2];
            cargv[0] = ref_exe;
            for (int k = 0; k < g.noutputs; k++)
                cargv[1 + g.ninputs + k] = tc_join(a, tmp, arena_printf(a, "ref%d.bin", k));
            cargv[r2] = NULL;
            st = tc_spawn(cargv, rlog, TC_RUN_TIMEOUT, &to);
            if (st != 0)
                return TC_FAILED("%s: the C reference failed (%s)", sets[s],
                                 tc_status_text(a, st, to, TC_RUN_TIMEOUT));
            for (int k = 0; k < g.noutputs; k++) {
                size_t l0, l1;
                const char *b0 = tc_read_file(a, rargv[1 + g.ninputs + k], &l0);
                const char *b1 = tc_read_file(a, cargv[1 + g.ninputs + k], &l1);
                if (!b0 || !b1 || l0 != l1 || memcmp(b0, b1, l0) != 0)
                    return TC_FAILED("%s: output %d of the CUDA code differs from the C "
                                     "backend's", sets[s], k);
                ref_same += (int64_t)l0;
            }
        }
        int compared = 0;
        for (int k = 0; k < g.noutputs; k++) {
            const char *wpath = tc_join(a, sdir, arena_printf(a, "output_%d.pb", k));
            if (!tc_is_file(wpath))
                continue; /* optional outputs the test does not check */
            Tensor want;
            Diag d;
            diag_init(&d, wpath, stderr);
            if (!onnx_load_tensor(a, wpath, &want, &d))
                return TC_FAILED("%s: cannot read output %d", sets[s], k);
            size_t len;
            const char *got = tc_read_file(a, rargv[first_out + k], &len);
            size_t esz = dtype_size(specs[k].dtype);
            if (!got)
                return TC_FAILED("%s: no output %d from the harness", sets[s], k);
            if (o->save_dir &&
                !tc_write_file(tc_join(a, o->save_dir, arena_printf(a, "set_%d_out_%d.bin", s, k)),
                               got, len))
                return TC_FAILED("cannot write to --save-outputs %s", o->save_dir);
            ok &= tc_compare(o, &specs[k], s, k, got, (int64_t)(len / esz), &want, &stats[k]);
            compared++;
        }
        if (compared == 0)
            return TC_FAILED("%s: no output_K.pb to compare", sets[s]);
    }

    /* One line: PASS with the statistics of every output, or the first failure. */
    char desc[1024] = "", one[400];
    size_t used = 0;
    bool top1_bad = false;
    for (int k = 0; k < g.noutputs; k++) {
        tc_describe(&specs[k], &stats[k], one, sizeof one);
        int w = snprintf(desc + used, sizeof desc - used, "%s%s", k ? "; " : "", one);
        if (w > 0 && used + (size_t)w < sizeof desc)
            used += (size_t)w;
        top1_bad |= stats[k].top1_ok != stats[k].top1_n;
    }
    if (!ok) {
        for (int k = 0; k < g.noutputs; k++)
            if (stats[k].first[0])
                return TC_FAILED("%s; %s", stats[k].first, desc);
    }
    if (o->top1 && top1_bad)
        return TC_FAILED("top-1 differs; %d set%s, %s", nsets, nsets == 1 ? "" : "s", desc);
    printf("PASS %s: %d set%s, %s%s%s%s", label, nsets, nsets == 1 ? "" : "s", desc,
           frozen[0] ? " (frozen: " : "", frozen, frozen[0] ? ")" : "");
    if (cuda)
        printf("; cuda (%s): %lld output bytes identical to the C backend", tc_cuda_gpu() ?
               "GPU" : "emulated", (long long)ref_same);
    putchar('\n');
    return TC_PASS;
}

/* Run one case in a child; returns its TC_* outcome (crashes count as failures). */
static int tc_run_child(const TestOptions *o, const char *dir, const char *label) {
    Arena a;
    arena_init(&a);
    int result = TC_FAIL;
    char *tmp = tc_mkdtemp(&a);
    if (!tmp) {
        printf("FAIL %s: no temporary directory\n", label);
        arena_free(&a);
        return TC_FAIL;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        Arena ca;
        arena_init(&ca);
        int r = tc_case(&ca, o, dir, tmp, label);
        fflush(stdout);
        fflush(stderr);
        _exit(r);
    }
    bool to = false;
    int st = pid < 0 ? -1 : tc_wait(pid, TC_CASE_TIMEOUT, &to);
    if (st != -1 && !to && WIFEXITED(st) && WEXITSTATUS(st) <= TC_SKIP) {
        result = WEXITSTATUS(st);
    } else {
        char *log = tc_read_file(&a, tc_join(&a, tmp, "compile.log"), NULL);
        if (log)
            fputs(log, stderr);
        printf("FAIL %s: qcc crashed or hung (%s)\n", label,
               pid < 0 ? strerror(errno) : tc_status_text(&a, st, to, TC_CASE_TIMEOUT));
    }
    if (o->keep)
        printf("  kept %s\n", tmp);
    else
        tc_rmtree(tmp);
    fflush(stdout);
    arena_free(&a);
    return result;
}

int qcc_test_main(int argc, char **argv) {
    TestOptions o = {.co = {.target = "c", .name = "model", .requant = REQUANT_FIXED},
                     .tol_steps = 1, .atol = 1e-5, .rtol = 1e-3};
    const char *cc = getenv("CC");
    o.cc = cc && cc[0] ? cc : "cc";
    calib_options_default(&o.co.calib); /* --calibrate runs without a progress bar here */
    Arena a;
    arena_init(&a);
    const char **dirs = arena_calloc(&a, (size_t)argc + 1, sizeof *dirs);
    int ndirs = 0;
    bool help = false;
    if (!tc_parse(argc, argv, &o, dirs, &ndirs, &help)) {
        arena_free(&a);
        return 1;
    }
    if (help || ndirs == 0) {
        tc_usage(help ? stdout : stderr);
        arena_free(&a);
        return help ? 0 : 1;
    }
    int count[4] = {0};
    for (int i = 0; i < ndirs; i++) {
        const char *label = tc_label(&a, dirs[i]);
        if (!tc_is_dir(dirs[i])) {
            printf("SKIP %s: no such directory\n", dirs[i]);
            count[TC_SKIP]++;
            continue;
        }
        count[tc_run_child(&o, dirs[i], label)]++;
    }
    printf("%d passed, %d failed", count[TC_PASS], count[TC_FAIL]);
    if (o.classify)
        printf(", %d unsupported", count[TC_UNSUPPORTED]);
    if (count[TC_SKIP])
        printf(", %d skipped", count[TC_SKIP]);
    putchar('\n');
    arena_free(&a);
    if (count[TC_SKIP] == ndirs)
        return 77;
    return count[TC_FAIL] ? 1 : 0;
}
