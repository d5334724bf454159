"""Frozen data shared by every seam: sources, the image filesystem, catalogers, reports.

Versions are kept as the raw strings found in the image: Debian versions are not
PEP 440 and odd metadata must never crash a scan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LayerRef:
    """Which history entry put something into the image."""

    index: int  # position in the image history (empty entries count too)
    created_by: str
    diff_id: str | None  # None for history entries that made no layer


@dataclass(frozen=True, slots=True)
class UnreadFile:
    """A catalog file (dist-info, dpkg status, ...) too big to read in bounded memory."""

    path: str  # absolute
    size: int
    layer: LayerRef
    bound: int  # the bytes a catalog file may hold in memory


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    index: int
    created: str | None
    created_by: str
    comment: str
    empty_layer: bool
    diff_id: str | None  # the layer this entry produced, if any


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        parts = [self.os, self.architecture] + ([self.variant] if self.variant else [])
        return "/".join(parts)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """The image config as far as imagecheck cares, whatever source it came from."""

    ref: str
    id: str  # sha256:<config digest>
    created: str | None
    platform: Platform
    entrypoint: tuple[str, ...]
    cmd: tuple[str, ...]
    env: tuple[str, ...]
    working_dir: str
    user: str
    history: tuple[HistoryEntry, ...]
    diff_ids: tuple[str, ...]
    repo_tags: tuple[str, ...] = ()
    exposed_ports: tuple[str, ...] = ()  # "8000/tcp", sorted
    labels: tuple[tuple[str, str], ...] = ()  # (key, value), sorted by key

    def env_value(self, name: str) -> str | None:
        for item in self.env:
            key, sep, value = item.partition("=")
            if sep and key == name:
                return value
        return None


@dataclass(frozen=True, slots=True)
class PythonEnvironment:
    """One folder Python imports distributions from (site-packages, dist-packages, a venv)."""

    path: str  # the site folder, absolute, symlinks resolved
    kind: str  # "system", "venv", "user", "pythonpath", "other"
    python_version: str | None  # "3.11" when the layout says so
    venv: str | None = None  # the venv root for kind == "venv"
    on_runtime_path: bool = False  # the runtime interpreter imports from here


@dataclass(frozen=True, slots=True)
class Interpreter:
    """The Python the image runs, and how we found it."""

    path: str  # as found on PATH or in the entrypoint (may be a symlink)
    real_path: str  # symlinks resolved inside the image
    version: str | None
    venv: str | None
    reason: str  # "entrypoint", "cmd", "shebang of /usr/local/bin/uvicorn", "PATH"
    sys_path: tuple[str, ...]  # site folders it sees, in import order


@dataclass(frozen=True, slots=True)
class PythonDist:
    name: str  # as written in the metadata
    version: str
    path: str  # the .dist-info / .egg-info path
    environment: str  # the site folder
    live: bool  # False when shadowed by another dist of the same name
    layer: LayerRef
    kind: str = "dist-info"  # or "egg-info"
    installer: str | None = None
    requires_dist: tuple[str, ...] = ()
    requires_python: str | None = None
    import_names: tuple[str, ...] = ()
    shadowed_by: str | None = None  # path of the live dist when not live
    wheel_tags: tuple[str, ...] = ()  # from WHEEL: cp311-cp311-manylinux_2_17_x86_64
    # The project itself, not a dependency: installed from a local folder (direct_url.json
    # file:// with dir_info, editable or not), or named as the build context's project.
    application: bool = False

    @property
    def key(self) -> str:
        from packaging.utils import canonicalize_name

        return str(canonicalize_name(self.name))


@dataclass(frozen=True, slots=True)
class DebianPackage:
    name: str
    version: str
    architecture: str
    layer: LayerRef
    source: str = "status"  # "status", "status.d", "apk"
    source_package: str | None = None


@dataclass(frozen=True, slots=True)
class SharedLibrary:
    path: str
    soname: str | None
    needed: tuple[str, ...]
    runpath: tuple[str, ...]
    rpath: tuple[str, ...]
    machine: str
    layer: LayerRef
    markers: tuple[str, ...] = ()  # notable strings found in .rodata (NumPy ABI etc.)
    py_init: tuple[str, ...] = ()  # NAME of each PyInit_NAME it holds: a Python module


@dataclass(frozen=True, slots=True)
class Removed:
    """Something a layer installed and a later layer took away."""

    kind: str  # "python" or "debian"
    name: str
    version: str
    path: str
    added_by: LayerRef
    removed_by: LayerRef


@dataclass(frozen=True, slots=True)
class Change:
    """One package event in one layer, for the layer view."""

    kind: str  # "python" or "debian"
    action: str  # "added", "removed", "changed"
    name: str
    old_version: str | None
    new_version: str | None
    where: str  # site folder, or "dpkg"


@dataclass(frozen=True, slots=True)
class LayerSummary:
    entry: HistoryEntry
    size: int  # bytes of regular files the layer writes
    files_added: int
    files_changed: int
    files_removed: int
    wasted_bytes: int  # written here, hidden or overwritten by a later layer
    hidden_bytes: int  # of lower layers, hidden or overwritten by this one
    changes: tuple[Change, ...] = ()


@dataclass(frozen=True, slots=True)
class AlembicRevision:
    """One alembic revision script, read with ``ast`` (never run)."""

    revision: str
    down_revisions: tuple[str, ...]  # empty for a base revision; two or more for a merge
    depends_on: tuple[str, ...]
    branch_labels: tuple[str, ...]
    message: str  # the docstring's first line ("add role column")
    path: str  # the script, absolute in the image (or as given on a source tree)
    line: int = 1  # where ``revision =`` is assigned


@dataclass(frozen=True, slots=True)
class AlembicScripts:
    """An ``alembic.ini``'s migration scripts, as ``alembic`` would load them."""

    config: str  # the alembic.ini
    locations: tuple[str, ...]  # the version folders read
    revisions: tuple[AlembicRevision, ...]
    unreadable: tuple[tuple[str, str], ...] = ()  # (script, why) it cannot be read
    note: str = ""  # why no folder could be read (a package: location, ...)
    env: AlembicEnv | None = None  # the script folder's env.py, read statically


