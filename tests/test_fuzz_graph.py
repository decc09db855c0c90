"""Fuzzing the graph files (issue 14): seeded random mutations of every bundled example.

Each mutant is either the example's text changed as bytes (a byte flipped, the file cut, a
span deleted, a byte-order mark, non-ASCII names, deep nesting, huge integers, lines
doubled or swapped, garbage, nothing at all) or its table changed and written back as
TOML (keys dropped, added or given wrong types, random sizes, formats, activations, ops,
learning settings and inputs, duplicated and renamed nodes with tricky names, cycles, new
nodes). ``pcfpga check`` must then either reject the file as the README promises (exit
code 2, one line ``pcfpga: error: ...`` with the validator's message, no traceback, no
warning, nothing written: the ``rejects`` fixture) or accept it, and then the graph must
build: its memory map with every field named once (also with a dataset buffer, where one
fits the 16-bit bus), one training step of the bit-exact model, and, for a sample of the
small ones, Amaranth's elaboration of its hardware to Verilog.

The default suite runs :data:`CASES` mutants per example with at most :data:`ELABORATE`
elaborations each; ``make test-slow`` (``pytest -m slow``) ten times as many. A failure
names the seed, the mutations and the mutated text, which the seed regenerates.
"""

import copy
import math
import random
import tomllib
import warnings

import numpy as np
import pytest

from pcfpga.cli import main
from pcfpga.examples import BENCH_NETS, EXAMPLES, example_path
from pcfpga.golden.fixed_model import FixedPC
from pcfpga.golden.graph import ACTIVATIONS, MODES, OPS, Graph, GraphError
from pcfpga.golden.params import init_params
from pcfpga.golden.qformat import ROUNDING_MODES

ALL_EXAMPLES = EXAMPLES + BENCH_NETS
#: Mutants per example in the default suite, and elaborations to Verilog at most.
CASES, ELABORATE = 25, 1
#: The same under ``make test-slow``.
SLOW_CASES, SLOW_ELABORATE = 250, 10
SEED = 1400

TRICKY_NAMES = ["in", "target", "run", "sat", "v", "a", "g", "y", "b", "W", "line", "to_h",
                "to_x", "h_v", "a_b", "x_h", "module", "wire", "input", "reg", "begin",
                "end", "edge", "pe_x", "controller", "data", "id", "ctrl", "_", "__init__",
                "Z9", "x" * 64, "y" * 65, "\u00f1", "\u540d\u524d", "\ufb01", "1x", "",
                "a.b", "a b", "a-b", "x\n", "\u0663", "\u0251", "h\u200b"]
WRONG_VALUES = [0, -1, 1, 2, 2 ** 31, 2 ** 64, 10 ** 100, 0.5, -0.0, math.nan, math.inf,
                "", "x", "Q4.12", True, False, [], [1], ["x"], {}, {"a": 1}, [[[]]]]


# ------------------------------------------------------------------------ TOML writing
def toml_text(data: dict) -> str:
    """``data`` as TOML: one ``"key" = value`` line per top-level key, values inline."""
    return "".join(f"{_key(k)} = {_value(v)}\n" for k, v in data.items())


def _key(key) -> str:
    return _string(str(key))


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in "\"\\":
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        return ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"no TOML for {type(v).__name__}")


# ------------------------------------------------------------------- text mutations
def _line_of(r: random.Random, lines: list, start: bytes) -> int:
    """A random line starting with ``start`` (the first line if none does)."""
    found = [k for k, line in enumerate(lines) if line.startswith(start)]
    return r.choice(found) if found else 0


