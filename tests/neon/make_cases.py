#!/usr/bin/env python3
"""make_cases.py: writes tests/neon/cases/<case>/ (model.onnx + test_data_set_0): single
QLinearConv and QLinearMatMul layers whose shapes reach the NEON kernels' edges (input channels not a multiple
of 4 or 16, output channels not a multiple of 16, strides, dilations, padding with a non-zero
input zero point, int8 and uint8, depthwise with a channel remainder, GEMV depths not a multiple of 4 or 16), and the x86 kernels'
(the NCHW pointwise kernel, staged and paired row tiles; some behind a 1x1 MaxPool). Expected
outputs are computed here with numpy from the ONNX definition (exact integers; power-of-two
scales make every requant mode exact), not by qcc. Run once; the outputs are committed."""
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (in dtype, N, C, H, W, Cout, k, stride, pad, dilation, group)
CASES = {
    'conv_c20_co20_pad_u8': (np.uint8, 1, 20, 7, 9, 20, 3, 1, 1, 1, 1),
    'conv_c6_co33_s2_d2_s8': (np.int8, 1, 6, 11, 10, 33, 3, 2, 2, 2, 1),
    'conv_1x1_c36_co16_s8': (np.int8, 2, 36, 5, 6, 16, 1, 1, 0, 1, 1),
    'dw_c24_s2_u8': (np.uint8, 1, 24, 9, 8, 24, 3, 2, 1, 1, 24),
    'dw_c40_s8': (np.int8, 1, 40, 6, 7, 40, 3, 1, 1, 1, 40),
}


