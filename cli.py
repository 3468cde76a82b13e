"""``flask`` sub-commands: import-data, seed-demo, create-user, demo-admin, rq-worker, prompts, fake-llm."""

from __future__ import annotations

import secrets
import sys
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import IO

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from tqdm import tqdm

from extensions import db
from models import ROLES, Device, User
from services import auth
from services.demo import seed_demo
from services.errors import AppError
from services.imports import SPECS, ImportRejected, ImportReport, run_import

DEMO_ADMIN_EMAIL = "admin@demo.local"


def register(app: Flask) -> None:
    """Attach the commands to the app's CLI."""
    for command in (import_data, seed_demo_command, create_user, demo_admin, rq_worker, prompts, fake_llm):
        app.cli.add_command(command)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)


def _print_report(report: ImportReport) -> None:
    data = report.as_dict()
    for name, stats in data["files"].items():
        click.echo(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    for item in data["defaults"]:
        click.echo(f"  default: {item['file']} column {item['column']} -> {item['default']} "
                   f"for {item['rows']} row(s) ({item['reason']})")
    for note in data["notes"]:
        click.echo(f"  note: {note}")


@click.command("import-data")
@with_appcontext
@click.argument("directory", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--quiet", is_flag=True, help="No progress bar.")
def import_data(directory: Path, quiet: bool) -> None:
    """Import products/devices/slots/planograms/sales CSVs from DIRECTORY (all or nothing)."""
    paths = {p.name: p for p in directory.iterdir() if p.name in SPECS}
    if not paths:
        raise click.ClickException(f"No import files in {directory}; expected any of {', '.join(SPECS)}")
    bars: list[tqdm] = []

    def progress(name: str):  # type: ignore[no-untyped-def]
        bar = tqdm(total=_count_lines(paths[name]), unit="rows", desc=name, disable=quiet, file=sys.stderr)
        bars.append(bar)
        return bar.update

    with ExitStack() as stack:
        streams: dict[str, IO[bytes]] = {n: stack.enter_context(p.open("rb")) for n, p in paths.items()}
        try:
            report = run_import(streams, progress)
            db.session.commit()
        except ImportRejected as exc:
            for bar in bars:
                bar.close()
            data = exc.report.as_dict()
            click.echo(f"Import rejected: {data['error_count']} error(s); the database is unchanged.", err=True)
            for err in data["errors"]:
                click.echo(f"  {err['file']}:{err['line']}: column {err['column']}: {err['reason']}", err=True)
            if data["errors_truncated"]:
                click.echo(f"  ... and {data['error_count'] - len(data['errors'])} more", err=True)
            sys.exit(1)
        except AppError as exc:
            raise click.ClickException(exc.message) from None
        finally:
            for bar in bars:
                bar.close()
    click.echo("Import complete.")
    _print_report(report)


@click.command("seed-demo")
@with_appcontext
@click.option("--seed", default=42, show_default=True, help="Random seed (same seed, same end day -> same data).")
@click.option("--days", default=90, show_default=True, help="Days of sales history.")
@click.option("--end", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Last day of sales, YYYY-MM-DD (default: today).")
@click.option("--if-empty", is_flag=True, help="Only seed when the database has no devices.")
def seed_demo_command(seed: int, days: int, end: datetime | None, if_empty: bool) -> None:
    """Create the labelled demo fleet (devices, products, planograms, sales)."""
    if if_empty and db.session.scalar(select(func.count(Device.id))):
        click.echo("Devices exist; demo seeding skipped.")
        return
    report = seed_demo(seed=seed, days=days, end=end.date() if end else None)
    db.session.commit()
    click.echo("Demo fleet seeded (all names start with 'Demo:' and skus with 'DEMO-').")
    _print_report(report)


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True)
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--name", default="")
def create_user(email: str, password: str, role: str, name: str) -> None:
    """Create a user with a role."""
    try:
        user = auth.create_user(email, password, role, name)
        db.session.commit()
    except AppError as exc:
        details = f" {exc.details}" if exc.details else ""
        raise click.ClickException(f"{exc.message}{details}") from None
    click.echo(f"Created {user.role} {user.email}")


@click.command("demo-admin")
@with_appcontext
def demo_admin() -> None:
    """Ensure the demo admin exists and print its login (password kept in instance/)."""
    secret_file = Path(current_app.instance_path) / "demo_admin_password"
    user = db.session.scalar(select(User).where(User.email == DEMO_ADMIN_EMAIL))
    if user is None or not secret_file.exists():
        password = secrets.token_urlsafe(12)
        if user is None:
            auth.create_user(DEMO_ADMIN_EMAIL, password, "admin", "Demo admin")
        else:
            auth.set_password(user, password)
        db.session.commit()
        secret_file.write_text(password)
        secret_file.chmod(0o600)
    click.echo(f"Demo admin login: {DEMO_ADMIN_EMAIL} / {secret_file.read_text().strip()}")


@click.command("rq-worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Exit when the queue is empty.")
def rq_worker(burst: bool) -> None:
    """Run an RQ worker for background jobs (needs REDIS_URL)."""
    from rq import Worker

    from services.runtime import backends

    client = backends().redis
    if client is None:
        raise click.ClickException("REDIS_URL is not set: jobs run in-process in embedded mode")
    Worker(["planogram"], connection=client).work(burst=burst)


@click.group("prompts")
def prompts() -> None:
    """Prompt templates: prompts/*.yaml and the prompt table."""


@prompts.command("sync")
@with_appcontext
def prompts_sync() -> None:
    """Load prompts/*.yaml into the table (idempotent; a changed file becomes a new version)."""
    from services.ai import prompt_source
    from services.prompts import PromptRegistry

    try:
        report = PromptRegistry(Path(current_app.config["PROMPTS_DIR"])).sync()
        db.session.commit()
    except AppError as exc:
        details = "".join(f"\n  {d['field']}: {d['reason']}" for d in exc.details or [])
        raise click.ClickException(f"{exc.message}{details}") from None
    prompt_source().invalidate()
    data = report.as_dict()
    click.echo("Prompts synced: " + ", ".join(f"{len(v)} {k}" for k, v in data.items()))
    for kind in ("created", "updated", "deactivated"):
        for label in data[kind]:
            click.echo(f"  {kind}: {label}")


@prompts.command("list")
@with_appcontext
@click.option("--all", "include_inactive", is_flag=True, help="Include inactive (superseded) versions.")
def prompts_list(include_inactive: bool) -> None:
    """Show prompt versions: name, variant, version, traffic, tier, active."""
    from services.prompts import list_prompts

    for row in list_prompts(include_inactive):
        state = "active" if row.is_active else "inactive"
        click.echo(f"{row.name:<28} {row.variant:<8} v{row.version:<4} {row.traffic_percent:>3}% "
                   f"{row.tier:<9} {state}  {row.source_file or ''}")


@click.command("fake-llm")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8099, show_default=True, type=int)
@click.option("--failure-rate", default=0.0, show_default=True, type=float, help="Share of requests that fail.")
@click.option("--latency", default=0.0, show_default=True, type=float, help="Seconds added to every answer.")
def fake_llm(host: str, port: int, failure_rate: float, latency: float) -> None:
    """Run the fake Anthropic/OpenAI provider (local development and tests only; no network, no keys)."""
    from devtools.fake_llm.__main__ import main

    main(["--host", host, "--port", str(port), "--failure-rate", str(failure_rate), "--latency", str(latency)])
