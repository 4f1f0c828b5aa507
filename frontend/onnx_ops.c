/* onnx_ops.c: (stub) */
typedef int onnx_ops_placeholder;
