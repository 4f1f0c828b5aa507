/* accuracy.c: whole-model check. Built together with ONE qcc-generated model (--name model,
 * header chosen with -DACC_MODEL_H="file.h"), it classifies every row of a labelled .npy test
 * set with model_run, takes the argmax and compares the number of correct answers with the
 * count ONNX Runtime got. Test-only: stdio and malloc are fine here, never in generated code.
 * Reads .npy version 1.0 with dtype '<f4' (inputs) or '<i8' (labels), C order; rejects the rest. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef ACC_MODEL_H
#error "build with -DACC_MODEL_H=\"<generated header>.h\""
#endif
#include ACC_MODEL_H

#define NPY_MAX_RANK 8 /* more than any test set needs */

/* One .npy array read whole into memory. */
typedef struct {
    char descr[8];              /* dtype string, '<f4' or '<i8' */
    int rank;                   /* number of dimensions in shape */
    long shape[NPY_MAX_RANK];   /* dimensions, outermost first */
    long count;                 /* number of elements: product of shape */
    void *data;                 /* count elements of descr's type, malloc'd */
} Npy;

/* The header is a Python dict literal; find `'key': ` and return what follows, or NULL. */
static const char *npy_find_key(const char *header, const char *key)
{
    char pattern[32];
    const char *at;
    sprintf(pattern, "'%s':", key);
    at = strstr(header, pattern);
    if (!at)
        return NULL;
    at += strlen(pattern);
    while (*at == ' ')
        at++;
    return at;
}

/* Parses "(450, 1, 32, 32)" (also "(450,)" and "()") into a->shape; 0 on success. */
static int npy_parse_shape(const char *text, Npy *a)
{
    char *end;
    if (*text != '(')
        return -1;
    text++;
    a->rank = 0;
    a->count = 1;
    for (;;) {
        long dim;
        while (*text == ' ' || *text == ',')
            text++;
        if (*text == ')')
            return 0;
        if (a->rank == NPY_MAX_RANK)
            return -1;
        dim = strtol(text, &end, 10);
        if (end == text || dim < 0)
            return -1;
        a->shape[a->rank++] = dim;
        a->count *= dim;
        text = end;
    }
}

/* Reads `path` as a C-order .npy 1.0 array of dtype `want` ('<f4' or '<i8'); on any problem
 * prints why and returns -1. Little-endian data only, so the host must be little-endian too. */
static int npy_load(const char *path, const char *want, Npy *a)
{
    const uint16_t probe = 1;
    unsigned char preamble[10];
    char *header = NULL;
    const char *value;
    size_t header_len, item_size = strcmp(want, "<i8") == 0 ? 8 : 4;
    FILE *f;

    memset(a, 0, sizeof(*a));
    if (*(const unsigned char *)&probe != 1) {
        fprintf(stderr, "%s: error: this reader needs a little-endian host\n", path);
        return -1;
    }
    f = fopen(path, "rb");
    if (!f) {
        perror(path);
        return -1;
    }
    if (fread(preamble, 1, sizeof(preamble), f) != sizeof(preamble) ||
        memcmp(preamble, "\x93NUMPY", 6) != 0) {
        fprintf(stderr, "%s: error: not an .npy file (bad magic)\n", path);
        goto fail;
    }
    if (preamble[6] != 1 || preamble[7] != 0) {
        fprintf(stderr, "%s: error: .npy version %d.%d, only 1.0 is supported\n", path,
                preamble[6], preamble[7]);
        goto fail;
    }
    header_len = (size_t)preamble[8] | (size_t)preamble[9] << 8;
    header = malloc(header_len + 1);
    if (!header || fread(header, 1, header_len, f) != header_len) {
        fprintf(stderr, "%s: error: truncated .npy header\n", path);
        goto fail;
    }
    /* Padded with spaces and a newline to align the data: trim them for the messages. */
    while (header_len > 0 && (header[header_len - 1] == ' ' || header[header_len - 1] == '\n'))
        header_len--;
    header[header_len] = '\0';

    value = npy_find_key(header, "descr");
    if (!value || value[0] != '\'' || strncmp(value + 1, want, strlen(want)) != 0 ||
        value[1 + strlen(want)] != '\'') {
        fprintf(stderr, "%s: error: dtype must be '%s' (header: %s)\n", path, want, header);
        goto fail;
    }
    strcpy(a->descr, want);
    value = npy_find_key(header, "fortran_order");
    if (!value || strncmp(value, "False", 5) != 0) {
        fprintf(stderr, "%s: error: only C-order arrays are supported\n", path);
        goto fail;
    }
    value = npy_find_key(header, "shape");
    if (!value || npy_parse_shape(value, a) != 0) {
        fprintf(stderr, "%s: error: cannot parse the shape (header: %s)\n", path, header);
        goto fail;
    }

    a->data = malloc((size_t)a->count * item_size + 1);
    if (!a->data || fread(a->data, item_size, (size_t)a->count, f) != (size_t)a->count) {
        fprintf(stderr, "%s: error: data shorter than the shape says\n", path);
        goto fail;
    }
    if (fgetc(f) != EOF) {
        fprintf(stderr, "%s: error: trailing bytes after the data\n", path);
        goto fail;
    }
    free(header);
    fclose(f);
    return 0;

fail:
    free(header);
    free(a->data);
    a->data = NULL;
    fclose(f);
    return -1;
}

