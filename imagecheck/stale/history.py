"""Was this image built from this Dockerfile? Its history against the final stage.

Each instruction of the final stage (or ``target``) leaves one history entry, in
the words of the builder that ran it. Both builders are predicted:

* the legacy builder (docker without BuildKit): ``/bin/sh -c #(nop)  ENV A=b``,
  ``/bin/sh -c #(nop) COPY file:<hash> in /app/ `` (sources are hashed away, so
  COPY is matched on its destination), RUN as the command itself, prefixed with
  ``|N K=V ...`` when build args are in scope (sorted, those with a value and
  not shadowed by ENV);
* BuildKit: ``RUN /bin/sh -c ... # buildkit``, ``COPY src dest # buildkit``,
  ``ENV A=b``, ``EXPOSE map[8000/tcp:{}]``, args in declaration order.

Both sides are read back through one parser and compared with whitespace
collapsed, since the builders keep a continuation line's indentation. What the
Dockerfile alone cannot tell (the base image's ENV, WORKDIR and SHELL) matches
anything rather than raising a false alarm. The instructions are aligned to the
newest entries with an edit distance; whatever precedes them is the base image.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from ..dockerfile import (
    UNKNOWN,
    BuildStage,
    Instruction,
    arg_pairs,
    clean,
    exec_form,
    flags,
    name_values,
    parse,
    process_word,
    split_words,
    words,
)
from ..model import HistoryEntry

_NO_ARGS: Mapping[str, str] = MappingProxyType({})
_DEFAULT_SHELL = ("/bin/sh", "-c")
# Passed with --build-arg, these are in scope without an ARG (the legacy builder records them).
_PROXY = frozenset(
    p
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "NO_PROXY", "ALL_PROXY")
    for p in (name, name.lower())
)
_KEYWORDS = frozenset(
    [
        "ADD",
        "ARG",
        "CMD",
        "COPY",
        "ENTRYPOINT",
        "ENV",
        "EXPOSE",
        "HEALTHCHECK",
        "LABEL",
        "MAINTAINER",
        "ONBUILD",
        "RUN",
        "SHELL",
        "STOPSIGNAL",
        "USER",
        "VOLUME",
        "WORKDIR",
    ]
)
_NOP = re.compile(r"^(.*?) #\(nop\) (.*)$", re.S)
_LEGACY_COPY = re.compile(r"^(--chown=\S*?)?((?:file|dir|multi):[0-9a-f]+) in (.*)$", re.S)
_BUILD_ARGS = re.compile(r"^\|(\d+) ")
_SOME_SHELL = re.compile(r"^\S*sh(?: \S+)*? -c (.*)$", re.S)
_DURATION = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")
_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9}
_UNITS |= {"m": 60 * 10**9, "h": 3600 * 10**9}
_BUILDKIT_COMMENT = "buildkit.dockerfile.v0"


@dataclass(frozen=True, slots=True)
class Expected:
    """The history entry one instruction produces, as each builder would record it."""

    line: int
    keyword: str
    text: str  # the instruction as written
    legacy: str  # created_by of the legacy builder ("\0" stands for what we cannot know)
    buildkit: str  # created_by of BuildKit
    script: str = ""  # a shell-form RUN's command, to match under an inherited SHELL
    shell_inherited: bool = False  # the shell is the base image's, not known here
    loose: bool = False  # heredocs and the like: matched on the keyword alone


@dataclass(frozen=True, slots=True)
class Aligned:
    """An instruction and the history entry it made; ``entry`` is None when missing."""

    status: str  # "same", "changed", "missing" (no entry), "extra" (no instruction)
    line: int | None
    keyword: str
    text: str  # the instruction as written ("" for an extra step)
    entry: HistoryEntry | None
    content: str | None = None  # the legacy builder's file:/dir:/multi: hash of a COPY/ADD


@dataclass(frozen=True, slots=True)
class Difference:
    reason: str  # "instruction changed", "instruction missing from the image", ...
    line: int | None  # None for an extra step of the image
    instruction: str  # verbatim from the Dockerfile ("" for an extra step)
    created_by: str  # verbatim from the image ("" for a missing instruction)
    expected: str = ""  # what the builder would have recorded for the instruction
    detail: str = ""  # the words that differ between ``expected`` and ``created_by``


@dataclass(frozen=True, slots=True)
class HistoryMatch:
    matched: bool
    base: str  # the final stage's FROM, after ARG substitution
    base_entries: int  # history entries before the final stage's first instruction
    steps: tuple[Aligned, ...]
    first_difference: Difference | None
    ignored: tuple[HistoryEntry, ...] = ()  # trailing LABELs of ``docker build --label``


@dataclass
class _State:
    """What the builder knows while it walks a stage."""

    env: dict[str, str] = field(default_factory=dict)
    workdir: str = UNKNOWN
    shell: tuple[str, ...] = _DEFAULT_SHELL
    shell_known: bool = False
    args: list[tuple[str, str | None]] = field(default_factory=list)
    missing: str = UNKNOWN  # what an undefined variable expands to

    def scope(self) -> dict[str, str]:
        out = {k: v or "" for k, v in self.args}
        out.update(self.env)  # ENV wins over an ARG of the same name
        return out

    def word(self, text: str, escape: str = "\\") -> str:
        """One word expanded as the builders expand it (quotes, escapes, variables)."""
        return process_word(text, self.scope(), self.missing, escape)


def expected_history(stage: BuildStage, build_args: Mapping[str, str] = _NO_ARGS) -> list[Expected]:
    """The history entry each instruction of ``stage`` produces, in order."""
    return _walk(stage, build_args)[0]


def _walk(stage: BuildStage, build_args: Mapping[str, str]) -> tuple[list[Expected], _State]:
    if stage.parent is not None:
        parent = _walk(stage.parent, build_args)[1]
        state = _State(dict(parent.env), parent.workdir, parent.shell, parent.shell_known)
        state.missing = parent.missing
    elif stage.base.lower() == "scratch":
        state = _State(workdir="/", shell_known=True, missing="")
    else:
        state = _State()
    meta = dict(stage.meta_args)
    out = [_expect(ins, state, meta, build_args) for ins in stage.instructions]
    return out, state


def _go_list(items: Sequence[str]) -> str:
    """Go's ``%q`` of a string slice: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(i, ensure_ascii=False) for i in items) + "]"


