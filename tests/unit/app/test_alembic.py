"""Alembic read statically (``imagecheck.app.alembic``): revision scripts parsed with ``ast``
from real files (a source tree, and an image archive's layers), the graph's heads, the
findings, and the live database's revision against the head."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from imagecheck.api import Options, check, inventory
from imagecheck.app import (
    Folder,
    Graph,
    alembic_findings,
    database_findings,
    parse_revision,
    read_scripts,
)
from imagecheck.lint import lint_files
from imagecheck.model import AlembicScripts, DatabaseRevision
from imagecheck.pins import Constraints
from tests.builders import F, Layer, make_image

INI = "[alembic]\nscript_location = app/alembic\n\n[loggers]\nkeys = root\n"


def script(rev: str, down: str | tuple[str, ...] | None, message: str = "", **extra: object) -> str:
    """A revision script as ``alembic revision`` writes it (annotated, as 1.13's template)."""
    lines = [
        f'"""{message or "revision " + rev}\n\nRevision ID: {rev}\n"""',
        "import sqlalchemy as sa",
    ]
    lines.append(f"revision: str = {rev!r}")
    lines.append(f"down_revision = {down!r}")
    for key, value in extra.items():
        lines.append(f"{key} = {value!r}")
    lines.append("def upgrade() -> None:\n    raise SystemExit('never run')")
    return "\n".join(lines) + "\n"


def tree(root: Path, scripts: dict[str, str], ini: str = INI) -> Path:
    (root / "alembic.ini").write_text(ini)
    versions = root / "app" / "alembic" / "versions"
    versions.mkdir(parents=True)
    (versions / "__init__.py").write_text("raise SystemExit('not a revision')\n")
    for name, text in scripts.items():
        (versions / name).write_text(text)
    return root / "alembic.ini"


def scripts_of(root: Path, scripts: dict[str, str], ini: str = INI) -> AlembicScripts:
    return read_scripts(Folder(Path()), str(tree(root, scripts, ini)))


LINEAR = {
    "a1_init.py": script("a1a1a1a1a1a1", None, "add users"),
    "b2_items.py": script("b2b2b2b2b2b2", "a1a1a1a1a1a1", "add items"),
    "c3_role.py": script("c3c3c3c3c3c3", "b2b2b2b2b2b2", "add role column"),
}


def test_a_linear_history_has_one_head(tmp_path: Path) -> None:
    scripts = scripts_of(tmp_path, LINEAR)
    assert scripts.unreadable == ()
    assert sorted(r.revision for r in scripts.revisions) == [
        "a1a1a1a1a1a1",
        "b2b2b2b2b2b2",
        "c3c3c3c3c3c3",
    ]
    graph = Graph.of(scripts)
    assert [h.revision for h in graph.heads()] == ["c3c3c3c3c3c3"]
    assert graph.by_id["c3c3c3c3c3c3"].message == "add role column"
    found = list(alembic_findings(scripts))
    assert [(f.code, f.severity) for f in found] == [("IC854", "info")]
    assert "c3c3c3c3c3c3 (add role column), 3 revision(s)" in found[0].message


def test_two_heads_are_an_error_naming_them_and_the_merge(tmp_path: Path) -> None:
    forked = {**LINEAR, "d4_other.py": script("d4d4d4d4d4d4", "b2b2b2b2b2b2", "add priority")}
    found = list(alembic_findings(scripts_of(tmp_path, forked)))
    assert [f.code for f in found] == ["IC850"]
    f = found[0]
    assert f.severity == "error"
    assert "c3c3c3c3c3c3 (add role column)" in f.message
    assert "d4d4d4d4d4d4 (add priority)" in f.message
    assert "Multiple head revisions are present" in f.message
    assert 'alembic merge heads -m "merge c3c3c3c3c3c3 and d4d4d4d4d4d4"' in f.hint


def test_a_merge_revision_ends_the_fork(tmp_path: Path) -> None:
    merged = {
        **LINEAR,
        "d4_other.py": script("d4d4d4d4d4d4", "b2b2b2b2b2b2"),
        "e5_merge.py": script("e5e5e5e5e5e5", ("c3c3c3c3c3c3", "d4d4d4d4d4d4"), "merge"),
    }
    scripts = scripts_of(tmp_path, merged)
    assert [h.revision for h in Graph.of(scripts).heads()] == ["e5e5e5e5e5e5"]
    assert [f.code for f in alembic_findings(scripts)] == ["IC854"]


def test_labelled_branches_are_only_a_warning(tmp_path: Path) -> None:
    branches = {
        "a1.py": script("a1a1a1a1a1a1", None, branch_labels=("core",)),
        "b2.py": script("b2b2b2b2b2b2", None, branch_labels=("audit",)),
    }
    found = list(alembic_findings(scripts_of(tmp_path, branches)))
    assert [(f.code, f.severity) for f in found] == [("IC850", "warning")]
    assert "alembic upgrade heads" in found[0].hint


def test_a_down_revision_that_points_nowhere(tmp_path: Path) -> None:
    broken = {**LINEAR, "b2_items.py": script("b2b2b2b2b2b2", "ffffffffffff", "add items")}
    found = list(alembic_findings(scripts_of(tmp_path, broken)))
    codes = [f.code for f in found]
    assert "IC851" in codes
    f = found[codes.index("IC851")]
    assert "'ffffffffffff'" in f.message
    assert f.location is not None
    assert f.location.endswith("b2_items.py:6")  # its revision = line


def test_a_duplicate_revision_id(tmp_path: Path) -> None:
    dup = {**LINEAR, "c3_copy.py": script("c3c3c3c3c3c3", "b2b2b2b2b2b2", "copy")}
    found = list(alembic_findings(scripts_of(tmp_path, dup)))
    assert "IC852" in [f.code for f in found]
    assert "declared by 2 scripts" in next(f.message for f in found if f.code == "IC852")


def test_an_unparsable_script_is_reported_and_the_others_read(tmp_path: Path) -> None:
    bad = {
        **LINEAR,
        "x_conflict.py": "<<<<<<< HEAD\nrevision = 'x'\n=======\n",
        "y_computed.py": "import uuid\nrevision = uuid.uuid4().hex\ndown_revision = None\n",
        "z_none.py": "print('no revision here')\n",
        "README.txt": "not a script",
    }
    scripts = scripts_of(tmp_path, bad)
    assert len(scripts.revisions) == 3
    why = {Path(p).name: reason for p, reason in scripts.unreadable}
    assert set(why) == {"x_conflict.py", "y_computed.py", "z_none.py"}
    assert why["x_conflict.py"].startswith("line 1:")
    assert "not a literal" in why["y_computed.py"]
    codes = [f.code for f in alembic_findings(scripts)]
    assert codes.count("IC853") == 3
    assert "IC854" in codes  # the readable ones still give the head


def test_version_locations_and_here(tmp_path: Path) -> None:
    ini = "[alembic]\nscript_location = %(here)s/app/alembic\nversion_locations = %(here)s/more\n"
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "m1.py").write_text(script("m1m1m1m1m1m1", None))
    scripts = scripts_of(tmp_path, LINEAR, ini)
    assert [r.revision for r in scripts.revisions] == ["m1m1m1m1m1m1"]
    assert scripts.locations == (str(tmp_path / "more"),)


