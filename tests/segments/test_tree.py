"""Parsing segment trees: bad trees are refused with the path of the bad node and a
clear message; good ones come back normalised."""

from __future__ import annotations

import pytest

from app.segments.compile import condition
from app.segments.tree import (
    FIELD_OPERATORS,
    MAX_DEPTH,
    MAX_NODES,
    CustomFieldType,
    TreeError,
    check_timezone,
    field_type,
    parse,
)

CUSTOM = {
    "plan": CustomFieldType(1, "select", ("free", "Pro", "team")),
    "seats": CustomFieldType(2, "number"),
    "langs": CustomFieldType(3, "multiselect", ("en", "fr")),
    "extra": CustomFieldType(4, "json"),
    "renewal": CustomFieldType(5, "date"),
    "newsletter": CustomFieldType(6, "boolean"),
}


def error(tree, **kw) -> str:
    with pytest.raises(TreeError) as info:
        parse(tree, CUSTOM, **kw)
    exc = info.value
    assert str(exc) == (f"{exc.path}: {exc.message}" if exc.path else exc.message)
    return str(exc)


def test_unknown_operator_names_the_path():
    tree = {
        "all": [
            {"field": "email", "op": "eq", "value": "a@example.com"},
            {"any": [{"field": "first_name", "op": "like", "value": "x"}]},
        ]
    }
    assert error(tree) == 'all[1].any[0].op: unknown operator "like"'


@pytest.mark.parametrize(
    ("tree", "message"),
    [
        ([], "expected an object"),
        ({"all": "x"}, "all: expected a list of conditions"),
        ({"all": [], "any": []}, '"all" and "any" cannot be combined'),
        ({"every": []}, 'expected one of "all", "any", "not"'),
        ({"not": {"all": [3]}}, "not.all[0]: expected an object"),
        ({"field": "email", "op": "eq", "value": "a@b.co", "x": 1}, 'x: unknown key "x"'),
        ({"field": "nickname", "op": "eq", "value": "x"}, 'field: unknown field "nickname"'),
        ({"field": "custom.nope", "op": "eq", "value": "x"}, 'unknown custom field "nope"'),
        ({"field": "custom.extra", "op": "eq", "value": "x"}, "cannot be used in a segment"),
        ({"field": "secondary_emails", "op": "contains", "value": "x"}, "unknown field"),
        ({"field": "lead_score", "op": "contains", "value": 1}, "does not apply to a number"),
        ({"field": "tags", "op": "eq", "value": "vip"}, 'operator "eq" does not apply'),
        ({"field": "first_name"}, "op: an operator is required"),
        ({"field": "first_name", "op": "eq"}, "value: a value is required"),
        ({"field": "first_name", "op": "eq", "value": ""}, "use is_not_set"),
        ({"field": "first_name", "op": "eq", "value": ["a"]}, "value: expected text"),
        ({"field": "first_name", "op": "in", "value": []}, "expected a non-empty list"),
        ({"field": "first_name", "op": "in", "value": ["a", 3.5]}, "value[1]: expected text"),
        ({"field": "lead_score", "op": "gt", "value": "10"}, "value: expected a number"),
        ({"field": "lead_score", "op": "gt", "value": True}, "expected a number"),
        ({"field": "custom.seats", "op": "between", "value": [5, 1]}, "first value is after"),
        ({"field": "custom.seats", "op": "between", "value": 5}, "two values"),
        ({"field": "created_at", "op": "before", "value": "yesterday"}, "expected a date"),
        ({"field": "created_at", "op": "within_last_days", "value": -1}, "number of days"),
        ({"field": "created_at", "op": "within_last_days", "value": 1.5}, "number of days"),
        (
            {"field": "custom.renewal", "op": "between", "value": ["2024-02-30", "2024-03-01"]},
            "value[0]: expected a date",
        ),
        ({"field": "country", "op": "eq", "value": "Narnia"}, "two-letter ISO country code"),
        ({"field": "status", "op": "eq", "value": "sleeping"}, "choose one of: active"),
        ({"field": "mobile_phone", "op": "eq", "value": "12"}, "value:"),
        ({"field": "owner", "op": "eq", "value": "anna"}, "expected an id or an email"),
        ({"field": "owner", "op": "eq", "value": 0}, "expected an id"),
        ({"field": "custom.newsletter", "op": "eq", "value": True}, "does not apply to a boolean"),
        ({"field": "custom.langs", "op": "contains_all", "value": "en"}, "non-empty list"),
        ({"list": ""}, "list: expected a list name or id"),
        ({"list": "News", "status": "gone"}, "status: expected one of: any, subscribed"),
        ({"activity": "email_read"}, 'activity: unknown activity kind "email_read"'),
        ({"activity": "call", "count": 2}, "count: expected an object"),
        (
            {"activity": "call", "count": {"op": "gte", "value": -1}},
            "count.value: expected a whole",
        ),
        ({"activity": "call", "count": {"op": "most", "value": 1}}, "count.op: unknown operator"),
        ({"activity": "call", "count": {"op": "gte", "value": 1, "n": 2}}, "count.n: unknown key"),
        ({"activity": "call", "within_days": "30"}, "within_days: expected a number of days"),
        ({"activity": "call", "where": {"a.b": {"op": "eq", "value": "x"}}}, "where.a.b: invalid"),
        (
            {"activity": "call", "where": {"url": {"op": "like", "value": "x"}}},
            'where.url.op: unknown operator "like"',
        ),
        ({"activity": "call", "where": {"url": {"op": "gt", "value": "x"}}}, "expected a number"),
        ({"activity": "call", "where": {"url": "x"}}, "expected an object with op and value"),
        ({"event": "", "op": "gte", "value": 1}, "event: expected an event name"),
        ({"event": "purchase", "aggregate": "median", "op": "gte", "value": 1}, "aggregate:"),
        ({"event": "purchase", "op": "gte", "value": 1.5}, "value: expected a whole number"),
        ({"event": "purchase", "aggregate": "sum", "op": "gte"}, "value: expected a number"),
        (
            {"event": "purchase", "aggregate": "sum", "op": "contains", "value": 1},
            'op: operator "contains" does not apply here',
        ),
    ],
)
def test_bad_trees_are_refused_with_a_path(tree, message):
    assert message in error(tree)