@dataclass(frozen=True, slots=True)
class AlembicEnv:
    """What an ``env.py`` (and its ``alembic.ini``) tell, read with ``ast``, never run:
    the settings the migration check and the live ``alembic_version`` read must honour."""

    path: str  # env.py, absolute in the image
    url: str | None = None  # alembic.ini's sqlalchemy.url ("driver://..." templates: None)
    version_table: str = "alembic_version"
    version_table_schema: str | None = None
    include_schemas: bool = False
    target_metadata: tuple[str, ...] = ()  # the expressions: ("Base.metadata", ...)
    hooks: tuple[str, ...] = ()  # the context.configure hooks set: include_object, ...

    @property
    def version_relation(self) -> str:
        """``meta.schedule_versions``: the version table as a query names it."""
        if self.version_table_schema:
            return f"{self.version_table_schema}.{self.version_table}"
        return self.version_table


@dataclass(frozen=True, slots=True)
class Inventory:
    image: ImageInfo
    environments: tuple[PythonEnvironment, ...]
    interpreter: Interpreter | None
    python: tuple[PythonDist, ...]
    removed: tuple[Removed, ...]
    debian: tuple[DebianPackage, ...]
    libraries: tuple[SharedLibrary, ...]
    layers: tuple[LayerSummary, ...]
    notes: tuple[str, ...] = field(default=())  # how it was read: source path, platform choice
    ld_paths: tuple[str, ...] = ()  # folders /etc/ld.so.conf adds to the loader's search
    alembic: tuple[AlembicScripts, ...] = ()  # each alembic.ini's revisions, read statically
    scripts: tuple[tuple[str, str], ...] = ()  # (path, text) of shell scripts (entrypoint.sh)
    unread: tuple[UnreadFile, ...] = ()  # visible catalog files left unread (IC210)

    @classmethod
    def placeholder(cls, ref: str, reason: str) -> Inventory:
        """The image of a report whose image could not be read (no engine, never built):
        the report still carries what compose and the engine said; ``reason`` is a note."""
        info = ImageInfo(
            ref=ref,
            id="",
            created=None,
            platform=Platform("linux", ""),
            entrypoint=(),
            cmd=(),
            env=(),
            working_dir="",
            user="",
            history=(),
            diff_ids=(),
        )
        return cls(info, (), None, (), (), (), (), (), notes=(f"image not read: {reason}",))

    def script(self, path: str) -> str | None:
        """The text of the shell script at ``path`` (absolute), if the layers held it."""
        key = path.lstrip("/")
        return next((text for p, text in self.scripts if p == key), None)


