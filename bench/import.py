"""`kontor bench import`: how fast does a big CSV import, and does memory stay flat?

In fresh temporary instances it:
1. writes a realistic CSV of N rows (12 columns, accented names, phones in national
   and international formats, tags, a custom field; 10% of the rows carry the email of
   a contact that exists already, 1% are invalid);
2. imports it with `kontor import` in a child process, the same code path as the
   wizard's job, after pre-loading the 10% existing contacts, and reads the child's
   wall time and peak RSS (os.wait4);
3. does the same with a 10% sample of the file, to compare peak RSS at two sizes;
4. as the baseline, loads the same rows with plain sqlite3 `executemany` (csv.reader,
   lower-cased email, INSERT ... ON CONFLICT(email) DO UPDATE) into the same migrated
   schema, in one transaction, and reports our rate as a fraction of it.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import unicodedata
from pathlib import Path
from random import Random
from typing import Any

HEADERS = [
    "Email",
    "First Name",
    "Last Name",
    "Company",
    "Job Title",
    "Phone",
    "City",
    "Country",
    "Tags",
    "Source",
    "Lifecycle Stage",
    "Plan",
]
EXISTING_SHARE = 0.10
INVALID_SHARE = 0.01


def run(rows: int = 1_000_000, as_json: bool = False, **_: Any) -> dict[str, Any]:
    """Generate, import and compare; print the figures (JSON with as_json) and return them."""
    keep = os.environ.get("KONTOR_BENCH_KEEP") == "1"
    folder = Path(tempfile.mkdtemp(prefix="kontor-bench-import-"))

    def say(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    try:
        result = _run(folder, rows, say)
    finally:
        if keep:
            say(f"Kept in {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, indent=2) if as_json else _summary(result))
    return result


def _run(folder: Path, n: int, say) -> dict[str, Any]:
    small = max(1000, n // 10)
    say(f"Writing {n:,} rows ...")
    big_csv = folder / "contacts.csv"
    small_csv = folder / "contacts-small.csv"
    existing = _write_csv(big_csv, n, seed=1)
    existing_small = _write_csv(small_csv, small, seed=2)
    size_mb = big_csv.stat().st_size / 1e6

    say(f"Importing {small:,} rows (memory reference) ...")
    small_run = _import(folder / "small", small_csv, existing_small, say)
    say(f"Importing {n:,} rows ...")
    big_run = _import(folder / "big", big_csv, existing, say)
    say("Baseline: sqlite3 executemany of the same rows ...")
    baseline = _baseline(folder / "baseline", big_csv, existing)
    rate = n / big_run["seconds"]
    return {
        "rows": n,
        "file_mb": round(size_mb, 1),
        "import": {**big_run, "rows_per_s": round(rate)},
        "baseline_executemany": baseline,
        "ratio_to_baseline": round(rate / baseline["rows_per_s"], 3),
        "peak_rss_mb": {
            f"{small:,} rows": small_run["peak_rss_mb"],
            f"{n:,} rows": big_run["peak_rss_mb"],
        },
        "goals": {"ratio": 0.5, "peak_rss_mb": 300},
    }


# --- the data --------------------------------------------------------------------------

FIRST = [
    "Émilie",
    "Camille",
    "Léa",
    "Chloé",
    "Zoé",
    "Hélène",
    "Céline",
    "Anaïs",
    "Noémie",
    "Clémence",
    "Lucas",
    "Hugo",
    "Théo",
    "Raphaël",
    "Jérôme",
    "François",
    "Stéphane",
    "Benoît",
    "Loïc",
    "Étienne",
    "Jürgen",
    "Jörg",
    "Björn",
    "Søren",
    "Åsa",
    "Małgorzata",
    "Łukasz",
    "Zoë",
    "Siobhán",
    "Seán",
    "Núria",
    "Joan",
    "Inés",
    "José",
    "María",
    "Ana",
    "Paul",
    "Mary",
    "John",
    "Olivia",
    "Noah",
    "Emma",
    "Liam",
]
LAST = [
    "Martin",
    "Dubois",
    "Durand",
    "Lefèvre",
    "Müller",
    "Schäfer",
    "Weiß",
    "Größer",
    "Østergaard",
    "Åberg",
    "Nowak",
    "Wiśniewski",
    "Kowalczyk",
    "García",
    "Martínez",
    "López",
    "Fernández",
    "O'Brien",
    "Murphy",
    "Smith",
    "Johnson",
    "Brown",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Dupont",
    "Lambert",
    "Garnier",
    "Chevalier",
    "Ménard",
    "Duchêne",
]
DOMAINS = ("gmail.com", "orange.fr", "free.fr", "web.de", "outlook.com", "yahoo.com")
CITIES = (
    ("Paris", "FR", "+33 6 {f} {b} {c} {d}"),
    ("Lyon", "FR", "06 {f} {b} {c} {d}"),
    ("Berlin", "DE", "+49 151 {a}{b}{c}{d}"),
    ("München", "DE", "0170 {a}{b}{c}{d}"),
    ("Madrid", "ES", "+34 612 {e} {e}"),
    ("London", "GB", "+44 7911 {f}{c}{d}"),
    ("New York", "US", "+1 212-555-{a}{b}"),
    ("Kraków", "PL", "+48 512 {e} {e}"),
)
TITLES = ("CEO", "CTO", "Head of Sales", "Directrice marketing", "Développeur", "Einkäufer", "")
TAGS = ("vip", "prospect", "salon 2026", "newsletter", "partenaire", "")
SOURCES = ("Website form", "Referral", "LinkedIn", "Trade show", "Import")
STAGES = ("Lead", "Marketing qualified lead", "Customer", "Opportunity", "")
PLANS = ("free", "pro", "team", "")


def _ascii(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isascii() and (c.isalnum() or c == "."))


def _email(i: int, first: str, last: str, rng: Random) -> str:
    return f"{_ascii(first)}.{_ascii(last)}.{i}@{rng.choice(DOMAINS)}"


def _write_csv(path: Path, n: int, seed: int) -> list[tuple[str, str, str]]:
    """Write the file; return the (email, first, last) of the contacts that exist before."""
    rng = Random(seed)
    existing: list[tuple[str, str, str]] = []
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(HEADERS)
        for i in range(n):
            first, last = rng.choice(FIRST), rng.choice(LAST)
            email = _email(i, first, last, rng)
            city, country, phone_fmt = rng.choice(CITIES)
            a, b, c, d = (rng.randrange(10, 100) for _ in range(4))
            phone = phone_fmt.format(
                a=a, b=b, c=c, d=d, e=rng.randrange(100, 1000), f=rng.randrange(10, 39)
            )
            r = rng.random()
            if r < INVALID_SHARE:
                email = email.replace("@", " at ")  # refused: not an email
            elif r < INVALID_SHARE + EXISTING_SHARE:
                existing.append((email, first, last))
                first = first.upper()  # the update changes something
            company = f"{rng.choice(LAST)} {rng.choice(('SA', 'GmbH', 'SL', 'Ltd', 'SAS'))}"
            w.writerow(
                [
                    email.upper() if rng.random() < 0.05 else email,
                    first,
                    last,
                    company if rng.random() < 0.8 else "",
                    rng.choice(TITLES),
                    phone if rng.random() < 0.7 else "",
                    city,
                    country,
                    rng.choice(TAGS),
                    rng.choice(SOURCES),
                    rng.choice(STAGES),
                    rng.choice(PLANS),
                ]
            )
    return existing


# --- our import -----------------------------------------------------------------------


def _instance(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "KONTOR_INSTANCE": str(folder),
        "DATABASE_URL": f"sqlite:///{folder / 'kontor.db'}",
        "KONTOR_CONTACT_LIMIT": "",
    }
    env.pop("REDIS_URL", None)
    kontor = str(Path(sys.executable).parent / "kontor")
    subprocess.run([kontor, "setup", "--no-demo"], env=env, check=True, capture_output=True)
    return env


def _preload(db_path: Path, existing: list[tuple[str, str, str]], *, with_fields: bool) -> None:
    """The contacts that exist before the import (plain inserts, not timed)."""
    con = sqlite3.connect(db_path)
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    con.executemany(
        "INSERT INTO contacts (email, first_name, last_name, status, consent_status, lead_score,"
        " version, search_text, created_at, updated_at) VALUES (?,?,?,'active','unknown',0,1,?,?,?)",
        [(e.lower(), f, last, f"{f} {last} {e}".lower(), now, now) for e, f, last in existing],
    )
    if with_fields:
        con.execute(
            "INSERT INTO custom_fields (name, label, type, options, position, created_at)"
            " VALUES ('plan', 'Plan', 'select', '[\"free\", \"pro\", \"team\"]', 0, ?)",
            (now,),
        )
    con.commit()
    con.close()


def _import(folder: Path, csv_path: Path, existing, say) -> dict[str, Any]:
    env = _instance(folder)
    _preload(folder / "kontor.db", existing, with_fields=True)
    kontor = str(Path(sys.executable).parent / "kontor")
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [kontor, "import", str(csv_path), "--map", "Lifecycle Stage=", "--tag", "bench"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - t0
    if status != 0:
        raise RuntimeError(f"kontor import failed ({status}): {out}")
    summary = json.loads(out.strip().splitlines()[-1])
    say(f"  {summary} in {seconds:.1f} s")
    return {
        "seconds": round(seconds, 2),
        "summary": {
            k: summary[k] for k in ("created", "updated", "unchanged", "skipped", "failed")
        },
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
    }


# --- the baseline ---------------------------------------------------------------------


def _baseline(folder: Path, csv_path: Path, existing) -> dict[str, Any]:
    _instance(folder)
    db_path = folder / "kontor.db"
    _preload(db_path, existing, with_fields=False)
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=NORMAL")
    now = time.strftime("%Y-%m-%d %H:%M:%S")
    sql = (
        "INSERT INTO contacts (email, first_name, last_name, job_title, phone, city, country,"
        " source, status, consent_status, lead_score, version, search_text, created_at,"
        " updated_at) VALUES (?,?,?,?,?,?,?,?,'active','unknown',0,1,?,?,?)"
        " ON CONFLICT(email) DO UPDATE SET first_name=excluded.first_name,"
        " last_name=excluded.last_name, job_title=excluded.job_title, phone=excluded.phone,"
        " city=excluded.city, country=excluded.country, source=excluded.source,"
        " search_text=excluded.search_text, updated_at=excluded.updated_at"
    )
    t0 = time.perf_counter()
    with open(csv_path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        rows = (
            (
                r[0].lower(), r[1], r[2], r[4], r[5], r[6], r[7], r[9],
                f"{r[1]} {r[2]} {r[0]}".lower(), now, now,
            )
            for r in reader
        )  # fmt: skip
        con.execute("BEGIN")
        con.executemany(sql, rows)
        con.execute("COMMIT")
    seconds = time.perf_counter() - t0
    count = con.execute("SELECT count(*) FROM contacts").fetchone()[0]
    con.close()
    with open(csv_path, encoding="utf-8") as f:
        rows_n = sum(1 for _ in f) - 1
    return {"seconds": round(seconds, 2), "rows_per_s": round(rows_n / seconds), "contacts": count}


def _summary(result: dict[str, Any]) -> str:
    imp, base = result["import"], result["baseline_executemany"]
    return (
        f"{result['rows']:,} rows ({result['file_mb']} MB): {imp['rows_per_s']:,} rows/s "
        f"({imp['seconds']} s), baseline executemany {base['rows_per_s']:,} rows/s, "
        f"ratio {result['ratio_to_baseline']} (goal 0.5); peak RSS {result['peak_rss_mb']} "
        f"(goal <= 300 MB); {imp['summary']}"
    )
