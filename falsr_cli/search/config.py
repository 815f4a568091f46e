"""What a search is: `SearchConfig`, its presets, budgets like `100G`, and the merge of file and flags.

Precedence, lowest first: the dataclass defaults, `--preset`, `--config search.toml`, command-line flags.
On `--resume` the saved `config.json` replaces the first two. The resolved configuration is saved as
`config.json` in the run folder; the fields in `IDENTITY_FIELDS` define the search itself, and a run is
only continued when they are unchanged.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from falsr_cli.errors import FalsrError
from falsr_cli.space.cells import DEFAULT_SPACE, space_cells
from falsr_cli.train.config import PRECISION_CHOICES
from falsr_cli.units import parse_count, parse_ms

OBJECTIVES = ("psnr", "mse")
CROWDINGS = ("chu-yu", "pymoo")
FIDELITIES = ("single", "sh")

# Inits of the brief training: both start a -res network at bicubic (falsr_cli.models.builder).
SEARCH_INITS = ("he-zero", "lsuv")
# Fields that may change between a run and its continuation: where and how fast it runs, and for how long.
RESUMABLE_CHANGES = frozenset({"out", "generations", "max_evals", "workers", "scheduler", "data_dir",
                               "progress", "evaluator_options"})

_SCHEDULER_RE = re.compile(r"^(?:(?:tcp|tls|ws|wss|ucx|inproc)://)?(?:\[[0-9a-fA-F:.]+\]|[^\s:/\[\]]+):\d{1,5}$")


OBJECTIVE_SETS = ("psnr,mult_adds,params", "psnr,latency,params")
LATENCY_RUNTIMES = ("tf", "xnnpack", "xnnpack-fp16", "xnnpack-int8")
_HW_RE = re.compile(r"^\s*[1-9][0-9]{0,3}\s*[xX×]\s*[1-9][0-9]{0,3}\s*$")


@dataclass
class SearchConfig:
    """Everything that defines a search; `config.json` in the run folder is this, as JSON."""

    out: str | None = None
    # -- the space: n cells per network, upscaling factor, feature width of the extractor
    n: int = 7
    scale: int = 2
    features: int = 32
    residual: bool = True  # every candidate gets the image-level bicubic residual (Architecture.residual)
    space: str = DEFAULT_SPACE  # the cells: "falsr" (the paper's S) or "wide" (space/cells.py)
    # -- objectives and constraints: first objective −PSNR (or MSE), then mult-adds at 480×480, params
    objective: str = "psnr"
    psnr_min: float | None = None
    flops_max: float | None = None  # mult-adds at 480×480 LR; a candidate above it is never trained
    params_max: float | None = None
    # latency budget in ms of the luma network on one LR image of `latency_input`, in `latency_runtime` with
    # `latency_threads`, predicted by the latency model from this machine's profile (falsr latency profile);
    # candidates predicted within `latency_margin` of the budget are measured, and the measurement decides
    latency_max: float | None = None
    latency_runtime: str = "xnnpack"
    latency_threads: int | None = None
    latency_input: str = "240x240"
    latency_margin: float = 0.15
    # the objectives: −PSNR (or MSE), a speed measure (mult-adds, or the latency above), params
    objectives: str = "psnr,mult_adds,params"
    # -- NSGA-II (tournament k = 2)
    pop: int = 64
    generations: int = 10  # generation 1 is the initial population
    max_evals: int | None = None  # stop after the generation in which this many candidates were trained
    seed: int = 0
    crowding: str = "chu-yu"  # Chu & Yu 2018 improved crowding distance, or "pymoo" (NSGA-II's own)
    crossover_prob: float = 1.0
    mutation_prob: float = 1.0
    # -- initial population connections: random with p_random_conn, dense with p_dense_conn, else none
    p_random_conn: float = 0.5
    p_dense_conn: float = 0.25
    # -- mutation: exploitation (the RL controller's proposal) with p_exploit, else exploration; p_exploit
    #    moves linearly to p_exploit_end over the generations when that is set (annealing)
    p_exploit: float = 0.2
    p_exploit_end: float | None = None
    # relative weights of the three exploration kinds
    w_random: float = 1.0
    w_rws_flops: float = 1.0
    w_rws_params: float = 1.0
    # -- the RL controller
    controller_hidden: int = 64
    controller_embed: int = 32
    controller_lr: float = 0.02
    baseline_decay: float = 0.9
    penalty: float = 1.0  # reward lost, in dB, per unit of normalised constraint violation
    # -- the evaluator: "brief" (incomplete training), "proxy" (synthetic, for tests and benchmarks) or
    #    "module:function"
    evaluator: str = "brief"
    # -- fidelity: "single" trains every candidate for train_steps; "sh" is successive halving inside a
    #    generation: every new candidate trains for rungs[0] steps, the best `promote` fraction of them (at
    #    least 1, by Pareto rank) on to rungs[1] (continuing under a horizon, else again from scratch), and
    #    so on (fidelity.py); train_steps is then the top rung (before it here: a changed rung is what a
    #    refused resume names)
    fidelity: str = "single"
    rungs: list[int] | None = None
    promote: float = 1 / 3
    train_steps: int = 1000
    batch: int = 16
    patch: int = 64
    lr: float = 1e-3  # peak; warm-up of a tenth of the steps (at most 100), then `schedule`
    schedule: str = "cosine"
    init: str = "he-zero"  # as falsr train's --init: he-zero or lsuv
    warmup: int | None = None  # steps of linear warm-up; None: a tenth of the steps, at most 100
    # The learning-rate schedule is that of a run of `horizon` steps, of which a candidate trains the first
    # train_steps: the shipped recipe (falsr train --steps 12000) stopped early, which ranks networks as
    # full training does (Kendall τ 0.77 at 1000 steps) where a short run decaying to 0 does not (0.28):
    # benchmarks/evaluator_fidelity.py. None (or 0): the schedule spans the candidate's own training.
    horizon: int | None = 12000
    precision: str = "auto"  # as falsr train's; auto is resolved once, when the search starts
    data: str = "T91,BSDS200-train"
    val: str = "BSDS200-val"  # held out of the training data; never a benchmark
    data_dir: str | None = None
    evaluator_options: dict[str, Any] = field(default_factory=dict)
    # -- reporting: the hypervolume's PSNR reference when there is no --psnr-min
    hv_psnr_ref: float = 20.0
    # -- execution
    workers: int = 1  # local Dask worker processes; 0 evaluates in this process
    scheduler: str | None = None  # address of an existing Dask scheduler (overrides workers)
    progress: bool = True

    @property
    def speed_key(self) -> str:
        """The record field of the second objective: mult_adds, or latency_ms."""
        return "latency_ms" if self.objectives == "psnr,latency,params" else "mult_adds"

    # ---- validation ------------------------------------------------------------------------------

    def validate(self) -> SearchConfig:
        """Normalise budgets and raise FalsrError naming the first bad field; return self."""
        self.flops_max = parse_count(self.flops_max, "flops_max")
        self.params_max = parse_count(self.params_max, "params_max")
        self.latency_max = parse_ms(self.latency_max, "latency_max")
        space_cells(self.space)  # FalsrError naming the known spaces
        if self.latency_runtime not in LATENCY_RUNTIMES:
            raise FalsrError(f"latency_runtime: {self.latency_runtime!r} is not one of "
                             f"{', '.join(LATENCY_RUNTIMES)}")
        if self.latency_threads is not None and (isinstance(self.latency_threads, bool)
                                                 or not isinstance(self.latency_threads, int)
                                                 or self.latency_threads < 1):
            raise FalsrError(f"latency_threads: {self.latency_threads!r} is not a positive integer")
        if not _HW_RE.match(str(self.latency_input)):
            raise FalsrError(f"latency_input: {self.latency_input!r} is not HxW in pixels, e.g. 240x240")
        if self.objectives not in OBJECTIVE_SETS:
            raise FalsrError(f"objectives: {self.objectives!r} is not one of {', '.join(OBJECTIVE_SETS)}")
        if self.objectives == "psnr,latency,params" and self.latency_max is None:
            raise FalsrError("objectives: latency as an objective needs --latency-max (the budget is also "
                             "the hypervolume's reference point)")
        if not 0 <= float(self.latency_margin) < 1:
            raise FalsrError(f"latency_margin: {self.latency_margin!r} is not in [0, 1)")
        if self.scheduler is not None and not _SCHEDULER_RE.match(str(self.scheduler)):
            raise FalsrError(f"scheduler: {self.scheduler!r} is not a Dask scheduler address such as "
                             "tcp://10.0.0.1:8786 (protocols tcp, tls, ws, wss, ucx, inproc)")
        try:
            str(self.out or "").encode("utf-8")  # recorded in the run folder's JSON files
        except UnicodeEncodeError:
            raise FalsrError(f"out: {self.out!r} is not a UTF-8 path; give another --out") from None
        for name, low in (("n", 1), ("pop", 2), ("generations", 1), ("train_steps", 1), ("batch", 1),
                          ("patch", 4), ("controller_hidden", 1), ("controller_embed", 1)):
            _int(self, name, low)
        _int(self, "seed", 0)
        _int(self, "workers", 0)
        if self.n > 12:
            raise FalsrError(f"n: at most 12 cells, got {self.n}")
        if self.max_evals is not None:
            _int(self, "max_evals", 1)
        if self.scale not in (2, 3, 4):
            raise FalsrError(f"scale: must be 2, 3 or 4, got {self.scale!r}")
        _int(self, "features", 4)
        if self.objective not in OBJECTIVES:
            raise FalsrError(f"objective: must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if not isinstance(self.residual, bool):
            raise FalsrError(f"residual: expected true or false, got {self.residual!r}")
        if self.precision not in PRECISION_CHOICES:
            raise FalsrError(f"precision: must be one of {', '.join(PRECISION_CHOICES)}, "
                             f"got {self.precision!r}")
        if self.schedule not in ("constant", "cosine"):
            raise FalsrError(f"schedule: must be constant or cosine, got {self.schedule!r}")
        if self.init not in SEARCH_INITS:
            raise FalsrError(f"init: must be {' or '.join(SEARCH_INITS)}, got {self.init!r}")
        if self.crowding not in CROWDINGS:
            raise FalsrError(f"crowding: must be one of {', '.join(CROWDINGS)}, got {self.crowding!r}")
        for name in ("crossover_prob", "mutation_prob", "p_random_conn", "p_dense_conn", "p_exploit",
                     "baseline_decay"):
            _prob(self, name)
        if self.p_exploit_end is not None:
            _prob(self, "p_exploit_end")
        if self.p_random_conn + self.p_dense_conn > 1 + 1e-9:
            raise FalsrError("p_dense_conn: p_random_conn + p_dense_conn must not exceed 1")
        weights = (self.w_random, self.w_rws_flops, self.w_rws_params)
        for name in ("w_random", "w_rws_flops", "w_rws_params"):
            _number(self, name, 0.0)
        if sum(weights) <= 0 and self.p_exploit < 1:
            raise FalsrError("w_random: at least one exploration weight must be positive")
        for name in ("controller_lr", "lr"):
            _number(self, name, 0.0, strict=True)
        _number(self, "penalty", 0.0)
        if self.psnr_min is not None:
            _number(self, "psnr_min", 0.0)
        _number(self, "hv_psnr_ref", 0.0)
        if not isinstance(self.evaluator, str) or not self.evaluator:
            raise FalsrError("evaluator: expected brief, proxy or module:function")
        self._validate_fidelity()
        self._validate_warmup()
        if self.horizon == 0 and not isinstance(self.horizon, bool):  # 0 (TOML has no null): as None
            self.horizon = None
        if self.horizon is not None:
            _int(self, "horizon", self.train_steps)
        if not isinstance(self.evaluator_options, dict):
            raise FalsrError("evaluator_options: expected a table of options")
        for name in ("data", "val"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise FalsrError(f"{name}: expected a data set name or a folder")
        return self

    def _validate_fidelity(self) -> None:
        """Rungs: positive, strictly increasing steps, only with fidelity "sh"; train_steps = the top rung."""
        if self.fidelity not in FIDELITIES:
            raise FalsrError(f"fidelity: must be one of {', '.join(FIDELITIES)}, got {self.fidelity!r}")
        if self.fidelity == "single":
            if self.rungs is not None:
                raise FalsrError("rungs: only with --fidelity sh (successive halving)")
            if self.promote != SearchConfig.promote:
                raise FalsrError("promote: only with --fidelity sh (successive halving)")
            return
        if self.rungs is None:
            raise FalsrError("rungs: --fidelity sh needs the steps of each rung, e.g. --rungs 300,1000,3000")
        self.rungs = parse_rungs(self.rungs)
        if isinstance(self.promote, bool) or not isinstance(self.promote, int | float) \
                or not 0 < self.promote <= 1:
            raise FalsrError(f"promote: must be a fraction in (0, 1], got {self.promote!r}")
        self.promote = float(self.promote)
        self.train_steps = self.rungs[-1]

    def _validate_warmup(self) -> None:
        if self.warmup is None:
            return
        shortest = self.rungs[0] if self.fidelity == "sh" else self.train_steps
        if isinstance(self.warmup, bool) or not isinstance(self.warmup, int) \
                or not 0 <= self.warmup < shortest:
            raise FalsrError(f"warmup: must be a whole number of steps under the shortest training "
                             f"({shortest} steps), got {self.warmup!r}")

    # ---- (de)serialisation -----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "config") -> SearchConfig:
        if not isinstance(d, dict):
            raise FalsrError(f"{where}: expected an object of search options, got {type(d).__name__}")
        known = {f.name for f in fields(cls)}
        clean = {}
        for key, value in d.items():
            name = key.replace("-", "_")
            if name not in known:
                raise FalsrError(f"{where}: unknown option {key!r}")
            clean[name] = value
        return cls(**clean)

    def identity(self) -> dict[str, Any]:
        """The fields that define the search (everything but RESUMABLE_CHANGES)."""
        return {k: v for k, v in self.to_dict().items() if k not in RESUMABLE_CHANGES}

    @property
    def n_var(self) -> int:
        return self.n + self.n * (self.n + 1) // 2

    def p_exploit_at(self, generation: int) -> float:
        """The exploitation probability for offspring of `generation` (1-based), annealed if asked."""
        if self.p_exploit_end is None or self.generations <= 2:
            return self.p_exploit
        t = min(max((generation - 2) / (self.generations - 2), 0.0), 1.0)
        return self.p_exploit + t * (self.p_exploit_end - self.p_exploit)


def parse_rungs(value: Any) -> list[int]:
    """Rung steps from "300,1000,3000" or a list: at least two positive integers, strictly increasing."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or len(items) < 2:
        raise FalsrError(f"rungs: expected at least two step counts such as 300,1000,3000, got {value!r}")
    steps = []
    for item in items:
        text = item.strip() if isinstance(item, str) else item
        if isinstance(text, str) and text.isdigit():
            text = int(text)
        if isinstance(text, bool) or not isinstance(text, int) or text < 1:
            raise FalsrError(f"rungs: {item!r} is not a positive number of steps")
        steps.append(text)
    if any(b <= a for a, b in zip(steps, steps[1:], strict=False)):
        raise FalsrError(f"rungs: steps must increase from rung to rung, got {','.join(map(str, steps))}")
    return steps


