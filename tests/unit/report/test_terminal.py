"""The terminal reporter prints data as it is: brackets are text, never console markup."""

from __future__ import annotations

import io

from rich.console import Console

from imagecheck.model import (
    Change,
    CheckResult,
    ContainerState,
    DebianPackage,
    Diagnosis,
    Finding,
    HistoryEntry,
    ImageInfo,
    Interpreter,
    Inventory,
    LayerRef,
    LayerSummary,
    LintReport,
    ModuleResult,
    Platform,
    PythonDist,
    PythonEnvironment,
    Removed,
    Report,
    SharedLibrary,
    SmokeRun,
    StaleVerdict,
    TriageRun,
)
from imagecheck.report.terminal import (
    render_inventory,
    render_layers,
    render_lint,
    render_report,
    step_text,
)

#: What rich would read as markup: an escaped bracket, a style, an unbalanced closing tag
#: (MarkupError), a link. Every piece of data below carries it.
MARKUP = "[[failure]] [bold] [/] [link=x]"


def m(label: str) -> str:
    return f"{label} {MARKUP}"


LAYER = LayerRef(1, "RUN pip [/] [bold]x", "sha256:" + "b" * 64)


def _inventory() -> Inventory:
    history = (
        HistoryEntry(0, "2024-01-01T00:00:00Z", m("ADD file:abc in /"), "", False, "sha256:a"),
        HistoryEntry(1, "2024-01-02T00:00:00Z", LAYER.created_by, "", False, LAYER.diff_id),
    )
    image = ImageInfo(
        m("img"),
        "sha256:" + "c" * 64,
        None,
        Platform("linux", "amd64"),
        (),
        ("python3",),
        (),
        "/app",
        "",
        history,
        ("sha256:a", LAYER.diff_id or ""),
        (m("repo:tag"),),
    )
    site = m("/usr/lib/site")
    return Inventory(
        image,
        (PythonEnvironment(site, "venv", m("3.11"), m("/venv"), on_runtime_path=True),),
        Interpreter(m("/usr/bin/python3"), "/usr/bin/python3.11", m("3.11.2"), None, m("PATH"), ()),
        (
            PythonDist(m("dist"), m("1.0"), m("/x.dist-info"), site, True, LAYER),
            PythonDist(m("old"), "2", "/y", site, False, LAYER, shadowed_by=m("/shadow")),
        ),
        (Removed("python", m("gone"), m("0.1"), "/z", LAYER, LAYER),),
        (
            DebianPackage("base", "1", "amd64", LayerRef(0, "ADD", "sha256:a")),
            DebianPackage(m("deb"), m("1:2.3"), m("amd64"), LAYER),
        ),
        (
            SharedLibrary(
                m("/usr/lib/libx.so"), m("libx.so.1"), (m("libc.so.6"),), (), (), "", LAYER
            ),
        ),
        (
            LayerSummary(
                history[1],
                10,
                1,
                0,
                0,
                0,
                0,
                (Change("python", "added", m("newdist"), None, m("1.0"), site),),
            ),
        ),
        notes=(m("read from [red]archive"),),
    )


def _report() -> Report:
    finding = Finding("IC101", "error", m("subject"), m("message"), m("hint"), LAYER)
    smoke = SmokeRun(
        "ran",
        m("reason"),
        m("/usr/bin/python3"),
        m("3.11"),
        1.0,
        (
            ModuleResult("import", m("mod"), "error", 0.1, m("distro"), last_line=m("Error")),
            ModuleResult("probe", m("probe"), "ok", 0.2),
        ),
    )
    container = ContainerState(
        "id",
        m("shop-backend-1"),
        "restarting",
        True,
        3,
        1,
        False,
        m("unhealthy"),
        None,
        None,
        "sha256:d",
    )
    triage = TriageRun(
        m("backend"),
        m("shop"),
        (m("/srv/compose.yaml"),),
        "crashlooping",
        m("restarting"),
        image_ref=m("shop-backend"),
        image_source=m("container"),
        build_context=m("/srv/backend"),
        dockerfile=m("Dockerfile"),
        containers=(container,),
        log_tail=m("log line one") + "\n" + m("Traceback"),
        diagnosis=Diagnosis(m("known"), m("title"), m("cause"), m("fix"), m("evidence")),
        commands=(m("docker compose up -d backend"),),
        warnings=(m("VAR is not set"),),
    )
    stale = StaleVerdict("stale", m("IC601: why"), m("Dockerfile"), m("ctx"), m("how"), (m("cmd"),))
    checks = (CheckResult("IC10", m("pins"), "failed", m("check reason")),)
    return Report(_inventory(), (finding,), checks, (m("pins.txt"),), smoke, stale, triage)


def _console() -> Console:
    return Console(record=True, file=io.StringIO(), width=3000, color_system="truecolor")


def _assert_literal(console: Console, *labels: str) -> None:
    text = console.export_text(clear=False)
    for label in labels:
        assert m(label) in text, label


def test_report_data_is_printed_literally() -> None:
    console = _console()
    render_report(console, _report(), "error", verbose=True)
    _assert_literal(
        console,
        *("img", "subject", "message", "hint", "pins", "check reason", "pins.txt"),
        *("mod", "distro", "Error", "/usr/bin/python3", "3.11"),
        *("backend", "shop", "/srv/compose.yaml", "restarting", "shop-backend", "container"),
        *("/srv/backend", "Dockerfile", "log line one", "Traceback", "title", "cause", "fix"),
        *("evidence", "docker compose up -d backend", "VAR is not set", "shop-backend-1"),
        *("unhealthy", "IC601: why", "how", "cmd", "read from [red]archive", "PATH"),
    )
    assert "RUN pip [/] [bold]x" in console.export_text(clear=False)  # the layer's label


