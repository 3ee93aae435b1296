"""The embedded ALFWorld world model: a game's static description, its dynamic state, the rules and the text.

The rules are ALFWorld's PDDL domain (``logic/alfred.pddl``): a command is admissible exactly when
the precondition of its PDDL action holds, and applying it applies the action's effects. The text
is what TextWorld derives from ALFWorld's grammar for these facts, including its quirks:

- lists are sorted by the entities' PDDL ids and rendered ``"a X"``, ``"a X, and a Y"``,
  ``"a X, a Y, and a Z"``, or ``"nothing"`` (the article is always ``a``);
- ``look`` in the middle of the room lists the receptacles at the agent's own location, that is
  ``"nothing"`` (only the intro lists them all);
- an untoggled lamp is "nothing special" (the grammar tests a ``not_istoggled`` fact that TextWorld
  never holds), and using a lamp always says "You turn on";
- after ``take X from Y`` the grammar's "Next to it" list can name objects that left a receptacle at
  the agent's location for another one there.

``grammar_version`` picks the game-data text: ``"2.1.1"`` (the data of the ALFWorld paper and of
the paper-era agents: ``"You arrive at loc 12. ..."``, ``put {o} in/on {r}``) or ``"2.1.2"``
(ALFWorld 0.4.x: ``"You arrive at {r}. ..."``, ``move {o} to {r}``, and a ``help`` command).

A :class:`Task` comes from the real game files (:mod:`gigpo_gym.alfworld.pddl`) or from the
procedural generator (:mod:`gigpo_gym.alfworld.generator`); :class:`Engine` plays either.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from typing import Any

from ..hashing import canonical_hash

__all__ = ["GRAMMAR_VERSIONS", "NOTHING_HAPPENS", "TASK_TYPES", "Engine", "Goal", "Item", "Receptacle", "Task"]

NOTHING_HAPPENS = "Nothing happens."
WELCOME = "-= Welcome to TextWorld, ALFRED! =-"
GRAMMAR_VERSIONS = ("2.1.1", "2.1.2")

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
FLAGS = ("clean", "hot", "cool", "sliced", "on", "toggled")

# ALFWorld 0.4.x's help text (data 2.1.2).
HELP = (
    "\nAvailable commands:\n  look:                             look around your current location\n"
    "  inventory:                        check your current inventory\n"
    "  go to (receptacle):               move to a receptacle\n"
    "  open (receptacle):                open a receptacle\n"
    "  close (receptacle):               close a receptacle\n"
    "  take (object) from (receptacle):  take an object from a receptacle\n"
    "  move (object) to (receptacle):  place an object in or on a receptacle\n"
    "  examine (something):              examine a receptacle or an object\n"
    "  use (object):                     use an object\n"
    "  heat (object) with (receptacle):  heat an object using a receptacle\n"
    "  clean (object) with (receptacle): clean an object using a receptacle\n"
    "  cool (object) with (receptacle):  cool an object using a receptacle\n"
    "  slice (object) with (object):     slice an object using a sharp object\n"
)


@dataclass(frozen=True)
class Receptacle:
    """A fixed receptacle, e.g. ``cabinet 3``, standing at location ``location`` (an index of ``Task.locations``)."""

    name: str
    rtype: str
    location: int
    openable: bool = False


@dataclass(frozen=True)
class Item:
    """An object, e.g. ``apple 1``, with its PDDL affordances (objects that cannot be picked up included)."""

    name: str
    otype: str
    pickupable: bool = True
    cleanable: bool = False
    heatable: bool = False
    coolable: bool = False
    sliceable: bool = False
    toggleable: bool = False
    receptacle_object: bool = False  # mug, bowl, pan ...: examined as "This is a normal mug 1. In it, ..."


@dataclass(frozen=True)
class Goal:
    """What the task asks, as the PDDL goal formula (nested tuples of lower-case symbols).

    ``otype`` and ``rtype`` summarise it (for ``look_at_obj_in_light``, ``rtype`` is the light's
    object type, ``desklamp``); ``text`` is the sentence after ``"Your task is to: "``.
    """

    task_type: str
    otype: str
    rtype: str
    text: str
    formula: tuple


@dataclass(frozen=True)
class Task:
    """A complete ALFWorld game: the scene, the initial state and the goal.

    Entities are indices: ``receptacles[j]``, ``items[i]``, ``locations[k]`` (location names,
    ``"loc 12"``). Lists that TextWorld sorts by PDDL id are sorted here by ``receptacle_order``
    and ``item_order`` (a rank per entity).
    """

    task_id: str
    scene: str
    locations: tuple[str, ...]
    receptacles: tuple[Receptacle, ...]
    items: tuple[Item, ...]
    can_contain: frozenset[tuple[str, str]]  # (receptacle type, object type)
    in_receptacle: frozenset[tuple[int, int]]  # initial (item, receptacle) pairs; an item may be in several
    item_location: tuple[int, ...]  # initial location of each item (-1: none)
    agent_location: int  # where the agent starts: a location without receptacles, "the middle of a room"
    goal: Goal
    in_object: frozenset[tuple[int, int]] = frozenset()  # (inner item, outer item), never changes
    initial_flags: frozenset[tuple[str, int]] = frozenset()  # e.g. ("cool", i): an item already cold
    receptacle_order: tuple[int, ...] = ()
    item_order: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if len(self.item_location) != len(self.items):
            raise ValueError("item_location needs one location per item")
        if not self.receptacle_order:
            object.__setattr__(self, "receptacle_order", tuple(range(len(self.receptacles))))
        if not self.item_order:
            object.__setattr__(self, "item_order", tuple(range(len(self.items))))


def render_list(phrases: list[str]) -> str:
    """TextWorld's list rendering: ``X``, ``X, and Y``, ``X, Y, and Z``, or ``nothing``."""
    if not phrases:
        return "nothing"
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + ", and " + phrases[-1]


