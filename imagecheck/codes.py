"""The one registry of finding codes: each code once, with its severity, title and doc.

Findings are made here, by keyword (``IC102.finding(subject=..., message=..., hint=...)``),
so a code's severity lives in one place and the README's tables can be checked against
it (``tests/unit/test_codes.py``). A code whose severity depends on a policy or on data
says so in ``varies``; only such a code takes ``severity=`` when a finding is made.
Codes are stable: a code is never reused for another meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

from .model import SEVERITIES, Finding, LayerRef


@dataclass(frozen=True, slots=True)
class Code:
    """A finding code: what it means and how bad it is unless ``varies`` says otherwise."""

    code: str  # "IC102"
    severity: str  # the default: "error", "warning" or "info"
    title: str  # a few words, for lists of codes
    doc: str  # one line: what the finding says is wrong
    varies: str = ""  # who else sets the severity; empty when it is fixed

    def finding(
        self,
        *,
        subject: str,
        message: str,
        hint: str,
        layer: LayerRef | None = None,
        location: str | None = None,
        severity: str | None = None,
    ) -> Finding:
        """A finding of this code; ``severity`` only where ``varies`` allows it."""
        if severity is not None and not self.varies:
            msg = f"{self.code}'s severity is fixed ({self.severity}), not {severity}"
            raise ValueError(msg)
        if severity is not None and severity not in SEVERITIES:
            msg = f"{self.code}: unknown severity {severity!r}"
            raise ValueError(msg)
        return Finding(
            code=self.code,
            severity=self.severity if severity is None else severity,
            subject=subject,
            message=message,
            hint=hint,
            layer=layer,
            location=location,
        )


REGISTRY: dict[str, Code] = {}


def _code(code: str, severity: str, title: str, doc: str, varies: str = "") -> Code:
    if code in REGISTRY:  # pragma: no cover - caught at import by the tests
        msg = f"{code} registered twice"
        raise ValueError(msg)
    REGISTRY[code] = Code(code, severity, title, doc, varies)
    return REGISTRY[code]


def lookup(code: str) -> Code:
    """The registered code (codes named in data files, e.g. the known issues)."""
    return REGISTRY[code]


def family(prefix: str) -> tuple[Code, ...]:
    """Every registered code starting with ``prefix``, in code order (a check's codes)."""
    return tuple(c for name, c in sorted(REGISTRY.items()) if name.startswith(prefix))


# IC1xx: pins and the installed distributions
IC101 = _code(
    "IC101",
    "error",
    "pinned but not installed",
    "a pinned distribution is not installed where the runtime interpreter looks",
)
IC102 = _code(
    "IC102",
    "error",
    "version differs from the pin",
    "the installed version does not match the pin (and which layer installed it)",
)
IC103 = _code(
    "IC103",
    "info",
    "installed but not pinned",
    "a distribution is installed but not pinned (the application itself never is)",
    varies="--unpinned off|info|warning|error (Context.unpinned_severity)",
)
IC104 = _code(
    "IC104",
    "warning",
    "duplicate dist-info",
    "two dist-info of one name in one folder, and which one is live",
)
IC105 = _code(
    "IC105",
    "error",
    "requirement not satisfied",
    "a Requires-Dist of an installed distribution is not satisfied (pip check, offline)",
)

# IC2xx: native code and the platform
IC201 = _code(
    "IC201",
    "error",
    "wheel tags do not fit",
    "a wheel's tags do not fit the image's architecture or Python",
)
IC202 = _code(
    "IC202",
    "error",
    "NEEDED does not resolve",
    "an extension module's NEEDED library does not resolve in the image",
)
IC203 = _code(
    "IC203",
    "error",
    "ctypes library missing",
    "a library loaded through ctypes is missing from the image",
)
IC204 = _code(
    "IC204",
    "error",
    "NumPy ABI mismatch",
    "extension modules built for NumPy 1.x with numpy>=2 installed (or the reverse)",
)
IC205 = _code(
    "IC205",
    "error",
    "needed library missing",
    "a shared library the system-needs file asks for is missing",
)
IC206 = _code(
    "IC206",
    "error",
    "needed Debian package missing",
    "a Debian package the system-needs file asks for is not installed",
)

IC207 = _code(
    "IC207",
    "info",
    "driver library from the host",
    "a NEEDED is an NVIDIA driver library the container runtime mounts from the host",
)
IC208 = _code(
    "IC208",
    "info",
    "on-demand plugin lacks a library",
    "a library no import loads (a plugin opened on demand) needs a name the image lacks",
)
IC210 = _code(
    "IC210",
    "warning",
    "catalog file left unread",
    "a catalog file (dpkg status, dist-info) is over the in-memory bound: what it lists is missing",
)

# IC3xx: known incompatibilities (imagecheck/pins/known_issues.toml)
IC301 = _code(
    "IC301",
    "warning",
    "passlib with bcrypt 4.1+",
    "passlib with bcrypt 4.1-4.x logs '(trapped) error reading bcrypt version': harmless",
    varies="the issue's severity in known_issues.toml",
)
IC302 = _code(
    "IC302",
    "error",
    "passlib with bcrypt 5",
    "passlib with bcrypt 5: every hash fails with 'password cannot be longer than 72 bytes'",
    varies="the issue's severity in known_issues.toml",
)

# IC4xx: imagecheck lint
IC401 = _code(
    "IC401",
    "error",
    "requirement against the pins",
    "a requirement the constraints' pins rule out, or one with no upper bound where they pin",
)
IC402 = _code(
    "IC402",
    "error",
    "requirements.txt out of date",
    "requirements.txt is out of date with the requirements.in beside it",
)
IC403 = _code(
    "IC403",
    "error",
    "requirement file not copied",
    "a Dockerfile RUN installs from a file no earlier COPY/ADD/bind mount put there",
)
IC404 = _code(
    "IC404",
    "warning",
    "package index unreachable",
    "pip-compile cannot reach the package index: the .txt was compared offline only",
)

# IC5xx: smoke tests
IC500 = _code(
    "IC500",
    "error",
    "smoke run did not finish",
    "the smoke run did not finish (runner killed, out of memory, overall timeout)",
)
IC501 = _code("IC501", "error", "import fails", "an import fails (exception type and last line)")
IC502 = _code(
    "IC502", "error", "import times out", "an import does not finish within --module-timeout"
)
IC503 = _code("IC503", "error", "import crashes", "an import crashes the interpreter (a signal)")
IC504 = _code("IC504", "info", "import is noisy", "an import or probe printed, warned or logged")
IC505 = _code("IC505", "error", "probe fails", "a probe fails (e.g. passlib+bcrypt 5 hashing)")
IC506 = _code(
    "IC506",
    "warning",
    "known harmless message",
    "an import or probe logs a message the known-failure table calls harmless",
    varies="the failure's severity in the failures table (failures.toml, --failures)",
)
IC507 = _code(
    "IC507",
    "warning",
    "import-order effect",
    "an import fails after other imports, but works alone",
)

# IC6xx: stale images and the build cache
IC601 = _code(
    "IC601",
    "error",
    "history differs from the Dockerfile",
    "the image's history does not match the Dockerfile's final stage",
)
IC602 = _code(
    "IC602",
    "error",
    "context file changed",
    "a build context file differs from its copy in the image, or is not there",
)
IC603 = _code(
    "IC603",
    "error",
    "installed package missing",
    "a package the Dockerfile installs is not in the image",
)
IC604 = _code(
    "IC604",
    "error",
    "requirements changed",
    "a requirements file the image installs pins versions the image does not have",
)
IC605 = _code(
    "IC605",
    "warning",
    "old cached layer",
    "a network-fetching layer is older than the rest of the image by --cache-age",
)
IC606 = _code(
    "IC606",
    "warning",
    "base image changed",
    "the engine's FROM image is not the base the image was built on",
)
IC607 = _code(
    "IC607",
    "warning",
    "old build cache",
    "a build cache entry older than --cache-age holds a network-fetching RUN",
    varies="info when no other IC6xx finding says the image is stale",
)

# IC7xx: a compose service's containers (imagecheck SERVICE)
IC701 = _code(
    "IC701",
    "error",
    "crashloop, known cause",
    "the service crashloops (or exited with an error) for a reason the failures table knows",
)
IC702 = _code(
    "IC702",
    "error",
    "crashloop, unknown cause",
    "the service crashloops (or exited with an error) for a reason the table does not know",
)
IC703 = _code("IC703", "error", "killed for memory", "the kernel killed the container for memory")
IC704 = _code(
    "IC704",
    "warning",
    "running, errors in the logs",
    "the container runs, but its logs show a real error",
)
IC705 = _code("IC705", "info", "harmless log message", "only a known harmless message in the logs")
IC706 = _code(
    "IC706", "info", "no container", "no container of the service: only its image was checked"
)
IC707 = _code(
    "IC707",
    "warning",
    "engine unreachable",
    "the Docker engine cannot be reached: containers and image not looked at",
)
IC708 = _code("IC708", "error", "no image", "no image of the service in the engine")
IC709 = _code(
    "IC709",
    "warning",
    "container not recreated",
    "the service's tag now names another image than the container runs",
)
IC710 = _code(
    "IC710",
    "error",
    "health check fails",
    "a container runs but its health check fails",
)

# IC85x: the application's alembic migrations (read statically) and its live database
IC850 = _code(
    "IC850",
    "error",
    "alembic: multiple heads",
    "the revisions have two or more heads: alembic upgrade head fails",
    varies="warning when every head is on its own labelled branch (alembic upgrade heads)",
)
IC851 = _code(
    "IC851",
    "error",
    "alembic: revision points nowhere",
    "a down_revision (or depends_on) names a revision no script defines",
)
IC852 = _code(
    "IC852",
    "error",
    "alembic: duplicate revision id",
    "two revision scripts declare the same revision id",
)
IC853 = _code(
    "IC853",
    "error",
    "alembic: unreadable revision",
    "a revision script cannot be read (syntax error, no literal revision id)",
)
IC854 = _code("IC854", "info", "alembic head", "the image's alembic head revision(s)")
IC855 = _code(
    "IC855",
    "error",
    "database behind the image",
    "the live database is behind the image's alembic head: migrations not applied",
)
IC856 = _code(
    "IC856",
    "error",
    "database at an unknown revision",
    "the live database is at a revision no script of the image defines (ahead of it, or "
    "from another branch)",
)
IC857 = _code(
    "IC857",
    "warning",
    "database never migrated",
    "the live database has no alembic_version table",
)
IC858 = _code(
    "IC858",
    "warning",
    "database not read",
    "the live database's alembic_version could not be read (refused, failed)",
)
IC859 = _code("IC859", "info", "database at head", "the live database is at the image's head")

# IC86x: the stack around the service (its depends_on services)
IC860 = _code(
    "IC860",
    "error",
    "dependency down",
    "the service fails while a service it depends on is down (exited, restarting, unhealthy, "
    "not created)",
)
IC861 = _code(
    "IC861",
    "warning",
    "dependency not up",
    "a service the service depends on is down (exited, restarting, unhealthy, not created)",
)
IC862 = _code(
    "IC862",
    "info",
    "start not gated on health",
    "the service waits only for a dependency's start, though it has a health check",
)

# IC9xx: the models against the database (alembic migrations on a throwaway database)
IC900 = _code(
    "IC900",
    "warning",
    "migration check did not finish",
    "the migration check could not run to the end (database start, runner, timeout)",
)
IC901 = _code(
    "IC901",
    "error",
    "model column no migration creates",
    "a model defines a column that no migration creates",
)
IC902 = _code(
    "IC902",
    "error",
    "model table no migration creates",
    "a model defines a table that no migration creates",
)
IC903 = _code(
    "IC903",
    "warning",
    "migrated but no model",
    "the migrations create a table or column that no model defines",
)
IC904 = _code(
    "IC904",
    "warning",
    "type or nullability differs",
    "a column's type or nullability differs between the model and the migrations",
)
IC905 = _code(
    "IC905",
    "error",
    "migration fails to apply",
    "a migration fails to apply on a fresh database (revision, statement, error)",
)
IC906 = _code(
    "IC906",
    "error",
    "model alembic does not see",
    "a model module defines tables but alembic's env.py never imports it",
)
IC907 = _code(
    "IC907",
    "error",
    "database behind the migrations",
    "the live database lacks a model's column or table that a migration in the image creates",
)
IC908 = _code(
    "IC908",
    "error",
    "live database lacks a column no migration creates",
    "the live database lacks a model's column or table and no migration in the image creates it",
)
IC909 = _code(
    "IC909",
    "info",
    "index, constraint or default differs",
    "an index, constraint, default or comment differs between the models and the migrations",
)
IC910 = _code(
    "IC910",
    "error",
    "declarative base alembic does not compare",
    "the application's mapped classes are on a MetaData that env.py's target_metadata "
    "does not list",
)
IC911 = _code(
    "IC911",
    "warning",
    "schema autogenerate does not compare",
    "a model's table is outside the default schema and env.py does not set include_schemas",
)
IC912 = _code(
    "IC912",
    "warning",
    "shipped SQLite file behind the migrations",
    "the SQLite file the image ships is not at the image's head (its revision, what it lacks)",
)
IC913 = _code(
    "IC913",
    "error",
    "shipped SQLite file fails to upgrade",
    "the SQLite file the image ships fails to upgrade to head, though a fresh one does",
)

# IC93x: values the build baked into the image, against today's configuration
IC930 = _code(
    "IC930",
    "error",
    "NEXT_PUBLIC_* value baked in differs",
    "a NEXT_PUBLIC_* value the configuration sets differs from the one the Next.js build inlined",
    varies="warning when the built value is in none of the .next/ files searched",
)
IC931 = _code(
    "IC931",
    "warning",
    "NEXT_PUBLIC_* value not in the build",
    "a NEXT_PUBLIC_* value the configuration sets is in no .next/ file and the build had none",
)
IC932 = _code(
    "IC932",
    "warning",
    "build arg differs from the history",
    "a build arg the compose file (or --build-arg) gives differs from the one the history records",
)

# IC80x: the application itself (its entry point, its modules, its mappers)
IC801 = _code(
    "IC801",
    "info",
    "application not found",
    "the image's command names no application imagecheck can find (configure it: --app)",
)
IC802 = _code(
    "IC802",
    "error",
    "application import fails",
    "the application's entry module fails to import (file:line, close names)",
)
IC803 = _code(
    "IC803",
    "error",
    "application attribute missing",
    "the entry module imports, but has no attribute the command serves (app.main:app)",
)
IC804 = _code(
    "IC804",
    "error",
    "application module fails",
    "a module of the application's package fails to import (where lazy imports hide)",
)
IC805 = _code(
    "IC805",
    "error",
    "application import hangs or exits",
    "importing a module of the application hangs, exits (sys.exit) or starts a server",
)
IC806 = _code(
    "IC806",
    "error",
    "SQLAlchemy mappers fail",
    "configure_mappers() fails: a model's relationship cannot be set up (named)",
)
IC807 = _code(
    "IC807",
    "warning",
    "application warns at import",
    "importing the application raises a warning (SAWarning: a reserved 'metadata' column)",
)
IC808 = _code(
    "IC808",
    "warning",
    "application needs its settings",
    "the application's import stops at settings the image's ENV lacks (pydantic settings, "
    "os.environ[...]); give them with --env-file/--env or a compose service",
)
