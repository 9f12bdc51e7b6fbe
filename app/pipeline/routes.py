"""Pipeline pages: the deal board (lazy columns, moves), the deals list, the deal pages
(new, show, edit, delete), the pickers of the deal form, and stage settings (admins).

Moves from the board are posted by static/js/pipeline.js (SortableJS drops, the stage
menu and the up/down buttons of a card) or, without JavaScript, by the card's own form.
An htmx move answers out-of-band swaps only: every column's totals, the moved card's
content (its new version) and a flash; a refused move answers 404/409/422 with the
flash, and the script puts the card back where it was.
"""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

from babel.numbers import format_currency
from flask import (
    flash,
    get_template_attribute,
    make_response,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup
from sqlalchemy import select

from app.auth.models import User
from app.auth.permissions import actor, require
from app.companies.models import Company
from app.contacts.fields import ValidationFailed
from app.contacts.models import Contact
from app.contacts.routes import KIND_LABELS
from app.extensions import db
from app.htmx import is_htmx, redirect, render
from app.pipeline import board as boards
from app.pipeline import bp, forms
from app.pipeline import service as deals
from app.pipeline import stages as stage_admin
from app.pipeline.models import Deal, Stage
from app.templating import tr
from app.timeline.models import Activity
from app.timeutil import utcnow

# ---------------------------------------------------------------- template helpers


@lru_cache(maxsize=8192)
def _formatted(value: Any, currency: str, locale: str) -> str:
    return format_currency(value, currency, locale=locale)


@bp.app_template_filter("money")
def money(value: Any, currency: str | None) -> str:
    """An amount in its currency, formatted for the user's language ("€1,200.00")."""
    if value is None:
        return ""
    try:
        return _formatted(value, currency or deals.DEFAULT_CURRENCY, str(get_locale() or "en"))
    except (ValueError, TypeError, LookupError):
        return f"{value} {currency or ''}".strip()


class _DaysInStage:
    """ "3 days in stage" for a card, each count translated once per page."""

    def __init__(self, today: date):
        self.today = today
        self.labels: dict[int, str] = {}

    def __call__(self, entered: Any) -> str:
        days = max(0, (self.today - entered.date()).days) if entered else 0
        label = self.labels.get(days)
        if label is None:
            label = ngettext("%(num)s day in stage", "%(num)s days in stage", days)
            self.labels[days] = label
        return label


DEAL, VERSION = "\ue000deal", "\ue000version"  # placeholders (never escaped, never typed)


def card_ui(stages: list[Stage], filters: boards.Filters, can_write: bool) -> dict[str, Any]:
    """What the cards of a page share, computed once: the "days in stage" labels and, for
    writers, each stage's move form (the card_controls macro) with the deal's id and
    version left as placeholders, filled in per card."""
    ui: dict[str, Any] = {
        "can_write": can_write,
        "drag": _("Drag to move"),
        "age": _DaysInStage(utcnow().date()),
        "deal_url": url_for("pipeline.deal_show", deal_id=0).removesuffix("0"),
    }
    if can_write:
        render_controls = get_template_attribute("pipeline/_macros.html", "card_controls")
        hidden = Markup("").join(
            Markup('<input type="hidden" name="{}" value="{}">').format(k, v)
            for k, v in filters.args().items()
        )
        csrf = generate_csrf()
        forms_by_stage: dict[int, str] = {}

        def controls(card: boards.Card) -> Markup:
            html = forms_by_stage.get(card.stage_id)
            if html is None:
                html = str(render_controls(DEAL, VERSION, card.stage_id, stages, hidden, csrf))
                forms_by_stage[card.stage_id] = html
            return Markup(html.replace(DEAL, str(card.id)).replace(VERSION, str(card.version)))

        ui["controls"] = controls
    return ui


@bp.app_template_global("pipeline_deals")
def pipeline_deals(contact_id: int | None = None, company_id: int | None = None) -> list:
    """A contact's or company's deals (with their stage) for its page's Deals section."""
    return deals.deals_of(contact_id=contact_id, company_id=company_id)


def translated(errors: dict[str, str]) -> dict[str, str]:
    """Field messages (N_ strings or Messages) in the user's language."""
    return {field: tr(message) for field, message in errors.items()}


def _int(raw: Any) -> int | None:
    text = str(raw or "").strip()
    return int(text) if text.isdigit() and len(text) < 12 else None


def _me() -> int | None:
    user = actor()
    return user.id if user is not None else None


def _safe_next(default: str) -> str:
    target = request.values.get("next", "")
    if target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return default


# ---------------------------------------------------------------- board


def _board_context(filters: boards.Filters) -> dict[str, Any]:
    stages = stage_admin.all_stages()
    cards, more = boards.first_cards([s.id for s in stages], filters)
    user = actor()
    return {
        "stages": stages,
        "cards": cards,
        "more": more,
        "totals": boards.totals(filters),
        "filters": filters,
        "filter_args": filters.args(),
        "owners": boards.owners(),
        "ui": card_ui(stages, filters, user.can("write")),
        "can_write": user.can("write"),
        "is_admin": user.can("admin"),
    }


@bp.route("/")
@require("read")
def board():
    """The board: one column per stage, the first cards of each, totals in the headers."""
    filters = boards.parse_filters(request.args, _me())
    return render("pipeline/board.html", "board", **_board_context(filters))


@bp.route("/stages/<int:stage_id>/cards")
@require("read")
def column_cards(stage_id: int):
    """The next cards of a column (the lazy-loading sentinel asks for them)."""
    stage = db.get_or_404(Stage, stage_id)
    filters = boards.parse_filters(request.args, _me())
    if not is_htmx():
        return redirect(url_for("pipeline.deals_list", stage=stage.id, **filters.args()))
    after = boards.parse_cursor(request.args.get("after"))
    if after is None:
        by_stage, more = boards.first_cards([stage.id], filters)
        cards, has_more = by_stage[stage.id], stage.id in more
    else:
        cards, has_more = boards.more_cards(stage.id, filters, after)
    return render_template(
        "pipeline/_cards.html",
        stage=stage,
        cards=cards,
        has_more=has_more,
        filter_args=filters.args(),
        ui=card_ui(stage_admin.all_stages(), filters, actor().can("write")),
    )


def _move_response(
    filters: boards.Filters,
    message: str,
    category: str,
    *,
    status: int = 200,
    deal_id: int | None = None,
):
    """The htmx answer to a move: totals of every column, the card, a flash (all OOB)."""
    stages = stage_admin.all_stages()
    card = boards.card(deal_id) if deal_id is not None else None
    body = render_template(
        "pipeline/_moved.html",
        stages=stages,
        totals=boards.totals(filters),
        card=card,
        ui=card_ui(stages, filters, True),
        category=category,
        message=message,
    )
    response = make_response(body, status)
    response.vary.add("HX-Request")
    return response


def _move_refused(filters: boards.Filters, message: str, status: int, deal_id: int | None):
    db.session.rollback()
    if is_htmx():
        return _move_response(filters, message, "error", status=status, deal_id=deal_id)
    flash(message, "error")
    return redirect(url_for("pipeline.board", **filters.args()))


@bp.route("/deals/<int:deal_id>/move", methods=["POST"])
@require("write")
def move(deal_id: int):
    """Move a card: to a stage (top, or between the `before` and `after` deals), or one
    place up or down (`move=up|down`). A stale `version` is refused (409)."""
    filters = boards.parse_filters(request.form, _me())
    deal = db.session.get(Deal, deal_id)
    if deal is None:
        return _move_refused(
            filters, _("This deal was deleted meanwhile; nothing was moved."), 404, None
        )
    stage_admin.all_stages()  # one query: the stages used below come from the session
    direction = request.form.get("move", "")
    raw_stage = request.form.get("stage", "").strip()
    stage_id = _int(raw_stage) if raw_stage else deal.stage_id
    stage = db.session.get(Stage, stage_id) if stage_id is not None else None
    if stage is None:
        return _move_refused(
            filters, _("This stage no longer exists; reload the board."), 422, deal.id
        )
    version = _int(request.form.get("version"))
    title = deal.title
    try:
        if direction in ("up", "down"):
            moved = deals.move_step(
                deal,
                direction,
                conditions=filters.conditions(),
                expected_version=version,
                actor=actor(),
            )
            if not moved:
                message = _("“%(title)s” is already at the edge of its column.", title=title)
            elif direction == "up":
                message = _("“%(title)s” moved up.", title=title)
            else:
                message = _("“%(title)s” moved down.", title=title)
        elif direction == "stage" and stage.id == deal.stage_id:
            message = _("“%(title)s” is in %(stage)s already.", title=title, stage=stage.name)
        else:
            changed = deals.move_deal(
                deal,
                stage,
                before_id=_int(request.form.get("before")),
                after_id=_int(request.form.get("after")),
                expected_version=version,
                actor=actor(),
            )
            if changed:
                message = _("“%(title)s” moved to %(stage)s.", title=title, stage=stage.name)
            else:
                message = _("“%(title)s” moved within %(stage)s.", title=title, stage=stage.name)
    except deals.DealConflict:
        return _move_refused(
            filters,
            _(
                "Someone else changed “%(title)s” since the board was loaded; it was not "
                "moved. Reload the board to see the latest.",
                title=title,
            ),
            409,
            deal_id,
        )
    db.session.commit()
    if is_htmx():
        return _move_response(filters, message, "success", deal_id=deal_id)
    flash(message, "success")
    return redirect(url_for("pipeline.board", **filters.args()) + f"#deal-{deal_id}")


# ---------------------------------------------------------------- deals list


@bp.route("/deals")
@require("read")
def deals_list():
    """Deals in a table: the board's filters plus stage and title search, sorted, paged."""
    filters = boards.parse_filters(request.args, _me())
    rows, total = boards.deals_page(filters)
    pages = max(1, -(-total // boards.LIST_SIZE))
    return render(
        "pipeline/deals.html",
        "results",
        rows=rows,
        total=total,
        pages=pages,
        filters=filters,
        stages=stage_admin.all_stages(),
        owners=boards.owners(),
        sorts=boards.SORTS,
        today=utcnow().date(),
        me=_me(),
        can_write=actor().can("write"),
    )


# ---------------------------------------------------------------- deal pages


def _form_page(template: str, *, status: int = 200, **context: Any):
    return render(
        template,
        status=status,
        stages=stage_admin.all_stages(),
        owners=boards.owners(),
        labels=deals.LABELS,
        **context,
    )


@bp.route("/deals/new")
@require("write")
def deal_new():
    """The new deal form (prefilled from ?stage=, ?contact=, ?company=)."""
    return _form_page(
        "pipeline/deal_form.html",
        deal=None,
        form=forms.blank(request.args, _me()),
        errors={},
        next=_safe_next(""),
    )


@bp.route("/deals/new", methods=["POST"])
@require("write")
def deal_create():
    """Create a deal; errors are shown in the form and nothing is saved."""
    data = forms.posted(request.form)
    try:
        deal = deals.create_deal(data, actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        return _form_page(
            "pipeline/deal_form.html",
            status=422,
            deal=None,
            form={**dict.fromkeys(deals.KEYS, ""), **data},
            errors=translated(exc.errors),
            next=_safe_next(""),
        )
    db.session.commit()
    flash(_("Deal “%(title)s” created.", title=deal.title), "success")
    return redirect(_safe_next(url_for("pipeline.deal_show", deal_id=deal.id)))


@bp.route("/deals/<int:deal_id>")
@require("read")
def deal_show(deal_id: int):
    """A deal: its fields and the activities it left on its contact's timeline."""
    deal = db.get_or_404(Deal, deal_id)
    stage = db.session.get(Stage, deal.stage_id)
    activities = list(
        db.session.scalars(
            select(Activity)
            .where(Activity.deal_id == deal.id)
            .order_by(Activity.occurred_at.desc(), Activity.id.desc())
            .limit(100)
        )
    )
    user_ids = {a.user_id for a in activities if a.user_id} | {deal.owner_id}
    users = {
        u.id: u for u in db.session.scalars(select(User).where(User.id.in_(user_ids - {None})))
    }
    return render(
        "pipeline/deal.html",
        deal=deal,
        stage=stage,
        contact=db.session.get(Contact, deal.contact_id) if deal.contact_id else None,
        company=db.session.get(Company, deal.company_id) if deal.company_id else None,
        owner=users.get(deal.owner_id),
        activities=activities,
        users=users,
        kind_labels=KIND_LABELS,
        today=utcnow().date(),
        can_write=actor().can("write"),
    )


@bp.route("/deals/<int:deal_id>/edit")
@require("write")
def deal_edit(deal_id: int):
    deal = db.get_or_404(Deal, deal_id)
    return _form_page(
        "pipeline/deal_form.html", deal=deal, form=forms.of_deal(deal), errors={}, next=""
    )


@bp.route("/deals/<int:deal_id>/edit", methods=["POST"])
@require("write")
def deal_save(deal_id: int):
    """Save a deal; a stale version shows what is saved now and saves nothing."""
    deal = db.get_or_404(Deal, deal_id)
    data = forms.posted(request.form)
    try:
        deals.update_deal(
            deal, data, expected_version=_int(request.form.get("version")), actor=actor()
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _form_page(
            "pipeline/deal_form.html",
            status=422,
            deal=db.get_or_404(Deal, deal_id),
            form={**forms.of_deal(db.get_or_404(Deal, deal_id)), **data},
            errors=translated(exc.errors),
            next="",
        )
    except deals.DealConflict:
        db.session.rollback()
        current = db.get_or_404(Deal, deal_id)
        saved = forms.of_deal(current)
        return _form_page(
            "pipeline/deal_form.html",
            status=409,
            deal=current,
            form={**saved, **data},
            saved=saved,
            conflict=True,
            errors={},
            next="",
        )
    db.session.commit()
    flash(_("Deal “%(title)s” saved.", title=deal.title), "success")
    return redirect(url_for("pipeline.deal_show", deal_id=deal.id))


@bp.route("/deals/<int:deal_id>/delete")
@require("write")
def deal_confirm_delete(deal_id: int):
    return render("pipeline/deal_delete.html", deal=db.get_or_404(Deal, deal_id))


@bp.route("/deals/<int:deal_id>/delete", methods=["POST"])
@require("write")
def deal_delete(deal_id: int):
    """Delete a deal (its timeline activities stay on the contact)."""
    deal = db.get_or_404(Deal, deal_id)
    title = deal.title
    try:
        deals.delete_deal(deal, expected_version=_int(request.form.get("version")), actor=actor())
    except deals.DealConflict:
        db.session.rollback()
        flash(
            _("Someone else changed this deal meanwhile; it was not deleted. Check it again."),
            "error",
        )
        return redirect(url_for("pipeline.deal_show", deal_id=deal_id))
    db.session.commit()
    flash(_("Deal “%(title)s” deleted.", title=title), "success")
    return redirect(url_for("pipeline.board"))


@bp.route("/pick/contacts")
@require("read")
def pick_contacts():
    """<option>s for the contact picker's datalist (the contact search)."""
    options = forms.pick_contacts(request.args.get("contact", ""))
    return render_template("pipeline/_pick.html", options=options)


@bp.route("/pick/companies")
@require("read")
def pick_companies():
    """<option>s for the company picker's datalist."""
    names = forms.pick_companies(request.args.get("company", ""))
    return render_template("pipeline/_pick.html", options=[(n, n) for n in names])


# ---------------------------------------------------------------- stages (admins)


def _stages_page(*, status: int = 200, errors: dict | None = None, **context: Any):
    return render(
        "pipeline/stages.html",
        status=status,
        stages=stage_admin.all_stages(),
        counts=stage_admin.deal_counts(),
        outcomes=stage_admin.OUTCOME_LABELS,
        errors=errors or {},
        **context,
    )


@bp.route("/stages")
@require("admin")
def stages():
    """Stage settings: add, rename, reorder, mark open/won/lost, delete empty ones."""
    return _stages_page()


@bp.route("/stages", methods=["POST"])
@require("admin")
def stage_create():
    data = {"name": request.form.get("name", ""), "outcome": request.form.get("outcome", "open")}
    try:
        stage = stage_admin.create_stage(data, actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        return _stages_page(status=422, errors={"new": translated(exc.errors)}, new=data)
    db.session.commit()
    flash(_("Stage %(name)s added.", name=stage.name), "success")
    return redirect(url_for("pipeline.stages"))


@bp.route("/stages/defaults", methods=["POST"])
@require("admin")
def stage_defaults():
    """Create the default stages (only when there is none)."""
    stage_admin.ensure_default_stages()
    return redirect(url_for("pipeline.stages"))


@bp.route("/stages/<int:stage_id>", methods=["POST"])
@require("admin")
def stage_save(stage_id: int):
    stage = db.get_or_404(Stage, stage_id)
    data = {k: request.form[k] for k in ("name", "outcome") if k in request.form}
    try:
        changes = stage_admin.update_stage(stage, data, actor=actor())
    except ValidationFailed as exc:
        db.session.rollback()
        return _stages_page(status=422, errors={stage_id: translated(exc.errors)}, posted=data)
    db.session.commit()
    if changes:
        flash(_("Stage %(name)s saved.", name=stage.name), "success")
    return redirect(url_for("pipeline.stages"))


@bp.route("/stages/<int:stage_id>/move", methods=["POST"])
@require("admin")
def stage_move(stage_id: int):
    stage = db.get_or_404(Stage, stage_id)
    direction = "up" if request.form.get("direction") == "up" else "down"
    stage_admin.move_stage(stage, direction, actor=actor())
    db.session.commit()
    return redirect(url_for("pipeline.stages") + f"#stage-{stage.id}")


@bp.route("/stages/<int:stage_id>/delete", methods=["POST"])
@require("admin")
def stage_delete(stage_id: int):
    stage = db.get_or_404(Stage, stage_id)
    name = stage.name
    try:
        stage_admin.delete_stage(stage, actor=actor())
    except stage_admin.StageRefused as exc:
        db.session.rollback()
        flash(tr(exc.message), "error")
        return redirect(url_for("pipeline.stages"))
    db.session.commit()
    flash(_("Stage %(name)s deleted.", name=name), "success")
    return redirect(url_for("pipeline.stages"))
