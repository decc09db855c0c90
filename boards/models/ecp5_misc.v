// The ECP5 global set/reset cells, for simulating the netlists Yosys writes (pcfpga --verify).
// amaranth's ECP5 platform holds every flip-flop in reset through SGSR for the first two clock
// cycles after configuration. In simulation every TRELLIS_FF starts at its GSR value (Yosys's
// model sets it in an initial block), which is what that reset gives, so these are stubs.
`timescale 1ns / 1ps

module SGSR(input GSR, input CLK);
endmodule

module GSR(input GSR);
endmodule

module PUR(input PUR);
  parameter RST_PULSE = 1;
endmodule
