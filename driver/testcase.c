/* testcase.c: (stub, being written) `qcc test DIR`. */
#include "driver.h"

int qcc_test_main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "qcc test: not written yet\n");
    return 1;
}
