#!/usr/bin/env python3
"""make_bad_qat.py: hostile QAT checkpoints for run_bad.sh (qcc float.onnx --qat CASE.pt must
exit 1 with a diagnostic naming the .pt file). Pickles are assembled byte by byte (no torch),
zips written with Python's zipfile. float.onnx is a 1-conv float model whose weight is named
conv1.weight like a torch export. Run from this folder: python3 make_bad_qat.py"""
import struct, zipfile, io
import onnx
from onnx import helper, TensorProto, numpy_helper
import numpy as np


def s(text):  # BINUNICODE
    b = text.encode()
    return b'X' + struct.pack('<I', len(b)) + b


def state_dict(numel=18, shape=(2, 1, 3, 3)):
    """OrderedDict {'conv1.weight': FloatStorage '0' of numel elements viewed as shape}."""
    stride = [int(np.prod(shape[i + 1:])) for i in range(len(shape))]
    tup = lambda xs: b'(' + b''.join(b'K' + bytes([x]) for x in xs) + b't'
    return (b'\x80\x02ccollections\nOrderedDict\nq\x00)R(' + s('conv1.weight') +
            b'ctorch._utils\n_rebuild_tensor_v2\n((' + s('storage') + b'ctorch\nFloatStorage\n' +
            s('0') + s('cpu') + b'K' + bytes([numel]) + b'tQK\x00' + tup(shape) + tup(stride) +
            b'\x89h\x00)RtRu.')


def write(name, pkl, storage=np.zeros(18, np.float32).tobytes(), extra=None):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, 'w', zipfile.ZIP_STORED) as z:
        z.writestr('ck/data.pkl', pkl)
        z.writestr('ck/data/0', storage)
        z.writestr('ck/version', '3\n')
    data = buf.getvalue()
    if extra:
        data = extra(data)
    open(name, 'wb').write(data)


def main():
    w = numpy_helper.from_array(np.ones((2, 1, 3, 3), np.float32), 'conv1.weight')
    g = helper.make_graph(
        [helper.make_node('Conv', ['x', 'conv1.weight'], ['y'], name='/conv1/Conv')], 'g',
        [helper.make_tensor_value_info('x', TensorProto.FLOAT, [1, 1, 4, 4])],
        [helper.make_tensor_value_info('y', TensorProto.FLOAT, [1, 2, 2, 2])], [w])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid('', 13)])
    m.ir_version = 8
    onnx.save(m, 'float.onnx')
    write('os_system.pt', b'\x80\x02cos\nsystem\n' + s('echo pwned') + b'\x85R.')
    write('unknown_opcode.pt', b'\x80\x02}I1\n.')
    write('huge_string.pt', b'\x80\x02X\xff\xff\xff\xff')
    write('deep_nesting.pt', b'\x80\x02' + b']' * 5000 + b'a' * 4999 + b'.')
    write('memo_out_of_range.pt', b'\x80\x02j\x00\x00\x00\x10.')
    write('stack_underflow.pt', b'\x80\x02u.')
    write('short_storage.pt', state_dict(), storage=b'\0' * 20)
    write('bad_layout.pt', state_dict(numel=9))
    write('truncated.pt', state_dict(), extra=lambda d: d[:len(d) * 2 // 3])
    write('crc.pt', state_dict(), storage=np.arange(18, dtype=np.float32).tobytes(),
          extra=lambda d: d.replace(np.arange(18, dtype=np.float32).tobytes()[8:16], b'\x55' * 8))
    open('not_zip.pt', 'wb').write(state_dict())  # legacy (pre-1.6) torch.save: bare pickle
    write('no_activations.pt', state_dict())      # valid weights, but no observer ranges


if __name__ == '__main__':
    main()
