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

``sharding="fsdp"`` (:meth:`Distributed.fully_shard`) replaces DDP by PyTorch's FSDP2 (``fully_shard``, the engine
under accelerate's FSDP2 plugin): each decoder layer is a unit whose weights, gradients and optimiser state are
split over the ranks. The rollout's passes differ in number between ranks (their episodes differ), and FSDP's
per-pass all-gathers need every rank in step, so the weights are gathered once after each optimiser step and stay
gathered (FSDP's own ``unshard``, not a hand-written broadcast); the gradients are reduce-scattered by the backward
pass of a mini-batch's last micro-batch and each rank keeps and updates only its shard of the optimiser state and
of the weights. Memory per rank: the weights and, during accumulation, their gradients in full; the optimiser state
(Adam: twice the trainable weights) and the master weights divided by the number of ranks. ``accelerate launch``
with an FSDP config (``configs/accelerate/8gpu_fsdp.yaml``) selects the same path (:func:`launch_sharding`);
:func:`check_engine` refuses launch settings it cannot honour exactly.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["Distributed", "check_engine", "current", "launch_sharding", "shard", "shutdown", "world_size"]

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
        self._units: list[Any] = []  # FSDP2's units once fully_shard has run (their weights are gathered)

    @property
    def sharded(self) -> bool:
        """Whether :meth:`fully_shard` has run: the model is FSDP2's, its optimiser holds shards."""
        return bool(self._units)

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

    def fully_shard(self, model: torch.nn.Module) -> list[torch.nn.Parameter]:
        """Shard ``model`` in place with FSDP2, one unit per decoder layer (the model's ``_no_split_modules``, as
        accelerate's FSDP plugin picks them) and the rest in the root unit; then gather its weights.

        Returns the trainable parameters' shards (``DTensor``), which the optimiser must hold: while the weights are
        gathered, ``model.parameters()`` yields the gathered copies instead.
        """
        from torch.distributed.device_mesh import init_device_mesh
        from torch.distributed.fsdp import FSDPModule
        from torch.distributed.fsdp import fully_shard as shard_module

        mesh = init_device_mesh(self.accelerator.device.type, (self.world,))
        layers = _layer_classes(model)
        for module in list(model.modules()):
            if type(module).__name__ in layers:
                shard_module(module, mesh=mesh)
        shard_module(model, mesh=mesh)
        self._units = [m for m in model.modules() if isinstance(m, FSDPModule)]
        shards = [p for p in model.parameters() if p.requires_grad]
        for unit in self._units:  # keep the weights gathered between optimiser steps (see the module's docstring)
            unit.set_reshard_after_forward(False, recurse=False)
            unit.set_reshard_after_backward(False, recurse=False)
        self._gather_weights()
        return shards

    def _gather_weights(self) -> None:
        for unit in self._units:
            unit.unshard()

    def refresh_weights(self) -> None:
        """After an optimiser step on the shards: gather the updated weights (every rank, in step)."""
        for unit in self._units:
            unit.reshard()
        self._gather_weights()

    @staticmethod
    def local_state(state: dict[str, Any], params: list[torch.nn.Parameter]) -> dict[str, Any]:
        """An optimiser ``state_dict`` of full tensors (a checkpoint's) cut to this rank's shards of ``params``."""
        from torch.distributed.tensor import DTensor, distribute_tensor

        def local(value: Any, param: torch.nn.Parameter) -> Any:
            if isinstance(param, DTensor) and torch.is_tensor(value) and value.shape == param.shape:
                return distribute_tensor(value, param.device_mesh, param.placements, src_data_rank=None)
            return value  # Adam's step count, a scalar

        out = dict(state)
        out["state"] = {i: {k: local(v, params[int(i)]) for k, v in s.items()} for i, s in state["state"].items()}
        return out

    @staticmethod
    def full(tensors: dict[str, Any]) -> dict[str, Any]:
        """``tensors`` with every shard (``DTensor``) gathered into its full tensor: every rank calls it, in step."""
        from torch.distributed.tensor import DTensor

        return {k: v.full_tensor() if isinstance(v, DTensor) else v for k, v in tensors.items()}

    @contextlib.contextmanager
    def no_sync(self, wrapped: torch.nn.Module, sync: bool) -> Iterator[None]:
        """Accumulate gradients locally unless ``sync`` (the last micro-batch of a mini-batch reduces them)."""
        if self.sharded:
            wrapped.set_requires_gradient_sync(sync)  # type: ignore[operator]  # an FSDPModule's
            yield
            return
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


def _layer_classes(model: torch.nn.Module) -> set[str]:
    """The class names of the decoder layers of a Hugging Face model (or of the one a PEFT model wraps)."""
    for module in model.modules():
        names = getattr(module, "_no_split_modules", None)
        if names:
            return set(names)
    return set()


# `accelerate launch` with an FSDP config (distributed_type: FSDP) sets ACCELERATE_USE_FSDP and these variables: the
# run then shards with the trainer's FSDP2 (sharding="fsdp"), which works one way, so a config asking for another is
# refused (variable: (allowed values, what to set instead)); the variables left out (prefetch, FSDP1's strategy, the
# size-based wrap's threshold) do not change what is computed
_FSDP_CONFIG = {
    "FSDP_VERSION": (("2",), "the trainer shards with FSDP2: set fsdp_version: 2"),
    "FSDP_RESHARD_AFTER_FORWARD": (
        ("false",),
        "the weights stay gathered through a round (ranks make different numbers of forward passes): set "
        "fsdp_reshard_after_forward: false",
    ),
    "FSDP_OFFLOAD_PARAMS": (("false",), "CPU offload is not supported: set fsdp_offload_params: false"),
    "FSDP_AUTO_WRAP_POLICY": (
        ("TRANSFORMER_BASED_WRAP",),
        "the trainer wraps each decoder layer (the model's _no_split_modules): set "
        "fsdp_auto_wrap_policy: TRANSFORMER_BASED_WRAP",
    ),
    "FSDP_TRANSFORMER_CLS_TO_WRAP": ((), "the trainer wraps the model's _no_split_modules: remove this setting"),
    "FSDP_STATE_DICT_TYPE": (
        ("FULL_STATE_DICT",),
        "checkpoints hold full tensors (a sharded run resumes in any number of processes): set "
        "fsdp_state_dict_type: FULL_STATE_DICT",
    ),
    "FSDP_CPU_RAM_EFFICIENT_LOADING": (
        ("false",),
        "every rank loads the model: set fsdp_cpu_ram_efficient_loading: false",
    ),
    "FSDP_ACTIVATION_CHECKPOINTING": (
        ("false",),
        "set fsdp_activation_checkpointing: false and the trainer's gradient_checkpointing instead",
    ),
}
# accelerate's other engine settings that the trainer has its own way to choose
_ENGINE = {
    "ACCELERATE_USE_DEEPSPEED": (
        ("false",),
        "DeepSpeed is not supported: for sharded training use an FSDP config from configs/accelerate/ or set "
        "sharding=fsdp (--sharding fsdp)",
    ),
    "ACCELERATE_MIXED_PRECISION": (
        ("no",),
        "the policy's precision is the trainer's dtype setting (--dtype bfloat16): set mixed_precision: 'no'",
    ),
}


def _uses_fsdp() -> bool:
    return os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("true", "1")


def check_engine() -> None:
    """Refuse an ``accelerate launch`` config the trainer cannot honour exactly (DeepSpeed, accelerate's mixed
    precision, FSDP settings other than the trainer's FSDP2), naming the variable, its value and what to set."""
    from .errors import ConfigError

    checks = {**_ENGINE, **(_FSDP_CONFIG if _uses_fsdp() else {})}
    for variable, (allowed, why) in checks.items():
        value = os.environ.get(variable)
        if variable == "FSDP_VERSION" and value is None:
            value = "1"  # accelerate's default
        if value is not None and value.lower() not in [a.lower() for a in allowed]:
            raise ConfigError(f"{variable}={value}: {why}")


def launch_sharding(sharding: str) -> str:
    """The sharding a run uses: ``"fsdp"`` in a multi-process launch with an accelerate FSDP config, else
    ``sharding`` (the config's)."""
    return "fsdp" if _uses_fsdp() and world_size() > 1 else sharding


def current(device: str | torch.device = "cpu", model: str | None = None, init_seed: int = 0) -> Distributed | None:
    """The process group of this run (joined on first use), or ``None`` in a single-process run.

    ``model``: the run's model name or path (``init_seed``: a tiny model's initial weights), whose cached files (the
    tiny model, SmolLM2) are built before the
    group is joined: transformers' ``save_pretrained`` writes a model's weights only on rank 0 of a joined group,
    so building them after joining could leave rank 1's folder, a tokenizer without weights, as the cache.
    """
    global _CURRENT
    check_engine()
    if _CURRENT is None and world_size() > 1:
        if model is not None:
            from .models import resolve_model

            # a bad name is reported, as one clear error, by the model's load that follows
            with contextlib.suppress(OSError, ValueError, ImportError):
                resolve_model(model, init_seed)
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
