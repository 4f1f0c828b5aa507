/* onnx.c: reads an ONNX model (protobuf-c, decoded into the compilation arena) into the IR:
 * initializers and Constant nodes become constant tensors, other nodes keep file order with
 * attributes normalised by onnx_ops.c, graph inputs/outputs keep ONNX order. It validates
 * everything it reads from the file (it is untrusted input) and never runs a pass. */
#include "onnx_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Tensors larger than this are refused: ids, offsets and loops downstream use int32 counts
 * of elements in places, and no model we target comes close. */
#define ONNX_MAX_NUMEL ((int64_t)1 << 31)

/* ---------------------------------------------------------------------------------------
 * File reading and the arena-backed protobuf allocator
 * ------------------------------------------------------------------------------------- */

/* Whole file into a malloc'd buffer (freed by the caller once decoded: file I/O is the one
 * place outside the arena allowed to use the heap). *len gets its size. */
static uint8_t *onnx_read_file(const char *path, size_t *len, Diag *d) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, "cannot open: %s", strerror(errno));
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 1 << 16;
            uint8_t *nb = realloc(buf, ncap);
            if (!nb) {
                free(buf);
                fclose(f);
                diag_error(d, "cannot read: out of memory");
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror(f) ? (errno ? errno : EIO) : 0;
    fclose(f);
    if (err) {
        free(buf);
        diag_error(d, "cannot read: %s", strerror(err));
        return NULL;
    }
    *len = n;
    return buf;
}

static void *onnx_pb_alloc(void *data, size_t size) {
    return arena_alloc(data, size);
}

static void onnx_pb_free(void *data, void *ptr) {
    (void)data; /* the arena is freed as a whole */
    (void)ptr;
}

/* protobuf-c recurses once per nested message with no limit, so a hostile file nesting
 * graphs in attributes in nodes in graphs overflows the stack. Real models nest a handful of
 * levels (model, graph, node, attribute, tensor; subgraphs add a few). */
#define ONNX_MAX_DEPTH 64

static bool onnx_varint(const uint8_t **p, const uint8_t *end, uint64_t *v) {
    *v = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return true;
    }
    return false;
}

/* Walk the wire format with the schema and check nesting depth; our own recursion is bounded
 * by ONNX_MAX_DEPTH. Malformed input is left for protobuf-c to reject (returns true). */
