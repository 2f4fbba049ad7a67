"""An int8 model for CPUs: static QDQ quantization of a float16 ONNX file, with no ``onnx`` package.

onnxruntime's CPU kernels (native, and the WASM build the page runs) compute a convolution in
int8 when its input, weight and output each pass through a ``QuantizeLinear`` ->
``DequantizeLinear`` pair: it fuses ``DQ -> Conv -> Q`` into one integer convolution, and the
same for ``Concat``, ``Resize``, ``MaxPool``, ``Add`` and ``Sigmoid``. For IS-Net that halves
the run time. :func:`quantize_static` writes that graph from the float16 file:

* every activation (the graph's input and each output of the ops above) gets a Q/DQ pair with
  a fixed scale and uint8 zero point, from a table measured beforehand on calibration photos
  (``tests/bench/mixed_precision.py``, ``ranges``; ``models/ranges/``);
* each ``Conv`` weight becomes int8 per output channel
  (:func:`offcut.onnx_quantize.quantize_channels`) and each bias int32 in steps of input
  scale x weight scale, each behind a ``DequantizeLinear``;
* a ``Relu`` after a ``Conv`` goes: the Q that follows it has zero point 0, so it clips at 0;
* the float16 file's ``Cast`` nodes go (the graph is float32 between the pairs), and the
  ``Shape -> Slice -> Concat`` chains that give each ``Resize`` its size are evaluated from the
  file's recorded shapes into constants (the QDQ fusions need a node's output to feed only
  its ``Q``).

Everything is numpy arithmetic on fixed inputs, so the output is deterministic and its
SHA-256 can be pinned. The WebGPU backend has no int8 kernels (and no ``QuantizeLinear``), so
the page gives it the float16-compute file instead (:mod:`offcut.onnx_quantize`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from offcut.onnx_quantize import _tensor as _raw_tensor
from offcut.onnx_quantize import int_attribute, quantize_channels
from offcut.onnx_resize import _encode, _fields, _varint

# Field numbers from onnx.proto3.
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INITIALIZER = 1, 5
_GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_VALUE_INFO = 11, 12, 13
_NODE_INPUT, _NODE_OUTPUT, _NODE_NAME, _NODE_OP_TYPE, _NODE_ATTRIBUTE = 1, 2, 3, 4, 5
_ATTRIBUTE_NAME, _ATTRIBUTE_I, _ATTRIBUTE_T = 1, 3, 5
_TENSOR_DIMS, _TENSOR_DATA_TYPE, _TENSOR_INT64_DATA, _TENSOR_NAME, _TENSOR_RAW_DATA = 1, 2, 7, 8, 9
_VALUE_NAME, _VALUE_TYPE, _TYPE_TENSOR = 1, 2, 1
_TENSOR_TYPE_SHAPE, _SHAPE_DIM, _DIM_VALUE = 2, 1, 1
_FLOAT, _UINT8, _INT8, _INT32, _INT64, _FLOAT16 = 1, 2, 3, 6, 7, 10
_NUMPY = {_FLOAT: "<f4", _UINT8: "u1", _INT8: "i1", _INT32: "<i4", _INT64: "<i8",
          _FLOAT16: "<f2"}

#: Ops whose float outputs get a Q/DQ pair: onnxruntime has an integer kernel for each.
QUANTIZED_OPS = frozenset({"Conv", "Concat", "Resize", "MaxPool", "Sum", "Sigmoid"})
#: Ops that only compute the integer sizes of a ``Resize``; evaluated here, then dropped.
_SIZE_OPS = frozenset({"Constant", "Shape", "Slice", "Concat"})


@dataclass
class _Node:
    op: str
    inputs: list[str]
    outputs: list[str]
    rest: list = field(default_factory=list)  # the other protobuf fields, as they were

    def encode(self) -> bytes:
        fields = [(_NODE_INPUT, 2, n.encode()) for n in self.inputs]
        fields += [(_NODE_OUTPUT, 2, n.encode()) for n in self.outputs]
        return _encode(fields + self.rest)


def _new_node(op: str, inputs: list[str], output: str, axis: int | None = None) -> _Node:
    rest = [(_NODE_NAME, 2, f"{output}/{op}".encode()), (_NODE_OP_TYPE, 2, op.encode())]
    if axis is not None:
        rest.append((_NODE_ATTRIBUTE, 2, int_attribute(b"axis", axis)))
    return _Node(op, inputs, [output], rest)


def _tensor(name: str, array: np.ndarray, data_type: int) -> bytes:
    array = np.asarray(array, _NUMPY[data_type])  # 0-d stays 0-d: a scalar, as fusions want
    return _raw_tensor(name.encode(), data_type, array.shape, array.tobytes())


def _signed(value: int) -> int:
    """A protobuf int64 varint's value (negative numbers are stored as 2**64 + n)."""
    return value - (1 << 64) if value >= 1 << 63 else value


