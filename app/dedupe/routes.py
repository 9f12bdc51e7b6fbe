"""Duplicates pages: the review queue, one pair side by side (or two contacts picked by
hand), merge, "not a duplicate", bulk merge with a preview, merges and their undo.

Thin: the queue's queries are in app.dedupe.queue, the choices in app.dedupe.merge and
the writes in app.dedupe.merger. Each page also works by full page load; from the
queue, htmx swaps the row out and shows a flash.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from app.auth.models import User
from app.auth.permissions import actor, require
from app.companies.models import Company
from app.contacts.fields import BY_NAME
from app.contacts.models import Contact, CustomField
from app.contacts.query import ContactQuery, fetch_page
from app.dedupe import bp, queue
from app.dedupe import merge as merge_plan
from app.dedupe.merger import MergeError, can_undo, label, merge, record, undo_deadline, undo_merge
from app.dedupe.merger import dismiss as dismiss_pair
from app.dedupe.models import DuplicatePair, Merge
from app.extensions import db
from app.htmx import is_htmx, redirect, render, trigger
from app.jobs import queue as job_queue
from app.jobs import runner
from app.lists.models import ContactList
from app.lists.service import STATUS_LABELS
from app.templating import display, tr
from app.timeutil import utcnow

BULK_DEFAULT = 95
SEARCH_LIMIT = 10


# ---------------------------------------------------------------- helpers


def _flash_oob(message: str, category: str = "success") -> str:
    return render_template("contacts/_flash_oob.html", message=message, category=category)


def _int_arg(name: str, default: int | None = None, lo: int = 0, hi: int = 2**31) -> int | None:
    raw = (request.values.get(name) or "").strip()
    if not raw.isdigit():
        return default
    return min(max(int(raw), lo), hi)


def _next_url(default: str) -> str:
    """Where to go after a form: a local path given in `next`, else `default`."""
    target = request.values.get("next", "")
    if target.startswith("/") and target[1:2] not in ("/", "\\"):
        return target
    return default


def _error_response(message: str):
    """An error for a row action: a flash to htmx (nothing swapped; htmx ignores the body
    of a 4xx answer, so it is a 200 like the contact list's bulk errors), else a redirect
    back with the flash."""
    if is_htmx():
        response = make_response(_flash_oob(message, "error"))
        response.headers["HX-Reswap"] = "none"
        return response
    flash(message, "error")
    return redirect(_next_url(url_for("dedupe.index")))


def _default_threshold() -> int:
    from app.dedupe.matcher import DEFAULT_THRESHOLD

    return int(DEFAULT_THRESHOLD)


# ---------------------------------------------------------------- the queue


@bp.route("/")
@require("read")
def index():
    """Open suggested pairs, highest score first, 25 a page."""
    min_score = _int_arg("min_score", None, 0, 100)
    cluster = _int_arg("cluster")
    page = queue.open_pairs(
        db.session, page=_int_arg("page", 1, 1) or 1, min_score=min_score, cluster=cluster
    )
    ctx = {
        "page": page,
        "min_score": min_score,
        "cluster": cluster,
        "last_scan": queue.last_scan(db.session),
        "can_write": actor().can("write"),
        "bulk_default": BULK_DEFAULT,
        "here": request.full_path.rstrip("?"),
    }
    return render("dedupe/index.html", "queue", **ctx)


@bp.route("/<int:pair_id>/dismiss", methods=["POST"])
@require("write")
def dismiss(pair_id: int):
    """Not a duplicate: remembered, never suggested again."""
    try:
        dismiss_pair(pair_id, actor=actor(), via="web")
        db.session.commit()
    except MergeError as exc:
        db.session.rollback()
        if exc.code == "not_found":
            abort(404)
        return _error_response(tr(exc.message))
    message = _("Marked as not a duplicate: this pair will not be suggested again.")
    if is_htmx():
        return make_response(_flash_oob(message))  # the row is swapped out (empty body)
    flash(message, "success")
    return redirect(_next_url(url_for("dedupe.index")))


# ---------------------------------------------------------------- one pair, side by side


def _ref_names(records: list[dict[str, Any]]) -> dict[tuple[str, Any], str]:
    """Display names of the company, owner and contact references of some records."""
    names: dict[tuple[str, Any], str] = {}
    ids: dict[str, set[int]] = {"company": set(), "owner": set(), "contact": set()}
    for r in records:
        f = r["fields"]
        if f.get("company"):
            ids["company"].add(f["company"])
        if f.get("owner"):
            ids["owner"].add(f["owner"])
        for name in merge_plan.REF_CONTACT_FIELDS:
            if f.get(name):
                ids["contact"].add(f[name])
    if ids["company"]:
        for cid, name in db.session.execute(
            select(Company.id, Company.name).where(Company.id.in_(ids["company"]))
        ):
            names[("company", cid)] = name
    if ids["owner"]:
        for user in db.session.scalars(select(User).where(User.id.in_(ids["owner"]))):
            names[("owner", user.id)] = user.display_name
    if ids["contact"]:
        for c in db.session.scalars(select(Contact).where(Contact.id.in_(ids["contact"]))):
            names[("contact", c.id)] = label(c)
    return names


def _shown(name: str, value: Any, names: dict[tuple[str, Any], str]) -> str:
    if value is None or value == "" or value == []:
        return ""
    if name in ("company", "owner"):
        return names.get((name, value), str(value))
    if name in merge_plan.REF_CONTACT_FIELDS:
        return names.get(("contact", value), str(value))
    return display(value, name)


def _side(choice: str, survivor_side: str) -> str:
    """ "survivor"/"other" -> "a"/"b" for the page."""
    if choice in ("both", "value"):
        return choice
    other_side = "b" if survivor_side == "a" else "a"
    return survivor_side if choice == "survivor" else other_side


def _compare_context(a: Contact, b: Contact, pair: DuplicatePair | None) -> dict[str, Any]:
    """Both records field by field, the default survivor and the default choices."""
    ra, rb = record(a), record(b)
    surv, _other = merge_plan.choose_survivor(ra, rb)
    survivor_side = "a" if surv is ra else "b"
    chosen_survivor = request.values.get("survivor")
    if chosen_survivor in ("a", "b"):
        survivor_side = chosen_survivor
    s_rec, o_rec = (ra, rb) if survivor_side == "a" else (rb, ra)
    defaults = {
        k: _side(v, survivor_side) for k, v in merge_plan.default_choices(s_rec, o_rec).items()
    }
    names = _ref_names([ra, rb])
    rows = []
    for name in (*merge_plan.CHOICE_FIELDS, "secondary_emails", "secondary_phones"):
        va, vb = ra["fields"].get(name), rb["fields"].get(name)
        if merge_plan.is_empty(va) and merge_plan.is_empty(vb):
            continue
        rows.append(
            {
                "key": name,
                "label": _(BY_NAME[name].label),
                "a": _shown(name, va, names),
                "b": _shown(name, vb, names),
                "differs": name in defaults,
                "choice": request.values.get(f"f.{name}") or defaults.get(name),
                "combined": name in ("secondary_emails", "secondary_phones"),
            }
        )
    fields = {
        f.name: f
        for f in db.session.scalars(
            select(CustomField).order_by(CustomField.position, CustomField.id)
        )
    }
    custom_rows = []
    for fname, f in fields.items():
        va, vb = ra["custom"].get(fname, []), rb["custom"].get(fname, [])
        if not va and not vb:
            continue
        key = f"custom.{fname}"
        custom_rows.append(
            {
                "key": key,
                "label": f.label or f.name,
                "a": display(va),
                "b": display(vb),
                "differs": key in defaults,
                "choice": request.values.get(f"f.{key}") or defaults.get(key),
                "multi": f.type == "multiselect",
            }
        )
    lists = dict(
        db.session.execute(
            select(ContactList.id, ContactList.name).where(
                ContactList.id.in_(set(ra["memberships"]) | set(rb["memberships"]))
            )
        ).all()
    )
    list_rows = []
    for list_id, list_name in sorted(lists.items(), key=lambda kv: kv[1].casefold()):
        ma, mb = ra["memberships"].get(list_id), rb["memberships"].get(list_id)
        s_m, o_m = (ma, mb) if survivor_side == "a" else (mb, ma)
        result = merge_plan.combine_membership(s_m, o_m) if s_m and o_m else (s_m or o_m)["status"]
        list_rows.append(
            {
                "name": list_name,
                "a": tr(STATUS_LABELS[ma["status"]]) if ma else "",
                "b": tr(STATUS_LABELS[mb["status"]]) if mb else "",
                "result": tr(STATUS_LABELS[result]),
            }
        )
    score, reasons = None, []
    if pair is not None:
        score, reasons = pair.score, queue.describe(pair.reasons)
    else:
        score, reasons = _score(a.id, b.id)
    return {
        "a": a,
        "b": b,
        "ra": ra,
        "rb": rb,
        "pair": pair,
        "score": score,
        "reasons": reasons,
        "survivor_side": survivor_side,
        "default_survivor": "a" if surv is ra else "b",
        "rows": rows,
        "custom_rows": custom_rows,
        "list_rows": list_rows,
        "can_write": actor().can("write"),
        "error": None,
        "next": request.values.get("next", ""),
    }


def _score(a_id: int, b_id: int) -> tuple[int | None, list[str]]:
    """The matcher's score and reasons for two contacts picked by hand."""
    from app.dedupe.matcher import contact_values, score_pair

    values = contact_values(db.session, [a_id, b_id])
    if a_id not in values or b_id not in values:
        return None, []
    score, reasons = score_pair(values[a_id], values[b_id])
    return int(score), queue.describe(reasons)


def _get_contact(contact_id: int | None) -> Contact:
    contact = db.session.get(Contact, contact_id) if contact_id else None
    if contact is None:
        abort(404)
    return contact


@bp.route("/<int:pair_id>")
@require("read")
def pair(pair_id: int):
    """A suggested pair side by side, with a choice for every differing field."""
    p = db.get_or_404(DuplicatePair, pair_id)
    a, b = _get_contact(p.contact_a_id), _get_contact(p.contact_b_id)
    return render_template("dedupe/pair.html", **_compare_context(a, b, p))


@bp.route("/compare")
@require("read")
def compare():
    """Two contacts picked by hand, side by side (the same page as a suggested pair)."""
    a_id, b_id = _int_arg("a"), _int_arg("b")
    a, b = _get_contact(a_id), _get_contact(b_id)
    if a.id == b.id:
        flash(_("Pick another contact: a contact cannot be merged with itself."), "error")
        return redirect(url_for("dedupe.merge_with", contact_id=a.id))
    lo, hi = (a, b) if a.id < b.id else (b, a)
    return render_template(
        "dedupe/pair.html", **_compare_context(lo, hi, queue.pair_between(db.session, a.id, b.id))
    )


def _form_choices(survivor_side: str) -> dict[str, str]:
    """The page's per-field radios ("f.<field>" = a/b/both) as survivor/other choices."""
    out: dict[str, str] = {}
    for key, value in request.form.items():
        if not key.startswith("f."):
            continue
        if value == "both":
            out[key[2:]] = "both"
        elif value in ("a", "b"):
            out[key[2:]] = "survivor" if value == survivor_side else "other"
    return out


@bp.route("/merge", methods=["POST"])
@require("write")
def merge_view():
    """Merge two contacts: from the pair page (choices) or the queue (defaults)."""
    a_id, b_id = _int_arg("a"), _int_arg("b")
    pair_id = _int_arg("pair_id")
    a = db.session.get(Contact, a_id) if a_id else None
    b = db.session.get(Contact, b_id) if b_id else None
    if a is None or b is None:
        return _error_response(
            _("One of these contacts no longer exists: it was merged or deleted meanwhile.")
        )
    side = request.form.get("survivor")
    if side not in ("a", "b"):
        surv, _other = merge_plan.choose_survivor(record(a), record(b))
        side = "a" if surv["id"] == a.id else "b"
    survivor, other = (a, b) if side == "a" else (b, a)
    versions = {a.id: request.form.get("version_a"), b.id: request.form.get("version_b")}
    survivor_label, other_label = label(survivor), label(other)
    from_queue = request.form.get("from") == "queue"
    try:
        m = merge(
            survivor.id,
            other.id,
            fields=_form_choices(side),
            actor=actor(),
            via="web",
            pair_id=pair_id,
            versions=versions,
        )
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _merge_refused(
            a_id,
            b_id,
            pair_id,
            _("Someone else changed these contacts meanwhile; nothing was merged."),
            409,
            from_queue,
        )
    except MergeError as exc:
        db.session.rollback()
        if exc.code == "not_found":
            abort(404)
        message = tr(exc.message)
        if exc.field and exc.code == "invalid":
            message = f"{exc.field}: {message}"
        return _merge_refused(a_id, b_id, pair_id, message, exc.status, from_queue)
    message = _("Merged %(other)s into %(survivor)s.", other=other_label, survivor=survivor_label)
    if from_queue and is_htmx():
        # The row goes; the queue reloads, as pairs of the merged contact moved.
        return trigger(make_response(_flash_oob(message)), "duplicates-changed")
    flash(message, "success")
    default = url_for("contacts.show", contact_id=m.survivor_id)
    return redirect(_next_url(default) if from_queue else default)


def _merge_refused(a_id, b_id, pair_id, message: str, status: int, from_queue: bool):
    """Show the pair again (fresh values) with the reason, or a flash from the queue."""
    if from_queue:
        return _error_response(message)
    a = db.session.get(Contact, a_id)
    b = db.session.get(Contact, b_id)
    if a is None or b is None:
        flash(message, "error")
        return redirect(url_for("dedupe.index"))
    p = (
        db.session.get(DuplicatePair, pair_id)
        if pair_id
        else queue.pair_between(db.session, a_id, b_id)
    )
    ctx = _compare_context(a, b, p)
    ctx["error"] = message
    return render_template("dedupe/pair.html", **ctx), status


# ---------------------------------------------------------------- manual merge: pick the other


@bp.route("/with/<int:contact_id>")
@require("write")
def merge_with(contact_id: int):
    """Merge with…: search for the other contact (search as you type)."""
    contact = _get_contact(contact_id)
    q = (request.args.get("q") or "").strip()
    results: list[Contact] = []
    if q:
        found, _next = fetch_page(
            db.session, ContactQuery(q=q, limit=SEARCH_LIMIT + 1, archived="include")
        )
        results = [c for c in found if c.id != contact.id][:SEARCH_LIMIT]
    ctx = {"contact": contact, "q": q, "results": results}
    return render("dedupe/merge_with.html", "results", **ctx)


# ---------------------------------------------------------------- bulk merge


@bp.route("/bulk")
@require("write")
def bulk():
    """Preview of "merge all pairs scoring at least N": counts and the first pairs."""
    min_score = _int_arg("min_score", BULK_DEFAULT, 0, 100)
    pv = queue.preview(db.session, min_score)
    return render_template(
        "dedupe/bulk.html", preview=pv, min_score=min_score, threshold=_default_threshold()
    )


@bp.route("/bulk", methods=["POST"])
@require("write")
def bulk_start():
    """Start the bulk merge job for what the preview showed."""
    min_score = _int_arg("min_score", None, 0, 100)
    max_pair_id = _int_arg("max_pair_id")
    if min_score is None or max_pair_id is None:
        flash(_("Preview the merge first."), "error")
        return redirect(url_for("dedupe.bulk"))
    running = runner.unfinished("dedupe_merge")
    if running is not None:  # one bulk merge at a time (a second click joins it)
        return redirect(url_for("jobs.show", job_id=running.id))
    job = runner.create(
        "dedupe_merge",
        {"min_score": min_score, "max_pair_id": max_pair_id},
        title=_("Merge duplicates scoring %(score)s or more", score=min_score),
        actor=actor(),
    )
    db.session.commit()
    job_queue.enqueue(job.id)
    return redirect(url_for("jobs.show", job_id=job.id))


# ---------------------------------------------------------------- merges and undo


def _merge_rows(merges: list[Merge]) -> list[dict[str, Any]]:
    now = utcnow()
    survivor_ids = {m.survivor_id for m in merges if m.survivor_id}
    survivors = (
        {c.id: c for c in db.session.scalars(select(Contact).where(Contact.id.in_(survivor_ids)))}
        if survivor_ids
        else {}
    )
    user_ids = {m.user_id for m in merges if m.user_id}
    users = (
        {u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids)))}
        if user_ids
        else {}
    )
    rows = []
    for m in merges:
        moved = m.moved or {}
        restored_id = moved.get("restored_id")
        restored = db.session.get(Contact, restored_id) if restored_id else None
        rows.append(
            {
                "merge": m,
                "merged_label": label(m.merged_snapshot.get("contact", {})),
                "survivor": survivors.get(m.survivor_id),
                "survivor_label": label(m.survivor_before.get("contact", {})),
                "restored": restored,
                "who": users[m.user_id].display_name if m.user_id in users else None,
                "activities": len(moved.get("activities") or []),
                "deals": len(moved.get("deals") or []),
                "fields": len((m.fields or {}).get("changes") or {}),
                "can_undo": can_undo(m, now),
                "deadline": undo_deadline(m),
            }
        )
    return rows


