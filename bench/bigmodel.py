#!/usr/bin/python3
"""Generate a ~25 MB QDQ model for bench/run --compile-time (issue 4, section 5).

bench/bigmodel.py OUT.onnx

uint8 input [1,256,8,8]; 8 x Conv 3x3 256->256 (+Relu), Flatten, Gemm 16384->1024 (+Relu),
3 x Gemm 1024->1024 (+Relu), Gemm 1024->1000: 25.6 M int8 weights, per-channel symmetric,
int32 biases, each activation through QuantizeLinear -> DequantizeLinear (uint8). Random but
deterministic (numpy seed 4). Measures how qcc and the C compiler scale with weight bytes; the
numbers it computes mean nothing.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from layers import weights, y_qparams, scalar  # noqa: E402  (same quantization recipe)

CONVS = 8
CH, HW = 256, 8
FCS = [(CH * HW * HW, 1024), (1024, 1024), (1024, 1024), (1024, 1024), (1024, 1000)]


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench/bigmodel.py OUT.onnx")
    rng = np.random.default_rng(4)
    nodes, inits = [], []
    x_scale, x_zp = 0.02, 128

    def qparams(prefix, scale, zp):
        inits.extend([scalar(prefix + "_scale", TensorProto.FLOAT, scale),
                      scalar(prefix + "_zero_point", TensorProto.UINT8, zp)])
        return [prefix + "_scale", prefix + "_zero_point"]

    cur = "x"                      # current uint8 tensor
    nodes.append(helper.make_node("DequantizeLinear", [cur] + qparams("x", x_scale, x_zp),
                                  ["x_dq"]))
    cur_f = "x_dq"                 # its dequantized float twin
    layers = [("conv", CH, CH)] * CONVS + [("fc", a, b) for a, b in FCS]
    for i, (kind, cin, cout) in enumerate(layers):
        last = i == len(layers) - 1
        rest = (cin, 3, 3) if kind == "conv" else (cin,)
        wq, w_scale, bq, b_scale = weights(rng, cout, rest, x_scale)
        p = f"l{i}"
        inits += [numpy_helper.from_array(wq, p + "_w"),
                  numpy_helper.from_array(w_scale, p + "_w_scale"),
                  numpy_helper.from_array(np.zeros(cout, np.int8), p + "_w_zero_point"),
                  numpy_helper.from_array(bq, p + "_b"),
                  numpy_helper.from_array(b_scale, p + "_b_scale"),
                  numpy_helper.from_array(np.zeros(cout, np.int32), p + "_b_zero_point")]
        nodes += [helper.make_node("DequantizeLinear",
                                   [p + "_w", p + "_w_scale", p + "_w_zero_point"],
                                   [p + "_w_dq"], axis=0),
                  helper.make_node("DequantizeLinear",
                                   [p + "_b", p + "_b_scale", p + "_b_zero_point"],
                                   [p + "_b_dq"], axis=0)]
        if kind == "conv":
            nodes.append(helper.make_node("Conv", [cur_f, p + "_w_dq", p + "_b_dq"], [p + "_y"],
                                          kernel_shape=[3, 3], pads=[1, 1, 1, 1]))
        else:
            nodes.append(helper.make_node("Gemm", [cur_f, p + "_w_dq", p + "_b_dq"], [p + "_y"],
                                          transB=1))
        y = p + "_y"
        if not last:
            nodes.append(helper.make_node("Relu", [y], [p + "_relu"]))
            y = p + "_relu"
        y_scale, y_zp = y_qparams(x_scale, int(np.prod(rest)))
        y_zp = 0 if not last else y_zp
        q = qparams(p + "_q", y_scale, y_zp)
        out = "y" if last else p + "_q"
        nodes.append(helper.make_node("QuantizeLinear", [y] + q, [out]))
        if last:
            break
        if i == CONVS - 1:         # NCHW -> [1, C*H*W] on the uint8 tensor
            nodes.append(helper.make_node("Flatten", [out], [p + "_flat"], axis=1))
            out = p + "_flat"
        nodes.append(helper.make_node("DequantizeLinear", [out] + q, [p + "_dq"]))
        cur_f, x_scale = p + "_dq", y_scale
    graph = helper.make_graph(
        nodes, "bench_big", [helper.make_tensor_value_info("x", TensorProto.UINT8,
                                                           [1, CH, HW, HW])],
        [helper.make_tensor_value_info("y", TensorProto.UINT8, [1, FCS[-1][1]])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="qcc bench/bigmodel.py")
    model.ir_version = 7
    onnx.checker.check_model(model)
    onnx.save(model, sys.argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main())
