"""Run by ``torchrun --nproc_per_node 2`` from tests/test_distributed.py: one round on each rank's groups, then one
update with fixed advantages; each rank writes its steps, rank 0 the checkpoint before the update and the weights
after it, so the test can replay the same steps in one process."""

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
        policy_kwargs=dict(model_name_or_path=model_path, use_lora=mode == "lora", action_mode="score", score_chunk=1),
    )  # 4 candidates per pass: ranks make unequal numbers of passes
    model.learn(1)
    rank = model._dist.rank
    if rank == 0:
        model.save(out_dir / "before.zip")
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
    (out_dir / f"rank{rank}.json").write_text(
        json.dumps({"steps": steps, "advantages": real, "kept": kept, "stats": model.last_train_stats})
    )
    if rank == 0:
        trained = [(n, p) for n, p in model.policy.model.named_parameters() if p.requires_grad]
        save_file({n: p.detach().contiguous() for n, p in trained}, out_dir / "after.safetensors")
        save_file({n: p.grad.detach().contiguous() for n, p in trained}, out_dir / "grads.safetensors")


if __name__ == "__main__":
    main(*sys.argv[1:])
    distributed.shutdown()
