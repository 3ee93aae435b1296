"""Run the benchmarks and rewrite ``RESULTS.md``: ``python -m benchmarks`` from the repository root.

    python -m benchmarks [--budget full|smoke] [--only NAME ...] [--out benchmarks]
                         [--alfworld-transcripts T.jsonl ...] [--alfworld-real-python ALFWORLD_VENV/bin/python]

Each benchmark script runs in its own process, its output streamed to the terminal and kept. When a script
finishes, its section (its exact command, machine, date, wall time and everything it printed) is saved in
``--out``/sections/NAME.json and ``RESULTS.md`` is rewritten from all saved sections, in a fixed order; the learning
sections add GiGPO's paired per-seed difference to GRPO and RLOO, from the JSON files bench_learning wrote beside.
So ``--only`` refreshes some sections and keeps the others, and an interrupted run loses only the unfinished
benchmark. Nothing in a section's figures is typed by hand; a hand-written reading of a full run may sit in
``benchmarks/notes/NAME.md``, shown under its section with the date of the run it reads.

Budgets: ``full`` is the study (3 seeds x 3 estimators x 8 rounds on each env); on 2 CPU cores it takes about
90 minutes, most of it the 18 learning runs (3.5 to 4.5 minutes each); ``--seeds`` and ``--rounds`` shrink it.
``smoke`` runs each script on a tiny budget (about a minute per benchmark) to check that the pipeline works; its
figures mean nothing and it writes to ``runs/benchmarks-smoke`` unless told. ``smollm`` (the real pretrained
SmolLM2-135M-Instruct, needs the ``smollm`` extra and takes about 45 minutes on 2 cores) runs only when named in
``--only``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


@dataclass(frozen=True)
class Benchmark:
    name: str
    title: str
    script: str
    full: tuple[str, ...]
    smoke: tuple[str, ...]
    what: str
    learning_env: str | None = None  # bench_learning's env: the section gets the GiGPO - GRPO comparison
    image: str | None = None  # a picture the script writes beside RESULTS.md, shown under its section
    default: bool = True  # run when --only is not given


def benchmarks(seeds: list[str], rounds: str) -> list[Benchmark]:
    learning = ("--rounds", rounds, "--seeds", *seeds)
    smoke_learning = ("--rounds", "1", "--seeds", "0", "--eval-tasks", "2", "--estimators", "gigpo", "grpo")
    return [
        Benchmark(
            "advantages",
            "Advantage estimators",
            "bench_advantages.py",
            (),
            ("--sizes", "4", "8", "--repeats", "1"),
            "GiGPO's advantages (episode + step groups over 32-hex state hashes) on 128 groups x 8 trajectories x 50 "
            "steps and 10x that: on the trainer's path (the rollout buffer, hashes interned as steps arrive) and as "
            "the bare function on the strings, against the reference Python loop of the tests. Target: < 20 ms for "
            "51,200 rows on the buffer path and linear growth.",
        ),
        Benchmark(
            "envs",
            "Environments",
            "bench_envs.py",
            (),
            ("--steps", "200"),
            "Embedded env throughput with a random policy (state hash and admissible commands included; targets "
            "ALFWorld >= 5,000 and WebShop >= 2,000 steps/s), random/rule/expert success, and, where "
            "../shared/alfworld is present, the expert on the 274 real games, the real-game fidelity on the "
            "given transcripts and the embedded vs real TextWorld speed measured in this run (target >= 100x).",
        ),
        Benchmark(
            "rollout",
            "Rollout and update cost, GiGPO and PPO vs GRPO",
            "bench_rollout.py",
            ("--rounds", "2", "--repeats", "3", "--mode", "score"),
            ("--rounds", "1", "--repeats", "1", "--mode", "score", "--env", "WebShop-text-v0"),
            "Time per round, env steps/s and generated tokens/s in rollouts, update tokens/s, optimiser steps, "
            "advantage time and peak RSS of the tiny model in score mode on the quickstart's pick tasks "
            "(3-receptacle rooms), each worker a fresh process, GiGPO, GRPO and PPO interleaved. The paper's "
            "claims: GiGPO has GRPO's memory and little extra time (ratios near 1); PPO's critic costs both.",
        ),
        Benchmark(
            "warmstart",
            "Supervised warm start (one run)",
            "bench_warmstart.py",
            (),
            ("--episodes", "10", "--epochs", "1"),
            "Behaviour cloning of the tiny model on expert demonstrations of ALFWorld look-at tasks (trainer.sft), "
            "and its success on the valid_seen look-at tasks before and after.",
        ),
        Benchmark(
            "tuning",
            "Score-mode learning rate and epochs sweep (cpu-quickstart)",
            "bench_tuning.py",
            (
                "--preset",
                "cpu-quickstart",
                "--sweep",
                "gigpo",
                "1e-3,3e-3,1e-2",
                "1x20,2x12",
                "100",
                "--sweep",
                "gigpo",
                "3e-3",
                "1x20,1x30",
                "100,101,102",
                "--sweep",
                "grpo",
                "1e-3,3e-3,1e-2",
                "1x20",
                "100",
            ),
            (
                "--preset",
                "cpu-quickstart",
                "--estimators",
                "gigpo",
                "--lrs",
                "1e-3",
                "--schedules",
                "1x1",
                "--seeds",
                "100",
                "--out",
                "runs/benchmarks-smoke/tuning",
            ),
            "The exact score mode re-tuned on the cpu-quickstart preset: GiGPO at three learning rates and two "
            "epochs x rounds schedules of similar update budget on tuning seed 100; then, for the lr kept, 20 against "
            "30 rounds on tuning seeds 100-102; GRPO at three learning rates. The tuning seeds are not the seeds the "
            "preset is reported on (0-4). Each run is kept in runs/tuning/ and not run again when present.",
        ),
        Benchmark(
            "tuning_candidates",
            "Quickstart candidates on tuning seeds 100-102 (rule declared before the runs)",
            "bench_tuning.py",
            (
                "--preset",
                "cpu-quickstart",
                "--out",
                "benchmarks/runs/tuning-candidates",
                "--sweep",
                "gigpo",
                "3e-3,5e-3",
                "1x20",
                "100,101,102",
                "--sweep",
                "gigpo",
                "3e-3",
                "1x20",
                "100,101,102",
                "norm=std",
                "--sweep",
                "gigpo",
                "3e-3",
                "1x20",
                "100,101,102",
                "n_groups=8",
            ),
            (
                "--preset",
                "cpu-quickstart",
                "--estimators",
                "gigpo",
                "--lrs",
                "3e-3",
                "--schedules",
                "1x1",
                "--seeds",
                "100",
                "--set",
                "norm=std",
                "--out",
                "runs/benchmarks-smoke/tuning-candidates",
            ),
            "After the quickstart's seed 0 stopped at x2.93: the preset as it was (lr 3e-3), lr 5e-3, norm=std (the "
            "reference's ALFWorld GiGPO normalisation) and n_groups=8, GiGPO one epoch over 20 rounds, on tuning "
            "seeds 100-102, one thread per run, two runs at a time. Rule written before the runs "
            "(benchmarks/notes/tuning.md): the highest three-seed mean replaces the preset if it beats the "
            "preset's by 2 points. Runs are kept in benchmarks/runs/tuning-candidates/ (committed: a study may span "
            "sessions) and not run again.",
        ),
        Benchmark(
            "tuning_temperature",
            "Score-mode temperature candidates on tuning seeds 100-102 (rule declared before the runs)",
            "bench_tuning.py",
            (
                "--preset",
                "cpu-quickstart",
                "--out",
                "benchmarks/runs/tuning-temperature",
                "--sweep",
                "gigpo",
                "3e-3",
                "1x20",
                "100,101,102",
                "--sweep",
                "gigpo",
                "1e-3,3e-3",
                "1x20",
                "100,101,102",
                "temperature=0.3",
            ),
            (
                "--preset",
                "cpu-quickstart",
                "--estimators",
                "gigpo",
                "--lrs",
                "1e-3",
                "--schedules",
                "1x1",
                "--seeds",
                "100",
                "--set",
                "temperature=0.3",
                "--out",
                "runs/benchmarks-smoke/tuning-temperature",
            ),
            "After the policy probe found no goal conditioning: the preset (T 1, lr 3e-3, norm std) against score-mode "
            "temperature 0.3 at lr 1e-3 and 3e-3, GiGPO one epoch over 20 rounds, tuning seeds 100-102, 2 threads, "
            "one run at a time. Rule in benchmarks/runs/tuning-temperature/RULE.md, committed before the runs: the "
            "best three-seed mean replaces the preset's setting if it beats the preset's by 3 points and is below it "
            "on at most one seed. Runs are kept in benchmarks/runs/tuning-temperature/ and not run again.",
        ),
        Benchmark(
            "tuning_rounds",
            "More rounds in the quickstart's time: 30 rounds at kl_coef 0 against the preset (rule "
            "declared before the runs)",
            "bench_tuning.py",
            (
                "--preset",
                "cpu-quickstart",
                "--out",
                "benchmarks/runs/tuning-rounds",
                "--sweep",
                "gigpo",
                "3e-3",
                "1x20",
                "100,101,102",
                "--sweep",
                "gigpo",
                "3e-3",
                "1x30",
                "100,101,102",
                "kl_coef=0",
            ),
            (
                "--preset",
                "cpu-quickstart",
                "--estimators",
                "gigpo",
                "--lrs",
                "3e-3",
                "--schedules",
                "1x1",
                "--seeds",
                "100",
                "--set",
                "kl_coef=0",
                "--out",
                "runs/benchmarks-smoke/tuning-rounds",
            ),
            "After the temperature sweep kept the preset: the preset (20 rounds, kl_coef 0.01) against 30 rounds at "
            "kl_coef 0 (the trainer then skips the reference pass, which pays for part of the extra rounds), GiGPO one "
            "epoch, lr 3e-3, tuning seeds 100-102, 2 threads, one run at a time; the preset's runs are those of the "
            "temperature sweep. Rule in benchmarks/runs/tuning-rounds/RULE.md, committed before the runs: the arm "
            "replaces the preset's rounds and kl_coef if its three-seed mean beats the preset's by 3 points and it is "
            "below it on at most one seed.",
        ),
        Benchmark(
            "tuning_webshop",
            "Score-mode learning rate sweep (cpu-webshop)",
            "bench_tuning.py",
            (
                "--preset",
                "cpu-webshop",
                "--sweep",
                "gigpo",
                "1e-3,3e-3,1e-2",
                "1x20",
                "100",
                "--out",
                "runs/tuning-webshop",
            ),
            (
                "--preset",
                "cpu-webshop",
                "--estimators",
                "gigpo",
                "--lrs",
                "1e-3",
                "--schedules",
                "1x1",
                "--seeds",
                "100",
                "--out",
                "runs/benchmarks-smoke/tuning-webshop",
            ),
            "GiGPO on the cpu-webshop preset (dense score reward) at three learning rates, one epoch over 20 rounds, "
            "on tuning seed 100: score and success on the first 50 test goals after training.",
        ),
        Benchmark(
            "quickstart",
            "The main job on seeds 0-4: python -m trainer.cli.quickstart",
            "bench_quickstart.py",
            ("--seeds", "0", "1", "2", "3", "4"),
            ("--seeds", "0", "--rounds", "1", "--out", "runs/benchmarks-smoke/quickstart"),
            "The README's main job, run as a user runs it, once per seed (each its own process, no seed left out): "
            "success on the 35 held-out valid_seen pick tasks x 4 sampled episodes before and after training.",
        ),
        Benchmark(
            "readme",
            "The README's examples",
            "bench_readme.py",
            (),
            (),
            "Every README Python block marked runnable, run as a reader pastes it (its own process, an empty folder, "
            "OMP_NUM_THREADS=1, HF_HUB_OFFLINE=1): its output, CPU time and wall time; then the README's sample "
            "gigpo-eval commands and their output, which the README's sample must match (tests/test_readme.py).",
        ),
        Benchmark(
            "policy_probe",
            "What the quickstart's policy learned, and what simple policies reach there",
            "bench_policy_probe.py",
            ("--checkpoint", "runs/quickstart-seeds/run-seed0/checkpoint.zip", "--seed", "0"),
            ("--episodes", "1"),
            "Hand policies simulated on the quickstart's evaluation tasks (uniform, without useless verbs, verb "
            "weights only, goal-conditioned take/put), and the quickstart study's seed-0 checkpoint against its "
            "untrained start (bench_quickstart writes it): the expert command's probability relative to uniform, per "
            "verb and within its verb.",
        ),
        Benchmark(
            "webshop_fidelity",
            "WebShop-text-v0 against the original WebShop text env",
            "bench_webshop_fidelity.py",
            (),
            ("--no-baselines",),
            "Transcripts of princeton-nlp/WebShop's WebAgentTextEnv (text mode), recorded by "
            "benchmarks/webshop_original.py on 36 episodes written for this project over 8 real products, replayed "
            "through the embedded engine field by field; then a random policy and the rule baseline on the generated "
            "catalog's 500 test goals.",
        ),
        Benchmark(
            "distributed",
            "Data-parallel training: 1 process against 2 (torchrun, gloo)",
            "bench_distributed.py",
            ("--rounds", "4"),
            ("--rounds", "2", "--out", "runs/benchmarks-smoke/distributed"),
            "The cpu-quickstart preset for 4 rounds in one process (2 threads) and in two processes under torchrun "
            "(1 thread each, 2 of the round's 4 groups each), one after the other: the median round time (rollout "
            "plus update, the first round left out) and the largest resident set of any process.",
        ),
        Benchmark(
            "sharding",
            "FSDP sharding against DDP: memory per process of an update (torchrun, gloo, 2 processes)",
            "bench_sharding.py",
            ("--model", "smollm2-135m-instruct"),
            ("--model", "tiny", "--out", "runs/benchmarks-smoke/sharding"),
            "SmolLM2-135M-Instruct fully fine-tuned in float32 by 2 processes (one thread each), with "
            "sharding=none (DDP) and sharding=fsdp (FSDP2): one small ALFWorld round, then two updates with fixed "
            "non-zero advantages; each rank's tensors by kind and its peak resident set.",
        ),
        Benchmark(
            "probe",
            "Bad-input probe re-run: all 326 cases (env, advantages, Python API, CLI, checkpoints and "
            "resume, security, determinism, concurrency)",
            "bench_probe.py",
            (),
            ("--no-cli", "--no-runs"),
            "The cases of ../shared/reviews/bad-input-probe.md against this code, beside the probe's verdicts on "
            "commit b36e1ec: the one-line env and advantage snippets (probe/snip_*.txt and two commands of its table) "
            "and the CLI commands as the probe wrote them; the Python-API cases and sections 4-7 (whose helper "
            "scripts were written for the old pickled checkpoint) made again from their names, each with the check "
            "that decides it (benchmarks/probe_runs.py). Changed return values are listed for a reader to judge. "
            "Skipped without ../shared/reviews.",
        ),
        Benchmark(
            "learning_webshop",
            "Learning on WebShop: GiGPO vs GRPO vs RLOO",
            "bench_learning.py",
            ("--env", "WebShop-text-v0", *learning),
            ("--env", "WebShop-text-v0", *smoke_learning),
            "The tiny random-init model in score mode (the cpu-webshop preset), only the estimator differing; "
            "score and success on the first 50 test goals before and after training.",
            learning_env="WebShop-text-v0",
        ),
        Benchmark(
            "learning_alfworld",
            "Learning on ALFWorld: GiGPO vs GRPO vs RLOO",
            "bench_learning.py",
            ("--env", "ALFWorld-text-v0", "--eval-tasks", "35", *learning),
            ("--env", "ALFWorld-text-v0", *smoke_learning),
            "The tiny random-init model in score mode (the cpu-quickstart preset: pick tasks in 3-receptacle "
            "rooms, 30-step episodes), only the estimator differing; success on the 35 valid_seen pick tasks x 4 "
            "sampled episodes before and after training.",
            learning_env="ALFWorld-text-v0",
        ),
        *(
            Benchmark(
                f"study_{setting.replace('-', '_')}",
                f"GiGPO vs GRPO where step credit matters: {setting}",
                "bench_study.py",
                ("report", "--setting", setting, "--png", f"benchmarks/study_{setting}.png"),
                ("report", "--setting", setting, "--out", "runs/benchmarks-smoke/study"),
                f"The study's tables from its cell files (benchmarks/runs/study/{setting}/, protocol in "
                "benchmarks/runs/study/PROTOCOL.md): each arm's learning rate tuned on seed 100, its evaluation "
                "success on report seeds 0-4, the paired difference to GRPO with a 95% Student-t interval, the "
                "controls of the protocol's addendum where they ran, the step-credit and optimiser statistics of the "
                "training rollouts. The cells are run by "
                f"`python benchmarks/bench_study.py work --setting {setting}` (one process per cell, resumable); this "
                "section only reads them.",
                image=f"study_{setting}.png",
            )
            for setting in ("alfworld-small", "webshop-success", "alfworld-6")
        ),
        Benchmark(
            "study_replication",
            "GiGPO vs GRPO: the pre-registered replication with a credit control",
            "bench_study.py",
            ("report", "--setting", "replication", "--png", "benchmarks/study_replication.png"),
            ("report", "--setting", "replication", "--out", "runs/benchmarks-smoke/study"),
            "The replication's tables from its cell files (benchmarks/runs/study/replication/, protocol in "
            'benchmarks/runs/study/PROTOCOL.md, "Replication", committed before its runs): GiGPO-std, GRPO and the '
            "permuted-anchor credit control at lr 3e-3 on fresh seeds 1000-1009, each with its own initial weights; "
            "the measured evaluation noise; per-seed evaluation success; paired differences with 95% intervals; "
            "the primary test, the Holm-corrected secondary tests and the protocol's decision. The cells are run by "
            "`python benchmarks/bench_study.py work --setting replication`; this section only reads them.",
            image="study_replication.png",
        ),
        Benchmark(
            "smollm",
            "SmolLM2-135M-Instruct (real pretrained weights, offline)",
            "bench_smollm.py",
            (
                "--alfworld-per-type",
                "1",
                "--alfworld-steps",
                "15",
                "--webshop-goals",
                "5",
                "--train-minutes",
                "30",
                "--train-eval-tasks",
                "20",
            ),
            (
                "--alfworld-per-type",
                "1",
                "--alfworld-steps",
                "1",
                "--webshop-goals",
                "1",
                "--webshop-steps",
                "1",
                "--train-minutes",
                "0",
                "--train-steps",
                "2",
                "--train-eval-tasks",
                "1",
            ),
            "Zero-shot success of SmolLM2-135M-Instruct in the paper's prompting setup (greedy score mode) on a small "
            "sample of ALFWorld valid_seen games and WebShop test goals; then a short GiGPO LoRA run (micro-batch 4, "
            "as many rounds as fit in 30 minutes) on pick tasks in 3-receptacle rooms, with each round's time and "
            "peak memory and the greedy success before and after. Needs the smollm extra; run with --only smollm.",
            default=False,
        ),
    ]


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines() if ln.startswith("model name")]
        cpu = names[0] if names else cpu
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30 if hasattr(os, "sysconf") else 0.0
    import numpy
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory:.0f} GB RAM, {gpu}; Python {platform.python_version()}, "
        f"NumPy {numpy.__version__}, torch {torch.__version__}"
    )


def run(bench: Benchmark, args: list[str]) -> tuple[str, float]:
    """Run one script, echoing its stdout line by line; its output and wall time. A failure raises."""
    command = [sys.executable, str(HERE / bench.script), *args]
    print(f"\n=== {bench.title}: {shlex.join(['python', f'benchmarks/{bench.script}', *args])}", flush=True)
    start = time.perf_counter()
    lines = []
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as process:
        for line in process.stdout:
            print(line, end="", flush=True)
            lines.append(line)
    if process.returncode != 0:
        raise RuntimeError(f"{bench.script} failed with exit status {process.returncode} (its stderr is above)")
    return "".join(lines), time.perf_counter() - start


def paired_comparison(json_path: Path) -> str:
    """GiGPO minus GRPO (and RLOO) after training, per seed: the runs share seed, model and budget."""
    results = json.loads(json_path.read_text())
    metric = "score" if "webshop" in json_path.name else "success"
    if "gigpo" not in results:
        return ""
    lines = []
    for other in ("grpo", "rloo"):
        if other not in results:
            continue
        diffs = [g["after"][metric] - o["after"][metric] for g, o in zip(results["gigpo"], results[other], strict=True)]
        spread = f" +- {statistics.stdev(diffs):.1f}" if len(diffs) > 1 else ""
        ahead = sum(d > 0 for d in diffs)
        verdict = (
            "GiGPO ahead in every seed" if ahead == len(diffs) else f"GiGPO ahead in {ahead} of {len(diffs)} seeds"
        )
        lines.append(
            f"- GiGPO - {other.upper()} final {metric}: {statistics.mean(diffs):+.1f}{spread} points "
            f"(per seed: {', '.join(f'{d:+.1f}' for d in diffs)}); {verdict}."
        )
    return "\n".join(lines)


def save_section(out: Path, bench: Benchmark, args: list[str], output: str, seconds: float, budget: str) -> None:
    """Keep one finished benchmark's section, written atomically."""
    section = {
        "command": shlex.join(["python", f"benchmarks/{bench.script}", *args]),
        "seconds": round(seconds, 1),
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "machine": machine(),
        "budget": budget,
        "output": output,
    }
    path = out / "sections" / f"{bench.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(section, indent=1) + "\n")
    tmp.replace(path)


