"""How ONNX ops become pcfpga nodes (issue 20), and every refusal of ``pcfpga import`` and
``pcfpga export``: one line naming the op and the node (or the value), exit 2, nothing
written. The models are built here with ``onnx.helper``."""


import numpy as np
import pytest
from helpers import assert_refused, need_module

onnx = need_module("onnx")

from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from pcfpga.examples import example_path  # noqa: E402
from pcfpga.golden.float_model import FloatPC  # noqa: E402
from pcfpga.golden.graph import Graph  # noqa: E402
from pcfpga.golden.params import init_params, save_npz  # noqa: E402
from pcfpga.onnx import from_graph, to_graph  # noqa: E402

RNG = np.random.default_rng(2020)


def W(*shape):
    """A seeded float32 array."""
    return RNG.uniform(-1, 1, shape).astype(np.float32)


def node(op, inputs, output, name=None, **attrs):
    return helper.make_node(op, inputs, [output], name=name or f"/{output}/{op}", **attrs)


def make(nodes, inits=None, inputs=(("x", ["N", 3]),), outputs=("y",), opset=17,
         elem=TensorProto.FLOAT, meta=None, domains=()):
    """A model of ``nodes``; ``inits``: {name: array}; inputs as (name, shape); ``domains``
    besides the default one (opset 1 each)."""
    g = helper.make_graph(
        nodes, "made", [helper.make_tensor_value_info(n, elem, s) for n, s in inputs],
        [helper.make_tensor_value_info(o, elem, [None, None]) for o in outputs],
        initializer=[numpy_helper.from_array(np.asarray(v), k)
                     for k, v in (inits or {}).items()])
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    m = helper.make_model(g, opset_imports=opsets, ir_version=8)
    if meta is not None:
        helper.set_model_props(m, {"pcfpga": meta})
    return m


def table(graph):
    return [(n.name, n.op, n.act, n.inputs) for n in graph.nodes]


# ---------------------------------------------------------------------- how ops map
def test_gemm_attributes_and_matmul_with_a_bias():
    B, C, M, c = W(3, 4), W(4), W(4, 2), W(2)
    g, p = to_graph(make([
        node("Gemm", ["x", "B", "C"], "h", alpha=2.0, beta=0.5),      # transB = 0
        node("Tanh", ["h"], "t"),
        node("MatMul", ["t", "M"], "m"), node("Add", ["c", "m"], "y", name="/m/Add")],
        {"B": B, "C": C, "M": M, "c": c}))
    assert table(g) == [("x", "input", "identity", ()), ("h", "dense", "tanh", ("x",)),
                        ("y", "dense", "identity", ("h",))]
    assert np.array_equal(p["h.W.x"], 2.0 * B.T.astype(np.float64))
    assert np.array_equal(p["h.b"], 0.5 * C.astype(np.float64))
    assert np.array_equal(p["y.W.h"], M.T.astype(np.float64))
    assert np.array_equal(p["y.b"], c.astype(np.float64))


def test_adds_of_affine_maps_merge_in_one_scope_only():
    inits = {"A": W(2, 3), "B": W(2, 2), "D": W(2, 3), "E": W(2, 2), "b": W(2)}
    same = make([node("Gemm", ["x", "A"], "a", name="/h/Gemm", transB=1),
                 node("Gemm", ["z", "B", "b"], "b2", name="/h/Gemm_1", transB=1),
                 node("Add", ["a", "b2"], "s", name="/h/Add"), node("Tanh", ["s"], "y")],
                inits, inputs=(("x", ["N", 3]), ("z", [1, 2])))
    g, p = to_graph(same)
    assert table(g) == [("x", "input", "identity", ()), ("z", "input", "identity", ()),
                        ("y", "dense", "tanh", ("x", "z"))]
    assert set(p) == {"y.W.x", "y.W.z", "y.b"}
    apart = make([node("Gemm", ["x", "D"], "d", transB=1),
                  node("Gemm", ["z", "E"], "e", transB=1),
                  node("Add", ["d", "e"], "y")], inits, inputs=(("x", ["N", 3]), ("z", [1, 2])))
    g, _ = to_graph(apart)
    assert table(g) == [("x", "input", "identity", ()), ("z", "input", "identity", ()),
                        ("d", "dense", "identity", ("x",)), ("e", "dense", "identity", ("z",)),
                        ("y", "add", "identity", ("d", "e"))]


