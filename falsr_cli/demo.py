"""`falsr demo`: the whole product on the built-in `samples` data, offline, in a few minutes on 2 CPU cores.

Search (demo preset) → train the front's most accurate member briefly → export it as a FALSR-interface .pb
→ evaluate it, bicubic and the default pretrained model (DEFAULT_MODEL, when present) on `samples` → one
comparison table.
Every step goes through the same Python API the commands use; results go to `<out>/demo.json`.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from falsr_cli import atomic
from falsr_cli.outputs import claim_output, json_kind
from falsr_cli.paths import DEFAULT_MODEL
from falsr_cli.reporting import BarFactory

PRETRAINED = DEFAULT_MODEL  # the best shipped model, for comparison (in this folder)
TRAIN_STEPS = 1000  # the searched network's training: about 40 s on 2 CPU cores
# What a demo folder holds; a folder with anything else is not a previous demo and is never written into.
DEMO_FILES = frozenset({"search", "train", "demo-best.pb", "demo-best.pb.json", "demo.json", ".falsr.lock"})
is_demo_summary = json_kind("searched_minus_bicubic_db", "evaluation", "export")


def _is_demo_folder(folder: Path) -> bool:
    return all(p.name in DEMO_FILES for p in folder.iterdir())


def claim_demo(out: str | os.PathLike) -> None:
    """The output policy for a demo folder, before any work: a new folder, or a previous demo's (which a
    re-run resumes and refreshes); its files are replaced only when they are the demo's own."""
    from falsr_cli.export.exporter import claim_export  # deferred, as in run_demo

    out = Path(out)
    claim_output(out, folder=True, overwrite=True, same_kind=_is_demo_folder)
    claim_export(out / "demo-best.pb", "pb", overwrite=True, inputs=[out / "train"])
    claim_output(out / "demo.json", overwrite=True, same_kind=is_demo_summary)


def best_member(front: list[dict]) -> int:
    """Index of the front member with the highest PSNR (ties: fewer mult-adds)."""
    if not front:
        from falsr_cli.errors import FalsrError

        raise FalsrError("the demo search produced an empty front")
    return max(range(len(front)), key=lambda i: (front[i]["psnr"], -front[i]["mult_adds"]))


def run_demo(
    out: str | os.PathLike = "demo_out",
    *,
    train_steps: int = TRAIN_STEPS,
    data_dir: str | os.PathLike | None = None,
    say=print,
    progress: BarFactory | None = None,
) -> dict[str, Any]:
    """Run the demo into `out`; returns (and writes to demo.json) what each step produced.

    `say` receives every line to show, `progress` (a factory like `falsr_cli.console.progress`) draws the
    training's bar when given.
    """
    # Deferred: `falsr demo --help` imports this module (TRAIN_STEPS); these load half of falsr.
    from falsr_cli.export.exporter import export_model
    from falsr_cli.runtime.evaluate import evaluate_model
    from falsr_cli.search import resolve_config, run_search
    from falsr_cli.train import TrainConfig, train
    from falsr_cli.train.runs import load_trained_model

    out = Path(out)
    t0 = time.perf_counter()
    data_dir = str(data_dir) if data_dir else None
    claim_demo(out)

    say("[1/4] search: NSGA-II + RL over a 3-cell space, candidates trained briefly on `samples`")
    overrides: dict[str, Any] = {"out": str(out / "search")}
    if data_dir:
        overrides["data_dir"] = data_dir
    cfg = resolve_config(overrides, preset="demo")
    result = run_search(cfg, log=say, on_generation=lambda h: say(
        f"  generation {h['generation']}: {h['trained'] - h['failed']} trained, {h['failed']} failed; "
        f"front {h['front']}; best PSNR {h['best_psnr']:.3f} dB" if h["best_psnr"] is not None else
        f"  generation {h['generation']}: no candidate trained"))
    k = best_member(result.front)
    member = result.front[k]

    say(f"[2/4] train: front member #{k} ({member['text']}) for {train_steps} steps")
    run_dir = out / "train"
    train(TrainConfig(arch=f"{out / 'search' / 'pareto.json'}#{k}", data="samples", val="samples",
                      steps=train_steps, out=str(run_dir), batch=8, patch=48, lr=2e-3, schedule="cosine",
                      warmup=50, val_every=250, ckpt_every=250, log_every=50, data_dir=data_dir),
          progress=progress)

    say("[3/4] export: frozen graph with the published FALSR interface")
    arch, model = load_trained_model(run_dir)
    pb = out / "demo-best.pb"
    # The demo's own folder: a re-run replaces the export it made before.
    report = export_model(model, pb, "pb", arch=arch, source=str(run_dir), overwrite=True, inputs=[run_dir])

    say("[4/4] evaluate on `samples` with the paper's protocol")
    models = [("bicubic", "bicubic"), (f"searched #{k}, {train_steps} steps", str(pb))]
    if PRETRAINED.exists():
        models.append((f"pretrained {PRETRAINED.stem}", str(PRETRAINED)))
    rows = []
    for label, spec in models:
        r = evaluate_model(spec, "samples", data_dir=data_dir)
        rows.append({"model": label, "spec": spec, "psnr": r["psnr"], "ssim": r["ssim"],
                     "images_per_second": r["images_per_second"]})
    searched = rows[1]["psnr"] - rows[0]["psnr"]
    summary = {
        "out": str(out),
        "searched_minus_bicubic_db": searched,
        "search": {"front": result.front, "pareto_json": str(out / "search" / "pareto.json"),
                   "pareto_png": str(out / "search" / "pareto.png")},
        "trained": {"member": k, "text": member["text"], "run": str(run_dir), "steps": train_steps},
        "export": {"pb": str(pb), "max_abs_diff": report.max_abs_diff},
        "pretrained": str(PRETRAINED) if PRETRAINED.exists() else None,
        "evaluation": rows,
        "seconds": time.perf_counter() - t0,
    }
    atomic.write_json(out / "demo.json", summary)
    return summary
