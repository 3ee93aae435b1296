"""Re-run the bad-input probe's one-line env and advantage cases and compare each with the probe's verdict.

Run from the repository root (needs ``../shared/reviews``; skipped with a message without it)::

    python benchmarks/bench_probe.py [--reviews ../shared/reviews]

The probe (``bad-input-probe.md``, sections 1 and 2) lists each case's Python snippet in ``probe/snip_env.txt`` and
``probe/snip_adv.txt``. Each snippet runs here in a scratch folder holding the probe's broken WebShop data folders,
and its outcome is read as follows: an exception raised with a message is an error of this code (``CLEAR`` when
its type is a ``ValueError``, ``TypeError``, ``RuntimeError``, ``FileNotFoundError`` or one of Gymnasium's named
errors); a returned value is ``OK`` when the probe called it OK with the same value, else ``CHANGED`` and printed
in full for a reader to judge (this script does not decide what is right). Before/after counts are per verdict.
"""

from __future__ import annotations

import argparse
import collections
import json
import re
import tempfile
import traceback
import warnings
from pathlib import Path

PRELUDE = "import gymnasium as gym, gigpo_gym, numpy as np; from trainer import advantages as A\n"
NAMED_ERRORS = ("ValueError", "TypeError", "RuntimeError", "FileNotFoundError", "NameNotFound", "VersionNotFound",
                "Error", "ImportError", "ResetNeeded")  # fmt: skip
ROW = re.compile(r"\| (\d+) \| ([^|]+) \| (.+?) \| `.*` \| (.*) \| \*\*([A-Z-]+)\*\* \| (.*)\|$")
BROKEN_DATA = {  # the probe's WebShop data folders (its header names them)
    "ws_bad": "{not json", "ws_list": "[]", "ws_dict": '{"a": 1}', "ws_rec": '[{"asin": "B1"}, {"name": 3}]',
}  # fmt: skip


def probe_verdicts(report: Path) -> dict[str, tuple[str, str, str]]:
    """case -> (section, what happened, verdict) from the probe's full table."""
    out = {}
    for line in report.read_text().splitlines():
        match = ROW.match(line)
        if match:
            out.setdefault(match.group(3).strip(), (match.group(2).strip(), match.group(4).strip(), match.group(5)))
    return out


def run_case(snippet: str) -> tuple[str, str]:
    """(outcome, text): ``"returns"`` and the value's repr, or the exception's type and first line."""
    namespace: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            exec(PRELUDE + snippet, namespace)  # the probe's own snippets, run as it ran them
        except Exception as error:  # noqa: BLE001 - every outcome is recorded
            where = traceback.extract_tb(error.__traceback__)[-1]
            first = (str(error).splitlines() or [""])[0][:200]
            return type(error).__name__, f"{first} [at {Path(where.filename).name}:{where.lineno}]"
    value = namespace.get("r")
    if hasattr(value, "dtype") and hasattr(value, "shape"):
        import numpy as np

        return "returns", f"{np.array2string(value, precision=4, threshold=8)} (dtype {value.dtype})"
    return "returns", repr(value)[:200]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reviews", default="../shared/reviews", help="folder of bad-input-probe.md and probe/")
    args = parser.parse_args(argv)
    reviews = Path(args.reviews).resolve()
    if not (reviews / "bad-input-probe.md").is_file():
        print(f"skipped: {reviews / 'bad-input-probe.md'} not found")
        return 0
    before = probe_verdicts(reviews / "bad-input-probe.md")
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    changed = []
    import os

    start = Path.cwd()
    with tempfile.TemporaryDirectory() as scratch:
        for name, products in BROKEN_DATA.items():
            (Path(scratch) / name).mkdir()
            (Path(scratch) / name / "items_shuffle_1000.json").write_text(products)
            (Path(scratch) / name / "items_ins_v2_1000.json").write_text("{}")
        (Path(scratch) / "ws_empty").mkdir()
        os.chdir(scratch)
        try:
            for file in ("snip_env.txt", "snip_adv.txt"):
                for line in (reviews / "probe" / file).read_text().splitlines():
                    if not line.strip() or line.startswith("#"):
                        continue
                    case, snippet = line.split("\t", 1)
                    section, happened, verdict = before.get(case.strip(), ("?", "", "?"))
                    outcome, text = run_case(snippet)
                    if outcome != "returns":
                        after = "CLEAR" if outcome in NAMED_ERRORS else "TRACEBACK"
                    else:
                        after = "OK" if verdict == "OK" and happened.startswith(f"returns {text}") else "CHANGED"
                    counts["before"][verdict] += 1
                    counts["after"][after] += 1
                    if after in ("CHANGED", "TRACEBACK") or verdict not in ("OK", "CLEAR"):
                        changed.append((case, section, verdict, after, f"{outcome}: {text}" if outcome != "returns"
                                        else f"returns {text}"))  # fmt: skip
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
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
