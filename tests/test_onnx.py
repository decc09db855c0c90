"""Networks in and out through ONNX (issue 20): ``pcfpga.onnx``, ``pcfpga import`` and
``pcfpga export``.

* every bundled example exported, run by onnxruntime (equal to the float golden model's
  forward pass on its data) and imported back (the same graph and parameters);
* models written by PyTorch (``tests/onnx_models.py``; the checked-in ``.onnx`` files in
  the default suite, a fresh ``torch.onnx.export`` in the slow one): imported, their forward
  pass equals PyTorch's and one exact-mode update equals ``torch.autograd``'s SGD step;
* how ops become nodes (fusing, merging, outputs, names), and every refusal: one line,
  exit 2, nothing written.
"""

import doctest
import os

import numpy as np
import pytest
from helpers import need_module

onnx = need_module("onnx")
ort = need_module("onnxruntime")

import onnx_models  # noqa: E402
import pcfpga.onnx.common  # noqa: E402
import pcfpga.onnx.writer  # noqa: E402
from pcfpga.cli import main  # noqa: E402
from pcfpga.examples import BENCH_NETS, EXAMPLES, example_path, split_paths  # noqa: E402
from pcfpga.golden.float_model import FloatPC  # noqa: E402
from pcfpga.golden.graph import Graph  # noqa: E402
from pcfpga.golden.params import init_params, load_dataset, load_params, save_npz  # noqa: E402
from pcfpga.golden.random_graph import random_graph  # noqa: E402
from pcfpga.onnx import OnnxError, from_graph, to_graph  # noqa: E402

FIXTURES = onnx_models.FIXTURES
FRAMEWORK_MODELS = tuple(onnx_models.MODELS)


def trained_like(graph, seed: int) -> dict:
    """Seeded parameters with non-zero biases (as after training)."""
    rng = np.random.default_rng(seed)
    return {k: v + 0.1 * rng.standard_normal(v.shape)
            for k, v in init_params(graph, seed).items()}


def run_onnx(model, x: dict) -> dict:
    """onnxruntime's outputs of ``model`` on the inputs ``x``, by name."""
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in s.get_outputs()]
    return dict(zip(names, s.run(names, x)))


# ---------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", EXAMPLES + BENCH_NETS)
def test_every_example_round_trips(name):
    """Export: onnxruntime equals the float golden model (1e-6) on the example's data;
    import of the export: the same graph and parameters."""
    g = Graph.from_toml(str(example_path(name)))
    params = trained_like(g, 7)
    model = from_graph(g, params)
    worst = 0.0
    for path in split_paths(name):
        x, _, _ = load_dataset(path, g)
        want = FloatPC(g).predict(params, x)
        got = run_onnx(model, x)
        worst = max(worst, *(np.max(np.abs(got[k] - want[k])) for k in want))
    print(f"{name}: largest |onnxruntime - golden| {worst:.2e}")
    assert worst < 1e-6
    back, back_params = to_graph(model)
    assert back == g
    assert list(back_params) == list(params)
    assert all(np.array_equal(back_params[k], params[k]) for k in params)


def test_float32_export_runs_everywhere():
    """float32: HardSigmoid too (onnxruntime has no float64 one); float32's rounding."""
    g = (Graph.from_dict({"name": "acts", "node": [
        {"name": "x", "op": "input", "size": 3},
        {"name": "h", "op": "dense", "inputs": ["x"], "size": 4, "act": "hardsigmoid"},
        {"name": "r", "op": "act", "inputs": ["h"], "act": "relu"},
        {"name": "l", "op": "dense", "inputs": ["r", "x"], "size": 4, "act": "leaky_relu",
         "bias": True},
        {"name": "t", "op": "act", "inputs": ["l"], "act": "hardtanh"},
        {"name": "y", "op": "add", "inputs": ["t", "h", "r"], "output": True}]}))
    params = trained_like(g, 3)
    model = from_graph(g, params, "float32")
    x = {"x": np.random.default_rng(4).uniform(-3, 3, (32, 3))}
    got = run_onnx(model, {"x": x["x"].astype(np.float32)})["y"]
    assert got.dtype == np.float32
    assert np.max(np.abs(got - FloatPC(g).predict(params, x)["y"])) < 1e-5
    back, back_params = to_graph(model)
    assert back == g
    assert all(np.array_equal(back_params[k], params[k].astype(np.float32)) for k in params)


