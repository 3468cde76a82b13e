"""``flask`` sub-commands: import-data, demo (seed/remove/status; seed-demo), create-user, demo-admin, rq-worker,
prompts, fake-llm, backtest, batch-optimize, copy-database."""

from __future__ import annotations

import secrets
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any, TypeVar

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from tqdm import tqdm

from extensions import db
from models import ROLES, Device, User
from services import auth, demo_fleet
from services.demo import seed_demo
from services.errors import AppError
from services.imports import SPECS, ImportRejected, ImportReport, run_import
from services.merchandising import backtest as backtest_service

DEMO_ADMIN_EMAIL = "admin@demo.local"


def register(app: Flask) -> None:
    """Attach the commands to the app's CLI."""
    for command in (
        import_data,
        demo,
        seed_demo_command,
        create_user,
        demo_admin,
        rq_worker,
        prompts,
        fake_llm,
        backtest_command,
        batch_optimize,
        copy_database_command,
    ):
        app.cli.add_command(command)


def _count_lines(path: Path) -> int:
    with path.open("rb") as handle:
        return max(sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b"")) - 1, 0)


def _print_report(report: ImportReport) -> None:
    data = report.as_dict()
    for name, stats in data["files"].items():
        click.echo(f"  {name}: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
    for item in data["defaults"]:
        click.echo(
            f"  default: {item['file']} column {item['column']} -> {item['default']} "
            f"for {item['rows']} row(s) ({item['reason']})"
        )
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


SeedCommand = TypeVar("SeedCommand", bound=Callable[..., None])


@click.group("demo")
def demo() -> None:
    """The labelled demo fleet: seed it, see it, remove it (it never mixes with your data)."""


def _seed_options(command: SeedCommand) -> SeedCommand:
    """The options `flask demo seed` and `flask seed-demo` share."""
    command = click.option(
        "--if-empty", is_flag=True, help="Only seed when the database has no devices and the demo was never removed."
    )(command)
    command = click.option(
        "--end", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Last day of sales (YYYY-MM-DD; default today)."
    )(command)
    command = click.option("--days", default=90, show_default=True, help="Days of sales history.")(command)
    return click.option(
        "--seed", default=42, show_default=True, help="Random seed (same seed, same end day -> same data)."
    )(command)


def _seed(seed: int, days: int, end: datetime | None, if_empty: bool) -> None:
    instance = current_app.instance_path
    if if_empty and db.session.scalar(select(func.count(Device.id))):
        click.echo("Devices exist; demo seeding skipped.")
        return
    if if_empty and demo_fleet.was_removed(instance):
        click.echo("The demo fleet was removed on this instance; seeding skipped (`flask demo seed` brings it back).")
        return
    end_day: date | None = end.date() if end else None
    report = seed_demo(seed=seed, days=days, end=end_day)
    db.session.commit()
    demo_fleet.forget_removed(instance)
    click.echo(
        "Demo fleet seeded (flagged as demo: names start with 'Demo:', skus with 'DEMO-'; kept apart from "
        "your data; `flask demo remove` deletes it)."
    )
    _print_report(report)


@demo.command("seed")
@with_appcontext
@_seed_options
def demo_seed(seed: int, days: int, end: datetime | None, if_empty: bool) -> None:
    """Create the labelled demo fleet (devices, products, planograms, sales, posts, orders)."""
    _seed(seed, days, end, if_empty)


@click.command("seed-demo")
@with_appcontext
@_seed_options
def seed_demo_command(seed: int, days: int, end: datetime | None, if_empty: bool) -> None:
    """Create the labelled demo fleet (the same as `flask demo seed`)."""
    _seed(seed, days, end, if_empty)


@demo.command("remove")
@with_appcontext
def demo_remove() -> None:
    """Delete the demo fleet in one transaction: devices, slots, planograms, sales, unused demo products,
    demo posts and orders (users, drafts and the AI ledger stay). Running it again removes nothing."""
    result = demo_fleet.remove_demo_fleet(current_app.instance_path)
    db.session.commit()
    if not result.total:
        click.echo("No demo data found; nothing removed.")
        return
    click.echo("Demo fleet removed: " + ", ".join(f"{n} {kind}" for kind, n in result.removed.items()))
    if result.kept_products:
        click.echo(
            f"  kept {len(result.kept_products)} demo product(s) that your devices use: "
            + ", ".join(result.kept_products)
        )


@demo.command("status")
@with_appcontext
def demo_status() -> None:
    """Say whether demo data is present."""
    found = demo_fleet.presence()
    click.echo(found.message() if found.present else "No demo data in the database.")


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

    from services.jobs import background_queue
    from services.runtime import backends

    client = backends().redis
    if client is None:
        raise click.ClickException("REDIS_URL is not set: jobs run in-process in embedded mode")
    from services.merchandising import warmup as model_warmup

    model_warmup.warm_worker()  # work horses fork from here: they start with the fitted models
    # Queues in priority order: a user's optimisation before fleet figures, batches and warm-ups.
    # with_scheduler: a failed job's retry waits JOB_RETRY_INTERVAL_SECONDS in RQ's scheduled registry, which one
    # of the workers moves back to the queue.
    Worker(["planogram", background_queue("planogram")], connection=client).work(burst=burst, with_scheduler=True)


@click.command("copy-database")
@with_appcontext
@click.argument("source_url")
def copy_database_command(source_url: str) -> None:
    """Copy every row from SOURCE_URL (e.g. sqlite:///instance/planogram.db) into this app's DATABASE_URL.

    Run `flask db upgrade` against the new database first; it must be empty. All or nothing."""
    from services.db_copy import copy_database

    try:
        report = copy_database(source_url, db.engine)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    for table, count in report.rows.items():
        click.echo(f"  {table}: {count:,} rows")
    click.echo(
        f"Copied {sum(report.rows.values()):,} rows at migration {report.revision} into {db.engine.dialect.name}."
    )


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
        click.echo(
            f"{row.name:<28} {row.variant:<8} v{row.version:<4} {row.traffic_percent:>3}% "
            f"{row.tier:<9} {state}  {row.source_file or ''}"
        )


@click.command("fake-llm")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8099, show_default=True, type=int)
@click.option("--failure-rate", default=0.0, show_default=True, type=float, help="Share of requests that fail.")
@click.option(
    "--invalid-rate",
    default=0.0,
    show_default=True,
    type=float,
    help="Share of feature replies that fail their output schema.",
)
@click.option("--latency", default=0.0, show_default=True, type=float, help="Seconds added to every answer.")
def fake_llm(host: str, port: int, failure_rate: float, invalid_rate: float, latency: float) -> None:
    """Run the fake Anthropic/OpenAI provider (local development and tests only; no network, no keys): scripted
    valid replies in every feature's schema, reported as model "fake-<model>"."""
    from devtools.fake_llm.__main__ import main

    main(
        [
            "--host",
            host,
            "--port",
            str(port),
            "--failure-rate",
            str(failure_rate),
            "--invalid-rate",
            str(invalid_rate),
            "--latency",
            str(latency),
        ]
    )


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _backtest_row(d: dict[str, Any]) -> str:
    fc, rev, cov = d["forecast"] or {}, d["revenue"], d["coverage"]
    inside = f"{cov['days_inside']}/{cov['days']}" if cov["days"] else "-"
    n = len(d["changes"])
    changes = f"{sum(c['same_direction'] for c in d['changes'])}/{n} ok" if n else "-"
    return (
        f"{d['device_id']:<16} {d['trust']:<7} {_fmt(rev['bias_pct'], '+.1f'):>7} {inside:>7} "
        f"{_fmt(fc.get('wape_model'), '.3f'):>7} {_fmt(fc.get('wape_naive'), '.3f'):>7} "
        f"{_fmt(fc.get('wape_ratio'), '.2f'):>6} {changes:>8}"
    )