def _read_tensor(data: bytes) -> tuple[str, np.ndarray]:
    fields = _fields(data)
    name = next((bytes(v).decode() for f, _, v in fields if f == _TENSOR_NAME), "")
    dims = tuple(v for f, w, v in fields if f == _TENSOR_DIMS and w == 0)
    kind = next(v for f, _, v in fields if f == _TENSOR_DATA_TYPE)
    raw = [v for f, _, v in fields if f == _TENSOR_RAW_DATA]
    if raw:
        return name, np.frombuffer(raw[0], _NUMPY[kind]).reshape(dims)
    if kind != _INT64:
        raise ValueError(f"tensor {name!r}: type {kind} without raw_data")
    values = []
    for f, w, v in fields:
        if f == _TENSOR_INT64_DATA and w == 0:
            values.append(_signed(v))
        elif f == _TENSOR_INT64_DATA:  # packed: varints one after the other
            offset = 0
            while offset < len(v):
                value, offset = _varint(v, offset)
                values.append(_signed(value))
    return name, np.array(values, np.int64).reshape(dims)


def _attribute(node: _Node, name: str):
    for f, _, value in node.rest:
        if f != _NODE_ATTRIBUTE:
            continue
        fields = _fields(value)
        if next((v for k, _, v in fields if k == _ATTRIBUTE_NAME), b"") != name.encode():
            continue
        for k, _, v in fields:
            if k == _ATTRIBUTE_I:
                return _signed(v)
            if k == _ATTRIBUTE_T:
                return _read_tensor(v)[1]
    return None


def _value_shapes(graph: list) -> dict[str, tuple[int, ...]]:
    """Static shapes the file records (``value_info``, inputs, outputs), by tensor name."""
    shapes = {}
    for f, _, value in graph:
        if f not in (_GRAPH_VALUE_INFO, _GRAPH_INPUT, _GRAPH_OUTPUT):
            continue
        info = _fields(value)
        name = next(bytes(v).decode() for k, _, v in info if k == _VALUE_NAME)
        for k, _, type_proto in info:
            if k != _VALUE_TYPE:
                continue
            for t, _, tensor_type in _fields(type_proto):
                if t != _TYPE_TENSOR:
                    continue
                for s, _, shape in _fields(tensor_type):
                    if s != _TENSOR_TYPE_SHAPE:
                        continue
                    dims = [next((v for d, w, v in _fields(dim) if d == _DIM_VALUE and w == 0),
                                 None) for k2, _, dim in _fields(shape) if k2 == _SHAPE_DIM]
                    if None not in dims:
                        shapes[name] = tuple(dims)
    return shapes


def _value_name(data: bytes) -> str:
    return next(bytes(v).decode() for f, _, v in _fields(data) if f == _VALUE_NAME)