def expected_work(config: SearchConfig) -> tuple[float, float]:
    """(training steps, validations) a trained candidate costs on average under "sh": Σ promote^r · rung_r,
    or with a horizon (rungs continue each other) Σ promote^r · (rung_r − rung_{r−1})."""
    if config.fidelity != "sh" or not config.rungs:
        return float(config.train_steps), 1.0
    shares = [config.promote ** r for r in range(len(config.rungs))]
    new = ([b - a for a, b in zip([0, *config.rungs], config.rungs, strict=False)] if config.horizon
           else config.rungs)
    return float(sum(s * steps for s, steps in zip(shares, new, strict=True))), float(sum(shares))


def _int(cfg: SearchConfig, name: str, low: int) -> None:
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, int) or v < low:
        raise FalsrError(f"{name}: must be an integer ≥ {low}, got {v!r}")


def _number(cfg: SearchConfig, name: str, low: float, strict: bool = False) -> None:
    v = getattr(cfg, name)
    ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
    if not ok or v < low or (strict and v == low):
        raise FalsrError(f"{name}: must be a number {'>' if strict else '≥'} {low:g}, got {v!r}")
    setattr(cfg, name, float(v))


def _prob(cfg: SearchConfig, name: str) -> None:
    v = getattr(cfg, name)
    if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
        raise FalsrError(f"{name}: must be a probability in [0, 1], got {v!r}")
    setattr(cfg, name, float(v))