def _change_line(device_id: str, c: dict[str, Any]) -> str:
    p, r = c["predicted"], c["realised"]
    return (
        f"  {device_id} v{c['version']} on {c['date']} ({c['slots_changed']} slots, {c['window_days']} days "
        f"each side): predicted revenue {_fmt(p['revenue_per_day'], '+.2f')}/day "
        f"({_fmt(p['revenue_pct'], '+.1f')} %), realised {_fmt(r['revenue_per_day'], '+.2f')}/day "
        f"({_fmt(r['revenue_pct'], '+.1f')} %); margin predicted {_fmt(p['margin_per_day'], '+.2f')}/day, "
        f"realised {_fmt(r['margin_per_day'], '+.2f')}/day"
    )


def _print_backtest(result: dict[str, Any]) -> None:
    level = round(result["level"] * 100)
    click.echo(
        f"Backtest: fitted on the data before the cut-off, predicted the last {result['holdout_days']} days "
        f"(day intervals at {level} %)."
    )
    click.echo(
        f"{'device':<16} {'trust':<7} {'bias %':>7} {'in ' + str(level) + '%':>7} {'WAPE':>7} {'naive':>7} "
        f"{'ratio':>6} {'changes':>8}"
    )
    for d in result["devices"]:
        click.echo(_backtest_row(d))
    for d in result["devices"]:
        click.echo(f"{d['device_id']}: {d['verdict']}")
    changes = [_change_line(d["device_id"], c) for d in result["devices"] for c in d["changes"]]
    if changes:
        click.echo("Past planogram changes (predicted before the change vs what followed):")
        for line in changes:
            click.echo(line)
    s = result["summary"]
    click.echo(
        f"Fleet: {s['devices_ok']} of {s['devices']} devices checked, median |bias| "
        f"{_fmt(s['median_abs_bias_pct'], '.1f')} %, {s['within_10pct']} within ±10 %, mean day coverage "
        f"{_fmt(s['mean_coverage'], '.2f')} at {level} %, WAPE {_fmt(s['mean_wape_model'], '.3f')} vs "
        f"seasonal-naive {_fmt(s['mean_wape_naive'], '.3f')}, changes in the predicted direction "
        f"{s['changes_same_direction']} of {s['changes']}."
    )


