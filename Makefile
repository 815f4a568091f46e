# falsr — every set-up step a fresh machine needs is here.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo lint clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -ra

lint: install
	$(BIN)/ruff check falsr_cli tests benchmarks

demo: install
	$(BIN)/falsr demo --out demo_out

clean:
	rm -rf $(VENV) build *.egg-info

# ---- pretrained models: train on T91 + BSDS200, export with the FALSR interface, write a model card ----
# A CPU budget (2 cores): batch 16, patch 64, Adam 5e-4 with a cosine schedule, STEPS_<X> steps; on this
# machine 2500 steps took 1.02 h (A), 1.00 h (B) and 0.58 h (C). With a GPU, raise the steps
# (e.g. `make pretrained STEPS_A=300000 PATCH=96`) or train on DIV2K (`TRAIN_DATA=DIV2K`).
FALSR_SHARED ?= ../shared
TRAIN_DATA   ?= T91,BSDS200
PATCH        ?= 64
STEPS_A      ?= 2500
STEPS_B      ?= 2500
STEPS_C      ?= 2500
MIRROR_TRAIN := $(wildcard $(FALSR_SHARED)/datasets/train)
MIRROR_BENCH := $(wildcard $(FALSR_SHARED)/datasets/benchmark)

# (pretrained-A/B/C are pattern targets: make skips implicit rules for .PHONY ones)
.PHONY: pretrained pretrained-data

pretrained: pretrained-B pretrained-C pretrained-A

pretrained-data: install
	for d in T91 BSDS200; do $(BIN)/falsr dataset download $$d $(if $(MIRROR_TRAIN),--mirror $(MIRROR_TRAIN)); done
	for d in Set5 Set14; do $(BIN)/falsr dataset download $$d $(if $(MIRROR_BENCH),--mirror $(MIRROR_BENCH)); done

pretrained-%: pretrained-data
	$(BIN)/falsr train --arch FALSR-$* --data $(TRAIN_DATA) --val Set5 --steps $(STEPS_$*) --patch $(PATCH) \
	  --lr 5e-4 --schedule cosine --warmup 100 --val-every 250 --ckpt-every 250 --seed 0 --out runs/pretrained/FALSR-$*
	$(BIN)/falsr export runs/pretrained/FALSR-$* --format pb --out pretrained_model/FALSR-$*.pb
	$(BIN)/python -m falsr_cli.export.model_card runs/pretrained/FALSR-$* pretrained_model/FALSR-$*.pb \
	  pretrained_model/FALSR-$*.json
	$(BIN)/falsr export pretrained_model/FALSR-$*.pb --format tflite --quantize fp16 \
	  --out pretrained_model/FALSR-$*.tflite

# The README's results table and plot, from the model cards in pretrained_model/ and bicubic evaluated now.
.PHONY: results
results: pretrained-data
	$(BIN)/python -m falsr_cli.export.model_card --readme README.md --plot pretrained_model/pareto.png
