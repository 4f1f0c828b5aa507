/* pickle.h: a reader for the subset of Python's pickle (protocols 2-5) that torch.save uses
 * for a state_dict. It is a stack machine that builds plain values (no Python objects): the
 * only callables it knows are collections.OrderedDict and torch's tensor rebuild functions,
 * and storages arrive as persistent ids. Anything else is refused with the opcode or global
 * and its byte offset; nothing is ever executed. Every size read from the file is bounded. */
#ifndef QCC_PICKLE_H
#define QCC_PICKLE_H

#include "../ir/ir.h"

typedef enum PkKind {
    PK_NONE,        /* None */
    PK_BOOL,        /* True/False in i */
    PK_INT,         /* int in i (at most 64 bits) */
    PK_FLOAT,       /* float in f */
    PK_STR,         /* str in s (NUL-terminated copy, len bytes) */
    PK_TUPLE,       /* items[0..n) */
    PK_LIST,        /* items[0..n) */
    PK_DICT,        /* dict or OrderedDict: items[2k] key, items[2k+1] value, file order */
    PK_GLOBAL,      /* an allowed global, "module.name" in s, which one in global */
    PK_STORAGE,     /* a torch storage (persistent id) in storage */
    PK_TENSOR,      /* a rebuilt tensor in tensor */
} PkKind;

/* The globals the reader accepts; any other is an error. */
typedef enum PkGlobal {
    PKG_NONE,               /* not a global */
    PKG_ORDERED_DICT,       /* collections.OrderedDict: OrderedDict() makes an empty dict */
    PKG_REBUILD_TENSOR_V2,  /* torch._utils._rebuild_tensor_v2(storage, offset, size, ...) */
    PKG_REBUILD_PARAMETER,  /* torch._utils._rebuild_parameter(tensor, requires_grad, ...) */
    PKG_STORAGE_TYPE,       /* torch.FloatStorage & co (dtype in storage_dtype) */
} PkGlobal;

typedef struct PkStorage {
    const char *key;        /* the zip entry name under "<archive>/data/" */
    DType dtype;            /* element type from the storage class */
    int64_t numel;          /* elements the pickle declares */
} PkStorage;

typedef struct PkTensor {
    PkStorage *storage;     /* where the elements live */
    int64_t offset;         /* first element within the storage */
    int rank;               /* dims (0 = scalar) */
    int64_t shape[QCC_MAX_RANK]; /* dims; the layout is checked to be contiguous */
    int64_t numel;          /* product of shape (checked against overflow) */
} PkTensor;

typedef struct PkValue PkValue;
struct PkValue {
    PkKind kind;            /* which fields below are live */
    int64_t i;              /* PK_BOOL, PK_INT */
    double f;               /* PK_FLOAT */
    const char *s;          /* PK_STR, PK_GLOBAL (arena, NUL-terminated) */
    size_t len;             /* bytes of s */
    PkValue **items;        /* PK_TUPLE, PK_LIST, PK_DICT (see PkKind) */
    int n;                  /* entries used in items */
    int cap;                /* entries allocated in items */
    PkGlobal global;        /* PK_GLOBAL: which one */
    DType storage_dtype;    /* PK_GLOBAL of PKG_STORAGE_TYPE */
    PkStorage *storage;     /* PK_STORAGE */
    PkTensor *tensor;       /* PK_TENSOR */
    int depth;              /* container nesting below this value (0 for scalars) */
    bool frozen;            /* inside another container: no longer mutable (no cycles) */
};

/* Decode len bytes of pickle into a value tree in the arena. what names the data in errors
 * ("ckpt.pt: data.pkl"). NULL after an error through d. */
PkValue *pickle_load(Arena *a, const void *data, size_t len, const char *what, Diag *d);

/* The value stored under string key in a PK_DICT, or NULL. */
PkValue *pickle_dict_get(const PkValue *dict, const char *key);

#endif
