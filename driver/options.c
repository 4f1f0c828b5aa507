/* options.c: the float-model options (--qat, --calibrate, --calib-*, --act-dtype, --weights,
 * --skip, --samples) parsed in one place for `qcc MODEL` and `qcc test DIR`, so both accept
 * exactly the same spellings and checks. Only parsing: nothing here reads files. */
#include "driver.h"

#include <stdlib.h>
#include <string.h>

/* "--opt=value" or "--opt value": the value (advancing *i), or NULL when argv[*i] is not
 * opt; a missing value prints an error and sets *bad. */
const char *option_value(int argc, char **argv, int *i, const char *opt, const char *prog,
                         bool *bad) {
    size_t n = strlen(opt);
    if (strncmp(argv[*i], opt, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        fprintf(stderr, "%s: error: %s needs a value\n", prog, opt);
        *bad = true;
        return NULL;
    }
    return argv[++*i];
}

int float_options_parse(int argc, char **argv, int *i, CompileOptions *o, const char *prog) {
    bool bad = false;
    const char *v;
    if ((v = option_value(argc, argv, i, "--qat", prog, &bad))) {
        o->qat = v;
    } else if ((v = option_value(argc, argv, i, "--calibrate", prog, &bad))) {
        o->calibrate = v;
    } else if ((v = option_value(argc, argv, i, "--samples", prog, &bad))) {
        o->samples = v;
    } else if ((v = option_value(argc, argv, i, "--calib-method", prog, &bad))) {
        if (!calib_method_parse(v, &o->calib.method)) {
            fprintf(stderr, "%s: error: --calib-method must be minmax, ema, percentile, kl, "
                            "symkl or js, not '%s'\n", prog, v);
            return -1;
        }
    } else if ((v = option_value(argc, argv, i, "--calib-percentile", prog, &bad))) {
        char *end;
        o->calib.percentile = strtod(v, &end);
        if (end == v || *end || !(o->calib.percentile > 0 && o->calib.percentile <= 100)) {
            fprintf(stderr, "%s: error: --calib-percentile needs a number in (0, 100]\n", prog);
            return -1;
        }
    } else if ((v = option_value(argc, argv, i, "--calib-bins", prog, &bad))) {
        char *end;
        long b = strtol(v, &end, 10);
        if (end == v || *end || b < 16 || b > (1 << 20)) {
            fprintf(stderr, "%s: error: --calib-bins needs a count in [16, 1048576]\n", prog);
            return -1;
        }
        o->calib.bins = (int)b;
    } else if ((v = option_value(argc, argv, i, "--act-dtype", prog, &bad))) {
        if (strcmp(v, "uint8") != 0 && strcmp(v, "int8") != 0) {
            fprintf(stderr, "%s: error: --act-dtype must be 'uint8' or 'int8'\n", prog);
            return -1;
        }
        o->act_dtype = strcmp(v, "int8") == 0 ? DT_INT8 : DT_UINT8;
    } else if ((v = option_value(argc, argv, i, "--weights", prog, &bad))) {
        if (strcmp(v, "per-channel") != 0 && strcmp(v, "per-tensor") != 0) {
            fprintf(stderr, "%s: error: --weights must be 'per-channel' or 'per-tensor'\n",
                    prog);
            return -1;
        }
        o->weights_per_tensor = strcmp(v, "per-tensor") == 0;
    } else if ((v = option_value(argc, argv, i, "--skip", prog, &bad))) {
        if (o->nskip == (int)(sizeof o->skip / sizeof o->skip[0])) {
            fprintf(stderr, "%s: error: too many --skip options\n", prog);
            return -1;
        }
        o->skip[o->nskip++] = v;
    }
    return bad ? -1 : v ? 1 : 0;
}
