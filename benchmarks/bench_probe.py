"""Re-run the bad-input probe's one-line env and advantage cases and compare each with the probe's verdict.

Run from the repository root (needs ``../shared/reviews``; skipped with a message without it)::

    python benchmarks/bench_probe.py [--reviews ../shared/reviews]

The probe (``bad-input-probe.md``, sections 1 and 2) lists each case's Python snippet in ``probe/snip_env.txt`` and
``probe/snip_adv.txt``. Each snippet runs here in a scratch folder holding the probe's broken WebShop data folders,
and its outcome is read as follows: an exception raised with a message is an error of this code (``CLEAR`` when
its type is a ``ValueError``, ``TypeError``, ``RuntimeError``, ``FileNotFoundError`` or one of Gymnasium's named
errors); a returned value is ``OK`` when the probe called it OK with the same value, else ``CHANGED`` and printed
in full for a reader to judge (this script does not decide what is right). Before/after counts are per verdict.

Section 3 (config and CLI, 101 cases): each command of the table runs as the probe wrote it (``$T`` and
``<scratch>`` substituted, ``bash -c`` in a scratch folder with the probe's ``cfg/`` files and two finished one-round
runs), one process at a time, ``--timeout`` seconds each. ``CLEAR``: exactly one ``error:`` line on stderr (after an
argparse usage line at most); ``TRACEBACK``: a Python traceback anywhere; ``HANG``: the timeout; otherwise the exit
status (``EXIT0`` ...) and the last line, listed for a reader: the probe's commands often end in ``ls`` or ``cat``
of what the first command should (not) have written, whose status is then the shell's.

Sections 4 to 7 (checkpoints and resume, security, determinism, concurrency; 69 cases) are made again from their
names on the current checkpoint format by :mod:`probe_runs`, each with the check that decides it.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

PRELUDE = "import gymnasium as gym, gigpo_gym, numpy as np; from trainer import advantages as A\n"
NAMED_ERRORS = (
    "ValueError",
    "TypeError",
    "RuntimeError",
    "FileNotFoundError",
    "NameNotFound",
    "VersionNotFound",
    "Error",
    "ImportError",
    "ResetNeeded",
    "CheckpointError",
    "ConfigError",  # a ValueError: the library's one-line error for a setting it refuses (config, CLI, Python API)
    "DivergenceError",
    "EnvContractError",
    "ModelUnavailableError",
)
BROKEN_DATA = {  # the probe's WebShop data folders (its header names them)
    "ws_bad": "{not json",
    "ws_list": "[]",
    "ws_dict": '{"a": 1}',
    "ws_rec": '[{"asin": "B1"}, {"name": 3}]',
}


def _broken_data(scratch: Path) -> None:
    """The probe's broken WebShop data folders (and an empty one) in ``scratch``."""
    for name, products in BROKEN_DATA.items():
        (scratch / name).mkdir()
        (scratch / name / "items_shuffle_1000.json").write_text(products)
        (scratch / name / "items_ins_v2_1000.json").write_text("{}")
    (scratch / "ws_empty").mkdir()


def probe_rows(report: Path) -> list[dict[str, str]]:
    """The rows of the probe's full table: number, section, case, command, what happened, verdict."""
    rows = []
    for line in report.read_text().splitlines():
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) >= 6 and cells[0].isdigit():
            verdict = re.search(r"\*\*([A-Z-]+)\*\*", " ".join(cells[4:]))
            rows.append(
                {
                    "n": cells[0],
                    "section": cells[1],
                    "case": cells[2],
                    "command": cells[3].strip("`"),
                    "happened": cells[4],
                    "verdict": verdict.group(1) if verdict else "?",
                }
            )
    return rows


def snippet_cases(reviews: Path) -> list[tuple[str, str]]:
    """(case, Python snippet) of the probe's sections 1 and 2: the lines of ``probe/snip_*.txt``, and the table's
    own ``python -c '<prelude>; ...'`` commands of the cases those files lack."""
    cases = []
    for file in ("snip_env.txt", "snip_adv.txt"):
        for line in (reviews / "probe" / file).read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                case, snippet = line.split("\t", 1)
                cases.append((case.strip(), snippet))
    known = {case for case, _ in cases}
    for row in probe_rows(reviews / "bad-input-probe.md"):
        command = re.fullmatch(r"python -c '<prelude>; (.*)'", row["command"])
        if row["section"] in ("1 env", "2 advantages") and row["case"] not in known and command:
            cases.append((row["case"], command.group(1)))
    return cases


