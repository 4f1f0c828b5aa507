#!/usr/bin/python3
"""Generate the single-layer benchmark models (ResNet-18 / MobileNet-v2 layer shapes).

bench/layers.py OUT_DIR [--format qdq|qop] [--only NAME,...] [--list]

Writes OUT_DIR/NAME.onnx for every layer of LAYERS below: uint8 activations, int8 per-output-
channel symmetric weights (scale = absmax/127.5, zero point 0), int32 bias at x_scale*w_scale,
random but deterministic (numpy seed = the layer's index), in QDQ (DequantizeLinear -> op ->
QuantizeLinear) or QOperator (QLinearConv, com.microsoft QGemm / QLinearAdd) form. The shapes are
those of ../shared/zoo/layer_*/meta.json; activations are uint8 in all of them because ONNX
Runtime's x86 kernels are fastest (its reference point) with uint8. Needs python3-onnx and numpy;
qcc itself never runs this. The same spec always gives the same bytes.
"""
import argparse
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# name, kind, cin, cout, kernel, stride, pad, groups, H, W (input spatial size)
LAYERS = [
    ("layer_r18_conv3x3_64_56", "conv", 64, 64, 3, 1, 1, 1, 56, 56),
    ("layer_r18_conv3x3_128_28", "conv", 128, 128, 3, 1, 1, 1, 28, 28),
    ("layer_r18_conv3x3_256_14", "conv", 256, 256, 3, 1, 1, 1, 14, 14),
    ("layer_r18_conv3x3s2_64_128_56", "conv", 64, 128, 3, 2, 1, 1, 56, 56),
    ("layer_r18_conv1_7x7s2", "conv", 3, 64, 7, 2, 3, 1, 224, 224),
    ("layer_conv1x1_256_14", "conv", 256, 256, 1, 1, 0, 1, 14, 14),
    ("layer_mbv2_pw1x1_24_144_56", "conv", 24, 144, 1, 1, 0, 1, 56, 56),
    ("layer_mbv2_dw3x3_32_112", "conv", 32, 32, 3, 1, 1, 32, 112, 112),
    ("layer_mbv2_dw3x3s2_144_56", "conv", 144, 144, 3, 2, 1, 144, 56, 56),
    ("layer_r18_fc_512_1000", "fc", 512, 1000, 0, 0, 0, 1, 1, 1),
    ("layer_add_64_56", "add", 64, 64, 0, 0, 0, 1, 56, 56),
]


def out_size(n, k, s, p):
    return (n + 2 * p - k) // s + 1


