"""Benchmark the migration check against a plain ``alembic upgrade head``.

Prints figures; it is not a test. The fixture is tests/engine/stacks/fullstack with 17
more revisions (20 in all, each adding a column the models define), built with BuildKit
and the test wheels (``~/.cache/imagecheck-test-wheels/fullstack``, as the engine tests
download them), with the test PostgreSQL image. In interleaved rounds:

- the check: ``run_migrations`` (a network, the database started and waited for, the
  upgrade and ``compare_metadata`` in a container of the image), split into database
  start, upgrade and comparison;
- the floor: the same database started and waited for the same way, then
  ``alembic upgrade head`` in a plain ``docker run`` of the image on its network.

Target (issue 18): the check adds at most 20% to the database start plus upgrade.
Run: ``python benchmarks/bench_migrations.py [--repeat 3]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from imagecheck.api import Options, inventory
from imagecheck.app import MigrationOptions, plan_migrations, run_migrations
from imagecheck.engine import Service, connect
from imagecheck.triage import load_project

ROOT = Path(__file__).resolve().parents[1]
STACK = ROOT / "tests" / "engine" / "stacks"
WHEELS = Path.home() / ".cache" / "imagecheck-test-wheels" / "fullstack"
DOCKER = "/usr/bin/docker"
LABEL = ("--label", "imagecheck.test=1")
EXTRA = 17

REVISION = '''\
"""Add item.c{n}

Revision ID: {rev}
Revises: {down}
"""

import sqlalchemy as sa
from alembic import op

revision = "{rev}"
down_revision = "{down}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("item", sa.Column("c{n}", sa.Integer(), nullable=True))


def downgrade() -> None:
    op.drop_column("item", "c{n}")
'''


def _build(folder: Path, tag: str) -> Path:
    root = folder / "stack"
    shutil.copytree(STACK / "fullstack", root)
    versions = root / "backend" / "app" / "alembic" / "versions"
    models = root / "backend" / "app" / "models.py"
    text = models.read_text()
    fields = "".join(f"    c{n}: int | None = None\n" for n in range(EXTRA))
    anchor = '    owner: User | None = Relationship(back_populates="items")\n'
    models.write_text(text.replace(anchor, anchor + fields))
    down = "d98dd8ec85a3"
    for n in range(EXTRA):
        rev = f"bench{n:07d}"
        (versions / f"{rev}_c{n}.py").write_text(REVISION.format(n=n, rev=rev, down=down))
        down = rev
    shutil.copytree(WHEELS, root / "backend" / "wheels")
    subprocess.run(
        [DOCKER, "build", "-q", *LABEL, "-t", tag, str(root / "backend")],
        env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/bin:/bin"},
        check=True,
        capture_output=True,
    )
    subprocess.run(
        [DOCKER, "build", "-q", *LABEL, "-t", f"{tag}-pg", str(STACK / "postgres")],
        check=True,
        capture_output=True,
    )
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tag = f"imagecheck-bench/migrations:{uuid.uuid4().hex[:8]}"
    engine = connect()
    with tempfile.TemporaryDirectory() as tmp:
        root = _build(Path(tmp), tag)
        try:
            repository, _, key = tag.partition(":")
            env = {"DOCKER_IMAGE_BACKEND": repository, "TAG": key}
            env["POSTGRES_IMAGE"] = f"{tag}-pg"
            project = load_project(root, environ=env)
            inv = inventory(f"docker:{tag}", Options(cache_dir=Path(tmp) / "cache"))
            opts = MigrationOptions()
            plan = plan_migrations(project, (tag,), opts)
            assert not isinstance(plan, str), plan
            check: dict[str, list[float]] = {"db_start": [], "upgrade": [], "compare": []}
            totals: list[float] = []
            floor: list[float] = []
            for _ in range(args.repeat):
                began = time.perf_counter()
                run = run_migrations(engine, inv.image.id, inv, plan, opts)
                totals.append(time.perf_counter() - began)
                assert run.status == "ran", run
                assert not run.differences, run
                timings = dict(run.timings)
                for name, values in check.items():
                    values.append(timings[name])
                floor.append(_plain(engine, tag, plan))
        finally:
            subprocess.run([DOCKER, "rmi", tag, f"{tag}-pg"], capture_output=True, check=False)
    med = {k: statistics.median(v) for k, v in check.items()}
    total, plain = statistics.median(totals), statistics.median(floor)
    print(f"fixture: 20 revisions; {args.repeat} rounds, medians")
    for key, value in med.items():
        print(f"  check {key:9s} {value:7.3f} s")
    print(f"  check total     {total:7.3f} s (network, db, container, cleanup)")
    print(f"  plain db start + alembic upgrade head {plain:7.3f} s")
    print(f"  ratio check / plain: {total / plain:.2f} (target <= 1.20)")


def _plain(engine: object, tag: str, plan: object) -> float:
    """A network, the database waited for as the check does, ``alembic upgrade head``."""
    from imagecheck.app.migrations import MigrationPlan, _wait_ready
    from imagecheck.engine import Engine

    assert isinstance(engine, Engine)
    assert isinstance(plan, MigrationPlan)
    key = uuid.uuid4().hex[:8]
    began = time.perf_counter()
    network = engine.create_network(f"imagecheck-bench-{key}", {"imagecheck.test": "1"})
    db = engine.start_service(
        Service(
            plan.db_image,
            network,
            plan.aliases,
            plan.db_environment,
            labels={"imagecheck.test": "1"},
            tmpfs=("/var/lib/postgresql/data",),
        )
    )
    try:
        assert _wait_ready(engine, db, plan, 120) is None
        env = [arg for item in plan.app_environment for arg in ("-e", item)]
        subprocess.run(
            [
                DOCKER,
                "run",
                "--rm",
                *LABEL,
                "--network",
                network,
                *env,
                tag,
                "alembic",
                "upgrade",
                "head",
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - began
    finally:
        engine.remove_container(db)
        engine.remove_network(network)


if __name__ == "__main__":
    main()
