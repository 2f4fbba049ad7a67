"""Run a fully convolutional ONNX model at another square input size, with no ``onnx`` package.

IS-Net's graph takes any input side divisible by 64 (its convolutions do not care, and most of
its resizes read their target size from the tensors at run time), but the exporter fixed three
things at 1024: the declared input and output shapes, the shapes it inferred for every
intermediate tensor (``value_info``), and a few resize targets traced as constants
(``[32, 32]``, ``[512, 512]``, ``[1024, 1024]``). :func:`resize_input` rewrites exactly those
in the protobuf: dims of the graph's inputs and outputs are scaled, ``value_info`` is dropped
(onnxruntime infers the shapes again), and two-element int64 constants that feed a ``Concat``
(the traced ``sizes`` of a ``Resize``) are scaled. Everything else is copied byte for byte, so
the result is deterministic and its SHA-256 can be pinned.
"""

from __future__ import annotations

import struct

# Field numbers from onnx.proto3.
_MODEL_GRAPH = 7
_GRAPH_NODE, _GRAPH_INPUT, _GRAPH_OUTPUT, _GRAPH_VALUE_INFO = 1, 11, 12, 13
_NODE_INPUT, _NODE_OUTPUT, _NODE_OP_TYPE, _NODE_ATTRIBUTE = 1, 2, 4, 5
_ATTRIBUTE_TENSOR = 5
_TENSOR_DIMS, _TENSOR_DATA_TYPE, _TENSOR_RAW_DATA = 1, 2, 9
_VALUE_TYPE, _TYPE_TENSOR, _TENSOR_TYPE_SHAPE, _SHAPE_DIM, _DIM_VALUE = 2, 1, 2, 1, 1
_INT64 = 7


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7


def _encode_varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _fields(data: bytes) -> list[tuple[int, int, object]]:
    """``[(field, wire type, value)]``: an int for varints, bytes for everything else."""
    out, offset = [], 0
    while offset < len(data):
        key, offset = _varint(data, offset)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, offset = _varint(data, offset)
        elif wire == 2:
            length, offset = _varint(data, offset)
            value, offset = data[offset:offset + length], offset + length
        elif wire == 1:
            value, offset = data[offset:offset + 8], offset + 8
        elif wire == 5:
            value, offset = data[offset:offset + 4], offset + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        out.append((field, wire, value))
    return out


def _encode(fields: list[tuple[int, int, object]]) -> bytes:
    out = bytearray()
    for field, wire, value in fields:
        out += _encode_varint(field << 3 | wire)
        if wire == 0:
            out += _encode_varint(value)
        elif wire == 2:
            out += _encode_varint(len(value)) + value
        else:
            out += value
    return bytes(out)


def _replace(fields, field_number: int, edit) -> list:
    """``fields`` with every length-delimited ``field_number`` value passed through ``edit``."""
    return [(f, w, edit(v) if f == field_number and w == 2 else v) for f, w, v in fields]


def _scale_spatial_dims(value_info: bytes, factor: float) -> bytes:
    """A ValueInfoProto with dims 2 and 3 of its tensor shape multiplied by ``factor``."""

    def shape(data: bytes) -> bytes:
        fields, spatial = _fields(data), 0
        for index, (field, wire, dim) in enumerate(fields):
            if field != _SHAPE_DIM:
                continue
            if spatial in (2, 3):
                dim_fields = [(f, w, round(v * factor) if f == _DIM_VALUE and w == 0 else v)
                              for f, w, v in _fields(dim)]
                fields[index] = (field, wire, _encode(dim_fields))
            spatial += 1
        return _encode(fields)

    def tensor_type(data: bytes) -> bytes:
        return _encode(_replace(_fields(data), _TENSOR_TYPE_SHAPE, shape))

    def type_proto(data: bytes) -> bytes:
        return _encode(_replace(_fields(data), _TYPE_TENSOR, tensor_type))

    return _encode(_replace(_fields(value_info), _VALUE_TYPE, type_proto))


def _scaled_size_constant(node_fields: list, factor: float) -> list | None:
    """The Constant node's fields with its ``[n, n]`` int64 value scaled, or None."""
    for index, (field, wire, attribute) in enumerate(node_fields):
        if field != _NODE_ATTRIBUTE:
            continue
        attribute_fields = _fields(attribute)
        for a_index, (a_field, a_wire, tensor) in enumerate(attribute_fields):
            if a_field != _ATTRIBUTE_TENSOR:
                continue
            tensor_fields = _fields(tensor)
            dims = [v for f, w, v in tensor_fields if f == _TENSOR_DIMS and w == 0]
            kinds = [v for f, w, v in tensor_fields if f == _TENSOR_DATA_TYPE]
            raws = [v for f, w, v in tensor_fields if f == _TENSOR_RAW_DATA]
            if dims != [2] or kinds != [_INT64] or len(raws) != 1 or len(raws[0]) != 16:
                return None
            first, second = struct.unpack("<2q", raws[0])
            if first != second or first < 8 or (first * factor) % 1:
                return None
            scaled = struct.pack("<2q", *(round(first * factor),) * 2)
            tensor_fields = [(f, w, scaled if f == _TENSOR_RAW_DATA else v)
                             for f, w, v in tensor_fields]
            attribute_fields[a_index] = (a_field, a_wire, _encode(tensor_fields))
            node_fields = list(node_fields)
            node_fields[index] = (field, wire, _encode(attribute_fields))
            return node_fields
    return None


def resize_input(data: bytes, size: int, native: int) -> bytes:
    """The ONNX model ``data`` (declared for ``native`` x ``native`` input) edited to take
    ``size`` x ``size``.

    Parameters
    ----------
    data : bytes
        A serialized ONNX ModelProto.
    size, native : int
        New and declared input sides; ``size`` should keep every pooled size integral
        (a multiple of 64 for IS-Net).

    Returns
    -------
    bytes
        The edited model; ``data`` itself when ``size == native``.
    """
    if size == native:
        return data
    factor = size / native
    model = _fields(data)
    graph_index = next(i for i, (f, w, _) in enumerate(model) if f == _MODEL_GRAPH and w == 2)
    graph = [entry for entry in _fields(model[graph_index][2]) if entry[0] != _GRAPH_VALUE_INFO]
    nodes = {index: _fields(value) for index, (field, _, value) in enumerate(graph)
             if field == _GRAPH_NODE}
    concat_inputs = {bytes(v) for node in nodes.values()
                     if any(f == _NODE_OP_TYPE and v == b"Concat" for f, _, v in node)
                     for f, _, v in node if f == _NODE_INPUT}
    edited = 0
    for index, node in nodes.items():
        is_constant = any(f == _NODE_OP_TYPE and v == b"Constant" for f, _, v in node)
        feeds_concat = any(f == _NODE_OUTPUT and bytes(v) in concat_inputs for f, _, v in node)
        if is_constant and feeds_concat:
            scaled = _scaled_size_constant(node, factor)
            if scaled is not None:
                graph[index] = (_GRAPH_NODE, 2, _encode(scaled))
                edited += 1
    if not edited:
        raise ValueError("no traced resize sizes found: is this the expected graph?")
    graph = [(f, w, _scale_spatial_dims(v, factor) if f in (_GRAPH_INPUT, _GRAPH_OUTPUT) else v)
             for f, w, v in graph]
    model[graph_index] = (_MODEL_GRAPH, 2, _encode(graph))
    return _encode(model)
