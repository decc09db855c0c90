"""The processing elements' interfaces, declared: ``wiring.Signature``\\ s from the design.

A PE's ports follow from its plan (:class:`~.plans.NodePlan`, :class:`~.plans.EdgePlan`),
which :meth:`~.design.Design.build` derives and checks against the program and the schedule
before anything is built (every step a PE takes is run, every register it reads is its
producer's, every lag is within the producer's delay line). :class:`PESignature` turns a
plan into members; the PE's datapath (:mod:`.parallel`, :mod:`.fold`, :mod:`.serial`) then
takes exactly those ports: reading an undeclared one, or leaving a declared step, read,
partial product, message or output unused, is an :class:`InterfaceError` when the PE is
elaborated. The ports every PE is given (``lfsr``, ``clear``, ``host``) are not checked
inside it: an edge PE ignores ``clear``, and only stochastic rounding reads ``lfsr``.

Ports of a processing element (all for a node's PE unless marked *edge*)::

    lfsr, clear                 the controller's LFSR word and CLEAR (flags)
    host (addr, data, we)       the memory-map bus (:func:`host_bus`), writes while idle
    st_<step>                   the strobe of each micro-step it writes in
    r_<reg>, line_<reg>         its registers and delay lines (parallel and folded)
    r_in, r_b, r_target, r_sat  the input buffer, the bias, the target, the sticky flags
    r_W, w_over (edge)          the weights, the update's saturation (to the child)
    rd_<node>_<reg>_<lag>       a neighbour's register, ``lag`` ticks back
    fwd_<parent> (fwd: edge)    the exact forward products W v (:func:`vector`)
    msg_<child> (msg: edge)     the exact message Wᵀδ or v_q ⊙ ε (:func:`vector`)
    msg_to_<parent>             a mul node's message to a hidden parent
    row_sum_<parent> (edge)     a serial row sum handed to the child as it completes
    w_over_<k>, st_upd          (dense) the edges' saturation bits, and the update strobe
    bubble, presented           (streaming) the BUBBLE bit, the presented history
    fold_cnt                    the cycle within a multi-cycle step (folded, serial)
    ph_any, ph_edge, ph_half    (serial) a step runs / an edge phase runs / half rate
    host_rdata, host_rsel       (folded edge, serial) the registered read of a memory
    sr_<reg>, sd_<size>         (serial) one element of a register others read, of δ for
                                the edges from parents of that size

The vectors between neighbours (``fwd``, ``msg``, ``row_sum``) and the bus are
sub-interfaces, connected with ``wiring.connect``; the register reads are slices of the
producer's registers and delay lines, connected element by element.
"""

from __future__ import annotations

from amaranth.hdl import signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .memmap import WORD_BITS
from .plans import EdgePlan, NodePlan, read_port
from .program import LFSR_BITS, STEP_COUNTER_BITS

__all__ = ["register_shape", "message_width", "partial_width", "vector", "row_sum",
           "host_bus", "PESignature", "InterfaceError", "delta_sizes"]

class InterfaceError(RuntimeError):
    """A PE's datapath and its declared interface disagree (a generator bug)."""


def register_shape(graph, reg: str):
    """Amaranth shape of a node register: values in V, errors in E, gains in Q2.n_v."""
    f = graph.formats
    if reg in ("eps", "delta"):
        return signed(f.error.width)
    if reg == "g":
        return signed(f.gain.width)
    return signed(f.value.width)


def message_width(graph, child, parent) -> int:
    """Width of the exact message J_{child,parent}ᵀ ε_child."""
    f = graph.formats
    c = graph.node(child)
    if c.op == "dense":
        return f.weight.width + f.error.width + c.size.bit_length() + 1
    if c.op == "mul":
        return f.value.width + f.error.width
    return f.error.width


def partial_width(graph, child, parent) -> int:
    """Width of an exact forward partial product row W_{child,parent} v_parent."""
    f = graph.formats
    return f.weight.width + f.value.width + graph.node(parent).size.bit_length() + 1


def vector(width: int, count: int) -> wiring.Signature:
    """A vector a PE hands to a neighbour (its producer's view): ``data``, ``count``
    signed elements of ``width`` bits."""
    return wiring.Signature({"data": Out(signed(width)).array(count)})


def row_sum(width: int) -> wiring.Signature:
    """A serial edge's row sum for a child with one parent (the edge's view): the exact
    ``total`` of row ``row``, valid when ``done``."""
    return wiring.Signature({"total": Out(signed(width)), "row": Out(STEP_COUNTER_BITS),
                             "done": Out(1)})