def _text_mutation(r: random.Random, raw: bytes) -> tuple:
    """One random change of the file's bytes: (new bytes, what was done)."""
    kind = r.choice(["flip", "cut", "delete", "bom", "bom inside", "non-ascii", "nest",
                     "dotted", "huge int", "double line", "swap lines", "garbage", "empty"])
    lines = raw.split(b"\n")
    i = r.randrange(len(raw) + 1)
    if kind == "flip" and raw:
        i = min(i, len(raw) - 1)
        return raw[:i] + bytes([r.randrange(256)]) + raw[i + 1:], f"flip byte {i}"
    if kind == "cut":
        return raw[:i], f"cut at {i}"
    if kind == "delete":
        return raw[:i] + raw[i + r.randint(1, 20):], f"delete from {i}"
    if kind == "bom":
        return b"\xef\xbb\xbf" + raw, kind
    if kind == "bom inside":
        k = r.randrange(len(lines))
        return b"\n".join(lines[:k] + [b"\xef\xbb\xbf" + lines[k]] + lines[k + 1:]), kind
    if kind == "non-ascii":
        name = r.choice(["\u00f1", "\u540d\u524d", "\ufb01", "x\u0301", "\u0663"])
        k = _line_of(r, lines, b"name = ")
        return b"\n".join(lines[:k] + [f'name = "{name}"'.encode()] + lines[k + 1:]), kind
    if kind == "nest":
        depth = r.choice([50, 400, 1000, 5000])
        deep = ("[" * depth + "]" * depth if r.random() < 0.5 else
                "{a = " * depth + "1" + "}" * depth)
        k = _line_of(r, lines, b"name = ")
        return (b"\n".join(lines[:k] + [f"name = {deep}".encode()] + lines[k + 1:]),
                f"nest {depth}")
    if kind == "dotted":
        parts = r.choice([2, 3, 16, 17, 5000])
        key = ".".join(r.choice(["a", '"q"', "'p'", "format"]) for _ in range(parts))
        line = f"[{key}]" if r.random() < 0.5 else f"{key} = 1"
        k = r.randrange(len(lines))
        return b"\n".join(lines[:k] + [line.encode()] + lines[k:]), f"dotted key of {parts}"
    if kind == "huge int":
        digits = r.choice([30, 4300, 4301, 6000])
        ints = [k for k, line in enumerate(lines)
                if line.split(b" = ")[0] in (b"size", b"seed", b"table_bits", b"ticks")]
        k = r.choice(ints) if ints else 0
        key = lines[k].split(b" = ")[0] if ints else b"seed"
        big = key + b" = " + b"7" * digits
        return b"\n".join(lines[:k] + [big] + lines[k + 1:]), f"int of {digits} digits"
    if kind == "double line":
        k = r.randrange(len(lines))
        return b"\n".join(lines[:k + 1] + lines[k:]), f"double line {k}"
    if kind == "swap lines":
        a, b = r.randrange(len(lines)), r.randrange(len(lines))
        lines[a], lines[b] = lines[b], lines[a]
        return b"\n".join(lines), f"swap lines {a} {b}"
    if kind == "garbage":
        junk = bytes(r.randrange(256) for _ in range(r.randint(1, 8)))
        return raw[:i] + junk + raw[i:], f"garbage at {i}"
    return r.choice([b"", b"\n\n", b"# nothing but a comment\n", b"\xef\xbb\xbf"]), "empty"


