/* qat.c: PyTorch QAT checkpoints. A torch.save file is a zip (opened with libzip, never a
 * zip reader of our own) holding "<archive>/data.pkl" (a pickled state_dict, decoded by
 * pickle.c which executes nothing) and one "<archive>/data/<key>" entry of raw little-endian
 * bytes per storage. This file turns that into named tensors, writes the fp32 weights and BN
 * statistics into the float ONNX graph (qat_apply_weights) and the observers' activation
 * ranges into a QuantPlan (qat_plan). Module names map to ONNX nodes through initializer
 * names ("conv1.weight") and the exporter's node scopes ("/layer1/Add"). */
#include "frontend.h"
#include "pickle.h"

#include <math.h>
#include <string.h>
#include <zip.h>

/* Bounds on what a checkpoint may make us read: one entry, and all entries together. */
#define QAT_MAX_ENTRY ((zip_uint64_t)1 << 30)
#define QAT_MAX_TOTAL ((zip_uint64_t)1 << 32)

typedef struct QatEntry {
    Tensor t;               /* name = checkpoint key; dtype, shape, data (arena) */
    bool used;              /* matched something in the model (or is bookkeeping) */
} QatEntry;

typedef struct QatModule {
    const char *module;     /* "layer1.conv1" */
    const char *node;       /* the ONNX node whose weight is "<module>.weight" */
} QatModule;

struct QatCheckpoint {
    const char *path;       /* file name for messages */
    QatEntry *e;            /* tensors in file order */
    int n;                  /* entries of e */
    QatModule *mods;        /* modules found by qat_apply_weights */
    int nmods;              /* entries of mods */
};

/* ---- zip ---- */

typedef struct Qz {
    zip_t *za;              /* the open archive */
    const char *path;       /* file name for messages */
    zip_uint64_t total;     /* bytes read so far (bounded by QAT_MAX_TOTAL) */
    Arena *a;               /* where entry contents go */
    Diag *d;                /* errors */
} Qz;

/* The whole of entry idx, NUL-terminated, into the arena; *len its size. Sizes, encryption
 * and compression are checked first; reading past the declared size or stopping short of it
 * is an error (libzip checks the CRC when the end is reached). */
static uint8_t *qz_read(Qz *z, zip_int64_t idx, size_t *len) {
    zip_stat_t st;
    zip_stat_init(&st);
    const char *name = zip_get_name(z->za, (zip_uint64_t)idx, 0);
    if (!name || zip_stat_index(z->za, (zip_uint64_t)idx, 0, &st) != 0) {
        diag_error(z->d, "%s: cannot stat zip entry %lld: %s", z->path, (long long)idx,
                   zip_strerror(z->za));
        return NULL;
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
        diag_error(z->d, "%s: zip entry '%s' is encrypted", z->path, name);
        return NULL;
    }
    if (!(st.valid & ZIP_STAT_COMP_METHOD) ||
        (st.comp_method != ZIP_CM_STORE && st.comp_method != ZIP_CM_DEFLATE) ||
        !zip_compression_method_supported(st.comp_method, 0)) {
        diag_error(z->d, "%s: zip entry '%s' uses compression method %d (only stored and "
                   "deflate are read)", z->path, name, (int)st.comp_method);
        return NULL;
    }
    if (!(st.valid & ZIP_STAT_SIZE) || st.size > QAT_MAX_ENTRY ||
        st.size > QAT_MAX_TOTAL - z->total) {
        diag_error(z->d, "%s: zip entry '%s' is too large (%llu bytes)", z->path, name,
                   (unsigned long long)st.size);
        return NULL;
    }
    z->total += st.size;
    zip_file_t *f = zip_fopen_index(z->za, (zip_uint64_t)idx, 0);
    if (!f) {
        diag_error(z->d, "%s: cannot open zip entry '%s': %s", z->path, name,
                   zip_strerror(z->za));
        return NULL;
    }
    uint8_t *buf = arena_alloc(z->a, (size_t)st.size + 1);
    zip_uint64_t got = 0;
    bool ok = true;
    while (ok && got < st.size) {
        zip_int64_t n = zip_fread(f, buf + got, st.size - got);
        if (n <= 0) {
            diag_error(z->d, "%s: zip entry '%s' is truncated or corrupt (%llu of %llu "
                       "bytes): %s", z->path, name, (unsigned long long)got,
                       (unsigned long long)st.size, n < 0 ? zip_file_strerror(f) : "end");
            ok = false;
        } else {
            got += (zip_uint64_t)n;
        }
    }
    uint8_t extra;
    if (ok) {
        zip_int64_t n = zip_fread(f, &extra, 1);
        if (n != 0) {
            diag_error(z->d, "%s: zip entry '%s' is corrupt: %s", z->path, name,
                       n < 0 ? zip_file_strerror(f) : "longer than its declared size");
            ok = false;
        }
    }
    zip_fclose(f);
    *len = (size_t)st.size;
    return ok ? buf : NULL;
}

