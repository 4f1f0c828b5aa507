#!/usr/bin/python3
"""Regenerate the regress/ cases: tiny ONNX models for defects found in review, with expected
outputs computed here by numpy from the ONNX operator definitions (never by qcc).
Usage: /usr/bin/python3 make_regress.py [OUT_DIR]   (default: this folder). Needs Debian's
python3-onnx and python3-numpy. Deterministic: a fixed seed, cases in a fixed order."""
import os, shutil, sys
import numpy as np
import onnx
from onnx import helper as h, numpy_helper as nh, TensorProto as TP

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
R = np.random.RandomState(11)
MS = ('com.microsoft', 1)


def q(x, s, zp, dt):
    """ONNX QuantizeLinear: saturate(round_half_even(x / s) + zp), the division in float32."""
    info = np.iinfo(dt)
    v = np.rint(np.asarray(x, np.float32) / np.float32(s)).astype(np.float64) + zp
    return np.clip(v, info.min, info.max).astype(dt)


def dq(x, s, zp, axis=None):
    """ONNX DequantizeLinear: (x - zp) * s in float32, per axis when s has several entries."""
    x = np.asarray(x)
    if axis is not None and np.size(s) > 1:
        shp = [1] * x.ndim
        shp[axis] = -1
        s = np.asarray(s, np.float32).reshape(shp)
        zp = np.asarray(zp).reshape(shp)
    d = (x.astype(np.int32) - np.asarray(zp).astype(np.int32)).astype(np.float32)
    return (d * np.asarray(s, np.float32)).astype(np.float32)


def init(name, arr):
    return nh.from_array(np.asarray(arr), name)


def vi(name, dt, shape):
    return h.make_tensor_value_info(name, dt, shape)


def save(name, nodes, inputs, outputs, inits, feeds, expects, opset=13, extra_opsets=()):
    d = os.path.join(OUT, name)
    if os.path.exists(d):
        shutil.rmtree(d)
    os.makedirs(d)
    g = h.make_graph(nodes, name, inputs, outputs, inits)
    ops = [h.make_opsetid("", opset)] + [h.make_opsetid(dm, v) for dm, v in extra_opsets]
    m = h.make_model(g, opset_imports=ops, producer_name="qcc-review")
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(d, "model.onnx"))
    for si, (fs, es) in enumerate(zip(feeds, expects)):
        sd = os.path.join(d, "test_data_set_%d" % si)
        os.makedirs(sd)
        for k, (v, a) in enumerate(zip(inputs, fs)):
            with open(os.path.join(sd, "input_%d.pb" % k), "wb") as f:
                f.write(nh.from_array(np.asarray(a), v.name).SerializeToString())
        for k, (v, a) in enumerate(zip(outputs, es)):
            with open(os.path.join(sd, "output_%d.pb" % k), "wb") as f:
                f.write(nh.from_array(np.asarray(a), v.name).SerializeToString())


