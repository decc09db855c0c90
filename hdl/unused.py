"""Components never to be elaborated: Amaranth's "created but never used" warning, silenced
in one place.

Amaranth warns (``UnusedElaboratable``) about every ``Elaboratable`` that is garbage
collected without having been elaborated. Its ``__new__`` makes the object before
``__init__`` runs, so a constructor that rejects its arguments leaves behind an object that
its caller never receives, and the warning, which points at the failed call, would only
bury the error. Every constructor of :mod:`pcfpga.hdl` and :mod:`pcfpga.boards` that checks
its arguments does so inside :func:`rejecting`::

    def __init__(self, design):
        with rejecting(self):
            design = as_design(design, who="A controller")
        ...

If the block raises, the component and every elaboratable it already holds are marked as
never to be elaborated (:func:`never_elaborated`) and the error goes on unchanged; if it
does not, nothing is marked. A test that builds a component only to look at its attributes
calls :func:`never_elaborated` itself.

>>> from amaranth.lib import wiring
>>> from amaranth.lib.wiring import Out
>>> class Picky(wiring.Component):
...     def __init__(self, width):
...         with rejecting(self):
...             if width < 1:
...                 raise ValueError(f"Width must be positive, not {width}")
...         super().__init__({"o": Out(width)})
>>> Picky(0)
Traceback (most recent call last):
...
ValueError: Width must be positive, not 0
"""

from __future__ import annotations

from contextlib import contextmanager

from amaranth.hdl import Elaboratable

__all__ = ["rejecting", "never_elaborated"]


def never_elaborated(*components) -> None:
    """Mark ``components`` as never to be elaborated, so that Amaranth does not warn when they
    are collected; with them every elaboratable they hold (in their attributes, and in the
    dicts, lists and tuples among those, at any depth: a network's controller and PEs)."""
    seen, todo = set(), list(components)
    while todo:
        obj = todo.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            todo.extend(obj.values())
        elif isinstance(obj, (list, tuple)):
            todo.extend(obj)
        elif isinstance(obj, Elaboratable):
            obj._MustUse__silence = True            # amaranth._unused.MustUse's own switch
            todo.extend(getattr(obj, "__dict__", {}).values())


@contextmanager
def rejecting(*components):
    """Run a constructor's checks: if they raise, ``components`` (the one being constructed,
    ``self``) are :func:`never_elaborated`, and the exception propagates unchanged."""
    try:
        yield
    except BaseException:
        never_elaborated(*components)
        raise
