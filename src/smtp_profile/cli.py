"""The ``smtp-profile`` command: serve, users, show, test."""

from __future__ import annotations

import asyncio
import gc
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

import click

from smtp_profile.accounts import Principal, Role, check_new_user, hash_password
from smtp_profile.api.results import diagnosis
from smtp_profile.backup import dumps, export_backup, import_backup
from smtp_profile.errors import ConfigurationError, ServiceError
from smtp_profile.keys import retire_old_keys, rotate_keys
from smtp_profile.mail.diagnosis import Stage
from smtp_profile.mail.plan import QuitAfter, TestOutcome
from smtp_profile.rules import check_address
from smtp_profile.runtime import Runtime, ensure_first_admin, open_runtime
from smtp_profile.settings import Settings, load_settings
from smtp_profile.store.audit import AuditFilter
from smtp_profile.store.users import UserExists, delete_user, insert_user, list_users


def cli_principal() -> Principal:
    """Who acts when an operator runs a command: the local account, as an admin."""
    return Principal(name=f"cli:{getpass.getuser()}", role=Role.ADMIN)


# ``smtp-profile test`` exits with a code that names the failing step.
STAGE_EXIT_CODES: dict[Stage, int] = {stage: 10 + index for index, stage in enumerate(Stage)}


@contextmanager
def _runtime(settings: Settings | None = None) -> Iterator[Runtime]:
    try:
        runtime = open_runtime(settings or load_settings())
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from None
    try:
        yield runtime
    finally:
        runtime.close()


@click.group()
@click.version_option(package_name="smtp-profile")
def main() -> None:
    """Hold an application's SMTP relay profile and prove that it works."""


@main.command()
@click.option("--host", default=None, help="Address to listen on (SMTP_PROFILE_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (SMTP_PROFILE_PORT).")
def serve(host: str | None, port: int | None) -> None:
    """Run the API service."""
    import uvicorn

    from smtp_profile.api.app import create_app
    from smtp_profile.logs import configure_logging

    overrides = {key: value for key, value in (("host", host), ("port", port)) if value}
    try:
        settings = load_settings(**overrides)
    except ConfigurationError as exc:
        raise click.ClickException(exc.message) from None
    configure_logging(settings.log_level)
    with _runtime(settings) as runtime:
        password = ensure_first_admin(runtime)
        if password is not None:
            click.echo(
                "No API users existed, so the user 'admin' was created with the one-time "
                f"password:\n\n    {password}\n\nStore it now; it is not shown again. Add "
                "users with: smtp-profile users add NAME --role admin --password-stdin",
                err=True,
            )
        click.echo(f"smtp-profile listening on http://{settings.host}:{settings.port}/", err=True)
        app = create_app(runtime)
        # Everything built so far lives as long as the process: keep it out of the
        # collector's full passes, which otherwise stall requests for tens of ms.
        gc.collect()
        gc.freeze()
        uvicorn.run(
            app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level,
            loop="asyncio",
            access_log=False,
            log_config=None,
        )


@main.group()
def users() -> None:
    """Manage API users."""


