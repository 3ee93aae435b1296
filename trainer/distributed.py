"""Data-parallel GiGPO on ``torch.distributed`` through Hugging Face accelerate.

A process group is joined when the process was started by a launcher that sets ``WORLD_SIZE`` > 1 (``torchrun``;
``accelerate launch`` sets the same variables)::

    torchrun --nproc_per_node 2 -m trainer.cli.train --preset cpu-quickstart

GiGPO is data-parallel without approximation: each rank rolls out whole groups (``n_groups / world_size`` of each
round's tasks, a slice of the draw one process would make), and a group's episode and step groups never leave
it, so every rank computes its rows' advantages exactly. The update reduces two things: the gradients (by
accelerate's DDP wrapper) and the token count of each mini-batch (so that the loss is the token mean over the
global mini-batch: N processes make the update one process makes on the same steps). Rank 0 alone writes logs,
checkpoints and the run directory. Without a launcher, :func:`current` returns ``None`` and nothing here runs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["Distributed", "check_engine", "current", "shard", "shutdown", "world_size"]

_CURRENT: Distributed | None = None


class Distributed:
    """The process group of a data-parallel run: this process's ``rank`` of ``world`` and the reductions it needs."""

    def __init__(self, cpu: bool) -> None:
        from accelerate import Accelerator, DistributedDataParallelKwargs

        # no buffer broadcast: DDP would broadcast the buffers (rotary tables: constants) in every forward pass, a
        # collective call, and ranks make different numbers of forward passes (their steps and candidates differ)
        ddp = DistributedDataParallelKwargs(broadcast_buffers=False)
        self.accelerator = Accelerator(cpu=cpu, kwargs_handlers=[ddp])
        self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def shard(self) -> tuple[int, int]:
        """``(rank, world)``: which slice of each round's groups this process rolls out (:class:`GroupVecEnv`)."""
        return self.rank, self.world

    def sum(self, values: list[float]) -> list[float]:
        """Elementwise sums over the ranks (float64)."""
        tensor = torch.tensor(values, dtype=torch.float64, device=self.accelerator.device)
        return self.accelerator.reduce(tensor, reduction="sum").tolist()

    def max(self, value: float) -> float:
        tensor = torch.tensor([value], dtype=torch.float64, device=self.accelerator.device)
        return float(self.accelerator.gather(tensor).max())

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The engine's data-parallel wrapper of ``model`` (DDP): its backward averages gradients over the ranks."""
        return self.accelerator.prepare_model(model)

    @contextlib.contextmanager
    def no_sync(self, wrapped: torch.nn.Module, sync: bool) -> Iterator[None]:
        """Accumulate gradients locally unless ``sync`` (the last micro-batch of a mini-batch reduces them)."""
        with contextlib.nullcontext() if sync else self.accelerator.no_sync(wrapped):
            yield

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` (picklable objects made by this code, never read from a file), in rank order."""
        from accelerate.utils import gather_object

        return gather_object([value])

    def barrier(self) -> None:
        self.accelerator.wait_for_everyone()

    def broadcast(self, value: Any) -> Any:
        """Rank 0's ``value`` (any picklable object made by this code, never read from a file) on every rank."""
        from accelerate.utils import broadcast_object_list

        box = [value]
        broadcast_object_list(box, from_process=0)
        return box[0]


def world_size() -> int:
    """How many processes a launcher started for this run (``WORLD_SIZE``; 1 without a launcher)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


# what `accelerate launch` sets for a sharding config; the rollout reads the whole module, so these are refused
_SHARDING = {"ACCELERATE_USE_FSDP": "FSDP", "ACCELERATE_USE_DEEPSPEED": "DeepSpeed"}


def check_engine() -> None:
    """Refuse an ``accelerate launch`` config that asks for FSDP or DeepSpeed sharding (not supported yet)."""
    from .errors import ConfigError

    for variable, engine in _SHARDING.items():
        if os.environ.get(variable, "false").lower() in ("true", "1"):
            raise ConfigError(
                f"{engine} sharding ({variable}={os.environ[variable]}) is not supported yet: the rollout reads the "
                "unsharded model; launch data-parallel (DDP) with torchrun or an accelerate config from "
                "configs/accelerate/"
            )


def current(device: str | torch.device = "cpu") -> Distributed | None:
    """The process group of this run (joined on first use), or ``None`` in a single-process run."""
    global _CURRENT
    check_engine()
    if _CURRENT is None and world_size() > 1:
        cuda = torch.cuda.is_available() if str(device) == "auto" else torch.device(device).type == "cuda"
        _CURRENT = Distributed(cpu=not cuda)
    return _CURRENT


def shard() -> tuple[int, int]:
    """``(rank, world)`` of this process in the current run; ``(0, 1)`` in a single-process run."""
    return _CURRENT.shard if _CURRENT is not None else (0, 1)


def shutdown() -> None:
    """Leave the process group (a process exiting without this aborts in gloo's threads)."""
    global _CURRENT
    if _CURRENT is not None and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    _CURRENT = None
