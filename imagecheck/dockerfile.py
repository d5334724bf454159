"""Dockerfiles read the way the builders read them, shared by lint and history matching.

Logical instructions (continuations, comments, the ``escape`` directive, heredocs),
ARG/ENV substitution, and the split into stages: each stage knows its base
reference after substitution, the earlier stage it builds on, and its instructions.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

_HEREDOC = re.compile(r"<<(-?)([\"']?)([A-Za-z_][A-Za-z0-9_]*)\2")
_VAR = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)
_DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*=\s*(\S+)\s*$")
UNKNOWN = "\0"  # stands for a variable we cannot resolve: text holding it is not judged


@dataclass(frozen=True, slots=True)
class Instruction:
    line: int
    keyword: str  # upper case
    text: str  # after the keyword, continuation lines joined with a space
    heredocs: tuple[str, ...] = ()  # bodies, in order
    joined: str = ""  # after the keyword, joined as the builders' parser does it
    source: str = ""  # the lines as written (heredoc bodies left out), for quoting
    escape: str = "\\"  # the ``# escape=`` directive in effect


def _directives(lines: list[str]) -> str:
    escape = "\\"
    for raw in lines:  # parser directives come first, before any instruction or comment
        m = _DIRECTIVE.match(raw)
        if not m:
            break
        if m.group(1).lower() == "escape" and m.group(2) in ("`", "\\"):
            escape = m.group(2)
    return escape


def instructions(text: str) -> list[Instruction]:
    """Logical instructions with their first line number."""
    lines = text.splitlines()
    escape = _directives(lines)
    continued = re.compile(re.escape(escape) + r"[ \t]*$")
    out: list[Instruction] = []
    i = 0
    while i < len(lines):
        start = i
        stripped = lines[i].strip()
        if not stripped or stripped.startswith("#"):
            i += 1
            continue
        buf = ""
        joined = ""  # the builders keep a continuation line's leading blanks and add none
        while i < len(lines):
            part = lines[i].strip()
            raw = lines[i] if buf else lines[i].lstrip()
            i += 1
            if (part.startswith("#") or not part) and buf:
                continue  # comment and empty lines inside a continued instruction are dropped
            if part.endswith(escape):
                buf += part[:-1] + " "
                joined += continued.sub("", raw)
                continue
            buf += part
            joined += raw
            break
        end = i
        keyword, rest = [*re.split(r"\s+", buf.strip(), maxsplit=1), ""][:2]
        bodies: list[str] = []
        if keyword.upper() in ("RUN", "COPY", "ADD"):
            for m in _HEREDOC.finditer(rest):
                body: list[str] = []
                while i < len(lines):
                    candidate = lines[i].lstrip("\t") if m.group(1) else lines[i]
                    i += 1
                    if candidate.strip() == m.group(3):
                        break
                    body.append(lines[i - 1])
                bodies.append("\n".join(body))
        after = re.split(r"\s", joined.strip(), maxsplit=1)
        source = "\n".join(lines[start:end])
        out.append(
            Instruction(
                start + 1,
                keyword.upper(),
                rest.strip(),
                tuple(bodies),
                after[1].strip() if len(after) > 1 else "",
                source,
                escape,
            )
        )
    return out


def substitute(text: str, env: Mapping[str, str], missing: str | None = UNKNOWN) -> str:
    """``$VAR``, ``${VAR}``, ``${VAR:-default}``, ``${VAR:+alt}`` as the builders expand them.

    A variable absent from ``env`` becomes ``missing`` (``None`` leaves it as written).
    """

    def value(m: re.Match[str]) -> str:
        name = m.group(1) or m.group(4)
        op, word = m.group(2), m.group(3)
        if name in env:
            val = env[name]
            if op in (":+", "+"):
                return word if (val or op == "+") else ""
            if op == ":-" and not val:
                return word
            return val
        if op in (":-", "-"):
            return word
        if missing is None:
            return m.group(0)
        return missing

    return _VAR.sub(value, text)


def split_words(text: str, escape: str = "\\") -> list[str]:
    """Arguments split at blanks outside quotes, quotes and escapes kept, as the
    builders' parser splits ENV, LABEL and ARG before expanding each word."""
    out: list[str] = []
    word, quote, started = "", "", False
    i = 0
    while i < len(text):
        ch = text[i]
        if not quote and ch.isspace():
            if started:
                out.append(word)
            word, started = "", False
        elif ch == escape and quote != "'":
            if i + 1 < len(text):
                word += ch + text[i + 1]
                i += 1
            started = True
        else:
            if quote and ch == quote:
                quote = ""
            elif not quote and ch in "'\"":
                quote = ch
            word += ch
            started = True
        i += 1
    if started:
        out.append(word)
    return out


