"""The embedded ALFWorld world model: static task description, dynamic state, rules and text.

The rules follow ALFWorld's PDDL domain (``logic/alfred.pddl``): an action is admissible exactly
when its PDDL precondition holds, and its effects are the PDDL effects. The messages follow the
TextWorld grammar of ALFWorld 0.4.x (``logic/alfred.twl2``, game data 2.1.2): ``"You arrive at
{r}."``, ``move {o} to {r}``, lists rendered as ``"a X, a Y, and a Z"`` (``"nothing"`` when
empty; the article is always ``a``, as in ALFWorld).

Both the procedural task generator and a loader of real ALFWorld games build a :class:`Task`;
:class:`Engine` plays any of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..hashing import canonical_hash

__all__ = ["NOTHING_HAPPENS", "TASK_TYPES", "Engine", "Goal", "Item", "Receptacle", "Task"]

NOTHING_HAPPENS = "Nothing happens."
WELCOME = "-= Welcome to TextWorld, ALFRED! =-"

TASK_TYPES = (
    "pick_and_place_simple",
    "look_at_obj_in_light",
    "pick_clean_then_place_in_recep",
    "pick_heat_then_place_in_recep",
    "pick_cool_then_place_in_recep",
    "pick_two_obj_and_place",
)

# Receptacle types that apply an effect to a held object (PDDL CleanObject/HeatObject/CoolObject).
CLEANER, HEATER, COOLER = "sinkbasin", "microwave", "fridge"
KNIVES = ("knife", "butterknife")


@dataclass(frozen=True)
class Receptacle:
    """A fixed receptacle, e.g. ``cabinet 3``; each stands at its own location."""

    name: str
    rtype: str
    openable: bool = False


@dataclass(frozen=True)
class Item:
    """A movable or toggleable object, e.g. ``apple 1``, with its PDDL affordances."""

    name: str
    otype: str
    pickupable: bool = True
    cleanable: bool = False
    heatable: bool = False
    coolable: bool = False
    sliceable: bool = False
    toggleable: bool = False
    receptacle_object: bool = False  # mug, bowl, pan ...: examined as "This is a normal mug 1. ..."


@dataclass(frozen=True)
class Goal:
    """What the task asks: a task type over an object type and (but for look-at) a receptacle type.

    For ``look_at_obj_in_light``, ``rtype`` is the light's object type (``desklamp``).
    """

    task_type: str
    otype: str
    rtype: str
    text: str  # the sentence after "Your task is to: "


@dataclass(frozen=True)
class Task:
    """A complete ALFWorld game: the scene, the initial state and the goal."""

    task_id: str
    scene: str
    receptacles: tuple[Receptacle, ...]
    items: tuple[Item, ...]
    can_contain: frozenset[tuple[str, str]]  # (receptacle type, object type)
    initial_receptacle: tuple[int, ...]  # receptacle index holding each item
    goal: Goal
    initially_open: tuple[bool, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.initial_receptacle) != len(self.items):
            raise ValueError("initial_receptacle needs one receptacle index per item")
        if not self.initially_open:
            object.__setattr__(self, "initially_open", (False,) * len(self.receptacles))


def render_list(names: list[str]) -> str:
    """TextWorld's list rendering: ``a X``, ``a X, and a Y``, ``a X, a Y, and a Z``, or ``nothing``."""
    if not names:
        return "nothing"
    phrases = [f"a {n}" for n in names]
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + ", and " + phrases[-1]


