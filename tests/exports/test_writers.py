"""The format writers on their own: neutralisation, vCard escaping and folding, JSON."""

from __future__ import annotations

import json

import pytest
import vobject

from app.exports.writers import JsonWriter, escape_text, fold, neutralise, vcard_lines


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+33612345678", "'+33612345678"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("Ana", "Ana"),
        ("a=b", "a=b"),
        ("", ""),
        ("'quoted", "'quoted"),
    ],
)
def test_neutralise(cell, expected):
    assert neutralise(cell) == expected


def test_escape_text():
    assert escape_text("a,b;c\\d\ne\r\nf") == "a\\,b\\;c\\\\d\\ne\\nf"


def test_fold_at_75_octets_never_inside_a_character():
    line = "NOTE:" + "é" * 100 + "x" * 50  # 2-byte characters cross the boundaries
    folded = fold(line)
    assert folded.endswith("\r\n")
    physical = folded[:-2].split("\r\n")
    assert all(len(p.encode("utf-8")) <= 75 for p in physical)
    assert all(p.startswith(" ") for p in physical[1:])
    assert "".join([physical[0], *(p[1:] for p in physical[1:])]) == line
    assert fold("FN:short") == "FN:short\r\n"


def test_vcard_of_a_minimal_record_parses():
    text = "".join(fold(line) for line in vcard_lines({"email": "x@example.com"}, []))
    card = vobject.readOne(text)
    assert card.fn.value == "x@example.com"
    assert card.email.value == "x@example.com"


def test_json_writer_streams_a_valid_array():
    writer = JsonWriter()
    empty = writer.begin() + writer.end()
    assert json.loads(empty) == []
    records = [{"id": 1, "lists": ["a"], "reports_to": None}, {"id": 2, "lists": []}]
    text = writer.begin()
    text += "".join(writer.item(r, first=i == 0) for i, r in enumerate(records))
    text += writer.end()
    assert json.loads(text) == [{"id": 1}, {"id": 2}]  # only the API form
