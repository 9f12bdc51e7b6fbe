"""The builder form <-> condition tree conversion (pure: no app, no database)."""

from __future__ import annotations

from datetime import date

from werkzeug.datastructures import MultiDict

from app.contacts.query import ContactQuery, CustomFieldInfo, CustomFilter
from app.segments import form
from app.segments.from_query import from_query
from app.segments.tree import FIELD_OPERATORS, CustomFieldType, field_type, parse

CUSTOM = {
    "plan": CustomFieldType(1, "select", ("free", "pro", "team")),
    "seats": CustomFieldType(2, "number"),
    "vip": CustomFieldType(3, "boolean"),
    "renewal": CustomFieldType(4, "date"),
    "areas": CustomFieldType(5, "multiselect", ("north", "south")),
}


def ftype(name: str) -> str | None:
    return field_type(name, CUSTOM)


def tree_of(data) -> dict:
    return form.to_tree(form.from_form(data), ftype).tree


def test_indexed_fields_become_a_nested_tree():
    data = MultiDict(
        [
            ("csrf_token", "x"),
            ("name", "Hot leads"),
            ("n-kind", "all"),
            ("n-0-kind", "field"),
            ("n-0-field", "country"),
            ("n-0-op", "eq"),
            ("n-0-value", " FR "),
            ("n-1-kind", "any"),
            ("n-1-not", "1"),
            ("n-1-0-kind", "field"),
            ("n-1-0-field", "tags"),
            ("n-1-0-op", "contains_any"),
            ("n-1-0-value", "vip"),
            ("n-1-0-value", "partner"),
            ("n-1-1-kind", "field"),
            ("n-1-1-field", "lead_score"),
            ("n-1-1-op", "between"),
            ("n-1-1-value", "10"),
            ("n-1-1-value2", "20.5"),
            ("n-2-kind", "activity"),
            ("n-2-activity", "email_clicked"),
            ("n-2-count_op", "gte"),
            ("n-2-count_value", "2"),
            ("n-2-within_days", "30"),
            ("n-2-data_key", "url"),
            ("n-2-data_op", "contains"),
            ("n-2-data_value", "pricing"),
            ("n-3-kind", "event"),
            ("n-3-event", "purchase"),
            ("n-3-aggregate", "sum"),
            ("n-3-op", "gte"),
            ("n-3-value", "1000"),
            ("n-3-within_days", "365"),
            ("n-4-kind", "list"),
            ("n-4-list", "7"),
            ("n-4-status", "subscribed"),
            ("n-5-kind", "field"),
            ("n-5-field", "custom.vip"),
            ("n-5-op", "is_true"),
            ("n-5-value", "ignored"),
        ]
    )
    tree = tree_of(data)
    assert tree == {
        "all": [
            {"field": "country", "op": "eq", "value": "FR"},
            {
                "not": {
                    "any": [
                        {"field": "tags", "op": "contains_any", "value": ["vip", "partner"]},
                        {"field": "lead_score", "op": "between", "value": [10, 20.5]},
                    ]
                }
            },
            {
                "activity": "email_clicked",
                "count": {"op": "gte", "value": 2},
                "within_days": 30,
                "where": {"url": {"op": "contains", "value": "pricing"}},
            },
            {
                "event": "purchase",
                "aggregate": "sum",
                "op": "gte",
                "value": 1000,
                "within_days": 365,
            },
            {"list": 7, "status": "subscribed"},
            {"field": "custom.vip", "op": "is_true"},
        ]
    }
    assert parse(tree, CUSTOM)  # a valid tree


def test_children_follow_their_index_and_orphans_are_dropped():
    data = {
        "n-kind": "any",
        "n-10-kind": "field",
        "n-10-field": "city",
        "n-10-op": "is_set",
        "n-2-kind": "field",
        "n-2-field": "email",
        "n-2-op": "ends_with",
        "n-2-value": "@acme.com",
        "n-5-0-kind": "field",  # its parent n-5 was removed
        "n-2-0-kind": "field",  # a condition has no children
        "n-x-kind": "field",
        "other": "ignored",
    }
    root = form.from_form(data)
    assert [c.path for c in root.children] == ["n-0", "n-1"]
    assert form.to_tree(root, ftype).tree == {
        "any": [
            {"field": "email", "op": "ends_with", "value": "@acme.com"},
            {"field": "city", "op": "is_set"},
        ]
    }


