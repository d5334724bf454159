"""IC930-IC932: values the build baked into the image that today's configuration no
longer gives it (issue 18).

A Next.js build inlines each ``NEXT_PUBLIC_*`` value into ``.next/`` (the browser's
chunks and the server's code alike), so a compose service's ``environment:`` that sets
another value changes nothing until a rebuild. And a build arg's value is recorded in
the history of each ``RUN`` it was in scope of (``|1 FOO=bar /bin/sh -c ...``, both
builders), so a compose file whose ``build.args`` say otherwise now describes another
image. The facts are read once while the image is open (the history, the image's
``ENV``, the ``.env`` files and ``required-server-files.json`` the layer index keeps,
and the ``.next/`` files searched as their layers are read, a bounded chunk at a time,
never extracted); the check compares them with what the configuration gives.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import IO, TYPE_CHECKING, Protocol, TypeVar

from ..codes import IC930, IC931, IC932
from ..image import ImageFS, LayerIndex, search_stream
from ..model import Finding, HistoryEntry, Inventory, LayerRef
from .history import recorded_args

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..checks import Context

_T = TypeVar("_T")

NEXT_PUBLIC = "NEXT_PUBLIC_"
MAX_SEARCHED_FILES = 4000  # .next/ files searched at most (a big app has ~1000)
MIN_SEARCHED = 3  # a shorter value is in any minified file: no evidence either way
#: The build output Next.js inlines values into: the browser's chunks, the server's
#: code, and pages pre-rendered at build time.
_OUTPUT_DIRS = ("static/chunks", "server")
_OUTPUT_SUFFIXES = (".js", ".mjs", ".cjs", ".html", ".rsc", ".body")
#: Next.js reads these beside the app at build time; a later one overrides an earlier
#: one, and the build's own environment (ARG/ENV) overrides them all.
_DOT_ENV = (".env", ".env.production", ".env.local", ".env.production.local")
_SECRET = re.compile(
    r"(?i)(secret|token|passw|pwd|private|credential|auth|api_?key|access_?key|_key$|^key$|dsn)"
)


class FileReader(Protocol):
    """What the facts read of the image beyond its index (``image.ImageReader``)."""

    def indexes(self, diff_ids: list[str]) -> dict[str, LayerIndex]: ...

    def read_files(
        self, diff_id: str, paths: set[str], read: Callable[[IO[bytes]], _T]
    ) -> dict[str, _T]: ...


@dataclass(frozen=True, slots=True)
class BuiltValue:
    """A value the image's build had for a variable, and where that is recorded."""

    name: str
    value: str
    where: str  # "the build arg of RUN ... (layer #7)", "ENV in the image config", ...
    layer: LayerRef | None = None


@dataclass(frozen=True, slots=True)
class BakedFacts:
    """What the configuration gives now, beside what the build recorded and inlined."""

    rebuild: str  # the command that bakes the configured values in
    service: str | None = None  # the compose service, when there is one
    environment: tuple[tuple[str, str], ...] = ()  # what the container gets now
    environment_how: str = ""  # "compose service 'web' environment:/env_file:"
    build_args: tuple[tuple[str, str], ...] = ()  # what the build is given now
    build_args_how: str = ""  # "compose service 'web' build.args", "--build-arg"
    used_args: tuple[BuiltValue, ...] = ()  # build args with the values the build had
    next_root: str | None = None  # the Next.js build output, "/app/.next"
    built: tuple[BuiltValue, ...] = ()  # each NEXT_PUBLIC_* value the build used, by name
    #: each value searched for in the build output: the files holding it (a few)
    found_in: tuple[tuple[str, tuple[str, ...]], ...] = ()
    searched: int = 0  # build output files searched
    note: str = ""  # what could not be read

    def files_with(self, value: str) -> tuple[str, ...] | None:
        """The output files that hold ``value``; None when it was not searched for."""
        return next((files for v, files in self.found_in if v == value), None)


