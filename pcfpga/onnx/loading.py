"""An ONNX model file read as untrusted input: bounded in size, parsed, checked by onnx's
checker, its weights inside it; and the pcfpga settings an export stored in its metadata.
"""

from __future__ import annotations

import json

from ..golden.graph import DEFAULT_FORMAT, DEFAULT_LEARNING
from ..golden.tomlfile import read_bounded
from .common import METADATA_KEY, OnnxError, need_onnx

__all__ = ["load_model", "parse_model", "check_model", "model_settings", "brief",
           "MAX_MODEL_BYTES"]

#: The largest model file read: far more than the largest graph the format allows needs
#: (2,048 nodes, each weight matrix of at most 65,536 elements).
MAX_MODEL_BYTES = 1 << 28


def load_model(path):
    """The ``onnx.ModelProto`` of file ``path`` (at most :data:`MAX_MODEL_BYTES`, weights
    inside the file), or an :class:`OnnxError` naming the file and the problem."""
    onnx = need_onnx()
    raw = read_bounded(path, MAX_MODEL_BYTES, "an ONNX model", OnnxError)
    if len(raw) > MAX_MODEL_BYTES:
        raise OnnxError(f"{path}: larger than {MAX_MODEL_BYTES:,} bytes")
    return parse_model(onnx, raw, str(path))


def parse_model(onnx, raw: bytes, where: str):
    """The ``onnx.ModelProto`` of ``raw`` bytes, or an :class:`OnnxError`."""
    try:
        model = onnx.load_model_from_string(raw)
    except Exception as e:          # protobuf's DecodeError, and what else a parser raises
        raise OnnxError(f"{where}: not an ONNX model ({brief(e)})") from None
    if not model.HasField("graph"):
        raise OnnxError(f"{where}: not an ONNX model (no graph)")
    return model


def brief(e) -> str:
    """An exception's message on one short line."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 160 else text[:160] + "..."


def check_model(onnx, model, where: str):
    """Refuse, with an :class:`OnnxError`, a model onnx's checker refuses or whose weights
    are not inside it."""
    try:
        onnx.checker.check_model(model)
    except Exception as e:          # ValidationError, and a protobuf error for odd fields
        raise OnnxError(f"{where}: not a valid ONNX model ({brief(e)})") from None
    for t in model.graph.initializer:
        if onnx.external_data_helper.uses_external_data(t):
            raise OnnxError(f"{where}: initializer {t.name!r} is stored in an external "
                            f"file; import reads models whose weights are inside them")
    if model.graph.sparse_initializer:
        raise OnnxError(f"{where}: sparse initializers are not supported")


def model_settings(model, where: str, settings: dict) -> tuple:
    """([format], [learning]) tables: the defaults, then the export's metadata, then
    ``settings`` (keys of either table)."""
    fmt, learning = {}, {}
    for prop in model.metadata_props:
        if prop.key == METADATA_KEY:
            try:
                meta = json.loads(prop.value)
                fmt.update(meta["format"])
                learning.update(meta["learning"])
            except (ValueError, KeyError, TypeError):
                raise OnnxError(f"{where}: metadata {METADATA_KEY!r} is not the JSON "
                                f"pcfpga export writes ({{\"format\": ..., \"learning\": "
                                f"...}})") from None
    for key, value in settings.items():
        if value is None:
            continue
        if key in DEFAULT_FORMAT:
            fmt[key] = value
        elif key in DEFAULT_LEARNING:
            learning[key] = value
        else:
            raise OnnxError(f"unknown setting {key!r}; expected one of: "
                            f"{', '.join([*DEFAULT_FORMAT, *DEFAULT_LEARNING])}")
    return fmt, learning