class Engine:
    """Plays one :class:`Task`: ``reset()`` gives the intro, ``step(command)`` the feedback.

    Commands must match an admissible command exactly (after ``strip()``); anything else answers
    ``"Nothing happens."`` and changes nothing, as in TextWorld.
    """

    def __init__(self, task: Task, grammar_version: str = "2.1.1") -> None:
        if grammar_version not in GRAMMAR_VERSIONS:
            raise ValueError(f"grammar_version must be one of {GRAMMAR_VERSIONS}, got {grammar_version!r}")
        self.task = task
        self.grammar_version = grammar_version
        recs = task.receptacles
        self._by_rank_r = sorted(range(len(recs)), key=task.receptacle_order.__getitem__)
        self._at_location: dict[int, list[int]] = {}
        for j in self._by_rank_r:
            self._at_location.setdefault(recs[j].location, []).append(j)
        self._fits = [
            frozenset(j for j, r in enumerate(recs) if (r.rtype, o.otype) in task.can_contain) for o in task.items
        ]
        self._put = "put {o} in/on {r}" if grammar_version == "2.1.1" else "move {o} to {r}"
        self._symbols = {"o": [f"o{i}" for i in range(len(task.items))], "r": [f"r{j}" for j in range(len(recs))]}
        self._static_facts = self._static_facts_of()
        self._overview = render_list([f"a {recs[j].name}" for j in self._by_rank_r])  # the intro lists them all
        self.reset()

    # ------------------------------------------------------------------ state

    def reset(self) -> str:
        """Restore the initial state and return the intro text."""
        task = self.task
        self.agent = task.agent_location
        self.held = -1  # item index held, -1 = hands empty
        self.inside = set(task.in_receptacle)  # (item, receptacle)
        self.left: set[tuple[int, int]] = (
            set()
        )  # (item, receptacle) pairs an item was taken out of: TextWorld's not_inreceptacle facts
        self.item_at = {(i, loc) for i, loc in enumerate(task.item_location) if loc >= 0}  # objectAtLocation
        self.opened: set[int] = set()
        self.flags = set(task.initial_flags)  # (flag, item) for flag in FLAGS
        self._actions: dict[str, tuple] | None = None
        return f"{WELCOME}\n\n{self._look(self._overview)}\n\nYour task is to: {task.goal.text}"

    def state_key(self) -> tuple:
        """Canonical tuple of the full dynamic state (with the task id, so tasks never collide)."""
        return (
            self.task.task_id,
            self.agent,
            self.held,
            tuple(sorted(self.inside)),
            tuple(sorted(self.left)),
            tuple(sorted(self.item_at)),
            tuple(sorted(self.opened)),
            tuple(sorted(self.flags)),
        )

    def state_hash(self) -> str:
        """Canonical, process-independent digest of :meth:`state_key`."""
        return canonical_hash(self.state_key())

    def has(self, flag: str, item: int) -> bool:
        """Whether ``item`` is ``flag`` (one of ``clean hot cool sliced on toggled``)."""
        return (flag, item) in self.flags

    def contents(self, r: int) -> list[int]:
        """The items in receptacle ``r``, in PDDL-id order."""
        return sorted((i for i, j in self.inside if j == r), key=self.task.item_order.__getitem__)

    # ------------------------------------------------------------------ commands

    def put_command(self, item: int, r: int) -> str:
        """The command that puts ``item`` in/on receptacle ``r`` (its wording depends on the grammar version)."""
        return self._put.format(o=self.task.items[item].name, r=self.task.receptacles[r].name)

    def admissible_commands(self) -> list[str]:
        """Every command whose PDDL precondition holds now, sorted (as TextWorld sorts them)."""
        return sorted(self._admissible())

    def step(self, command: str) -> tuple[str, bool]:
        """Apply ``command``; returns ``(feedback, won)``."""
        action = self._admissible().get(command.strip())
        if action is None:
            return NOTHING_HAPPENS, self.won()
        self._actions = None
        kind, *args = action
        return getattr(self, f"_do_{kind}")(*args), self.won()

    def _receptacles_here(self) -> list[int]:
        return self._at_location.get(self.agent, [])

    def accessible(self, r: int) -> bool:
        """Whether the inside of ``r`` can be reached: not openable, or open."""
        return not self.task.receptacles[r].openable or r in self.opened

    def _admissible(self) -> dict[str, tuple]:
        if self._actions is not None:
            return self._actions
        recs, items = self.task.receptacles, self.task.items
        # Going to a receptacle where the agent already stands is not admissible (lStart != lEnd).
        acts: dict[str, tuple] = {
            f"go to {r.name}": ("goto", j) for j, r in enumerate(recs) if r.location != self.agent
        }
        acts["inventory"] = ("inventory",)
        acts["look"] = ("look",)
        if self.grammar_version == "2.1.2":
            acts["help"] = ("help",)
        held = self.held
        if held >= 0:
            acts[f"examine {items[held].name}"] = ("examine_item", held)
        for r in self._receptacles_here():
            self._receptacle_actions(acts, r, held)
        if held >= 0 and items[held].otype in KNIVES:
            for i, loc in self.item_at:
                if loc == self.agent and items[i].sliceable:
                    acts[f"slice {items[i].name} with {items[held].name}"] = ("slice", i, held)
        self._actions = acts
        return acts

    def _receptacle_actions(self, acts: dict[str, tuple], r: int, held: int) -> None:
        """Add the commands grounded at receptacle ``r`` where the agent stands, in TextWorld's order."""
        rec, items = self.task.receptacles[r], self.task.items
        acts[f"examine {rec.name}"] = ("examine_receptacle", r)
        if rec.openable:
            acts[f"close {rec.name}" if r in self.opened else f"open {rec.name}"] = (
                ("close", r) if r in self.opened else ("open", r)
            )
        accessible = self.accessible(r)
        for i in self.contents(r):
            item = items[i]
            # examineObject's first disjunct (an object in a reachable receptacle) never grounds
            # in TextWorld, so only a held object can be examined.
            if accessible and held < 0 and item.pickupable:
                acts[f"take {item.name} from {rec.name}"] = ("take", i, r)
            if item.toggleable:
                acts[f"use {item.name}"] = ("use", i)
        if held < 0:
            return
        item = items[held]
        if accessible and r in self._fits[held]:
            acts[self.put_command(held, r)] = ("put", held, r)
        if rec.rtype == CLEANER and item.cleanable:
            acts[f"clean {item.name} with {rec.name}"] = ("clean", held, r)
        if rec.rtype == HEATER and item.heatable:
            acts[f"heat {item.name} with {rec.name}"] = ("heat", held, r)
        if rec.rtype == COOLER and item.coolable:
            acts[f"cool {item.name} with {rec.name}"] = ("cool", held, r)

    # ------------------------------------------------------------------ text

    def _listing(self, items: list[int]) -> str:
        return render_list([f"a {self.task.items[i].name}" for i in items])

    def _describe_receptacle(self, r: int) -> str:
        rec = self.task.receptacles[r]
        if rec.openable and r not in self.opened:
            return f"The {rec.name} is closed."
        listing = self._listing(self.contents(r))
        if rec.openable:
            return f"The {rec.name} is open. In it, you see {listing}."
        return f"On the {rec.name}, you see {listing}."

    def _look(self, overview: str) -> str:
        here = self._receptacles_here()
        if not here:
            return f"You are in the middle of a room. Looking quickly around you, you see {overview}."
        facing = render_list([self.task.receptacles[j].name for j in here])
        # TextWorld's "objects on the floor": an item at this location that left one of its receptacles,
        # once per such receptacle.
        order = self.task.item_order
        floor = [
            i
            for i in sorted((i for i, loc in self.item_at if loc == self.agent), key=order.__getitem__)
            for j in here
            if (i, j) in self.left
        ]
        return f"You are facing the {facing}. Next to it, you see {self._listing(floor)}."

    def _describe_item(self, i: int) -> str:
        item = self.task.items[i]
        if item.receptacle_object:
            inner = sorted((a for a, b in self.task.in_object if b == i), key=self.task.item_order.__getitem__)
            return f"This is a normal {item.name}. In it, you see {self._listing(inner)}."
        hot, cool, clean, sliced = (self.has(f, i) for f in ("hot", "cool", "clean", "sliced"))
        if clean and sliced and (hot or cool):
            return f"This is a {'hot' if hot else 'cool'} and clean sliced {item.name}."
        if sliced and (clean or hot or cool):
            return f"This is a {'clean' if clean else 'hot' if hot else 'cool'} sliced {item.name}."
        if clean and (hot or cool):
            return f"This is a {'hot' if hot else 'cool'} and clean {item.name}."
        if hot:
            return f"This is a hot {item.name}."
        if clean:
            return f"This is a clean {item.name}."
        if cool:
            return f"This is a cold {item.name}."
        if item.toggleable and self.has("toggled", i):
            return f"This {item.name} is on."
        if item.sliceable and sliced:
            return f"This is a sliced {item.name}."
        return f"There's nothing special about {item.name}."

    # ------------------------------------------------------------------ effects

    def _do_goto(self, r: int) -> str:
        rec = self.task.receptacles[r]
        self.agent = rec.location
        where = self.task.locations[rec.location] if self.grammar_version == "2.1.1" else rec.name
        return f"You arrive at {where}. {self._describe_receptacle(r)}"

    def _do_inventory(self) -> str:
        if self.held < 0:
            return "You are not carrying anything."
        return f"You are carrying: a {self.task.items[self.held].name}."

    def _do_look(self) -> str:
        return self._look(render_list([]))

    def _do_help(self) -> str:
        return HELP

    def _do_examine_receptacle(self, r: int) -> str:
        return self._describe_receptacle(r)

    def _do_examine_item(self, i: int) -> str:
        return self._describe_item(i)

    def _do_open(self, r: int) -> str:
        self.opened.add(r)
        return f"You open the {self.task.receptacles[r].name}. {self._describe_receptacle(r)}"

    def _do_close(self, r: int) -> str:
        self.opened.discard(r)
        return f"You close the {self.task.receptacles[r].name}."

    def _do_take(self, i: int, r: int) -> str:
        self.inside.discard((i, r))
        self.left.add((i, r))
        self.item_at.discard((i, self.agent))
        self.held = i
        return f"You pick up the {self.task.items[i].name} from the {self.task.receptacles[r].name}."

    def _do_put(self, i: int, r: int) -> str:
        self.inside.add((i, r))
        self.left.discard((i, r))
        self.item_at.add((i, self.agent))
        self.held = -1
        item, rec = self.task.items[i].name, self.task.receptacles[r].name
        if self.grammar_version == "2.1.1":
            return f"You put the {item} in/on the {rec}."
        return f"You move the {item} to the {rec}."

    def _do_clean(self, i: int, r: int) -> str:
        self.flags.add(("clean", i))
        return f"You clean the {self.task.items[i].name} using the {self.task.receptacles[r].name}."

    def _do_heat(self, i: int, r: int) -> str:
        self.flags.add(("hot", i))
        self.flags.discard(("cool", i))
        return f"You heat the {self.task.items[i].name} using the {self.task.receptacles[r].name}."

    def _do_cool(self, i: int, r: int) -> str:
        self.flags.add(("cool", i))
        self.flags.discard(("hot", i))
        return f"You cool the {self.task.items[i].name} using the {self.task.receptacles[r].name}."

    def _do_use(self, i: int) -> str:
        self.flags ^= {("on", i)}
        self.flags.add(("toggled", i))
        # The grammar is rendered after the effect and tests isToggled, which stays true.
        return f"You turn on the {self.task.items[i].name}."

    def _do_slice(self, i: int, knife: int) -> str:
        self.flags.add(("sliced", i))
        return f"You sliced the {self.task.items[i].name} with the {self.task.items[knife].name}."

    # ------------------------------------------------------------------ goal

    def won(self) -> bool:
        """Whether the task's PDDL goal formula holds in the current state."""
        memo: dict[str, frozenset[tuple] | set[tuple]] = {}

        def facts(predicate: str) -> frozenset[tuple] | set[tuple]:
            if predicate not in memo:
                memo[predicate] = self._fact(predicate)
            return memo[predicate]

        return _holds(self.task.goal.formula, {}, facts)

    def _fact(self, predicate: str) -> frozenset[tuple] | set[tuple]:
        """Every true fact of ``predicate`` as tuples of entity symbols (``o3``, ``r1``, ``l5``, ``agent``, types)."""
        if predicate in self._static_facts:
            return self._static_facts[predicate]
        o = self._symbols["o"]
        if predicate == "inreceptacle":
            return {(o[i], self._symbols["r"][j]) for i, j in self.inside}
        if predicate == "atlocation":
            return {("agent", f"l{self.agent}")}
        if predicate == "holds":
            return {("agent", o[self.held])} if self.held >= 0 else set()
        if predicate in STATE_PREDICATES:
            flag = STATE_PREDICATES[predicate]
            return {(o[i],) for f, i in self.flags if f == flag}
        raise ValueError(f"the goal uses the predicate {predicate!r}, which the embedded engine does not track")

    def _static_facts_of(self) -> dict[str, frozenset[tuple]]:
        recs, items = self.task.receptacles, self.task.items
        o, r = self._symbols["o"], self._symbols["r"]
        static: dict[str, frozenset[tuple]] = {
            "objecttype": frozenset((o[i], f"{item.otype}type") for i, item in enumerate(items)),
            "receptacletype": frozenset((r[j], f"{rec.rtype}type") for j, rec in enumerate(recs)),
            "receptacleatlocation": frozenset((r[j], f"l{rec.location}") for j, rec in enumerate(recs)),
        }
        for predicate in AFFORDANCES:
            static[predicate] = frozenset((o[i],) for i, item in enumerate(items) if getattr(item, predicate))
        return static