# Presets. `cpu` is a real search in about an hour on two CPU cores: 32 candidates, each trained for the
# default first 1000 steps of the 12,000-step recipe (benchmarks/evaluator_fidelity.py: τ 0.77 against
# full training at 1/12 of its CPU; no briefer budget ranks like 1000 steps,
# benchmarks/results/proxy-fidelity-K16). `demo` and `paper` train on a schedule of their own steps.
# `demo` runs the whole search on the built-in `samples` images in under three minutes on two CPU
# cores (in this process: a worker process would start TensorFlow a second time; add --workers 2 to try
# Dask); `paper` is the FALSR setting: n = 7 cells, population 64, about 10,000 candidates (160 generations),
# each briefly trained with batch 16, Adam 1e-4 constant and the L1 loss, without the image-level residual.
# The paper's text does not give the length of the incomplete training; 1000 steps is our choice.
PRESETS: dict[str, dict[str, Any]] = {
    "demo": {
        "n": 3, "pop": 6, "generations": 3, "train_steps": 100, "patch": 48, "batch": 8, "lr": 2e-3,
        "data": "samples", "val": "samples", "p_exploit": 0.3, "controller_hidden": 32,
        "controller_embed": 16, "workers": 0, "horizon": None,
    },
    "cpu": {
        "n": 7, "pop": 8, "generations": 4, "train_steps": 1000,
    },
    "paper": {
        "n": 7, "pop": 64, "generations": 160, "train_steps": 1000, "patch": 96, "batch": 16, "lr": 1e-4,
        "schedule": "constant", "residual": False, "horizon": None,
    },
}