def write_results(out: Path, chosen: list[Benchmark]) -> Path:
    """``RESULTS.md`` from the saved sections of ``chosen``, in that order; a section never run says so."""
    parts = [
        "# Benchmark results",
        "",
        "Written by `python -m benchmarks` (`benchmarks/__main__.py`) from the benchmarks' own output. Each section "
        "carries the command, machine and date of the run that printed it; `python -m benchmarks --only NAME` "
        "refreshes one section. Do not edit by hand; a hand-written reading of a run is marked as such.",
    ]
    for bench in chosen:
        parts += ["", f"## {bench.title}", "", bench.what, ""]
        path = out / "sections" / f"{bench.name}.json"
        if not path.is_file():
            parts += [f"Not run yet: `python -m benchmarks --only {bench.name}`."]
            continue
        section = json.loads(path.read_text())
        parts += [
            f"Command: `{section['command']}`",
            "",
            f"Run {section['date']} on {section['machine']}, {section['seconds']:.0f} s.",
            "",
        ]
        if section["budget"] == "smoke":
            parts += ["**Smoke budget: these figures only show that the script runs; they measure nothing.**", ""]
        parts += ["```", section["output"].rstrip("\n"), "```"]
        if bench.learning_env is not None:
            name = bench.learning_env.split("-")[0].lower()
            comparison = paired_comparison(out / f"learning_{name}.json")
            if comparison:
                parts += ["", comparison]
            parts += ["", f"![{bench.title}](learning_{name}.png)"]
        if bench.image is not None and section["budget"] == "full" and (out / bench.image).is_file():
            parts += ["", f"![{bench.title}]({bench.image})"]
        notes = HERE / "notes" / f"{bench.name}.md"
        if section["budget"] == "full" and notes.is_file():
            parts += ["", notes.read_text().rstrip("\n")]
    path = out / "RESULTS.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(parts) + "\n")
    tmp.replace(path)  # atomic: an interrupted write leaves the previous results whole
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    parser.add_argument("--budget", choices=("full", "smoke"), default="full", help="full study or a quick check")
    parser.add_argument("--only", nargs="+", default=None, help="benchmark names to run (default: all but smollm)")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder of RESULTS.md and the learning files (default: benchmarks/ for the full "
        "budget, runs/benchmarks-smoke/ for the smoke budget, so a smoke run never replaces "
        "the results)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="learning seeds (full budget)")
    parser.add_argument("--rounds", type=int, default=8, help="learning rounds per run (full budget)")
    parser.add_argument("--alfworld-transcripts", nargs="*", default=[], help="passed to bench_envs.py")
    parser.add_argument("--alfworld-real-python", default=None, help="passed to bench_envs.py")
    args = parser.parse_args(argv)

    if args.out is None:
        args.out = HERE if args.budget == "full" else ROOT / "runs" / "benchmarks-smoke"
    chosen = benchmarks([str(s) for s in args.seeds], str(args.rounds))
    names = [b.name for b in chosen]
    unknown = sorted(set(args.only or []) - set(names))
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {names}")
    to_run = [b for b in chosen if (b.name in args.only if args.only else b.default)]
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for bench in to_run:
        script_args = list(bench.full if args.budget == "full" else bench.smoke)
        if bench.name == "envs":
            if args.alfworld_transcripts:
                script_args += ["--alfworld-transcripts", *args.alfworld_transcripts]
            if args.alfworld_real_python:
                script_args += ["--alfworld-real-python", args.alfworld_real_python]
        if bench.learning_env is not None:
            script_args += ["--out", os.path.relpath(args.out, ROOT)]  # the scripts run in ROOT
        output, seconds = run(bench, script_args)
        save_section(args.out, bench, script_args, output, seconds, args.budget)
        path = write_results(args.out, chosen)  # after each benchmark, so an interrupted run keeps what finished
    print(f"\nwrote {path} ({len(to_run)} benchmark(s), {(time.perf_counter() - start) / 60:.1f} minutes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
