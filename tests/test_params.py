"""Parameter and dataset files: initialisation, round trips, and every DataError message;
crafted files for issue 14 (class 2: readers that crashed; class 4: numbers that are not
real numbers)."""

import io
import os
import warnings
import zipfile

import numpy as np
import pytest

from pcfpga.examples import data_path, example_path
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import (DataError, check_params, init_params, load_dataset,
                                  load_params, save_npz)

G = Graph.from_toml(str(example_path("xor")))


def test_init_is_deterministic_and_glorot():
    a, b, c = init_params(G, 3), init_params(G, 3), init_params(G, 4)
    assert list(a) == ["h.W.x", "h.b", "y.W.h", "y.b"]
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["h.W.x"], c["h.W.x"])
    assert np.max(np.abs(a["h.W.x"])) <= np.sqrt(6 / (2 + 4))
    assert not np.any(a["h.b"])


def test_round_trip(tmp_path):
    p = init_params(G, 0)
    save_npz(tmp_path / "p.npz", {**p, "trace.h.eps": np.zeros(3)})
    q = load_params(tmp_path / "p.npz", G)
    assert all(np.array_equal(p[k], q[k]) for k in p)


@pytest.mark.parametrize("change, message", [
    (lambda p: p.pop("y.b"), "missing y.b (the graph needs h.W.x, h.b, y.W.h, y.b)"),
    (lambda p: p.update(z=np.zeros(1)), "unexpected z (the graph needs"),
    (lambda p: p.update({"h.b": np.zeros(3)}), "h.b has shape (3,), expected (4,)"),
    (lambda p: p.update({"h.b": np.full(4, np.nan)}), "h.b must hold finite numbers"),
])
def test_parameter_errors(change, message):
    p = init_params(G, 0)
    change(p)
    with pytest.raises(DataError) as info:
        check_params(G, p, "p.npz")
    assert str(info.value).startswith("p.npz: ") and message in str(info.value)


def test_file_errors(tmp_path):
    with pytest.raises(DataError, match="no such parameter file"):
        load_params(tmp_path / "none.npz", G)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz dataset file"):
        load_dataset(junk, G)
    with pytest.raises(DataError, match="is a folder, not a .npz parameter file"):
        load_params(tmp_path, G)
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(DataError, match=r"a single array \(.npy\), not a .npz dataset file"):
        load_dataset(tmp_path / "one.npy", G)


def test_golden_output_is_a_parameter_file(tmp_path):
    """A node may be called 'trace': only non-parameter 'trace.' arrays are skipped."""
    from pcfpga.golden.graph import GraphBuilder

    g = GraphBuilder("t").input("x", 1).dense("trace", ["x"], 1, output=True).build()
    p = init_params(g, 0)
    save_npz(tmp_path / "o.npz", {**p, "trace.trace.v": np.zeros((1, 2, 1))})
    assert np.array_equal(load_params(tmp_path / "o.npz", g)["trace.W.x"], p["trace.W.x"])


@pytest.mark.parametrize("arrays, message", [
    ({"x": np.zeros((4, 3)), "y": np.zeros((4, 1))}, "'x' has shape (4, 3), expected (N, 2)"),
    ({"x": np.zeros((4, 2)), "y": np.zeros((3, 1))}, "'y' has 3 rows, the others 4"),
    ({"x": np.full((4, 2), np.inf), "y": np.zeros((4, 1))}, "'x' must hold finite numbers"),
    ({"x": np.zeros((0, 2)), "y": np.zeros((0, 1))}, "the dataset is empty"),
])
def test_dataset_errors(tmp_path, arrays, message):
    path = tmp_path / "d.npz"
    save_npz(path, arrays)
    with pytest.raises(DataError) as info:
        load_dataset(path, G)
    assert message in str(info.value)


def test_dataset_accepts_vectors_for_size_one_outputs(tmp_path):
    path = tmp_path / "d.npz"
    save_npz(path, {"x": np.zeros((4, 2)), "y": np.array([0.0, 1.0, 1.0, 0.0])})
    x, y, n = load_dataset(path, G)
    assert n == 4 and y["y"].shape == (4, 1)


def test_failed_write_leaves_nothing(tmp_path):
    class Boom:
        def __array__(self, *a, **k):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        save_npz(tmp_path / "p.npz", {"a": Boom()})
    assert list(tmp_path.iterdir()) == []


