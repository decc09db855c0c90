"""The fixed-point register arithmetic of :class:`~pcfpga.golden.fixed_model.FixedArith`,
written as Amaranth expressions: the one datapath module of the generator.

Every register formula has the same name, arguments and meaning as in ``FixedArith``
(``act``, ``add``, ``mul``, ``error``, ``gate``, ``relax``, ``update_w``, ``update_b``, and
the messages ``t_dense``, ``t_id``, ``t_mul``), but for a dense node's prediction:
``FixedArith.dense`` takes the weights and the parents' values, and
:meth:`HdlArith.dense_sum` the sum of the exact products W_p v_p that the edges compute,
rounded and saturated as ``dense`` does. Where the golden model computes integers, this
builds the combinational logic that computes them, with the same rounding sites, shifts and
saturation points. Vectors are Python lists of Amaranth values
(one per element; matrices are lists of rows). The PEs call these methods on their
registers (the generator does not run the golden engine itself: the PEs follow its
phases, and the tests compare every register with its trace).

Datapaths that walk a vector one element per cycle (folded gates and edges, :mod:`.fold`;
the serial architecture, :mod:`.serial`) use the same formulas one element at a time: the
element is then a counted signal (:attr:`HdlArith.element`, or the ``element`` argument of
:meth:`HdlArith.gate_element` and :meth:`HdlArith.weight_element`), and each rounding
site's shift is derived here (:meth:`HdlArith.shift`) and nowhere else.

Shared definitions come from golden/: :func:`~pcfpga.golden.qformat.round_shift`'s modes,
the LFSR mixer constants (:mod:`pcfpga.golden.lfsr`), and the activation tables
(:class:`~pcfpga.golden.activations.ActTable`), so host and hardware cannot disagree.

Saturation: each rounding-and-saturation records an overflow bit under the *step* that is
being built (:attr:`step`); the network ORs a step's bits into the sticky flag registers a
cycle after the step writes its registers (through a register: the flags' OR does not meet
the saturations), and the controller shows a pause only from the cycle after that.

**Shared results are signals.** Amaranth builds an expression again at every place it is
used (lowering a module's domains rebuilds its expression trees), so a value used n times is
n circuits in the netlist and the Verilog, until synthesis merges them. A saturation uses
its input five times and an xorshift step twice, so a weight update's product, rounding and
adder were elaborated five times and a stochastic rounding mixer (two xorshifts) 64 times,
in every element: ``verilog`` of digits or of stochastic rounding took up to a minute.
Such values are named signals (:meth:`HdlArith.wire`), and the mixer is split by linearity
(:func:`mix_hdl`).
"""

from __future__ import annotations

from types import SimpleNamespace as _Port

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Mux, Signal, Value, signed
from amaranth.lib.memory import Memory

from pcfpga.golden.activations import LEAKY_SHIFT, TABLE_ACTS, ActTable
from pcfpga.golden.lfsr import (SITE_A, SITE_B, SITE_DELTA, SITE_EPS, SITE_V, SITE_VHAT,
                                SITE_W0, MAX_PARENTS, mix, site_id)

__all__ = ["HdlArith", "xorshift32_hdl", "mix_hdl", "table_index", "saturate", "sum_tree",
           "BLOCK_RAM", "single_port_ram"]

#: Attributes of the memories that hold registers and weights: block RAM even when small
#: (else Yosys builds small ones from flip-flops), and no read-during-write emulation. No
#: datapath reads an address in the cycle it is written (reads run a cycle or more ahead of
#: the writes they feed); the host bus reads the address it writes, but nothing uses that
#: read. Without ``no_rw_check`` Yosys adds about 20 flip-flops of bypass logic per memory.
BLOCK_RAM = {"ram_style": "block", "no_rw_check": 1}


