"""Networks in and out through ONNX: :func:`to_graph` reads a model written by PyTorch,
Keras (through tf2onnx) or any ONNX producer as a pcfpga graph and its parameters;
:func:`from_graph` writes a graph's forward pass with its (say, board-trained) parameters
as a model that onnxruntime, PyTorch or any ONNX consumer runs.

What import takes and how it maps the ops: :mod:`.reader`; what export writes:
:mod:`.writer`. The ``onnx`` package is an optional dependency (``pip install
'pcfpga[onnx]'``), imported when a function here is called; without it they raise an
:class:`OnnxError` saying so.

The parameters follow the project's convention, ``a_i = Σ_p W_{i,p} v_p + b_i`` with
``W_{i,p}`` of shape (size_i, size_p): PyTorch's ``nn.Linear.weight`` as it is, which
ONNX's ``Gemm(v, W, b, transB=1)`` multiplies; a ``MatMul(v, B)`` weight is transposed,
``W = Bᵀ``.
"""

from .common import OPSET, OnnxError
from .loading import load_model
from .reader import SUPPORTED_OPS, to_graph
from .writer import DTYPES, from_graph

__all__ = ["to_graph", "from_graph", "load_model", "OnnxError", "OPSET", "SUPPORTED_OPS",
           "DTYPES"]