def _expect(
    ins: Instruction, state: _State, meta: Mapping[str, str | None], build_args: Mapping[str, str]
) -> Expected:
    kw, text = ins.keyword, ins.joined or ins.text
    nop = " ".join(state.shell) + " #(nop) "
    body = text
    loose = bool(ins.heredocs)
    script, inherited = "", False
    esc = ins.escape
    if kw == "ARG":
        parts = []
        for raw in split_words(text, esc):
            key, eq, default = raw.partition("=")
            given = state.word(default, esc) if eq else None
            parts.append(key if given is None else f"{key}={given}")
            if key in build_args:
                value: str | None = build_args[key]
            else:
                value = given if given is not None else meta.get(key)
            state.args = [(k, v) for k, v in state.args if k != key] + [(key, value)]
        body = " ".join(parts)
    elif kw in ("ENV", "LABEL"):
        # Every word is expanded with the variables as they were before the instruction.
        # A key given twice is recorded twice; the last value is the one in effect.
        found = [(state.word(k, esc), state.word(v, esc)) for k, v in name_values(text, esc)]
        if kw == "ENV":
            state.env.update(found)
        body = " ".join(f"{k}={v}" for k, v in found)
    elif kw == "WORKDIR":
        # An absolute path is recorded as written (``/app/`` keeps its slash), a relative
        # one joined to the current folder and cleaned (Go's path.Join).
        path = state.word(text.strip(), esc)
        joined = clean(f"{state.workdir}/{path}")
        if (UNKNOWN in state.workdir and UNKNOWN not in joined) or UNKNOWN in path:
            # ``..`` climbed out of the base image's unknown folder, or cleaning a path
            # with an unknown (maybe empty) part in it: anything
            joined = UNKNOWN
        state.workdir = path if path.startswith("/") else joined
        legacy = f"{nop}WORKDIR {state.workdir}"
        return Expected(ins.line, kw, ins.source, legacy, f"WORKDIR {state.workdir}")
    elif kw in ("COPY", "ADD"):
        opts, rest = flags(text)
        paths = [state.word(w, esc) for w in (exec_form(rest) or rest.split())]
        dest = paths[-1] if paths else ""
        chown = f"--chown={state.word(opts['chown'][-1], esc)}" if "chown" in opts else ""
        legacy = f"{nop}{kw} {chown}file:0 in {dest} "
        buildkit = f"{kw} {' '.join(paths)} # buildkit"
        return Expected(ins.line, kw, ins.source, legacy, buildkit, loose=loose)
    elif kw == "RUN":
        rest = flags(text)[1]
        argv = exec_form(rest)
        if argv is None:
            script = "\n".join([rest, *ins.heredocs])
            argv = [*state.shell, script]
            inherited = not state.shell_known
        command = " ".join(argv)
        legacy_args = sorted(
            f"{k}={v}" for k, v in dict(state.args).items() if v is not None and k not in state.env
        )
        legacy_args += sorted(f"{k}={v}" for k, v in build_args.items() if k in _PROXY)
        kit_args = [f"{k}={state.env.get(k, v or '')}" for k, v in dict(state.args).items()]
        legacy = _with_args(legacy_args, command)
        buildkit = f"RUN {_with_args(kit_args, command)} # buildkit"
        return Expected(ins.line, kw, ins.source, legacy, buildkit, script, inherited, loose)
    elif kw in ("CMD", "ENTRYPOINT"):
        argv = exec_form(text)
        body = _go_list(argv if argv is not None else [*state.shell, text])
    elif kw == "SHELL":
        argv = exec_form(text) or words(text)
        body = "[" + " ".join(argv) + "]"
        state.shell, state.shell_known = tuple(argv), True
        legacy = f"{' '.join(argv)} #(nop)  SHELL {body}"  # recorded under the new shell
        return Expected(ins.line, kw, ins.source, legacy, f"SHELL {body}")
    elif kw == "VOLUME":
        body = "[" + " ".join(state.word(w, esc) for w in exec_form(text) or text.split()) + "]"
    elif kw == "EXPOSE":
        ports = [state.word(w, esc) for w in text.split()]
        opened = sorted({p for spec in ports for p in _ports_of(spec)})
        legacy = f"{nop} EXPOSE {' '.join(sorted(ports))}"
        buildkit = "EXPOSE map[" + " ".join(f"{p}:{{}}" for p in opened) + "]"  # this line's
        return Expected(ins.line, kw, ins.source, legacy, buildkit)
    elif kw in ("USER", "STOPSIGNAL"):
        body = state.word(text.strip(), esc)
    elif kw == "HEALTHCHECK":
        body = _healthcheck(text, state.shell)
    elif kw not in ("ONBUILD", "MAINTAINER"):
        loose = True
    line = f"{kw} {body}".rstrip()
    return Expected(ins.line, kw, ins.source, f"{nop} {line}", line, loose=loose)


