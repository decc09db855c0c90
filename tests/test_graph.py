"""The graph format: TOML and builder agree, structure queries, and every validation error;
reading files (issue 14, class 2), only what the hardware builds (class 3), linear time."""

import copy

import pytest

from pcfpga.cli import main
from pcfpga.examples import EXAMPLES, example_path
from pcfpga.golden.graph import (MAX_FILE_BYTES, MAX_NAME, Graph, GraphBuilder,
                                 GraphError)

XOR = {
    "name": "xor",
    "format": {"value": "Q4.12", "error": "Q2.14", "weight": "Q4.12", "rounding": "nearest"},
    "learning": {"mode": "exact", "eta_v": 1.0, "eta_theta": 0.125, "ticks": 0},
    "node": [
        {"name": "x", "op": "input", "size": 2},
        {"name": "h", "op": "dense", "inputs": ["x"], "size": 4, "act": "tanh", "bias": True},
        {"name": "y", "op": "dense", "inputs": ["h"], "size": 1, "act": "sigmoid",
         "output": True},
    ],
}


def xor(**top):
    d = copy.deepcopy(XOR)
    d.update(top)
    return d


def test_builder_equals_toml(tmp_path):
    text = """
name = "xor"
[format]
value = "Q4.12"
error = "Q2.14"
weight = "Q4.12"
rounding = "nearest"
[learning]
mode = "exact"
eta_v = 1.0
eta_theta = 0.125
ticks = 0
[[node]]
name = "x"
op = "input"
size = 2
[[node]]
name = "h"
op = "dense"
inputs = ["x"]
size = 4
act = "tanh"
bias = true
[[node]]
name = "y"
op = "dense"
inputs = ["h"]
size = 1
act = "sigmoid"
output = true
"""
    path = tmp_path / "xor.toml"
    path.write_text(text)
    from_toml = Graph.from_toml(path)
    built = (GraphBuilder("xor")
             .format(value="Q4.12", error="Q2.14", weight="Q4.12", rounding="nearest")
             .learning(mode="exact", eta_v=1.0, eta_theta=0.125, ticks=0)
             .input("x", 2).dense("h", ["x"], 4, act="tanh", bias=True)
             .dense("y", ["h"], 1, act="sigmoid", output=True).build())
    assert from_toml == built
    assert from_toml == Graph.from_dict(XOR)


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_validate(name):
    g = Graph.from_toml(str(example_path(name)))
    assert g.inputs and g.outputs
    assert all(len(v) for v in g.param_shapes.values())


def test_structure_of_dag():
    g = Graph.from_toml(str(example_path("dag")))
    assert g.depth == 4          # h1 -> h2 -> s -> m -> y
    assert g.ticks == 4
    assert [n.name for n in g.nodes].index("h1") < [n.name for n in g.nodes].index("s")
    assert {c.name for c in g.children("h1")} == {"h2", "s"}
    assert g.param_shapes["h1.W.x"] == (6, 3)
    assert g.n_params == sum(a * b for a, b in [(6, 3), (6, 6), (6, 3), (2, 6)]) + 6 + 6 + 2


def test_nodes_in_any_order_are_sorted():
    d = xor(node=list(reversed(XOR["node"])))
    assert [n.name for n in Graph.from_dict(d).nodes] == ["x", "h", "y"]


def test_depth_without_hidden_nodes_is_zero():
    g = GraphBuilder("lin").input("x", 3).dense("y", ["x"], 2, output=True).build()
    assert g.depth == 0 and g.ticks == 0


def test_streaming_defaults_to_one_tick():
    g = Graph.from_dict(xor(learning={"mode": "streaming"}))
    assert g.ticks == 1


def _node(i, **changes):
    d = copy.deepcopy(XOR)
    d["node"][i].update(changes)
    return d


def _drop(i, key):
    d = copy.deepcopy(XOR)
    del d["node"][i][key]
    return d


def _fmt(**kw):
    d = copy.deepcopy(XOR)
    d["format"].update(kw)
    return d


def _lr(**kw):
    d = copy.deepcopy(XOR)
    d["learning"].update(kw)
    return d


def _nodes(*extra, replace=None):
    d = copy.deepcopy(XOR)
    if replace is not None:
        d["node"] = list(replace)
    d["node"] += list(extra)
    return d