static uint8_t *qz_read_name(Qz *z, const char *name, size_t *len) {
    zip_int64_t idx = zip_name_locate(z->za, name, 0);
    if (idx < 0) {
        diag_error(z->d, "%s: zip entry '%s' is missing", z->path, name);
        return NULL;
    }
    return qz_read(z, idx, len);
}

/* "<archive>/" of the one "<archive>/data.pkl" entry ("" if data.pkl is at the root). */
static const char *qz_prefix(Qz *z) {
    zip_int64_t n = zip_get_num_entries(z->za, 0);
    const char *prefix = NULL;
    for (zip_int64_t i = 0; i < n; i++) {
        const char *name = zip_get_name(z->za, (zip_uint64_t)i, 0);
        if (!name)
            continue;
        size_t len = strlen(name);
        if (len < 8 || strcmp(name + len - 8, "data.pkl") != 0)
            continue;
        const char *slash = strchr(name, '/');
        if (len != 8 && (!slash || slash != name + len - 9))
            continue;   /* only "data.pkl" or "<archive>/data.pkl" */
        if (prefix) {
            diag_error(z->d, "%s: more than one data.pkl in the archive", z->path);
            return NULL;
        }
        prefix = arena_strndup(z->a, name, len - 8);
    }
    if (!prefix)
        diag_error(z->d, "%s: no data.pkl in the zip: not a torch.save checkpoint", z->path);
    return prefix;
}

/* ---- tensors out of the pickle ---- */

typedef struct QatStorage {
    const char *key;        /* storage key */
    const uint8_t *data;    /* its bytes */
    size_t len;             /* their count */
} QatStorage;

static const uint8_t *qat_storage(Qz *z, const char *prefix, QatStorage *cache, int *ncache,
                                  int cap, const PkStorage *s) {
    for (int i = 0; i < *ncache; i++)
        if (strcmp(cache[i].key, s->key) == 0)
            return cache[i].data;
    size_t esize = dtype_size(s->dtype), len;
    const uint8_t *b = qz_read_name(z, arena_printf(z->a, "%sdata/%s", prefix, s->key), &len);
    if (!b)
        return NULL;
    if ((uint64_t)s->numel > len / esize) {
        diag_error(z->d, "%s: storage '%s' holds %zu bytes, less than the %lld %s elements "
                   "the pickle declares", z->path, s->key, len, (long long)s->numel,
                   dtype_name(s->dtype));
        return NULL;
    }
    QCC_ASSERT(*ncache < cap);
    cache[*ncache].key = s->key;
    cache[*ncache].data = b;
    cache[*ncache].len = len;
    (*ncache)++;
    return b;
}

/* One state_dict value into entry e (float64 becomes float32; other dtypes stay). */
static bool qat_entry(Qz *z, const char *prefix, QatStorage *cache, int *ncache, int cap,
                      const char *key, const PkTensor *pt, QatEntry *e) {
    DType dt = pt->storage->dtype;
    if (dt != DT_FLOAT && dt != DT_DOUBLE && dt != DT_INT32 && dt != DT_INT64 &&
        dt != DT_UINT8 && dt != DT_INT8 && dt != DT_BOOL)
        return diag_error(z->d, "%s: tensor '%s' has dtype %s (float32/64, int32/64, "
                          "(u)int8 and bool are read)", z->path, key, dtype_name(dt));
    const uint8_t *b = qat_storage(z, prefix, cache, ncache, cap, pt->storage);
    if (!b)
        return false;
    size_t esize = dtype_size(dt);
    const uint8_t *src = b + (size_t)pt->offset * esize;
    Tensor *t = &e->t;
    t->name = key;
    t->rank = pt->rank;
    memcpy(t->shape, pt->shape, sizeof t->shape);
    t->shape_known = true;
    t->flags = T_CONST;
    t->offset = -1;
    if (dt == DT_DOUBLE) {
        float *f = arena_calloc(z->a, (size_t)pt->numel + 1, sizeof *f);
        for (int64_t i = 0; i < pt->numel; i++) {
            double v;
            memcpy(&v, src + (size_t)i * 8, 8);
            f[i] = (float)v;
        }
        t->dtype = DT_FLOAT;
        t->data = f;
    } else {
        t->dtype = dt;
        t->data = arena_memdup(z->a, src, (size_t)pt->numel * esize + 1);
    }
    return true;
}

