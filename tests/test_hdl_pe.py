"""Unit tests of the processing elements and the controller against golden formulas.

ref_* values come from golden.fixed_model.FixedArith (the specification), rtl_* from
simulating one PE alone with its ports driven by the test; compared exactly.
"""

import numpy as np
import pytest
from amaranth.hdl import Module, Signal
from amaranth.sim import Simulator

from pcfpga.examples import example_path
from pcfpga.golden.fixed_model import FixedArith
from pcfpga.golden.graph import Graph, GraphBuilder
from pcfpga.golden.lfsr import Lfsr32, mix
from pcfpga.hdl.arith import mix_hdl, xorshift32_hdl
from pcfpga.hdl.controller import Controller
from pcfpga.hdl.design import Design
from pcfpga.hdl.multiplier import LATENCY
from pcfpga.hdl.parallel import EdgePE, InputPE, NodePE
from pcfpga.golden.dataflow import Read
from pcfpga.hdl.ports import message, message_to, partial, read, register, strobe

XOR = Graph.from_toml(str(example_path("xor")))
DAG = Graph.from_toml(str(example_path("dag")))
SEED = 20261128


def simulate(dut, testbench):
    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(testbench)
    sim.run()


async def host_write(ctx, pe, name, values):
    f = pe.memmap[name]
    for i, v in enumerate(np.ravel(values)):
        ctx.set(pe.host.addr, f.addr + i)
        ctx.set(pe.host.data, int(v) & 0xFFFFFFFF)
        ctx.set(pe.host.we, 1)
        await ctx.tick()
    ctx.set(pe.host.we, 0)


async def pulse(ctx, pe, step):
    """Micro-step ``step`` as the controller runs it: its strobe for the step's cycles, and
    ``last`` in the final one (a step that multiplies waits for its registered products)."""
    cycles = next(pe.design.program.cycles(s) for s in pe.design.program.steps
                  if str(s) == step)
    ctx.set(strobe(pe.control, step), 1)
    for cycle in range(cycles):
        if hasattr(pe.control, "last"):
            ctx.set(pe.control.last, cycle == cycles - 1)
        await ctx.tick()
    ctx.set(strobe(pe.control, step), 0)
    if hasattr(pe.control, "last"):
        ctx.set(pe.control.last, 0)


async def settle(ctx):
    """Wait until the registered multipliers have the products of the operands now set."""
    for _ in range(LATENCY):
        await ctx.tick()


def get_vec(ctx, ports):
    return np.array([ctx.get(p) for p in ports], dtype=np.int64)


def set_vec(ctx, ports, values):
    for p, v in zip(ports, values):
        ctx.set(p, int(v))


@pytest.mark.parametrize("make, message", [
    (lambda: InputPE(XOR, "h"), "InputPE is for input nodes; 'h' is a dense node (use NodePE)"),
    (lambda: NodePE(XOR, "x"), "NodePE is for dense, act, add and mul nodes; 'x' is an input "
                               "(use InputPE)"),
    (lambda: EdgePE(DAG, "s", "h1"), "EdgePE is for the inputs of dense nodes, and 's' has op "
                                     "add"),
    (lambda: EdgePE(XOR, "y", "x"), "EdgePE: 'x' is not an input of 'y' (its inputs are h)"),
    (lambda: NodePE(XOR, "zz"), "Graph 'xor' has no node 'zz'; its nodes are x, h, y"),
])
def test_parameter_errors(make, message):
    with pytest.raises(ValueError) as info:
        make()
    assert str(info.value) == message


def test_parameter_type_error():
    with pytest.raises(TypeError, match=r"A PE needs a validated Graph \(Graph.from_toml or "
                                        r"GraphBuilder.build\) or a Design, not dict"):
        NodePE({}, "x")


@pytest.mark.parametrize("rounding", ["nearest", "truncate", "stochastic"])
def test_edge_pe_products_and_update(rounding):
    g = XOR.with_settings(rounding=rounding, eta_theta=1.0)
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    pe = EdgePE(g, "y", "h")
    W = rng.integers(-30000, 30000, (1, 4))
    v = rng.integers(-20000, 20000, 4)
    delta = rng.integers(-16000, 16000, 1)
    lfsr = 0x1234567
    ref = FixedArith(g)
    ref.lfsr.state = lfsr
    ref_W = ref.update_w(g.node("y"), 0, W, delta, v, g.learning.shift_theta)
    ref_over = bool(ref.flags[g.node("y").index])
    out = {}

    async def tb(ctx):
        await host_write(ctx, pe, "y.W.h", W)
        set_vec(ctx, read(pe, Read("h", "v")), v)
        set_vec(ctx, read(pe, Read("y", "delta")), delta)
        if rounding == "stochastic":                    # else the edge takes no LFSR word
            ctx.set(pe.control.lfsr, lfsr)
        await settle(ctx)
        out["fwd"] = get_vec(ctx, pe.fwd.data)
        out["msg"] = get_vec(ctx, pe.msg.data)
        ctx.set(pe.control.last, 1)                     # the update's overflow counts then
        out["over"] = ctx.get(pe.w_over)
        ctx.set(pe.control.last, 0)
        await pulse(ctx, pe, "UPD")
        out["W"] = get_vec(ctx, pe.regs.W).reshape(1, 4)

    simulate(pe, tb)
    assert np.array_equal(out["fwd"], W @ v)              # exact W v
    assert np.array_equal(out["msg"], delta @ W)          # exact Wᵀ δ
    assert np.array_equal(out["W"], ref_W)
    assert bool(out["over"]) == ref_over