def _with_args(args: list[str], command: str) -> str:
    return " ".join([f"|{len(args)}", *args, command]) if args else command


def _port(spec: str) -> str:
    return spec.lower() if "/" in spec else f"{spec}/tcp"


def _ports_of(spec: str) -> set[str]:
    """The ports an EXPOSE word opens, as BuildKit lists them: ranges expanded."""
    number, slash, proto = spec.partition("/")
    low, dash, high = number.partition("-")
    if dash and low.isdigit() and high.isdigit() and int(high) - int(low) < 65536:
        tail = slash + proto
        return {_port(f"{p}{tail}") for p in range(int(low), int(high) + 1)}
    return {_port(spec)}


def _duration(text: str) -> int | None:
    """Go's ``time.ParseDuration``, in nanoseconds."""
    if text in ("0", ""):
        return 0
    total, pos = Decimal(0), 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            return None
        try:
            total += Decimal(m.group(1)) * _UNITS[m.group(2)]
        except InvalidOperation:
            return None
        pos = m.end()
    return int(total) if pos == len(text) and pos else None


def _go_duration(ns: int) -> str:
    """Go's ``time.Duration.String``: 5m0s, 1.5s, 500ms."""
    if ns == 0:
        return "0s"
    for unit, size in (("ns", 1), ("µs", 10**3), ("ms", 10**6)):
        if ns < size * 1000:
            whole, frac = divmod(ns, size)
            digits = len(str(size)) - 1
            tail = f".{frac:0{digits}d}".rstrip("0") if frac else ""
            return f"{whole}{tail}{unit}"
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    seconds, frac = divmod(rest, 10**9)
    out = f"{seconds}" + (f".{frac:09d}".rstrip("0") if frac else "") + "s"
    if hours or minutes:
        out = f"{minutes}m{out}"
    if hours:
        out = f"{hours}h{out}"
    return out


