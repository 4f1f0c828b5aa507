/* testfreeze.c: `qcc test --freeze-params`. ONNX node tests feed parameters (scales, zero
 * points, shapes, axes, pads, Clip bounds, Resize scales) as graph inputs, while qcc needs
 * them at compile time. This writes a copy of the model where every graph input that no
 * node reads as its data input (slot 0) becomes an initializer holding test_data_set_0's
 * value. Test tooling only: it is the one place outside frontend/ that sees protobuf types,
 * because it must write a model, which the compiler itself never does. */
#include "testcase.h"
#include "../frontend/onnx_internal.h"

#include <string.h>

/* Is name read at input slot 0 of some node (the data operand, never a parameter)? */
static bool fz_is_data(const Onnx__GraphProto *gp, const char *name) {
    for (size_t i = 0; i < gp->n_node; i++)
        if (gp->node[i]->n_input > 0 && strcmp(gp->node[i]->input[0], name) == 0)
            return true;
    return false;
}

static bool fz_is_initializer(const Onnx__GraphProto *gp, const char *name) {
    for (size_t i = 0; i < gp->n_initializer; i++)
        if (gp->initializer[i]->name && strcmp(gp->initializer[i]->name, name) == 0)
            return true;
    return false;
}

bool tc_freeze(Arena *a, const char *model, const char *set0, const char *out_path,
               int *runtime_index, int *nruntime, char *names, size_t names_size) {
    size_t len;
    const char *buf = tc_read_file(a, model, &len);
    Onnx__ModelProto *m = buf ? onnx_unpack_model(a, buf, len) : NULL;
    if (!m || !m->graph)
        return false;
    Onnx__GraphProto *gp = m->graph;
    for (size_t i = 0; i < gp->n_initializer; i++)
        if (gp->initializer[i]->has_data_location &&
            gp->initializer[i]->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
            return false; /* the copy lives elsewhere: relative data paths would break */
    Onnx__TensorProto **inits = arena_calloc(a, gp->n_initializer + gp->n_input + 1,
                                             sizeof *inits);
    if (gp->n_initializer) /* protobuf-c leaves the array NULL when it is empty */
        memcpy(inits, gp->initializer, gp->n_initializer * sizeof *inits);
    size_t ninit = gp->n_initializer;
    int k = 0, frozen = 0;
    *nruntime = 0;
    names[0] = '\0';
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *name = gp->input[i]->name ? gp->input[i]->name : "";
        if (fz_is_initializer(gp, name))
            continue; /* not fed by the test data: input_K counts only real inputs */
        int index = k++;
        const char *pb = tc_join(a, set0, arena_printf(a, "input_%d.pb", index));
        size_t plen;
        const char *pbuf = fz_is_data(gp, name) ? NULL : tc_read_file(a, pb, &plen);
        Onnx__TensorProto *tp = pbuf ? onnx_unpack_tensor(a, pbuf, plen) : NULL;
        if (!tp) {
            runtime_index[(*nruntime)++] = index;
            continue;
        }
        tp->name = arena_strdup(a, name); /* the .pb's own name need not match */
        inits[ninit++] = tp;
        size_t used = strlen(names);
        snprintf(names + used, names_size - used, "%s%s", frozen++ ? ", " : "", name);
    }
    if (frozen == 0)
        return false;
    gp->initializer = inits;
    gp->n_initializer = ninit;
    size_t size = protobuf_c_message_get_packed_size(&m->base);
    uint8_t *out = arena_alloc(a, size + 1);
    protobuf_c_message_pack(&m->base, out);
    return tc_write_file(out_path, out, size);
}