@click.command("backtest")
@with_appcontext
@click.option("--device", "device_id", default=None, help="One device (default: every device).")
@click.option(
    "--holdout-days",
    default=14,
    show_default=True,
    type=click.IntRange(7, 60),
    help="Days held out at the end of the sales history.",
)
def backtest_command(device_id: str | None, holdout_days: int) -> None:
    """How far to trust the numbers: fit before a cut-off, predict the held-out days, compare with what sold."""
    try:
        result = backtest_service.backtest(device_id, holdout_days)
    except AppError as exc:
        raise click.ClickException(exc.message) from None
    _print_backtest(result)


@click.command("batch-optimize")
@with_appcontext
@click.argument("device_ids", nargs=-1)
@click.option("--objective", type=click.Choice(["margin", "revenue"]), default="margin", show_default=True)
@click.option("--include-demo", is_flag=True, help="Also the demo machines (default: the real fleet only).")
@click.option("--parts", type=int, default=None, help="Worker jobs to split over (default BATCH_PARALLELISM).")
@click.option(
    "--wait/--no-wait",
    default=False,
    help="Follow the job and print a summary (always in embedded mode: this process runs it).",
)
def batch_optimize(
    device_ids: tuple[str, ...], objective: str, include_demo: bool, parts: int | None, wait: bool
) -> None:
    """Queue the nightly re-optimisation of the fleet (or DEVICE_IDS); an admin reads it at /api/jobs/<id>."""
    from services.merchandising import batch as planogram_jobs

    query = select(Device.device_id).order_by(Device.device_id)
    known = list(db.session.scalars(query if include_demo else query.where(Device.is_demo.is_(False))))
    ids = list(device_ids) or known
    unknown = sorted(set(ids) - set(known))
    if unknown:
        raise click.ClickException(f"unknown device(s): {', '.join(unknown)}")
    if not ids:
        raise click.ClickException("no devices to optimise")
    job_id = planogram_jobs.start_batch(
        ids, objective, user_id=0, parts=parts or int(current_app.config["BATCH_PARALLELISM"])
    )
    click.echo(f"job {job_id}: {len(ids)} device(s) queued (GET /api/jobs/{job_id} as an admin)")
    from services.runtime import backends

    if wait or backends().redis is None:  # embedded: the job runs on this process's threads
        _follow_batch(job_id)


def _follow_batch(job_id: str) -> None:
    """Poll the job until it ends; print one line per device and a total."""
    import time

    from services.merchandising import batch as planogram_jobs

    seen = 0
    while True:
        status = planogram_jobs.job_status(job_id, 0, True)
        for row in status["results"][seen:]:
            result = row.get("result") or {}
            line = (
                f"{result.get('uplift_per_day', 0.0):+.2f}/day, {result.get('slots_changed', 0)} slots changed"
                if row["ok"]
                else f"failed: {row['error']}"
            )
            click.echo(f"  {row['device_id']}: {line}")
        seen = len(status["results"])
        if status["status"] not in ("queued", "running"):
            break
        time.sleep(0.5)
    ok = sum(1 for row in status["results"] if row["ok"])
    click.echo(f"{status['status']}: {ok} of {status['progress']['total']} device(s) optimised")
    if status["status"] != "finished":
        sys.exit(1)
