"""Store a model's convolution weights as int8 per output channel, with no ``onnx`` package.

Each float16 ``Conv`` weight ``W`` of shape ``(out, in, kh, kw)`` becomes an int8 initializer
``q`` and a float32 scale per output channel ``s``, and nodes in front of the convolution
compute ``W = float16(float32(q) * s)``. Activations stay float: only the download shrinks, by
half. The quantization is symmetric (zero point 0, ``q`` in -127..127) because a convolution's
weights are centred near zero; -128 is left out so that the range is the same on both sides.

How ``q * s`` is written decides what onnxruntime makes of it (``form``):

``"fold"`` (the default, what offcut serves)
    ``Cast(q, float32) * s`` then ``Cast(float16)``. These are ordinary ops on constants, so
    onnxruntime folds them into float weights while it creates the session: the graph it runs
    is the one the float16 file gives it, node for node, at the same speed (on x86 its NCHWc
    convolutions need constant weights).
``"dequantize"``
    ``DequantizeLinear(q, s, 0, axis=0)`` then ``Cast(float16)`` (below opset 19 the node
    outputs float32 only, hence the float32 scale and the cast). onnxruntime never folds
    ``DequantizeLinear`` (it keeps it for its quantized-operator fusions), so the weights are
    dequantized on every run and the convolutions lose their NCHWc form: lower memory, but
    slower on x86 (docs/quality.md has the numbers). Kept for the benchmark.

Everything else is copied byte for byte, and the arithmetic is numpy on IEEE doubles, so the
result is deterministic and its SHA-256 can be pinned.
"""

from __future__ import annotations

import numpy as np

from offcut.onnx_resize import _encode, _fields

# Field numbers from onnx.proto3 (the ones onnx_resize does not name).
_MODEL_OPSET_IMPORT, _MODEL_GRAPH = 8, 7
_OPSET_DOMAIN, _OPSET_VERSION = 1, 2
_GRAPH_NODE, _GRAPH_INITIALIZER = 1, 5
_NODE_INPUT, _NODE_OUTPUT, _NODE_NAME, _NODE_OP_TYPE, _NODE_ATTRIBUTE = 1, 2, 3, 4, 5
_ATTRIBUTE_NAME, _ATTRIBUTE_I, _ATTRIBUTE_TYPE, _ATTRIBUTE_TYPE_INT = 1, 3, 20, 2
_TENSOR_DIMS, _TENSOR_DATA_TYPE, _TENSOR_NAME, _TENSOR_RAW_DATA = 1, 2, 8, 9
_FLOAT, _INT8, _FLOAT16 = 1, 3, 10

#: The largest magnitude of a quantized weight.
LEVELS = 127