def test_a_shared_value_is_made_a_node_and_outputs_are_sinks():
    g, _ = to_graph(make([
        node("Gemm", ["x", "A"], "h", transB=1),
        node("Tanh", ["h"], "t"), node("Sigmoid", ["h"], "s"),
        node("Mul", ["t", "s"], "y"), node("Identity", ["t"], "z"),
        node("Relu", ["x"], "unused")],
        {"A": W(3, 3)}, outputs=("y", "z", "h")))
    assert table(g) == [("x", "input", "identity", ()), ("h_2", "dense", "identity", ("x",)),
                        ("t", "act", "tanh", ("h_2",)), ("s", "act", "sigmoid", ("h_2",)),
                        ("y", "mul", "identity", ("t", "s")),
                        ("z", "act", "identity", ("t",)), ("h", "act", "identity", ("h_2",))]
    assert [n.name for n in g.outputs] == ["y", "z", "h"]


def test_vector_reshapes_are_the_vector_and_unused_inputs_go():
    g, _ = to_graph(make([
        node("Flatten", ["x"], "f", axis=1),
        helper.make_node("Constant", [], ["shape"], name="c",
                         value=numpy_helper.from_array(np.array([-1, 3], np.int64))),
        node("Reshape", ["f", "shape"], "r"), node("Identity", ["r"], "i"),
        node("Gemm", ["i", "A"], "y", transB=1)],
        {"A": W(2, 3)}, inputs=(("x", ["N", 3]), ("spare", ["N", 5]))))
    assert table(g) == [("x", "input", "identity", ()), ("y", "dense", "identity", ("x",))]


def test_names_are_made_identifiers_and_unique():
    g, _ = to_graph(make([
        node("Gemm", ["x", "A"], "a", name="/enc/0/Gemm", transB=1),
        node("Tanh", ["a"], "t", name="/enc/0/Tanh"),
        node("Gemm", ["t", "B"], "b", name="/enc-0/Gemm", transB=1),
        node("Relu", ["b"], "r", name=""),
        node("Gemm", ["r", "C"], "9 out", name="/9/Gemm", transB=1)],
        {"A": W(3, 3), "B": W(3, 3), "C": W(2, 3)}, outputs=("9 out",)), name="named")
    assert [n.name for n in g.nodes] == ["x", "enc_0", "enc_0_2", "n9_out"]
    assert g.name == "named"


def test_settings_come_from_metadata_then_options():
    m = make([node("Gemm", ["x", "A"], "y", transB=1)], {"A": W(1, 3)},
             meta='{"format": {"value": "Q6.10"}, "learning": {"eta_theta": 0.25}}')
    g, _ = to_graph(m)
    assert (str(g.formats.value), g.learning.eta_theta, g.name) == ("Q6.10", 0.25, "made")
    g, _ = to_graph(m, eta_theta=0.5, value=None)
    assert (str(g.formats.value), g.learning.eta_theta) == ("Q6.10", 0.5)


def test_rank_one_biases_and_float64_models_are_read():
    g, p = to_graph(make([node("Gemm", ["x", "A", "c"], "y", transB=1)],
                         {"A": W(2, 3).astype(np.float64), "c": np.array([0.5])},
                         elem=TensorProto.DOUBLE))
    assert np.array_equal(p["y.b"], [0.5, 0.5])
    x = {"x": np.ones((1, 3))}
    assert FloatPC(g).predict(p, x)["y"].shape == (1, 2)


