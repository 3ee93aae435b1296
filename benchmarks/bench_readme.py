"""The README's examples as a reader runs them: each Python block marked ``<!-- runnable -->`` (its output and wall
time) and the command-line samples whose output the README prints.

Run from the repository root::

    python benchmarks/bench_readme.py

Each Python block runs in its own process from an empty folder, with ``OMP_NUM_THREADS=1`` and
``HF_HUB_OFFLINE=1`` (it must need neither threads nor a download); its stdout is printed, then its CPU time (with
one thread, its wall time on an idle core) and its wall time beside whatever else the machine ran (the load average
is printed too). Each ``$ gigpo-eval ...`` line of the README's sample output runs as ``python -m
trainer.cli.evaluate ...`` and its output is printed under it, so the README's sample can be checked against this
section (``tests/test_readme.py``).
"""

from __future__ import annotations

import os
import re
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MARKER = "<!-- runnable -->"
_SAMPLE = re.compile(r"^\$ (gigpo-eval .*)$", re.MULTILINE)


def runnable_blocks(text: str) -> list[str]:
    """The ``python`` code blocks of a Markdown text whose opening fence follows a ``<!-- runnable -->`` line."""
    lines, blocks = text.splitlines(), []
    for i, line in enumerate(lines):
        if line.strip() == "```python" and i > 0 and lines[i - 1].strip() == MARKER:
            end = lines.index("```", i + 1)
            blocks.append("\n".join(lines[i + 1 : end]) + "\n")
    return blocks


def sample_commands(text: str) -> list[str]:
    """The ``$ gigpo-eval ...`` lines of the README's sample output, without the prompt."""
    return _SAMPLE.findall(text)


def run_block(code: str, timeout: float = 900) -> tuple[subprocess.CompletedProcess, float, float]:
    """Run ``code`` as a reader would paste it into a file: its own process, an empty folder, one thread, offline.

    Returns the finished process, its wall time and its CPU time (user + system, s): with one thread the CPU time is
    what the wall time is on an idle core, whatever else the machine runs meanwhile."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "example.py"
        script.write_text(code)
        start, used = time.perf_counter(), _children_cpu()
        done = subprocess.run(
            [sys.executable, str(script)], cwd=folder, env=env, capture_output=True, text=True, timeout=timeout
        )
    return done, time.perf_counter() - start, _children_cpu() - used


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> int:
    text = README.read_text(encoding="utf-8")
    blocks = runnable_blocks(text)
    print(f"load average of the machine before: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores)")
    for n, code in enumerate(blocks, 1):
        done, seconds, cpu = run_block(code)
        if done.returncode != 0:
            raise RuntimeError(f"README runnable block {n} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
        print(f"README runnable block {n} of {len(blocks)} (OMP_NUM_THREADS=1), its output:")
        print(done.stdout.rstrip())
        what = "the whole process with one thread: imports, the tiny model, evaluations, training"
        print(f"cpu time {cpu:.0f} s ({what})")
        print(f"wall time {seconds:.0f} s")
        print(f"load average of the machine after it: {os.getloadavg()[0]:.1f} (on {os.cpu_count()} cores)\n")
    for command in sample_commands(text):
        argv = [sys.executable, "-m", "trainer.cli.evaluate", *shlex.split(command)[1:]]
        done = subprocess.run(
            argv, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}
        )
        if done.returncode != 0:
            raise RuntimeError(f"{command} failed (exit {done.returncode}): {done.stderr[-2000:]}")
        print(f"$ {command}")
        print(done.stdout.rstrip())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
