"""The image's migrations on a throwaway database, and its models against what they made.

``plan_migrations`` reads the compose project: the database service (its image, or
``--db-image``, and its environment) and the application's environment, which says
how env.py reaches the database (``POSTGRES_SERVER=db``: the database's service name,
given as an alias on the private network). ``run_migrations`` then

1. makes an internal network (no route out) and starts the database on it, its data in
   memory, and waits until it accepts connections (its dialect's ``ready``: ``pg_isready``,
   ``mariadb-admin ping``; ``database.py`` is where servers differ);
2. runs ``schema_runner.py`` in a throwaway container of the image, on that network,
   with the application's environment: ``alembic upgrade heads``, then
   ``compare_metadata`` against env.py's ``target_metadata``, then the model modules
   env.py never imports;
3. removes the containers (with their anonymous volumes) and the network, on every path.

Each step has a timeout. With ``live``, the running stack's schema is read too (by
``database.read_live_schema``). What the results mean is ``schema.py``'s business.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ..engine import Engine, Service, Shared, Throwaway, shared
from ..errors import BadInput, EngineUnavailable, EnvironmentProblem, ImageNotFound
from ..model import Inventory
from ..target import DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_DIR, REGISTRY, Target
from ..triage import ComposeProject, ComposeService, load_project
from .database import Detected, detect, dialect_named, read_live_schema
from .shapes import Shapes, read_shape, sqlite_path, sqlite_url

LABEL = "imagecheck.migrations"


@dataclass(frozen=True, slots=True)
class MigrationOptions:
    db_image: str | None = None  # None: the compose project's database service's image
    service: str | None = None  # the application's compose service; None: found by image
    db_timeout: float = 120.0  # the database's start, until it accepts connections
    timeout: float = 300.0  # the upgrade and the comparison, in the image's container


@dataclass(frozen=True, slots=True)
class MigrationPlan:
    db_image: str
    kind: str  # "postgresql", "mysql"
    aliases: tuple[str, ...]  # the names the application reaches the database by
    db_environment: tuple[str, ...]  # "NAME=value"
    app_environment: tuple[str, ...]
    db_service: str | None = None
    sqlite: str | None = None  # kind "sqlite": the file the application's URL names


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference compare_metadata found, with the model its table belongs to."""

    op: str  # add_column, add_table, remove_column, remove_table, modify_type, ...
    table: str
    column: str | None = None
    model: str | None = None  # the mapped class ("User"), None for a table no model has
    module: str | None = None
    type: str | None = None  # the column's type (add/remove)
    nullable: bool | None = None
    db: str | None = None  # modify_*: what the migrated database has
    wanted: str | None = None  # modify_*: what the model says
    name: str | None = None  # an index or constraint


@dataclass(frozen=True, slots=True)
class UpgradeFailure:
    revision: str | None  # the revision being applied when it failed
    step: str  # alembic's "upgrade A -> B, message"
    statement: str | None
    error: str
    exc_type: str


@dataclass(frozen=True, slots=True)
class UnseenModule:
    """A model module env.py does not import: autogenerate cannot see its tables."""

    module: str
    path: str
    tables: tuple[str, ...]
    classes: tuple[str, ...]
    error: str | None = None  # it failed to import


@dataclass(frozen=True, slots=True)
class MigrationRun:
    status: str  # "ran", "skipped", "failed", "timeout"
    reason: str
    db_image: str | None = None
    env_py: str | None = None
    heads: tuple[str, ...] = ()
    revisions: int = 0
    applied: tuple[str, ...] = ()
    failure: UpgradeFailure | None = None
    differences: tuple[Difference, ...] = ()
    unseen: tuple[UnseenModule, ...] = ()
    #: table -> columns: what the migrations made on a fresh database, and what the models say
    migrated: tuple[tuple[str, tuple[str, ...]], ...] = ()
    models: tuple[tuple[str, tuple[str, ...]], ...] = ()
    owners: tuple[tuple[str, str, str], ...] = ()  # (table, model class, module)
    timings: tuple[tuple[str, float], ...] = ()  # db_start, upgrade, compare, total
    stderr_tail: str = ""
    #: the live stack's database (imagecheck SERVICE): table -> columns, None if not read
    live: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    live_reason: str = ""  # why it was not read
    kind: str | None = None  # the database: "postgresql", "mysql", "sqlite"
    #: the metadata, schemas, version table and SQLite file the runner saw
    shapes: Shapes = field(default_factory=Shapes)

    def owner(self, table: str) -> tuple[str, str] | None:
        for name, model, module in self.owners:
            if name == table:
                return model, module
        return None


