"""Seeded procedural ALFWorld tasks: ALFRED-style rooms, objects with ALFWorld's affordances, six task types.

Splits mirror ALFWorld's sizes and per-type counts: ``train`` 3,553 tasks, ``valid_seen`` 140
(rooms of the train floor plans, new placements), ``valid_unseen`` 134 (floor plans that no
train task uses, so their scene/receptacle combinations are never seen in training). Task ``i``
of a split is a pure function of ``(split, i)``: every process builds the same task.
"""

from __future__ import annotations

import hashlib
import random
from functools import cache, lru_cache

from .world import TASK_TYPES, Goal, Item, Receptacle, Task

__all__ = ["SPLIT_SIZES", "generate_task", "goal_formula", "n_tasks", "split_task_types"]

# ALFWorld's per-type counts: train (3,553, from the ALFWorld paper) and the two evaluation splits.
_TYPE_COUNTS = {
    "train": (790, 308, 650, 459, 533, 813),
    "valid_seen": (35, 13, 27, 16, 25, 24),
    "valid_unseen": (24, 18, 31, 23, 21, 17),
}
SPLIT_SIZES = {split: sum(c) for split, c in _TYPE_COUNTS.items()}

# --------------------------------------------------------------------------- object affordances

_FOOD = {"apple", "bread", "egg", "lettuce", "potato", "tomato"}
_WARE = {"bowl", "cup", "kettle", "mug", "pan", "plate", "pot"}
_UTENSILS = {"butterknife", "fork", "knife", "ladle", "spatula", "spoon"}
_CONDIMENTS = {"dishsponge", "peppershaker", "saltshaker", "soapbottle", "winebottle"}
_DESK = {
    "alarmclock",
    "book",
    "box",
    "cd",
    "cellphone",
    "creditcard",
    "keychain",
    "laptop",
    "newspaper",
    "pen",
    "pencil",
    "remotecontrol",
    "statue",
    "vase",
    "watch",
}
_SOFT = {"cloth", "pillow", "teddybear"}
_SPORTS = {"baseballbat", "basketball", "tennisracket"}
_BATH = {
    "candle",
    "cloth",
    "dishsponge",
    "handtowel",
    "plunger",
    "scrubbrush",
    "soapbar",
    "soapbottle",
    "spraybottle",
    "tissuebox",
    "toiletpaper",
    "towel",
}

_CLEANABLE = _FOOD - {"bread"} | _WARE | _UTENSILS | {"cloth", "dishsponge", "soapbar"}
_HEATABLE = {"apple", "bread", "cup", "egg", "mug", "plate", "potato", "tomato"}
_COOLABLE = _FOOD | _WARE - {"kettle"} | {"winebottle"}
_SLICEABLE = {"apple", "bread", "egg", "lettuce", "potato", "tomato"}
_RECEPTACLE_OBJECTS = {"bowl", "cup", "mug", "pan", "plate", "pot"}
_LOOKABLE = _DESK | {"bowl", "mug", "pillow", "cloth"}
LIGHT = "desklamp"