def single_port_ram(m, platform, name: str, width: int, depth: int):
    """An iCE40UP's SB_SPRAM256KA (16,384 words of 16 bits) as ``(read, write)`` ports that
    share one address (the read port's), or ``None`` when ``platform`` is not an iCE40UP or
    the memory does not fit one. Yosys cannot infer an SPRAM from an amaranth memory, which
    always has initial contents; the caller's memory model for other platforms must behave
    the same way: one address, read data registered and held while writing ("no change")."""
    if not (getattr(platform, "device", "").startswith("iCE40UP") and width <= 16
            and depth <= 1 << 14):
        return None
    rd = _Port(addr=Signal(14, name=f"{name}_addr"), data=Signal(width, name=f"{name}_rdata"),
               en=Signal(name=f"{name}_ren"))
    wr = _Port(addr=Signal(14, name=f"{name}_waddr"), data=Signal(width, name=f"{name}_wdata"),
               en=Signal(1, name=f"{name}_wen"))
    out = Signal(16, name=f"{name}_dataout")
    m.submodules[name] = Instance(
        "SB_SPRAM256KA", i_ADDRESS=rd.addr, i_DATAIN=Cat(wr.data, Const(0, 16 - width)),
        i_MASKWREN=Const(0xF, 4), i_WREN=wr.en, i_CHIPSELECT=1, i_CLOCK=ClockSignal(),
        i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1, o_DATAOUT=out)
    m.d.comb += rd.data.eq(out[:width])
    return rd, wr

#: the rounding shifts of the activations that round (leaky ReLU's slope, hard sigmoid's
#: x / 4)
_ACT_SHIFTS = {"leaky_relu": LEAKY_SHIFT, "hardsigmoid": 2}

#: signal names of the rounding sites (golden/lfsr.py); weights: ``w<k>``
_SITE_NAMES = {SITE_A: "a", SITE_VHAT: "vhat", SITE_EPS: "eps", SITE_DELTA: "delta",
               SITE_V: "v", SITE_B: "b", **{SITE_W0 + k: f"w{k}" for k in range(MAX_PARENTS)}}


def _same(value, name):
    return value


def xorshift32_hdl(x, wire=_same):
    """xorshift32 of a 32-bit unsigned value (see golden/lfsr.py). ``wire(value, name)``
    may name each step's result (:meth:`HdlArith.wire`): a step uses its input twice."""
    x = wire((x ^ (x << 13))[:32], "xorshift_a")
    x = wire((x ^ (x >> 17))[:32], "xorshift_b")
    return wire((x ^ (x << 5))[:32], "xorshift_c")


def mix_hdl(state, site: int, element, wire=_same, mixed=None):
    """The mixer word of one element of one site from the LFSR state (golden/lfsr.mix);
    ``element`` is a constant, or a signal where a folded datapath walks the elements.

    xorshift32 is linear over GF(2) (XORs and shifts of 32-bit words), so the word
    X(state ^ salt), X = xorshift32∘xorshift32, is X(state) ^ X(salt): ``mixed`` is X(state)
    when the caller has built it (one circuit for every site and element of a module), and
    a constant salt's X(salt) is a constant, computed by the golden ``mix`` at state 0; a
    walked element's is X(site << 16) ^ X(element). ``wire`` as in :func:`xorshift32_hdl`.
    """
    if mixed is None:
        mixed = xorshift32_hdl(xorshift32_hdl(state, wire), wire)
    if isinstance(element, int):
        return mixed ^ Const(int(mix(0, site, element)), 32)
    el = (Const(0, 32) ^ element)[:32]          # the element's bits of the salt
    el = xorshift32_hdl(xorshift32_hdl(el, wire), wire)
    return mixed ^ el ^ Const(int(mix(0, site, 0)), 32)


