"""The README as a reader uses it: every block marked runnable runs as written, and the figures it quotes from runs are
the ones ``benchmarks/RESULTS.md`` holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from benchmarks.bench_readme import MARKER, run_block, runnable_blocks, sample_commands

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
RESULTS = (ROOT / "benchmarks" / "RESULTS.md").read_text(encoding="utf-8")


def section(text: str, heading: str) -> str:
    """The body of the ``## heading`` section of a Markdown text (up to the next ``## ``)."""
    start = text.index(f"\n## {heading}\n") + len(heading) + 5
    end = text.find("\n## ", start)
    return text[start : end if end >= 0 else len(text)]


def test_the_block_finder_takes_only_marked_python_blocks():
    text = f"```python\nskipped()\n```\n{MARKER}\n```python\nkept()\n```\n{MARKER}\n```bash\nnot_python\n```\n"
    assert runnable_blocks(text) == ["kept()\n"]


def test_the_first_python_block_of_training_is_marked_runnable():
    training = section(README, "Training")
    first = training.index("```python")
    assert training[:first].rstrip().endswith(MARKER)
    assert runnable_blocks(README)[0] in training


@pytest.mark.parametrize("n", range(len(runnable_blocks(README))))
def test_every_runnable_readme_block_runs_as_written(n):
    """Its own process, an empty folder, one thread, HF_HUB_OFFLINE=1: exit 0, no warning or loading bar. (Its time
    is measured by ``python -m benchmarks --only readme``, not here.)"""
    done, _, _ = run_block(runnable_blocks(README)[n], timeout=900)  # ~2 min alone; more on a busy machine
    assert done.returncode == 0, done.stderr[-3000:]
    assert not re.search(r"warn|loading weights", done.stderr, re.IGNORECASE), done.stderr[-3000:]
    if n == 0:  # the quick example trains and prints held-out success before and after
        assert re.search(r"^round 3: training success \d+%$", done.stdout, re.MULTILINE), done.stdout
        assert re.search(r"^held-out success: [\d.]+% before, [\d.]+% after 3 rounds$", done.stdout, re.MULTILINE)


def test_the_quick_examples_time_is_the_benchmarks():
    measured = re.findall(r"^cpu time (\d+) s", section(RESULTS, "The README's examples"), re.MULTILINE)
    quoted = re.search(r"takes about\s+(\d+) s on an idle core", section(README, "Training"))
    assert measured and quoted, "the README quotes the time and RESULTS holds it"
    assert quoted.group(1) == measured[0]


def test_the_readmes_sample_output_is_the_benchmarks():
    results = section(RESULTS, "The README's examples")
    commands = sample_commands(README)
    assert any("WebShop-text-v0 --policy random" in c for c in commands)
    for command in commands:
        # the README's lines under "$ command", up to the next prompt or the fence's end
        block = README.split(f"$ {command}\n", 1)[1]
        shown = re.split(r"^(?:\$ |```)", block, maxsplit=1, flags=re.MULTILINE)[0]
        assert f"$ {command}\n{shown}" in results, command


def test_the_quickstarts_time_is_the_benchmarks():
    rows = re.findall(
        r"^\| \d+ \| [\d.]+ \| [\d.]+ \| [\d.]+ \| \d+ \| (\d+) \|$",
        section(RESULTS, "The main job on seeds 0-4: python -m trainer.cli.quickstart"),
        re.MULTILINE,
    )
    assert len(rows) == 5
    span = f"{min(map(int, rows))}-{max(map(int, rows))} s"
    quoted = re.findall(r"(\d+-\d+ s) a run with\s+one thread", README)
    assert quoted and set(quoted) == {span}
    assert "about five minutes" not in README and "about 5 minutes" not in README
