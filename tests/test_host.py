"""The host driver (``pcfpga.host``) and the epoch runner, end to end on the simulated SoC.

The SoC (boards/soc.py) runs in the Amaranth simulator behind a :class:`SimLink`, its serial
line driven and sampled bit by bit; the host driver is the one that talks to boards.
``ref_*`` values come from the golden model and the protocol definition, ``rtl_*`` from the
simulated chip, compared exactly.
"""

import random

import numpy as np
import pytest

from pcfpga.boards.soc import SoC, dataset_capacity, soc_memory_map
from pcfpga.cli import main
from pcfpga.examples import data_path, example_path
from pcfpga.golden.fixed_model import FixedPC, quantize
from pcfpga.golden.graph import Graph
from pcfpga.golden.params import init_params, load_dataset
from pcfpga.golden.training import sample, train
from pcfpga.hdl import protocol as P
from pcfpga.hdl.design import Design
from pcfpga.hdl.memmap import (ID_VALUE, RUN_CONTROL, RUN_CTRL_BITS, RUN_STATUS_BITS,
                               MemoryMap, Readback, with_dataset)
from pcfpga.hdl.runner import EpochRunner
from pcfpga.host import BoardPC, Host, HostError, SimLink, run_sync
from pcfpga.host.link import Link

DIVISOR = 4
SEED = 11
#: Samples the simulated SoC's buffer holds: XOR's 4 make an epoch of two chunks.
CAPACITY = 3


def _xor():
    g = Graph.from_toml(str(example_path("xor")))
    return g, load_dataset(str(data_path("xor")), g)


def _host(g, reuse="serial", capacity=CAPACITY):
    soc = SoC(Design.build(g, reuse), DIVISOR, capacity)
    link = SimLink(soc)
    return Host(link, soc.memmap, link.clock_hz), link


@pytest.fixture(scope="module")
def chip():
    """One simulated XOR SoC (serial, as on the iCEBreaker) for the module: building the
    simulation takes some 14 s. Each test sets up the state it needs."""
    g, _ = _xor()
    return _host(g)


def _train_on_chip(host, epochs, g=None):
    print(f"parameter seed 1, order seed {SEED}")
    g, data = (g, load_dataset(str(data_path("xor")), g)) if g is not None else _xor()
    p0 = init_params(g, 1)
    ref_params, ref_hist = train(FixedPC(g), p0, data, epochs=epochs, seed=SEED,
                                 log=lambda s: None)
    steps_before = host.read_words(host.mm["steps_done"].addr, 1)[0]
    model = BoardPC(g, host)
    rtl_params, rtl_hist = train(model, p0, data, epochs=epochs, seed=SEED,
                                 log=lambda s: None)
    for k in ref_params:
        assert np.array_equal(rtl_params[k], ref_params[k]), k
    assert rtl_hist.train_loss == ref_hist.train_loss
    assert model.steps == 4 * epochs
    drain = model.golden.engine.latency if g.learning.mode == "streaming" else 0
    assert host.read_words(host.mm["steps_done"].addr, 1)[0] - steps_before == (
        4 * epochs + drain)                               # streaming: the drain's ticks


def test_host_trains_xor_on_chip_bit_exact(chip):
    """Two epochs of XOR through the host driver, each run on chip from the dataset buffer
    (3 samples: every epoch is two chunks), equal the golden model's bit for bit:
    parameters, saturation flags (compared inside after every epoch) and losses."""
    host, _ = chip
    _train_on_chip(host, 2)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["exact", "streaming"])
def test_host_trains_xor_on_chip_bit_exact_parallel(mode):
    """Fully parallel, and in streaming mode (one sample per tick; the pipeline drained
    from the host with bubble ticks after the last epoch)."""
    g = _xor()[0].with_settings(mode=mode)
    host, _ = _host(g, reuse=1)
    _train_on_chip(host, 3, g)