def shown(name: str, value: str) -> str:
    """A value as a finding may print it: quoted, or, for a name or value that looks like a
    secret, never in full (its length and a short digest tell two values apart)."""
    if _SECRET.search(name) or re.fullmatch(r"[A-Za-z0-9+/_=.-]{32,}", value):
        digest = hashlib.sha256(value.encode()).hexdigest()[:8]
        return f"<hidden: {len(value)} characters, sha256 {digest}...>"
    return repr(value)


def redact(text: str, pairs: Iterable[tuple[str, str]]) -> str:
    """``text`` with each secret-looking value of ``pairs`` (name, value) as ``shown``
    prints it: a history entry quoted whole never prints a build arg's secret."""
    for name, value in pairs:
        if len(value) >= 4 and shown(name, value) != repr(value):
            text = text.replace(value, shown(name, value))
    return text


# ---------------------------------------------------------------- the facts


def used_args(history: tuple[HistoryEntry, ...]) -> tuple[BuiltValue, ...]:
    """Each build arg with the value the build used, from the newest entry recording it:
    a RUN's ``|N K=V`` (the value passed, or the default), else an ARG's default."""
    used: dict[str, BuiltValue] = {}
    defaults: dict[str, BuiltValue] = {}
    for entry in history:
        kind, pairs = recorded_args(entry)
        ref = LayerRef(entry.index, redact(entry.created_by, pairs), entry.diff_id)
        for name, value in pairs:
            if kind == "used":
                where = f"the build arg of layer #{entry.index}'s RUN in the image's history"
                used[name] = BuiltValue(name, value, where, ref)
            else:
                where = f"the ARG default of history entry #{entry.index}"
                defaults[name] = BuiltValue(name, value, where, ref)
    return tuple({**defaults, **used}.values())


def _dot_env(text: str) -> dict[str, str]:
    """``KEY=value`` lines as Next.js's dotenv reads them: comments, ``export``, quotes."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if value[:1] in ("'", '"') and value.endswith(value[0]) and len(value) > 1:
            value = value[1:-1]
        elif " #" in value:
            value = value.split(" #", 1)[0].rstrip()
        out[key.strip()] = value
    return out


def _next_root(fs: ImageFS, inv: Inventory) -> str | None:
    """The Next.js build output: the ``.next`` folder holding BUILD_ID (the one under the
    working folder when there are several)."""
    roots = sorted(
        posixpath.dirname(p)
        for p in fs.captured()
        if p.endswith(("/.next/BUILD_ID", "/.next/required-server-files.json")) and fs.exists(p)
    )
    if not roots:
        return None
    workdir = inv.image.working_dir.rstrip("/") + "/"
    return next((r for r in roots if r.startswith(workdir)), roots[0])


def _built_public(
    fs: ImageFS, inv: Inventory, root: str, args: tuple[BuiltValue, ...]
) -> tuple[BuiltValue, ...]:
    """The NEXT_PUBLIC_* values the build used, as Next.js picks them: ``.env`` files of
    the app, overridden by the build's environment (its ARGs, then the image's ENV, which
    the build's RUN had), and ``next.config``'s ``env`` (required-server-files.json)."""
    app = posixpath.dirname(root)
    found: dict[str, BuiltValue] = {}
    for name in _DOT_ENV:
        path = posixpath.join(app, name)
        data = fs.read(path)
        if data is None:
            continue
        for key, value in _dot_env(data.decode("utf-8", "replace")).items():
            found[key] = BuiltValue(key, value, f"{path} in the image", fs.layer_of(path))
    for arg in args:
        found[arg.name] = arg
    for item in inv.image.env:
        key, eq, value = item.partition("=")
        if eq and key.startswith(NEXT_PUBLIC):
            found[key] = BuiltValue(key, value, "ENV in the image config")
    server = posixpath.join(root, "required-server-files.json")
    data = fs.read(server)
    if data is not None:
        try:
            env = json.loads(data).get("config", {}).get("env", {})
        except (ValueError, AttributeError):
            env = {}
        for key, value in (env if isinstance(env, dict) else {}).items():
            if isinstance(value, str):
                where = f"next.config's env ({server})"
                found[str(key)] = BuiltValue(str(key), value, where, fs.layer_of(server))
    return tuple(v for k, v in sorted(found.items()) if k.startswith(NEXT_PUBLIC))


def _needle(value: str) -> bytes:
    """``value`` as a JS string literal's contents (how the compiler inlines it)."""
    return json.dumps(value)[1:-1].encode()


