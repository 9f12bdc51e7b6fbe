"""An OAuth 2 authorization server on 127.0.0.1 for the end-to-end test, built from
authlib's own server pieces: authorization code with PKCE (S256 required), refresh
tokens that rotate, RFC 7009 revocation, and a tiny JSON API that answers only to a
current access token (401 with an expired or revoked one). `auth_methods` are the ways
the client may authenticate at the token and revocation endpoints (HTTP Basic, the form
or both)."""

from __future__ import annotations

import base64
import threading
import time
from dataclasses import dataclass, field

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.models import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, jsonify, request
from werkzeug.serving import make_server


@dataclass
class Client(ClientMixin):
    client_id: str
    client_secret: str
    redirect_uri: str

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uri

    def get_allowed_scope(self, scope):
        return scope

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret):
        return client_secret == self.client_secret

    def check_endpoint_auth_method(self, method, endpoint):
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


@dataclass
class Code(AuthorizationCodeMixin):
    code: str
    client_id: str
    redirect_uri: str
    scope: str
    code_challenge: str | None
    code_challenge_method: str | None

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


@dataclass
class Token(TokenMixin):
    client_id: str
    access_token: str
    refresh_token: str
    scope: str
    issued_at: float
    expires_in: int
    revoked: bool = False

    def check_client(self, client):
        return client.client_id == self.client_id

    def get_scope(self):
        return self.scope

    def get_expires_in(self):
        return self.expires_in

    def is_expired(self):
        return time.time() > self.issued_at + self.expires_in

    def is_revoked(self):
        return self.revoked


@dataclass
class State:
    clients: dict[str, Client] = field(default_factory=dict)
    codes: dict[str, Code] = field(default_factory=dict)
    tokens: list[Token] = field(default_factory=list)
    refreshes: int = 0
    refuse_refresh: bool = False
    revoked: list[str] = field(default_factory=list)
    revoke_hints: list[str] = field(default_factory=list)
    people: list[dict] = field(default_factory=list)

    def token(self, access_token: str) -> Token | None:
        return next((t for t in self.tokens if t.access_token == access_token), None)


class AuthServer:
    """The server in a thread: .url, .state; start() / stop()."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        auth_methods: tuple[str, ...] = ("client_secret_basic", "client_secret_post"),
    ):
        self.auth_methods = list(auth_methods)
        self.state = State()
        self.state.clients[client_id] = Client(client_id, client_secret, redirect_uri)
        self.app = self._build()
        self._server = None
        self.url = ""

    def _build(self) -> Flask:
        state = self.state
        methods = self.auth_methods
        app = Flask("fake-authorization-server")
        app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = methods

            def save_authorization_code(self, code, req):
                data = req.payload.data
                state.codes[code] = Code(
                    code,
                    req.client.client_id,
                    req.payload.redirect_uri,
                    req.scope or "",
                    data.get("code_challenge"),
                    data.get("code_challenge_method"),
                )

            def query_authorization_code(self, code, client):
                item = state.codes.get(code)
                return item if item and item.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code):
                state.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return {"id": 1}

        class RefreshGrant(grants.RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = methods
            INCLUDE_NEW_REFRESH_TOKEN = True

            def authenticate_refresh_token(self, refresh_token):
                if state.refuse_refresh:
                    return None
                token = next((t for t in state.tokens if t.refresh_token == refresh_token), None)
                return token if token and not token.revoked else None

            def authenticate_user(self, credential):
                return {"id": 1}

            def revoke_old_credential(self, credential):
                credential.revoked = True
                state.refreshes += 1

        def save_token(token, req):
            state.tokens.append(
                Token(
                    req.client.client_id,
                    token["access_token"],
                    token["refresh_token"],
                    token.get("scope", ""),
                    time.time(),
                    int(token.get("expires_in", 3600)),
                )
            )

        server = AuthorizationServer(
            app, query_client=lambda cid: state.clients.get(cid), save_token=save_token
        )
        server.register_grant(CodeGrant, [CodeChallenge(required=True)])
        server.register_grant(RefreshGrant)

        @app.get("/authorize")
        def authorize():  # the user consents at once
            user = {"id": 1}
            grant = server.get_consent_grant(end_user=user)
            return server.create_authorization_response(grant_user=user, grant=grant)

        @app.post("/token")
        def token():
            return server.create_token_response()

        def revoking_client() -> Client | None:
            """The client, authenticated once by one of the allowed methods."""
            basic = request.headers.get("Authorization", "")
            posted = "client_secret" in request.form
            if basic.startswith("Basic ") and not posted:
                if "client_secret_basic" not in methods:
                    return None
                decoded = base64.b64decode(basic.removeprefix("Basic ")).decode()
                client_id, _, secret = decoded.partition(":")
            elif posted and not basic:
                if "client_secret_post" not in methods:
                    return None
                client_id, secret = request.form.get("client_id", ""), request.form["client_secret"]
            else:  # none, or two at once (RFC 6749 2.3: one method per request)
                return None
            client = state.clients.get(client_id)
            return client if client and client.check_client_secret(secret) else None

        @app.post("/revoke")
        def revoke():
            if revoking_client() is None:
                return jsonify(error="invalid_client"), 401
            value = request.form.get("token", "")
            state.revoke_hints.append(request.form.get("token_type_hint", ""))
            for t in state.tokens:
                if value in (t.access_token, t.refresh_token):
                    t.revoked = True
            state.revoked.append(value)
            return "", 200

        def current() -> Token | None:
            auth = request.headers.get("Authorization", "")
            token = state.token(auth.removeprefix("Bearer ").strip())
            if token is None or token.is_revoked() or token.is_expired():
                return None
            return token

        @app.get("/api/me")
        def me():
            if current() is None:
                return jsonify(error="invalid_token"), 401
            return jsonify(email="owner@minicrm.test")

        @app.get("/api/messages")
        def messages():
            if current() is None:
                return jsonify(error="invalid_token"), 401
            return jsonify(messages=[], has_more=False)

        @app.get("/api/contacts")
        def contacts():
            if current() is None:
                return jsonify(error="invalid_token"), 401
            return jsonify(results=state.people, has_more=False)

        return app

    def expire_tokens(self) -> None:
        """Every access token issued so far expires now."""
        for t in self.state.tokens:
            t.expires_in = -1

    def start(self) -> AuthServer:
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
