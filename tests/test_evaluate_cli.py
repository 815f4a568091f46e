"""`falsr evaluate` and `falsr calculate` end to end: output, JSON, saved images, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import runtime_graphs as rg
from click.testing import CliRunner
from PIL import Image

from falsr_cli.cli import main
from falsr_cli.data.imresize import imresize


def _hr(seed: int, h: int = 32, w: int = 28) -> np.ndarray:
    """A smooth colour image (bicubic of noise), so that SR does something sensible."""
    rng = np.random.default_rng(seed)
    return imresize(rng.integers(0, 256, (h // 4, w // 4, 3), dtype=np.uint8), 4)


def _pair_folder(folder: Path, n: int = 2) -> Path:
    folder.mkdir(parents=True)
    for i in range(1, n + 1):
        hr = _hr(i)
        Image.fromarray(hr).save(folder / f"img_{i:03d}_SRF_2_HR.png")
        Image.fromarray(imresize(hr, 0.5)).save(folder / f"img_{i:03d}_SRF_2_LR.png")
    return folder


def _invoke(args: list[str], env: dict | None = None):
    result = CliRunner().invoke(main, args, env=env, catch_exceptions=False)
    return result


def _one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def data_env(tmp_path: Path, benchmark_mirror: Path) -> dict:
    return {"FALSR_DATA": str(tmp_path / "data"), "FALSR_DATA_MIRROR": str(benchmark_mirror)}


@pytest.fixture
def tiny_pb(tmp_path: Path) -> Path:
    return rg.write_graph(tmp_path / "tiny.pb", rg.falsr_like_graph_def())


def test_evaluate_bicubic_on_set5_fetches_and_reports(tmp_path: Path, data_env: dict) -> None:
    out = tmp_path / "scores.json"
    args = ["evaluate", "--dataset", "Set5", "--model", "bicubic", "--per-image", "--json", str(out)]
    result = _invoke([*args, "--save", str(tmp_path / "sr")], env=data_env)
    assert result.exit_code == 0, result.output
    assert "33.6404" in result.stdout and "0.92922" in result.stdout and "img_005" in result.stdout
    assert "images/s" in result.stdout and "total" in result.stdout
    report = json.loads(out.read_text())
    assert report["model"] == "bicubic" and report["dataset"] == "Set5" and report["images"] == 5
    assert round(report["psnr"], 2) == 33.64 and len(report["per_image"]) == 5
    assert {"images_per_second", "total_seconds", "model_seconds"} <= set(report)
    assert sorted(p.name for p in (tmp_path / "sr").iterdir())[0] == "img_001_SRF_2_SR.png"
    # Present now: works without the network.
    again = _invoke(["evaluate", "-d", "Set5", "-m", "bicubic", "--no-download"], env=data_env)
    assert again.exit_code == 0 and "33.6404" in again.stdout


def test_evaluate_converts_grayscale_and_rgba_and_says_so(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(_hr(1)[..., 0]).save(folder / "grey.png")
    rgba = np.concatenate([_hr(2), np.full((32, 28, 1), 200, np.uint8)], axis=-1)
    Image.fromarray(rgba).save(folder / "rgba.png")
    Image.fromarray(_hr(3)).save(folder / "plain.png")
    out = tmp_path / "r.json"
    result = _invoke(["evaluate", "-d", str(folder), "-m", "bicubic", "--per-image", "--json", str(out),
                      "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "grayscale → RGB" in result.stdout and "alpha dropped" in result.stdout
    assert "2 converted" in result.stdout
    rows = {r["name"]: r for r in json.loads(out.read_text())["per_image"]}
    assert rows["plain"]["note"] is None and rows["grey"]["note"] == "grayscale → RGB"


def test_calculate_layout_metrics_and_merge(tmp_path: Path, tiny_pb: Path) -> None:
    first, second = _pair_folder(tmp_path / "first"), _pair_folder(tmp_path / "second", n=3)
    save = tmp_path / "result"
    result = _invoke(["calculate", "--pb_path", str(tiny_pb), "--save_path", str(save), "-d", str(first)])
    assert result.exit_code == 0, result.output
    assert "first" in result.stdout and "PSNR" in result.stdout
    assert sorted(p.name for p in (save / "tiny" / "first").iterdir()) == [
        "img_001_SRF_2_SR.png", "img_002_SRF_2_SR.png"]
    metrics_path = save / "tiny" / "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    entry = metrics["datasets"]["first"]
    assert entry["images"] == 2 and len(entry["per_image"]) == 2 and entry["psnr"] > 20
    # The saved image is the upscaler's output: nearest luma with bicubic chroma.
    sr = np.asarray(Image.open(save / "tiny" / "first" / "img_001_SRF_2_SR.png"))
    assert sr.shape == (32, 28, 3)
    # A second run on another set keeps the first set's figures.
    result = _invoke(["calculate", "--pb-path", str(tiny_pb), "--save-path", str(save), "-d", str(second)])
    assert result.exit_code == 0, result.output
    metrics = json.loads(metrics_path.read_text())
    assert set(metrics["datasets"]) == {"first", "second"}
    assert metrics["datasets"]["first"] == entry


def _corrupt_image(folder: Path) -> None:
    path = folder / "img_002_SRF_2_HR.png"
    path.write_bytes(path.read_bytes()[:200])


def _size_mismatch(folder: Path) -> None:
    Image.fromarray(_hr(9, 36, 28)).save(folder / "img_002_SRF_2_HR.png")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("corrupt image", r"corrupt or truncated image: .*img_002_SRF_2_HR\.png"),
        ("size mismatch", r"img_002_SRF_2_HR\.png is 28x36 but its LR image is 14x16"),
        ("not a graph", r"not a frozen TensorFlow graph"),
        ("non-FALSR graph", r"expected input placeholders input_image_evaluate_y.*placeholders \[image\]"),
        ("planted ReadFile", r"refusing to run .*ReadFile"),
        ("unknown data set", r"unknown data set or folder: Set99"),
    ],
)
def test_calculate_bad_input_is_one_line_and_keeps_results(tmp_path: Path, tiny_pb: Path, case: str,
                                                          expected: str) -> None:
    import re

    folder = _pair_folder(tmp_path / "pairs")
    save = tmp_path / "result"
    ok = _invoke(["calculate", "--pb_path", str(tiny_pb), "--save_path", str(save), "-d", str(folder)])
    assert ok.exit_code == 0, ok.output
    metrics_path = save / "tiny" / "metrics.json"
    before = metrics_path.read_bytes()
    image = save / "tiny" / "pairs" / "img_001_SRF_2_SR.png"
    image_before = image.read_bytes()

    pb, dataset = tiny_pb, str(folder)
    if case == "corrupt image":
        _corrupt_image(folder)
    elif case == "size mismatch":
        _size_mismatch(folder)
    elif case == "not a graph":
        pb.write_bytes(b"\x00\x01 definitely not protobuf \xff" * 7)
    elif case == "non-FALSR graph":
        rg.write_graph(pb, rg.other_graph_def())
    elif case == "planted ReadFile":
        rg.write_graph(pb, rg.falsr_like_graph_def(rg.plant_read_file))
    elif case == "unknown data set":
        dataset = "Set99"
    result = _invoke(["calculate", "--pb_path", str(pb), "--save_path", str(save), "-d", dataset,
                      "--data-dir", str(tmp_path / "data")])
    assert re.search(expected, _one_line_error(result)), result.stderr
    assert metrics_path.read_bytes() == before
    assert image.read_bytes() == image_before
    assert not list(save.rglob("*.tmp"))


def test_evaluate_bad_input(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path / "data")]
    err = _one_line_error(_invoke(["evaluate", "-d", "Set14", "-m", "bicubic", "--no-download", *data]))
    assert "Set14" in err
    err = _one_line_error(_invoke(["evaluate", "-d", "Set99", "-m", "bicubic", *data]))
    assert "unknown data set or folder: Set99" in err
    folder = _pair_folder(tmp_path / "pairs")
    err = _one_line_error(_invoke(["evaluate", "-d", str(folder), "-m", "nonsense", *data]))
    assert "unknown model 'nonsense'" in err
    err = _one_line_error(_invoke(["evaluate", "-d", str(folder), "-m", str(tmp_path / "no.pb"), *data]))
    assert "not found" in err


def test_calculate_defaults_to_local_benchmarks_and_samples(tmp_path: Path, data_env: dict,
                                                            tiny_pb: Path) -> None:
    from falsr_cli.runtime.evaluate import default_datasets

    data_dir = data_env["FALSR_DATA"]
    assert default_datasets(data_dir) == ["samples"]
    fetched = _invoke(["evaluate", "-d", "Set5", "-m", "bicubic"], env=data_env)
    assert fetched.exit_code == 0, fetched.output
    assert default_datasets(data_dir) == ["Set5", "samples"]
    save = tmp_path / "result"
    result = _invoke(["calculate", "--pb_path", str(tiny_pb), "--save_path", str(save)], env=data_env)
    assert result.exit_code == 0, result.output
    metrics = json.loads((save / "tiny" / "metrics.json").read_text())
    assert list(metrics["datasets"]) == ["Set5", "samples"]
    saved = list((save / "tiny" / "samples").glob("*_SRF_2_SR.png"))
    assert len(saved) == metrics["datasets"]["samples"]["images"] > 0