# --------------------------------------------------------------------------- rooms
# receptacle type -> (min count, max count, openable, object types it can contain)
_SURFACE_DESK = _DESK | {"bowl", "mug", "cloth"}
_ROOMS: dict[str, dict[str, tuple[int, int, bool, set[str]]]] = {
    "kitchen": {
        "cabinet": (3, 10, True, _WARE | _CONDIMENTS | _UTENSILS - {"knife"}),
        "coffeemachine": (1, 1, False, {"cup", "mug"}),
        "countertop": (1, 3, False, _FOOD | _WARE | _UTENSILS | _CONDIMENTS),
        "diningtable": (0, 2, False, _FOOD | _WARE | _UTENSILS | _CONDIMENTS),
        "drawer": (1, 6, True, _UTENSILS | _CONDIMENTS - {"winebottle"}),
        "fridge": (1, 1, True, _FOOD | _WARE - {"kettle"} | {"winebottle"}),
        "garbagecan": (1, 1, False, _FOOD | {"dishsponge", "soapbottle", "winebottle"}),
        "microwave": (1, 1, True, _FOOD | {"bowl", "cup", "mug", "plate"}),
        "shelf": (0, 3, False, _WARE - {"pan", "pot"} | _CONDIMENTS),
        "sinkbasin": (1, 1, False, _FOOD | _WARE | _UTENSILS | {"dishsponge"}),
        "stoveburner": (2, 4, False, {"kettle", "pan", "pot"}),
        "toaster": (1, 1, False, set()),
    },
    "livingroom": {
        "armchair": (
            0,
            2,
            False,
            _SOFT | {"book", "box", "cellphone", "creditcard", "keychain", "laptop", "newspaper", "remotecontrol"},
        ),
        "cabinet": (0, 4, True, _DESK - {"laptop"}),
        "coffeetable": (1, 2, False, _SURFACE_DESK),
        "diningtable": (0, 1, False, _SURFACE_DESK),
        "drawer": (1, 5, True, _DESK - {"laptop", "vase", "statue", "box"}),
        "dresser": (0, 1, False, _SURFACE_DESK),
        "garbagecan": (1, 1, False, {"cd", "creditcard", "newspaper", "pen", "pencil"}),
        "shelf": (1, 6, False, _SURFACE_DESK),
        "sidetable": (1, 3, False, _SURFACE_DESK),
        "sofa": (
            1,
            1,
            False,
            _SOFT | {"book", "box", "cellphone", "creditcard", "keychain", "laptop", "newspaper", "remotecontrol"},
        ),
        "tvstand": (0, 1, False, _DESK - {"laptop"}),
    },
    "bedroom": {
        "armchair": (0, 1, False, _SOFT | {"book", "cellphone", "laptop"}),
        "bed": (
            1,
            1,
            False,
            _SOFT | _SPORTS | {"book", "cellphone", "creditcard", "keychain", "laptop", "newspaper", "remotecontrol"},
        ),
        "desk": (1, 2, False, _SURFACE_DESK | _SPORTS),
        "drawer": (2, 6, True, _DESK - {"laptop", "vase", "statue", "box"} | {"cloth"}),
        "dresser": (0, 1, False, _SURFACE_DESK),
        "garbagecan": (1, 1, False, {"cd", "creditcard", "pen", "pencil", "cloth"}),
        "laundryhamper": (0, 1, False, {"cloth"}),
        "safe": (0, 1, True, {"cd", "cellphone", "creditcard", "keychain", "watch"}),
        "shelf": (1, 6, False, _SURFACE_DESK),
        "sidetable": (1, 2, False, _SURFACE_DESK),
    },
    "bathroom": {
        "bathtubbasin": (0, 1, False, {"cloth", "soapbar", "soapbottle", "dishsponge"}),
        "cabinet": (1, 4, True, _BATH - {"handtowel", "towel"}),
        "countertop": (1, 1, False, _BATH - {"handtowel", "towel"}),
        "drawer": (0, 4, True, _BATH - {"handtowel", "towel", "plunger", "scrubbrush"}),
        "garbagecan": (1, 1, False, {"cloth", "soapbar", "soapbottle", "spraybottle", "toiletpaper", "tissuebox"}),
        "handtowelholder": (1, 1, False, {"handtowel"}),
        "shelf": (0, 3, False, _BATH - {"handtowel", "towel", "plunger", "scrubbrush"}),
        "sinkbasin": (1, 2, False, {"cloth", "dishsponge", "soapbar"}),
        "toilet": (
            1,
            1,
            False,
            {"candle", "cloth", "soapbar", "soapbottle", "spraybottle", "tissuebox", "toiletpaper"},
        ),
        "toiletpaperhanger": (1, 1, False, {"toiletpaper"}),
        "towelholder": (1, 1, False, {"towel"}),
    },
}
_LAMP_HOLDERS = ("desk", "sidetable", "dresser")
_FLOORPLANS = 30  # per room type; the last _UNSEEN of each are held out for valid_unseen
_UNSEEN = 5

