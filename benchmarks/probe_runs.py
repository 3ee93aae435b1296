"""The bad-input probe's sections 4 to 7 (checkpoints and resume, security, determinism, concurrency), made again.

Those 69 cases of ``../shared/reviews/bad-input-probe.md`` ran helper scripts written for the old checkpoint (SB3's
pickled ``data`` entry): ``make_corrupt.py`` and ``cmp.py`` are not in ``../shared``, and ``evil_ckpt.py`` and
``inspect_run.py`` read an entry the data-only format (``trainer/checkpoint.py``) no longer has. So each case is
made here from its name, on the current format, and decided by a stated check (the ``check`` column):

- ``CLEAR``: a CLI exits 2 with one ``error:`` line, or the Python API raises a named error (``CheckpointError``,
  ``ConfigError``, ``FileNotFoundError`` ...);
- ``OK``: the case's check holds (bit-exact, resumes to the configured round count with one progress row per
  round and no temporary file left, no code ran, nothing written outside the run directory ...);
- otherwise what was seen: ``TRACEBACK``, ``SILENT`` (exit 0 but the check fails), ``DATA-LOST``, ``SECURITY``,
  ``HANG`` (the timeout).

Issue 44's run-directory and divergence cases follow them (``hostile_run_dir_cases``, ``divergence_cases``): a link
in place of each file gigpo-train writes in a run directory, a fresh run into a folder of the user's, a run that
diverges and its last committed round, optimiser states that would change the optimiser; the old probe has no
verdict for them (``?``).

The probe's ``state.json`` no longer exists (the checkpoint commits the run's state, ``extra.run``): its cases
damage that state inside ``checkpoint.json`` instead. Every command runs one at a time with one thread
(``OMP_NUM_THREADS=1``) unless the case is about threads.
"""

from __future__ import annotations

import base64
import collections
import csv
import json
import os
import pickle
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

from bench_probe import NAMED_ERRORS, NOISE, cli_outcome, run_case

SMALL = "--config cfg/small.yaml --no-progress"
CORRUPTIONS = (
    "trunc50",
    "trunc1k",
    "trunc_tail22",
    "empty",
    "textfile",
    "bitflip_policy",
    "data_badjson",
    "no_policy",
    "no_data",
    "policy_missing_key",
    "policy_wrong_shape",
    "policy_nan",
    "data_bad_model_path",
    "data_no_obs_space",
    "policy_garbage",
)


class Payload:
    """Unpickling this runs ``touch MARKER`` (harmless): the probe's proof that loading executed code."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(str(self.marker))}",))


def _serialized(marker: Path) -> dict[str, str]:
    """SB3's ``:serialized:`` form of a pickled value, as its ``data`` entry stores one."""
    return {":type:": "<class 'function'>", ":serialized:": base64.b64encode(pickle.dumps(Payload(marker))).decode()}


# ------------------------------------------------------------------ reading a run


