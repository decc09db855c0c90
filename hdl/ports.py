"""The processing elements' interfaces, declared: ``wiring.Signature``\\ s from the design.

A PE's ports follow from its plan (:class:`~.plans.NodePlan`, :class:`~.plans.EdgePlan`),
which :meth:`~.design.Design.build` derives and checks against the program and the schedule
before anything is built (every step a PE takes is run, every register it reads is its
producer's, every lag is within the producer's delay line). :class:`PESignature` turns a
plan into members; the PE's datapath (:mod:`.parallel`, :mod:`.fold`, :mod:`.serial`) then
takes exactly those ports through its build context (:class:`~.pe.BuildContext`): taking an
undeclared one, or leaving a declared input, step or output unused, is an
:class:`InterfaceError` when the PE is elaborated.

Ports of a processing element, as seen from it (all for a node's PE unless marked *edge*)::

    host (addr, data, we)       In   the memory-map bus (:func:`host_bus`), writes while idle
    control                     In   the controller's signals it takes (:func:`control`):
      st.<step>                        the strobe of each micro-step it writes in (a dense
                                       node: also the update's, to merge its edges' flags)
      fold_cnt                         the cycle within a multi-cycle step (folded, serial)
      last                             the last cycle of the step, when the registers are
                                       written (parallel nodes and edges in multi-cycle
                                       steps: their products come LATENCY cycles late)
      ph_any, ph_edge, ph_half         (serial nodes) a step runs / an edge phase runs /
                                       the update runs at half rate (serial-spram)
      bubble, presented                (streaming) the BUBBLE bit, the presented history
      clear                            CLEAR (the sticky flags; nodes only)
      lfsr                             the LFSR word (stochastic rounding, where it rounds)
    reads.<reg>_<node>_<lag>    In   a neighbour's register, ``lag`` ticks back
    fwd.from_<parent>           In   (dense) the edge's exact forward products W v
    row_sum                     In   (serial, one parent) the edge's row sums (:func:`row_sum`)
    msg.from_<child>            In   the exact message Wᵀδ or v_q ⊙ ε (:func:`vector`)
    w_over[k]                   In   (dense) the update's saturation bit of edge k
    msg_out.to_<parent>         Out  (mul) the message v_q ⊙ ε to a hidden parent
    regs.<reg>                  Out  its registers in flip-flops: v, a, ..., in, b, target
                                     (parallel and folded), sat (every node), W (a
                                     parallel edge)
    lines.<reg>                 Out  (streaming) its registers' delay lines
    served.<reg>                Out  (serial) one element of a register others read
    edge_delta.cols<n>          Out  (serial, dense) δ at the row of its edges from parents
                                     of n elements
    host_rdata, host_rsel       Out  (serial; folded edge) the registered read of a memory
    fwd, row_sum, msg           Out  (edge) the products and the message it sends, w_over
                                     its update's saturation

The controller drives ``control`` (:class:`~.controller.Controller`: the same signature with
every member, :func:`control` without a plan); the network connects each PE's with
``wiring.connect`` to the selection of the controller's it names (:func:`select`). The
vectors between neighbours and the bus are connected with ``wiring.connect``; the register
reads are slices of the producer's registers and delay lines, connected element by element.
The network and the builders reach a member for a step, a read, a neighbour or a register
through the functions here (:func:`strobe`, :func:`read`, :func:`partial`, :func:`message`,
:func:`message_to`, :func:`sent`, :func:`register`, :func:`line`, :func:`served`,
:func:`edge_delta`), which name the members as :class:`PESignature` does.
"""

from __future__ import annotations

from amaranth.hdl import signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .arith import HdlArith
from .memmap import WORD_BITS
from .plans import EdgePlan, NodePlan
from .program import LFSR_BITS, STEP_COUNTER_BITS

__all__ = ["register_shape", "message_width", "partial_width", "vector", "row_sum", "row_sum_width",
           "host_bus", "control", "PESignature", "InterfaceError", "delta_sizes", "select",
           "strobe", "read", "partial", "message", "message_to", "sent", "register", "line",
           "served", "edge_delta"]

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


def row_sum_width(graph, child, parent) -> int:
    """Width of a serial edge's row sum for a one-parent child: the exact row
    Σ_j W_ij v_j (:func:`partial_width`) started from the child's bias and rounding offset
    (:meth:`~.arith.HdlArith.dense_start`, below 2^(w_w + max(n_v, n_w) + 1) in magnitude)."""
    f = graph.formats
    start = f.weight.width + max(f.value.frac_bits, f.weight.frac_bits) + 2
    return max(partial_width(graph, child, parent), start) + 1


