"""Run by ``torchrun --nproc_per_node 2`` from tests/test_distributed.py: one round on each rank's groups, then one
update with fixed advantages; each rank writes its steps, rank 0 the checkpoint before the update and the weights
and gradients after it, so the test can replay the same steps in one process. ``mode``: ``full`` or ``lora``, DDP;
``fsdp-full`` or ``fsdp-lora``, FSDP2 sharding."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
from safetensors.torch import save_file

import gigpo_gym  # noqa: F401
from trainer import distributed
from trainer.gigpo import GiGPO


def fixed_advantages(records) -> np.ndarray:
    """Non-zero advantages that depend only on a step's place, so one process can give the same ones."""
    return np.array([np.sin(1.0 + r.traj_id + 3.0 * r.step + 7.0 * r.group_id) for r in records])


def main(model_path: str, out: str, mode: str) -> None:
    out_dir = Path(out)
    model = GiGPO(
        "LLMPolicy",
        "ALFWorld-text-v0",
        n_groups=2,
        group_size=2,
        env_kwargs=dict(max_episode_steps=3),
        batch_size=256,
        micro_batch_size=2,
        learning_rate=1e-4,
        seed=0,
        sharding="fsdp" if mode.startswith("fsdp") else "none",
        policy_kwargs=dict(
            model_name_or_path=model_path, use_lora=mode.endswith("lora"), action_mode="score", score_chunk=1
        ),
    )  # 4 candidates per pass: ranks make unequal numbers of passes
    model.learn(1)
    dist = model._dist
    assert dist.sharded == mode.startswith("fsdp")
    rank = dist.rank
    model.save(out_dir / "before.zip")  # every rank calls it; rank 0 writes
    buffer = model.rollout_buffer
    real = np.asarray(buffer.advantages).tolist()
    offset = rank * model.env.n_groups  # this rank's groups are the round's groups offset .. offset + n - 1
    for record in buffer.records:
        record.group_id += offset
    steps = [
        {
            k: (v.tolist() if isinstance(v, np.ndarray) else v)
            for k, v in dataclasses.asdict(r).items()
            if k != "ref_logprobs"
        }
        for r in buffer.records
    ]
    # rank 1 updates on half its steps: the ranks then make different numbers of forward passes in the update
    kept = len(buffer.records) if rank == 0 else max(1, len(buffer.records) // 2)
    buffer.records = buffer.records[:kept]
    buffer.advantages = fixed_advantages(buffer.records)
    model.train()
    # how much of Adam's state this rank holds: all of it under DDP, its shard (about half) under FSDP
    moments = [model.policy.optimizer.state[p]["exp_avg"] for p in model.policy.optimizer.param_groups[0]["params"]]
    held = [sum(getattr(m, "_local_tensor", m).numel() for m in moments), sum(m.numel() for m in moments)]
    (out_dir / f"rank{rank}.json").write_text(
        json.dumps({"steps": steps, "advantages": real, "kept": kept, "stats": model.last_train_stats, "held": held})
    )
    # the updated weights and the reduced gradients, gathered from their shards under FSDP (every rank, in step)
    names = [n for n, p in model.policy.model.named_parameters() if p.requires_grad]
    params = [p for group in model.policy.optimizer.param_groups for p in group["params"]]
    weights = dist.full({n: p.detach() for n, p in zip(names, params, strict=True)})
    grads = dist.full({n: p.grad.detach() for n, p in zip(names, params, strict=True)})
    if rank == 0:
        save_file({n: t.contiguous() for n, t in weights.items()}, out_dir / "after.safetensors")
        save_file({n: t.contiguous() for n, t in grads.items()}, out_dir / "grads.safetensors")


if __name__ == "__main__":
    main(*sys.argv[1:])
    distributed.shutdown()