def process_word(
    word: str, env: Mapping[str, str], missing: str | None = UNKNOWN, escape: str = "\\"
) -> str:
    """One word as the builders expand it (their shell lexer): quotes removed, escapes
    applied, ``$VAR`` and ``${VAR...}`` substituted, except inside single quotes."""
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        ch = word[i]
        if ch == "'":
            end = word.find("'", i + 1)
            end = n if end < 0 else end
            out.append(word[i + 1 : end])
            i = end + 1
        elif ch == '"':
            i += 1
            while i < n and word[i] != '"':
                if word[i] == "$":
                    value, i = _dollar(word, i, env, missing, escape)
                    out.append(value)
                    continue
                if word[i] == escape and i + 1 < n and word[i + 1] in ('"', "$", escape):
                    i += 1
                out.append(word[i])
                i += 1
            i += 1
        elif ch == "$":
            value, i = _dollar(word, i, env, missing, escape)
            out.append(value)
        elif ch == escape:
            out.append(word[i + 1 : i + 2])
            i += 2
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def _dollar(
    word: str, i: int, env: Mapping[str, str], missing: str | None, escape: str
) -> tuple[str, int]:
    """The value of the ``$...`` at ``word[i]`` and where the text after it starts."""
    m = _VAR.match(word, i)
    if m is None:
        return "$", i + 1
    name, op, alt = m.group(1) or m.group(4), m.group(2), m.group(3)
    if op is None:
        return substitute(m.group(0), env, missing), m.end()
    value = process_word(alt, env, missing, escape)
    known = {name: env[name]} if name in env else {}
    return substitute(f"${{{name}{op}\x01}}", known, missing).replace("\x01", value), m.end()


def name_values(text: str, escape: str = "\\") -> list[tuple[str, str]]:
    """ENV and LABEL pairs as the parser reads them, before expansion: ``K=V ...``
    (split at blanks outside quotes) or the old ``K value with spaces`` (the value is
    the rest of the line, blanks kept)."""
    found = split_words(text, escape)
    if not found:
        return []
    if "=" not in found[0]:
        parts = re.split(r"\s+", text.strip(), maxsplit=1)
        return [(parts[0], parts[1] if len(parts) > 1 else "")]
    return [(k, v) for k, _, v in (w.partition("=") for w in found)]


def clean(path: str) -> str:
    """Go's ``path.Clean``: like normpath, but a leading ``//`` is one slash."""
    out = posixpath.normpath(path)
    return "/" + out.lstrip("/") if out.startswith("//") else out


def flags(text: str) -> tuple[dict[str, list[str]], str]:
    """Leading ``--flag[=value]`` options of an instruction, and the rest."""
    found: dict[str, list[str]] = {}
    rest = text
    while rest.startswith("--"):
        word, _, rest = rest.partition(" ")
        key, _, val = word[2:].partition("=")
        found.setdefault(key.lower(), []).append(val)
        rest = rest.lstrip()
    return found, rest


def exec_form(text: str) -> list[str] | None:
    """The JSON array of an exec-form instruction, or None for the shell form."""
    if not text.startswith("["):
        return None
    try:
        parsed = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    if isinstance(parsed, list) and all(isinstance(w, str) for w in parsed):
        return list(parsed)
    return None