def test_an_ini_without_script_location_is_a_note(tmp_path: Path) -> None:
    scripts = scripts_of(tmp_path, LINEAR, "[alembic]\n")
    assert scripts.revisions == ()
    assert "no script_location" in scripts.note


def test_parse_reads_tuples_and_module_docstring() -> None:
    rev = parse_revision(
        '"""merge heads"""\nrevision = "e5"\ndown_revision = ("c3", "d4")\n'
        'depends_on = "x1"\nbranch_labels = None\n',
        "/v/e5.py",
    )
    assert (rev.down_revisions, rev.depends_on, rev.branch_labels) == (("c3", "d4"), ("x1",), ())
    assert rev.message == "merge heads"
    with pytest.raises(ValueError, match="no revision"):
        parse_revision("down_revision = None\n", "/v/x.py")


def test_behind_counts_the_revisions_to_apply(tmp_path: Path) -> None:
    graph = Graph.of(scripts_of(tmp_path, LINEAR))
    assert [r.revision for r in graph.behind(["a1a1a1a1a1a1"], "c3c3c3c3c3c3")] == [
        "b2b2b2b2b2b2",
        "c3c3c3c3c3c3",
    ]
    assert graph.behind(["c3c3c3c3c3c3"], "c3c3c3c3c3c3") == []
    assert graph.resolve("b2b2") == "b2b2b2b2b2b2"


