"""Parameters and datasets: named NumPy arrays in ``.npz`` files.

Parameters are ``"{node}.W.{parent}"`` (size_node × size_parent) and ``"{node}.b"``
(size_node), as float64 (fixed-point parameters are stored as their exact real values).
:func:`init_params` draws them deterministically from a seed: Glorot-uniform weights,
``W ~ U(-r, r)`` with ``r = sqrt(6 / (fan_in + size))`` where fan_in sums every parent's
size, and zero biases.

A dataset is an ``.npz`` whose keys are the graph's input and output node names, each an
``N × size`` array with the same N.

Only real numbers pass: integer or float arrays (any width, either byte order), finite;
complex, bool, timedelta, datetime, string, object and structured arrays are a
:class:`DataError`. ``.npz`` files are read defensively, as untrusted input: the zip is
opened here, and each array's ``.npy`` header is read (at most :data:`MAX_HEADER_BYTES`)
and checked before any of its data is decompressed: a real dtype, and at most
:data:`MAX_NPZ_BYTES` for the whole file; then exactly the bytes the header declares are
read (a member shorter or longer is an error). Nothing is ever unpickled.

Writes go through a temporary file and a rename, so a failed run leaves nothing
half-written.
"""

from __future__ import annotations

import io
import math
import os
import stat
import struct
import tokenize
import warnings
import zipfile
import zlib

import numpy as np
import numpy.lib.format as npformat

from .outputs import write_all

__all__ = ["init_params", "load_params", "save_npz", "load_dataset", "check_params",
           "DataError", "MAX_NPZ_BYTES", "MAX_HEADER_BYTES", "REAL_KINDS"]

#: The most array data one ``.npz`` file may declare, all the arrays read together, each
#: value counted as at least 8 bytes (its float64 copy): 1 GiB, 2**27 values. The largest
#: bundled dataset holds 0.9 MB; MNIST's 70,000 images as float64 hold 0.44 GB. A file
#: over it is refused from its headers, before anything is decompressed, so a hostile file
#: (a zip bomb, a header declaring 10**12 values) costs at most this much memory, twice
#: (the bytes read and their float64 copy).
MAX_NPZ_BYTES = 1 << 30
#: The longest ``.npy`` header read (numpy's own limit for headers it parses safely);
#: numpy writes 118 bytes for an array of up to 10 dimensions.
MAX_HEADER_BYTES = 10_000
#: The dtype kinds that pass: signed and unsigned integers, floats.
REAL_KINDS = "iuf"

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")    # a zip's first entry; an empty zip
_CHUNK = 1 << 24
#: What zipfile and zlib raise on a damaged zip (encryption or a method they lack included).
_DAMAGED = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError,
            NotImplementedError, struct.error)
_MAX_DIMS = 32          # numpy 1.x's limit (2.x allows 64); data and parameters use 1 or 2
#: .npy format version: (size of the header length field, numpy's header reader).
_HEADER_READERS = {(1, 0): (2, npformat.read_array_header_1_0),
                   (2, 0): (4, npformat.read_array_header_2_0)}


class DataError(ValueError):
    """A parameter or dataset file that does not fit the graph."""


def init_params(graph, seed: int = 0) -> dict:
    """Deterministic initial parameters for ``graph`` from ``seed``.

    A weight format narrower than the Glorot range (Q1.n holds [-1, 1)) clips the draws to
    what it holds, so that every backend starts from the same representable parameters.
    """
    rng = np.random.default_rng(seed)
    W = graph.formats.weight
    low, high = W.min_int * W.lsb, W.max_int * W.lsb
    params = {}
    for n in graph.nodes:
        if n.op != "dense":
            continue
        fan_in = sum(graph.node(p).size for p in n.inputs)
        r = np.sqrt(6.0 / (fan_in + n.size))
        for p in n.inputs:
            draw = rng.uniform(-r, r, (n.size, graph.node(p).size))
            params[f"{n.name}.W.{p}"] = np.clip(draw, low, high)
        if n.bias:
            params[f"{n.name}.b"] = np.zeros(n.size)
    return params


def _numbers(a, where: str, name: str) -> np.ndarray:
    """``a`` as float64 when it holds real, finite numbers; a :class:`DataError` otherwise."""
    if a.dtype.kind not in REAL_KINDS:
        raise DataError(f"{where}: {name} must be real numbers (integer or float), not "
                        f"{a.dtype}")
    with np.errstate(over="ignore"):      # a long double beyond float64 becomes inf: caught
        out = a.astype(np.float64)
    if not np.all(np.isfinite(out)):
        raise DataError(f"{where}: {name} must hold finite numbers")
    return out


def check_params(graph, params: dict, where: str = "parameters") -> dict:
    """Check names, shapes and values against the graph; return float64 copies in graph
    order. Only real (integer or float), finite arrays pass."""
    shapes = graph.param_shapes
    missing = [k for k in shapes if k not in params]
    if missing:
        raise DataError(f"{where}: missing {', '.join(missing)} (the graph needs "
                        f"{', '.join(shapes)})")
    extra = [k for k in params if k not in shapes]
    if extra:
        raise DataError(f"{where}: unexpected {', '.join(extra)} (the graph needs "
                        f"{', '.join(shapes)})")
    out = {}
    for k, shape in shapes.items():
        a = np.asarray(params[k])
        if a.shape != shape:
            raise DataError(f"{where}: {k} has shape {a.shape}, expected {shape}")
        out[k] = _numbers(a, where, k)
    return out


