/* pickle.c: the pickle subset of a torch.save state_dict, decoded into PkValue trees. A
 * stack machine over an explicit opcode whitelist: unknown opcodes and globals are errors
 * naming the opcode and byte offset, and nothing is called except our own constructors for
 * OrderedDict, storages (persistent ids) and tensors. Every length, count and depth taken
 * from the file is bounded before memory is asked for it. */
#include "pickle.h"

#include <string.h>

/* Limits. A real state_dict pickle is a few hundred kB with tens of thousands of values;
 * these leave two orders of magnitude of headroom and keep the worst case (every byte of a
 * hostile file making a value) at ~100 MB of arena. */
#define PK_MAX_VALUES (1 << 20)     /* values created by one pickle */
#define PK_MAX_STACK (1 << 16)      /* entries on the stack */
#define PK_MAX_MARKS 1024           /* open MARKs */
#define PK_MAX_MEMO (1 << 20)       /* memo slots */
#define PK_MAX_DEPTH 64             /* container nesting */
#define PK_MAX_STR (1 << 20)        /* bytes of one string */
#define PK_MAX_ITEMS (1 << 20)      /* entries of one container */
#define PK_MAX_DIM ((int64_t)1 << 40) /* one tensor dim, and a tensor's elements */

typedef struct Pk {
    Arena *a;               /* where values go */
    const uint8_t *p;       /* the pickle */
    size_t len;             /* its bytes */
    size_t pos;             /* next byte to read */
    size_t op_at;           /* offset of the opcode being run (errors) */
    const char *what;       /* names the data in errors */
    Diag *d;                /* errors */
    PkValue **stack;        /* value stack */
    int sp;                 /* entries on it */
    int marks[PK_MAX_MARKS];/* stack heights at each open MARK */
    int nmarks;             /* open MARKs */
    PkValue **memo;         /* memo slots (NULL = empty), grown on demand */
    int64_t nmemo;          /* slots allocated */
    int64_t memo_used;      /* filled slots: MEMOIZE stores at this index, as len(memo) */
    long nvalues;           /* values created so far */
} Pk;

static bool pk_err(Pk *k, const char *fmt, const char *arg) {
    return diag_error(k->d, "%s: byte %zu: %s", k->what, k->op_at,
                      arena_printf(k->a, fmt, arg ? arg : ""));
}

static bool pk_errn(Pk *k, const char *fmt, long long v) {
    return diag_error(k->d, "%s: byte %zu: %s", k->what, k->op_at, arena_printf(k->a, fmt, v));
}

/* ---- reading bytes ---- */

static bool pk_need(Pk *k, size_t n) {
    if (n > k->len - k->pos)
        return pk_err(k, "truncated pickle (operand runs past the end)%s", NULL);
    return true;
}

static uint64_t pk_le(const uint8_t *b, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | b[i];
    return v;
}

/* ---- values ---- */

static PkValue *pk_new(Pk *k, PkKind kind) {
    if (++k->nvalues > PK_MAX_VALUES) {
        pk_errn(k, "more than %lld values: refusing to continue", (long long)PK_MAX_VALUES);
        return NULL;
    }
    PkValue *v = arena_alloc(k->a, sizeof *v);
    v->kind = kind;
    return v;
}

static bool pk_is_container(const PkValue *v) {
    return v->kind == PK_TUPLE || v->kind == PK_LIST || v->kind == PK_DICT;
}

/* Append child to a container. A container put inside another is frozen from then on, so
 * no later opcode can make the value graph cyclic; depth is bounded so recursive walkers
 * stay shallow. */