@pytest.mark.parametrize("seed", range(20))
def test_random_graphs_keep_their_function(seed):
    """Any graph: its export's import computes the same outputs. It may be simpler (act
    identity nodes are read as the vector itself, a dense identity node feeding one act
    node as one dense node) or refused when that leaves an add or mul with one vector
    twice."""
    g = random_graph(seed)
    params = trained_like(g, seed)
    model = from_graph(g, params)
    try:
        back, back_params = to_graph(model)
    except OnnxError as e:
        assert "takes the same vector twice" in str(e)
        return
    x = {n.name: np.random.default_rng(seed).uniform(-2, 2, (8, n.size)) for n in g.inputs}
    want = FloatPC(g).predict(params, x)
    got = FloatPC(back).predict(back_params, x)
    assert all(np.allclose(got[k], want[k], rtol=0, atol=1e-12) for k in want)


def test_cli_export_then_import(tmp_path, capsys):
    net = str(example_path("dag"))
    g = Graph.from_toml(net)
    params = trained_like(g, 1)
    save_npz(tmp_path / "p.npz", params)
    assert main(["export", net, "--params", str(tmp_path / "p.npz"), "-o",
                 str(tmp_path / "dag.onnx")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "dag.onnx"), "-o", str(tmp_path / "back.toml")]) == 0
    out = capsys.readouterr().out
    assert "graph dag: 7 nodes" in out and "back.npz (7 arrays, 98 parameters)" in out
    back = Graph.from_toml(str(tmp_path / "back.toml"))
    assert back == g
    got = load_params(tmp_path / "back.npz", back)
    assert all(np.array_equal(got[k], params[k]) for k in params)


