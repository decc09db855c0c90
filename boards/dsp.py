"""Which DSPs of a synthesised netlist are registered, read from Yosys's JSON netlist.

The netlist is the file ``write_json`` writes and nextpnr reads (amaranth's iCE40 and ECP5
build scripts write it as ``{name}.json`` in the build folder). :func:`dsp_registers` counts
the DSP cells of the design (instances of the top module's submodules included) and how
many are registered at all their inputs and at their output; :func:`dsp_notes` turns the
counts, as ``report.json`` holds them (:meth:`DspRegisters.to_json`), into the sentences
the synthesis report prints.

Why it matters differs per family:

* **iCE40**: nextpnr-ice40 times every SB_MAC16 port as a register, with dummy 0.1 ns
  setup and clock-to-output delays, whatever the cell's configuration. A path through an
  unregistered DSP is never reported whole, and the multiply itself (A/B to O of an
  unregistered 16x16 multiply: 5.9 ns typical, 9.0 ns worst case in icestorm's UP5K
  timing data) is in no reported path, so the Fmax nextpnr reports is unproven for paths
  through such a DSP. Even a registered DSP's internal delay (between its own registers)
  is not timed.
* **ECP5**: nextpnr-ecp5 picks the MULT18X18D's timing from its timing database by the
  same parameters read here, so a path through an unregistered multiplier is timed with
  the combinational multiply in it; registering it shortens the path, it does not make
  the report honest.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass

from .cells import CELLS

__all__ = ["DspRegisters", "dsp_registers", "dsp_notes", "read_netlist", "PRIMITIVE",
           "MULTIPLY_NS"]

#: The DSP primitive Yosys maps multipliers to, per family (the one :data:`.synth.CELLS`
#: counts as ``dsp``).
PRIMITIVE = {family: cells["dsp"][0] for family, cells in CELLS.items()}

#: A/B to O of an unregistered 16x16 SB_MAC16 multiply (SB_MAC16_MUL_S_16X16_BYPASS) in
#: icestorm's UP5K timing data (icefuzz/timings_up5k.txt): (typical, worst case) ns.
MULTIPLY_NS = (5.9, 9.0)

#: SB_MAC16's data inputs and the parameter that registers each (yosys
#: techlibs/ice40/cells_sim.v): A and B feed the multiplier, C and D the adders.
_ICE40_INPUTS = {"A": "A_REG", "B": "B_REG", "C": "C_REG", "D": "D_REG"}
#: SB_MAC16's outputs besides O, each combinational from the adder (CO, ACCUMCO) or its
#: input (SIGNEXTOUT).
_ICE40_COMB_OUTPUTS = ("CO", "ACCUMCO", "SIGNEXTOUT")
#: MULT18X18D's multiplier inputs (one port per bit: A0..A17, B0..B17) and the parameter
#: that registers each; yosys techlibs/ecp5/cells_bb.v, default "NONE".
_ECP5_INPUTS = {"A": "REG_INPUTA_CLK", "B": "REG_INPUTB_CLK"}


@dataclass(frozen=True)
class DspRegisters:
    """The DSPs of one netlist and how many are registered.

    Attributes
    ----------
    family : str
        ``"ice40"`` or ``"ecp5"``.
    count : int
        DSP cells (:data:`PRIMITIVE` of the family), each instance counted.
    inputs_registered : int
        Those registered at every data input that carries a signal (an input tied to
        constants is no path).
    output_registered : int
        Those whose output comes from a register.
    unregistered : tuple of str
        The hierarchical names of the DSPs not registered at both, in netlist order.
    """

    family: str
    count: int
    inputs_registered: int
    output_registered: int
    unregistered: tuple = ()

    @property
    def primitive(self) -> str:
        """The family's DSP cell type."""
        return PRIMITIVE[self.family]

    @property
    def all_registered(self) -> bool:
        """Every DSP registered at its inputs and its output (true when there are none)."""
        return not self.unregistered

    def to_json(self) -> dict:
        """The form ``report.json`` holds (``"dsp_registers"``), which :func:`dsp_notes`
        reads.

        Returns
        -------
        dict
            ``{"primitive", "count", "inputs_registered", "output_registered",
            "registered"}``, the last the DSPs registered at both.
        """
        return {"primitive": self.primitive, "count": self.count,
                "inputs_registered": self.inputs_registered,
                "output_registered": self.output_registered,
                "registered": self.count - len(self.unregistered)}