static bool pk_add_item(Pk *k, PkValue *c, PkValue *child) {
    if (c->n >= PK_MAX_ITEMS)
        return pk_errn(k, "container with more than %lld entries", (long long)PK_MAX_ITEMS);
    if (child == c)
        return pk_err(k, "container inserted into itself (cyclic data)%s", NULL);
    if (pk_is_container(child)) {
        child->frozen = true;
        if (child->depth + 1 > c->depth)
            c->depth = child->depth + 1;
        if (c->depth > PK_MAX_DEPTH)
            return pk_errn(k, "containers nested deeper than %lld", (long long)PK_MAX_DEPTH);
    }
    if (c->n == c->cap) {
        int cap = c->cap ? c->cap * 2 : 4;
        PkValue **items = arena_alloc(k->a, (size_t)cap * sizeof *items);
        if (c->n)
            memcpy(items, c->items, (size_t)c->n * sizeof *items);
        c->items = items;
        c->cap = cap;
    }
    c->items[c->n++] = child;
    return true;
}

static bool pk_mutable(Pk *k, PkValue *c, PkKind want, const char *op) {
    if (c->kind != want)
        return pk_err(k, "%s on a value of the wrong type", op);
    if (c->frozen)
        return pk_err(k, "%s on a container already inside another (cyclic data is refused)",
                      op);
    return true;
}

/* ---- the stack ---- */

static bool pk_push(Pk *k, PkValue *v) {
    if (!v)
        return false;
    if (k->sp >= PK_MAX_STACK)
        return pk_errn(k, "stack deeper than %lld entries", (long long)PK_MAX_STACK);
    k->stack[k->sp++] = v;
    return true;
}

static PkValue *pk_pop(Pk *k) {
    int floor = k->nmarks ? k->marks[k->nmarks - 1] : 0;
    if (k->sp <= floor) {
        pk_err(k, "stack underflow%s", NULL);
        return NULL;
    }
    return k->stack[--k->sp];
}

static PkValue *pk_top(Pk *k) {
    int floor = k->nmarks ? k->marks[k->nmarks - 1] : 0;
    if (k->sp <= floor) {
        pk_err(k, "stack underflow%s", NULL);
        return NULL;
    }
    return k->stack[k->sp - 1];
}

/* Pop back to the last MARK; *base is the index of the first item above it. */
static bool pk_pop_mark(Pk *k, int *base) {
    if (!k->nmarks)
        return pk_err(k, "no MARK to pop to%s", NULL);
    *base = k->marks[--k->nmarks];
    return true;
}

/* ---- memo ---- */

static bool pk_memo_put(Pk *k, int64_t idx) {
    if (idx < 0 || idx >= PK_MAX_MEMO)
        return pk_errn(k, "memo index %lld out of range", (long long)idx);
    PkValue *v = pk_top(k);
    if (!v)
        return false;
    if (idx >= k->nmemo) {
        int64_t n = k->nmemo ? k->nmemo : 64;
        while (n <= idx)
            n *= 2;
        if (n > PK_MAX_MEMO)
            n = PK_MAX_MEMO;
        PkValue **m = arena_calloc(k->a, (size_t)n, sizeof *m);
        if (k->nmemo)
            memcpy(m, k->memo, (size_t)k->nmemo * sizeof *m);
        k->memo = m;
        k->nmemo = n;
    }
    if (!k->memo[idx])
        k->memo_used++;
    k->memo[idx] = v;
    return true;
}

static bool pk_memo_get(Pk *k, int64_t idx) {
    if (idx < 0 || idx >= k->nmemo || !k->memo[idx])
        return pk_errn(k, "memo index %lld was never stored", (long long)idx);
    return pk_push(k, k->memo[idx]);
}

/* ---- globals ---- */

static const struct {
    const char *name;       /* "module.name" */
    PkGlobal g;             /* what it is */
    DType dt;               /* storages: element type */
} pk_globals[] = {
    {"collections.OrderedDict", PKG_ORDERED_DICT, DT_UNDEF},
    {"torch._utils._rebuild_tensor_v2", PKG_REBUILD_TENSOR_V2, DT_UNDEF},
    {"torch._utils._rebuild_parameter", PKG_REBUILD_PARAMETER, DT_UNDEF},
    {"torch.FloatStorage", PKG_STORAGE_TYPE, DT_FLOAT},
    {"torch.DoubleStorage", PKG_STORAGE_TYPE, DT_DOUBLE},
    {"torch.HalfStorage", PKG_STORAGE_TYPE, DT_FLOAT16},
    {"torch.LongStorage", PKG_STORAGE_TYPE, DT_INT64},
    {"torch.IntStorage", PKG_STORAGE_TYPE, DT_INT32},
    {"torch.ShortStorage", PKG_STORAGE_TYPE, DT_INT16},
    {"torch.CharStorage", PKG_STORAGE_TYPE, DT_INT8},
    {"torch.ByteStorage", PKG_STORAGE_TYPE, DT_UINT8},
    {"torch.BoolStorage", PKG_STORAGE_TYPE, DT_BOOL},
};