static bool onnx_depth_ok(const ProtobufCMessageDescriptor *desc, const uint8_t *p,
                          const uint8_t *end, int depth) {
    if (depth > ONNX_MAX_DEPTH)
        return false;
    while (p < end) {
        uint64_t tag, v;
        if (!onnx_varint(&p, end, &tag))
            return true;
        switch (tag & 7) {
        case 0:
            if (!onnx_varint(&p, end, &v))
                return true;
            break;
        case 1:
        case 5: {
            size_t skip = (tag & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < skip)
                return true;
            p += skip;
            break;
        }
        case 2: {
            if (!onnx_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return true;
            const ProtobufCFieldDescriptor *fd =
                tag >> 3 <= UINT32_MAX ? protobuf_c_message_descriptor_get_field(
                                             desc, (unsigned)(tag >> 3)) : NULL;
            if (fd && fd->type == PROTOBUF_C_TYPE_MESSAGE &&
                !onnx_depth_ok(fd->descriptor, p, p + v, depth + 1))
                return false;
            p += v;
            break;
        }
        default:
            return true; /* groups: protobuf-c decides */
        }
    }
    return true;
}

/* Directory part of path with a trailing '/', or "" (arena). */
static char *onnx_dirname(Arena *a, const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? arena_strndup(a, path, (size_t)(slash - path + 1)) : arena_strdup(a, "");
}

/* ---------------------------------------------------------------------------------------
 * TensorProto -> Tensor
 * ------------------------------------------------------------------------------------- */

static const char *onnx_dtype_label(int32_t dt) {
    switch (dt) {
    case 8: return "string";
    case 12: return "uint32";
    case 13: return "uint64";
    case 14: return "complex64";
    case 15: return "complex128";
    case 16: return "bfloat16";
    case 17: case 18: case 19: case 20: case 23: return "float8";
    case 21: return "uint4";
    case 22: return "int4";
    default: return "unknown";
    }
}

/* ONNX element types qcc reads; values equal DType. */
static bool onnx_dtype_ok(int32_t dt) {
    switch (dt) {
    case DT_FLOAT: case DT_UINT8: case DT_INT8: case DT_UINT16: case DT_INT16: case DT_INT32:
    case DT_INT64: case DT_BOOL: case DT_FLOAT16: case DT_DOUBLE:
        return true;
    default:
        return false;
    }
}

/* IEEE half -> float, exact (every half is a float). */
static float onnx_half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;      /* inf / nan */
    } else if (exp != 0) {
        bits = sign | (exp + 112) << 23 | man << 13; /* normal: rebias 15 -> 127 */
    } else if (man == 0) {
        bits = sign;                                 /* signed zero */
    } else {
        int e = -1;                                  /* subnormal: normalise */
        do {
            man <<= 1;
            e++;
        } while (!(man & 0x400));
        bits = sign | (uint32_t)(112 - e) << 23 | (man & 0x3ff) << 13;
    }
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static bool onnx_host_le(void) {
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* Little-endian element i of size sz from raw bytes, as unsigned bits. */
static uint64_t onnx_le(const uint8_t *p, size_t sz, int64_t i) {
    uint64_t v = 0;
    for (size_t k = 0; k < sz; k++)
        v |= (uint64_t)p[(size_t)i * sz + k] << (8 * k);
    return v;
}

/* Does the external-data location stay inside the model directory? */
static bool onnx_safe_location(const char *loc) {
    if (!loc[0] || loc[0] == '/' || loc[0] == '\\')
        return false;
    for (const char *p = loc; *p;) {
        const char *end = p + strcspn(p, "/\\");
        if (end - p == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p = *end ? end + 1 : end;
    }
    return true;
}

/* Read `need` bytes of external data for tp into a fresh arena buffer. */
static uint8_t *onnx_external(Arena *a, const Onnx__TensorProto *tp, const char *dir,
                              size_t need, const char *what, const char *name, Diag *d) {
    const char *loc = NULL;
    long long off = 0, len = -1;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = tp->external_data[i]->key, *v = tp->external_data[i]->value;
        if (!k || !v)
            continue;
        char *end;
        if (strcmp(k, "location") == 0) {
            loc = v;
        } else if (strcmp(k, "offset") == 0 || strcmp(k, "length") == 0) {
            errno = 0;
            long long x = strtoll(v, &end, 10);
            if (errno || *end || x < 0) {
                diag_error(d, "%s '%s': bad external data %s '%s'", what, name, k, v);
                return NULL;
            }
            *(strcmp(k, "offset") == 0 ? &off : &len) = x;
        }
    }
    if (!loc) {
        diag_error(d, "%s '%s': external data without a location", what, name);
        return NULL;
    }
    if (!dir) {
        diag_error(d, "%s '%s': external data needs a model file (read from memory)", what,
                   name);
        return NULL;
    }
    if (!onnx_safe_location(loc)) {
        diag_error(d, "%s '%s': external data location '%s' must be a relative path inside "
                   "the model's directory", what, name, loc);
        return NULL;
    }
    if (len >= 0 && (size_t)len != need) {
        diag_error(d, "%s '%s': external data length %lld, expected %zu bytes", what, name,
                   len, need);
        return NULL;
    }
    size_t dl = strlen(dir), ll = strlen(loc);
    char *path = arena_alloc(a, dl + ll + 1);
    memcpy(path, dir, dl);
    memcpy(path + dl, loc, ll + 1);
    FILE *f = fopen(path, "rb");
    if (!f) {
        diag_error(d, "%s '%s': cannot open external data '%s': %s", what, name, path,
                   strerror(errno));
        return NULL;
    }
    uint8_t *buf = arena_alloc(a, need + 1);
    bool ok = fseek(f, (long)off, SEEK_SET) == 0 && fread(buf, 1, need, f) == need;
    fclose(f);
    if (!ok) {
        diag_error(d, "%s '%s': external data '%s' is shorter than offset %lld + %zu bytes",
                   what, name, path, off, need);
        return NULL;
    }
    return buf;
}

bool onnx_tensor_read(Arena *a, const Onnx__TensorProto *tp, const char *dir, Tensor *t,
                      const char *what, Diag *d) {
    const char *name = tp->name && tp->name[0] ? tp->name : "(unnamed)";
    int32_t src = tp->has_data_type ? tp->data_type : 0;
    if (!onnx_dtype_ok(src))
        return diag_error(d, "%s '%s': unsupported data type %s (%d)", what, name,
                          onnx_dtype_label(src), (int)src);
    if (tp->segment)
        return diag_error(d, "%s '%s': segmented tensors are not supported", what, name);
    if (tp->n_dims > QCC_MAX_RANK)
        return diag_error(d, "%s '%s': rank %zu exceeds qcc's maximum of %d", what, name,
                          tp->n_dims, QCC_MAX_RANK);
    int64_t numel = 1;
    for (size_t i = 0; i < tp->n_dims; i++) {
        if (tp->dims[i] < 0)
            return diag_error(d, "%s '%s': negative dimension %lld", what, name,
                              (long long)tp->dims[i]);
        if (tp->dims[i] > 0 && numel > ONNX_MAX_NUMEL / tp->dims[i])
            return diag_error(d, "%s '%s': more than 2^31 elements", what, name);
        numel *= tp->dims[i];
    }
    if (numel > ONNX_MAX_NUMEL)
        return diag_error(d, "%s '%s': more than 2^31 elements", what, name);
    DType sdt = (DType)src, dt = (sdt == DT_FLOAT16 || sdt == DT_DOUBLE) ? DT_FLOAT : sdt;
    size_t ssz = dtype_size(sdt), dsz = dtype_size(dt), need = (size_t)numel * ssz;

    /* Where the values are: raw bytes (inline or external) or one typed repeated field. */
    const uint8_t *raw = NULL;
    size_t have = 0;
    const void *typed = NULL;
    bool external = tp->has_data_location &&
                    tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    if (external) {
        raw = onnx_external(a, tp, dir, need, what, name, d);
        if (!raw)
            return false;
        have = need;
    } else if (tp->has_raw_data) {
        raw = tp->raw_data.data;
        have = tp->raw_data.len;
    } else {
        switch (sdt) {
        case DT_FLOAT: typed = tp->float_data; have = tp->n_float_data; break;
        case DT_INT64: typed = tp->int64_data; have = tp->n_int64_data; break;
        case DT_DOUBLE: typed = tp->double_data; have = tp->n_double_data; break;
        default: typed = tp->int32_data; have = tp->n_int32_data; break;
        }
        have *= ssz; /* compare in bytes of the source type, like raw data */
    }
    if (have != need)
        return diag_error(d, "%s '%s': data has %zu bytes, but %lld elements of %s need %zu",
                          what, name, have, (long long)numel, dtype_name(sdt), need);

    t->dtype = dt;
    t->rank = (int)tp->n_dims;
    for (int i = 0; i < t->rank; i++)
        t->shape[i] = tp->dims[i];
    t->shape_known = true;
    t->flags |= T_CONST;
    if (raw && sdt == dt && onnx_host_le() && ((uintptr_t)raw % dsz) == 0 && numel > 0) {
        t->data = (void *)raw; /* the decoded bytes already live in the arena */
        return true;
    }
    uint8_t *out = arena_alloc(a, (size_t)numel * dsz + 1);
    t->data = out;
    for (int64_t i = 0; i < numel; i++) {
        if (raw) {
            uint64_t v = onnx_le(raw, ssz, i);
            if (sdt == DT_FLOAT16) {
                ((float *)out)[i] = onnx_half_to_float((uint16_t)v);
            } else if (sdt == DT_DOUBLE) {
                double x;
                memcpy(&x, &v, sizeof x);
                ((float *)out)[i] = (float)x;
            } else {
                /* same type: store the value in host order */
                uint8_t tmp[8];
                for (size_t k = 0; k < ssz; k++)
                    tmp[k] = (uint8_t)(v >> (8 * k));
                if (!onnx_host_le())
                    for (size_t k = 0; k < ssz / 2; k++) {
                        uint8_t s = tmp[k];
                        tmp[k] = tmp[ssz - 1 - k];
                        tmp[ssz - 1 - k] = s;
                    }
                memcpy(out + (size_t)i * dsz, tmp, dsz);
            }
            continue;
        }
        switch (sdt) {
        case DT_FLOAT: ((float *)out)[i] = ((const float *)typed)[i]; break;
        case DT_DOUBLE: ((float *)out)[i] = (float)((const double *)typed)[i]; break;
        case DT_INT64: ((int64_t *)out)[i] = ((const int64_t *)typed)[i]; break;
        case DT_INT32: ((int32_t *)out)[i] = ((const int32_t *)typed)[i]; break;
        case DT_FLOAT16:
            ((float *)out)[i] = onnx_half_to_float((uint16_t)((const int32_t *)typed)[i]);
            break;
        case DT_INT16: ((int16_t *)out)[i] = (int16_t)((const int32_t *)typed)[i]; break;
        case DT_UINT16: ((uint16_t *)out)[i] = (uint16_t)((const int32_t *)typed)[i]; break;
        case DT_INT8: ((int8_t *)out)[i] = (int8_t)((const int32_t *)typed)[i]; break;
        case DT_UINT8: ((uint8_t *)out)[i] = (uint8_t)((const int32_t *)typed)[i]; break;
        case DT_BOOL: out[i] = ((const int32_t *)typed)[i] != 0; break;
        default: qcc_unreachable();
        }
    }
    return true;
}

/* ---------------------------------------------------------------------------------------
 * Graph building
 * ------------------------------------------------------------------------------------- */

/* dtype and shape of a graph input/output from its ValueInfoProto. Symbolic or missing
 * dims become 1 (inputs, with a note) or leave the shape unknown (outputs). */
static bool onnx_port_type(Graph *g, int id, const Onnx__ValueInfoProto *vi, bool input,
                           Diag *d) {
    Tensor *t = &g->tensors[id];
    const char *kind = input ? "input" : "output";
    const Onnx__TypeProto *tp = vi->type;
    if (!tp) {
        if (input)
            return diag_error(d, "input '%s' has no type", t->name);
        return true; /* outputs: shape inference decides */
    }
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return diag_error(d, "%s '%s': only tensor types are supported", kind, t->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    int32_t et = tt->has_elem_type ? tt->elem_type : 0;
    if (!onnx_dtype_ok(et))
        return diag_error(d, "%s '%s': unsupported element type %s (%d)", kind, t->name,
                          onnx_dtype_label(et), (int)et);
    t->dtype = (DType)et;
    if (!tt->shape) {
        if (input)
            return diag_error(d, "input '%s' has no shape; qcc needs static input shapes",
                              t->name);
        return true;
    }
    if (tt->shape->n_dim > QCC_MAX_RANK)
        return diag_error(d, "%s '%s': rank %zu exceeds qcc's maximum of %d", kind, t->name,
                          tt->shape->n_dim, QCC_MAX_RANK);
    bool known = true;
    int64_t numel = 1;
    t->rank = (int)tt->shape->n_dim;
    for (int i = 0; i < t->rank; i++) {
        const Onnx__TensorShapeProto__Dimension *dim = tt->shape->dim[i];
        int64_t v = 1;
        if (dim->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE) {
            v = dim->dim_value;
            if (v < 0)
                return diag_error(d, "%s '%s': negative dimension %lld", kind, t->name,
                                  (long long)v);
            if (v > 0 && numel > ONNX_MAX_NUMEL / v)
                return diag_error(d, "%s '%s': more than 2^31 elements", kind, t->name);
        } else if (input) {
            const char *sym = dim->value_case ==
                              ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM &&
                              dim->dim_param ? dim->dim_param : "?";
            diag_note(d, "input '%s' dimension '%s' is symbolic; compiled as 1", t->name, sym);
        } else {
            known = false;
        }
        t->shape[i] = v;
        numel *= v;
    }
    t->shape_known = known;
    return true;
}

/* A Constant node: its value attribute becomes the output tensor's data. */
static bool onnx_constant_node(Graph *g, const Onnx__NodeProto *np, const char *dir, Diag *d) {
    const char *nname = np->name && np->name[0] ? np->name
                        : np->n_output && np->output[0][0] ? np->output[0] : "(unnamed)";
    if (np->n_output != 1 || !np->output[0][0])
        return diag_error(d, "node '%s' (Constant): needs exactly one output", nname);
    int id = graph_tensor(g, np->output[0]);
    if (g->tensors[id].flags & (T_CONST | T_INPUT))
        return diag_error(d, "node '%s' (Constant): output '%s' is defined twice", nname,
                          np->output[0]);
    if (np->n_attribute != 1)
        return diag_error(d, "node '%s' (Constant): needs exactly one value attribute", nname);
    const Onnx__AttributeProto *at = np->attribute[0];
    const char *an = at->name ? at->name : "";
    Tensor tmp;
    memset(&tmp, 0, sizeof tmp);
    if (strcmp(an, "value") == 0 && at->t) {
        char what[300];
        snprintf(what, sizeof what, "node '%.200s' (Constant): value", nname);
        if (!onnx_tensor_read(g->arena, at->t, dir, &tmp, what, d))
            return false;
    } else if (strcmp(an, "value_float") == 0 || strcmp(an, "value_int") == 0) {
        bool f = an[6] == 'f';
        tmp.dtype = f ? DT_FLOAT : DT_INT64;
        tmp.data = arena_alloc(g->arena, 8);
        if (f)
            *(float *)tmp.data = at->f;
        else
            *(int64_t *)tmp.data = at->i;
    } else if (strcmp(an, "value_floats") == 0 || strcmp(an, "value_ints") == 0) {
        bool f = an[6] == 'f';
        size_t n = f ? at->n_floats : at->n_ints;
        tmp.dtype = f ? DT_FLOAT : DT_INT64;
        tmp.rank = 1;
        tmp.shape[0] = (int64_t)n;
        size_t bytes = n * (f ? sizeof(float) : sizeof(int64_t));
        tmp.data = arena_alloc(g->arena, bytes + 1);
        if (n)
            memcpy(tmp.data, f ? (const void *)at->floats : (const void *)at->ints, bytes);
    } else {
        return diag_error(d, "node '%s' (Constant): unsupported attribute '%s' (only numeric "
                          "tensors are supported)", nname, an);
    }
    Tensor *t = &g->tensors[id];
    t->dtype = tmp.dtype;
    t->rank = tmp.rank;
    memcpy(t->shape, tmp.shape, sizeof t->shape);
    t->data = tmp.data;
    t->shape_known = true;
    t->flags |= T_CONST;
    return true;
}

/* One ordinary node: op lookup, inputs/outputs, attributes. */
static bool onnx_node(Graph *g, const Onnx__NodeProto *np, const char *dir, Diag *d) {
    const char *domain = np->domain ? np->domain : "";
    const char *type = np->op_type ? np->op_type : "";
    const char *nname = np->name && np->name[0] ? np->name
                        : np->n_output && np->output[0][0] ? np->output[0] : "(unnamed)";
    Op op;
    if (!op_from_onnx(domain, type, &op)) {
        if (domain[0] && strcmp(domain, "ai.onnx") != 0)
            return diag_error(d, "node '%s' (%s): unsupported operator (domain %s)", nname,
                              type, domain);
        return diag_error(d, "node '%s' (%s): unsupported operator", nname, type);
    }
    if (np->n_input > QCC_MAX_IO || np->n_output > QCC_MAX_IO)
        return diag_error(d, "node '%s' (%s): more than %d inputs or outputs", nname, type,
                          QCC_MAX_IO);
    int id = graph_add_node(g, op, np->name);
    for (size_t k = 0; k < np->n_input; k++)
        node_add_input(g, id, np->input[k][0] ? graph_tensor(g, np->input[k]) : -1);
    size_t nout = np->n_output;
    while (nout > 0 && !np->output[nout - 1][0])
        nout--; /* trailing optional outputs left out */
    for (size_t k = 0; k < nout; k++) {
        int t = np->output[k][0] ? graph_tensor(g, np->output[k]) : -1;
        if (t >= 0 && (g->tensors[t].flags & (T_CONST | T_INPUT)))
            return diag_error(d, "node '%s' (%s): output '%s' is also an initializer or graph "
                              "input", g->nodes[id].name, type, np->output[k]);
        node_add_output(g, id, t);
    }
    return onnx_read_attrs(g, id, np, g->opset, dir, d);
}

/* Every input must come from somewhere, every tensor from at most one node. */
static bool onnx_check_edges(Graph *g, Diag *d) {
    int *producer = arena_calloc(g->arena, (size_t)g->ntensors + 1, sizeof(int));
    for (int t = 0; t < g->ntensors; t++)
        producer[t] = -1;
    bool ok = true;
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->nout; k++) {
            int t = n->out[k];
            if (t < 0)
                continue;
            if (producer[t] >= 0)
                ok = diag_error(d, "node '%s' (%s): output '%s' is also produced by node '%s'",
                                n->name, op_name(n->op), g->tensors[t].name,
                                g->nodes[producer[t]].name);
            producer[t] = i;
        }
    }
    for (int i = 0; i < g->nnodes; i++) {
        const Node *n = &g->nodes[i];
        for (int k = 0; k < n->nin; k++) {
            int t = n->in[k];
            if (t >= 0 && producer[t] < 0 && !(g->tensors[t].flags & (T_INPUT | T_CONST)))
                ok = diag_error(d, "node '%s' (%s): input '%s' is not produced by any node, "
                                "initializer or graph input", n->name, op_name(n->op),
                                g->tensors[t].name);
        }
    }
    for (int k = 0; k < g->noutputs; k++) {
        int t = g->outputs[k];
        if (producer[t] < 0 && !(g->tensors[t].flags & (T_INPUT | T_CONST)))
            ok = diag_error(d, "graph output '%s' is not produced by any node",
                            g->tensors[t].name);
    }
    return ok;
}

