#!/usr/bin/python3
"""make_bad.py: regenerate the hostile inputs of tests/bad (committed beside this script).

Each case is a tiny file that qcc must reject with exit status 1 and a diagnostic naming the
file (and the node, for node-level problems), never a crash. Run from anywhere:
    /usr/bin/python3 tests/bad/make_bad.py
Needs python3-onnx and numpy. Models are built by hand and NOT passed through onnx.checker:
most of them are invalid on purpose.
"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = [helper.make_opsetid("", 13)]


def save(name, model_or_bytes):
    path = os.path.join(HERE, name)
    data = model_or_bytes if isinstance(model_or_bytes, bytes) else \
        model_or_bytes.SerializeToString()
    with open(path, "wb") as f:
        f.write(data)
    print(f"{name}: {len(data)} bytes")


def model(nodes, inits, inputs, outputs, name="bad"):
    g = helper.make_graph(nodes, name, inputs, outputs, initializer=inits)
    m = helper.make_model(g, opset_imports=OPSET, producer_name="qcc-tests-bad")
    m.ir_version = 7
    return m


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def conv_model():
    """A valid float Conv (1x2x4x4 input, 3 filters 2x3x3): the base of several cases."""
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.standard_normal((3, 2, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.zeros(3, np.float32), "b")
    conv = helper.make_node("Conv", ["x", "w", "b"], ["y"], name="conv1", pads=[1, 1, 1, 1])
    return model([conv], [w, b], [vi("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                 [vi("y", TensorProto.FLOAT, [1, 3, 4, 4])])


def truncated():
    data = conv_model().SerializeToString()
    cut = data[: len(data) // 2]
    try:  # the cut must land inside the graph message, so decoding fails
        onnx.load_model_from_string(cut)
        raise SystemExit("truncated model still decodes; change the cut")
    except Exception:
        pass
    return cut


def missing_initializer():
    m = conv_model()
    keep = [t for t in m.graph.initializer if t.name != "w"]
    del m.graph.initializer[:]
    m.graph.initializer.extend(keep)
    return m


def raw_tensor(name, dims, dtype, raw):
    t = TensorProto()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    t.raw_data = raw
    return t


def negative_dim():
    w = raw_tensor("w", [-1, 2, 3, 3], TensorProto.FLOAT, b"\0" * 72)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1")
    return model([conv], [w], [vi("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                 [vi("y", TensorProto.FLOAT, [1, 1, 2, 2])])


def huge_dim():
    # 2^60 elements claimed, 16 bytes present: the reader must refuse before allocating
    w = raw_tensor("w", [1 << 20, 1 << 20, 1 << 10, 1 << 10], TensorProto.FLOAT, b"\0" * 16)
    add = helper.make_node("Add", ["x", "w"], ["y"], name="add1")
    return model([add], [w], [vi("x", TensorProto.FLOAT, [1, 4])],
                 [vi("y", TensorProto.FLOAT, [1, 4])])


def cyclic():
    # y = x + z, z = relu(y): a loop no topological order can break
    add = helper.make_node("Add", ["x", "z"], ["y"], name="add_a")
    relu = helper.make_node("Relu", ["y"], ["z"], name="relu_b")
    return model([add, relu], [], [vi("x", TensorProto.FLOAT, [1, 4])],
                 [vi("z", TensorProto.FLOAT, [1, 4])])


def qdq_weight(scale, zp_len, axis):
    """x -> Conv(DequantizeLinear(w_q, scale, zp)) -> y with per-axis weight scales."""
    wq = numpy_helper.from_array(np.ones((4, 2, 3, 3), np.int8), "w_q")
    s = numpy_helper.from_array(np.asarray(scale, np.float32), "w_scale")
    z = numpy_helper.from_array(np.zeros(zp_len, np.int8), "w_zp")
    dq = helper.make_node("DequantizeLinear", ["w_q", "w_scale", "w_zp"], ["w"], name="dq_w",
                          axis=axis)
    conv = helper.make_node("Conv", ["x", "w"], ["y"], name="conv1")
    return model([dq, conv], [wq, s, z], [vi("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                 [vi("y", TensorProto.FLOAT, [1, 4, 2, 2])])


def zero_scale():
    # per-tensor scale 0: dequantization collapses, requantization would divide by zero
    s = numpy_helper.from_array(np.float32(0.0), "s")
    z = numpy_helper.from_array(np.uint8(128), "z")
    q = helper.make_node("QuantizeLinear", ["x", "s_in", "z"], ["xq"], name="q_in")
    dq = helper.make_node("DequantizeLinear", ["xq", "s", "z"], ["y"], name="dq_zero")
    s_in = numpy_helper.from_array(np.float32(0.05), "s_in")
    return model([q, dq], [s, z, s_in], [vi("x", TensorProto.FLOAT, [1, 8])],
                 [vi("y", TensorProto.FLOAT, [1, 8])])


def axis_scale_mismatch():
    # 4 output channels on axis 0, but 3 scales and 3 zero points
    return qdq_weight([0.1, 0.2, 0.3], 3, 0)


def unsupported_op():
    det = helper.make_node("Det", ["x"], ["y"], name="det1")
    return model([det], [], [vi("x", TensorProto.FLOAT, [3, 3])],
                 [vi("y", TensorProto.FLOAT, [])])


def main():
    save("truncated.onnx", truncated())
    save("not_onnx.onnx", b"this is not an ONNX model, just some text\n")
    save("missing_initializer.onnx", missing_initializer())
    save("negative_dim.onnx", negative_dim())
    save("huge_dim.onnx", huge_dim())
    save("cyclic.onnx", cyclic())
    save("zero_scale.onnx", zero_scale())
    save("axis_scale_mismatch.onnx", axis_scale_mismatch())
    save("unsupported_op.onnx", unsupported_op())
    save("empty.onnx", b"")


if __name__ == "__main__":
    main()
