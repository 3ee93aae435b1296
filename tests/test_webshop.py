"""WebShop-text-v0: catalog, search, pages and transitions, reward, expert, real data and bad input."""

from __future__ import annotations

import difflib
import json
import random
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import given
from hypothesis import strategies as st

import gigpo_gym  # noqa: F401  (registers the env ids)
from gigpo_gym.webshop import (
    CATEGORIES,
    Goal,
    Product,
    SearchEngine,
    expert_action,
    generate_catalog,
    load_catalog,
    price_upper_for,
    purchase_reward,
)
from gigpo_gym.webshop.catalog import NO_PRICE_BOUND
from gigpo_gym.webshop.reward import normalize_color, option_matches, r_type_from, token_set_ratio, total_reward

from .conftest import SHARED

SHARED_WEBSHOP = SHARED / "webshop"
FIXTURE_GOALS = Path(__file__).resolve().parents[1] / "benchmarks" / "webshop_fixture" / "items_human_ins.json"
needs_shared = pytest.mark.skipif(
    not SHARED_WEBSHOP.is_dir(), reason=f"real WebShop data not found at {SHARED_WEBSHOP}"
)


def make(**kw):
    return gym.make("WebShop-text-v0", **kw)


def play(env, actions):
    out = None
    for action in actions:
        out = env.step(action)
    return out


def first_goal_with_options(env, min_groups=1):
    for i, goal in enumerate(env.unwrapped.goals):
        product = env.unwrapped.catalog.by_asin[goal.asin]
        if len(goal.goal_options) >= min_groups and len(product.options) >= min_groups:
            return i, goal, product
    raise AssertionError("no such goal")


# --------------------------------------------------------------------------- catalog


def test_check_env_passes():
    check_env(make().unwrapped, skip_render_check=True)
    check_env(make(split="train").unwrapped, skip_render_check=True)


def test_catalog_size_categories_and_splits():
    catalog = generate_catalog()
    assert len(catalog.products) >= 1000 and len({p.asin for p in catalog.products}) == len(catalog.products)
    assert {p.category for p in catalog.products} == set(CATEGORIES)
    assert len(catalog.goals["test"]) == 500 and len(catalog.goals["test"]) + len(catalog.goals["train"]) >= 1500
    for goal in catalog.goals["test"]:
        product = catalog.by_asin[goal.asin]
        assert set(goal.attributes) <= set(product.attributes)
        assert all(any(v in values for _, values in product.options) for v in goal.goal_options)
        assert product.price <= goal.price_upper
        assert goal.query in goal.instruction_text
        if goal.price_upper != NO_PRICE_BOUND:
            assert goal.instruction_text.endswith(f", and price lower than {goal.price_upper:.2f} dollars")


def test_catalog_is_a_function_of_its_seed():
    assert generate_catalog(seed=3, n_products=50, n_goals=60, n_test=10) == generate_catalog.__wrapped__(3, 50, 60, 10)
    other = generate_catalog(seed=4, n_products=50, n_goals=60, n_test=10)
    assert other.products != generate_catalog(seed=3, n_products=50, n_goals=60, n_test=10).products


@given(st.floats(min_value=0.01, max_value=2000.0), st.integers(0, 1000))
def test_price_upper_follows_webshop_rule(price, seed):
    bound = price_upper_for(price, random.Random(seed))
    above = [10.0 * i for i in range(1, 100) if 10.0 * i > price][:4]
    if len(above) < 2:
        assert bound == NO_PRICE_BOUND
    else:
        assert bound in above[1:] and bound > price


# --------------------------------------------------------------------------- search


def test_search_ranks_matching_documents_only_and_caps_at_50():
    catalog = generate_catalog()
    engine = SearchEngine(catalog.products)
    target = catalog.products[0]
    results = engine.search(target.title)
    assert results[0] == target.asin and len(results) <= 50
    assert engine.search("zzzqqq nothingmatches") == ()
    rare = engine.search(target.asin.lower() + " " + target.title.split()[0])  # the brand is rare
    assert target.asin in rare[:10]
    assert engine.search("snack bars") == engine.search("Snack  BARS")  # analyser: case, spacing


# --------------------------------------------------------------------------- pages and transitions


