"""The pure scorer: points, decay, per-activity counting, clipping, threshold crossings,
rule validation and what a rule depends on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.scoring.rules import (
    ACTIVITIES,
    MAX_HALVINGS,
    Rule,
    RuleInvalid,
    activity_points,
    affected_by,
    age_bucket,
    bucket_count,
    clean_rule,
    crossing,
    dependencies,
    evaluate,
    round_half_away,
)

FRANCE = Rule(1, "Lives in France", "field", 20, {"field": "country", "op": "eq", "value": "FR"})
OPENED = Rule(2, "Opened an email", "activity", 10, None, "email_opened", None, 30, 3, 7)
UNSUB = Rule(3, "Unsubscribed", "activity", -50, None, "unsubscribe", None, 365)


def test_field_rule_gives_its_points_only_when_matched():
    assert evaluate([FRANCE], {1: True}).score == 20
    assert evaluate([FRANCE], {1: False}).score == 0
    assert evaluate([FRANCE], {}).lines == ()


def test_activity_points_once_per_activity_up_to_max_count_most_recent_first():
    # 2 fresh, 1 a week old (half), 4 two weeks old (a quarter): the 3 most recent count.
    given_, found, counted, decayed = activity_points(10, {0: 2, 1: 1, 2: 4}, 3)
    assert (given_, found, counted, decayed) == (25, 7, 3, True)
    # Without decay every activity is in bucket 0; max_count 1 gives the points once.
    assert activity_points(10, {0: 5}, 1) == (10, 5, 1, False)


def test_decay_halves_per_whole_period_and_rounds_half_away_from_zero():
    assert age_bucket(6.99, 7) == 0
    assert age_bucket(7, 7) == 1
    assert age_bucket(20, 7) == 2
    assert age_bucket(400, None) == 0
    assert activity_points(5, {1: 1}, 1)[0] == 3  # 2.5 -> 3
    assert activity_points(-5, {1: 1}, 1)[0] == -3  # -2.5 -> -3
    assert activity_points(10, {3: 1}, 1)[0] == 1  # 1.25 -> 1
    assert activity_points(100, {MAX_HALVINGS + 1: 9}, 9) == (0, 0, 0, False)
    assert round_half_away(0.5) == 1 and round_half_away(-0.5) == -1 and round_half_away(0.49) == 0


def test_bucket_count_bounds_the_buckets_a_query_tells_apart():
    assert bucket_count(30, None) == 1
    assert bucket_count(30, 7) == 5
    assert bucket_count(30, 30) == 1
    assert bucket_count(36_500, 1) == MAX_HALVINGS + 1


def test_score_is_clipped_but_the_explanation_keeps_every_rule():
    rules = [FRANCE, UNSUB]
    result = evaluate(rules, {1: True, 3: {0: 1}})
    assert result.total == -30
    assert result.score == 0
    assert result.clipped
    assert [(line.name, line.points) for line in result.lines] == [
        ("Lives in France", 20),
        ("Unsubscribed", -50),
    ]
    big = [Rule(i, f"r{i}", "field", 60, {"field": "city", "op": "is_set"}) for i in (1, 2)]
    assert evaluate(big, {1: True, 2: True}).score == 100


def test_crossings_up_and_down_only_when_the_threshold_is_passed():
    assert crossing(60, 75, 70) == "up"
    assert crossing(60, 70, 70) == "up"
    assert crossing(70, 90, 70) is None
    assert crossing(75, 69, 70) == "down"
    assert crossing(10, 20, 70) is None
    assert crossing(60, 75, None) is None


rule_strategy = st.builds(
    Rule,
    id=st.integers(1, 6),
    name=st.just("r"),
    kind=st.sampled_from(["field", "activity"]),
    points=st.integers(-100, 100).filter(bool),
    condition=st.just({"field": "city", "op": "is_set"}),
    activity_kind=st.just("call"),
    event_name=st.none(),
    within_days=st.integers(1, 400),
    max_count=st.integers(1, 100),
    decay_days=st.one_of(st.none(), st.integers(1, 60)),
)
buckets_strategy = st.dictionaries(st.integers(0, MAX_HALVINGS + 2), st.integers(0, 50), max_size=6)


@given(rules=st.lists(rule_strategy, max_size=6, unique_by=lambda r: r.id), data=st.data())
def test_score_is_within_0_100_and_is_the_clipped_sum_of_its_explanation(rules, data):
    facts = {
        rule.id: data.draw(st.booleans() if rule.kind == "field" else buckets_strategy)
        for rule in rules
        if data.draw(st.booleans())  # some rules have no fact at all
    }
    result = evaluate(rules, facts)
    assert 0 <= result.score <= 100
    total = sum(line.points for line in result.lines)
    assert result.total == total
    assert result.score == max(0, min(100, total))
    assert all(line.points != 0 for line in result.lines)
    for line in result.lines:
        rule = next(r for r in rules if r.id == line.rule_id)
        if rule.kind == "activity":
            assert line.counted <= rule.max_count
            assert abs(line.points) <= abs(rule.points) * rule.max_count


@given(points=st.integers(-100, 100).filter(bool), ages=st.lists(st.integers(0, 500), max_size=30))
def test_decayed_points_never_exceed_the_undecayed_ones(points, ages):
    buckets: dict[int, int] = {}
    for age in ages:
        b = age_bucket(age, 7)
        buckets[b] = buckets.get(b, 0) + 1
    decayed = activity_points(points, buckets, 100)[0]
    plain = activity_points(
        points, {0: len([a for a in ages if age_bucket(a, 7) <= MAX_HALVINGS])}, 100
    )[0]
    assert abs(decayed) <= abs(plain)


def test_clean_rule_names_every_bad_field():
    with pytest.raises(RuleInvalid) as info:
        clean_rule({"name": "", "kind": "activity", "points": 0, "activity_kind": "merge"})
    assert set(info.value.errors) == {"name", "points", "activity_kind", "within_days"}
    with pytest.raises(RuleInvalid) as info:
        clean_rule({"name": "x", "kind": "field", "points": 5, "within_days": 3, "colour": 1})
    assert set(info.value.errors) == {"condition", "within_days", "colour"}
    with pytest.raises(RuleInvalid) as info:
        clean_rule(
            {"name": "x", "kind": "field", "points": 5,
             "condition": {"field": "lead_score", "op": "gt", "value": 5}}
        )  # fmt: skip
    assert "condition" in info.value.errors
    with pytest.raises(RuleInvalid) as info:
        clean_rule({"name": "x", "kind": "activity", "points": 5, "activity_kind": "custom_event",
                    "within_days": 10})  # fmt: skip
    assert set(info.value.errors) == {"event_name"}


def test_clean_rule_fills_defaults_and_converts_form_text():
    values = clean_rule(
        {"name": " Calls ", "kind": "activity", "points": "-5", "activity_kind": "call",
         "within_days": "30", "max_count": "", "decay_days": ""}
    )  # fmt: skip
    assert values["name"] == "Calls"
    assert values["points"] == -5
    assert values["within_days"] == 30
    assert values["max_count"] == 1
    assert values["decay_days"] is None
    assert values["enabled"] is True
    assert values["condition"] is None


def test_dependencies_name_fields_as_contact_events_do():
    owner = Rule(1, "o", "field", 5, {"all": [{"field": "owner", "op": "is_set"},
                                              {"not": {"list": "VIP"}},
                                              {"field": "custom.plan", "op": "eq", "value": "pro"}]})  # fmt: skip
    deps = dependencies(owner)
    assert {"owner", "owner_id", "lists", "custom.plan"} <= deps
    assert ACTIVITIES not in deps
    assert dependencies(OPENED) == {ACTIVITIES}
    assert affected_by([owner], ["owner_id"])
    assert not affected_by([owner], ["city", "tags"])
    assert affected_by([owner], ["lead_score"])  # a typed score is set back
    assert affected_by([owner], None)
    assert not affected_by([], None)
