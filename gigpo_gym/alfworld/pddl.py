"""Load the real ALFWorld games (``game.tw-pddl`` files) into the embedded world model.

A ``game.tw-pddl`` file is JSON with the PDDL domain, the PDDL problem (objects, initial facts,
goal), TextWorld's grammar (with the task sentence) and a ``solvable`` flag. This module parses
the subset of PDDL these files use (S-expressions, typed object lists, atoms, and goals built
from ``and or not exists =``) and turns a problem into a :class:`~gigpo_gym.alfworld.world.Task`,
naming entities as ALFWorld does: the mangled ALFRED id ``Cabinet_bar__plus_00_dot_20...`` is
``cabinet N``, where the instances of a name are numbered in *descending* order of their sorted
(lower-case) ids, an id holding ``basin`` gets ``basin`` appended to its name (``sinkbasin``),
and locations are named ``loc N`` the same way. Only entities that occur in the initial facts are
named (TextWorld knows no other). No TextWorld or Fast Downward is needed.

:func:`find_games` selects the games of a split exactly as ALFWorld's loader does.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from functools import lru_cache
from pathlib import Path

from .world import AFFORDANCES, STATE_PREDICATES, TASK_TYPES, Goal, Item, Receptacle, Task

__all__ = ["SPLITS", "find_games", "load_game", "parse_sexp"]

SPLITS = ("train", "valid_seen", "valid_unseen")  # folders of json_2.1.1/
_TOKEN = re.compile(r"\(|\)|[^\s()]+")
_TASK_RULE = re.compile(r'"task":\s*\[\s*\{\s*"rhs":\s*"Your task is to: (.*?)"')


def parse_sexp(text: str) -> list:
    """Parse one PDDL S-expression (comments dropped, symbols lower-cased) into nested lists."""
    stack: list[list] = [[]]
    for token in _TOKEN.findall(re.sub(r";[^\n]*", "", text)):
        if token == "(":
            stack.append([])
        elif token == ")":
            if len(stack) == 1:
                raise ValueError("unbalanced ')' in PDDL text")
            done = stack.pop()
            stack[-1].append(done)
        else:
            stack[-1].append(token.lower())
    if len(stack) != 1 or len(stack[0]) != 1:
        raise ValueError("PDDL text is not one balanced S-expression")
    return stack[0][0]


def _as_tuple(node):
    return tuple(_as_tuple(n) for n in node) if isinstance(node, list) else node


def find_games(data_path: str | os.PathLike[str], split: str) -> list[Path]:
    """The ``game.tw-pddl`` files of ``split`` that ALFWorld's loader plays, sorted.

    As ALFWorld: the six task types, no ``movable`` or ``Sliced`` task folders, ``solvable`` only.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    root = Path(data_path) / "json_2.1.1" / split
    if not root.is_dir():
        raise FileNotFoundError(
            f"no ALFWorld games at {root}: set data_path (or ALFWORLD_DATA) to a folder holding "
            "json_2.1.1/<split>/ (run `alfworld-download`, or use ../shared/alfworld)"
        )
    games = []
    for path in sorted(root.glob("*/*/game.tw-pddl")):
        task_folder = path.parent.parent.name
        if "movable" in task_folder or "Sliced" in task_folder or task_folder.split("-")[0] not in TASK_TYPES:
            continue
        if json.loads(path.read_text()).get("solvable", False):
            games.append(path)
    return games


def _demangled_names(ids: list[str]) -> dict[str, str]:
    """ALFWorld's names for mangled ids: ``name N``, numbered in descending sorted-id order."""

    def base(entity: str) -> str:
        name = entity.split("_bar_", 1)[0]
        return name + "basin" if "basin" in entity else name

    mangled = sorted(e for e in ids if "_bar_" in e)
    remaining = Counter(base(e) for e in mangled)
    names = {}
    for entity in mangled:
        names[entity] = f"{base(entity)} {remaining[base(entity)]}"
        remaining[base(entity)] -= 1
    return names


