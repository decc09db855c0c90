"""Fuzzing the file readers (issue 14, classes 2 and 4): seeded random mutations of the
bundled datasets (``examples/data/*.npz``), of parameter files from ``init_params`` and of
``report.json`` (tests/test_fuzz_flash.py), each run through the CLI in-process.

Whether a mutated file is valid is decided by an oracle written here, apart from the
readers: it decompresses every member whole (the fuzzed files are small) and checks the
rules the README states. A file it finds valid must run (exit 0, nothing on stderr, no
warning); any other must be refused the documented way (the ``rejects`` fixture: exit 2,
one ``pcfpga: error:`` line, no traceback, nothing written). A failure names the seed and
the mutation. The default suite runs :data:`CASES` cases per reader, every mutation in
turn; ``make test-slow`` runs :data:`SLOW_CASES` more.
"""

import io
import struct
import warnings
import zipfile
import zlib

import numpy as np
import pytest

from pcfpga.examples import SPLITS, data_path, example_path
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import (MAX_HEADER_BYTES, MAX_NPZ_BYTES, REAL_KINDS, DataError,
                                  init_params, load_dataset)

from helpers import expect_run_or_refused, fuzz_rng, one_of

SEED = 1424                     # issue 14, classes 2 and 4
#: Cases per reader in the default suite (every mutation two or three times), and in the
#: slow run.
CASES = 60
SLOW_CASES = 600
#: The oracle refuses, unread, any member declaring more than this: the fuzzed files hold
#: kilobytes, so only a mutation (a zip bomb, a corrupted size field) declares more.
ORACLE_MEMBER_LIMIT = 64 << 20
NETS = ("xor", "iris", "dag", "teacher_2_4_3", "tanh_2_2_1", "digits")
GRAPHS = {n: Graph.from_toml(str(example_path(n))) for n in NETS}


def _npy(a) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asarray(a), allow_pickle=False)
    return buf.getvalue()


def _npy_text(header: str, data: bytes = b"", version=(1, 0)) -> bytes:
    """An .npy member with raw header text."""
    text = header.encode("latin1")
    size = len(text).to_bytes(2 if version == (1, 0) else 4, "little")
    return np.lib.format.MAGIC_PREFIX + bytes(version) + size + text + data


def _header(shape, descr="<f8", fortran=False) -> str:
    text = repr({"descr": descr, "fortran_order": fortran, "shape": shape})
    return text + " " * (-(len(text) + 11) % 64) + "\n"