def _healthcheck(text: str, shell: Sequence[str]) -> str:
    """Go's ``%q`` of the HealthConfig the builders record."""
    opts, rest = flags(text)
    what, _, command = rest.partition(" ")
    command = command.strip()
    if what.upper() == "NONE":
        test = ["NONE"]
    else:
        argv = exec_form(command)
        test = ["CMD", *argv] if argv is not None else ["CMD-SHELL", command]
    durations = []
    for key in ("interval", "timeout", "start-period"):
        ns = _duration(opts.get(key, ["0s"])[-1])
        durations.append(json.dumps(_go_duration(ns or 0)))
    retries = opts.get("retries", ["0"])[-1]
    rune = int(retries) if retries.isdigit() else 0
    quoted = chr(rune) if 32 <= rune < 127 and rune != 39 else f"\\x{rune:02x}"
    return f"&{{{_go_list(test)} {' '.join(durations)} '{quoted}'}}"


@dataclass(frozen=True, slots=True)
class _Recorded:
    """A created_by read back: the same shape for both builders and for our predictions."""

    keyword: str
    body: str  # whitespace collapsed
    args: tuple[tuple[str, str], ...] | None = None  # a RUN's ``|N K=V`` prefix
    content: str | None = None  # legacy COPY/ADD hash
    legacy: bool = True


def _norm(text: str) -> str:
    return " ".join(text.split())


def _split_args(text: str) -> tuple[tuple[tuple[str, str], ...] | None, str]:
    m = _BUILD_ARGS.match(text)
    if not m:
        return None, text
    count = int(m.group(1))
    tokens = text[m.end() :].split(" ")
    found = tuple((k, v) for k, _, v in (t.partition("=") for t in tokens[:count]))
    return found, " ".join(tokens[count:])


def _read(created_by: str, comment: str = "") -> _Recorded:
    text = created_by.strip()
    buildkit = comment.startswith(_BUILDKIT_COMMENT)
    if text.endswith("# buildkit"):
        text, buildkit = text[: -len("# buildkit")].rstrip(), True
    m = _NOP.match(text)
    if m and not buildkit:
        keyword, _, body = m.group(2).strip().partition(" ")
        keyword = keyword.upper()
        copied = _LEGACY_COPY.match(body.strip()) if keyword in ("COPY", "ADD") else None
        if copied:
            body = f"{copied.group(1) or ''} in {copied.group(3)}"
            return _Recorded(keyword, _norm(body), content=copied.group(2))
        return _Recorded(keyword, _norm(body))
    keyword, _, body = text.partition(" ")
    if buildkit or (keyword in _KEYWORDS and "#(nop)" not in text):
        args, body = _split_args(body) if keyword == "RUN" else (None, body)
        return _Recorded(keyword, _norm(body), args, legacy=False)
    args, body = _split_args(text)
    return _Recorded("RUN", _norm(body), args)


def _fits(expected: str, observed: str) -> bool:
    """Equal, where ``UNKNOWN`` in ``expected`` stands for any text, the empty text too
    (then the blank beside it may be gone: the builders strip a trailing blank)."""
    if UNKNOWN not in expected:
        return expected == observed
    parts = expected.split(UNKNOWN)
    last = len(parts) - 1
    trimmed = [
        p[1 if i and p[:1] == " " else 0 : -1 if i < last and p[-1:] == " " else None]
        for i, p in enumerate(parts)
    ]
    pattern = r"(?:\s?.*?\s?)".join(re.escape(p) for p in trimmed)
    return re.fullmatch(pattern, observed, re.S) is not None


