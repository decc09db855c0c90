// DP16KD, the ECP5 16-kbit true dual-port block RAM, as a behavioural model for simulating
// the netlists Yosys writes (pcfpga --verify). Yosys's own ecp5/cells_sim.v has it only as a
// black box.
//
// The memory is 2,048 bytes of 9 bits, laid out as Yosys's memory mapping assumes
// (lattice/brams_16kd.txt: abits 14, widths 1 2 4 9 18 per_port, byte 9; the initial contents
// as lattice/brams_map_16kd.v writes them, word w of 18 bits in INITVAL_<w/16>, 20-bit slot
// w%16):
//   width 18: row ADx[13:4], bytes 2*row (DOx[8:0]) and 2*row+1 (DOx[17:9]); a write
//             writes byte i when ADx[i] is high (the byte enables, i = 0, 1)
//   width 9:  byte ADx[13:3]
//   width 4, 2, 1: byte ADx[13:3], then the nibble, pair or bit ADx[2], ADx[2:1], ADx[2:0]
//             of the byte's 8 data bits (the ninth, parity, bit is not reachable)
//   width 36 (the pseudo-dual-port mode Yosys writes for PDPW16KD, port A writing and port B
//             reading): row ADx[13:5], bytes 4*row+i for i = 0..3, the word's bits 9i..9i+8;
//             port A writes {DIB, DIA} with byte enables ADA[3:0], port B reads onto
//             {DOB, DOA}
// Data are on the low pins (DIx[W-1:0], DOx[W-1:0]). Each port reads synchronously on CLKx
// when CEx is high and the chip-select pins CSx[2:0] equal CSDECODE_x; a write (WEx) returns,
// on its own port, the old word (WRITEMODE "READBEFOREWRITE"), the new one ("WRITETHROUGH")
// or leaves the output as it was ("NORMAL"). Reads on the other port in the same cycle see
// the old contents. REGMODE "OUTREG" adds the output register (enabled by OCEx); RSTx clears
// the output (RESETMODE "SYNC" or "ASYNC").
// Not modelled: CSDECODE other than "0b000", a width-36 read on port A or write on port B (a
// simulation stops with $fatal), GSR.
`timescale 1ns / 1ps

module DP16KD(
  input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
  input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
  input CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0,
  output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
  input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
  input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
  input CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0,
  output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
  parameter DATA_WIDTH_A = 18;
  parameter DATA_WIDTH_B = 18;
  parameter REGMODE_A = "NOREG";
  parameter REGMODE_B = "NOREG";
  parameter RESETMODE = "SYNC";
  parameter ASYNC_RESET_RELEASE = "SYNC";
  parameter CSDECODE_A = "0b000";
  parameter CSDECODE_B = "0b000";
  parameter WRITEMODE_A = "NORMAL";
  parameter WRITEMODE_B = "NORMAL";
  parameter CLKAMUX = "CLKA";
  parameter CLKBMUX = "CLKB";
  parameter GSR = "ENABLED";
  parameter INIT_DATA = "STATIC";
  parameter WID = 0;
  parameter INITVAL_00 = 320'h0;
  parameter INITVAL_01 = 320'h0;
  parameter INITVAL_02 = 320'h0;
  parameter INITVAL_03 = 320'h0;
  parameter INITVAL_04 = 320'h0;
  parameter INITVAL_05 = 320'h0;
  parameter INITVAL_06 = 320'h0;
  parameter INITVAL_07 = 320'h0;
  parameter INITVAL_08 = 320'h0;
  parameter INITVAL_09 = 320'h0;
  parameter INITVAL_0A = 320'h0;
  parameter INITVAL_0B = 320'h0;
  parameter INITVAL_0C = 320'h0;
  parameter INITVAL_0D = 320'h0;
  parameter INITVAL_0E = 320'h0;
  parameter INITVAL_0F = 320'h0;
  parameter INITVAL_10 = 320'h0;
  parameter INITVAL_11 = 320'h0;
  parameter INITVAL_12 = 320'h0;
  parameter INITVAL_13 = 320'h0;
  parameter INITVAL_14 = 320'h0;
  parameter INITVAL_15 = 320'h0;
  parameter INITVAL_16 = 320'h0;
  parameter INITVAL_17 = 320'h0;
  parameter INITVAL_18 = 320'h0;
  parameter INITVAL_19 = 320'h0;
  parameter INITVAL_1A = 320'h0;
  parameter INITVAL_1B = 320'h0;
  parameter INITVAL_1C = 320'h0;
  parameter INITVAL_1D = 320'h0;
  parameter INITVAL_1E = 320'h0;
  parameter INITVAL_1F = 320'h0;
  parameter INITVAL_20 = 320'h0;
  parameter INITVAL_21 = 320'h0;
  parameter INITVAL_22 = 320'h0;
  parameter INITVAL_23 = 320'h0;
  parameter INITVAL_24 = 320'h0;
  parameter INITVAL_25 = 320'h0;
  parameter INITVAL_26 = 320'h0;
  parameter INITVAL_27 = 320'h0;
  parameter INITVAL_28 = 320'h0;
  parameter INITVAL_29 = 320'h0;
  parameter INITVAL_2A = 320'h0;
  parameter INITVAL_2B = 320'h0;
  parameter INITVAL_2C = 320'h0;
  parameter INITVAL_2D = 320'h0;
  parameter INITVAL_2E = 320'h0;
  parameter INITVAL_2F = 320'h0;
  parameter INITVAL_30 = 320'h0;
  parameter INITVAL_31 = 320'h0;
  parameter INITVAL_32 = 320'h0;
  parameter INITVAL_33 = 320'h0;
  parameter INITVAL_34 = 320'h0;
  parameter INITVAL_35 = 320'h0;
  parameter INITVAL_36 = 320'h0;
  parameter INITVAL_37 = 320'h0;
  parameter INITVAL_38 = 320'h0;
  parameter INITVAL_39 = 320'h0;
  parameter INITVAL_3A = 320'h0;
  parameter INITVAL_3B = 320'h0;
  parameter INITVAL_3C = 320'h0;
  parameter INITVAL_3D = 320'h0;
  parameter INITVAL_3E = 320'h0;
  parameter INITVAL_3F = 320'h0;

  reg [8:0] mem [0:2047];

  task load(input [5:0] slice, input [319:0] value);
    integer i;
    reg [17:0] word;
    begin
      for (i = 0; i < 16; i = i + 1) begin
        word = value[i * 20 +: 18];
        mem[(slice * 16 + i) * 2] = word[8:0];
        mem[(slice * 16 + i) * 2 + 1] = word[17:9];
      end
    end
  endtask

  initial begin
    if (CSDECODE_A != "0b000" || CSDECODE_B != "0b000")
      $fatal(1, "DP16KD model: only CSDECODE 0b000 is modelled");
    load(6'h00, INITVAL_00);
    load(6'h01, INITVAL_01);
    load(6'h02, INITVAL_02);
    load(6'h03, INITVAL_03);
    load(6'h04, INITVAL_04);
    load(6'h05, INITVAL_05);
    load(6'h06, INITVAL_06);
    load(6'h07, INITVAL_07);
    load(6'h08, INITVAL_08);
    load(6'h09, INITVAL_09);
    load(6'h0A, INITVAL_0A);
    load(6'h0B, INITVAL_0B);
    load(6'h0C, INITVAL_0C);
    load(6'h0D, INITVAL_0D);
    load(6'h0E, INITVAL_0E);
    load(6'h0F, INITVAL_0F);
    load(6'h10, INITVAL_10);
    load(6'h11, INITVAL_11);
    load(6'h12, INITVAL_12);
    load(6'h13, INITVAL_13);
    load(6'h14, INITVAL_14);
    load(6'h15, INITVAL_15);
    load(6'h16, INITVAL_16);
    load(6'h17, INITVAL_17);
    load(6'h18, INITVAL_18);
    load(6'h19, INITVAL_19);
    load(6'h1A, INITVAL_1A);
    load(6'h1B, INITVAL_1B);
    load(6'h1C, INITVAL_1C);
    load(6'h1D, INITVAL_1D);
    load(6'h1E, INITVAL_1E);
    load(6'h1F, INITVAL_1F);
    load(6'h20, INITVAL_20);
    load(6'h21, INITVAL_21);
    load(6'h22, INITVAL_22);
    load(6'h23, INITVAL_23);
    load(6'h24, INITVAL_24);
    load(6'h25, INITVAL_25);
    load(6'h26, INITVAL_26);
    load(6'h27, INITVAL_27);
    load(6'h28, INITVAL_28);
    load(6'h29, INITVAL_29);
    load(6'h2A, INITVAL_2A);
    load(6'h2B, INITVAL_2B);
    load(6'h2C, INITVAL_2C);
    load(6'h2D, INITVAL_2D);
    load(6'h2E, INITVAL_2E);
    load(6'h2F, INITVAL_2F);
    load(6'h30, INITVAL_30);
    load(6'h31, INITVAL_31);
    load(6'h32, INITVAL_32);
    load(6'h33, INITVAL_33);
    load(6'h34, INITVAL_34);
    load(6'h35, INITVAL_35);
    load(6'h36, INITVAL_36);
    load(6'h37, INITVAL_37);
    load(6'h38, INITVAL_38);
    load(6'h39, INITVAL_39);
    load(6'h3A, INITVAL_3A);
    load(6'h3B, INITVAL_3B);
    load(6'h3C, INITVAL_3C);
    load(6'h3D, INITVAL_3D);
    load(6'h3E, INITVAL_3E);
    load(6'h3F, INITVAL_3F);
  end


  // the word at ad as a port of this width reads it
  function [35:0] read_word(input integer width, input [13:0] ad);
    reg [8:0] b;
    begin
      b = mem[ad[13:3]];
      case (width)
        36: read_word = {mem[{ad[13:5], 2'd3}], mem[{ad[13:5], 2'd2}], mem[{ad[13:5], 2'd1}],
                         mem[{ad[13:5], 2'd0}]};
        18: read_word = {mem[{ad[13:4], 1'b1}], mem[{ad[13:4], 1'b0}]};
        9: read_word = {27'h0, b};
        4: read_word = {32'h0, ad[2] ? b[7:4] : b[3:0]};
        2: read_word = {34'h0, b[ad[2:1] * 2 +: 2]};
        default: read_word = {35'h0, b[ad[2:0]]};
      endcase
    end
  endfunction

  // the bits of the (low) byte a write of this width writes
  function [8:0] low_mask(input integer width, input [13:0] ad);
    case (width)
      18: low_mask = ad[0] ? 9'h1ff : 9'h0;
      9: low_mask = 9'h1ff;
      4: low_mask = 9'hf << (ad[2] * 4);
      2: low_mask = 9'h3 << (ad[2:1] * 2);
      default: low_mask = 9'h1 << ad[2:0];
    endcase
  endfunction

  // the output register after a clock edge: the word read, or by a write's WRITEMODE the
  // old word, the new one or the output unchanged (called in the clocked block, so that it
  // reads the memory as it is at the edge)
  function [35:0] next_out(input we, input [127:0] mode, input [35:0] now, input integer width,
                           input [13:0] ad, input [17:0] di);
    reg [35:0] old;
    reg [17:0] mask;
    begin
      old = read_word(width, ad);
      if (!we || mode == "READBEFOREWRITE") next_out = old;
      else if (mode == "WRITETHROUGH") begin
        if (width == 18)
          next_out = {18'h0, ad[1] ? di[17:9] : old[17:9], ad[0] ? di[8:0] : old[8:0]};
        else
        begin
          mask = (18'h1 << width) - 18'h1;
          next_out = {18'h0, di & mask};
        end
      end else next_out = now;
    end
  endfunction

  initial
    if ((DATA_WIDTH_A != 1 && DATA_WIDTH_A != 2 && DATA_WIDTH_A != 4 && DATA_WIDTH_A != 9
         && DATA_WIDTH_A != 18 && DATA_WIDTH_A != 36) || (DATA_WIDTH_B != 1 && DATA_WIDTH_B != 2
         && DATA_WIDTH_B != 4 && DATA_WIDTH_B != 9 && DATA_WIDTH_B != 18 && DATA_WIDTH_B != 36))
      $fatal(1, "DP16KD model: data widths %0d, %0d", DATA_WIDTH_A, DATA_WIDTH_B);

  // ---- port A
  wire clk_A = CLKAMUX == "INV" ? ~CLKA : CLKA;
  wire [13:0] ad_A = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
  wire [17:0] di_A = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
  wire sel_A = CEA && {CSA2, CSA1, CSA0} == 3'b000;
  wire [10:0] lo_A = DATA_WIDTH_A == 18 ? {ad_A[13:4], 1'b0} : ad_A[13:3];
  wire [10:0] hi_A = {ad_A[13:4], 1'b1};
  wire [8:0] mlo_A = low_mask(DATA_WIDTH_A, ad_A);
  wire [8:0] mhi_A = DATA_WIDTH_A == 18 && ad_A[1] ? 9'h1ff : 9'h0;
  wire [8:0] dlo_A = DATA_WIDTH_A == 18 || DATA_WIDTH_A == 9 ? di_A[8:0] :
                      DATA_WIDTH_A == 4 ? {2{di_A[3:0]}} :
                      DATA_WIDTH_A == 2 ? {4{di_A[1:0]}} : {9{di_A[0]}};
  reg [35:0] rd_A = 36'h0, rq_A = 36'h0;
  always @(posedge clk_A) if (sel_A && WEA) begin
    if (DATA_WIDTH_A == 36) begin : wide
      integer i;
      for (i = 0; i < 4; i = i + 1)
        if (ad_A[i]) mem[{ad_A[13:5], i[1:0]}] <= i < 2 ? di_A[9 * i +: 9] : di_B[9 * (i - 2) +: 9];
    end else begin
      mem[lo_A] <= (mem[lo_A] & ~mlo_A) | (dlo_A & mlo_A);
      if (mhi_A[0]) mem[hi_A] <= di_A[17:9];
    end
  end
  generate
    if (RESETMODE == "ASYNC") begin : read_A_async
      always @(posedge clk_A or posedge RSTA)
        if (RSTA) rd_A <= 36'h0;
        else if (sel_A) rd_A <= next_out(WEA, WRITEMODE_A, rd_A, DATA_WIDTH_A,
                                           ad_A, di_A);
    end else begin : read_A_sync
      always @(posedge clk_A)
        if (RSTA) rd_A <= 36'h0;
        else if (sel_A) rd_A <= next_out(WEA, WRITEMODE_A, rd_A, DATA_WIDTH_A,
                                           ad_A, di_A);
    end
    if (REGMODE_A == "OUTREG") begin : outreg_A
      always @(posedge clk_A)
        if (RSTA) rq_A <= 36'h0;
        else if (OCEA) rq_A <= rd_A;
      assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = DATA_WIDTH_B == 36 ? rq_B[17:0] : rq_A[17:0];
    end else begin : noreg_A
      assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = DATA_WIDTH_B == 36 ? rd_B[17:0] : rd_A[17:0];
    end
  endgenerate

  always @(posedge clk_A) if (sel_A && !WEA && DATA_WIDTH_A == 36)
    $fatal(1, "DP16KD model: a width-36 read on port A");

  // ---- port B
  wire clk_B = CLKBMUX == "INV" ? ~CLKB : CLKB;
  wire [13:0] ad_B = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
  wire [17:0] di_B = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
  wire sel_B = CEB && {CSB2, CSB1, CSB0} == 3'b000;
  wire [10:0] lo_B = DATA_WIDTH_B == 18 ? {ad_B[13:4], 1'b0} : ad_B[13:3];
  wire [10:0] hi_B = {ad_B[13:4], 1'b1};
  wire [8:0] mlo_B = low_mask(DATA_WIDTH_B, ad_B);
  wire [8:0] mhi_B = DATA_WIDTH_B == 18 && ad_B[1] ? 9'h1ff : 9'h0;
  wire [8:0] dlo_B = DATA_WIDTH_B == 18 || DATA_WIDTH_B == 9 ? di_B[8:0] :
                      DATA_WIDTH_B == 4 ? {2{di_B[3:0]}} :
                      DATA_WIDTH_B == 2 ? {4{di_B[1:0]}} : {9{di_B[0]}};
  reg [35:0] rd_B = 36'h0, rq_B = 36'h0;
  always @(posedge clk_B) if (sel_B && WEB) begin
    if (DATA_WIDTH_B == 36) $fatal(1, "DP16KD model: a width-36 write on port B");
    mem[lo_B] <= (mem[lo_B] & ~mlo_B) | (dlo_B & mlo_B);
    if (mhi_B[0]) mem[hi_B] <= di_B[17:9];
  end
  generate
    if (RESETMODE == "ASYNC") begin : read_B_async
      always @(posedge clk_B or posedge RSTB)
        if (RSTB) rd_B <= 36'h0;
        else if (sel_B) rd_B <= next_out(WEB, WRITEMODE_B, rd_B, DATA_WIDTH_B,
                                           ad_B, di_B);
    end else begin : read_B_sync
      always @(posedge clk_B)
        if (RSTB) rd_B <= 36'h0;
        else if (sel_B) rd_B <= next_out(WEB, WRITEMODE_B, rd_B, DATA_WIDTH_B,
                                           ad_B, di_B);
    end
    if (REGMODE_B == "OUTREG") begin : outreg_B
      always @(posedge clk_B)
        if (RSTB) rq_B <= 36'h0;
        else if (OCEB) rq_B <= rd_B;
      assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = DATA_WIDTH_B == 36 ? rq_B[35:18] : rq_B[17:0];
    end else begin : noreg_B
      assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = DATA_WIDTH_B == 36 ? rd_B[35:18] : rd_B[17:0];
    end
  endgenerate
endmodule