def test_host_reads_while_the_chip_runs_epochs(chip):
    """START 10 epochs of 3 samples; the host polls the id word and the progress while the
    runner has the network (the bridge and the runner share the bus), sees progress, and
    the parameters afterwards equal 30 golden steps."""
    g, (x, y, _) = _xor()
    n, epochs = CAPACITY, 10
    host, _ = chip
    mm = host.mm
    BoardPC(g, host).reset()                   # LFSR seed, flags clear, as the golden model
    p0 = FixedPC(g).to_model(init_params(g, 2))
    run_sync(host.load(p0))
    ints = [(quantize(g, sample(x, i)), quantize(g, sample(y, i))) for i in range(n)]
    host.upload(ints)
    host.write_words(mm["run.samples"].addr, [n, epochs])
    host.write_words(mm["run.ctrl"].addr, [1 << RUN_CTRL_BITS["start"]])
    seen = []
    while True:
        assert host.read_words(mm["id"].addr, 1) == [0x50434650]
        done, status = host.progress()
        seen.append(done)
        if status == 1 << RUN_STATUS_BITS["done"]:
            break
    assert seen == sorted(seen) and seen[-1] == n * epochs
    assert any(0 < s < n * epochs for s in seen), seen    # read during the run
    ref = FixedPC(g)
    ref_params = p0
    V = g.formats.value
    for _ in range(epochs):
        for xi, yi in ints:
            ref_params, _ = ref.step(ref_params, {k: V.to_float(v) for k, v in xi.items()},
                                     {k: V.to_float(v) for k, v in yi.items()})
    rtl_params = run_sync(host.read_params(list(ref_params)))
    for k in ref_params:
        assert np.array_equal(rtl_params[k], ref_params[k]), k


def test_runner_refuses_more_samples_than_it_holds(chip):
    host, _ = chip
    mm = host.mm
    before = host.read_words(mm["h.W.x"].addr, 4)
    host.write_words(mm["run.samples"].addr, [4, 1])
    host.write_words(mm["run.ctrl"].addr, [1])
    assert host.read_words(mm["run.status"].addr, 4) == [2, 4, 1, 0]    # done, no step
    assert host.read_words(mm["h.W.x"].addr, 4) == before
    with pytest.raises(ValueError, match="4 samples do not fit the dataset buffer of 3"):
        host.upload([({"x": [0, 0]}, {"y": [0]})] * 4)


def _state(host) -> list:
    """Every word from the id word to the last parameter, every run word and every buffered
    sample (three READs, one per range of the map): all the host can write, and the control
    words beside it."""
    mm = host.mm
    params = [f for f in mm.fields if f.kind == "param"]
    last = max(f.addr + f.count for f in params)
    run, data = mm["run.ctrl"].addr, mm["data"]
    return (host.read_words(0, last) + host.read_words(run, len(RUN_CONTROL))
            + host.read_words(data.addr, data.count))


KINDS = ("garbage", "truncated", "crc", "long", "command", "argument")


def _fuzz_frame(rng, host, kind):
    """A rejected frame of a random kind and the status it must get."""
    mm = host.mm
    target = mm[rng.choice(["h.W.x", "y.b", "data", "lfsr", "run.samples"])]
    words = [rng.randrange(1 << 32) for _ in range(rng.randrange(1, 5))]
    good = P.write_request(target.addr, words)
    if kind == "garbage":
        frame = bytes([rng.choice([b for b in range(256) if b != P.SYNC])]) + bytes(
            rng.randrange(256) for _ in range(rng.randrange(0, 12)))
        return kind, frame, P.Status.GARBAGE
    if kind == "truncated":
        return kind, good[:rng.randrange(1, len(good))], P.Status.TIMEOUT
    if kind == "crc":
        frame = bytearray(good)
        frame[rng.randrange(2, len(frame))] ^= 1 << rng.randrange(8)    # CODE..CRC
        return kind, bytes(frame), P.Status.CRC
    if kind == "long":
        return kind, bytes([P.SYNC, rng.randrange(P.MAX_PAYLOAD + 1, 256), P.Command.WRITE]
                           + [rng.randrange(256) for _ in range(8)]), P.Status.LENGTH
    if kind == "command":
        code = rng.choice([c for c in range(256) if c not in set(P.Command)])
        return kind, P.encode(code, good[3:-2]), P.Status.COMMAND
    bad = rng.choice([P.encode(P.Command.READ, bytes([0, 0])),
                      P.encode(P.Command.READ, bytes([0, 0, 0])),
                      P.encode(P.Command.READ, bytes([0, 0, P.MAX_WORDS + 1])),
                      P.encode(P.Command.WRITE, good[3:-3]),                # not whole words
                      P.encode(P.Command.PING, bytes([1]))])
    return kind, bad, P.Status.ARGUMENT


