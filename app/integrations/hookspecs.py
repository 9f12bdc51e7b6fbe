"""The hooks a Kontor plugin implements. Each docstring is the contract.

A plugin is a module (or object) with functions named like the hooks below and marked
with ``@hookimpl`` (``from app import hookimpl``). It may implement any subset of the
hooks, and each implementation may accept any subset of a hook's arguments, so hooks can
gain arguments without breaking plugins.

A plugin never touches the database. It talks to its provider through ``http`` (a
:class:`app.integrations.http.ProviderHTTP`: requests only under the provider's base
URLs, OAuth tokens refreshed, 429/5xx retried honouring Retry-After) and returns plain
records; Kontor upserts them (duplicates by email, audit, timeline) and stores cursors.

Arguments shared by several hooks:

- ``http``: the account's HTTP client; ``http.get(path, params=...)``, ``post``,
  ``patch``, ``put``, ``delete`` answer parsed JSON (``None`` for an empty body) and
  raise :class:`~app.integrations.http.ProviderError` for an answer that is not 2xx.
  ``path`` is relative to the base URL (``base="people"`` picks one of
  ``extra_base_urls``) or an absolute URL under one of them (a next-page link).
  ``http.secrets`` holds an API-key account's keys.
- ``settings``: the account's settings, a dict keyed by the names the provider declares
  in ``describe_provider()["settings"]`` (defaults filled in).
- ``account``: the connected account as a plain dict: ``id``, ``label`` and ``details``
  (what identify_account answered last).
- ``cursor``: what the plugin returned as ``cursor`` last time, JSON-serialisable, or
  ``None`` for a first (full) sync. Kontor saves it in the same transaction as the
  records of that page, so an interrupted sync resumes from the last page saved.
"""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("kontor")
hookimpl = pluggy.HookimplMarker("kontor")


@hookspec
def describe_provider():
    """Describe the provider this plugin connects to, as a dict (or None for a plugin
    that connects to nothing and only listens to contact events).

    Keys:

    - ``name``: unique id, ``[a-z][a-z0-9_]*`` (used in URLs, settings, env vars).
    - ``label``: the name shown to users ("Google (Gmail)").
    - ``auth``: ``"oauth2"``, ``"api_key"`` or ``"none"``.
    - ``base_url``: the API's base URL; ``KONTOR_<NAME>_BASE_URL`` overrides it. Every
      request ``http`` sends must fall under it (or under ``extra_base_urls``).
    - ``extra_base_urls``: optional list of other allowed base URLs, each overridable by
      ``KONTOR_<NAME>_<KEY>_URL`` where KEY names it (``{"people": "https://..."}``).
    - ``oauth`` (oauth2): ``authorize_url``, ``token_url``, optional ``revoke_url``,
      ``scopes`` (list), optional ``authorize_params`` (dict, e.g. ``access_type``),
      optional ``client_auth``: ``"client_secret_post"`` when the provider wants the
      client id and secret in the token and revocation forms rather than HTTP Basic.
      Endpoints are overridable by ``KONTOR_<NAME>_AUTHORIZE_URL`` and so on; the client
      id and secret come from ``KONTOR_<NAME>_CLIENT_ID`` / ``_CLIENT_SECRET``.
    - ``api_key_fields`` (api_key): list of ``{"name", "label"}``; the values are stored
      encrypted like tokens and sent by the plugin itself (``http.secrets[name]``).
    - ``settings``: list of ``{"name", "label", "type": "bool" | "int" | "text",
      "default", "help"}`` shown on the account's settings form.
    - ``sync_minutes``: default minutes between scheduled syncs (0: on demand only).
    """


@hookspec
def identify_account(http, settings):
    """Answer who the connected account is, right after connecting and on each sync:
    ``{"label": "ann@example.com", "details": {"Credits left": "42"}}``. ``details`` (an
    optional dict of short strings) is shown on the integrations page."""


@hookspec
def pull_contacts(http, cursor, settings, account):
    """Return one page of contacts changed at the provider since ``cursor``:
    ``{"contacts": [record, ...], "cursor": ..., "more": bool}``.

    A record is a dict: ``remote_id`` (required, the provider's id), ``email``, and any
    contact fields Kontor knows (``first_name``, ``last_name``, ``job_title``,
    ``company``, ``phone``, ``mobile_phone``, ``secondary_emails``, ``linkedin_url``,
    ...), plus ``remote_updated_at`` (ISO 8601, when the provider last changed it) and
    ``deleted`` (true when the provider reports it removed: the contact stays in Kontor
    and is not pushed there again). Kontor matches records to contacts by the remote id
    it linked before, else by email, and creates the rest.
    Return ``more: true`` while pages remain; the last page's cursor is the one a later
    incremental sync starts from."""


@hookspec
def push_contacts(http, contacts, settings, account):
    """Send contacts changed in Kontor to the provider and return what it assigned:
    ``[{"contact_id": 7, "remote_id": "901", "remote_updated_at": "...Z"}, ...]``.

    ``contacts`` is a list of dicts with ``contact_id``, ``remote_id`` (None when the
    contact is not at the provider yet: create it), ``updated_at`` and the contact's
    fields as in pull_contacts. Kontor picks the contacts changed since the last push and
    has already settled conflicts (the newest change wins). A contact the provider
    refuses is left out of the answer, with ``{"contact_id", "error": "..."}`` instead."""


@hookspec
def pull_activities(http, cursor, settings, account):
    """Return one page of activities (mail sent and received, ...) since ``cursor``:
    ``{"activities": [record, ...], "cursor": ..., "more": bool}``.

    A record: ``external_id`` (required and stable: a re-run must not add it twice),
    ``kind`` (``email_sent`` or ``email_received``, or another activity kind),
    ``occurred_at`` (ISO 8601), ``subject``, ``body`` (a snippet), ``data`` (a dict),
    and ``people``: the correspondents as ``[{"email", "name"}]`` (the account's own
    address left out). ``automated``: true for mail from mailing lists and no-reply
    senders; Kontor never creates contacts from those. Kontor logs the activity on the
    timeline of every known contact among ``people`` and, when the account's
    ``create_contacts`` setting is on, creates the unknown ones first."""


@hookspec
def verify_email(http, email, settings):
    """Check whether mail to ``email`` would be delivered:
    ``{"status": "deliverable" | "undeliverable" | "risky" | "unknown", "score": 0-100}``
    or None when the plugin cannot tell. Kontor stores the status on the contact; an
    undeliverable address raises the contact's bounce risk."""


@hookspec
def enrich_contact(http, contact, settings):
    """Look the contact up (a dict of its fields, with ``email``, names and ``company``)
    and return fields the provider knows, e.g. ``{"job_title": ..., "company": ...,
    "linkedin_url": ...}``. Kontor fills only the fields that are empty."""


@hookspec
def contact_event(event, settings):
    """Be told that contacts changed. Called inside the transaction of the change (so
    keep it quick: no network); the jobs it asks for start once that commits.

    ``event`` is a dict: ``kind`` (``created``, ``updated``, ``merged``, ``deleted``),
    ``contact_ids``, ``fields`` (names of changed fields, or None), ``via`` (``web``,
    ``api``, ``import``, ``sync:<provider>``, ...) and, for ``merged``, ``survivor`` and
    ``merged``. Return what the plugin wants done for its connected accounts, as a list
    of hook names to run in a background job for those contacts: ``["push_contacts"]``
    or ``["verify_email"]`` (or None for nothing). A plugin that describes no provider
    is told too (with empty ``settings``); having no account, it gets no jobs."""