/* The dict of tensors: the top-level dict, or one nested under a key training scripts use. */
static const PkValue *qat_find_state_dict(const PkValue *top) {
    static const char *const wrappers[] = {"state_dict", "model_state_dict", "model", "net"};
    for (int depth = 0; depth < 3 && top && top->kind == PK_DICT; depth++) {
        for (int i = 1; i < top->n; i += 2)
            if (top->items[i]->kind == PK_TENSOR)
                return top;
        const PkValue *next = NULL;
        for (size_t w = 0; w < sizeof wrappers / sizeof wrappers[0] && !next; w++)
            next = pickle_dict_get(top, wrappers[w]);
        top = next;
    }
    return top && top->kind == PK_DICT ? top : NULL;
}

static QatCheckpoint *qat_from_zip(Arena *a, zip_t *za, const char *name, Diag *d) {
    uint16_t one = 1;
    uint8_t first;
    memcpy(&first, &one, 1);
    if (first != 1) {
        diag_error(d, "%s: checkpoints are read on little-endian hosts only", name);
        return NULL;
    }
    Qz z = {.za = za, .path = name, .a = a, .d = d};
    const char *prefix = qz_prefix(&z);
    if (!prefix)
        return NULL;
    size_t len;
    zip_int64_t bo = zip_name_locate(za, arena_printf(a, "%sbyteorder", prefix), 0);
    if (bo >= 0) {
        const uint8_t *b = qz_read(&z, bo, &len);
        if (!b)
            return NULL;
        if (len < 6 || memcmp(b, "little", 6) != 0) {
            diag_error(d, "%s: byteorder is not 'little'", name);
            return NULL;
        }
    }
    const uint8_t *pkl = qz_read_name(&z, arena_printf(a, "%sdata.pkl", prefix), &len);
    if (!pkl)
        return NULL;
    const PkValue *top = pickle_load(a, pkl, len, arena_printf(a, "%s: data.pkl", name), d);
    if (!top)
        return NULL;
    const PkValue *sd = qat_find_state_dict(top);
    if (!sd) {
        diag_error(d, "%s: the pickle holds no state_dict (a dict of tensors, maybe under "
                   "'state_dict' or 'model')", name);
        return NULL;
    }
    QatCheckpoint *c = arena_alloc(a, sizeof *c);
    c->path = name;
    c->e = arena_calloc(a, (size_t)sd->n / 2 + 1, sizeof *c->e);
    QatStorage *cache = arena_calloc(a, (size_t)sd->n / 2 + 1, sizeof *cache);
    int ncache = 0;
    for (int i = 0; i + 1 < sd->n; i += 2) {
        const PkValue *k = sd->items[i], *v = sd->items[i + 1];
        if (k->kind != PK_STR) {
            diag_error(d, "%s: state_dict key that is not a string", name);
            return NULL;
        }
        if (v->kind != PK_TENSOR) {
            diag_warning(d, "%s: state_dict entry '%s' is not a tensor: ignored", name, k->s);
            continue;
        }
        for (int j = 0; j < c->n; j++)
            if (strcmp(c->e[j].t.name, k->s) == 0) {
                diag_error(d, "%s: state_dict key '%s' appears twice", name, k->s);
                return NULL;
            }
        if (!qat_entry(&z, prefix, cache, &ncache, sd->n / 2 + 1, k->s, v->tensor,
                       &c->e[c->n]))
            return NULL;
        c->n++;
    }
    /* nn.DataParallel saves every key under "module.": drop it when all keys have it. */
    bool all_module = c->n > 0;
    for (int i = 0; i < c->n && all_module; i++)
        all_module = strncmp(c->e[i].t.name, "module.", 7) == 0;
    for (int i = 0; i < c->n && all_module; i++)
        c->e[i].t.name += 7;
    return c;
}