def _topological(nodes: list[_Node], available: set[str]) -> list[_Node]:
    """``nodes`` in an order where each runs after its inputs' producers: each step takes the
    first node in list order whose inputs are ready, so nodes listed together stay together
    (a split ``Sum``'s strips run one after the other: see :func:`_split_sums`)."""
    done, ordered, waiting = set(available) | {""}, [], list(nodes)
    while waiting:
        index = next((i for i, n in enumerate(waiting) if all(x in done for x in n.inputs)),
                     None)
        if index is None:
            missing = sorted({i for n in waiting for i in n.inputs if i not in done})[:5]
            raise ValueError(f"the graph has inputs no node or initializer gives: {missing}")
        node = waiting.pop(index)
        done.update(node.outputs)
        ordered.append(node)
    return ordered


def quantize_static(data: bytes, activations: dict[str, tuple[float, int]]) -> bytes:
    """The float16 ONNX model ``data`` as a static QDQ model (int8 weights, uint8 activations).

    Parameters
    ----------
    data : bytes
        A serialized ONNX ModelProto with float16 ``Conv`` weights and biases, its float16
        compute wrapped in ``Cast`` nodes, default-domain opset 13 or later, and static shapes
        recorded for every tensor a ``Shape`` node reads.
    activations : dict of str to (float, int)
        ``{tensor name: (scale, zero point)}`` for the graph's input and for every float
        output of a node in :data:`QUANTIZED_OPS` (a ``Conv`` followed by a ``Relu``: the
        ``Relu``'s output). The scale is stored as float32, the zero point as uint8.

    Returns
    -------
    bytes
        The QDQ model: float32 input and outputs, as the source's.

    Raises
    ------
    ValueError
        If the table misses a tensor or names one the graph does not quantize, a ``Relu``'s
        zero point is not 0, or the graph is not of the expected form.
    """
    model = _fields(data)
    graph_index = next(i for i, (f, w, _) in enumerate(model) if f == _MODEL_GRAPH and w == 2)
    graph = _fields(model[graph_index][2])
    shapes = _value_shapes(graph)
    inputs = [_value_name(v) for f, _, v in graph if f == _GRAPH_INPUT]
    outputs = {_value_name(v) for f, _, v in graph if f == _GRAPH_OUTPUT}
    weights = dict(_read_tensor(v) for f, _, v in graph if f == _GRAPH_INITIALIZER)
    nodes = []
    for f, _, value in graph:
        if f != _GRAPH_NODE:
            continue
        fields = _fields(value)
        nodes.append(_Node(
            op=next(bytes(v).decode() for k, _, v in fields if k == _NODE_OP_TYPE),
            inputs=[bytes(v).decode() for k, _, v in fields if k == _NODE_INPUT],
            outputs=[bytes(v).decode() for k, _, v in fields if k == _NODE_OUTPUT],
            rest=[(k, w, v) for k, w, v in fields if k not in (_NODE_INPUT, _NODE_OUTPUT)]))
    nodes = _topological(nodes, set(inputs) | set(weights))
    nodes = _drop_casts(nodes, outputs)
    nodes, sizes = _evaluate_sizes(nodes, shapes)
    nodes = _drop_relus(nodes, activations)
    nodes = [_sum_for_add(n) for n in nodes]
    nodes, tensors = _quantize(nodes, inputs, outputs, weights, activations)
    nodes, bounds = _split_sums(nodes, shapes)
    tensors += [_tensor(name, value, _INT64) for name, value in {**sizes, **bounds}.items()]
    nodes = _topological(nodes, set(inputs) | {_read_name(t) for t in tensors})
    kept = [(f, w, v) for f, w, v in graph
            if f not in (_GRAPH_NODE, _GRAPH_INITIALIZER, _GRAPH_VALUE_INFO)]
    new_graph = [(_GRAPH_NODE, 2, n.encode()) for n in nodes]
    new_graph += [(_GRAPH_INITIALIZER, 2, t) for t in tensors] + kept
    model[graph_index] = (_MODEL_GRAPH, 2, _encode(new_graph))
    return _encode(model)


