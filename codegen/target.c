/* target.c: the table of code generation backends, looked up by --target. */
#include "codegen.h"

#include <string.h>

static const Target *const targets[] = {&target_c, &target_neon, &target_cuda};

const Target *target_find(const char *name) {
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++)
        if (strcmp(targets[i]->name, name) == 0)
            return targets[i];
    return NULL;
}
