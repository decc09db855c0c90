// MULT18X18D, the ECP5 18x18 multiplier, as a behavioural model for simulating the netlists
// Yosys writes (pcfpga --verify). Yosys's own ecp5/cells_bb.v has it only as a black box.
//
// Modelled: P = A * B, each operand signed when its SIGNEDA / SIGNEDB pin is high (the
// signedness travels with its operand through the input register), with the input (A, B),
// pipeline and output registers each enabled by its REG_*_CLK parameter ("NONE": no
// register; "CLK0".."CLK3": that clock, with the clock enable REG_*_CE and reset REG_*_RST,
// "CE0".."CE3" / "RST0".."RST3"; RESETMODE "SYNC" or "ASYNC"). synth_ecp5 writes the cell
// without parameters: all "NONE", a combinational multiply.
// Not modelled (a simulation stops with $fatal when the netlist asks for them): the C input
// and cascade paths (SOURCEA/SOURCEB high), MULT_BYPASS "ENABLED", HIGHSPEED_CLK. SROA/SROB
// (the shift-register outputs), ROA/ROB/ROC (registered operands) and SIGNEDP are driven
// with the registered operands and the product's signedness.
`timescale 1ns / 1ps

module MULT18X18D(
  input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
  input B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
  input C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
  input SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
  input SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
  input SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
  input CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
  output SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0,
  output SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0,
  output ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0,
  output ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0,
  output ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0,
  output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
  output SIGNEDP
);
  parameter REG_INPUTA_CLK = "NONE";
  parameter REG_INPUTA_CE = "CE0";
  parameter REG_INPUTA_RST = "RST0";
  parameter REG_INPUTB_CLK = "NONE";
  parameter REG_INPUTB_CE = "CE0";
  parameter REG_INPUTB_RST = "RST0";
  parameter REG_INPUTC_CLK = "NONE";
  parameter REG_INPUTC_CE = "CE0";
  parameter REG_INPUTC_RST = "RST0";
  parameter REG_PIPELINE_CLK = "NONE";
  parameter REG_PIPELINE_CE = "CE0";
  parameter REG_PIPELINE_RST = "RST0";
  parameter REG_OUTPUT_CLK = "NONE";
  parameter REG_OUTPUT_CE = "CE0";
  parameter REG_OUTPUT_RST = "RST0";
  parameter CLK0_DIV = "ENABLED";
  parameter CLK1_DIV = "ENABLED";
  parameter CLK2_DIV = "ENABLED";
  parameter CLK3_DIV = "ENABLED";
  parameter HIGHSPEED_CLK = "NONE";
  parameter GSR = "ENABLED";
  parameter CAS_MATCH_REG = "FALSE";
  parameter SOURCEB_MODE = "B_SHIFT";
  parameter MULT_BYPASS = "DISABLED";
  parameter RESETMODE = "SYNC";

  wire [3:0] clks = {CLK3, CLK2, CLK1, CLK0};
  wire [3:0] ces = {CE3, CE2, CE1, CE0};
  wire [3:0] rsts = {RST3, RST2, RST1, RST0};
  wire [17:0] a_in = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
  wire [17:0] b_in = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};

  initial begin
    if (MULT_BYPASS != "DISABLED")
      $fatal(1, "MULT18X18D model: MULT_BYPASS %0s is not modelled", MULT_BYPASS);
    if (HIGHSPEED_CLK != "NONE")
      $fatal(1, "MULT18X18D model: HIGHSPEED_CLK %0s is not modelled", HIGHSPEED_CLK);
  end
  always @* if (SOURCEA === 1'b1 || SOURCEB === 1'b1)
    $fatal(1, "MULT18X18D model: the cascade inputs (SOURCEA/SOURCEB) are not modelled");

  // operand A and its sign, operand B and its sign: 19 bits each
  wire [18:0] a_q, b_q;
  wire [35:0] prod;
  wire sign_p;
  wire [36:0] pipe_q, out_q;
  pcfpga_mult_stage #(.W(19), .CLK(REG_INPUTA_CLK), .CE(REG_INPUTA_CE), .RST(REG_INPUTA_RST),
                      .RESETMODE(RESETMODE))
    reg_a (.clks(clks), .ces(ces), .rsts(rsts), .d({SIGNEDA, a_in}), .q(a_q));
  pcfpga_mult_stage #(.W(19), .CLK(REG_INPUTB_CLK), .CE(REG_INPUTB_CE), .RST(REG_INPUTB_RST),
                      .RESETMODE(RESETMODE))
    reg_b (.clks(clks), .ces(ces), .rsts(rsts), .d({SIGNEDB, b_in}), .q(b_q));
  wire signed [36:0] a_ext = {{19{a_q[18] & a_q[17]}}, a_q[17:0]};
  wire signed [36:0] b_ext = {{19{b_q[18] & b_q[17]}}, b_q[17:0]};
  wire signed [36:0] full = a_ext * b_ext;
  assign prod = full[35:0];
  assign sign_p = a_q[18] | b_q[18];
  pcfpga_mult_stage #(.W(37), .CLK(REG_PIPELINE_CLK), .CE(REG_PIPELINE_CE),
                      .RST(REG_PIPELINE_RST), .RESETMODE(RESETMODE))
    reg_p (.clks(clks), .ces(ces), .rsts(rsts), .d({sign_p, prod}), .q(pipe_q));
  pcfpga_mult_stage #(.W(37), .CLK(REG_OUTPUT_CLK), .CE(REG_OUTPUT_CE), .RST(REG_OUTPUT_RST),
                      .RESETMODE(RESETMODE))
    reg_o (.clks(clks), .ces(ces), .rsts(rsts), .d(pipe_q), .q(out_q));

  assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = out_q[35:0];
  assign SIGNEDP = out_q[36];
  assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0} = a_q[17:0];
  assign {ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0} = b_q[17:0];
  assign {ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = {C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0};
  assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0} = a_q[17:0];
  assign {SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = b_q[17:0];
endmodule

// One optional register of the multiplier: "NONE" passes d through.
module pcfpga_mult_stage #(parameter W = 1, parameter CLK = "NONE", parameter CE = "CE0",
                           parameter RST = "RST0", parameter RESETMODE = "SYNC") (
  input [3:0] clks, input [3:0] ces, input [3:0] rsts, input [W-1:0] d, output [W-1:0] q
);
  function integer pick(input [39:0] name);   // "CLK0".."CLK3", "CE0".."CE3", "RST0"..
    pick = name[7:0] - "0";
  endfunction
  generate
    if (CLK == "NONE") begin : comb
      assign q = d;
    end else begin : registered
      wire clk = clks[pick(CLK)];
      wire ce = ces[pick(CE)];
      wire rst = rsts[pick(RST)];
      reg [W-1:0] r = {W{1'b0}};
      if (RESETMODE == "ASYNC") begin : async_reset
        always @(posedge clk or posedge rst)
          if (rst) r <= {W{1'b0}};
          else if (ce) r <= d;
      end else begin : sync_reset
        always @(posedge clk)
          if (rst) r <= {W{1'b0}};
          else if (ce) r <= d;
      end
      assign q = r;
    end
  endgenerate
endmodule
