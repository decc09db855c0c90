"""Values shown in one-line error messages: shortened, never a page of text.

Bad input is reported in one line naming the bad value; a value read from a file may be a
string of a megabyte, a list of 50,000 names or an integer of 4,000 digits, so messages
show it through :func:`show` (long strings and lists cut in the middle, deep nesting as
``...``) and lists of names through :func:`listing`.
"""

from __future__ import annotations

import reprlib

__all__ = ["show", "listing", "kind"]

_REPR = reprlib.Repr()
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 60, 60, 40
_REPR.maxlist = _REPR.maxtuple = 8
_REPR.maxdict, _REPR.maxlevel = 4, 3



def kind(value) -> str:
    return type(value).__name__


def show(value) -> str:
    """``repr(value)`` shortened for a one-line message (long strings and lists cut in the
    middle, deep nesting as ``...``).

    >>> show("x" * 100)
    "'xxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxx'"
    >>> show([[[[1]]]]), show(list(range(20)))
    ('[[[...]]]', '[0, 1, 2, 3, 4, 5, 6, 7, ...]')
    """
    try:
        return _REPR.repr(value)
    except ValueError:                  # an int beyond sys.get_int_max_str_digits()
        if isinstance(value, int):
            return f"an integer of {value.bit_length()} bits"
        return f"a {kind(value)} holding an integer too long to show"


def listing(names, limit: int = 10, sep: str = ", ") -> str:
    """Names joined by ``sep``: the first ``limit`` of them and a count beyond that."""
    names = list(names)
    if len(names) <= limit:
        return sep.join(names)
    return f"{sep.join(names[:limit])}{sep}... ({len(names)} in all)"
