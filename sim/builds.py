"""The build folders of the simulators that compile the generated Verilog (cocotb's Verilator
and Icarus builds, and the native Verilator model of :mod:`.verilated`).

Each configuration is built once, in a folder of its own under a build root (default
``build/sim``), named by :func:`config_key`: the design (its graph's contents and its
folding), the simulator, waves and a hash of the generator's source
(:func:`generator_digest`), so that a build is never reused for Verilog that a newer
generator would write differently. A finished build leaves ``built.ok`` holding that hash;
:func:`prune` deletes the folders a different generator made.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
from pathlib import Path

from pcfpga.hdl.folding import Architecture

__all__ = ["generator_digest", "config_key", "prune", "STAMP"]

#: The file a finished build leaves in its folder (the generator's hash).
STAMP = "built.ok"


@functools.lru_cache(maxsize=1)
def generator_digest() -> str:
    """A hash of the generator's source (pcfpga.hdl and pcfpga.golden, which it uses)."""
    import pcfpga.golden
    import pcfpga.hdl

    h = hashlib.sha256()
    for package in (pcfpga.hdl, pcfpga.golden):
        folder = Path(package.__file__).parent
        for path in sorted(folder.glob("*.py")):
            h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def prune(build_root: Path):
    """Delete the builds another version of the generator made (their stamp says which)."""
    current = generator_digest()
    for stamp in Path(build_root).glob(f"*/{STAMP}"):
        if stamp.read_text().strip() != current:
            shutil.rmtree(stamp.parent, ignore_errors=True)


def config_key(design, simulator: str, waves: bool) -> str:
    """The build folder's name: the design (its graph's contents and its folding, which
    together determine it), the simulator, waves and the generator's source, hashed."""
    graph, folding = design.graph, design.folding
    text = json.dumps(graph.source, sort_keys=True, default=str)
    fold = ("" if folding.architecture is Architecture.PARALLEL else
            f"|reuse={json.dumps(folding.to_json(), sort_keys=True)}")
    digest = hashlib.sha256(f"{text}|{simulator}|{waves}{fold}|{generator_digest()}"
                            .encode()).hexdigest()[:10]
    return f"{graph.name}-{graph.learning.mode}-{simulator}-{digest}"