static bool pk_global(Pk *k, const char *module, size_t mlen, const char *name, size_t nlen) {
    char *full = arena_printf(k->a, "%.*s.%.*s", (int)mlen, module, (int)nlen, name);
    for (size_t i = 0; i < sizeof pk_globals / sizeof pk_globals[0]; i++) {
        if (strcmp(full, pk_globals[i].name) == 0) {
            PkValue *v = pk_new(k, PK_GLOBAL);
            if (!v)
                return false;
            v->s = full;
            v->len = strlen(full);
            v->global = pk_globals[i].g;
            v->storage_dtype = pk_globals[i].dt;
            return pk_push(k, v);
        }
    }
    /* The name may hold anything: print it escaped and shortened. */
    char shown[80];
    size_t o = 0;
    for (size_t i = 0; full[i] && o + 5 < sizeof shown; i++) {
        unsigned char c = (unsigned char)full[i];
        if (c >= 32 && c < 127 && c != '\'')
            shown[o++] = (char)c;
        else
            o += (size_t)snprintf(shown + o, sizeof shown - o, "\\x%02x", c);
    }
    shown[o] = 0;
    return pk_err(k, "global '%s' is not allowed (a state_dict needs only OrderedDict, "
                  "torch storages and torch._utils._rebuild_tensor_v2; nothing is executed)",
                  shown);
}

/* GLOBAL: "module\nname\n" as text. */
static bool pk_op_global(Pk *k) {
    const char *s = (const char *)k->p + k->pos;
    size_t left = k->len - k->pos;
    const char *nl1 = memchr(s, '\n', left < 512 ? left : 512);
    if (!nl1)
        return pk_err(k, "GLOBAL without a newline-terminated module name%s", NULL);
    size_t rest = left - (size_t)(nl1 + 1 - s);
    const char *nl2 = memchr(nl1 + 1, '\n', rest < 512 ? rest : 512);
    if (!nl2)
        return pk_err(k, "GLOBAL without a newline-terminated name%s", NULL);
    k->pos += (size_t)(nl2 + 1 - s);
    return pk_global(k, s, (size_t)(nl1 - s), nl1 + 1, (size_t)(nl2 - nl1 - 1));
}

static bool pk_op_stack_global(Pk *k) {
    PkValue *name = pk_pop(k), *module = name ? pk_pop(k) : NULL;
    if (!module)
        return false;
    if (name->kind != PK_STR || module->kind != PK_STR)
        return pk_err(k, "STACK_GLOBAL needs two strings%s", NULL);
    return pk_global(k, module->s, module->len, name->s, name->len);
}

/* ---- torch objects ---- */

/* BINPERSID: ('storage', storage_type, key, location, numel) -> a storage. */
static bool pk_op_persid(Pk *k) {
    PkValue *pid = pk_pop(k);
    if (!pid)
        return false;
    if (pid->kind != PK_TUPLE || pid->n != 5 || pid->items[0]->kind != PK_STR ||
        strcmp(pid->items[0]->s, "storage") != 0)
        return pk_err(k, "persistent id is not ('storage', type, key, location, numel)%s",
                      NULL);
    PkValue *type = pid->items[1], *key = pid->items[2], *numel = pid->items[4];
    if (type->kind != PK_GLOBAL || type->global != PKG_STORAGE_TYPE)
        return pk_err(k, "persistent id names no torch storage type%s", NULL);
    if (key->kind != PK_STR || key->len == 0 || key->len > 64 || strchr(key->s, '/'))
        return pk_err(k, "persistent id has a bad storage key%s", NULL);
    if (numel->kind != PK_INT || numel->i < 0 || numel->i > PK_MAX_DIM)
        return pk_err(k, "storage declares a bad element count%s", NULL);
    PkValue *v = pk_new(k, PK_STORAGE);
    if (!v)
        return false;
    v->storage = arena_alloc(k->a, sizeof *v->storage);
    v->storage->key = key->s;
    v->storage->dtype = type->storage_dtype;
    v->storage->numel = numel->i;
    return pk_push(k, v);
}

