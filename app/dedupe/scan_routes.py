"""Duplicates pages: start a scan and follow it (the review queue is in routes.py), and
the create-form check that hints at a possible duplicate while a contact is typed in.
"""

from __future__ import annotations

from flask import render_template, request, url_for

from app.auth.permissions import actor, require
from app.dedupe import bp
from app.dedupe.check import possible_duplicates
from app.dedupe.scan import start_scan
from app.htmx import redirect

CHECK_FIELDS = (
    "email",
    "first_name",
    "middle_name",
    "last_name",
    "phone",
    "mobile_phone",
    "home_phone",
    "company",
)


@bp.post("/scan")
@require("write")
def scan():
    """Start a duplicate scan (or join the one running) and follow it on its job page."""
    job = start_scan(actor())
    return redirect(url_for("jobs.show", job_id=job.id))


@bp.get("/check")
@require("read")
def check():
    """The possible duplicates of the contact being typed in the create form (a fragment)."""
    values = {name: request.args.get(name, "").strip() or None for name in CHECK_FIELDS}
    exclude = request.args.get("exclude", type=int)
    matches = possible_duplicates(values, exclude_ids=[exclude] if exclude else ())
    return render_template("dedupe/_possible_duplicates.html", matches=matches)
