"""Models by name: the authors' published graphs (fetched, checked like data sets) and the ones falsr ships.

- published: FALSR-A/B/C, the authors' frozen graphs from their repository at a pinned commit, sizes and
  sha256 in the registry; cached in `<data dir>/models/<NAME>/`.
- shipped: every model in `pretrained_model/` that has a model card (`<name>.json` beside `<name>.pb`),
  trained by falsr. Their names start with what they were trained on (`t291-…`, T91 + BSDS200), so none
  can be mistaken for the authors' graphs.
A model's name works wherever a MODEL is accepted (`resolve_model_spec`).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from falsr_cli import atomic
from falsr_cli.data import registry
from falsr_cli.errors import FalsrError
from falsr_cli.outputs import claim_output
from falsr_cli.paths import DEFAULT_MODEL
from falsr_cli.reporting import ByteReport

SHIPPED_DIR = Path("pretrained_model")


@dataclass(frozen=True)
class ModelEntry:
    """A model known by name."""

    name: str
    kind: str  # "published" (the authors', downloaded) or "shipped" (trained by falsr, in pretrained_model/)
    description: str
    source: str
    path: Path  # where its .pb is (or will be, once downloaded)

    @property
    def present(self) -> bool:
        return self.path.is_file()

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "description": self.description, "source": self.source,
                "path": str(self.path), "present": self.present}


def shipped_dirs() -> list[Path]:
    """Folders of shipped models: the one beside the package (a source checkout), then ./pretrained_model."""
    found: list[Path] = []
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        folder = base / SHIPPED_DIR
        if folder.is_dir() and all(folder.resolve() != f.resolve() for f in found):
            found.append(folder)
    return found


def _card_description(card: object) -> str | None:
    """What a model card says a shipped model is, or None for a card that is not one (damaged, edited):
    such a model is left out of the names rather than breaking every command that resolves one."""
    if not isinstance(card, dict) or not isinstance(card.get("scores"), dict):
        return None
    figures = ", ".join(f"{d} {v['psnr']:.2f} dB" for d, v in card["scores"].items()
                        if isinstance(v, dict) and isinstance(v.get("psnr"), int | float))
    training = card.get("training")
    steps = training.get("steps_done") if isinstance(training, dict) else None
    what = f"{card.get('architecture_name', '?')} trained by falsr"
    what += f" ({steps} steps)" if isinstance(steps, int) and steps else ""
    return f"{what}; {figures}" if figures else what


def _shipped() -> list[ModelEntry]:
    out: list[ModelEntry] = []
    pbs = [pb for folder in shipped_dirs() for pb in sorted(folder.glob("*.pb"))]
    for pb in pbs:
        if any(e.name == pb.stem for e in out):
            continue  # the checkout's model wins over a copy of the same name
        card_path = pb.with_suffix(".json")
        if not card_path.is_file():
            continue
        try:
            description = _card_description(atomic.read_json(card_path))
        except (FalsrError, OSError):
            continue  # not a card we can read: not listed (make results names the broken card)
        if description is None:
            continue
        if pb.name == DEFAULT_MODEL.name:
            description += " (the default model)"
        out.append(ModelEntry(pb.stem, "shipped", description,
                              "pretrained_model/ (model card " + card_path.name + ")", pb))
    return out


def _published(data_dir: str | os.PathLike | None = None) -> list[ModelEntry]:
    out = []
    for ds in registry.list_models():
        folder = registry.dataset_dir(ds.name, data_dir)
        out.append(ModelEntry(ds.name, "published", ds.description, ds.source_text,
                              folder / ds.files[0].name))
    return out


def list_models(data_dir: str | os.PathLike | None = None) -> list[ModelEntry]:
    """Every model known by name: the published ones first, then the shipped ones."""
    return _published(data_dir) + _shipped()


def find_model(name: str, data_dir: str | os.PathLike | None = None) -> ModelEntry | None:
    """The model of that name (case-insensitive), or None."""
    for entry in list_models(data_dir):
        if entry.name.lower() == str(name).lower():
            return entry
    return None


def get_model(name: str, data_dir: str | os.PathLike | None = None) -> ModelEntry:
    entry = find_model(name, data_dir)
    if entry is None:
        names = ", ".join(e.name for e in list_models(data_dir))
        raise FalsrError(f"unknown model: {name} (known: {names})")
    return entry


def download_model(name: str, data_dir: str | os.PathLike | None = None, mirror: str | None = None,
                   force: bool = False, progress: ByteReport | None = None) -> Path:
    """Fetch a published model (resumable, sha256-checked) into the data folder; return its .pb.

    A shipped model is already here: its path is returned as it is.
    """
    entry = get_model(name, data_dir)
    if entry.kind == "published":
        registry.download(entry.name, data_dir=data_dir, mirror=mirror, force=force, progress=progress)
    elif not entry.present:
        raise FalsrError(f"{entry.name}: {entry.path} is missing from this checkout")
    return entry.path


def copy_model(name: str, to: str | os.PathLike, data_dir: str | os.PathLike | None = None,
               overwrite: bool = False) -> Path:
    """Copy a present model's .pb into the folder `to` (e.g. ./pretrained_model, as the authors' README
    has it); an existing different file there is kept unless `overwrite`."""
    entry = get_model(name, data_dir)
    if not entry.present:
        raise FalsrError(f"{entry.name} is not downloaded; run `falsr model download {entry.name}`")
    folder = Path(to)
    if folder.exists() and not folder.is_dir():
        raise FalsrError(f"--to {to} is a file; give a folder")
    target = folder / entry.path.name
    if target.resolve() == entry.path.resolve():
        return target
    if target.is_file() and atomic.sha256_file(target) == atomic.sha256_file(entry.path):
        return target  # already there, byte for byte
    # With --overwrite, only a copy of a published model (another version of one) is replaced.
    known = {f.sha256 for m in registry.list_models() for f in m.files if f.sha256}
    claim_output(target, overwrite=overwrite, flag="--to",
                 same_kind=lambda p: p.is_file() and atomic.sha256_file(p) in known)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic.atomic_path(target) as tmp:
        shutil.copyfile(entry.path, tmp)
    return target


def resolve_model_spec(spec: str, data_dir: str | os.PathLike | None = None, download: bool = True,
                       on_download: ByteReport | None = None) -> str:
    """A model's name → the path of its .pb (a published one is fetched first, `on_download` following the
    transfer); any other spec unchanged.

    A path that exists always wins over a name, so a file or run folder named like a model still opens.
    """
    spec = str(spec)
    if os.path.exists(spec) or os.sep in spec or "/" in spec or Path(spec).suffix:
        return spec
    entry = find_model(spec, data_dir)
    if entry is None:
        return spec
    if entry.kind == "published" and not entry.present:
        if not download:
            raise FalsrError(f"{entry.name} is not downloaded; run `falsr model download {entry.name}`")
        registry.ensure_dataset(entry.name, data_dir, on_download=on_download)
    return str(entry.path)