def gemm_case(name, transA, transB, alpha, beta, cshape=None, M=3, K=5, N=4):
    """QDQ Gemm with an int32 bias C of any broadcastable shape; alpha/beta applied in float64."""
    sa, za = 0.05, 4
    sb = 0.02
    sy, zy = 0.08, 1
    ashape = (K, M) if transA else (M, K)
    a = R.uniform(-3, 3, ashape).astype(np.float32)
    bq = R.randint(-100, 100, (N, K) if transB else (K, N)).astype(np.int8)
    cq = R.randint(-2000, 2000, cshape or (N,)).astype(np.int32)
    sc = np.float32(sa * sb)
    nodes = [h.make_node('QuantizeLinear', ['a', 'sa', 'za'], ['aq']),
             h.make_node('DequantizeLinear', ['aq', 'sa', 'za'], ['af']),
             h.make_node('DequantizeLinear', ['bq', 'sb'], ['bf']),
             h.make_node('DequantizeLinear', ['cq', 'sc'], ['cf']),
             h.make_node('Gemm', ['af', 'bf', 'cf'], ['g'], transA=transA, transB=transB,
                         alpha=alpha, beta=beta),
             h.make_node('QuantizeLinear', ['g', 'sy', 'zy'], ['yq'])]
    inits = [init('sa', np.float32(sa)), init('za', np.int8(za)), init('bq', bq),
             init('sb', np.float32(sb)), init('cq', cq), init('sc', sc),
             init('sy', np.float32(sy)), init('zy', np.int8(zy))]
    af = dq(q(a, sa, za, np.int8), sa, za).astype(np.float64)
    bf = dq(bq, sb, 0).astype(np.float64)
    cf = dq(cq, sc, 0).astype(np.float64)
    A = af.T if transA else af
    B = bf.T if transB else bf
    yq = q((alpha * (A @ B) + beta * cf).astype(np.float32), sy, zy, np.int8)
    save(name, nodes, [vi('a', TP.FLOAT, a.shape)], [vi('yq', TP.INT8, yq.shape)], inits,
         [[a]], [[yq]])


def qlinearadd_per_axis_scale():
    """QLinearAdd with a per-channel a_scale (the right answer is a diagnostic; the data
    records what the op would compute)."""
    a = R.randint(0, 255, (1, 3, 2, 2)).astype(np.uint8)
    b = R.randint(0, 255, (1, 3, 2, 2)).astype(np.uint8)
    sa = np.array([0.1, 0.2, 0.3], np.float32)
    za = np.array([128] * 3, np.uint8)
    nodes = [h.make_node('QLinearAdd', ['a', 'sa', 'za', 'b', 'sb', 'zb', 'sy', 'zy'], ['y'],
                         domain='com.microsoft')]
    inits = [init('sa', sa), init('za', za), init('sb', np.float32(0.1)), init('zb', np.uint8(128)),
             init('sy', np.float32(0.2)), init('zy', np.uint8(128))]
    y = q(dq(a, sa, za, axis=1) + dq(b, 0.1, 128), 0.2, 128, np.uint8)
    save('qlinearadd_per_axis_scale', nodes,
         [vi('a', TP.UINT8, a.shape), vi('b', TP.UINT8, b.shape)], [vi('y', TP.UINT8, y.shape)],
         inits, [[a, b]], [[y]], extra_opsets=[MS])


def qgemm_bias_column_m_eq_n():
    """com.microsoft QGemm with C of shape [M,1] and M == N: the bias varies along rows."""
    a = R.randint(0, 255, (3, 3)).astype(np.uint8)
    b = R.randint(-100, 100, (3, 3)).astype(np.int8)
    c = R.randint(-1000, 1000, (3, 1)).astype(np.int32)
    nodes = [h.make_node('QGemm', ['a', 'sa', 'za', 'b', 'sb', 'zb', 'c', 'sy', 'zy'], ['y'],
                         domain='com.microsoft')]
    inits = [init('sa', np.float32(0.02)), init('za', np.uint8(128)), init('b', b),
             init('sb', np.float32(0.01)), init('zb', np.int8(0)), init('c', c),
             init('sy', np.float32(0.05)), init('zy', np.uint8(128))]
    acc = (a.astype(np.int64) - 128) @ b.astype(np.int64) + c
    y = q((acc * np.float64(0.02 * 0.01)).astype(np.float32), 0.05, 128, np.uint8)
    save('qgemm_bias_column_m_eq_n', nodes, [vi('a', TP.UINT8, a.shape)],
         [vi('y', TP.UINT8, y.shape)], inits, [[a]], [[y]], extra_opsets=[MS])