def _items(zip_path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(zip_path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_items(zip_path: Path, items: dict[str, bytes]) -> None:
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, data in items.items():
            archive.writestr(name, data)


def _meta(run: Path) -> dict:
    return json.loads(_items(run / "checkpoint.zip")["checkpoint.json"])


def _progress(run: Path) -> list[int]:
    """``time/total_timesteps`` of every row of the run's ``progress.csv``."""
    with open(run / "progress.csv", newline="") as f:
        return [int(float(row["time/total_timesteps"])) for row in csv.DictReader(f)]


def _tensors_equal(a: Path, b: Path) -> bool:
    """Whether two checkpoints hold the same policy and optimiser tensors, bit for bit."""
    from safetensors.torch import load

    for entry in ("policy.safetensors", "state.safetensors"):
        x, y = load(_items(a)[entry]), load(_items(b)[entry])
        if x.keys() != y.keys() or any(not x[k].equal(y[k]) for k in x):
            return False
    return True


def _rows_without_time(run: Path) -> list[dict[str, str]]:
    with open(run / "progress.csv", newline="") as f:
        return [{k: v for k, v in row.items() if "time" not in k and k != "time/fps"} for row in csv.DictReader(f)]


def _resumed_exactly(run: Path, rounds: int, per_round: int = 20) -> tuple[bool, str]:
    """The check of a finished run: ``rounds`` committed, one progress row per round, no temporary file left."""
    meta = _meta(run)
    done, updates = meta["extra"]["run"]["rounds_done"], meta["counters"]["n_updates"]
    steps = _progress(run)
    left = sorted(p.name for p in run.iterdir() if p.name.startswith(".") and ".tmp" in p.name)
    ok = done == updates == rounds and steps == [per_round * (i + 1) for i in range(rounds)] and not left
    return (
        ok,
        f"rounds_done {done}, n_updates {updates}, progress timesteps {steps[:3]}..{steps[-2:]} "
        f"({len(steps)} rows), temporary files {left}",
    )


# ------------------------------------------------------------------ the cases


# kill -9 moments of section 4 (b): each returns a wait(process, run folder) that returns when to kill, in words


def _after(seconds: float) -> Callable[[subprocess.Popen, Path], str]:
    def wait(process: subprocess.Popen, path: Path) -> str:
        time.sleep(seconds)
        return f"after {seconds:.1f} s"

    return wait


def _during_save(nth: int) -> Callable[[subprocess.Popen, Path], str]:
    def wait(process: subprocess.Popen, path: Path) -> str:
        seen, last = 0, None
        while process.poll() is None:
            tmps = [p.name for p in path.glob(".checkpoint.zip.tmp-*")] if path.is_dir() else []
            if tmps and tmps[0] != last:
                last, seen = tmps[0], seen + 1
                if seen >= nth:
                    return f"while save #{seen} was being written ({tmps[0]} present)"
            time.sleep(0.0005)
        return "the run ended first"

    return wait


def _after_replace(nth: int) -> Callable[[subprocess.Popen, Path], str]:
    def wait(process: subprocess.Popen, path: Path) -> str:
        def stamp():
            try:
                st = os.stat(path / "checkpoint.zip")
                return st.st_ino, st.st_mtime_ns
            except FileNotFoundError:
                return None

        base, seen = stamp(), 0
        while process.poll() is None:
            now = stamp()
            if now != base:
                base, seen = now, seen + 1
                if seen >= nth:
                    return f"right after checkpoint.zip replace #{seen}"
            time.sleep(0.0001)
        return "the run ended first"

    return wait


def _rows(n: int) -> Callable[[subprocess.Popen, Path], str]:
    def wait(process: subprocess.Popen, path: Path) -> str:
        while process.poll() is None:
            try:
                if len(_progress(path)) >= n:
                    return f"once progress.csv had {n} rows"
            except (FileNotFoundError, KeyError):
                pass
            time.sleep(0.01)
        return "the run ended first"

    return wait


class Runner:
    """Runs the cases in one scratch folder holding the probe's ``cfg/`` and the runs they share."""

    def __init__(self, reviews: Path, scratch: Path, timeout: float) -> None:
        self.scratch, self.timeout = scratch, timeout
        shutil.copytree(reviews / "probe" / "cfg", scratch / "cfg", dirs_exist_ok=True)
        self.results: list[tuple[str, str, str, str]] = []  # (case, now, check, detail)

    def sh(self, command: str, env: dict[str, str] | None = None, timeout: float | None = None) -> tuple[str, str]:
        return cli_outcome(command, self.scratch, timeout or self.timeout, env)

    def popen(self, command: str, env: dict[str, str] | None = None) -> subprocess.Popen:
        full = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "OMP_NUM_THREADS": "1",
            **(env or {}),
        }
        return subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=self.scratch,
            env=full,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def record(self, case: str, now: str, check: str, detail: str) -> None:
        self.results.append((case, now, check, detail.replace("\n", " ")[:300]))

    def train(self, run: str, rounds: int, extra: str = "", env: dict[str, str] | None = None) -> tuple[str, str]:
        return self.sh(f"gigpo-train {SMALL} --rounds {rounds} --run-dir runs/{run} {extra}", env)

    def copy(self, source: str, target: str) -> Path:
        dst = self.scratch / "runs" / target
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(self.scratch / "runs" / source, dst, ignore=shutil.ignore_patterns(".lock"))
        return dst

    # -------------------------------------------------------------- section 4 (a), (b): resume, kill -9

    def resume_is_bit_exact(self) -> None:
        self.train("A2", 2)
        self.train("B", 1)
        verdict, last = self.sh("gigpo-train --resume --run-dir runs/B --rounds 2 --no-progress")
        runs = self.scratch / "runs"
        same = verdict == "EXIT0" and _tensors_equal(runs / "A2" / "checkpoint.zip", runs / "B" / "checkpoint.zip")
        self.record(
            "(a) 2 rounds vs 1 round + resume 1 round",
            "OK" if same else "SILENT" if verdict == "EXIT0" else verdict,
            "policy and optimiser tensors equal bit for bit",
            f"resume {verdict}; tensors {'equal' if same else 'differ'}",
        )

    def _kill_then_resume(
        self, run: str, rounds: int, wait: Callable[[subprocess.Popen, Path], str], extra: str = ""
    ) -> tuple[str, str, str]:
        """Train ``rounds`` rounds, ``kill -9`` when ``wait`` returns, resume to the end; (verdict, when, detail)."""
        path = self.scratch / "runs" / run
        shutil.rmtree(path, ignore_errors=True)
        process = self.popen(f"gigpo-train {SMALL} --rounds {rounds} --run-dir runs/{run} {extra}")
        when = wait(process, path)
        process.send_signal(signal.SIGKILL)
        process.wait()
        if not (path / "checkpoint.zip").exists():  # killed before its first commit: a fresh start is the resume
            verdict, last = self.train(run, rounds, extra)
            if verdict == "CLEAR" and "already holds" in last:
                verdict, last = self.sh(f"gigpo-train --resume --run-dir runs/{run} --rounds {rounds} --no-progress")
        else:
            verdict, last = self.sh(f"gigpo-train --resume --run-dir runs/{run} --rounds {rounds} --no-progress")
        if verdict != "EXIT0":
            return verdict, when, last
        ok, detail = _resumed_exactly(path, rounds)
        return ("OK" if ok else "SILENT"), when, detail

    def kill_cases(self) -> None:
        check = "kill -9, then --resume ends with exactly the configured rounds, one progress row each, no temp file"

        rng = random.Random(0)
        for name, seed in (("K1", 1), ("K2", 2), ("K3", 3)):
            rng.seed(seed)
            verdict, when, detail = self._kill_then_resume(name, 30, _after(rng.uniform(8, 30)))
            self.record(f"(b) kill -9 {name} (random)", verdict, check, f"killed {when}; {detail}")
        verdict, when, detail = self._kill_then_resume("K4", 30, _during_save(2))
        self.record("(b) kill -9 K4 (tmp)", verdict, check, f"killed {when}; {detail}")
        for name, nth in (("K7", 2), ("K8", 1), ("K9", 3)):
            verdict, when, detail = self._kill_then_resume(name, 30, _after_replace(nth))
            self.record(f"(b) kill -9 {name} (replace)", verdict, check, f"killed {when}; {detail}")
            if name == "K7":
                self.record(
                    "(b) K7 resumed after the state/checkpoint mismatch",
                    verdict,
                    "the resume trains no extra round (the same resume as the K7 row)",
                    detail,
                )
            if name == "K8":
                self.record(
                    "(b) K8 resume / fresh start",
                    verdict,
                    "the run resumes after a kill right after its first checkpoint (the same resume as the K8 row)",
                    detail,
                )

        verdict, when, detail = self._kill_then_resume("K10", 6, _rows(3), "--set checkpoint_every=2")
        self.record(
            "(b) kill -9 between checkpoints (checkpoint_every=2), then resume",
            verdict,
            "rounds after the last checkpoint are trained again and logged once",
            f"killed {when}; {detail}",
        )
        # the probe's history wipe: 2 rounds, a resume killed in round 3, then a second resume
        self.train("hw", 2)
        process = self.popen("gigpo-train --resume --run-dir runs/hw --rounds 5 --no-progress")
        when = _rows(3)(process, self.scratch / "runs" / "hw")
        process.send_signal(signal.SIGKILL)
        process.wait()
        verdict, last = self.sh("gigpo-train --resume --run-dir runs/hw --rounds 4 --no-progress")
        ok, detail = _resumed_exactly(self.scratch / "runs" / "hw", 4) if verdict == "EXIT0" else (False, last)
        self.record(
            "(b) second resume after an interrupted resume",
            "OK" if ok else "DATA-LOST" if verdict == "EXIT0" else verdict,
            "after the second resume progress.csv holds rounds 1-4, each once",
            f"first resume killed {when}; {detail}",
        )

    # -------------------------------------------------------------- section 4 (c): damaged files

    def _corrupt(self, kind: str, path: Path) -> None:
        """Damage the checkpoint at ``path`` as the probe's make_corrupt.py case ``kind`` named it."""
        from safetensors.torch import load, save

        raw = path.read_bytes()
        items = _items(path)
        meta = json.loads(items["checkpoint.json"])
        policy = load(items["policy.safetensors"])
        last = sorted(k for k, v in policy.items() if v.is_floating_point())[-1]
        if kind in ("trunc50", "trunc1k", "trunc_tail22", "empty", "textfile", "bitflip_policy"):
            if kind == "bitflip_policy":
                with zipfile.ZipFile(path) as archive:
                    info = archive.getinfo("policy.safetensors")
                at = info.header_offset + 30 + len(info.filename) + len(info.extra) + info.compress_size // 2
                raw = raw[:at] + bytes([raw[at] ^ 0xFF]) + raw[at + 1 :]
            cut = {
                "trunc50": raw[:50],
                "trunc1k": raw[:1024],
                "trunc_tail22": raw[:-22],
                "empty": b"",
                "textfile": b"hello, not a zip\n" * 10,
                "bitflip_policy": raw,
            }[kind]
            path.write_bytes(cut)
            return
        if kind == "data_badjson":
            items["checkpoint.json"] = b"{not json"
        elif kind == "no_policy":
            del items["policy.safetensors"]
        elif kind == "no_data":
            del items["checkpoint.json"]
        elif kind == "policy_missing_key":
            policy.pop(last)
        elif kind == "policy_wrong_shape":
            import torch

            policy[last] = torch.zeros(3, 3)
        elif kind == "policy_nan":
            policy[last] = policy[last].clone()
            policy[last].view(-1)[0] = float("nan")
        elif kind == "data_bad_model_path":
            meta["arguments"]["policy_kwargs"]["model_name_or_path"] = str(self.scratch / "no" / "such" / "model")
        elif kind == "data_no_obs_space":
            del meta["spaces"]["observation"]
        elif kind == "policy_garbage":
            items["policy.safetensors"] = b"\x80\x04garbage"
        if kind.startswith("policy_") and kind != "policy_garbage":
            items["policy.safetensors"] = save(policy)
        if kind.startswith("data_") and kind != "data_badjson":
            items["checkpoint.json"] = json.dumps(meta).encode()
        _write_items(path, items)

    def corrupt_cases(self) -> None:
        self.train("base", 1)
        prelude = "import gigpo_gym; from trainer.gigpo import GiGPO\n"
        for kind in CORRUPTIONS:
            run = self.copy("base", f"corrupt-{kind}")
            self._corrupt(kind, run / "checkpoint.zip")
            outcome, text = run_case(f"r = GiGPO.load({str(run / 'checkpoint.zip')!r})", prelude)
            now = "CLEAR" if outcome in NAMED_ERRORS else "SILENT" if outcome == "returns" else "TRACEBACK"
            self.record(f"(c) GiGPO.load {kind}", now, "a named error", f"{outcome}: {text}")
        for kind in CORRUPTIONS:
            verdict, last = self.sh(f"gigpo-eval --checkpoint runs/corrupt-{kind} --tasks 1 --max-episode-steps 3")
            self.record(f"(c) eval corrupt {kind}", verdict, "one error line, exit 2", last)
        resume = "gigpo-train --resume --run-dir runs/{} --rounds 2 --no-progress"

        def edit_state(change: Callable[[dict], None]) -> Callable[[Path], None]:
            def apply(run: Path) -> None:
                items = _items(run / "checkpoint.zip")
                meta = json.loads(items["checkpoint.json"])
                change(meta["extra"]["run"])
                items["checkpoint.json"] = json.dumps(meta).encode()
                _write_items(run / "checkpoint.zip", items)

            return apply

        def truncate_meta(run: Path) -> None:
            items = _items(run / "checkpoint.zip")
            items["checkpoint.json"] = items["checkpoint.json"][: len(items["checkpoint.json"]) // 2]
            _write_items(run / "checkpoint.zip", items)

        def set_rounds(value) -> Callable[[dict], None]:
            return lambda state: state.update(rounds_done=value)

        state_cases = {
            "(c) resume: state.json truncated JSON": ("S1", truncate_meta),
            "(c) resume: state.json missing 'model'": ("S2", edit_state(lambda state: state["config"].pop("model"))),
            "(c) resume: state.json rounds_done is a string": ("S3", edit_state(set_rounds("1"))),
            "(c) resume: state.json rounds_done=-5": ("S5", edit_state(set_rounds(-5))),
            "(c) resume: corrupt checkpoint (trunc50)": (
                "S6",
                lambda run: self._corrupt("trunc50", run / "checkpoint.zip"),
            ),
        }
        for case, (name, damage) in state_cases.items():
            damage(self.copy("base", name))
            verdict, last = self.sh(resume.format(name))
            self.record(case, verdict, "one error line, exit 2 (the run's state now lives in checkpoint.json)", last)
        run = self.copy("base", "S4")
        (run / "config.yaml").write_text("rounds: [1, 2\n")
        verdict, last = self.sh(resume.format("S4"))
        import yaml

        if verdict == "EXIT0":
            used = _meta(run)["extra"]["run"]["config"]
            written = yaml.safe_load((run / "config.yaml").read_text())
            verdict = "OK" if written == used else "SILENT"
            last = f"exit 0; config.yaml rewritten from the checkpoint: {'matches' if written == used else 'differs'}"
        self.record(
            "(c) resume: config.yaml malformed",
            verdict,
            "resumes from the checkpoint (config.yaml is a "
            "copy for readers) and rewrites config.yaml as used, or one error line",
            last,
        )
        run = self.copy("base", "S4e")
        (run / "config.yaml").write_text("rounds: [1, 2\n")
        verdict, last = self.sh("gigpo-eval --checkpoint runs/S4e --tasks 1 --max-episode-steps 3")
        self.record(
            "(c) eval: run dir config.yaml malformed",
            "OK" if verdict == "EXIT0" else verdict,
            "evaluates from the checkpoint alone, or one error line",
            last,
        )

    # -------------------------------------------------------------- section 4 (d): changed settings on resume

    def changed_settings_cases(self) -> None:
        cases = {
            "(d) resume with changed hyperparameters (--set)": (
                "--set learning_rate=0.5 --set algo=rloo --set "
                "n_epochs=3 --set gamma=0.5 --set kl_coef=0.9 "
                "--set clip_range=0.01"
            ),
            "(d) resume with --algo/--seed/--model flags": "--algo rloo --seed 7 --model nonexistent-model-xyz",
            "(d) resume with a different env": "--set env=WebShop-text-v0 --set eval_split=test",
            "(d) resume with n_groups=3 group_size=3": "--set n_groups=3 --set group_size=3",
            "(d) resume with use_lora=true": "--set use_lora=true",
        }
        for i, (case, flags) in enumerate(cases.items()):
            run = self.copy("base", f"R{i + 1}")
            before = (run / "config.yaml").read_bytes(), (run / "checkpoint.zip").read_bytes()
            verdict, last = self.sh(f"gigpo-train --resume --run-dir runs/R{i + 1} --rounds 2 --no-progress {flags}")
            kept = ((run / "config.yaml").read_bytes(), (run / "checkpoint.zip").read_bytes()) == before
            if verdict == "CLEAR" and not kept:
                verdict, last = "SILENT", f"refused, but the run directory changed: {last}"
            self.record(
                case,
                "SILENT" if verdict == "EXIT0" else verdict,
                "refused with the differences in one line; config.yaml and checkpoint unchanged",
                last,
            )

    # -------------------------------------------------------------- section 5: security

    def security_cases(self) -> None:
        legacy = self.copy("base", "evil")
        marker = self.scratch / "PWNED"
        data = {"lr_schedule": _serialized(marker), "n_groups": 2}
        _write_items(
            legacy / "checkpoint.zip",
            {"data": json.dumps(data).encode(), "policy.pth": b"x", "_stable_baselines3_version": b"2.9.2"},
        )
        check = "the payload never runs (no marker file); one error line, exit 2 / a named error"

        def judge(case: str, verdict: str, last: str) -> None:
            ran = marker.exists()
            marker.unlink(missing_ok=True)
            self.record(case, "SECURITY" if ran else verdict, check, f"marker {'created' if ran else 'absent'}; {last}")

        judge(
            "cloudpickle payload in checkpoint 'data', gigpo-eval",
            *self.sh("gigpo-eval --checkpoint runs/evil --tasks 1 --max-episode-steps 3"),
        )
        outcome, text = run_case(
            f"r = GiGPO.load({str(legacy / 'checkpoint.zip')!r})", "import gigpo_gym; from trainer.gigpo import GiGPO\n"
        )
        judge("same, GiGPO.load", "CLEAR" if outcome in NAMED_ERRORS else "TRACEBACK", f"{outcome}: {text}")
        judge(
            "same, gigpo-train --resume", *self.sh("gigpo-train --resume --run-dir runs/evil --rounds 2 --no-progress")
        )
        for case, key, where in (
            ("payload under an extra, unused key", "policy_class", "top"),
            ("payload under an extra, unused key", "anything", "extra"),
        ):
            run = self.copy("base", f"evil-{where}")
            items = _items(run / "checkpoint.zip")
            meta = json.loads(items["checkpoint.json"])
            (meta if where == "top" else meta["extra"])[key] = _serialized(marker)
            items["checkpoint.json"] = json.dumps(meta).encode()
            _write_items(run / "checkpoint.zip", items)
            outcome, text = run_case(
                f"r = GiGPO.load({str(run / 'checkpoint.zip')!r}).num_timesteps",
                "import gigpo_gym; from trainer.gigpo import GiGPO\n",
            )
            # under the free-form ``extra`` the payload is plain JSON data: a load is right if nothing runs
            now = (
                "CLEAR"
                if outcome in NAMED_ERRORS
                else "OK"
                if outcome == "returns" and where == "extra"
                else ("SILENT" if outcome == "returns" else "TRACEBACK")
            )
            judge(
                f"{case} ({'a made-up top-level key' if where == 'top' else 'inside extra'})", now, f"{outcome}: {text}"
            )
        run = self.copy("base", "evil-tb")
        items = _items(run / "checkpoint.zip")
        meta = json.loads(items["checkpoint.json"])
        escape = self.scratch / "evil-inside" / ".." / "tb_escaped_by_checkpoint"
        meta["arguments"]["tensorboard_log"] = str(escape)
        items["checkpoint.json"] = json.dumps(meta).encode()
        _write_items(run / "checkpoint.zip", items)
        outcome, text = run_case(
            f"m = GiGPO.load({str(run / 'checkpoint.zip')!r}, env=GroupVecEnv('ALFWorld-text-v0', 2, 2, "
            "env_kwargs={'max_episode_steps': 3})); r = m.learn(1).num_timesteps",
            "import gigpo_gym; from trainer.gigpo import GiGPO; from wrappers.group_env import GroupVecEnv\n",
        )
        wrote = (self.scratch / "tb_escaped_by_checkpoint").exists()
        self.record(
            "checkpoint-controlled tensorboard_log path (write)",
            "SECURITY"
            if wrote
            else "CLEAR"
            if outcome in NAMED_ERRORS
            else "SILENT"
            if outcome == "returns"
            else "TRACEBACK",
            "no folder written from a checkpoint's path; a named error",
            f"{outcome}: {text}",
        )
        self.grep_case()
        self.paths_case()

    def grep_case(self) -> None:
        root = Path(__file__).resolve().parents[1]
        unsafe = re.compile(
            r"pickle\.loads?\(|cloudpickle|torch\.load\((?!.*weights_only=True)|yaml\.load\(|"
            r"yaml\.unsafe_load|trust_remote_code=True|allow_pickle=True|(?<![.\w])eval\(|(?<![.\w])exec\("
        )
        hits = []
        for folder in ("trainer", "wrappers", "gigpo_gym"):
            for path in sorted((root / folder).rglob("*.py")):
                for n, line in enumerate(path.read_text().splitlines(), 1):
                    code = line.split("#", 1)[0]
                    if unsafe.search(code):
                        hits.append(f"{path.relative_to(root)}:{n}")
        self.record(
            "grep torch.load / pickle / yaml.load / trust_remote_code",
            "OK" if not hits else "SECURITY",
            "no unpickling, unsafe YAML, remote code or eval/exec call in the library",
            f"hits: {hits}",
        )

    def paths_case(self) -> None:
        before = {p for p in self.scratch.rglob("*")}
        self.train("paths", 1)
        self.sh("gigpo-eval --checkpoint runs/paths --tasks 1 --max-episode-steps 3")
        outside = sorted(
            str(p.relative_to(self.scratch))
            for p in set(self.scratch.rglob("*")) - before
            if self.scratch / "runs" / "paths" not in (p, *p.parents)
        )
        self.record(
            "paths from config used for writing",
            "OK" if not outside else "SILENT",
            "gigpo-train and gigpo-eval write only inside the run directory",
            f"written outside: {outside}",
        )

    # -------------------------------------------------------------- issue 44: hostile files (bounded reading, code)

    def hostile_cases(self) -> None:
        """Small files that would cost unbounded memory or time, a model folder with code, a checkpoint lacking a
        setting: each a clear error (exit 2, one line), quickly."""
        self.train("base", 1)
        check = "one error line, exit 2, within the timeout"
        bomb = self.copy("base", "bomb")
        items = _items(bomb / "checkpoint.zip")
        with zipfile.ZipFile(bomb / "checkpoint.zip", "w") as archive:
            archive.writestr("checkpoint.json", items["checkpoint.json"])
            archive.writestr("state.safetensors", items["state.safetensors"])
            policy = zipfile.ZipInfo("policy.safetensors")
            policy.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(policy, "w") as entry:
                for _ in range(256):  # 256 MB of zeros in a file of about a quarter of a megabyte
                    entry.write(bytes(1 << 20))
        verdict, last = self.sh("gigpo-eval --checkpoint runs/bomb --tasks 1 --max-episode-steps 3")
        self.record("checkpoint entry compressed 1000:1 (zip bomb), gigpo-eval", verdict, check, last)
        twice = self.copy("base", "twice")
        items = _items(twice / "checkpoint.zip")
        with warnings.catch_warnings(), zipfile.ZipFile(twice / "checkpoint.zip", "w") as archive:
            warnings.simplefilter("ignore")  # zipfile warns of the duplicate it writes
            for name, data in items.items():
                archive.writestr(name, data)
            archive.writestr("checkpoint.json", items["checkpoint.json"].replace(b'"gamma": 0.95', b'"gamma": 0.5'))
        verdict, last = self.sh("gigpo-train --resume --run-dir runs/twice --rounds 2 --no-progress")
        self.record("checkpoint.json entry twice in the zip, --resume", verdict, check, last)
        lacking = self.copy("base", "lacking")
        items = _items(lacking / "checkpoint.zip")
        meta = json.loads(items["checkpoint.json"])
        meta["arguments"].pop("estimator")
        items["checkpoint.json"] = json.dumps(meta).encode()
        _write_items(lacking / "checkpoint.zip", items)
        verdict, last = self.sh("gigpo-train --resume --run-dir runs/lacking --rounds 2 --no-progress")
        self.record("checkpoint lacking an algorithm setting (estimator), --resume", verdict, check, last)
        laughs = "env_kwargs:\n  a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
            f"  {b}: &{b} [{', '.join([f'*{a}'] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
        )
        (self.scratch / "cfg" / "laughs.yaml").write_text(laughs)
        (self.scratch / "cfg" / "digits.yaml").write_text("rounds: " + "9" * 500 + "\n")
        for case, config in (("YAML billion laughs (9**9 values)", "laughs"), ("a 500-digit integer", "digits")):
            verdict, last = self.sh(f"gigpo-train --config cfg/{config}.yaml --run-dir runs/{config} --no-progress")
            self.record(f"config: {case}", verdict, check, last)
        folder, marker = self.scratch / "custom_model", self.scratch / "CUSTOM_CODE_RAN"
        shutil.rmtree(folder, ignore_errors=True)
        from trainer.models.tiny import tiny_model_path

        shutil.copytree(tiny_model_path(), folder)
        config_json = json.loads((folder / "config.json").read_text())
        config_json.update(model_type="custom_arch", auto_map={"AutoConfig": "custom.C", "AutoModelForCausalLM": "m.M"})
        (folder / "config.json").write_text(json.dumps(config_json))
        (folder / "custom.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
        verdict, last = self.sh(f"yes | gigpo-eval --model {folder} --env ALFWorld-text-v0 --tasks 1")
        self.record(
            "model folder with custom code (auto_map), 'y' on stdin",
            "SECURITY" if marker.exists() else verdict,
            "the folder's code never runs and no prompt waits; one error line, exit 2",
            last,
        )
        outcome, text = run_case(
            "import time, gymnasium as gym\nenv = gym.make('WebShop-text-v0'); env.reset(options={'task_id': 0})\n"
            "t = time.perf_counter(); env.step('[' * 200_000); r = time.perf_counter() - t < 1.0",
            "import gigpo_gym\n",
        )
        self.record(
            "WebShop action of 200,000 '['",
            "OK" if text == "True" else "HANG" if text == "False" else "TRACEBACK",
            "the step takes under a second (linear-time parsing)",
            f"{outcome}: {text}",
        )

    # -------------------------------------------------------------- sections 6, 7: determinism, concurrency

    def determinism_cases(self) -> None:
        runs = self.scratch / "runs"

        check = "policy and optimiser tensors and logged metrics (time columns aside) equal bit for bit"

        def compare(case: str, a: str, b: str, note: str = "") -> None:
            equal = _tensors_equal(runs / a / "checkpoint.zip", runs / b / "checkpoint.zip")
            logs = _rows_without_time(runs / a) == _rows_without_time(runs / b)
            self.record(
                case,
                "OK" if equal and logs else "SILENT",
                check + note,
                f"tensors {'equal' if equal else 'differ'}, logged metrics {'equal' if logs else 'differ'}",
            )

        self.train("D1", 1)
        self.train("D2", 1)
        compare("1 round, same seed, twice", "D1", "D2")
        self.train("D3", 1, env={"PYTHONHASHSEED": "99"})
        compare("same, PYTHONHASHSEED=99", "D1", "D3")
        self.train("D4", 1, env={"OMP_NUM_THREADS": "2", "MKL_NUM_THREADS": "2"})
        compare("same, OMP_NUM_THREADS=1", "D1", "D4", " (here: 2 threads against 1)")
        self.train("D5", 10)
        self.train("D6", 10)
        compare("30 rounds, same seed, twice", "D5", "D6", " (10 rounds here)")
        self.train("W", 1, "--set env=WebShop-text-v0 --set eval_split=test")
        evals = [
            ("W", "--split test --tasks 10 --episodes 2", "(WebShop ckpt)"),
            (
                "D1",
                '--env-kwargs \'{"task_types":["pick_and_place_simple"],"max_receptacles":3}\' --tasks 10 '
                "--episodes 3 --max-episode-steps 10",
                "(ALFWorld ckpt)",
            ),
        ]
        for run, flags, which in evals:
            outs = []
            for tag, env in (("a", {}), ("b", {"PYTHONHASHSEED": "123"})):
                self.sh(f"gigpo-eval --checkpoint runs/{run} {flags} --seed 0 --json {run}-{tag}.json", env)
                path = self.scratch / f"{run}-{tag}.json"
                outs.append(path.read_bytes() if path.exists() else None)
            ok = outs[0] is not None and outs[0] == outs[1]
            self.record(
                f"eval twice, same seed {which}",
                "OK" if ok else "SILENT",
                "the two --json files are byte-identical (the second with PYTHONHASHSEED=123)",
                "identical" if ok else f"differ or missing ({[o is not None for o in outs]})",
            )

    def concurrency_cases(self) -> None:
        shutil.rmtree(self.scratch / "runs" / "C", ignore_errors=True)
        procs = [self.popen(f"gigpo-train {SMALL} --rounds 1 --seed {s} --run-dir runs/C") for s in (0, 1)]
        outs = [
            (
                p.wait(timeout=self.timeout),
                "\n".join(
                    line for line in p.stderr.read().splitlines() if line.strip() and not any(n in line for n in NOISE)
                ),
            )
            for p in procs
        ]
        codes = sorted(rc for rc, _ in outs)
        refused = [err for rc, err in outs if rc == 2]
        run = self.scratch / "runs" / "C"
        winner = next((s for s, (rc, _) in zip((0, 1), outs, strict=True) if rc == 0), None)
        ok = (
            codes == [0, 2]
            and len(refused[0].strip().splitlines()) == 1
            and "pid" in refused[0]
            and _meta(run)["arguments"]["seed"] == winner
            and _progress(run) == [20]
        )
        self.record(
            "two gigpo-train (seed 0, seed 1) into one run dir at once",
            "OK" if ok else "DATA-LOST",
            "one trains, the other is refused in one line naming the holder's pid; the run's files are the winner's",
            f"exit codes {[rc for rc, _ in outs]}; refused: {refused[0].strip() if refused else '-'}",
        )
        trials = []
        for i in range(3):
            cache = self.scratch / f"cache_race_{i}"
            snippet = "from trainer.models.tiny import tiny_model_path; print(tiny_model_path())"
            procs = [self.popen(f"python -c {shlex.quote(snippet)}", {"GIGPO_GYM_CACHE": str(cache)}) for _ in (0, 1)]
            codes = [p.wait(timeout=self.timeout) for p in procs]
            load = (
                "from transformers import AutoModelForCausalLM; from trainer.models.tiny import tiny_model_path; "
                "AutoModelForCausalLM.from_pretrained(tiny_model_path(), trust_remote_code=False)"
            )
            verdict, _ = self.sh(f"python -c {shlex.quote(load)}", {"GIGPO_GYM_CACHE": str(cache)})
            trials.append(codes == [0, 0] and verdict == "EXIT0")
        self.record(
            "two first uses of the tiny model at once (empty cache)",
            "OK" if all(trials) else "TRACEBACK",
            "both processes succeed and the model loads, in each of 3 trials",
            f"trials ok: {trials}",
        )

    # -------------------------------------------------------------- issue 44: hostile run directories, divergence

    def hostile_run_dir_cases(self) -> None:
        """A link in place of each file gigpo-train writes in a run directory, a fresh run into a folder of the
        user's: refused in one line, nothing outside the run directory written, nothing of the user's deleted."""
        from trainer.run_dir import RUN_FILES

        victims = self.scratch / "victims"
        victims.mkdir(exist_ok=True)
        base = self.scratch / "runs" / "base"
        events = next(p.name for p in base.iterdir() if p.name.startswith("events.out.tfevents."))
        check = "refused in one line naming the link; the link's target unchanged"
        for i, name in enumerate([*RUN_FILES, events, ".checkpoint.zip.tmp-abcd1234"]):
            run = self.copy("base", f"link-{i}")
            victim = victims / f"victim-{i}.txt"
            victim.write_text("precious\n")
            (run / name).unlink(missing_ok=True)
            (run / name).symlink_to(victim)
            verdict, last = self.sh(f"gigpo-train --resume --run-dir runs/link-{i} --rounds 2 --no-progress")
            intact = victim.is_file() and victim.read_text() == "precious\n"
            now = "SECURITY" if not intact else verdict if verdict != "CLEAR" or name in last else "UNCLEAR"
            label = "events.out.tfevents.*" if name == events else name
            self.record(f"run dir: {label} is a link elsewhere, --resume", now, check, last)
        run = self.scratch / "runs" / "link-fresh"
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        victim = victims / "victim-fresh.txt"
        victim.write_text("precious\n")
        (run / ".lock").symlink_to(victim)
        verdict, last = self.sh(f"gigpo-train {SMALL} --rounds 1 --run-dir runs/link-fresh")
        intact = victim.read_text() == "precious\n"
        self.record("run dir: .lock is a link elsewhere, fresh run", verdict if intact else "SECURITY", check, last)
        run = self.scratch / "runs" / "users"
        shutil.rmtree(run, ignore_errors=True)
        run.mkdir(parents=True)
        files = {"config.yaml": "# my notes\nrounds: 3\n", ".notes.tmp": "draft", "data.csv": "1,2\n"}
        for name, text in files.items():
            (run / name).write_text(text)
        (run / ".cache.tmp-x").mkdir()
        verdict, last = self.sh(f"gigpo-train {SMALL} --rounds 1 --run-dir runs/users")
        kept = {p.name for p in run.iterdir()} == {*files, ".cache.tmp-x"} and all(
            (run / name).read_text() == text for name, text in files.items()
        )
        self.record(
            "fresh run into a folder of the user's (config.yaml, hidden .tmp files)",
            verdict if kept else "DATA-LOST",
            "refused in one line; every file of the user's there, unchanged",
            last,
        )

    def divergence_cases(self) -> None:
        """A learning rate inside the config's bounds with clipping effectively off; optimiser states that would
        change the optimiser (``maximize``) or hold NaN."""
        webshop = (
            "gigpo-train --preset cpu-webshop --model tiny --no-progress --set n_groups=1 --set group_size=2 "
            "--set max_episode_steps=4 --set eval_tasks=1 --set eval_episodes=1"
        )
        verdict, last = self.sh(
            f"{webshop} --rounds 3 --set learning_rate=1e30 --set max_grad_norm=1e30 --run-dir runs/N"
        )
        diverged = self.scratch / "runs" / "N"
        committed = _meta(diverged)["extra"]["run"]["rounds_done"] if (diverged / "checkpoint.zip").exists() else 0
        self.record(
            "diverging run (learning_rate 1e30, max_grad_norm 1e30)",
            verdict if verdict != "CLEAR" or "round" in last else "UNCLEAR",
            "stops in one line naming the round and the quantity, before that round's commit",
            last,
        )
        evaluated, last = self.sh("gigpo-eval --checkpoint runs/N --tasks 1")
        self.record(
            "evaluate the diverged run's last committed round",
            "OK" if evaluated == "EXIT0" and committed else "DATA-LOST" if committed else evaluated,
            "the last good round (committed before the divergence) evaluates",
            f"rounds committed {committed}; eval {evaluated}: {last}",
        )
        self.sh(f"{webshop} --rounds 2 --run-dir runs/O")  # round 2 takes an optimiser step: there is state
        for case, change in (
            ("maximize: true in the saved optimiser state", "maximize"),
            ("NaN moment in the saved optimiser state", "nan"),
        ):
            run = self.copy("O", f"O-{change}")
            items = _items(run / "checkpoint.zip")
            meta = json.loads(items["checkpoint.json"])
            if change == "maximize":
                meta["optimizer"]["param_groups"][0]["maximize"] = True
                items["checkpoint.json"] = json.dumps(meta).encode()
            else:
                from safetensors.torch import load, save

                state = load(items["state.safetensors"])
                name = next(k for k in state if k.startswith("optim.") and k.endswith(".exp_avg"))
                state[name] = state[name].fill_(float("nan"))
                items["state.safetensors"] = save(state)
            _write_items(run / "checkpoint.zip", items)
            for command in (
                f"gigpo-eval --checkpoint runs/O-{change} --tasks 1",
                f"gigpo-train --resume --run-dir runs/O-{change} --rounds 3 --no-progress",
            ):
                verdict, last = self.sh(command)
                self.record(
                    f"{case}, {command.split()[0]}",
                    "SILENT" if verdict == "EXIT0" else verdict,
                    "refused in one line (the library's optimiser settings, finite moments)",
                    last,
                )

    def run_all(self) -> list[tuple[str, str, str, str]]:
        for part in (
            self.resume_is_bit_exact,
            self.kill_cases,
            self.corrupt_cases,
            self.changed_settings_cases,
            self.security_cases,
            self.determinism_cases,
            self.concurrency_cases,
            self.hostile_run_dir_cases,
            self.divergence_cases,
            self.hostile_cases,
        ):
            part()
        return self.results


def report(results: list[tuple[str, str, str, str]], before: dict[str, tuple[str, str, str]], out=None) -> dict:
    """Print the before/after table and every case; return the JSON summary."""
    out = out or sys.stdout
    kinds = ["SECURITY", "DATA-LOST", "HANG", "SILENT", "TRACEBACK", "UNCLEAR", "CLEAR", "OK"]
    probe = [before.get(case.split(" (a made-up")[0].split(" (inside")[0], ("?", "", "?"))[2] for case, *_ in results]
    now = [r[1] for r in results]
    extra = sorted({v for v in probe + now} - set(kinds))
    print(
        f"\n{len(results)} cases of sections 4-7 (checkpoints and resume, security, determinism, concurrency), "
        "each made again from its name on the current checkpoint format\n",
        file=out,
    )
    print("| | " + " | ".join(kinds + extra) + " |", file=out)
    print("|---|" + "---:|" * len(kinds + extra), file=out)
    for when, values in (("probe", probe), ("now", now)):
        print(f"| {when} | " + " | ".join(str(values.count(k)) for k in kinds + extra) + " |", file=out)
    print("\n| case | probe | now | check | what happened now |\n|---|---|---|---|---|", file=out)
    for (case, verdict, check, detail), old in zip(results, probe, strict=True):
        print(f"| {case} | {old} | {verdict} | {check} | {detail.replace('|', '/')} |", file=out)
    summary = {"runs_before": collections.Counter(probe), "runs_after": collections.Counter(now)}
    print(json.dumps(summary), file=out)
    return summary