def test_search_results_pagination_and_back():
    env = make()
    obs, info = env.reset(options={"task_id": 0})
    assert obs["text"].startswith("WebShop [SEP] Instruction: [SEP] ") and obs["text"].endswith(" [SEP] Search")
    assert info["available_actions"] == {"has_search_bar": True, "clickables": ["search"]}
    assert "click[search]" not in info["admissible_commands"]  # the original refuses it
    goal = env.unwrapped.goals[0]
    obs, reward, terminated, truncated, info = env.step(f"search[{goal.query}]")
    total = len(env.unwrapped.engine.results)
    assert total > 20 and reward == 0.0 and not terminated
    assert f"Back to Search [SEP] Page 1 (Total results: {total}) [SEP] Next > [SEP] " in obs["text"]
    clickables = info["available_actions"]["clickables"]
    assert clickables[:2] == ["back to search", "next >"] and len(clickables) == 12  # 10 product links
    page1 = obs["state_hash"]
    obs, *_, info = env.step("click[next >]")
    assert "Page 2 (Total results" in obs["text"] and "< Prev [SEP] Next >" in obs["text"]
    assert "< prev" in info["available_actions"]["clickables"] and obs["state_hash"] != page1
    obs, *_ = env.step("click[< prev]")
    assert obs["state_hash"] == page1
    last_page = -(-total // 10)
    for _ in range(last_page):  # "Next >" is always shown: past the last page comes an empty one
        obs, *_, info = env.step("click[next >]")
    assert info["available_actions"]["clickables"] == ["back to search", "< prev", "next >"]
    assert obs["text"].endswith(f"Page {last_page + 1} (Total results: {total}) [SEP] < Prev [SEP] Next >")
    obs, *_, info = env.step("click[back to search]")
    assert info["available_actions"]["has_search_bar"] and obs["text"].endswith("Search")


def test_item_page_options_sub_pages_and_buy():
    env = make()
    index, goal, product = first_goal_with_options(env, min_groups=2)
    env.reset(options={"task_id": index})
    env.step(f"search[{product.title}]")
    obs, *_, info = env.step(f"click[{product.asin.lower()}]")
    text = obs["text"]
    assert "Back to Search [SEP] < Prev [SEP] " + product.options[0][0] in text
    # buttons first, then every option value, as the original lists its clickables
    values = [v for _, vs in product.options for v in vs]
    assert info["available_actions"]["clickables"] == [
        "back to search",
        "< prev",
        "description",
        "features",
        "reviews",
        "buy now",
        *dict.fromkeys(values),
    ]
    assert text.endswith(
        f"{product.title} [SEP] Price: {product.price_tag} [SEP] Rating: {product.rating} "
        "[SEP] Description [SEP] Features [SEP] Reviews [SEP] Buy Now"
    )
    clickables = info["available_actions"]["clickables"]
    assert {"description", "features", "reviews", "buy now", "< prev"} <= set(clickables)
    assert all(v in clickables for _, values in product.options for v in values)
    bare = obs["state_hash"]
    (group, values), (group2, values2) = product.options[:2]
    obs, *_ = env.step(f"click[{values[0]}]")
    assert env.unwrapped.engine.options == {group: values[0]} and obs["state_hash"] != bare
    obs, *_ = env.step(f"click[{values[1]}]")  # a second value of the same group replaces the first
    assert env.unwrapped.engine.options == {group: values[1]}
    chosen = obs["state_hash"]
    for sub, expected in (
        ("description", product.description),
        ("features", product.bullet_points[0]),
        ("reviews", product.reviews[0][2]),
    ):
        obs, *_, info = env.step(f"click[{sub}]")
        assert expected in obs["text"] and info["available_actions"]["clickables"] == ["back to search", "< prev"]
        obs, *_ = env.step("click[< prev]")
        assert obs["state_hash"] == chosen  # options survive a visit to a sub-page
    obs, *_ = env.step(f"click[{values2[0]}]")
    obs, reward, terminated, truncated, info = env.step("click[Buy Now]")  # arguments are case-insensitive
    assert terminated and not truncated
    assert obs["text"].startswith("Thank you for shopping with us!") and f"{reward}" in obs["text"]
    assert info["reward_info"]["r_type"] == 1.0 and info["reward_info"]["r_price"] is True
    assert info["won"] == (reward == 1.0)


def test_item_prev_returns_to_the_same_results_page():
    env = make()
    env.reset(options={"task_id": 1})
    env.step("search[protein powder]")
    obs2, *_ = env.step("click[next >]")
    asin = env.unwrapped.engine._page_asins()[0]
    env.step(f"click[{asin.lower()}]")
    obs, *_ = env.step("click[< prev]")
    assert obs["state_hash"] == obs2["state_hash"] and obs["text"] == obs2["text"]


def test_malformed_and_unavailable_actions_change_nothing():
    env = make()
    obs, _ = env.reset(options={"task_id": 2})
    for action in ("buy now", "click[buy now]", "search[]", "clik[x]", "", "click[search]", " search[a]"):
        new, reward, terminated, truncated, info = env.step(action)
        assert new == obs and not info["action_is_valid"]  # the same page, as the original shows it
        assert reward == 0.0 and not terminated
    noted = make(invalid_action_note=True)
    first, _ = noted.reset(options={"task_id": 2})
    new, *_ = noted.step("clik[x]")
    assert new["text"] == "Invalid action (malformed): 'clik[x]'. [SEP] " + first["text"]
    results, *_ = env.step("search[snack bars]")
    new, *_, info = env.step("search[coffee]")  # the original searches from any page, though no bar is shown
    assert new["state_hash"] != results["state_hash"] and info["action_is_valid"]
    strict = make(search_only_on_search_page=True)
    strict.reset(options={"task_id": 2})
    results, *_ = strict.step("search[snack bars]")
    new, *_, info = strict.step("search[coffee]")
    assert new == results and not info["action_is_valid"]
    with pytest.raises(TypeError, match="command string"):
        env.step(3)


def test_state_hash_depends_on_state_not_path():
    env = make()
    env.reset(options={"task_id": 3})
    a, *_ = env.step("search[Snack   Bars]")
    env.step("click[back to search]")
    b, *_ = env.step("search[snack bars]")
    assert a["state_hash"] == b["state_hash"]  # the query is normalised
    c, *_ = env.step("click[next >]")
    env.step("click[< prev]")
    d, *_ = env.step("click[next >]")
    assert c["state_hash"] == d["state_hash"] != a["state_hash"]
    other = make()
    other.reset(options={"task_id": 4})
    e, *_ = other.step("search[snack bars]")
    assert e["state_hash"] != a["state_hash"]  # another goal


def test_reset_is_deterministic_by_seed_and_task_id():
    env1, env2 = make(), make()
    assert env1.reset(seed=7)[0] == env2.reset(seed=7)[0]
    texts = {env1.reset(seed=s)[0]["text"] for s in range(5)}
    assert len(texts) > 1
    obs, info = env1.reset(options={"task_id": 42})
    assert info["task_id"] == 42 and info["goal"] == env1.unwrapped.goals[42].instruction_text
    assert info["task_type"] in CATEGORIES


def test_episode_truncates_at_the_step_limit():
    env = make(max_episode_steps=3)
    env.reset(options={"task_id": 0})
    outs = [env.step("click[nothing]") for _ in range(3)]
    assert [o[3] for o in outs] == [False, False, True] and not any(o[2] for o in outs)


# --------------------------------------------------------------------------- reward

CATEGORY = "Grocery & Gourmet Food › Snacks & Sweets › Snack Bars"


def bar(**kw) -> Product:
    fields = dict(
        asin="B0TEST0001",
        title="Acme Gluten Free Snack Bars",
        category="grocery",
        query="snack bars",
        product_category=CATEGORY,
        price=12.5,
        price_tag="$12.5",
        attributes=("gluten free", "non gmo"),
        options=(("flavor name", ("chocolate", "vanilla")), ("size", ("12 count (pack of 1)", "24 count (pack of 1)"))),
        description="Tasty bars.",
        bullet_points=("Made with oats.",),
    )
    fields.update(kw)
    return Product(**fields)


GOAL = Goal(
    asin="B0TEST0001",
    instruction_text="i need gluten free and low sugar snack bars",
    attributes=("gluten free", "low sugar"),
    goal_options=("chocolate", "12 count (pack of 1)"),
    price_upper=20.0,
    category="grocery",
    query="snack bars",
    name="Acme Gluten Free Snack Bars",
    product_category=CATEGORY,
)


def test_reward_of_hand_made_purchases():
    product = bar()
    # the target with both options: attributes 1/2 (no "low sugar"), options 2/2, price ok -> (1+2+1)/5
    chosen = {"flavor name": "chocolate", "size": "12 count (pack of 1)"}
    reward, info = purchase_reward(product, GOAL, chosen, tagger="filter")
    assert reward == pytest.approx(4 / 5)
    assert list(info.items()) == [
        ("r_type", 1.0),
        ("r_att", 0.5),
        ("w_att", 2 / 5),
        ("query_match", True),
        ("category_match", True),
        ("title_score", 1.0),
        ("r_option", 1.0),
        ("w_option", 2 / 5),
        ("r_price", True),
        ("w_price", 1 / 5),
    ]
    # "low sugar" in the description counts; wrong flavour; price over the bound
    product = bar(description="A low sugar treat.", price=25.0)
    wrong = {"flavor name": "vanilla", "size": "12 count (pack of 1)"}
    reward, info = purchase_reward(product, GOAL, wrong, tagger="filter")
    assert reward == pytest.approx((2 + 1 + 0) / 5) and info["r_option"] == 0.5 and info["r_price"] is False
    # a near-miss size: "24 count (pack of 1)" shares 4 of 5 words, token-set ratio 91 > 85: a match there too
    near = {"flavor name": "chocolate", "size": "24 count (pack of 1)"}
    reward, info = purchase_reward(product, GOAL, near, tagger="filter")
    assert info["r_option"] == 1.0
    # everything right: reward exactly 1
    product = bar(attributes=("gluten free", "low sugar"))
    reward, _ = purchase_reward(product, GOAL, chosen, tagger="filter")
    assert reward == 1.0
    # another type whose title shares no noun with the goal's: r_type 0, whatever else matches
    cable = bar(query="hdmi cables", product_category="Electronics › Cables", title="Acmo HDMI Cable")
    reward, info = purchase_reward(cable, GOAL, {}, tagger="filter")
    assert reward == 0.0 and info["r_type"] == 0.0 and info["title_score"] == 0.0
    # another type, other category, but half the goal title's nouns: r_type 1 (title score > 0.2)
    box = bar(query="gift boxes", product_category="Home › Gifts", title="Acme Snack Box")
    _, info = purchase_reward(box, GOAL, {}, tagger="filter")
    assert info["title_score"] == pytest.approx(2 / 4) and info["r_type"] == 1.0


def test_option_matching_rules():
    # the first colour word of the original's list that the value contains, in list order
    assert normalize_color("z2-pink") == "pink" and normalize_color("light blue") == "blue"
    assert normalize_color("chocolate brown") == "brown" and normalize_color("plain black") == "black"
    # a synthetic goal's (name, value) pair: only an element that is a colour word is replaced
    assert normalize_color(("color", "black")) == "black"
    assert normalize_color(("color", "light blue")) == ("color", "light blue")
    assert token_set_ratio("small", "x-small") == 100 and token_set_ratio("small", ("size", "x-small")) == 100
    assert token_set_ratio("", "small") == 0 and token_set_ratio("small", "medium") < 85
    # a pair is compared as its str(): the purchased value's words must be a subset of the pair's
    assert option_matches([("size", "x-small")], {"size": "small"}) == 1
    assert option_matches([("size", "small")], {"size": "x-small"}) == 0
    assert option_matches([("color", "plain black")], {"color": "black"}) == 1
    # plain values (human goals, the generated catalog): subsets either way
    assert option_matches(["small"], {"size": "x-small"}) == 1 and option_matches(["x-large"], {"size": "large"}) == 1
    assert option_matches(["black", "small"], {"color": "plain black"}) == 1  # counted per goal option
    assert option_matches(["8"], {"size": "8.5"}) == 1  # "8 5" holds the word "8"


fuzz = pytest.importorskip("thefuzz.fuzz", reason="thefuzz (test extra) compares token_set_ratio with the original's")


@pytest.mark.skipif(
    fuzz.SequenceMatcher is not difflib.SequenceMatcher,
    reason="thefuzz uses python-Levenshtein here; the original ran on difflib",
)
@given(
    st.one_of(st.text(max_size=30), st.tuples(st.text(max_size=8), st.text(max_size=20))),
    st.one_of(st.text(max_size=30), st.tuples(st.text(max_size=8), st.text(max_size=20))),
)
def test_token_set_ratio_is_thefuzz_0_19s(a, b):
    assert token_set_ratio(a, b) == fuzz.token_set_ratio(a, b)


def test_r_type_rule_thresholds():
    assert r_type_from(True, False, 0.5) == 1.0
    assert r_type_from(False, True, 0.15) == 1.0
    assert r_type_from(False, False, 0.15) == 0.5
    assert r_type_from(True, True, 0.05) == 0.1
    assert r_type_from(True, True, 0.0) == 0.0


def _sessions():
    return sorted((SHARED_WEBSHOP / "human_sessions").glob("*.jsonl")) if SHARED_WEBSHOP.is_dir() else []


@needs_shared
@pytest.mark.parametrize("path", _sessions(), ids=lambda p: p.stem)
def test_reward_rules_reproduce_real_human_sessions(path):
    """The original reward's logged parts and total, for 9 real purchases, follow our rules."""
    done = json.loads(path.read_text().strip().splitlines()[-1])
    assert done["page"] == "done"
    goal, parts, options = done["goal"], done["reward_info"], done["content"]["options"]
    assert r_type_from(parts["query_match"], parts["category_match"], parts["title_score"]) == parts["r_type"]
    n_att, n_opt = len(goal["attributes"]), len(goal["goal_options"])
    hits_att = round(parts["r_att"] * n_att)
    hits_opt = round(parts.get("r_option", 0.0) * n_opt)
    total = total_reward(parts["r_type"], n_att, n_opt, hits_att, hits_opt, parts["r_price"])
    assert total == pytest.approx(done["reward"])
    if n_opt:  # option matching on the logged options
        assert option_matches(goal["goal_options"], options) / n_opt == pytest.approx(parts["r_option"])


# --------------------------------------------------------------------------- expert and baselines


def run(env, policy, task_ids):
    rewards = []
    for i in task_ids:
        obs, info = env.reset(options={"task_id": i})
        done, reward = False, 0.0
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(env, info))
            done = terminated or truncated
        rewards.append(reward)
    return np.array(rewards)