def _read_name(tensor: bytes) -> str:
    return next(bytes(v).decode() for f, _, v in _fields(tensor) if f == _TENSOR_NAME)


def _consumers(nodes: list[_Node]) -> dict[str, list[_Node]]:
    users: dict[str, list[_Node]] = {}
    for node in nodes:
        for name in node.inputs:
            users.setdefault(name, []).append(node)
    return users


def _rename_inputs(nodes: list[_Node], alias: dict[str, str]) -> None:
    def resolve(name: str) -> str:
        while name in alias:
            name = alias[name]
        return name

    for node in nodes:
        node.inputs = [resolve(n) for n in node.inputs]


def _drop_casts(nodes: list[_Node], outputs: set[str]) -> list[_Node]:
    """Without the float16 file's casts: each cast's consumers read its input. A cast that
    gives a graph output renames its input's producer when nothing else reads that input,
    and becomes an ``Identity`` otherwise."""
    users = _consumers(nodes)
    producer = {o: n for n in nodes for o in n.outputs}
    alias, kept = {}, []
    for node in nodes:
        if node.op != "Cast":
            kept.append(node)
            continue
        if _attribute(node, "to") not in (_FLOAT, _FLOAT16):
            raise ValueError(f"a cast to type {_attribute(node, 'to')}: not a float16 file's")
        source, target = node.inputs[0], node.outputs[0]
        if target not in outputs:
            alias[target] = source
        elif len(users.get(source, [])) == 1 and source in producer:
            owner = producer[source]
            owner.outputs = [target if o == source else o for o in owner.outputs]
        else:
            node.op = "Identity"
            node.rest = [(k, w, v) for k, w, v in node.rest if k != _NODE_ATTRIBUTE]
            node.rest = [(k, w, b"Identity" if k == _NODE_OP_TYPE else v)
                         for k, w, v in node.rest]
            kept.append(node)
    _rename_inputs(kept, alias)
    return kept


def _evaluate_sizes(nodes: list[_Node], shapes: dict) -> tuple[list[_Node], dict]:
    """The integer chains (``Constant``, ``Shape``, ``Slice``, ``Concat``) evaluated; each
    ``Resize``'s sizes becomes a constant. Returns the other nodes and ``{name: int64 array}``."""
    known: dict[str, np.ndarray] = {}
    for node in nodes:
        if node.op == "Constant":
            known[node.outputs[0]] = np.asarray(_attribute(node, "value"), np.int64)
        elif node.op == "Shape":
            if node.inputs[0] not in shapes:
                raise ValueError(f"no static shape recorded for {node.inputs[0]!r}")
            known[node.outputs[0]] = np.array(shapes[node.inputs[0]], np.int64)
        elif node.op == "Slice" and all(i in known for i in node.inputs if i):
            data, starts, ends, *rest = (known[i] if i else None for i in node.inputs)
            axes = rest[0] if rest and rest[0] is not None else np.arange(len(starts))
            steps = rest[1] if len(rest) > 1 and rest[1] is not None else np.ones_like(starts)
            if data.ndim != 1 or list(axes) != [0]:
                raise ValueError("only one-dimensional Slice on sizes is evaluated")
            known[node.outputs[0]] = data[int(starts[0]):int(ends[0]):int(steps[0])]
        elif node.op == "Concat" and all(i in known for i in node.inputs):
            known[node.outputs[0]] = np.concatenate([known[i] for i in node.inputs])
    rest = [n for n in nodes if not (n.op in _SIZE_OPS and n.outputs[0] in known)]
    needed = {i for n in rest for i in n.inputs} & set(known)
    return rest, {name: known[name] for name in sorted(needed)}


