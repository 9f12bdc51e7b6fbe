"""Lead scoring pages: rules, recompute and the score explanation."""

from flask import Blueprint

bp = Blueprint("scoring", __name__, url_prefix="/scoring")

from app.scoring import jobs, routes, service  # noqa: E402,F401  (handler, pages, listener)


@bp.app_context_processor
def _score_explanation() -> dict:
    """`score_explanation(contact_id)` for the contact page's score card."""

    def score_explanation(contact_id: int):
        from app.extensions import db

        return service.explain(db.session, contact_id)

    return {"score_explanation": score_explanation}