# ------------------------------------------------------------------------------ the netlist
def read_netlist(path: str) -> dict:
    """Yosys's JSON netlist at ``path``.

    Parameters
    ----------
    path : str
        The file ``write_json`` wrote.

    Returns
    -------
    dict
        The parsed netlist; a ``ValueError`` (one line) when it cannot be read or is not
        a Yosys netlist.
    """
    try:
        with open(path, encoding="utf-8") as f:
            netlist = json.load(f)
    except OSError as e:
        raise ValueError(f"cannot read the netlist {path}: {e.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is not a Yosys JSON netlist: {e}") from None
    _modules(netlist, path)
    return netlist


def _modules(netlist, where: str) -> dict:
    mods = netlist.get("modules") if isinstance(netlist, dict) else None
    if not isinstance(mods, dict) or not all(isinstance(m, dict) for m in mods.values()):
        raise ValueError(f"{where} is not a Yosys JSON netlist (no \"modules\" object)")
    return mods


def _value(v):
    """A parameter or attribute value: an int (binary string or JSON number; None when it
    has x or z bits) or a string (trailing space removed: Yosys adds one to a string that
    reads as binary)."""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        if v and set(v) <= set("01"):
            return int(v, 2)
        if v and set(v) <= set("01xzXZ"):
            return None
        return v.rstrip(" ")
    return None


def _true(attrs, name) -> bool:
    return bool(_value(attrs.get(name, 0))) if isinstance(attrs, dict) else False


def _top(mods: dict, where: str) -> str:
    tops = [n for n, m in mods.items() if _true(m.get("attributes"), "top")]
    if len(tops) == 1:
        return tops[0]
    designs = [n for n, m in mods.items() if not _true(m.get("attributes"), "blackbox")]
    if not tops and len(designs) == 1:
        return designs[0]
    raise ValueError(f"{where}: {len(tops) or 'no'} top modules marked (attribute top); "
                     f"expected one")


def _cells(mods: dict, name: str, prefix: str, stack: tuple, where: str):
    """(hierarchical name, cell, module) of every leaf cell instance under module
    ``name``."""
    if name in stack:
        raise ValueError(f"{where}: module {name} instantiates itself "
                         f"({' -> '.join(stack + (name,))})")
    module = mods[name]
    cells = module.get("cells", {})
    if not isinstance(cells, dict):
        raise ValueError(f"{where}: module {name}'s cells are not an object")
    for cname, cell in cells.items():
        if not isinstance(cell, dict):
            raise ValueError(f"{where}: cell {prefix}{cname} is not an object")
        ctype = cell.get("type")
        sub = mods.get(ctype) if isinstance(ctype, str) else None
        if sub is not None and not _true(sub.get("attributes"), "blackbox"):
            yield from _cells(mods, ctype, f"{prefix}{cname}.", stack + (name,), where)
        else:
            yield prefix + cname, cell, module


def _readers(module: dict) -> Counter:
    """How often each net bit of ``module`` is read: by a cell input (or a port of unknown
    direction) or a module output."""
    read = Counter()
    for cell in module.get("cells", {}).values():
        dirs = cell.get("port_directions", {})
        for port, bits in cell.get("connections", {}).items():
            if dirs.get(port, "input") != "output":
                read.update(b for b in bits if isinstance(b, int))
    for port in module.get("ports", {}).values():
        if port.get("direction") != "input":
            read.update(b for b in port.get("bits", []) if isinstance(b, int))
    return read


def _signal(bits) -> bool:
    """A connection that carries a signal (a net bit, not only constants)."""
    return any(isinstance(b, int) and not isinstance(b, bool) for b in bits)