# Issue 14, class 4: numbers that are not real numbers. Only integer and float arrays pass.

XOR, XOR_DATA = str(example_path("xor")), str(data_path("xor"))
NOT_REAL = {"complex128": lambda a: a.astype(np.complex128),
            "complex64": lambda a: a.astype(np.complex64),
            "timedelta64[s]": lambda a: a.astype("m8[s]"),
            "datetime64[D]": lambda a: a.astype("M8[D]"),
            "bool": lambda a: a.astype(bool),
            "<U3": lambda a: a.astype("U3"),
            "|S3": lambda a: a.astype("S3"),
            "|V8": lambda a: a.view("V8"),
            "[('v', '<f8')]": lambda a: a.view([("v", "<f8")])}


def _npy(header, data: bytes = b"", version=(1, 0)) -> bytes:
    """An .npy member: ``header`` a dict (written as numpy does) or raw header text."""
    if isinstance(header, dict):
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, header)
        return buf.getvalue() + data
    text = header.encode("latin1")
    size = len(text).to_bytes(2 if version == (1, 0) else 4, "little")
    return np.lib.format.MAGIC_PREFIX + bytes(version) + size + text + data


def _zip(path, members, method=zipfile.ZIP_DEFLATED):
    """Write ``members`` ([(name, bytes)]) as a zip, duplicates allowed."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")           # zipfile warns about duplicate names
        with zipfile.ZipFile(path, "w", method) as z:
            for name, data in members:
                z.writestr(name, data)
    return path


def _arrays_npy(arrays: dict) -> list:
    out = []
    for k, a in arrays.items():
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.asarray(a), allow_pickle=False)
        out.append((f"{k}.npy", buf.getvalue()))
    return out


def _xor_arrays():
    with np.load(XOR_DATA) as z:
        return {k: z[k] for k in z.files}


@pytest.mark.parametrize("dtype", list(NOT_REAL))
def test_non_real_data_and_parameters_are_refused(dtype, tmp_path, rejects):
    data = _xor_arrays()
    data["x"] = NOT_REAL[dtype](data["x"])
    assert str(data["x"].dtype) == dtype
    _zip(tmp_path / "d.npz", _arrays_npy(data))
    msg = f"array 'x' must be real numbers (integer or float), not {dtype}"
    rejects(["golden", XOR, "--data", tmp_path / "d.npz", "--out", tmp_path / "o.npz"], msg)
    p = init_params(G, 0)
    p["h.W.x"] = NOT_REAL[dtype](p["h.W.x"])
    _zip(tmp_path / "p.npz", _arrays_npy(p))
    rejects(["golden", XOR, "--data", XOR_DATA, "--params", tmp_path / "p.npz", "--out",
             tmp_path / "o.npz"], f"array 'h.W.x' must be real numbers (integer or float), "
                                  f"not {dtype}")
    p = init_params(G, 0)                         # in memory (the library, not a file)
    p["h.W.x"] = NOT_REAL[dtype](p["h.W.x"])
    with pytest.raises(DataError, match=r"h\.W\.x must be real numbers \(integer or float\)"):
        check_params(G, p, "p")


def test_object_arrays_are_refused_unread(tmp_path, rejects):
    """An object array's header, then a pickle that must never be loaded."""
    bomb = b"\x80\x04cos\nsystem\n(S'touch pwned'\ntR."
    members = [("x.npy", _npy({"descr": "|O", "fortran_order": False, "shape": (4, 2)}, bomb)),
               ("y.npy", _arrays_npy(_xor_arrays())[1][1])]
    _zip(tmp_path / "d.npz", members)
    rejects(["golden", XOR, "--data", tmp_path / "d.npz", "--out", tmp_path / "o.npz"],
            "array 'x' must be real numbers (integer or float), not object")


@pytest.mark.parametrize("dtype", ["<i1", "<u2", ">i4", "<i8", "<u8", "<f2", ">f4", ">f8",
                                   "<f8", "longdouble"])
@pytest.mark.parametrize("order", ["C", "F"])
def test_real_arrays_of_any_width_and_order_pass(dtype, order, tmp_path):
    data = {"x": np.array([[0, 1], [1, 0], [1, 1], [0, 0]], dtype=dtype, order=order),
            "y": np.array([[1], [1], [0], [0]], dtype=dtype)}
    path = _zip(tmp_path / "d.npz", _arrays_npy(data), zipfile.ZIP_STORED)
    x, y, n = load_dataset(path, G)
    assert n == 4 and x["x"].dtype == np.float64
    assert np.array_equal(x["x"], [[0, 1], [1, 0], [1, 1], [0, 0]])
    assert np.array_equal(y["y"], [[1], [1], [0], [0]])


