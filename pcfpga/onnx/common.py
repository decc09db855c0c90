"""What reading and writing ONNX share: the error, the ``onnx`` library (optional), the
opset, the activations' ONNX ops and the rule that turns ONNX names into node names.

Node names: a node takes the name of the ONNX node that starts it (for a dense node, its
first Gemm or MatMul) with the trailing ``/<OpType>`` or ``/<OpType>_<k>`` of a scoped name
dropped, as exporters write them (PyTorch's ``/h1/Gemm`` names node ``h1``; pcfpga's export
writes ``/<node>/<OpType>``, so that the names come back); a name that is not an identifier
has each run of other characters replaced by ``_``, a leading digit prefixed with ``n``,
and is cut to :data:`~pcfpga.golden.graph.MAX_NAME` characters; one already taken gets
``_2``, ``_3``, ...

>>> scope_name("/h1/Gemm", "Gemm"), scope_name("/Tanh_1", "Tanh"), scope_name("", "Mul")
('/h1', '/Tanh_1', 'Mul')
>>> identifier("/h1"), identifier("/encoder/0"), identifier("/0"), identifier("h-1.b")
('h1', 'encoder_0', 'n0', 'h_1_b')
>>> unique("h", {"h", "h_2"})
'h_3'
"""

from __future__ import annotations

import re

from ..golden.graph import MAX_NAME

__all__ = ["OnnxError", "need_onnx", "OPSET", "IR_VERSION", "METADATA_KEY", "ACT_OPS",
           "LEAKY_SLOPE", "HARDSIGMOID", "HARDTANH", "scope_name", "identifier", "unique"]

#: The opset of the default domain that export writes (and the fixtures were written with).
OPSET = 17
#: The IR version export writes: the one of opset 17 (onnxruntime reads it since 1.13).
IR_VERSION = 8
#: The model's metadata key under which export stores the graph's [format] and [learning]
#: tables (JSON), so that import gives back the same settings.
METADATA_KEY = "pcfpga"
#: pcfpga activation -> ONNX op (hardtanh is Clip to [-1, 1]; identity writes no op).
ACT_OPS = {"relu": "Relu", "leaky_relu": "LeakyRelu", "hardtanh": "Clip",
           "hardsigmoid": "HardSigmoid", "tanh": "Tanh", "sigmoid": "Sigmoid"}
#: leaky_relu's negative slope (LeakyRelu's alpha).
LEAKY_SLOPE = 1 / 64
#: hardsigmoid = clip(alpha a + beta, 0, 1): HardSigmoid's (alpha, beta).
HARDSIGMOID = (0.25, 0.5)
#: hardtanh = clip(a, min, max): Clip's (min, max).
HARDTANH = (-1.0, 1.0)

_SCOPED = re.compile(r"(.*[^/])/+([A-Za-z]+)(?:_\d+)?")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class OnnxError(ValueError):
    """A model that cannot become a pcfpga graph, or a missing ``onnx`` library; the
    message names the op, node or tensor and what was expected."""


def need_onnx():
    """The ``onnx`` module, or an :class:`OnnxError` saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise OnnxError("ONNX import and export need the onnx package: pip install "
                        "'pcfpga[onnx]'") from None
    return onnx


def scope_name(name: str, op_type: str) -> str:
    """An ONNX node's name without its trailing ``/<op_type>[_k]`` (when a scope stands
    before it); the op type when the node has no name."""
    m = _SCOPED.fullmatch(name)
    if m and m.group(2) == op_type:
        return m.group(1)
    return name or op_type


def identifier(text: str) -> str:
    """``text`` made a node name: an ASCII identifier of at most MAX_NAME characters."""
    stripped = text.strip("/")
    if not _IDENTIFIER.fullmatch(stripped):
        stripped = re.sub(r"[^A-Za-z0-9_]+", "_", stripped).strip("_") or "node"
        if stripped[0].isdigit():
            stripped = f"n{stripped}"
    return stripped[:MAX_NAME]


def unique(name: str, taken: set) -> str:
    """``name``, or ``name_2``, ``name_3``, ... (cut to fit MAX_NAME): the first not in
    ``taken``."""
    k = 1
    candidate = name
    while candidate in taken:
        k += 1
        suffix = f"_{k}"
        candidate = name[:MAX_NAME - len(suffix)] + suffix
    return candidate