@pytest.mark.parametrize("rounds", [1, pytest.param(20, marks=pytest.mark.slow)])
def test_protocol_fuzz_rejected_frames_change_nothing(chip, rounds):
    """Random rejected frames (garbage, truncated, bad CRC, over-long, unknown command, bad
    arguments) aimed at parameters, the dataset buffer and run words: each gets its error
    status, every writable word is unchanged after it, and a valid command then works."""
    seed = SEED + rounds
    print(f"fuzz seed {seed}")
    rng = random.Random(seed)
    host, link = chip
    before = _state(host)
    order = [k for _ in range(rounds) for k in rng.sample(KINDS, len(KINDS))]
    for i, kind in enumerate(order):
        kind, frame, expected = _fuzz_frame(rng, host, kind)
        link.write(frame)
        wait = (2 * P.IDLE_BYTES + 60) * 10 * DIVISOR / link.clock_hz
        head = link.read(2, wait)
        reply = head + link.read(head[1] + 3 if len(head) == 2 else 0, wait)
        status, payload = P.decode(reply)
        assert status == expected, (f"seed {seed}, case {i} ({kind})", frame.hex(), status)
        assert _state(host) == before, f"seed {seed}, case {i} ({kind}) changed state"
    base = host.mm["y.b"].addr
    host.write_words(base, [0x1234])
    assert host.read_words(base, 1) == [0x1234]


class _DeadLink(Link):
    """A line where nothing answers."""

    baud = 115200

    def __init__(self):
        self.sent = []

    def write(self, data):
        self.sent.append(data)

    def read(self, n, timeout):
        return b""


def test_lean_soc_trains_and_refuses_its_registers():
    """Issue 16: a lean SoC (as ``pcfpga synth`` builds for a board) reads back parameters,
    flags, buffers and status words, and trains bit-exact through the host; the host refuses
    a READ of a register with an error naming the field (nothing sent), and the bridge
    answers a raw READ of one ARGUMENT."""
    g, _ = _xor()
    soc = SoC(Design.build(g, "serial"), DIVISOR, CAPACITY, Readback.LEAN)
    link = SimLink(soc)
    host = Host(link, soc.memmap, link.clock_hz)
    assert MemoryMap.from_json(soc.memmap.to_json()).readback is Readback.LEAN
    frames = host.frames
    with pytest.raises(ValueError, match=r"READ of words \d+\.\.\d+: word \d+ is in h\.v, "
                                         r"which this build does not read back \(readback: "
                                         r"lean \(parameters, flags, buffers, status\)"):
        run_sync(host.read_field("h.v"))
    assert host.frames == frames
    with pytest.raises(HostError, match="the SoC answered ARGUMENT"):
        host.transact(P.read_request(soc.memmap["h.v"].addr, 1), 4)
    _train_on_chip(host, 1)


def test_host_errors_name_the_problem(chip):
    g, _ = _xor()
    mm = soc_memory_map(Design.build(g), 2)
    dead = _DeadLink()
    with pytest.raises(HostError, match=r"no reply to a5.* after 3 tries \(is the board "
                                        r"programmed with this network, at 115200 baud\?\)"):
        Host(dead, mm, 12e6).ping()
    assert len(dead.sent) == 3
    host, _ = chip
    with pytest.raises(HostError, match="the SoC answered COMMAND"):
        host.transact(P.encode(0x42), 0)
    other = Host(host.link, soc_memory_map(Design.build(g), 5), 12e6)
    with pytest.raises(HostError, match="the SoC's dataset buffer holds 3 samples, this "
                                        "memory map 5"):
        other.check()