def _db(*revisions: str, status: str = "read", detail: str = "") -> DatabaseRevision:
    return DatabaseRevision("db", "postgresql", status, revisions, detail, "p_db_1")


def test_the_database_against_the_head(tmp_path: Path) -> None:
    scripts = scripts_of(tmp_path, LINEAR)
    [behind] = database_findings(_db("a1a1a1a1a1a1"), scripts, "backend")
    assert behind.code == "IC855"
    assert behind.message.startswith(
        "database at a1a1a1a1a1a1 (add users), image head c3c3c3c3c3c3 (add role column): "
        "2 migration(s) behind"
    )
    assert behind.hint == "docker compose run --rm backend alembic upgrade head"
    [at_head] = database_findings(_db("c3c3c3c3c3c3"), scripts, "backend")
    assert at_head.code == "IC859"
    [unknown] = database_findings(_db("999999999999"), scripts, "backend")
    assert unknown.code == "IC856"
    assert "ahead of the image" in unknown.message
    [never] = database_findings(_db(status="no-table"), scripts, "backend")
    assert never.code == "IC857"
    [refused] = database_findings(
        _db(status="refused", detail="psql: error: connection refused"), scripts, "backend"
    )
    assert (refused.code, refused.severity) == ("IC858", "warning")
    assert "connection refused" in refused.message


def test_lint_reads_the_tree_from_a_changed_revision(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    forked = {**LINEAR, "d4_other.py": script("d4d4d4d4d4d4", "b2b2b2b2b2b2")}
    tree(tmp_path, forked)
    monkeypatch.chdir(tmp_path)
    report = lint_files([Path("app/alembic/versions/d4_other.py")], Constraints())
    assert report.files == ("alembic.ini",)
    assert [f.code for f in report.findings] == ["IC850"]
    clean = tmp_path / "clean"
    clean.mkdir()
    tree(clean, LINEAR)
    monkeypatch.chdir(clean)
    assert lint_files([], Constraints()).findings == ()


def test_the_image_catalogs_its_alembic_revisions(tmp_path: Path) -> None:
    """Real layers in a docker archive: the ini and scripts are captured by the index,
    a later layer's revision joins (a fork), a site-packages alembic.ini is ignored."""
    app = [F(f"app/app/alembic/versions/{n}", t.encode()) for n, t in LINEAR.items()]
    app += [
        F("app/alembic.ini", INI.encode()),
        F("usr/local/lib/python3.11/site-packages/pkg/alembic.ini", INI.encode()),
    ]
    fork = [F("app/app/alembic/versions/d4.py", script("d4d4d4d4d4d4", "b2b2b2b2b2b2").encode())]
    built = make_image(
        tmp_path,
        [Layer(app, "COPY ./app /app"), Layer(fork, "COPY d4.py /app/app/alembic/versions/")],
    )
    inv = inventory(str(built.path), Options(cache_dir=tmp_path / "cache"))
    [scripts] = inv.alembic
    assert scripts.config == "/app/alembic.ini"
    assert len(scripts.revisions) == 4
    again = inventory(str(built.path), Options(cache_dir=tmp_path / "cache"))
    assert again.alembic == inv.alembic  # the cached inventory keeps it
    report = check(str(built.path), Options(cache_dir=tmp_path / "cache"))
    heads = [f for f in report.findings if f.code == "IC850"]
    assert len(heads) == 1
    assert heads[0].location == "/app/app/alembic/versions/c3_role.py:6"
    result = next(r for r in report.checks if r.name == "alembic revisions")
    assert result.status == "failed"
    json.dumps([f.message for f in report.findings])
