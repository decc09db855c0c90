"""Processing elements: what the PEs of every architecture share.

One PE per graph node and one per dense edge, each a ``wiring.Component`` that holds its own
registers and sees only its neighbours. The architectures (:class:`~.folding.Architecture`)
each have their module:

* :mod:`.parallel`: :class:`~.parallel.InputPE`, :class:`~.parallel.NodePE`,
  :class:`~.parallel.EdgePE`, every element and weight in its own logic (and the streaming
  mode);
* :mod:`.fold`: :class:`~.fold.FoldedNodePE` (δ = ε ⊙ g on fewer multipliers, tanh and
  sigmoid tables in block RAM) and :class:`~.fold.FoldedEdgePE` (weights in memory, a few
  multiplier lanes);
* :mod:`.serial`: registers in memories, one element per cycle.

Every formula is :class:`~pcfpga.hdl.arith.HdlArith`'s, i.e. the golden ``FixedArith``'s;
every write happens in the controller's micro-step of the golden engine's phase
(:mod:`.controller`).

**Ports are declared.** A PE's interface is its plan in the :class:`~.design.Design`
(:class:`~.plans.NodePlan`, :class:`~.plans.EdgePlan`: the steps it writes in, the
registers it reads and at which lag, its partial products and messages), made into a
``wiring.Signature`` (:class:`~.ports.PESignature`) before anything is built. Its datapath
is written once, as a builder that takes every input port from its :class:`BuildContext`
(``read(node, reg, lag)``, ``partial(parent)``, ``message(child)``, ``strobe(step)``,
``fold_cnt``, ``clear``, ``lfsr``, ``host``, ...), drives its outputs (``output(key,
values)``) and writes registers in micro-steps (``put``); the context hands out declared
ports only, and after the builder has run every input member of the signature must have
been taken and every declared output sent (:class:`~.ports.InterfaceError` otherwise), so a
PE's interface and logic cannot disagree. Reads at a lag L > 0 (streaming) are taps of the
producer's delay line.

Every PE takes the :class:`~.design.Design`, which holds the memory map, the schedule, the
folding and the plans: nothing is derived per PE (a validated graph, as the tests of a
single PE pass, is taken as its design by :func:`~.design.as_design`: fully parallel, or
serial for the serial PEs). Parameters are checked first, e.g.
``NodePE(design, "x")`` for an input node raises "NodePE is for dense, act, add and mul
nodes; 'x' is an input (use InputPE)".
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Value
from amaranth.lib import wiring
from amaranth.lib.wiring import In

from pcfpga.golden.dataflow import Read

from . import ports
from .arith import HdlArith
from .design import as_design
from .multiplier import LATENCY, Multiplier, delay_chain
from .ports import (InterfaceError, PESignature, message_width, partial_width,
                    register_shape)
from .unused import rejecting

__all__ = ["PE", "BuildContext", "Register", "COMB", "or_tree", "dense_edge", "node_of",
           "shift_lines", "register_shape", "message_width", "partial_width"]

#: ``ctx.writes`` entries of combinational outputs (every other entry names its Step).
COMB = "comb"


class Register(list):
    """The signals of one of the PE's own registers (``reg``: its name)."""

    def __init__(self, reg, signals):
        super().__init__(signals)
        self.reg = reg