# ----------------------------------------------------------------------------- the rules
def _ice40(cell: dict, readers: Counter) -> tuple:
    """(inputs registered, output registered) of one SB_MAC16.

    Inputs: each of A, B, C, D that carries a signal has its register (A_REG, ...); C and
    D count only where they reach the function: C when TOPADDSUB_UPPERINPUT is 1 or
    OLOADTOP is not tied to 0, D likewise (BOT...). Yosys ties an accumulator's C and D to
    its own O, unused.
    Output: every read bit of O comes from a register. Per half (O[31:16] by
    TOPOUTPUT_SELECT, O[15:0] by BOTOUTPUT_SELECT): select 1 is the output register
    (accumulator), 2 the 8x8 product (registered with TOP_/BOT_8x8_MULT_REG), 3 the 16x16
    product (registered with PIPELINE_16x16_MULT_REG2), 0 the adder (never). CO, ACCUMCO
    and SIGNEXTOUT are combinational: reading one makes the output unregistered.
    """
    p = {k: _value(v) for k, v in cell.get("parameters", {}).items()}
    conn = cell.get("connections", {})
    used = {"A": True, "B": True,         # C and D only through the adders' upper input
            "C": p.get("TOPADDSUB_UPPERINPUT") == 1 or conn.get("OLOADTOP", ["0"]) != ["0"],
            "D": p.get("BOTADDSUB_UPPERINPUT") == 1 or conn.get("OLOADBOT", ["0"]) != ["0"]}
    inputs = all(p.get(reg) == 1 for port, reg in _ICE40_INPUTS.items()
                 if used[port] and _signal(conn.get(port, [])))
    o = conn.get("O", [])
    halves = (("TOP", o[16:32]), ("BOT", o[0:16]))
    output = not any(readers[b] for port in _ICE40_COMB_OUTPUTS
                     for b in conn.get(port, []) if isinstance(b, int))
    for half, bits in halves:
        if not any(isinstance(b, int) and readers[b] for b in bits):
            continue                      # this half of O is not read
        select = p.get(f"{half}OUTPUT_SELECT", 0)
        registered = {1: True, 2: p.get(f"{half}_8x8_MULT_REG") == 1,
                      3: p.get("PIPELINE_16x16_MULT_REG2") == 1}.get(select, False)
        output = output and registered
    return inputs, output


def _ecp5(cell: dict) -> tuple:
    """(inputs registered, output registered) of one MULT18X18D, by the parameters
    nextpnr-ecp5 reads: inputs, each of A and B that carries a signal has REG_INPUTA_CLK /
    REG_INPUTB_CLK other than "NONE"; output, REG_OUTPUT_CLK other than "NONE" (an absent
    parameter is "NONE", the primitive's default; the pipeline register REG_PIPELINE_CLK
    is not the output)."""
    p = {k: _value(v) for k, v in cell.get("parameters", {}).items()}
    conn = cell.get("connections", {})

    def registered(name):
        return p.get(name, "NONE") not in ("NONE", None)

    inputs = all(registered(reg) for port, reg in _ECP5_INPUTS.items()
                 if _signal([b for k, bits in conn.items()
                             if k[:1] == port and k[1:].isdigit() for b in bits]))
    return inputs, registered("REG_OUTPUT_CLK")


