"""Settings pages."""

from app.settings import bp
from app.auth.permissions import require
from app.htmx import render


@bp.route("/")
@require("admin")
def index():
    return render("settings/index.html")
