"""Sniffing and streaming CSV files: encodings, delimiters, headers, bad files, memory."""

from __future__ import annotations

import csv
import random
import tracemalloc
from pathlib import Path

import pytest

from app.imports.reader import FileInfo, ImportFileError, iter_rows, read_preview, sniff

LINKEDIN = (
    "Notes:\n"
    '"When exporting your connection data, you may notice that some of the email addresses '
    "are missing. You will only see email addresses for connections who have allowed their "
    "connections to see or download their email address using this setting "
    "https://www.linkedin.com/psettings/privacy/email. You can learn more here "
    'https://www.linkedin.com/help/linkedin/answer/261"\n'
    "\n"
    "First Name,Last Name,URL,Email Address,Company,Position,Connected On\n"
    "John,Smith,https://www.linkedin.com/in/jsmith,,Acme,CEO,01 Jan 2024\n"
    'Jane,Doe,https://www.linkedin.com/in/jdoe,jane@example.com,"Acme, Inc.",CTO,02 Feb 2024\n'
)


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def rows(path: Path, info: FileInfo | None = None, start: int = 0) -> list:
    return list(iter_rows(path, info or sniff(path), start=start))


def test_utf8_comma(tmp_path):
    path = write(tmp_path, "c.csv", "Email,First Name\nemilie@example.fr,Émilie\n")
    info = sniff(path)
    assert (info.format, info.encoding, info.delimiter) == ("csv", "utf-8", ",")
    assert info.header_line == 0
    assert info.headers == ["Email", "First Name"]
    assert info.total_estimate == 1
    assert rows(path, info) == [(1, ["emilie@example.fr", "Émilie"])]


def test_utf8_with_bom_semicolon_french_excel(tmp_path):
    data = "\ufeffE-mail;Prénom;Nom\r\nemilie@example.fr;Émilie;Dubois\r\n".encode()
    path = write(tmp_path, "c.csv", data)
    info = sniff(path)
    assert (info.encoding, info.delimiter) == ("utf-8-sig", ";")
    assert info.headers == ["E-mail", "Prénom", "Nom"]  # no BOM glued to the first header
    assert rows(path, info) == [(1, ["emilie@example.fr", "Émilie", "Dubois"])]


def test_utf16_le_tab_delimited_like_excel_unicode_text(tmp_path):
    text = "Email\tPrénom\tSociété\r\nzoe@example.fr\tZoë\tCafé & Co\r\n"
    path = write(tmp_path, "contacts.txt", "\ufeff".encode("utf-16-le") + text.encode("utf-16-le"))
    info = sniff(path)
    assert info.encoding == "utf-16"
    assert info.delimiter == "\t"
    assert info.headers == ["Email", "Prénom", "Société"]
    assert rows(path, info) == [(1, ["zoe@example.fr", "Zoë", "Café & Co"])]


def test_cp1252_accents_and_euro(tmp_path):
    data = "Email;Prénom;Montant\nemilie@example.fr;Émilie;10 €\nj@example.fr;Jérôme;5 €\n"
    raw = data.encode("cp1252")
    assert b"\xe9" in raw and b"\x80" in raw
    path = write(tmp_path, "c.csv", raw)
    info = sniff(path)
    assert info.encoding == "cp1252"
    assert info.headers == ["Email", "Prénom", "Montant"]
    assert rows(path, info)[0] == (1, ["emilie@example.fr", "Émilie", "10 €"])


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
def test_delimiters(tmp_path, delimiter):
    lines = [["email", "first_name", "company"]] + [
        [f"user{i}@example.com", f"Name {i}", "Acme, Inc; Ltd"] for i in range(5)
    ]
    path = tmp_path / "c.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter=delimiter).writerows(lines)
    info = sniff(path)
    assert info.delimiter == delimiter
    assert info.headers == ["email", "first_name", "company"]
    assert rows(path, info)[4] == (5, ["user4@example.com", "Name 4", "Acme, Inc; Ltd"])


def test_tsv_extension_prefers_tab(tmp_path):
    path = write(tmp_path, "c.tsv", "email\tnote\na@example.com\tx,y,z\n")
    assert sniff(path).delimiter == "\t"


def test_one_column_with_header(tmp_path):
    path = write(tmp_path, "c.csv", "Email\na@example.com\nb@example.com\n")
    info = sniff(path)
    assert (info.delimiter, info.headers, info.header_line) == (",", ["Email"], 0)
    assert rows(path, info) == [(1, ["a@example.com"]), (2, ["b@example.com"])]


def test_plain_list_of_emails_without_header(tmp_path):
    path = write(tmp_path, "list.txt", "a@example.com\nb@example.com\n")
    info = sniff(path)
    assert info.header_line == -1
    assert info.headers == ["Email"]
    assert rows(path, info) == [(1, ["a@example.com"]), (2, ["b@example.com"])]


def test_quoted_newline_in_a_cell(tmp_path):
    path = write(
        tmp_path,
        "c.csv",
        'email,address\r\na@example.com,"1 Main St\r\nBuilding 2"\r\nb@example.com,x\r\n',
    )
    assert rows(path) == [
        (1, ["a@example.com", "1 Main St\r\nBuilding 2"]),
        (2, ["b@example.com", "x"]),
    ]


def test_very_long_field(tmp_path):
    long = "x" * 100_000
    path = write(tmp_path, "c.csv", f'email,note\na@example.com,"{long}"\nb@example.com,y\n')
    result = rows(path)
    assert result[0][1][1] == long
    assert result[1] == (2, ["b@example.com", "y"])