static void qat_zip_error(Diag *d, const char *name, zip_error_t *ze) {
    diag_error(d, "%s: not a readable zip (torch.save >= 1.6 format): %s", name,
               zip_error_strerror(ze));
}

QatCheckpoint *qat_load(Arena *a, const char *path, Diag *d) {
    int code = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY | ZIP_CHECKCONS, &code);
    if (!za) {
        zip_error_t ze;
        zip_error_init_with_code(&ze, code);
        qat_zip_error(d, path, &ze);
        zip_error_fini(&ze);
        return NULL;
    }
    QatCheckpoint *c = qat_from_zip(a, za, arena_strdup(a, path), d);
    zip_discard(za);
    return c;
}

QatCheckpoint *qat_load_memory(Arena *a, const char *name, const void *data, size_t len,
                               Diag *d) {
    zip_error_t ze;
    zip_error_init(&ze);
    name = name ? name : "(memory)";
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    zip_t *za = src ? zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze) : NULL;
    if (!za) {
        if (src)
            zip_source_free(src);
        qat_zip_error(d, name, &ze);
        zip_error_fini(&ze);
        return NULL;
    }
    zip_error_fini(&ze);
    QatCheckpoint *c = qat_from_zip(a, za, arena_strdup(a, name), d);
    zip_discard(za);
    return c;
}

int qat_count(const QatCheckpoint *c) {
    return c->n;
}

const Tensor *qat_tensor(const QatCheckpoint *c, int i) {
    return i >= 0 && i < c->n ? &c->e[i].t : NULL;
}

static QatEntry *qat_get(QatCheckpoint *c, const char *key) {
    for (int i = 0; i < c->n; i++)
        if (strcmp(c->e[i].t.name, key) == 0)
            return &c->e[i];
    return NULL;
}

const Tensor *qat_find(const QatCheckpoint *c, const char *key) {
    QatEntry *e = qat_get((QatCheckpoint *)c, key);
    return e ? &e->t : NULL;
}


/* ---- module names and ONNX nodes ---- */

static bool qat_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* The module path of a torch-exported node name: "/layer2/downsample/downsample.0/Conv" ->
 * "layer2.downsample.0" (a scope repeats its parent's name for Sequential children, and the
 * last component is the op). "" for names without a scope. */
static const char *qat_scope(Arena *a, const char *node_name) {
    if (!node_name || node_name[0] != '/')
        return "";
    char *out = arena_alloc(a, strlen(node_name) + 1);
    size_t o = 0;
    const char *prev = NULL;
    size_t prevlen = 0;
    const char *p = node_name + 1;
    for (const char *slash; (slash = strchr(p, '/')); p = slash + 1) {
        size_t len = (size_t)(slash - p);
        const char *piece = p;
        size_t plen = len;
        if (prev && len > prevlen + 1 && memcmp(p, prev, prevlen) == 0 && p[prevlen] == '.') {
            piece = p + prevlen + 1;
            plen = len - prevlen - 1;
        }
        if (o)
            out[o++] = '.';
        memcpy(out + o, piece, plen);
        o += plen;
        prev = p;
        prevlen = len;
    }
    out[o] = 0;
    return out;
}

static bool qat_is_bookkeeping(const char *key) {
    static const char *const suffixes[] = {".fake_quant_enabled", ".observer_enabled", ".eps",
                                           ".min_val", ".max_val", ".num_batches_tracked"};
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (qat_ends_with(key, suffixes[i]))
            return true;
    return false;
}

/* Overwrite constant tensor tid with entry e (same shape; a MatMul weight may be the
 * transpose of torch's [out, in] Linear weight). */