@users.command("add")
@click.argument("name")
@click.option("--role", type=click.Choice([role.value for role in Role]), required=True)
@click.option(
    "--password-stdin",
    is_flag=True,
    required=True,
    help="Read the password from standard input (first line).",
)
def users_add(name: str, role: str, password_stdin: bool) -> None:
    """Add an API user."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        check_new_user(name, password)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    with _runtime() as runtime, runtime.database.write() as connection:
        try:
            insert_user(connection, name=name, role=role, password_hash=hash_password(password))
        except UserExists:
            raise click.ClickException(f"A user named {name!r} already exists.") from None
    click.echo(f"Added {role} {name!r}.")


@users.command("list")
def users_list() -> None:
    """List API users."""
    with _runtime() as runtime, runtime.database.read() as connection:
        for user in list_users(connection):
            click.echo(f"{user.name}\t{user.role}\t{user.created_at:%Y-%m-%d %H:%M:%S}")


@users.command("remove")
@click.argument("name")
def users_remove(name: str) -> None:
    """Remove an API user."""
    with _runtime() as runtime, runtime.database.write() as connection:
        if not delete_user(connection, name):
            raise click.ClickException(f"No user named {name!r}.")
    click.echo(f"Removed {name!r}.")


@main.command()
@click.option(
    "--api-version",
    type=click.Choice(["1", "2"]),
    default=None,
    help="Show the profile as this API version does (2: secret objects, OAuth fields). "
    "Default: the oldest version that shows it completely (2 for OAuth or references).",
)
def show(api_version: str | None) -> None:
    """Print the stored profile (never a secret value) as JSON."""
    with _runtime() as runtime:
        snapshot = runtime.service.reload()
        version = int(api_version) if api_version else snapshot.minimum_version
        click.echo(json.dumps(snapshot.view(version), indent=2, ensure_ascii=False))


@main.command()
@click.option("--to", "recipient", required=True, help="Recipient address for the test.")
@click.option(
    "--quit-after",
    type=click.Choice([step.value for step in QuitAfter]),
    default=None,
    help="Probe: stop after this step without sending.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the diagnosis as JSON.")
def test(recipient: str, quit_after: str | None, as_json: bool) -> None:
    """Send a test e-mail through the stored profile and print the diagnosis."""
    try:
        check_address("--to", recipient)
    except ServiceError as exc:
        raise click.ClickException(exc.message) from None
    with _runtime() as runtime:
        try:
            request = runtime.service.stored_test_request(recipient)
            outcome = asyncio.run(
                runtime.service.test(
                    request,
                    actor=cli_principal(),
                    quit_after=QuitAfter(quit_after) if quit_after else None,
                )
            )
        except ServiceError as exc:
            raise click.ClickException(exc.message) from None
    if as_json:
        click.echo(json.dumps({"Message": outcome.summary(), **diagnosis(outcome)}, indent=2))
    else:
        _print_outcome(outcome)
    sys.exit(0 if outcome.success else STAGE_EXIT_CODES[outcome.stage])


def _print_outcome(outcome: TestOutcome) -> None:
    colour = "green" if outcome.success else "red"
    click.secho(outcome.summary(), fg=colour, bold=True)
    if outcome.hint:
        click.secho(f"Hint: {outcome.hint}", fg="yellow")
    if outcome.tls and outcome.tls.version:
        click.echo(
            f"TLS: {outcome.tls.version} {outcome.tls.cipher}, certificate "
            f"{outcome.tls.subject} (issuer {outcome.tls.issuer}, "
            f"expires {outcome.tls.not_after})"
        )
    click.echo(f"Took {outcome.duration_ms} ms. Transcript:")
    for line in outcome.transcript:
        click.echo(f"  {line}")


@main.group()
def audit() -> None:
    """Read and verify the audit trail."""


@audit.command("list")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--user", default=None, help="Only this user.")
@click.option("--operation", default=None, help="Only this operation (put, test, denied, ...).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def audit_list(limit: int, user: str | None, operation: str | None, as_json: bool) -> None:
    """Newest records first."""
    with _runtime() as runtime:
        records, _ = runtime.trail.page(
            AuditFilter(user=user, operation=operation), page=1, page_size=limit
        )
    for record in records:
        item = record.as_json()
        if as_json:
            click.echo(json.dumps(item, ensure_ascii=False))
            continue
        changes = ", ".join(
            f"{c['Field']}: {c['Before']!r} -> {c['After']!r}" for c in item["Changes"] or []
        )
        click.echo(
            f"{item['Id']}\t{item['Time']}\t{item['User']}\t{item['ClientAddress']}\t"
            f"{item['Operation']}\t{item['Outcome']}\t{changes or item['Detail'] or ''}"
        )


@audit.command("verify")
def audit_verify() -> None:
    """Check the hash chain; exit 1 and name the first altered, inserted or deleted record."""
    with _runtime() as runtime:
        result = runtime.trail.verify()
    click.echo(result.summary())
    if not result.ok:
        sys.exit(1)


@main.group()
def keys() -> None:
    """Manage the encryption key of stored secrets."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new key and re-encrypt every stored secret under it."""
    with _runtime() as runtime:
        report = rotate_keys(runtime, actor=cli_principal().name)
    click.echo(
        f"Re-encrypted {report.secrets_reencrypted} secrets under a new key; the key file "
        f"now holds {report.keys_in_file} keys. Restart or wait, then run "
        "`smtp-profile keys retire` to drop the old ones."
    )


@keys.command("retire")
def keys_retire() -> None:
    """Drop old keys once no secret needs them."""
    with _runtime() as runtime:
        try:
            dropped = retire_old_keys(runtime)
        except ConfigurationError as exc:
            raise click.ClickException(exc.message) from None
    click.echo(f"Retired {dropped} old keys.")


@main.command("export")
@click.option(
    "--without-password",
    is_flag=True,
    help="Leave the stored secret values out (relay password, OAuth client secret).",
)
def export_command(without_password: bool) -> None:
    """Write the profile and audit trail as JSON on standard output (secrets encrypted)."""
    with _runtime() as runtime:
        click.echo(dumps(export_backup(runtime, include_secrets=not without_password)))


@main.command("import")
@click.argument("source", type=click.File("r", encoding="utf-8"))
def import_command(source: TextIO) -> None:
    """Replace the profile and audit trail with a backup (use - for standard input)."""
    try:
        document = json.load(source)
    except json.JSONDecodeError as exc:
        raise click.ClickException(f"The backup is not valid JSON: {exc}") from None
    with _runtime() as runtime:
        try:
            import_backup(runtime, document, actor=cli_principal().name)
        except ConfigurationError as exc:
            raise click.ClickException(exc.message) from None
        result = runtime.trail.verify()
    click.echo(f"Imported. {result.summary()}")
