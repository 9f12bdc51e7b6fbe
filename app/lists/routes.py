"""Lists pages."""

from app.lists import bp
from app.auth.permissions import require
from app.htmx import render


@bp.route("/")
@require("read")
def index():
    return render("lists/index.html")