def row_sum(width: int) -> wiring.Signature:
    """A serial edge's row sums for a child with one parent (the edge's view): ``row``, the
    row whose products arrive in this cycle; ``init``, from the child, the value that row's
    sum starts from (its bias and rounding offset); ``total``, the exact sum of the row that
    completed in the cycle before, valid when ``done`` (registered)."""
    return wiring.Signature({"total": Out(signed(width)), "row": Out(STEP_COUNTER_BITS),
                             "done": Out(1), "init": In(signed(width))})


def host_bus(addr_width: int) -> wiring.Signature:
    """The memory-map bus as the network drives it into every PE: ``addr``, ``data``,
    ``we`` (a write, while the network is idle)."""
    return wiring.Signature({"addr": Out(addr_width), "data": Out(WORD_BITS), "we": Out(1)})


def control(design, plan=None) -> wiring.Signature:
    """The controller's signals as it drives them (its view: Out): those the PE of ``plan``
    takes (module docstring), or without a plan all of them (the controller's)."""
    every = plan is None
    node = isinstance(plan, NodePlan)
    steps = design.program.steps if every else plan.steps
    members = {"st": Out(wiring.Signature({str(s): Out(1) for s in steps}))}
    if every or _counts(design, plan):
        members["fold_cnt"] = Out(STEP_COUNTER_BITS)
    if every or _settles(design, plan):
        members["last"] = Out(1)
    if design.serial and (every or node):
        members.update({"ph_any": Out(1), "ph_edge": Out(1)})
        if design.plan.single_port:
            members["ph_half"] = Out(1)
    if every or plan.bubble:
        members["bubble"] = Out(1)
    if (every and design.streaming) or (not every and plan.presented):
        members["presented"] = Out(design.schedule.latency)
    if every or node:
        members["clear"] = Out(1)
    if every or _rounds_stochastically(design, plan):
        members["lfsr"] = Out(LFSR_BITS)
    return wiring.Signature(members)


def _counts(design, plan) -> bool:
    """The PE walks multi-cycle steps (``fold_cnt``): serial nodes, folded gates and tables,
    folded edges."""
    if isinstance(plan, EdgePlan):
        return plan.fold is not None
    return design.serial or plan.gate is not None or plan.act_table is not None


def _settles(design, plan) -> bool:
    """The PE writes in a multi-cycle step through registered multipliers or beside them
    (``last``): the parallel datapaths (nodes, and unfolded edges) outside the serial
    architecture, in a design with a step of more than one cycle among the PE's."""
    if design.serial or (isinstance(plan, EdgePlan) and plan.fold is not None):
        return False
    return any(design.program.cycles(s) > 1 for s in plan.steps)


def _rounds_stochastically(design, plan) -> bool:
    g = design.graph
    if isinstance(plan, EdgePlan):
        return HdlArith(g).rounds_stochastically(g, g.node(plan.child), plan.parent,
                                                 design.streaming)
    return HdlArith(g).rounds_stochastically(g, g.node(plan.name), None, design.streaming)


