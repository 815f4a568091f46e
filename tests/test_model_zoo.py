"""Models by name: `falsr model list|download|path`, published graphs from a local mirror, names as MODEL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from falsr_cli.cli import main
from falsr_cli.runtime import zoo

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str, env: dict | None = None):
    return CliRunner().invoke(main, list(args), env=env)


def test_list_names_published_and_shipped_models(tmp_path: Path) -> None:
    res = _run("model", "list", "--json", "--data-dir", str(tmp_path))
    assert res.exit_code == 0, res.output
    rows = {r["name"]: r for r in json.loads(res.output)["models"]}
    for name in ("FALSR-A", "FALSR-B", "FALSR-C"):
        assert rows[name]["kind"] == "published" and not rows[name]["present"]
        assert rows[name]["path"] == str(tmp_path / "models" / name / f"{name}.pb")
    assert rows["t291-FALSR-B-res"]["kind"] == "shipped" and rows["t291-FALSR-B-res"]["present"]
    # the one `falsr upscale` takes without --model says so
    default = [n for n, r in rows.items() if "(the default model)" in r["description"]]
    assert default == ["t291-FALSR-B-res-moon"]


def test_shipped_models_cannot_be_mistaken_for_the_authors() -> None:
    # The authors' README runs ./pretrained_model/FALSR-A.pb; none of ours may carry that name.
    shipped = [p.name.lower() for p in (ROOT / "pretrained_model").glob("*.pb")]
    assert shipped and not {"falsr-a.pb", "falsr-b.pb", "falsr-c.pb"} & set(shipped)
    published = {e.name.lower() for e in zoo.list_models() if e.kind == "published"}
    assert published == {"falsr-a", "falsr-b", "falsr-c"}
    assert not published & {e.name.lower() for e in zoo.list_models() if e.kind == "shipped"}


def test_download_from_mirror_then_name_works_as_model(tmp_path: Path, reference_dir: Path) -> None:
    flat = reference_dir  # a folder holding FALSR-B.pb, as a clone's pretrained_model/ does
    data = tmp_path / "data"
    res = _run("model", "download", "FALSR-B", "--mirror", str(flat), "--data-dir", str(data))
    assert res.exit_code == 0, res.output
    path = data / "models" / "FALSR-B" / "FALSR-B.pb"
    assert path.read_bytes() == (reference_dir / "FALSR-B.pb").read_bytes()
    res = _run("model", "path", "FALSR-B", "--data-dir", str(data))
    assert res.exit_code == 0 and res.output.strip() == str(path)
    assert zoo.resolve_model_spec("falsr-b", data) == str(path)  # names are case-insensitive

    # --to copies it where the original repository's instructions look for it, never over another file.
    to = tmp_path / "pretrained_model"
    to.mkdir()
    (to / "FALSR-B.pb").write_bytes(b"the user's own file")
    res = _run("model", "download", "FALSR-B", "--data-dir", str(data), "--to", str(to))
    assert res.exit_code == 1 and "exists" in res.output and "--overwrite" in res.output
    assert (to / "FALSR-B.pb").read_bytes() == b"the user's own file"
    # --overwrite replaces a published graph there (another version), never the user's own file.
    res = _run("model", "download", "FALSR-B", "--data-dir", str(data), "--to", str(to), "--overwrite")
    assert res.exit_code == 1 and "not a previous output of this kind" in res.output
    assert (to / "FALSR-B.pb").read_bytes() == b"the user's own file"
    (to / "FALSR-B.pb").unlink()
    res = _run("model", "download", "FALSR-B", "--data-dir", str(data), "--to", str(to))
    assert res.exit_code == 0, res.output
    assert (to / "FALSR-B.pb").read_bytes() == path.read_bytes()


def test_published_name_is_fetched_on_first_use(tmp_path: Path, reference_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    # A MODEL named FALSR-C is the authors' graph, fetched from the mirror (offline) the first time.
    data = tmp_path / "data"
    monkeypatch.setenv("FALSR_DATA_MIRROR", str(reference_dir))
    monkeypatch.setenv("FALSR_DATA", str(data))
    from falsr_cli.runtime.open import open_model

    upscaler = open_model("FALSR-C")
    assert upscaler.scale == 2
    got = (data / "models" / "FALSR-C" / "FALSR-C.pb").read_bytes()
    assert got == (reference_dir / "FALSR-C.pb").read_bytes()


def test_bad_mirror_file_is_refused_and_not_kept(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror" / "FALSR-A"
    mirror.mkdir(parents=True)
    (mirror / "FALSR-A.pb").write_bytes(b"x" * 4131024)  # the right size, the wrong bytes
    data = tmp_path / "data"
    res = _run("model", "download", "FALSR-A", "--mirror", str(tmp_path / "mirror"), "--data-dir", str(data))
    assert res.exit_code == 1 and "wrong sha256" in res.output and "Traceback" not in res.output
    assert not any((data / "models").rglob("*.pb"))


def test_unknown_name_and_missing_model_are_one_line_errors(tmp_path: Path) -> None:
    res = _run("model", "download", "FALSR-Z", "--data-dir", str(tmp_path))
    assert res.exit_code == 1 and "unknown model: FALSR-Z" in res.output and "t291-FALSR-B-res" in res.output
    res = _run("model", "path", "FALSR-A", "--data-dir", str(tmp_path))
    assert res.exit_code == 1 and "falsr model download FALSR-A" in res.output


def test_existing_path_wins_over_a_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "FALSR-A").mkdir()  # e.g. a training run folder named like the published model
    assert zoo.resolve_model_spec("FALSR-A") == "FALSR-A"
    assert zoo.resolve_model_spec("not-a-model") == "not-a-model"