/* Index of the largest score, the first one on ties (numpy.argmax's rule). */
static int argmax(const float *scores, int n)
{
    int best = 0, i;
    for (i = 1; i < n; i++)
        if (scores[i] > scores[best])
            best = i;
    return best;
}

int main(int argc, char **argv)
{
    static float scores[MODEL_OUTPUT0_SIZE];
    const char *name;
    const float *inputs;
    const int64_t *labels;
    Npy x, y;
    long expected, correct = 0, row, row_size = 1;
    char *end;
    int dim;

    if (argc != 5) {
        fprintf(stderr, "usage: %s NAME INPUTS.npy LABELS.npy EXPECTED_CORRECT\n", argv[0]);
        return 2;
    }
    name = argv[1];
    expected = strtol(argv[4], &end, 10);
    if (*argv[4] == '\0' || *end != '\0' || expected < 0) {
        fprintf(stderr, "%s: error: EXPECTED_CORRECT '%s' is not a count\n", name, argv[4]);
        return 2;
    }
    if (npy_load(argv[2], "<f4", &x) != 0 || npy_load(argv[3], "<i8", &y) != 0)
        return 2;
    for (dim = 1; dim < x.rank; dim++)
        row_size *= x.shape[dim];
    if (x.rank < 1 || y.rank != 1 || x.shape[0] != y.shape[0] || row_size != MODEL_INPUT0_SIZE) {
        fprintf(stderr, "%s: error: %ld inputs of %ld values and %ld labels do not fit a model "
                "taking %d values\n", name, x.rank ? x.shape[0] : 0, row_size,
                y.rank ? y.shape[0] : 0, MODEL_INPUT0_SIZE);
        return 2;
    }
    inputs = x.data;
    labels = y.data;

    /* Misclassified rows are listed so that a count that differs from ONNX Runtime's can be
     * traced to the samples. */
    for (row = 0; row < y.shape[0]; row++) {
        int predicted;
        if (model_run(inputs + row * row_size, scores) != 0) {
            fprintf(stderr, "%s: error: model_run failed on row %ld\n", name, row);
            return 1;
        }
        predicted = argmax(scores, MODEL_OUTPUT0_SIZE);
        if (labels[row] == predicted)
            correct++;
        else
            printf("%s: row %ld: label %lld, predicted %d\n", name, row, (long long)labels[row],
                   predicted);
    }
    printf("%s: %ld/%ld correct (%.2f%%), expected %ld/%ld\n", name, correct, y.shape[0],
           y.shape[0] ? 100.0 * (double)correct / (double)y.shape[0] : 0.0, expected, y.shape[0]);
    free(x.data);
    free(y.data);
    return correct == expected ? 0 : 1;
}