# ---------------------------------------------------------------------- refusals
def gemm(x="x", out="h", w="A", name=None, **kw):
    return node("Gemm", [x, w], out, name=name, transB=1, **kw)


BAD = {
    "conv": (make([node("Conv", ["x", "K"], "c"), node("Relu", ["c"], "y")],
                  {"K": W(2, 3, 1)}, inputs=(("x", ["N", 3, 8]),)),
             "op Conv node '/c/Conv' is not supported; import takes Gemm, MatMul"),
    "image": (make([node("Relu", ["x"], "y")], inputs=(("x", ["N", 3, 8]),)),
              "graph input 'x' has shape ['N', 3, 8]; pcfpga takes batches of vectors"),
    "conv op": (make([node("Conv", ["x", "K"], "y")], {"K": W(2, 3)}),
                "op Conv node '/y/Conv' is not supported; import takes Gemm, MatMul"),
    "batchnorm": (make([gemm(), node("BatchNormalization", ["h", "s", "b", "m", "v"], "y")],
                       {"A": W(2, 3), "s": W(2), "b": W(2), "m": W(2), "v": W(2) ** 2}),
                  "op BatchNormalization node '/y/BatchNormalization' is not supported"),
    "other domain": (make([helper.make_node("FusedGemm", ["x", "A"], ["y"], name="f",
                                            domain="com.microsoft")], {"A": W(2, 3)},
                          domains=("com.microsoft",)),
                     "op com.microsoft.FusedGemm node 'f' is not supported"),
    "leaky slope": (make([gemm(), node("LeakyRelu", ["h"], "y", alpha=0.01)], {"A": W(2, 3)}),
                    "LeakyRelu node '/y/LeakyRelu': slope alpha = 0.01; pcfpga's leaky_relu "
                    "has slope 1/64"),
    "hardsigmoid": (make([gemm(), node("HardSigmoid", ["h"], "y", alpha=1 / 6)],
                         {"A": W(2, 3)}),
                    "HardSigmoid node '/y/HardSigmoid': alpha = 0.166667, beta = 0.5"),
    "clip": (make([gemm(), node("Clip", ["h", "lo", "hi"], "y")],
                  {"A": W(2, 3), "lo": np.float32(0), "hi": np.float32(6)}),
             "Clip node '/y/Clip': clips to [0, 6]; pcfpga's hardtanh clips to [-1, 1]"),
    "clip dynamic": (make([gemm(), node("Clip", ["h", "x", ""], "y")], {"A": W(3, 3)}),
                     "Clip node '/y/Clip': its min must be a constant"),
    "reshape": (make([node("Reshape", ["x", "s"], "r"), gemm("r", "y")],
                     {"s": np.array([-1, 3, 1], np.int64), "A": W(2, 3)}),
                "Reshape node '/r/Reshape': shape [-1, 3, 1] is not a batch of vectors of "
                "size 3"),
    "reshape dynamic": (make([node("Reshape", ["x", "x"], "y")]),
                        "Reshape node '/y/Reshape': its shape must be a constant"),
    "flatten": (make([node("Flatten", ["x"], "f", axis=0), gemm("f", "y")], {"A": W(2, 3)}),
                "Flatten node '/f/Flatten': axis 0 does not keep [batch, size]"),
    "scale": (make([node("Mul", ["x", "k"], "y")], {"k": np.float32(2)}),
              "Mul node '/y/Mul': multiplies by a constant"),
    "bias on a vector": (make([node("Tanh", ["x"], "t"), node("Add", ["t", "c"], "y")],
                              {"c": W(3)}),
                         "Add node '/y/Add': adds a constant to a value that is not the "
                         "output of a Gemm or MatMul used only here"),
    "two constants": (make([node("Add", ["c", "c"], "y")], {"c": W(3)}),
                      "Add node '/y/Add': adds two constants"),
    "second bias": (make([node("Gemm", ["x", "A", "b"], "h", transB=1),
                          node("Add", ["h", "c"], "y")], {"A": W(2, 3), "b": W(2), "c": W(2)}),
                    "Add node '/y/Add': adds a second bias"),
    "bias shape": (make([gemm(), node("Add", ["h", "c"], "y")], {"A": W(2, 3), "c": W(3)}),
                   "Add node '/y/Add': bias of shape [3] of float32; expected [2]"),
    "sizes": (make([gemm(), node("Add", ["h", "x"], "y")], {"A": W(2, 3)}),
              "Add node '/y/Add': adds vectors of sizes 2 and 3"),
    "mul sizes": (make([gemm(), node("Mul", ["h", "x"], "y")], {"A": W(2, 3)}),
                  "Mul node '/y/Mul': multiplies vectors of sizes 2 and 3"),
    "twice": (make([node("Tanh", ["x"], "t"), node("Mul", ["t", "t"], "y")]),
              "Mul node '/y/Mul': takes the same vector twice"),
    "shared weights": (make([gemm("x", "a", name="a"), node("Tanh", ["a"], "t"),
                             node("Gemm", ["t", "A"], "y", name="b", transB=1)],
                            {"A": W(3, 3)}),
                       "Gemm node 'b': initializer 'A' is also used by Gemm node 'a'; pcfpga "
                       "gives every edge its own weights"),
    "transA": (make([gemm(transA=1)], {"A": W(3, 3)}, outputs=("h",)),
               "Gemm node '/h/Gemm': transA = 1 is not supported"),
    "dynamic weights": (make([node("Gemm", ["x", "x"], "y", transB=1)]),
                        "Gemm node '/y/Gemm': input B must be an initializer"),
    "weight shape": (make([gemm(out="y")], {"A": W(2, 4)}),
                     "Gemm node '/y/Gemm': input B maps 4 inputs to 2; its input has size 3"),
    "weight rank": (make([node("MatMul", ["x", "A"], "y")], {"A": W(3)}),
                    "MatMul node '/y/MatMul': its second input has shape [3] of float32; "
                    "expected a matrix"),
    "weight first": (make([node("MatMul", ["A", "x"], "y")], {"A": W(2, 2)},
                          inputs=(("x", ["N", 2]),)),
                     "MatMul node '/y/MatMul': the weight matrix must be the second input"),
    "dynamic bias": (make([node("Gemm", ["x", "A", "x"], "y", transB=1)], {"A": W(3, 3)}),
                     "Gemm node '/y/Gemm': input C must be an initializer"),
    "constant output": (make([], {"c": W(3)}, outputs=("c",)),
                        "graph output 'c' is a constant"),
    "constant alias": (make([node("Identity", ["c"], "y")], {"c": W(3)}),
                       "Identity node '/y/Identity': its input is a constant"),
    "constant input": (make([node("Tanh", ["c"], "y")], {"c": W(3)}),
                       "Tanh node '/y/Tanh': its input is a constant"),
    "int input": (make([node("Relu", ["x"], "y")], elem=TensorProto.INT32),
                  "graph input 'x' must be a tensor of floating-point numbers"),
    "no size": (make([node("Relu", ["x"], "y")], inputs=(("x", ["N", "M"]),)),
                "graph input 'x' has shape ['N', 'M']"),
    "constant attribute": (make([helper.make_node("Constant", [], ["c"], name="c",
                                                  value_string="s"),
                                node("Add", ["x", "c"], "y")]),
                           "Constant node 'c': expected a numeric tensor"),
    "metadata": (make([gemm(out="y")], {"A": W(2, 3)}, meta="{not json"),
                 "metadata 'pcfpga' is not the JSON pcfpga export writes"),
    "bad setting": (make([gemm(out="y")], {"A": W(2, 3)},
                         meta='{"format": {}, "learning": {"eta_theta": 0.3}}'),
                    "learning.eta_theta must be 1 or a power of two"),
    "checker": (make([node("Relu", ["nowhere"], "y")]), "not a valid ONNX model"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_import_refuses(case, tmp_path, capsys):
    model, message = BAD[case]
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    assert_refused(capsys, tmp_path, ["import", str(path), "-o", str(tmp_path / "n.toml")],
                   f"{path}: {message}")


def test_import_refuses_files_and_options(tmp_path, capsys):
    good = tmp_path / "good.onnx"
    good.write_bytes(make([gemm(out="y")], {"A": W(2, 3)}).SerializeToString())
    (tmp_path / "junk.onnx").write_bytes(b"\x00\xffnot protobuf at all" * 3)
    (tmp_path / "folder.onnx").mkdir()
    out = ["-o", str(tmp_path / "n.toml")]
    for args, message in (
            (["import", str(tmp_path / "none.onnx"), *out], "none.onnx: no such file"),
            (["import", str(tmp_path / "junk.onnx"), *out], "junk.onnx: not an ONNX model"),
            (["import", str(tmp_path / "folder.onnx"), *out], "folder.onnx: is a folder"),
            (["import", str(good), "-o", str(tmp_path / "n.txt")],
             "expected a file name ending in .toml"),
            (["import", str(good), *out, "--params", str(tmp_path / "p.csv")],
             "--params"),
            (["import", str(good), *out, "--name", "9lives"], "name must be an identifier"),
            (["import", str(good), *out, "--value", "Q4"], "format.value"),
            (["import", str(good), *out, "--mode", "fast"], "learning.mode must be one of"),
            (["import", str(good), *out, "--eta-theta", "x"], "invalid float value: 'x'"),
            (["import", str(good), *out, "--ticks", "-1"], "expected a non-negative integer")):
        assert_refused(capsys, tmp_path, args, message)


def test_export_refuses(tmp_path, capsys):
    net = str(example_path("xor"))
    g = Graph.from_toml(net)
    save_npz(tmp_path / "p.npz", init_params(g, 0))
    save_npz(tmp_path / "bad.npz", {"h.W.x": np.zeros((4, 2))})
    params = ["--params", str(tmp_path / "p.npz")]
    for args, message in (
            (["export", net, *params, "-o", str(tmp_path / "m.txt")],
             "expected a file name ending in .onnx"),
            (["export", net, "--params", str(tmp_path / "bad.npz"), "-o",
              str(tmp_path / "m.onnx")], "missing h.b"),
            (["export", net, *params, "-o", str(tmp_path / "m.onnx"), "--dtype", "int8"],
             "invalid choice: 'int8'"),
            (["export", str(tmp_path / "none.toml"), *params, "-o", str(tmp_path / "m.onnx")],
             "none.toml: no such file"),
            (["export", net, "-o", str(tmp_path / "m.onnx")],
             "the following arguments are required: --params")):
        assert_refused(capsys, tmp_path, args, message)


def test_without_the_onnx_package(tmp_path, capsys, monkeypatch):
    import sys

    net = str(example_path("xor"))
    save_npz(tmp_path / "p.npz", init_params(Graph.from_toml(net), 0))
    monkeypatch.setitem(sys.modules, "onnx", None)          # import onnx fails
    for args in (["export", net, "--params", str(tmp_path / "p.npz"), "-o",
                  str(tmp_path / "m.onnx")],
                 ["import", str(tmp_path / "m.onnx"), "-o", str(tmp_path / "n.toml")]):
        assert_refused(capsys, tmp_path, args, "need the onnx package: pip install "
                                               "'pcfpga[onnx]'")


def test_export_dtype_is_checked_in_python():
    g = Graph.from_toml(str(example_path("xor")))
    with pytest.raises(ValueError, match="dtype must be one of float64, float32, not 'int8'"):
        from_graph(g, init_params(g, 0), "int8")