def probe_verdicts(report: Path) -> dict[str, tuple[str, str, str]]:
    """case -> (section, what happened, verdict) from the probe's full table."""
    out: dict[str, tuple[str, str, str]] = {}
    for row in probe_rows(report):
        out.setdefault(row["case"], (row["section"], row["happened"], row["verdict"]))
    return out


def run_case(snippet: str, prelude: str = PRELUDE) -> tuple[str, str]:
    """(outcome, text): ``"returns"`` and the value's repr, or the exception's type and first line."""
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exec(prelude + snippet, namespace)  # the probe's own snippets (or ours for its API cases), run as written
        except Exception as error:  # noqa: BLE001 - every outcome is recorded
            where = traceback.extract_tb(error.__traceback__)[-1]
            first = (str(error).splitlines() or [""])[0][:200]
            return type(error).__name__, f"{first} [at {Path(where.filename).name}:{where.lineno}]"
    value = namespace.get("r")
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        import numpy as np

        return "returns", f"{np.array2string(value, precision=4, threshold=8)} (dtype {value.dtype})"
    return "returns", repr(value)[:200]


# section "1/3 Python API": the probe's script for these (probe_api.py) is not in ../shared, so each case it names
# is written here from its name; ``r`` is the value read when nothing is raised
API_PRELUDE = (
    "import gigpo_gym; from trainer.gigpo import GiGPO; from trainer.models.tiny import tiny_model_path; "
    "from wrappers.group_env import GroupVecEnv\n"
    "PK = dict(model_name_or_path=str(tiny_model_path()))\n"
    "def new(**kw): return GiGPO('LLMPolicy', kw.pop('env', 'ALFWorld-text-v0'), n_groups=kw.pop('n_groups', 1), "
    "group_size=2, policy_kwargs=kw.pop('policy_kwargs', PK), **kw)\n"
)
API_CASES = {
    "GiGPO env id unknown": "r = new(env='Nope-v0')",
    "GiGPO estimator='bogus'": "r = new(estimator='bogus')",
    "GiGPO n_groups=0": "r = new(n_groups=0)",
    "GiGPO anchor='bogus'": "r = new(anchor='bogus')",
    "GiGPO episode_stats='bogus'": "r = new(episode_stats='bogus')",
    "GiGPO policy_kwargs unknown key": "r = new(policy_kwargs=dict(PK, bogus=1))",
    "GiGPO policy='MlpPolicy'": "r = GiGPO('MlpPolicy', 'ALFWorld-text-v0', n_groups=1, group_size=2)",
    "predict score mode, no admissible_commands": "r = new().predict({'text': 'You see a bed 1.', 'goal': 'g'})",
    "predict score mode, admissible=[]": "r = new().predict({'text': 'x', 'goal': 'g', 'admissible_commands': []})",
    "predict missing 'text'": "r = new().predict({'admissible_commands': ['look']})",
    "predict text=None": "r = new().predict({'text': None, 'admissible_commands': ['look']})",
    "predict empty list": "r = new().predict([])",
    "predict 1 MB observation": (
        "r = new().predict({'text': 'a ' * 500_000, 'goal': 'g', 'admissible_commands': ['look', 'inventory']})[0]"
    ),
    "predict admissible with 2000 commands": (
        "r = new().predict({'text': 'x', 'goal': 'g', "
        "'admissible_commands': [f'go to shelf {i}' for i in range(2000)]})[0]"
    ),
    "learn(total_timesteps=0)": "r = new().learn(total_timesteps=0).num_timesteps",
    "save to path in missing dir (creates)": "r = new().save('made/by/save/model.zip').is_file()",
    "save to a directory path": "import os; os.makedirs('adir', exist_ok=True); r = new().save('adir')",
    "GiGPO.load nonexistent": "r = GiGPO.load('no/such/checkpoint.zip')",
    "GiGPO.load directory": "import os; os.makedirs('adir', exist_ok=True); r = GiGPO.load('adir')",
    "GroupVecEnv step wrong number of actions": (
        "e = GroupVecEnv('ALFWorld-text-v0', 1, 2); e.reset(); r = e.step(['look'])"
    ),
    "GroupVecEnv step None for running copy": (
        "e = GroupVecEnv('ALFWorld-text-v0', 1, 2); e.reset(); r = e.step(['look', None])"
    ),
    "GroupVecEnv step before reset": "r = GroupVecEnv('ALFWorld-text-v0', 1, 2).step(['look', 'look'])",
    "GroupVecEnv group_size=0": "r = GroupVecEnv('ALFWorld-text-v0', 1, 0)",
}


