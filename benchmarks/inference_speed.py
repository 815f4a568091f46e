"""CPU inference speed: a plain Keras baseline against `falsr upscale` and `falsr evaluate` in each engine.

For each model (the authors' FALSR-A/B/C by name; fetched through FALSR_DATA_MIRROR when set) and photo
size, in one run on quiet cores:
- baseline, written here: the Keras luma model's `model.predict` on the whole image, as a user would;
- each engine's untiled model-only time (TensorFlow's traced function; XNNPACK, float32 .tflite);
- `falsr upscale` with each engine, each in a fresh subprocess (the fastest of `--repeats` runs on the
  1000×750 photo, one on the big ones): wall time and peak RSS; its output is
  compared with the float model's untiled result (PSNR between the two and the largest pixel difference);
  and as it was before tiles were sized by --memory (`--tile 256`), and on the big photos with a small
  budget (`--memory 250M`);
- untiled model-only times are steady state: the faster of two calls after a first at the same size;
- achieved GFLOP/s (2 × mult-adds / s) of every model-only time, and the ceiling: a plain 3×3, 64→64
  convolution run by XNNPACK at 240×240 on the same threads, measured here too;
- `falsr evaluate` on Set5 with each engine (model seconds), and one search validation (the brief
  evaluator's scoring of BSDS200-val) with each engine.
Ratios are printed against the baseline of the same run; JSON goes to OUT/inference_speed.json.

    .venv/bin/python benchmarks/inference_speed.py [--models FALSR-A,FALSR-B,FALSR-C]
        [--sizes 1000x750] [--big 4000x3000:FALSR-A] [--out runs/inference_speed]
"""

from __future__ import annotations

import argparse
import functools
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1]))
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ENGINES = ("tf", "xnnpack")
# ru_maxrss survives fork and exec (a child would report the benchmark's own peak): VmHWM is this process's.
_CHILD = """
import sys, time
from falsr_cli.cli import main
t = time.perf_counter()
try:
    main(sys.argv[1:], standalone_mode=False)
finally:
    hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
    print("CHILD", time.perf_counter() - t, hwm, file=sys.stderr)
"""


def run_upscale(photo: Path, model: str, engine: str, out: Path, extra: tuple[str, ...] = (),
                repeats: int = 1) -> dict:
    """The fastest of `repeats` runs of `falsr upscale`, each in a fresh process: wall seconds (in the
    process, start-up excluded), peak RSS, and the model-opening and photo parts."""
    runs = [_run_upscale_once(photo, model, engine, out, extra) for _ in range(repeats)]
    return min(runs, key=lambda r: r["seconds"])


def _run_upscale_once(photo: Path, model: str, engine: str, out: Path, extra: tuple[str, ...]) -> dict:
    report = out.with_suffix(".json")
    cmd = [sys.executable, "-c", _CHILD, "upscale", str(photo), "--model", model, "--engine", engine,
           "--out", str(out), "--overwrite", "--json", str(report), *extra]
    p = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    line = [x for x in p.stderr.splitlines() if x.startswith("CHILD ")]
    if p.returncode != 0 or not line:
        raise SystemExit(f"falsr upscale failed ({p.returncode}): {p.stderr[-800:]}")
    _, seconds, rss_kb = line[-1].split()
    done = json.loads(report.read_text())
    report.unlink()
    return {"seconds": float(seconds), "peak_rss_gb": int(rss_kb) / 1e6, "load_seconds": done["load_seconds"],
            "photo_seconds": done["seconds"] - done["load_seconds"], "tile": done["tile"]}


# A plain untiled TensorFlow run of a FALSR .pb on one photo, as a user writes it: the authors' evaluation
# flow in TF2 (PIL's full-range YCbCr, PIL's bicubic for the chroma, one Session.run, a PNG).
PLAIN_TF = """
import sys
import numpy as np
import tensorflow as tf
from PIL import Image
pb, photo, out = sys.argv[1:4]
ycc = Image.open(photo).convert("YCbCr")
w, h = ycc.size
y = np.asarray(ycc, np.float32)[None, :, :, :1] / 255.0
pbpr = np.asarray(ycc.resize((2 * w, 2 * h), Image.BICUBIC), np.float32)[None, :, :, 1:] / 255.0 - 0.5
graph_def = tf.compat.v1.GraphDef()
graph_def.ParseFromString(open(pb, "rb").read())
with tf.Graph().as_default() as g:
    tf.import_graph_def(graph_def, name="")
    with tf.compat.v1.Session(graph=g) as s:
        sr = s.run("test_sr_evaluator_i1_b0_g/target:0",
                   {"input_image_evaluate_y:0": y, "input_image_evaluate_pbpr:0": pbpr})
Image.fromarray(np.clip(np.round(sr[0] * 255), 0, 255).astype(np.uint8)).save(out)
"""


