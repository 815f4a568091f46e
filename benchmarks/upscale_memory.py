"""Peak memory and time of `falsr upscale` on a large photo, tiled and untiled, in one run.

A synthetic 4000×3000 photo (gradients, edges, texture and noise) is upscaled ×2 by a FALSR-A-shaped
network (random weights: the cost does not depend on their values) three times, each in a fresh
subprocess so that peak RSS is that run's alone: `baseline` (the model loaded, no image), `tiled`
(--tile 256, overlap = receptive field) and `untiled` (--tile 0). The untiled run is stopped when its
resident memory passes --cap-gb, so that it cannot take the machine down; it is then reported as
"> cap". Figures are printed as ratios to the baseline and to the tiled run, and written as JSON.

    .venv/bin/python benchmarks/upscale_memory.py                      # 4000x3000, FALSR-A shape
    .venv/bin/python benchmarks/upscale_memory.py --size 1000x750 --cap-gb 12
    .venv/bin/python benchmarks/upscale_memory.py --model pretrained_model/FALSR-A.pb
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def synthetic_photo(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A photo-like uint8 RGB image: smooth light, hard edges, fine texture and sensor noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.empty((height, width, 3), np.float32)
    for c, (fy, fx) in enumerate([(1.0, 0.7), (0.6, 1.3), (1.7, 0.4)]):
        img[..., c] = 110 + 70 * np.sin(yy * fy * 6 / height) * np.cos(xx * fx * 6 / width)
    img += 40 * ((xx // 97 + yy // 61) % 2)[..., None]  # edges
    img += 12 * np.sin(xx * 0.9)[..., None] * np.sin(yy * 1.3)[..., None]  # texture
    img += rng.normal(0, 4, img.shape).astype(np.float32)  # noise
    return np.clip(img, 0, 255).astype(np.uint8)


def child(mode: str, image: str, out: str, model: str | None, tile: int) -> None:
    """Runs in the measured subprocess: load the model, upscale (unless baseline), print JSON."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from falsr_cli.models.network import SRNet
    from falsr_cli.runtime.open import open_model
    from falsr_cli.runtime.upscale import upscale_files

    start = time.perf_counter()
    if model:
        sr = open_model(model)
    else:
        from falsr_cli.models.builder import build_luma_model
        from falsr_cli.space.architecture import PRESETS

        arch = PRESETS["FALSR-A"]
        sr = SRNet.from_keras(build_luma_model(arch, seed=0), arch, name="FALSR-A-shaped")
    loaded = time.perf_counter() - start
    seconds = 0.0
    if mode != "baseline":
        start = time.perf_counter()
        result = upscale_files(
            [image], sr, out, tile=tile if mode == "tiled" else 0, overwrite=True, progress=False
        )
        seconds = time.perf_counter() - start
        if result["failed"]:
            raise SystemExit(f"upscale failed: {result['failed']}")
    print(json.dumps({"load_seconds": loaded, "seconds": seconds, "receptive_field": sr.receptive_field}))


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def measure(mode: str, image: Path, out: Path, model: str | None, tile: int, cap_kb: int) -> dict:
    """Run one child; its own peak RSS (wait4), wall time, and whether it was stopped at the cap."""
    cmd = [
        sys.executable,
        str(HERE),
        "--child",
        mode,
        "--image",
        str(image),
        "--out",
        str(out),
        "--tile",
        str(tile),
    ]
    if model:
        cmd += ["--model", model]
    start = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out_f, tempfile.TemporaryFile("w+") as err_f:
        proc = subprocess.Popen(cmd, stdout=out_f, stderr=err_f, text=True)
        capped = False
        # Reap the child ourselves (wait4) to get its own peak RSS; Popen.poll would reap it first.
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if _rss_kb(proc.pid) > cap_kb:
                proc.kill()
                capped = True
                _, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - start
        out_f.seek(0)
        err_f.seek(0)
        stdout, stderr = out_f.read(), err_f.read()
    peak_kb = usage.ru_maxrss
    row: dict = {"mode": mode, "peak_rss_mb": peak_kb / 1024, "wall_seconds": wall, "stopped_at_cap": capped}
    if not capped:
        lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            row["error"] = (stderr.strip().splitlines() or ["no output"])[-1]
        else:
            row.update(json.loads(lines[-1]))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="4000x3000", help="LR photo WIDTHxHEIGHT (default 4000x3000)")
    parser.add_argument("--tile", type=int, default=256)
    parser.add_argument("--cap-gb", type=float, default=6.0, help="stop a run whose RSS passes this (GB)")
    parser.add_argument("--model", default=None, help="a MODEL for upscale (default: FALSR-A shape, random)")
    parser.add_argument("--json", default=None, help="also write the figures here")
    parser.add_argument("--child", choices=["baseline", "tiled", "untiled"], help=argparse.SUPPRESS)
    parser.add_argument("--image", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.image, args.out, args.model, args.tile)
        return
    from PIL import Image

    width, height = (int(v) for v in args.size.lower().split("x"))
    cap_kb = int(args.cap_gb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="falsr-bench-") as tmp:
        image = Path(tmp) / "photo.png"
        Image.fromarray(synthetic_photo(width, height)).save(image, compress_level=1)
        rows = [
            measure(m, image, Path(tmp) / m, args.model, args.tile, cap_kb)
            for m in ("baseline", "tiled", "untiled")
        ]
    base, tiled, untiled = rows
    print(
        f"upscale x2 of a {width}x{height} photo, {args.model or 'FALSR-A-shaped model (random weights)'}, "
        f"tile {args.tile}, pad = receptive field {tiled.get('receptive_field')}"
    )
    print(f"{'run':<9} {'peak RSS MB':>12} {'x baseline':>11} {'upscale s':>10} {'x tiled':>8}")
    for r in rows:
        capped = r["stopped_at_cap"]
        rss = f"> {args.cap_gb * 1024:.0f}" if capped else f"{r['peak_rss_mb']:.0f}"
        ratio = "-" if capped else f"{r['peak_rss_mb'] / base['peak_rss_mb']:.2f}"
        secs = r.get("seconds")
        time_text = (f"> {r['wall_seconds']:.0f}" if capped else "-") if secs is None else f"{secs:.1f}"
        speed = "-" if not secs or not tiled.get("seconds") else f"{secs / tiled['seconds']:.2f}"
        note = " (stopped at the memory cap)" if capped else ""
        if "error" in r:
            note = f" (failed after {r['wall_seconds']:.0f} s: {r['error'].strip()})"
        print(f"{r['mode']:<9} {rss:>12} {ratio:>11} {time_text:>10} {speed:>8}{note}")
    if args.json:
        Path(args.json).write_text(
            json.dumps({"size": [width, height], "tile": args.tile, "runs": rows}, indent=2)
        )


if __name__ == "__main__":
    main()