static bool qat_replace(Graph *g, const Node *n, int tid, QatEntry *e, bool *replaced,
                        Diag *d) {
    Tensor *t = &g->tensors[tid];
    const Tensor *s = &e->t;
    if (!(t->flags & T_CONST) || t->dtype != DT_FLOAT)
        return diag_error(d, "node '%s' (%s): '%s' is not a float constant; cannot take "
                          "checkpoint entry '%s'", n->name, op_name(n->op), t->name, s->name);
    if (s->dtype != DT_FLOAT)
        return diag_error(d, "node '%s' (%s): checkpoint entry '%s' is %s, not float",
                          n->name, op_name(n->op), s->name, dtype_name(s->dtype));
    bool same = t->rank == s->rank;
    for (int i = 0; same && i < t->rank; i++)
        same = t->shape[i] == s->shape[i];
    bool transposed = !same && n->op == OP_MATMUL && t->rank == 2 && s->rank == 2 &&
                      t->shape[0] == s->shape[1] && t->shape[1] == s->shape[0];
    if (!same && !transposed) {
        StrBuf a, b;
        sb_init(&a), sb_init(&b);
        for (int i = 0; i < t->rank; i++)
            sb_printf(&a, "%s%lld", i ? "," : "", (long long)t->shape[i]);
        for (int i = 0; i < s->rank; i++)
            sb_printf(&b, "%s%lld", i ? "," : "", (long long)s->shape[i]);
        diag_error(d, "node '%s' (%s): checkpoint entry '%s' has shape [%s], the model's "
                   "'%s' [%s]", n->name, op_name(n->op), s->name, b.data ? b.data : "",
                   t->name, a.data ? a.data : "");
        sb_free(&a), sb_free(&b);
        return false;
    }
    int64_t numel = tensor_numel(s);
    float *dst = arena_calloc(g->arena, (size_t)numel + 1, sizeof *dst);
    const float *src = s->data;
    if (transposed) {
        for (int64_t r = 0; r < s->shape[0]; r++)
            for (int64_t col = 0; col < s->shape[1]; col++)
                dst[col * s->shape[0] + r] = src[r * s->shape[1] + col];
    } else {
        memcpy(dst, src, (size_t)numel * sizeof *dst);
    }
    t->data = dst;
    e->used = true;
    replaced[tid] = true;
    return true;
}

/* The live node reading tensor t, if exactly one does and t is no graph output. */
static int qat_single_consumer(const Graph *g, int t) {
    int found = -1;
    if (g->tensors[t].flags & T_OUTPUT)
        return -1;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead)
            continue;
        for (int j = 0; j < n->nin; j++)
            if (n->in[j] == t) {
                if (found >= 0 && found != i)
                    return -1;
                found = i;
            }
    }
    return found;
}

static void qat_add_module(Graph *g, QatCheckpoint *c, const char *module, const char *node) {
    for (int i = 0; i < c->nmods; i++)
        if (strcmp(c->mods[i].module, module) == 0)
            return;
    if (!c->mods)
        c->mods = arena_calloc(g->arena, (size_t)g->nnodes + 1, sizeof *c->mods);
    QCC_ASSERT(c->nmods <= g->nnodes);
    c->mods[c->nmods].module = module;
    c->mods[c->nmods].node = node;
    c->nmods++;
}

/* A Conv/Gemm/MatMul's weights, bias and the BatchNormalization after it (fused ConvBn QAT
 * modules keep that BN as "<module>.bn.*"). */
static bool qat_apply_node(Graph *g, QatCheckpoint *c, int ni, bool *replaced, Diag *d) {
    const Node *n = &g->nodes[ni];
    if (n->nin < 2 || n->in[1] < 0 || !(g->tensors[n->in[1]].flags & T_CONST))
        return true;
    const char *wname = g->tensors[n->in[1]].name;
    const char *module = qat_ends_with(wname, ".weight")
                             ? arena_strndup(g->arena, wname, strlen(wname) - 7)
                             : qat_scope(g->arena, n->name);
    QatEntry *w = qat_get(c, arena_printf(g->arena, "%s.weight", module));
    if (!*module || !w)
        return true;
    if (!qat_replace(g, n, n->in[1], w, replaced, d))
        return false;
    qat_add_module(g, c, module, n->name);
    QatEntry *b = qat_get(c, arena_printf(g->arena, "%s.bias", module));
    if (b && n->nin >= 3 && n->in[2] >= 0) {
        if (!qat_replace(g, n, n->in[2], b, replaced, d))
            return false;
    } else if (b && n->nin == 2 && n->op != OP_MATMUL && b->t.dtype == DT_FLOAT &&
               b->t.rank == 1) {
        /* The export dropped a zero bias the checkpoint has: add it as an input. */
        int tid = graph_new_tensor(g, arena_printf(g->arena, "%s.bias", module));
        float *data = tensor_set_const(g, tid, DT_FLOAT, 1, b->t.shape);
        memcpy(data, b->t.data, (size_t)b->t.shape[0] * sizeof *data);
        node_add_input(g, ni, tid);
        b->used = true;
        replaced[tid] = true;
    }
    int bn = qat_single_consumer(g, g->nodes[ni].out[0]);
    if (bn < 0 || g->nodes[bn].op != OP_BATCHNORM || g->nodes[bn].nin < 5)
        return true;
    static const char *const parts[] = {"weight", "bias", "running_mean", "running_var"};
    for (int k = 0; k < 4; k++) {
        QatEntry *e = qat_get(c, arena_printf(g->arena, "%s.bn.%s", module, parts[k]));
        int tid = g->nodes[bn].in[k + 1];
        if (e && tid >= 0 && !qat_replace(g, &g->nodes[bn], tid, e, replaced, d))
            return false;
    }
    return true;
}