def test_values_are_converted_by_type_and_bad_ones_kept_for_the_parser():
    data = {
        "n-0-kind": "field",
        "n-0-field": "custom.seats",
        "n-0-op": "in",
        "n-1-kind": "field",
        "n-1-field": "lead_score",
        "n-1-op": "gt",
        "n-1-value": "lots",
        "n-2-kind": "field",
        "n-2-field": "created_at",
        "n-2-op": "within_last_days",
        "n-2-value": "7",
        "n-3-kind": "field",
        "n-3-field": "city",
        "n-3-op": "in",
        "n-3-value": "Paris, Lyon,,Paris",
        "n-4-kind": "field",
        "n-4-field": "owner",
        "n-4-op": "eq",
        "n-4-value": "3",
    }
    tree = tree_of(data)
    assert tree["all"][1] == {"field": "lead_score", "op": "gt", "value": "lots"}
    assert tree["all"][2]["value"] == 7
    assert tree["all"][3]["value"] == ["Paris", "Lyon"]
    assert tree["all"][4]["value"] == "3"  # the parser reads an id from digits


def test_error_paths_lead_back_to_their_row():
    data = {
        "n-kind": "all",
        "n-0-kind": "field",
        "n-0-field": "email",
        "n-0-op": "is_set",
        "n-1-kind": "any",
        "n-1-0-kind": "field",
        "n-1-0-field": "city",
        "n-1-0-op": "is_set",
        "n-1-1-kind": "field",
        "n-1-1-not": "1",
        "n-1-1-field": "lead_score",
        "n-1-1-op": "gt",
        "n-1-1-value": "lots",
    }
    built = form.to_tree(form.from_form(data), ftype)
    try:
        parse(built.tree, CUSTOM)
    except ValueError as exc:
        path = exc.path
    assert path == "all[1].any[1].not.value"
    assert form.error_row(built, path) == "n-1-1"
    assert form.error_row(built, "all[1].any") == "n-1"
    assert form.error_row(built, "all[9].op") == "n"
    assert form.error_row(built, "") == "n"


def test_tree_to_rows_and_back_is_the_same_tree():
    tree = {
        "any": [
            {"field": "status", "op": "in", "value": ["active", "replied"]},
            {
                "not": {
                    "not": {
                        "field": "birthday",
                        "op": "between",
                        "value": ["2000-01-01", "2000-12-31"],
                    }
                }
            },
            {"not": {"all": [{"field": "custom.plan", "op": "eq", "value": "pro"}]}},
            {"activity": "call", "count": {"op": "between", "value": [1, 3]}},
            {
                "activity": "form_submit",
                "count": {"op": "gte", "value": 1},
                "where": {"score": {"op": "between", "value": [1, 5]}},
            },
            {"event": "purchase", "aggregate": "max", "op": "lt", "value": 9.5},
            {"list": "Newsletter"},
        ]
    }
    root = form.from_tree(tree)
    again = form.to_tree(form.from_form(form.to_fields(root)), ftype).tree
    expected = {**tree, "any": list(tree["any"])}
    expected["any"][1] = tree["any"][1]["not"]["not"]  # NOT of NOT cancels out
    assert again == expected


def test_a_single_condition_becomes_all_of_it():
    root = form.from_tree({"field": "city", "op": "is_set"})
    assert root.kind == "all" and [c.get("field") for c in root.children] == ["city"]


def test_add_and_remove_rows():
    root = form.empty_root()
    assert form.to_tree(root, ftype).tree == {
        "all": [{"field": "email", "op": "contains", "value": ""}]
    }
    root = form.apply(root, "add-group:n")
    root = form.apply(root, "add-field:n-1")
    root = form.apply(root, "add-field:n-0")  # a condition takes no children
    assert [r.path for r in root.walk()] == ["n", "n-0", "n-1", "n-1-0", "n-1-1"]
    assert root.children[1].kind == "any"  # a group in ALL starts as ANY
    root = form.apply(root, "remove:n-0")
    assert [r.path for r in root.walk()] == ["n", "n-0", "n-0-0", "n-0-1"]
    root = form.apply(root, "remove:n")  # never the root
    root = form.apply(root, "remove:n-7")  # nothing there
    assert len(list(root.walk())) == 4


def test_normalise_gives_each_field_an_operator_of_its_type():
    root = form.from_form(
        {
            "n-0-kind": "field",
            "n-0-field": "lead_score",
            "n-0-op": "contains",
            "n-1-kind": "field",
            "n-1-field": "nope",
            "n-1-op": "eq",
        }
    )
    form.normalise(root, ftype, FIELD_OPERATORS)
    assert root.children[0].get("op") == FIELD_OPERATORS["number"][0]
    assert root.children[1].get("field") == "email"
    assert root.children[1].get("op") == "eq"


