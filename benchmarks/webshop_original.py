"""Record transcripts of princeton-nlp/WebShop's own text env (``WebAgentTextEnv``, text mode) for fidelity tests.

This script runs in a separate Python environment where the original WebShop runs (its ``web_agent_site`` package,
pyserini with a Lucene index of the products, spaCy with an English model; ``../shared/webshop/ORIGINAL_ENV.md``
says how it was set up on this kind of machine), never in the project's own: it imports nothing from gigpo-gym.
Run it from the WebShop checkout, whose ``data/`` holds the products (``items_shuffle_1000.json``, here the 8 real
products of ``items_shuffle.MINI8_trimmed.json``), the real ``items_ins_v2_1000.json`` and, for human goals,
``benchmarks/webshop_fixture/items_human_ins.json`` (goals written for this project) as ``items_human_ins.json``::

    cd WebShop && python /path/to/gigpo-gym/benchmarks/webshop_original.py --full /tmp/webshop_full.jsonl \\
        --fixture /path/to/gigpo-gym/tests/fixtures/webshop_transcripts.jsonl.gz

Each episode below (written for this project: straight purchases, near-miss and partial purchases, navigation,
query variants, invalid actions, actions after the purchase) is played from ``reset(session=i)`` of an env built
right after ``random.seed(seed)``, as the original's own scripts do. Every step records the observation, the
clickables and search-bar flag, the reward, ``done``, the purchase's ``reward_info`` and, for a search, the ranked
hits with their Lucene scores. ``--full`` keeps the texts (they quote the research-only WebShop data: never commit
that file); ``--fixture`` writes the same transcripts with every text replaced by a digest, which is what
``tests/test_webshop_original.py`` replays through the embedded engine.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import random
import sys

DRESS, EYE, TABLE, PUMPS, RAZOR, SHAMPOO, TABLE2, LOOFAH = (
    "b08zrr3dzt",
    "b08t9kjjpz",
    "b06y3vldfb",
    "b08r3xsc65",
    "b087tr48kk",
    "b07b6dvg41",
    "b09dg92ljl",
    "b08skt2tch",
)
QUERY_VARIANTS = [
    "search[women's dress]",
    "search[i'm]",
    "search[fl.oz]",
    "search[13.5]",
    "search[13.5 fl oz]",
    "search[x-large]",
    "search[100%]",
    "search[shampoo,conditioner]",
    "search[razors trimmers]",
    "search[moisturize]",
    "search[elegance grooms reclaiming]",
    "search[table dress shampoo loofah cream razor pumps]",
    "search[cream]",
    "search[white]",
    "search[the and of]",
    "search[  dress   shoes ]",
    "search[dress\tshoes]",
    "search[ ]",
    "search[B08ZRR3DZT]",
    "search[dress dress dress]",
    "search[hair hair removal]",
    "search[eye's]",
    "search[color: black]",
    "search[size]",
    "search[20ml 0.68]",
    "search[sofa & console]",
    'search[60" long]',
    # exact score ties between products whose asin order and file order disagree: Anserini sorts ties by asin
    "search[hsjwosa minkissy]",
    "search[hsjwosa jylrx]",
]
INVALID = [
    "click[search]",
    "search[]",
    "click[]",
    "buy now",
    "search[dress",
    "hello",
    "click[nonexistent]",
    "Search[dress]",
    " search[dress]",
    "click[back to search]",
    "click[buy now]",
    "click[next >]",
]


def _buy(query: str, asin: str, *options: str) -> list[str]:
    return [f"search[{query}]", f"click[{asin}]", *(f"click[{o}]" for o in options), "click[buy now]"]


# (goal mode, seed, session, actions)
EPISODES: list[tuple[str, int, int, list[str]]] = [
    ("human", 0, 0, _buy("one shoulder club dress light blue", DRESS, "x-large", "light blue")),
    ("human", 0, 0, _buy("one shoulder club dress", DRESS, "large", "light blue")),
    (
        "human",
        0,
        0,
        ["search[Club Dress]", "click[B08ZRR3DZT]", "click[X-Large]", "click[Light Blue]", "click[Buy Now]"],
    ),
    (
        "human",
        0,
        1,
        [
            "search[eye cream dark circles]",
            "search[dark circles]",
            f"click[{EYE}]",
            "click[description]",
            "click[< prev]",
            "click[features]",
            "click[< prev]",
            "click[reviews]",
            "click[back to search]",
            "search[dark circle corrector]",
            f"click[{EYE}]",
            "click[buy now]",
        ],
    ),
    (
        "human",
        0,
        2,
        [
            "search[solid wood console table]",
            "click[next >]",
            "click[next >]",
            "click[< prev]",
            "click[< prev]",
            "click[< prev]",
            f"click[{TABLE}]",
            "click[buy now]",
        ],
    ),
    (
        "human",
        0,
        3,
        [
            "search[plaid leather pumps]",
            f"click[{PUMPS}]",
            "click[features]",
            "click[buy now]",
            "click[< prev]",
            "click[description]",
            "click[< prev]",
            "click[buy now]",
        ],
    ),
    ("human", 0, 4, _buy("loofah", LOOFAH, "white")),
    ("human", 0, 4, _buy("eyebrow razors trimmer stainless steel", RAZOR)),
    ("human", 0, 5, _buy("khaki dress", DRESS, "khaki", "large")),
    ("human", 0, 6, _buy("black bodycon mini dress", DRESS, "plain black", "x-small")),
    ("human", 0, 6, _buy("black bodycon mini dress", DRESS, "small", "red")),
    ("human", 0, 7, _buy("13.5 fl oz shampoo", SHAMPOO)),
    (
        "human",
        0,
        8,
        [
            "search[chocolate brown sleeveless dress]",
            f"click[{DRESS}]",
            "click[small]",
            "click[x-small]",
            "click[description]",
            "click[< prev]",
            "click[chocolate brown]",
            "click[buy now]",
        ],
    ),
    (
        "human",
        0,
        8,
        [
            "search[dress]",
            f"click[{DRESS}]",
            "click[x-small]",
            "click[< prev]",
            f"click[{DRESS}]",
            "click[chocolate brown]",
            "click[buy now]",
        ],
    ),
    ("human", 0, 9, _buy("rustic console table metal legs", TABLE2)),
    (
        "human",
        0,
        10,
        [
            *_buy("natural loofah sponge", LOOFAH, "white"),
            "click[back to search]",
            "search[loofah]",
            f"click[{LOOFAH}]",
            "click[buy now]",
        ],
    ),
    ("human", 0, 11, _buy("loofah bath towel", LOOFAH, "flower bath towel")),
    (
        "human",
        0,
        11,
        [
            "search[loofah]",
            f"click[{LOOFAH}]",
            "search[bath towel]",
            f"click[{LOOFAH}]",
            "click[features]",
            "search[sponge]",
            "click[back to search]",
            "search[sponge kitchen]",
            f"click[{LOOFAH}]",
            "click[bath towel]",
            "click[buy now]",
        ],
    ),
    ("human", 0, 5, QUERY_VARIANTS),
    ("human", 0, 6, INVALID + ["search[dress]", "click[b08zrr3dzt]", *INVALID, "click[features]", *INVALID]),
    (
        "human",
        0,
        9,
        [
            "search[console table]",
            "click[next >]",
            "click[next >]",
            "click[back to search]",
            "search[table]",
            f"click[{TABLE}]",
            "click[< prev]",
            f"click[{TABLE2}]",
            "click[reviews]",
            "click[< prev]",
            "click[< prev]",
            "click[next >]",
            "click[< prev]",
            f"click[{TABLE2}]",
            "click[buy now]",
        ],
    ),
    ("human", 3, 0, _buy("dress", DRESS, "x-large", "light blue")),
    ("human", 3, 4, _buy("stainless steel razor", RAZOR)),
    ("synthetic", 0, 0, _buy("women's dresses polyester spandex", DRESS, "khaki", "x-large")),
    ("synthetic", 0, 1, _buy("women's dresses", DRESS, "pink", "large")),
    ("synthetic", 0, 5, _buy("women's dresses", DRESS, "pink", "small")),
    ("synthetic", 0, 6, _buy("women's dresses", DRESS, "white", "x-small")),
    ("synthetic", 0, 3, _buy("women's dresses", DRESS, "black", "large")),
    ("synthetic", 0, 13, _buy("women's dresses", DRESS, "plain black", "medium")),
    ("synthetic", 0, 8, _buy("women's dresses", DRESS, "chocolate brown", "medium")),
    ("synthetic", 0, 2, _buy("non slip shave & hair removal stainless steel", RAZOR)),
    ("synthetic", 0, 28, _buy("sulfate free paraben free shampoo & conditioner", SHAMPOO)),
    ("synthetic", 0, 11, _buy("women's dresses", DRESS)),
    ("synthetic", 0, 40, _buy("women's dresses", DRESS, "red", "x-large")),
    ("synthetic", 0, 40, _buy("women's dresses", EYE)),
    ("synthetic", 0, 17, _buy("dress", DRESS, "light blue", "large", "black", "x-large", "light blue")),
]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _goal_record(goal: dict) -> dict:
    options = goal["goal_options"]
    return {
        "asin": goal["asin"],
        "instruction_text": goal["instruction_text"],
        "attributes": list(goal["attributes"]),
        "goal_options": [list(o) for o in options.items()] if isinstance(options, dict) else list(options),
        "price_upper": goal["price_upper"],
        "weight": goal["weight"],
    }


def _page(env) -> dict:
    available = env.get_available_actions()
    return {
        "obs": env.observation,
        "has_search_bar": available["has_search_bar"],
        "clickables": available["clickables"],
    }


def record(episodes) -> list[dict]:
    from web_agent_site.engine.engine import parse_action
    from web_agent_site.envs.web_agent_text_env import WebAgentTextEnv

    envs: dict[tuple[str, int], object] = {}
    out = []
    for mode, seed, session, actions in episodes:
        if (mode, seed) not in envs:
            random.seed(seed)  # the constructor draws range prices and price bounds from the global generator
            envs[mode, seed] = WebAgentTextEnv(observation_mode="text", human_goals=int(mode == "human"))
        env = envs[mode, seed]
        env.reset(session=session)
        server = env.server
        episode = {
            "mode": mode,
            "seed": seed,
            "session": session,
            "goal": _goal_record(server.goals[session]),
            "n_goals": len(server.goals),
            "prices": dict(server.product_prices),
            "reset": _page(env),
            "steps": [],
        }
        for action in actions:
            _, reward, done, _ = env.step(action)
            step = {"action": action, "reward": reward, "done": done, **_page(env)}
            name, arg = parse_action(action)
            if name == "search" and arg:
                query = " ".join(arg.lower().split(" "))
                hits = server.search_engine.search(query, k=50)
                step["hits"] = [[hit.docid, float(hit.score)] for hit in hits]
            if done:
                step["reward_info"] = server.user_sessions[env.session]["verbose_info"]
            episode["steps"].append(step)
        out.append(episode)
    return out


def hashed(episode: dict) -> dict:
    """The episode with its texts (page, clickables, goal text, attributes, options) replaced by digests."""

    def page(p: dict) -> dict:
        q = dict(p)
        q["obs"] = _digest(p["obs"])
        q["clickables"] = _digest(json.dumps(p["clickables"]))
        return q

    out = dict(episode)
    goal = episode["goal"]
    out["goal"] = dict(
        goal,
        instruction_text=_digest(goal["instruction_text"]),
        attributes=_digest(json.dumps(goal["attributes"])),
        goal_options=_digest(json.dumps(goal["goal_options"])),
    )
    out["reset"] = page(episode["reset"])
    out["steps"] = [page(s) for s in episode["steps"]]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", help="JSON lines with the texts (quotes WebShop data: keep it out of the repo)")
    parser.add_argument("--fixture", help="gzipped JSON lines with digests instead of texts (the test fixture)")
    args = parser.parse_args(argv)
    sys.path.insert(0, ".")
    episodes = record(EPISODES)
    if args.full:
        with open(args.full, "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in episodes)
    if args.fixture:
        # keys in recorded order (reward_info's order is compared); mtime 0 so that the same episodes give the same file
        with gzip.GzipFile(args.fixture, "wb", mtime=0) as f:
            f.write("".join(json.dumps(hashed(e)) + "\n" for e in episodes).encode())
    steps = sum(len(e["steps"]) for e in episodes)
    print(f"{len(episodes)} episodes, {steps} steps", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