# Which rooms can host a task type (heat/cool need the kitchen appliances, look needs a lamp).
_TASK_ROOMS = {
    "pick_and_place_simple": ("kitchen", "livingroom", "bedroom", "bathroom"),
    "look_at_obj_in_light": ("livingroom", "bedroom"),
    "pick_clean_then_place_in_recep": ("kitchen", "bathroom"),
    "pick_heat_then_place_in_recep": ("kitchen",),
    "pick_cool_then_place_in_recep": ("kitchen",),
    "pick_two_obj_and_place": ("kitchen", "livingroom", "bedroom", "bathroom"),
}
_TREATMENT = {
    "pick_clean_then_place_in_recep": (_CLEANABLE, "sinkbasin"),
    "pick_heat_then_place_in_recep": (_HEATABLE, "microwave"),
    "pick_cool_then_place_in_recep": (_COOLABLE, "fridge"),
}
# ALFWorld's two phrasings per task type, as found in its game files.
_PHRASES = {
    "pick_and_place_simple": ("put a {o} in {r}.", "put some {o} on {r}."),
    "look_at_obj_in_light": ("look at {o} under the {r}.", "examine the {o} with the {r}."),
    "pick_clean_then_place_in_recep": ("put a clean {o} in {r}.", "clean some {o} and put it in {r}."),
    "pick_heat_then_place_in_recep": ("put a hot {o} in {r}.", "heat some {o} and put it in {r}."),
    "pick_cool_then_place_in_recep": ("put a cool {o} in {r}.", "cool some {o} and put it in {r}."),
    "pick_two_obj_and_place": ("put two {o} in {r}.", "find two {o} and put them in {r}."),
}


def _seed(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(repr(parts).encode(), digest_size=8).digest(), "little")


def n_tasks(split: str) -> int:
    """Number of tasks in ``split``."""
    if split not in SPLIT_SIZES:
        raise ValueError(f"split must be one of {tuple(SPLIT_SIZES)}, got {split!r}")
    return SPLIT_SIZES[split]


@cache
def split_task_types(split: str) -> tuple[str, ...]:
    """Task type of every task of ``split`` (a fixed shuffle with ALFWorld's per-type counts)."""
    n_tasks(split)
    types = [t for t, c in zip(TASK_TYPES, _TYPE_COUNTS[split], strict=True) for _ in range(c)]
    random.Random(_seed("types", split)).shuffle(types)
    return tuple(types)


def _item(otype: str, number: int) -> Item:
    return Item(
        name=f"{otype} {number}",
        otype=otype,
        pickupable=otype != LIGHT,
        cleanable=otype in _CLEANABLE,
        heatable=otype in _HEATABLE,
        coolable=otype in _COOLABLE,
        sliceable=otype in _SLICEABLE,
        toggleable=otype == LIGHT,
        receptacle_object=otype in _RECEPTACLE_OBJECTS,
    )


def _floorplan(room: str, plan: int) -> list[Receptacle]:
    """The fixed receptacles of one floor plan (counts drawn once per plan; locations set per task)."""
    rng = random.Random(_seed("plan", room, plan))
    recs = []
    for rtype, (lo, hi, openable, _) in _ROOMS[room].items():
        recs += [Receptacle(f"{rtype} {k}", rtype, 0, openable) for k in range(1, rng.randint(lo, hi) + 1)]
    if room in _TASK_ROOMS["look_at_obj_in_light"] and not any(r.rtype in _LAMP_HOLDERS for r in recs):
        recs.append(Receptacle("sidetable 1", "sidetable", 0))
    return recs