SEVERITIES = ("error", "warning", "info")  # most severe first: the one order of severities
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """Sort key: 0 for the most severe; an unknown severity sorts after every known one."""
    return SEVERITY_RANK.get(severity, len(SEVERITIES))


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong (or worth knowing) about the image, with what to do next."""

    code: str  # stable: IC101 ... (README, one section per code)
    severity: str  # "error", "warning", "info"
    subject: str  # the distribution, package or library it is about
    message: str
    hint: str  # what to run or change
    layer: LayerRef | None = None
    location: str | None = None  # "path:line" of the file it is about (lint)


@dataclass(frozen=True, slots=True)
class CheckResult:
    code: str  # the check's code prefix, e.g. "IC10"
    name: str
    status: str  # "passed", "failed", "skipped"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ModuleResult:
    """One import or probe run inside the image by the smoke runner."""

    kind: str  # "import" or "probe"
    name: str  # the import name, or the probe's name
    status: str  # "ok", "error", "timeout", "crash", "skipped", "not-run"
    seconds: float = 0.0
    distribution: str | None = None  # the distribution that provides the module
    exc_type: str | None = None  # "builtins.ImportError"
    last_line: str | None = None  # the exception's last line, verbatim
    traceback_tail: str | None = None
    signal: str | None = None  # "SIGSEGV" for a crash
    output: str = ""  # what it printed to stdout and stderr
    warnings: tuple[str, ...] = ()  # "DeprecationWarning: message (file:line)"
    logs: tuple[str, ...] = ()  # "WARNING passlib.handlers.bcrypt: message"
    reason: str = ""  # why it was skipped or not run
    alone: str | None = None  # a failure imported again in a fresh process: its status
    location: str | None = None  # "app/models.py:12": the last traceback frame in the app
    close_names: tuple[str, ...] = ()  # a failed ``from X import Y``: X's names close to Y
    missing_env: tuple[str, ...] = ()  # the environment variables a failure asks for
    role: str | None = None  # kind "app": "entry" or "module"


@dataclass(frozen=True, slots=True)
class AppEntry:
    """The application the image runs: a module (or a file) and its attribute, or, with
    neither, why it was not found; ``how`` says where it came from (``-v``)."""

    module: str | None  # "app.main"
    attribute: str | None  # "app"; None: nothing to resolve (celery, python -m)
    how: str
    sys_path: tuple[str, ...] = ()  # folders first on sys.path (--app-dir, --chdir)
    path: str | None = None  # a file instead of a module (fastapi run app/main.py)
    candidates: tuple[str, ...] = ()  # files to try in turn (fastapi run without a path)
    attributes: tuple[str, ...] = ()  # attributes to try in turn (fastapi: app, api)
    script: bool = False  # ``python FILE``: not imported when it has no __main__ guard
    #: Not found, but the command named a server or Python (or it was configured): an
    #: application was expected, so its absence is worth a finding (IC801).
    expected: bool = True

    @property
    def found(self) -> bool:
        return self.module is not None or self.path is not None or bool(self.candidates)

    @property
    def spec(self) -> str:
        """``app.main:app``, ``app/main.py``, or the files ``fastapi run`` tries."""
        where = self.module or self.path or " or ".join(self.candidates)
        attribute = self.attribute or "/".join(self.attributes)
        return f"{where}:{attribute}" if attribute else where


@dataclass(frozen=True, slots=True)
class SmokeRun:
    """What the throwaway container found; ``status`` "skipped" says why it never ran."""

    status: str  # "ran", "skipped", "failed" (the runner itself broke), "timeout"
    reason: str
    interpreter: str | None = None
    python_version: str | None = None
    seconds: float = 0.0
    results: tuple[ModuleResult, ...] = ()
    stderr_tail: str = ""
    app: AppEntry | None = None  # the application imported too; None: that step was off
    app_modules: tuple[str, ...] = ()  # the modules of its package the runner found
    environment_from: tuple[str, ...] = ()  # where the container's extra environment came from
    environment_note: str = ""  # why a compose file nearby was not used


@dataclass(frozen=True, slots=True)
class ContainerState:
    """One container of a compose service, as ``docker inspect`` shows its State."""

    id: str
    name: str
    status: str  # the engine's: "running", "restarting", "exited", "created", "dead" ...
    restarting: bool
    restart_count: int
    exit_code: int
    oom_killed: bool
    health: str | None  # "healthy", "unhealthy", "starting"; None without a healthcheck
    started_at: str | None
    finished_at: str | None
    image_id: str  # the image the container runs (sha256:...), which may be older than the tag
    health_log: str | None = None  # the last health check's exit code and output
    failing_streak: int = 0  # health checks failed in a row
    restart_policy: str = ""  # HostConfig.RestartPolicy.Name: "", "no", "always", "on-failure" ...


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Why a service's container fails: the known failure (or none) and the line that shows it."""

    failure_id: str | None  # the failures.toml id; None for an error the table does not know
    title: str
    cause: str
    fix: str
    evidence: str  # the log line verbatim (a traceback's final exception line), or the state
    harmless: bool = False  # only a known harmless message was found: not an error
    source: str = "logs"  # "logs" or "state" (OOMKilled)
    #: what the services it depends on logged about its requests, each "db logged: ERROR: ..."
    related: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DependencyState:
    """A service ``depends_on`` names, as the engine shows it."""

    service: str
    condition: str  # service_started, service_healthy, service_completed_successfully
    status: str  # "healthy", "unhealthy", "starting", "running", "restarting", "exited",
    #: "completed", "created", "not created"
    detail: str  # what the engine says (``exited 1 at ...``), for the message
    has_healthcheck: bool = False
    container: str = ""  # its container's name
    last_error: str = ""  # the last error of its logs, when it is down


