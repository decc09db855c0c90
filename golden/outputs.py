"""Output files: checked before any work, written all together or not at all.

Every command that writes files goes through two steps:

1. before any work, each output path is checked (:func:`check_file`, :func:`check_folder`):
   the suffix, that it is not a folder, that its folder exists (or can be created), and
   that a file can actually be created there (a probe file is created and removed, which
   also catches a read-only file system for root, who passes every permission check);
2. after the work, :func:`write_all` writes every file: first each one to a temporary
   file beside its destination (where a full disk or a permission error strikes), and only
   when all of them are written are they renamed into place. A failure in the first stage
   removes every temporary file and leaves the destinations as they were.

Errors are :class:`OutputError` and name the path the user gave, never a temporary file.

>>> import tempfile, os
>>> d = tempfile.mkdtemp()
>>> write_all({os.path.join(d, "a.txt"): b"1", os.path.join(d, "b.txt"): b"2"})
>>> sorted(os.listdir(d))
['a.txt', 'b.txt']
"""

from __future__ import annotations

import os
import tempfile

__all__ = ["OutputError", "check_file", "check_folder", "write_all"]


class OutputError(ValueError):
    """An output path that cannot be written; the message names it."""


def _probe(folder: str, what: str):
    """Create and remove a file in ``folder``; :class:`OutputError` naming ``what``."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=".pcfpga-probe-", dir=folder)
    except OSError as e:
        raise OutputError(f"{what}: cannot write in {folder} ({e.strerror or e})") from None
    os.close(fd)
    os.unlink(tmp)


def check_file(path: str, suffix: str, option: str) -> str:
    """Check the output file ``path`` given as ``option`` before any work; returns it.

    It must end in ``suffix``, not be a folder, and its folder must exist and take new
    files.
    """
    what = f"{option} {path}"
    if not path:
        raise OutputError(f"{option}: expected a file name ending in {suffix}, not an empty "
                          f"string")
    if not path.endswith(suffix):
        raise OutputError(f"{what}: expected a file name ending in {suffix}")
    if os.path.isdir(path):
        raise OutputError(f"{what}: is a folder; expected a file name")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise OutputError(f"{what}: folder {folder} does not exist")
    _probe(folder, what)
    return path


def check_folder(path: str, option: str, names=()) -> str:
    """Check the output folder ``path`` given as ``option`` before any work; returns it.

    It may be missing (it is created when the files are written) if its nearest existing
    ancestor is a folder that takes new files; if it exists it must be a folder that takes
    new files, and none of ``names`` (the files to be written into it) may be a folder.
    """
    what = f"{option} {path}"
    if not path:
        raise OutputError(f"{option}: expected a folder name, not an empty string")
    if os.path.exists(path) and not os.path.isdir(path):
        raise OutputError(f"{what}: exists and is not a folder")
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        raise OutputError(f"{what}: {probe} is not a folder")
    _probe(probe, what)
    for name in names:
        if os.path.isdir(os.path.join(path, name)):
            raise OutputError(f"{what}: {name} in it is a folder; expected a file name")
    return path


def _data(content) -> bytes:
    return content.encode() if isinstance(content, str) else bytes(content)


def write_all(files: dict):
    """Write ``{path: bytes, str or callable(file)}`` all together or not at all.

    Missing folders are created (and removed again on failure). Every file is first
    written to a temporary file beside its destination; only when all are written are they
    renamed into place.
    """
    staged, created = [], []
    done = False
    try:
        for path, content in files.items():
            path = os.fspath(path)
            folder = os.path.dirname(os.path.abspath(path))
            try:
                _make_folders(folder, created)
                fd, tmp = tempfile.mkstemp(prefix=".pcfpga-", suffix=os.path.splitext(path)[1],
                                           dir=folder)
            except OSError as e:
                raise OutputError(f"{path}: cannot write it ({e.strerror or e})") from None
            staged.append((tmp, path))
            try:
                with os.fdopen(fd, "wb") as f:
                    if callable(content):
                        content(f)
                    else:
                        f.write(_data(content))
                umask = os.umask(0)
                os.umask(umask)
                os.chmod(tmp, 0o666 & ~umask)
            except OSError as e:
                raise OutputError(f"{path}: cannot write it ({e.strerror or e})") from None
        for tmp, path in staged:
            os.replace(tmp, path)
        done = True
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        if not done:
            for folder in reversed(created):
                try:
                    os.rmdir(folder)
                except OSError:
                    pass


def _make_folders(folder: str, created: list):
    """Create ``folder`` and its missing ancestors, outermost first, appending each one
    made to ``created``."""
    missing = []
    while not os.path.isdir(folder):
        missing.append(folder)
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    for f in reversed(missing):
        os.mkdir(f)
        created.append(f)