@pytest.mark.parametrize("call, message", [
    (lambda h, mm: h.write_words(144, [1]), r"WRITE to words 144\.\.144: word 144 is past "
     r"the end of the memory map \(its last word is 85\); nothing was sent"),
    (lambda h, mm: h.write_words(0xFFFF, [1, 1]), r"WRITE to words 65535\.\.65536: word "
     r"65535 is past the end of the memory map"),
    (lambda h, mm: h.read_words(0xFFFF, 2), r"READ of words 65535\.\.65536: word 65535 is "
     r"past the end"),
    (lambda h, mm: h.read_words(0x10000, 1), r"word 65536 is outside the protocol's 16-bit "
     r"addresses"),
    (lambda h, mm: h.read_words(63, 3), r"READ of words 63\.\.65: word 65 is in a gap of "
     r"the memory map \(no field between words 64 and 72\)"),
    (lambda h, mm: h.read_words(0, mm.size), r"READ of words 0\.\.85: word 65 is in a gap"),
    (lambda h, mm: h.write_words(mm["y.b"].addr, [1, 2]), r"WRITE to words 32\.\.33: word 33 "
     r"is in x\.v, which is read-only"),
    (lambda h, mm: run_sync(h.write_field("id", [0])), r"word 0 is in id, which is read-only"),
    (lambda h, mm: h.write_words(mm["run.capacity"].addr, [0, 0]), r"word 78 is in "
     r"run\.capacity, which is read-only"),
])
def test_host_refuses_ranges_outside_the_map(call, message):
    """Issue 14: the host checks every READ and WRITE against its memory map before sending
    (the SoC would answer ARGUMENT or READONLY): the error names the range and the first
    word that is wrong, and nothing goes on the line."""
    mm = soc_memory_map(Design.build(_xor()[0]), 2)
    dead = _DeadLink()
    host = Host(dead, mm, 12e6)
    with pytest.raises(ValueError, match=message):
        call(host, mm)
    assert dead.sent == []


class _ScriptedLink(Link):
    """Answers each frame with the next of ``replies`` (frames, or None for no reply)."""

    baud = 115200

    def __init__(self, replies):
        self.replies, self.sent, self.pending = list(replies), [], b""

    def write(self, data):
        self.sent.append(data)
        reply = self.replies.pop(0)
        self.pending = reply if reply is not None else b""

    def read(self, n, timeout):
        out, self.pending = self.pending[:n], self.pending[n:]
        return out


@pytest.mark.parametrize("repeat", [True, False])
def test_host_sends_a_frame_damaged_on_the_line_again(repeat):
    """A line error (CRC, LENGTH, TIMEOUT, GARBAGE: the frame was not carried out, or it is a
    stale reply to an earlier frame) is not the SoC's answer: the host sends the frame
    again, but never a START (``repeat=False``), which may have been carried out; a lost
    reply likewise; a READONLY is the answer, raised at once."""
    mm = soc_memory_map(Design.build(_xor()[0]), 2)
    id_word = P.encode(P.Status.OK, ID_VALUE.to_bytes(4, "little"))
    link = _ScriptedLink([P.encode(P.Status.CRC), P.encode(P.Status.GARBAGE), id_word])
    assert Host(link, mm, 12e6).ping() == ID_VALUE and len(link.sent) == 3
    link = _ScriptedLink([P.encode(P.Status.TIMEOUT), P.encode(P.Status.OK)])
    if repeat:
        Host(link, mm, 12e6).transact(P.write_request(1, [1]), 0, repeat)
    else:
        with pytest.raises(HostError, match=r"TIMEOUT \(damaged on the line\) to a5.* after "
                                            r"1 tries"):
            Host(link, mm, 12e6).transact(P.write_request(1, [1]), 0, repeat)
    assert link.sent == [P.write_request(1, [1])] * (2 if repeat else 1)
    link = _ScriptedLink([None, P.encode(P.Status.OK)])
    host = Host(link, mm, 12e6)
    if repeat:
        host.transact(P.write_request(1, [1]), 0, repeat)
    else:
        with pytest.raises(HostError, match="no reply to a5.* after 1 tries"):
            host.transact(P.write_request(1, [1]), 0, repeat)
    assert len(link.sent) == (2 if repeat else 1)
    link = _ScriptedLink([P.encode(P.Status.READONLY)])
    with pytest.raises(HostError, match="the SoC answered READONLY"):
        Host(link, mm, 12e6).transact(P.write_request(0, [1]), 0, repeat)
    assert len(link.sent) == 1
    link = _ScriptedLink([P.encode(P.Status.LENGTH)] * 3)
    with pytest.raises(HostError, match=r"LENGTH \(damaged on the line\) to a5.* after 3 "
                                        r"tries"):
        Host(link, mm, 12e6).ping()


