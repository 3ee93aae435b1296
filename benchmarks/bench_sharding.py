"""Memory per process of one update under DDP and under FSDP sharding (2 processes, ``torchrun``, gloo), in one run.

    python benchmarks/bench_sharding.py [--model smollm2-135m-instruct] [--out runs/bench-sharding]

Each arm runs 2 processes (one thread each) that build GiGPO on the model (full fine-tuning, float32), roll out
one small ALFWorld round (2 groups x 2, 3 steps, prompts cut to 256 tokens, one step per micro-batch) and then
make two updates on that round with fixed non-zero advantages (a sparse round may have none, and an update that
is skipped allocates no optimiser state). Each rank
reports its peak resident set and the bytes of the tensors it holds by kind: the weights as the forward passes see
them, the shards the optimiser updates (FSDP only), the reference copy, the gradients and Adam's state. The
reading of a 2-process CPU run is the split of those bytes; the resident set also holds Python, torch and the envs.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

MB = 2**20


def _bytes(tensors) -> float:
    """The bytes these tensors hold on this rank (a shard's local part only)."""
    return sum(getattr(t, "_local_tensor", t).numel() * t.element_size() for t in tensors) / MB


def worker(model_name: str, sharding: str, out: Path) -> None:
    """One rank of an arm: a round, two updates on it with fixed advantages, then this rank's memory report."""
    import gigpo_gym  # noqa: F401
    from trainer import distributed
    from trainer.gigpo import GiGPO

    model = GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        n_groups=2,
        group_size=2,
        env_kwargs={"max_episode_steps": 3},
        batch_size=16,
        micro_batch_size=1,
        learning_rate=1e-5,
        seed=0,
        sharding=sharding,
        # short prompts and one candidate per pass: the logits over a 49k vocabulary would otherwise dominate
        policy_kwargs={"model_name_or_path": model_name, "max_prompt_tokens": 256, "score_chunk": 1},
    )
    model.learn(1)
    buffer = model.rollout_buffer
    for _ in range(2):
        buffer.advantages = np.sin(1.0 + np.arange(len(buffer.records)))
        model.train()
    optimizer = model.policy.optimizer
    shards = [p for group in optimizer.param_groups for p in group["params"]]
    gathered = list(model.policy.model.parameters())
    reference = list(model.policy.reference.parameters()) if model.policy.reference is not None else []
    state = [v for s in optimizer.state.values() for v in s.values() if hasattr(v, "numel") and v.dim() > 0]
    report = {
        "rank": model._dist.rank,
        "steps": int(model.last_train_stats["optimizer_steps"]),
        "weights_mb": _bytes(gathered),
        "optimizer_shards_mb": _bytes(shards) if sharding == "fsdp" else 0.0,
        "reference_mb": _bytes(reference),
        "grads_mb": _bytes([p.grad for p in shards if p.grad is not None]),
        "adam_state_mb": _bytes(state),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    (out / f"{sharding}-rank{report['rank']}.json").write_text(json.dumps(report))
    distributed.shutdown()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m-instruct", help="model name or path (full fine-tuning)")
    parser.add_argument("--out", default="runs/bench-sharding", help="folder of the ranks' reports")
    parser.add_argument("--worker", nargs=2, metavar=("SHARDING", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.model, args.worker[0], Path(args.worker[1]))
        return 0
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    torchrun = str(Path(sys.executable).parent / "torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for sharding in ("none", "fsdp"):
        command = [torchrun, "--standalone", "--nproc_per_node", "2", __file__, "--model", args.model]
        done = subprocess.run([*command, "--worker", sharding, str(out)], env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"sharding={sharding} failed (exit {done.returncode}): {done.stderr[-3000:]}")
    rows = {s: [json.loads((out / f"{s}-rank{r}.json").read_text()) for r in (0, 1)] for s in ("none", "fsdp")}
    keys = ("weights_mb", "optimizer_shards_mb", "reference_mb", "grads_mb", "adam_state_mb", "peak_rss_mb")
    print(f"{args.model}, full fine-tuning in float32, 2 processes (gloo, 1 thread each), after 2 updates\n")
    print("| sharding | rank | optimiser steps | weights MB | shards MB | reference MB | gradients MB | Adam state MB "
          "| peak RSS MB |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for sharding, ranks in rows.items():
        for r in ranks:
            values = " | ".join(f"{r[k]:.0f}" for k in keys)
            print(f"| {sharding} | {r['rank']} | {r['steps']} | {values} |")
    ddp, fsdp = (max(r["peak_rss_mb"] for r in rows[s]) for s in ("none", "fsdp"))
    held = {s: max(sum(r[k] for k in keys[:-1]) for r in rows[s]) for s in rows}
    print(
        f"\nfsdp / ddp: tensors held per process x{held['fsdp'] / held['none']:.2f} ({held['fsdp']:.0f} / "
        f"{held['none']:.0f} MB), peak RSS per process x{fsdp / ddp:.2f} ({fsdp:.0f} / {ddp:.0f} MB)"
    )
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
