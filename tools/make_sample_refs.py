#!/usr/bin/python3
"""Compute the reference outputs of qscope's sample models.

Usage: /usr/bin/python3 tools/make_sample_refs.py [SAMPLES_DIR]

For every MODEL.onnx in SAMPLES_DIR (default: the samples/ folder next to
this script's folder) and every MODEL/test_data_set_N/input_0.pb written
by tools/make_samples, this script checks the model with
onnx.checker.check_model(full_check=True), evaluates it and writes
MODEL/test_data_set_N/output_0.pb.

The outputs are computed by the small NumPy evaluator below, in float64
from the float32 weights and inputs, and rounded to float32 at the end.
They are accurate to float64 rounding, so a float32 interpreter should
match them within its tolerance.  The evaluator
implements only the operators the samples use, with the ONNX opset 17
semantics those nodes need.  Where the onnx package has its reference
evaluator (onnx 1.13 and later), the script also runs it and prints the
largest difference from the NumPy result; Debian 12 ships onnx 1.12,
which lacks it.

The script is run by hand (`make sample-refs`) after `make samples`,
never by the build or the tests.
"""

import math
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

SAMPLES = ("tiny_cnn", "tiny_transformer", "tiny_if")


def attributes(node):
    """Return the node's attributes as a dict of Python values."""
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def conv(x, w, b, attrs):
    """Conv with symmetric padding, stride 1 and dilation 1 (all the samples use)."""
    group = attrs.get("group", 1)
    pads = attrs.get("pads", [0, 0, 0, 0])
    if pads[0] != pads[2] or pads[1] != pads[3]:
        raise NotImplementedError("asymmetric Conv padding")
    if any(s != 1 for s in attrs.get("strides", [1, 1])):
        raise NotImplementedError("Conv strides other than 1")
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        raise NotImplementedError("Conv dilations other than 1")

    n, c, h, wd = x.shape
    m, cg, kh, kw = w.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[0]), (pads[1], pads[1])))
    oh = h + 2 * pads[0] - kh + 1
    ow = wd + 2 * pads[1] - kw + 1
    out = np.zeros((n, m, oh, ow))
    mg = m // group
    for g in range(group):
        xs = xp[:, g * cg:(g + 1) * cg]
        ws = w[g * mg:(g + 1) * mg]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + oh, j:j + ow]
                out[:, g * mg:(g + 1) * mg] += np.einsum("nchw,mc->nmhw", patch, ws[:, :, i, j])
    if b is not None:
        out += b.reshape(1, m, 1, 1)
    return out