def clip6_int8(name, lo, hi):
    """Clip-6 on int8 with float bounds outside the type: a saturating clamp."""
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    y = np.clip(np.clip(x.astype(np.float64), lo, hi), -128, 127).astype(np.int8)
    save(name, [h.make_node('Clip', ['x'], ['y'], min=lo, max=hi)], [vi('x', TP.INT8, x.shape)],
         [vi('y', TP.INT8, y.shape)], [], [[x]], [[y]], opset=6)


def pad_uint8_literal_value():
    """QLinearConv (uint8, zp 128) -> Pad(constant uint8 0): the border is the literal 0."""
    x = (np.arange(16, dtype=np.int32).reshape(1, 1, 4, 4) * 9 + 60).astype(np.uint8)
    inits = [init('xs', np.float32(0.05)), init('xz', np.uint8(128)),
             init('w', np.array([[[[2]]]], np.uint8)), init('ws', np.array([0.5], np.float32)),
             init('wz', np.array([0], np.uint8)), init('ys', np.float32(0.1)),
             init('yz', np.uint8(128)), init('pads', np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int64)),
             init('pv', np.uint8(0))]
    nodes = [h.make_node('QLinearConv', ['x', 'xs', 'xz', 'w', 'ws', 'wz', 'ys', 'yz'], ['c'],
                         name='conv'),
             h.make_node('Pad', ['c', 'pads', 'pv'], ['y'], name='pad', mode='constant')]
    real = 0.05 * (x.astype(np.float64) - 128) * 0.5 * 2
    c = np.clip(np.rint(real / 0.1) + 128, 0, 255).astype(np.uint8)
    y = np.pad(c, ((0, 0), (0, 0), (1, 1), (1, 1)), constant_values=0)
    save('pad_uint8_literal_value', nodes, [vi('x', TP.UINT8, [1, 1, 4, 4])],
         [vi('y', TP.UINT8, [1, 1, 6, 6])], inits, [[x]], [[y]])


def qdq_pad_real_zero():
    """Q -> DQ -> Pad(constant 0.0) -> Q -> DQ: the border is real 0 (the zero point 100)."""
    x = np.linspace(-3, 5, 12, dtype=np.float32).reshape(1, 1, 3, 4)
    inits = [init('s', np.float32(0.1)), init('z', np.uint8(100)),
             init('pads', np.array([0, 0, 1, 2, 0, 0, 1, 2], np.int64))]
    nodes = [h.make_node('QuantizeLinear', ['x', 's', 'z'], ['xq'], name='q_in'),
             h.make_node('DequantizeLinear', ['xq', 's', 'z'], ['xf'], name='dq_in'),
             h.make_node('Pad', ['xf', 'pads'], ['p'], name='pad', mode='constant'),
             h.make_node('QuantizeLinear', ['p', 's', 'z'], ['pq'], name='q_out'),
             h.make_node('DequantizeLinear', ['pq', 's', 'z'], ['y'], name='dq_out')]
    real = dq(q(x, 0.1, 100, np.uint8), 0.1, 100)
    y = np.pad(real, ((0, 0), (0, 0), (1, 1), (2, 2)), constant_values=0).astype(np.float32)
    save('qdq_pad_real_zero', nodes, [vi('x', TP.FLOAT, [1, 1, 3, 4])],
         [vi('y', TP.FLOAT, [1, 1, 5, 8])], inits, [[x]], [[y]])


gemm_case('gemm_bias_column_m_eq_n', 0, 0, 1.0, 1.0, cshape=(4, 1), M=4, K=5, N=4)
gemm_case('gemm_bias_full_matrix', 0, 0, 1.0, 1.0, cshape=(3, 4), M=3, K=5, N=4)
gemm_case('gemm_alpha_negative', 0, 1, -0.5, 2.0)
qlinearadd_per_axis_scale()
qgemm_bias_column_m_eq_n()
clip6_int8('clip6_int8_bounds_above', 1000.0, 2000.0)
clip6_int8('clip6_int8_bounds_below', -3000.0, -2000.0)
pad_uint8_literal_value()
qdq_pad_real_zero()
