"""Training through the simulated hardware (``--backend sim``) against the golden model.

``ref_*`` come from :func:`pcfpga.golden.training.train` with the fixed golden model,
``rtl_*`` from the same call with :class:`pcfpga.sim.training.SimulatedPC`; parameters are
compared with ``np.array_equal``, and every step is compared inside the run as well.
"""

import numpy as np
import pytest

from pcfpga.cli import main
from pcfpga.examples import data_path, example_path
from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset, load_params
from pcfpga.golden.random_graph import random_sample
from pcfpga.golden.training import train
from pcfpga.sim.session import Mismatch, compare_traces
from pcfpga.sim.simulate import open_session
from pcfpga.sim.training import SimulatedPC

SEED = 3


def _data(name, part="train"):
    g = Graph.from_toml(str(example_path(name)))
    return g, load_dataset(str(data_path(name if name == "xor" else f"{name}_{part}")), g)


def _pair(g, data, simulator, epochs, build, check="ticks", test=None, **kw):
    print(f"parameter seed 1, order seed {SEED}")
    p0 = init_params(g, 1)
    ref_params, ref_hist = train(FixedPC(g), p0, data, test, epochs=epochs, seed=SEED,
                                 log=lambda s: None)
    model = SimulatedPC(g, simulator, check=check, build_root=build, **kw)
    try:
        rtl_params, rtl_hist = train(model, p0, data, test, epochs=epochs, seed=SEED,
                                     log=lambda s: None)
    finally:
        model.close()
    for k in ref_params:
        assert np.array_equal(rtl_params[k], ref_params[k]), k
    assert rtl_hist.train_loss == ref_hist.train_loss
    assert model.steps_checked == epochs * data[2]
    return model, rtl_hist


@pytest.mark.slow
def test_iris_whole_training_verilator(need_simulator, sim_build):
    """30 epochs of Iris, every register after every tick of all 3,600 steps, on
    Verilator: the parameters equal the golden model's and the test accuracy is that of
    the fixed-point model (≥ 93 %). A Verilator build of Iris: ``slow`` (tests/helpers.py);
    the default suite trains Iris on Icarus below."""
    need_simulator("verilator")
    g, data = _data("iris")
    _, test = _data("iris", "test")
    _, hist = _pair(g, data, "verilator", 30, sim_build, test=test)
    assert hist.test_acc[-1] >= 0.93


def test_iris_training_icarus(need_simulator, sim_build):
    need_simulator("icarus")
    g, data = _data("iris")
    _pair(g, data, "icarus", 3, sim_build, check="params")


@pytest.mark.parametrize("simulator", ["amaranth", "verilator", "icarus"])
def test_xor_training(simulator, need_simulator, sim_build):
    need_simulator(simulator)
    g, data = _data("xor")
    _pair(g, data, simulator, 25, sim_build, batch=3)


@pytest.mark.parametrize("simulator", ["amaranth",
                                       pytest.param("verilator", marks=pytest.mark.slow)])
def test_streaming_training_carries_over_epochs_and_drains(simulator, need_simulator,
                                                           sim_build):
    """Streaming: samples in flight cross epoch and batch boundaries, and the pipeline is
    drained with bubble ticks at the end, on both sides."""
    need_simulator(simulator)
    g, data = _data("teacher_2_4_3")
    g = g.with_settings(rounding="truncate")
    small = ({k: v[:40] for k, v in data[0].items()}, {k: v[:40] for k, v in data[1].items()},
             40)
    _pair(g, small, simulator, 3, sim_build, batch=16)


@pytest.mark.parametrize("simulator", ["verilator", "icarus"])
def test_writes_after_any_number_of_reads(simulator, need_simulator, sim_build):
    """Reads move the testbench 1 ns at a time; a write that follows them must land
    whatever the phase (Icarus once lost the first write when it fell on a clock edge)."""
    need_simulator(simulator)
    g, _ = _data("xor")
    m = FixedPC(g)
    q = m.to_model(init_params(g, 0))
    rng = np.random.default_rng(0)
    V = g.formats.value
    with open_session(g, simulator, build_root=sim_build) as s:
        s.load(q)
        for reads in range(10):
            x, y = random_sample(g, rng)
            ints = (quantize(g, x), quantize(g, y))
            hw = s.run([ints])
            q, ref = m.step(q, {k: V.to_float(v) for k, v in ints[0].items()},
                            {k: V.to_float(v) for k, v in ints[1].items()})
            compare_traces(hw[0], ref, reads)
            s.read(["y.b"] * reads)


class _Corrupt(FixedPC):
    """A golden model whose trace is wrong in one bit (after the last tick) from step 5 on."""

    steps = 0

    def step(self, params, x, y):
        params, trace = super().step(params, x, y)
        _Corrupt.steps += 1
        if _Corrupt.steps > 5:
            trace["h.eps"] = trace["h.eps"].copy()
            trace["h.eps"][-1, 1] ^= 1
        return params, trace


