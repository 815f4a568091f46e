# falsr — every set-up step a fresh machine needs is here.
PYTHON ?= python3.11
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install test demo lint layers clean

install: $(STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

test: install
	$(BIN)/python -m pytest -q -ra

lint: install layers
	$(BIN)/ruff check falsr_cli tests benchmarks

# The layer contract in setup.cfg (import-linter): no package imports one above it.
layers: install
	$(BIN)/lint-imports

demo: install
	$(BIN)/falsr demo --out demo_out

clean:
	rm -rf $(VENV) build *.egg-info

# ---- pretrained models: train on T91 + BSDS200-train, export with the FALSR interface, write a model card ----
# `falsr train`'s default recipe (benchmarks/convergence.py): batch 16, patch 64, Adam 1e-3 peak, warm-up
# 100, cosine decay, precision auto (bfloat16 on CPUs with native BF16, else float32); the best checkpoint
# by PSNR on BSDS200-val (held out of training). STEPS_<X> steps.
# `make pretrained-B-res` trains FALSR-B with the image-level bicubic residual. Our models are named
# t291-<architecture> (trained on the 291 images T91 + BSDS200): FALSR-A/B/C by name are the authors' graphs. With a GPU, raise the steps
# (e.g. `make pretrained-A STEPS_A=300000 PATCH=96`) or train on DIV2K (`TRAIN_DATA=DIV2K`).
FALSR_SHARED ?= ../shared
TRAIN_DATA   ?= T91,BSDS200-train
PATCH        ?= 64
STEPS_A      ?= 10000
STEPS_B      ?= 12000
STEPS_C      ?= 12000
STEPS_A-res  ?= 10000
STEPS_B-res  ?= 12000
STEPS_C-res  ?= 12000
RUNS         ?= runs/pretrained
MIRROR_TRAIN := $(wildcard $(FALSR_SHARED)/datasets/train)
MIRROR_BENCH := $(wildcard $(FALSR_SHARED)/datasets/benchmark)

# (pretrained-A/B/C are pattern targets: make skips implicit rules for .PHONY ones)
.PHONY: pretrained pretrained-data

# The shipped models: the published architectures and their residual variants.
pretrained: pretrained-A pretrained-B pretrained-C pretrained-A-res pretrained-B-res pretrained-C-res

# Each shipped .pb's float32 luma .tflite beside it (the .pb's sha256 inside): `falsr upscale` opens the .pb
# in XNNPACK from it without TensorFlow, on its very first run too. Every target that writes a .pb makes it;
# `make pretrained-y` remakes them all from the .pb files alone.
Y_TFLITE = $(BIN)/falsr export $(1) --format tflite --interface y --out $(1:.pb=.y.tflite) --overwrite
.PHONY: pretrained-y
pretrained-y: install
	$(foreach pb,$(wildcard pretrained_model/t291-*.pb),$(call Y_TFLITE,$(pb)) &&) true

pretrained-data: install
	for d in T91 BSDS200; do $(BIN)/falsr dataset download $$d $(if $(MIRROR_TRAIN),--mirror $(MIRROR_TRAIN)); done
	for d in Set5 Set14; do $(BIN)/falsr dataset download $$d $(if $(MIRROR_BENCH),--mirror $(MIRROR_BENCH)); done

pretrained-%: pretrained-data
	$(BIN)/falsr train --arch FALSR-$* --data $(TRAIN_DATA) --steps $(STEPS_$*) --patch $(PATCH) \
	  --val-every 1000 --ckpt-every 500 --seed 0 --out $(RUNS)/FALSR-$*
	$(BIN)/falsr export $(RUNS)/FALSR-$* --format pb --out pretrained_model/t291-FALSR-$*.pb
	$(BIN)/falsr model card $(RUNS)/FALSR-$* pretrained_model/t291-FALSR-$*.pb \
	  pretrained_model/t291-FALSR-$*.json
	$(BIN)/falsr export pretrained_model/t291-FALSR-$*.pb --format tflite --quantize fp16 \
	  --out pretrained_model/t291-FALSR-$*.tflite
	$(call Y_TFLITE,pretrained_model/t291-FALSR-$*.pb)

# ---- the searched network: FALSR-B's budget, the search's winner trained exactly as pretrained-B-res ----
# `make search-cpu-B`: the CPU preset (about an hour on 2 cores, resumable: run it again after a stop) under
# FALSR-B's mult-adds and params and FALSR-B-res's latency, measured here (XNNPACK, 2 threads, 240x240).
# `make pretrained-NAS-B NAS_K=K`: member K of its front (the most accurate), trained with the recipe and
# budget of pretrained-B-res, exported, carded with the search's config, journal and front as provenance.
SEARCH_B ?= runs/cpu-search-B
NAS_K    ?= 0
.PHONY: search-cpu-B pretrained-NAS-B
search-cpu-B: pretrained-data
	mkdir -p $(dir $(SEARCH_B))
	$(BIN)/falsr latency FALSR-B-res --runtime xnnpack --input 240x240 --runs 30 --json > $(SEARCH_B).latency.json
	$(BIN)/falsr search --preset cpu --flops-max 74.5G --params-max 325k --latency-runtime xnnpack \
	  --latency-input 240x240 --latency-max $$($(BIN)/python -c "import json; \
	  print(json.load(open('$(SEARCH_B).latency.json'))['median_ms'])")ms --out $(SEARCH_B)

NAS_NAME   ?= NAS-B
NAS_SEARCH ?= $(SEARCH_B)
pretrained-NAS-B: pretrained-data
	$(BIN)/falsr train --arch '$(NAS_SEARCH)/pareto.json#$(NAS_K)' --data $(TRAIN_DATA) --steps $(STEPS_B-res) \
	  --patch $(PATCH) --val-every 1000 --ckpt-every 500 --seed 0 --out $(RUNS)/t291-$(NAS_NAME)
	$(BIN)/falsr export $(RUNS)/t291-$(NAS_NAME) --format pb --out pretrained_model/t291-$(NAS_NAME).pb
	$(BIN)/falsr model card $(RUNS)/t291-$(NAS_NAME) pretrained_model/t291-$(NAS_NAME).pb \
	  pretrained_model/t291-$(NAS_NAME).json --name $(NAS_NAME) --search $(NAS_SEARCH)
	$(BIN)/falsr export pretrained_model/t291-$(NAS_NAME).pb --format tflite --quantize fp16 \
	  --out pretrained_model/t291-$(NAS_NAME).tflite
	$(call Y_TFLITE,pretrained_model/t291-$(NAS_NAME).pb)

# `make search-cpu-B2`: issue 21's payoff, FALSR-B's mult-adds and params only, population 16 for 5
# generations, each candidate the first 1000 steps of the 12,000-step recipe (1 h 37 min on 2 Sapphire
# Rapids cores). `make pretrained-NAS-B2 NAS_K=K`: member K of its front, as pretrained-NAS-B.
SEARCH_B2 ?= runs/cpu-search-B2
.PHONY: search-cpu-B2 pretrained-NAS-B2
search-cpu-B2: pretrained-data
	$(BIN)/falsr search --preset cpu --flops-max 74.5G --params-max 325k --pop 16 --generations 5 \
	  --out $(SEARCH_B2)

pretrained-NAS-B2:
	$(MAKE) pretrained-NAS-B NAS_NAME=NAS-B2 NAS_SEARCH=$(SEARCH_B2) NAS_K=$(NAS_K)

# `make search-cpu-W`: issue 22's search of the wide space (bsconv, pa, esa beside the paper's cells) under
# FALSR-B's mult-adds and params, population 16 for 5 generations; successive halving: every candidate the
# first 1000 steps of the 12,000-step recipe, the best third continued to 2000 (τ 0.80 against full
# training, benchmarks/evaluator_fidelity.py). `make pretrained-NAS-W NAS_K=K`: member K, as pretrained-NAS-B.
SEARCH_W ?= runs/cpu-search-W
.PHONY: search-cpu-W pretrained-NAS-W
search-cpu-W: pretrained-data
	$(BIN)/falsr search --space wide --preset cpu --flops-max 74.5G --params-max 325k --pop 16 --generations 5 \
	  --fidelity sh --rungs 1000,2000 --out $(SEARCH_W)

pretrained-NAS-W:
	$(MAKE) pretrained-NAS-B NAS_NAME=NAS-W NAS_SEARCH=$(SEARCH_W) NAS_K=$(NAS_K)

# ---- the CPU moonshot (issue 22): FALSR-B-res with the shipped recipe run longer (bfloat16: about 13 steps/s
# on 2 quiet Sapphire Rapids cores, 7.8 on Zen 4). Trained on T91 + BSDS200-train only; the best checkpoint
# on BSDS200-val. `make pretrained-moonshot` is t291-FALSR-B-res-long (40,000 steps); `make pretrained-moon`
# t291-FALSR-B-res-moon (80,000 steps with FSRCNN's scale augmentation).
MOON_STEPS ?= 40000
MOON_NAME  ?= FALSR-B-res-long
# Any architecture (a name, a text form, a .json): W_F48 is the wide search's best member scaled by hand to
# FALSR-B's budget (benchmarks/equal_training.py's search-W-k10-f48)
MOON_ARCH  ?= FALSR-B-res
W_F48 := x2-f32-res:group2_f48_k3_b1_noskip,group2_f48_k3_b1_noskip,group2_f48_k3_b1_noskip,group2_f48_k3_b1_noskip,pa_f48_k3_b4_skip,group2_f48_k3_b1_noskip,group2_f48_k3_b1_noskip:1100011111100000110011110001
# Extra `falsr train` levers, e.g. MOON_ARGS="--scale-aug 0.9,0.8,0.7,0.6" MOON_NAME=FALSR-B-res-long-sa
MOON_ARGS  ?=
.PHONY: pretrained-moonshot
pretrained-moonshot: pretrained-data
	$(BIN)/falsr train --arch '$(MOON_ARCH)' --data $(TRAIN_DATA) --steps $(MOON_STEPS) --patch $(PATCH) \
	  --val-every 2000 --ckpt-every 500 --seed 0 $(MOON_ARGS) --out $(RUNS)/t291-$(MOON_NAME)
	$(BIN)/falsr export $(RUNS)/t291-$(MOON_NAME) --format pb --out pretrained_model/t291-$(MOON_NAME).pb
	$(BIN)/falsr model card $(RUNS)/t291-$(MOON_NAME) pretrained_model/t291-$(MOON_NAME).pb \
	  pretrained_model/t291-$(MOON_NAME).json
	$(BIN)/falsr export pretrained_model/t291-$(MOON_NAME).pb --format tflite --quantize fp16 \
	  --out pretrained_model/t291-$(MOON_NAME).tflite
	$(call Y_TFLITE,pretrained_model/t291-$(MOON_NAME).pb)

.PHONY: pretrained-moon
pretrained-moon:
	$(MAKE) pretrained-moonshot MOON_STEPS=80000 MOON_NAME=FALSR-B-res-moon MOON_ARGS="--scale-aug 0.9,0.8,0.7,0.6"

# The moon's recipe on the wide search's best member scaled to the budget (W_F48, above): BSDS200-val 32.305,
# below t291-FALSR-B-res-moon's 32.320, so not shipped (benchmarks/results/moon-W-f48.json)
.PHONY: pretrained-moon-W
pretrained-moon-W:
	$(MAKE) pretrained-moonshot MOON_STEPS=80000 MOON_NAME=W-f48-moon MOON_ARCH='$(W_F48)' \
	  MOON_ARGS="--scale-aug 0.9,0.8,0.7,0.6"

# The README's results table and plot, from the model cards in pretrained_model/ and bicubic evaluated now.
.PHONY: results
results: pretrained-data
	$(BIN)/falsr model results --readme README.md --plot pretrained_model/pareto.png \
	  $(if $(wildcard $(FALSR_SHARED)/reference/FALSR-A.pb),--published $(FALSR_SHARED)/reference)