/* Reads a tuple of ints (size or stride) into out[]; false if not that. */
static bool pk_int_tuple(const PkValue *t, int64_t *out, int *n) {
    if (t->kind != PK_TUPLE || t->n > QCC_MAX_RANK)
        return false;
    for (int i = 0; i < t->n; i++) {
        if (t->items[i]->kind != PK_INT)
            return false;
        out[i] = t->items[i]->i;
    }
    *n = t->n;
    return true;
}

/* _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata]). Only
 * contiguous row-major layouts inside the storage are accepted. */
static PkValue *pk_rebuild_tensor(Pk *k, const PkValue *args) {
    if (args->n < 4 || args->items[0]->kind != PK_STORAGE || args->items[1]->kind != PK_INT) {
        pk_err(k, "_rebuild_tensor_v2 arguments are not (storage, offset, size, stride, "
               "...)%s", NULL);
        return NULL;
    }
    int64_t stride[QCC_MAX_RANK];
    int rank, srank;
    PkTensor *t = arena_alloc(k->a, sizeof *t);
    t->storage = args->items[0]->storage;
    t->offset = args->items[1]->i;
    if (!pk_int_tuple(args->items[2], t->shape, &rank) ||
        !pk_int_tuple(args->items[3], stride, &srank) || rank != srank) {
        pk_errn(k, "tensor size/stride are not int tuples of equal rank <= %lld",
                (long long)QCC_MAX_RANK);
        return NULL;
    }
    t->rank = rank;
    /* numel and the expected strides stay <= 2^40: every product below is bounded. */
    int64_t numel = 1;
    for (int i = rank - 1; i >= 0; i--) {
        if (t->shape[i] < 0 || t->shape[i] > PK_MAX_DIM) {
            pk_errn(k, "tensor dim %lld out of range", (long long)t->shape[i]);
            return NULL;
        }
        if (t->shape[i] != 1 && numel != 0 && stride[i] != numel) {
            pk_err(k, "tensor is not contiguous (stride does not match its size): save it "
                   "with .contiguous()%s", NULL);
            return NULL;
        }
        if (t->shape[i] && numel > PK_MAX_DIM / t->shape[i]) {
            pk_err(k, "tensor has too many elements%s", NULL);
            return NULL;
        }
        numel *= t->shape[i];
    }
    t->numel = numel;
    if (t->offset < 0 || t->offset > t->storage->numel ||
        numel > t->storage->numel - t->offset) {
        pk_errn(k, "tensor (offset + elements) exceeds its storage of %lld elements",
                (long long)t->storage->numel);
        return NULL;
    }
    PkValue *v = pk_new(k, PK_TENSOR);
    if (v)
        v->tensor = t;
    return v;
}

