"""IC403: a Dockerfile installs a requirements file that no COPY or ADD put into the image.

The Dockerfile is read as BuildKit reads it: continuation lines, comments, heredocs,
the ``escape`` directive, stages (``FROM earlier AS name`` inherits its files),
WORKDIR relative to the one before, ARG/ENV substitution, ``COPY``/``ADD`` (also
``--from``, ``--parents``, heredocs) and ``RUN --mount=type=bind``. A RUN that
fetches or writes the file itself (curl, git clone, ``> file``, cp) is trusted.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .. import dockerfile as df
from ..codes import IC403
from ..dockerfile import Install, Instruction, installs, instructions
from ..errors import BadInput
from ..model import Finding

__all__ = ["Install", "Instruction", "check_dockerfile", "installs", "instructions"]

_GLOB = re.compile(r"[*?\[]")
_FETCH = re.compile(r"\b(curl|wget|git|tar|unzip|cp|mv)\b")
_EXTRACTED = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".git")


@dataclass(frozen=True, slots=True)
class Provided:
    """A path a COPY/ADD (or a bind mount) makes available."""

    path: str  # absolute, normalised
    kind: str  # "file", "dir" (everything below) or "glob" (fnmatch pattern)
    line: int
    how: str  # the instruction, for hints


@dataclass
class Stage:
    name: str | None
    number: int
    workdir: str = "/"
    provided: list[Provided] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)  # earlier RUN scripts, to trust makers
    env: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"stage {self.name!r}" if self.name else f"stage {self.number}"


def _is_dir_source(src: str, context: Path | None) -> bool:
    if src in (".", "./") or src.endswith("/"):
        return True
    if context is not None and (context / src.lstrip("/")).is_dir():
        return True
    if context is not None and (context / src.lstrip("/")).exists():
        return False
    return not posixpath.splitext(src.rstrip("/"))[1]  # no suffix: most likely a folder


def _copy(ins: Instruction, stage: Stage, context: Path | None) -> list[Provided]:
    flags, rest = df.flags(df.substitute(ins.text, stage.env))
    words = df.words(rest)
    if len(words) < 2:
        return []
    *sources, dest = words
    dest_abs = df.absolute(stage.workdir, dest)
    into_dir = dest.endswith("/") or dest in (".", "./") or len(sources) > 1
    how = f"{ins.keyword} {' '.join(words)}"
    out: list[Provided] = []
    for src in sources:
        if src.startswith("<<"):  # a heredoc: the file is written at dest
            out.append(Provided(dest_abs, "file", ins.line, how))
            continue
        url = re.match(r"^[a-z]+://|^git@", src) is not None
        if ins.keyword == "ADD" and (src.endswith(_EXTRACTED) or (url and ".git" in src)):
            out.append(Provided(dest_abs, "dir", ins.line, how))  # extracted or cloned
            continue
        name = posixpath.basename(src.split("?")[0].rstrip("/"))
        if "parents" in flags and not url:
            out.append(Provided(df.absolute(dest_abs, src), "dir", ins.line, how))
            out.append(Provided(df.absolute(dest_abs, src), "file", ins.line, how))
        elif _GLOB.search(name):
            out.append(Provided(posixpath.join(dest_abs, name), "glob", ins.line, how))
        elif ("from" in flags and not posixpath.splitext(name)[1]) or (
            not url and "from" not in flags and _is_dir_source(src, context)
        ):
            out.append(Provided(dest_abs, "dir", ins.line, how))
        else:
            if not into_dir:
                out.append(Provided(dest_abs, "file", ins.line, how))
            # ``COPY requirements.txt /app`` lands in /app when /app is a folder already
            out.append(Provided(posixpath.join(dest_abs, name), "file", ins.line, how))
    return out


def _mounts(flags: dict[str, list[str]], stage: Stage, line: int) -> list[Provided]:
    out: list[Provided] = []
    for spec in flags.get("mount", []):
        opts = df.pairs(spec.split(","), "=")
        if opts.get("type", "bind") != "bind":
            continue
        target = opts.get("target") or opts.get("dst") or opts.get("destination")
        if not target:
            continue
        source = opts.get("source") or opts.get("src") or "."
        kind = "dir" if _is_dir_source(source, None) else "file"
        out.append(Provided(df.absolute(stage.workdir, target), kind, line, f"--mount={spec}"))
    return out


def _covers(p: Provided, path: str) -> bool:
    if p.kind == "file":
        return p.path == path
    if p.kind == "glob":  # the file itself, or a folder the pattern matched
        prefixes = [path] + [path[: m.start()] for m in re.finditer("/", path)]
        return any(fnmatch.fnmatchcase(x, p.path) for x in prefixes)
    return p.path in ("/", path) or path.startswith(p.path.rstrip("/") + "/")


def _made_earlier(path: str, runs: list[str]) -> bool:
    """An earlier RUN names the file, or fetches something into its folder."""
    base, parent = posixpath.basename(path), posixpath.dirname(path)
    return any(
        base in run or (parent != "/" and parent in run and _FETCH.search(run)) for run in runs
    )


def check_dockerfile(path: Path) -> Iterator[Finding]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {path}: {exc}") from exc
    context = path.parent
    stages: list[Stage] = []
    by_name: dict[str, Stage] = {}
    global_args: dict[str, str] = {}
    stage: Stage | None = None
    pending: list[tuple[Stage, Instruction, Install, str]] = []
    for ins in instructions(text):
        if ins.keyword == "ARG":
            scope = stage.env if stage is not None else global_args
            for word in df.words(ins.text):
                key, eq, val = word.partition("=")
                if eq:
                    scope[key] = df.substitute(val, {**global_args, **scope})
                elif key not in scope:
                    scope[key] = global_args.get(key, df.UNKNOWN) if stage else df.UNKNOWN
            continue
        if ins.keyword == "FROM":
            words = df.words(df.flags(ins.text)[1])
            base = df.substitute(words[0], global_args).lower() if words else ""
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
            parent = by_name.get(base)
            stage = Stage(name, len(stages))
            if parent is not None:
                stage.workdir = parent.workdir
                stage.provided = list(parent.provided)
                stage.runs = list(parent.runs)
                stage.env = dict(parent.env)
            stages.append(stage)
            if name:
                by_name[name] = stage
            by_name[str(stage.number)] = stage
            continue
        if stage is None or ins.keyword == "ONBUILD":
            continue
        if ins.keyword == "WORKDIR":
            stage.workdir = df.absolute(stage.workdir, df.substitute(ins.text, stage.env))
        elif ins.keyword == "ENV":
            stage.env.update(df.env_pairs(df.substitute(ins.text, stage.env)))
        elif ins.keyword in ("COPY", "ADD"):
            stage.provided.extend(_copy(ins, stage, context))
        elif ins.keyword == "RUN":
            flags, rest = df.flags(ins.text)
            words = df.words(rest)
            shell = len(words) > 2 and words[0].endswith("sh") and words[1] == "-c"
            if rest.startswith("["):
                script = " ".join(words[2:]) if shell else shlex.join(words)
            else:
                script = rest
            script = df.substitute("\n".join([script, *ins.heredocs]), stage.env)
            mounts = _mounts(flags, stage, ins.line)
            for found in installs(script, stage.workdir):
                target = df.absolute(found.cwd, found.written)
                if df.UNKNOWN in target or found.made_before or found.written.startswith("<("):
                    continue
                if any(_covers(p, target) for p in [*stage.provided, *mounts]):
                    continue
                if _made_earlier(target, stage.runs):
                    continue
                pending.append((stage, ins, found, target))
            stage.runs.append(script)
    for stage, ins, found, target in pending:
        yield _finding(path, stage, ins, found, target)


def _finding(path: Path, stage: Stage, ins: Instruction, found: Install, target: str) -> Finding:
    base = posixpath.basename(target)
    later = [p for p in stage.provided if p.line > ins.line and _covers(p, target)]
    elsewhere = [
        p for p in stage.provided if p.kind == "file" and posixpath.basename(p.path) == base
    ]
    what = f"pip install {found.option} {found.written}"
    if found.option == "sync":
        what = f"pip-sync {found.written}"
    message = (
        f"RUN {what} reads {target}, but nothing in {stage.label} puts it there "
        f"(WORKDIR {stage.workdir})"
    )
    if later:
        message += f"; line {later[0].line} ({later[0].how}) comes after it"
        hint = f"move line {later[0].line} before line {ins.line}"
    elif elsewhere:
        message += f"; line {elsewhere[0].line} puts {base} at {elsewhere[0].path}"
        hint = f"install -r {elsewhere[0].path}, or copy it to {target}"
    else:
        hint = (
            f"add 'COPY {base} {target}' before line {ins.line}, or mount it: "
            f"RUN --mount=type=bind,source={base},target={target} ..."
        )
    return IC403.finding(
        subject=found.written,
        message=message,
        hint=hint,
        location=f"{path}:{ins.line}",
    )
