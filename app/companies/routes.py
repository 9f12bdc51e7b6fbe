"""Companies pages."""

from app.auth.permissions import require
from app.companies import bp
from app.htmx import render


@bp.route("/")
@require("read")
def index():
    return render("companies/index.html")
