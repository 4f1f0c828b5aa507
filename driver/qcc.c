/* qcc.c: the command line. Parses arguments, then runs frontend -> passes -> backend and
 * writes model.c + model.h. Nothing else lives here. */
#include "driver.h"
#include "../frontend/frontend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f) {
    fputs("usage: qcc MODEL.onnx -o OUT.c [options]\n"
          "       qcc test DIR... [options]   (see qcc test --help)\n"
          "\n"
          "Compile a quantized ONNX model to standalone C (OUT.c + OUT.h).\n"
          "\n"
          "options:\n"
          "  -o FILE               output source file (the header is FILE with .h)\n"
          "  --name NAME           prefix of public symbols (default: model)\n"
          "  --target=c|neon|cuda  code generator backend (neon: c plus aarch64 NEON paths;\n"
          "                        cuda: OUT.cu + OUT.h)\n"
          "  --cuda-arch=sm_XX     GPU the cuda target may assume (default sm_75; >= sm_61)\n"
          "  --requant=MODE        fixed (default: Q31 multiplier + shift, integer only) or\n"
          "                        float (ONNX Runtime's float multiply, bit-exact with it)\n"
          "  --arena=static|caller static arena in OUT.c (default), or passed to _run\n"
          "  --ram-budget=BYTES    fail if the activation arena is larger\n"
          "  --dump-after=PASS     print the IR after PASS (or 'all') to stdout\n"
          "  --report              print a per-node table (op, shapes, MACs, arena); for a\n"
          "                        float model also the SQNR of every quantized layer\n"
          "\n"
          "float models (qcc quantizes them itself):\n"
          "  --qat FILE.pt         ranges and weights from a PyTorch QAT checkpoint\n"
          "  --calibrate DIR       ranges from calibration samples (.pb or .npy files)\n"
          "  --calib-method=M      minmax (default), ema, percentile, kl, symkl, js\n"
          "  --calib-percentile=P  percentile method's cut (default 99.999)\n"
          "  --calib-bins=N        histogram bins of kl/symkl/js (default 2048)\n"
          "  --act-dtype=T         uint8 (default) or int8 activations\n"
          "  --weights=G           per-channel (default) or per-tensor weight scales\n"
          "  --skip NODE           keep node NODE in float (repeatable)\n"
          "  --samples DIR         inputs for --report (default: the --calibrate DIR)\n"
          "  -h, --help            this text\n"
          "  --version             print the version\n",
          f);
    fputs("passes:", f);
    for (const char *const *p = pipeline_pass_names(); *p; p++)
        fprintf(f, " %s", *p);
    fputc('\n', f);
}

/* "--opt=value" or "--opt value": returns the value and advances *i, or NULL. */
static const char *opt_value(int argc, char **argv, int *i, const char *opt) {
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] == '\0') {
        if (*i + 1 >= argc) {
            fprintf(stderr, "qcc: error: %s needs a value\n", opt);
            exit(1);
        }
        return argv[++*i];
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc >= 2 && strcmp(argv[1], "test") == 0)
        return qcc_test_main(argc - 1, argv + 1);
    CompileOptions o = {.target = "c", .name = "model", .requant = REQUANT_FIXED};
    calib_options_default(&o.calib);
    o.calib.progress = isatty(2);
    const char *model = NULL, *out = NULL, *v;
    int fo;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("qcc %s\n", QCC_VERSION);
            return 0;
        } else if ((v = opt_value(argc, argv, &i, "-o"))) {
            out = v;
        } else if ((v = opt_value(argc, argv, &i, "--name"))) {
            o.name = v;
        } else if ((v = opt_value(argc, argv, &i, "--target"))) {
            o.target = v;
        } else if ((v = opt_value(argc, argv, &i, "--cuda-arch"))) {
            char *end = NULL;
            long sm = strncmp(v, "sm_", 3) == 0 ? strtol(v + 3, &end, 10) : 0;
            if (sm < 61 || !end || *end) {
                fprintf(stderr, "qcc: error: --cuda-arch needs sm_XX with XX >= 61 (__dp4a), "
                                "not '%s'\n", v);
                return 1;
            }
            o.cuda_arch = v;
        } else if ((v = opt_value(argc, argv, &i, "--requant"))) {
            if (strcmp(v, "fixed") == 0)
                o.requant = REQUANT_FIXED;
            else if (strcmp(v, "float") == 0)
                o.requant = REQUANT_FLOAT;
            else {
                fprintf(stderr, "qcc: error: --requant must be 'fixed' or 'float', not '%s'\n", v);
                return 1;
            }
        } else if ((v = opt_value(argc, argv, &i, "--arena"))) {
            if (strcmp(v, "static") != 0 && strcmp(v, "caller") != 0) {
                fprintf(stderr, "qcc: error: --arena must be 'static' or 'caller'\n");
                return 1;
            }
            o.arena_caller = strcmp(v, "caller") == 0;
        } else if ((v = opt_value(argc, argv, &i, "--ram-budget"))) {
            char *end;
            errno = 0;
            long long b = strtoll(v, &end, 10);
            if (errno || *end || b <= 0) {
                fprintf(stderr, "qcc: error: --ram-budget needs a positive byte count\n");
                return 1;
            }
            o.ram_budget = b;
        } else if ((v = opt_value(argc, argv, &i, "--dump-after"))) {
            o.dump_after = v;
        } else if ((fo = float_options_parse(argc, argv, &i, &o, "qcc")) != 0) {
            if (fo < 0)
                return 1;
        } else if (strcmp(argv[i], "--report") == 0) {
            o.report = true;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "qcc: error: unknown option '%s' (see qcc --help)\n", argv[i]);
            return 1;
        } else if (!model) {
            model = argv[i];
        } else {
            fprintf(stderr, "qcc: error: more than one model given ('%s', '%s')\n", model,
                    argv[i]);
            return 1;
        }
    }
    if (!model) {
        usage(stderr);
        return 1;
    }
    if (!out && !o.dump_after && !o.report) {
        fprintf(stderr, "qcc: error: no output file (use -o FILE.c)\n");
        return 1;
    }
    return qcc_compile(model, out, &o);
}