static bool pk_op_reduce(Pk *k) {
    PkValue *args = pk_pop(k), *fn = args ? pk_pop(k) : NULL;
    if (!fn)
        return false;
    if (fn->kind != PK_GLOBAL || fn->global == PKG_STORAGE_TYPE)
        return pk_err(k, "REDUCE of something that is not an allowed callable%s", NULL);
    if (args->kind != PK_TUPLE)
        return pk_err(k, "REDUCE arguments are not a tuple%s", NULL);
    switch (fn->global) {
    case PKG_ORDERED_DICT:
        if (args->n != 0)
            return pk_err(k, "OrderedDict() with arguments is not supported%s", NULL);
        return pk_push(k, pk_new(k, PK_DICT));
    case PKG_REBUILD_TENSOR_V2:
        return pk_push(k, pk_rebuild_tensor(k, args));
    case PKG_REBUILD_PARAMETER:
        if (args->n < 1 || args->items[0]->kind != PK_TENSOR)
            return pk_err(k, "_rebuild_parameter of something that is not a tensor%s", NULL);
        return pk_push(k, args->items[0]);
    default:
        qcc_unreachable();
    }
}

/* BUILD: state for OrderedDict (its _metadata attribute) or a tensor/parameter: ignored,
 * but only on those targets. */
static bool pk_op_build(Pk *k) {
    PkValue *state = pk_pop(k), *target = state ? pk_top(k) : NULL;
    if (!target)
        return false;
    if (target->kind != PK_DICT && target->kind != PK_TENSOR)
        return pk_err(k, "BUILD on a value that is not a dict or tensor%s", NULL);
    if (state->kind != PK_DICT && state->kind != PK_NONE && state->kind != PK_TUPLE)
        return pk_err(k, "BUILD with a state that is not a dict%s", NULL);
    return true;
}

/* ---- containers from the stack ---- */

/* TUPLE/TUPLE1-3/EMPTY_TUPLE: the top n items (or those above the MARK when n < 0). */
static bool pk_make_tuple(Pk *k, int n) {
    int base = 0;
    if (n < 0) {
        if (!pk_pop_mark(k, &base))
            return false;
    } else {
        int floor = k->nmarks ? k->marks[k->nmarks - 1] : 0;
        if (k->sp - floor < n)
            return pk_err(k, "stack underflow%s", NULL);
        base = k->sp - n;
    }
    PkValue *t = pk_new(k, PK_TUPLE);
    if (!t)
        return false;
    for (int i = base; i < k->sp; i++)
        if (!pk_add_item(k, t, k->stack[i]))
            return false;
    k->sp = base;
    return pk_push(k, t);
}

/* APPEND(S) / SETITEM(S) / DICT: items from base to the top go into c. */
static bool pk_fill(Pk *k, PkValue *c, int base) {
    if (c->kind == PK_DICT && (k->sp - base) % 2)
        return pk_err(k, "odd number of items for a dict%s", NULL);
    for (int i = base; i < k->sp; i++) {
        if (c->kind == PK_DICT && i % 2 == base % 2 && k->stack[i]->kind != PK_STR &&
            k->stack[i]->kind != PK_INT)
            return pk_err(k, "dict key that is not a str or int%s", NULL);
        if (!pk_add_item(k, c, k->stack[i]))
            return false;
    }
    k->sp = base;
    return true;
}

static bool pk_op_fill(Pk *k, PkKind want, bool marked, const char *op) {
    int base = 0;
    if (marked) {
        if (!pk_pop_mark(k, &base))
            return false;
    } else {
        int floor = k->nmarks ? k->marks[k->nmarks - 1] : 0;
        int need = want == PK_DICT ? 2 : 1;
        if (k->sp - floor < need)
            return pk_err(k, "stack underflow%s", NULL);
        base = k->sp - need;
    }
    if (base < 1)
        return pk_err(k, "stack underflow (no container below the items)%s", NULL);
    PkValue *c = k->stack[base - 1];
    return pk_mutable(k, c, want, op) && pk_fill(k, c, base);
}

/* ---- strings and numbers ---- */

static bool pk_op_str(Pk *k, int lenbytes) {
    if (!pk_need(k, (size_t)lenbytes))
        return false;
    uint64_t n = pk_le(k->p + k->pos, lenbytes);
    k->pos += (size_t)lenbytes;
    if (n > PK_MAX_STR)
        return pk_errn(k, "string of %lld bytes is too long", (long long)n);
    if (!pk_need(k, (size_t)n))
        return false;
    PkValue *v = pk_new(k, PK_STR);
    if (!v)
        return false;
    v->s = arena_strndup(k->a, (const char *)k->p + k->pos, (size_t)n);
    v->len = strlen(v->s);
    if (v->len != n)
        return pk_err(k, "string holds a NUL byte%s", NULL);
    k->pos += (size_t)n;
    return pk_push(k, v);
}

