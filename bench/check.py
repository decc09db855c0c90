"""How long ``pcfpga check`` takes on large graph files, against reading the TOML alone.

Builds graph files of about 0.5, 1 and 2 MB (every node at the fan-in limit, long names: the
most validation work per byte), then times, side by side in one run, ``tomllib`` reading
each file and the whole ``pcfpga check`` command (a fresh process, imports included), and
prints the ratio. The issue's promise: a 2 MB graph is answered in under 2 s::

    python bench/check.py            (make bench-check)
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import tomllib

FAN = 24            # golden.lfsr.MAX_PARENTS


def graph_text(nodes: int, width: int = 40) -> str:
    """A valid graph: ``FAN`` inputs, then dense nodes each fed by the ``FAN`` before it."""
    names = [f"{'n' * (width - 5)}{i:05d}" for i in range(nodes)]
    lines = ['name = "big"']
    for name in names[:FAN]:
        lines += ["[[node]]", f'name = "{name}"', 'op = "input"', "size = 1"]
    for i in range(FAN, nodes):
        inputs = ", ".join(f'"{p}"' for p in names[i - FAN:i])
        lines += ["[[node]]", f'name = "{names[i]}"', 'op = "dense"', f"inputs = [{inputs}]",
                  "size = 1"] + (["output = true"] if i == nodes - 1 else [])
    return "\n".join(lines) + "\n"


def best_of(runs: int, work) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    exe = os.path.join(os.path.dirname(sys.executable), "pcfpga")
    print(f"{'file':>10}  {'nodes':>6}  {'tomllib':>8}  {'pcfpga check':>12}  ratio")
    with tempfile.TemporaryDirectory() as tmp:
        for nodes in (512, 1024, 2048):
            path = os.path.join(tmp, f"big{nodes}.toml")
            with open(path, "w") as f:
                f.write(graph_text(nodes))

            def read(path=path):
                with open(path, "rb") as f:
                    tomllib.load(f)

            def check(path=path):
                done = subprocess.run([exe, "check", path], capture_output=True)
                if done.returncode != 0:
                    raise SystemExit(f"pcfpga check failed: {done.stderr.decode()}")
            t_read, t_check = best_of(3, read), best_of(3, check)
            size = os.path.getsize(path)
            print(f"{size / 1e6:>8.2f}MB  {nodes:>6}  {t_read:>7.2f}s  {t_check:>11.2f}s  "
                  f"{t_check / t_read:5.1f}x")
        # the worst text for the key scan: one string of escaped quotes (refused by the
        # validator after reading, as an unknown key)
        path = os.path.join(tmp, "quotes.toml")
        with open(path, "w") as f:
            f.write('x = "' + '\\"' * 1_000_000 + '"\n' + graph_text(FAN + 1))
        start = time.perf_counter()
        done = subprocess.run([exe, "check", path], capture_output=True)
        took = time.perf_counter() - start
        print(f"{os.path.getsize(path) / 1e6:>8.2f}MB  escaped quotes: pcfpga check "
              f"{took:.2f}s (exit {done.returncode}: {done.stderr.decode().strip()[-40:]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