def test_expert_succeeds_on_95_percent_of_test_goals():
    env = make()
    rewards = run(env, lambda e, info: expert_action(e.unwrapped.engine), range(500))
    assert (rewards == 1.0).mean() >= 0.95


def test_random_policy_is_far_below_the_expert():
    env = make()
    rng = np.random.default_rng(0)
    rewards = run(env, lambda e, info: rng.choice(info["admissible_commands"]), range(100))
    assert rewards.mean() < 0.5 and (rewards == 1.0).mean() < 0.2


# --------------------------------------------------------------------------- real data and backends


@needs_shared
def test_real_webshop_data_loads_and_the_expert_buys_right():
    catalog = load_catalog(
        SHARED_WEBSHOP / "items_shuffle.MINI8_trimmed.json", SHARED_WEBSHOP / "items_ins_v2_1000.json"
    )
    assert len(catalog.products) == 8
    dress = catalog.by_asin["B08ZRR3DZT"]
    assert dress.price_tag == "$19.99 to $27.99" and 19.99 <= dress.price <= 27.99
    assert dict(dress.options)["size"][:2] == ("x-small", "small")
    assert catalog.by_asin["B08R3XSC65"].attributes == ("DUMMY_ATTR",)  # no attributes: WebShop's placeholder
    env = make(data_dir=SHARED_WEBSHOP, products_file="items_shuffle.MINI8_trimmed.json")
    goals = env.unwrapped.goals
    assert goals and all(g.asin in catalog.by_asin for g in goals)
    rewards = run(env, lambda e, info: expert_action(e.unwrapped.engine), range(min(len(goals), 40)))
    assert (rewards == 1.0).all()
    # the original's synthetic goals: (name, value) option pairs, its weights; its human goals from a file
    assert all(isinstance(o, tuple) for g in goals for o in g.goal_options)
    assert sum(g.weight for g in goals if g.asin == "B08ZRR3DZT") == pytest.approx(1.0)  # 40 goals of 2 attributes
    human = load_catalog(
        SHARED_WEBSHOP / "items_shuffle.MINI8_trimmed.json",
        SHARED_WEBSHOP / "items_ins_v2_1000.json",
        goal_set="human",
        human_goals_path=FIXTURE_GOALS,
    ).goals["test"]
    assert len(human) == 12 and all(isinstance(o, str) for g in human for o in g.goal_options)  # 1 of 13 skipped


