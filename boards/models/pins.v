// The pin buffers of a board netlist, as plain wires, for simulating the netlists Yosys writes
// (pcfpga --verify). Before simulation pcfpga replaces the netlist's SB_IO, SB_GB_IO and
// TRELLIS_IO cells with these modules, choosing by their configuration (boards/netsim.py),
// because the vendor models drive the pad with tristates that Verilator does not simulate at
// a module's ports. The SoC uses its pins unregistered and always enabled: an input (SB_IO
// and SB_GB_IO PIN_TYPE 6'b000001, TRELLIS_IO DIR "INPUT") is a wire from the pad, an output
// (SB_IO PIN_TYPE 6'b101001, TRELLIS_IO DIR "OUTPUT") a wire to it; pcfpga refuses a netlist
// with any other configuration, and an output whose enable is not tied on stops the
// simulation.
`timescale 1ns / 1ps

module pcfpga_pin_SB_IO_in(
  input PACKAGE_PIN, input LATCH_INPUT_VALUE, input CLOCK_ENABLE, input INPUT_CLK,
  input OUTPUT_CLK, input OUTPUT_ENABLE, input D_OUT_0, input D_OUT_1,
  output D_IN_0, output D_IN_1
);
  parameter [5:0] PIN_TYPE = 6'b000001;
  parameter [0:0] PULLUP = 1'b0;
  parameter [0:0] NEG_TRIGGER = 1'b0;
  parameter IO_STANDARD = "SB_LVCMOS";
  assign D_IN_0 = PACKAGE_PIN;
  assign D_IN_1 = 1'b0;
endmodule

module pcfpga_pin_SB_IO_out(
  output PACKAGE_PIN, input LATCH_INPUT_VALUE, input CLOCK_ENABLE, input INPUT_CLK,
  input OUTPUT_CLK, input OUTPUT_ENABLE, input D_OUT_0, input D_OUT_1,
  output D_IN_0, output D_IN_1
);
  parameter [5:0] PIN_TYPE = 6'b101001;
  parameter [0:0] PULLUP = 1'b0;
  parameter [0:0] NEG_TRIGGER = 1'b0;
  parameter IO_STANDARD = "SB_LVCMOS";
  assign PACKAGE_PIN = D_OUT_0;
  assign D_IN_0 = 1'b0;
  assign D_IN_1 = 1'b0;
  always @* if (OUTPUT_ENABLE === 1'b0)
    $fatal(1, "pin model: an SB_IO output whose OUTPUT_ENABLE is low");
endmodule

module pcfpga_pin_SB_GB_IO_in(
  input PACKAGE_PIN, output GLOBAL_BUFFER_OUTPUT, input LATCH_INPUT_VALUE,
  input CLOCK_ENABLE, input INPUT_CLK, input OUTPUT_CLK, input OUTPUT_ENABLE, input D_OUT_0,
  input D_OUT_1, output D_IN_0, output D_IN_1
);
  parameter [5:0] PIN_TYPE = 6'b000001;
  parameter [0:0] PULLUP = 1'b0;
  parameter [0:0] NEG_TRIGGER = 1'b0;
  parameter IO_STANDARD = "SB_LVCMOS";
  assign GLOBAL_BUFFER_OUTPUT = PACKAGE_PIN;
  assign D_IN_0 = PACKAGE_PIN;
  assign D_IN_1 = 1'b0;
endmodule

module pcfpga_pin_TRELLIS_IO_in(input B, input I, input T, output O);
  parameter DIR = "INPUT";
  assign O = B;
endmodule

module pcfpga_pin_TRELLIS_IO_out(output B, input I, input T, output O);
  parameter DIR = "OUTPUT";
  assign B = I;
  assign O = 1'b0;
  always @* if (T === 1'b1)
    $fatal(1, "pin model: a TRELLIS_IO output whose tristate T is high");
endmodule
