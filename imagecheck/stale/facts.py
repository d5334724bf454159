"""Would the Dockerfile and build context build this image today? The facts (issue 5).

Gathered once, judged by ``checks/stale.py`` (IC6xx): the final stage against the
image's history (``history.py``), the context's files against their copies in the
layer that COPY made, what the RUN lines install, the layers' dates, the base image
and the engine's build cache. Nothing is extracted: the image side is the layer
index (sizes, and the bytes of requirement and lock files) and digests the source
streams from a layer, the context side is read from the host's folder, a chunk at a time.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .. import dockerfile as df
from ..engine import CacheRecord, Engine
from ..errors import BadInput, ImageNotFound
from ..image import FILE, LayerIndex, sha256_of
from ..model import Finding, HistoryEntry, ImageInfo, Inventory, LayerRef, StaleVerdict
from .buildcache import CacheChain, cache_chain, prune_command
from .history import Aligned, HistoryMatch, compare

MAX_FILES = 5000  # per COPY: a context that copies more is compared up to this many
MAX_HASH_BYTES = 64 << 20  # per COPY: beyond this the legacy hash is not recomputed
_NOISE_DIRS = frozenset(
    {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".hypothesis", ".DS_Store"}
)
CACHE_AGE_DAYS = 1.0  # an entry this much older than the newest one came from the cache
# A RUN whose result depends on the network: rebuilt from the cache, it is as old
# as the cache entry, whatever the Dockerfile says now.
_FETCH = re.compile(
    r"\b(apt-get|apt|aptitude)\s+(update|install|upgrade|dist-upgrade)\b|\bapk\s+(add|update|upgrade)\b"
    r"|\b(curl|wget)\b|\bgit\s+clone\b|\b(pip3?|python3?\s+-m\s+pip|uv\s+pip)\s+install\b"
)


@dataclass(frozen=True, slots=True)
class BuildInput:
    """Where the image was (or would be) built from, and why we think so."""

    dockerfile: Path
    context: Path
    args: tuple[tuple[str, str], ...] = ()
    target: str | None = None
    service: str | None = None  # the compose service: the rebuild command names it
    how: str = ""  # "--dockerfile", "compose service 'backend'", "./Dockerfile matches"


@dataclass(frozen=True, slots=True)
class CopiedFile:
    """A context file a COPY/ADD put into the image, compared with the layer's copy."""

    line: int
    source: str  # relative to the context
    dest: str  # absolute path in the image
    status: str  # "same", "changed", "missing" (not in the layer), "unread" (see ``why``)
    context_size: int
    image_size: int | None
    layer: LayerRef | None
    why: str = ""  # why an "unread" file was compared by size only


@dataclass(frozen=True, slots=True)
class CopyHash:
    """The legacy builder's ``file:``/``dir:`` hash of a COPY, recomputed from the context.

    It covers names, modes and contents of everything the COPY took, so a file added to
    or removed from a copied folder shows even where no single file differs."""

    line: int
    recorded: str  # from the history: "file:<hex>" or "dir:<hex>"
    context: str  # the same hash of the context as it is now
    layer: LayerRef | None


@dataclass(frozen=True, slots=True)
class Declared:
    """A package a RUN line installs: ``apt-get install -y libmagic1``."""

    line: int
    manager: str  # "apt" or "apk"
    name: str


@dataclass(frozen=True, slots=True)
class RequirementFile:
    """A requirements file a RUN installs (``pip install -r``), as the context has it now."""

    line: int
    source: str  # relative to the context
    path: Path


@dataclass(frozen=True, slots=True)
class CachedImage:
    """A legacy builder's cache entry: a dangling image made by a build step."""

    id: str
    created: int  # Unix seconds
    created_by: str
    size: int


@dataclass(frozen=True, slots=True)
class BuildState:
    """What the engine knows beyond the image: its base and its build cache."""

    base_ref: str
    base_id: str | None  # the engine's current image of the FROM reference
    base_layers: tuple[str, ...]
    base_note: str  # why there is none
    builder: str  # "buildkit" or "legacy", read from the history
    records: tuple[CacheRecord, ...] = ()
    cached_images: tuple[CachedImage, ...] = ()
    chain: CacheChain | None = None  # BuildKit's records of this image's layers


