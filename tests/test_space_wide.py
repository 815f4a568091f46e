"""The wide space (bsconv, pa, esa cells): parsing, genomes, cost against Keras, latency ops, every export."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from export_models import lively

from falsr_cli.cost import latency_model as L
from falsr_cli.cost.cost_model import conv_specs, gate_products, mult_adds, params, receptive_field
from falsr_cli.errors import FalsrError
from falsr_cli.space.architecture import PRESETS, Architecture
from falsr_cli.space.cells import CELL_SPACE, SPACES, Cell, cell_index, space_cells

HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("tf2onnx", "onnxruntime"))
WIDE = "x2-f8-res:esa_f16_k3_b2_skip,bsconv_f16_k7_b2_skip,pa_f16_k1_b1_noskip:101110"


def test_cells_parse_validate_and_round_trip() -> None:
    texts = ("bsconv_f64_k7_b4_skip", "bsconv_f16_k5_b1_noskip", "pa_f32_k3_b2_skip", "esa_f48_k1_b1_noskip")
    for text in texts:
        cell = Cell.from_text(text)
        assert cell.text == text and Cell.from_dict(cell.to_dict()) == cell
        assert cell.gated == (cell.type in ("pa", "esa"))
    for bad, message in [("bsconv_f16_k1_b1_skip", "kernel: 1 is not in the space"),
                         ("conv_f16_k5_b1_skip", "kernel: 5 is not in the space"),
                         ("pa_f16_k7_b1_skip", "kernel: 7"), ("lka_f16_k3_b1_skip", "unknown cell type")]:
        with pytest.raises(FalsrError, match=message):
            Cell.from_text(bad)


def test_the_wide_space_extends_the_papers_in_genome_order() -> None:
    assert SPACES["falsr"] is CELL_SPACE and len(CELL_SPACE) == 192
    wide = space_cells("wide")
    assert wide[:192] == CELL_SPACE and len(wide) == 192 + 72 + 48 + 48
    arch = Architecture.from_text(WIDE)
    assert arch.space == "wide" and PRESETS["FALSR-B"].space == "falsr"
    assert Architecture.from_genome(arch.genome("wide"), 3, features=8, residual=True, space="wide") == arch
    assert Architecture.from_json(arch.to_json()) == arch
    # A paper genome means the same network in both spaces; a wide cell is not in the paper's.
    b = PRESETS["FALSR-B"]
    assert b.genome("wide") == b.genome()
    with pytest.raises(FalsrError, match="not in the 'falsr' space"):
        cell_index(arch.cells[0])
    with pytest.raises(FalsrError, match="space: 'huge' is not one of falsr, wide"):
        space_cells("huge")
    rng = np.random.default_rng(3)
    assert any(Architecture.random(rng, space="wide").space == "wide" for _ in range(5))


def test_cost_model_counts_the_gates_exactly() -> None:
    arch = Architecture.from_text(WIDE)
    names = [c.name for c in conv_specs(arch)]
    assert {"cell1_esa_reduce", "cell1_esa_dw", "cell1_esa_expand", "cell2_pw1", "cell2_dw2",
            "cell3_pa"} <= set(names)
    assert gate_products(arch) == 16 + 16  # esa and pa: one product per output element
    # By hand for pa_f16_k1_b1 alone on a 1×1 LR input: its conv (in·16 + …) is in the sum, the gate is
    # one 1×1 conv 16→16 (256 mult-adds, 272 params) and 16 products.
    one = Architecture((Cell.from_text("pa_f16_k1_b1_noskip"),), (0,), features=8)
    plain = Architecture((Cell.from_text("conv_f16_k1_b1_noskip"),), (0,), features=8)
    assert mult_adds(one, (1, 1)) - mult_adds(plain, (1, 1)) == 256 + 16
    assert params(one) - params(plain) == 272


@pytest.mark.parametrize(
    "cells, sources, scale",
    [
        (["esa_f16_k3_b1_noskip", "bsconv_f16_k7_b2_skip"], [[0], [1], [0, 2]], 2),
        (["pa_f16_k3_b2_skip", "bsconv_f16_k5_b1_noskip"], [[0], [0, 1], [2]], 3),
    ],
)
def test_receptive_field_of_wide_cells_matches_a_perturbed_input(cells, sources, scale) -> None:
    from test_cost_model import _radius_by_perturbation

    arch = Architecture.from_sources(cells, sources, scale=scale, features=8)
    assert receptive_field(arch) == _radius_by_perturbation(arch, size=61)


def test_latency_ops_follow_the_builder_and_the_wide_profile_covers_the_space() -> None:
    arch = Architecture.from_text(WIDE)
    convs = [o for o in L.ops(arch) if o.kind in ("conv", "dwconv")]
    assert [(o.kernel, o.cin, o.cout) for o in convs] == [(c.kernel, c.cin, c.cout) for c in conv_specs(arch)]
    assert sum(o.kind == "mul" for o in L.ops(arch)) == 2 and sum(o.sigmoid for o in L.ops(arch)) == 2
    assert [o for o in L.ops(arch) if o.dilation == 3][0].kernel == 7
    paper = {op.key for op in L.profile_ops()}
    wide = {op.key: 1.0 for op in L.profile_ops(space="wide")}
    assert paper < set(wide)  # the paper's keys are unchanged, so existing profiles stay valid
    rng = np.random.default_rng(1)
    for _ in range(200):
        assert L.raw_ms(Architecture.random(rng, residual=True, space="wide"), wide) > 0
    with pytest.raises(FalsrError, match="no measurement"):
        L.raw_ms(Architecture.from_text(WIDE.replace("f8", "f32")), {op.key: 1.0 for op in L.profile_ops()})


@pytest.mark.parametrize("runtime", ["tf", "xnnpack"])
def test_the_new_operations_run_in_the_profile_runtimes(runtime: str) -> None:
    from falsr_cli.models.latency import op_runners

    wide = L.profile_ops(space="wide")
    tests = [lambda o: o.kind == "mul", lambda o: o.sigmoid, lambda o: o.dilation != 1,
             lambda o: o.kind == "dwconv" and o.kernel == 7]
    new = [next(op for op in wide if test(op)) for test in tests]
    runners = op_runners(new, runtime, 1, (6, 6))
    for op in new:
        runners[op.key]()


@pytest.fixture(scope="module")
def wide_model():
    from falsr_cli.models.builder import build_luma_model

    arch = Architecture.from_text(WIDE)
    model = lively(build_luma_model(arch, seed=0, init="he-zero"), seed=1)
    assert model.count_params() == params(arch)
    return arch, model


def test_wide_network_exports_to_every_format(wide_model, tmp_path: Path) -> None:
    from falsr_cli.export import exporter
    from falsr_cli.export.exporter import export_model
    from falsr_cli.models.tflite import TFLiteModel

    arch, model = wide_model
    report = export_model(model, tmp_path / "w.pb", "pb", arch=arch)
    assert report.max_abs_diff <= 1e-5
    assert export_model(model, tmp_path / "w_sm", "savedmodel").max_abs_diff <= 1e-5
    for q in ("none", "fp16", "int8"):
        r = export_model(model, tmp_path / f"w_{q}.tflite", "tflite", quantize=q, arch=arch)
        assert r.max_abs_diff <= exporter.QUANT_TOLERANCE.get(q, 1e-5)
    lite = TFLiteModel(tmp_path / "w_none.tflite")
    assert lite.scale == 2
    if HAVE_ONNX:
        assert export_model(model, tmp_path / "w.onnx", "onnx").max_abs_diff <= 1e-5


def test_cli_speaks_the_wide_space(wide_model, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    from falsr_cli.cli import main

    runner = CliRunner()
    res = runner.invoke(main, ["flops", WIDE, "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["params"] == params(Architecture.from_text(WIDE))
    res = runner.invoke(main, ["arch", "show", WIDE])
    assert res.exit_code == 0 and "esa_f16_k3_b2_skip" in res.output
    # A proxy search of the wide space records it, draws wide cells, and keeps the space on resume.
    monkeypatch.chdir(tmp_path)
    args = ["search", "--space", "wide", "--evaluator", "proxy", "--cells", "3", "--pop", "6",
            "--generations", "2", "--workers", "0", "-q", "--out", "w"]
    res = runner.invoke(main, args)
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "w" / "config.json").read_text())["space"] == "wide"
    lines = (tmp_path / "w" / "evaluations.jsonl").read_text().splitlines()
    texts = [json.loads(line)["text"] for line in lines]
    assert any(Architecture.from_text(t).space == "wide" for t in texts)
    res = runner.invoke(main, ["search", "--resume", "--space", "falsr", "--out", "w", "-q"])
    assert res.exit_code != 0 and "space" in res.output