def _search_output(
    reader: FileReader, fs: ImageFS, root: str, values: set[str]
) -> tuple[tuple[tuple[str, tuple[str, ...]], ...], int, str]:
    """Which build output files hold each value: each file searched as its layer is read
    (in place, or streamed), at most ``MAX_SEARCHED_FILES`` files."""
    wanted = {v: _needle(v) for v in sorted(values) if len(v) >= MIN_SEARCHED}
    if not wanted:
        return (), 0, ""
    paths = sorted(
        p
        for p in fs.walk_files([posixpath.join(root, d) for d in _OUTPUT_DIRS])
        if p.endswith(_OUTPUT_SUFFIXES)
    )
    note = ""
    if len(paths) > MAX_SEARCHED_FILES:
        note = f"searched the first {MAX_SEARCHED_FILES} of {len(paths)} files of {root}"
        paths = paths[:MAX_SEARCHED_FILES]
    by_layer: dict[str, set[str]] = {}
    for path in paths:
        layer = fs.layer_of(path)
        if layer is not None and layer.diff_id:
            by_layer.setdefault(layer.diff_id, set()).add(path.lstrip("/"))
    needles = frozenset(wanted.values())
    hits: dict[bytes, list[str]] = {}
    read = 0
    for diff_id, members in by_layer.items():
        found = reader.read_files(diff_id, members, lambda fh: search_stream(fh, needles))
        read += len(found)
        for path, held in sorted(found.items()):
            for needle in held:
                hits.setdefault(needle, []).append("/" + path)
    if read < len(paths):
        unread = f"{len(paths) - read} of {len(paths)} files of {root} could not be read here"
        note = "; ".join(filter(None, [note, unread + " (the engine's export stream keeps none)"]))
    if not read:  # nothing searched: no evidence either way
        return (), 0, note
    out = tuple((v, tuple(hits.get(n, [])[:5])) for v, n in wanted.items())
    return out, read, note


def baked_facts(
    reader: FileReader,
    inv: Inventory,
    *,
    rebuild: str,
    service: str | None = None,
    environment: tuple[tuple[str, str], ...] = (),
    environment_how: str = "",
    build_args: tuple[tuple[str, str], ...] = (),
    build_args_how: str = "",
) -> BakedFacts:
    """The facts ``check_baked`` compares: ``environment`` is what the container gets now,
    ``build_args`` what the build is given now."""
    args = used_args(inv.image.history)
    facts = BakedFacts(
        rebuild,
        service,
        environment,
        environment_how,
        build_args,
        build_args_how,
        args,
    )
    public = {k: v for k, v in environment if k.startswith(NEXT_PUBLIC)}
    if not public:
        return facts
    indexes = reader.indexes(list(inv.image.diff_ids))
    fs = ImageFS(inv.image.history, [indexes[d] for d in dict.fromkeys(inv.image.diff_ids)])
    root = _next_root(fs, inv)
    if root is None:
        return facts
    built = _built_public(fs, inv, root, args)
    values = set(public.values()) | {b.value for b in built if b.name in public}
    found_in, searched, note = _search_output(reader, fs, root, values)
    return replace(
        facts,
        next_root=root,
        built=built,
        found_in=found_in,
        searched=searched,
        note=note,
    )


# ---------------------------------------------------------------- the check


