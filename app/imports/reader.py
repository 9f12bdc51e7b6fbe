"""Read an uploaded contact file: sniff its format, encoding, delimiter and header,
then stream its data rows with flat memory (pure: no Flask, no database).

Row numbers: `iter_rows` numbers the rows it yields from 1, counting only non-blank
data rows (a record whose cells are all empty or whitespace is skipped and not counted).
For vCard files every card counts, including one that cannot be read (yielded with
cells == []). `iter_rows(start=k)` yields exactly what `iter_rows()` yields after its
first k rows, with the same numbers, so a job can resume from a row checkpoint.
"""

from __future__ import annotations

import codecs
import csv
import io
import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

import charset_normalizer

from app.i18n import N_, Message

SAMPLE_BYTES = 256 * 1024
FIELD_SIZE_LIMIT = 10 * 1024 * 1024
DELIMITERS = (",", ";", "\t", "|")
CSV_EXTENSIONS = (".csv", ".tsv", ".txt", ".tab")
VCARD_EXTENSIONS = (".vcf", ".vcard")
WORKBOOK_EXTENSIONS = (".xlsx", ".xlsm", ".xls", ".ods", ".numbers")

csv.field_size_limit(FIELD_SIZE_LIMIT)

NOT_TEXT = N_("This file is not a text file (CSV, TSV or vCard).")
EMPTY = N_("The file is empty.")
WORKBOOK = N_(
    "This is a spreadsheet workbook, not a CSV file: save it as CSV from your "
    "spreadsheet program (File > Save as, or Download as CSV), then import that file."
)
NO_VCARD = N_("This file has no vCard in it (no BEGIN:VCARD line).")
CELL_TOO_LONG = N_(
    "Row %(row)s could not be read: a cell is longer than 10 MB, "
    'probably because a quote (") is never closed.'
)


class ImportFileError(ValueError):
    """The file cannot be imported at all; `.message` is a user-facing message."""

    def __init__(self, message: str):
        super().__init__(str(message))
        self.message = message


@dataclass(frozen=True)
class FileInfo:
    """What `sniff` found out about a file; `iter_rows` needs it to read the rows.

    header_line is the 0-based index of the header among the file's CSV records
    (blank records included), or -1 when the file has no header row (a bare list of
    emails): data then starts at record 0 and the headers were made up.
    """

    format: str  # "csv" or "vcard"
    encoding: str
    delimiter: str | None
    header_line: int
    headers: list[str] = field(default_factory=list)
    total_estimate: int | None = None


