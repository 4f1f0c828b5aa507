#!/usr/bin/env python3
"""make_dw_cases.py: writes tests/simd/cases/<case>/ (model.onnx + test_data_set_0): single
depthwise QLinearConv layers at the edges of the AVX-512 VNNI depthwise kernels (qdwconv.c),
each twice: reading the graph input (NCHW: the planar kernel) and, as <case>_nhwc, behind a
1x1 MaxPool, the identity, whose output is NHWC (the row kernel). The edges:
channel counts that leave a partial 16-lane block, 4x4 and 5x5 kernels, stride 2 with and
without padding, dilation 2, a non-zero weight zero point, tiny multipliers (y_scale 3.0), a
5-pixel-wide row, rows of more than 128 outputs, rows of 16 outputs, a 2x2 kernel at stride 3,
int8 and uint8. The expected outputs are computed here with numpy from the
ONNX definition and ONNX Runtime's float requantization (float32 multiplier
x_scale * w_scale / y_scale, round half to even), not by qcc; qcc's float mode must match
them exactly and its fixed mode within 1 step. Run once; the outputs are committed."""
import os
import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

HERE = os.path.dirname(os.path.abspath(__file__))

# name: (C, H, W, kernel, stride, pad, dilation, int8?, weight zero point, y_scale)
CASES = {
    'dw_c16_k4x4_s8': (16, 6, 9, 4, 1, 1, 1, True, 0, 0.05),
    'dw_c18_k5_u8': (18, 8, 8, 5, 1, 2, 1, False, 0, 0.05),
    'dw_c20_s1_u8': (20, 9, 13, 3, 1, 1, 1, False, 0, 0.05),
    'dw_c20_s2_s8': (20, 10, 11, 3, 2, 1, 1, True, 0, 0.05),
    'dw_c24_dil2_u8': (24, 12, 12, 3, 1, 2, 2, False, 0, 0.05),
    'dw_c37_s1_s8_zw': (37, 7, 30, 3, 1, 1, 1, True, 5, 0.05),
    'dw_c40_s1_u8_tinym': (40, 9, 20, 3, 1, 1, 1, False, 0, 3.0),
    'dw_c40_s2_s8_tinym': (40, 9, 20, 3, 2, 1, 1, True, 0, 3.0),
    'dw_c48_s2_u8_p0': (48, 12, 40, 3, 2, 0, 1, False, 0, 0.05),
    'dw_c64_s1_s8_w5': (64, 25, 5, 3, 1, 1, 1, True, 0, 0.05),
    'dw_c8_s1_u8': (8, 5, 70, 3, 1, 1, 1, False, 0, 0.05),
    # the planar kernel's rows of more than 8 vectors (two register blocks), stride 3, 2x2
    'dw_c3_s1_s8_w150': (3, 4, 150, 3, 1, 1, 1, True, 0, 0.05),
    'dw_c5_s2_u8_w300': (5, 5, 300, 3, 2, 1, 1, False, 0, 0.05),
    'dw_c6_k2_s3_u8': (6, 9, 40, 2, 3, 0, 1, False, 0, 0.05),
    # rows of exactly two register blocks (16 outputs): the row kernel's two constant chunks
    'dw_c24_s1_s8_w16': (24, 6, 16, 3, 1, 1, 1, True, 0, 0.05),
    'dw_c20_s2_u8_w16': (20, 7, 32, 3, 2, 1, 1, False, 0, 0.05),
}


def make(name, spec, seed, nhwc):
    C, H, W, k, s, p, d, s8, zw, sy = spec
    rng = np.random.default_rng(seed)
    npx = np.int8 if s8 else np.uint8
    lo, hi = (-128, 127) if s8 else (0, 255)
    x = rng.integers(lo, hi + 1, size=(1, C, H, W)).astype(npx)
    w = rng.integers(-100, 101, size=(C, 1, k, k)).astype(np.int8)
    sx, zx = np.float32(0.02), npx(rng.integers(lo, hi + 1))
    sw = (rng.random(C).astype(np.float32) * np.float32(0.01) + np.float32(0.001)).astype(np.float32)
    zwv = np.full(C, zw, dtype=np.int8)
    sy, zy = np.float32(sy), npx(rng.integers(lo + 50, hi - 50))
    b = rng.integers(-3000, 3000, size=C).astype(np.int32)
    oh = (H + 2 * p - d * (k - 1) - 1) // s + 1
    ow = (W + 2 * p - d * (k - 1) - 1) // s + 1
    xp = np.full((C, H + 2 * p, W + 2 * p), int(zx), dtype=np.int64)
    xp[:, p:p + H, p:p + W] = x[0]
    acc = np.zeros((C, oh, ow), dtype=np.int64)
    for ky in range(k):
        for kx in range(k):
            win = xp[:, ky * d:ky * d + s * (oh - 1) + 1:s, kx * d:kx * d + s * (ow - 1) + 1:s]
            acc += (win - int(zx)) * (w[:, 0, ky, kx].astype(np.int64) - zw)[:, None, None]
    acc += b[:, None, None]
    m = (sx * sw / sy).astype(np.float32)
    v = acc.astype(np.float32) * m[:, None, None]
    y = np.clip(np.rint(v) + int(zy), lo, hi).astype(npx)[None]
    et = TensorProto.INT8 if s8 else TensorProto.UINT8
    inits = [numpy_helper.from_array(np.array(sx), 'sx'),
             numpy_helper.from_array(np.array(zx, dtype=npx), 'zx'),
             numpy_helper.from_array(w, 'w'), numpy_helper.from_array(sw, 'sw'),
             numpy_helper.from_array(zwv, 'zw'), numpy_helper.from_array(np.array(sy), 'sy'),
             numpy_helper.from_array(np.array(zy, dtype=npx), 'zy'),
             numpy_helper.from_array(b, 'b')]
    node = helper.make_node('QLinearConv', ['xc' if nhwc else 'x', 'sx', 'zx', 'w', 'sw', 'zw',
                                            'sy', 'zy', 'b'],
                            ['y'], name=name, group=C, kernel_shape=[k, k], strides=[s, s],
                            pads=[p, p, p, p], dilations=[d, d])
    nodes = [node]
    if nhwc:  # a 1x1 MaxPool (the identity) in front: the conv reads an NHWC producer
        nodes.insert(0, helper.make_node('MaxPool', ['x'], ['xc'], name=name + '_pool',
                                         kernel_shape=[1, 1]))
    g = helper.make_graph(nodes, name, [helper.make_tensor_value_info('x', et, [1, C, H, W])],
                          [helper.make_tensor_value_info('y', et, [1, C, oh, ow])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
    out = os.path.join(HERE, 'cases', name)
    os.makedirs(os.path.join(out, 'test_data_set_0'), exist_ok=True)
    onnx.save(model, os.path.join(out, 'model.onnx'))
    for fname, arr, tname in (('input_0.pb', x, 'x'), ('output_0.pb', y, 'y')):
        with open(os.path.join(out, 'test_data_set_0', fname), 'wb') as f:
            f.write(numpy_helper.from_array(arr, tname).SerializeToString())


if __name__ == '__main__':
    for i, (name, spec) in enumerate(CASES.items()):
        make(name, spec, 100 + i, False)
        make(name + '_nhwc', spec, 100 + i, True)