def _brief(value, limit: int = 160) -> str:
    """A value or an exception's message on one short line."""
    text = " ".join(str(value).split()) or type(value).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def _number(n) -> str:
    """An integer from a file, shown short (a header may declare one of 9,000 digits)."""
    if type(n) is not int:
        return _brief(repr(n), 30)
    return f"{n:,}" if n.bit_length() < 64 else f"about 2**{n.bit_length() - 1}"


def _shape(shape) -> str:
    """A shape from a file, shown short."""
    if not isinstance(shape, tuple):
        return _number(shape)
    items = [_number(n) for n in shape[:6]] + (["..."] if len(shape) > 6 else [])
    return f"({', '.join(items)}{',' if len(shape) == 1 else ''})"


def _read_exact(member, size: int) -> bytearray:
    """``size`` bytes from a zip member, read in chunks; fewer when the member ends."""
    buf = bytearray()
    while len(buf) < size:
        chunk = member.read(min(_CHUNK, size - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def _npy_header(member, where: str) -> tuple:
    """(shape, fortran_order, dtype, header bytes) of an ``.npy`` member, the header read
    within :data:`MAX_HEADER_BYTES` and parsed by numpy's own reader."""
    magic = _read_exact(member, npformat.MAGIC_LEN)
    if len(magic) < npformat.MAGIC_LEN or magic[:-2] != npformat.MAGIC_PREFIX:
        raise DataError(f"{where} is not an .npy array (no NUMPY magic string)")
    version = (magic[-2], magic[-1])
    if version not in _HEADER_READERS:
        raise DataError(f"{where} is in .npy format version {version[0]}.{version[1]}; "
                        f"expected 1.0 or 2.0 (what numpy writes for numbers)")
    length_size, reader = _HEADER_READERS[version]
    length = _read_exact(member, length_size)
    size = int.from_bytes(length, "little")
    if len(length) < length_size:
        raise DataError(f"{where} ends inside its .npy header")
    if size > MAX_HEADER_BYTES:
        raise DataError(f"{where} has an .npy header of {size} bytes; expected at most "
                        f"{MAX_HEADER_BYTES}")
    header = _read_exact(member, size)
    if len(header) < size:
        raise DataError(f"{where} ends inside its .npy header")
    # numpy parses the header with ast.literal_eval: a hostile header may raise any of
    # these; numpy warns about (and then accepts) headers written by Python 2.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            shape, fortran, dtype = reader(io.BytesIO(length + header), MAX_HEADER_BYTES)
        except (ValueError, TypeError, SyntaxError, OverflowError, RecursionError,
                MemoryError, tokenize.TokenError) as e:
            raise DataError(f"{where} has a bad .npy header ({_brief(e)})") from None
    if (len(shape) > _MAX_DIMS
            or not all(type(n) is int and 0 <= n < 1 << 62 for n in shape)):
        raise DataError(f"{where} has a bad .npy header (shape {_shape(shape)}: at most "
                        f"{_MAX_DIMS} dimensions, each a size below 2**62)")
    return shape, fortran, dtype, npformat.MAGIC_LEN + length_size + size


def _member_header(zf, info, where: str) -> tuple:
    """(shape, fortran_order, dtype, header size) of zip member ``info``, checked: neither
    encrypted nor compressed other than by deflate, and of a real dtype. Nothing past the
    header is decompressed."""
    if info.flag_bits & 0x1:
        raise DataError(f"{where} is encrypted")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise DataError(f"{where} is compressed with zip method {info.compress_type}; "
                        f"expected stored or deflated (what numpy.savez and savez_compressed "
                        f"write)")
    with zf.open(info) as member:
        shape, fortran, dtype, header_size = _npy_header(member, where)
    if dtype.kind not in REAL_KINDS:
        raise DataError(f"{where} must be real numbers (integer or float), not {dtype}")
    return shape, fortran, dtype, header_size


def _member_data(zf, info, where: str, header: tuple) -> np.ndarray:
    """The array of zip member ``info``: exactly the bytes its checked ``header`` declares."""
    shape, fortran, dtype, header_size = header
    count = math.prod(shape)
    size = count * dtype.itemsize
    if header_size + size != info.file_size:
        raise DataError(f"{where} holds {info.file_size - header_size} bytes of data; its "
                        f"header declares {size} (shape {_shape(shape)} of {dtype})")
    with zf.open(info) as member:
        _read_exact(member, header_size)
        data = _read_exact(member, size)
        if len(data) != size or member.read(1):
            raise DataError(f"{where} holds {'fewer' if len(data) < size else 'more'} bytes "
                            f"of data than its header declares ({size}: shape "
                            f"{_shape(shape)} of {dtype})")
    a = np.frombuffer(data, dtype=dtype, count=count)
    return a.reshape(shape[::-1]).transpose() if fortran else a.reshape(shape)


def _load_npz(path, what: str, keep=lambda key: True) -> dict:
    """The arrays of the ``.npz`` file ``path`` whose names pass ``keep`` (the others are not
    read), each checked from its header before its data is read: see :data:`MAX_NPZ_BYTES`.
    Any problem is a :class:`DataError` naming the file and the array."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise DataError(f"{path}: no such {what} file") from None
    except OSError as e:
        raise DataError(f"{path}: not a readable .npz {what} file ({e.strerror})") from None
    if stat.S_ISDIR(st.st_mode):
        raise DataError(f"{path}: is a folder, not a .npz {what} file")
    if not stat.S_ISREG(st.st_mode):
        raise DataError(f"{path}: not a regular file; expected a .npz {what} file")
    try:
        with open(path, "rb") as f:
            start = f.read(npformat.MAGIC_LEN)
            if start[:len(npformat.MAGIC_PREFIX)] == npformat.MAGIC_PREFIX:
                raise DataError(f"{path}: a single array (.npy), not a .npz {what} file of "
                                f"named arrays")
            if not start.startswith(_ZIP_MAGIC):
                raise DataError(f"{path}: not a readable .npz {what} file (not a zip "
                                f"archive)")
            f.seek(0)
            with zipfile.ZipFile(f) as zf:
                return _read_members(zf, path, what, keep)
    except DataError:
        raise
    except _DAMAGED as e:
        raise DataError(f"{path}: not a readable .npz {what} file ({_brief(e)})") from None


def _read_members(zf, path, what: str, keep) -> dict:
    """The arrays ``keep`` selects: every name checked, then every header (dtype, and the
    size of all of them together), and only then the data."""
    infos, keys = zf.infolist(), set()
    for info in infos:
        if not info.filename.endswith(".npy"):
            raise DataError(f"{path}: member {_brief(repr(info.filename), 60)} is not an "
                            f"array (NAME.npy); a .npz {what} file holds arrays only")
        key = info.filename[:-4]
        if key in keys:
            raise DataError(f"{path}: two arrays named {_brief(repr(key), 60)}")
        keys.add(key)
    wanted = [(info, f"{path}: array {_brief(repr(info.filename[:-4]), 60)}")
              for info in infos if keep(info.filename[:-4])]
    headers, total = [], 0
    for info, where in wanted:
        header = _guarded(where, _member_header, zf, info, where)
        shape, _, dtype, _ = header
        count = math.prod(shape)
        total += count * max(dtype.itemsize, 8)
        if total > MAX_NPZ_BYTES:
            raise DataError(f"{where} declares shape {_shape(shape)} of {dtype}: "
                            f"{_number(count)} values, over the {MAX_NPZ_BYTES >> 30} GiB "
                            f"(counted as float64) a .npz file may hold in all")
        headers.append(header)
    return {info.filename[:-4]: _guarded(where, _member_data, zf, info, where, header)
            for (info, where), header in zip(wanted, headers)}


def _guarded(where: str, read, *args):
    """``read(*args)``, what zipfile, zlib and numpy raise on a damaged member turned into a
    :class:`DataError`."""
    try:
        return read(*args)
    except DataError:
        raise
    except _DAMAGED as e:
        raise DataError(f"{where} is not readable ({_brief(e)})") from None


def load_params(path, graph) -> dict:
    """Read and check a parameter file for ``graph``; arrays ``trace.*`` that are not
    parameters (``pcfpga golden``'s output) are skipped unread."""
    shapes = graph.param_shapes
    data = _load_npz(path, "parameter", lambda k: k in shapes or not k.startswith("trace."))
    return check_params(graph, data, str(path))


def load_dataset(path, graph) -> tuple:
    """Read a dataset: ``(x, y, n)``, dicts of float64 arrays of inputs and targets. Arrays
    the graph does not name are skipped unread."""
    nodes = graph.inputs + graph.outputs
    names = {m.name for m in nodes}
    data = _load_npz(path, "dataset", lambda k: k in names)
    x, y, n = {}, {}, None
    for node in nodes:
        if node.name not in data:
            raise DataError(f"{path}: no array {node.name!r}; a dataset for {graph.name} "
                            f"needs {', '.join(m.name for m in nodes)}")
        a = np.asarray(data[node.name])
        if a.ndim == 1 and node.size == 1:
            a = a[:, None]
        if a.ndim != 2 or a.shape[1] != node.size:
            raise DataError(f"{path}: {node.name!r} has shape {a.shape}, expected "
                            f"(N, {node.size})")
        a = _numbers(a, str(path), repr(node.name))
        if n is not None and a.shape[0] != n:
            raise DataError(f"{path}: {node.name!r} has {a.shape[0]} rows, the others {n}")
        n = a.shape[0]
        (x if node.op == "input" else y)[node.name] = a
    if n == 0:
        raise DataError(f"{path}: the dataset is empty")
    return x, y, n


def save_npz(path, arrays: dict):
    """Write arrays to an ``.npz`` atomically (compressed; :func:`.outputs.write_all`)."""
    write_all({path: lambda f: np.savez_compressed(f, **arrays)})