def runner_source() -> str:
    return resources.files("imagecheck").joinpath("app/schema_runner.py").read_text()


def _detected(service: ComposeService | None, image: str) -> Detected | None:
    keys = [k for k, _ in service.environment] if service is not None else []
    return detect(keys, image)


def database_service(project: ComposeProject) -> ComposeService | None:
    """The project's database service: among those it does not build, the first its image's
    name or a server-only variable says is one, else the first a client variable does."""
    services: tuple[ComposeService, ...] = project.services
    found = [
        (not hit.strong, index, service)
        for index, service in enumerate(services)
        if service.build is None and (hit := _detected(service, service.image or "")) is not None
    ]
    return min(found, key=lambda f: f[:2])[2] if found else None


def _app_service(
    project: ComposeProject, image_refs: tuple[str, ...], name: str | None, db: str
) -> ComposeService | None:
    if name is not None:
        named: ComposeService = project.service(name)
        return named
    services: tuple[ComposeService, ...] = project.services
    for service in services:
        if service.name != db and set(service.image_candidates) & set(image_refs):
            return service
    return next((s for s in services if s.name != db and s.build is not None), None)


def plan_migrations(
    project: ComposeProject | None,
    image_refs: tuple[str, ...],
    opts: MigrationOptions,
) -> MigrationPlan | str:
    """What to start, or why nothing can be."""
    db = database_service(project) if project is not None else None
    image = opts.db_image or (db.image_candidates[0] if db is not None else None)
    if image is None:
        return "no database service in the compose project (--db-image names an image)"
    hit = _detected(db, image)
    if hit is None:
        return f"{image} is no database imagecheck knows (PostgreSQL, MySQL, MariaDB)"
    kind = hit.dialect.name
    app = None
    if project is not None:
        app = _app_service(project, image_refs, opts.service, db.name if db else "")
    db_env = tuple(f"{k}={v}" for k, v in (db.environment if db else ()))
    if not db_env:
        db_env = hit.dialect.default_env
    aliases = (db.name,) if db is not None else ("db",)
    return MigrationPlan(
        db_image=image,
        kind=kind,
        aliases=aliases,
        db_environment=db_env,
        app_environment=tuple(f"{k}={v}" for k, v in (app.environment if app else ())),
        db_service=db.name if db else None,
    )


def has_alembic(inv: Inventory) -> bool:
    return any(d.name.lower() == "alembic" and d.live for d in inv.python)


def run_migrations(
    engine: Engine, image: str, inv: Inventory, plan: MigrationPlan, opts: MigrationOptions
) -> MigrationRun:
    """Everything the run made is removed whatever happens (Ctrl-C included)."""
    interp = inv.interpreter.path if inv.interpreter else None
    if interp is None:
        return MigrationRun("skipped", "no Python interpreter found in the image")
    key = uuid.uuid4().hex[:12]
    labels = {LABEL: key}
    if plan.kind == "sqlite":  # no database to start: the file is the container's own copy
        options = json.dumps({"upgrade": True, "sqlite": plan.sqlite})
        spec = Throwaway(
            image=image,
            entrypoint=(interp,),
            command=("-c", runner_source(), options),
            timeout=opts.timeout,
            labels=labels,
            environment=plan.app_environment,
        )
        return _run_runner(engine, spec, plan, 0.0)
    network: str | None = None
    db: str | None = None
    started = time.perf_counter()
    try:
        network = engine.create_network(f"imagecheck-migrations-{key}", labels)
        db = engine.start_service(
            Service(
                image=plan.db_image,
                network=network,
                aliases=plan.aliases,
                environment=plan.db_environment,
                labels=labels,
                tmpfs=(_data_dir(plan),),
            )
        )
        why = _wait_ready(engine, db, plan, opts.db_timeout)
        db_start = time.perf_counter() - started
        if why is not None:
            return MigrationRun("failed", why, plan.db_image, timings=(("db_start", db_start),))
        spec = Throwaway(
            image=image,
            entrypoint=(interp,),
            command=("-c", runner_source(), json.dumps({"upgrade": True})),
            timeout=opts.timeout,
            labels=labels,
            network=network,
            environment=plan.app_environment,
        )
        return _run_runner(engine, spec, plan, db_start)
    except (EngineUnavailable, ImageNotFound):
        raise
    except EnvironmentProblem as exc:
        return MigrationRun("failed", f"the throwaway database did not run: {exc}", plan.db_image)
    finally:
        if db is not None:
            engine.remove_container(db)
        if network is not None:
            engine.remove_network(network)


