"""Learning-rate and epoch sweep of a CPU preset: one run per (estimator, lr, epochs x rounds, seed), kept on disk.

Run from the repository root::

    python benchmarks/bench_tuning.py --preset cpu-quickstart --estimators gigpo grpo --lrs 1e-3 3e-3 1e-2 \\
        --schedules 1x20 2x12 --seeds 100 --out runs/tuning
    python benchmarks/bench_tuning.py --sweep gigpo 1e-3,3e-3 1x20,2x12 100 --sweep grpo 1e-2 1x20 100,101
    python benchmarks/bench_tuning.py --sweep gigpo 3e-3 1x20 100,101,102 --sweep gigpo 3e-3 1x20 100 norm=std

``EPOCHSxROUNDS`` schedules compare a similar number of passes over fresh data. Each finished run is written to
``--out``/<preset>-<estimator>-lr<lr>-<epochs>x<rounds>-seed<seed>.json and skipped when the file exists, so an
interrupted sweep resumes where it stopped; ``--report`` prints the table of every finished run without training.
The tuning seeds are not the seeds the presets are reported on (0-4), so the choice is not made on the figures
it is then judged by. The figure of merit is success on the preset's evaluation tasks after training (sampled,
seeded), next to the training rollouts' success over the last quarter of the rounds and the last round's KL and
clip fraction.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import time
from pathlib import Path

import gigpo_gym  # noqa: F401
from trainer.config import resolve_config
from trainer.evaluation import evaluate
from trainer.training import build_model, eval_task_ids


def run(preset: str, estimator: str, lr: float, epochs: int, rounds: int, seed: int, sets: list[str]) -> dict:
    config = resolve_config(
        preset, overrides=sets, algo=estimator, learning_rate=lr, n_epochs=epochs, rounds=rounds, seed=seed
    )
    model = build_model(config)
    start = time.perf_counter()
    curve = []
    for done in range(rounds):
        model.learn(total_timesteps=1, reset_num_timesteps=done == 0)
        curve.append(
            {
                "success": 100 * model.round_stats["rollout/round_success_rate"],
                "kl": model.last_train_stats["kl"],
                "clip_fraction": model.last_train_stats["clipped"],
            }
        )
    table = evaluate(
        model,
        config.env,
        eval_task_ids(config),
        env_kwargs=config.gym_kwargs(config.eval_split),
        episodes_per_task=config.eval_episodes,
        seed=seed,
    )
    tail = curve[-max(1, rounds // 4) :]
    return {
        "preset": preset,
        "estimator": estimator,
        "lr": lr,
        "epochs": epochs,
        "rounds": rounds,
        "seed": seed,
        "set": sets,
        "eval_success": table["all"],
        "eval_score": table["score"],
        "train_success_last_quarter": statistics.mean(c["success"] for c in tail),
        "kl_last": curve[-1]["kl"],
        "clip_fraction_last": curve[-1]["clip_fraction"],
        "curve": curve,
        "time_s": time.perf_counter() - start,
    }


def _score(run: dict) -> str:
    # runs written before the score was recorded show none rather than a stand-in
    return f"{run['eval_score']:.1f}" if "eval_score" in run else "n/a"


def report(out: Path) -> None:
    rows = [json.loads(p.read_text()) for p in sorted(out.glob("*.json"))]
    print(
        "| preset | estimator | lr | epochs x rounds | --set | seed | eval success % | eval score | "
        "train success % (last quarter) | "
        "KL (last) | clip frac (last) | time s |"
    )
    print("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in sorted(
        rows, key=lambda r: (r["preset"], r["estimator"], r["lr"], r["epochs"], r.get("set", []), r["seed"])
    ):
        sets = " ".join(r.get("set", [])) or "-"  # runs recorded before --set existed used the preset as it was
        print(
            f"| {r['preset']} | {r['estimator']} | {r['lr']:g} | {r['epochs']}x{r['rounds']} | {sets} | "
            f"{r['seed']} | "
            f"{r['eval_success']:.1f} | {_score(r)} | "
            f"{r['train_success_last_quarter']:.1f} | {r['kl_last']:.4f} | "
            f"{r['clip_fraction_last']:.3f} | {r['time_s']:.0f} |"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-quickstart", help="gigpo-train preset to tune")
    parser.add_argument("--estimators", nargs="+", default=["gigpo"], help="estimators (gigpo, grpo, rloo)")
    parser.add_argument("--lrs", type=float, nargs="+", default=[1e-3, 3e-3, 1e-2], help="learning rates")
    parser.add_argument("--schedules", nargs="+", default=["1x20", "2x12"], help="EPOCHSxROUNDS schedules")
    parser.add_argument("--seeds", type=int, nargs="+", default=[100], help="tuning seeds")
    parser.add_argument(
        "--sweep",
        nargs="+",
        action="append",
        metavar="ESTIMATORS LRS SCHEDULES SEEDS [KEY=VALUE,...]",
        help="one grid as comma-separated lists, with optional config overrides of its own "
        "(repeatable; replaces the four options above), e.g. --sweep gigpo,grpo 1e-3,3e-3 1x20 "
        "100,101 or --sweep gigpo 3e-3 1x20 100 norm=std",
    )
    parser.add_argument(
        "--set",
        dest="sets",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a further config override for every run of this call (repeatable), e.g. --set norm=std; "
        "part of each run's file name",
    )
    parser.add_argument("--out", default="runs/tuning", help="folder of the per-run JSON files")
    parser.add_argument("--report", action="store_true", help="print the table of finished runs and exit")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    grids = []
    for grid in args.sweep or []:
        if len(grid) not in (4, 5):
            parser.error(f"--sweep takes ESTIMATORS LRS SCHEDULES SEEDS [KEY=VALUE,...], got {' '.join(grid)!r}")
        e, lr, sc, sd = grid[:4]
        extra = grid[4].split(",") if len(grid) == 5 else []
        grids.append(
            (
                e.split(","),
                [float(x) for x in lr.split(",")],
                sc.split(","),
                [int(x) for x in sd.split(",")],
                [*args.sets, *extra],
            )
        )
    grids = grids or [(args.estimators, args.lrs, args.schedules, args.seeds, args.sets)]
    if not args.report:
        for estimators, lrs, schedules, seeds, sets in grids:
            for estimator, schedule, lr, seed in itertools.product(estimators, schedules, lrs, seeds):
                epochs, rounds = (int(x) for x in schedule.split("x"))
                label = "".join(f"-{item.replace('=', '_')}" for item in sets)
                path = out / f"{args.preset}-{estimator}-lr{lr:g}-{epochs}x{rounds}{label}-seed{seed}.json"
                if path.exists():
                    continue
                result = run(args.preset, estimator, lr, epochs, rounds, seed, sets)
                tmp = path.with_suffix(".tmp")
                tmp.write_text(json.dumps(result))
                tmp.replace(path)
                print(f"{path.name}: eval success {result['eval_success']:.1f}% ({result['time_s']:.0f} s)", flush=True)
    report(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