static bool pk_op_int(Pk *k, int nbytes, bool is_signed) {
    if (!pk_need(k, (size_t)nbytes))
        return false;
    uint64_t u = pk_le(k->p + k->pos, nbytes);
    k->pos += (size_t)nbytes;
    int64_t v = (int64_t)u;
    if (is_signed && nbytes < 8 && (u >> (8 * nbytes - 1)) & 1)
        v = (int64_t)(u | ~(uint64_t)0 << (8 * nbytes));
    PkValue *x = pk_new(k, PK_INT);
    if (!x)
        return false;
    x->i = v;
    return pk_push(k, x);
}

/* LONG1: a length byte, then that many bytes of little-endian two's complement. */
static bool pk_op_long1(Pk *k) {
    if (!pk_need(k, 1))
        return false;
    int n = k->p[k->pos++];
    if (n > 8)
        return pk_errn(k, "LONG1 of %lld bytes does not fit in 64 bits", (long long)n);
    if (n == 0) {
        PkValue *x = pk_new(k, PK_INT);
        return x && pk_push(k, x);
    }
    return pk_op_int(k, n, true);
}

static bool pk_op_float(Pk *k) {
    if (!pk_need(k, 8))
        return false;
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)    /* BINFLOAT is big-endian */
        u = u << 8 | k->p[k->pos + (size_t)i];
    k->pos += 8;
    PkValue *x = pk_new(k, PK_FLOAT);
    if (!x)
        return false;
    memcpy(&x->f, &u, sizeof x->f);
    return pk_push(k, x);
}

/* ---- the machine ---- */