def test_node_pe_dense_through_a_whole_step():
    """The hidden tanh node of XOR: a, v̂, g, v, ε, δ, b and its flags, micro-step by
    micro-step, against FixedArith."""
    g = XOR.with_settings(eta_theta=1.0)
    node = g.node("h")
    rng = np.random.default_rng(SEED)
    print(f"seed {SEED}")
    pe = NodePE(g, "h")
    W = rng.integers(-8000, 8000, (4, 2))
    x = rng.integers(-4096, 4096, 2)
    b = rng.integers(-2000, 2000, 4)
    msg = rng.integers(-2 ** 28, 2 ** 28, 4)              # exact Wᵀ δ from the edge to y
    ref = FixedArith(g)
    F_msg = g.formats.weight.frac_bits + g.formats.error.frac_bits
    r = {}
    r["a"] = ref.dense(node, [W], [x], b)
    r["vhat"], r["g"] = ref.act(node, r["a"])
    r["v"] = r["vhat"]
    r["eps0"] = ref.error(node, r["v"], r["vhat"])
    r["eps"] = ref.relax(node, "eps", r["eps0"], r["eps0"], [(msg, F_msg)], 0)
    r["delta"] = ref.gate(node, r["eps"], r["g"])
    r["b"] = ref.update_b(node, b, r["delta"], g.learning.shift_theta)
    r["sat"] = int(ref.flags[node.index])
    rtl = {}

    async def tb(ctx):
        await host_write(ctx, pe, "h.b", b)
        set_vec(ctx, partial(pe, "x").data, W @ x)
        for step in ("FA1", "FF1"):
            await pulse(ctx, pe, step)
        for reg in ("a", "vhat", "g", "v"):
            rtl[reg] = get_vec(ctx, register(pe, reg))
        await pulse(ctx, pe, "FE")
        rtl["eps0"] = get_vec(ctx, pe.regs.eps)
        set_vec(ctx, message(pe, "y").data, msg)
        await pulse(ctx, pe, "TE")
        rtl["eps"] = get_vec(ctx, pe.regs.eps)
        await pulse(ctx, pe, "TD")
        rtl["delta"] = get_vec(ctx, pe.regs.delta)
        await pulse(ctx, pe, "UPD")
        rtl["b"] = get_vec(ctx, pe.regs.b)
        rtl["sat"] = ctx.get(pe.regs.sat)

    simulate(pe, tb)
    for k in r:
        assert np.array_equal(np.asarray(rtl[k]), np.asarray(r[k])), k


@pytest.mark.parametrize("op", ["add", "mul"])
def test_node_pe_add_and_mul(op):
    """Prediction, value and (mul) the messages v_q ⊙ ε to each hidden parent."""
    b = GraphBuilder("t").input("x", 3).dense("p", ["x"], 3).dense("q", ["x"], 3)
    b = b.add("s", ["p", "q"]) if op == "add" else b.mul("s", ["p", "q"])
    g = b.dense("y", ["s"], 1, output=True).build()
    node = g.node("s")
    rng = np.random.default_rng(SEED)
    pe = NodePE(g, "s")
    p, q = rng.integers(-30000, 30000, 3), rng.integers(-30000, 30000, 3)
    msg = rng.integers(-2 ** 20, 2 ** 20, 3)
    ref = FixedArith(g)
    vhat = ref.add(node, [p, q]) if op == "add" else ref.mul(node, p, q)
    rtl = {}

    async def tb(ctx):
        set_vec(ctx, read(pe, Read("p", "v")), p)
        set_vec(ctx, read(pe, Read("q", "v")), q)
        await pulse(ctx, pe, f"FA{pe.design.levels['s']}")
        rtl["vhat"], rtl["v"] = get_vec(ctx, pe.regs.vhat), get_vec(ctx, pe.regs.v)
        set_vec(ctx, message(pe, "y").data, msg)
        await pulse(ctx, pe, "TE")
        rtl["eps"] = get_vec(ctx, pe.regs.eps)
        await settle(ctx)                               # the messages of the new ε
        if op == "mul":
            rtl["to_p"] = get_vec(ctx, message_to(pe, "p").data)
            rtl["to_q"] = get_vec(ctx, message_to(pe, "q").data)
        rtl["sat"] = ctx.get(pe.regs.sat)

    simulate(pe, tb)
    F = g.formats.weight.frac_bits + g.formats.error.frac_bits
    eps = ref.relax(node, "eps", np.zeros(3, np.int64), np.zeros(3, np.int64), [(msg, F)], 0)
    assert np.array_equal(rtl["vhat"], vhat) and np.array_equal(rtl["v"], vhat)
    assert np.array_equal(rtl["eps"], eps)
    if op == "mul":
        assert np.array_equal(rtl["to_p"], q * eps) and np.array_equal(rtl["to_q"], p * eps)
    assert rtl["sat"] == int(ref.flags[node.index])


