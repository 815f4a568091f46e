"""Does starting the output conv at zero pay? He init's small output draw against zero, by steps.

Both variants train the same architecture from the same He-normal weights — `near-zero` as `--init he`,
`zero` with the output conv's kernel set to zero (what `he-zero`, the default, does in a network with the
image-level residual; the plain networks keep `near-zero`, measured better there) — on falsr's data order
(T91 + BSDS200-train, keyed by seed and step), batch 16, patch 64, `falsr train`'s learning-rate recipe
for `--steps`, in `--precision`; BSDS200-val PSNR (the selection split) at each of `--points`. Quality at
a step count does not depend on machine load. Rows stream to OUT (JSONL).

    .venv/bin/python benchmarks/output_init.py --arch FALSR-B-res --steps 1000 --points 50,100,200,400,1000
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def main() -> None:
    from falsr_cli.space.architecture import load_architecture
    from falsr_cli.train.brief import training_images, validation_set
    from falsr_cli.train.config import TrainConfig
    from falsr_cli.train.pipeline import PatchSampler, make_upscaler, validate_model
    from falsr_cli.train.trainer import Trainer, WarmupSchedule, configure_determinism

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", default="FALSR-B-res")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--points", default="50,100,200,400,1000")
    ap.add_argument("--precision", default="auto")
    ap.add_argument("--out", default="runs/output_init.jsonl")
    args = ap.parse_args()
    configure_determinism(True)
    images = training_images("T91,BSDS200-train", 2)
    val = validation_set("BSDS200-val", 2)
    arch = load_architecture(args.arch)
    points = [int(p) for p in args.points.split(",")]
    with open(args.out, "a", encoding="utf-8") as out:
        for output_conv in ("near-zero", "zero"):
            c = TrainConfig(arch=args.arch, steps=args.steps).validate()
            trainer = Trainer(arch, batch=16, patch=64, lr=WarmupSchedule.from_config_of_run(c), seed=0,
                              init="he", precision=args.precision)
            if output_conv == "zero":
                kernel = trainer.model.get_layer("up_out").kernel
                kernel.assign(np.zeros(kernel.shape, np.float32))
            sampler = PatchSampler(images, batch=16, patch=64, seed=0)
            upscaler = make_upscaler(trainer.model, arch.scale)
            step = 0
            for p in [0, *points]:
                for lr, hr in (sampler.dataset(step, p) if p > step else ()):
                    trainer.train_step(lr, hr)
                step = max(step, p)
                psnr, _, _ = validate_model(trainer.model, val, upscaler=upscaler)
                row = {"arch": args.arch, "output_conv": output_conv, "precision": trainer.precision,
                       "step": step, "held_out": psnr}
                print(json.dumps(row), flush=True)
                out.write(json.dumps(row) + "\n")
                out.flush()


if __name__ == "__main__":
    main()