# ---------------------------------------------------------------- sniffing


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_CONTROL_BYTES = frozenset(set(range(32)) - {9, 10, 11, 12, 13} | {127})
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")
# Non-letter characters a Western European text in cp1252 plausibly contains:
# euro, quotes, dashes, ellipsis, bullet, (tm), (c), (r), degree, pound, section...
_WESTERN_SYMBOLS = set(
    "\u20ac\u201a\u201e\u2026\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u2122"
    "\xa0\xa1\xa2\xa3\xa5\xa7\xa9\xab\xae\xb0\xb2\xb3\xb5\xb7\xbb\xbd\xbf"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_NUMERIC = re.compile(r"^[\d\s\-+./:()%,€$£]*\d[\d\s\-+./:()%,€$£]*$")
_URL = re.compile(r"^(https?://|www\.)", re.I)


def _too_many_controls(count: int, length: int) -> bool:
    return count > 2 + length // 200


def _bom_encoding(raw: bytes) -> tuple[str | None, int]:
    for bom, name in _BOMS:
        if raw.startswith(bom):
            return name, len(bom)
    return None, 0


def _utf16_without_bom(raw: bytes) -> str | None:
    head = raw[:4096]
    pairs = len(head) // 2
    if pairs < 2:
        return None
    even = sum(1 for i in range(0, pairs * 2, 2) if head[i] == 0)
    odd = sum(1 for i in range(1, pairs * 2, 2) if head[i] == 0)
    if odd > 0.3 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.3 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


def _decode_sample(raw: bytes, encoding: str, truncated: bool) -> str:
    """Decode a sample that may end in the middle of a multi-byte character."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
    return decoder.decode(raw, final=not truncated)


def _looks_western(raw: bytes) -> bool:
    """cp1252 decodes the bytes and the result reads like a Western European text."""
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return False
    non_ascii = [c for c in text if ord(c) > 127]
    if not non_ascii:
        return True
    if sum(c.isalpha() or c in _WESTERN_SYMBOLS for c in non_ascii) < 0.9 * len(non_ascii):
        return False
    letters = sum(c.isalpha() for c in text)
    accented = sum(c.isalpha() for c in non_ascii)
    # Cyrillic or Greek read as cp1252 is nearly all accented letters.
    return accented <= 0.3 * max(letters, 1)


def _detect_encoding(raw: bytes, truncated: bool) -> str:
    name, _ = _bom_encoding(raw)
    if name:
        return name
    utf16 = _utf16_without_bom(raw)
    if utf16:
        return utf16
    if _too_many_controls(sum(b in _CONTROL_BYTES for b in raw), len(raw)):
        raise ImportFileError(NOT_TEXT)
    try:
        codecs.getincrementaldecoder("utf-8")().decode(raw, final=not truncated)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    if _looks_western(raw):
        return "cp1252"
    best = charset_normalizer.from_bytes(raw).best()
    if best is None:
        raise ImportFileError(NOT_TEXT)
    encoding = codecs.lookup(best.encoding).name
    if encoding in ("iso8859-1", "latin-1", "ascii"):
        encoding = "cp1252"
    return encoding


def _is_blank(cells: list[str]) -> bool:
    return not "".join(cells).strip()


def _nonempty(cells: list[str]) -> int:
    return sum(1 for c in cells if c.strip())


def _data_like(cell: str) -> bool:
    c = cell.strip()
    return bool(c) and bool(_EMAIL.match(c) or _NUMERIC.match(c) or _URL.match(c))


def _looks_like_header(cells: list[str]) -> bool:
    filled = [c for c in cells if c.strip()]
    if not filled or len(filled) * 2 < len(cells):
        return False
    return sum(_data_like(c) for c in filled) * 4 <= len(filled)


def _records(text: str, delimiter: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _dominant(records: list[list[str]]) -> tuple[int, int]:
    """(most frequent field count among non-blank records, how many records have it)."""
    counts = Counter(len(r) for r in records if not _is_blank(r))
    if not counts:
        return 0, 0
    width, n = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    return width, n


def _sniff_delimiter(text: str, prefer_tab: bool) -> tuple[str, list[list[str]]]:
    scored = []
    for d in DELIMITERS:
        records = _records(text, d)
        width, n = _dominant(records)
        score = n if width > 1 else 0
        scored.append((score, width, d, records))
    if prefer_tab:
        tab = next(s for s in scored if s[2] == "\t")
        if tab[0] > 0:
            return "\t", tab[3]
    best = max(scored, key=lambda s: (s[0], s[1], -DELIMITERS.index(s[2])))
    if best[0] == 0:
        comma = scored[0]
        return ",", comma[3]
    return best[2], best[3]


def unique_headers(names: Iterable[str]) -> list[str]:
    """Strip names, name empty ones "Column N" and make duplicates "Email (2)"."""
    out: list[str] = []
    seen: set[str] = set()
    for i, raw in enumerate(names):
        name = (raw or "").replace("\x00", "").strip().lstrip("\ufeff").strip()
        if not name:
            name = Message(N_("Column %(n)s"), n=i + 1)
        candidate, k = name, 2
        while candidate.casefold() in seen:
            candidate = f"{name} ({k})"
            k += 1
        seen.add(candidate.casefold())
        out.append(candidate)
    return out


def _find_header(records: list[list[str]], width: int) -> tuple[int, list[str]]:
    """(header record index or -1 when there is none, header cells)."""
    need = min(width, max(2, math.ceil(width / 2))) if width > 1 else 1
    for index, record in enumerate(records[:200]):
        if _is_blank(record) or _nonempty(record) < need:
            continue
        if _looks_like_header(record):
            return index, record
        if any(_EMAIL.match(c.strip()) for c in record):
            return -1, _made_up_headers(records[index:], max(width, len(record)))
        return index, record
    return 0, records[0] if records else []


def _made_up_headers(rows: list[list[str]], width: int) -> list[str]:
    names = []
    for col in range(width):
        values = [r[col].strip() for r in rows[:200] if col < len(r) and r[col].strip()]
        emails = sum(1 for v in values if _EMAIL.match(v))
        names.append("Email" if values and emails * 2 > len(values) else "")
    return names


def sniff(path: str | Path, filename: str | None = None) -> FileInfo:
    """Find out a file's format, encoding, delimiter and header from its first 256 KB.

    Raises ImportFileError when the file is empty or not a text file.
    """
    path = Path(path)
    size = path.stat().st_size
    with path.open("rb") as f:
        raw = f.read(SAMPLE_BYTES)
    if not raw:
        raise ImportFileError(EMPTY)
    truncated = size > len(raw)
    ext = Path(filename or path.name).suffix.lower()
    if raw.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")):  # zip (xlsx, ods) or OLE (xls)
        raise ImportFileError(WORKBOOK if ext in (*WORKBOOK_EXTENSIONS, "") else NOT_TEXT)

    encoding = _detect_encoding(raw, truncated)
    decoded = _decode_sample(raw, encoding, truncated).lstrip("\ufeff")
    if _too_many_controls(len(_CONTROL_CHARS.findall(decoded)), len(decoded)):
        raise ImportFileError(NOT_TEXT)
    text = decoded.replace("\x00", "")
    if not text.strip():
        raise ImportFileError(EMPTY)
    if truncated:  # drop the last, probably incomplete, line
        cut = max(text.rfind("\n"), text.rfind("\r"))
        if cut > 0:
            text = text[: cut + 1]
    # bytes of the file the sample text stands for, to scale counts up to the whole file
    sample_bytes = max(1, int(len(raw) * len(text) / max(len(decoded), 1)))

    if text.lstrip().upper().startswith("BEGIN:VCARD") or ext in VCARD_EXTENSIONS:
        from app.imports.vcard import VCARD_HEADERS

        cards = len(re.findall(r"^[ \t]*BEGIN:VCARD[ \t]*\r?$", text, re.I | re.M))
        if not cards:
            raise ImportFileError(NO_VCARD)
        estimate = round(cards * size / sample_bytes) if truncated else cards
        return FileInfo("vcard", encoding, None, 0, list(VCARD_HEADERS), estimate)

    delimiter, records = _sniff_delimiter(text, prefer_tab=ext in (".tsv", ".tab"))
    width, _ = _dominant(records)
    header_line, header = _find_header(records, width)
    if len(header) < width:
        header = list(header) + [""] * (width - len(header))
    headers = unique_headers(header)
    data = sum(1 for r in records[header_line + 1 :] if not _is_blank(r))
    if truncated:
        estimate = round(len(records) * size / sample_bytes) - header_line - 1
        estimate = max(estimate, data)
    else:
        estimate = data
    return FileInfo("csv", encoding, delimiter, header_line, headers, estimate)


# ---------------------------------------------------------------- reading


def _lines(f: Iterable[str]) -> Iterator[str]:
    for line in f:
        yield line.replace("\x00", "") if "\x00" in line else line


def iter_rows(path: str | Path, info: FileInfo, start: int = 0) -> Iterator[tuple[int, list[str]]]:
    """Stream (row_number, cells) for the data rows after the header, from row start+1.

    Short rows are padded with "" to len(info.headers); long rows are yielded as they
    are. Blank rows are skipped and not numbered. A vCard that cannot be read is
    yielded with cells == []. Raises ImportFileError if a cell runs past 10 MB.
    """
    if info.format == "vcard":
        from app.imports.vcard import iter_vcard_rows

        yield from iter_vcard_rows(path, info.encoding, start=start)
        return
    width = len(info.headers)
    number = 0
    with open(path, encoding=info.encoding, errors="replace", newline="") as f:
        reader = csv.reader(_lines(f), delimiter=info.delimiter or ",")
        try:
            for _ in range(info.header_line + 1):
                if next(reader, None) is None:
                    return
            for cells in reader:
                if not "".join(cells).strip():
                    continue
                number += 1
                if number <= start:
                    continue
                if len(cells) < width:
                    cells.extend([""] * (width - len(cells)))
                yield number, cells
        except csv.Error:
            raise ImportFileError(Message(CELL_TOO_LONG, row=number + 1)) from None


def read_preview(path: str | Path, info: FileInfo, n: int = 20) -> list[tuple[int, list[str]]]:
    """The first n data rows (as iter_rows yields them)."""
    return list(islice(iter_rows(path, info), n))