@dataclass(frozen=True, slots=True)
class StaleFacts:
    build: BuildInput
    match: HistoryMatch
    files: tuple[CopiedFile, ...]
    hashes: tuple[CopyHash, ...]
    declared: tuple[Declared, ...]
    requirements: tuple[RequirementFile, ...]
    state: BuildState | None
    state_note: str = ""  # why the engine's side is unknown
    cache_age_days: float = CACHE_AGE_DAYS


def read_dockerfile(build: BuildInput) -> str:
    try:
        return build.dockerfile.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput(f"no such Dockerfile: {build.dockerfile}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {build.dockerfile}: {exc}") from None


def match_history(build: BuildInput, text: str, history: Sequence[HistoryEntry]) -> HistoryMatch:
    try:
        return compare(text, history, dict(build.args), build.target)
    except ValueError as exc:  # no FROM, an unknown --target
        raise BadInput(f"{build.dockerfile}: {exc}") from None


def builder_of(history: Sequence[HistoryEntry]) -> str:
    """Which builder ran the image's own build: its newest entry that says so (the base
    image's entries may come from another builder). BuildKit writes
    ``buildkit.dockerfile.v0`` into the comment and ``# buildkit`` after a command; the
    legacy builder starts every command with ``/bin/sh -c``."""
    for entry in reversed(history):
        if entry.comment.startswith("buildkit") or entry.created_by.endswith("# buildkit"):
            return "buildkit"
        if entry.created_by.startswith("/bin/sh -c"):
            return "legacy"
    return "legacy"


# ---------------------------------------------------------------- .dockerignore


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A ``.dockerignore`` line as Go's filepath.Match plus ``**``, matching a path or
    anything below it."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out.append("(.*/)?")
            else:
                out.append(".*")
            continue
        ch = pattern[i]
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            body = pattern[i + 1 : end]
            out.append("[" + ("^" + body[1:] if body.startswith("!") else body) + "]")
            i = end
        else:
            out.append(re.escape(ch))
        i += 1
    return re.compile("".join(out) + r"(/.*)?\Z", re.S)