@dataclass(frozen=True, slots=True)
class DatabaseRevision:
    """What the stack's database says its alembic revision is (read, never written)."""

    service: str  # the database's compose service
    engine: str  # "postgresql" or "mysql"
    status: str  # "read", "no-table" (never migrated), "refused", "failed"
    revisions: tuple[str, ...] = ()  # alembic_version's rows
    detail: str = ""  # the client's error line, or how it was read
    container: str = ""


@dataclass(frozen=True, slots=True)
class TriageRun:
    """What ``imagecheck SERVICE`` found about a compose service before reading its image.

    ``status`` "skipped" says in ``reason`` why the containers could not be looked at (the
    engine is down); ``image_ref`` is None when no image of the service could be found.
    """

    service: str
    project: str
    compose_files: tuple[str, ...]
    status: str  # "crashlooping", "exited", "running", "completed", "no-container", "skipped"
    reason: str
    image_ref: str | None = None
    image_source: str = ""  # "container", "image:", "compose v2 name", "compose v1 name"
    build_context: str | None = None
    dockerfile: str | None = None
    containers: tuple[ContainerState, ...] = ()
    log_tail: str = ""  # the last lines of the container the diagnosis is about
    diagnosis: Diagnosis | None = None
    commands: tuple[str, ...] = ()  # what to run, in order
    warnings: tuple[str, ...] = ()  # compose's own (unset variables)
    engine_error: str | None = None  # set when the engine could not be reached
    newer_image: str | None = None  # the service's tag, when it names a newer image than runs
    #: the state of each ``depends_on`` service, and whether the service waits for it
    dependencies: tuple[DependencyState, ...] = ()
    database: DatabaseRevision | None = None  # the stack's database's alembic_version, if read
    #: what changed between the image that ran (or worked: --since) and the one checked
    changes: ImageDiff | None = None
    changes_why: str = ""  # "the tag's current image", "--since IMAGE"; or why not compared


@dataclass(frozen=True, slots=True)
class Report:
    inventory: Inventory
    findings: tuple[Finding, ...]
    checks: tuple[CheckResult, ...]
    constraints_files: tuple[str, ...] = ()
    smoke: SmokeRun | None = None
    stale: StaleVerdict | None = None
    triage: TriageRun | None = None  # set by ``imagecheck SERVICE`` (api.triage)
    migrations: MigrationSummary | None = None  # check --migrations, imagecheck SERVICE


