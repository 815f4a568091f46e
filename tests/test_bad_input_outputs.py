"""Nothing a user owns is lost: outputs never replace what the command did not make, one process per run or
data folder, downloads bounded by the registry's byte count. Each case: exit code, one line, files intact."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from bad_input import one_line_error, snapshot
from click.testing import CliRunner
from export_models import shared_tiny

from falsr_cli.cli import main
from falsr_cli.errors import FalsrError
from falsr_cli.outputs import claim_output, folder_lock


@pytest.fixture
def tiny_weights(tmp_path_factory) -> tuple[str, Path]:
    """An architecture text and a .weights.h5 of the shared tiny model (an export source for the CLI)."""
    arch, model = shared_tiny()
    folder = tmp_path_factory.mktemp("weights")
    path = folder / "tiny.weights.h5"
    model.save_weights(path)
    return arch.to_text(), path


# ---- 1. outputs never destroy what was there ----------------------------------------------------------


def test_export_does_not_replace_a_folder_a_file_the_input_or_the_working_folder(tmp_path, tiny_weights,
                                                                                monkeypatch):
    text, weights = tiny_weights
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("my thesis")
    (tmp_path / "model.pb").write_bytes(b"an older model I keep")
    before = snapshot(tmp_path)
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    cases = [
        (["--format", "savedmodel", "--out", str(mine)], "exists (a folder); give --overwrite"),
        (["--format", "savedmodel", "--out", str(mine), "--overwrite"], "not a previous output of this kind"),
        (["--format", "pb", "--out", str(tmp_path / "model.pb")], "exists (a file); give --overwrite"),
        (["--format", "savedmodel", "--out", ".", "--overwrite"], "is the working folder or holds it"),
        (["--format", "savedmodel", "--out", str(weights.parent), "--overwrite"], "folder holding the input"),
        (["--format", "pb", "--out", str(weights), "--overwrite"], "is the input"),
    ]
    for args, message in cases:
        result = runner.invoke(main, ["export", text, "--weights", str(weights), *args])
        assert message in one_line_error(result), args
    assert snapshot(tmp_path) == before
    assert weights.is_file()


def test_overwrite_replaces_only_a_previous_export_of_the_same_kind(tmp_path, tiny_weights):
    text, weights = tiny_weights
    runner = CliRunner()
    out = tmp_path / "m.pb"
    args = ["export", text, "--weights", str(weights), "--format", "pb", "--out", str(out)]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    again = runner.invoke(main, args)
    assert "give --overwrite" in one_line_error(again)
    forced = runner.invoke(main, [*args, "--overwrite"])
    assert forced.exit_code == 0, forced.output


def test_claim_output_protects_files_inside_an_input(tmp_path, monkeypatch):
    run = tmp_path / "run"
    run.mkdir()
    (run / "arch.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FalsrError, match="is a file of the input"):
        claim_output(run / "arch.json", overwrite=True, inputs=[run])
    claim_output(run / "new.pb", inputs=[run])  # a new file beside the run's own is fine
    with pytest.raises(FalsrError, match="is a folder; this output is a file"):
        claim_output(run, overwrite=True)
    assert (run / "arch.json").read_text() == "{}"


# ---- 2. one process per run or data folder ----------------------------------------------------------


def test_a_locked_run_folder_refuses_a_second_process_and_names_it(tmp_path):
    from falsr_cli.search.config import resolve_config
    from falsr_cli.search.runner import run_search
    from falsr_cli.train import TrainConfig, train

    for folder in ("train", "search", "data"):
        (tmp_path / folder).mkdir()
    with folder_lock(tmp_path / "train", "test"):
        with pytest.raises(FalsrError, match=rf"in use by another falsr process \(pid {os.getpid()}"):
            train(TrainConfig(arch="FALSR-C", data="samples", steps=2, out=str(tmp_path / "train"),
                              data_dir=str(tmp_path / "data"), progress=False))
    with folder_lock(tmp_path / "search", "test"):
        cfg = resolve_config({"evaluator": "proxy", "workers": 0, "n": 2, "pop": 2, "generations": 1,
                              "out": str(tmp_path / "search")})
        with pytest.raises(FalsrError, match="in use by another falsr process"):
            run_search(cfg)
    assert not (tmp_path / "search" / "config.json").exists()  # nothing written by the refused one
    data = tmp_path / "data"
    with folder_lock(data / "Set5", "test", lock_file=data / ".locks" / "Set5.lock"):
        args = ["dataset", "download", "Set5", "--data-dir", str(tmp_path / "data")]
        result = CliRunner().invoke(main, args)
        assert "in use by another falsr process" in one_line_error(result)
    # Released with the block (and by the kernel when a process dies): the folder is usable again.
    with folder_lock(tmp_path / "train", "again"):
        pass


# ---- 3. bounded downloads ---------------------------------------------------------------------------


def test_a_mirror_that_sends_too_much_is_cut_off_at_the_registry_size(tmp_path, monkeypatch):
    from falsr_cli.data import registry

    entry = next(f for f in registry.get_dataset("Set5").files if f.name == "img_001_SRF_2_HR.png")
    mirror = tmp_path / "mirror" / "Set5"
    mirror.mkdir(parents=True)
    for f in registry.get_dataset("Set5").files:
        # Every file of the mirror is far larger than the registry says (a source that never ends).
        (mirror / f.name).write_bytes(b"\0" * (f.bytes * 3 + (1 << 20)))
    monkeypatch.setenv("FALSR_DATA_MIRROR", str(tmp_path / "mirror"))
    with pytest.raises(FalsrError, match=r"download of Set5/img_00\d_SRF_2_[LH]R.png from .* sent more than"):
        registry.download("Set5", data_dir=tmp_path / "data")
    left = list((tmp_path / "data" / "Set5").glob("*"))
    assert all(p.stat().st_size <= entry.bytes * 2 for p in left)
    assert not any(p.name.endswith(".part") for p in left)


# ---- 5. wrong results are errors, never a silent number ---------------------------------------------


def test_non_finite_model_output_and_colliding_save_names_are_errors(tmp_path):
    import numpy as np
    from PIL import Image

    from falsr_cli.data import color
    from falsr_cli.runtime.evaluate import evaluate_model

    with pytest.raises(FalsrError, match="holds 1 non-finite values"):
        color.to_uint8(np.array([[0.5, np.nan]]))
    with pytest.raises(FalsrError, match="holds 2 non-finite values"):
        color.to_uint8(np.array([np.inf, -np.inf, 0.2]))
    assert color.to_uint8(np.array([0.0, 1.0, 2.0])).tolist() == [0, 255, 255]
    folder = tmp_path / "hr"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for ext in ("bmp", "webp"):
        Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(folder / f"ok.{ext}",
                                                                                 lossless=True)
    before = snapshot(tmp_path)
    with pytest.raises(FalsrError, match="would both be saved as ok_SRF_2_SR.png"):
        evaluate_model("bicubic", str(folder), save_dir=tmp_path / "sr", progress=False)
    assert snapshot(tmp_path) == before and not (tmp_path / "sr").exists()


# ---- 6. no traceback for odd input ------------------------------------------------------------------


def test_deep_json_odd_scheduler_addresses_and_non_utf8_paths_are_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    from falsr_cli.search.config import resolve_config

    for good in ("tcp://10.0.0.1:8786", "localhost:8786", "tls://[::1]:8786"):
        assert resolve_config({"scheduler": good}).scheduler == good
    runner = CliRunner()
    assert "nested too deeply" in one_line_error(runner.invoke(main, ["arch", "show", str(deep)]))
    for address in ("not an address", "foo://x:1"):
        result = runner.invoke(main, ["search", "--evaluator", "proxy", "--scheduler", address, "--n", "2",
                                      "--pop", "2", "--generations", "1", "--out", str(tmp_path / "s")])
        assert "is not a Dask scheduler address" in one_line_error(result), address
    bad = "runs/caf\udce9"  # a Latin-1 byte on the command line of a UTF-8 system
    result = runner.invoke(main, ["train", "--arch", "FALSR-C", "--data", "samples", "--steps", "2",
                                  "--out", bad])
    assert "is not a UTF-8 path" in one_line_error(result)
    assert not (tmp_path / "runs").exists()  # nothing half made


# ---- 3. bounded work: graphs that would allocate far more than a model needs ------------------------


def _fill_graph(side: int):
    import tensorflow as tf

    g = tf.Graph()
    with g.as_default():
        y = tf.compat.v1.placeholder(tf.float32, [None, None, None, 1], name="input_image_evaluate_y")
        big = tf.fill(tf.constant([side, side], tf.int32), 0.5, name="huge")
        tf.identity(y + tf.slice(big, [0, 0], [1, 1])[0, 0], name="sr_y")
    return g.as_graph_def()


def test_a_tiny_graph_that_fills_gigabytes_is_refused_before_it_runs(tmp_path, monkeypatch):
    from falsr_cli.models.graphdef import check_ops
    from falsr_cli.runtime.open import open_model

    graph_def = _fill_graph(20000)  # a few bytes of graph, 1.49 GiB when run
    assert graph_def.ByteSize() < 4096
    too_big = r"Fill node huge makes a tensor of 1\.49 GiB, over the 1\.00 GiB bound"
    with pytest.raises(FalsrError, match=too_big):
        check_ops(graph_def, "g.pb")
    check_ops(_fill_graph(100), "small.pb")  # an ordinary size passes
    monkeypatch.setenv("FALSR_MAX_TENSOR_BYTES", "1000")
    with pytest.raises(FalsrError, match="over the 0.00 GiB bound"):
        check_ops(_fill_graph(100), "small.pb")
    monkeypatch.delenv("FALSR_MAX_TENSOR_BYTES")
    (tmp_path / "g.pb").write_bytes(graph_def.SerializeToString())
    result = CliRunner().invoke(main, ["evaluate", "--model", str(tmp_path / "g.pb"), "--dataset", "samples",
                                       "--data-dir", str(tmp_path / "data")])
    assert "makes a tensor of 1.49 GiB" in one_line_error(result)
    with pytest.raises(FalsrError, match="1.49 GiB"):
        open_model(str(tmp_path / "g.pb"))


def test_an_impossible_batch_is_refused_up_front_with_what_it_needs(tmp_path):
    from falsr_cli.cost.cost_model import training_bytes
    from falsr_cli.space.architecture import load_architecture
    from falsr_cli.train.loop import check_memory

    b = load_architecture("FALSR-B")
    assert 100 * 2**20 < training_bytes(b, 16, 32) < 2 * 2**30  # the default step: hundreds of MiB
    assert training_bytes(b, 32, 32) > 1.9 * training_bytes(b, 16, 32)
    check_memory(b, 16, 32, available=8 * 2**30)
    too_big = r"batch 64 at patch 64 needs at least 1\.2 GiB .* 1\.0 GiB available; use --batch 53 or less"
    with pytest.raises(FalsrError, match=too_big):
        check_memory(b, 64, 32, available=2**30)
    result = CliRunner().invoke(main, ["train", "--arch", "FALSR-B", "--data", "samples", "--batch", "100000",
                                       "--out", str(tmp_path / "run"), "--data-dir", str(tmp_path / "data")])
    assert "needs at least" in one_line_error(result) and "GiB for one training step" in result.stderr


# ---- 7. output that works in pipes --------------------------------------------------------------------


def test_output_off_a_terminal_keeps_whole_lines_and_json_is_there_for_every_table(tmp_path):
    import json
    import subprocess
    import sys

    from falsr_cli.space.architecture import load_architecture

    text = load_architecture("FALSR-B").to_text()
    env = {**os.environ, "COLUMNS": "40"}
    out = subprocess.run([sys.executable, "-m", "falsr_cli", "arch", "show", "FALSR-B"], env=env,
                         capture_output=True, text=True, check=True).stdout
    assert f"text: {text}" in out.splitlines()  # one line, not wrapped at 80 (or 40) columns
    runner = CliRunner()
    listed = runner.invoke(main, ["dataset", "list", "--json", "--data-dir", str(tmp_path)])
    listed = json.loads(listed.stdout)
    assert {"Set5", "BSDS200-val"} <= {d["name"] for d in listed["datasets"]}
    scored = runner.invoke(main, ["evaluate", "--model", "bicubic", "--dataset", "samples", "--json", "-",
                                  "--data-dir", str(tmp_path)])
    assert scored.exit_code == 0 and json.loads(scored.stdout)["psnr"] == pytest.approx(32.5399, abs=1e-4)
    assert not scored.stdout.startswith("\n")


def test_a_float_tiff_is_refused_not_scored_inf(tmp_path):
    import numpy as np
    from PIL import Image

    hr = np.random.default_rng(0).random((32, 32)).astype(np.float32)
    Image.fromarray(hr, mode="F").save(tmp_path / "img_001_SRF_2_HR.tif")
    Image.fromarray(hr[::2, ::2].copy(), mode="F").save(tmp_path / "img_001_SRF_2_LR.tif")
    result = CliRunner().invoke(main, ["evaluate", "-m", "bicubic", "-d", str(tmp_path)])
    assert "holds 32-bit float pixels" in one_line_error(result) and "inf" not in result.stdout


def test_exporting_a_run_that_another_process_holds_is_refused(tmp_path):
    from falsr_cli.train import TrainConfig, train

    run = tmp_path / "run"
    train(TrainConfig(arch="x2-f8:conv_f16_k3_b1_noskip:0", data="samples", val=None, steps=2, batch=2,
                      patch=16, out=str(run), data_dir=str(tmp_path / "data"), progress=False))
    with folder_lock(run, "training"):
        result = CliRunner().invoke(main, ["export", str(run), "--out", str(tmp_path / "m.pb")])
        assert "in use by another falsr process" in one_line_error(result)
    assert not (tmp_path / "m.pb").exists()
    done = CliRunner().invoke(main, ["export", str(run), "--out", str(tmp_path / "m.pb")])
    assert done.exit_code == 0, done.output


def test_evaluate_and_arch_from_pb_do_not_replace_files_without_overwrite(tmp_path, monkeypatch):
    from PIL import Image

    monkeypatch.chdir(tmp_path)
    (tmp_path / "scores.json").write_text("my scores")
    sr = tmp_path / "sr"
    sr.mkdir()
    runner = CliRunner()
    args = ["evaluate", "-m", "bicubic", "-d", "samples", "--data-dir", str(tmp_path / "data")]
    first = runner.invoke(main, [*args, "--save", str(sr)])
    assert first.exit_code == 0, first.output
    made = snapshot(sr)
    assert len(made) == 5
    (tmp_path / "keep.png").write_bytes(next(sr.iterdir()).read_bytes())
    (tmp_path / "a.json").write_text("{}")
    before = snapshot(tmp_path)
    assert "--save" in one_line_error(runner.invoke(main, [*args, "--save", str(sr)]))
    scored = runner.invoke(main, [*args, "--json", "scores.json"])
    assert "--json scores.json exists" in one_line_error(scored)
    result = runner.invoke(main, ["arch", "from-pb", "nowhere.pb", "-o", "a.json"])
    assert "--output a.json exists" in one_line_error(result)
    assert snapshot(tmp_path) == before
    # "my scores" is the user's, not a previous result: not replaced even with --overwrite.
    mine = runner.invoke(main, [*args, "--json", "scores.json", "--overwrite"])
    assert "not a previous output of this kind" in one_line_error(mine)
    again = runner.invoke(main, [*args, "--save", str(sr), "--json", "new.json", "--overwrite"])
    assert again.exit_code == 0 and snapshot(sr) == made and Image.open(sr / sorted(made)[0]).size
    twice = runner.invoke(main, [*args, "--json", "new.json", "--overwrite"])
    assert twice.exit_code == 0 and (tmp_path / "scores.json").read_text() == "my scores"
