"""The pcfpga command line: outputs, and bad input (exit 2, one line, no files)."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from pcfpga.cli import main
from pcfpga.examples import data_path, example_path
from pcfpga.golden.fixed_model import FixedPC
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset, save_npz
from pcfpga.golden.training import sample

from helpers import assert_refused

XOR = str(example_path("xor"))
XOR_DATA = str(data_path("xor"))
IRIS = str(example_path("iris"))


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_check(capsys):
    code, out, _ = run(capsys, "check", str(example_path("dag")))
    assert code == 0
    assert "graph dag: 7 nodes, 8 edges, 98 parameters, depth D = 4" in out
    assert "h1 -> s  (add)" in out and "x -> h1  (W 6x3)" in out


def test_golden_fixed_equals_the_library(capsys, tmp_path):
    out = tmp_path / "g.npz"
    code, text, _ = run(capsys, "golden", XOR, "--data", XOR_DATA, "--fixed", "--steps", "6",
                        "--out", str(out))
    assert code == 0 and "6 step(s)" in text
    g = Graph.from_toml(XOR)
    x, y, n = load_dataset(XOR_DATA, g)
    m = FixedPC(g)
    q = m.to_model(init_params(g, 0))
    traces = []
    for step in range(6):
        q, tr = m.step(q, sample(x, step % n), sample(y, step % n))
        traces.append(tr)
    with np.load(out) as z:
        for k, v in m.to_float(q).items():
            assert np.array_equal(z[k], v)
        assert z["trace.h.eps"].shape == (6, g.ticks + 1, 4)
        for k in traces[0]:
            assert np.array_equal(z[f"trace.{k}"], np.stack([t[k] for t in traces])), k
        assert z["trace.y.W.h"].shape == (6, 1, 4)


def test_golden_streaming_trace_has_delay_lines(capsys, tmp_path):
    net = tmp_path / "s.toml"
    net.write_text(open(XOR).read().replace('mode = "exact"', 'mode = "streaming"'))
    out = tmp_path / "s.npz"
    assert run(capsys, "golden", str(net), "--data", XOR_DATA, "--steps", "4", "--out",
               str(out))[0] == 0
    with np.load(out) as z:
        assert "trace.x.v.line" in z.files and "trace.y.y.line" in z.files


def test_train_backends(capsys, tmp_path):
    for backend, extra in (("fixed", []), ("float", []), ("float", ["--backprop"])):
        out = tmp_path / f"{backend}{len(extra)}.npz"
        code, text, _ = run(capsys, "train", IRIS, "--data", str(data_path("iris_train")),
                            "--test", str(data_path("iris_test")), "--backend", backend,
                            "--epochs", "3", "--out", str(out), *extra)
        assert code == 0
        assert "epoch    3  train loss" in text and "acc 0." in text
        assert out.exists() and out.with_suffix(".png").exists()
        with np.load(out) as z:
            assert sorted(z.files) == sorted(Graph.from_toml(IRIS).param_shapes)


def test_demo(capsys, tmp_path):
    code, out, _ = run(capsys, "demo", "--out", str(tmp_path / "demo"), "--epochs", "300")
    assert code == 0
    assert "final accuracy 100 %" in out
    assert (tmp_path / "demo" / "xor_loss.png").exists()


@pytest.mark.parametrize("case", ["toml", "data key", "params shape", "out folder", "suffix",
                                  "backprop fixed", "unrepresentable", "missing net",
                                  "out is a folder", "plot is a folder", "npy data",
                                  "demo out is a file"])
def test_bad_input(capsys, tmp_path, case):
    g = Graph.from_toml(XOR)
    if case == "toml":
        bad = tmp_path / "bad.toml"
        bad.write_text('name = "x"\n[[node]]\nname = "x"\nop = "input"\nsize = 2\nsizes = 3\n')
        args, msg = ["check", str(bad)], "unknown key 'sizes' in node 'x' (op input)"
    elif case == "data key":
        d = tmp_path / "d.npz"
        save_npz(d, {"x": np.zeros((4, 2)), "target": np.zeros((4, 1))})
        args = ["golden", XOR, "--data", str(d), "--out", str(tmp_path / "o.npz")]
        msg = "no array 'y'; a dataset for xor needs x, y"
    elif case == "params shape":
        p = tmp_path / "p.npz"
        save_npz(p, {**init_params(g, 0), "h.W.x": np.zeros((2, 4))})
        args = ["train", XOR, "--data", XOR_DATA, "--params", str(p), "--out",
                str(tmp_path / "o.npz")]
        msg = "h.W.x has shape (2, 4), expected (4, 2)"
    elif case == "out folder":
        args = ["golden", XOR, "--data", XOR_DATA, "--out", str(tmp_path / "no" / "o.npz")]
        msg = "does not exist"
    elif case == "suffix":
        args = ["golden", XOR, "--data", XOR_DATA, "--out", str(tmp_path / "o.txt")]
        msg = "expected a file name ending in .npz"
    elif case == "backprop fixed":
        args = ["train", XOR, "--data", XOR_DATA, "--backend", "fixed", "--backprop",
                "--out", str(tmp_path / "o.npz")]
        msg = "--backprop trains with float backprop; it cannot be combined with --backend"
    elif case == "unrepresentable":
        p = tmp_path / "p.npz"
        save_npz(p, {**init_params(g, 0), "y.b": np.array([12.0])})
        args = ["train", XOR, "--data", XOR_DATA, "--backend", "fixed", "--params", str(p),
                "--out", str(tmp_path / "o.npz")]
        msg = "parameter y.b holds 12, outside the weight format Q4.12"
    elif case == "out is a folder":
        (tmp_path / "d.npz").mkdir()
        args = ["golden", XOR, "--data", XOR_DATA, "--out", str(tmp_path / "d.npz")]
        msg = "is a folder; expected a file name"
    elif case == "plot is a folder":
        (tmp_path / "d.png").mkdir()
        args = ["train", XOR, "--data", XOR_DATA, "--epochs", "1", "--out",
                str(tmp_path / "o.npz"), "--plot", str(tmp_path / "d.png")]
        msg = "--plot"
    elif case == "npy data":
        np.save(tmp_path / "a.npy", np.zeros(3))
        args = ["golden", XOR, "--data", str(tmp_path / "a.npy"), "--out",
                str(tmp_path / "o.npz")]
        msg = "a single array (.npy), not a .npz dataset file"
    elif case == "demo out is a file":
        (tmp_path / "afile").write_text("")
        args, msg = ["demo", "--out", str(tmp_path / "afile")], "exists and is not a folder"
    else:
        args, msg = ["check", str(tmp_path / "nope.toml")], "nope.toml: no such file"
    assert_refused(capsys, tmp_path, args, msg)


def test_option_errors_exit_2_with_one_line(capsys):
    with pytest.raises(SystemExit) as info:
        main(["golden", XOR, "--data", XOR_DATA, "--steps", "0", "--out", "x.npz"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("pcfpga: error: argument --steps: "
                                                    "expected a positive integer, not 0")


def test_installed_entry_point(tmp_path):
    """The console script itself: exit codes and no traceback."""
    exe = shutil.which("pcfpga", path=os.path.dirname(sys.executable))
    assert exe, "the pcfpga script is not installed next to this Python"
    ok = subprocess.run([exe, "check", XOR], capture_output=True, text=True)
    assert ok.returncode == 0 and "depth D = 1" in ok.stdout
    bad = subprocess.run([exe, "check", str(tmp_path / "x.toml")], capture_output=True,
                         text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.startswith("pcfpga: error: ")


def test_sim_matches_golden_fixed(capsys, tmp_path):
    """pcfpga sim (Amaranth simulator) writes the same parameters as golden --fixed."""
    out_sim, out_gold = tmp_path / "s.npz", tmp_path / "g.npz"
    code, text, _ = run(capsys, "sim", XOR, "--data", XOR_DATA, "--steps", "3",
                        "--simulator", "amaranth", "--out", str(out_sim))
    assert code == 0 and "match: every register equals the golden model" in text
    assert "cycles/s" in text
    assert run(capsys, "golden", XOR, "--data", XOR_DATA, "--steps", "3", "--fixed",
               "--out", str(out_gold))[0] == 0
    with np.load(out_sim) as s, np.load(out_gold) as g:
        assert sorted(s.files) == sorted(Graph.from_toml(XOR).param_shapes)
        for k in s.files:
            assert np.array_equal(s[k], g[k]), k


@pytest.mark.parametrize("simulator, name, suffix", [("amaranth", "w.txt", ".vcd"),
                                                     ("icarus", "w.vcd", ".fst")])
def test_sim_bad_input(capsys, tmp_path, simulator, name, suffix):
    assert_refused(capsys, tmp_path, ["sim", XOR, "--data", XOR_DATA, "--simulator", simulator,
                                  "--waves", str(tmp_path / name), "--out",
                                  str(tmp_path / "o.npz")],
               f"--waves {tmp_path / name}: {simulator} writes {suffix} files; expected a "
               f"name ending in {suffix}")


@pytest.mark.parametrize("simulator, suffix", [
    ("amaranth", ".vcd"), pytest.param("verilator", ".vcd", marks=pytest.mark.slow),
    ("icarus", ".fst")])
def test_sim_waves(capsys, tmp_path, simulator, suffix, need_simulator, sim_build):
    """--waves on every simulator: Verilator and Amaranth write VCD, Icarus FST (Verilator's
    traced model is a build of its own, so under ``slow``; tests/helpers.py)."""
    need_simulator(simulator)
    waves = tmp_path / f"xor{suffix}"
    code, text, _ = run(capsys, "sim", XOR, "--data", XOR_DATA, "--simulator", simulator,
                        "--waves", str(waves), "--build", str(sim_build), "--out",
                        str(tmp_path / "o.npz"))
    assert code == 0 and f"and {waves}" in text
    if suffix == ".vcd":
        content = waves.read_text()
        assert "$enddefinitions" in content and "w_en" in content and "#" in content
    else:  # FST: a header block (type 0) first, and more than a header
        data = waves.read_bytes()
        assert data[0] == 0 and len(data) > 1000


@pytest.mark.parametrize("extra", [["--verify-steps", "3"], ["--verify-simulator", "icarus"]])
def test_synth_verify_options_need_verify(extra, tmp_path, capsys):
    """--verify-steps and --verify-simulator alone are refused (exit 2, one line) before
    anything is built or written."""
    out = tmp_path / "never"
    code = main(["synth", str(example_path("xor")), "--board", "icebreaker", "-o", str(out),
                 *extra])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err == ("pcfpga: error: --verify-steps and --verify-simulator choose how --verify "
                   "runs; add --verify\n")
