"""Reading a TOML graph file as untrusted input, in time and memory linear in its size.

:func:`read_toml` returns the file's table or raises :class:`TomlFileError` naming the file
and the problem (:meth:`~pcfpga.golden.graph.Graph.from_toml` turns it into a
``GraphError``). Before ``tomllib`` sees the text it is bounded: at most
:data:`MAX_FILE_BYTES` are read (so ``/dev/zero`` ends), a named pipe is refused (opening it
would wait for a writer for ever), and dotted keys of more than :data:`MAX_KEY_PARTS` parts
are refused (``tomllib`` takes time and memory quadratic in them). An empty file, nesting
too deep for the parser and integers of more digits than Python converts are one-line
errors too; a leading UTF-8 byte-order mark is skipped.
"""

from __future__ import annotations

import os
import re
import stat
import sys
import tomllib

__all__ = ["read_toml", "read_bounded", "TomlFileError", "MAX_FILE_BYTES", "MAX_KEY_PARTS"]


class TomlFileError(ValueError):
    """A graph file that cannot be read as TOML; the message names the file."""


#: The largest graph file read: over twice the largest graph the format allows (2,048 nodes
#: of 24 inputs with 64-character names, 3.6 MB); tomllib reads about 1 MB/s at worst.
MAX_FILE_BYTES = 8 << 20
#: Most parts of a dotted key read (a graph's keys have 2 at most, as format.value): tomllib
#: takes time and memory quadratic in them (100,000 parts, 200 KB, ran out of memory).
MAX_KEY_PARTS = 16
#: One left-to-right scan for MAX_KEY_PARTS key parts each followed by a dot, outside
#: strings and comments: ``finditer`` consumes every match, and the other alternatives
#: match strings and comments whole, so no text is scanned more than a bounded number of
#: times (a search restarting inside a string of escaped quotes was quadratic). Possessive
#: quantifiers: no backtracking.
_KEY_PART = r"""(?:[A-Za-z0-9_-]++|"(?:[^"\\\n]|\\.)*+"|'[^'\n]*+')"""
_KEY_SCAN = re.compile(
    rf"(?<![A-Za-z0-9_-])(?P<dotted>(?:{_KEY_PART}[ \t]*+\.[ \t]*+){{{MAX_KEY_PARTS}}})"
    + r'''|"""(?:[^"\\]|\\[\s\S]|"(?!""))*+"""'''      # multi-line basic string
    + r"""|'''[\s\S]*?'''"""                            # multi-line literal string
    + r"""|"(?:[^"\\\n]|\\.)*+"|'[^'\n]*+'"""           # one-line strings
    + r"|#[^\n]*+")                                     # a comment


def _check_text(path, raw: bytes, text: str):
    """Refuse, before tomllib reads it, what would take it more than linear time: a file
    over :data:`MAX_FILE_BYTES` (or endless, like /dev/zero) and long dotted keys."""
    if len(raw) > MAX_FILE_BYTES:
        raise TomlFileError(f"{path}: larger than {MAX_FILE_BYTES:,} bytes; the largest graph "
                         f"the format allows takes about 3.6 MB")
    dotted = next((m for m in _KEY_SCAN.finditer(text) if m.group("dotted")), None)
    if dotted:
        line = text.count("\n", 0, dotted.start()) + 1
        raise TomlFileError(f"{path}: line {line}: a dotted key of more than {MAX_KEY_PARTS} "
                         f"parts; a graph's keys have at most 2, such as format.value")


def read_bounded(path, limit: int, what: str, error) -> bytes:
    """At most ``limit`` + 1 bytes of file ``path`` (one more than allowed: the caller
    tells a file too large), or ``error`` (an exception class) naming the file and the
    problem: missing, a folder or a named pipe (not ``what``), unreadable."""
    try:
        if stat.S_ISFIFO(os.stat(path).st_mode):   # would wait for a writer for ever
            raise error(f"{path}: a named pipe, not {what}")
        with open(path, "rb") as f:
            return f.read(limit + 1)
    except FileNotFoundError:
        raise error(f"{path}: no such file") from None
    except IsADirectoryError:
        raise error(f"{path}: is a folder, not {what}") from None
    except OSError as e:
        raise error(f"{path}: cannot read it ({e.strerror})") from None


def read_toml(path) -> dict:
    """The table of a TOML file, or a :class:`TomlFileError` naming the file and the problem:
    missing, unreadable, larger than :data:`MAX_FILE_BYTES`, not UTF-8, with a dotted key
    of more than :data:`MAX_KEY_PARTS` parts, not TOML, nested too deeply for the parser,
    a number of more digits than Python converts, or empty. A leading UTF-8 byte-order
    mark is skipped. Time and memory are linear in the file's size."""
    raw = read_bounded(path, MAX_FILE_BYTES, "a graph file", TomlFileError)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TomlFileError(f"{path}: not valid TOML: not UTF-8 text (byte {e.start})") from None
    _check_text(path, raw, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise TomlFileError(f"{path}: not valid TOML: {e}") from None
    except RecursionError:
        raise TomlFileError(f"{path}: arrays or tables nested too deeply to read; a graph "
                         f"nests them at most 3 levels deep") from None
    except ValueError as e:     # int() of more digits than sys.get_int_max_str_digits()
        if "digits" not in str(e):
            raise TomlFileError(f"{path}: not valid TOML: {e}") from None
        raise TomlFileError(f"{path}: a number of more than {sys.get_int_max_str_digits()} "
                         f"digits; no graph key takes one that long") from None
    if not data:
        raise TomlFileError(f"{path}: the file is empty (no keys); a graph needs a name and "
                         f"[[node]] tables")
    return data