def saturate(x, fmt):
    """(x clamped to ``fmt``'s range as a signed ``fmt.width`` value, overflow bit).

    ``fmt``'s range is the whole two's-complement range of its width w, so x (W > w bits)
    is out of range exactly when its bits w-1 .. W-1 are not all equal (not all copies of
    its sign bit): ``over = any(top) & ~all(top)``, and the clamped value is then
    ``min`` or ``max`` by x's sign, ``Mux(over, sign ? min : max, x[:w])``. One AND and
    one OR over W - w + 1 bits instead of two W-bit magnitude comparators, the same
    result as ``QFormat.saturate`` (``x > max | x < min``)."""
    w = fmt.width
    x = Value.cast(x)
    if not x.shape().signed:
        x = Cat(x, Const(0, 1)).as_signed()     # zero-extended: never negative
    if len(x) <= w:                             # in range: sign-extended to w bits
        return Cat(x, x[-1].replicate(w - len(x))).as_signed(), Const(0, 1)
    top = x[w - 1:]
    over = top.any() & ~top.all()
    limit = Mux(x[-1], Const(fmt.min_int, signed(w)), Const(fmt.max_int, signed(w)))
    return Mux(over, limit, x[:w].as_signed())[:w].as_signed(), over


def table_index(table, x):
    """The table entry of pre-activation ``x`` (clamped to the table's range), as in
    :meth:`pcfpga.golden.activations.ActTable`'s lookup."""
    half = 1 << (table.bits - 1)
    sh = x >> table.shift
    return Mux(sh < -half, 0, Mux(sh > half - 1, 2 * half - 1, sh + half))[:table.bits]


def _round(x, shift: int, mode: str, rand=None):
    """round_shift for one Amaranth value (same three modes)."""
    if shift <= 0:
        return x << -shift
    if mode == "truncate":
        return x >> shift
    return (x + _offset(shift, mode, rand)) >> shift


def _offset(shift: int, mode: str, rand=None):
    """What rounding adds before its right shift by ``shift`` > 0, as ``shift`` unsigned bits:
    round(x) = (x + o) >> shift, o = 0 (truncate), 2^(shift-1) (nearest), or the mixer word's
    low ``shift`` bits (stochastic)."""
    if mode == "truncate":
        return Const(0, shift)
    if mode == "nearest":
        return Const(1 << (shift - 1), shift)
    if shift <= 32:
        return rand[:shift]
    return Cat(Const(0, shift - 32), rand)