class PESignature(wiring.Signature):
    """The interface of one PE (module docstring), from its plan in ``design``: a
    :class:`~.plans.NodePlan` or an :class:`~.plans.EdgePlan`. The members are as seen
    from the PE (Out: it drives them)."""

    def __init__(self, design, plan):
        if not isinstance(plan, (NodePlan, EdgePlan)):
            raise TypeError(f"A PE's signature needs a node or edge plan, not {plan!r}")
        self.design, self.plan = design, plan
        g, serial = design.graph, design.serial
        members = {"host": In(host_bus(design.memmap.addr_width)),
                   "control": In(control(design, plan))}
        if plan.reads:
            members["reads"] = In(wiring.Signature({
                _read_name(r): Out(register_shape(g, r.reg)).array(
                    1 if serial else g.node(r.node).size) for r in plan.reads}))
        if isinstance(plan, NodePlan):
            members.update(self._node_members(design, plan))
        else:
            members.update(self._edge_members(design, plan))
        super().__init__(members)

    @staticmethod
    def _node_members(design, plan) -> dict:
        g, serial = design.graph, design.serial
        n = g.node(plan.name)
        regs = {}
        members = {}
        if not serial:
            regs = {reg: Out(register_shape(g, reg)).array(n.size) for reg in plan.own}
            lines = {reg: Out(register_shape(g, reg)).array(plan.lines[reg] * n.size)
                     for reg in plan.own if plan.lines.get(reg)}
            if lines:
                members["lines"] = Out(wiring.Signature(lines))
            if n.op == "input":
                regs["in"] = Out(register_shape(g, "v")).array(n.size)
            if n.bias:
                regs["b"] = Out(signed(g.formats.weight.width)).array(n.size)
            if n.output:
                regs["target"] = Out(register_shape(g, "v")).array(n.size)
        regs["sat"] = Out(WORD_BITS)
        members["regs"] = Out(wiring.Signature(regs))
        count = 1 if serial else n.size
        if plan.partials:
            members["fwd"] = In(wiring.Signature({
                _from(p): Out(vector(partial_width(g, n.name, p), n.size))
                for p in plan.partials}))
        if plan.messages:
            members["msg"] = In(wiring.Signature({
                _from(c): Out(vector(message_width(g, c, n.name), count))
                for c in plan.messages}))
        if plan.sends:
            members["msg_out"] = Out(wiring.Signature({
                _to(p): Out(vector(message_width(g, n.name, p), count)) for p in plan.sends}))
        if n.op == "dense":
            members["w_over"] = In(1).array(len(n.inputs))
        if plan.fused:
            members["row_sum"] = In(row_sum(row_sum_width(g, n.name, n.inputs[0])))
        if serial:
            members.update({"host_rdata": Out(WORD_BITS), "host_rsel": Out(1)})
            if plan.served:
                members["served"] = Out(wiring.Signature({
                    reg: Out(register_shape(g, reg)) for reg in plan.served}))
            sizes = delta_sizes(g, n.name)
            if sizes:
                members["edge_delta"] = Out(wiring.Signature({
                    _cols(s): Out(register_shape(g, "delta")) for s in sizes}))
        return members

    @staticmethod
    def _edge_members(design, plan) -> dict:
        g = design.graph
        rows, cols = g.node(plan.child).size, g.node(plan.parent).size
        members = {"w_over": Out(1)}
        if plan.fold is None:
            members["regs"] = Out(wiring.Signature({
                "W": Out(signed(g.formats.weight.width)).array(rows * cols)}))
        else:
            members.update({"host_rdata": Out(WORD_BITS), "host_rsel": Out(1)})
        pw = partial_width(g, plan.child, plan.parent)
        if "fwd" in plan.sends:
            members["fwd"] = Out(vector(pw, rows))
        if "row_sum" in plan.sends:
            members["row_sum"] = Out(row_sum(row_sum_width(g, plan.child, plan.parent)))
        if "msg" in plan.sends:
            members["msg"] = Out(vector(message_width(g, plan.child, plan.parent),
                                        1 if design.serial else cols))
        return members


# -- the members' names: made here only
def _read_name(r) -> str:
    return f"{r.reg}_{r.node}_{r.lag}"


def _from(name) -> str:
    return f"from_{name}"


def _to(name) -> str:
    return f"to_{name}"


def _cols(size) -> str:
    return f"cols{size}"


def strobe(control_iface, step):
    """The strobe of micro-step ``step`` in a ``control`` interface (a PE's or the
    controller's)."""
    return getattr(control_iface.st, str(step))


def read(pe, r):
    """The port of a PE's :class:`~.plans.Read` ``r``: a list of elements."""
    return getattr(pe.reads, _read_name(r))


def partial(node, parent):
    """A dense node's input for the forward products of its edge from ``parent``."""
    return getattr(node.fwd, _from(parent))


def message(node, child):
    """A node's input for the message of its child ``child``."""
    return getattr(node.msg, _from(child))


def message_to(mul, parent):
    """A mul node's message to its hidden parent ``parent``."""
    return getattr(mul.msg_out, _to(parent))


def sent(pe, key):
    """What a PE sends for ``key`` of its plan's ``sends``: an edge's ``fwd``, ``msg`` or
    ``row_sum``, a mul node's message to a parent."""
    return getattr(pe, key) if isinstance(pe.plan, EdgePlan) else message_to(pe, key)


def register(pe, reg):
    """A PE's register ``reg`` (``regs``): a list of elements, or the flag word ``sat``."""
    return getattr(pe.regs, reg)


def line(pe, reg):
    """The delay line of a PE's register ``reg`` (streaming)."""
    return getattr(pe.lines, reg)


def served(pe, reg):
    """A serial node's element of register ``reg`` for the nodes that read it."""
    return getattr(pe.served, reg)


def edge_delta(pe, cols):
    """A serial dense node's δ at the row its edges from parents of ``cols`` elements
    read."""
    return getattr(pe.edge_delta, _cols(cols))


class _Selection:
    def __init__(self, signature, source):
        self.signature = signature
        for name, member in signature.members.items():
            value = getattr(source, name)
            setattr(self, name, _Selection(member.signature, value) if member.is_signature
                    else value)


def select(source, signature):
    """The members of interface ``source`` that ``signature`` names (recursively), as an
    interface of ``signature``: e.g. the controller's ``control`` seen as one PE's, for
    ``wiring.connect``."""
    return _Selection(signature, source)


def delta_sizes(graph, name) -> list:
    """Distinct sizes of a dense node's parents: in the serial architecture, one δ read
    sequence (and port ``edge_delta.cols<size>``) each for the edges into it."""
    n = graph.node(name)
    if n.op != "dense":
        return []
    return sorted({graph.node(p).size for p in n.inputs})
