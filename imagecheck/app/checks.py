"""IC85x: the application's alembic revisions, and the live database against them.

``alembic_findings`` judges the scripts of one ``alembic.ini`` (the image's, or a source
tree's for ``imagecheck lint``); ``check_database`` compares the revision the stack's
database is at (``triage.database``, read by ``app.database``) with the image's head.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..codes import (
    IC850,
    IC851,
    IC852,
    IC853,
    IC854,
    IC855,
    IC856,
    IC857,
    IC858,
    IC859,
)
from ..model import AlembicScripts, DatabaseRevision, Finding
from .alembic import Graph, describe

if TYPE_CHECKING:
    from ..checks import Context

SUBJECT = "alembic"


def _where(path: str, line: int = 1) -> str:
    return f"{path}:{line}"


def _labelled_branches(graph: Graph, heads: tuple[str, ...]) -> bool:
    """Each head's lineage carries a branch label no other head's does: separate branches
    on purpose (``alembic upgrade heads``), not an accidental fork."""
    owned: list[set[str]] = []
    for head in heads:
        labels = {lab for r in graph.ancestors(head) for lab in graph.by_id[r].branch_labels}
        owned.append(labels)
    for i, labels in enumerate(owned):
        others = set().union(*(o for j, o in enumerate(owned) if j != i))
        if not labels - others:
            return False
    return True


def alembic_findings(scripts: AlembicScripts, *, image: bool = True) -> Iterator[Finding]:
    """The findings of one ``alembic.ini``'s revisions: unreadable scripts, duplicate ids,
    revisions that point nowhere, several heads, and (``image``) the head, as info."""
    rebuild = " and rebuild the image" if image else ""
    for path, why in scripts.unreadable:
        yield IC853.finding(
            subject=SUBJECT,
            message=f"{path} cannot be read as an alembic revision: {why}; alembic fails to "
            "load the script directory (the other revisions were read)",
            hint=f"fix the script (module-level literal revision = '...'){rebuild}",
            location=_where(path),
        )
    graph = Graph.of(scripts)
    for group in graph.duplicates:
        paths = ", ".join(r.path for r in group)
        yield IC852.finding(
            subject=SUBJECT,
            message=f"revision id {group[0].revision} is declared by {len(group)} scripts: {paths}",
            hint="give one of them a new id (alembic revision generates one) and point its "
            f"children's down_revision to it{rebuild}",
            location=_where(group[1].path, group[1].line),
        )
    for rev, field, missing in graph.dangling():
        yield IC851.finding(
            subject=SUBJECT,
            message=f"revision {describe(rev, rev.revision)} has {field} {missing!r}, which no "
            f"script in {', '.join(scripts.locations)} defines: alembic fails with "
            f'"Revision {missing} referenced from {rev.revision} is not present"',
            hint=f"restore the missing revision script, or point {field} to an existing "
            f"revision{rebuild}",
            location=_where(rev.path, rev.line),
        )
    heads = graph.heads()
    ids = tuple(h.revision for h in heads)
    if len(heads) > 1:
        named = ", ".join(describe(h, h.revision) for h in heads)
        labelled = _labelled_branches(graph, ids)
        if labelled:
            yield IC850.finding(
                subject=SUBJECT,
                message=f"{len(heads)} heads on labelled branches: {named}; `alembic upgrade "
                'head` fails with "Multiple head revisions are present"',
                hint="run `alembic upgrade heads` (every branch), or merge them: "
                f'alembic merge heads -m "merge {" and ".join(ids)}"',
                location=_where(heads[0].path, heads[0].line),
                severity="warning",
            )
        else:
            yield IC850.finding(
                subject=SUBJECT,
                message=f"{len(heads)} head revisions: {named}; `alembic upgrade head` fails "
                "with \"Multiple head revisions are present for given argument 'head'\"",
                hint=f'alembic merge heads -m "merge {" and ".join(ids)}" in the source tree, '
                f"then commit the merge revision{rebuild}",
                location=_where(heads[0].path, heads[0].line),
            )
    elif heads and image:
        head = heads[0]
        yield IC854.finding(
            subject=SUBJECT,
            message=f"head {describe(head, head.revision)}, {len(graph.by_id)} revision(s) in "
            f"{', '.join(scripts.locations)} ({scripts.config})",
            hint="nothing to do; `imagecheck SERVICE` compares it with the live database",
            location=_where(head.path, head.line),
        )


def check_alembic(ctx: Context) -> Iterator[Finding]:
    for scripts in ctx.inventory.alembic:
        yield from alembic_findings(scripts)


def _upgrade(service: str) -> str:
    return f"docker compose run --rm {service} alembic upgrade head"


def database_findings(
    db: DatabaseRevision, scripts: AlembicScripts, service: str
) -> Iterator[Finding]:
    """The live database's revision against the image's head(s)."""
    where = f"{db.service} ({db.engine})"
    if db.status == "no-table":
        yield IC857.finding(
            subject=db.service,
            message=f"the database of {where} has no alembic_version table: no migration was "
            f"ever applied to it, while the image's revisions expect one ({db.detail})",
            hint=_upgrade(service),
        )
        return
    if db.status != "read":
        yield IC858.finding(
            subject=db.service,
            message=f"the alembic revision of {where} could not be read: {db.detail}; the "
            "other checks went on",
            hint=f"docker compose logs {db.service}; is the database up and its credentials "
            "(POSTGRES_USER / MYSQL_USER ...) those of its container?",
        )
        return
    graph = Graph.of(scripts)
    heads = graph.heads()
    if not heads:
        return
    head = heads[0]
    at = [graph.resolve(r) for r in db.revisions]
    unknown = [r for r, full in zip(db.revisions, at, strict=True) if full is None]
    shown = ", ".join(describe(graph.by_id.get(r or ""), r or "") for r in at if r) or "none"
    if unknown:
        yield IC856.finding(
            subject=db.service,
            message=f"database at {', '.join(unknown)}, which no revision script of this image "
            f"defines (image head {describe(head, head.revision)}): the database is ahead of "
            "the image (a newer image migrated it; this one is older), or was migrated from "
            "another branch",
            hint="run the image that has that revision (docker compose build, then up), or, "
            "to go back, `alembic downgrade` with the newer image first",
        )
        return
    if not db.revisions:
        yield IC857.finding(
            subject=db.service,
            message=f"the alembic_version table of {where} is empty: no migration applied",
            hint=_upgrade(service),
        )
        return
    known = [r for r in at if r is not None]
    todo = graph.behind(known, head.revision) if len(heads) == 1 else []
    if todo:
        first = f"database at {shown}, image head {describe(head, head.revision)}"
        steps = ", ".join(describe(r, r.revision) for r in todo)
        yield IC855.finding(
            subject=db.service,
            message=f"{first}: {len(todo)} migration(s) behind ({steps}); the application's "
            "queries fail (UndefinedColumn, UndefinedTable) until they are applied",
            hint=_upgrade(service),
        )
    elif len(heads) == 1:
        yield IC859.finding(
            subject=db.service,
            message=f"database at {shown}: the image's head",
            hint="nothing to do",
        )


def check_database(ctx: Context) -> Iterator[Finding]:
    run = ctx.triage
    if run is None or run.database is None:
        return
    for scripts in ctx.inventory.alembic[:1]:
        yield from database_findings(run.database, scripts, run.service)
