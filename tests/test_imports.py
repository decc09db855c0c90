"""The project's import graph: no cycle among its modules, no private name imported across.

Issue 15 (house style): every ``.py`` file of the installed packages (the folders of
pyproject.toml's ``package-dir``: pcfpga/, golden/, hdl/, sim/, boards/, host/, examples/)
is parsed with :mod:`ast`, and every import, function-level ones too, is resolved to a
project module. Two rules are checked:

1. no import cycle among the project's modules (a failure shows the cycle);
2. no private name (``_name``; dunders such as ``__version__`` are public) taken from
   another project module: by ``from m import _name``, ``import m._name``, or ``m._name``
   on a name an import bound to the module ``m``.

The violations known when the rules were written are listed in :data:`KNOWN`: the tests
fail on any other one, and on a listed one that no longer exists, so the list only shrinks.
"""

import ast
import os
import tomllib

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# issue 15: to be removed (each entry as the failure message names it)
KNOWN = set()          # the hdl entries went with issue 15's generator split (step 5)


# ------------------------------------------------------------------------------ the modules
def package_dirs() -> dict:
    """``{package: folder}`` from pyproject.toml's ``[tool.setuptools.package-dir]``."""
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)["tool"]["setuptools"]["package-dir"]


def project_modules() -> dict:
    """``{dotted name: (path, is_package)}`` of every .py file in the package folders."""
    modules = {}
    for package, folder in package_dirs().items():
        base = os.path.join(ROOT, folder)
        for dirpath, dirnames, filenames in os.walk(base):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__"
                                 and not d.startswith("."))
            rel = os.path.relpath(dirpath, base)
            prefix = package if rel == "." else f"{package}.{rel.replace(os.sep, '.')}"
            for name in sorted(filenames):
                if name.endswith(".py"):
                    stem = name[:-3]
                    dotted = prefix if stem == "__init__" else f"{prefix}.{stem}"
                    modules[dotted] = (os.path.join(dirpath, name), stem == "__init__")
    return modules


