/* strbuf.c: growable NUL-terminated text buffer on the heap (emitter output can be large,
 * so it is not arena memory; the owner calls sb_free). */
#include "ir.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void sb_init(StrBuf *sb) {
    sb->data = NULL;
    sb->len = 0;
    sb->cap = 0;
}

void sb_free(StrBuf *sb) {
    free(sb->data);
    sb_init(sb);
}

static void sb_reserve(StrBuf *sb, size_t extra) {
    if (sb->len + extra + 1 <= sb->cap)
        return;
    size_t cap = sb->cap ? sb->cap : 256;
    while (cap < sb->len + extra + 1)
        cap *= 2;
    char *p = realloc(sb->data, cap);
    if (!p) {
        fprintf(stderr, "qcc: out of memory\n");
        abort();
    }
    sb->data = p;
    sb->cap = cap;
}

void sb_putc(StrBuf *sb, char c) {
    sb_reserve(sb, 1);
    sb->data[sb->len++] = c;
    sb->data[sb->len] = '\0';
}

void sb_puts(StrBuf *sb, const char *s) {
    size_t n = strlen(s);
    sb_reserve(sb, n);
    memcpy(sb->data + sb->len, s, n + 1);
    sb->len += n;
}

void sb_vprintf(StrBuf *sb, const char *fmt, va_list ap) {
    /* most pieces are short: format once on the stack, twice only when it did not fit */
    char small[256];
    va_list again;
    va_copy(again, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    QCC_ASSERT(n >= 0);
    if ((size_t)n < sizeof small) {
        sb_puts(sb, small);
    } else {
        sb_reserve(sb, (size_t)n);
        vsnprintf(sb->data + sb->len, (size_t)n + 1, fmt, again);
        sb->len += (size_t)n;
    }
    va_end(again);
}

void sb_printf(StrBuf *sb, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sb_vprintf(sb, fmt, ap);
    va_end(ap);
}

void sb_float(StrBuf *sb, float v) {
    char buf[80]; /* "%.9g" of a float is at most 16 characters; room for ".0" */
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(buf, sizeof buf, "%.*g", prec, (double)v);
        if (strtof(buf, NULL) == v)
            break;
    }
    /* make it a C float literal: needs a '.' or exponent, then 'f' */
    if (!strpbrk(buf, ".eEn"))
        strcat(buf, ".0");
    sb_puts(sb, buf);
    if (!strchr(buf, 'n')) /* inf/nan print as words (IR dumps); kernels spell them out */
        sb_putc(sb, 'f');
}