def _ports(body: str) -> set[str]:
    """The ports of an EXPOSE entry: the legacy builder's words or BuildKit's map."""
    if body.startswith("map["):
        return {_port(p) for p in re.findall(r"([^\s\[\]]+?):\{\}", body)}
    return {p for spec in body.split() for p in _ports_of(spec)}


def _health(body: str) -> tuple[tuple[str, ...], tuple[int | None, ...], str] | None:
    m = re.match(r'^&\{\[((?:"(?:[^"\\]|\\.)*"\s*)*)\]\s*(.*)\}$', body, re.S)
    if not m:
        return None
    test = tuple(_norm(_unquote(x)) for x in re.findall(r'"((?:[^"\\]|\\.)*)"', m.group(1)))
    durations = tuple(_duration(d) for d in re.findall(r'"([^"]*)"', m.group(2)))[:3]
    rune = re.search(r"'((?:[^'\\]|\\.)*)'", m.group(2))
    return test, durations, rune.group(1) if rune else ""


def _unquote(text: str) -> str:
    try:
        value = json.loads(f'"{text}"')
    except json.JSONDecodeError:
        return text
    return value if isinstance(value, str) else text


def _args_fit(
    expected: tuple[tuple[str, str], ...] | None,
    observed: tuple[tuple[str, str], ...] | None,
    meta: frozenset[str],
) -> bool:
    want = {k: v for k, v in expected or () if k not in _PROXY}
    got = {k: v for k, v in observed or () if k not in _PROXY}
    for key in want.keys() | got.keys():
        if key not in got:
            if want[key]:
                return False
        elif key not in want:
            if got[key] and key not in meta:
                return False
        elif not _fits(want[key], got[key]):
            return False
    return True


def _verdict(exp: Expected, entry: HistoryEntry, meta: frozenset[str]) -> str:
    """ "same", "changed" (same keyword) or "other" (a different instruction)."""
    got = _read(entry.created_by, entry.comment)
    want = _read(exp.legacy if got.legacy else exp.buildkit, "" if got.legacy else "buildkit")
    if got.keyword != want.keyword:
        return "other"
    if exp.loose:
        return "same"
    if exp.keyword == "EXPOSE":
        return "same" if _ports(want.body) == _ports(got.body) else "changed"
    if exp.keyword == "HEALTHCHECK":
        w_h, g_h = _health(want.body), _health(got.body)
        if w_h is not None and g_h is not None:
            return "same" if w_h == g_h else "changed"
    same = _fits(want.body, got.body)
    if not same and exp.shell_inherited:
        m = _SOME_SHELL.match(got.body)
        same = m is not None and _fits(_norm(exp.script), m.group(1))
    if same and exp.keyword == "RUN" and not _args_fit(want.args, got.args, meta):
        return "args"
    return "same" if same else "changed"


def _is_build_label(entry: HistoryEntry) -> bool:
    """A LABEL the legacy builder appends for ``docker build --label``."""
    got = _read(entry.created_by, entry.comment)
    return got.legacy and got.keyword == "LABEL" and "#(nop)" in entry.created_by


