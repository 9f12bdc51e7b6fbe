"""Contact pages."""

from app.auth.permissions import require
from app.contacts import bp
from app.htmx import render


@bp.route("/")
@require("read")
def index():
    return render("contacts/index.html")
