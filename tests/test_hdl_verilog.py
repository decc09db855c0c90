"""Verilog export: every example is written with its manifest and passes Verilator lint."""

import json
import os

import pytest

from pcfpga.cli import main
from pcfpga.examples import EXAMPLES, example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.export import lint, verilator_command, write_verilog
from pcfpga.hdl.memmap import MemoryMap


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_lints_clean(name, tmp_path, capsys):
    assert main(["verilog", str(example_path(name)), "-o", str(tmp_path), "--lint"]) == 0
    out = capsys.readouterr().out
    assert "verilator --lint-only: no errors" in out
    v = (tmp_path / f"{name}.v").read_text()
    assert f"module pcfpga_{name}(" in v
    mm = MemoryMap.from_json((tmp_path / f"{name}.json").read_text())
    assert "ctrl" in mm and mm.meta["mode"] == "exact"


def test_streaming_network_lints_clean(tmp_path):
    g = Graph.from_toml(str(example_path("dag"))).with_settings(mode="streaming")
    v_path, j_path = write_verilog(g, str(tmp_path))
    assert lint(v_path, "pcfpga_dag") == []
    assert json.loads(open(j_path).read())["meta"]["micro_steps"]["tick"] == ["S1", "S2",
                                                                               "S3", "S4"]


def test_lint_reports_errors(tmp_path):
    """The lint helper is not blind: a broken module yields its %Error lines."""
    bad = tmp_path / "bad.v"
    bad.write_text("module bad(input a, output b); assign b = c; endmodule\n")
    errors = lint(str(bad), "bad")
    assert errors and any("%Error" in e for e in errors)


def test_bad_graph_is_rejected_with_the_check_message(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text(open(example_path("xor")).read().replace('act = "tanh"', 'act = "tanhh"'))
    assert main(["check", str(bad)]) == 2
    check_err = capsys.readouterr().err
    assert main(["verilog", str(bad), "-o", str(tmp_path / "out")]) == 2
    assert capsys.readouterr().err == check_err
    assert "act must be one of" in check_err
    assert not os.path.exists(tmp_path / "out")


def test_verilator_is_found():
    assert os.path.exists(verilator_command()[0])


def _xor_verilog(tmp_path, inputs=2, rounding="nearest"):
    text = open(example_path("xor")).read().replace("size = 2", f"size = {inputs}")
    path = tmp_path / f"xor_{inputs}_{rounding}.toml"
    path.write_text(text.replace('rounding = "nearest"', f'rounding = "{rounding}"'))
    folder = tmp_path / path.stem
    folder.mkdir()
    return os.path.getsize(write_verilog(Graph.from_toml(str(path)), str(folder))[0])


def test_verilog_grows_linearly(tmp_path):
    """Elaboration time follows the Verilog's size (issue 14): stochastic rounding adds a
    little (it was 28 times nearest's: every element's mixer copied 320 times), and 4 times
    the weights give at most 3.5 times the text (the host write decoder was quadratic)."""
    nearest = _xor_verilog(tmp_path)
    assert _xor_verilog(tmp_path, rounding="stochastic") < 1.5 * nearest
    assert _xor_verilog(tmp_path, 64) < 3.5 * _xor_verilog(tmp_path, 16)