# ------------------------------------------------------------------------------ the imports
def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _source(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute module a ``from ... import`` reads from."""
    if not node.level:
        return node.module
    parts = module.split(".") if is_package else module.split(".")[:-1]
    base = ".".join(parts[:len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


def _in_project(name: str) -> bool:
    return name == "pcfpga" or name.startswith("pcfpga.")


def module_imports(module: str, text: str, is_package: bool, modules):
    """``(edges, privates, unresolved)`` of one module's source ``text``: the project
    modules (of ``modules``) it imports, the private names it takes from them
    (``(name, from_module, line)``), and the imports of a ``pcfpga`` name that is no
    project module (``(dotted, line)``)."""
    tree = ast.parse(text, module)
    edges, privates, unresolved, bound = set(), [], [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not _in_project(alias.name):
                    continue
                if alias.name not in modules:
                    unresolved.append((alias.name, node.lineno))
                    continue
                edges.add(alias.name)
                head, _, last = alias.name.rpartition(".")
                if any(_private(p) for p in alias.name.split(".")):
                    privates.append((last, head, node.lineno))
                if alias.asname or "." not in alias.name:
                    bound[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom):
            source = _source(node, module, is_package)
            if not _in_project(source):
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in modules:
                    edges.add(sub)
                    bound[alias.asname or alias.name] = sub
                elif source in modules:
                    edges.add(source)
                else:
                    unresolved.append((sub, node.lineno))
                    continue
                if _private(alias.name):
                    privates.append((alias.name, source, node.lineno))
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in bound and _private(node.attr)):
            privates.append((node.attr, bound[node.value.id], node.lineno))
    edges.discard(module)
    return edges, privates, unresolved


def import_graph():
    """``(graph, privates, unresolved)`` over the whole project: ``graph`` maps a module to
    the project modules it imports; the others list ``(module, ...)`` tuples."""
    modules = project_modules()
    graph, privates, unresolved = {}, [], []
    for module, (path, is_package) in modules.items():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        edges, priv, unres = module_imports(module, text, is_package, modules)
        graph[module] = edges
        privates += [(module,) + p for p in priv]
        unresolved += [(module,) + u for u in unres]
    return graph, privates, unresolved


# ------------------------------------------------------------------------------ the cycles
def strong_components(graph: dict) -> list:
    """The strongly connected components of ``graph`` (Tarjan), as sorted lists."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def a_cycle(graph: dict, members: list) -> list:
    """One cycle through the first of ``members`` (a component), shortest first found."""
    start, inside = members[0], set(members)
    paths, seen = [[start]], {start}
    while paths:
        path = paths.pop(0)
        for w in sorted(graph[path[-1]] & inside):
            if w == start:
                return path + [start]
            if w not in seen:
                seen.add(w)
                paths.append(path + [w])
    raise AssertionError(f"no cycle in {members}")


def cycle_violations(graph: dict) -> dict:
    """``{key: message}`` of every import cycle."""
    found = {}
    for members in strong_components(graph):
        if len(members) > 1:
            key = f"cycle: {', '.join(members)}"
            found[key] = f"{key} (one of them: {' -> '.join(a_cycle(graph, members))})"
    return found


def private_violations(privates: list) -> dict:
    """``{key: message}`` of every private name imported from another project module."""
    found = {}
    for module, name, source, line in privates:
        key = f"private: {module} imports {name} from {source}"
        found.setdefault(key, f"{key} (line {line})")
    return found


# ------------------------------------------------------------------------------ the tests
def _check(found: dict, kind: str):
    known = {k for k in KNOWN if k.startswith(kind)}
    new = sorted(set(found) - known)
    gone = sorted(known - set(found))
    lines = [f"new: {found[k]}" for k in new]
    lines += [f"fixed (remove it from KNOWN in tests/test_imports.py): {k}" for k in gone]
    if lines:
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.fixture(scope="module")
def project():
    return import_graph()


def test_the_package_folders_are_the_project(project):
    """Every folder of package-dir is walked, and every import of a project name resolves
    (a typo or a wrong folder mapping would hide imports from the two rules)."""
    graph, _, unresolved = project
    assert set(package_dirs().values()) >= {"pcfpga", "golden", "hdl", "sim", "boards",
                                               "host", "examples"}
    assert {"pcfpga.cli", "pcfpga.golden.engine", "pcfpga.hdl.pe", "pcfpga.sim.session",
            "pcfpga.boards.flash", "pcfpga.host.driver", "pcfpga.examples"} <= set(graph)
    assert not unresolved, "\n".join(f"{m} line {line}: {name} is not a project module"
                                     for m, name, line in unresolved)


def test_no_import_cycle(project):
    graph, _, _ = project
    _check(cycle_violations(graph), "cycle:")


def test_no_private_name_imported_across_modules(project):
    _, privates, _ = project
    _check(private_violations(privates), "private:")


def test_no_command_imports_another(project):
    """The CLI's applet pattern: a command module of :mod:`pcfpga.cli` imports no other
    command module (what they share is in :mod:`pcfpga.cli.common`), nor the package that
    assembles them."""
    from pcfpga.cli import COMMANDS

    graph, _, _ = project
    commands = {m.__name__ for m in COMMANDS}
    assert commands == {m for m in graph if m.startswith("pcfpga.cli.")} - {"pcfpga.cli.common"}
    wrong = [f"{m} imports {sorted(graph[m] & (commands | {'pcfpga.cli'}))}"
             for m in sorted(commands | {"pcfpga.cli.common"})
             if graph[m] & (commands | {"pcfpga.cli"})]
    assert not wrong, "\n".join(wrong)


def test_the_rules_see_what_they_should():
    """The checks themselves on made-up modules: a cycle and its path; the three spellings
    of a private import (relative too); dunders, public names and outside modules pass."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycle_violations(graph) == {
        "cycle: a, b, c": "cycle: a, b, c (one of them: a -> b -> c -> a)"}
    modules = {"pcfpga", "pcfpga.x", "pcfpga.x.m", "pcfpga.x.n", "pcfpga.y"}
    text = ("import os, numpy._core\nfrom . import n, __version__\nfrom .n import _a, B\n"
            "def f():\n    import pcfpga.y as Y\n    from .. import y\n"
            "    return Y._b, y._c, n.__doc__, os._exit\n"
            "from pcfpga.x.nope import C\n")
    edges, privates, unresolved = module_imports("pcfpga.x.m", text, False, modules)
    assert edges == {"pcfpga.x.n", "pcfpga.x", "pcfpga.y"}
    assert sorted(privates) == [("_a", "pcfpga.x.n", 3), ("_b", "pcfpga.y", 7),
                                ("_c", "pcfpga.y", 7)]
    assert unresolved == [("pcfpga.x.nope.C", 8)]
    assert private_violations([("m", "_x", "n", 3)]) == {
        "private: m imports _x from n": "private: m imports _x from n (line 3)"}
    assert not _private("__version__") and _private("_stack")