def test_a_condition_switched_to_another_kind_gets_its_first_values():
    root = form.from_form(
        {
            "n-0-kind": "activity",
            "n-0-field": "email",
            "n-1-kind": "event",
            "n-1-event": "buy",
            "n-1-op": "contains",  # left by the field condition it was
            "n-1-value": "",
        }
    )
    form.normalise(root, ftype, FIELD_OPERATORS)
    assert form.to_tree(root, ftype).tree == {
        "all": [
            {"activity": "email_opened", "count": {"op": "gte", "value": 1}},
            {"event": "buy", "aggregate": "count", "op": "gte", "value": 1},
        ]
    }


def test_value_inputs_fit_the_type():
    assert form.value_input("date", "after", False) == ("date", False)
    assert form.value_input("date", "within_last_days", False) == ("days", False)
    assert form.value_input("number", "between", False) == ("number", False)
    assert form.value_input("text", "eq", True) == ("select", False)
    assert form.value_input("text", "contains", True) == ("text", False)
    assert form.value_input("multi", "contains_all", True) == ("select", True)
    assert form.value_input("text", "in", False) == ("text", True)
    assert form.value_input("boolean", "is_true", False) == ("none", False)
    assert form.value_input("text", "is_set", True) == ("none", False)


def test_form_size_is_bounded():
    data = {f"n-{i}-kind": "field" for i in range(2000)}
    assert len(form.from_form(data).children) == form.MAX_ROWS


def test_contact_list_filter_becomes_a_tree():
    plan = CustomFieldInfo(1, "plan", "select", "Plan", ("free", "pro"))
    seats = CustomFieldInfo(2, "seats", "number", "Seats")
    vip = CustomFieldInfo(3, "vip", "boolean", "VIP")
    renewal = CustomFieldInfo(4, "renewal", "date", "Renewal")
    cq = ContactQuery(
        q="ann smith",
        statuses=["active"],
        tags=["vip"],
        company_id=4,
        owner="none",
        source="fair",
        score_min=10,
        consent=["opted_in"],
        dates={"created": (date(2024, 1, 1), None), "activity": (None, date(2024, 6, 30))},
        list_id=2,
        custom=[
            CustomFilter(plan, "eq", ["free", "pro"]),
            CustomFilter(seats, "min", [5.0]),
            CustomFilter(vip, "eq", [True]),
            CustomFilter(renewal, "from", [date(2025, 1, 1)]),
        ],
        archived="include",
        ids=[1, 2],
    )
    tree, notices = from_query(cq, list_names={2: "Newsletter"})
    search = {
        "any": [
            {"field": f, "op": "contains", "value": "ann"}
            for f in ("first_name", "last_name", "email")
        ]
    }
    assert tree["all"][0] == search
    assert tree["all"][2:] == [
        {"field": "status", "op": "in", "value": ["active"]},
        {"field": "tags", "op": "contains", "value": "vip"},
        {"field": "company", "op": "eq", "value": 4},
        {"field": "owner", "op": "is_not_set"},
        {"field": "source", "op": "eq", "value": "fair"},
        {"field": "lead_score", "op": "gte", "value": 10},
        {"field": "consent_status", "op": "in", "value": ["opted_in"]},
        {"field": "created_at", "op": "after", "value": "2023-12-31"},
        {"field": "last_activity_at", "op": "before", "value": "2024-07-01"},
        {"list": 2},
        {"field": "custom.plan", "op": "in", "value": ["free", "pro"]},
        {"field": "custom.seats", "op": "gte", "value": 5.0},
        {"field": "custom.vip", "op": "is_true"},
        {"field": "custom.renewal", "op": "after", "value": "2024-12-31"},
    ]
    assert parse(tree, CUSTOM)
    assert len(notices) == 3  # the search, the ticked rows, the archived contacts
    assert 'The search "ann smith"' in notices[0]

    gone, notices = from_query(ContactQuery(list_id=9), list_names={})
    assert gone == {"all": []} and "no longer exists" in notices[0]


def test_the_contact_list_reads_a_segment_argument():
    from app.contacts.query import parse_args, to_args

    cq, notices = parse_args({"segment": ["3"], "status": ["active"]})
    assert cq.segment_id == 3 and cq.filtered and not notices
    assert to_args(cq) == {"status": ["active"], "segment": 3}
    cq, notices = parse_args({"segment": ["vip"]})
    assert cq.segment_id is None and notices == ['Ignored "segment": "vip" is not valid.']