def macs(spec):
    """Multiply-accumulates of one inference (0 for Add)."""
    _, kind, cin, cout, k, s, p, g, h, w = spec
    if kind == "fc":
        return cin * cout
    if kind == "add":
        return 0
    return cout * out_size(h, k, s, p) * out_size(w, k, s, p) * (cin // g) * k * k


def scalar(name, dtype, value):
    return helper.make_tensor(name, dtype, [], [value])


def act_qparams(rng):
    """A plausible uint8 activation quantization: scale in [0.01, 0.05], zero point 30..200."""
    return float(np.float32(rng.uniform(0.01, 0.05))), int(rng.integers(30, 200))


def weights(rng, cout, shape_rest, x_scale):
    """int8 per-channel symmetric weights, their scales and an int32 bias at x_scale*w_scale."""
    bshape = (cout,) + (1,) * len(shape_rest)
    wf = rng.normal(0.0, 0.05, size=(cout,) + shape_rest).astype(np.float32)
    wf *= rng.uniform(0.5, 1.5, size=bshape).astype(np.float32)
    w_scale = (np.abs(wf.reshape(cout, -1)).max(axis=1) / np.float32(127.5)).astype(np.float32)
    wq = np.clip(np.round(wf / w_scale.reshape(bshape)), -128, 127).astype(np.int8)
    b_scale = (np.float32(x_scale) * w_scale).astype(np.float32)
    fan_in = int(np.prod(shape_rest))
    bq = rng.integers(-30 * fan_in, 30 * fan_in + 1, size=cout).astype(np.int32)
    return wq, w_scale, bq, b_scale


def y_qparams(x_scale, fan_in):
    """Output scale from the expected spread of the float output (uniform uint8 input: standard
    deviation 74 steps; weights: standard deviation 0.05): 8 standard deviations over 255 steps."""
    sigma = float(x_scale) * 74.0 * 0.05 * np.sqrt(fan_in)
    return float(np.float32(max(8.0 * sigma / 255.0, 1e-4))), 128


def make_layer(index, spec, fmt):
    name, kind, cin, cout, k, s, p, g, h, w = spec
    rng = np.random.default_rng(index)
    x_scale, x_zp = act_qparams(rng)
    inits = []
    nodes = []
    if kind == "add":
        b_scale, b_zp = act_qparams(rng)
        y_scale, y_zp = float(np.float32(max(x_scale, b_scale) * 1.5)), 128
        shape = [1, cin, h, w]
        inputs = [helper.make_tensor_value_info("a", TensorProto.UINT8, shape),
                  helper.make_tensor_value_info("b", TensorProto.UINT8, shape)]
        out_shape = shape
        inits += [scalar("a_scale", TensorProto.FLOAT, x_scale),
                  scalar("a_zero_point", TensorProto.UINT8, x_zp),
                  scalar("b_scale", TensorProto.FLOAT, b_scale),
                  scalar("b_zero_point", TensorProto.UINT8, b_zp),
                  scalar("y_scale", TensorProto.FLOAT, y_scale),
                  scalar("y_zero_point", TensorProto.UINT8, y_zp)]
        if fmt == "qdq":
            nodes += [helper.make_node("DequantizeLinear", ["a", "a_scale", "a_zero_point"],
                                       ["a_dq"]),
                      helper.make_node("DequantizeLinear", ["b", "b_scale", "b_zero_point"],
                                       ["b_dq"]),
                      helper.make_node("Add", ["a_dq", "b_dq"], ["y_f"]),
                      helper.make_node("QuantizeLinear", ["y_f", "y_scale", "y_zero_point"],
                                       ["y"])]
        else:
            nodes.append(helper.make_node(
                "QLinearAdd", ["a", "a_scale", "a_zero_point", "b", "b_scale", "b_zero_point",
                               "y_scale", "y_zero_point"], ["y"], domain="com.microsoft"))
    else:
        if kind == "fc":
            wshape_rest = (cin,)
            inputs = [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, cin])]
            out_shape = [1, cout]
        else:
            wshape_rest = (cin // g, k, k)
            inputs = [helper.make_tensor_value_info("x", TensorProto.UINT8, [1, cin, h, w])]
            out_shape = [1, cout, out_size(h, k, s, p), out_size(w, k, s, p)]
        wq, w_scale, bq, b_scale = weights(rng, cout, wshape_rest, x_scale)
        y_scale, y_zp = y_qparams(x_scale, int(np.prod(wshape_rest)))
        inits += [scalar("x_scale", TensorProto.FLOAT, x_scale),
                  scalar("x_zero_point", TensorProto.UINT8, x_zp),
                  numpy_helper.from_array(wq, "weight_quantized"),
                  numpy_helper.from_array(w_scale, "weight_scale"),
                  numpy_helper.from_array(np.zeros(cout, np.int8), "weight_zero_point"),
                  numpy_helper.from_array(bq, "bias_quantized"),
                  scalar("y_scale", TensorProto.FLOAT, y_scale),
                  scalar("y_zero_point", TensorProto.UINT8, y_zp)]
        if kind == "fc":
            attrs = {"transB": 1}
            op = "Gemm"
        else:
            attrs = {"group": g, "kernel_shape": [k, k], "pads": [p, p, p, p],
                     "strides": [s, s]}
            op = "Conv"
        if fmt == "qdq":
            inits += [numpy_helper.from_array(b_scale, "bias_scale"),
                      numpy_helper.from_array(np.zeros(cout, np.int32), "bias_zero_point")]
            nodes += [
                helper.make_node("DequantizeLinear", ["x", "x_scale", "x_zero_point"], ["x_dq"]),
                helper.make_node("DequantizeLinear", ["weight_quantized", "weight_scale",
                                                      "weight_zero_point"], ["w_dq"], axis=0),
                helper.make_node("DequantizeLinear", ["bias_quantized", "bias_scale",
                                                      "bias_zero_point"], ["b_dq"], axis=0),
                helper.make_node(op, ["x_dq", "w_dq", "b_dq"], ["y_f"], **attrs),
                helper.make_node("QuantizeLinear", ["y_f", "y_scale", "y_zero_point"], ["y"])]
        elif kind == "fc":
            # QGemm: A, a_scale, a_zp, B, b_scale, b_zp, C, y_scale, y_zp (alpha 1, C at a*b scale)
            nodes.append(helper.make_node(
                "QGemm", ["x", "x_scale", "x_zero_point", "weight_quantized", "weight_scale",
                          "weight_zero_point", "bias_quantized", "y_scale", "y_zero_point"],
                ["y"], domain="com.microsoft", transB=1))
        else:
            nodes.append(helper.make_node(
                "QLinearConv", ["x", "x_scale", "x_zero_point", "weight_quantized",
                                "weight_scale", "weight_zero_point", "y_scale", "y_zero_point",
                                "bias_quantized"], ["y"], **attrs))
    outputs = [helper.make_tensor_value_info("y", TensorProto.UINT8, out_shape)]
    graph = helper.make_graph(nodes, name, inputs, outputs, inits)
    opsets = [helper.make_opsetid("", 13)]
    if fmt == "qop" and kind != "conv":
        opsets.append(helper.make_opsetid("com.microsoft", 1))
    model = helper.make_model(graph, opset_imports=opsets, producer_name="qcc bench/layers.py")
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", nargs="?")
    ap.add_argument("--format", choices=["qdq", "qop"], default="qdq")
    ap.add_argument("--only", default="", help="comma-separated layer names")
    ap.add_argument("--list", action="store_true", help="print name and MACs of every layer")
    args = ap.parse_args()
    if args.list:
        for spec in LAYERS:
            print(f"{spec[0]}\t{macs(spec)}")
        return 0
    if not args.out_dir:
        ap.error("OUT_DIR is required")
    only = set(filter(None, args.only.split(",")))
    os.makedirs(args.out_dir, exist_ok=True)
    for index, spec in enumerate(LAYERS):
        if only and spec[0] not in only:
            continue
        model = make_layer(index, spec, args.format)
        path = os.path.join(args.out_dir, spec[0] + ".onnx")
        data = model.SerializeToString()
        # rewrite only when different, so make-style reruns keep timestamps
        if not os.path.exists(path) or open(path, "rb").read() != data:
            with open(path, "wb") as f:
                f.write(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