def test_bad_arguments_raise_clear_errors(tmp_path):
    with pytest.raises(ValueError, match="split must be one of"):
        make(split="valid")
    with pytest.raises(ValueError, match="backend must be"):
        make(backend="selenium")
    with pytest.raises(FileNotFoundError, match="data_dir not found"):
        make(data_dir=tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="products file not found"):
        make(data_dir=tmp_path)
    with pytest.raises(ValueError, match="goal_set must be one of"):
        make(goal_set="crowd")
    with pytest.raises(TypeError, match="search_only_on_search_page must be True or False"):
        make(search_only_on_search_page="yes")
    with pytest.raises(TypeError, match="data_seed must be an integer"):
        make(data_seed=1.5)
    (tmp_path / "items_shuffle_1000.json").write_text("[]")
    (tmp_path / "items_ins_v2_1000.json").write_text("{}")
    with pytest.raises(FileNotFoundError, match="human goals file not found"):
        make(data_dir=tmp_path, goal_set="human")
    with pytest.raises(ValueError, match="task_id 500 is not one of the 500 tasks"):
        make().reset(options={"task_id": 500})
    with pytest.raises(RuntimeError, match="reset"):
        make().unwrapped.step("search[x]")


def test_real_backend_reports_what_is_missing():
    try:
        import web_agent_site  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="princeton-nlp/WebShop"):
            make(backend="webshop")
    else:  # pragma: no cover - only where WebShop is installed
        env = make(backend="webshop")
        obs, info = env.reset(options={"task_id": 0})
        assert env.observation_space.contains(obs) and "admissible_commands" in info