def test_a_difference_stops_training_with_its_place(monkeypatch):
    _Corrupt.steps = 0
    g, data = _data("xor")
    model = SimulatedPC(g, "amaranth", batch=2)
    model.reset()
    monkeypatch.setattr(model, "golden", _Corrupt(g))
    with pytest.raises(Mismatch, match=r"amaranth, epoch 2, step 5, tick 1: h.eps\[1\] is "
                                       r"-?\d+, golden -?\d+"):
        model.run_epoch(model.to_model(init_params(g, 0)), [])  # epoch 1: nothing
        model.run_epoch(model.to_model(init_params(g, 0)),
                        [((x, y)) for x, y in _samples(data, 8)])
    model.close()


def _samples(data, n):
    x, y, count = data
    return [({k: v[i % count] for k, v in x.items()}, {k: v[i % count] for k, v in y.items()})
            for i in range(n)]


def test_cli_train_backend_sim_equals_fixed(tmp_path, capsys):
    net, d = str(example_path("xor")), str(data_path("xor"))
    common = [net, "--data", d, "--epochs", "12", "--seed", "2"]
    assert main(["train", *common, "--backend", "fixed", "--out",
                 str(tmp_path / "f.npz")]) == 0
    assert main(["train", *common, "--backend", "sim", "--simulator", "amaranth",
                 "--check", "ticks", "--out", str(tmp_path / "s.npz")]) == 0
    out = capsys.readouterr().out
    assert "match: 48 steps on amaranth equal the golden model (every register after " \
           "every tick" in out
    assert "cycles/s" in out and (tmp_path / "s.png").exists()
    g = Graph.from_toml(net)
    fixed, sim = load_params(str(tmp_path / "f.npz"), g), load_params(str(tmp_path / "s.npz"), g)
    assert all(np.array_equal(fixed[k], sim[k]) for k in fixed)


def test_cli_train_backend_sim_checks_parameters_by_default(tmp_path, capsys):
    """The default for training runs (the long ones): free batches, parameters and flags
    compared after each."""
    assert main(["train", str(example_path("xor")), "--data", str(data_path("xor")),
                 "--epochs", "3", "--backend", "sim", "--simulator", "amaranth",
                 "--out", str(tmp_path / "s.npz")]) == 0
    assert "match: 12 steps on amaranth equal the golden model (parameters and saturation " \
           "flags after every batch of 64 steps, each batch running free)" in \
           capsys.readouterr().out


def test_cli_train_sim_mismatch_exits_1(tmp_path, capsys, monkeypatch):
    import pcfpga.sim.training as training

    monkeypatch.setattr(training, "FixedPC", _Corrupt)
    _Corrupt.steps = 0
    code = main(["train", str(example_path("xor")), "--data", str(data_path("xor")),
                 "--epochs", "3", "--backend", "sim", "--simulator", "amaranth",
                 "--check", "ticks", "--out", str(tmp_path / "s.npz")])
    captured = capsys.readouterr()
    assert code == 1
    assert "MISMATCH: amaranth, epoch 2, step 5, tick 1: h.eps[1]" in captured.out
    assert "differs from the golden model" in captured.err
    assert not (tmp_path / "s.npz").exists()


@pytest.mark.parametrize("args, message", [
    (["--backend", "fixed", "--simulator", "icarus"],
     "--simulator applies to --backend sim only, not --backend fixed"),
    (["--backend", "float", "--check", "params"],
     "--check applies to --backend sim only, not --backend float"),
    (["--backend", "sim", "--backprop"],
     "--backprop trains with float backprop; it cannot be combined with --backend sim"),
])
def test_cli_train_sim_bad_options(tmp_path, capsys, args, message):
    code = main(["train", str(example_path("xor")), "--data", str(data_path("xor")),
                 "--out", str(tmp_path / "o.npz"), *args])
    assert code == 2 and message in capsys.readouterr().err


@pytest.mark.parametrize("kw, message", [
    ({"check": "every"}, "Check must be one of ticks, params, not 'every'"),
    ({"batch": 0}, "Batch must be a positive integer, not 0"),
])
def test_simulated_pc_parameters(kw, message):
    g, _ = _data("xor")
    with pytest.raises(ValueError, match=message):
        SimulatedPC(g, "amaranth", **kw)


def test_a_failed_amaranth_simulation_reports_and_closes(tmp_path):
    """The simulator thread fails (its VCD cannot be written): the request raises, and
    closing the session does not wait for an answer that cannot come."""
    from pcfpga.sim.amaranth_backend import AmaranthSession
    from pcfpga.sim.session import SimulationFailed

    g, _ = _data("xor")
    q = FixedPC(g).to_model(init_params(g, 0))
    with pytest.raises(SimulationFailed, match="the Amaranth simulation failed: "
                                               "FileNotFoundError"):
        with AmaranthSession(g, waves=str(tmp_path / "missing" / "w.vcd")) as s:
            s.load(q)


def test_cli_sim_waves_in_a_missing_folder(tmp_path, capsys):
    code = main(["sim", str(example_path("xor")), "--data", str(data_path("xor")),
                 "--simulator", "amaranth", "--waves", str(tmp_path / "no" / "w.vcd"),
                 "--out", str(tmp_path / "o.npz")])
    assert code == 2 and "does not exist" in capsys.readouterr().err