def test_messages_are_translatable():
    with pytest.raises(TreeError) as info:
        parse({"field": "lead_score", "op": "gt", "value": "x"})
    assert info.value.path == "value"
    assert info.value.message.template == "expected a number"


def test_depth_limit():
    tree: dict = {"field": "email", "op": "is_set"}
    for _ in range(MAX_DEPTH - 1):
        tree = {"not": tree}
    parse(tree)
    deeper = {"all": [tree]}
    message = error(deeper)
    assert message.startswith("all[0]" + ".not" * (MAX_DEPTH - 1) + ": too deeply nested")


def test_size_limit():
    leaf = {"field": "email", "op": "is_set"}
    parse({"any": [leaf] * (MAX_NODES - 1)})
    assert (
        error({"any": [leaf] * MAX_NODES}) == f"any[{MAX_NODES - 1}]: too many conditions "
        f"(at most {MAX_NODES})"
    )


def test_unknown_list_when_the_lists_are_known():
    tree = {"any": [{"list": "newsletter"}, {"list": "Partners", "status": "pending"}]}
    assert error(tree, lists=["Newsletter"]) == 'any[1].list: unknown list "Partners"'
    assert parse({"list": 7}, lists=["Newsletter"]) == {"list": 7}


def test_timezone():
    assert check_timezone("Europe/Paris") == "Europe/Paris"
    for bad in ("Mars/Olympus", "", None, "../etc/passwd"):
        with pytest.raises(TreeError) as info:
            check_timezone(bad)
        assert info.value.path == "timezone"
    with pytest.raises(TreeError, match="timezone: unknown timezone"):
        condition({"all": []}, timezone="Europe/Atlantis")


def test_condition_refuses_an_invalid_tree():
    with pytest.raises(TreeError, match='op: unknown operator "like"'):
        condition({"field": "email", "op": "like", "value": "x"})


def test_values_are_normalised():
    tree = {
        "all": [
            {"field": "email", "op": "in", "value": ["Anna@Example.COM", "anna@example.com"]},
            {"field": "country", "op": "eq", "value": "france"},
            {"field": "status", "op": "neq", "value": "Unsubscribed"},
            {"field": "custom.plan", "op": "eq", "value": "pro"},
            {"field": "custom.plan", "op": "contains", "value": "pro"},
            {"field": "mobile_phone", "op": "eq", "value": "+33 6 12 34 56 78"},
            {"field": "created_at", "op": "between", "value": [" 2024-01-01", "2024-12-31"]},
            {"field": "first_name", "op": "eq", "value": "  Anna "},
            {"field": "postcode", "op": "eq", "value": 75001},
            {"field": "owner", "op": "in", "value": ["12", "Anna@Example.com"]},
            {"field": "tags", "op": "is_set", "value": "ignored"},
            {"field": "custom.langs", "op": "contains_any", "value": ["EN", "Fr", "xx"]},
            {"list": "News", "status": "any"},
            {"activity": "email_opened"},
            {"event": "purchase", "op": "gte", "value": 2.0, "within_days": 90},
        ]
    }
    assert parse(tree, CUSTOM)["all"] == [
        {"field": "email", "op": "in", "value": ["anna@example.com"]},
        {"field": "country", "op": "eq", "value": "FR"},
        {"field": "status", "op": "neq", "value": "unsubscribed"},
        {"field": "custom.plan", "op": "eq", "value": "Pro"},
        {"field": "custom.plan", "op": "contains", "value": "pro"},
        {"field": "mobile_phone", "op": "eq", "value": "+33612345678"},
        {"field": "created_at", "op": "between", "value": ["2024-01-01", "2024-12-31"]},
        {"field": "first_name", "op": "eq", "value": "Anna"},
        {"field": "postcode", "op": "eq", "value": "75001"},
        {"field": "owner", "op": "in", "value": [12, "anna@example.com"]},
        {"field": "tags", "op": "is_set"},
        {"field": "custom.langs", "op": "contains_any", "value": ["en", "fr", "xx"]},
        {"list": "News"},
        {"activity": "email_opened", "count": {"op": "gte", "value": 1}},
        {"event": "purchase", "aggregate": "count", "op": "gte", "value": 2, "within_days": 90},
    ]
    assert parse(parse(tree, CUSTOM), CUSTOM) == parse(tree, CUSTOM)


def test_field_types_and_operators():
    assert field_type("email") == "text"
    assert field_type("status") == "text"
    assert field_type("lead_score") == "number"
    assert field_type("created_at") == "date"
    assert field_type("birthday") == "date"
    assert field_type("owner") == "ref"
    assert field_type("company") == "ref"
    assert field_type("tags") == "multi"
    assert field_type("custom.plan", CUSTOM) == "text"
    assert field_type("custom.langs", CUSTOM) == "multi"
    assert field_type("custom.newsletter", CUSTOM) == "boolean"
    assert field_type("custom.extra", CUSTOM) is None
    assert field_type("comm_topics") is None
    assert field_type("nope") is None
    assert set(FIELD_OPERATORS) == {"text", "number", "date", "boolean", "multi", "ref"}
    assert "within_last_days" in FIELD_OPERATORS["date"]
    assert "contains_all" in FIELD_OPERATORS["multi"]
