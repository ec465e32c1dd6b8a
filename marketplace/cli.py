"""Command-line tasks: demo data, administrators, reference data."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from marketplace.core.text import forbidden_character
from marketplace.extensions import db
from marketplace.messaging.template_list import templates_command


class SafeText(click.ParamType):
    """Text without control characters (but tab, line feed, carriage return) or lone
    surrogates, as every form and API field requires; anything else is a usage error."""

    name = "text"

    def convert(self, value, param, ctx):
        if not isinstance(value, str):
            value = str(value)
        bad = forbidden_character(value)
        if bad is not None:
            self.fail(f"tiene caracteres que no se pueden guardar (U+{ord(bad):04X}, de control o inválido).",
                      param, ctx)
        return value


TEXT = SafeText()


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo)
    app.cli.add_command(create_admin)
    app.cli.add_command(geo)
    app.cli.add_command(catalog)
    app.cli.add_command(orders)
    app.cli.add_command(messaging)
    app.cli.add_command(check_invariants)
    app.cli.add_command(uploads)


@click.command("seed-demo")
@click.option("--force", is_flag=True, help="Permitir en producción (APP_ENV=production).")
@with_appcontext
def seed_demo(force: bool) -> None:
    """Fill the database with a believable demo; running it again duplicates nothing."""
    from marketplace import demo

    if current_app.config["APP_ENV"] == "production" and not force:
        raise click.ClickException("seed-demo crea cuentas con contraseña conocida; use --force si de verdad lo quiere.")
    report = demo.seed(current_app.config["DEMO_PASSWORD"])
    db.session.commit()
    click.echo(report.summary())


@click.command("check-invariants")
@with_appcontext
def check_invariants() -> None:
    """Read the books and list what does not balance (stock, totals, refunds, payments);
    exit status 1 if anything does. Changes nothing."""
    from marketplace.insights import invariants

    try:
        violations = invariants.check()
    finally:
        db.session.rollback()
    for violation in violations:
        click.echo(str(violation))
    click.echo(invariants.summary(violations))
    if violations:
        raise SystemExit(1)


@click.command("create-admin")
@click.option("--name", "full_name", required=True, type=TEXT, help="Nombre completo.")
@click.option("--email", default=None, type=TEXT, help="Correo para entrar.")
@click.option("--phone", default=None, type=TEXT, help="Celular colombiano para entrar.")
@click.password_option("--password", type=TEXT, help="Contraseña (se pide si no se da).")
@with_appcontext
def create_admin(full_name: str, email: str | None, phone: str | None, password: str) -> None:
    """Create a platform administrator."""
    from marketplace.accounts import services
    from marketplace.accounts.models import Role
    from marketplace.core.errors import DomainError

    try:
        user = services.create_staff_user(
            None, services.UserData(full_name=full_name, password=password, phone=phone, email=email),
            Role.PLATFORM_ADMIN,
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(f"{error.field or 'error'}: {error.message}") from error
    click.echo(f"Administrador creado: {user.login_name}")


@click.group("geo")
def geo() -> None:
    """Reference geography (DIVIPOLA municipalities and PDET subregions)."""


@geo.command("sync")
@with_appcontext
def geo_sync() -> None:
    """Insert or update municipalities from the data vendored in marketplace/data."""
    from marketplace.core import geography

    changed = geography.load_municipalities()
    db.session.commit()
    click.echo(f"Municipios actualizados: {changed}")


@click.group("catalog")
def catalog() -> None:
    """The catalogue of licit products."""


@catalog.command("seed")
@with_appcontext
def catalog_seed() -> None:
    """Add the starting products and grades that are missing (never overwrites staff edits)."""
    from marketplace.catalog.catalogue import seed_catalogue

    added = seed_catalogue()
    db.session.commit()
    click.echo(f"Productos y calidades agregados: {added}")


@click.group("orders")
def orders() -> None:
    """Orders: periodic upkeep."""


@orders.command("sweep")
@with_appcontext
def orders_sweep() -> None:
    """Expire unanswered orders, cancel unpaid card orders, send pending refunds and the
    messages waiting in the outbox (run from cron every minute or two)."""
    click.echo(_upkeep())
    click.echo(_messaging_round())


def _upkeep() -> str:
    from marketplace.core import idempotency
    from marketplace.orders import payments, services

    result = services.sweep()
    idempotency.forget_expired()  # the keys offline drafts were sent with, kept a week
    db.session.commit()
    refunds = payments.push_refunds()
    photos = _pending_photos_cleanup()
    return (f"{result['expired']} partes vencidas, {result['cancelled']} canceladas por falta de pago, "
            f"{refunds} reembolsos enviados, {photos} fotos pendientes vencidas borradas.")


def _pending_photos_cleanup() -> int:
    """Photos kept from refused listing forms whose time is up: rows and files deleted."""
    from marketplace.catalog import pending

    deleted = pending.cleanup(current_app.extensions["marketplace_storage"])
    db.session.commit()
    return deleted


def _messaging_round() -> str:
    from marketplace.messaging import outbox

    return outbox.summary(outbox.run_once())


@orders.command("work")
@click.option("--interval", default=15, show_default=True, type=click.IntRange(1, 3600),
              help="Segundos entre barridos de pedidos y reembolsos.")
@with_appcontext
def orders_work(interval: int) -> None:
    """Keep the sweep going every ``--interval`` seconds and the messaging outbox every
    ``MESSAGING_INTERVAL_SECONDS`` (a long-running worker process), so a notice reaches its
    provider within seconds of the change that wrote it."""
    _work_loop(worker_tasks(interval))


def worker_tasks(sweep_interval: float = 15) -> dict:
    """What ``flask orders work`` runs: the sweep (expiries, unpaid cancellations, refunds)
    every ``sweep_interval`` seconds and the messaging round every
    ``MESSAGING_INTERVAL_SECONDS``, as ``{name: (every_seconds, function)}``."""
    return {"sweep": (float(sweep_interval), _upkeep),
            "messaging": (float(current_app.config["MESSAGING_INTERVAL_SECONDS"]), _messaging_round)}


def _work_loop(tasks: dict, *, rounds: int | None = None, sleep=None, stop=None) -> None:
    """Run each task ``(every_seconds, function)`` when it is due, forever (or ``rounds``
    times around the loop, or until the ``stop`` event is set: tests and benchmarks). A
    task's error is reported and rolled back; the next round tries again."""
    import time

    if sleep is None:
        sleep = stop.wait if stop is not None else time.sleep
    due = {name: 0.0 for name in tasks}
    done = 0
    while (rounds is None or done < rounds) and not (stop is not None and stop.is_set()):
        for name, (every, task) in tasks.items():
            if time.monotonic() < due[name]:
                continue
            try:
                message = task()
                if message and not _idle(message):
                    click.echo(message)
            except Exception as exc:  # keep the worker alive; the next round retries
                db.session.rollback()
                click.echo(f"Error ({name}): {exc}", err=True)
            finally:
                db.session.remove()
            due[name] = time.monotonic() + every
        done += 1
        sleep(max(0.05, min(due.values()) - time.monotonic()))