@dataclass(frozen=True, slots=True)
class MigrationStep:
    """One step of the migration check, timed: ``db_start``, ``upgrade``, ``compare``,
    ``shipped_upgrade`` (a SQLite file in the image), ``live_read``."""

    name: str
    status: str  # "ok", "failed", "timeout", "not run"
    seconds: float | None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MigrationSummary:
    """The migration check's run for the report (its findings stay in the findings)."""

    status: str  # "ran", "skipped", "failed", "timeout"
    reason: str
    database: str | None  # "postgresql", "mysql", "sqlite"
    db_image: str | None
    env_py: str | None
    heads: tuple[str, ...]
    revisions: int
    applied: tuple[str, ...]
    steps: tuple[MigrationStep, ...]
    metadata: int  # how many MetaData objects target_metadata lists
    default_schema: str | None
    include_schemas: bool
    version_table: str | None  # as env.py's context.configure set it (schema-qualified)
    differences: int
    sqlite: str | None = None  # the SQLite file the application's URL names


@dataclass(frozen=True, slots=True)
class StaleVerdict:
    """Whether the image is what its Dockerfile and context build now (IC6xx)."""

    status: str  # "fresh", "stale", "skipped"
    reason: str  # why skipped, or the first reason it is stale
    dockerfile: str | None = None
    context: str | None = None
    how: str = ""  # how the Dockerfile was chosen
    commands: tuple[str, ...] = ()  # what to run, in order


@dataclass(frozen=True, slots=True)
class LintReport:
    """``imagecheck lint``: requirement files and Dockerfiles, read without any image."""

    files: tuple[str, ...]  # what was linted
    findings: tuple[Finding, ...]
    checks: tuple[CheckResult, ...]
    constraints_files: tuple[str, ...] = ()


def canonical(name: str) -> str:
    """A distribution name as PEP 503 compares it: ``Foo_Bar.baz`` is ``foo-bar-baz``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def short(digest: str) -> str:
    """``sha256:0123456789ab``: enough of a digest to name it in one line."""
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}" if hexpart else digest[:19]


@dataclass(frozen=True, slots=True)
class LayerDiff:
    """One layer of either image, matched to the other's by its command."""

    status: (
        str  # "kept" (same content), "rebuilt" (same command, other content), "added", "removed"
    )
    created_by: str
    old_diff_id: str | None
    new_diff_id: str | None
    old_size: int = 0
    new_size: int = 0


@dataclass(frozen=True, slots=True)
class VersionChange:
    """A Python distribution (per environment) or Debian package that changed."""

    kind: str  # "python" or "debian"
    name: str
    change: str  # "added", "removed", "upgraded", "downgraded", "changed" (not comparable)
    old_version: str | None
    new_version: str | None
    where: str  # the site folder, or "dpkg"


@dataclass(frozen=True, slots=True)
class LibraryChange:
    """A shared library by SONAME: added, removed, or found at other paths."""

    soname: str
    change: str  # "added", "removed", "moved"
    old_paths: tuple[str, ...]
    new_paths: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FileChange:
    """One of the application's files, and what its change was judged by."""

    path: str
    change: str  # "added", "removed", "changed"
    basis: str  # "bytes" (kept by the index), "sha256" (read in place), "size", "link", "kind"
    old_size: int | None
    new_size: int | None


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """One setting of the image config: an env variable, a label, a port, CMD..."""

    field: str  # "entrypoint", "cmd", "working_dir", "user", "env", "labels", "exposed_ports"
    key: str  # the variable, label or port; "" for a whole-value field
    old: str | None  # None: not set in OLD
    new: str | None


@dataclass(frozen=True, slots=True)
class AlembicChange:
    """One alembic.ini's revisions: the head(s) and the revisions each image alone has."""

    config: str
    old_heads: tuple[str, ...]  # "9c1d (add role column)"
    new_heads: tuple[str, ...]
    added: tuple[str, ...]  # revisions NEW has and OLD does not
    removed: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ImageDiff:
    """What changed from OLD to NEW; an empty tuple means that kind did not change."""

    old_ref: str
    old_id: str
    new_ref: str
    new_id: str
    layers: tuple[LayerDiff, ...]
    python: tuple[VersionChange, ...]
    debian: tuple[VersionChange, ...]
    libraries: tuple[LibraryChange, ...]
    files: tuple[FileChange, ...]
    config: tuple[ConfigChange, ...]
    alembic: tuple[AlembicChange, ...]
    file_roots: tuple[str, ...] = ()  # the folders whose files were compared
    files_compared: int = 0  # files present in both images
    files_unverified: int = 0  # equal in size, other layers, content not readable
    notes: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        kinds = (self.python, self.debian, self.libraries, self.files, self.config, self.alembic)
        return any(kinds) or any(x.status != "kept" for x in self.layers)