class Engine:
    """Plays one :class:`Task`: ``reset()`` gives the intro, ``step(command)`` the feedback.

    Commands must match an admissible command exactly (after ``strip()``); anything else answers
    ``"Nothing happens."`` and changes nothing, as in TextWorld.
    """

    def __init__(self, task: Task) -> None:
        self.task = task
        recs, items = task.receptacles, task.items
        self._rec_index = {r.name: i for i, r in enumerate(recs)}
        self._item_index = {o.name: i for i, o in enumerate(items)}
        # Static parts of the command list and the room overview (sorted as TextWorld lists them:
        # types alphabetically, numbers descending).
        self._goto = [f"go to {r.name}" for r in recs]
        self._overview = render_list(
            [r.name for r in sorted(recs, key=lambda r: (r.rtype, -_number(r.name)))]
        )
        self._fits = [
            frozenset(j for j, r in enumerate(recs) if (r.rtype, o.otype) in task.can_contain) for o in items
        ]
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> str:
        """Restore the initial state and return the intro text."""
        n = len(self.task.items)
        self.agent = -1  # receptacle index the agent stands at; -1 = the middle of the room
        self.held = -1  # item index held, -1 = hands empty
        self.where = list(self.task.initial_receptacle)  # receptacle of each item, -1 if held
        self.opened = list(self.task.initially_open)
        self.hot = [False] * n
        self.cool = [False] * n
        self.clean = [False] * n
        self.sliced = [False] * n
        self.on = [False] * n
        self.toggled = [False] * n
        self._actions: dict[str, tuple] | None = None
        return f"{WELCOME}\n\n{self._look()}\n\nYour task is to: {self.task.goal.text}"

    def state_key(self) -> tuple:
        """Canonical tuple of the full dynamic state (with the task id, so tasks never collide)."""
        return (
            self.task.task_id,
            self.agent,
            self.held,
            tuple(self.where),
            tuple(self.opened),
            tuple(self.hot),
            tuple(self.cool),
            tuple(self.clean),
            tuple(self.sliced),
            tuple(self.on),
            tuple(self.toggled),
        )

    def state_hash(self) -> str:
        """Canonical, process-independent digest of :meth:`state_key`."""
        return canonical_hash(self.state_key())

    # ------------------------------------------------------------------ commands

    def admissible_commands(self) -> list[str]:
        """Every command whose PDDL precondition holds now, sorted."""
        return sorted(self._admissible())

    def step(self, command: str) -> tuple[str, bool]:
        """Apply ``command``; returns ``(feedback, won)``."""
        action = self._admissible().get(command.strip())
        if action is None:
            return NOTHING_HAPPENS, self.won()
        self._actions = None
        kind, *args = action
        return getattr(self, f"_do_{kind}")(*args), self.won()

    def _accessible(self, r: int) -> bool:
        return not self.task.receptacles[r].openable or self.opened[r]

    def _contents(self, r: int) -> list[int]:
        return [i for i, w in enumerate(self.where) if w == r]

    def _admissible(self) -> dict[str, tuple]:
        if self._actions is not None:
            return self._actions
        recs, items = self.task.receptacles, self.task.items
        acts: dict[str, tuple] = {cmd: ("goto", j) for j, cmd in enumerate(self._goto)}
        acts["inventory"] = ("inventory",)
        acts["look"] = ("look",)
        held = self.held
        if held >= 0:
            acts[f"examine {items[held].name}"] = ("examine_item", held)
        r = self.agent
        if r >= 0:
            rec = recs[r]
            acts[f"examine {rec.name}"] = ("examine_receptacle", r)
            if rec.openable:
                if self.opened[r]:
                    acts[f"close {rec.name}"] = ("close", r)
                else:
                    acts[f"open {rec.name}"] = ("open", r)
            accessible = self._accessible(r)
            for i in self._contents(r):
                item = items[i]
                if accessible:
                    acts[f"examine {item.name}"] = ("examine_item", i)
                    if held < 0 and item.pickupable:
                        acts[f"take {item.name} from {rec.name}"] = ("take", i, r)
                if item.toggleable:
                    acts[f"use {item.name}"] = ("use", i)
                if held >= 0 and item.sliceable and items[held].otype in KNIVES:
                    acts[f"slice {item.name} with {items[held].name}"] = ("slice", i, held)
            if held >= 0:
                item = items[held]
                if accessible and r in self._fits[held]:
                    acts[f"move {item.name} to {rec.name}"] = ("put", held, r)
                if rec.rtype == CLEANER and item.cleanable:
                    acts[f"clean {item.name} with {rec.name}"] = ("clean", held, r)
                if rec.rtype == HEATER and item.heatable:
                    acts[f"heat {item.name} with {rec.name}"] = ("heat", held, r)
                if rec.rtype == COOLER and item.coolable:
                    acts[f"cool {item.name} with {rec.name}"] = ("cool", held, r)
        self._actions = acts
        return acts

    # ------------------------------------------------------------------ text

    def _describe_receptacle(self, r: int) -> str:
        rec = self.task.receptacles[r]
        if rec.openable and not self.opened[r]:
            return f"The {rec.name} is closed."
        listing = render_list(self._sorted_names(self._contents(r)))
        if rec.openable:
            return f"The {rec.name} is open. In it, you see {listing}."
        return f"On the {rec.name}, you see {listing}."

    def _sorted_names(self, indices: list[int]) -> list[str]:
        items = self.task.items
        # As TextWorld lists them: types alphabetically, numbers descending ("a laptop 2, a laptop 1").
        return [items[i].name for i in sorted(indices, key=lambda i: (items[i].otype, -_number(items[i].name)))]

    def _look(self) -> str:
        if self.agent < 0:
            return f"You are in the middle of a room. Looking quickly around you, you see {self._overview}."
        # Objects "on the floor" next to a receptacle never occur in ALFWorld games.
        return f"You are facing the {self.task.receptacles[self.agent].name}. Next to it, you see nothing."

    def _describe_item(self, i: int) -> str:
        item = self.task.items[i]
        if item.receptacle_object:
            # The grammar tests isReceptacleObject first; nothing can be put into one here.
            return f"This is a normal {item.name}. In it, you see nothing."
        hot, cool, clean, sliced = self.hot[i], self.cool[i], self.clean[i], self.sliced[i]
        if sliced:
            state = " and ".join(s for s, on in (("hot", hot), ("cool", cool), ("clean", clean)) if on)
            return f"This is a {state + ' ' if state else ''}sliced {item.name}."
        if clean and (hot or cool):
            return f"This is a {'hot' if hot else 'cool'} and clean {item.name}."
        if hot:
            return f"This is a hot {item.name}."
        if clean:
            return f"This is a clean {item.name}."
        if cool:
            return f"This is a cold {item.name}."
        if item.toggleable:
            return f"This {item.name} is {'on' if self.toggled[i] else 'off'}."
        return f"There's nothing special about {item.name}."

    # ------------------------------------------------------------------ effects

    def _do_goto(self, r: int) -> str:
        self.agent = r
        return f"You arrive at {self.task.receptacles[r].name}. {self._describe_receptacle(r)}"

    def _do_inventory(self) -> str:
        if self.held < 0:
            return "You are not carrying anything."
        return f"You are carrying: a {self.task.items[self.held].name}."

    def _do_look(self) -> str:
        return self._look()

    def _do_examine_receptacle(self, r: int) -> str:
        return self._describe_receptacle(r)

    def _do_examine_item(self, i: int) -> str:
        return self._describe_item(i)

    def _do_open(self, r: int) -> str:
        self.opened[r] = True
        return f"You open the {self.task.receptacles[r].name}. {self._describe_receptacle(r)}"

    def _do_close(self, r: int) -> str:
        self.opened[r] = False
        return f"You close the {self.task.receptacles[r].name}."

    def _do_take(self, i: int, r: int) -> str:
        self.where[i] = -1
        self.held = i
        return f"You pick up the {self.task.items[i].name} from the {self.task.receptacles[r].name}."

    def _do_put(self, i: int, r: int) -> str:
        self.where[i] = r
        self.held = -1
        return f"You move the {self.task.items[i].name} to the {self.task.receptacles[r].name}."

    def _do_clean(self, i: int, r: int) -> str:
        self.clean[i] = True
        return f"You clean the {self.task.items[i].name} using the {self.task.receptacles[r].name}."

    def _do_heat(self, i: int, r: int) -> str:
        self.hot[i], self.cool[i] = True, False
        return f"You heat the {self.task.items[i].name} using the {self.task.receptacles[r].name}."

    def _do_cool(self, i: int, r: int) -> str:
        self.cool[i], self.hot[i] = True, False
        return f"You cool the {self.task.items[i].name} using the {self.task.receptacles[r].name}."

    def _do_use(self, i: int) -> str:
        self.on[i] = not self.on[i]
        self.toggled[i] = True
        # The grammar is rendered after the effect and tests isToggled, which stays true.
        return f"You turn on the {self.task.items[i].name}."

    def _do_slice(self, i: int, knife: int) -> str:
        self.sliced[i] = True
        return f"You sliced the {self.task.items[i].name} with the {self.task.items[knife].name}."

    # ------------------------------------------------------------------ goal

    def won(self) -> bool:
        """Whether the PDDL goal of the task holds in the current state."""
        goal, items, recs = self.task.goal, self.task.items, self.task.receptacles
        if goal.task_type == "look_at_obj_in_light":
            if self.held < 0 or items[self.held].otype != goal.otype or self.agent < 0:
                return False
            return any(
                self.toggled[i] and items[i].otype == goal.rtype for i in self._contents(self.agent)
            )
        need = {
            "pick_clean_then_place_in_recep": self.clean,
            "pick_heat_then_place_in_recep": self.hot,
            "pick_cool_then_place_in_recep": self.cool,
        }.get(goal.task_type)
        count: dict[int, int] = {}
        for i, r in enumerate(self.where):
            if r >= 0 and items[i].otype == goal.otype and recs[r].rtype == goal.rtype:
                if need is None or need[i]:
                    count[r] = count.get(r, 0) + 1
        wanted = 2 if goal.task_type == "pick_two_obj_and_place" else 1
        return any(c >= wanted for c in count.values())


def _number(name: str) -> int:
    """The instance number of ``"cabinet 12"`` (12)."""
    return int(name.rsplit(" ", 1)[1])