def process_seconds(cmd: list[str], repeats: int) -> float:
    """The fastest wall time of `repeats` fresh processes of `cmd`, whole: start-up, imports, model, photo."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
        p = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if p.returncode != 0:
            raise SystemExit(f"{cmd[:3]} failed ({p.returncode}): {p.stderr[-800:]}")
        best = min(best, time.perf_counter() - t)
    return best


def command_row(name: str, photo: Path, tmp: Path, repeats: int,
                variants: dict[str, list[str]] | None = None) -> dict:
    """`falsr upscale` (its defaults: --engine auto, --memory auto) against the plain TensorFlow script,
    both as commands; each of `variants` (label → extra upscale options) timed the same way beside them."""
    from falsr_cli.models.engine import faster_cpu_engine
    from falsr_cli.runtime.zoo import resolve_model_spec

    pb = resolve_model_spec(name)
    falsr = [sys.executable, "-m", "falsr_cli", "upscale", str(photo), "--model", pb, "--out",
             str(tmp / "o-command"), "--overwrite"]
    first = process_seconds(falsr, 1)  # a .pb's first run with XNNPACK converts it (cached for the next)
    plain = process_seconds([sys.executable, "-c", PLAIN_TF, pb, str(photo), str(tmp / "plain.png")], repeats)
    steady = process_seconds(falsr, repeats)
    row = {"plain_tf_script_s": plain, "falsr_upscale_first_s": first, "falsr_upscale_s": steady,
           "falsr_upscale_vs_plain": steady / plain, "engine_choice": faster_cpu_engine()}
    if variants:
        row["variants"] = {}
    for label, extra in (variants or {}).items():
        s = process_seconds([*falsr, *extra], repeats)
        row["variants"][label] = {"options": extra, "seconds": s, "vs_plain": s / plain}
    return row


def first_runs(photo: Path, tmp: Path, repeats: int, others: list[Path] = ()) -> list[dict]:
    """`falsr upscale` with the default model in fresh processes, each with an empty machine cache
    (FALSR_CACHE): `shipped` — the engine choice known, the shipped .y.tflite standing in for the .pb's
    conversion; `converted` — the same .pb copied without it (imported and converted); `cold` — nothing
    known (the engine choice is measured first). `others`: more shipped models, in the `shipped` case."""
    import shutil

    from falsr_cli.models.engine import engine_choice_file, faster_cpu_engine
    from falsr_cli.paths import DEFAULT_MODEL

    # measured (or read) once here, and copied into the caches that know it
    choice_file, choice = engine_choice_file().name, json.dumps(faster_cpu_engine())
    bare = tmp / "bare"
    bare.mkdir(exist_ok=True)
    for suffix in (".pb", ".pb.json"):
        shutil.copy(DEFAULT_MODEL.with_suffix(suffix), bare / DEFAULT_MODEL.with_suffix(suffix).name)
    rows = []
    cases = [("shipped", DEFAULT_MODEL, True), ("converted", bare / DEFAULT_MODEL.name, True),
             ("cold", DEFAULT_MODEL, False), *(("shipped", pb, True) for pb in others)]
    for run in range(repeats):
        for case, model, engine_known in cases:
            cache = tmp / f"cache-{case}-{run}"
            shutil.rmtree(cache, ignore_errors=True)
            cache.mkdir()
            if engine_known:
                (cache / choice_file).write_text(choice)
            report = tmp / f"first-{case}-{run}.json"
            cmd = [sys.executable, "-m", "falsr_cli", "upscale", str(photo), "--model", str(model), "--out",
                   str(tmp / f"o-first-{case}"), "--overwrite", "--json", str(report)]
            env = {k: v for k, v in os.environ.items() if k != "FALSR_DATA"}
            t = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env={**env, "FALSR_CACHE": str(cache),
                                                                    "TF_CPP_MIN_LOG_LEVEL": "3"})
            r = json.loads(report.read_text())
            rows.append({"case": case, "model": model.stem, "run": run, "wall_s": time.perf_counter() - t,
                         "load_seconds": r["load_seconds"], "seconds": r["seconds"], "engine": r["engine"]})
            print(f"{case:9s} {model.stem:18s} run {run}: {rows[-1]['wall_s']:.2f} s, opening "
                  f"{r['load_seconds']:.2f} s ({r['engine']})", flush=True)
    return rows


def conv_ceiling(threads: int) -> float:
    """GFLOP/s of one 3×3, 64→64 convolution (+ bias, ReLU) at 240×240 in XNNPACK: what the runtime gives
    the most regular layer of these networks here."""
    from falsr_cli.cost.latency_model import Op
    from falsr_cli.models.latency import op_runners, summarise, time_calls

    op = Op("conv", 3, 64, 64, relu=True)
    run = op_runners([op], "xnnpack", threads, (240, 240))[op.key]
    ms = summarise(time_calls(run, 30, 5))["median_ms"]
    return 2 * 3 * 3 * 64 * 64 * 240 * 240 / (ms / 1000) / 1e9


def timed(fn, *args, warm: bool = False) -> float:
    """Seconds of one call; `warm`: after a first call at the same shape (kernels, buffers, packed weights
    made), the faster of two more: the engine's steady-state model time."""
    if warm:
        fn(*args)
        return min(timed(fn, *args) for _ in range(2))
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


