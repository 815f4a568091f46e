"""Speed of `falsr calculate` against a plain TF1-style evaluation loop, measured in the same run.

Baseline (written here): images read with PIL, the frozen graph imported into a tf.compat.v1.Session,
one `session.run` per image, PSNR/SSIM in numpy/scipy (as skimage's structural_similarity), SR saved as PNG.
Candidate: `falsr_cli.runtime.evaluate.calculate` on the same graph and data sets.

Prints both wall times, their ratio, the model-only times and the achieved GFLOP/s of the model part
(2 × mult-adds / model seconds; mult-adds per image from the cost model when it is available, else counted
from the graph's convolutions at each image's size).

    .venv/bin/python benchmarks/evaluate_speed.py [--graph FALSR-A] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

SETS = ("Set5", "Set14")


# ---- baseline -----------------------------------------------------------------------------------


def _baseline_y(rgb: np.ndarray, border: int) -> np.ndarray:
    y = rgb.astype(np.float64) / 255.0 @ np.array([65.481, 128.553, 24.966]) + 16.0
    return np.around(np.clip(y[border:-border, border:-border], 0, 255))


def _baseline_ssim(a: np.ndarray, b: np.ndarray) -> float:
    from scipy.ndimage import gaussian_filter

    def f(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(x, 1.5, truncate=3.5)[5:-5, 5:-5]

    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = f(a), f(b)
    va, vb, cov = f(a * a) - mu_a**2, f(b * b) - mu_b**2, f(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (va + vb + c2))
    return float(s.mean())


def baseline(pb: Path, folders: list[Path], out_dir: Path) -> dict:
    """The plain loop: Session, one image at a time, numpy metrics."""
    import tensorflow as tf
    from PIL import Image

    start, cpu = time.perf_counter(), time.process_time()
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb.read_bytes())
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.import_graph_def(graph_def, name="")
    sess = tf.compat.v1.Session(graph=graph)
    m = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
    model_seconds = 0.0
    scores = {}
    for folder in folders:
        psnrs, ssims = [], []
        (out_dir / folder.name).mkdir(parents=True, exist_ok=True)
        for lr_path in sorted(folder.glob("*_LR.png")):
            lr = np.asarray(Image.open(lr_path).convert("RGB"))
            hr = np.asarray(Image.open(str(lr_path).replace("_LR.png", "_HR.png")).convert("RGB"))
            h, w = lr.shape[:2]
            y = (lr / 255.0 @ m.T)[None, ..., :1]
            up = np.asarray(Image.fromarray(lr).resize((2 * w, 2 * h), Image.BICUBIC))
            pbpr = (up / 255.0 @ m.T)[None, ..., 1:]
            t = time.perf_counter()
            out = sess.run("test_sr_evaluator_i1_b0_g/target:0",
                           {"input_image_evaluate_y:0": y, "input_image_evaluate_pbpr:0": pbpr})
            model_seconds += time.perf_counter() - t
            sr = np.clip(out[0] * 255, 0, 255).astype(np.uint8)
            Image.fromarray(sr).save(out_dir / folder.name / lr_path.name.replace("_LR", "_SR"))
            a, b = _baseline_y(sr, 2), _baseline_y(hr, 2)
            psnrs.append(10 * np.log10(255.0**2 / np.mean((a - b) ** 2)))
            ssims.append(_baseline_ssim(a, b))
        scores[folder.name] = (float(np.mean(psnrs)), float(np.mean(ssims)))
    sess.close()
    return {"seconds": time.perf_counter() - start, "cpu_seconds": time.process_time() - cpu,
            "model_seconds": model_seconds, "scores": scores}


# ---- work of the model part -------------------------------------------------------------------------


def graph_mult_adds(pb: Path, sizes: list[tuple[int, int]]) -> int:
    """Mult-adds of every convolution of the graph, from its static shapes at each LR size."""
    import tensorflow as tf

    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(pb.read_bytes())
    total = 0
    for h, w in sizes:
        with tf.Graph().as_default() as graph:
            y = tf.compat.v1.placeholder(tf.float32, (1, h, w, 1))
            c = tf.compat.v1.placeholder(tf.float32, (1, 2 * h, 2 * w, 2))
            tf.compat.v1.import_graph_def(
                graph_def, {"input_image_evaluate_y:0": y, "input_image_evaluate_pbpr:0": c}, name=""
            )
            for op in graph.get_operations():
                if op.type not in ("Conv2D", "DepthwiseConv2dNative"):
                    continue
                out = op.outputs[0].shape.as_list()
                # Conv2D filters are (kh, kw, cin per group, cout); depthwise (kh, kw, cin, multiplier):
                # either way each output pixel costs kh·kw·(filter's cin)·(last dim) mult-adds.
                kh, kw, cin, last = op.inputs[1].shape.as_list()
                total += out[1] * out[2] * kh * kw * cin * last
    return total


def cost_model_mult_adds(graph: str, sizes: list[tuple[int, int]]) -> int | None:
    """Mult-adds from falsr_cli's cost model for the preset architecture, if that module exists."""
    try:
        from falsr_cli.cost.cost_model import mult_adds
        from falsr_cli.space.architecture import PRESETS
    except ImportError:
        return None
    if graph not in PRESETS:
        return None
    return sum(mult_adds(PRESETS[graph], lr_hw=(h, w)) for h, w in sizes)