def test_long_doubles_beyond_float64_are_not_finite(tmp_path):
    data = {"x": np.full((4, 2), np.longdouble(10) ** 400), "y": np.zeros((4, 1))}
    if not np.isfinite(data["x"]).all():
        pytest.skip("long double is float64 here")
    path = _zip(tmp_path / "d.npz", _arrays_npy(data))
    with pytest.raises(DataError, match="'x' must hold finite numbers"):
        load_dataset(path, G)


# Issue 14, class 2: .npz files that crashed the reader, checked before any data is read.

def _x_header(shape, descr="<f8"):
    return {"descr": descr, "fortran_order": False, "shape": shape}


def _y():
    return _arrays_npy(_xor_arrays())[1]


CRAFTED = {
    "duplicate": (lambda: _arrays_npy(_xor_arrays()) + [_y()], "two arrays named 'y'"),
    "not an array": (lambda: _arrays_npy(_xor_arrays()) + [("notes.txt", b"hi")],
                     "member 'notes.txt' is not an array (NAME.npy)"),
    "nested zip": (lambda: [("x.npy", open(XOR_DATA, "rb").read()), _y()],
                   "array 'x' is not an .npy array (no NUMPY magic string)"),
    "version 3": (lambda: [("x.npy", _npy("{}", version=(3, 0))), _y()],
                  "array 'x' is in .npy format version 3.0; expected 1.0 or 2.0"),
    "header too long": (lambda: [("x.npy", _npy(" " * 10_001, version=(2, 0))), _y()],
                        "has an .npy header of 10001 bytes; expected at most 10000"),
    "header cut": (lambda: [("x.npy", _npy(_x_header((4, 2)))[:20]), _y()],
                   "array 'x' ends inside its .npy header"),
    "deep nesting": (lambda: [("x.npy", _npy("-" * 9000 + "1\n")), _y()],
                     "array 'x' has a bad .npy header"),
    "deep parentheses": (lambda: [("x.npy", _npy("(" * 300 + ")" * 300 + "\n")), _y()],
                         "array 'x' has a bad .npy header"),
    "5000 digits": (lambda: [("x.npy", _npy("{'shape': (" + "9" * 5000 + ",)}\n")), _y()],
                    "array 'x' has a bad .npy header"),
    "huge hex shape": (lambda: [("x.npy", _npy("{'descr': '<f8', 'fortran_order': False, "
                                               "'shape': (0, 0x" + "f" * 9000 + ")}\n")),
                                _y()], "(shape (0, about 2**35999): at most 32 dimensions"),
    "negative shape": (lambda: [("x.npy", _npy(_x_header((-4, 2)))), _y()],
                       "array 'x' has a bad .npy header (shape (-4, 2)"),
    "33 dimensions": (lambda: [("x.npy", _npy(_x_header((1,) * 33))), _y()],
                      "at most 32 dimensions"),
    "bad descr": (lambda: [("x.npy", _npy(_x_header((4, 2), "<f9"))), _y()],
                  "array 'x' has a bad .npy header (descr is not a valid dtype descriptor"),
    "huge shape": (lambda: [("x.npy", _npy(_x_header((10 ** 12, 2)), bytes(64))), _y()],
                   "array 'x' declares shape (1,000,000,000,000, 2) of float64: "
                   "2,000,000,000,000 values, over the 1 GiB"),
    "over the limit in all": (lambda: [("x.npy", _npy(_x_header((2 ** 25, 2)), bytes(64))),
                                       ("y.npy", _npy(_x_header((2 ** 26 + 1, 1)), bytes(64)))],
                              "array 'y' declares shape (67,108,865, 1) of float64"),
    "short": (lambda: [("x.npy", _npy(_x_header((4, 2)), bytes(63))), _y()],
              "array 'x' holds 63 bytes of data; its header declares 64 (shape (4, 2) of "
              "float64)"),
    "long": (lambda: [("x.npy", _npy(_x_header((4, 2)), bytes(65))), _y()],
             "array 'x' holds 65 bytes of data; its header declares 64"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_npz_files_are_refused(case, tmp_path, rejects):
    members, message = CRAFTED[case]
    _zip(tmp_path / "d.npz", members())
    rejects(["golden", XOR, "--data", tmp_path / "d.npz", "--out", tmp_path / "o.npz"],
            message)


def _patch_flag(raw: bytes, bit: int) -> bytes:
    """Set a general-purpose flag bit in every local and central zip header."""
    raw = bytearray(raw)
    for sig, at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        i = raw.find(sig)
        while i >= 0:
            raw[i + at] |= bit
            i = raw.find(sig, i + 4)
    return bytes(raw)


@pytest.mark.parametrize("case, message", [
    ("bzip2", "array 'x' is compressed with zip method 12; expected stored or deflated"),
    ("lzma", "array 'x' is compressed with zip method 14"),
    ("encrypted", "array 'x' is encrypted"),
    ("truncated", "not a readable .npz dataset file"),
    ("junk before", "not a readable .npz dataset file (not a zip archive)"),
    ("empty", "not a readable .npz dataset file (not a zip archive)"),
    ("fifo", "not a regular file; expected a .npz dataset file"),
    ("bad crc", "array 'x' is not readable (Bad CRC-32 for file 'x.npy')"),
])
def test_broken_zip_files_are_refused(case, message, tmp_path, rejects):
    path = tmp_path / "d.npz"
    members = _arrays_npy(_xor_arrays())
    if case in ("bzip2", "lzma"):
        _zip(path, members, zipfile.ZIP_BZIP2 if case == "bzip2" else zipfile.ZIP_LZMA)
    elif case == "fifo":
        os.mkfifo(path)
    else:
        raw = open(_zip(path, members, zipfile.ZIP_STORED), "rb").read()
        raw = {"encrypted": lambda r: _patch_flag(r, 0x1),
               "truncated": lambda r: r[:-30],
               "junk before": lambda r: b"junk" + r,
               "empty": lambda r: b"",
               "bad crc": lambda r: r.replace(members[0][1][-8:], bytes(8), 1)}[case](raw)
        path.write_bytes(raw)
    rejects(["golden", XOR, "--data", path, "--out", tmp_path / "o.npz"], message)


def test_unused_arrays_are_not_read(tmp_path):
    """Arrays a dataset does not use (and a golden output's traces in a parameter file)
    are skipped unread: a broken one does not matter."""
    bad = ("notes.npy", _npy(_x_header((10 ** 12,)), b"junk"))
    path = _zip(tmp_path / "d.npz", _arrays_npy(_xor_arrays()) + [bad])
    assert load_dataset(path, G)[2] == 4
    p = init_params(G, 0)
    path = _zip(tmp_path / "p.npz", _arrays_npy(p) + [("trace.h.x.npy", bad[1])])
    assert all(np.array_equal(load_params(path, G)[k], p[k]) for k in p)
    path = _zip(tmp_path / "q.npz", _arrays_npy(p) + [bad])
    with pytest.raises(DataError, match="array 'notes' declares shape"):
        load_params(path, G)


def test_python2_headers_are_read_without_a_warning(tmp_path, capsys):
    data = _xor_arrays()
    raw = data["x"].astype("<f8").tobytes()
    text = "{'descr': '<f8', 'fortran_order': False, 'shape': (4L, 2L), }"
    path = _zip(tmp_path / "d.npz", [("x.npy", _npy(text + " " * (117 - len(text)) + "\n",
                                                   raw))] + [_y()])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x, y, n = load_dataset(path, G)
    assert np.array_equal(x["x"], data["x"]) and capsys.readouterr().err == ""


def test_initial_weights_fit_a_narrow_weight_format():
    """Glorot draws reach beyond Q1.15's [-1, 1): they are clipped to what it holds, so
    every backend (the fixed model refuses unrepresentable parameters) starts from them;
    within Q4.12 the draws are unchanged."""
    from pcfpga.golden.fixed_model import FixedPC
    from pcfpga.golden.graph import Graph
    from pcfpga.examples import example_path

    g = Graph.from_toml(str(example_path("xor")))
    narrow = g.with_settings(weight="Q1.15")
    wide, clipped = init_params(g, 0), init_params(narrow, 0)
    assert max(np.abs(v).max() for v in wide.values()) > 1          # the draw goes past 1
    for k, v in wide.items():
        assert np.array_equal(clipped[k], np.clip(v, -1, 1 - 2.0 ** -15)), k
    FixedPC(narrow).to_model(clipped)                                # representable
