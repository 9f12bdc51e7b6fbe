"""Error pages for people and JSON errors for the API, never a bare 500 page."""

from __future__ import annotations

from flask import Flask, jsonify, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.htmx import is_htmx

CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
    500: "server_error",
}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.path == "/openapi.json"


def api_error(status: int, message: str, field: str | None = None, code: str | None = None):
    """The API's error shape: {"error": {"code", "message", "field"}} with a 4xx/5xx."""
    body = {"error": {"code": code or CODES.get(status, "error"), "message": message}}
    if field:
        body["error"]["field"] = field
    return make_response(jsonify(body), status)


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc):
        if wants_json():
            return api_error(400, exc.description)
        return render_template(
            "errors/error.html",
            code=400,
            message=_(
                "The form expired or was sent from elsewhere. Reload the page and try again."
            ),
        ), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        status = exc.code or 500
        if wants_json():
            return api_error(status, exc.description or exc.name)
        if status == 401:
            target = url_for("auth.login", next=request.full_path.rstrip("?"))
            if is_htmx():
                response = make_response("", 204)
                response.headers["HX-Redirect"] = target
                return response
            return redirect(target)
        messages = {
            403: _("Your role does not allow this."),
            404: _("This page does not exist."),
            405: _("This action is not allowed here."),
            413: _("The file is too large."),
            429: _("Too many attempts. Wait a minute and try again."),
        }
        message = messages.get(status, exc.description or exc.name)
        return render_template("errors/error.html", code=status, message=message), status

    @app.errorhandler(Exception)
    def server_error(exc: Exception):
        app.logger.exception("Unhandled error")
        from app.extensions import db

        db.session.rollback()
        if wants_json():
            return api_error(500, "Internal error")
        return render_template(
            "errors/error.html", code=500, message=_("Something went wrong; nothing was saved.")
        ), 500