def test_inventory_and_layers_data_is_printed_literally() -> None:
    for show_all in (False, True):
        console = _console()
        render_inventory(console, _inventory(), verbose=True, show_all=show_all)
        _assert_literal(
            console,
            *("img", "repo:tag", "/usr/lib/site", "3.11", "/venv", "dist", "1.0", "/shadow"),
            *("gone", "0.1", "deb", "1:2.3", "amd64", "/usr/bin/python3", "3.11.2"),
        )
        if show_all:
            _assert_literal(console, "/usr/lib/libx.so", "libx.so.1", "libc.so.6")
    console = _console()
    render_layers(console, _inventory(), verbose=True)
    _assert_literal(console, "newdist")
    assert "RUN pip [/] [bold]x" in console.export_text(clear=False)


def test_lint_data_is_printed_literally() -> None:
    finding = Finding(
        "IC801", "error", m("subject"), m("message"), m("hint"), location=m("req.txt:3")
    )
    report = LintReport(
        (m("req.txt"),),
        (finding,),
        (CheckResult("IC80", m("lint"), "failed", m("why")),),
        (m("pins"),),
    )
    console = _console()
    render_lint(console, report, "error", verbose=True)
    _assert_literal(console, "subject", "message", "hint", "req.txt:3", "pins", "lint", "why")


def test_progress_descriptions_are_printed_literally() -> None:
    from imagecheck.cli import _Bar
    from imagecheck.image.sources.base import Progress

    console = Console(record=True, file=io.StringIO(), width=300, force_terminal=True)
    bar = _Bar(console)
    bar._started -= 10  # past the delay that keeps quick reads bar-less
    bar(Progress(m("stage"), 1, 4, m("detail")))
    bar(Progress(m("stage"), 2, 4, m("detail")))
    bar.stop()
    _assert_literal(console, "stage", "detail")


def test_layers_show_each_step_as_its_dockerfile_line_for_either_builder() -> None:
    """As Docker 20.10 records the same Dockerfile lines (seen on this engine)."""
    pairs = {
        # legacy builder
        "/bin/sh -c apt-get update && apt-get install -y libmagic1": "RUN apt-get update && "
        "apt-get install -y libmagic1",
        "|2 A=1 B=2 /bin/sh -c pip install -r r.txt": "RUN pip install -r r.txt",
        "|1 FLAVOR=x /bin/sh -c echo $FLAVOR": "RUN echo $FLAVOR",
        "/bin/sh -c #(nop)  ENV MODE=prod": "ENV MODE=prod",
        "/bin/sh -c #(nop) COPY file:0a1b in /app/ ": "COPY file:0a1b in /app/",
        # BuildKit: the same lines
        "RUN /bin/sh -c apt-get update && apt-get install -y libmagic1 # buildkit": "RUN "
        "apt-get update && apt-get install -y libmagic1",
        "RUN |1 FLAVOR=x /bin/sh -c echo $FLAVOR # buildkit": "RUN echo $FLAVOR",
        "RUN |1 FLAVOR=x echo exec form # buildkit": "RUN echo exec form",  # RUN ["echo", ...]
        "COPY requirements.txt /app/ # buildkit": "COPY requirements.txt /app/",
        "WORKDIR /app": "WORKDIR /app",
        "ENV MODE=prod": "ENV MODE=prod",
        "": "",
    }
    for recorded, shown in pairs.items():
        assert step_text(recorded) == shown, recorded


LONG = (
    "bcrypt 4.2.0 is installed but /srv/app/requirements/production.txt:14 pins "
    "bcrypt==4.0.1 (constraints/base.txt:3 agrees with the image); layer #7 installed it"
)
LONG_HINT = (
    "find what pulled bcrypt 4.2.0 in at layer #7 and pin it there, or rebuild without "
    "the cache (pip install 'bcrypt==4.0.1')"
)


def _render_at(width: int) -> list[str]:
    finding = Finding(
        "IC102", "error", "bcrypt", LONG, LONG_HINT, LAYER, "requirements/production.txt:14"
    )
    report = Report(_inventory(), (finding,), ())
    console = Console(record=True, file=io.StringIO(), width=width)
    render_report(console, report, "error")
    return console.export_text().splitlines()


def _words_intact(lines: list[str], text: str) -> bool:
    """Every word of ``text`` appears whole on some line (none folded across two)."""
    return all(any(word in line for line in lines) for word in text.split())


def test_findings_at_80_columns_are_blocks_wrapped_by_words() -> None:
    lines = _render_at(80)
    assert max(len(line) for line in lines) <= 80
    head = next(line for line in lines if line.startswith("IC102 error bcrypt"))
    assert "requirements/production.txt:14" in head
    body = lines[lines.index(head) + 1 : lines.index(head) + 6]
    assert lines[lines.index(head) + 6].startswith("Checks")
    assert body[0].startswith("    bcrypt 4.2.0 is installed")
    assert _words_intact(body, LONG)
    assert _words_intact(body, "fix: " + LONG_HINT)
    assert all(line.startswith("    ") for line in body)
    assert body[3].startswith("    fix: find what pulled")


def test_findings_at_120_columns_are_a_table() -> None:
    lines = _render_at(120)
    assert max(len(line) for line in lines) <= 120
    header = next(line for line in lines if "severity" in line and "message" in line)
    assert "hint" in header
    assert not any(line.startswith("IC102 error bcrypt") for line in lines)