def words(text: str) -> list[str]:
    parsed = exec_form(text)
    if parsed is not None:
        return parsed
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def absolute(workdir: str, path: str) -> str:
    return posixpath.normpath(posixpath.join(workdir, path))


def pairs(items: list[str], sep: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        key, eq, value = item.partition(sep)
        if eq:
            out[key] = value
    return out


def env_pairs(text: str) -> dict[str, str]:
    """ENV and LABEL pairs: ``K=V ...`` or the legacy ``K value with spaces``."""
    found = words(text)
    if len(found) >= 2 and "=" not in found[0]:
        return {found[0]: " ".join(found[1:])}
    return pairs(found, "=")


def arg_pairs(text: str) -> list[tuple[str, str | None]]:
    """ARG declarations: name and default as written (None without a default)."""
    out: list[tuple[str, str | None]] = []
    for word in words(text):
        key, eq, val = word.partition("=")
        out.append((key, val if eq else None))
    return out


@dataclass(frozen=True, slots=True)
class BuildStage:
    """One ``FROM`` and the instructions after it, up to the next ``FROM``."""

    number: int
    name: str | None  # lower case, as stage names compare
    line: int  # of the FROM
    base: str  # the FROM reference after ARG substitution
    parent: BuildStage | None  # the earlier stage ``base`` names, if any
    instructions: tuple[Instruction, ...]
    meta_args: tuple[tuple[str, str | None], ...]  # ARGs before the first FROM, values resolved

    @property
    def label(self) -> str:
        return f"stage {self.name!r}" if self.name else f"stage {self.number}"


@dataclass(frozen=True, slots=True)
class Dockerfile:
    stages: tuple[BuildStage, ...]
    meta_args: tuple[tuple[str, str | None], ...]

    def stage(self, target: str | None = None) -> BuildStage:
        """The stage a build of ``target`` (default: the last stage) produces."""
        if not self.stages:
            raise ValueError("the Dockerfile has no FROM")
        if target is None:
            return self.stages[-1]
        for stage in self.stages:
            if stage.name == target.lower() or str(stage.number) == target:
                return stage
        raise ValueError(f"no stage named {target!r}")


def scoped(
    stage: BuildStage, build_args: Mapping[str, str]
) -> Iterator[tuple[Instruction, str, dict[str, str]]]:
    """Each instruction of ``stage`` with the WORKDIR and variables in effect for it
    (ENV, ARG defaults and ``build_args``; an unset variable expands to nothing)."""
    env: dict[str, str] = dict(build_args)
    workdir = "/"
    for ins in stage.instructions:
        text, esc = ins.joined or ins.text, ins.escape
        if ins.keyword == "ENV":
            found = name_values(text, esc)
            env.update(
                (process_word(k, env, "", esc), process_word(v, env, "", esc)) for k, v in found
            )
        elif ins.keyword == "ARG":
            for word in split_words(text, esc):
                name, _, value = word.partition("=")
                env.setdefault(name, process_word(value, env, "", esc))
        elif ins.keyword == "WORKDIR":
            workdir = absolute(workdir, process_word(text.strip(), env, "", esc))
        yield ins, workdir, env


def parse(text: str, build_args: Mapping[str, str] | None = None) -> Dockerfile:
    """Split a Dockerfile into stages; ``build_args`` override ARG defaults."""
    build_args = build_args or {}
    meta: dict[str, str | None] = {}
    stages: list[BuildStage] = []
    by_name: dict[str, BuildStage] = {}
    current: tuple[int, str | None, str, BuildStage | None] | None = None
    body: list[Instruction] = []

    def close() -> None:
        if current is not None:
            number, name, base, parent = current
            meta_args = tuple(meta.items())
            stage = BuildStage(number, name, line, base, parent, tuple(body), meta_args)
            stages.append(stage)
            by_name[str(number)] = stage
            if name:
                by_name[name] = stage

    line = 0
    for ins in instructions(text):
        if ins.keyword == "FROM":
            close()
            found = words(flags(ins.text)[1])
            known = {k: v for k, v in meta.items() if v is not None}
            base = substitute(found[0], known, missing="") if found else ""
            name = found[2].lower() if len(found) >= 3 and found[1].lower() == "as" else None
            line = ins.line
            current = (len(stages), name, base, by_name.get(base.lower()))
            body = []
        elif current is None:
            if ins.keyword == "ARG":
                known = {k: v for k, v in meta.items() if v is not None}
                for key, default in arg_pairs(ins.text):
                    if key in build_args:
                        meta[key] = build_args[key]
                    else:
                        meta[key] = None if default is None else substitute(default, known, "")
        else:
            body.append(ins)
    close()
    return Dockerfile(tuple(stages), tuple(meta.items()))


# Reading RUN scripts: which commands a shell line runs, and what pip installs.
_SEPARATORS = {"&&", "||", ";", "|", "&", "(", ")"}
_PIP = re.compile(r"^(pip|pip3|pip3\.\d+)$")
_PYTHON = re.compile(r"^python(\d(\.\d+)?)?$")
# Commands that can put a file in place inside the RUN that then installs it.
_MAKERS = {"curl", "wget", "git", "cp", "mv", "ln", "tar", "unzip", "pip-compile", "uv", "install"}


@dataclass(frozen=True, slots=True)
class Install:
    """``pip install -r FILE`` (or ``-c``, ``uv pip sync FILE``) found in a RUN."""

    option: str
    written: str  # the path as written
    cwd: str  # where the shell was (WORKDIR and ``cd``)
    made_before: bool  # an earlier command of the same RUN may have written it


def commands(script: str) -> Iterator[list[str]]:
    lexer = shlex.shlex(script.replace("\n", " ; "), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        tokens = script.split()
    command: list[str] = []
    for tok in tokens:
        if tok in _SEPARATORS or set(tok) <= set("&|;()"):
            if command:
                yield command
            command = []
        else:
            command.append(tok)
    if command:
        yield command


def _requirement_args(words: list[str]) -> Iterator[tuple[str, str]]:
    """(option, file) pairs of a pip/uv command's arguments."""
    it = iter(range(len(words)))
    for i in it:
        w = words[i]
        for option in ("-r", "--requirement", "-c", "--constraint"):
            if w == option and i + 1 < len(words):
                yield option, words[i + 1]
                next(it, None)
            elif w.startswith(option + "=") and option.startswith("--"):
                yield option, w.split("=", 1)[1]
            elif len(option) == 2 and w.startswith(option) and len(w) > 2 and w[2] != "-":
                yield option, w[2:]


def installs(script: str, workdir: str) -> Iterator[Install]:
    cwd = workdir
    made = False
    for words in commands(script):
        while words and (
            re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", words[0])
            or words[0]
            in (
                "sudo",
                "exec",
                "time",
                "env",
                "then",
                "do",
                "else",
            )
        ):
            words = words[1:]
        if not words:
            continue
        prog = posixpath.basename(words[0])
        if prog == "cd" and len(words) > 1:
            cwd = absolute(cwd, words[1])
            continue
        args: list[str] | None = None
        if _PIP.match(prog):
            args = words[1:]
        elif _PYTHON.match(prog) and words[1:3] == ["-m", "pip"]:
            args = words[3:]
        elif prog == "uv" and words[1:2] == ["pip"]:
            args = words[2:]
        elif prog == "pip-sync":
            args = ["sync", *words[1:]]
        if args is not None:
            positional = [a for a in args if not a.startswith("-")]
            if positional[:1] == ["install"]:
                for option, written in _requirement_args(args):
                    yield Install(option, written, cwd, made)
            elif positional[:1] == ["sync"]:
                for written in positional[1:]:
                    yield Install("sync", written, cwd, made)
        if prog in _MAKERS or ">" in words or ">>" in words or prog == "tee":
            made = True
