"""ALFWorld-text-v0: the embedded ALFWorld engine, its task generator, expert and the real backend."""

from .env import ALFWorldTextEnv, make_alfworld_env
from .expert import expert_command
from .generator import SPLIT_SIZES, generate_task
from .world import TASK_TYPES, Engine, Task

__all__ = [
    "SPLIT_SIZES",
    "TASK_TYPES",
    "ALFWorldTextEnv",
    "Engine",
    "Task",
    "expert_command",
    "generate_task",
    "make_alfworld_env",
]