bool qat_apply_weights(Graph *g, QatCheckpoint *c, Diag *d) {
    bool *replaced = arena_calloc(g->arena, (size_t)g->ntensors + (size_t)g->nnodes + 1,
                                  sizeof *replaced);
    int nnodes = g->nnodes;
    for (int i = 0; i < nnodes; i++) {
        Op op = g->nodes[i].op;
        if (g->nodes[i].dead || (op != OP_CONV && op != OP_CONV_TRANSPOSE && op != OP_GEMM &&
                                 op != OP_MATMUL))
            continue;
        if (!qat_apply_node(g, c, i, replaced, d))
            return false;
    }
    /* Whatever else shares a name with a checkpoint entry (a BN that is its own module). */
    for (int i = 0; i < nnodes; i++) {
        const Node *n = &g->nodes[i];
        for (int j = 0; j < n->nin && !n->dead; j++) {
            int tid = n->in[j];
            if (tid < 0 || replaced[tid] || !(g->tensors[tid].flags & T_CONST))
                continue;
            QatEntry *e = qat_get(c, g->tensors[tid].name);
            if (e && e->t.dtype == DT_FLOAT && !qat_replace(g, n, tid, e, replaced, d))
                return false;
        }
    }
    int nrep = 0;
    for (int i = 0; i < g->ntensors; i++)
        nrep += replaced[i];
    if (nrep == 0)
        return diag_error(d, "%s: no checkpoint entry matches an initializer of the model "
                          "(is it the same network?)", c->path);
    diag_note(d, "%s: %d initializers taken from the checkpoint", c->path, nrep);
    return true;
}

/* ---- activation ranges ---- */

/* Does node n stand for ONNX node name (itself or one it absorbed)? */
static bool qat_node_is(const Node *n, const char *name) {
    if (n->name && strcmp(n->name, name) == 0)
        return true;
    for (int i = 0; i < n->nsources; i++)
        if (strcmp(n->sources[i], name) == 0)
            return true;
    return false;
}

/* The node whose output module m's observer watched: the node holding its weight, or for a
 * weightless module (FloatFunctional add, cat, mul) the single such op in m's scope or its
 * parent's ("layer1.add_relu" -> "/layer1/Add"). -1 if none or ambiguous. */
static int qat_module_node(Graph *g, const QatCheckpoint *c, const char *m) {
    for (int i = 0; i < c->nmods; i++) {
        if (strcmp(c->mods[i].module, m) != 0)
            continue;
        for (int j = 0; j < g->nnodes; j++)
            if (!g->nodes[j].dead && qat_node_is(&g->nodes[j], c->mods[i].node))
                return j;
    }
    const char *dot = strrchr(m, '.');
    const char *parent = dot ? arena_strndup(g->arena, m, (size_t)(dot - m)) : "";
    int found = -1;
    for (int j = 0; j < g->nnodes; j++) {
        const Node *n = &g->nodes[j];
        if (n->dead || (n->op != OP_ADD && n->op != OP_MUL && n->op != OP_CONCAT &&
                        n->op != OP_SUB))
            continue;
        const char *scope = qat_scope(g->arena, n->nsources ? n->sources[0] : n->name);
        if (strcmp(scope, m) != 0 && strcmp(scope, parent) != 0)
            continue;
        if (found >= 0)
            return -1;
        found = j;
    }
    return found;
}

static bool qat_scalar(const QatEntry *e, double *v) {
    if (!e || tensor_numel(&e->t) != 1)
        return false;
    *v = e->t.dtype == DT_FLOAT ? tensor_get_f(&e->t, 0) : (double)tensor_get_i(&e->t, 0);
    return true;
}

/* Ops that leave a quantized tensor's grid alone in PyTorch's quantized kernels: their
 * output takes the input's (scale, zero point). */