def _data_dir(plan: MigrationPlan) -> str:
    for item in plan.db_environment:
        if item.startswith("PGDATA="):
            return item.partition("=")[2].rsplit("/", 1)[0] or dialect_named(plan.kind).data_dir
    return dialect_named(plan.kind).data_dir


def _wait_ready(engine: Engine, cid: str, plan: MigrationPlan, timeout: float) -> str | None:
    """None once the database accepts connections; else why not."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = engine.inspect_container(cid)
        if state.status != "running":
            logs = engine.container_logs(cid, 20).strip().splitlines()
            last = logs[-1] if logs else ""
            return f"the database {plan.db_image} exited (code {state.exit_code}): {last}"
        done = engine.exec_run(
            cid, dialect_named(plan.kind).ready, timeout=max(1.0, deadline - time.monotonic())
        )
        if done.exit_code == 0:
            return None
        time.sleep(0.2)
    return f"the database {plan.db_image} did not accept connections within {timeout:g} s"


def _run_runner(
    engine: Engine, spec: Throwaway, plan: MigrationPlan, db_start: float
) -> MigrationRun:
    records: list[dict[str, Any]] = []

    def on_line(line: str) -> None:
        try:
            record = json.loads(line)
        except ValueError:
            return
        if isinstance(record, dict):
            records.append(record)

    began = time.perf_counter()
    outcome = engine.run_throwaway(spec, on_line)
    total = time.perf_counter() - began
    run = read_records(records, plan.db_image, outcome.stderr_tail)
    timings = dict(run.timings)
    timings.update({"db_start": round(db_start, 4), "container": round(total, 4)})
    fields: dict[str, Any] = {"timings": tuple(timings.items()), "kind": plan.kind}
    if outcome.timed_out:
        fields.update(status="timeout", reason=f"the migration run took over {spec.timeout:g} s")
    elif run.status == "ran" and not any(r.get("kind") == "end" for r in records):
        fields.update(status="failed", reason=f"the runner stopped (exit {outcome.exit_code})")
    return _replace(run, fields)


def _replace(run: MigrationRun, fields: dict[str, Any]) -> MigrationRun:
    from dataclasses import replace

    return replace(run, **fields)


def read_records(
    records: list[dict[str, Any]], db_image: str | None, stderr: str = ""
) -> MigrationRun:
    """The runner's JSON lines as one run."""
    found: dict[str, Any] = {"db_image": db_image, "stderr_tail": stderr[-4000:]}
    timings: dict[str, float] = {}
    differences: list[Difference] = []
    unseen: list[UnseenModule] = []
    owners: dict[str, Any] = {}
    shapes = Shapes()
    status, reason = "ran", ""
    for record in records:
        kind = record.get("kind")
        if kind == "error":
            stage = str(record.get("stage"))
            status = "skipped" if stage in ("import", "config") else "failed"
            reason = f"{stage}: {record.get('error')}"
            if stage == "sqlite":
                reason = f"the SQLite file {record.get('path')} cannot be read and moved aside "
                reason += f"in the throwaway container: {record.get('error')}"
        elif kind == "config":
            found["env_py"] = f"{record.get('script')}/env.py"
            found["heads"] = tuple(str(h) for h in record.get("heads") or ())
            found["revisions"] = int(record.get("revisions") or 0)
        elif kind == "upgrade":
            timings["upgrade"] = float(record.get("seconds") or 0.0)
            found["applied"] = tuple(str(r) for r in record.get("applied") or ())
            if record.get("status") == "failed":
                found["failure"] = UpgradeFailure(
                    record.get("revision"),
                    str(record.get("step") or ""),
                    record.get("statement"),
                    str(record.get("error") or ""),
                    str(record.get("exc_type") or ""),
                )
        elif kind == "compare":
            timings["compare"] = float(record.get("seconds") or 0.0)
            shapes = read_shape(shapes, record)
            owners = record.get("owners") or {}
            differences = [_difference(d, owners) for d in record.get("diffs") or ()]
        elif kind == "schema":
            found["migrated"] = _columns(record.get("migrated"))
            found["models"] = _columns(record.get("models"))
        elif kind == "unseen":
            unseen.append(
                UnseenModule(
                    str(record.get("module")),
                    str(record.get("path")),
                    tuple(record.get("tables") or record.get("other_tables") or ()),
                    tuple(record.get("classes") or ()),
                    record.get("error") if record.get("exc_type") else None,
                )
            )
        elif kind == "no_metadata":
            reason = "env.py sets no target_metadata: there are no models to compare"
        else:
            shapes = read_shape(shapes, record)
    if not records:
        status, reason = "failed", "the runner wrote nothing"
    if status == "ran" and not reason:
        reason = f"{found.get('revisions', 0)} revision(s) applied and compared"
    return MigrationRun(
        status,
        reason,
        differences=tuple(differences),
        unseen=tuple(unseen),
        owners=tuple(
            (str(t), str(o.get("model")), str(o.get("module")))
            for t, o in sorted(owners.items())
            if isinstance(o, dict)
        ),
        timings=tuple(timings.items()),
        shapes=shapes,
        **found,
    )