def test_a_stale_reply_on_the_line_is_drained_before_a_frame():
    """A GARBAGE left on the line (the answer to bytes that were sent into an earlier reply)
    is not taken for the answer to the next frame: START goes out once and its OK is read."""
    mm = soc_memory_map(Design.build(_xor()[0]), 2)
    link = _ScriptedLink([P.encode(P.Status.OK)])
    link.pending = P.encode(P.Status.GARBAGE)
    Host(link, mm, 12e6).transact(P.write_request(mm["ctrl"].addr, [1]), 0, repeat=False)
    assert link.sent == [P.write_request(mm["ctrl"].addr, [1])]


def test_dataset_parameters_are_checked():
    g, _ = _xor()
    with pytest.raises(ValueError, match="Dataset capacity must be a positive integer of "
                                         "samples, not 0"):
        SoC(g, DIVISOR, 0)
    with pytest.raises(ValueError, match="A dataset buffer of 2 words holds no sample of xor "
                                         r"\(3 words each\)"):
        dataset_capacity(g, 2)
    design = Design.build(g)
    net_map = design.memmap
    with pytest.raises(TypeError, match="EpochRunner needs a memory map with a dataset buffer"):
        EpochRunner(net_map)
    mm = with_dataset(net_map, 7)
    assert mm["data"].shape == (7, 3) and mm["run.capacity"].addr == mm["run.ctrl"].addr + 6
    run, data = mm["run.ctrl"].addr, mm["data"].addr     # aligned for the decoder
    assert run % 8 == 0 and net_map.size <= run < net_map.size + 8
    assert data % 32 == 0 and run + 7 <= data                 # 21 words -> 32
    with pytest.raises(ValueError, match="A dataset buffer of 30000 samples of 3 words does "
                                         "not fit the protocol's 16-bit addresses"):
        with_dataset(net_map, 30000)
    assert soc_memory_map(design, 7).to_json() == mm.to_json()
    with pytest.raises(ValueError, match="bus_latency counts registered bus stages; -1 is not "
                                         "a non-negative integer"):
        EpochRunner(mm, bus_latency=-1)
    with pytest.raises(TypeError, match="readback must be a Readback, not 'lean'"):
        SoC(g, DIVISOR, 2, "lean")
    lean = soc_memory_map(design, 7, Readback.LEAN)
    assert lean.fields == mm.fields and lean.readback is Readback.LEAN
    assert [f.name for f in lean.fields if not lean.readable(f)] == [
        f.name for f in mm.fields if f.kind in ("register", "line")]


def _xor_args(*extra):
    return ["train", str(example_path("xor")), "--data", str(data_path("xor")), *extra]


def test_cli_trains_on_the_simulated_board(tmp_path, capsys):
    out = tmp_path / "xor.npz"
    code = main(_xor_args("--backend", "board", "--board", "icebreaker", "--port", "sim",
                          "--epochs", "1", "--out", str(out)))
    text = capsys.readouterr().out
    assert code == 0, text
    assert "the simulated icebreaker SoC (serial" in text
    assert "match: 4 steps on the board equal the golden model" in text
    assert out.exists() and (tmp_path / "xor.png").exists()


@pytest.mark.parametrize("extra, message", [
    (["--backend", "board", "--port", "sim"], "--backend board needs --board (the board the "
                                              "bitstream was built for)"),
    (["--backend", "board", "--board", "ulx3s"], "--backend board needs --port: the board's "
                                                 "serial port"),
    (["--backend", "board", "--board", "ulx3s", "--port", "/dev/null", "--reuse", "2"],
     "--reuse applies to --port sim only: on a board, the bitstream fixes the architecture"),
    (["--backend", "fixed", "--port", "sim"], "--port applies to --backend board only, not "
                                              "--backend fixed"),
    (["--backend", "sim", "--baud", "9600"], "--baud applies to --backend board only"),
    (["--backend", "board", "--board", "ulx3s", "--port", "/nonexistent/tty"],
     "cannot open serial port /nonexistent/tty"),
])
def test_cli_board_training_errors(extra, message, tmp_path, capsys):
    out = tmp_path / "x.npz"
    assert main(_xor_args(*extra, "--out", str(out))) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists()