static bool qat_passes_qparams(Op op) {
    switch (op) {
    case OP_MAX_POOL: case OP_GLOBAL_MAX_POOL: case OP_AVG_POOL: case OP_GLOBAL_AVG_POOL:
    case OP_RELU: case OP_CLIP: case OP_FLATTEN: case OP_RESHAPE: case OP_SQUEEZE:
    case OP_UNSQUEEZE: case OP_TRANSPOSE: case OP_IDENTITY:
        return true;
    default:
        return false;
    }
}

/* Module m's observer (scale, quint8 zero point) on the tensor m's output is. */
static bool qat_plan_module(Graph *g, QatCheckpoint *c, QuantPlan *p, const char *m,
                            float scale, int32_t zp, Diag *d) {
    ActQuant q = {.set = true, .scale = scale, .zero_point = zp, .dtype = p->act_dtype};
    if (p->act_dtype == DT_INT8)
        q.zero_point -= 128;   /* same grid, int8 storage */
    if (strcmp(m, "quant") == 0 || qat_ends_with(m, ".quant")) {
        for (int i = 0; i < g->ninputs; i++)
            if (g->tensors[g->inputs[i]].dtype == DT_FLOAT && g->inputs[i] < p->ntensors)
                p->act[g->inputs[i]] = q;
        return g->ninputs > 0;
    }
    int ni = qat_module_node(g, c, m);
    if (ni < 0)
        return false;
    /* Follow the module's fused chain: an unfolded BN, and a ReLU when the observer sits
     * after it (zero point at the bottom of the range: ConvBnReLU / add_relu). A ReLU with
     * a mid-range zero point, or a Clip, is a module of its own that keeps the grid. */
    int t = g->nodes[ni].out[0];
    for (int steps = 0; steps < 4; steps++) {
        int cn = qat_single_consumer(g, t);
        if (cn < 0)
            break;
        Op op = g->nodes[cn].op;
        if (op == OP_BATCHNORM || (op == OP_RELU && zp == 0))
            t = g->nodes[cn].out[0];
        else
            break;
    }
    if (t >= p->ntensors)
        return diag_error(d, "%s: module '%s': tensor created after the plan", c->path, m);
    p->act[t] = q;
    return true;
}

/* Per-channel max|w| / 127 of the prepared (BN-folded) weight against the checkpoint's
 * fake-quant scale: the recomputed scales should agree within torch's 127 vs 127.5 and the
 * observer's moving average. Returns the largest relative difference. */
static double qat_weight_scale_diff(const Graph *g, const Node *n, const QatEntry *e) {
    const Tensor *w = &g->tensors[n->in[1]];
    if (!w->data || w->dtype != DT_FLOAT || w->rank < 1 || e->t.dtype != DT_FLOAT)
        return 0;
    int64_t cout = w->shape[0], per = cout ? tensor_numel(w) / cout : 0;
    if (tensor_numel(&e->t) != cout || n->op == OP_CONV_TRANSPOSE || n->op == OP_MATMUL)
        return 0;
    const float *wd = w->data, *sd = e->t.data;
    double worst = 0;
    for (int64_t oc = 0; oc < cout; oc++) {
        double mx = 0;
        for (int64_t i = 0; i < per; i++)
            mx = fmax(mx, fabs(wd[oc * per + i]));
        if (mx > 0 && sd[oc] > 0) {
            double rel = fabs(mx / 127.0 / sd[oc] - 1.0);
            worst = fmax(worst, rel);
        }
    }
    return worst;
}

/* The fake-quant scales of node n's weight, as the plan's weight_scale entry: one per
 * output channel (a per-tensor scale repeated), symmetric only. NULL if they do not fit. */
static const float *qat_weight_scales(Graph *g, const Node *n, const QatEntry *s,
                                      const QatEntry *z) {
    const Tensor *w = &g->tensors[n->in[1]];
    if (s->t.dtype != DT_FLOAT || w->rank < 2 || !w->shape_known)
        return NULL;
    int64_t cout = n->op == OP_CONV ? w->shape[0]
                   : n->op == OP_GEMM ? w->shape[n->a.gemm.trans_b ? 0 : 1]
                   : n->op == OP_MATMUL && w->rank == 2 ? w->shape[1] : -1;
    int64_t ns = tensor_numel(&s->t);
    if (cout <= 0 || (ns != cout && ns != 1))
        return NULL;
    for (int64_t i = 0; z && i < tensor_numel(&z->t); i++)
        if (tensor_get_i(&z->t, i) != 0)
            return NULL;
    float *out = arena_calloc(g->arena, (size_t)cout, sizeof *out);
    for (int64_t c = 0; c < cout; c++) {
        out[c] = ((const float *)s->t.data)[ns == 1 ? 0 : c];
        if (!(out[c] > 0) || !isfinite(out[c]))
            return NULL;
    }
    return out;
}