def qconv_ref(x, zx, w, zw, b, m, zy, lo, hi, stride, pad, dil, group):
    n, c, h, wd = x.shape
    co, cg, kh, kw = w.shape
    oh = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    ow = (wd + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    xp = np.full((n, c, h + 2 * pad, wd + 2 * pad), zx, np.int64)
    xp[:, :, pad:pad + h, pad:pad + wd] = x
    xp -= zx
    wz = w.astype(np.int64) - np.asarray(zw, np.int64).reshape(-1, 1, 1, 1)
    acc = np.zeros((n, co, oh, ow), np.int64)
    cog = co // group
    for o in range(co):
        g = o // cog
        for ky in range(kh):
            for kx in range(kw):
                win = xp[:, g * cg:(g + 1) * cg, ky * dil:ky * dil + stride * (oh - 1) + 1:stride,
                         kx * dil:kx * dil + stride * (ow - 1) + 1:stride]
                acc[:, o] += np.einsum('nchw,c->nhw', win, wz[o, :, ky, kx])
    acc += b.reshape(1, -1, 1, 1)
    y = np.round(acc * m.reshape(1, -1, 1, 1)) + zy  # m is a power of two: exact, half-even
    return np.clip(y, lo, hi).astype(np.uint8)


def make(name, spec, rng, pool=False):
    dt, n, c, h, wd, co, k, stride, pad, dil, group = spec[:11]
    wdt = spec[11] if len(spec) > 11 else np.int8  # weight type (uint8: zero point 0)
    info = np.iinfo(dt)
    x = rng.integers(info.min, info.max + 1, size=(n, c, h, wd)).astype(dt)
    zx = np.array(rng.integers(info.min // 2 + 1, info.max // 2), dt)
    wlo = -127 if wdt == np.int8 else 0
    w = rng.integers(wlo, wlo + 255, size=(co, c // group, k, k)).astype(wdt)
    zw = np.zeros(co, wdt)
    sx = np.float32(2.0 ** -4)
    sw = (2.0 ** -rng.integers(4, 8, size=co)).astype(np.float32)
    sy = np.float32(2.0 ** 2)
    zy = np.array(rng.integers(0, 40), np.uint8)
    b = rng.integers(-5000, 5000, size=co).astype(np.int32)
    m = (sx.astype(np.float64) * sw.astype(np.float64)) / float(sy)
    y = qconv_ref(x.astype(np.int64), int(zx), w, zw, b.astype(np.int64), m, int(zy), 0, 255,
                  stride, pad, dil, group)
    inits = [numpy_helper.from_array(np.array(sx, np.float32), 'x_scale'),
             numpy_helper.from_array(zx, 'x_zp'),
             numpy_helper.from_array(w, 'w'),
             numpy_helper.from_array(sw, 'w_scale'),
             numpy_helper.from_array(zw, 'w_zp'),
             numpy_helper.from_array(np.array(sy, np.float32), 'y_scale'),
             numpy_helper.from_array(zy, 'y_zp'),
             numpy_helper.from_array(b, 'b')]
    node = helper.make_node('QLinearConv', ['x', 'x_scale', 'x_zp', 'w', 'w_scale', 'w_zp',
                                            'y_scale', 'y_zp', 'b'], ['y'], name=name,
                            kernel_shape=[k, k], strides=[stride, stride],
                            pads=[pad] * 4, dilations=[dil, dil], group=group)
    xdt = TensorProto.UINT8 if dt == np.uint8 else TensorProto.INT8
    nodes = [node]
    if pool:  # a 1x1 MaxPool, the identity, whose channels-last output the conv then reads
        node.input[0] = 'xp'
        nodes.insert(0, helper.make_node('MaxPool', ['x'], ['xp'], name=name + '_pool',
                                         kernel_shape=[1, 1]))
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info('x', xdt, x.shape)],
                          [helper.make_tensor_value_info('y', TensorProto.UINT8, y.shape)], inits)
    save(name, g, x, y)


# name: (A dtype, M, K, N): QLinearMatMul with a constant int8 B (the fast GEMV)
MATMULS = {
    'matmul_k37_n21_u8': (np.uint8, 3, 37, 21),
    'matmul_k70_n40_s8': (np.int8, 2, 70, 40),
}


def make_matmul(name, spec, rng):
    dt, m, k, n = spec
    info = np.iinfo(dt)
    a = rng.integers(info.min, info.max + 1, size=(m, k)).astype(dt)
    za = np.array(rng.integers(info.min // 2 + 1, info.max // 2), dt)
    b = rng.integers(-127, 128, size=(k, n)).astype(np.int8)
    sa, sb, sy = np.float32(2.0 ** -3), np.float32(2.0 ** -6), np.float32(2.0 ** 1)
    zy = np.array(rng.integers(60, 100), np.uint8)
    acc = (a.astype(np.int64) - int(za)) @ b.astype(np.int64)
    mult = float(sa) * float(sb) / float(sy)  # a power of two: exact, np.round is half-even
    y = np.clip(np.round(acc * mult) + int(zy), 0, 255).astype(np.uint8)
    inits = [numpy_helper.from_array(np.array(sa, np.float32), 'a_scale'),
             numpy_helper.from_array(za, 'a_zp'),
             numpy_helper.from_array(b, 'b'),
             numpy_helper.from_array(np.array(sb, np.float32), 'b_scale'),
             numpy_helper.from_array(np.array(0, np.int8), 'b_zp'),
             numpy_helper.from_array(np.array(sy, np.float32), 'y_scale'),
             numpy_helper.from_array(zy, 'y_zp')]
    node = helper.make_node('QLinearMatMul', ['a', 'a_scale', 'a_zp', 'b', 'b_scale', 'b_zp',
                                              'y_scale', 'y_zp'], ['y'], name=name)
    adt = TensorProto.UINT8 if dt == np.uint8 else TensorProto.INT8
    g = helper.make_graph([node], name, [helper.make_tensor_value_info('a', adt, a.shape)],
                          [helper.make_tensor_value_info('y', TensorProto.UINT8, y.shape)], inits)
    save(name, g, a, y)


def save(name, graph, x, y):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid('', 13)],
                              producer_name='qcc tests/neon/make_cases.py')
    onnx.checker.check_model(model)
    d = os.path.join(HERE, 'cases', name)
    os.makedirs(os.path.join(d, 'test_data_set_0'), exist_ok=True)
    onnx.save(model, os.path.join(d, 'model.onnx'))
    with open(os.path.join(d, 'test_data_set_0', 'input_0.pb'), 'wb') as f:
        f.write(numpy_helper.from_array(x, graph.input[0].name).SerializeToString())
    with open(os.path.join(d, 'test_data_set_0', 'output_0.pb'), 'wb') as f:
        f.write(numpy_helper.from_array(y, 'y').SerializeToString())


# pointwise convs at a graph input: the C target's NCHW GEMM kernel (codegen/c/qconv_pw.c)
# at its edges: a last block of 9 pixels (3 of its 4 vectors) or 6 (2), output channels
# past a multiple of 4, input channels not a multiple of 4, int8 input, batch 2, and uint8
# weights, which it must decline; NHWC on NEON.
# Their own generator state, so the cases above keep their bytes.
POINTWISE = {
    'pw_c7_co13_u8': (np.uint8, 1, 7, 9, 1, 13, 1, 1, 0, 1, 1),
    'pw_c40_co6_s8': (np.int8, 2, 40, 10, 7, 6, 1, 1, 0, 1, 1),
    'pw_c20_co52_u8': (np.uint8, 1, 20, 8, 16, 52, 1, 1, 0, 1, 1),
    # uint8 weights: not the NCHW kernel's (it reads int8), the generic loop's
    'pw_c8_co6_u8w': (np.uint8, 1, 8, 4, 5, 6, 1, 1, 0, 1, 1, np.uint8),
}


# convs whose row tiles run staged (codegen/c/qconv_fast.c, rtile_staged: at most 6 vpdpbusd
# per output vector, every weight in registers): pointwise ones behind a 1x1 MaxPool (so they
# read a channels-last tensor, not the graph input): 4 blocks of K = 16 at rows of 5 and 4
# pixels; 2 blocks of K = 24, int8, batch 2; 2 blocks of K = 12 whose second is partial; and
# the band mode's 1-block tiles: 3x3 on 1 input channel (12 pixels, then 1), 2 channels at
# stride 2 with 8 output channels (a partial block, 8 pixels in two groups of 4).
STAGED = {
    'st_pw_c16_co64_u8': (np.uint8, 1, 16, 6, 7, 64, 1, 1, 0, 1, 1),
    'st_pw_c24_co40_s8': (np.int8, 2, 24, 8, 5, 40, 1, 1, 0, 1, 1),
    'st_pw_c12_co24_u8': (np.uint8, 1, 12, 6, 10, 24, 1, 1, 0, 1, 1),
    'st_conv_c1_co16_pad_u8': (np.uint8, 1, 1, 9, 13, 16, 3, 1, 1, 1, 1),
    'st_conv_c2_co8_s2_s8': (np.int8, 1, 2, 12, 15, 8, 3, 2, 1, 1, 1),
}


# 24 or 8 output channels in row mode where the tiles are not staged: the last block's 8
# channels of two pixels share a vector (rtile_vnni_pair). Pointwise ones behind a 1x1
# MaxPool: K = 32 to 24 channels, int8, batch 2 (tiles of 10 pixels, then 2); K = 40 to 8
# (5 pairs: a packed store of 4, then one). Padded 3x3 in band mode: 4 to 24 channels; 5 to
# 8 at stride 2, int8.
PAIRED = {
    'pr_pw_c32_co24_s8': (np.int8, 2, 32, 6, 7, 24, 1, 1, 0, 1, 1),
    'pr_pw_c40_co8_u8': (np.uint8, 1, 40, 5, 8, 8, 1, 1, 0, 1, 1),
    'pr_conv_c4_co24_pad_u8': (np.uint8, 1, 4, 7, 10, 24, 3, 1, 1, 1, 1),
    'pr_conv_c5_co8_s2_s8': (np.int8, 1, 5, 11, 12, 8, 3, 2, 1, 1, 1),
}


def main():
    rng = np.random.default_rng(20261124)
    for name, spec in CASES.items():
        make(name, spec, rng)
    for name, spec in MATMULS.items():
        make_matmul(name, spec, rng)
    rng = np.random.default_rng(20261125)
    for name, spec in POINTWISE.items():
        make(name, spec, rng)
    rng = np.random.default_rng(20261126)
    for name, spec in STAGED.items():
        make(name, spec, rng, pool=spec[6] == 1)
    rng = np.random.default_rng(20261127)
    for name, spec in PAIRED.items():
        make(name, spec, rng, pool=spec[6] == 1)


if __name__ == '__main__':
    main()