def _ignore_patterns(context: Path) -> list[tuple[bool, re.Pattern[str]]]:
    """``.dockerignore`` as (exclude?, pattern); the last pattern that matches decides."""
    try:
        text = (context / ".dockerignore").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    out: list[tuple[bool, re.Pattern[str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exclude = not line.startswith("!")
        pattern = posixpath.normpath(line.lstrip("!").strip().lstrip("/"))
        out.append((exclude, _glob_regex(pattern)))
    return out


def _ignored(rel: str, patterns: list[tuple[bool, re.Pattern[str]]]) -> bool:
    verdict = False
    for exclude, pattern in patterns:
        if pattern.match(rel):
            verdict = exclude
    return verdict


# ---------------------------------------------------------------- COPY/ADD -> files


def _copy_args(ins: df.Instruction, env: Mapping[str, str]) -> tuple[list[str], str] | None:
    """(sources, destination) of a COPY/ADD from the context; None for ``--from``."""
    options, rest = df.flags(ins.text)
    if "from" in options or ins.heredocs:
        return None
    parts = df.exec_form(rest)
    if parts is None:
        parts = rest.split()  # the builders split at blanks, then expand each word
    parts = [df.process_word(p, env, "", ins.escape) for p in parts]
    if len(parts) < 2:
        return None
    return parts[:-1], parts[-1]


def _context_matches(context: Path, source: str) -> list[tuple[str, Path]]:
    """Context paths a COPY source names: (relative path, path), globs expanded."""
    rel = posixpath.normpath(source.lstrip("/"))
    if rel.startswith("..") or "://" in source:
        return []
    if rel == ".":
        return [("", context)]
    if any(ch in rel for ch in "*?["):
        return [(p.relative_to(context).as_posix(), p) for p in sorted(context.glob(rel))]
    path = context / rel
    return [(rel, path)] if path.exists() else []


def _files_of(
    context: Path,
    source: str,
    dest: str,
    to_folder: bool,
    ignore: list[tuple[bool, re.Pattern[str]]],
) -> Iterator[tuple[str, str, Path]]:
    """(context-relative source, image destination, host path) of each file copied."""
    for rel, path in _context_matches(context, source):
        if path.is_dir():  # a folder's contents go into the destination
            for file in sorted(path.rglob("*")):
                sub = file.relative_to(context).as_posix()
                if not file.is_file() or file.is_symlink() or _ignored(sub, ignore):
                    continue
                yield sub, posixpath.join(dest, file.relative_to(path).as_posix()), file
        elif path.is_file() and not _ignored(rel, ignore):
            target = posixpath.join(dest, posixpath.basename(rel)) if to_folder else dest
            yield rel, target, path


def _layer_file(index: LayerIndex | None, dest: str) -> tuple[int | None, str | None]:
    """The size of the layer's copy, and its sha256 when the index kept its bytes."""
    if index is None:
        return None, None
    key = dest.lstrip("/")
    entry = index.entries.get(key)
    if entry is None or entry.kind != FILE:
        return None, None
    data = index.contents.get(key)
    return entry.size, hashlib.sha256(data).hexdigest() if data is not None else None


def _sha256(path: Path) -> str | None:
    try:
        with path.open("rb") as fh:
            return sha256_of(fh)
    except OSError:
        return None


_UNREAD = "the source could not read the layer's copy (the engine's export stream keeps none)"
_TOO_MANY = f"beyond the first {MAX_FILES} files of this COPY"


def copied_files(
    match: HistoryMatch,
    stage: df.BuildStage,
    build: BuildInput,
    indexes: Mapping[str, LayerIndex],
    layers: Mapping[int, LayerRef],
    *,
    digests: Callable[[str, set[str]], dict[str, str]] | None = None,
) -> tuple[CopiedFile, ...]:
    """Each context file a COPY/ADD of the final stage copied, against the layer's copy,
    whatever its size: by size, then by sha256 (of the bytes the index kept, else of the
    copy ``digests(diff_id, paths)`` streams from the layer; the context's file is
    streamed too); a file neither can read is "unread", with the reason."""
    ignore = _ignore_patterns(build.context)
    steps = {s.line: s for s in match.steps if s.line is not None}
    out: list[CopiedFile] = []
    for ins, workdir, env in df.scoped(stage, dict(build.args)):
        if ins.keyword not in ("COPY", "ADD"):
            continue
        parsed = _copy_args(ins, env)
        step = steps.get(ins.line)
        if parsed is None or step is None or step.entry is None:
            continue
        sources, dest = parsed
        to_folder = dest.endswith("/") or len(sources) > 1 or dest in (".", "./")
        dest = df.absolute(workdir, dest)
        diff_id = step.entry.diff_id
        index = indexes.get(diff_id) if diff_id else None
        layer = layers.get(step.entry.index)
        step_files: list[tuple[str, str, Path, int, int | None, str | None]] = []
        for source in sources:
            if ins.keyword == "ADD" and (
                "://" in source or source.endswith((".tar", ".tar.gz", ".tgz", ".tar.xz"))
            ):
                continue  # fetched, or unpacked by ADD: not a copy of a context file
            for rel, target, path in _files_of(build.context, source, dest, to_folder, ignore):
                size = path.stat().st_size
                image_size, digest = _layer_file(index, target)
                if is_noise(rel) and image_size is None:
                    continue  # bytecode made since the build: not a change
                step_files.append((rel, target, path, size, image_size, digest))
        # Same size and no captured bytes: ask the source for the layer's digests, once.
        unread = {
            t.lstrip("/")
            for _, t, _, size, isize, digest in step_files[:MAX_FILES]
            if isize == size and digest is None
        }
        got = digests(diff_id, unread) if digests is not None and diff_id and unread else {}
        for n, (rel, target, path, size, image_size, digest) in enumerate(step_files):
            digest = digest if digest is not None else got.get(target.lstrip("/"))
            why = ""
            if image_size is None:
                status = "missing"
            elif image_size != size:
                status = "changed"
            elif n >= MAX_FILES:
                status, why = "unread", _TOO_MANY
            elif digest is not None:
                status = "same" if digest == _sha256(path) else "changed"
            else:
                status, why = "unread", _UNREAD
            out.append(CopiedFile(ins.line, rel, target, status, size, image_size, layer, why))
    return tuple(out)


def _tarsum_v1(name: str, path: Path) -> str:
    """sha256 of a tar header's fields (tarsum v1: no mtime; as the build context tar
    carries them: uid and gid 0, no user names) and the file's bytes: what Docker's
    legacy builder hashes per context file."""
    st = path.lstat()
    if path.is_dir():
        kind, size, link, data = "5", 0, "", b""
        name = name.rstrip("/") + "/"
    else:
        data = path.read_bytes()
        kind, size, link = "0", len(data), ""
    fields = (
        ("name", name),
        ("mode", str(st.st_mode & 0o7777)),
        ("uid", "0"),
        ("gid", "0"),
        ("size", str(size)),
        ("typeflag", kind),
        ("linkname", link),
        ("uname", ""),
        ("gname", ""),
        ("devmajor", "0"),
        ("devminor", "0"),
    )
    digest = hashlib.sha256("".join(k + v for k, v in fields).encode())
    digest.update(data)
    return digest.hexdigest()


def is_noise(rel: str) -> bool:
    """Files local tools leave in a context (bytecode, tool caches): a context that
    differs from the image only by them is not a stale image."""
    parts = rel.split("/")
    return rel.endswith((".pyc", ".pyo")) or any(p in _NOISE_DIRS for p in parts)


def legacy_hash(context: Path, sources: Sequence[str], *, noise: bool = True) -> str | None:
    """The legacy builder's hash of a COPY's sources as the context has them now:
    ``file:``/``dir:`` for one path, ``multi:`` over several (globs expanded in name
    order); ``noise=False`` as if bytecode and tool caches were not there. None where it
    cannot be recomputed (URLs, symlinks, nothing matched, beyond the bounds)."""
    parts: list[str] = []
    for source in sources:
        matches = _context_matches(context, source)
        if not matches or "://" in source:
            return None
        for rel, path in matches:
            one = _path_hash(context, rel, path, noise)
            if one is None:
                return None
            parts.append(one)
    if len(parts) == 1:
        return parts[0]
    return "multi:" + hashlib.sha256(",".join(parts).encode()).hexdigest()


def _path_hash(context: Path, rel: str, path: Path, noise: bool) -> str | None:
    if path.is_symlink():
        return None  # how 20.10 hashes a symlink was not pinned down: never guess
    if not path.is_dir():
        return "file:" + _tarsum_v1(rel, path) if path.is_file() else None
    ignore = _ignore_patterns(context)
    hashes: list[str] = []
    budget = MAX_HASH_BYTES  # a check runs on every `imagecheck check`: keep it quick
    # A copied folder's own entry counts; the context root's does not (seen on 20.10).
    top = [path] if rel else []
    for n, item in enumerate([*top, *sorted(path.rglob("*"))]):
        if n > MAX_FILES:
            return None
        sub = item.relative_to(context).as_posix() if item != context else "."
        if item != path and (_ignored(sub, ignore) or (not noise and is_noise(sub))):
            continue
        if item.is_symlink():
            return None
        if item.is_file():
            budget -= item.stat().st_size
            if budget < 0:
                return None
        hashes.append(_tarsum_v1(sub, item))
    return "dir:" + hashlib.sha256(",".join(sorted(hashes)).encode()).hexdigest()


def copy_hashes(
    match: HistoryMatch, build: BuildInput, layers: Mapping[int, LayerRef]
) -> tuple[CopyHash, ...]:
    """Each legacy COPY/ADD from the context whose recorded hash can be recomputed."""
    out: list[CopyHash] = []
    for step in match.steps:
        recorded = step.content
        if step.line is None or step.entry is None or not recorded or " " not in step.text:
            continue
        if not recorded.startswith(("file:", "dir:", "multi:")):
            continue
        options, rest = df.flags(step.text.split(None, 1)[1])
        if "from" in options:
            continue
        words = df.exec_form(rest)
        words = df.words(rest) if words is None else words
        if len(words) < 2 or any("$" in w for w in words[:-1]):
            continue
        now = legacy_hash(build.context, words[:-1])
        if now is not None and now != recorded and not recorded.startswith("file:"):
            # bytecode or tool caches made since the build are not a change
            now = legacy_hash(build.context, words[:-1], noise=False) or now
        if now is not None:
            out.append(CopyHash(step.line, recorded, now, layers.get(step.entry.index)))
    return tuple(out)


# ---------------------------------------------------------------- what RUN installs

_APT_OPTIONS_WITH_VALUE = frozenset({"-o", "-t", "--target-release", "-c", "--config-file"})


def _packages(words: list[str]) -> Iterator[str]:
    skip = False
    for word in words:
        if skip:
            skip = False
            continue
        if word in _APT_OPTIONS_WITH_VALUE:
            skip = True
            continue
        if word.startswith("-") or "$" in word or "/" in word or word.endswith(".deb"):
            continue
        yield re.split(r"[=<>:]", word, maxsplit=1)[0]


def declared_packages(stage: df.BuildStage) -> tuple[Declared, ...]:
    """Debian and Alpine packages the final stage's RUN lines install."""
    out: list[Declared] = []
    for ins in stage.instructions:
        if ins.keyword != "RUN":
            continue
        _, script = df.flags(ins.text)
        for words in df.commands(script):
            while words and (
                re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0]) or words[0] in ("sudo", "env")
            ):
                words = words[1:]
            if not words:
                continue
            prog = posixpath.basename(words[0])
            rest = [w for w in words[1:] if not w.startswith("-")]
            manager = (
                "apt" if prog in ("apt-get", "apt", "aptitude") else "apk" if prog == "apk" else ""
            )
            verb = rest[0] if manager and rest else ""
            if verb not in ("install", "add", "remove", "purge", "del"):
                continue
            names = list(_packages(words[words.index(verb) + 1 :]))
            if verb in ("install", "add"):
                out.extend(Declared(ins.line, manager, name) for name in names)
            else:  # removed on purpose later (build tools): not expected in the image
                out = [d for d in out if d.name not in names]
    return tuple(out)


def requirement_files(
    stage: df.BuildStage, files: Sequence[CopiedFile], build: BuildInput
) -> tuple[RequirementFile, ...]:
    """Requirements files a RUN installs with ``pip install -r``, traced back through the
    COPY that put them there to the context's current copy."""
    by_dest = {f.dest: f for f in files}
    out: list[RequirementFile] = []
    for ins, workdir, env in df.scoped(stage, dict(build.args)):
        if ins.keyword != "RUN":
            continue
        _, script = df.flags(ins.text)
        for found in df.installs(script, workdir):
            if found.option not in ("-r", "--requirement", "sync"):
                continue
            copied = by_dest.get(
                df.absolute(found.cwd, df.substitute(found.written, env, missing=""))
            )
            if copied is not None:
                out.append(RequirementFile(ins.line, copied.source, build.context / copied.source))
    return tuple(out)


def chain_record(facts: StaleFacts, step: Aligned) -> CacheRecord | None:
    """BuildKit's record of this image's layer of ``step``: on the image's own chain of
    records, never another image's that shares the line (``buildcache``)."""
    state = facts.state
    if state is None or state.chain is None or step.entry is None:
        return None
    return state.chain.record_of(step.entry.index)


def fetches(step: Aligned) -> bool:
    """A RUN whose result depends on the network at build time."""
    return step.keyword == "RUN" and bool(_FETCH.search(step.text))


# ---------------------------------------------------------------- the engine's side


def build_state(engine: Engine, match: HistoryMatch, image: ImageInfo, builder: str) -> BuildState:
    """The FROM image as the engine has it now, and the build cache a rebuild would use."""
    base_id: str | None = None
    base_layers: tuple[str, ...] = ()
    base_note = ""
    if match.base.lower() == "scratch":
        base_note = "FROM scratch"
    elif match.base:
        try:
            found = engine.inspect_image(match.base)
            base_id, base_layers = found.id, found.diff_ids
        except ImageNotFound:
            base_note = (
                f"the engine has no image {match.base} (pulled and removed, or never pulled)"
            )
    records: tuple[CacheRecord, ...] = ()
    chain: CacheChain | None = None
    cached: list[CachedImage] = []
    if builder == "buildkit":  # a legacy build is served by none of BuildKit's records
        records = engine.build_cache()
        chain = cache_chain(records, image.history, match.base_entries)
    else:  # its cache: the untagged images its build steps made, this image's parents
        # (the legacy builder reuses a step's image only as the child of the same parent:
        # another image's step image of the same line never serves this build)
        rows = {row.id: row for row in engine.list_images({})}
        parent = rows[image.id].parent_id if image.id in rows else ""
        while parent in rows and not rows[parent].repo_tags and len(cached) < 500:
            row = rows[parent]  # up to the first tagged one: the FROM image
            cmd = engine.inspect_image(row.id).build_cmd
            cached.append(CachedImage(row.id, row.created, " ".join(cmd), row.size))
            parent = row.parent_id
    return BuildState(
        match.base, base_id, base_layers, base_note, builder, records, tuple(cached), chain
    )


# ---------------------------------------------------------------- the verdict


def rebuild_command(build: BuildInput, tag: str | None) -> str:
    """The rebuild that ignores every cached layer."""
    if build.service:
        return f"docker compose build --no-cache {build.service}"
    words = ["docker", "build", "--no-cache", "-f", str(build.dockerfile)]
    for name, value in build.args:
        words += ["--build-arg", f"{name}={value}"]
    if build.target:
        words += ["--target", build.target]
    if tag:
        words += ["-t", tag]
    words.append(str(build.context))
    return shlex.join(words)


def stale_verdict(
    facts: StaleFacts | None, skip: str, findings: tuple[Finding, ...], inv: Inventory
) -> StaleVerdict:
    """Fresh, or stale with the reasons and the commands, in the order to run them."""
    if facts is None:
        return StaleVerdict("skipped", skip)
    build = facts.build
    bad = [f for f in findings if f.code.startswith("IC60") and f.severity != "info"]
    where = (str(build.dockerfile), str(build.context), build.how)
    unread = _unread_note(facts.files)
    if not bad:
        compared = sum(1 for f in facts.files if f.status == "same")
        reason = (
            f"the history matches {build.dockerfile.name} and {compared} context file(s) "
            "match their copies"
        )
        for note in (unread, facts.state_note):
            reason += f"; {note}" if note else ""
        return StaleVerdict("fresh", reason, *where)
    commands: list[str] = []
    codes = {f.code for f in bad}
    prune = _chain_prune(facts, bad)
    if prune:
        commands.append(prune)
    if facts.state is not None and facts.state.cached_images and "IC607" in codes:
        commands.append("docker image prune -f")
    tags = inv.image.repo_tags
    commands.append(rebuild_command(build, tags[0] if tags else None))
    reason = f"{bad[0].code}: {bad[0].message}" + (f"; {unread}" if unread else "")
    return StaleVerdict("stale", reason, *where, tuple(commands))


def _chain_prune(facts: StaleFacts, bad: Sequence[Finding]) -> str:
    """For a BuildKit image whose cached layers are old or stale (IC603, IC605, IC607):
    the prune of the first such layer's record, which takes the later ones stacked on it
    along. A legacy image has no such record: its advice is the ``--no-cache`` rebuild."""
    state = facts.state
    if state is None or state.chain is None:
        return ""
    cached = ("IC603", "IC605", "IC607")
    lines = {f.location.rpartition(":")[2] for f in bad if f.code in cached and f.location}
    for step in state.chain.steps:  # base first: the first old one covers the rest
        aligned = next((s for s in facts.match.steps if s.entry == step.entry), None)
        if aligned is not None and str(aligned.line) in lines:
            return prune_command(state.records, step.record)
    return ""


def _unread_note(files: Sequence[CopiedFile], shown: int = 20) -> str:
    """Which context files were compared by size only, and why: never a silent gap."""
    by_why: dict[str, list[str]] = {}
    for f in files:
        if f.status == "unread":
            by_why.setdefault(f.why, []).append(f.source)
    parts = []
    for why, names in by_why.items():
        listed = ", ".join(names[:shown])
        more = f" and {len(names) - shown} more" if len(names) > shown else ""
        parts.append(f"{len(names)} compared by size only, {why}: {listed}{more}")
    return "; ".join(parts)