# `falsr upscale` as it was before tiles were sized by memory (256 a side), and with a small budget.
VARIANTS = {"tile256": ("tf", ("--tile", "256")), "memory250M": ("tf", ("--memory", "250M"))}


def main() -> None:
    from PIL import Image
    from upscale_memory import synthetic_photo

    from falsr_cli.cost.cost_model import mult_adds
    from falsr_cli.data import metrics
    from falsr_cli.machine import describe, usable_cores
    from falsr_cli.models.engine import cached_tflite, keras_luma_fn
    from falsr_cli.models.network import SRNet, falsr_inputs
    from falsr_cli.models.tflite import TFLiteModel
    from falsr_cli.paths import DEFAULT_MODEL
    from falsr_cli.runtime.evaluate import evaluate_model
    from falsr_cli.runtime.open import open_model
    from falsr_cli.train.brief import validation_set
    from falsr_cli.train.pipeline import make_upscaler, validate_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="FALSR-A,FALSR-B,FALSR-C")
    ap.add_argument("--sizes", default="1000x750")
    ap.add_argument("--big", default="4000x3000:FALSR-A", help="SIZE:MODEL,… upscaled only (no baseline)")
    ap.add_argument("--out", default="runs/inference_speed")
    ap.add_argument("--command-only", action="store_true",
                    help="only `falsr upscale` against the plain TensorFlow script, whole commands")
    ap.add_argument("--first-run", action="store_true",
                    help="only the default model's first runs: shipped conversion, converted, cold machine")
    ap.add_argument("--all-shipped", action="store_true",
                    help="with --first-run: every other .pb in pretrained_model/ too, with its shipped "
                         "conversion")
    ap.add_argument("--variants", default="",
                    help="with --command-only: LABEL=OPTIONS;… more `falsr upscale` runs timed beside the "
                         "default one, e.g. 'memory1G=--memory 1G;tf=--engine tf'")
    ap.add_argument("--repeats", type=int, default=3,
                    help="upscale runs per figure on the --sizes photos, the fastest kept (run-to-run spread "
                         "of a fresh process is about 10%%)")
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.first_run:
        tmp = Path(tempfile.mkdtemp(prefix="falsr-first-"))
        photo = tmp / "photo_1000x750.png"
        Image.fromarray(synthetic_photo(1000, 750)).save(photo)
        others = sorted(p for p in DEFAULT_MODEL.parent.glob("*.pb") if p != DEFAULT_MODEL)
        rows = first_runs(photo, tmp, args.repeats, others if args.all_shipped else [])
        (out / "upscale_first_run.json").write_text(json.dumps({"machine": describe(), "rows": rows},
                                                               indent=2))
        return
    threads = usable_cores()
    ceiling = conv_ceiling(threads)
    print(f"{describe()['cpu']}, {threads} threads; XNNPACK 3x3 64->64 conv at 240x240: "
          f"{ceiling:.1f} GFLOP/s", flush=True)
    report: dict = {"machine": describe(), "threads": threads, "conv_ceiling_gflops": ceiling, "rows": []}
    jobs = [(m, s, True) for m in args.models.split(",") for s in args.sizes.split(",")]
    jobs += [(m, s, False) for item in filter(None, args.big.split(",")) for s, m in [item.split(":")]]
    tmp = Path(tempfile.mkdtemp(prefix="falsr-speed-"))
    for name, size, full in jobs:
        w, h = (int(v) for v in size.lower().split("x"))
        photo = tmp / f"photo_{w}x{h}.png"
        if not photo.exists():
            Image.fromarray(synthetic_photo(w, h)).save(photo)
        # The fresh `falsr upscale` processes run first, while this process holds no model (its own
        # TensorFlow and XNNPACK thread pools stay idle then).
        row: dict = {"model": name, "size": [w, h]}
        if full:
            variants = {label: extra.split() for item in filter(None, args.variants.split(";"))
                        for label, _, extra in [item.partition("=")]}
            row.update(command_row(name, photo, tmp, args.repeats, variants))
            choice = row["engine_choice"]
            print(f"{name} {w}x{h}: falsr upscale {row['falsr_upscale_s']:.2f} s (first run "
                  f"{row['falsr_upscale_first_s']:.2f} s), plain TensorFlow script "
                  f"{row['plain_tf_script_s']:.2f} s: {row['falsr_upscale_vs_plain']:.2f}x; auto chose "
                  f"{choice['choice']} (tf {choice['tf_ms']:.0f} ms, xnnpack {choice['xnnpack_ms']:.0f} "
                  "ms for FALSR-B at 240x240)", flush=True)
            for label, v in row.get("variants", {}).items():
                print(f"   {label} ({' '.join(v['options'])}): {v['seconds']:.2f} s, {v['vs_plain']:.2f}x",
                      flush=True)
        if args.command_only:
            report["rows"].append(row)
            continue
        for engine in ENGINES:
            r = run_upscale(photo, name, engine, tmp / f"o-{engine}", repeats=args.repeats if full else 1)
            row[f"upscale_{engine}_s"], row[f"upscale_{engine}_rss_gb"] = r["seconds"], r["peak_rss_gb"]
            row[f"upscale_{engine}_load_s"] = r["load_seconds"]
            row[f"upscale_{engine}_photo_s"] = r["photo_seconds"]
            row[f"upscale_{engine}_tile"] = r["tile"]
        for label, (engine, extra) in VARIANTS.items():
            if (label == "tile256") == full:  # the old tiles on the 1000x750 rows, the budget on the big ones
                r = run_upscale(photo, name, engine, tmp / f"o-{label}", extra, args.repeats if full else 1)
                row[f"upscale_{label}_s"], row[f"upscale_{label}_rss_gb"] = r["seconds"], r["peak_rss_gb"]
                row[f"upscale_{label}_photo_s"], row[f"upscale_{label}_tile"] = r["photo_seconds"], r["tile"]
        loaded = open_model(name, engine="keras")
        macs = mult_adds(loaded.arch, (h, w))
        row["mult_adds"] = macs
        if full:
            rgb = np.asarray(Image.open(photo).convert("RGB"))
            y, _ = falsr_inputs(rgb, 2)
            row["baseline_predict_s"] = timed(functools.partial(loaded.keras.predict, verbose=0), y)
            tf_fn = keras_luma_fn(loaded.keras)
            tf_fn(y[:, :64, :64])  # trace once
            row["tf_untiled_s"] = timed(tf_fn, y, warm=True)
            t = time.perf_counter()
            content = cached_tflite(loaded.keras)
            row["xnnpack_convert_s"] = time.perf_counter() - t
            xnn = TFLiteModel(content, threads)
            xnn(y[:, :64, :64])
            row["xnnpack_untiled_s"] = timed(xnn, y, warm=True)
            reference = SRNet("tf", 2, luma=tf_fn).upscale(rgb)  # the float model's untiled result
            for engine in ENGINES:
                got = np.asarray(Image.open(tmp / f"o-{engine}" / f"{photo.stem}_x2.png").convert("RGB"))
                # PSNR of the RGB pixels (all three channels) against the float model's untiled result
                row[f"upscale_{engine}_psnr_vs_float"] = metrics.psnr(got.astype(np.float64),
                                                                      reference.astype(np.float64))
                row[f"upscale_{engine}_max_diff"] = int(np.abs(got.astype(int) - reference.astype(int)).max())
        if full:
            for k in ("baseline_predict_s", "tf_untiled_s", "xnnpack_untiled_s"):
                row[k.replace("_s", "_gflops")] = 2 * macs / row[k] / 1e9
            row["xnnpack_rate_of_ceiling"] = row["xnnpack_untiled_gflops"] / ceiling
            if name == "FALSR-B":
                valset = validation_set("BSDS200-val", 2)
                for engine in ENGINES:
                    r = evaluate_model(name, "Set5", progress=False, engine=engine)
                    row[f"evaluate_set5_{engine}_model_s"] = r["model_seconds"]
                    # one search validation: the brief evaluator scores a fresh candidate (with conversion)
                    t = time.perf_counter()
                    psnr, _, _ = validate_model(loaded.keras, valset,
                                                upscaler=make_upscaler(loaded.keras, 2, engine))
                    row[f"search_validation_{engine}_s"] = time.perf_counter() - t
                    row[f"search_validation_{engine}_psnr"] = psnr
                # A candidate trained in bfloat16 (precision auto on a CPU with native BF16) is scored as it
                # was trained: the same weights in a mixed_bfloat16 model.
                from falsr_cli.machine import cpu_flags
                from falsr_cli.train.config import auto_precision
                from falsr_cli.train.trainer import build_model

                if auto_precision(cpu_flags()) == "bfloat16":
                    bf16 = build_model(loaded.arch, "bfloat16")
                    bf16.set_weights(loaded.keras.get_weights())
                    t = time.perf_counter()
                    psnr, _, _ = validate_model(bf16, valset, upscaler=make_upscaler(bf16, 2, "tf"))
                    row["search_validation_bf16_s"] = time.perf_counter() - t
                    row["search_validation_bf16_psnr"] = psnr
        report["rows"].append(row)
        loaded = tf_fn = xnn = None  # noqa: F841 (the next photo's upscale processes run with this one idle)
        gc.collect()
        print(json.dumps(row), flush=True)
    (out / "inference_speed.json").write_text(json.dumps(report, indent=2) + "\n")

    if args.command_only:
        return
    print(f"\n{describe()['cpu']}, {threads} threads (ratios: baseline time / time)")
    for r in report["rows"]:
        w, h = r["size"]
        head = f"{r['model']} {w}x{h}"
        if "baseline_predict_s" in r:
            b = r["baseline_predict_s"]
            print(f"{head}: baseline predict {b:.2f} s ({r['baseline_predict_gflops']:.0f} GFLOP/s); "
                  f"untiled tf {r['tf_untiled_s']:.2f} s ({r['tf_untiled_gflops']:.0f}), xnnpack "
                  f"{r['xnnpack_untiled_s']:.2f} s ({r['xnnpack_untiled_gflops']:.0f}, "
                  f"{100 * r['xnnpack_rate_of_ceiling']:.0f}% of the conv ceiling)")
            for e in ENGINES:
                up, photo = r[f"upscale_{e}_s"], r[f"upscale_{e}_photo_s"]
                print(f"    upscale --engine {e} (tile {r[f'upscale_{e}_tile']}): {up:.2f} s "
                      f"({b / up:.2f}x baseline; opening the model "
                      f"{r[f'upscale_{e}_load_s']:.2f} s, the photo {photo:.2f} s = "
                      f"{photo / r[f'{e}_untiled_s']:.2f}x the untiled model time), "
                      f"peak RSS {r[f'upscale_{e}_rss_gb']:.2f} GB, PSNR vs float "
                      f"{r[f'upscale_{e}_psnr_vs_float']:.2f} dB, max diff {r[f'upscale_{e}_max_diff']}")
            if "upscale_tile256_s" in r:
                old = r["upscale_tile256_s"]
                print(f"    upscale --engine tf --tile 256 (before): {old:.2f} s, the photo "
                      f"{r['upscale_tile256_photo_s']:.2f} s, peak RSS {r['upscale_tile256_rss_gb']:.2f} GB; "
                      f"now {old / r['upscale_tf_s']:.2f}x faster")
        else:
            for e in ENGINES:
                print(f"{head}: upscale --engine {e} (tile {r[f'upscale_{e}_tile']}): "
                      f"{r[f'upscale_{e}_s']:.1f} s, peak RSS {r[f'upscale_{e}_rss_gb']:.2f} GB")
            if "upscale_memory250M_s" in r:
                print(f"{head}: upscale --engine tf --memory 250M (tile {r['upscale_memory250M_tile']}): "
                      f"{r['upscale_memory250M_s']:.1f} s, peak RSS {r['upscale_memory250M_rss_gb']:.2f} GB")
        for e in ENGINES:
            if f"search_validation_{e}_s" in r:
                print(f"{head}: Set5 evaluate --engine {e}: {r[f'evaluate_set5_{e}_model_s']:.2f} s model "
                      "time; "
                      f"one search validation (BSDS200-val): {r[f'search_validation_{e}_s']:.2f} s, "
                      f"{r[f'search_validation_{e}_psnr']:.4f} dB")
        if "search_validation_bf16_s" in r:
            print(f"{head}: one search validation of a bfloat16-trained candidate: "
                  f"{r['search_validation_bf16_s']:.2f} s "
                  f"({r['search_validation_tf_s'] / r['search_validation_bf16_s']:.2f}x the float32 one), "
                  f"{r['search_validation_bf16_psnr']:.4f} dB")
    print(f"wrote {out / 'inference_speed.json'}")


if __name__ == "__main__":
    main()
