"""The registry of known data sets and published models, and fetching and checking them locally.

Facts about each set and model (every file's name, size and sha256, and where it is published) live in
the package
file `datasets.json`. Files are fetched from the public source (raw files at a pinned commit, or the
official DIV2K zips) or from the mirror in env FALSR_DATA_MIRROR (a folder or URL laid out
`<NAME>/<file>`). Each download goes to `<file>.part` (kept for resuming with an HTTP Range request), is
checked against its sha256, and only then renamed over the target, so a bad or partial download never
replaces a good file.

Local layout: `<data dir>/<NAME>/<file>` (a model's: `<data dir>/models/<NAME>/<file>`); the data dir is
`--data-dir`, env FALSR_DATA, or ./dataset. Mirrors are laid out `<NAME>/<file>` for both.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

from falsr_cli.atomic import sha256_file
from falsr_cli.data.samples import SAMPLE_IMAGES, SAMPLES, ensure_samples, samples_present, verify_samples
from falsr_cli.data.verify import VerifyReport
from falsr_cli.errors import FalsrError
from falsr_cli.outputs import folder_lock
from falsr_cli.paths import data_dir as resolve_data_dir
from falsr_cli.reporting import ByteReport

__all__ = ["SAMPLES", "VerifyReport", "sha256_file"]  # re-exported: callers name them through the registry

MIRROR_ENV = "FALSR_DATA_MIRROR"
RAW_URL = "https://raw.githubusercontent.com/{repository}/{commit}/{folder}/{file}"
TIMEOUT_SECONDS = 30
_CHUNK = 1 << 16
# A download that brings fewer than STALL_MIN_BYTES in STALL_SECONDS (a mirror sending a byte now and then)
# has stalled: it is stopped with an error rather than left running silently for ever.
STALL_ENV = "FALSR_DOWNLOAD_STALL_SECONDS"
STALL_SECONDS = 60.0
STALL_MIN_BYTES = 16384


def stall_seconds() -> float:
    """The stall window: env FALSR_DOWNLOAD_STALL_SECONDS, else STALL_SECONDS."""
    text = os.environ.get(STALL_ENV, "").strip()
    try:
        value = float(text) if text else STALL_SECONDS
    except ValueError:
        raise FalsrError(f"{STALL_ENV}={text!r} is not a number of seconds") from None
    if not value > 0:
        raise FalsrError(f"{STALL_ENV}={text!r} must be positive")
    return value


@dataclass(frozen=True)
class FileEntry:
    """One file of a data set: its name and, where known, byte size, sha256 and pixel size."""

    name: str
    bytes: int | None = None
    sha256: str | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True)
class Dataset:
    """A registered data set or published model. `kind` is benchmark (LR/HR pairs), train or valid (HR
    only), or model (a published network's files)."""

    name: str
    kind: str
    scale: int | None
    description: str
    source: dict
    files: tuple[FileEntry, ...] = ()
    expect: dict = field(default_factory=dict)
    # A split of another set (e.g. BSDS200-val): its files live in, and are fetched as, the parent's.
    parent: str | None = None

    @property
    def mirror_name(self) -> str:
        """The mirror's folder holding the files: the parent's for a split."""
        return self.parent or self.name

    @property
    def folder_name(self) -> str:
        """The local folder holding the files, under the data dir: models live apart, in models/."""
        return f"models/{self.name}" if self.kind == "model" else self.mirror_name

    @property
    def is_archive(self) -> bool:
        """True for sets published as one zip (DIV2K), checked by names, count and image size."""
        return "archive" in self.source

    @property
    def file_names(self) -> list[str]:
        if self.is_archive:
            first, count = int(self.expect["first"]), int(self.expect["count"])
            return [f"{i:04d}.png" for i in range(first, first + count)]
        return [f.name for f in self.files]

    @property
    def images(self) -> int:
        """Number of images (pairs for a benchmark)."""
        if self.name == SAMPLES:
            return len(SAMPLE_IMAGES)
        n = len(self.file_names)
        return n // 2 if self.kind == "benchmark" else n

    @property
    def total_bytes(self) -> int | None:
        if self.is_archive or not self.files or any(f.bytes is None for f in self.files):
            return None
        return sum(f.bytes or 0 for f in self.files)

    @property
    def source_text(self) -> str:
        s = self.source
        if "repository" in s:
            return f"github {s['repository']}@{s['commit'][:7]}"
        if "url" in s:
            return f"{urllib.parse.urlparse(s['url']).netloc} {s.get('archive', '')}".strip()
        return s.get("text", "")


def _load() -> dict:
    text = resources.files("falsr_cli.data").joinpath("datasets.json").read_text(encoding="utf-8")
    return json.loads(text)


def _entry(name: str, d: dict) -> Dataset:
    return Dataset(name=name, kind=d["kind"], scale=d.get("scale"), description=d.get("description", ""),
                   source=d["source"], files=tuple(FileEntry(**f) for f in d.get("files", [])),
                   expect=d.get("expect", {}))


@lru_cache(maxsize=1)
def _models() -> dict[str, Dataset]:
    return {name: _entry(name, d) for name, d in _load().get("models", {}).items()}


@lru_cache(maxsize=1)
def _registry() -> dict[str, Dataset]:
    raw = _load()["datasets"]
    out: dict[str, Dataset] = {
        SAMPLES: Dataset(
            name=SAMPLES,
            kind="benchmark",
            scale=2,
            description="built-in x2 set: photos shipped with scikit-image, LR by MATLAB-compatible bicubic",
            source={"text": "scikit-image (built in, no download)"},
        )
    }
    for name, d in raw.items():
        if "split_of" in d:
            continue
        out[name] = _entry(name, d)
    for name, d in raw.items():
        if "split_of" in d:
            out[name] = _split(name, out[d["split_of"]], d)
    return out


def _split(name: str, parent: Dataset, d: dict) -> Dataset:
    """A named part of `parent`: `files` lists the names it keeps, or `exclude` those it leaves out."""
    if "files" in d:
        keep = set(d["files"])
    else:
        keep = {f.name for f in parent.files} - set(d["exclude"])
    files = tuple(f for f in parent.files if f.name in keep)
    if len(files) != len(keep):
        raise RuntimeError(f"data set registry: split {name} names files that {parent.name} lacks")
    return Dataset(name=name, kind=d.get("kind", parent.kind), scale=parent.scale,
                   description=d.get("description", ""), source=parent.source, files=files,
                   expect=parent.expect, parent=parent.name)


def list_datasets() -> list[Dataset]:
    """Every registered data set, the built-in `samples` first."""
    return list(_registry().values())


def _find(reg: dict[str, Dataset], name: str) -> Dataset | None:
    if name in reg:
        return reg[name]
    lowered = {k.lower(): v for k, v in reg.items()}
    return lowered.get(str(name).lower())


def find_dataset(name: str) -> Dataset | None:
    """The registered set of that name (case-insensitive), or None."""
    return _find(_registry(), name)


def list_models() -> list[Dataset]:
    """Every registered published model (the authors' FALSR-A/B/C graphs)."""
    return list(_models().values())


def find_model(name: str) -> Dataset | None:
    """The registered published model of that name (case-insensitive), or None."""
    return _find(_models(), name)


def _lookup(name: str) -> Dataset:
    """A data set or published model by name: what fetching and checking work on."""
    found = find_dataset(name) or find_model(name)
    if found is None:
        raise FalsrError(f"unknown data set: {name} (registered: {', '.join(_registry())})")
    return found


def get_dataset(name: str) -> Dataset:
    """The registered set of that name; FalsrError listing the known names otherwise."""
    ds = find_dataset(name)
    if ds is None:
        raise FalsrError(f"unknown data set: {name} (registered: {', '.join(_registry())})")
    return ds


def benchmark_names() -> list[str]:
    """Names of the registered ×2 benchmarks that are downloadable (not the built-in samples)."""
    return [d.name for d in list_datasets() if d.kind == "benchmark" and d.name != SAMPLES]


def dataset_dir(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """The local folder of a data set: `<data dir>/<NAME>` (a split's is its parent's; a model's is
    `<data dir>/models/<NAME>`)."""
    return resolve_data_dir(data_dir) / _lookup(name).folder_name


def _check_file(ds: Dataset, entry: FileEntry | None, path: Path, full: bool) -> str | None:
    """Why a present file is bad, or None if it is fine. `full` also hashes (or decodes the header)."""
    if entry is not None and entry.bytes is not None and path.stat().st_size != entry.bytes:
        return f"size {path.stat().st_size} bytes, expected {entry.bytes}"
    if not full:
        return None
    if entry is not None and entry.sha256:
        got = sha256_file(path)
        return None if got == entry.sha256 else f"sha256 {got[:12]}…, expected {entry.sha256[:12]}…"
    long_side = ds.expect.get("long_side")
    if long_side:
        from falsr_cli.data.images import image_size

        try:
            w, h = image_size(path)
        except FalsrError as e:
            return str(e)
        if max(w, h) != long_side:
            return f"image is {w}x{h}, expected {long_side} pixels on the long side"
    return None


def verify(name: str, data_dir: str | os.PathLike | None = None, full: bool = True) -> VerifyReport:
    """Check every file of a local data set or model (sha256 and size; DIV2K: names, count, image size)."""
    ds = _lookup(name)
    if ds.name == SAMPLES:
        return verify_samples(data_dir)
    folder = dataset_dir(ds.name, data_dir)
    report = VerifyReport(ds.name, folder)
    entries = {f.name: f for f in ds.files}
    for fname in ds.file_names:
        path = folder / fname
        if not path.is_file():
            report.missing.append(fname)
            continue
        reason = _check_file(ds, entries.get(fname), path, full)
        if reason:
            report.bad.append((fname, reason))
        else:
            report.ok.append(fname)
    return report


def is_present(name: str, data_dir: str | os.PathLike | None = None) -> bool:
    """Quick check (names and sizes, no hashing) that a set or model is complete locally."""
    ds = _lookup(name)
    if ds.name == SAMPLES:
        return samples_present(data_dir)
    return verify(ds.name, data_dir, full=False).complete


# ---- fetching ----------------------------------------------------------------------------------


def _mirror() -> str | None:
    value = os.environ.get(MIRROR_ENV, "").strip()
    return value or None


def _is_url(text: str) -> bool:
    try:
        return urllib.parse.urlparse(text).scheme in ("http", "https")
    except ValueError:  # e.g. an unclosed IPv6 bracket: check_mirror has named it
        return False


def check_mirror(mirror: str | None) -> None:
    """Refuse a mirror that is neither a folder path nor a well-formed http(s) or file URL, before any
    fetching."""
    if not mirror or "://" not in mirror:
        return
    try:
        parts = urllib.parse.urlparse(mirror)
    except ValueError as e:
        raise FalsrError(f"mirror {mirror!r} (--mirror or {MIRROR_ENV}) is not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https", "file") or (parts.scheme != "file" and not parts.netloc):
        raise FalsrError(f"mirror {mirror!r} (--mirror or {MIRROR_ENV}) is not a folder or an http(s) URL")


def _source_for(ds: Dataset, fname: str, mirror: str | None) -> str:
    """Where to fetch one file from: the mirror (`<mirror>/<NAME>/<file>`) or the public source."""
    if mirror:
        if _is_url(mirror):
            return f"{mirror.rstrip('/')}/{urllib.parse.quote(ds.mirror_name)}/{urllib.parse.quote(fname)}"
        base = Path(mirror[7:] if mirror.startswith("file://") else mirror).expanduser()
        if ds.kind == "model" and not (base / ds.mirror_name / fname).is_file() and (base / fname).is_file():
            return str(base / fname)  # a folder holding the graphs, e.g. a clone's pretrained_model/
        return str(base / ds.mirror_name / fname)
    if ds.is_archive:
        return ds.source["url"]
    s = ds.source
    return RAW_URL.format(repository=s["repository"], commit=s["commit"], folder=s["folder"], file=fname)


def _network_error(what: str, url: str, err: BaseException) -> FalsrError:
    """One-line error for a failed request, saying plainly when there is no network."""
    host = urllib.parse.urlparse(url).netloc
    reason = getattr(err, "reason", err)
    if isinstance(err, urllib.error.HTTPError):
        return FalsrError(f"cannot download {what}: HTTP {err.code} {err.reason} from {url}")
    if isinstance(
        reason, (socket.gaierror, ConnectionRefusedError, ConnectionResetError, TimeoutError, OSError)
    ):
        return FalsrError(
            f"cannot download {what}: no network connection to {host} ({reason}); "
            f"connect to the internet or set {MIRROR_ENV} to a local copy laid out <NAME>/<file>"
        )
    return FalsrError(f"cannot download {what} from {url}: {reason}")


def _byte_limit(expected: int | None) -> int | None:
    """The most a file may grow to while it is fetched: the registry's size and a small margin."""
    return None if expected is None else expected + max(_CHUNK, expected // 100)


def _stream(read, part: Path, have: int, expected: int | None, what: str, src: str, advance) -> None:
    """Append `read(_CHUNK)` blocks to `part` (from byte `have`; 0 starts it anew), fsynced at the end.

    A source that sends more than the registry's size (plus a margin) is cut off: the file is removed
    and the error names it, so a mirror that streams forever cannot fill the disk. One that sends less
    than STALL_MIN_BYTES in the stall window is stopped (the part stays, a later run resumes it).
    """
    limit = _byte_limit(expected)
    written = have
    stall = stall_seconds()
    window, window_bytes = time.monotonic(), 0
    with open(part, "ab" if have else "wb") as out:
        while chunk := read(_CHUNK):
            window_bytes += len(chunk)
            if time.monotonic() - window >= stall:
                if window_bytes < STALL_MIN_BYTES:
                    raise FalsrError(f"download of {what} from {src} stalled ({window_bytes} bytes in "
                                     f"{stall:g} s); try again later, or set {MIRROR_ENV} to another copy")
                window, window_bytes = time.monotonic(), 0
            written += len(chunk)
            if limit is not None and written > limit:
                out.close()
                part.unlink(missing_ok=True)
                raise FalsrError(f"download of {what} from {src} sent more than {limit:,} bytes for a file "
                                 f"of {expected:,}; stopped and removed")
            out.write(chunk)
            advance(len(chunk))
        out.flush()
        os.fsync(out.fileno())


def _fetch_url(url: str, part: Path, what: str, advance, set_total=None, expected: int | None = None) -> None:
    """Download `url` into `part`, resuming from its current length with an HTTP Range request.

    `set_total(bytes)` is told the full size when the server says it (for a bar over one big file).
    `expected` (the registry's byte count) bounds the file: a source that sends more is cut off there.
    """
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "falsr"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=min(TIMEOUT_SECONDS, stall_seconds()))
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:
            return  # the .part file is already complete; the checksum decides
        raise _network_error(what, url, e) from None
    except (urllib.error.URLError, OSError) as e:
        raise _network_error(what, url, e) from None
    with response:
        resumed = have and response.status == 206
        if not resumed:
            have = 0
        length = response.headers.get("Content-Length")
        if set_total is not None and length and length.isdigit():
            set_total(have + int(length))
        if resumed:
            advance(have)
        try:
            # read1: what has arrived (up to a chunk), so a trickle is seen as one, not waited out.
            _stream(response.read1, part, have, expected, what, url, advance)
        except TimeoutError:
            raise FalsrError(f"download of {what} from {url} stalled (no bytes for "
                             f"{min(TIMEOUT_SECONDS, stall_seconds()):g} s); try again later, or set "
                             f"{MIRROR_ENV} to another copy") from None
        except (urllib.error.URLError, OSError) as e:
            # The partial file stays as .part so a later run resumes it.
            raise _network_error(what, url, e) from None


def _fetch_copy(src: str, part: Path, what: str, advance, expected: int | None = None) -> None:
    src_path = Path(src)
    if not src_path.is_file():
        raise FalsrError(f"cannot download {what}: not in the mirror ({src_path})")
    with open(src_path, "rb") as f:
        _stream(f.read, part, 0, expected, what, src, advance)


def _fetch_verified(
    ds: Dataset, entry: FileEntry | None, fname: str, target: Path, mirror: str | None, advance
) -> None:
    """Fetch one file to `<target>.part`, check it, then rename it over `target`."""
    src = _source_for(ds, fname, mirror)
    part = target.with_name(target.name + ".part")
    what = f"{ds.name}/{fname}"
    target.parent.mkdir(parents=True, exist_ok=True)
    expected = entry.bytes if entry is not None else None
    if _is_url(src):
        _fetch_url(src, part, what, advance, expected=expected)
    else:
        _fetch_copy(src, part, what, advance, expected=expected)
    if entry is not None:
        size = part.stat().st_size
        if entry.bytes is not None and size != entry.bytes:
            if size > entry.bytes:
                part.unlink(missing_ok=True)  # cannot be resumed into the right file
            raise FalsrError(
                f"download of {what} from {src} is {size} bytes, expected {entry.bytes}; try again"
            )
        if entry.sha256:
            got = sha256_file(part)
            if got != entry.sha256:
                part.unlink(missing_ok=True)
                raise FalsrError(
                    f"download of {what} from {src} has a wrong sha256 "
                    f"({got[:12]}…, expected {entry.sha256[:12]}…)"
                )
    os.replace(part, target)


def download(
    name: str,
    data_dir: str | os.PathLike | None = None,
    mirror: str | None = None,
    force: bool = False,
    progress: ByteReport | None = None,
) -> Path:
    """Fetch the missing or bad files of a data set or model (all with `force`); return its folder.

    `mirror` overrides env FALSR_DATA_MIRROR. Files already present and verified are not fetched again.
    `progress(description, bytes done, total or None)` follows the transfer.
    """
    ds = _lookup(name)
    if ds.name == SAMPLES:
        return ensure_samples(data_dir)
    mirror = mirror or _mirror()
    check_mirror(mirror)  # bad settings are refused before anything is fetched
    stall_seconds()
    folder = dataset_dir(ds.name, data_dir)
    # One download per data set folder; the lock lives beside the sets, so their folders hold only files.
    lock = folder.parent / ".locks" / f"{ds.mirror_name}.lock"
    with folder_lock(folder, f"downloading {ds.folder_name}", lock_file=lock):
        return _download_locked(ds, folder, data_dir, mirror, force, progress or _no_report)


def _download_locked(ds: Dataset, folder: Path, data_dir: str | os.PathLike | None, mirror: str | None,
                     force: bool, on_bytes: ByteReport) -> Path:
    if ds.is_archive:
        return _download_archive(ds, folder, mirror, force, on_bytes)
    report = verify(ds.name, data_dir, full=True)
    todo = list(ds.files) if force else [f for f in ds.files if f.name not in set(report.ok)]
    if not todo:
        return folder
    total = sum(f.bytes or 0 for f in todo) or None
    done = 0
    for entry in todo:
        what, start = f"{ds.name} {entry.name}", done
        on_bytes(what, done, total)

        def advance(n: int, what: str = what) -> None:
            nonlocal done
            done += n
            on_bytes(what, done, total)

        _fetch_verified(ds, entry, entry.name, folder / entry.name, mirror, advance)
        done = start + (entry.bytes or 0)  # exact whether the file came whole or resumed
    on_bytes(ds.name, done, total)
    return folder


def _no_report(what: str, done: int, total: int | None) -> None:
    return None


# `ensure_dataset` has a parameter named `download`; this keeps the function reachable there.
_download = download


def _safe_members(zf: zipfile.ZipFile) -> dict[str, zipfile.ZipInfo]:
    """{file name: member} of the images in the archive, refusing paths that escape the folder."""
    members = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        parts = Path(info.filename).parts
        if info.filename.startswith("/") or ".." in parts:
            raise FalsrError(f"unsafe path in archive: {info.filename}")
        if parts and parts[-1].lower().endswith(".png"):
            members[parts[-1]] = info
    return members


def _download_archive(ds: Dataset, folder: Path, mirror: str | None, force: bool,
                      on_bytes: ByteReport) -> Path:
    """Fetch the set's zip (resumable), then extract its images into `folder`, keeping good files."""
    report = verify(ds.name, folder.parent, full=False)
    if report.complete and not force:
        return folder
    archive = ds.source["archive"]
    zip_path = folder.parent / archive
    what = f"{ds.name} ({archive})"
    if not zip_path.is_file():
        src = _source_for(ds, archive, mirror)
        part = zip_path.with_name(zip_path.name + ".part")
        zip_path.parent.mkdir(parents=True, exist_ok=True)
        state = {"done": 0, "total": None}

        def advance(n: int) -> None:
            state["done"] += n
            on_bytes(f"{ds.name} {archive}", state["done"], state["total"])

        if _is_url(src):
            _fetch_url(src, part, what, advance, set_total=lambda total: state.update(total=total))
        else:
            _fetch_copy(src, part, what, advance)
        if not zipfile.is_zipfile(part):
            part.unlink(missing_ok=True)
            raise FalsrError(f"download of {what} from {src} is not a zip archive; try again")
        os.replace(part, zip_path)
    try:
        with zipfile.ZipFile(zip_path) as zf:
            members = _safe_members(zf)
            wanted = ds.file_names
            absent = [n for n in wanted if n not in members]
            if absent:
                raise FalsrError(
                    f"{zip_path} lacks {len(absent)} of the {len(wanted)} expected images "
                    f"(e.g. {absent[0]}); delete it and download again"
                )
            folder.mkdir(parents=True, exist_ok=True)
            keep = set() if force else set(verify(ds.name, folder.parent, full=True).ok)
            for fname in wanted:
                if fname in keep:
                    continue
                part = folder / (fname + ".part")
                with zf.open(members[fname]) as src_f, open(part, "wb") as out:
                    shutil.copyfileobj(src_f, out, 1 << 20)
                reason = _check_file(ds, None, part, full=True)
                if reason:
                    part.unlink(missing_ok=True)
                    raise FalsrError(f"{ds.name}/{fname} in {zip_path}: {reason}")
                os.replace(part, folder / fname)
    except zipfile.BadZipFile as e:
        raise FalsrError(f"{zip_path} is not a valid zip ({e}); delete it and download again") from None
    # The images are out and checked; the zip (GBs for DIV2K) is no longer needed.
    zip_path.unlink(missing_ok=True)
    return folder


def ensure_dataset(name: str, data_dir: str | os.PathLike | None = None, download: bool = True,
                   on_download: ByteReport | None = None) -> Path:
    """The local folder of a data set or model, fetching what is missing first (unless `download` is
    false)."""
    ds = _lookup(name)
    if ds.name == SAMPLES:
        return ensure_samples(data_dir)
    folder = dataset_dir(ds.name, data_dir)
    report = verify(ds.name, data_dir, full=False)
    if report.complete:
        return folder
    if not download:
        problems = len(report.missing) + len(report.bad)
        raise FalsrError(
            f"{ds.name} is not complete in {folder} ({problems} of {len(ds.file_names)} files missing "
            f"or bad); run `falsr {'model' if ds.kind == 'model' else 'dataset'} download {ds.name}` or "
            "allow "
            "downloading"
        )
    return _download(ds.name, data_dir=data_dir, progress=on_download)
