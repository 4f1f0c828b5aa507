#!/usr/bin/python3
"""make_seeds.py: writes the generated seeds of corpus/ (tiny models that reach many ops and
both attribute forms), next to the copied tests/bad cases and zoo models. Needs python3-onnx
and numpy; run from any directory: /usr/bin/python3 tests/fuzz/make_seeds.py"""
import os

import numpy as np
import onnx
from onnx import TensorProto as T, helper as h, numpy_helper as nh

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')
rng = np.random.default_rng(0)


def const(name, arr):
    return nh.from_array(np.asarray(arr), name)


def save(name, nodes, inits, inputs, outputs, opset, ms=False):
    imports = [h.make_opsetid('', opset)]
    if ms:
        imports.append(h.make_opsetid('com.microsoft', 1))
    g = h.make_graph(nodes, name, inputs, outputs, initializer=inits)
    m = h.make_model(g, opset_imports=imports, producer_name='qcc-make-seeds')
    m.ir_version = 7
    data = m.SerializeToString()
    assert len(data) < 30000, name
    with open(os.path.join(OUT, name + '.onnx'), 'wb') as f:
        f.write(data)


def qdq_mix(slice_=True):
    """opset 13 QDQ: conv, pooling, resize, slice, concat, shape arithmetic, softmax."""
    n, i = [], []
    s = lambda nm, v: i.append(const(nm, np.float32(v)))
    z = lambda nm, v: i.append(const(nm, np.uint8(v)))
    s('sa', 0.02), z('za', 128)
    i.append(const('zw', np.zeros(4, np.int8)))
    i.append(const('sw', np.full(4, 0.01, np.float32)))
    i.append(const('w', rng.integers(-20, 20, (4, 3, 3, 3)).astype(np.int8)))
    i.append(const('sb', np.full(4, 0.0002, np.float32)))
    i.append(const('b', rng.integers(-100, 100, 4).astype(np.int32)))
    i.append(const('zb', np.zeros(4, np.int32)))
    n += [h.make_node('QuantizeLinear', ['x', 'sa', 'za'], ['xq']),
          h.make_node('DequantizeLinear', ['xq', 'sa', 'za'], ['xd']),
          h.make_node('DequantizeLinear', ['w', 'sw', 'zw'], ['wd'], axis=0),
          h.make_node('DequantizeLinear', ['b', 'sb', 'zb'], ['bd'], axis=0),
          h.make_node('Conv', ['xd', 'wd', 'bd'], ['c'], pads=[1, 1, 1, 1], strides=[1, 1]),
          h.make_node('Relu', ['c'], ['r']),
          h.make_node('QuantizeLinear', ['r', 'sa', 'za'], ['rq']),
          h.make_node('DequantizeLinear', ['rq', 'sa', 'za'], ['rd']),
          h.make_node('MaxPool', ['rd'], ['p'], kernel_shape=[2, 2], strides=[2, 2]),
          h.make_node('AveragePool', ['rd'], ['ap'], kernel_shape=[3, 3], strides=[2, 2],
                      pads=[1, 1, 1, 1], count_include_pad=0),
          h.make_node('Concat', ['p', 'ap'], ['cat'], axis=1)]
    i.append(const('rs', np.array([1, 1, 2, 2], np.float32)))
    n += [h.make_node('Resize', ['cat', '', 'rs'], ['up'], mode='nearest',
                      coordinate_transformation_mode='asymmetric', nearest_mode='floor'),
          h.make_node('QuantizeLinear', ['up', 'sa', 'za'], ['uq']),
          h.make_node('DequantizeLinear', ['uq', 'sa', 'za'], ['ud'])]
    i += [const('st', np.array([0, 1], np.int64)), const('en', np.array([4, -1], np.int64)),
          const('ax', np.array([1, 3], np.int64)), const('sp', np.array([1, 2], np.int64))]
    n += [h.make_node('Slice', ['ud', 'st', 'en', 'ax', 'sp'], ['sl']) if slice_ else
          h.make_node('Identity', ['ud'], ['sl']),
          h.make_node('Shape', ['x'], ['shp']),
          h.make_node('Gather', ['shp', 'g0'], ['d0'], axis=0),
          h.make_node('Unsqueeze', ['d0', 'u0'], ['d0u']),
          h.make_node('Concat', ['d0u', 'm1'], ['newshape'], axis=0),
          h.make_node('Reshape', ['sl', 'newshape'], ['flat']),
          h.make_node('Transpose', ['flat'], ['ft'], perm=[1, 0]),
          h.make_node('Transpose', ['ft'], ['ff'], perm=[1, 0]),
          h.make_node('Softmax', ['ff'], ['sm'], axis=-1),
          h.make_node('QuantizeLinear', ['sm', 'so', 'zo'], ['y'])]
    i += [const('g0', np.int64(0)), const('u0', np.array([0], np.int64)),
          const('m1', np.array([-1], np.int64)), const('so', np.float32(1 / 256)),
          const('zo', np.uint8(0))]
    save('gen_qdq_mix' if slice_ else 'gen_qdq_mix_noslice', n, i, [h.make_tensor_value_info('x', T.FLOAT, [1, 3, 8, 8])],
         [h.make_tensor_value_info('y', T.UINT8, None)], 13)