def test_ragged_rows_short_padded_long_kept(tmp_path):
    path = write(
        tmp_path,
        "c.csv",
        "email,first,last\na@example.com\nb@example.com,B,Bee,extra,more\nc@example.com,C,Cee\n",
    )
    assert rows(path) == [
        (1, ["a@example.com", "", ""]),
        (2, ["b@example.com", "B", "Bee", "extra", "more"]),
        (3, ["c@example.com", "C", "Cee"]),
    ]


def test_blank_lines_are_skipped_and_not_counted(tmp_path):
    path = write(tmp_path, "c.csv", "email,name\n\na@example.com,A\n,\n  ,  \nb@example.com,B\n\n")
    info = sniff(path)
    assert info.total_estimate == 2
    assert rows(path, info) == [(1, ["a@example.com", "A"]), (2, ["b@example.com", "B"])]


def test_linkedin_connections_preamble(tmp_path):
    path = write(tmp_path, "Connections.csv", LINKEDIN)
    info = sniff(path)
    assert info.delimiter == ","
    assert info.header_line == 3
    assert info.headers == [
        "First Name",
        "Last Name",
        "URL",
        "Email Address",
        "Company",
        "Position",
        "Connected On",
    ]
    result = rows(path, info)
    assert [r[0] for r in result] == [1, 2]
    assert result[1][1][3:5] == ["jane@example.com", "Acme, Inc."]


def test_empty_and_duplicate_headers_are_named(tmp_path):
    path = write(tmp_path, "c.csv", "Email, ,Email,email,Name\na@x.com,1,b@x.com,c@x.com,A\n")
    assert sniff(path).headers == ["Email", "Column 2", "Email (2)", "email (3)", "Name"]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"  \r\n\r\n", b"\xff\xfe"])
def test_empty_file_is_refused(tmp_path, data):
    with pytest.raises(ImportFileError) as exc:
        sniff(write(tmp_path, "c.csv", data))
    assert exc.value.message == "The file is empty."


def test_only_headers_gives_zero_rows(tmp_path):
    path = write(tmp_path, "c.csv", "email,first_name\n")
    info = sniff(path)
    assert info.total_estimate == 0
    assert rows(path, info) == []


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + random.Random(1).randbytes(5000),
        random.Random(1).randbytes(5000),
    ],
    ids=["png", "random"],
)
def test_binary_garbage_is_refused(tmp_path, data):
    with pytest.raises(ImportFileError) as exc:
        sniff(write(tmp_path, "contacts.csv", data))
    assert exc.value.message == "This file is not a text file (CSV, TSV or vCard)."


def test_excel_workbook_gets_a_helpful_message(tmp_path):
    with pytest.raises(ImportFileError) as exc:
        sniff(write(tmp_path, "contacts.xlsx", b"PK\x03\x04" + bytes(200)))
    assert "CSV" in exc.value.message


def test_nul_bytes_do_not_crash(tmp_path):
    path = write(tmp_path, "c.csv", b"email,name\na@example.com,Al\x00ice\nb@example.com,Bob\n")
    assert rows(path) == [(1, ["a@example.com", "Alice"]), (2, ["b@example.com", "Bob"])]


def test_invalid_utf8_after_the_sample_is_replaced_not_fatal(tmp_path):
    body = "".join(f"user{i}@example.com,Name {i}\n" for i in range(20_000))
    data = ("email,name\n" + body).encode() + b"late@example.com,Caf\xe9\n"
    path = write(tmp_path, "c.csv", data)
    info = sniff(path)
    assert info.encoding == "utf-8"
    last = rows(path, info)[-1]
    assert last == (20_001, ["late@example.com", "Caf\ufffd"])


def test_sample_cut_inside_a_multibyte_character(tmp_path):
    prefix = "email,name\nx@example.com,"
    filler = "a" * (256 * 1024 - 1 - len(prefix))
    data = (prefix + filler + "é\n" + "y@example.com,b\n").encode()
    assert data[256 * 1024 - 1 : 256 * 1024 + 1] == "é".encode()  # é straddles the cut
    path = write(tmp_path, "c.csv", data)
    assert sniff(path).encoding == "utf-8"


def test_start_skips_rows_with_the_same_numbers(tmp_path):
    lines = "email,n\n" + "".join(
        f"u{i}@example.com,{i}\n" + ("\n" if i % 3 == 0 else "") for i in range(50)
    )
    path = write(tmp_path, "c.csv", lines)
    info = sniff(path)
    everything = rows(path, info)
    assert [n for n, _ in everything] == list(range(1, 51))
    for k in (0, 1, 17, 49, 50, 60):
        assert rows(path, info, start=k) == everything[k:]


def test_read_preview(tmp_path):
    path = write(tmp_path, "c.csv", "email\n" + "".join(f"u{i}@example.com\n" for i in range(30)))
    info = sniff(path)
    preview = read_preview(path, info)
    assert len(preview) == 20 and preview[0] == (1, ["u0@example.com"])
    assert read_preview(path, info, n=3)[-1] == (3, ["u2@example.com"])


def test_large_file_streams_with_flat_memory(tmp_path):
    path = tmp_path / "big.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        f.write("email,first_name,last_name,company,city\n")
        for i in range(200_000):
            f.write(f"user{i}@example.com,First{i},Last{i},Company {i % 97},Paris\n")
    info = sniff(path)
    assert 150_000 < info.total_estimate < 250_000
    tracemalloc.start()
    try:
        count = last = 0
        for number, cells in iter_rows(path, info):
            count += 1
            last = number
            assert len(cells) == 5
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == last == 200_000
    assert peak < 20 * 1024 * 1024