@lru_cache(maxsize=4096)
def generate_task(split: str, index: int, max_receptacles: int | None = None) -> Task:
    """Task ``index`` of ``split``, the same in every process.

    ``max_receptacles`` (at least 3) makes a small room: the floor plan keeps the receptacles the task needs (one
    of the target type, the cleaning/heating/cooling device, a lamp holder, a home for the goal object) and
    others drawn at random up to that number, renumbered per type, and holds at most that many distractor object
    types. The task type, room, floor plan and goal formula are those of the full-size task ``index``.
    """
    size = n_tasks(split)
    if not 0 <= index < size:
        raise ValueError(f"task index must lie in [0, {size}) for split {split!r}, got {index}")
    if max_receptacles is not None and max_receptacles < 3:
        raise ValueError(
            f"max_receptacles must be >= 3 (target, device and the goal object's home), got {max_receptacles}"
        )
    task_type = split_task_types(split)[index]
    rng = random.Random(_seed("task", split, index))
    room = rng.choice(_TASK_ROOMS[task_type])
    plans = range(_FLOORPLANS - _UNSEEN, _FLOORPLANS) if split == "valid_unseen" else range(_FLOORPLANS - _UNSEEN)
    plan = rng.choice(plans)
    recs = _floorplan(room, plan)
    rtypes = sorted({r.rtype for r in recs})
    accepts = {rt: _ROOMS[room][rt][3] for rt in rtypes}
    can_contain = frozenset((rt, ot) for rt in rtypes for ot in accepts[rt])

    # The goal: an object type and a target receptacle type present in this room.
    if task_type == "look_at_obj_in_light":
        candidates = [(o, LIGHT) for o in sorted(_LOOKABLE) if any(o in accepts[rt] for rt in rtypes)]
    else:
        allowed, device = _TREATMENT.get(task_type, (None, None))
        candidates = [
            (o, rt)
            for rt in rtypes
            for o in sorted(accepts[rt])
            if rt != device
            and (allowed is None or o in allowed)
            # the object must also fit somewhere that is not a target receptacle
            and any(o in accepts[other] for other in rtypes if other != rt)
        ]
        if device is not None:
            candidates = [c for c in candidates if device in rtypes]
    otype, target = rng.choice(candidates)
    if max_receptacles is not None:
        recs = _small_room(recs, task_type, otype, target, accepts, max_receptacles, rng)
        rtypes = sorted({r.rtype for r in recs})
        can_contain = frozenset((rt, ot) for rt in rtypes for ot in accepts[rt])

    # Object placement: the goal object(s) away from any target receptacle, then distractors.
    by_type: dict[str, list[int]] = {}
    for j, r in enumerate(recs):
        by_type.setdefault(r.rtype, []).append(j)
    homes: list[tuple[str, int]] = []

    def place(ot: str, count: int, forbid: str | None) -> None:
        spots = [j for j, r in enumerate(recs) if ot in accepts[r.rtype] and r.rtype != forbid]
        homes.extend((ot, rng.choice(spots)) for _ in range(count))

    n_goal = 2 if task_type == "pick_two_obj_and_place" else 1
    place(otype, n_goal + rng.randint(0, 1), target)
    if task_type == "look_at_obj_in_light":
        holders = [j for j, r in enumerate(recs) if r.rtype in _LAMP_HOLDERS]
        homes.append((LIGHT, rng.choice(holders)))
    room_objects = sorted({o for rt in rtypes for o in accepts[rt]} - {otype})
    n_distractors = rng.randint(6, 12) if max_receptacles is None else rng.randint(1, max_receptacles)
    for ot in rng.sample(room_objects, min(len(room_objects), n_distractors)):
        place(ot, rng.randint(1, 2), None)

    # Number instances per type in placement order, as ALFWorld names them ("mug 1", "mug 2").
    counters: dict[str, int] = {}
    items, where = [], []
    for ot, j in homes:
        counters[ot] = counters.get(ot, 0) + 1
        items.append(_item(ot, counters[ot]))
        where.append(j)

    # Every receptacle stands at its own location; the agent starts at one more, with no receptacle.
    numbers = list(range(1, len(recs) + 2))
    rng.shuffle(numbers)
    text = rng.choice(_PHRASES[task_type]).format(o=otype, r=target)
    return Task(
        task_id=f"{split}/{index}" if max_receptacles is None else f"{split}/{index}/max_receptacles={max_receptacles}",
        scene=f"{room}-{plan + 1}",
        locations=tuple(f"loc {n}" for n in numbers),
        receptacles=tuple(Receptacle(r.name, r.rtype, k + 1, r.openable) for k, r in enumerate(recs)),
        items=tuple(items),
        can_contain=can_contain,
        in_receptacle=frozenset(enumerate(where)),
        item_location=tuple(j + 1 for j in where),
        agent_location=0,
        goal=Goal(task_type, otype, target, text, goal_formula(task_type, otype, target)),
        receptacle_order=_ranks([_id_key(r.name) for r in recs]),
        item_order=_ranks([_id_key(o.name) for o in items]),
    )