# PDDL predicates: static affordances (also the Item fields) and the dynamic flags they name.
AFFORDANCES = ("cleanable", "heatable", "coolable", "sliceable", "toggleable", "pickupable")
STATE_PREDICATES = {
    "isclean": "clean",
    "ishot": "hot",
    "iscool": "cool",
    "issliced": "sliced",
    "ison": "on",
    "istoggled": "toggled",
}


def _holds(formula: Any, binding: dict[str, str], facts) -> bool:
    """Whether a PDDL goal formula (``and or not exists = atom``) holds under ``binding``."""
    head = formula[0]
    if head == "and":
        return any(True for _ in _solve(list(formula[1:]), binding, facts))
    if head == "or":
        return any(_holds(f, binding, facts) for f in formula[1:])
    if head == "not":
        return not _holds(formula[1], binding, facts)
    if head == "exists":
        return any(True for _ in _solve([formula[2]], binding, facts))
    if head == "=":
        return _value(formula[1], binding) == _value(formula[2], binding)
    return tuple(_value(a, binding) for a in formula[1:]) in facts(head)


def _value(term: str, binding: dict[str, str]) -> str:
    return binding.get(term, term)


@lru_cache(maxsize=4096)
def _free(formula: Any) -> frozenset[str]:
    if isinstance(formula, str):
        return frozenset([formula] if formula.startswith("?") else [])
    if formula[0] == "exists":
        return _free(formula[2]) - {v for v in formula[1] if v.startswith("?")}
    return frozenset(chain.from_iterable(_free(f) for f in formula[1:]))


