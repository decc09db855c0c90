"""``pcfpga synth``: the SoC synthesised, placed and routed with the YoWASP tools.

The builds take minutes each, so they are marked slow (``make test-slow``); the CLI's error
paths run in the default suite.
"""

import json
import os

import pytest

from pcfpga.boards.synth import synthesize, toolchain_env
from pcfpga.boards.cells import ToolMissing
from pcfpga.boards.devices import BOARDS
from pcfpga.cli import main
from pcfpga.examples import example_path
from pcfpga.golden.graph import Graph
from pcfpga.hdl.fit import fit
from pcfpga.hdl.memmap import MemoryMap


def _graph(name):
    return Graph.from_toml(str(example_path(name)))


@pytest.mark.slow
@pytest.mark.parametrize("name, board_name", [
    ("xor", "icebreaker"), ("iris", "icebreaker"), ("digits", "icebreaker"), ("iris", "ulx3s"),
    ("xor", "ulx3s"), ("xor", "icesugar_pro")])
def test_synthesised_soc_fits_and_meets_timing(name, board_name, tmp_path):
    """The fitter's choice for the board, whole SoC: bitstream written,
    timing met at the board clock, LUTs under 90 %, every multiplier in a DSP (as many DSP
    cells as the fitter counts) and within the device's."""
    try:
        toolchain_env(BOARDS[board_name].device.family)
    except ToolMissing as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(e))
    g, b = _graph(name), BOARDS[board_name]
    est = fit(g, b.device)
    report = synthesize(g, board_name, str(tmp_path), log=print)
    print(json.dumps(report, indent=1))
    cells = report["cells"]
    assert os.path.getsize(tmp_path / report["bitstream"]) > 1000
    assert json.loads((tmp_path / "report.json").read_text()) == report
    assert report["timing_met"] and report["fmax_mhz"] >= b.clock_hz / 1e6
    assert cells["lut"]["used"] < 0.9 * cells["lut"]["available"]
    assert cells["dsp"]["used"] == est.multipliers <= b.device.dsp
    assert report["dsp_registers"]["count"] == cells["dsp"]["used"]    # Yosys's netlist
    if b.device.family == "ice40":      # the dataset buffer in an SPRAM of its own
        assert cells["spram"]["used"] == est.spram_blocks + 1
    # the SoC's memory map, as the host driver builds it for this board
    from pcfpga.boards.soc import DATASET_WORDS, dataset_capacity, soc_memory_map

    capacity = dataset_capacity(g, DATASET_WORDS[b.device.family])
    assert report["dataset_capacity"] == capacity
    assert MemoryMap.from_json((tmp_path / "memmap.json").read_text()).fields == \
        soc_memory_map(est.design, capacity).fields


def test_cli_synth_without_a_toolchain(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("YOSYS", str(tmp_path / "no-yosys"))
    out = tmp_path / "out"
    code = main(["synth", str(example_path("xor")), "--board", "icebreaker", "-o", str(out)])
    assert code == 2 and not out.exists()
    assert f"YOSYS={tmp_path / 'no-yosys'} is not an executable" in capsys.readouterr().err


def test_cli_synth_output_is_a_file(tmp_path, capsys):
    target = tmp_path / "file"
    target.write_text("x")
    code = main(["synth", str(example_path("xor")), "--board", "icebreaker", "-o", str(target)])
    assert code == 2 and "exists and is not a folder" in capsys.readouterr().err


def test_cli_synth_bad_baud(tmp_path, capsys):
    code = main(["synth", str(example_path("xor")), "--board", "icebreaker", "-o",
                 str(tmp_path / "o"), "--baud", "2500000"])
    assert code == 2
    assert "Baud rate 2500000 is 4.0% off at 12 MHz" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