def dsp_registers(netlist, family: str) -> DspRegisters:
    """Count the DSPs of a Yosys netlist and how many are registered.

    Parameters
    ----------
    netlist : dict or str
        The parsed JSON netlist, or its path (:func:`read_netlist`).
    family : str
        ``"ice40"`` (SB_MAC16 cells) or ``"ecp5"`` (MULT18X18D cells).

    Returns
    -------
    DspRegisters
        The counts over every instance under the top module (the module with the ``top``
        attribute). The rules, from the primitives' models in Yosys
        (techlibs/ice40/cells_sim.v, techlibs/ecp5/cells_bb.v):

        * SB_MAC16: inputs registered when each of A, B, C, D that carries a signal has
          A_REG, B_REG, C_REG, D_REG set (C only when it reaches the adder:
          TOPADDSUB_UPPERINPUT 1 or OLOADTOP not tied to 0; D likewise); output registered
          when every half of O that is read comes from a register (TOPOUTPUT_SELECT /
          BOTOUTPUT_SELECT 1, the output register; 2 with TOP_8x8_MULT_REG /
          BOT_8x8_MULT_REG; 3 with PIPELINE_16x16_MULT_REG2) and CO, ACCUMCO and SIGNEXTOUT
          are not read. Control inputs (hold, load, add/subtract, carries) are not counted.
        * MULT18X18D: inputs registered when each of A and B that carries a signal has
          REG_INPUTA_CLK / REG_INPUTB_CLK other than "NONE"; output registered when
          REG_OUTPUT_CLK is not "NONE". An absent parameter is "NONE". Yosys's
          ``synth_ecp5`` maps multipliers without these registers.

        A ``ValueError`` (one line) for an unknown family or a malformed netlist.
    """
    if family not in PRIMITIVE:
        raise ValueError(f"Family must be one of {', '.join(PRIMITIVE)}, not {family!r}")
    where = "the netlist"
    if isinstance(netlist, (str, os.PathLike)):
        where = str(netlist)
        netlist = read_netlist(netlist)
    mods = _modules(netlist, where)
    primitive = PRIMITIVE[family]
    readers = {}
    count = inputs = output = 0
    unregistered = []
    try:
        for name, cell, module in _cells(mods, _top(mods, where), "", (), where):
            if cell.get("type") != primitive:
                continue
            if family == "ice40":
                key = id(module)
                if key not in readers:
                    readers[key] = _readers(module)
                i, o = _ice40(cell, readers[key])
            else:
                i, o = _ecp5(cell)
            count += 1
            inputs += i
            output += o
            if not (i and o):
                unregistered.append(name)
    except (AttributeError, TypeError) as e:
        raise ValueError(f"{where}: malformed cell or module ({e})") from None
    return DspRegisters(family, count, inputs, output, tuple(unregistered))


# ------------------------------------------------------------------------------ the report
def dsp_notes(entry) -> list:
    """The report's sentences on the DSPs' registers, from ``report.json``'s
    ``"dsp_registers"`` (:meth:`DspRegisters.to_json`).

    Parameters
    ----------
    entry : dict or None
        ``{"primitive", "count", "inputs_registered", "output_registered", "registered"}``;
        None (a report written before the field existed) or no DSPs give no sentence.

    Returns
    -------
    list of str
        One sentence on how many DSPs are registered at both inputs and output (saying
        plainly when some are not). On iCE40 (SB_MAC16), also that nextpnr-ice40 does not
        time the DSP's internal delay, and with an unregistered DSP that the Fmax is
        unproven for paths through it; on ECP5 (MULT18X18D) with an unregistered DSP, that
        the reported paths through it include the combinational multiply.
    """
    if not isinstance(entry, dict) or not entry.get("count"):
        return []
    n, prim = entry["count"], entry.get("primitive", "DSP")
    missing = n - entry.get("registered", min(entry["inputs_registered"],
                                              entry["output_registered"]))
    if not missing:
        notes = [f"All {n} {prim} DSPs are registered at their inputs and output." if n > 1
                 else f"The {prim} DSP is registered at its inputs and output."]
    else:
        notes = [f"{missing} of {n} {prim} DSPs are not registered at both inputs and "
                 f"output ({entry['inputs_registered']} registered at the inputs, "
                 f"{entry['output_registered']} at the output)."]
    if prim == "SB_MAC16":
        slowest = MULTIPLY_NS[1]
        what = ("so the Fmax above covers the paths to and from the DSPs' registers, not "
                f"the multiply between them, which is at most {slowest} ns in icestorm's "
                f"timing data: one cycle at up to {int(1000 / slowest)} MHz"
                if not missing else
                "so the Fmax above is unproven for paths through the unregistered DSPs "
                f"(the multiply alone is {MULTIPLY_NS[0]}-{MULTIPLY_NS[1]} ns in icestorm's "
                "timing data)")
        notes.append("nextpnr-ice40 does not time the SB_MAC16's internal delay (it times "
                     f"every DSP port as a register with dummy 0.1 ns delays), {what}.")
    elif prim == "MULT18X18D" and missing:
        notes.append("nextpnr-ecp5 times the MULT18X18D from its timing data, so the "
                     "reported paths through the unregistered DSPs include the "
                     "combinational multiply.")
    return notes
