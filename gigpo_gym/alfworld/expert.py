"""An oracle expert for the embedded engine, like ALFWorld's hand-coded expert.

It reads the true state (where every object is), so it never searches: go to the object, open
its receptacle if needed, take it, treat it (clean/heat/cool), bring it to the target (or to the
lamp), and put it (or switch the lamp on). It is closed-loop: from any state, including after
random actions, it returns the next command, which is always admissible. It plays generated tasks
and the real ALFWorld games alike (objects in several receptacles, receptacles sharing a location).
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

    def away(r: int) -> bool:
        return recs[r].location != engine.agent

    def reach(r: int) -> str | None:
        """The command that brings the agent to receptacle ``r`` with it open, if one is needed."""
        if away(r):
            return f"go to {recs[r].name}"
        if not engine.accessible(r):
            return f"open {recs[r].name}"
        return None

    def closest(candidates: list[int]) -> int:
        # Prefer receptacles here, then ones that need no opening: fewer steps.
        return min(candidates, key=lambda j: (away(j), not engine.accessible(j), task.receptacle_order[j]))

    treat = _TREAT.get(goal.task_type)
    if goal.task_type == "look_at_obj_in_light":
        lamps = [(i, r) for i, r in engine.inside if items[i].otype == goal.rtype and items[i].toggleable]
        lamp, destination = min(lamps, key=lambda pair: (away(pair[1]), task.receptacle_order[pair[1]]))
        done: set[int] = set()
    else:
        destination = _destination(engine)
        done = {
            i
            for i, r in engine.inside
            if r == destination and items[i].otype == goal.otype and (treat is None or engine.has(treat[1], i))
        }

    held = engine.held
    if held >= 0 and items[held].otype == goal.otype:
        obj = items[held]
        if treat is not None and not engine.has(treat[1], held):
            device = closest([j for j, r in enumerate(recs) if r.rtype == treat[0]])
            if away(device):
                return f"go to {recs[device].name}"
            return f"{treat[2]} {obj.name} with {recs[device].name}"
        if goal.task_type == "look_at_obj_in_light":
            return f"go to {recs[destination].name}" if away(destination) else f"use {items[lamp].name}"
        return reach(destination) or engine.put_command(held, destination)
    if held >= 0:
        # Holding something useless: put it down where it fits, as close as possible.
        spot = closest([j for j, r in enumerate(recs) if (r.rtype, items[held].otype) in task.can_contain])
        return reach(spot) or engine.put_command(held, spot)

    wanted = [
        (i, r) for i, r in engine.inside if items[i].otype == goal.otype and items[i].pickupable and i not in done
    ]
    target, home = min(
        wanted,
        key=lambda pair: (
            away(pair[1]),
            not engine.accessible(pair[1]),
            task.item_order[pair[0]],
            task.receptacle_order[pair[1]],
        ),
    )
    return reach(home) or f"take {items[target].name} from {recs[home].name}"


def _destination(engine: Engine) -> int:
    """The target receptacle: one of the goal type that fits the object, already holding most goal objects."""
    task, goal = engine.task, engine.task.goal
    recs, items = task.receptacles, task.items
    count = [0] * len(recs)
    for i, r in engine.inside:
        if items[i].otype == goal.otype:
            count[r] += 1
    candidates = [j for j, r in enumerate(recs) if r.rtype == goal.rtype and (r.rtype, goal.otype) in task.can_contain]
    return min(candidates, key=lambda j: (-count[j], recs[j].openable, task.receptacle_order[j]))