# ---- main -----------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--graph", default="FALSR-A")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each; the fastest counts")
    args = parser.parse_args(argv)

    from falsr_cli.data.images import read_rgb
    from falsr_cli.data.registry import ensure_dataset
    from falsr_cli.runtime.evaluate import calculate

    # The reference data sits beside the repository (or where FALSR_SHARED says); falsr itself never reads it.
    beside = Path(__file__).resolve().parents[1] / ".." / "shared"
    shared = Path(os.environ.get("FALSR_SHARED", beside)).resolve()
    pb = shared / "reference" / f"{args.graph}.pb"
    if not pb.is_file():
        print(f"reference graph not found: {pb} (set FALSR_SHARED)", file=sys.stderr)
        return 1
    os.environ["FALSR_DATA_MIRROR"] = str(shared / "datasets" / "benchmark")
    with tempfile.TemporaryDirectory(prefix="falsr-bench-") as tmp:
        tmp = Path(tmp)
        folders = [ensure_dataset(name, data_dir=tmp / "data") for name in SETS]
        import tensorflow  # noqa: F401  (import cost is not part of either side)

        base_runs, cand_runs = [], []
        for i in range(args.repeat):
            base_runs.append(baseline(pb, folders, tmp / f"baseline{i}"))
            t, cpu = time.perf_counter(), time.process_time()
            summary = calculate(pb, tmp / f"calc{i}", list(SETS), data_dir=tmp / "data", progress=False)
            cand_runs.append({"seconds": time.perf_counter() - t, "cpu_seconds": time.process_time() - cpu,
                              "model_seconds": sum(d["model_seconds"] for d in summary["datasets"].values()),
                              "scores": {k: (d["psnr"], d["ssim"]) for k, d in summary["datasets"].items()}})
        base = min(base_runs, key=lambda r: r["seconds"])
        cand = min(cand_runs, key=lambda r: r["seconds"])

        sizes = [read_rgb(p)[0].shape[:2] for f in folders for p in sorted(f.glob("*_LR.png"))]
        counted = graph_mult_adds(pb, sizes)
        modelled = cost_model_mult_adds(args.graph, sizes)
        work = modelled if modelled is not None else counted

    pixels = sum(h * w for h, w in sizes)
    print(f"{args.graph} over {' + '.join(SETS)} ({len(sizes)} images, {pixels} LR pixels)")
    for name in SETS:
        print(f"  {name}: baseline {base['scores'][name][0]:.4f} dB / {base['scores'][name][1]:.5f}, "
              f"calculate {cand['scores'][name][0]:.4f} dB / {cand['scores'][name][1]:.5f}")
    print(f"mult-adds: {work / 1e9:.1f} G ({'cost model' if modelled is not None else 'graph convolutions'}; "
          f"graph convolutions {counted / 1e9:.1f} G)")
    # CPU seconds (all threads of this process) are what other load on the machine disturbs least.
    print(f"{'':24}{'total s':>10}{'CPU s':>10}{'model s':>10}{'GFLOP/s':>10}")
    for label, r in (("baseline (session.run)", base), ("falsr calculate", cand)):
        gflops = 2 * work / r["model_seconds"] / 1e9
        print(f"{label:24}{r['seconds']:10.2f}{r['cpu_seconds']:10.2f}{r['model_seconds']:10.2f}{gflops:10.1f}")
    print(f"ratio calculate/baseline: total {cand['seconds'] / base['seconds']:.3f}, "
          f"CPU {cand['cpu_seconds'] / base['cpu_seconds']:.3f}, "
          f"model {cand['model_seconds'] / base['model_seconds']:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