def _small_room(
    recs: list[Receptacle],
    task_type: str,
    otype: str,
    target: str,
    accepts: dict[str, set[str]],
    size: int,
    rng: random.Random,
) -> list[Receptacle]:
    """At most ``size`` of ``recs``: first those the task needs, then random others; numbered 1.. per type."""
    device = _TREATMENT.get(task_type, (None, None))[1]
    needs = [lambda r: otype in accepts[r.rtype] and r.rtype != target]  # a home for the goal object
    if task_type == "look_at_obj_in_light":
        needs.append(lambda r: r.rtype in _LAMP_HOLDERS)
    else:
        needs.append(lambda r: r.rtype == target)
    if device is not None:
        needs.append(lambda r: r.rtype == device)
    kept: list[int] = []
    for need in needs:
        fits = [j for j, r in enumerate(recs) if need(r)]
        if fits and not any(need(recs[j]) for j in kept):
            kept.append(rng.choice(fits))
    others = [j for j in range(len(recs)) if j not in kept]
    kept += rng.sample(others, max(0, min(len(others), size - len(kept))))
    counters: dict[str, int] = {}
    small = []
    for j in sorted(kept):
        counters[recs[j].rtype] = counters.get(recs[j].rtype, 0) + 1
        small.append(Receptacle(f"{recs[j].rtype} {counters[recs[j].rtype]}", recs[j].rtype, 0, recs[j].openable))
    return small


def _id_key(name: str) -> tuple[str, int]:
    """Sort key of the ALFRED id of ``name``: ``sinkbasin 2`` is ``Sink|...|SinkBasin``; numbers run backwards."""
    base, number = name.rsplit(" ", 1)
    return base.removesuffix("basin") + "_", -int(number)


def _ranks(keys: list) -> tuple[int, ...]:
    order = sorted(range(len(keys)), key=keys.__getitem__)
    ranks = [0] * len(keys)
    for rank, k in enumerate(order):
        ranks[k] = rank
    return tuple(ranks)


def goal_formula(task_type: str, otype: str, rtype: str) -> tuple:
    """The PDDL goal of a task, in the shape ALFWorld's game files use (lower-case symbols)."""
    if task_type == "look_at_obj_in_light":
        lamp = (
            "and",
            ("objecttype", "?ot", f"{rtype}type"),
            ("toggleable", "?ot"),
            ("istoggled", "?ot"),
            ("receptacleatlocation", "?r", "?l"),
            ("atlocation", "?a", "?l"),
            ("inreceptacle", "?ot", "?r"),
        )
        held = ("and", ("objecttype", "?o", f"{otype}type"), ("holds", "?a", "?o"))
        return (
            "and",
            (
                "exists",
                ("?ot", "-", "object", "?r", "-", "receptacle", "?a", "-", "agent", "?l", "-", "location"),
                lamp,
            ),
            ("exists", ("?o", "-", "object", "?a", "-", "agent"), held),
        )
    placed: tuple[tuple, ...] = (
        ("objecttype", "?o", f"{otype}type"),
        ("receptacletype", "?r", f"{rtype}type"),
        ("inreceptacle", "?o", "?r"),
    )
    body: tuple
    if task_type == "pick_two_obj_and_place":
        second = (
            "exists",
            ("?o2", "-", "object"),
            ("and", ("not", ("=", "?o", "?o2")), ("objecttype", "?o2", f"{otype}type"), ("inreceptacle", "?o2", "?r")),
        )
        body = ("and", *placed, second)
    else:
        treated = {
            "pick_clean_then_place_in_recep": "isclean",
            "pick_heat_then_place_in_recep": "ishot",
            "pick_cool_then_place_in_recep": "iscool",
        }.get(task_type)
        body = ("and", *placed, *([(treated, "?o")] if treated else []))
    return ("and", ("exists", ("?r", "-", "receptacle"), ("exists", ("?o", "-", "object"), body)))