def host_bus(addr_width: int) -> wiring.Signature:
    """The memory-map bus as the network drives it into every PE: ``addr``, ``data``,
    ``we`` (a write, while the network is idle)."""
    return wiring.Signature({"addr": Out(addr_width), "data": Out(WORD_BITS), "we": Out(1)})


class PESignature(wiring.Signature):
    """The interface of one PE (module docstring), from its plan in ``design``: a
    :class:`~.plans.NodePlan` or an :class:`~.plans.EdgePlan`. The members are as seen
    from the PE (Out: it drives them)."""

    def __init__(self, design, plan):
        if not isinstance(plan, (NodePlan, EdgePlan)):
            raise TypeError(f"A PE's signature needs a node or edge plan, not {plan!r}")
        self.design, self.plan = design, plan
        g, serial = design.graph, design.serial
        members = {"lfsr": In(LFSR_BITS), "host": In(host_bus(design.memmap.addr_width)),
                   "clear": In(1)}
        members.update({f"st_{s}": In(1) for s in plan.steps})
        for r in plan.reads:
            members[read_port(r)] = In(register_shape(g, r.reg)).array(
                1 if serial else g.node(r.node).size)
        if plan.presented:
            members["presented"] = In(design.schedule.latency)
        if plan.bubble:
            members["bubble"] = In(1)
        if isinstance(plan, NodePlan):
            members.update(self._node_members(design, plan))
        else:
            members.update(self._edge_members(design, plan))
        super().__init__(members)

    @staticmethod
    def _node_members(design, plan) -> dict:
        g, serial = design.graph, design.serial
        n = g.node(plan.name)
        members = {"r_sat": Out(WORD_BITS)}
        if not serial:
            for reg in plan.own:
                members[f"r_{reg}"] = Out(register_shape(g, reg)).array(n.size)
                if plan.lines.get(reg):
                    members[f"line_{reg}"] = Out(register_shape(g, reg)).array(
                        plan.lines[reg] * n.size)
            if n.op == "input":
                members["r_in"] = Out(register_shape(g, "v")).array(n.size)
            if n.bias:
                members["r_b"] = Out(signed(g.formats.weight.width)).array(n.size)
            if n.output:
                members["r_target"] = Out(register_shape(g, "v")).array(n.size)
        count = 1 if serial else n.size
        for p in plan.partials:
            members[f"fwd_{p}"] = In(vector(partial_width(g, n.name, p), n.size))
        for c in plan.messages:
            members[f"msg_{c}"] = In(vector(message_width(g, c, n.name), count))
        for p in plan.sends:
            members[f"msg_to_{p}"] = Out(vector(message_width(g, n.name, p), count))
        if n.op == "dense":
            members.update({f"w_over_{k}": In(1) for k in range(len(n.inputs))})
            members["st_upd"] = In(1)
        if plan.fused:
            members[f"row_sum_{n.inputs[0]}"] = In(row_sum(partial_width(g, n.name,
                                                                         n.inputs[0])))
        if serial or plan.gate is not None or plan.act_table is not None:
            members["fold_cnt"] = In(STEP_COUNTER_BITS)
        if serial:
            members.update({"ph_any": In(1), "ph_edge": In(1), "ph_half": In(1),
                            "host_rdata": Out(WORD_BITS), "host_rsel": Out(1)})
            for reg in plan.served:
                members[f"sr_{reg}"] = Out(register_shape(g, reg))
            for size in delta_sizes(g, n.name):
                members[f"sd_{size}"] = Out(register_shape(g, "delta"))
        return members

    @staticmethod
    def _edge_members(design, plan) -> dict:
        g = design.graph
        rows, cols = g.node(plan.child).size, g.node(plan.parent).size
        members = {"w_over": Out(1)}
        if plan.fold is None:
            members["r_W"] = Out(signed(g.formats.weight.width)).array(rows * cols)
        else:
            members.update({"fold_cnt": In(STEP_COUNTER_BITS), "host_rdata": Out(WORD_BITS),
                            "host_rsel": Out(1)})
        pw = partial_width(g, plan.child, plan.parent)
        if "fwd" in plan.sends:
            members["fwd"] = Out(vector(pw, rows))
        if "row_sum" in plan.sends:
            members["row_sum"] = Out(row_sum(pw))
        if "msg" in plan.sends:
            members["msg"] = Out(vector(message_width(g, plan.child, plan.parent),
                                        1 if design.serial else cols))
        return members


def delta_sizes(graph, name) -> list:
    """Distinct sizes of a dense node's parents: in the serial architecture, one δ read
    sequence (and port ``sd_<size>``) each for the edges into it."""
    n = graph.node(name)
    if n.op != "dense":
        return []
    return sorted({graph.node(p).size for p in n.inputs})