def _columns(value: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple((str(t), tuple(str(c) for c in cols)) for t, cols in sorted(value.items()))


def _difference(record: dict[str, Any], owners: dict[str, Any]) -> Difference:
    table = str(record.get("table") or "")
    owner = owners.get(table) if isinstance(owners.get(table), dict) else None
    nullable = record.get("nullable")
    return Difference(
        op=str(record.get("op")),
        table=table,
        column=record.get("column"),
        model=owner.get("model") if owner else None,
        module=owner.get("module") if owner else None,
        type=record.get("type"),
        nullable=None if nullable is None else bool(nullable),
        db=record.get("db"),
        wanted=record.get("model"),
        name=record.get("name"),
    )


def _sqlite(
    project: ComposeProject | None, refs: tuple[str, ...], inv: Inventory, opts: MigrationOptions
) -> MigrationPlan | None:
    """A plan with no database to start: the application's URL names a SQLite file (no
    ``--db-image`` given); the run migrates the throwaway container's own copy."""
    if opts.db_image is not None:
        return None
    app = _app_service(project, refs, opts.service, "") if project is not None else None
    environment = tuple(f"{k}={v}" for k, v in (app.environment if app else ()))
    has_db = project is not None and database_service(project) is not None
    found = sqlite_url(inv, environment, ini=not has_db)
    if found is None:
        return None
    path = sqlite_path(found[0]) or ""
    return MigrationPlan(f"sqlite ({path})", "sqlite", (), (), environment, sqlite=path)


def project_here(cwd: Path | None) -> ComposeProject | None:
    """The compose project of the working folder, if there is one."""
    try:
        return load_project(cwd or Path.cwd())
    except BadInput:
        return None


def migration_run(
    target: Target,
    inv: Inventory,
    opts: MigrationOptions,
    project: ComposeProject | None,
    engine: Shared | None = None,
    *,
    live: bool = False,
) -> MigrationRun:
    """The image's migrations on a throwaway database and its models against them; with
    ``live``, the running project's database read too. Skipped (with the reason) when the
    image has no alembic, there is no database to start, or no engine."""
    if not has_alembic(inv):
        return MigrationRun("skipped", "alembic is not installed in the image")
    refs = (target.text, *inv.image.repo_tags)
    plan = _sqlite(project, refs, inv, opts) or plan_migrations(project, refs, opts)
    if isinstance(plan, str):
        return MigrationRun("skipped", plan)
    with shared(engine) as once:
        try:
            connected = once.get()
        except EngineUnavailable as exc:
            return MigrationRun("skipped", f"no Docker engine to start a database in ({exc})")
        if target.kind in (DOCKER_ARCHIVE, OCI_ARCHIVE, OCI_DIR, REGISTRY):
            try:
                connected.inspect_image(inv.image.id)
            except ImageNotFound:
                return MigrationRun("skipped", "the engine has not loaded this image")
        run = run_migrations(connected, inv.image.id, inv, plan, opts)
        if live and project is not None and run.status == "ran" and plan.kind != "sqlite":
            got: tuple[tuple[str, tuple[str, ...]], ...] | str = "no database service to read"
            if plan.db_service is not None:
                got = read_live_schema(connected, project.name, plan.db_service, plan.kind)
            run = _replace(run, {"live_reason": got} if isinstance(got, str) else {"live": got})
    return run
