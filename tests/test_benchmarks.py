"""Smoke tests: each benchmark script starts and writes its output on a tiny budget (the real runs are not in CI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_ALFWORLD = ROOT.parent / "shared" / "alfworld"


def run(script: str, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, f"benchmarks/{script}", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_bench_advantages():
    out = run("bench_advantages.py", "--sizes", "4", "8", "--repeats", "1")
    assert "growth:" in out and "rows/s" in out


def test_bench_envs():
    out = run("bench_envs.py", "--steps", "200")
    assert "ALFWorld-text-v0 embedded:" in out and "WebShop-text-v0 embedded:" in out
    lines = out.strip().splitlines()
    assert lines[-1].split()[:3] == ["expert", "100.0", "100.0"] and lines[-2].split()[0] == "rule"


def test_bench_learning(tmp_path):
    out = run("bench_learning.py", "--rounds", "1", "--seeds", "0", "--eval-tasks", "2",
              "--estimators", "gigpo", "grpo", "--out", str(tmp_path))  # fmt: skip
    assert "estimator   success before" in out and out.count("seed 0 after 1 rounds") == 2
    results = json.loads((tmp_path / "learning_webshop.json").read_text())
    assert set(results) == {"gigpo", "grpo"} and len(results["gigpo"][0]["curve"]) == 1
    assert (tmp_path / "learning_webshop.png").read_bytes().startswith(b"\x89PNG")


def test_bench_rollout():
    out = run("bench_rollout.py", "--rounds", "1", "--repeats", "1", "--mode", "score", "--env", "WebShop-text-v0")
    assert "GiGPO/GRPO" in out and "peak RSS MB" in out


@pytest.mark.skipif(not (SHARED_ALFWORLD / "json_2.1.1").is_dir(), reason="../shared/alfworld (real games) is absent")
def test_bench_envs_real_games_fidelity_coverage_and_recorder_failure():
    # the project's python has no alfworld, so the real env's recorder fails, and the bench must say so
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_envs.py", "--steps", "200", "--alfworld-transcripts",
         "tests/fixtures/alfworld_transcripts.jsonl.gz", "--alfworld-real-python", sys.executable],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert "24 games all identical" in done.stdout and "100.00% identical" in done.stdout
    assert "transcripts cover 24 of the 274 valid_seen + valid_unseen games" in done.stdout
    assert done.stdout.count("  not recorded: json_2.1.1/") == 250
    assert done.returncode != 0 and "the real env's recorder failed" in done.stderr
