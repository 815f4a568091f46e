"""Quantized exports against float32, in one run: file size, PSNR cost (the export's own Set5 check) and
latency in LiteRT with XNNPACK (the runtime a deployer runs a .tflite in).

Each model's `.pb` is exported with `--interface y` at every --quantize (float32 `none` first, the
baseline; kept in --work and reused), then all the files are timed in turns on one LR input (one call of
each per round after warm-up rounds: a VM whose speed drifts slows them alike) and the fastest and median
calls are printed as ratios to float32's. Exports may run under load (`--export-only`); the timing needs
quiet cores.

    .venv/bin/python benchmarks/quantized_speed.py --export-only         # under load
    .venv/bin/python benchmarks/quantized_speed.py                       # quiet: the three -res models
    .venv/bin/python benchmarks/quantized_speed.py --models t291-FALSR-B-res --input 480x360
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from falsr_cli.machine import describe, usable_cores  # noqa: E402

QUANTIZE = ("none", "fp16", "int8", "int8-full")


def export_all(name: str, folder: Path) -> dict[str, dict]:
    """The model's luma exports at every quantization, kept in `folder` (an export already there, with its
    report, is reused): {quantize: {path, bytes, set5_psnr_change, …}}."""
    from falsr_cli.atomic import read_json
    from falsr_cli.export.exporter import export_model, report_path
    from falsr_cli.runtime.open import open_model
    from falsr_cli.runtime.zoo import resolve_model_spec

    pb = resolve_model_spec(name)
    net = None
    out = {}
    for q in QUANTIZE:
        path = folder / f"{Path(pb).stem}.{q}.tflite"
        if not report_path(path).is_file():
            net = net or open_model(pb, engine="keras")
            export_model(net.keras, path, "tflite", interface="y", quantize=q, arch=net.arch, source=pb,
                         val="Set5", overwrite=True)
        report = read_json(report_path(path))
        val = report.get("validation") or {}
        out[q] = {"path": str(path), "bytes": path.stat().st_size, "max_abs_diff": report["max_abs_diff"],
                  "set5_psnr": (val.get("tflite") or {}).get("psnr"),
                  "set5_psnr_change": val.get("psnr_change")}
    return out


def main() -> None:
    from falsr_cli.cost.summary import parse_hw
    from falsr_cli.models.latency import summarise, time_interleaved
    from falsr_cli.models.tflite import TFLiteModel

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="t291-FALSR-B-res,t291-FALSR-A-res,t291-FALSR-C-res")
    ap.add_argument("--input", default="240x240", help="LR input, HxW")
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--work", default="runs/quantized", help="where the exports are kept (and reused)")
    ap.add_argument("--export-only", action="store_true", help="export, do not time (may run under load)")
    ap.add_argument("--out", default="runs/quantized_speed.json")
    args = ap.parse_args()
    hw = parse_hw(args.input)
    threads = usable_cores()
    folder = Path(args.work)
    folder.mkdir(parents=True, exist_ok=True)
    models = {m: export_all(m, folder) for m in args.models.split(",")}
    if args.export_only:
        return
    x = np.random.default_rng(0).random((1, *hw, 1), dtype=np.float32)
    rows = []
    for name, files in models.items():
        runners = {q: TFLiteModel(f["path"], threads) for q, f in files.items()}
        for r in runners.values():
            r(x)  # interpreters made and tensors allocated before any timing
        times = time_interleaved({q: (lambda r=r: r(x)) for q, r in runners.items()}, args.runs, args.warmup)
        base = summarise(times["none"])
        for q, f in files.items():
            s = summarise(times[q])
            rows.append({"model": name, "quantize": q, **{k: v for k, v in f.items() if k != "path"},
                         "bytes_vs_float": f["bytes"] / files["none"]["bytes"], **s,
                         "speedup_min": base["min_ms"] / s["min_ms"],
                         "speedup_median": base["median_ms"] / s["median_ms"], "samples_ms": times[q]})
            print(f"{name:18s} {q:9s} {f['bytes'] / 1e6:6.2f} MB ({rows[-1]['bytes_vs_float']:.2f}x)  "
                  f"Set5 {f['set5_psnr_change']:+.4f} dB  {s['min_ms']:7.1f} ms min, {s['median_ms']:7.1f} "
                  f"median: {rows[-1]['speedup_min']:.2f}x / {rows[-1]['speedup_median']:.2f}x float's speed",
                  flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = {"machine": describe(), "threads": threads, "input": list(hw), "runs": args.runs,
               "warmup": args.warmup, "statistic": "in turns", "rows": rows}
    out.write_text(json.dumps(summary, indent=2))
    print(f"{describe()['cpu']} ({describe()['cpu_generation']}), {threads} threads, {hw[0]}x{hw[1]}: {out}")


if __name__ == "__main__":
    main()
