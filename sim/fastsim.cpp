// The C++ driver of a Verilated network: the bus, the clock and whole batches of training
// steps with no Python in the loop (pcfpga.sim.verilated loads it with ctypes).
//
// Built by pcfpga.sim.verilated with the model (verilator --prefix Vtop) and a header it
// generates from the Python definitions (pcfpga_map.h: the control words' addresses and the
// ctrl bits, from pcfpga.hdl.memmap); no address or bit is written down here.
//
// One cycle: the inputs change while the clock is low (as the cocotb testbench presents
// them at a falling edge), the rising edge takes them, the clock falls again. A write holds
// w_en over one rising edge; a read presents the address, and the registered r_data shows
// the word after the rising edge. The host's operations are exactly the cocotb testbench's
// (pcfpga.sim.driver.BusDriver), so the chip sees the same bus writes in the same order.

#include <chrono>
#include <cstdint>

#include "Vtop.h"
#include "pcfpga_map.h"
#include "verilated.h"

namespace {

struct Sim {
    VerilatedContext* context;
    Vtop* top;
    // a fault to inject in the next batch (tests): before step fault_step (after the last
    // step when it is the batch's length), the word at fault_addr is read and written back
    // XOR fault_mask
    int64_t fault_step = -1;
    uint32_t fault_addr = 0, fault_mask = 0;
};

inline void cycle(Vtop* top) {
    top->clk = 1;
    top->eval();
    top->clk = 0;
    top->eval();
}

inline void write(Vtop* top, uint32_t addr, uint32_t value) {
    top->addr = addr;
    top->w_data = value;
    top->w_en = 1;
    cycle(top);
    top->w_en = 0;
}

// A write to ctrl, then the cycles until the controller has taken it (the network decodes
// control writes into a register), so that the status read after it sees the START.
inline void control(Vtop* top, uint32_t value) {
    write(top, PCFPGA_ADDR_CTRL, value);
    for (int i = 0; i < PCFPGA_CONTROL_LATENCY; ++i) cycle(top);
}

inline uint32_t read(Vtop* top, uint32_t addr) {
    top->addr = addr;
    cycle(top);
    return top->r_data;
}

inline bool finished(Vtop* top) { return top->done && !top->busy; }

// The armed fault, if it is due before step ``step`` (``steps``: after the batch's last).
inline void maybe_fault(Sim* sim, uint64_t step) {
    if (static_cast<int64_t>(step) != sim->fault_step) return;
    write(sim->top, sim->fault_addr, read(sim->top, sim->fault_addr) ^ sim->fault_mask);
    sim->fault_step = -1;
}

}  // namespace

extern "C" {

// A new model (its context given ``threads`` threads, as many as it was built for) held
// in reset for two cycles, as the testbench starts it.
void* pc_new(uint32_t threads) {
    auto* sim = new Sim;
    sim->context = new VerilatedContext;
    sim->context->threads(threads);
    sim->top = new Vtop{sim->context};
    Vtop* top = sim->top;
    top->clk = 0;
    top->w_en = 0;
    top->addr = 0;
    top->w_data = 0;
    top->rst = 1;
    top->eval();
    cycle(top);
    cycle(top);
    top->rst = 0;
    top->eval();
    return sim;
}

void pc_free(void* handle) {
    auto* sim = static_cast<Sim*>(handle);
    sim->top->final();
    delete sim->top;
    delete sim->context;
    delete sim;
}

void pc_write(void* handle, uint32_t addr, uint32_t value) {
    write(static_cast<Sim*>(handle)->top, addr, value);
}

uint32_t pc_read(void* handle, uint32_t addr) {
    return read(static_cast<Sim*>(handle)->top, addr);
}

void pc_write_block(void* handle, uint32_t addr, uint32_t count, const uint32_t* words) {
    Vtop* top = static_cast<Sim*>(handle)->top;
    for (uint32_t i = 0; i < count; ++i) write(top, addr + i, words[i]);
}

void pc_read_block(void* handle, uint32_t addr, uint32_t count, uint32_t* words) {
    Vtop* top = static_cast<Sim*>(handle)->top;
    for (uint32_t i = 0; i < count; ++i) words[i] = read(top, addr + i);
}

void pc_clocks(void* handle, uint64_t n) {
    Vtop* top = static_cast<Sim*>(handle)->top;
    for (uint64_t i = 0; i < n; ++i) cycle(top);
}

void pc_set_fault(void* handle, int64_t step, uint32_t addr, uint32_t mask) {
    auto* sim = static_cast<Sim*>(handle);
    sim->fault_step = step;
    sim->fault_addr = addr;
    sim->fault_mask = mask;
}

// A batch of training steps, BusDriver.run's without trace: for step s, write its
// counts[s] words (addrs, data, consecutive over the steps), START with ``mode`` (the ctrl
// word's other bits) and wait, ``repeat`` steps of the sample from one START (the steps word
// set around the batch when not 1), until the network is done; add the cycles it counted.
// Returns -1, or the step that did not finish within ``limit`` cycles.
int64_t pc_run(void* handle, uint64_t steps, const uint32_t* counts, const uint32_t* addrs,
               const uint32_t* data, uint32_t mode, uint32_t repeat, uint64_t limit,
               uint64_t* cycles) {
    auto* sim = static_cast<Sim*>(handle);
    Vtop* top = sim->top;
    const uint32_t cps = read(top, PCFPGA_ADDR_CYCLES_PER_STEP);
    uint64_t word = 0;
    int64_t failed = -1;
    if (repeat != 1) write(top, PCFPGA_ADDR_STEPS, repeat);
    for (uint64_t s = 0; s < steps && failed < 0; ++s) {
        maybe_fault(sim, s);
        for (uint32_t k = 0; k < counts[s]; ++k, ++word) write(top, addrs[word], data[word]);
        control(top, (1u << PCFPGA_CTRL_START) | mode);
        // a step takes cycles_per_step: no need to look before it can end
        const uint64_t blind = static_cast<uint64_t>(repeat) * cps - 1;
        for (uint64_t i = 0; i < blind; ++i) cycle(top);
        uint64_t waited = blind;
        while (!finished(top)) {
            cycle(top);
            if (++waited > limit) {
                failed = static_cast<int64_t>(s);
                break;
            }
        }
        if (failed < 0) *cycles += read(top, PCFPGA_ADDR_CYCLES);
    }
    if (failed < 0) maybe_fault(sim, steps);
    if (repeat != 1) write(top, PCFPGA_ADDR_STEPS, 1);
    sim->fault_step = -1;
    return failed;
}

// The bound: the model alone, clocked by a bare loop. The steps word, one START, then the
// clock until the network is done; no bus traffic while it runs. Returns the cycles it
// clocked and their wall time in seconds (measured here, no Python in it).
uint64_t pc_bound(void* handle, uint32_t steps, double* seconds) {
    Vtop* top = static_cast<Sim*>(handle)->top;
    write(top, PCFPGA_ADDR_STEPS, steps);
    control(top, 1u << PCFPGA_CTRL_START);
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t n = 0;
    do {
        cycle(top);
        ++n;
    } while (!finished(top));
    const auto t1 = std::chrono::steady_clock::now();
    *seconds = std::chrono::duration<double>(t1 - t0).count();
    write(top, PCFPGA_ADDR_STEPS, 1);
    return n;
}

}  // extern "C"
