/* main.c: lenet-demo, the smallest program around a qcc-generated model: classify eight
 * embedded test digits with lenet_run() and print the predictions and the accuracy.
 * lenet.c/lenet.h are generated at build time by `qcc lenet.onnx -o lenet.c --name lenet`. */
#include <stdio.h>

#include "digits.h"
#include "lenet.h"

/* Index of the largest logit (the first one on ties). */
static int argmax(const float *v, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best])
            best = i;
    return best;
}

int main(void) {
    float logits[10]; /* output 'logits': float32 [1,10] */
    int correct = 0;
    printf("lenet: activation arena %lu bytes\n", (unsigned long)LENET_ARENA_SIZE);
    for (int k = 0; k < DIGITS_COUNT; k++) {
        /* input 'x': float32 [1,1,32,32], dense row-major, as the ONNX model declares it */
        if (lenet_run(digits_image[k], logits) != 0) {
            fprintf(stderr, "lenet-demo: lenet_run failed on digit %d\n", k);
            return 1;
        }
        int predicted = argmax(logits, 10);
        correct += predicted == digits_label[k];
        printf("digit %d: predicted %d (label %d)\n", k, predicted, digits_label[k]);
    }
    printf("accuracy: %d/%d (%.1f%%)\n", correct, DIGITS_COUNT, 100.0 * correct / DIGITS_COUNT);
    return 0;
}
