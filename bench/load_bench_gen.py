#!/usr/bin/python3
"""Write the loader benchmark's two models.

Usage: load_bench_gen.py FOLDER [LAYERS]

FOLDER/embedded/model.onnx keeps its weights inside the file (raw_data);
FOLDER/external/model.onnx keeps the same weights in
FOLDER/external/weights.bin.  The model is a chain of LAYERS (default 16)
MatMul + Relu layers with 4096 x 4096 float32 weights, 64 MiB each, so the
default is 1 GiB of weights.  The weights are random normal values from a
fixed seed.

Benchmark use only: needs Debian's python3-onnx and python3-numpy.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WIDTH = 4096


def build_model(layers):
    """Return the ModelProto: X -> (MatMul W_i, Relu) x layers -> Y."""
    rng = np.random.default_rng(20240601)
    nodes = []
    initializers = []
    current = "X"
    for i in range(layers):
        weight = rng.standard_normal((WIDTH, WIDTH), dtype=np.float32)
        initializers.append(numpy_helper.from_array(weight, name=f"W{i}"))
        nodes.append(helper.make_node("MatMul", [current, f"W{i}"], [f"mm{i}"], name=f"matmul_{i}"))
        nodes.append(helper.make_node("Relu", [f"mm{i}"], [f"act{i}"], name=f"relu_{i}"))
        current = f"act{i}"
    nodes[-1].output[0] = "Y"
    graph = helper.make_graph(
        nodes, "load_bench",
        [helper.make_tensor_value_info("X", TensorProto.FLOAT, [1, WIDTH])],
        [helper.make_tensor_value_info("Y", TensorProto.FLOAT, [1, WIDTH])],
        initializer=initializers)
    return helper.make_model(graph, producer_name="qscope load_bench",
                             opset_imports=[helper.make_opsetid("", 13)])


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    folder = sys.argv[1]
    layers = int(sys.argv[2]) if len(sys.argv) == 3 else 16
    model = build_model(layers)

    os.makedirs(os.path.join(folder, "embedded"), exist_ok=True)
    os.makedirs(os.path.join(folder, "external"), exist_ok=True)
    onnx.save_model(model, os.path.join(folder, "embedded", "model.onnx"))
    # save_model with external data moves the tensors' bytes out of "model",
    # so the embedded copy is written first.
    onnx.save_model(model, os.path.join(folder, "external", "model.onnx"),
                    save_as_external_data=True, all_tensors_to_one_file=True,
                    location="weights.bin", size_threshold=1024)


if __name__ == "__main__":
    main()
