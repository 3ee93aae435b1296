"""Smoke tests: each benchmark script starts and writes its output on a tiny budget (the real runs are not in CI)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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