def quantize_channels(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric int8 quantization of ``weight`` per index of its first axis.

    Parameters
    ----------
    weight : ndarray
        Float weights, first axis the output channel.

    Returns
    -------
    q : ndarray of int8
        ``weight`` in steps of its channel's scale, in -127..127.
    scale : ndarray of float32, shape ``(weight.shape[0],)``
        The step per channel. It is rounded *up* to float32, so the channel's largest weight
        never needs more than 127 steps and no weight is clipped: every weight is within half
        a step of ``q * scale``. An all-zero channel gets a scale of 1.
    """
    flat = weight.reshape(weight.shape[0], -1).astype(np.float64)
    amax = np.abs(flat).max(axis=1)
    exact = np.where(amax > 0, amax / LEVELS, 1.0)
    scale = exact.astype(np.float32)
    low = scale.astype(np.float64) < exact
    scale[low] = np.nextafter(scale[low], np.float32(np.inf))
    q = np.rint(flat / scale.astype(np.float64)[:, None])
    # Rounded up, the scale keeps |q| <= 127 already; the clip only states the contract.
    q = np.clip(q, -LEVELS, LEVELS).astype(np.int8)
    return q.reshape(weight.shape), scale


def _tensor(name: bytes, data_type: int, dims: tuple[int, ...], raw: bytes) -> bytes:
    fields = [(_TENSOR_DIMS, 0, d) for d in dims]
    fields += [(_TENSOR_DATA_TYPE, 0, data_type), (_TENSOR_NAME, 2, name),
               (_TENSOR_RAW_DATA, 2, raw)]
    return _encode(fields)


def _node(op_type: bytes, inputs: list[bytes], output: bytes, ints: dict[bytes, int]) -> bytes:
    fields = [(_NODE_INPUT, 2, name) for name in inputs]
    fields += [(_NODE_OUTPUT, 2, output), (_NODE_NAME, 2, output + b"_" + op_type),
               (_NODE_OP_TYPE, 2, op_type)]
    fields += [(_NODE_ATTRIBUTE, 2, int_attribute(key, value)) for key, value in ints.items()]
    return _encode(fields)


def int_attribute(name: bytes, value: int) -> bytes:
    """An encoded AttributeProto holding the non-negative int ``value``."""
    return _encode([(_ATTRIBUTE_NAME, 2, name), (_ATTRIBUTE_I, 0, value),
                    (_ATTRIBUTE_TYPE, 0, _ATTRIBUTE_TYPE_INT)])


def _default_opset(model: list) -> int:
    for field, wire, value in model:
        if field == _MODEL_OPSET_IMPORT and wire == 2:
            entry = _fields(value)
            if not any(f == _OPSET_DOMAIN and v not in (b"", b"ai.onnx") for f, _, v in entry):
                return next(v for f, _, v in entry if f == _OPSET_VERSION)
    raise ValueError("the model imports no default-domain opset")


def conv_weights(data: bytes) -> dict[str, np.ndarray]:
    """The float16 ``Conv`` weight initializers of the ONNX model ``data``, by name.

    Parameters
    ----------
    data : bytes
        A serialized ONNX ModelProto.

    Returns
    -------
    dict of str to ndarray
        Each weight (input 1 of a ``Conv``) stored as float16 ``raw_data`` with four dims.
    """
    model = _fields(data)
    graph = _fields(next(v for f, w, v in model if f == _MODEL_GRAPH and w == 2))
    names = set()
    for field, wire, value in graph:
        if field == _GRAPH_NODE and wire == 2:
            node = _fields(value)
            if any(f == _NODE_OP_TYPE and v == b"Conv" for f, _, v in node):
                inputs = [bytes(v) for f, _, v in node if f == _NODE_INPUT]
                if len(inputs) > 1:
                    names.add(inputs[1])
    weights = {}
    for field, wire, value in graph:
        if field != _GRAPH_INITIALIZER or wire != 2:
            continue
        tensor = _fields(value)
        name = next((bytes(v) for f, _, v in tensor if f == _TENSOR_NAME), b"")
        dims = tuple(v for f, w, v in tensor if f == _TENSOR_DIMS and w == 0)
        kinds = [v for f, _, v in tensor if f == _TENSOR_DATA_TYPE]
        raws = [v for f, _, v in tensor if f == _TENSOR_RAW_DATA]
        if name in names and kinds == [_FLOAT16] and len(dims) == 4 and len(raws) == 1:
            weights[name.decode()] = np.frombuffer(raws[0], "<f2").reshape(dims)
    return weights


def quantize_weights(data: bytes, form: str = "fold", keep_below: int = 0) -> bytes:
    """The ONNX model ``data`` with its float16 ``Conv`` weights stored as int8 per channel.

    Parameters
    ----------
    data : bytes
        A serialized ONNX ModelProto whose default-domain opset is 13 or later (per-axis
        ``DequantizeLinear``; ``Cast`` and broadcasting ``Mul`` need no more).
    form : {"fold", "dequantize"}
        How the weights are computed back: see the module's docstring.
    keep_below : int
        Weights with fewer elements than this stay float16.

    Returns
    -------
    bytes
        The model with each weight ``W`` replaced by ``W.int8`` (int8, ``W``'s shape) and
        ``W.scale`` (float32, one per output channel: shape ``(out, 1, 1, 1)`` for ``"fold"``,
        ``(out,)`` plus int8 zeros ``W.zero`` for ``"dequantize"``), and the nodes that give
        ``W`` back as float16, placed first in the graph.

    Raises
    ------
    ValueError
        If the opset is too old, ``form`` is unknown or the model has no float16 ``Conv``
        weight.
    """
    if form not in ("fold", "dequantize"):
        raise ValueError(f"unknown form {form!r}")
    model = _fields(data)
    if _default_opset(model) < 13:
        raise ValueError("per-channel DequantizeLinear needs opset 13 or later")
    weights = {k: v for k, v in conv_weights(data).items() if v.size >= keep_below}
    if not weights:
        raise ValueError("no float16 Conv weights found: is this the expected graph?")
    graph_index = next(i for i, (f, w, _) in enumerate(model) if f == _MODEL_GRAPH and w == 2)
    graph, new_nodes = [], []
    for field, wire, value in _fields(model[graph_index][2]):
        name = None
        if field == _GRAPH_INITIALIZER and wire == 2:
            name = next((bytes(v) for f, _, v in _fields(value) if f == _TENSOR_NAME), b"")
        if name is None or name.decode() not in weights:
            graph.append((field, wire, value))
            continue
        weight = weights[name.decode()]
        q, scale = quantize_channels(weight)
        out = weight.shape[0]
        quantized, scale_name, wide = name + b".int8", name + b".scale", name + b".float"
        # In the float16 weight's place, so the initializers keep the source's order.
        graph.append((_GRAPH_INITIALIZER, 2, _tensor(quantized, _INT8, weight.shape, q.tobytes())))
        scale_bytes = scale.astype("<f4").tobytes()
        if form == "fold":
            graph.append((_GRAPH_INITIALIZER, 2,
                          _tensor(scale_name, _FLOAT, (out, 1, 1, 1), scale_bytes)))
            steps = name + b".steps"
            new_nodes.append(_node(b"Cast", [quantized], steps, {b"to": _FLOAT}))
            new_nodes.append(_node(b"Mul", [steps, scale_name], wide, {}))
        else:
            zero = name + b".zero"
            graph.append((_GRAPH_INITIALIZER, 2, _tensor(scale_name, _FLOAT, (out,), scale_bytes)))
            graph.append((_GRAPH_INITIALIZER, 2, _tensor(zero, _INT8, (out,), bytes(out))))
            new_nodes.append(_node(b"DequantizeLinear", [quantized, scale_name, zero], wide,
                                   {b"axis": 0}))
        new_nodes.append(_node(b"Cast", [wide], name, {b"to": _FLOAT16}))
    first_node = next(i for i, (f, _, _) in enumerate(graph) if f == _GRAPH_NODE)
    graph[first_node:first_node] = [(_GRAPH_NODE, 2, node) for node in new_nodes]
    model[graph_index] = (_MODEL_GRAPH, 2, _encode(graph))
    return _encode(model)
