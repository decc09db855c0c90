"""Fuzzing ``pcfpga flash``'s reader of a ``pcfpga synth`` ``report.json`` (issue 14, class
2): seeded random mutations of a valid report, each run through the CLI in-process with
``--dry-run`` (no programmer is called).

Whether a mutated report is valid is decided by an oracle written here, apart from the
reader (:func:`_report_ok`: the rules the README states). A report it finds valid must run;
any other must be refused the documented way (the ``rejects`` fixture). A failure names the
seed and the mutation. The default suite runs :data:`CASES` cases, ``make test-slow``
:data:`SLOW_CASES` more, as tests/test_fuzz_files.py does for the dataset and parameter
readers (same seed; reader number 2).
"""

import json
import os

import pytest

from pcfpga.boards import flash as F
from pcfpga.boards.devices import BOARDS

from helpers import expect_run_or_refused, fuzz_rng, one_of

SEED = 1424                     # issue 14, classes 2 and 4
#: Cases in the default suite and in the slow run.
CASES = 60
SLOW_CASES = 600

# report.json for pcfpga flash.

REPORT = {"network": "xor", "board": "icebreaker", "device": "iCE40UP5K",
          "architecture": "fully parallel", "reuse": 1,
          "cells": {"LUT4": {"used": 2000, "available": 5280}}, "fmax_mhz": 25.1,
          "required_mhz": 12.0, "timing_met": True, "multipliers_estimated": 16,
          "cycles_per_sample": 40, "baud": 115200, "seconds": 41.5,
          "bitstream": "pcfpga_xor.bin", "dataset_capacity": 256, "memmap": "memmap.json"}
PATHS = ["pcfpga_xor.bin", "./pcfpga_xor.bin", "sub/top.bin", "inner.bin", "link.bin",
         "linked/outside.bin", "../outside.bin", "sub/../pcfpga_xor.bin", "sub", "missing.bin",
         "", "a\x00b", "x" * 5000, "/ABS", "/OUTSIDE", "sub//top.bin", "pcfpga_xor.bin/",
         "é.bin", "-S"]
VALUES = [None, True, False, 0, -1, 2.5, 10 ** 30, "", "icebreaker", "ulx3s", [], {},
          ["icebreaker"], {"board": "icebreaker"}, float("nan")]


def _folder(tmp_path):
    folder = tmp_path / "build"
    (folder / "sub").mkdir(parents=True)
    for name in ("pcfpga_xor.bin", "sub/top.bin", "é.bin", "-S"):
        (folder / name).write_bytes(b"\xff" * 16)
    (tmp_path / "outside.bin").write_bytes(b"\xff" * 16)
    (folder / "inner.bin").symlink_to(folder / "pcfpga_xor.bin")
    (folder / "link.bin").symlink_to(tmp_path / "outside.bin")
    (folder / "linked").symlink_to(tmp_path)
    return folder


def _nest(value, depth: int, rng):
    text = json.dumps(value)
    if rng.random() < 0.5:
        return "[" * depth + text + "]" * depth
    return '{"a": ' * depth + text + "}" * depth


