/* arena.c: the bump allocator that owns every allocation of a compilation.
 * Blocks are chained and freed together; nothing is freed individually. */
#include "ir.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

struct ArenaBlock {
    ArenaBlock *next;   /* older block */
    size_t size;        /* usable bytes after the header */
    size_t used;        /* bytes handed out from this block */
    _Alignas(16) unsigned char mem[]; /* the storage */
};

enum { ARENA_BLOCK = 1 << 20, ARENA_ALIGN = 16 };

void arena_init(Arena *a) {
    a->head = NULL;
    a->used = 0;
}

void arena_free(Arena *a) {
    ArenaBlock *b = a->head;
    while (b) {
        ArenaBlock *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->used = 0;
}

void *arena_alloc(Arena *a, size_t size) {
    size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    QCC_ASSERT(need >= size); /* callers bound untrusted sizes first */
    ArenaBlock *b = a->head;
    if (!b || b->size - b->used < need) {
        /* Large requests get a block of their own so small ones keep filling the head. */
        size_t bsize = need > ARENA_BLOCK / 4 ? need : ARENA_BLOCK;
        ArenaBlock *nb = malloc(sizeof(ArenaBlock) + bsize);
        if (!nb) {
            fprintf(stderr, "qcc: out of memory (%zu bytes)\n", bsize);
            abort();
        }
        nb->size = bsize;
        nb->used = 0;
        if (b && bsize == need && b->size - b->used > ARENA_BLOCK / 8) {
            /* keep the roomy head in front; chain the big block behind it */
            nb->next = b->next;
            b->next = nb;
        } else {
            nb->next = b;
            a->head = nb;
        }
        b = nb;
    }
    void *p = b->mem + b->used;
    b->used += need;
    a->used += need;
    memset(p, 0, need);
    return p;
}

void *arena_calloc(Arena *a, size_t n, size_t size) {
    if (size && n > SIZE_MAX / size) {
        fprintf(stderr, "qcc: allocation size overflow\n");
        abort();
    }
    return arena_alloc(a, n * size);
}

char *arena_strndup(Arena *a, const char *s, size_t n) {
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(Arena *a, const char *s) {
    return arena_strndup(a, s, strlen(s));
}

void *arena_memdup(Arena *a, const void *p, size_t size) {
    void *q = arena_alloc(a, size ? size : 1);
    if (size)
        memcpy(q, p, size);
    return q;
}

char *arena_vprintf(Arena *a, const char *fmt, va_list ap) {
    /* format on the stack first; only long results pay for a second pass */
    char small[256];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    QCC_ASSERT(n >= 0);
    char *s = arena_alloc(a, (size_t)n + 1);
    if ((size_t)n < sizeof small)
        memcpy(s, small, (size_t)n + 1);
    else
        vsnprintf(s, (size_t)n + 1, fmt, again);
    va_end(again);
    return s;
}

char *arena_printf(Arena *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *s = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return s;
}