def max_pool(x, attrs):
    """MaxPool with kernel equal to stride and no padding."""
    kh, kw = attrs["kernel_shape"]
    if list(attrs.get("strides", [1, 1])) != [kh, kw] or any(attrs.get("pads", [0] * 4)):
        raise NotImplementedError("MaxPool other than kernel == stride without padding")
    n, c, h, w = x.shape
    x = x[:, :, :h - h % kh, :w - w % kw]
    return x.reshape(n, c, h // kh, kh, w // kw, kw).max(axis=(3, 5))


def softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def layer_norm(x, scale, bias, attrs):
    axis = attrs.get("axis", -1)
    axes = tuple(range(axis % x.ndim, x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
    y = (x - mean) / np.sqrt(var + attrs.get("epsilon", 1e-5)) * scale
    return y + bias if bias is not None else y


def reshape(x, shape):
    shape = [x.shape[i] if d == 0 else int(d) for i, d in enumerate(shape)]
    return x.reshape(shape)


def gemm(a, b, c, attrs):
    if attrs.get("transA", 0):
        a = a.T
    if attrs.get("transB", 0):
        b = b.T
    y = attrs.get("alpha", 1.0) * (a @ b)
    return y + attrs.get("beta", 1.0) * c if c is not None else y


def reduce_sum(x, axes, attrs):
    keep = bool(attrs.get("keepdims", 1))
    if axes is None or len(axes) == 0:
        return np.sum(x, keepdims=keep) if not attrs.get("noop_with_empty_axes", 0) else x
    return np.sum(x, axis=tuple(int(a) for a in axes), keepdims=keep)


def batch_norm(x, scale, bias, mean, var, attrs):
    shape = (1, -1) + (1,) * (x.ndim - 2)
    eps = attrs.get("epsilon", 1e-5)
    return ((x - mean.reshape(shape)) / np.sqrt(var.reshape(shape) + eps)
            * scale.reshape(shape) + bias.reshape(shape))


def run_node(node, args, attrs, env):
    """Evaluate one node; returns the list of its outputs."""
    op = node.op_type
    simple = {
        "Relu": lambda: np.maximum(args[0], 0.0),
        "Add": lambda: args[0] + args[1],
        "Mul": lambda: args[0] * args[1],
        "Div": lambda: args[0] / args[1],
        "MatMul": lambda: np.matmul(args[0], args[1]),
        "Erf": lambda: np.vectorize(math.erf)(args[0]),
        "Greater": lambda: args[0] > args[1],
        "Softmax": lambda: softmax(args[0], attrs.get("axis", -1)),
        "Transpose": lambda: np.transpose(args[0], attrs.get("perm")),
        "Reshape": lambda: reshape(args[0], args[1]),
        "Flatten": lambda: args[0].reshape(
            int(np.prod(args[0].shape[:attrs.get("axis", 1)])), -1),
        "GlobalAveragePool": lambda: args[0].mean(
            axis=tuple(range(2, args[0].ndim)), keepdims=True),
        "MaxPool": lambda: max_pool(args[0], attrs),
        "Conv": lambda: conv(args[0], args[1], args[2] if len(args) > 2 else None, attrs),
        "BatchNormalization": lambda: batch_norm(*args[:5], attrs),
        "LayerNormalization": lambda: layer_norm(
            args[0], args[1], args[2] if len(args) > 2 else None, attrs),
        "Gemm": lambda: gemm(args[0], args[1], args[2] if len(args) > 2 else None, attrs),
        "ReduceSum": lambda: reduce_sum(args[0], args[1] if len(args) > 1 else None, attrs),
        "Constant": lambda: to_float64(numpy_helper.to_array(attrs["value"])),
    }
    if op == "If":
        branch = attrs["then_branch"] if bool(np.asarray(args[0])) else attrs["else_branch"]
        return run_graph(branch, env)
    if op not in simple:
        raise NotImplementedError(f"operator {op} (node {node.name})")
    return [simple[op]()]


def to_float64(array):
    """Promote floating-point arrays to float64; leave integers and bools alone."""
    return array.astype(np.float64) if array.dtype.kind == "f" else array


def run_graph(graph, outer):
    """Evaluate "graph"; the values in "outer" stay visible, as outer-scope names are to a subgraph."""
    env = dict(outer)
    for tensor in graph.initializer:
        env[tensor.name] = to_float64(numpy_helper.to_array(tensor))
    for node in graph.node:
        args = [env[name] if name else None for name in node.input]
        outputs = run_node(node, args, attributes(node), env)
        for name, value in zip(node.output, outputs):
            env[name] = value
    return [env[o.name] for o in graph.output]


def read_tensor(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return tensor


def cross_check(model, feeds, outputs):
    """Print the largest difference from onnx's reference evaluator, if present."""
    try:
        from onnx.reference import ReferenceEvaluator
    except ImportError:
        print(f"  onnx {onnx.__version__} has no reference evaluator: cross-check skipped")
        return
    theirs = ReferenceEvaluator(model).run(None, feeds)
    for ours, other in zip(outputs, theirs):
        print(f"  max |numpy - onnx.reference| = {np.max(np.abs(ours - other)):.3g}")


def process(samples_dir, name):
    model = onnx.load(os.path.join(samples_dir, name + ".onnx"))
    onnx.checker.check_model(model, full_check=True)
    print(f"{name}: checker passed")

    set_index = 0
    while True:
        set_dir = os.path.join(samples_dir, name, f"test_data_set_{set_index}")
        input_path = os.path.join(set_dir, "input_0.pb")
        if not os.path.exists(input_path):
            break
        tensor = read_tensor(input_path)
        x = numpy_helper.to_array(tensor)
        outputs = [o.astype(np.float32) for o in
                   run_graph(model.graph, {tensor.name: to_float64(x)})]
        for o in outputs:
            if not np.all(np.isfinite(o)):
                sys.exit(f"{name}: set {set_index}: output is not finite")
        cross_check(model, {tensor.name: x}, outputs)
        out = numpy_helper.from_array(outputs[0], model.graph.output[0].name)
        with open(os.path.join(set_dir, "output_0.pb"), "wb") as f:
            f.write(out.SerializeToString())
        print(f"  set {set_index}: output {model.graph.output[0].name} {outputs[0].shape}, "
              f"range [{outputs[0].min():.6g}, {outputs[0].max():.6g}]")
        set_index += 1
    if set_index == 0:
        sys.exit(f"{name}: no test_data_set_0/input_0.pb: run `make samples` first")


def main():
    script_dir = os.path.dirname(os.path.abspath(__file__))
    samples_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(script_dir, "..", "samples")
    for name in SAMPLES:
        process(samples_dir, name)


if __name__ == "__main__":
    main()
