"""Settings pages."""

from app.auth.permissions import require
from app.htmx import render
from app.settings import bp


@bp.route("/")
@require("admin")
def index():
    return render("settings/index.html")
