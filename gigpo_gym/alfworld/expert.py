"""An oracle expert for the embedded engine, like ALFWorld's hand-coded expert.

It reads the true state (where every object is), so it never searches: go to the object, open
its receptacle if needed, take it, treat it (clean/heat/cool), bring it to the target (or to the
lamp), and put it (or switch the lamp on). It is closed-loop: from any state, including after
random actions, it returns the next command, which is always admissible.
"""

from __future__ import annotations

from .world import CLEANER, COOLER, HEATER, Engine

__all__ = ["expert_command"]

_TREAT = {
    "pick_clean_then_place_in_recep": (CLEANER, "clean", "clean"),
    "pick_heat_then_place_in_recep": (HEATER, "hot", "heat"),
    "pick_cool_then_place_in_recep": (COOLER, "cool", "cool"),
}


def expert_command(engine: Engine) -> str | None:
    """The expert's next command, or ``None`` once the goal holds."""
    if engine.won():
        return None
    task, goal = engine.task, engine.task.goal
    recs, items = task.receptacles, task.items

    def reach(r: int) -> str | None:
        """The command that brings the agent to receptacle ``r`` with it open, if one is needed."""
        if engine.agent != r:
            return f"go to {recs[r].name}"
        if recs[r].openable and not engine.opened[r]:
            return f"open {recs[r].name}"
        return None

    def first_of(rtype: str) -> int:
        # Prefer receptacles that need no opening: fewer steps.
        return min((j for j, r in enumerate(recs) if r.rtype == rtype), key=lambda j: (recs[j].openable, j))

    treat = _TREAT.get(goal.task_type)
    if goal.task_type == "look_at_obj_in_light":
        destination = engine.where[next(i for i, o in enumerate(items) if o.otype == goal.rtype)]
        done: set[int] = set()
    else:
        destination = _destination(engine)
        done = {
            i
            for i, o in enumerate(items)
            if o.otype == goal.otype
            and engine.where[i] == destination
            and (treat is None or getattr(engine, treat[1])[i])
        }

    held = engine.held
    if held >= 0 and items[held].otype == goal.otype:
        obj = items[held]
        if treat is not None and not getattr(engine, treat[1])[held]:
            device = first_of(treat[0])
            if engine.agent != device:
                return f"go to {recs[device].name}"
            return f"{treat[2]} {obj.name} with {recs[device].name}"
        step = reach(destination)
        if step is not None:
            return step
        if goal.task_type == "look_at_obj_in_light":
            lamp = next(i for i in engine._contents(destination) if items[i].otype == goal.rtype)
            return f"use {items[lamp].name}"
        return f"move {obj.name} to {recs[destination].name}"
    if held >= 0:
        # Holding something useless: put it down where it fits, as close as possible.
        fits = [j for j, r in enumerate(recs) if (r.rtype, items[held].otype) in task.can_contain]
        spot = min(fits, key=lambda j: (j != engine.agent, recs[j].openable and not engine.opened[j], j))
        return reach(spot) or f"move {items[held].name} to {recs[spot].name}"

    wanted = [i for i, o in enumerate(items) if o.otype == goal.otype and i not in done and engine.where[i] >= 0]
    target = min(wanted, key=lambda i: (engine.where[i] != engine.agent, recs[engine.where[i]].openable, i))
    home = engine.where[target]
    return reach(home) or f"take {items[target].name} from {recs[home].name}"


def _destination(engine: Engine) -> int:
    """The target receptacle: the one of the goal type already holding most goal objects."""
    task, goal = engine.task, engine.task.goal
    recs, items = task.receptacles, task.items
    count = [0] * len(recs)
    for i, r in enumerate(engine.where):
        if r >= 0 and items[i].otype == goal.otype:
            count[r] += 1
    candidates = [j for j, r in enumerate(recs) if r.rtype == goal.rtype]
    return min(candidates, key=lambda j: (-count[j], recs[j].openable, j))