class BuildContext:
    """What a builder may use: the PE's declared ports (its plan), and nothing else.

    Every input port is handed out here (a step's strobe, a read, a neighbour's vector, a
    control signal, the host bus) and marked as taken; :meth:`check_used` then finds any
    input member of the PE's signature that its datapath never took."""

    def __init__(self, pe):
        self.pe, self.plan = pe, pe.plan
        self.used = set()           # (kind, item): the plan's steps written in, sends sent
        self.taken = set()          # id() of each input port handed out
        self.writes, self.combs = [], []
        #: what a builder builds once and uses in several steps (folded gate lanes)
        self.cache = {}
        #: (name, Multiplier, a, b) and (register, value): :meth:`multiply`, :meth:`later`
        self.multipliers, self.delays = [], []
        self._products = {}         # (id(a), id(b)) of signals -> (a, b, product)
        self._names = set()         # the multipliers' names

    def multiply(self, a, b, name: str):
        """The product a · b of a registered :class:`~.multiplier.Multiplier`, LATENCY
        cycles after ``a`` and ``b`` (signed). Two signals multiplied again (δ = ε ⊙ g in FD
        and TD) share the first multiplier; ``name`` is made unique in the PE."""
        key = (id(a), id(b))
        if isinstance(a, Value) and isinstance(b, Value) and key in self._products:
            return self._products[key][2]
        a_in, b_in = a, b
        a, b = Value.cast(a), Value.cast(b)
        mul = Multiplier(len(a), len(b))
        unique, k = name, 1
        while unique in self._names:
            unique, k = f"{name}_{k}", k + 1
        self._names.add(unique)
        self.multipliers.append((unique, mul, a, b))
        if isinstance(a_in, Value) and isinstance(b_in, Value):
            self._products[key] = (a_in, b_in, mul.p)       # kept: their ids stay theirs
        return mul.p

    def later(self, value, name: str, cycles: int = LATENCY):
        """``value`` as it was ``cycles`` cycles ago (what meets a product), its registers
        wired when the PE is elaborated (:func:`~.multiplier.delay_chain`)."""
        value, regs = delay_chain(value, name, cycles)
        self.delays.extend(regs)
        return value

    def _undeclared(self, what):
        return InterfaceError(f"{self.pe.describe()}: its datapath {what}, which its "
                              f"interface does not declare")

    def _use(self, kind, declared, item):
        if item not in declared:
            raise self._undeclared(f"{kind} {item}")
        self.used.add((kind, item))

    def _take(self, what, get):
        """The input port ``get(pe)``, marked as taken (``what``: for the error when the PE
        does not declare it)."""
        try:
            value = get(self.pe)
        except AttributeError:
            raise self._undeclared(what) from None
        self._mark(value)
        return value

    def _mark(self, value):
        if isinstance(value, (list, tuple)):
            for v in value:
                self._mark(v)
        elif isinstance(value, Value):
            self.taken.add(id(value))
        else:                                   # an interface: each of its ports
            for _, _, v in value.signature.flatten(value):
                self.taken.add(id(v))

    def check_used(self):
        """Every input member of the PE's signature was taken, every declared output
        sent."""
        unused = []
        for path, member, value in self.pe.signature.flatten(self.pe):
            name = ".".join(p for p in path if isinstance(p, str))     # an array's, once
            if (member.flow == In and id(value) not in self.taken
                    and f"takes {name}" not in unused):
                unused.append(f"takes {name}")
        unused += [f"sends {x}" for x in self.plan.sends if ("sends", x) not in self.used]
        if unused:
            raise InterfaceError(f"{self.pe.describe()}: its interface declares what its "
                                 f"datapath does not use: {'; '.join(unused)}")

    def regs(self, reg) -> Register:
        """The PE's own register ``reg`` (or its buffers: ``in``, ``b``, ``target``)."""
        return Register(reg, ports.register(self.pe, reg))

    def line(self, reg) -> list:
        return list(ports.line(self.pe, reg))

    def read(self, r: Read):
        """Register ``r.reg`` of ``r.node`` as it was ``r.lag`` ticks before this one (a
        :class:`~pcfpga.golden.dataflow.Read` of the PE's plan, or of its own registers)."""
        pe = self.pe
        if r.node == pe.owner and r.reg in pe.own:
            if r.lag == 0:
                return self.regs(r.reg)
            size = pe.graph.node(r.node).size
            return self.line(r.reg)[(r.lag - 1) * size:r.lag * size]
        self._use("reads", self.plan.reads, r)
        return list(self._take(f"reads {r}", lambda pe: ports.read(pe, r)))

    def partial(self, parent):
        """The exact forward product W v_parent from the edge (dense nodes)."""
        self._use("takes the forward products of", self.plan.partials, parent)
        return list(self._take(f"takes the forward products of {parent}",
                               lambda pe: ports.partial(pe, parent)).data)

    def message(self, child):
        """The exact message of a child (dense children: from the edge; mul: from the mul
        node); act and add children's messages are their δ / ε, read directly."""
        self._use("takes the message of", self.plan.messages, child)
        return list(self._take(f"takes the message of {child}",
                               lambda pe: ports.message(pe, child)).data)

    def send(self, key):
        """The output interface of declared output ``key`` (:func:`~.ports.sent`), whatever
        it takes back from the receiver (a row sum's ``init``) marked as taken."""
        self._use("sends", self.plan.sends, key)
        port = ports.sent(self.pe, key)
        self._mark(port)
        return port

    def output(self, key, values):
        """Drive the vector of declared output ``key`` (a message or a partial product)
        with ``values``."""
        port = self.send(key)
        self.writes.append((COMB, list(port.data), list(values), None))

    def strobe(self, step):
        """The strobe of a declared step (for datapaths that run through a whole step)."""
        self._use("writes in", self.plan.steps, step)
        return self._take(f"writes in {step}", lambda pe: ports.strobe(pe.control, step))

    def put(self, step, targets, values, when=None):
        """Write ``targets`` in micro-step ``step`` (in the cycles where ``when`` holds,
        for the multi-cycle steps of folded datapaths)."""
        self.strobe(step)
        self.writes.append((step, targets, list(values), when))

    def valid(self, u):
        """A sample entered u ticks before the current one (streaming)."""
        if u == 0:
            return ~self.bubble
        return self._take("uses presented", lambda pe: pe.control.presented)[u - 1]

    # the controller's other signals, and the bus
    @property
    def bubble(self):
        return self._take("uses bubble", lambda pe: pe.control.bubble)

    @property
    def fold_cnt(self):
        """The cycle within a multi-cycle step."""
        return self._take("uses fold_cnt", lambda pe: pe.control.fold_cnt)

    @property
    def last(self):
        """The last cycle of a multi-cycle step: when the registers are written."""
        return self._take("uses last", lambda pe: pe.control.last)

    @property
    def clear(self):
        """CLEAR: the sticky flags go to zero."""
        return self._take("uses clear", lambda pe: pe.control.clear)

    @property
    def lfsr(self):
        """The LFSR word (stochastic rounding)."""
        return self._take("uses lfsr", lambda pe: pe.control.lfsr)

    @property
    def ph_any(self):
        """(serial) A micro-step runs."""
        return self._take("uses ph_any", lambda pe: pe.control.ph_any)

    @property
    def ph_edge(self):
        """(serial) A phase of some folded edge runs."""
        return self._take("uses ph_edge", lambda pe: pe.control.ph_edge)

    @property
    def ph_half(self):
        """(serial-spram) The half-rate update runs."""
        return self._take("uses ph_half", lambda pe: pe.control.ph_half)

    @property
    def host(self):
        """The memory-map bus."""
        return self._take("uses host", lambda pe: pe.host)

    @property
    def w_over(self):
        """(dense nodes) The update's saturation bit of each edge, by the parent's index."""
        return self._take("uses w_over", lambda pe: pe.w_over)

    @property
    def row_sum(self):
        """(fused serial nodes) The row sums handed over by the edge."""
        return self._take("uses row_sum", lambda pe: pe.row_sum)