@lru_cache(maxsize=512)
def load_game(path: str | os.PathLike[str]) -> Task:
    """The :class:`Task` of one ``game.tw-pddl`` file (its task type, object and target from its folder name).

    Its ``task_id`` is the file's path.
    """
    path = Path(path)
    data = json.loads(path.read_text())
    problem = parse_sexp(data["pddl_problem"])
    sections = {part[0]: part[1:] for part in problem[2:] if isinstance(part, list)}
    init = [atom for atom in sections[":init"] if atom[0] != "="]
    by_predicate: dict[str, list[tuple[str, ...]]] = {}
    for atom in init:
        by_predicate.setdefault(atom[0], []).append(tuple(atom[1:]))

    def facts(predicate: str) -> list[tuple[str, ...]]:
        return by_predicate.get(predicate, [])

    entities = sorted({arg for atom in init for arg in atom[1:]})
    names = _demangled_names(entities)
    rank = {e: k for k, e in enumerate(entities)}

    location_ids = sorted(
        {loc for _, loc in facts("receptacleatlocation")}
        | {loc for _, loc in facts("objectatlocation")}
        | {loc for _, loc in facts("atlocation")}
    )
    location_index = {loc: k for k, loc in enumerate(location_ids)}
    where_receptacle = {r: loc for r, loc in facts("receptacleatlocation")}
    openable = {r for (r,) in facts("openable")}
    receptacle_ids = [r for r, _ in facts("receptacletype")]
    receptacles = tuple(
        Receptacle(names[r], rtype.removesuffix("type"), location_index[where_receptacle[r]], r in openable)
        for r, rtype in facts("receptacletype")
    )
    receptacle_index = {r: j for j, r in enumerate(receptacle_ids)}

    flags = {p: {o for (o,) in facts(p)} for p in (*AFFORDANCES, "isreceptacleobject")}
    item_ids = [o for o, _ in facts("objecttype")]
    items = tuple(
        Item(
            names[o],
            otype.removesuffix("type"),
            receptacle_object=o in flags["isreceptacleobject"],
            **{p: o in flags[p] for p in AFFORDANCES},
        )
        for o, otype in facts("objecttype")
    )
    item_index = {o: i for i, o in enumerate(item_ids)}
    item_location = [-1] * len(items)
    for o, loc in facts("objectatlocation"):
        item_location[item_index[o]] = location_index[loc]
    initial_flags = frozenset(
        (flag, item_index[o]) for predicate, flag in STATE_PREDICATES.items() for (o,) in facts(predicate)
    )
    (agent_location,) = [location_index[loc] for _, loc in facts("atlocation")]

    task_folder = path.parent.parent.name
    task_type, otype, _, rtype, scene = task_folder.split("-")
    match = _TASK_RULE.search(data["grammar"])
    if match is None:
        raise ValueError(f"{path}: the grammar holds no 'task' rule with the task sentence")
    goal = Goal(task_type, otype.lower(), rtype.lower(), match.group(1), _as_tuple(sections[":goal"][0]))
    return Task(
        task_id=str(path),
        scene=scene,
        locations=tuple(names[loc] for loc in location_ids),
        receptacles=receptacles,
        items=items,
        can_contain=frozenset((rt.removesuffix("type"), ot.removesuffix("type")) for rt, ot in facts("cancontain")),
        in_receptacle=frozenset((item_index[o], receptacle_index[r]) for o, r in facts("inreceptacle")),
        item_location=tuple(item_location),
        agent_location=agent_location,
        goal=goal,
        in_object=frozenset((item_index[a], item_index[b]) for a, b in facts("inreceptacleobject")),
        initial_flags=initial_flags,
        receptacle_order=tuple(rank[r] for r in receptacle_ids),
        item_order=tuple(rank[o] for o in item_ids),
    )