class HdlArith:
    """Builds the datapaths of one graph (see the module docstring)."""

    def __init__(self, graph, lfsr_state=None):
        f = graph.formats
        self.V, self.E, self.W, self.G = f.value, f.error, f.weight, f.gain
        self.rounding, self.table_bits = f.rounding, f.table_bits
        self.learning = graph.learning
        #: the LFSR word, or a function that gives it when a rounding first needs it (a PE
        #: declares the word only where its datapath rounds stochastically:
        #: :meth:`rounds_stochastically`)
        self._lfsr = lfsr_state
        self.step = None
        #: a condition under which overflows count (gated streaming updates), or None
        self.enable = None
        #: ``multiplier(a, b, name)``: the products of the whole-vector formulas (``mul``,
        #: ``gate``, ``t_dense``, ``t_mul``, ``update_w``); None: Amaranth's ``*``
        #: (combinational). A PE sets a registered one (:meth:`~.pe.BuildContext.multiply`)
        self.multiplier = None
        #: the cycle in which those products have come (the step's last), or None (always):
        #: their overflow bits count only then
        self.settled = None
        #: (step, node index, flag bit) -> list of overflow bits
        self.overflows = {}
        #: lookup-table ROMs: (Memory, [(read port, address expression)]), to be added by the
        #: module that uses them
        self.roms = []
        #: :meth:`act`'s tanh/sigmoid tables in block RAM with a registered read port per
        #: element (the entry comes a cycle after the address: the step lasts two cycles),
        #: else in logic (asynchronous ROMs); a PE of the parallel datapath sets it
        self.registered_tables = False
        self._rom_cache = {}
        #: the node's tanh/sigmoid tables in block RAM (:meth:`table_lookup`):
        #: [(Memory, read port, address expression)], to be added by the module
        self.tables = []
        self._table = None
        #: the element index as a signal, for datapaths that walk a vector one element per
        #: cycle (:mod:`.serial`); None: the position in the list is the element
        self.element = None
        #: (signal, value): the named results (:meth:`wire`), to be driven (``comb``) by
        #: the module that uses them
        self.combs = []
        self._mixed = None          # X(LFSR state), see mix_hdl

    def wire(self, value, name: str):
        """``value`` as a signal that it drives (:attr:`combs`): one circuit however often
        it is used (see the module docstring)."""
        value = Value.cast(value)
        sig = Signal(value.shape(), name=name)
        self.combs.append((sig, value))
        return sig

    # -- shifts, rounding, saturation, randomness
    def shift(self, site: int, k_theta: int = 0) -> int:
        """The right shift of rounding site ``site`` (golden FixedArith's): a (dense): the
        weight's fraction bits; v̂ (mul) and δ: the value's; ε: value minus error fraction
        bits; W (``SITE_W0 + k``) and b: error (+ value, for W) + ``k_theta`` - weight
        fraction bits. (The relaxation's shift depends on its terms: :meth:`relax`.)"""
        V, E, W = self.V.frac_bits, self.E.frac_bits, self.W.frac_bits
        if site == SITE_A:
            return W
        if site in (SITE_VHAT, SITE_DELTA):
            return V
        if site == SITE_EPS:
            return V - E
        if site == SITE_B:
            return E + k_theta - W
        if SITE_W0 <= site < SITE_W0 + MAX_PARENTS:
            return E + V + k_theta - W
        raise ValueError(f"Rounding site {site} has no fixed shift")

    def round(self, node, site, x, shift, element):
        """``x`` shifted right by ``shift`` with the format's rounding (golden
        ``round_shift``); stochastic rounding adds the mixer word of ``element`` (a
        constant, or a counted signal) of ``site`` of ``node``."""
        return _round(x, shift, self.rounding, self._rand(node, site, shift, element))

    def _rand(self, node, site, shift, element):
        """The mixer word of a stochastic rounding, else None."""
        if self.rounding != "stochastic" or shift <= 0:
            return None
        state = self.lfsr_state
        if self._mixed is None:                 # X(state): one for the whole module
            self._mixed = xorshift32_hdl(xorshift32_hdl(state, self.wire), self.wire)
        return mix_hdl(state, site_id(node.index, site), element, self.wire, mixed=self._mixed)

    def plus_rounded(self, node, site, base, x, shift, element):
        """base + rnd(x, shift) with one adder: for an integer base,

            base + ⌊(x + o) / 2^s⌋ = ⌊(base · 2^s + o + x) / 2^s⌋

        and base · 2^s + o (o, the rounding offset, below 2^s) is base and o side by side."""
        if shift <= 0:
            return base + (x << -shift)
        o = _offset(shift, self.rounding, self._rand(node, site, shift, element))
        return (self._beside(o, base) + x) >> shift

    @staticmethod
    def _beside(o, base):
        """base · 2^len(o) + o (o unsigned), as base's and o's bits side by side."""
        base = Value.cast(base)
        if not base.shape().signed:             # zero-extended: its top bit is no sign
            base = Cat(base, Const(0, 1))
        return Cat(o, base).as_signed()

    @property
    def lfsr_state(self):
        """The LFSR word (asked for once a rounding needs it)."""
        if callable(self._lfsr):
            self._lfsr = self._lfsr()
        if self._lfsr is None:
            raise ValueError("This HdlArith was built without an LFSR word")
        return self._lfsr

    def relax_shift(self, kind: str, fracs, k: int) -> int:
        """The rounding shift of a relaxation of ``kind`` (``"eps"`` or ``"v"``) whose
        terms have fraction bits ``fracs``, with rate shift ``k`` (:meth:`relax`)."""
        fmt = self.E if kind == "eps" else self.V
        return max([*fracs, self.E.frac_bits, fmt.frac_bits]) + k - fmt.frac_bits

    def term_frac(self, op: str) -> int:
        """Fraction bits of the message a child of op ``op`` sends: Wᵀδ (dense), v_q ⊙ ε
        (mul), or its δ or ε (act, add)."""
        if op == "dense":
            return self.W.frac_bits + self.E.frac_bits
        if op == "mul":
            return self.V.frac_bits + self.E.frac_bits
        return self.E.frac_bits

    def rounding_shifts(self, graph, node, parent=None, streaming=False) -> list:
        """The shifts of the rounding sites the datapath of a PE rounds at: node ``node``'s,
        or (``parent``) the dense edge parent -> node's weight update, as :mod:`.parallel`,
        :mod:`.fold` and :mod:`.serial` build them (in every architecture the same sites)."""
        lr = self.learning
        if parent is not None:
            return [self.shift(SITE_W0 + node.inputs.index(parent), lr.shift_theta)]
        if node.op == "input":
            return []
        shifts = []
        if node.op == "dense":
            shifts.append(self.shift(SITE_A))
        if node.op == "mul":
            shifts.append(self.shift(SITE_VHAT))
        if node.op in ("dense", "act"):
            shifts += [_ACT_SHIFTS.get(node.act, 0), self.shift(SITE_DELTA)]
        if not streaming or node.output:
            shifts.append(self.shift(SITE_EPS))
        if node.is_hidden:
            kind = "v" if lr.mode == "standard" and not streaming else "eps"
            shifts.append(self.relax_shift(kind, [self.term_frac(c.op)
                                                  for c in graph.children(node.name)],
                                           lr.shift_v))
        if node.bias:
            shifts.append(self.shift(SITE_B, lr.shift_theta))
        return shifts

    def rounds_stochastically(self, graph, node, parent=None, streaming=False) -> bool:
        """Whether the PE's datapath reads the LFSR word: stochastic rounding and a site of
        :meth:`rounding_shifts` that shifts."""
        return self.rounding == "stochastic" and any(
            s > 0 for s in self.rounding_shifts(graph, node, parent, streaming))

    def saturated(self, node, site, x, fmt, name=None):
        """(``x`` saturated to ``fmt``, overflow bit), ``x`` a named signal (``name``, by
        default the node's and the site's); the overflow is not recorded (see
        :meth:`record`)."""
        return saturate(self.wire(x, name or f"{node.name}_{_SITE_NAMES.get(site, site)}"),
                        fmt)

    def times(self, a, b, name: str):
        """a · b: through :attr:`multiplier` when a PE set one, else combinational."""
        return a * b if self.multiplier is None else self.multiplier(a, b, name)

    def _counted(self, over):
        """An overflow bit of a whole-vector formula, as it counts (:attr:`enable`,
        :attr:`settled`)."""
        for cond in (self.enable, self.settled):
            if cond is not None:
                over = over & cond
        return over

    def record(self, node, site, over):
        """Count overflow bit ``over`` of ``site`` in the step being built (:attr:`step`)."""
        self.overflows.setdefault((self.step, node.index, site), []).append(over)

    def _sat(self, node, site, x, fmt):
        value, over = self.saturated(node, site, x, fmt)
        self.record(node, site, self._counted(over))
        return value

    def _el(self, i):
        return i if self.element is None else self.element

    def _vec(self, node, site, xs, fmt):
        shift = self.shift(site)
        return [self._sat(node, site, self.round(node, site, x, shift, self._el(i)), fmt)
                for i, x in enumerate(xs)]

    # -- one element of a walked vector: (value, overflow bit), not recorded
    def gate_element(self, node, product, element, name=None):
        """δ of one element from its product ε·g: sat_E(rnd(ε·g))."""
        rounded = self.round(node, SITE_DELTA, product, self.shift(SITE_DELTA), element)
        return self.saturated(node, SITE_DELTA, rounded, self.E, name)

    def weight_element(self, node, k, w, product, k_theta, element, name=None):
        """W ← sat_W(W + rnd(δ·v)) of one weight of parent ``k`` from its product δ·v."""
        site = SITE_W0 + k
        total = self.plus_rounded(node, site, w, product, self.shift(site, k_theta), element)
        return self.saturated(node, site, total, self.W, name)

    def table_value(self, node, value):
        """(v̂, overflow) of a table entry read from block RAM: saturated like :meth:`act`'s."""
        return self.saturated(node, SITE_VHAT, value, self.V)

    def table_lookup(self, node, element):
        """(v̂, g, overflow) of ``node``'s tanh/sigmoid at pre-activation ``element()`` (one
        element per cycle), from a pair of tables in block RAM with a registered read port:
        the results come a cycle after the address. One pair per node, shared by its steps
        (``element`` is called once)."""
        if self._table is None:
            table = ActTable.build(node.act, self.V, self.table_bits)
            x = Value.cast(element())
            if not isinstance(x, Signal):           # a multiplexer, used thrice
                x = self.wire(x, "act_in")
            addr = table_index(table, x)
            mems = (Memory(shape=signed(self.V.width), depth=len(table.f),
                           init=[int(v) for v in table.f]),
                    Memory(shape=signed(self.G.width), depth=len(table.df),
                           init=[int(v) for v in table.df]))
            ports = [mem.read_port() for mem in mems]
            self.tables = [(mem, port, addr) for mem, port in zip(mems, ports)]
            value, over = self.table_value(node, ports[0].data)
            self._table = (value, ports[1].data, over)
        return self._table

    # -- registers
    def zeros(self, size):
        return [Const(0, signed(2))] * size

    def dense_sum(self, node, rows, b):
        """``dense`` from the exact products W_p v_p that the edges compute: ``rows[i]`` is
        element i's list of terms (a parent's row sum each), summed in one adder tree with
        the row's start (:meth:`dense_start`), then :meth:`dense_total`."""
        starts = [self.dense_start(node, None if b is None else b[i], self._el(i))
                  for i in range(len(rows))]
        return self.dense_total(node, [sum_tree([*terms, s]) for terms, s in zip(rows, starts)])

    def dense_start(self, node, b, element):
        """The value a row's exact sum starts from, the bias and the rounding in one term:

            s = b · 2^(n_v) + o,    a = sat_V((Σ_p W_p v_p + s) >> n_w)

        where o is what rounding to n_w fewer fraction bits adds before its shift (0,
        2^(n_w - 1), or the mixer word's low n_w bits of ``element``); so
        ``dense_total(Σ + s)`` is golden ``dense``'s sat_V(rnd(Σ + b · 2^(n_v), n_w)) with
        no adder after the sum. o < 2^(n_w) and b · 2^(n_v) has n_v zero low bits: with
        n_w <= n_v, s is b and o side by side (no adder at all)."""
        shift, vf = self.shift(SITE_A), self.V.frac_bits
        if shift <= 0:
            o = Const(0, 1)
        else:
            o = _offset(shift, self.rounding, self._rand(node, SITE_A, shift, element))
        if b is None:
            return o
        b = Value.cast(b).as_signed()
        if 0 < shift <= vf:
            return Cat(o, Const(0, vf - shift), b).as_signed()
        return (b << vf) + o

    def dense_total(self, node, totals):
        """a = sat_V(s >> n_w) of every element's total s (its sum started from
        :meth:`dense_start`), the overflows recorded."""
        shift = self.shift(SITE_A)
        return [self._sat(node, SITE_A, x >> shift if shift > 0 else x << -shift, self.V)
                for x in totals]

    def act(self, node, a):
        V, n = self.V, self.V.frac_bits
        one = 1 << n
        act = node.act
        vhat, g = [], []
        table = ActTable.build(act, V, self.table_bits) if act in TABLE_ACTS else None
        for i, x in enumerate(a):
            if act == "identity":
                f, d = x, Const(one, signed(n + 2))
            elif act == "relu":
                f, d = Mux(x > 0, x, 0), Mux(x > 0, one, 0)
            elif act == "leaky_relu":
                f = Mux(x >= 0, x, self.round(node, SITE_VHAT, x, _ACT_SHIFTS[act],
                                              self._el(i)))
                d = Mux(x > 0, one, one >> LEAKY_SHIFT)
            elif act == "hardtanh":
                f = Mux(x > one, one, Mux(x < -one, -one, x))
                d = Mux((x > -one) & (x < one), one, 0)
            elif act == "hardsigmoid":
                r = self.wire(self.round(node, SITE_VHAT, x, _ACT_SHIFTS[act], self._el(i))
                              + (one >> 1),
                              f"{node.name}_hardsigmoid")
                f = Mux(r > one, one, Mux(r < 0, 0, r))
                d = Mux((x > -2 * one) & (x < 2 * one), one >> 2, 0)
            else:
                idx = table_index(table, x)
                f = self._rom_read(node, "f", table.f, signed(V.width), idx, i)
                d = self._rom_read(node, "df", table.df, signed(n + 2), idx, i)
            vhat.append(self._sat(node, SITE_VHAT, f, V))
            g.append(d)
        return vhat, g

    def _rom_read(self, node, which, contents, shape, addr, element):
        """A read of the node's ``which`` table at ``addr`` for ``element``: with
        :attr:`registered_tables`, a registered read port of a block-RAM table, one per
        element and shared by every step that looks it up (their address is the same
        register a); else an asynchronous read of a ROM in logic, one per node, table and
        step, a read port per element."""
        registered = self.registered_tables
        key = (node.name, which, element) if registered else (node.name, which, self.step)
        if key not in self._rom_cache:
            mem = Memory(shape=shape, depth=len(contents), init=[int(v) for v in contents],
                         attrs=BLOCK_RAM if registered else None)
            self._rom_cache[key] = (mem, [])
            self.roms.append(self._rom_cache[key])
        mem, ports = self._rom_cache[key]
        if registered and ports:
            return ports[0][0].data
        port = mem.read_port() if registered else mem.read_port(domain="comb")
        ports.append((port, addr))
        return port.data

    def add(self, node, vs):
        return [self._sat(node, SITE_VHAT, sum_tree([v[i] for v in vs]), self.V)
                for i in range(len(vs[0]))]

    def mul(self, node, p, q):
        return self._vec(node, SITE_VHAT, [self.times(a, b, f"{node.name}_vhat_mul{i}")
                                           for i, (a, b) in enumerate(zip(p, q))], self.V)

    def error(self, node, v, vhat):
        return self._vec(node, SITE_EPS, [a - b for a, b in zip(v, vhat)], self.E)

    def gate(self, node, eps, g):
        out = []
        for i, (e, d) in enumerate(zip(eps, g)):
            product = self.times(e, d, f"{node.name}_delta_mul{i}")
            value, over = self.gate_element(node, product, self._el(i))
            self.record(node, SITE_DELTA, self._counted(over))
            out.append(value)
        return out

    # -- messages: (exact values, fraction bits)
    def t_dense(self, W, delta):
        cols = len(W[0])
        return ([sum_tree([self.times(W[r][c], delta[r], f"msg_mul{r}_{c}")
                           for r in range(len(W))]) for c in range(cols)],
                self.term_frac("dense"))

    def t_id(self, e):
        return list(e), self.term_frac("act")

    def t_mul(self, v, e, name: str = "msg"):
        return ([self.times(a, b, f"{name}_mul{i}") for i, (a, b) in enumerate(zip(v, e))],
                self.term_frac("mul"))

    def message_start(self, graph, node):
        """The constant that the one message to hidden ``node`` may start its sum from, so
        that the node's error relaxation needs no rounding adder, or None.

        When ``node``'s relaxation is of ε at rate 1 (exact or fpa mode, k = 0: base and ε
        cancel, :meth:`relax`) and its one term is a dense child's message Wᵀδ with the
        relaxation's fraction bits F, then ε = sat((Wᵀδ + o) >> s): a message summed from o
        instead of 0 is already rounded but for the shift. o = 2^(s-1) with nearest
        rounding; None when o is 0 (truncate) or varies (stochastic)."""
        children = graph.children(node.name)
        lr = self.learning
        if (lr.mode not in ("exact", "fpa") or lr.shift_v != 0 or self.rounding != "nearest"
                or len(children) != 1 or children[0].op != "dense" or not node.is_hidden):
            return None
        frac = self.term_frac("dense")         # = n_w + n_e >= n_e: F itself
        shift = self.relax_shift("eps", [frac], 0)
        return 1 << (shift - 1) if shift > 0 else None

    def relax(self, node, kind, base, eps, terms, k, started=False):
        """One relaxation step (golden ``relax``), with F the terms' common fraction bits
        and s = F + k - n_fmt its rounding shift::

            x = base · 2^s + Σ_t t · 2^(F - n_t) - ε · 2^(F - n_e),    out = sat(rnd(x, s))

        built as one adder tree whose leaves are the terms and base · 2^s + o (o, the
        rounding offset, below 2^s: base and o side by side), shifted and saturated. An
        error relaxation of ε itself at rate 1 (k = 0, ``base is eps``) has s = F - n_e, so
        its base and ε terms cancel exactly and are not built; with ``started``, its one term
        (a message) was summed from o already (:meth:`message_start`), and out = sat(t >> s).
        """
        fmt, site = (self.E, SITE_EPS) if kind == "eps" else (self.V, SITE_V)
        F = max([frac for _, frac in terms] + [self.E.frac_bits, fmt.frac_bits])
        shift = self.relax_shift(kind, [frac for _, frac in terms], k)
        cancel = kind == "eps" and k == 0 and base is eps
        if started:
            if not (cancel and len(terms) == 1 and terms[0][1] == F and shift > 0):
                raise ValueError(f"{node.name}: a relaxation that cannot take a started message")
            return [self._sat(node, site, t >> shift, fmt) for t in terms[0][0]]
        out = []
        for i in range(len(base)):
            s = [t[i] << (F - frac) for t, frac in terms]
            if not cancel:
                s.append(-(eps[i] << (F - self.E.frac_bits)))
            if shift == 0:
                out.append(sum_tree(s if cancel else [*s, base[i]]))
                continue
            o = _offset(shift, self.rounding, self._rand(node, site, shift, self._el(i)))
            out.append(sum_tree([*s, o if cancel else self._beside(o, base[i])]) >> shift)
        return [self._sat(node, site, x, fmt) for x in out]

    def update_w(self, node, k, W, delta, v, k_theta):
        cols, out = len(v), []
        for r in range(len(W)):
            row = []
            for c in range(cols):
                product = self.times(delta[r], v[c], f"upd_mul{r}_{c}")
                value, over = self.weight_element(node, k, W[r][c], product, k_theta,
                                                  r * cols + c)
                self.record(node, SITE_W0 + k, self._counted(over))
                row.append(value)
            out.append(row)
        return out

    def update_b(self, node, b, delta, k_theta):
        shift = self.shift(SITE_B, k_theta)
        return [self._sat(node, SITE_B,
                          self.plus_rounded(node, SITE_B, b[i], delta[i], shift, self._el(i)),
                          self.W)
                for i in range(len(b))]


def sum_tree(terms):
    """A balanced adder tree (shallower logic than a chain)."""
    terms = list(terms)
    if not terms:
        return Const(0, signed(2))
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    return terms[0]