def _drop_relus(nodes: list[_Node], activations: dict) -> list[_Node]:
    """Each ``Relu`` that alone reads a ``Conv``'s output goes; the ``Conv`` writes its output."""
    users = _consumers(nodes)
    producer = {o: n for n in nodes for o in n.outputs}
    kept = []
    for node in nodes:
        source = node.inputs[0] if node.inputs else None
        owner = producer.get(source)
        if node.op == "Relu" and owner is not None and owner.op == "Conv" \
                and len(users[source]) == 1:
            target = node.outputs[0]
            if target not in activations or int(activations[target][1]) != 0:
                raise ValueError(f"{target!r}: a Relu's output needs zero point 0 to be dropped")
            owner.outputs = [target]
            continue
        kept.append(node)
    return kept


def _sum_for_add(node: _Node) -> _Node:
    """``Add`` written as ``Sum``: the same float addition between its DQ and Q pairs, which
    onnxruntime does not fuse. Its fused integer ``Add`` (``QLinearAdd``) rounds differently
    natively (x86) and in WASM: outputs within 1e-5 of a half step come out one step apart,
    and those steps grow through the network (up to 0.06 in the mask). As ``Sum`` the CLI and
    the page give the same output; the page's run time grows by 2-3%."""
    if node.op != "Add":
        return node
    rest = [(k, w, b"Sum" if k == _NODE_OP_TYPE else v) for k, w, v in node.rest]
    return _Node("Sum", node.inputs, node.outputs, rest)


#: A float ``Sum`` over more values than this runs in strips of rows (see _split_sums).
SUM_STRIP_VALUES = 1 << 21


