"""Acceptance: `calculate` on the published FALSR graphs reproduces the published figures.

Each graph runs once over Set5 + Set14 (fetched from the reference mirror into a fresh data folder).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from falsr_cli.data.images import read_rgb
from falsr_cli.data.metrics import score

GRAPHS = ("FALSR-A", "FALSR-B", "FALSR-C")
SETS = ("Set5", "Set14")

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture(scope="session")
def published_runs(reference_dir: Path, benchmark_mirror: Path, tmp_path_factory) -> dict:
    from falsr_cli.runtime.evaluate import calculate

    data_dir = tmp_path_factory.mktemp("data")
    save_path = tmp_path_factory.mktemp("result")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FALSR_DATA_MIRROR", str(benchmark_mirror))
        runs = {
            name: calculate(reference_dir / f"{name}.pb", save_path, SETS, data_dir=data_dir, progress=False)
            for name in GRAPHS
        }
    return {"runs": runs, "save_path": save_path, "data_dir": data_dir}


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("dataset", SETS)
def test_reproduces_measured_figures(published_runs: dict, published: dict, graph: str, dataset: str) -> None:
    got = published_runs["runs"][graph]["datasets"][dataset]
    want_psnr, want_ssim = published["measured"][f"{graph}.pb"][dataset]
    assert got["psnr"] == pytest.approx(want_psnr, abs=0.0005)
    assert got["ssim"] == pytest.approx(want_ssim, abs=0.00005)


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("dataset", SETS)
def test_reproduces_paper_table(published_runs: dict, published: dict, graph: str, dataset: str) -> None:
    got = published_runs["runs"][graph]["datasets"][dataset]
    paper_psnr, paper_ssim = published["models"][graph][dataset]
    assert round(got["psnr"], 2) == pytest.approx(paper_psnr, abs=1e-9)
    # The table's SSIM has four decimals; the published graphs agree with it within one unit there.
    assert got["ssim"] == pytest.approx(paper_ssim, abs=1e-4)


def test_saved_images_and_metrics_json(published_runs: dict, benchmark_mirror: Path) -> None:
    save_path: Path = published_runs["save_path"]
    summary = published_runs["runs"]["FALSR-A"]
    for dataset, count in (("Set5", 5), ("Set14", 14)):
        files = sorted((save_path / "FALSR-A" / dataset).glob("*.png"))
        assert [f.name for f in files] == [f"img_{i:03d}_SRF_2_SR.png" for i in range(1, count + 1)]
    # A saved PNG scores exactly as reported: lossless, and named after the right pair.
    sr, _ = read_rgb(save_path / "FALSR-A" / "Set14" / "img_003_SRF_2_SR.png")
    hr, _ = read_rgb(benchmark_mirror / "Set14" / "img_003_SRF_2_HR.png")
    row = summary["datasets"]["Set14"]["per_image"][2]
    assert row["name"] == "img_003" and row["note"] == "grayscale → RGB"
    assert score(sr, hr, 2) == pytest.approx((row["psnr"], row["ssim"]), abs=1e-12)
    metrics = json.loads((save_path / "FALSR-A" / "metrics.json").read_text())
    assert set(metrics["datasets"]) == set(SETS)
    assert metrics["datasets"]["Set5"]["psnr"] == pytest.approx(summary["datasets"]["Set5"]["psnr"])
    assert len(metrics["datasets"]["Set14"]["per_image"]) == 14
    assert not list(save_path.rglob("*.tmp"))


@pytest.fixture(scope="session")
def xnnpack_runs(reference_dir: Path, benchmark_mirror: Path, published_runs: dict) -> dict:
    from falsr_cli.runtime.evaluate import evaluate_model

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FALSR_DATA_MIRROR", str(benchmark_mirror))
        return {(g, d): evaluate_model(reference_dir / f"{g}.pb", d, data_dir=published_runs["data_dir"],
                                       progress=False, engine="xnnpack")
                for g in GRAPHS for d in SETS}


@pytest.mark.parametrize("graph", GRAPHS)
@pytest.mark.parametrize("dataset", SETS)
def test_xnnpack_engine_reproduces_measured_figures(xnnpack_runs: dict, published: dict, graph: str,
                                                    dataset: str) -> None:
    # The fast engine (the graph imported, converted to float32 TFLite, run by XNNPACK) scores the same.
    got = xnnpack_runs[(graph, dataset)]
    assert got["engine"] == "xnnpack"
    want_psnr, want_ssim = published["measured"][f"{graph}.pb"][dataset]
    assert got["psnr"] == pytest.approx(want_psnr, abs=0.0005)
    assert got["ssim"] == pytest.approx(want_ssim, abs=0.00005)
