"""Lists pages."""

from app.auth.permissions import require
from app.htmx import render
from app.lists import bp


@bp.route("/")
@require("read")
def index():
    return render("lists/index.html")