def _report_text(rng, folder) -> tuple:
    """A mutated report.json: (bytes, description)."""
    report = dict(REPORT)
    key = one_of(rng, ["board", "bitstream", "seconds", "cells", "reuse"])
    kind = one_of(rng, ["flip", "truncate", "nest", "digits", "type", "board", "path", "drop",
                        "top", "encoding", "size", "duplicate", "nonfinite"])
    if kind == "board":
        report["board"] = one_of(rng, sorted(BOARDS) + ["ICEBREAKER", " icebreaker", "de0",
                                                        "x" * 200, "ice\nbreaker", "\u2028"])
        return json.dumps(report).encode(), f"board {report['board']!r}"
    if kind == "path":
        name = PATHS[rng.integers(len(PATHS))]
        name = {"/ABS": str(folder / "pcfpga_xor.bin"),
                "/OUTSIDE": str(folder.parent / "outside.bin")}.get(name, name)
        report["bitstream"] = name
        return json.dumps(report).encode(), f"bitstream {name[:60]!r}"
    if kind == "type":
        report[key] = VALUES[rng.integers(len(VALUES))]
        return json.dumps(report).encode(), f"{key} = {report[key]!r}"
    if kind == "drop":
        del report[key]
        return json.dumps(report).encode(), f"{key} dropped"
    if kind == "top":
        value = one_of(rng, ["[]", '"icebreaker"', "1", "null", "[" + json.dumps(report) + "]"])
        return value.encode(), f"top-level {value[:30]}"
    if kind == "nest":
        depth = int(one_of(rng, [1, 20, 500, 5000, 100_000]))
        text = json.dumps({k: v for k, v in report.items() if k != key})
        text = text[:-1] + f', "{key}": ' + _nest(report[key], depth, rng) + "}"
        return text.encode(), f"{key} nested {depth} deep"
    if kind == "digits":
        digits = int(one_of(rng, [10, 4000, 4300, 4301, 10_000]))
        text = json.dumps({k: v for k, v in report.items() if k != key})
        text = text[:-1] + f', "{key}": ' + "7" * digits + "}"
        return text.encode(), f"{key} an integer of {digits} digits"
    if kind == "encoding":
        how = one_of(rng, ["utf-16", "utf-8-sig", "latin-1 byte", "cp1252"])
        text = json.dumps({**report, "network": "café"}, ensure_ascii=False)
        data = (text.encode("utf-8").replace(b"\xc3\xa9", b"\xe9") if how == "latin-1 byte"
                else text.encode(how))
        return data, f"encoded {how}"
    if kind == "size":
        pad = (1 << 20) - len(json.dumps(report)) + int(rng.integers(-2, 3))
        return (" " * pad + json.dumps(report)).encode(), f"padded with {pad} spaces"
    if kind == "duplicate":
        text = json.dumps(report)
        return ('{"board": "de0", ' + text[1:]).encode(), "board twice (the last wins)"
    if kind == "nonfinite":
        report[key if key not in ("board", "bitstream") else "seconds"] = float("inf")
        return json.dumps(report).encode(), "Infinity in a field"
    raw = json.dumps(report, indent=1).encode()
    if kind == "truncate":
        n = int(rng.integers(len(raw)))
        return raw[:n], f"cut to {n} bytes"
    data = bytearray(raw)
    where = rng.integers(len(data), size=rng.integers(1, 4))
    for i in where:
        data[i] ^= 1 << rng.integers(8)
    return bytes(data), f"bits flipped at {sorted(where.tolist())}"


def _report_ok(raw: bytes, folder) -> bool:
    """The oracle for report.json: the rules of pcfpga flash, as the README states them."""
    if len(raw) > 1 << 20:
        return False
    try:
        report = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return False
    if not isinstance(report, dict) or not isinstance(report.get("board"), str):
        return False
    name = report.get("bitstream")
    if report["board"] not in BOARDS or not isinstance(name, str):
        return False
    if not name or len(name) > 4096 or "\0" in name or name.startswith("/"):
        return False
    if ".." in name.split("/"):
        return False
    root = os.path.realpath(folder)
    real = os.path.realpath(os.path.join(folder, name))
    return real.startswith(root + os.sep) and os.path.isfile(real)


def _run_report_case(case: int, tmp_path, rejects, capsys, monkeypatch):
    rng, seed = fuzz_rng(SEED, 2, case)
    folder = _folder(tmp_path)
    raw, what = _report_text(rng, folder)
    (folder / "report.json").write_bytes(raw)
    monkeypatch.setattr(F, "_programmer", lambda name: name)
    expect_run_or_refused(_report_ok(raw, folder), ["flash", folder, "--dry-run"],
                          f"seed {seed}: report.json {what}", rejects, capsys, tmp_path)


@pytest.mark.parametrize("case", range(CASES))
def test_fuzz_flash_reports(case, tmp_path, rejects, capsys, monkeypatch):
    _run_report_case(case, tmp_path, rejects, capsys, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("case", range(CASES, CASES + SLOW_CASES))
def test_fuzz_flash_reports_long(case, tmp_path, rejects, capsys, monkeypatch):
    _run_report_case(case, tmp_path, rejects, capsys, monkeypatch)