def _evidence(facts: BakedFacts, value: str) -> str:
    files = facts.files_with(value)
    if files is None and len(value) < MIN_SEARCHED:
        return "too short to search the build output for"
    if files is None:
        return f"the build output was not searched: {facts.note}"
    note = f"; {facts.note}" if facts.note else ""
    if not files:
        return f"in none of the {facts.searched} build output files searched{note}"
    more = " and more" if len(files) > 3 else ""
    return f"inlined in {', '.join(files[:3])}{more}{note}"


def _passed_at_build(facts: BakedFacts, name: str, value: str) -> bool:
    return dict(facts.build_args).get(name) == value


def _rebuild_hint(facts: BakedFacts, name: str, value: str) -> str:
    if _passed_at_build(facts, name, value):
        return f"rebuild, so the build inlines it: {facts.rebuild}"
    where = (
        f"services.{facts.service}.build.args ({name}: {value})"
        if facts.service
        else f"--build-arg {name}={value}"
    )
    return (
        f"pass it to the build ({where}, and ARG {name} before the RUN that builds in the "
        f"Dockerfile), then rebuild: {facts.rebuild}"
    )


def _public(facts: BakedFacts) -> Iterator[Finding]:
    if facts.next_root is None:
        return
    built = {b.name: b for b in facts.built}
    root = facts.next_root
    for name, value in facts.environment:
        if not name.startswith(NEXT_PUBLIC):
            continue
        was = built.get(name)
        if was is not None and was.value != value:
            old = facts.files_with(was.value)
            evidence = _evidence(facts, was.value)
            yield IC930.finding(
                subject=name,
                message=(
                    f"{name} is {shown(name, value)} in {facts.environment_how}, but the "
                    f"image's Next.js build ({root}) was built with {shown(name, was.value)} "
                    f"({was.where}; {evidence}): NEXT_PUBLIC_* values are inlined at build "
                    "time, so the value the container gets has no effect on them"
                ),
                hint=_rebuild_hint(facts, name, value),
                layer=was.layer,
                severity="error" if old or old is None else "warning",
            )
        elif was is None and facts.files_with(value) == ():
            yield IC931.finding(
                subject=name,
                message=(
                    f"{name} is {shown(name, value)} in {facts.environment_how}, but the "
                    f"image records no build-time value for it and the value is in none of "
                    f"the {facts.searched} files of its Next.js build ({root}"
                    f"{'; ' + facts.note if facts.note else ''}): "
                    "NEXT_PUBLIC_* values are inlined at build time, so the build did not "
                    "have it and setting it at run time has no effect on the inlined code"
                ),
                hint=_rebuild_hint(facts, name, value),
            )


def _args(facts: BakedFacts) -> Iterator[Finding]:
    used = {a.name: a for a in facts.used_args}
    for name, value in facts.build_args:
        was = used.get(name)
        if was is None or was.value == value:
            continue
        yield IC932.finding(
            subject=name,
            message=(
                f"{facts.build_args_how} gives build arg {name} {shown(name, value)}, but "
                f"the image was built with {shown(name, was.value)} ({was.where}): the "
                "image is not what its build configuration makes now"
            ),
            hint=f"rebuild: {facts.rebuild}",
            layer=was.layer,
        )


def check_baked(ctx: Context) -> Iterator[Finding]:
    facts = ctx.baked
    if facts is None:
        return
    yield from _public(facts)
    yield from _args(facts)


def rebuild_for(service: str | None, inv: Inventory, args: Mapping[str, str]) -> str:
    """The rebuild that bakes the configuration in (a changed arg or env invalidates the
    steps that use it: no ``--no-cache`` needed)."""
    if service:
        return f"docker compose build {service} && docker compose up -d {service}"
    words = ["docker", "build"]
    for name, value in args.items():
        words += ["--build-arg", f"{name}={value}"]
    tags = inv.image.repo_tags
    return shlex.join([*words, *(["-t", tags[0]] if tags else []), "."])