def compare(
    dockerfile_text: str,
    history: Sequence[HistoryEntry],
    build_args: Mapping[str, str] = _NO_ARGS,
    target: str | None = None,
) -> HistoryMatch:
    """Align the final stage (or ``target``) of a Dockerfile with an image's history."""
    stage = parse(dockerfile_text, build_args).stage(target)
    expected = expected_history(stage, build_args)
    meta = frozenset(k for k, _ in stage.meta_args)
    entries = list(history)
    n, m = len(expected), len(entries)
    buildkit = any(_read(e.created_by, e.comment).legacy is False for e in entries)
    verdicts = [[_verdict(x, e, meta) for e in entries] for x in expected]
    cost = {"same": 0, "changed": 1, "args": 1}
    miss = [0 if (buildkit and x.keyword == "ONBUILD") else 1 for x in expected]
    big = 10 * (n + m + 1)
    table = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        table[i][0] = table[i - 1][0] + miss[i - 1]
        for j in range(1, m + 1):
            diag = table[i - 1][j - 1] + cost.get(verdicts[i - 1][j - 1], big)
            table[i][j] = min(diag, table[i - 1][j] + miss[i - 1], table[i][j - 1] + 1)
    end = m  # trailing --label entries of the legacy builder are not the Dockerfile's
    best = end
    while end > 0 and _is_build_label(entries[end - 1]):
        end -= 1
        if table[n][end] < table[n][best]:
            best = end
    steps: list[Aligned] = []
    reasons: dict[int, str] = {}
    i, j = n, best
    while i > 0:
        x = expected[i - 1]
        if j > 0 and table[i][j] == table[i - 1][j - 1] + cost.get(verdicts[i - 1][j - 1], big):
            entry = entries[j - 1]
            verdict = verdicts[i - 1][j - 1]
            status = "changed" if verdict == "args" else verdict
            content = _read(entry.created_by, entry.comment).content
            steps.append(Aligned(status, x.line, x.keyword, x.text, entry, content))
            reasons[len(steps) - 1] = "build argument changed" if verdict == "args" else ""
            i, j = i - 1, j - 1
        elif j > 0 and table[i][j] == table[i][j - 1] + 1:  # rather than grow the base
            entry = entries[j - 1]
            keyword = _read(entry.created_by, entry.comment).keyword
            steps.append(Aligned("extra", None, keyword, "", entry))
            j -= 1
        else:
            if miss[i - 1]:
                steps.append(Aligned("missing", x.line, x.keyword, x.text, None))
            i -= 1
    first = next(
        (
            _difference(s, expected, reasons.get(k, ""))
            for k, s in reversed(list(enumerate(steps)))
            if s.status != "same"
        ),
        None,
    )
    steps.reverse()
    return HistoryMatch(
        matched=first is None,
        base=stage.base,
        base_entries=j,
        steps=tuple(steps),
        first_difference=first,
        ignored=tuple(entries[best:]),
    )


def _difference(step: Aligned, expected: list[Expected], reason: str) -> Difference:
    created_by = step.entry.created_by if step.entry is not None else ""
    if step.status == "extra":
        return Difference("image has an extra step", None, "", created_by)
    x = next(e for e in expected if e.line == step.line)
    legacy = step.entry is None or _read(step.entry.created_by, step.entry.comment).legacy
    want = (x.legacy if legacy else x.buildkit).replace(UNKNOWN, "…")
    if step.status == "missing":
        return Difference("instruction missing from the image", step.line, step.text, "", want)
    detail = differing_words(want, created_by)
    return Difference(
        reason or "instruction changed", step.line, step.text, created_by, want, detail
    )


def differing_words(expected: str, recorded: str) -> str:
    """Where two recorded instructions differ, word by word: "'a b' where the image has
    'c'", blanks collapsed (the builders keep a continuation's indentation)."""
    want, got = expected.split(), recorded.split()
    start = 0
    while start < min(len(want), len(got)) and want[start] == got[start]:
        start += 1
    end = 0
    while end < min(len(want), len(got)) - start and want[-1 - end] == got[-1 - end]:
        end += 1
    ours = " ".join(want[start : len(want) - end])
    theirs = " ".join(got[start : len(got) - end])
    if not ours and not theirs:
        return ""
    if not ours:
        return f"the image adds '{theirs}'"
    if not theirs:
        return f"the image lacks '{ours}'"
    return f"'{ours}' where the image has '{theirs}'"


def recorded_args(entry: HistoryEntry) -> tuple[str, tuple[tuple[str, str], ...]]:
    """The build args a history entry records, with values, and what they are: "used"
    for a RUN's ``|N K=V`` prefix (both builders: the values the build had), "default"
    for an ARG's ``K=V`` (BuildKit's ``ARG K=V``, the legacy ``#(nop)  ARG K=V``: the
    Dockerfile's default, whatever was passed); ("", ()) for any other entry."""
    got = _read(entry.created_by, entry.comment)
    if got.keyword == "RUN" and got.args:
        return "used", got.args
    if got.keyword == "ARG":
        return "default", tuple((k, v) for k, v in arg_pairs(got.body) if v is not None)
    return "", ()
