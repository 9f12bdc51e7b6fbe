"""Role checks shared by pages and the API: viewer reads, member writes, admin administers."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from flask import abort, g
from flask_login import current_user


def actor():
    """The user behind this request: the API token's user or the logged-in one."""
    return g.get("api_user") or (current_user if current_user.is_authenticated else None)


def require(action: str) -> Callable:
    """Decorate a view: 401 without a user, 403 when the role lacks `action`.

    The action is kept on the view (`required_permission`) so the permission
    matrix test can check every route.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = actor()
            if user is None:
                abort(401)
            if not user.can(action):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = action
        return wrapped

    return decorator


def public(view: Callable) -> Callable:
    """Mark a view as reachable without logging in."""
    view.required_permission = "public"
    return view