def _split_sums(nodes: list[_Node], shapes: dict) -> tuple[list[_Node], dict]:
    """Each big ``Sum`` (with its DQ inputs and its Q) done in strips of rows, the uint8
    strips concatenated: the float32 copies of its inputs and output, 4 bytes a value, then
    exist for one strip at a time, not for the whole tensor (in stage 1: three of 64 MiB each,
    about 200 MiB at the peak). Value for value the same result. Returns the nodes (in
    order: one strip after the other) and the int64 constants the slices read."""
    users = _consumers(nodes)
    producer = {o: n for n in nodes for o in n.outputs}
    bounds: dict[str, np.ndarray] = {}
    replaced: dict[int, list[_Node]] = {}  # id of a node -> the nodes in its place
    for node in nodes:
        shape = shapes.get(node.outputs[0])
        if node.op != "Sum" or shape is None or int(np.prod(shape)) <= SUM_STRIP_VALUES:
            continue
        (quantize,) = users[node.outputs[0]]
        rows = shape[2]
        parts = min(rows, -(-int(np.prod(shape)) // SUM_STRIP_VALUES))
        edges = [rows * k // parts for k in range(parts + 1)]
        dequantizers = [producer[i] for i in node.inputs]
        new, pieces = [], []
        for k in range(parts):
            start, end = f"rows.{edges[k]}", f"rows.{edges[k + 1]}"
            bounds[start], bounds[end] = np.array([edges[k]]), np.array([edges[k + 1]])
            bounds["rows.axis"] = np.array([2])
            strip = f"{node.outputs[0]}/rows{k}"
            floats = []
            for j, dq in enumerate(dequantizers):
                sliced = f"{strip}/in{j}.q"
                new.append(_new_node("Slice", [dq.inputs[0], start, end, "rows.axis"], sliced))
                floats.append(f"{strip}/in{j}")
                new.append(_new_node("DequantizeLinear", [sliced, *dq.inputs[1:]], floats[-1]))
            new.append(_new_node("Sum", floats, strip))
            pieces.append(f"{strip}.q")
            new.append(_new_node("QuantizeLinear", [strip, *quantize.inputs[1:]], pieces[-1]))
        replaced[id(node)] = new + [_new_node("Concat", pieces, quantize.outputs[0], axis=2)]
        replaced[id(quantize)] = []
        for dq in dequantizers:  # a DQ that fed only this Sum goes
            if len(users[dq.outputs[0]]) == 1:
                replaced[id(dq)] = []
    out = []
    for node in nodes:
        out += replaced.get(id(node), [node])
    return out, bounds


def _quantize(nodes, inputs, outputs, weights, activations):
    """Q/DQ pairs on the activations, int8 weights and int32 biases behind DQ nodes; each
    new node listed next to the node it belongs to (the order onnxruntime runs them in)."""
    producer = {o: n for n in nodes for o in n.outputs}
    float_tensors = [n for n in inputs]
    float_tensors += [o for n in nodes if n.op in QUANTIZED_OPS for o in n.outputs]
    missing = [t for t in float_tensors if t not in activations]
    extra = sorted(set(activations) - set(float_tensors))
    if missing or extra:
        raise ValueError(f"activation table does not fit the graph: missing {missing[:3]}, "
                         f"unused {extra[:3]}")
    tensors, after, before, dequantized = [], {}, {}, {}
    for name in float_tensors:
        scale, zero = activations[name]
        tensors.append(_tensor(f"{name}.scale", np.float32(scale), _FLOAT))
        tensors.append(_tensor(f"{name}.zero", np.uint8(zero), _UINT8))
        source = name
        if name in outputs:  # the graph output is the DQ's; the producer's is renamed
            source = f"{name}.float"
            owner = producer[name]
            owner.outputs = [source if o == name else o for o in owner.outputs]
            dequantized_name = name
        else:
            dequantized_name = f"{name}.dq"
        after[source] = [
            _new_node("QuantizeLinear", [source, f"{name}.scale", f"{name}.zero"], f"{name}.q"),
            _new_node("DequantizeLinear", [f"{name}.q", f"{name}.scale", f"{name}.zero"],
                      dequantized_name)]
        dequantized[name] = dequantized_name
    for node in nodes:
        node.inputs = [dequantized.get(i, i) for i in node.inputs]
    activation_of = {v: k for k, v in dequantized.items()}
    used = set()
    for node in nodes:
        if node.op != "Conv":
            continue
        source = activation_of.get(node.inputs[0])
        if source is None:
            raise ValueError(f"a Conv reads {node.inputs[0]!r}, which has no Q/DQ pair")
        weight_name = node.inputs[1]
        q, scale = quantize_channels(weights[weight_name].astype(np.float32))
        channels = q.shape[0]
        tensors += [_tensor(f"{weight_name}.int8", q, _INT8),
                    _tensor(f"{weight_name}.scale", scale, _FLOAT),
                    _tensor(f"{weight_name}.zero", np.zeros(channels, np.int8), _INT8)]
        before[id(node)] = [_new_node("DequantizeLinear", [f"{weight_name}.int8",
                                   f"{weight_name}.scale", f"{weight_name}.zero"], weight_name,
                                   axis=0)]
        used.add(weight_name)
        if len(node.inputs) > 2 and node.inputs[2]:
            bias_name = node.inputs[2]
            # onnxruntime's integer convolution reads the bias in these steps.
            bias_scale = np.float32(activations[source][0]) * scale
            bias = np.rint(weights[bias_name].astype(np.float64) / bias_scale.astype(np.float64))
            tensors += [_tensor(f"{bias_name}.int32", bias.astype(np.int32), _INT32),
                        _tensor(f"{bias_name}.scale", bias_scale, _FLOAT),
                        _tensor(f"{bias_name}.zero", np.zeros(channels, np.int32), _INT32)]
            before[id(node)].append(_new_node("DequantizeLinear", [f"{bias_name}.int32",
                                              f"{bias_name}.scale", f"{bias_name}.zero"],
                                              bias_name, axis=0))
            used.add(bias_name)
    left = sorted(set(weights) - used)
    if left:
        raise ValueError(f"initializers outside a Conv's weight or bias: {left[:3]}")
    ordered = [n for name in inputs for n in after[name]]
    for node in nodes:
        ordered += before.get(id(node), []) + [node]
        ordered += [n for name in node.outputs for n in after.get(name, [])]
    return ordered, tensors