@bp.route("/merges")
@require("read")
def merges():
    """Recent merges, with Undo for the last 30 days."""
    rows, page, pages = queue.recent_merges(db.session, page=_int_arg("page", 1, 1) or 1)
    return render_template(
        "dedupe/merges.html",
        rows=_merge_rows(rows),
        page=page,
        pages=pages,
        can_write=actor().can("write"),
    )


@bp.route("/merges/<int:merge_id>/undo", methods=["POST"])
@require("write")
def undo(merge_id: int):
    """Undo a merge: both contacts come back as they were."""
    try:
        m = undo_merge(merge_id, actor=actor(), via="web")
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _error_response(_("Someone else changed the contact meanwhile; try again."))
    except MergeError as exc:
        db.session.rollback()
        if exc.code == "not_found":
            abort(404)
        return _error_response(tr(exc.message))
    name = label(m.merged_snapshot.get("contact", {}))
    message = _("Merge undone: %(name)s is back.", name=name)
    if is_htmx():
        row = _merge_rows([m])[0]
        body = render_template("dedupe/_merge_row.html", row=row, can_write=True)
        return make_response(body + _flash_oob(message))
    flash(message, "success")
    restored = (m.moved or {}).get("restored_id")
    default = (
        url_for("contacts.show", contact_id=restored) if restored else url_for("dedupe.merges")
    )
    return redirect(_next_url(default))