# ------------------------------------------------------------------- table mutations
def _nodes(d: dict) -> list:
    """The node tables of a (mutated) graph document."""
    nodes = d.get("node")
    return [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []


def _tables(d: dict) -> list:
    """The tables of a graph document that keys live in."""
    return [d] + [d[k] for k in ("format", "learning") if isinstance(d.get(k), dict)] + \
        _nodes(d)


def _node_names(d: dict) -> list:
    return [n["name"] for n in _nodes(d) if isinstance(n.get("name"), str)]


def _random_field(r: random.Random, key: str):
    """A random, often nearly valid, value for a known key."""
    if key in ("value", "error", "weight"):
        if r.random() < 0.2:
            return r.choice(["Q4", "q4.12", " Q4.12 ", "Q04.012", "Q4.12.1", "Q\u0664.12"])
        return f"Q{r.randint(-1, 34)}.{r.randint(-1, 34)}"
    choices = {
        "size": [0, 1, 2, 3, 4, 8, 300, 65535, 65536, -1, 1.0, "2", True],
        "table_bits": list(range(2, 17)),
        "seed": [0, 1, 12345, 2 ** 32 - 1, 2 ** 32],
        "rounding": list(ROUNDING_MODES) + ["round", ""],
        "mode": list(MODES) + ["fast"],
        "eta_v": [2.0 ** -k for k in range(-1, 32)] + [0.3, 0, 1, 1.0, -0.5],
        "eta_theta": [2.0 ** -k for k in range(-1, 32)] + [0.3, 0, 1, 1.0, -0.5],
        "ticks": [0, 1, 2, 3, 5, 65535, 65536, -1],
        "act": list(ACTIVATIONS) + ["swish", ""],
        "op": list(OPS) + ["conv"],
        "bias": [True, False, 1], "output": [True, False, "true"],
        "name": TRICKY_NAMES,
    }
    return r.choice(choices.get(key, WRONG_VALUES))


def _mutate_inputs(r: random.Random, d: dict) -> str:
    nodes = [n for n in _nodes(d) if isinstance(n.get("inputs"), list)]
    if not nodes:
        return "no inputs to change"
    n, names = r.choice(nodes), _node_names(d)
    kind = r.choice(["add", "unknown", "twice", "remove", "many", "self", "reverse"])
    if kind == "add" and names:
        n["inputs"].append(r.choice(names))
    elif kind == "unknown":
        n["inputs"].append(r.choice(TRICKY_NAMES))
    elif kind == "twice" and n["inputs"]:
        n["inputs"].append(r.choice(n["inputs"]))
    elif kind == "remove" and n["inputs"]:
        n["inputs"].pop(r.randrange(len(n["inputs"])))
    elif kind == "many" and names:
        n["inputs"] = [r.choice(names) for _ in range(r.choice([23, 24, 25, 50000]))]
    elif kind == "self":
        n["inputs"].append(n.get("name"))
    else:
        n["inputs"].reverse()
    return f"inputs of {n.get('name')!r}: {kind}"


def _rename(r: random.Random, d: dict) -> str:
    """Rename a node everywhere it is referenced, to a tricky or colliding name."""
    names = _node_names(d)
    if not names:
        return "no node to rename"
    old = r.choice(names)
    new = r.choice(TRICKY_NAMES + [f"to_{r.choice(names)}",
                                   f"{r.choice(names)}_{r.choice(names)}", old.upper()])
    for n in _nodes(d):
        if n.get("name") == old:
            n["name"] = new
        if isinstance(n.get("inputs"), list):
            n["inputs"] = [new if p == old else p for p in n["inputs"]]
    return f"rename {old!r} to {new!r}"


def _add_node(r: random.Random, d: dict) -> str:
    names = _node_names(d)
    op = r.choice(OPS)
    node = {"name": r.choice(TRICKY_NAMES + [f"n{r.randrange(100)}"]), "op": op}
    if op != "input" and names:
        node["inputs"] = r.sample(names, min(len(names), 2 if op == "mul" else
                                             r.randint(1, 3) if op != "act" else 1))
    if op in ("input", "dense") or r.random() < 0.3:
        node["size"] = r.choice([1, 2, 3])
    if op in ("dense", "act"):
        node["act"] = r.choice(ACTIVATIONS)
    if op != "input" and r.random() < 0.6:
        node["output"] = True
    if isinstance(d.get("node"), list):
        d["node"].insert(r.randrange(len(d["node"]) + 1), node)
    return f"add node {node}"


def _dict_mutation(r: random.Random, d: dict) -> str:
    """One random change of the graph's table, in place; returns what was done."""
    kind = r.choice(["drop key", "add key", "wrong type", "field", "field", "field",
                     "inputs", "inputs", "duplicate node", "rename", "rename", "cycle",
                     "add node", "toggle", "graph name"])
    table = r.choice(_tables(d))
    if kind == "drop key" and table:
        key = r.choice(list(table))
        del table[key]
        return f"drop {key!r}"
    if kind == "add key" and isinstance(table, dict):
        key = r.choice(["act", "bias", "size", "inputs", "extra", "Name", "seed", "mode"])
        table[key] = _random_field(r, key)
        return f"add {key!r} = {table[key]!r}"[:200]
    if kind in ("wrong type", "field") and table:
        key = r.choice(list(table))
        table[key] = r.choice(WRONG_VALUES) if kind == "wrong type" else _random_field(r, key)
        return f"{key!r} = {table[key]!r}"[:200]
    if kind == "inputs":
        return _mutate_inputs(r, d)
    if kind == "duplicate node" and _nodes(d):
        d["node"].append(copy.deepcopy(r.choice(_nodes(d))))
        return "duplicate a node"
    if kind == "rename":
        return _rename(r, d)
    if kind == "cycle":
        nodes = [n for n in _nodes(d) if isinstance(n.get("inputs"), list)]
        pairs = [(n, c) for n in nodes for c in nodes if n.get("name") in c["inputs"]]
        if pairs:
            n, c = r.choice(pairs)
            n["inputs"].append(c.get("name"))
            return f"cycle: {n.get('name')!r} takes its child {c.get('name')!r}"
    if kind == "add node":
        return _add_node(r, d)
    if kind == "toggle":
        if _nodes(d):
            n, key = r.choice(_nodes(d)), r.choice(["output", "bias"])
            n[key] = not n.get(key, False)
            return f"toggle {key} of {n.get('name')!r}"
    if kind == "graph name":
        d["name"] = _random_field(r, "name")
        return f"graph name {d['name']!r}"
    return f"{kind}: nothing to change"


# ------------------------------------------------------ changes that keep it buildable
VALID_NAMES = ["in", "target", "run", "sat", "v", "a", "g", "y", "b", "W", "line", "module",
               "wire", "input", "reg", "begin", "class", "edge", "pe_x", "controller", "data",
               "id", "ctrl", "_", "__init__", "Z9", "x" * 64]


def _valid_format(r: random.Random, d: dict) -> str:
    """Random formats the validator should take, and learning rates that fit them."""
    fmt = d.setdefault("format", {})
    for key in ("value", "error", "weight"):
        m = r.randint(1, 32)
        n = r.randint(0, 32 - m)
        if key == "value":
            m, n = (m, min(n, 30)) if r.random() < 0.5 else (2, 30)
        fmt[key] = f"Q{m}.{n}"
    fmt["rounding"] = r.choice(ROUNDING_MODES)
    fmt["table_bits"] = r.randint(4, 14)
    fmt["seed"] = r.choice([1, r.randrange(1, 2 ** 32)])
    n_w = int(fmt["weight"].split(".")[1])
    d.setdefault("learning", {})["eta_theta"] = 2.0 ** -r.randint(0, min(n_w, 24))
    return f"formats {fmt}"


def _valid_learning(r: random.Random, d: dict) -> str:
    lr = d.setdefault("learning", {})
    lr["mode"] = r.choice(MODES)
    lr["eta_v"] = 0.5 if lr["mode"] in ("fpa", "standard") and r.random() < 0.7 else 1.0
    lr["ticks"] = r.choice([0, 0, 1, 2, 3]) if lr["mode"] != "streaming" else r.choice([0, 1])
    return f"learning {lr}"


def _valid_skip(r: random.Random, d: dict) -> str:
    """An extra input from a node earlier in topological order (no cycle)."""
    order = [n.name for n in Graph.from_dict(d).nodes]
    dense = [n for n in _nodes(d) if n.get("op") == "dense"]
    n = r.choice(dense)
    earlier = [p for p in order[:order.index(n["name"])] if p not in n["inputs"]]
    outputs = {m["name"] for m in _nodes(d) if m.get("output")}
    earlier = [p for p in earlier if p not in outputs]
    if earlier:
        n["inputs"].append(r.choice(earlier))
    return f"skip into {n['name']!r}"


def _valid_output(r: random.Random, d: dict) -> str:
    """A new output reading a random non-output node."""
    names = [m["name"] for m in _nodes(d) if not m.get("output")]
    op = r.choice(["dense", "act", "add"])
    node = {"name": r.choice(VALID_NAMES + ["out2"]), "op": op, "inputs": [r.choice(names)],
            "output": True}
    if op == "dense":
        node.update(size=r.randint(1, 3), act=r.choice(ACTIVATIONS), bias=r.random() < 0.5)
    elif op == "act":
        node["act"] = r.choice(ACTIVATIONS)
    d["node"].append(node)
    return f"new output {node}"


def _valid_mutation(r: random.Random, d: dict) -> str:
    kind = r.choice(["rename", "rename", "format", "learning", "skip", "output"])
    if kind == "rename":
        old = r.choice(_node_names(d))
        new = r.choice(VALID_NAMES + [f"to_{r.choice(_node_names(d))}",
                                      f"{r.choice(_node_names(d))}_{r.choice(_node_names(d))}"])
        for n in _nodes(d):
            n["name"] = new if n["name"] == old else n["name"]
            if "inputs" in n:
                n["inputs"] = [new if p == old else p for p in n["inputs"]]
        return f"rename {old!r} to {new!r}"
    if kind == "format":
        return _valid_format(r, d)
    if kind == "learning":
        return _valid_learning(r, d)
    return _valid_skip(r, d) if kind == "skip" else _valid_output(r, d)


def mutant(example: str, seed: int) -> tuple:
    """(bytes of the mutated file, list of the mutations) of one seeded case: the text
    changed, or the table changed at random, or changed in ways that mostly keep it valid
    (tricky names, random formats and modes, new edges and outputs)."""
    r = random.Random(seed)
    raw = example_path(example).read_bytes()
    log = []
    family = r.random()
    if family < 0.25:
        for _ in range(r.choice([1, 1, 2])):
            raw, what = _text_mutation(r, raw)
            log.append(what)
        return raw, log
    d = tomllib.loads(raw.decode())
    for _ in range(r.choice([1, 1, 2, 3])):
        try:
            log.append(_valid_mutation(r, d) if family < 0.6 else _dict_mutation(r, d))
        except GraphError as e:         # an earlier change made it invalid: keep it so
            log.append(f"(invalid already: {e})")
            break
    return toml_text(d).encode(), log


# ------------------------------------------------------------------------- building
def _small(g) -> bool:
    """Cheap enough to elaborate in the suite (a second or a few)."""
    return sum(n.size for n in g.nodes) <= 40 and g.n_params <= 120


def build(g, seed: int, elaborate: bool):
    """What every hardware command needs of an accepted graph, or an AssertionError."""
    from amaranth.back import verilog

    from pcfpga.hdl.design import Design
    from pcfpga.hdl.export import top_name
    from pcfpga.hdl.memmap import with_dataset
    from pcfpga.hdl.network import Network

    design = Design.build(g)
    mm = design.memmap
    for m in [mm] + _with_buffer(mm, with_dataset):
        names = [f.name for f in m.fields]
        twice = sorted({n for n in names if names.count(n) > 1})
        assert not twice, f"memory-map fields named twice: {twice}"
    model = FixedPC(g, ticks=min(g.ticks, 2))
    W, rng = g.formats.weight, np.random.default_rng(seed)
    params = model.to_model({k: np.clip(v, W.min, W.max)
                             for k, v in init_params(g, seed).items()})
    x = {n.name: rng.uniform(-1, 1, n.size) for n in g.inputs}
    y = {n.name: rng.uniform(-1, 1, n.size) for n in g.outputs}
    model.step(params, x, y)
    if elaborate:
        text = verilog.convert(Network(design), name=top_name(g), emit_src=False)
        assert f"module {top_name(g)}" in text or f"\\{top_name(g)}" in text


def _with_buffer(mm, with_dataset) -> list:
    try:
        return [with_dataset(mm, 1)]
    except ValueError:      # a network too big for the SoC's 16-bit bus: boards reject it
        return []


def run_case(example, seed, tmp_path, rejects, capsys, elaborate: bool) -> str:
    """Check one mutant; 'rejected', 'accepted' or 'built' (elaborated)."""
    raw, log = mutant(example, seed)
    path = tmp_path / "graph.toml"
    path.write_bytes(raw)
    try:
        try:
            g = Graph.from_toml(path)
        except GraphError as e:
            rejects(["check", path], message=str(e))
            return "rejected"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            code = main(["check", str(path)])
        out, err = capsys.readouterr()
        assert code == 0 and not err, f"check exited {code}: {err}"
        elaborate = elaborate and _small(g)
        build(g, seed, elaborate)
        return "built" if elaborate else "accepted"
    except Exception as e:
        text = raw.decode("utf-8", "backslashreplace")
        text = text if len(text) < 20000 else text[:20000] + "\n... (cut)"
        raise AssertionError(f"fuzz case: example {example}, seed {seed}, mutations {log}: "
                             f"{type(e).__name__}: {e}\n--- mutated file ---\n{text}") from e


def fuzz(example, tmp_path, rejects, capsys, cases: int, elaborations: int,
         first: int = 0) -> dict:
    """Run ``cases`` mutants of ``example`` from seed number ``first``; the outcomes."""
    base = SEED + 100000 * ALL_EXAMPLES.index(example) + first
    print(f"fuzz seeds {base} .. {base + cases - 1} ({example})")
    tally = {"rejected": 0, "accepted": 0, "built": 0}
    for i in range(cases):
        outcome = run_case(example, base + i, tmp_path, rejects, capsys,
                           tally["built"] < elaborations)
        tally[outcome] += 1
    print(tally)
    return tally


# ---------------------------------------------------------------------------- tests
def test_toml_writer_round_trips_every_example():
    for name in ALL_EXAMPLES:
        with open(example_path(name), "rb") as f:
            data = tomllib.load(f)
        assert tomllib.loads(toml_text(data)) == data, name
    odd = {"a\"b\\": ["\n\x00\u00f1", 1.5, -math.inf, 10 ** 30, {"k": [[], {}]}, False]}
    back = tomllib.loads(toml_text(odd))
    assert back == odd


@pytest.mark.parametrize("example", ALL_EXAMPLES)
def test_fuzz_graph_files(example, tmp_path, rejects, capsys):
    """Random mutants of each example: rejected as promised, or accepted and built."""
    tally = fuzz(example, tmp_path, rejects, capsys, CASES, ELABORATE)
    assert tally["rejected"] and tally["accepted"] + tally["built"], tally


@pytest.mark.slow
@pytest.mark.parametrize("example", ALL_EXAMPLES)
def test_fuzz_graph_files_long(example, tmp_path, rejects, capsys):
    """Ten times as many mutants (other seeds) and elaborations."""
    tally = fuzz(example, tmp_path, rejects, capsys, SLOW_CASES, SLOW_ELABORATE,
                 first=CASES)
    assert tally["rejected"] and tally["accepted"] + tally["built"], tally
