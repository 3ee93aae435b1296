"""GiGPO vs GRPO where step credit matters: estimators compared at tuned learning rates on paired seeds.

Run from the repository root::

    python benchmarks/bench_study.py work --setting alfworld-small      # every pending cell, in the declared order
    python benchmarks/bench_study.py run --setting alfworld-small --arm grpo --lr 1e-2 --seed 0   # one cell
    python benchmarks/bench_study.py status --setting alfworld-small    # which cells are done, running, pending
    python benchmarks/bench_study.py report --setting alfworld-small    # the tables and the curves' PNG
    python benchmarks/bench_study.py noise --setting replication        # the replication's evaluation noise

The protocol is fixed before any run (``benchmarks/runs/study/PROTOCOL.md``):

- **Arms** (:data:`ARMS`): GiGPO with ``std`` and with ``mean`` normalisation, GiGPO with ``omega = 0`` (the control:
  GRPO with GiGPO's normalisation and episode statistics, no step term), GRPO (``std``, the paper's), RLOO and PPO
  (a learned critic on the policy's trunk, GAE; joined once it landed, as the protocol says). Only the
  estimator and the learning rate differ between arms; every other hyper-parameter is the setting's preset.
- **Tuning**: each arm trains at every learning rate of :data:`LRS` on tuning seed :data:`TUNING_SEED`; its lr is the
  one with the highest figure of merit, the mean of its evaluation success and its training success over the last
  quarter of the rounds (two independent samples of the same policy family, which halves the noise of one); a tie
  goes to the smaller lr. The tuning seed is not a report seed.
- **Report**: each arm at its lr on seeds :data:`REPORT_SEEDS`; the untrained model of a seed (the same for every arm)
  is evaluated once. Success after training is compared with GRPO's on the same seed: the mean paired difference
  with a 95% Student-t interval.

The **replication** (setting ``replication``, PROTOCOL.md "Replication") fixes every arm's lr in advance (no tuning
cells), runs GiGPO-std, GRPO and the permuted-anchor credit control on fresh seeds 1000-1009 (each seed its own
initial weights), first measures one cell's evaluation noise (``noise``) to choose the evaluation episodes per task,
and reports the pre-registered one-sided paired t-tests (Holm-corrected secondaries) with the protocol's decision.

Each cell is run by ``run`` in its own process (so its peak memory is its own) and written atomically to
``--out``/<setting>/<cell>.json; ``work`` skips finished cells and claims the others with a lock file, so several
workers may share one folder (give each ``OMP_NUM_THREADS=1`` on a 2-core machine) and an interrupted study resumes
where it stopped. Each training cell keeps, per round, the training success and return, the optimiser statistics
(KL, clip fraction, gradient norm, optimiser and skipped steps) and the step-credit statistics of the round's
rollouts (:func:`step_credit_stats`).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import gigpo_gym  # noqa: E402, F401
from trainer.advantages import episode_advantages, step_advantages, step_group_ids  # noqa: E402
from trainer.config import PRESETS, resolve_config  # noqa: E402

LRS = (1e-3, 3e-3, 1e-2)
TUNING_SEED = 100
REPORT_SEEDS = (0, 1, 2, 3, 4)
BASELINE = "grpo"
ARMS: dict[str, dict[str, Any]] = {
    "gigpo-std": {"algo": "gigpo", "norm": "std"},
    "gigpo-mean": {"algo": "gigpo", "norm": "mean"},
    "gigpo-omega0": {"algo": "gigpo", "norm": "std", "omega": 0.0},
    "grpo": {"algo": "grpo", "norm": "std"},
    "rloo": {"algo": "rloo"},
    "ppo": {"algo": "ppo"},
    # the credit control of the replication: GiGPO-std on anchor keys permuted within each episode group
    "gigpo-permuted": {"algo": "gigpo-permuted", "norm": "std"},
}
STUDY_ARMS = ("gigpo-std", "gigpo-mean", "gigpo-omega0", "grpo", "rloo", "ppo")  # the first study's arms


@dataclass(frozen=True)
class Control:
    """An arm added after the study to test one reading of it (PROTOCOL.md, addendum): a study arm with its KL
    coefficient scaled, trained at the lr chosen for that arm (not tuned), on the report seeds."""

    base: str
    kl_scale: float
    versus: str  # the arm whose reading it tests: the report gives versus - control
    what: str


CONTROLS = {
    "grpo-kl-half": Control(
        "grpo",
        0.5,
        "gigpo-std",
        "GRPO with half the KL coefficient: under AdamW (the trainer's optimiser), which is invariant to the "
        "gradient's scale, this is GRPO with its advantages doubled, i.e. GiGPO-std if its step term were an exact "
        "copy of its episode term",
    ),
}
# two-sided 95% quantiles of Student's t by degrees of freedom
T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
# evaluation noise: the largest standard deviation of one cell's evaluation success (points) the replication accepts,
# and the evaluation episodes per task it may use to get there (PROTOCOL.md, "Replication")
NOISE_TARGET, NOISE_EPISODES = 2.0, (4, 8, 12, 16, 20, 24, 28, 32)
NOISE_SEED, NOISE_ARM, NOISE_REPEATS = 100, "gigpo-std", 8
# the replication's pre-registered tests (PROTOCOL.md, "Replication"): first - second > 0, one-sided, paired
PRIMARY = ("gigpo-std", "grpo")
SECONDARY = (("gigpo-std", "gigpo-permuted"), ("gigpo-permuted", "grpo"))
ALPHA = 0.05


@dataclass(frozen=True)
class Setting:
    """One environment setting of the study: a CPU preset and the env arguments it adds."""

    preset: str
    env_kwargs: dict[str, Any]
    what: str
    # the evaluation figures reported per seed with paired differences: success always; WebShop's score too, the
    # dense attribute match that a success-trained policy is not trained on but moves towards
    metrics: tuple[str, ...] = ("success",)
    controls: tuple[str, ...] = ()  # the CONTROLS run in this setting after its report cells
    arms: tuple[str, ...] = STUDY_ARMS
    seeds: tuple[int, ...] = REPORT_SEEDS
    lr: float | None = None  # every arm's learning rate, fixed in advance (no tuning cells); None: tuned
    # the evaluation episodes per task follow the noise measurement's rule (noise.json) instead of the preset
    measured_noise: bool = False


SETTINGS = {
    "alfworld-small": Setting(
        "cpu-quickstart",
        {},
        "the quickstart: pick tasks in 3-receptacle rooms, 30-step "
        "episodes, 4 groups x 8, 20 rounds, the tiny model from random weights in score mode",
        controls=("grpo-kl-half",),
    ),
    "webshop-success": Setting(
        "cpu-webshop",
        {"reward_mode": "success"},
        "WebShop's generated catalog trained on "
        "success only (reward 1 for a perfect purchase, the paper's code), 15-step episodes, "
        "4 groups x 4, 20 rounds, the tiny model in score mode",
        ("success", "score"),
    ),
    "alfworld-6": Setting(
        "cpu-quickstart",
        {"max_receptacles": 6},
        "pick tasks in 6-receptacle rooms (more "
        "distinct states, fewer chance revisits), otherwise the quickstart's preset",
        controls=("grpo-kl-half",),
    ),
    "replication": Setting(
        "cpu-quickstart",
        {},
        "the pre-registered replication on alfworld-small's setting (the quickstart): GiGPO-std, GRPO and the "
        "permuted-anchor credit control at lr 3e-3, fresh paired seeds 1000-1009 each with its own initial weights, "
        "evaluation episodes per task set by the measured evaluation noise",
        arms=("gigpo-std", "grpo", "gigpo-permuted"),
        seeds=tuple(range(1000, 1010)),
        lr=3e-3,
        measured_noise=True,
    ),
}


def config_of(setting: str, arm: str, lr: float, seed: int, budget: dict[str, int], eval_episodes: int | None = None):
    """The training config of one cell: the setting's preset, the arm's estimator, the lr and the seed (and the
    evaluation episodes per task, where the setting's noise measurement chose them)."""
    spec = SETTINGS[setting]
    env_kwargs = {**PRESETS[spec.preset].get("env_kwargs", {}), **spec.env_kwargs}
    base = CONTROLS[arm].base if arm in CONTROLS else arm
    extra = {} if eval_episodes is None else {"eval_episodes": eval_episodes}
    config = resolve_config(
        spec.preset, env_kwargs=env_kwargs, learning_rate=lr, seed=seed, **ARMS[base], **budget, **extra
    )
    if arm in CONTROLS:
        config = dataclasses.replace(config, kl_coef=config.kl_coef * CONTROLS[arm].kl_scale)
    return config


def step_credit_stats(buffer) -> dict[str, float]:
    """How much the round's rollouts give GiGPO's step term to work with.

    ``anchor_fraction``: rows whose step group holds another row; ``step_group_size``: row-weighted mean size;
    ``mixing_share``: step groups (of 2 or more rows) whose visits lie at different step indices (early and late
    visits of one state); ``revisit_share``: step groups holding two visits by one trajectory; ``sign_agreement``
    and ``correlation``: of the step and episode advantages on the rows where both are non-zero (the buffer's
    normalisation); ``step_to_episode``: mean |step advantage| over mean |episode advantage| on those rows.
    """
    a = buffer.arrays()
    steps = np.fromiter((r.step for r in buffer.records), np.int64, len(buffer.records))
    ids = step_group_ids(a["group_ids"], a["anchors"])
    sizes = np.bincount(ids)
    multi = sizes > 1
    first = np.full(len(sizes), np.iinfo(np.int64).max)
    last = np.zeros(len(sizes), np.int64)
    np.minimum.at(first, ids, steps)
    np.maximum.at(last, ids, steps)
    visits = np.unique(ids * (int(a["traj_ids"].max()) + 1) + a["traj_ids"])  # distinct (step group, trajectory)
    trajectories = np.bincount(visits // (int(a["traj_ids"].max()) + 1), minlength=len(sizes))
    norm = buffer.norm or "mean"
    args = (a["rewards"], a["group_ids"], a["traj_ids"])
    episode = episode_advantages(*args, norm=norm, penalties=a["penalties"])
    step = step_advantages(*args, a["anchors"], gamma=buffer.gamma, norm=norm, penalties=a["penalties"])
    both = (episode != 0) & (step != 0)
    agree = float(np.mean(np.sign(episode[both]) == np.sign(step[both]))) if both.any() else math.nan
    spread = both.sum() > 2 and np.std(episode[both]) > 0 and np.std(step[both]) > 0
    corr = float(np.corrcoef(episode[both], step[both])[0, 1]) if spread else math.nan
    scale = float(np.mean(np.abs(step[both])) / np.mean(np.abs(episode[both]))) if both.any() else math.nan
    return {
        "anchor_fraction": float(np.mean(sizes[ids] > 1)),
        "step_group_size": float(np.mean(sizes[ids])),
        "mixing_share": float(np.mean(last[multi] > first[multi])) if multi.any() else math.nan,
        "revisit_share": float(np.mean(trajectories[multi] < sizes[multi])) if multi.any() else math.nan,
        "sign_agreement": agree,
        "correlation": corr,
        "step_to_episode": scale,
        "rows_with_both": float(np.mean(both)),
    }


def evaluation(model, config, seed: int) -> dict[str, float]:
    from trainer.evaluation import evaluate
    from trainer.training import eval_task_ids

    table = evaluate(
        model,
        config.env,
        eval_task_ids(config),
        env_kwargs=config.gym_kwargs(config.eval_split),
        episodes_per_task=config.eval_episodes,
        seed=seed,
    )
    return {"success": float(table["all"]), "score": float(table["score"])}


def provenance() -> dict[str, Any]:
    """The code a cell ran on: the commit and whether the tracked files differed from it."""

    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
        "threads": int(os.environ.get("OMP_NUM_THREADS", "0")),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _trained(config) -> tuple[Any, list[dict[str, Any]], float]:
    """The model ``config`` describes after its rounds, the per-round curve and the training time."""
    from trainer.training import build_model

    model = build_model(config)
    start = time.perf_counter()
    curve = []
    for done in range(config.rounds):
        model.learn(total_timesteps=1, reset_num_timesteps=done == 0)
        stats, opt = model.round_stats, model.last_train_stats
        curve.append(
            {
                "success": 100 * stats["rollout/round_success_rate"],
                "return": stats["rollout/round_return_mean"],
                # NaN in a round without an optimiser step: nothing was measured
                "kl": opt["kl"],
                "clip_fraction": opt["clipped"],
                "grad_norm": opt["grad_norm"],
                "policy_entropy": opt.get("entropy"),  # None where the trainer did not compute it
                "optimizer_steps": opt["optimizer_steps"],
                "skipped_batches": opt["skipped_batches"],
                **step_credit_stats(model.rollout_buffer),
                **({"value_loss": opt["value_loss"]} if "value_loss" in opt else {}),
            }
        )
    return model, curve, time.perf_counter() - start


def train_cell(
    setting: str, arm: str, lr: float, seed: int, budget: dict[str, int], eval_episodes: int | None = None
) -> dict[str, Any]:
    config = config_of(setting, arm, lr, seed, budget, eval_episodes)
    model, curve, seconds = _trained(config)
    after = evaluation(model, config, seed)
    tail = curve[-max(1, len(curve) // 4) :]
    return {
        "setting": setting,
        "arm": arm,
        "lr": lr,
        "seed": seed,
        "budget": budget,
        "eval_episodes": config.eval_episodes,
        "after": after,
        "train_success_last_quarter": statistics.mean(c["success"] for c in tail),
        "curve": curve,
        "time_s": round(seconds, 1),
        **provenance(),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def before_cell(setting: str, seed: int, budget: dict[str, int], eval_episodes: int | None = None) -> dict[str, Any]:
    from trainer.training import build_model

    # the untrained weights depend on the seed only (init_seed follows it)
    config = config_of(setting, BASELINE, LRS[0], seed, budget, eval_episodes)
    return {
        "setting": setting,
        "seed": seed,
        "budget": budget,
        "eval_episodes": config.eval_episodes,
        "before": evaluation(build_model(config), config, seed),
        **provenance(),
    }


def noise_cell(setting: str, budget: dict[str, int]) -> dict[str, Any]:
    """The evaluation noise of one trained cell, measured before the setting's cells (PROTOCOL.md, "Replication").

    The noise arm at the setting's lr is trained on the tuning seed (not a report seed) and its evaluation is
    repeated with :data:`NOISE_REPEATS` sampling seeds at the preset's episodes per task; their standard deviation,
    scaled as ``1 / sqrt(episodes)``, picks the fewest episodes in :data:`NOISE_EPISODES` that bring it to
    :data:`NOISE_TARGET` points (the largest if none does). The chosen number is then measured the same way (half as
    many repeats), for the record only.
    """
    spec = SETTINGS[setting]
    assert spec.lr is not None, "a measured-noise setting fixes its lr"
    config = config_of(setting, NOISE_ARM, spec.lr, NOISE_SEED, budget)
    model, _, seconds = _trained(config)
    base = [evaluation(model, config, s)["success"] for s in range(NOISE_REPEATS)]
    sd = statistics.stdev(base)
    fits = [n for n in NOISE_EPISODES if sd * math.sqrt(config.eval_episodes / n) <= NOISE_TARGET]
    chosen = fits[0] if fits else NOISE_EPISODES[-1]
    check = dataclasses.replace(config, eval_episodes=chosen)
    again = [evaluation(model, check, s)["success"] for s in range(NOISE_REPEATS // 2)]
    return {
        "setting": setting,
        "arm": NOISE_ARM,
        "lr": spec.lr,
        "seed": NOISE_SEED,
        "budget": budget,
        "base_episodes": config.eval_episodes,
        "base_successes": base,
        "base_sd": sd,
        "predicted_sd": sd * math.sqrt(config.eval_episodes / chosen),
        "episodes": chosen,
        "target_sd": NOISE_TARGET,
        "chosen_successes": again,
        "chosen_sd": statistics.stdev(again),
        "time_s": round(seconds, 1),
        **provenance(),
    }


def eval_episodes_of(folder: Path, setting: str) -> int | None:
    """The evaluation episodes per task a measured-noise setting's cells use (None: the preset's)."""
    if not SETTINGS[setting].measured_noise:
        return None
    noise = load(folder, "noise")
    if noise is None:
        raise SystemExit(f"bench_study.py: error: {setting} measures its evaluation noise first: run `noise`")
    return int(noise["episodes"])


# ------------------------------------------------------------------ cells and their files


def cell_name(arm: str | None, lr: float | None, seed: int) -> str:
    if arm is None:
        return f"before-seed{seed}"
    return f"{arm}-lr?-seed{seed}" if lr is None else f"{arm}-lr{lr:g}-seed{seed}"  # lr? : not chosen yet


def load(folder: Path, name: str) -> dict[str, Any] | None:
    path = folder / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def merit(cell: dict[str, Any]) -> float:
    return (cell["after"]["success"] + cell["train_success_last_quarter"]) / 2


def chosen_lr(folder: Path, setting: str, arm: str) -> float | None:
    """The arm's learning rate by the declared rule (the setting's fixed lr; a control's: its base arm's), or None
    while a tuning cell is missing."""
    if SETTINGS[setting].lr is not None:
        return SETTINGS[setting].lr
    if arm in CONTROLS:
        return chosen_lr(folder, setting, CONTROLS[arm].base)
    cells = [load(folder, cell_name(arm, lr, TUNING_SEED)) for lr in LRS]
    if any(c is None for c in cells):
        return None
    return max(LRS, key=lambda lr: (merit(cells[LRS.index(lr)]), -lr))


def queue(folder: Path, setting: str) -> list[tuple[str | None, float | None, int]]:
    """Every cell in the declared order: tuning (lr-major, so arms progress together; none where the setting fixes
    the lr), then seed by seed, then the setting's controls seed by seed."""
    spec = SETTINGS[setting]
    cells: list[tuple[str | None, float | None, int]] = []
    if spec.lr is None:
        cells += [(a, lr, TUNING_SEED) for lr in LRS for a in spec.arms]
    for seed in spec.seeds:
        cells.append((None, None, seed))
        cells += [(a, chosen_lr(folder, setting, a), seed) for a in spec.arms]
    for seed in spec.seeds:
        cells += [(a, chosen_lr(folder, setting, a), seed) for a in spec.controls]
    return cells


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(folder: Path, name: str) -> bool:
    """Take the cell's lock (a stale lock of a dead process is taken over); False if another worker holds it."""
    lock = folder / f"{name}.lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            try:
                holder = int(lock.read_text() or "0")
            except (OSError, ValueError):
                return False
            if holder and _alive(holder):
                return False
            lock.unlink(missing_ok=True)
            continue
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        return True
    return False


def manifest(folder: Path, setting: str, budget: dict[str, int]) -> None:
    """Tie the folder to its setting and budget: a smoke budget never mixes with the study's cells."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.json"
    want = {"setting": setting, "budget": budget}
    if path.is_file():
        have = json.loads(path.read_text())
        if have != want:
            raise SystemExit(f"bench_study.py: error: {folder} holds a study of {have}, not {want}; use another --out")
    else:
        path.write_text(json.dumps(want) + "\n")


def write(folder: Path, name: str, result: dict[str, Any]) -> None:
    tmp = folder / f"{name}.json.tmp"
    tmp.write_text(json.dumps(result) + "\n")
    tmp.replace(folder / f"{name}.json")


def budget_args(budget: dict[str, int]) -> list[str]:
    return [f"--{k.replace('_', '-')}={v}" for k, v in budget.items()]


def _run_cell(folder: Path, setting: str, budget: dict[str, int], out: Path, args: list[str], name: str) -> None:
    """One cell (or the noise measurement) in its own process; a failure stops the worker."""
    command = [sys.executable, str(Path(__file__).resolve()), *args[:1], "--setting", setting, "--out", str(out)]
    command += [*args[1:], *budget_args(budget)]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"bench_study.py: error: cell {name} failed (exit {done.returncode})")
    print(f"{setting} {name}: {done.stdout.strip()} ({time.perf_counter() - start:.0f} s)", flush=True)


def work(folder: Path, setting: str, budget: dict[str, int], out: Path, poll_s: float = 20.0) -> int:
    """Run pending cells, one process each, until none is left (waiting while others hold the eligible ones); a
    measured-noise setting first measures its evaluation noise (one worker; the others wait for it)."""
    while SETTINGS[setting].measured_noise and load(folder, "noise") is None:
        if claim(folder, "noise"):
            try:
                _run_cell(folder, setting, budget, out, ["noise"], "noise")
            finally:
                (folder / "noise.lock").unlink(missing_ok=True)
        else:
            time.sleep(poll_s)
    while True:
        pending = [c for c in queue(folder, setting) if load(folder, cell_name(*c)) is None]
        if not pending:
            print(f"{setting}: every cell is done", flush=True)
            return 0
        ran = False
        for arm, lr, seed in pending:
            name = cell_name(arm, lr, seed)
            if (arm is not None and lr is None) or not claim(folder, name):
                continue  # its lr is not chosen yet, or another worker runs it
            try:
                if load(folder, name) is None:  # finished by another worker between the scan and the claim
                    which = ["--arm", arm, "--lr", repr(lr)] if arm is not None else ["--before"]
                    _run_cell(folder, setting, budget, out, ["run", "--seed", str(seed), *which], name)
            finally:
                (folder / f"{name}.lock").unlink(missing_ok=True)
            ran = True
            break
        if not ran:
            time.sleep(poll_s)


# ------------------------------------------------------------------ report


def interval(diffs: list[float]) -> str:
    if len(diffs) < 2:
        return "n/a"
    half = T975[len(diffs) - 1] * statistics.stdev(diffs) / math.sqrt(len(diffs))
    mean = statistics.mean(diffs)
    return f"[{mean - half:+.1f}, {mean + half:+.1f}]"


def _shown(value: float) -> str:
    """A mean for a table: "-" where nothing was measured (never a made-up figure)."""
    return "-" if math.isnan(value) else f"{value:.1f}"


def _mean(values: list[float]) -> float:
    values = [v for v in values if not math.isnan(v)]
    return statistics.mean(values) if values else math.nan


def t_sf(t: float, df: int) -> float:
    """P(T > t) for Student's t with ``df`` (integer) degrees of freedom, exactly (Abramowitz & Stegun 26.7.3-4)."""
    theta = math.atan2(t, math.sqrt(df))
    c2, term, total = math.cos(theta) ** 2, 1.0, 1.0
    if df % 2:  # odd: A = (2/pi) (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ...))
        for k in range(1, (df - 1) // 2):
            term *= c2 * (2 * k) / (2 * k + 1)
            total += term
        inside = 2 / math.pi * (theta + (math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0))
    else:  # even: A = sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)
        for k in range(1, df // 2):
            term *= c2 * (2 * k - 1) / (2 * k)
            total += term
        inside = math.sin(theta) * total
    return (1 - inside) / 2  # inside = P(-|t| < T < |t|) carries t's sign


def paired_test(diffs: list[float]) -> tuple[float, float]:
    """The one-sided paired t-test of mean(diffs) > 0: (t, p). Equal differences give t = +-inf (p 0 or 1)."""
    sd = statistics.stdev(diffs)
    mean = statistics.mean(diffs)
    if sd == 0:
        return (math.copysign(math.inf, mean), 0.0 if mean > 0 else 1.0) if mean else (0.0, 0.5)
    t = mean / (sd / math.sqrt(len(diffs)))
    return t, t_sf(t, len(diffs) - 1)


def holm(pvalues: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (family-wise error), in the order given."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * len(pvalues), 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _measured(rounds: list[dict[str, Any]], key: str) -> list[float]:
    """``key`` over the rounds that took an optimiser step (the others measured nothing; cells run before the fix
    hold a 0 there, never a measurement)."""
    values = [r.get(key) for r in rounds if r["optimizer_steps"] > 0]
    return [float(v) for v in values if v is not None and not math.isnan(v)]


def last_measured(cell: dict[str, Any], key: str) -> float:
    """``key`` in the cell's last round that took an optimiser step (NaN if none did)."""
    values = _measured(cell["curve"], key)
    return values[-1] if values else math.nan


def _evaluation_tables(
    folder: Path,
    setting: str,
    runs: dict[str, dict[int, dict | None]],
    befores: dict[int, dict | None],
    metric: str,
) -> list[str]:
    """Per-seed evaluation figures of ``metric`` and each arm's paired difference to the baseline."""
    seeds = SETTINGS[setting].seeds
    unit = "%" if metric == "success" else ""
    head = " | ".join(f"seed {s}" for s in seeds)
    lines = [
        "",
        f"Evaluation {metric}{' ' + unit if unit else ''} after training at the chosen lr (report seeds; "
        "- = not run yet):",
        "",
        f"| arm | lr | {head} | mean |",
        "|---|---:|" + "---:|" * (len(seeds) + 1),
    ]
    row = [f"{b['before'][metric]:.1f}" if b else "-" for b in befores.values()]
    done_before = [b["before"][metric] for b in befores.values() if b]
    lines.append(f"| untrained | - | {' | '.join(row)} | {_shown(_mean(done_before))} |")
    for arm, cells in runs.items():
        row = [f"{c['after'][metric]:.1f}" if c else "-" for c in cells.values()]
        done = [c["after"][metric] for c in cells.values() if c]
        lines.append(f"| {arm} | {chosen_lr(folder, setting, arm):g} | {' | '.join(row)} | {_shown(_mean(done))} |")
    if BASELINE not in runs:
        return lines
    lines += [
        "",
        f"Paired difference to {BASELINE.upper()} ({metric} points, seeds both arms finished):",
        "",
        "| arm | seeds | mean | 95% interval | per seed | ahead in |",
        "|---|---:|---:|---|---|---:|",
    ]
    for arm, cells in runs.items():
        if arm == BASELINE:
            continue
        both = [s for s in seeds if cells[s] and runs[BASELINE][s]]
        diffs = [cells[s]["after"][metric] - runs[BASELINE][s]["after"][metric] for s in both]
        if diffs:
            lines.append(
                f"| {arm} | {len(diffs)} | {statistics.mean(diffs):+.1f} | {interval(diffs)} | "
                f"{', '.join(f'{d:+.1f}' for d in diffs)} | {sum(d > 0 for d in diffs)} |"
            )
    return lines


def _control_table(setting: str, runs: dict[str, dict[int, dict | None]], controls: tuple[str, ...]) -> list[str]:
    """Each control against its base arm and against the arm whose reading it tests, on the seeds both finished."""
    lines = [
        "",
        "Controls (PROTOCOL.md, addendum; not tuned: each trains at its base arm's lr). Paired differences in "
        "evaluation success points, and the KL to the reference in each cell's last round that took an optimiser "
        "step (mean over those seeds):",
        "",
        "| difference | seeds | mean | 95% interval | per seed | KL of the first / second |",
        "|---|---:|---:|---|---|---|",
    ]
    for name in controls:
        control = CONTROLS[name]
        for first, second in ((name, control.base), (control.versus, name)):
            both = [s for s in SETTINGS[setting].seeds if runs[first][s] and runs[second][s]]
            if not both:
                continue
            diffs = [runs[first][s]["after"]["success"] - runs[second][s]["after"]["success"] for s in both]
            kls = [_mean([last_measured(runs[arm][s], "kl") for s in both]) for arm in (first, second)]
            lines.append(
                f"| {first} - {second} | {len(diffs)} | {statistics.mean(diffs):+.1f} | {interval(diffs)} | "
                f"{', '.join(f'{d:+.1f}' for d in diffs)} | {kls[0]:.3f} / {kls[1]:.3f} |"
            )
    lines += ["", *(f"- `{name}`: {CONTROLS[name].what}." for name in controls)]
    return lines


def _hypothesis_tests(setting: str, runs: dict[str, dict[int, dict | None]]) -> list[str]:
    """The pre-registered tests (PROTOCOL.md, "Replication"): the primary one, the secondary ones with Holm's
    correction, and the decision the protocol's rule gives; only once every seed of the arms involved finished."""
    spec = SETTINGS[setting]
    tests = [(PRIMARY, "primary"), *((pair, "secondary") for pair in SECONDARY)]
    if not all(runs.get(arm, {}).get(s) for pair, _ in tests for arm in pair for s in spec.seeds):
        return ["", "Pre-registered tests: not computed until every cell of their arms finished."]
    results = []
    for (first, second), _ in tests:
        diffs = [runs[first][s]["after"]["success"] - runs[second][s]["after"]["success"] for s in spec.seeds]
        results.append((diffs, *paired_test(diffs)))
    adjusted = [results[0][2], *holm([r[2] for r in results[1:]])]
    lines = [
        "",
        f"Pre-registered tests (one-sided paired t-tests of first - second > 0 in evaluation success points, "
        f"{len(spec.seeds)} seeds, alpha {ALPHA}; the secondary ones Holm-corrected):",
        "",
        "| test | difference | mean | 95% interval | t | p | p (Holm) | rejects H0 |",
        "|---|---|---:|---|---:|---:|---:|---|",
    ]
    for ((first, second), kind), (diffs, t, p), q in zip(tests, results, adjusted, strict=True):
        lines.append(
            f"| {kind} | {first} - {second} | {statistics.mean(diffs):+.1f} | {interval(diffs)} | {t:.2f} | "
            f"{p:.4f} | {'-' if kind == 'primary' else f'{q:.4f}'} | {'yes' if q < ALPHA else 'no'} |"
        )
    lines += ["", f"Decision (the protocol's rule): {decision(adjusted[0] < ALPHA, adjusted[1] < ALPHA)}"]
    return lines


def decision(primary: bool, credit: bool) -> str:
    """The protocol's decision rule, written before the replication's cells ran."""
    if not primary:
        return "GiGPO-std's gain over GRPO did NOT replicate at this budget (the primary test does not reject)."
    if credit:
        return (
            "GiGPO-std's gain over GRPO replicated, and GiGPO-std also beats the permuted-anchor control: the gain "
            "is attributed to step credit from state identity."
        )
    return (
        "GiGPO-std's gain over GRPO replicated, but GiGPO-std does not beat the permuted-anchor control: the gain "
        "is not attributed to credit assignment (a larger or noisier update explains it as well)."
    )


def _tuning_table(folder: Path, setting: str) -> list[str]:
    lines = [
        f"Tuning on seed {TUNING_SEED} (merit = mean of eval success and last-quarter training success; * = chosen):",
        "",
        "| arm | lr | eval success % | eval score | train success % (last quarter) | merit | time s |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for arm in SETTINGS[setting].arms:
        pick = chosen_lr(folder, setting, arm)
        for lr in LRS:
            c = load(folder, cell_name(arm, lr, TUNING_SEED))
            if c is None:
                lines.append(f"| {arm} | {lr:g} | pending | | | | |")
                continue
            star = "*" if lr == pick else ""
            lines.append(
                f"| {arm} | {lr:g}{star} | {c['after']['success']:.1f} | {c['after']['score']:.1f} | "
                f"{c['train_success_last_quarter']:.1f} | {merit(c):.1f} | {c['time_s']:.0f} |"
            )
    return lines


def _noise_paragraph(noise: dict[str, Any] | None) -> list[str]:
    if noise is None:
        return ["", "Evaluation noise: not measured yet."]
    return [
        "",
        f"Evaluation noise (measured before any cell: {noise['arm']} at lr {noise['lr']:g} trained on seed "
        f"{noise['seed']}, evaluated {len(noise['base_successes'])} times with other sampling seeds): standard "
        f"deviation {noise['base_sd']:.2f} points at {noise['base_episodes']} episodes per task, so "
        f"{noise['episodes']} episodes per task (predicted {noise['predicted_sd']:.2f}, target <= "
        f"{noise['target_sd']:g}); measured at {noise['episodes']}: {noise['chosen_sd']:.2f} points over "
        f"{len(noise['chosen_successes'])} evaluations (commit {noise['commit'][:7]}).",
    ]


def report(folder: Path, setting: str, png: Path | None) -> str:
    spec = SETTINGS[setting]
    lines = [f"Setting {setting}: {spec.what}.", ""]
    lines += _tuning_table(folder, setting) if spec.lr is None else [f"Every arm at lr {spec.lr:g}, fixed in advance."]
    if spec.measured_noise:
        lines += _noise_paragraph(load(folder, "noise"))
    controls = spec.controls
    runs = {
        arm: {s: load(folder, cell_name(arm, chosen_lr(folder, setting, arm), s)) for s in spec.seeds}
        for arm in (*spec.arms, *controls)
        if chosen_lr(folder, setting, arm) is not None
    }
    befores = {s: load(folder, cell_name(None, None, s)) for s in spec.seeds}
    for metric in spec.metrics:
        lines += _evaluation_tables(folder, setting, runs, befores, metric)
    if any(runs[c][s] for c in controls if c in runs for s in spec.seeds):
        lines += _control_table(setting, runs, controls)
    if set(PRIMARY) <= set(spec.arms) and {a for pair in SECONDARY for a in pair} <= set(spec.arms):
        lines += _hypothesis_tests(setting, runs)
    commits = sorted({c["commit"][:7] for cells in runs.values() for c in cells.values() if c})
    commits += sorted({b["commit"][:7] for b in befores.values() if b} - set(commits))
    if commits:
        lines += ["", f"Cells ran at commit(s): {', '.join(commits)}."]
    keys = (
        "anchor_fraction",
        "step_group_size",
        "mixing_share",
        "revisit_share",
        "sign_agreement",
        "correlation",
        "step_to_episode",
    )
    lines += [
        "",
        "Step-credit statistics of the training rollouts (mean over rounds and report seeds; of the true anchor "
        "states, also for the permuted control):",
        "",
        "| arm | anchor fraction | step group size | mixing early/late | own-trajectory revisits | "
        "sign agreement | corr(step, episode) | step/episode size |",
        "|---|" + "---:|" * len(keys),
    ]
    for arm, cells in runs.items():
        rounds = [r for c in cells.values() if c for r in c["curve"]]
        if rounds:
            lines.append(f"| {arm} | " + " | ".join(f"{_mean([r[k] for r in rounds]):.2f}" for k in keys) + " |")
    lines += [
        "",
        "Optimiser statistics over the rounds that took an optimiser step (rounds without one measured nothing, and "
        "cells run before 2026-12-08 hold a 0 there that is not a measurement), mean over report seeds; KL to the "
        "reference per token in each cell's last measured round; entropy of the policy per token, - for cells run "
        "before 2026-12-04, which did not measure it:",
        "",
        "| arm | KL (last measured round) | clip fraction | grad norm | optimiser steps / round | skipped / round | "
        "entropy | time s | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for arm, cells in runs.items():
        done = [c for c in cells.values() if c]
        if not done:
            continue
        rounds = [r for c in done for r in c["curve"]]
        figures = (
            _mean([last_measured(c, "kl") for c in done]),
            _mean(_measured(rounds, "clip_fraction")),
            _mean(_measured(rounds, "grad_norm")),
            _mean([r["optimizer_steps"] for r in rounds]),
            _mean([r["skipped_batches"] for r in rounds]),
        )
        entropies = _measured(rounds, "policy_entropy")
        entropy = f"{_mean(entropies):.3f}" if entropies else "-"
        lines.append(
            f"| {arm} | {figures[0]:.4f} | {figures[1]:.3f} | {figures[2]:.3f} | {figures[3]:.1f} | "
            f"{figures[4]:.1f} | {entropy} | {_mean([c['time_s'] for c in done]):.0f} | "
            f"{_mean([c['peak_rss_mb'] for c in done]):.0f} |"
        )
    if png is not None and any(c for cells in runs.values() for c in cells.values()):
        plot(runs, setting, png)
        lines += ["", f"Curves: {png.name}"]
    return "\n".join(lines)


def plot(runs: dict[str, dict[int, dict | None]], setting: str, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for arm, cells in runs.items():
        curves = [[r["success"] for r in c["curve"]] for c in cells.values() if c]
        if curves:
            mean = np.mean(np.array(curves), axis=0)
            ax.plot(np.arange(1, len(mean) + 1), mean, label=f"{arm} ({len(curves)} seeds)")
    ax.set_xlabel("round")
    ax.set_ylabel("training success % (mean over seeds)")
    ax.set_title(f"{setting}: training rollouts per round")
    ax.legend()
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=100)
    plt.close(fig)


def status(folder: Path, setting: str) -> str:
    lines = []
    for arm, lr, seed in queue(folder, setting):
        name = cell_name(arm, lr, seed)
        state = "done" if load(folder, name) else "running" if (folder / f"{name}.lock").exists() else "pending"
        lines.append(f"{name}: {state}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("work", "run", "noise", "status", "report"))
    parser.add_argument("--setting", required=True, choices=sorted(SETTINGS), help="environment setting")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "runs" / "study", help="folder of the settings' cell files"
    )
    parser.add_argument("--arm", choices=sorted([*ARMS, *CONTROLS]), help="run: the arm")
    parser.add_argument("--lr", type=float, help="run: the learning rate")
    parser.add_argument("--seed", type=int, help="run: the seed")
    parser.add_argument("--before", action="store_true", help="run: evaluate the seed's untrained model")
    parser.add_argument("--rounds", type=int, help="smaller budget (tests): rounds per run")
    parser.add_argument("--eval-tasks", type=int, help="smaller budget (tests): evaluation tasks")
    parser.add_argument("--max-episode-steps", type=int, help="smaller budget (tests): episode step limit")
    parser.add_argument("--png", type=Path, help="report: where to write the curves (default: none)")
    args = parser.parse_args(argv)
    given = (("rounds", args.rounds), ("eval_tasks", args.eval_tasks), ("max_episode_steps", args.max_episode_steps))
    budget = {k: v for k, v in given if v is not None}
    folder = args.out / args.setting
    manifest(folder, args.setting, budget)
    if args.command == "work":
        return work(folder, args.setting, budget, args.out)
    if args.command == "status":
        print(status(folder, args.setting))
        return 0
    if args.command == "report":
        print(report(folder, args.setting, args.png))
        return 0
    if args.command == "noise":
        if not SETTINGS[args.setting].measured_noise:
            parser.error(f"setting {args.setting} takes its evaluation episodes from its preset (no noise step)")
        noise = noise_cell(args.setting, budget)
        write(folder, "noise", noise)
        print(
            f"evaluation sd {noise['base_sd']:.2f} points at {noise['base_episodes']} episodes per task -> "
            f"{noise['episodes']} episodes (measured sd there {noise['chosen_sd']:.2f})"
        )
        return 0
    if args.seed is None or (not args.before and (args.arm is None or args.lr is None)):
        parser.error("run needs --seed and either --before or --arm and --lr")
    episodes = eval_episodes_of(folder, args.setting)
    if args.before:
        result = before_cell(args.setting, args.seed, budget, episodes)
        write(folder, cell_name(None, None, args.seed), result)
        print(f"untrained success {result['before']['success']:.1f}%")
    else:
        result = train_cell(args.setting, args.arm, args.lr, args.seed, budget, episodes)
        write(folder, cell_name(args.arm, args.lr, args.seed), result)
        print(
            f"success {result['after']['success']:.1f}% score {result['after']['score']:.1f} "
            f"(train last quarter {result['train_success_last_quarter']:.1f}%)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