static bool pk_step(Pk *k, uint8_t op, bool *stop) {
    switch (op) {
    case 0x80: /* PROTO */
        if (!pk_need(k, 1))
            return false;
        if (k->p[k->pos] < 2 || k->p[k->pos] > 5)
            return pk_errn(k, "pickle protocol %lld is not supported (2 to 5 are)",
                           (long long)k->p[k->pos]);
        k->pos++;
        return true;
    case 0x95: /* FRAME: a length hint; the bytes follow inline */
        if (!pk_need(k, 8))
            return false;
        if (pk_le(k->p + k->pos, 8) > k->len - k->pos - 8)
            return pk_err(k, "FRAME longer than the data%s", NULL);
        k->pos += 8;
        return true;
    case '(': /* MARK */
        if (k->nmarks >= PK_MAX_MARKS)
            return pk_errn(k, "more than %lld nested MARKs", (long long)PK_MAX_MARKS);
        k->marks[k->nmarks++] = k->sp;
        return true;
    case '.': /* STOP */
        *stop = true;
        return true;
    case 'N': return pk_push(k, pk_new(k, PK_NONE));
    case 0x88: /* NEWTRUE */
    case 0x89: { /* NEWFALSE */
        PkValue *v = pk_new(k, PK_BOOL);
        if (v)
            v->i = op == 0x88;
        return pk_push(k, v);
    }
    case 'J': return pk_op_int(k, 4, true);    /* BININT */
    case 'K': return pk_op_int(k, 1, false);   /* BININT1 */
    case 'M': return pk_op_int(k, 2, false);   /* BININT2 */
    case 0x8a: return pk_op_long1(k);          /* LONG1 */
    case 'G': return pk_op_float(k);           /* BINFLOAT */
    case 0x8c: return pk_op_str(k, 1);         /* SHORT_BINUNICODE */
    case 'X': return pk_op_str(k, 4);          /* BINUNICODE */
    case 0x8d: return pk_op_str(k, 8);         /* BINUNICODE8 */
    case ')': return pk_make_tuple(k, 0);      /* EMPTY_TUPLE */
    case 0x85: return pk_make_tuple(k, 1);     /* TUPLE1 */
    case 0x86: return pk_make_tuple(k, 2);     /* TUPLE2 */
    case 0x87: return pk_make_tuple(k, 3);     /* TUPLE3 */
    case 't': return pk_make_tuple(k, -1);     /* TUPLE */
    case ']': return pk_push(k, pk_new(k, PK_LIST)); /* EMPTY_LIST */
    case '}': return pk_push(k, pk_new(k, PK_DICT)); /* EMPTY_DICT */
    case 'a': return pk_op_fill(k, PK_LIST, false, "APPEND");
    case 'e': return pk_op_fill(k, PK_LIST, true, "APPENDS");
    case 's': return pk_op_fill(k, PK_DICT, false, "SETITEM");
    case 'u': return pk_op_fill(k, PK_DICT, true, "SETITEMS");
    case 'd': { /* DICT: a new dict from the items above the MARK */
        int base = 0;
        if (!pk_pop_mark(k, &base))
            return false;
        PkValue *v = pk_new(k, PK_DICT);
        if (!v || !pk_fill(k, v, base))
            return false;
        return pk_push(k, v);
    }
    case 'c': return pk_op_global(k);          /* GLOBAL */
    case 0x93: return pk_op_stack_global(k);   /* STACK_GLOBAL */
    case 'R': return pk_op_reduce(k);          /* REDUCE */
    case 'b': return pk_op_build(k);           /* BUILD */
    case 'Q': return pk_op_persid(k);          /* BINPERSID */
    case 'q': /* BINPUT */
        if (!pk_need(k, 1))
            return false;
        return pk_memo_put(k, k->p[k->pos++]);
    case 'r': /* LONG_BINPUT */
        if (!pk_need(k, 4))
            return false;
        k->pos += 4;
        return pk_memo_put(k, (int64_t)pk_le(k->p + k->pos - 4, 4));
    case 0x94: /* MEMOIZE */
        return pk_memo_put(k, k->memo_used);
    case 'h': /* BINGET */
        if (!pk_need(k, 1))
            return false;
        return pk_memo_get(k, k->p[k->pos++]);
    case 'j': /* LONG_BINGET */
        if (!pk_need(k, 4))
            return false;
        k->pos += 4;
        return pk_memo_get(k, (int64_t)pk_le(k->p + k->pos - 4, 4));
    default: {
        char c = op >= 32 && op < 127 ? (char)op : '?';
        return diag_error(k->d, "%s: byte %zu: unsupported pickle opcode 0x%02x ('%c'): "
                          "not part of the state_dict subset qcc reads", k->what, k->op_at,
                          op, c);
    }
    }
}

PkValue *pickle_load(Arena *a, const void *data, size_t len, const char *what, Diag *d) {
    Pk k;
    memset(&k, 0, sizeof k);
    k.a = a;
    k.p = data;
    k.len = len;
    k.what = what;
    k.d = d;
    k.stack = arena_alloc(a, PK_MAX_STACK * sizeof *k.stack);
    bool stop = false;
    while (!stop) {
        if (k.pos >= k.len) {
            k.op_at = k.pos;
            pk_err(&k, "truncated pickle (no STOP opcode)%s", NULL);
            return NULL;
        }
        k.op_at = k.pos;
        uint8_t op = k.p[k.pos++];
        if (!pk_step(&k, op, &stop))
            return NULL;
    }
    if (k.sp != 1 || k.nmarks) {
        pk_errn(&k, "STOP with %lld values on the stack (want exactly one)", (long long)k.sp);
        return NULL;
    }
    return k.stack[0];
}

PkValue *pickle_dict_get(const PkValue *dict, const char *key) {
    if (!dict || dict->kind != PK_DICT)
        return NULL;
    for (int i = 0; i + 1 < dict->n; i += 2)
        if (dict->items[i]->kind == PK_STR && strcmp(dict->items[i]->s, key) == 0)
            return dict->items[i + 1];
    return NULL;
}