bool qat_plan(Graph *g, QatCheckpoint *c, QuantPlan *p, Diag *d) {
    const char *app = ".activation_post_process.scale";
    int nplanned = 0;
    for (int i = 0; i < c->n; i++) {
        QatEntry *e = &c->e[i];
        if (!qat_ends_with(e->t.name, app))
            continue;
        const char *m = arena_strndup(g->arena, e->t.name, strlen(e->t.name) - strlen(app));
        QatEntry *ze = qat_get(c, arena_printf(g->arena, "%s.activation_post_process."
                                               "zero_point", m));
        double scale, zp;
        if (!qat_scalar(e, &scale) || !qat_scalar(ze, &zp))
            continue;   /* per-channel or odd: reported as unmatched below */
        if (!(scale > 0) || !isfinite(scale) || scale > 1e30 || zp < 0 || zp > 255)
            return diag_error(d, "%s: '%s' = %g with zero point %g is not a valid quint8 "
                              "activation quantization", c->path, e->t.name, scale, zp);
        if (!qat_plan_module(g, c, p, m, (float)scale, (int32_t)zp, d)) {
            if (d->errors)
                return false;
            continue;
        }
        e->used = ze->used = true;
        nplanned++;
    }
    /* Pooling, reshapes and activations keep the grid of their input (as in the golden
     * exports: MaxPool/Flatten/GlobalAveragePool outputs carry the producer's qparams). */
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        if (n->dead || !qat_passes_qparams(n->op) || n->nin < 1 || n->in[0] < 0 ||
            n->in[0] >= p->ntensors || n->out[0] >= p->ntensors)
            continue;
        if (p->act[n->in[0]].set && !p->act[n->out[0]].set)
            p->act[n->out[0]] = p->act[n->in[0]];
    }
    /* Weight fake-quant entries: used when their module was found; a consistency note. */
    double worst = 0;
    const char *worst_m = NULL;
    for (int i = 0; i < c->nmods; i++) {
        QatEntry *s = qat_get(c, arena_printf(g->arena, "%s.weight_fake_quant.scale",
                                              c->mods[i].module));
        QatEntry *z = qat_get(c, arena_printf(g->arena, "%s.weight_fake_quant.zero_point",
                                              c->mods[i].module));
        if (z)
            z->used = true;
        if (!s)
            continue;
        s->used = true;
        for (int j = 0; j < g->nnodes; j++) {
            const Node *n = &g->nodes[j];
            if (n->dead || !qat_node_is(n, c->mods[i].node) || n->nin < 2 || n->in[1] < 0 ||
                n->in[1] >= p->ntensors)
                continue;
            double diff = qat_weight_scale_diff(g, n, s);
            if (diff > worst)
                worst = diff, worst_m = c->mods[i].module;
            if (!p->weight_scale)
                p->weight_scale = arena_calloc(g->arena, (size_t)p->ntensors + 1,
                                               sizeof *p->weight_scale);
            p->weight_scale[n->in[1]] = qat_weight_scales(g, n, s, z);
        }
    }
    if (worst_m)
        diag_note(d, "%s: the checkpoint's weight fake-quant scales differ from max|w|/127 of "
                  "the folded weights by up to %.2f%% ('%s'); the plan carries the "
                  "checkpoint's, as PyTorch's convert uses them", c->path,
                  100.0 * worst, worst_m);
    int unmatched = 0;
    for (int i = 0; i < c->n; i++) {
        QatEntry *e = &c->e[i];
        if (e->used || qat_is_bookkeeping(e->t.name))
            continue;
        diag_warning(d, "%s: checkpoint entry '%s' matched nothing in the model", c->path,
                     e->t.name);
        unmatched++;
    }
    if (nplanned == 0)
        return diag_error(d, "%s: no activation range (<module>.activation_post_process."
                          "scale) matched the model", c->path);
    diag_note(d, "%s: %d activation ranges from the checkpoint, %d entries unmatched", c->path,
              nplanned, unmatched);
    return true;
}
