"""Outputs all-or-nothing, paths checked before any work, and no silent failure (issue 14,
classes 5 and 6): ``golden.outputs`` and the commands that use it."""

import errno
import os

import numpy as np
import pytest

from pcfpga.cli import main
from pcfpga.examples import data_path, example_path
from pcfpga.golden import outputs
from pcfpga.golden.outputs import OutputError, check_file, check_folder, write_all

XOR = str(example_path("xor"))
XOR_DATA = str(data_path("xor"))
#: A folder that exists but takes no new file, even for root (CI runs as root).
NO_WRITE = "/proc"


def run(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ golden.outputs
def test_write_all_writes_every_file(tmp_path):
    write_all({tmp_path / "a.npz": lambda f: np.savez(f, a=np.arange(3)),
               tmp_path / "new" / "b.txt": "text", tmp_path / "c.bin": b"\x00\x01"})
    with np.load(tmp_path / "a.npz") as z:
        assert z["a"].tolist() == [0, 1, 2]
    assert (tmp_path / "new" / "b.txt").read_text() == "text"
    assert (tmp_path / "c.bin").read_bytes() == b"\x00\x01"
    assert not [p for p in tmp_path.rglob(".pcfpga-*")]


def test_write_all_is_all_or_nothing(tmp_path, monkeypatch):
    """The second file fails while it is written (a full disk): the first is not put in
    place, the old file stays, the folder made for it is gone, no temporary file is left,
    and the message names the user's path."""
    (tmp_path / "a.txt").write_text("old")

    def fail(f):
        raise OSError(errno.ENOSPC, "No space left on device")
    with pytest.raises(OutputError) as info:
        write_all({tmp_path / "a.txt": "new", tmp_path / "sub" / "deep" / "b.npz": fail})
    assert str(info.value) == f"{tmp_path / 'sub' / 'deep' / 'b.npz'}: cannot write it (No " \
                              f"space left on device)"
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old"


def test_write_all_names_the_path_when_the_folder_refuses(tmp_path):
    with pytest.raises(OutputError, match=r"^/proc/x\.npz: cannot write it"):
        write_all({tmp_path / "a.txt": "1", "/proc/x.npz": b"2"})
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("path, suffix, message", [
    ("o.txt", ".npz", "--out {p}: expected a file name ending in .npz"),
    ("d.npz", ".npz", "--out {p}: is a folder; expected a file name"),
    ("no/o.npz", ".npz", "--out {p}: folder {t}/no does not exist"),
    (f"{NO_WRITE}/o.npz", ".npz", f"--out {{p}}: cannot write in {NO_WRITE} ("),
    ("", ".npz", "--out: expected a file name ending in .npz, not an empty string"),
])
def test_check_file(tmp_path, path, suffix, message):
    (tmp_path / "d.npz").mkdir()
    p = path if path.startswith("/") or not path else str(tmp_path / path)
    with pytest.raises(OutputError) as info:
        check_file(p, suffix, "--out")
    assert str(info.value).startswith(message.format(p=p, t=tmp_path))
    assert check_file(str(tmp_path / "ok.npz"), ".npz", "--out") == str(tmp_path / "ok.npz")
    assert not [p for p in tmp_path.rglob(".pcfpga-*")]


def test_check_folder(tmp_path):
    (tmp_path / "f").write_text("")
    (tmp_path / "out" / "report.json").mkdir(parents=True)
    with pytest.raises(OutputError, match="exists and is not a folder"):
        check_folder(str(tmp_path / "f"), "-o")
    with pytest.raises(OutputError, match="^-o: expected a folder name, not an empty string"):
        check_folder("", "-o")
    with pytest.raises(OutputError, match=r"/f is not a folder"):
        check_folder(str(tmp_path / "f" / "sub"), "-o")
    with pytest.raises(OutputError, match=f"cannot write in {NO_WRITE}"):
        check_folder(f"{NO_WRITE}/new/deeper", "-o")
    with pytest.raises(OutputError, match="report.json in it is a folder"):
        check_folder(str(tmp_path / "out"), "-o", ["a.png", "report.json"])
    assert check_folder(str(tmp_path / "new" / "deeper"), "-o") == str(tmp_path / "new"
                                                                        / "deeper")
    assert not (tmp_path / "new").exists()       # checked, not created


# ------------------------------------------------------------------ every output path first
@pytest.mark.parametrize("case", ["train plot", "train out", "golden out", "verilog",
                                  "sim waves", "report", "report file is a folder", "demo",
                                  "synth", "sim build", "train build", "report build",
                                  "demo file is a folder", "import graph", "import params",
                                  "export"])
def test_unwritable_outputs_are_refused_before_any_work(rejects, tmp_path, monkeypatch,
                                                        case):
    """An output that cannot be written is named (as the user gave it) before any work is
    done: no training, elaboration or simulation starts (they would fail the test)."""
    from pcfpga.cli import COMMANDS, common

    def no_work(*a, **k):
        raise AssertionError("work started before the outputs were checked")
    monkeypatch.setattr(common, "train", no_work)
    for command in COMMANDS:      # each command module imported the helper by name
        if hasattr(command, "build_design"):
            monkeypatch.setattr(command, "build_design", no_work)
    ok = tmp_path / "o.npz"
    bad = f"{NO_WRITE}/x"
    args, message = {
        "train plot": (["train", XOR, "--data", XOR_DATA, "--out", ok, "--plot",
                        bad + ".png"], f"--plot {bad}.png: cannot write in {NO_WRITE}"),
        "train out": (["train", XOR, "--data", XOR_DATA, "--out", bad + ".npz"],
                      f"--out {bad}.npz: cannot write in {NO_WRITE}"),
        "golden out": (["golden", XOR, "--data", XOR_DATA, "--out", bad + ".npz"],
                       f"--out {bad}.npz: cannot write in {NO_WRITE}"),
        "verilog": (["verilog", XOR, "-o", bad], f"-o {bad}: cannot write in {NO_WRITE}"),
        "sim waves": (["sim", XOR, "--data", XOR_DATA, "--simulator", "amaranth", "--out",
                       ok, "--waves", bad + ".vcd"],
                      f"--waves {bad}.vcd: cannot write in {NO_WRITE}"),
        "report": (["report", XOR, "--data", XOR_DATA, "-o", bad, "--simulator", "none"],
                   f"-o {bad}: cannot write in {NO_WRITE}"),
        "report file is a folder": (["report", XOR, "--data", XOR_DATA, "-o",
                                     tmp_path / "rep", "--simulator", "none"],
                                    "ranges.png in it is a folder"),
        "demo": (["demo", "--out", bad], f"--out {bad}: cannot write in {NO_WRITE}"),
        "synth": (["synth", XOR, "--board", "icebreaker", "-o", bad],
                  f"-o {bad}: cannot write in {NO_WRITE}"),
        "sim build": (["sim", XOR, "--data", XOR_DATA, "--out", ok, "--build", bad],
                      f"--build {bad}: cannot write in {NO_WRITE}"),
        "train build": (["train", XOR, "--data", XOR_DATA, "--backend", "sim", "--build",
                         tmp_path / "afile"], f"--build {tmp_path}/afile: exists and is not "
                                              "a folder"),
        "report build": (["report", XOR, "--data", XOR_DATA, "-o", tmp_path / "r",
                          "--build", bad], f"--build {bad}: cannot write in {NO_WRITE}"),
        "demo file is a folder": (["demo", "--out", tmp_path / "rep"],
                                  "xor_loss.png in it is a folder"),
        "import graph": (["import", tmp_path / "m.onnx", "-o", bad + ".toml"],
                         f"-o {bad}.toml: cannot write in {NO_WRITE}"),
        "import params": (["import", tmp_path / "m.onnx", "-o", tmp_path / "n.toml",
                           "--params", bad + ".npz"],
                          f"--params {bad}.npz: cannot write in {NO_WRITE}"),
        "export": (["export", XOR, "--params", tmp_path / "p.npz", "-o", bad + ".onnx"],
                   f"-o {bad}.onnx: cannot write in {NO_WRITE}"),
    }[case]
    (tmp_path / "afile").write_text("")
    (tmp_path / "rep" / "ranges.png").mkdir(parents=True)
    (tmp_path / "rep" / "xor_loss.png").mkdir()
    rejects(args, message)


def test_train_writes_both_files_or_neither(capsys, tmp_path, monkeypatch):
    """The plot fails while it is written: the parameters are not written either."""
    from pcfpga.golden import plots

    out, plot = tmp_path / "o.npz", tmp_path / "o.png"
    real = outputs.write_all

    def full_disk(files):
        files = dict(files)
        files[str(plot)] = lambda f: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full"))
        real(files)
    monkeypatch.setattr("pcfpga.cli.common.write_all", full_disk)
    code, _, err = run(capsys, "train", XOR, "--data", XOR_DATA, "--epochs", "1", "--out",
                       out, "--plot", plot)
    assert code == 2 and err.strip() == f"pcfpga: error: {plot}: cannot write it (full)"
    assert os.listdir(tmp_path) == []
    assert plots is not None


def test_verilog_writes_both_files_or_neither(capsys, tmp_path, monkeypatch):
    from pcfpga.hdl import export

    real = export.write_all

    def json_fails(files):
        files = {p: (c if p.endswith(".v") else
                     (lambda f: (_ for _ in ()).throw(OSError(errno.EIO, "I/O error"))))
                 for p, c in files.items()}
        real(files)
    monkeypatch.setattr(export, "write_all", json_fails)
    code, _, err = run(capsys, "verilog", XOR, "-o", tmp_path / "v")
    assert code == 2 and err.strip() == (f"pcfpga: error: {tmp_path / 'v' / 'xor.json'}: "
                                         f"cannot write it (I/O error)")
    assert os.listdir(tmp_path) == []


# ------------------------------------------------------------------ no silent failure
HOT = """name = "hot"
[learning]
eta_theta = 1.0
[[node]]
name = "x"
op = "input"
size = 2
[[node]]
name = "y"
op = "dense"
inputs = ["x"]
size = 1
output = true
"""


@pytest.fixture
def hot(tmp_path):
    """A linear net with eta_theta = 1 that diverges on data of 30 (targets 1000), and data
    of 1e200 that overflows the float model in the first step."""
    net = tmp_path / "in" / "hot.toml"
    net.parent.mkdir()
    net.write_text(HOT)
    np.savez(net.parent / "hot.npz", x=np.full((4, 2), 30.0), y=np.full((4, 1), 1000.0))
    np.savez(net.parent / "huge.npz", x=np.full((4, 2), 1e200), y=np.full((4, 1), 1e200))
    return net


@pytest.mark.parametrize("data, command, message", [
    ("hot", "golden", "pcfpga: training diverged at step 95 (y.a is not finite); try a "
                      "smaller learning.eta_theta or eta_v"),
    ("huge", "golden", "pcfpga: the float model overflows at step 1 (y.W.x is not finite), "
                       "from the initial parameters: the data is too large for it; scale the "
                       "inputs and targets"),
    ("hot", "train", "pcfpga: training diverged at epoch 12 (train loss inf); try a smaller "
                     "learning.eta_theta or eta_v"),
    ("huge", "train", "pcfpga: the float model overflows at epoch 0 (train loss inf), from "
                      "the initial parameters: the data is too large for it; scale the inputs "
                      "and targets"),
])
def test_float_overflow_is_one_line_exit_1_and_no_file(capsys, tmp_path, hot, data, command,
                                                       message):
    """golden (float) used to write NaN parameters and exit 0; train printed NumPy warnings
    before the hint, and blamed eta when the data overflowed before any update."""
    import warnings

    out = tmp_path / "out" / "o.npz"
    out.parent.mkdir()
    extra = ["--steps", "200"] if command == "golden" else ["--epochs", "50"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = run(capsys, command, hot, "--data", hot.parent / f"{data}.npz",
                           "--out", out, *extra)
    assert code == 1 and err.strip() == message
    assert not caught, [str(w.message) for w in caught]
    assert os.listdir(out.parent) == []


def test_sim_reports_the_saturation_flags_golden_reports(capsys, tmp_path):
    """Inputs near the top of Q4.12 saturate a hidden pre-activation: golden --fixed and
    sim print the same warning line."""
    data = tmp_path / "d.npz"
    np.savez(data, x=np.full((4, 2), 7.9), y=np.ones((4, 1)))
    lines = {}
    for command, extra in (("golden", ["--fixed"]), ("sim", ["--simulator", "amaranth"])):
        code, out, _ = run(capsys, command, XOR, "--data", data, "--steps", "2", "--out",
                           tmp_path / f"{command}.npz", *extra)
        assert code == 0
        lines[command] = [s for s in out.splitlines() if s.startswith("warning: saturation")]
    assert lines["sim"] == lines["golden"] and len(lines["sim"]) == 1, lines
    assert "h: a" in lines["sim"][0], lines


def test_a_failed_rename_puts_every_file_back(tmp_path, monkeypatch):
    """The third rename fails: the first two files are back as they were (one replaced,
    one new), no backup or temporary file is left, and the user's path is named."""
    (tmp_path / "a.txt").write_text("old a")
    real = os.replace

    def third_fails(src, dst):
        if str(dst).endswith("c.txt"):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(src, dst)
    monkeypatch.setattr(os, "replace", third_fails)
    with pytest.raises(OutputError, match=f"^{tmp_path / 'c.txt'}: cannot write it"):
        write_all({tmp_path / "a.txt": "new a", tmp_path / "b.txt": "b",
                   tmp_path / "c.txt": "c"})
    assert sorted(os.listdir(tmp_path)) == ["a.txt"]
    assert (tmp_path / "a.txt").read_text() == "old a"


def test_a_destination_that_is_a_folder_is_refused_first(tmp_path):
    (tmp_path / "b.v").mkdir()
    with pytest.raises(OutputError, match=f"^{tmp_path / 'b.v'}: is a folder"):
        write_all({tmp_path / "a.txt": "new", tmp_path / "b.v": "x"})
    assert sorted(os.listdir(tmp_path)) == ["b.v"]
