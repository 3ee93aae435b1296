"""WebShop-text-v0 against the original WebShop text env: replayed transcripts, field by field, and the difficulty
of the generated catalog.

    python benchmarks/bench_webshop_fidelity.py [--transcripts T.jsonl[.gz] ...] [--data ../shared/webshop]

The transcripts are recorded from princeton-nlp/WebShop's ``WebAgentTextEnv`` by ``benchmarks/webshop_original.py``
(default: the test fixture, whose texts are digests; a ``--full`` recording with texts replays the same way with
``--texts``). Each episode is replayed through the embedded engine over the same 8 real products, goals and prices,
and every recorded field is compared: the page text, the clickables (order included), the search-bar flag, reward,
done, the purchase's ``reward_info`` (every part, in order), the ranked search hits and their Lucene scores (4
decimals, as Anserini reports them), the goal and the drawn prices. Then the generated catalog's difficulty: a
uniformly random admissible policy and WebShop's rule baseline (search the instruction, buy the first result) on its
500 test goals, against the rule baseline's 45.6 / 9.6% on the real catalog in the WebShop paper.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from bench_envs import webshop_scores  # noqa: E402

from gigpo_gym.webshop.reward import noun_tagger  # noqa: E402
from gigpo_gym.webshop.transcripts import FIELDS, Replay, fixture_env_factory, read_transcripts, replay_episode  # noqa: E402

FIXTURE = HERE.parent / "tests" / "fixtures" / "webshop_transcripts.jsonl.gz"
LABELS = {
    "obs": "observation text, exact",
    "clickables": "clickables, in order",
    "has_search_bar": "search-bar flag",
    "reward": "step reward",
    "done": "done flag",
    "reward_info": "reward parts (every key, in order)",
    "hits": "search hit list with scores",
    "goal": "goal (text, attributes, options, bound, weight)",
    "prices": "drawn prices of all products",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transcripts", nargs="*", type=Path, default=[FIXTURE], help="recorded transcripts")
    parser.add_argument("--texts", action="store_true", help="the transcripts hold texts, not digests")
    parser.add_argument(
        "--data",
        type=Path,
        default=HERE.parent.parent / "shared" / "webshop",
        help="folder with items_shuffle.MINI8_trimmed.json and items_ins_v2_1000.json",
    )
    parser.add_argument("--no-baselines", action="store_true", help="skip the generated catalog's baselines")
    args = parser.parse_args(argv)

    if (args.data / "items_shuffle.MINI8_trimmed.json").is_file():
        make = fixture_env_factory(args.data, HERE / "webshop_fixture" / "items_human_ins.json")
        episodes = read_transcripts(*args.transcripts)
        total = Replay()
        for episode in episodes:
            total.merge(replay_episode(episode, make, hashed=not args.texts))
        steps = sum(len(e["steps"]) for e in episodes)
        modes = sorted({e["mode"] for e in episodes})
        print(f"{len(episodes)} episodes, {steps} steps ({', '.join(modes)} goals), title nouns: {noun_tagger()}")
        print(f"{'field':<50} {'identical':>10} {'compared':>9} {'%':>7}")
        for field in FIELDS:
            n, k = total.compared[field], total.matched[field]
            print(f"{LABELS[field]:<50} {k:>10} {n:>9} {100 * k / max(n, 1):>7.1f}")
        for line in total.mismatches[:10]:
            print("mismatch:", line[:300])
    else:
        print(f"{args.data} has no real WebShop products: transcript replay skipped")
    if not args.no_baselines:
        print("generated catalog, 500 test goals     score  success %")
        for policy in ("random", "rule"):
            score, success = webshop_scores(policy)
            print(f"{policy:<36} {score:>6.1f} {success:>9.1f}")
        print(f"{'rule, real catalog (WebShop paper)':<36} {45.6:>6.1f} {9.6:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