/* The ai.onnx opset the model imports (1..25), -1 if none, or 0 after an error. */
static int onnx_opset(const Onnx__ModelProto *m, Diag *d) {
    for (size_t i = 0; i < m->n_opset_import; i++) {
        const Onnx__OperatorSetIdProto *os = m->opset_import[i];
        const char *dom = os->domain ? os->domain : "";
        if (dom[0] && strcmp(dom, "ai.onnx") != 0)
            continue; /* other domains matter only through the nodes that use them */
        long long v = os->has_version ? (long long)os->version : 0;
        if (v < 1 || v > 25) {
            diag_error(d, "unsupported ai.onnx opset %lld (qcc reads opsets 1 to 25)", v);
            return 0;
        }
        return (int)v;
    }
    return -1; /* only other domains: nothing depends on the ai.onnx version */
}

static bool onnx_build(Graph *g, const Onnx__GraphProto *gp, const char *dir, Diag *d) {
    int errors0 = d->errors;
    if (gp->name && gp->name[0])
        g->name = arena_strdup(g->arena, gp->name);
    if (gp->n_sparse_initializer)
        return diag_error(d, "sparse initializers are not supported");
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        if (!tp->name || !tp->name[0]) {
            diag_error(d, "initializer %zu has no name", i);
            continue;
        }
        int id = graph_tensor(g, tp->name);
        if (g->tensors[id].flags & T_CONST) {
            diag_error(d, "initializer '%s' is defined twice", tp->name);
            continue;
        }
        Tensor tmp = g->tensors[id];
        if (onnx_tensor_read(g->arena, tp, dir, &tmp, "initializer", d))
            g->tensors[id] = tmp;
    }
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *name = gp->input[i]->name;
        if (!name || !name[0]) {
            diag_error(d, "graph input %zu has no name", i);
            continue;
        }
        int id = graph_find_tensor(g, name);
        if (id >= 0 && (g->tensors[id].flags & T_CONST))
            continue; /* an initializer listed as input (old exporters): a constant */
        if (id >= 0 && (g->tensors[id].flags & T_INPUT)) {
            diag_error(d, "graph input '%s' is listed twice", name);
            continue;
        }
        if (g->ninputs == (int)(sizeof g->inputs / sizeof g->inputs[0])) {
            diag_error(d, "more than %d graph inputs", g->ninputs);
            break;
        }
        id = graph_tensor(g, name);
        g->tensors[id].flags |= T_INPUT;
        g->inputs[g->ninputs++] = id;
        onnx_port_type(g, id, gp->input[i], true, d);
    }
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = gp->output[i]->name;
        if (!name || !name[0]) {
            diag_error(d, "graph output %zu has no name", i);
            continue;
        }
        if (g->noutputs == (int)(sizeof g->outputs / sizeof g->outputs[0])) {
            diag_error(d, "more than %d graph outputs", g->noutputs);
            break;
        }
        int id = graph_tensor(g, name);
        g->tensors[id].flags |= T_OUTPUT;
        g->outputs[g->noutputs++] = id;
        if (!(g->tensors[id].flags & (T_CONST | T_INPUT)))
            onnx_port_type(g, id, gp->output[i], false, d);
    }
    if (d->errors != errors0)
        return false;
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *dom = np->domain ? np->domain : "";
        bool std = !dom[0] || strcmp(dom, "ai.onnx") == 0;
        if (std && np->op_type && strcmp(np->op_type, "Constant") == 0)
            onnx_constant_node(g, np, dir, d);
        else
            onnx_node(g, np, dir, d);
    }
    if (d->errors != errors0)
        return false;
    return onnx_check_edges(g, d) && graph_toposort(g, d);
}

