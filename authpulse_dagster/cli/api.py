"""``authpulse api``: serve the SOC API, manage its keys, re-export triage state.

\b
  authpulse api serve [--host 127.0.0.1 --port 8080]
  authpulse api keys create --name soar --scope read|triage   (prints the key once)
  authpulse api keys list
  authpulse api keys revoke NAME
  authpulse api export
"""

from __future__ import annotations

import ipaddress
import json
import logging
import socket

import click

from authpulse_dagster.errors import EnvironmentProblem
from authpulse_dagster.cli import context as cli_context


def _store():
    from authpulse_dagster.api.store import open_store

    from authpulse_dagster.local_stack import apply_local_environment
    from authpulse_dagster.settings import LOCAL

    settings = cli_context.settings()
    api = cli_context.api_settings()
    if settings.env == LOCAL and apply_local_environment(settings) is None:
        raise EnvironmentProblem("the local stack is not running; start it with `authpulse local up`")
    return settings, api, open_store(settings)


@click.group()
def api() -> None:
    """The SOC API (alerts, entities, queries, triage) and its API keys."""


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise EnvironmentProblem(f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another --port") from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


@api.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind (loopback by default).")
@click.option("--port", type=click.IntRange(1, 65535), default=8080, show_default=True)
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info", show_default=True)
def serve(host: str, port: int, log_level: str) -> None:
    """Serve the API under uvicorn (OpenAPI at /openapi.json, docs at /docs)."""
    import uvicorn

    from authpulse_dagster.api.app import create_app

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    settings, api_settings, store = _store()
    _check_port(host, port)
    if not _is_loopback(host):
        click.echo(f"authpulse: warning: binding {host}, not loopback: anyone who can reach it can try keys", err=True)
    app = create_app(settings, api_settings, store)
    click.echo(f"AuthPulse SOC API on http://{host}:{port} (OpenAPI: /openapi.json); Ctrl-C stops it", err=True)
    uvicorn.run(app, host=host, port=port, log_config=None, log_level=log_level, access_log=False, server_header=False,
                proxy_headers=False, timeout_keep_alive=5)


@api.group()
def keys() -> None:
    """Create, list and revoke API keys (stored hashed in DynamoDB)."""


@keys.command("create")
@click.option("--name", required=True, help="Who or what uses the key (logged with every request).")
@click.option("--scope", type=click.Choice(["read", "triage"]), required=True, help="read: GET and queries; triage: also PATCH.")
@click.option("--json", "as_json", is_flag=True, help="Print the key as JSON.")
def create(name: str, scope: str, as_json: bool) -> None:
    """Create a key and print it: it is shown this once and stored only as a hash."""
    _, _, store = _store()
    key, token = store.create_key(name, scope)
    if as_json:
        click.echo(json.dumps({"name": key.name, "scope": key.scope, "key_id": key.key_id, "key": token}))
        return
    click.echo(token)
    click.echo(f"(key {key.key_id} '{key.name}', scope {key.scope}: store it now, it cannot be shown again)", err=True)


@keys.command("list")
def list_keys() -> None:
    """Every key: id, name, scope, created, revoked (never the key)."""
    _, _, store = _store()
    rows = store.list_keys()
    if not rows:
        click.echo("no keys; create one with `authpulse api keys create --name N --scope read|triage`")
        return
    click.echo(f"{'id':<12}  {'name':<24}  {'scope':<6}  {'created':<24}  revoked")
    for k in rows:
        click.echo(f"{k.key_id:<12}  {k.name:<24}  {k.scope:<6}  {k.created_at:<24}  {k.revoked_at or '-'}")


@keys.command("revoke")
@click.argument("name_or_id")
def revoke(name_or_id: str) -> None:
    """Revoke a key by name (or id); it stops working at once."""
    _, _, store = _store()
    key = store.revoke_key(name_or_id)
    click.echo(f"revoked key {key.key_id} '{key.name}'")


@api.command("export")
def export_command() -> None:
    """Rewrite the triage export (triage view and suppressions) from DynamoDB."""
    from authpulse_dagster.api import export

    settings, api_settings, store = _store()
    counts = export.write(settings, store.list_triage())
    for name, rows in counts.items():
        click.echo(f"{name}: {rows} rows")