def _zip(members, method=zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``members`` [(name, bytes)] (duplicates allowed), the same bytes every run."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # zipfile warns about duplicate names
        with zipfile.ZipFile(buf, "w", method) as z:
            for name, data in members:
                info = zipfile.ZipInfo(name)      # dated 1980-01-01, not now
                info.compress_type = method
                z.writestr(info, data)
    return buf.getvalue()


def _deflated_zeros(prefix: bytes, chunks: int) -> bytes:
    """A raw deflate stream of ``prefix`` then ``chunks`` × 16 MiB of zeros, made fast:
    after a full flush each 16 MiB block compresses to the same bytes."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    head = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(1 << 24)) + c.flush(zlib.Z_FULL_FLUSH)
    return head + block * chunks + c.flush()


def _raw_zip(members) -> bytes:
    """A deflated zip by hand: ``members`` [(name, deflate stream, uncompressed size, crc)],
    so that a stream can declare sizes zipfile would compute."""
    body, central = b"", b""
    for name, stream, size, crc in members:
        n = name.encode()
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 20, 20, 0, 8, 0, 0, crc,
                               len(stream), size, len(n), 0, 0, 0, 0, 0, len(body)) + n
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(stream),
                            size, len(n), 0) + n + stream
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members),
                      len(central), len(body), 0)
    return body + central + end


def _deflate(data: bytes) -> tuple:
    return zlib.compress(data)[2:-4], len(data), zlib.crc32(data)


# The oracle: what a valid file is, decided on fully decompressed members.

def _oracle_arrays(raw: bytes, keep):
    """{name: array} of the members ``keep`` selects, or a string: why the file is bad."""
    if not raw.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return "not a zip"
    try:
        zf = zipfile.ZipFile(io.BytesIO(raw))
        names = [i.filename for i in zf.infolist()]
    except Exception as e:                       # any failure of zipfile: not a zip
        return f"zipfile: {e!r}"
    if not all(n.endswith(".npy") for n in names) or len(set(names)) != len(names):
        return "names"
    arrays = {}
    for info in zf.infolist():
        key = info.filename[:-4]
        if not keep(key):
            continue
        if info.flag_bits & 1 or info.compress_type not in (0, 8):
            return "method"
        if info.file_size > ORACLE_MEMBER_LIMIT:
            return "declared size"
        try:
            blob = zf.read(info)                 # checks the CRC
        except Exception as e:
            return f"member: {e!r}"
        if len(blob) != info.file_size:
            return "member size"
        f = io.BytesIO(blob)
        try:
            version = np.lib.format.read_magic(f)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                shape, fortran, dtype = {
                    (1, 0): np.lib.format.read_array_header_1_0,
                    (2, 0): np.lib.format.read_array_header_2_0}[version](
                        f, max_header_size=MAX_HEADER_BYTES)
        except Exception as e:
            return f"header: {e!r}"
        if dtype.kind not in REAL_KINDS or len(shape) > 32 or min(shape, default=0) < 0:
            return "dtype or shape"
        count = int(np.prod(shape, dtype=object))
        if count * max(dtype.itemsize, 8) > ORACLE_MEMBER_LIMIT:
            return "declared shape"
        if len(blob) - f.tell() != count * dtype.itemsize:
            return "data size"
        a = np.frombuffer(blob[f.tell():], dtype=dtype)
        arrays[key] = a.reshape(shape[::-1]).T if fortran else a.reshape(shape)
    return arrays


def _finite(a) -> bool:
    with np.errstate(over="ignore"):
        return bool(np.isfinite(a.astype(np.float64)).all())


def _dataset_ok(raw: bytes, graph) -> bool:
    nodes = graph.inputs + graph.outputs
    arrays = _oracle_arrays(raw, lambda k: k in {n.name for n in nodes})
    if isinstance(arrays, str):
        return False
    rows = set()
    for node in nodes:
        a = arrays.get(node.name)
        if a is None:
            return False
        a = a[:, None] if a.ndim == 1 and node.size == 1 else a
        if a.ndim != 2 or a.shape[1] != node.size or not _finite(a):
            return False
        rows.add(a.shape[0])
    return len(rows) == 1 and rows != {0}


def _params_ok(raw: bytes, graph) -> bool:
    shapes = graph.param_shapes
    arrays = _oracle_arrays(raw, lambda k: k in shapes or not k.startswith("trace."))
    return (not isinstance(arrays, str) and set(arrays) == set(shapes)
            and all(arrays[k].shape == s and _finite(arrays[k]) for k, s in shapes.items()))


# Mutations of an .npz: each (rng, arrays, raw) -> (bytes, description); ``arrays`` the
# base file's arrays, ``raw`` its bytes.

NOT_REAL = ["complex128", "complex64", "m8[s]", "M8[D]", "bool", "U3", "S3", "V8"]
REAL = ["float16", "float32", "longdouble", "int8", "int16", "int64", "uint8", "uint64",
        ">f8", ">i4", "<f2"]


def _members(arrays, rng, fortran=False):
    return [(f"{k}.npy", _npy(np.asfortranarray(a) if fortran else a))
            for k, a in arrays.items()]


def _method(rng):
    return zipfile.ZIP_DEFLATED if rng.random() < 0.5 else zipfile.ZIP_STORED


def _pick(rng, arrays):
    return list(arrays)[rng.integers(len(arrays))]


def m_dtype(rng, arrays, raw):
    k = _pick(rng, arrays)
    dtype = one_of(rng, NOT_REAL + REAL)
    a = arrays[k].astype(np.float64)
    a = a.view(dtype) if dtype == "V8" else a.astype(dtype)
    return _zip(_members({**arrays, k: a}, rng), _method(rng)), f"{k} as {a.dtype}"


def m_structured(rng, arrays, raw):
    k = _pick(rng, arrays)
    a = arrays[k].astype(np.float64).view([("v", "<f8")])
    return _zip(_members({**arrays, k: a}, rng), _method(rng)), f"{k} structured"


def m_object(rng, arrays, raw):
    k = _pick(rng, arrays)
    pickle = b"\x80\x04cos\nsystem\n(S'touch pwned'\ntR."
    members = _members(arrays, rng)
    members = [(n, _npy_text(_header(arrays[k].shape, "|O"), pickle))
               if n == f"{k}.npy" else (n, d) for n, d in members]
    return _zip(members, _method(rng)), f"{k} as an object array (a pickle)"


def m_nonfinite(rng, arrays, raw):
    k = _pick(rng, arrays)
    a = arrays[k].astype(np.float64).copy()
    value = one_of(rng, [np.nan, np.inf, -np.inf])
    a.flat[rng.integers(a.size)] = value
    return _zip(_members({**arrays, k: a}, rng), _method(rng)), f"{k} holds {value}"


def m_reshape(rng, arrays, raw):
    k = _pick(rng, arrays)
    a = arrays[k]
    how = one_of(rng, ["T", "ravel", "axis", "drop row", "drop column", "more rows",
                        "no rows", "scalar", "ravel column"])
    b = {"T": lambda: a.T, "ravel": lambda: a.ravel(), "axis": lambda: a[None],
         "drop row": lambda: a[:-1], "drop column": lambda: a[..., :-1],
         "more rows": lambda: np.concatenate([a, a[:1]]), "no rows": lambda: a[:0],
         "scalar": lambda: a.ravel()[0], "ravel column": lambda: a.ravel()[:, None]}[how]()
    return (_zip(_members({**arrays, k: b}, rng), _method(rng)),
            f"{k} {how}: {np.shape(a)} -> {np.shape(b)}")


def m_remove(rng, arrays, raw):
    k = _pick(rng, arrays)
    return _zip(_members({n: a for n, a in arrays.items() if n != k}, rng)), f"{k} removed"


def m_rename(rng, arrays, raw):
    k = _pick(rng, arrays)
    new = one_of(rng, [_pick(rng, arrays), k.upper(), k + "_", "trace." + k, "", "a/" + k,
                        k + ".npy", "é"])
    suffix = ".npy" if rng.random() < 0.8 or not new else one_of(rng, ["", ".npz", ".NPY"])
    members = [((new + suffix) if n == f"{k}.npy" else n, d) for n, d in _members(arrays, rng)]
    return _zip(members, _method(rng)), f"{k}.npy renamed {new + suffix!r}"


def m_duplicate(rng, arrays, raw):
    k = _pick(rng, arrays)
    other = arrays[k] if rng.random() < 0.5 else arrays[k] * 2
    return (_zip(_members(arrays, rng) + [(f"{k}.npy", _npy(other))], _method(rng)),
            f"{k}.npy twice")


def m_extra(rng, arrays, raw):
    name = one_of(rng, ["notes", "trace.h.v", "x2", "meta", "z"])
    a = one_of(rng, [np.zeros(3), np.zeros((2, 2), complex), np.array(["s"])])
    return (_zip(_members({**arrays, name: a}, rng), _method(rng)),
            f"extra array {name} of {a.dtype}")


def m_huge_shape(rng, arrays, raw):
    k = _pick(rng, arrays)
    shape = one_of(rng, [(10 ** 12, 2), (2 ** 27 + 1,), (2 ** 62, 0), (2 ** 40, 2 ** 40),
                         (3, 2 ** 62), (2 ** 26, 2, 2)])
    data = arrays[k].astype("<f8").tobytes()
    members = [(n, _npy_text(_header(shape), data) if n == f"{k}.npy" else d)
               for n, d in _members(arrays, rng)]
    return _zip(members, _method(rng)), f"{k} declares shape {shape}"


_BOMB = {}


def m_bomb(rng, arrays, raw):
    """A member that inflates to 2 GiB of zeros, declared by its header and by the zip."""
    k = _pick(rng, arrays)
    if "stream" not in _BOMB:
        _BOMB["header"] = _npy_text(_header((2 ** 28 - 64, 1)))
        _BOMB["stream"] = _deflated_zeros(_BOMB["header"], 2 ** 31 // 2 ** 24 - 1)
    size = len(_BOMB["header"]) + 2 ** 31 - 2 ** 24
    members = [(f"{n}.npy", *_deflate(_npy(a))) for n, a in arrays.items() if n != k]
    members.insert(rng.integers(len(members) + 1), (f"{k}.npy", _BOMB["stream"], size, 0))
    return _raw_zip(members), f"{k}: a zip bomb (2 MB inflating to 2 GiB)"


def m_nested(rng, arrays, raw):
    k = _pick(rng, arrays)
    members = [(n, raw if n == f"{k}.npy" else d) for n, d in _members(arrays, rng)]
    return _zip(members, _method(rng)), f"{k}.npy holds the whole .npz"


HOSTILE = ["-" * 9000 + "1\n", "(" * 300 + ")" * 300 + "\n",
           "{'shape': (" + "9" * 5000 + ",)}\n",
           "{'descr': '<f8', 'fortran_order': False, 'shape': (0x" + "f" * 9000 + ",)}\n",
           "{'descr': '<f8', 'fortran_order': False}\n",
           "{'descr': '<f8', 'fortran_order': 'no', 'shape': (4, 2)}\n",
           "{'descr': '<f9', 'fortran_order': False, 'shape': (4, 2)}\n",
           "{'descr': [('a', '<f8')], 'fortran_order': False, 'shape': (4,)}\n",
           "{'descr': '<f8', 'fortran_order': False, 'shape': (-4, -2)}\n",
           "{'descr': '<f8', 'fortran_order': False, 'shape': (1,) * 33}\n",
           "{'descr': '<f8', 'fortran_order': False, 'shape': " + repr((1,) * 33) + "}\n",
           "[1, 2]\n", "\x00" * 20, " " * (MAX_HEADER_BYTES + 1), "{'a': 'unterminated\n",
           "{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), 'x': 1}\n"]


def m_header_text(rng, arrays, raw):
    k = _pick(rng, arrays)
    text = HOSTILE[rng.integers(len(HOSTILE))]
    version = (1, 0) if len(text) < 60000 and rng.random() < 0.5 else (2, 0)
    data = np.ascontiguousarray(arrays[k]).tobytes()
    members = [(n, _npy_text(text, data, version) if n == f"{k}.npy" else d)
               for n, d in _members(arrays, rng)]
    return _zip(members, _method(rng)), f"{k} header {text[:40]!r}... (v{version})"


def m_magic(rng, arrays, raw):
    k = _pick(rng, arrays)
    data = bytearray(_npy(arrays[k]))
    i = rng.integers(8)
    data[i] = rng.integers(256)
    members = [(n, bytes(data) if n == f"{k}.npy" else d) for n, d in _members(arrays, rng)]
    return _zip(members, _method(rng)), f"{k}: magic byte {i} set to {data[i]}"


def m_python2(rng, arrays, raw):
    """A header as Python 2 wrote it (``4L``): numpy reads it (with a warning, which the
    reader keeps quiet)."""
    k = _pick(rng, arrays)
    a = arrays[k].astype("<f8")
    dims = ", ".join(f"{n}L" for n in a.shape) + ("," if a.ndim == 1 else "")
    text = f"{{'descr': '<f8', 'fortran_order': False, 'shape': ({dims}), }}"
    text += " " * (-(len(text) + 11) % 64) + "\n"
    members = [(n, _npy_text(text, a.tobytes()) if n == f"{k}.npy" else d)
               for n, d in _members(arrays, rng)]
    return _zip(members, _method(rng)), f"{k}: a Python 2 header {text.strip()!r}"


def m_empty_member(rng, arrays, raw):
    k = _pick(rng, arrays)
    cut = rng.integers(0, len(_npy(arrays[k])))
    members = [(n, d[:cut] if n == f"{k}.npy" else d) for n, d in _members(arrays, rng)]
    return _zip(members, _method(rng)), f"{k}.npy cut to {cut} bytes"


def m_method(rng, arrays, raw):
    method = one_of(rng, [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])
    return _zip(_members(arrays, rng), method), f"compressed with zip method {method}"


def m_fortran(rng, arrays, raw):
    return _zip(_members(arrays, rng, fortran=True), _method(rng)), "Fortran order"


def m_flip(rng, arrays, raw):
    data = bytearray(raw)
    where = rng.integers(len(data), size=rng.integers(1, 9))
    for i in where:
        data[i] ^= 1 << rng.integers(8)
    return bytes(data), f"bits flipped at {sorted(where.tolist())}"


def m_flip_member(rng, arrays, raw):
    """Flips inside one member's .npy bytes (its header mostly), zipped afterwards: the CRC
    holds, so the .npy reader itself meets them."""
    k = _pick(rng, arrays)
    data = bytearray(_npy(arrays[k]))
    at = sorted(int(rng.integers(min(len(data), 140) if rng.random() < 0.5 else len(data)))
                for _ in range(rng.integers(1, 4)))
    for i in at:
        data[i] ^= 1 << rng.integers(8)
    members = [(n, bytes(data) if n == f"{k}.npy" else d) for n, d in _members(arrays, rng)]
    return _zip(members, _method(rng)), f"{k}.npy: bits flipped at {at} ({data[:130]!r})"


def m_truncate(rng, arrays, raw):
    n = rng.integers(len(raw))
    return raw[:n], f"cut to {n} of {len(raw)} bytes"


def m_append(rng, arrays, raw):
    junk = one_of(rng, [b"\x00" * 7, raw, rng.bytes(100), b"PK\x05\x06" + bytes(18)])
    return raw + junk, f"{len(junk)} bytes appended"


def m_prepend(rng, arrays, raw):
    junk = one_of(rng, [b"junk", b"\x93NUMPY", rng.bytes(10)])
    return junk + raw, f"{junk[:10]!r} prepended"


def m_splice(rng, arrays, raw):
    i = rng.integers(len(raw))
    n = rng.integers(1, 64)
    return raw[:i] + rng.bytes(n) + raw[i + n:], f"{n} random bytes at {i}"


def m_flags(rng, arrays, raw):
    data = bytearray(raw)
    bit = 1 << one_of(rng, [0, 0, 3, 5, 6, 11, 13])
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = data.find(sig)
        while i >= 0:
            if rng.random() < 0.7:
                data[i + at] |= bit & 0xFF
                data[i + at + 1] |= bit >> 8
            i = data.find(sig, i + 4)
    return bytes(data), f"zip flag bit {bit:#x} set"


def m_zip_field(rng, arrays, raw):
    """A random field of a central directory entry or of the end record overwritten."""
    data = bytearray(raw)
    fields = [(b"PK\x01\x02", off, size) for off, size in
              ((10, 2), (16, 4), (20, 4), (24, 4), (28, 2), (30, 2), (42, 4))]
    fields += [(b"PK\x05\x06", off, size) for off, size in ((8, 2), (10, 2), (12, 4),
                                                            (16, 4), (20, 2))]
    sig, off, size = fields[rng.integers(len(fields))]
    hits = [i for i in range(len(data)) if data.startswith(sig, i)]
    i = hits[rng.integers(len(hits))] + off
    value = int(one_of(rng, [0, 1, 2 ** (8 * size) - 1, rng.integers(2 ** (8 * size))]))
    data[i:i + size] = value.to_bytes(size, "little")
    return bytes(data), f"{sig[2:]!r} field at +{off} set to {value}"


NPZ_MUTATIONS = [m_dtype, m_structured, m_object, m_nonfinite, m_reshape, m_remove, m_rename,
                 m_duplicate, m_extra, m_huge_shape, m_bomb, m_nested, m_header_text,
                 m_magic, m_python2, m_empty_member, m_method, m_fortran, m_flip,
                 m_flip_member, m_truncate, m_append, m_prepend, m_splice, m_flags,
                 m_zip_field]


def _base_dataset(rng):
    net = NETS[rng.integers(len(NETS))]
    with np.load(str(data_path(SPLITS[net][rng.integers(2)]))) as z:
        return net, {k: z[k] for k in z.files}


def _base_params(rng):
    net = NETS[rng.integers(len(NETS) - 1)]          # digits' 2,554 weights: too slow here
    arrays = init_params(GRAPHS[net], int(rng.integers(1000)))
    if rng.random() < 0.3:                           # pcfpga golden's output as parameters
        arrays["trace.h.v"] = rng.normal(size=(2, 3))
    return net, arrays


def _run_case(reader: int, case: int, tmp_path, rejects, capsys):
    rng, seed = fuzz_rng(SEED, reader, case)
    mutation = NPZ_MUTATIONS[case % len(NPZ_MUTATIONS)]
    net, arrays = (_base_dataset if reader == 0 else _base_params)(rng)
    buf = io.BytesIO()
    (np.savez_compressed if rng.random() < 0.5 else np.savez)(buf, **arrays)
    bad, what = mutation(rng, arrays, buf.getvalue())
    g = GRAPHS[net]
    path = tmp_path / "bad.npz"
    path.write_bytes(bad)
    out = tmp_path / "out" / "o.npz"
    out.parent.mkdir()
    if reader == 0:
        args = ["golden", str(example_path(net)), "--data", path, "--out", out]
        valid = _dataset_ok(bad, g)
    else:
        args = ["golden", str(example_path(net)), "--data", str(data_path(SPLITS[net][0])),
                "--params", path, "--out", out]
        valid = _params_ok(bad, g)
    expect_run_or_refused(valid, args, f"seed {seed}: {net}, {mutation.__name__}: {what}",
                          rejects, capsys, tmp_path, out)


@pytest.mark.parametrize("case", range(CASES))
def test_fuzz_datasets(case, tmp_path, rejects, capsys):
    _run_case(0, case, tmp_path, rejects, capsys)


@pytest.mark.parametrize("case", range(CASES))
def test_fuzz_parameters(case, tmp_path, rejects, capsys):
    _run_case(1, case, tmp_path, rejects, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("case", range(CASES, CASES + SLOW_CASES))
def test_fuzz_datasets_long(case, tmp_path, rejects, capsys):
    _run_case(0, case, tmp_path, rejects, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("case", range(CASES, CASES + SLOW_CASES))
def test_fuzz_parameters_long(case, tmp_path, rejects, capsys):
    _run_case(1, case, tmp_path, rejects, capsys)


def test_the_mutations_make_both_kinds_of_file():
    """The fuzzing is not one-sided: over the default dataset cases, every mutation runs,
    the oracle finds both valid and invalid files, and it agrees with how the mutations that
    decide the answer were built."""
    verdicts = {}
    for reader, ok in ((0, _dataset_ok),):
        for case in range(CASES):
            rng, _ = fuzz_rng(SEED, reader, case)
            net, arrays = (_base_dataset if reader == 0 else _base_params)(rng)
            buf = io.BytesIO()
            (np.savez_compressed if rng.random() < 0.5 else np.savez)(buf, **arrays)
            mutation = NPZ_MUTATIONS[case % len(NPZ_MUTATIONS)]
            bad, _ = mutation(rng, arrays, buf.getvalue())
            verdicts.setdefault(mutation.__name__, set()).add(ok(bad, GRAPHS[net]))
    assert set(verdicts) == {m.__name__ for m in NPZ_MUTATIONS}
    assert not (verdicts["m_bomb"] | verdicts["m_huge_shape"] | verdicts["m_object"]
                | verdicts["m_method"]) & {True}
    assert verdicts["m_fortran"] == verdicts["m_python2"] == {True}
    assert sum(v == {True, False} for v in verdicts.values()) >= 4


def test_a_zip_bomb_is_refused_from_its_header(tmp_path, monkeypatch):
    """A 2 MB member that inflates to 2 GiB of zeros, its header and the zip declaring as
    much (the zip's CRC is left 0: computing it would take seconds, and the reader must stop
    long before): refused before its data is decompressed; the bytes taken from members
    are counted."""
    rng, _ = fuzz_rng(SEED, 9, 0)
    g = GRAPHS["xor"]
    with np.load(str(data_path("xor"))) as z:
        arrays = {k: z[k] for k in z.files}
    path = tmp_path / "bomb.npz"
    path.write_bytes(m_bomb(rng, arrays, b"")[0])
    with zipfile.ZipFile(path) as z:                 # a well-formed zip otherwise
        sizes = sorted(i.file_size for i in z.infolist())
        assert sizes[-1] == 2 ** 31 - 2 ** 24 + 128 and sizes[0] in (160, 192)
    read = []
    original = zipfile.ZipExtFile.read

    def counting(self, n=-1):
        data = original(self, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(zipfile.ZipExtFile, "read", counting)
    with pytest.raises(DataError, match=r"array '[xy]' declares shape \(268,435,392, 1\) of "
                                        r"float64: 268,435,392 values, over the 1 GiB"):
        load_dataset(path, g)
    assert 0 < sum(read) < 1 << 16
    assert MAX_NPZ_BYTES == 1 << 30