def test_input_pe_loads_its_buffer():
    pe = InputPE(XOR, "x")
    rtl = {}

    async def tb(ctx):
        await host_write(ctx, pe, "in.x", [1234, -4096])
        rtl["before"] = get_vec(ctx, pe.regs.v)
        await pulse(ctx, pe, "F0")
        rtl["after"] = get_vec(ctx, pe.regs.v)

    simulate(pe, tb)
    assert rtl["before"].tolist() == [0, 0] and rtl["after"].tolist() == [1234, -4096]


@pytest.mark.parametrize("mode", ["exact", "standard", "streaming"])
def test_controller_sequence_and_lfsr(mode):
    """One run of 2 steps: the strobes come in the golden engine's order, each for its
    step's cycles with ``last`` in the final one, and the LFSR steps exactly once per phase
    (forward, each tick, update)."""
    g = DAG.with_settings(mode=mode, **({"eta_v": 0.5, "ticks": 2} if mode == "standard"
                                        else {}))
    ctl = Controller(Design.build(g))
    steps = ctl.program.as_dict()
    seen = []

    async def tb(ctx):
        ctx.set(ctl.steps_we, 1)
        ctx.set(ctl.word_data, 2)
        await ctx.tick()
        ctx.set(ctl.steps_we, 0)
        ctx.set(ctl.ctrl_we, 1)
        ctx.set(ctl.ctrl_data, 1)
        await ctx.tick()
        ctx.set(ctl.ctrl_we, 0)
        while ctx.get(ctl.busy):
            active = [str(s) for s in ctl.names if ctx.get(ctl.strobe(s))]
            seen.append((active, ctx.get(ctl.control.lfsr), ctx.get(ctl.control.last)))
            await ctx.tick()

    simulate(ctl, tb)
    one = steps["forward"] + steps["tick"] * g.ticks + steps["update"]
    length = {str(s): ctl.program.cycles(s) for s in ctl.program.steps}
    cycles = [(s, c) for s in one * 2 for c in range(length[s])]
    assert any(n > 1 for n in length.values())          # steps that multiply
    assert [a for a, _, _ in seen] == [[s] for s, _ in cycles]
    assert [bool(x) for _, _, x in seen] == [c == length[s] - 1 for s, c in cycles]
    lfsr = Lfsr32(g.formats.seed)
    phases = []
    for s, c in cycles:
        if c == 0 and s in ("F0", "UPD", steps["tick"][0]):     # a phase's first cycle
            phases.append(lfsr.step())
        else:
            phases.append(lfsr.state)
    assert [w for _, w, _ in seen] == phases


def test_mixer_is_the_golden_mix():
    """mix_hdl by linearity, X(state) ^ X(salt), with X(state) shared (as HdlArith builds
    it) or not, for constant and walked (signal) elements, equals golden mix."""
    m = Module()

    def wire(value, name):
        sig = Signal(value.shape(), name=name)
        m.d.comb += sig.eq(value)
        return sig

    state, element = Signal(32), Signal(16)
    mixed = xorshift32_hdl(xorshift32_hdl(state, wire), wire)
    outs = []
    for site in (0, 33, 1000, 0xFFFF):
        for e in (0, 1, 1023, 0xFFFF):
            outs.append((site, e, mix_hdl(state, site, e, wire, mixed=mixed)))
            outs.append((site, e, mix_hdl(state, site, e)))
        outs.append((site, None, mix_hdl(state, site, element, wire, mixed=mixed)))
        outs.append((site, None, mix_hdl(state, site, element)))
    sigs = [wire(value, "out") for _, _, value in outs]
    rng = np.random.default_rng(SEED)

    async def bench(ctx):
        for s, e in zip(rng.integers(0, 1 << 32, 50), rng.integers(0, 1 << 16, 50)):
            ctx.set(state, int(s))
            ctx.set(element, int(e))
            for (site, el, _), sig in zip(outs, sigs):
                want = int(mix(int(s), site, int(e) if el is None else el))
                assert ctx.get(sig) == want, (site, el, s, e)

    sim = Simulator(m)
    sim.add_testbench(bench)
    sim.run()