INPUT = {"name": "x", "op": "input", "size": 2}
H = {"name": "h", "op": "dense", "inputs": ["x"], "size": 4, "act": "tanh"}
Y = {"name": "y", "op": "dense", "inputs": ["h"], "size": 1, "output": True}


def _leaky():
    d = _nodes(replace=[INPUT, {**H, "act": "leaky_relu"}, Y])
    d["format"]["value"] = "Q12.4"
    return d


def _deep():
    d = _nodes(replace=[INPUT, H, {"name": "h2", "op": "act", "inputs": ["h"], "act": "relu"},
                        {**Y, "inputs": ["h2"]}])
    d["learning"]["ticks"] = 1
    return d


# (document, the message it must produce) — one per distinct validation message
CASES = {
    "not a table": ([1, 2], "a graph is a table of keys, not list"),
    "unknown top key": (xor(nmae="x"), "unknown key 'nmae' at top level; expected one of"),
    "bad name": (xor(name="my net"), "name must be an identifier of ASCII letters, digits "
                                     "and _, not starting with a digit, such as \"xor\"; "
                                     "not 'my net'"),
    "no name": (xor(name=None), "name is missing; it must be an identifier such as \"xor\""),
    "non-ASCII name": (xor(name="名前"), "name must be an identifier of ASCII letters"),
    "long name": (xor(name="n" * 65), "name 'nnnnnnnnnnnnnnnnnnnnnnnnnnn...nnnnnnnnnnnnnnnnnnnn"
                                      "nnnnnnnn' has 65 characters; at most 64"),
    "format not table": (xor(format="Q4.12"), "[format] must be a table, not str"),
    "unknown format key": (_fmt(values="Q4.12"), "unknown key 'values' in [format]"),
    "bad q": (_fmt(value="Q4"), "format.value: 'Q4' is not a Q format like 'Q4.12'"),
    "q not string": (_fmt(error=16), "format.error: 16 is not a Q format string like"),
    "no integer bit": (_fmt(weight="Q0.16"), "format.weight: Q0.16 has no integer bit "
                                             "(the sign needs one)"),
    "too wide": (_fmt(value="Q16.20"), "format.value: Q16.20 is 36 bits wide; at most 32"),
    "gain too wide": (_fmt(value="Q1.31"), "format.value Q1.31 has 31 fraction bits; at most "
                                           "30: gains f'(a) are held as Q2.31, 33 bits, wider "
                                           "than the 32-bit bus word"),
    "q digits": (_fmt(weight="Q4." + "1" * 5000), "format.weight: 'Q4.111111111...1111111111111' "
                                                   "is not a Q format like 'Q4.12'"),
    "rounding": (_fmt(rounding="round"), "format.rounding must be one of truncate, nearest, "
                                         "stochastic, not 'round'"),
    "table bits": (_fmt(table_bits=20), "format.table_bits must be an integer from 4 to 14, "
                                        "not 20"),
    "seed": (_fmt(seed=0), "format.seed must be an integer from 1 to 4294967295"),
    "learning not table": (xor(learning=[]), "[learning] must be a table, not list"),
    "unknown learning key": (_lr(eta=0.1), "unknown key 'eta' in [learning]"),
    "mode": (_lr(mode="fast"), "learning.mode must be one of exact, fpa, standard, "
                               "streaming, not 'fast'"),
    "eta not shift": (_lr(eta_theta=0.1), "learning.eta_theta must be 1 or a power of two "
                                          "2^-k below 1 (a shift), not 0.1"),
    "eta too large": (_lr(eta_theta=2.0), "learning.eta_theta must be 1 or a power of two"),
    "eta too fine": (_lr(eta_theta=2.0 ** -13), "learning.eta_theta = 2^-13 is finer than "
                                                "format.weight Q4.12 can represent"),
    "eta_v too fine": (_lr(mode="fpa", eta_v=2.0 ** -15), "learning.eta_v = 2^-15 is finer "
                                                          "than format.error Q2.14"),
    "exact eta_v": (_lr(eta_v=0.5), "learning.eta_v must be 1 in mode 'exact' (use mode "
                                    "'fpa' for eta_v < 1), not 0.5"),
    "ticks": (_lr(ticks=-1), "learning.ticks must be an integer from 0 to 65535"),
    "no nodes": (xor(node=[]), "graph has no nodes; add [[node]] tables"),
    "node not table": (xor(node=["x"]), "node #1 must be a table, not str"),
    "node name": (_node(0, name="1x"), "node #1: name must be an identifier of ASCII "
                                       "letters, digits and _, not starting with a digit, "
                                       "such as \"xor\"; not '1x'"),
    "node name ligature": (_node(1, name="\ufb01"), "node #2: name must be an identifier of "
                                                    "ASCII letters, digits and _"),
    "node name missing": (_drop(2, "name"), "node #3: name is missing"),
    "node not an array": (xor(node=dict(INPUT)), "node must be an array of tables, [[node]], "
                                                 "not one table, [node]"),
    "op": (_node(1, op="conv"), "node 'h': op must be one of input, dense, act, add, mul, "
                                "not 'conv'"),
    "op missing": (_drop(1, "op"), "node 'h': op is missing; it must be one of input, dense, "
                                   "act, add, mul"),
    "unknown node key": (_node(1, activation="tanh"), "unknown key 'activation' in node 'h' "
                                                      "(op dense)"),
    "key not for op": (_node(0, act="tanh"), "unknown key 'act' in node 'x' (op input)"),
    "size": (_node(1, size=0), "node 'h': size must be an integer from 1 to 65535, not 0"),
    "size missing": (_drop(1, "size"), "node 'h': size is required for op dense"),
    "inputs type": (_node(1, inputs="x"), "node 'h': inputs must be a list of node names, "
                                          "not 'x'"),
    "no inputs": (_node(1, inputs=[]), "node 'h': op dense needs at least one entry in "
                                       "inputs"),
    "input twice": (_node(1, inputs=["x", "x"]), "node 'h': input 'x' is listed twice"),
    "act arity": (_nodes({"name": "z", "op": "act", "inputs": ["x", "h"], "act": "relu"}),
                  "node 'z': op act takes exactly one input, not 2"),
    "mul arity": (_nodes({"name": "z", "op": "mul", "inputs": ["h"]}),
                  "node 'z': op mul takes exactly two inputs, not 1"),
    "act missing": (_nodes({"name": "z", "op": "act", "inputs": ["h"]}),
                    "node 'z': op act needs an act such as \"tanh\""),
    "activation": (_node(1, act="swish"), "node 'h': act must be one of identity, relu, "
                                          "leaky_relu, hardtanh, hardsigmoid, tanh, sigmoid, "
                                          "not 'swish'"),
    "bias bool": (_node(1, bias=1), "node 'h': bias must be true or false, not 1"),
    "duplicate": (_nodes(dict(H)), "node 'h' is defined twice; names must be unique"),
    "unknown parent": (_node(1, inputs=["q"]), "node 'h': unknown input 'q'; nodes are: x, "
                                               "h, y"),
    "cycle": (_nodes(replace=[INPUT, {**H, "inputs": ["x", "g"]},
                              {"name": "g", "op": "dense", "inputs": ["h"], "size": 4}, Y]),
              "cycle through nodes h -> g -> h; a graph must be acyclic"),
    "add size": (_nodes(replace=[INPUT, H, {"name": "s", "op": "add", "inputs": ["h", "x"]},
                                 {**Y, "inputs": ["s"]}]),
                 "node 's' (op add): input 'x' has size 2, expected 4 (the node's size)"),
    "act size": (_nodes(replace=[INPUT, H, {"name": "s", "op": "act", "inputs": ["h"],
                                            "act": "relu", "size": 3}, {**Y, "inputs": ["s"]}]),
                 "node 's' (op act): input 'h' has size 4, expected 3"),
    "mul size": (_nodes(replace=[INPUT, H, {"name": "s", "op": "mul", "inputs": ["h", "x"]},
                                 {**Y, "inputs": ["s"]}]),
                 "node 's' (op mul): input 'x' has size 2, expected 4"),
    "matrix too big": (_nodes(replace=[{**INPUT, "size": 300}, {**H, "size": 300},
                                       {**Y, "inputs": ["h"]}]),
                       "node 'h': the weight matrix from 'x' has 90000 elements; at most"),
    "leaky frac": (_leaky(), "node 'h': act leaky_relu needs at least 6 fraction bits in "
                             "format.value, which is Q12.4"),
    "output feeds": (_nodes(replace=[INPUT, {**H, "output": True}, Y]),
                     "node 'h' is an output but feeds y; outputs must be sinks"),
    "no output": (_nodes(replace=[INPUT, H]), "graph has no output node; mark one with "
                                              "output = true"),
    "dead end": (_nodes({"name": "z", "op": "dense", "inputs": ["h"], "size": 2}),
                 "node 'z' leads to no output; every node must feed an output"),
    "exact ticks": (_deep(), "learning.ticks = 1 is less than the depth D = 2; mode 'exact' "
                             "needs at least D ticks (0 means D)"),
    "memory-map field": (_nodes(replace=[{**INPUT, "name": "v"},
                                         {**H, "name": "in", "inputs": ["v"]},
                                         {**Y, "inputs": ["in"]}]),
                         "the memory map would have two fields 'in.v', the input buffer of "
                         "node 'v' and register v of node 'in'; rename one of the nodes"),
    "target field": (_nodes(replace=[INPUT, {**H, "name": "target"},
                                     {**Y, "name": "sat", "inputs": ["target"]}]),
                     "the memory map would have two fields 'target.sat', the flags of node "
                     "'target' and the target buffer of node 'sat'"),
    "edge block": (_nodes(replace=[{**INPUT, "name": "c"}, {**INPUT, "name": "b_c"},
                                   {**H, "name": "a_b", "inputs": ["c"]},
                                   {**H, "name": "a", "inputs": ["b_c"]},
                                   {**Y, "inputs": ["a_b", "a"]}]),
                   "would both be the hardware block 'edge_a_b_c' (edge_<child>_<parent>); "
                   "rename one of the nodes"),
    "mul port": (_nodes(replace=[INPUT, H, {**H, "name": "g"},
                                 {"name": "m", "op": "mul", "inputs": ["h", "g"]},
                                 {**Y, "name": "to_h", "inputs": ["m"]}]),
                 "mul node 'm': its message to input 'h' and the one from its child 'to_h' "
                 "would both be the port 'msg_to_h'; rename node 'to_h'"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_validation_message(case):
    doc, message = CASES[case]
    with pytest.raises(GraphError) as info:
        Graph.from_dict(doc)
    text = str(info.value)
    assert message in text, f"{case}: got {text!r}"
    assert "\n" not in text


def test_exact_mode_accepts_ticks_at_or_above_depth():
    assert Graph.from_dict(_lr(ticks=1)).ticks == 1
    assert Graph.from_dict(_lr(ticks=5)).ticks == 5


def test_toml_file_errors(tmp_path):
    with pytest.raises(GraphError, match="no such file"):
        Graph.from_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(GraphError, match="not valid TOML"):
        Graph.from_toml(bad)


@pytest.mark.parametrize("learning, message", [
    ({"mode": "streaming", "eta_v": 0.5}, "learning.eta_v must be 1 in mode 'streaming' "
                                          "(errors cross the pipeline in one pass), not 0.5"),
    ({"mode": "streaming", "ticks": 3}, "learning.ticks must be 0 or 1 in mode 'streaming' "
                                        "(one sample per tick), not 3"),
])
def test_streaming_rules(learning, message):
    with pytest.raises(GraphError) as info:
        Graph.from_dict(xor(learning=learning))
    assert str(info.value) == message


def test_with_settings_rejects_unknown_keys():
    with pytest.raises(GraphError, match="unknown setting 'eta'; expected one of: value, "):
        Graph.from_dict(XOR).with_settings(eta=0.5)


def test_limits():
    many = [{"name": f"x{i}", "op": "input", "size": 1} for i in range(25)]
    d = xor(node=many + [{"name": "y", "op": "dense", "inputs": [f"x{i}" for i in range(25)],
                          "size": 1, "output": True}])
    with pytest.raises(GraphError, match="node 'y': 25 inputs; at most 24"):
        Graph.from_dict(d)
    nodes = [{"name": f"x{i}", "op": "input", "size": 1} for i in range(2049)]
    with pytest.raises(GraphError, match="graph has 2049 nodes; at most 2048"):
        Graph.from_dict(xor(node=nodes))


def test_deep_graph_in_reverse_order_sorts_without_recursion():
    n = 1500
    nodes = [{"name": "y", "op": "dense", "inputs": [f"h{n - 1}"], "size": 1, "output": True}]
    nodes += [{"name": f"h{i}", "op": "act", "inputs": [f"h{i - 1}" if i else "x"],
               "act": "relu"} for i in reversed(range(n))]
    nodes.append({"name": "x", "op": "input", "size": 1})
    g = Graph.from_dict(xor(node=nodes))
    assert g.nodes[0].name == "x" and g.nodes[-1].name == "y" and g.depth == n


def test_unreadable_graph_files(tmp_path):
    with pytest.raises(GraphError, match="is a folder, not a graph file"):
        Graph.from_toml(tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"name = \"\xff\"\n")
    with pytest.raises(GraphError, match="not valid TOML: not UTF-8 text"):
        Graph.from_toml(bad)


# ------------------------------------------------------------ reading files (class 2)
XOR_TEXT = example_path("xor").read_text()


@pytest.mark.parametrize("text, message", [
    ("", "the file is empty (no keys); a graph needs a name and [[node]] tables"),
    ("\n  \n# a comment only\n", "the file is empty (no keys)"),
    ("\ufeff", "the file is empty (no keys)"),
    ("name = " + "[" * 500 + "]" * 500 + "\n", "arrays or tables nested too deeply to read; "
                                               "a graph nests them at most 3 levels deep"),
    ("name = " + "{a = " * 5000 + "1" + "}" * 5000, "nested too deeply to read"),
    (XOR_TEXT.replace("ticks = 0", "ticks = " + "7" * 4301),
     "a number of more than 4300 digits; no graph key takes one that long"),
    (XOR_TEXT.replace('"h"', '"\u540d\u524d"'), "node #2: name must be an identifier of ASCII"),
    (".".join(["a"] * 100000) + " = 1\n", "line 1: a dotted key of more than 16 parts; a "
                                         "graph's keys have at most 2, such as format.value"),
    (XOR_TEXT + "[" + ".".join(['"n\\""'] * 17) + "]\n", "line 37: a dotted key of more"),
    ("\ufeff\ufeff" + XOR_TEXT, "not valid TOML: Invalid statement (at line 1, column 1)"),
])
def test_unreadable_graph_text(tmp_path, rejects, text, message):
    """Each problem one line naming the file (no RecursionError or ValueError escapes)."""
    path = tmp_path / "net.toml"
    path.write_text(text, encoding="utf-8")
    line = rejects(["check", path], message)
    assert str(path) in line or "node #2" in line
    assert len(line) < 300


def test_files_too_large_to_be_a_graph(tmp_path, rejects):
    """Read up to the limit only: /dev/zero is refused, not read for ever."""
    path = tmp_path / "big.toml"
    path.write_text(XOR_TEXT + "#" * MAX_FILE_BYTES)
    rejects(["check", path], "big.toml: larger than 8,388,608 bytes; the largest graph the "
                             "format allows takes about 3.6 MB")
    rejects(["check", "/dev/zero"], "/dev/zero: larger than 8,388,608 bytes")


def test_a_named_pipe_is_refused_not_waited_on(tmp_path, rejects):
    """Opening a FIFO waits for a writer for ever (the review's `pcfpga check FIFO` hung)."""
    import os

    fifo = tmp_path / "net.toml"
    os.mkfifo(fifo)
    rejects(["check", fifo], f"{fifo}: a named pipe, not a graph file")


def test_dotted_keys_are_read_up_to_the_limit(tmp_path):
    """16 parts still go to tomllib (and are an unknown key), 17 do not."""
    path = tmp_path / "net.toml"
    for parts, message in [(16, "unknown key 'a' at top level"),
                           (17, "a dotted key of more than 16 parts")]:
        path.write_text(".".join(["a"] * parts) + " = 1\n" + XOR_TEXT)
        with pytest.raises(GraphError, match=message):
            Graph.from_toml(path)


DOTS = ".".join(str(i) for i in range(20))


@pytest.mark.parametrize("where, text", [
    ("comment", f"# version {DOTS}\n"),
    ("commented string", f'# x = "{DOTS}"\n'),
    ("commented multi-line string", f'# see below\n# """\n# {DOTS}\n# """\n'),
])
def test_dots_outside_keys_are_not_keys(tmp_path, where, text):
    """Only keys count: dots in comments and strings do not (the first scan refused a
    version number in a comment)."""
    path = tmp_path / "net.toml"
    path.write_text(text + XOR_TEXT)
    assert Graph.from_toml(path) == Graph.from_toml(example_path("xor"))


@pytest.mark.parametrize("text, message", [
    (f'x = "{DOTS}"\n', "unknown key 'x'"),
    (f'x = """\n{DOTS}\n"""\n', "unknown key 'x'"),
    (f"x = '{DOTS}'\n", "unknown key 'x'"),
    ('x = "' + '\\"' * 5000 + '"\n', "unknown key 'x'"),
    ("[" + DOTS.replace("1", "a") + "]\n", "a dotted key of more than 16 parts"),
    ("x = {" + "b." * 20 + "c = 1}\n", "a dotted key of more than 16 parts"),
    ('"a"."b".' * 10 + "c = 1\n", "a dotted key of more than 16 parts"),
])
def test_dotted_keys_in_strings_tables_and_inline_tables(tmp_path, text, message):
    """Strings (escaped quotes too: the first scan restarted in every one of them, 12 s for
    80 KB) are skipped; keys in table headers and inline tables, quoted parts, count."""
    path = tmp_path / "net.toml"
    path.write_text(text + XOR_TEXT)
    with pytest.raises(GraphError, match=message):
        Graph.from_toml(path)


def test_byte_order_mark_is_skipped(tmp_path, capsys):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + XOR_TEXT.encode())
    assert Graph.from_toml(path) == Graph.from_toml(example_path("xor"))
    assert main(["check", str(path)]) == 0
    assert "graph xor: 3 nodes" in capsys.readouterr().out


def test_huge_integer_below_the_digit_limit_is_a_range_error(tmp_path):
    path = tmp_path / "net.toml"
    path.write_text(XOR_TEXT.replace("ticks = 0", "ticks = " + "7" * 4300))
    with pytest.raises(GraphError) as info:
        Graph.from_toml(path)
    assert str(info.value) == ("learning.ticks must be an integer from 0 to 65535 (0 means "
                               "the depth D), not " + "7" * 18 + "..." + "7" * 19)


# ------------------------------------------------ only what the hardware builds (class 3)
@pytest.mark.parametrize("name", ["\u00f1", "\u540d\u524d", "\ufb01", "x\u0301", "\u0663",
                                  "h\u200b", "a.b", "a-b", "", "x" * (MAX_NAME + 1)])
def test_names_the_hardware_cannot_take(name):
    """Amaranth takes ASCII member names only (measured: ``fwd_\u00f1`` is a NameError)."""
    for doc in (xor(name=name), _node(1, name=name)):
        with pytest.raises(GraphError, match="name"):
            Graph.from_dict(doc)


def test_names_the_hardware_can_take():
    """Verilog keywords, Python keywords, underscores and the longest name are fine (the
    fuzz tests elaborate such graphs)."""
    for name in ["module", "wire", "in", "class", "_", "__init__", "Z9", "x" * MAX_NAME]:
        doc = _nodes(replace=[INPUT, {**H, "name": name}, {**Y, "inputs": [name]}])
        assert Graph.from_dict(doc).node(name).size == 4
        assert Graph.from_dict(xor(name=name)).name == name


def test_collisions_depend_on_the_mode():
    """Streaming adds a register y to outputs: node 'in' (an output) meets input 'y'."""
    doc = _nodes(replace=[{**INPUT, "name": "y"}, {**Y, "name": "in", "inputs": ["y"]}])
    g = Graph.from_dict(doc)
    with pytest.raises(GraphError, match="two fields 'in.y', the input buffer of node 'y' "
                                         "and register y of node 'in'"):
        g.with_settings(mode="streaming")


def test_widest_value_format_builds_its_memory_map():
    """Q2.30 values: gains Q2.30 fill the 32-bit word; one more fraction bit is refused."""
    from pcfpga.hdl.design import Design

    g = Graph.from_dict(_fmt(value="Q2.30", error="Q1.31", weight="Q8.24"))
    mm = Design.build(g).memmap
    assert (mm["h.g"].width, mm["h.g"].frac) == (32, 30)
    with pytest.raises(GraphError, match="format.value Q1.31 has 31 fraction bits"):
        Graph.from_dict(_fmt(value="Q1.31"))


def test_long_values_are_shown_short():
    for doc in (_node(1, inputs="x" * 100000), _node(1, act=["tanh"] * 100000),
                _fmt(value="Q4.12" * 100000), xor(nmae=[[[[[[1]]]]]]),
                _node(1, inputs=["x", "q" * 100000]), _lr(ticks=10 ** 5000),
                _node(1, size=[10 ** 5000])):
        with pytest.raises(GraphError) as info:
            Graph.from_dict(doc)
        assert len(str(info.value)) < 300, str(info.value)[:1000]


# ------------------------------------------------------------------------ linear time
def _wide_graph(fan: int) -> dict:
    names = [f"x{i}" for i in range(100)]
    inputs = [names[i % 100] for i in range(fan)]
    return xor(node=[{"name": n, "op": "input", "size": 1} for n in names]
               + [{"name": "y", "op": "dense", "inputs": inputs, "size": 1, "output": True}])


def _big_graph(nodes: int = 2048, fan: int = 24, width: int = 40) -> dict:
    """Every node at the fan-in limit, long names: the most work per byte of TOML."""
    names = [f"{'n' * (width - 5)}{i:05d}" for i in range(nodes)]
    out = [{"name": n, "op": "input", "size": 1} for n in names[:fan]]
    out += [{"name": names[i], "op": "dense", "inputs": names[i - fan:i], "size": 1}
            for i in range(fan, nodes)]
    out[-1]["output"] = True
    return xor(node=out)


def _lines_run(build) -> int:
    """Lines of golden/graph.py executed by ``build()``: a measure of work that, unlike a
    time, does not depend on the machine's load."""
    import sys

    import pcfpga.golden.graph as graph_module

    source, count = graph_module.__file__, 0

    def local(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return local

    def calls(frame, event, arg):
        return local if frame.f_code.co_filename == source else None

    sys.settrace(calls)
    try:
        build()
    finally:
        sys.settrace(None)
    return count


def test_a_node_with_50000_inputs_is_refused_at_once():
    """The fan-in limit comes before the duplicate scan (once quadratic: 20 s here for
    50,000 inputs): ten times the inputs, about ten times the lines run (the names' types
    are checked first), not a hundred."""
    few, many = (_lines_run(lambda fan=fan: _refused(_wide_graph(fan)))
                 for fan in (500, 5000))
    assert many <= 12 * few, (few, many)
    _refused(_wide_graph(50000))


def _refused(doc):
    fan = len(doc["node"][-1]["inputs"])
    with pytest.raises(GraphError, match=f"node 'y': {fan} inputs; at most 24"):
        Graph.from_dict(doc)


def test_validation_is_linear_in_size():
    """Four times the nodes, at most 4.5 times the lines run (the quadratic scans of
    children and of the nodes reaching an output made it 16 times)."""
    small = _lines_run(lambda: Graph.from_dict(_big_graph(nodes=256)))
    large = _lines_run(lambda: Graph.from_dict(_big_graph(nodes=1024)))
    assert large <= 4.5 * small, (small, large)
    g = Graph.from_dict(_big_graph())
    assert (len(g.nodes), len(g.edges), g.depth) == (2048, 24 * 2024, 2023)


def test_written_toml_reads_as_the_same_graph(tmp_path):
    """golden/tomlwrite.py: every example and random graphs of every op, act and mode."""
    from pcfpga.examples import BENCH_NETS
    from pcfpga.golden.random_graph import random_graph
    from pcfpga.golden.tomlwrite import graph_toml

    graphs = [Graph.from_toml(str(example_path(n))) for n in EXAMPLES + BENCH_NETS]
    settings = {"exact": (1.0, 0), "fpa": (0.25, 30), "standard": (0.5, 7),
                "streaming": (1.0, 1)}
    graphs += [random_graph(seed, mode=mode, eta_v=eta_v, eta_theta=2.0 ** -seed, ticks=ticks)
               for seed in range(12) for mode, (eta_v, ticks) in settings.items()]
    path = tmp_path / "g.toml"
    for g in graphs:
        path.write_text(graph_toml(g, comment=f"from {g.name}\n\x00control"))
        assert Graph.from_toml(str(path)) == g, g.name