def _solve(conjuncts: list, binding: dict[str, str], facts) -> Iterator[dict[str, str]]:
    """Bindings that make every conjunct true: atoms bind variables from the facts, the rest are tested."""
    if not conjuncts:
        yield binding
        return
    # Test what is fully bound first; then open nested and/exists; then bind variables from the facts.
    for k, c in enumerate(conjuncts):
        if _free(c) <= binding.keys():
            if _holds(c, binding, facts):
                yield from _solve(conjuncts[:k] + conjuncts[k + 1 :], binding, facts)
            return
    for k, c in enumerate(conjuncts):
        if c[0] in ("and", "exists"):
            inner = list(c[1:]) if c[0] == "and" else [c[2]]
            yield from _solve(conjuncts[:k] + inner + conjuncts[k + 1 :], binding, facts)
            return
    # Bind the variables of the atom with the fewest facts: cheapest first, and an empty one fails at once.
    atoms = [k for k, c in enumerate(conjuncts) if c[0] not in ("or", "not", "=")]
    if atoms:
        k = min(atoms, key=lambda k: len(facts(conjuncts[k][0])))
        c, rest = conjuncts[k], conjuncts[:k] + conjuncts[k + 1 :]
        for fact in facts(c[0]):
            if len(fact) != len(c) - 1:
                continue
            new = dict(binding)
            pairs = zip(c[1:], fact, strict=True)
            if all(new.setdefault(a, v) == v if a.startswith("?") else a == v for a, v in pairs):
                yield from _solve(rest, new, facts)
        return
    raise ValueError(f"cannot evaluate the goal conjuncts {conjuncts}: variables bound by no atom")