def opset9_attrs():
    """opset 9: the attribute forms (Slice, Pad, Clip, Squeeze/Unsqueeze, legacy Softmax)."""
    n = [h.make_node('Slice', ['x'], ['a'], starts=[0, 1], ends=[1, -1], axes=[0, 2]),
         h.make_node('Pad', ['a'], ['b'], pads=[0, 0, 1, 0, 0, 1], mode='constant', value=0.5),
         h.make_node('Clip', ['b'], ['c'], min=-1.0, max=1.0),
         h.make_node('Unsqueeze', ['c'], ['d'], axes=[0]),
         h.make_node('Squeeze', ['d'], ['e'], axes=[0]),
         h.make_node('LeakyRelu', ['e'], ['f'], alpha=0.1),
         h.make_node('Flatten', ['f'], ['g'], axis=1),
         h.make_node('Gemm', ['g', 'w', 'bias'], ['gm'], transB=1, alpha=1.0, beta=1.0),
         h.make_node('Softmax', ['gm'], ['y'], axis=1),
         h.make_node('Constant', [], ['k'], value=const('kv', np.float32([2.0]))),
         h.make_node('Mul', ['y', 'k'], ['y2']),
         h.make_node('Cast', ['y2'], ['y3'], to=T.FLOAT)]
    i = [const('w', rng.standard_normal((5, 6)).astype(np.float32)),
         const('bias', np.zeros(5, np.float32))]
    save('gen_opset9_attrs', n, i, [h.make_tensor_value_info('x', T.FLOAT, [2, 1, 6])],
         [h.make_tensor_value_info('y3', T.FLOAT, None)], 9)


def qop_ms():
    """QOperator with com.microsoft ops: QLinearConv, QLinearAdd, QLinearSigmoid, QGemm."""
    i = [const('s', np.float32(0.05)), const('z', np.uint8(128)),
         const('ws', np.full(2, 0.02, np.float32)), const('wz', np.zeros(2, np.int8)),
         const('w', rng.integers(-30, 30, (2, 2, 3, 3)).astype(np.int8)),
         const('b', np.array([10, -10], np.int32)),
         const('gw', rng.integers(-30, 30, (3, 8)).astype(np.int8)),
         const('gs', np.float32(0.02)), const('gz', np.int8(0))]
    n = [h.make_node('QuantizeLinear', ['x', 's', 'z'], ['xq']),
         h.make_node('QLinearConv', ['xq', 's', 'z', 'w', 'ws', 'wz', 's', 'z', 'b'], ['c'],
                     pads=[1, 1, 1, 1]),
         h.make_node('QLinearAdd', ['c', 's', 'z', 'xq', 's', 'z', 's', 'z'], ['a'],
                     domain='com.microsoft'),
         h.make_node('QLinearSigmoid', ['a', 's', 'z', 's', 'z'], ['sg'],
                     domain='com.microsoft'),
         h.make_node('QLinearGlobalAveragePool', ['sg', 's', 'z', 's', 'z'], ['gp'],
                     domain='com.microsoft', channels_last=0),
         h.make_node('QLinearConcat', ['s', 'z', 'gp', 's', 'z', 'gp', 's', 'z',
                                      'gp', 's', 'z', 'gp', 's', 'z'], ['cc'],
                     domain='com.microsoft', axis=1),
         h.make_node('Flatten', ['cc'], ['fl']),
         h.make_node('QGemm', ['fl', 's', 'z', 'gw', 'gs', 'gz', '', 's', 'z'], ['q'],
                     domain='com.microsoft', transB=1),
         h.make_node('DequantizeLinear', ['q', 's', 'z'], ['y'])]
    save('gen_qop_ms', n, i, [h.make_tensor_value_info('x', T.FLOAT, [1, 2, 4, 4])],
         [h.make_tensor_value_info('y', T.FLOAT, None)], 13, ms=True)


qdq_mix()
qdq_mix(slice_=False)
opset9_attrs()
qop_ms()