Onnx__ModelProto *onnx_unpack_model(Arena *a, const void *data, size_t len) {
    if (!onnx_depth_ok(&onnx__model_proto__descriptor, data, (const uint8_t *)data + len, 0))
        return NULL;
    ProtobufCAllocator alloc = {onnx_pb_alloc, onnx_pb_free, a};
    return onnx__model_proto__unpack(&alloc, len, data);
}

Onnx__TensorProto *onnx_unpack_tensor(Arena *a, const void *data, size_t len) {
    if (!onnx_depth_ok(&onnx__tensor_proto__descriptor, data, (const uint8_t *)data + len, 0))
        return NULL;
    ProtobufCAllocator alloc = {onnx_pb_alloc, onnx_pb_free, a};
    return onnx__tensor_proto__unpack(&alloc, len, data);
}

bool onnx_load_memory(Graph *g, const char *name, const void *data, size_t len, Diag *d) {
    const uint8_t *buf = data;
    if (len == 0)
        return diag_error(d, "not a valid ONNX model (empty file)");
    sha256(buf, len, g->sha256);
    if (!onnx_depth_ok(&onnx__model_proto__descriptor, buf, buf + len, 0))
        return diag_error(d, "not a valid ONNX model (messages nested deeper than %d)",
                          ONNX_MAX_DEPTH);
    /* protobuf-c copies strings and bytes into the arena: data is not referenced after */
    Onnx__ModelProto *m = onnx_unpack_model(g->arena, buf, len);
    if (!m)
        return diag_error(d, "not a valid ONNX model (protobuf decode failed)");
    if (!m->graph)
        return diag_error(d, "not a valid ONNX model (no graph)");
    g->source = arena_strdup(g->arena, name ? name : "(memory)");
    int opset = onnx_opset(m, d);
    if (!opset)
        return false;
    if (opset < 0) {
        for (size_t i = 0; i < m->graph->n_node; i++) {
            const char *dom = m->graph->node[i]->domain ? m->graph->node[i]->domain : "";
            if (!dom[0] || strcmp(dom, "ai.onnx") == 0)
                return diag_error(d, "model uses ai.onnx operators but imports no ai.onnx "
                                  "opset");
        }
    } else {
        g->opset = opset;
    }
    return onnx_build(g, m->graph, name ? onnx_dirname(g->arena, name) : NULL, d);
}

bool onnx_load(Graph *g, const char *path, Diag *d) {
    size_t len = 0;
    uint8_t *buf = onnx_read_file(path, &len, d);
    if (!buf)
        return false;
    bool ok = onnx_load_memory(g, path, buf, len, d);
    free(buf);
    return ok;
}

bool onnx_load_tensor(Arena *a, const char *path, Tensor *t, Diag *d) {
    size_t len = 0;
    uint8_t *buf = onnx_read_file(path, &len, d);
    if (!buf)
        return false;
    Onnx__TensorProto *tp = onnx_unpack_tensor(a, buf, len);
    free(buf);
    if (!tp)
        return diag_error(d, "not a valid ONNX tensor (protobuf decode failed or nested too "
                          "deeply)");
    memset(t, 0, sizeof *t);
    t->name = arena_strdup(a, tp->name ? tp->name : "");
    t->offset = -1;
    return onnx_tensor_read(a, tp, onnx_dirname(a, path), t, "tensor", d);
}