def test_cli_import_settings(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    path.write_bytes(framework_model("sequential").SerializeToString())
    assert main(["import", str(path), "-o", str(tmp_path / "n.toml"), "--params",
                 str(tmp_path / "w.npz"), "--name", "seq", "--value", "Q6.10", "--weight",
                 "Q3.13", "--mode", "fpa", "--eta-v", "0.5", "--eta-theta", "0.25",
                 "--ticks", "9", "--rounding", "stochastic", "--table-bits", "10"]) == 0
    g = Graph.from_toml(str(tmp_path / "n.toml"))
    f, lr = g.formats, g.learning
    assert (g.name, str(f.value), str(f.weight), f.rounding, f.table_bits) == (
        "seq", "Q6.10", "Q3.13", "stochastic", 10)
    assert (lr.mode, lr.eta_v, lr.eta_theta, lr.ticks) == ("fpa", 0.5, 0.25, 9)
    assert set(np.load(tmp_path / "w.npz").files) == set(g.param_shapes)
    capsys.readouterr()


def test_import_warns_about_weights_outside_the_format(tmp_path, capsys):
    g = Graph.from_toml(str(example_path("xor")))
    params = {k: 20.0 * v for k, v in trained_like(g, 2).items()}
    (tmp_path / "big.onnx").write_bytes(from_graph(g, params).SerializeToString())
    assert main(["import", str(tmp_path / "big.onnx"), "-o", str(tmp_path / "b.toml")]) == 0
    out = capsys.readouterr().out
    assert "warning: " in out and "hold values outside format.weight Q4.12" in out


# ---------------------------------------------------------------------- framework models
def framework_model(name: str, suffix: str = ""):
    return onnx.load(os.path.join(FIXTURES, f"{name}{suffix}.onnx"))


@pytest.mark.parametrize("name", FRAMEWORK_MODELS)
def test_framework_fixtures_were_written_by_pytorch(name):
    for suffix in ("", "_step"):
        assert framework_model(name, suffix).producer_name == "pytorch"


def test_framework_fixture_graphs():
    seq, _ = to_graph(framework_model("sequential"))
    assert [(n.name, n.op, n.act, n.inputs, n.bias) for n in seq.nodes] == [
        ("x", "input", "identity", (), False),
        ("n1", "dense", "tanh", ("x",), True),
        ("n3", "dense", "leaky_relu", ("n1",), True),
        ("y", "dense", "sigmoid", ("n3",), False)]
    dag, _ = to_graph(framework_model("skip_gate"), name="skip_gate")
    assert [(n.name, n.op, n.act, n.inputs) for n in dag.nodes] == [
        ("x", "input", "identity", ()), ("l1", "dense", "tanh", ("x",)),
        ("l2", "dense", "hardtanh", ("l1",)), ("gate", "dense", "sigmoid", ("x",)),
        ("Add", "add", "identity", ("l1", "l2")), ("Mul", "mul", "identity", ("Add", "gate")),
        ("y", "dense", "identity", ("Mul",))]
    assert dag.depth == 4


def check_against_torch(model, stepped, data) -> float:
    """Import ``model``: its forward pass equals PyTorch's (``data["forward"]``) and one
    exact-mode update on (x, y) equals the SGD step that gave ``stepped``, relative 1e-8
    on every parameter's change; the largest relative difference."""
    eta = float(data["eta"])
    g, params = to_graph(model, eta_theta=eta)
    after_g, after = to_graph(stepped, eta_theta=eta)
    assert g.learning.mode == "exact" and after_g == g
    pc = FloatPC(g)
    out = pc.predict(params, {"x": data["X"]})[g.outputs[0].name]
    assert np.allclose(out, data["forward"], rtol=0, atol=1e-12)
    new, _ = pc.step(params, {"x": data["x"][0]}, {"y": data["y"][0]})
    worst = 0.0
    for k in params:
        ours, theirs = new[k] - params[k], after[k] - params[k]
        assert np.linalg.norm(theirs) > 0, k
        worst = max(worst, np.linalg.norm(ours - theirs) / np.linalg.norm(theirs))
    assert worst < 1e-8
    return worst


@pytest.mark.parametrize("name", FRAMEWORK_MODELS)
def test_exact_update_equals_torch_autograd(name):
    data = np.load(os.path.join(FIXTURES, f"{name}_step.npz"))
    worst = check_against_torch(framework_model(name), framework_model(name, "_step"), data)
    print(f"{name}: largest relative difference from torch.autograd's step {worst:.1e}")


def torch_run(name: str, dynamo: bool = False) -> tuple:
    """Export model ``name`` anew, and check it against torch.autograd itself as the
    fixtures are checked; (its graph, its parameters, the PyTorch model)."""
    model, size = onnx_models.MODELS[name]()
    exported = onnx_models.export(model, size, dynamo)
    n_out = onnx_models.forward(model, np.zeros((1, size))).shape[1]
    x, y = onnx_models.sample(size, n_out)
    X, _ = onnx_models.sample(size, n_out, rows=16, seed=onnx_models.SEED + 1)
    data = {"x": x, "y": y, "eta": onnx_models.ETA, "X": X,
            "forward": onnx_models.forward(model, X)}
    stepped = onnx_models.export(onnx_models.sgd_step(model, x, y), size, dynamo)
    check_against_torch(exported, stepped, data)
    return (*to_graph(exported), model)


@pytest.mark.slow
@pytest.mark.parametrize("name", FRAMEWORK_MODELS)
def test_torch_onnx_export_then_import(name):
    """With PyTorch: export anew; the same checks against torch.autograd itself, and the
    same graph and parameters as the checked-in fixture (the script reproduces it), which
    are PyTorch's float32 weights as they are (or transposed, for a MatMul)."""
    pytest.importorskip("torch")
    g, params, model = torch_run(name)
    fixture_g, fixture_params = to_graph(framework_model(name))
    assert g == fixture_g
    assert all(np.array_equal(params[k], fixture_params[k]) for k in params)
    weights = {p.detach().numpy().astype(np.float64).tobytes() for p in model.parameters()}
    assert all(v.tobytes() in weights or v.T.copy().tobytes() in weights
               for v in params.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", FRAMEWORK_MODELS)
def test_torch_dynamo_export_then_import(name):
    """PyTorch's default exporter since 2.9 (torch.export; names nodes node_linear, ...):
    the same graph up to names, the same checks against torch.autograd."""
    pytest.importorskip("torch")
    pytest.importorskip("onnxscript")
    g, params, _ = torch_run(name, dynamo=True)
    fixture_g, fixture_params = to_graph(framework_model(name))
    def shape(graph):
        return [(n.op, n.act, n.size, n.bias, n.output) for n in graph.nodes]

    assert shape(g) == shape(fixture_g)
    assert all(np.array_equal(a, b) for a, b in zip(params.values(),
                                                    fixture_params.values()))


def test_doctests_of_the_package():
    for module in (pcfpga.onnx.common, pcfpga.onnx.writer):
        result = doctest.testmod(module)
        assert result.attempted and not result.failed, module.__name__


# ---------------------------------------------------------------------- the walkthrough
def test_walkthrough_evaluates_an_export(tmp_path, capsys):
    from pcfpga.examples import onnx_walkthrough

    g = Graph.from_toml(str(example_path("iris")))
    path = tmp_path / "iris.onnx"
    path.write_bytes(from_graph(g, trained_like(g, 5), "float32").SerializeToString())
    onnx_walkthrough.main(["evaluate", str(path)])
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[1].split()[0] for line in lines] == ["train", "test"]
    assert all("loss 0." in line and "acc " in line for line in lines)


@pytest.mark.slow
def test_walkthrough_pretrains_as_the_readme_says(tmp_path, capsys):
    pytest.importorskip("torch")
    from pcfpga.examples import onnx_walkthrough

    out = tmp_path / "iris_torch.onnx"
    onnx_walkthrough.main(["pretrain", str(out)])
    assert "PyTorch, 3 epochs: test loss 0.17116  acc 0.83333" in capsys.readouterr().out
    assert main(["import", str(out), "-o", str(tmp_path / "iris_pt.toml"), "--name",
                 "iris_pt", "--eta-theta", "0.0625"]) == 0
    assert "(4 arrays, 67 parameters)" in capsys.readouterr().out