def load_toml(path: str | Path) -> dict[str, Any]:
    """Options from a TOML file: top-level keys, or the keys of a `[search]` table."""
    p = Path(path)
    if not p.is_file():
        raise FalsrError(f"{path}: no such config file")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise FalsrError(f"{path}: not valid TOML ({e})") from None
    if isinstance(data.get("search"), dict):
        data = data["search"]
    known = {f.name for f in fields(SearchConfig)}
    for key in data:
        if key.replace("-", "_") not in known:
            raise FalsrError(f"{path}: unknown option {key!r}")
    return {k.replace("-", "_"): v for k, v in data.items()}


def resolve_config(
    overrides: dict[str, Any] | None = None,
    *,
    preset: str | None = None,
    config_file: str | Path | None = None,
    base: SearchConfig | None = None,
) -> SearchConfig:
    """Merge defaults (or `base`, e.g. a saved run) < preset < config file < overrides; validate."""
    values: dict[str, Any] = (base or SearchConfig()).to_dict()
    # Where each value came from, so that an error names what the user typed: the flag, or the file's key.
    origin: dict[str, str] = {}
    if preset is not None:
        if preset not in PRESETS:
            raise FalsrError(f"preset: unknown preset {preset!r} (expected one of {', '.join(PRESETS)})")
        values.update(PRESETS[preset])
    if config_file is not None:
        from_file = load_toml(config_file)
        values.update(from_file)
        origin.update({key: f"{config_file}: {key}" for key in from_file})
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key.replace("-", "_")] = value
            origin[key.replace("-", "_")] = "--" + key.replace("_", "-")
    try:
        return SearchConfig.from_dict(values).validate()
    except FalsrError as e:
        name, sep, rest = str(e).partition(": ")
        if sep and name in origin:
            raise FalsrError(f"{origin[name]}: {rest}") from None
        raise


def check_compatible(saved: SearchConfig, new: SearchConfig) -> None:
    """Raise FalsrError naming the first field that would make `new` a different search than `saved`."""
    a, b = saved.identity(), new.identity()
    for key in a:
        if a[key] != b.get(key):
            flag = "--" + key.replace("_", "-")
            raise FalsrError(
                f"{key} ({flag}): the search in {new.out} was started with {key} = {a[key]!r}, "
                f"now {b.get(key)!r}; "
                "a changed objective, constraint, space or method makes a different search — use a new --out"
            )
