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

#: The process's file-creation mask (read once: setting it to read it is not thread-safe).
_UMASK = os.umask(0)
os.umask(_UMASK)


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

    A destination that is a folder is refused before anything is written. Missing folders
    are created (and removed again on failure). Every file is first written to a temporary
    file beside its destination; only when all are written are they renamed into place,
    and should a rename fail, the files already renamed are put back as they were.
    """
    paths = [os.fspath(p) for p in files]
    for path in paths:
        if os.path.isdir(path):
            raise OutputError(f"{path}: is a folder; expected a file name")
    staged, created = [], []
    done = False
    try:
        for path, content in zip(paths, files.values()):
            staged.append((_stage(path, content, created), path))
        _put_in_place(staged)
        done = True
    finally:
        for tmp, _ in staged:
            if os.path.exists(tmp):
                os.unlink(tmp)
        for folder in reversed(created if not done else []):
            try:
                os.rmdir(folder)
            except OSError:
                pass


def _stage(path: str, content, created: list) -> str:
    """Write ``content`` to a temporary file beside ``path``; its name."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        _make_folders(folder, created)
        fd, tmp = tempfile.mkstemp(prefix=".pcfpga-", suffix=os.path.splitext(path)[1],
                                   dir=folder)
    except OSError as e:
        raise OutputError(f"{path}: cannot write it ({e.strerror or e})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            if callable(content):
                content(f)
            else:
                f.write(_data(content))
        os.chmod(tmp, 0o666 & ~_UMASK)
    except BaseException as e:
        os.unlink(tmp)
        if isinstance(e, OSError):
            raise OutputError(f"{path}: cannot write it ({e.strerror or e})") from None
        raise
    return tmp


def _put_in_place(staged: list):
    """Rename every ``(temporary, path)``; on a failure, undo the renames already done
    (an old file is kept as a hard link until all are in place)."""
    done = []                                   # [path, backup or None], renamed last
    try:
        for tmp, path in staged:
            done.append([path, None])
            if os.path.exists(path):
                os.link(path, f"{tmp}.old")
                done[-1][1] = f"{tmp}.old"
            os.replace(tmp, path)
    except OSError as e:
        path, backup = done.pop()               # not renamed: the one that failed
        if backup is not None:
            os.unlink(backup)
        for old_path, old_backup in reversed(done):
            if old_backup is None:
                os.unlink(old_path)
            else:
                os.replace(old_backup, old_path)
        done.clear()
        raise OutputError(f"{path}: cannot write it ({e.strerror or e})") from None
    finally:
        for _, backup in done:
            if backup is not None and os.path.exists(backup):
                os.unlink(backup)

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