class PE(wiring.Component):
    """Common machinery: check the parameters against the design, declare the interface
    from the PE's plan, then build the micro-step writes."""

    owner = None
    own = ()
    #: element-serial (registers in memories, :mod:`.serial`): reads are one element
    serial = False
    _ctx_class = BuildContext
    #: the folding a PE given a graph instead of a design is built with
    _default_reuse = 1

    def __init__(self, design, *names):
        with rejecting(self):
            design = as_design(design, self._default_reuse, who="A PE")
            self._check(design, *names)
            if design.serial != self.serial:
                raise ValueError(f"{type(self).__name__} is not for the "
                                 f"{design.architecture.value} architecture")
        self.design = design
        self.graph = design.graph
        self.streaming = design.streaming
        self.lags = design.lags
        self.memmap = design.memmap
        super().__init__(PESignature(design, self.plan))

    def _check(self, design, *names):
        """Check the parameters and set the PE's own attributes and ``plan`` (per class)."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{type(self).__name__} {self.owner or f'{self.parent} -> {self.child}'}"

    def elaborate(self, platform):
        m = Module()
        ctx = self._ctx_class(self)
        arith = HdlArith(self.graph, lambda: ctx.lfsr)      # taken where a rounding needs it
        if not self.serial:         # registered products and table reads, whose results
            arith.multiplier = ctx.multiply             # count in the step's last cycle
            arith.registered_tables = True
            if "last" in self.signature.members["control"].signature.members:
                arith.settled = ctx.last
        self._prepare(m, ctx, arith)
        self._build(ctx, arith)
        self._apply_writes(m, ctx)
        self._platform = platform
        for signal, value in ctx.combs:
            m.d.comb += signal.eq(value)
        for name, mul, a, b in ctx.multipliers:
            m.submodules[name] = mul
            m.d.comb += [mul.a.eq(a), mul.b.eq(b)]
        for reg, value in ctx.delays:
            m.d.sync += reg.eq(value)
        for i, (mem, reads) in enumerate(arith.roms):
            m.submodules[f"rom{i}"] = mem
            m.d.comb += [port.addr.eq(addr) for port, addr in reads]
        for i, (mem, port, addr) in enumerate(arith.tables):     # block-RAM act tables
            m.submodules[f"act_table{i}"] = mem
            m.d.comb += port.addr.eq(addr)
        self._finish(m, ctx, arith)
        ctx.check_used()
        for signal, value in arith.combs:       # last: _finish may build datapaths too
            m.d.comb += signal.eq(value)
        return m

    def _prepare(self, m, ctx, arith):
        """Before the builder runs."""

    def _apply_writes(self, m, ctx):
        """Each ``put``: the targets take their values at the clock edge that ends the step
        (its last cycle, when its products have come), or in the cycles where ``when``
        holds."""
        for step, targets, values, when in ctx.writes:
            if step == COMB:
                m.d.comb += [t.eq(v) for t, v in zip(targets, values)]
                continue
            strobe = ctx.strobe(step)
            if when is None and self.design.program.cycles(step) > 1:
                when = ctx.last
            with m.If(strobe if when is None else strobe & when):
                m.d.sync += [t.eq(v) for t, v in zip(targets, values)]

    def _finish(self, m, ctx, arith):
        pass

    def _host_writes(self, m, ctx, fields: dict):
        """Host writes into this PE's rw fields: {memmap name: list of signals}.

        One address comparison per signal, not one ``Switch``: the addresses are distinct,
        and Amaranth writes a signal assigned in case k of a switch as a switch with cases
        0..k (the cases before it decide too), so N signals were N²/2 cases (524,800 for
        the 1,024 weights of digits' first edge, 25 MB of its Verilog)."""
        host = ctx.host
        with m.If(host.we):
            for name, sigs in fields.items():
                f = self.memmap[name]
                for i, s in enumerate(sigs):
                    with m.If(host.addr == f.addr + i):
                        m.d.sync += s.eq(host.data[:len(s)])


def shift_lines(ctx, name, lags, step):
    """Every delay line of node ``name`` moves on by one tick in ``step``."""
    for (node, reg), depth in lags.items():
        if node != name:
            continue
        line = ctx.line(reg)
        size = len(line) // depth
        ctx.put(step, line, list(ctx.regs(reg)) + line[:(depth - 1) * size])


def dense_edge(pe, graph, child, parent):
    """Check that parent -> child is a dense edge and set the edge PE's names."""
    c = node_of(graph, child)
    name = type(pe).__name__
    if c.op != "dense":
        raise ValueError(f"{name} is for the inputs of dense nodes, and {child!r} has "
                         f"op {c.op}")
    if parent not in c.inputs:
        raise ValueError(f"{name}: {parent!r} is not an input of {child!r} (its inputs "
                         f"are {', '.join(c.inputs)})")
    pe.child, pe.parent, pe.k = child, parent, c.inputs.index(parent)
    pe.key = f"{child}.W.{parent}"


def node_of(graph, name):
    """``graph.node(name)``, or a ValueError naming the graph's nodes."""
    try:
        return graph.node(name)
    except KeyError:
        raise ValueError(f"Graph {graph.name!r} has no node {name!r}; its nodes are "
                         f"{', '.join(n.name for n in graph.nodes)}") from None


def or_tree(values):
    """The OR of values (0 for none): one-bit flags, or words of which at most one is not
    zero."""
    values = list(values)
    if not values:
        return Const(0, 1)
    while len(values) > 1:          # a balanced tree: shallow logic, shallow simulator code
        values = [values[i] | values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]