def _idle(message: str) -> bool:
    """Whether a round's report says it did nothing (only rounds that did something are shown)."""
    import re

    return not re.search(r"[1-9]", message)


@click.group("messaging")
def messaging() -> None:
    """Messages by e-mail, WhatsApp and SMS: the outbox worker."""


messaging.add_command(templates_command)


@messaging.command("send")
@with_appcontext
def messaging_send() -> None:
    """One round of the outbox: expand pending notices and send the messages due."""
    click.echo(_messaging_round())


@messaging.command("work")
@click.option("--interval", default=None, type=click.FloatRange(0.1, 3600),
              help="Segundos entre rondas (por defecto MESSAGING_INTERVAL_SECONDS).")
@with_appcontext
def messaging_work(interval: float | None) -> None:
    """Keep sending messages (only messages: run it in its own process so nothing else
    delays a notice)."""
    every = interval if interval is not None else float(current_app.config["MESSAGING_INTERVAL_SECONDS"])
    _work_loop({"messaging": (every, _messaging_round)})


@click.group("uploads")
def uploads() -> None:
    """Archivos subidos (fotos de ofertas, evidencias de entrega, documentos)."""


def referenced_keys() -> set[str]:
    """Every storage key a row names: listing photos and their thumbnails, pending uploads,
    rejection photos of delivered lines and organisations' documents. (Media fetched from
    WhatsApp is stored only as listing photos.)"""
    from sqlalchemy import select

    from marketplace.accounts.models import OrganisationDocument
    from marketplace.catalog.models import ListingPhoto, PendingUpload
    from marketplace.orders.models import OrderLine

    columns = (ListingPhoto.key, ListingPhoto.thumb_key, PendingUpload.key, PendingUpload.thumb_key,
               OrderLine.rejection_photo_key, OrganisationDocument.file_key)
    keys: set[str] = set()
    for column in columns:
        keys.update(k for k in db.session.scalars(select(column).where(column.is_not(None))) if k)
    return keys


def prune_uploads(storage, grace_minutes: int, dry_run: bool, now: float | None = None) -> list[str]:
    """Keys no row references and older than the grace period (an upload in flight is written
    before its row is committed): deleted unless ``dry_run``. The keys, sorted."""
    import time

    cutoff = (now if now is not None else time.time()) - grace_minutes * 60
    referenced = referenced_keys()
    orphans = sorted(key for key, mtime in storage.list() if key not in referenced and mtime < cutoff)
    if not dry_run:
        for key in orphans:
            storage.delete(key)
    return orphans


@uploads.command("prune")
@click.option("--dry-run", is_flag=True, help="Solo listar lo que se borraría.")
@click.option("--grace-minutes", default=60, show_default=True, type=click.IntRange(0, 7 * 24 * 60),
              help="No tocar archivos más recientes que esto (subidas en curso).")
@with_appcontext
def uploads_prune(dry_run: bool, grace_minutes: int) -> None:
    """Borrar los archivos que ninguna fila referencia (lo que dejó una interrupción)."""
    orphans = prune_uploads(current_app.extensions["marketplace_storage"], grace_minutes, dry_run)
    verb = "Se borrarían" if dry_run else "Borrados"
    for key in orphans:
        click.echo(key)
    click.echo(f"{verb}: {len(orphans)} archivos sin referencia (más de {grace_minutes} minutos).")