def run_api_section(before: dict[str, tuple[str, str, str]]) -> list[tuple[str, str, str, str]]:
    """(case, probe's verdict, now, outcome) of every API case: a named error is CLEAR, a value is for a reader."""
    results = []
    for case, snippet in API_CASES.items():
        outcome, text = run_case(snippet, API_PRELUDE)
        now = "returns" if outcome == "returns" else "CLEAR" if outcome in NAMED_ERRORS else "TRACEBACK"
        results.append((case, before.get(case, ("?", "", "?"))[2], now, f"{outcome}: {text}"))
    return results


T_SHORTHAND = (
    "--model tiny --rounds 1 --set n_groups=1 --set group_size=2 --set max_episode_steps=5 "
    "--set eval_tasks=2 --set batch_size=8 --set micro_batch_size=8 --no-progress"
)  # the probe's $T
NOISE = ("Loading weights", "Warning", "warn", "return forward_call", "[transformers]", "  warnings.warn")


def cli_outcome(command: str, scratch: Path, timeout: float, env: dict[str, str] | None = None) -> tuple[str, str]:
    """Run one of the probe's shell commands in ``scratch`` (``env``: variables to set); (verdict, last line)."""
    command = command.replace("\\|", "|").replace("$T", T_SHORTHAND).replace("<scratch>", str(scratch))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
        **(env or {}),
    }
    try:
        done = subprocess.run(
            ["bash", "-c", command], cwd=scratch, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return "HANG", f"still running after {timeout:.0f} s"
    text = done.stdout + done.stderr
    lines = [ln for ln in done.stderr.splitlines() if ln.strip() and not any(n in ln for n in NOISE)]
    last = (lines or text.splitlines() or [""])[-1][:200]
    if "Traceback (most recent call last)" in text:
        return "TRACEBACK", last
    errors = [ln for ln in lines if ": error:" in ln]
    if len(errors) == 1 and (len(lines) == 1 or lines[0].startswith("usage:")):
        return "CLEAR", errors[0][:200]
    return ("EXIT0" if done.returncode == 0 else f"EXIT{done.returncode}"), last


def run_cli_section(reviews: Path, scratch: Path, timeout: float) -> list[tuple[dict[str, str], str, str]]:
    """The probe's section 3 (config and CLI) commands, after the set-up they assume (its cfg/ files, a finished
    one-round run in runs/t0 and runs/D2, a plain file and an empty folder)."""
    shutil.copytree(reviews / "probe" / "cfg", scratch / "cfg")
    (scratch / "cfg" / "adir").mkdir(exist_ok=True)
    (scratch / "afile").write_text("x")
    for run in ("t0", "D2"):
        cli_outcome(
            f"gigpo-train --config cfg/small.yaml --rounds 1 --no-progress --run-dir runs/{run}", scratch, timeout
        )
    rows = [r for r in probe_rows(reviews / "bad-input-probe.md") if r["section"] == "3 config/CLI"]
    return [(row, *cli_outcome(row["command"], scratch, timeout)) for row in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", default="../shared/reviews", help="folder of bad-input-probe.md and probe/")
    parser.add_argument("--no-cli", action="store_true", help="skip section 3 (about 10 minutes of CLI runs)")
    parser.add_argument(
        "--no-runs",
        action="store_true",
        help="skip sections 4-7 (checkpoints, resume, security, determinism, concurrency; about 15 "
        "minutes of training runs)",
    )
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a CLI case counts as a hang")
    args = parser.parse_args(argv)
    reviews = Path(args.reviews).resolve()
    if not (reviews / "bad-input-probe.md").is_file():
        print(f"skipped: {reviews / 'bad-input-probe.md'} not found")
        return 0
    before = probe_verdicts(reviews / "bad-input-probe.md")
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    changed = []
    start = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        _broken_data(Path(scratch))
        os.chdir(scratch)
        try:
            for case, snippet in snippet_cases(reviews):
                section, happened, verdict = before.get(case.strip(), ("?", "", "?"))
                outcome, text = run_case(snippet)
                if outcome != "returns":
                    after = "CLEAR" if outcome in NAMED_ERRORS else "TRACEBACK"
                else:
                    after = "OK" if verdict == "OK" and happened.startswith(f"returns {text}") else "CHANGED"
                counts["before"][verdict] += 1
                counts["after"][after] += 1
                if after in ("CHANGED", "TRACEBACK") or verdict not in ("OK", "CLEAR"):
                    changed.append(
                        (
                            case,
                            section,
                            verdict,
                            after,
                            f"{outcome}: {text}" if outcome != "returns" else f"returns {text}",
                        )
                    )
        finally:
            os.chdir(start)
    verdicts = ["SECURITY", "DATA-LOST", "HANG", "SILENT", "TRACEBACK", "UNCLEAR", "CLEAR", "OK", "CHANGED"]
    total = sum(counts["before"].values())
    print(f"{total} cases of sections 1 and 2 of the probe, re-run with this code\n")
    print("| | " + " | ".join(verdicts) + " |")
    print("|---|" + "---:|" * len(verdicts))
    for when in ("before", "after"):
        print(f"| {when} | " + " | ".join(str(counts[when][v]) for v in verdicts) + " |")
    print("\nEvery case the probe did not find OK or CLEAR, and every changed value (to read):\n")
    print("| case | section | probe | now | outcome now |")
    print("|---|---|---|---|---|")
    for case, section, verdict, after, text in changed:
        print(f"| {case} | {section} | {verdict} | {after} | {text.replace('|', '/')} |")
    print(json.dumps({"before": counts["before"], "after": counts["after"]}))
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            api = run_api_section(before)
        finally:
            os.chdir(start)
    print(f"\n{len(api)} cases of the Python API (the probe's section 1/3), each written from the case's name\n")
    print("| case | probe | now | outcome now |")
    print("|---|---|---|---|")
    for case, verdict, now, text in api:
        print(f"| {case} | {verdict} | {now} | {text.replace('|', '/')} |")
    print(
        json.dumps(
            {
                "api_before": collections.Counter(v for _, v, _, _ in api),
                "api_after": collections.Counter(n for _, _, n, _ in api),
            }
        )
    )
    if not args.no_cli:
        with tempfile.TemporaryDirectory() as scratch:
            _broken_data(Path(scratch))
            (Path(scratch) / "emptymodel").mkdir()
            results = run_cli_section(reviews, Path(scratch), args.timeout)
        cli_before = collections.Counter(row["verdict"] for row, _, _ in results)
        cli_after = collections.Counter(verdict for _, verdict, _ in results)
        kinds = sorted(set(cli_before) | set(cli_after))
        print(f"\n{len(results)} cases of section 3 (config and CLI), each command run as the probe wrote it\n")
        print("| | " + " | ".join(kinds) + " |")
        print("|---|" + "---:|" * len(kinds))
        for when, count in (("before", cli_before), ("after", cli_after)):
            print(f"| {when} | " + " | ".join(str(count[k]) for k in kinds) + " |")
        print("\nEvery case that now exits 0 or otherwise than with one error line (to read):\n")
        print("| # | case | probe | now | last line |")
        print("|---:|---|---|---|---|")
        for row, verdict, last in results:
            if verdict != "CLEAR":
                print(f"| {row['n']} | {row['case']} | {row['verdict']} | {verdict} | {last.replace('|', '/')} |")
        print(json.dumps({"cli_before": cli_before, "cli_after": cli_after}))
    if not args.no_runs:
        import probe_runs

        with tempfile.TemporaryDirectory() as scratch:
            probe_runs.report(probe_runs.Runner(reviews, Path(scratch), args.timeout).run_all(), before)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
