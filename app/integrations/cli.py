"""`kontor plugins list` and `kontor integrations sync|rotate-key|new-key`."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from app.extensions import db
from app.integrations import accounts, crypto, plugins, sync
from app.integrations.models import ConnectedAccount


@click.group("plugins")
def plugins_group() -> None:
    """Integration plugins."""


def _status(plugin: plugins.Plugin, rows: list[ConnectedAccount]) -> str:
    if plugin.provider is None:
        return "listens to contact events"
    if not rows:
        return "not connected"
    parts = []
    for account in rows:
        state = {"needs_reconnect": "needs reconnect"}.get(account.status, account.status)
        parts.append(f"{state} as {account.label}" if account.label else state)
    return "; ".join(parts)


@plugins_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per plugin.")
@with_appcontext
def list_command(as_json: bool) -> None:
    """Each loaded plugin: name, version, hooks and connection status."""
    rows = db.session.scalars(select(ConnectedAccount).order_by(ConnectedAccount.id)).all()
    for name, plugin in sorted(plugins.plugins().items()):
        mine = [a for a in rows if a.provider == name]
        status = _status(plugin, mine)
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "name": name,
                        "version": plugin.version,
                        "hooks": list(plugin.hooks),
                        "status": status,
                    }
                )
            )
        else:
            click.echo(f"{name} {plugin.version or '-'}  [{', '.join(plugin.hooks)}]  {status}")


@click.group("integrations")
def integrations_group() -> None:
    """Connected accounts."""


@integrations_group.command("sync")
@click.argument("account_id", type=int)
@with_appcontext
def sync_command(account_id: int) -> None:
    """Sync one connected account now, in this process; prints a JSON summary."""
    try:
        result = sync.sync_account(account_id)
    except sync.SyncFailed as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(result))


@integrations_group.command("new-key")
def new_key_command() -> None:
    """Print a fresh key for KONTOR_ENCRYPTION_KEY."""
    click.echo(crypto.new_key())


@integrations_group.command("rotate-key")
@with_appcontext
def rotate_key_command() -> None:
    """Re-encrypt every stored token and key with the first KONTOR_ENCRYPTION_KEY."""
    try:
        n = accounts.rotate_keys()
    except crypto.CannotDecrypt as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    click.echo(f"Re-encrypted the credentials of {n} account(s).")