def test_success_reward_mode_pays_only_perfect_purchases():
    """reward_mode="success" pays success_reward for score 1 and 0 otherwise; info["score"] keeps the score."""
    dense, sparse = make(), make(reward_mode="success", success_reward=10.0)

    def buy_first(e, info):
        """Search the instruction, open the first result, buy it."""
        commands = info["admissible_commands"]
        if not info["available_actions"]["clickables"][1:]:
            return commands[0]
        return next((c for c in commands if c == "click[buy now]"), commands[2] if len(commands) > 2 else commands[-1])

    scores, rewards, infos = [], [], []
    for task in range(30):
        for env, out in ((dense, scores), (sparse, rewards)):
            obs, info = env.reset(options={"task_id": task})
            done = False
            while not done:
                cmd = expert_action(env.unwrapped.engine) if task % 2 == 0 else buy_first(env, info)
                obs, reward, terminated, truncated, info = env.step(cmd)
                done = terminated or truncated
            out.append(reward)
            if env is sparse:
                infos.append(info)
    scores, rewards = np.array(scores), np.array(rewards)
    assert 0 < np.sum((scores > 0) & (scores < 1))  # some imperfect purchases to tell the modes apart
    np.testing.assert_array_equal(rewards, np.where(scores == 1.0, 10.0, 0.0))
    np.testing.assert_array_equal([i["score"] for i in infos], scores)
    with pytest.raises(ValueError, match="reward_mode must be one of \\('score', 'success'\\), got 'dense'"):
        make(reward_mode="dense")
    with pytest.raises(ValueError, match="success_reward must be a finite number > 0, got -1"):
        make(success_reward=-1)


def test_real_backend_checks_the_reward_mode_before_loading_webshop():
    with pytest.raises(ValueError, match="reward_mode must be one of"):
        make(backend="webshop", reward_mode="dense")
    with pytest.raises(ValueError, match="success_reward must be a finite number > 0"):
        make(backend="webshop", reward_mode="success", success_reward=float("nan"))
