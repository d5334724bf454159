"""The application's entry point, read from the command the image (or compose) runs.

Pure parsing: ``find_entry`` takes the image's ``ENTRYPOINT``/``CMD`` (or a compose
``command:`` override), the variables it may use and a way to read the image's shell
scripts, and says which module (and attribute) the command serves, and how it knew:
``uvicorn app.main:app``, ``gunicorn -k uvicorn.workers.UvicornWorker app.main:app``,
``fastapi run app/main.py``, ``python -m app``, ``python app/main.py``, ``celery -A
app.worker``, the shell form and ``sh -c`` wrappers, wrappers such as ``tini --``,
``gosu USER``, ``uv run``, and an ``entrypoint.sh`` whose last recognised command
(``exec uvicorn ...``, or ``exec "$@"`` handing over to ``CMD``) is the server.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Mapping, Sequence

from ..model import AppEntry

ReadFile = Callable[[str], "str | None"]  # an absolute path in the image -> its text

_MODULE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*(\(.*\))?$")
_PYTHON = re.compile(r"^python(\d+(\.\d+)*)?$")
_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "busybox"})
_VAR = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-=])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)
_ASSIGN = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_DEPTH = 6  # scripts calling scripts: deeper than this is a loop


def _options(names: str) -> frozenset[str]:
    return frozenset(names.split())


# Options that take a value, per server (so ``-k uvicorn.workers.UvicornWorker`` or
# ``--host 0.0.0.0`` is never read as the application).
_VALUE_OPTIONS = {
    "uvicorn": _options(
        "--host --port --uds --fd --reload-dir --reload-include --reload-exclude "
        "--reload-delay --workers --loop --http --ws --ws-max-size --ws-max-queue "
        "--ws-ping-interval --ws-ping-timeout --ws-per-message-deflate --lifespan "
        "--interface --env-file --log-config --log-level --root-path --limit-concurrency "
        "--backlog --limit-max-requests --timeout-keep-alive --timeout-graceful-shutdown "
        "--ssl-keyfile --ssl-certfile --ssl-keyfile-password --ssl-version --ssl-cert-reqs "
        "--ssl-ca-certs --ssl-ciphers --header --app-dir --h11-max-incomplete-event-size "
        "--forwarded-allow-ips"
    ),
    "gunicorn": _options(
        "-c --config -b --bind --backlog -w --workers -k --worker-class --threads "
        "--worker-connections --max-requests --max-requests-jitter -t --timeout "
        "--graceful-timeout --keep-alive --limit-request-line --limit-request-fields "
        "--limit-request-field_size --chdir --user -u --group -g -m --umask --worker-tmp-dir "
        "--pid -p --access-logfile --access-logformat --error-logfile --log-file "
        "--log-level --logger-class --log-config --log-syslog-to --log-syslog-prefix "
        "--log-syslog-facility -n --name --forwarded-allow-ips --proxy-allow-from "
        "--keyfile --certfile --ssl-version --cert-reqs --ca-certs --ciphers -e --env "
        "--paste --pythonpath --statsd-host --statsd-prefix --dogstatsd-tags "
        "--initgroups --capture-output"
    ),
    "hypercorn": _options(
        "-b --bind -c --config -k --worker-class -w --workers --root-path --log-level "
        "--access-logfile --error-logfile --access-log-format --keyfile --certfile "
        "--ca-certs --ciphers --graceful-timeout --keep-alive -u --user -g --group "
        "--pid --backlog --insecure-bind --quic-bind -m --umask --read-timeout "
        "--max-requests --max-requests-jitter --websocket-ping-interval"
    ),
    "daphne": _options(
        "-p --port -b --bind -u --unix-socket --fd -e --endpoint -v --verbosity "
        "-t --http-timeout --access-log --log-fmt --ping-interval --ping-timeout "
        "--application-close-timeout --root-path --websocket_timeout "
        "--websocket_connect_timeout --proxy-headers-host --proxy-headers-port "
        "--server-name"
    ),
    "fastapi": _options(
        "--host --port --app --entrypoint --workers --root-path --proxy-headers "
        "--reload-dir --forwarded-allow-ips"
    ),
    "celery": _options(
        "-b --broker --result-backend --loader --config --workdir -C --no-color "
        "-l --loglevel -c --concurrency -Q --queues -n --hostname -P --pool "
        "--logfile -f --pidfile --schedule -s --max-tasks-per-child --max-memory-per-child "
        "-O --autoscale --time-limit --soft-time-limit --prefetch-multiplier -X "
        "--exclude-queues -E --uid --gid --umask --executable"
    ),
}
# Where ``fastapi run`` looks when no path is given (its own order).
FASTAPI_DEFAULT_PATHS = (
    "main.py",
    "app.py",
    "api.py",
    "app/main.py",
    "app/app.py",
    "app/api.py",
)
FASTAPI_ATTRIBUTES = ("app", "api")
# Programs that run the rest of their arguments: how many arguments of their own to skip.
_RUNNERS: dict[str, int] = {
    "exec": 0,
    "env": 0,
    "tini": 0,
    "dumb-init": 0,
    "nohup": 0,
    "ddtrace-run": 0,
    "opentelemetry-instrument": 0,
    "gosu": 1,
    "su-exec": 1,
    "chpst": 0,
}


def find_entry(
    entrypoint: Sequence[str],
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    workdir: str = "/",
    read_file: ReadFile | None = None,
    configured: str | None = None,
    configured_how: str = "",
    command: Sequence[str] | None = None,
    command_how: str = "",
) -> AppEntry:
    """The application ``entrypoint`` + ``cmd`` run (``command`` replaces ``cmd``, as a
    compose ``command:`` does); ``configured`` (``module:attr``) wins over both.

    Never raises on odd input: what cannot be read gives an ``AppEntry`` whose
    ``module`` and ``path`` are both None and whose ``how`` says why, and what to do.
    """
    if configured is not None:
        module, _, attribute = configured.strip().partition(":")
        how = configured_how or "configured"
        if module.endswith(".py") or "/" in module:
            return AppEntry(None, attribute or None, f"{how}: {configured}", path=module)
        if not _MODULE.match(module) or (attribute and not _ATTR.match(attribute)):
            return AppEntry(
                None, None, f"{how}: {configured!r} is not MODULE[:ATTRIBUTE] (app.main:app)"
            )
        return AppEntry(module, attribute or None, f"{how}: {configured}")
    args = tuple(command) if command is not None else tuple(cmd)
    argv = (*entrypoint, *args)
    if command is not None:
        origin = f"{command_how or 'compose command:'} {_show(args)}"
        if entrypoint:
            origin += f" after ENTRYPOINT {_show(entrypoint)}"
    else:
        parts = [f"ENTRYPOINT {_show(entrypoint)}"] if entrypoint else []
        parts += [f"CMD {_show(cmd)}"] if cmd else []
        origin = " + ".join(parts) or "no ENTRYPOINT or CMD"
    if not argv:
        return _not_found(f"{origin}: nothing to read the application from", expected=False)
    parser = _Parser(dict(env or {}), workdir or "/", read_file)
    found = parser.argv(list(argv), 0)
    if found is None:
        why = parser.why or "no server or python command recognised"
        return _not_found(f"{origin}: {why}", expected=parser.why not in _NO_APP)
    return _with_origin(found, origin)


def _with_origin(found: AppEntry, origin: str) -> AppEntry:
    return AppEntry(
        found.module,
        found.attribute,
        f"{origin}: {found.how}",
        found.sys_path,
        found.path,
        found.candidates,
        found.attributes,
        found.script,
    )


#: Commands that run no application (a base image's shell or bare interpreter): nothing
#: to import, and nothing worth a finding.
_NO_APP = frozenset(
    {
        "an interactive shell",
        "python without a script or -m",
        "python -c runs inline code, not a module",
    }
)


def _not_found(why: str, expected: bool = True) -> AppEntry:
    return AppEntry(None, None, why, expected=expected)


def _show(argv: Sequence[str]) -> str:
    return "[" + ", ".join(f'"{a}"' for a in argv) + "]"


def expand(text: str, env: Mapping[str, str]) -> str:
    """``$VAR``, ``${VAR}``, ``${VAR:-default}`` and ``${VAR:=default}`` from ``env``;
    an unknown variable without default is left as written."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(4)
        op, default = match.group(2), match.group(3)
        value = env.get(name)
        if op is not None and (value is None or (op.startswith(":") and value == "")):
            return default or ""
        return match.group(0) if value is None else value

    return _VAR.sub(one, text)


def split_shell(text: str) -> list[list[str]]:
    """A shell script or ``sh -c`` string as simple commands (words, quotes removed),
    split at ``;``, ``&&``, ``||``, ``|``, ``&`` and new lines; comments dropped."""
    text = text.replace("\\\n", " ")
    commands: list[list[str]] = []
    for line in text.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|()")
        lexer.whitespace_split = True
        lexer.commenters = "#"
        current: list[str] = []
        try:
            words = list(lexer)
        except ValueError:  # an unterminated quote: this line is not a command we can read
            continue
        for word in words:
            if word and set(word) <= set(";&|()"):
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(word)
        if current:
            commands.append(current)
    return commands


class _Parser:
    def __init__(self, env: dict[str, str], workdir: str, read_file: ReadFile | None) -> None:
        self.env = env
        self.workdir = workdir
        self.read_file = read_file
        self.why = ""

    def _abs(self, path: str) -> str:
        return posixpath.normpath(posixpath.join(self.workdir, path))

    def _read(self, path: str) -> str | None:
        if self.read_file is None:
            return None
        return self.read_file(self._abs(path))

    def argv(self, argv: list[str], depth: int, args: Sequence[str] = ()) -> AppEntry | None:
        """One command's words (already split): the application it serves, if any."""
        if depth > _DEPTH:
            self.why = "scripts call each other too deep"
            return None
        words = self._words(argv, args)
        while words:
            prog = posixpath.basename(words[0])
            if _ASSIGN.match(words[0]):  # VAR=value cmd
                name, _, value = words[0].partition("=")
                self.env[name] = value
                words = words[1:]
                continue
            if prog in _RUNNERS:
                words = self._after_runner(prog, words[1:])
                continue
            if prog in ("uv", "poetry", "pdm", "pipenv", "hatch", "rye") and words[1:2] == ["run"]:
                words = [w for w in words[2:] if not w.startswith("--")] or []
                continue
            if prog == "newrelic-admin" and words[1:2] == ["run-program"]:
                words = words[2:]
                continue
            break
        if not words:
            return None
        prog = posixpath.basename(words[0])
        rest = words[1:]
        if prog in _SHELLS:
            return self._shell(rest, depth)
        if _PYTHON.match(prog):
            return self._python(rest, depth)
        if prog in ("uvicorn", "hypercorn", "daphne", "gunicorn"):
            return self._server(prog, rest)
        if prog == "fastapi":
            return self._fastapi(rest)
        if prog == "celery":
            return self._celery(rest)
        if prog == "flask":
            return self._flask(rest)
        if words[0].endswith(".sh") or "/" in words[0]:
            text = self._read(words[0])
            if text is not None and _is_shell(text):
                return self._script(words[0], text, rest, depth)
            if text is None and words[0].endswith(".sh"):
                self.why = f"{words[0]} is not readable in the image"
                return None
        return None  # not a server: a wait, a migration, ``set -e`` ...

    def _words(self, argv: Sequence[str], args: Sequence[str]) -> list[str]:
        out: list[str] = []
        for word in argv:
            if word in ("$@", "$*", "${@}"):
                out.extend(args)
            else:
                out.append(expand(word, self.env))
        return out

    def _after_runner(self, prog: str, words: list[str]) -> list[str]:
        if prog == "env":
            while words and (words[0].startswith("-") or _ASSIGN.match(words[0])):
                if _ASSIGN.match(words[0]):
                    name, _, value = words[0].partition("=")
                    self.env[name] = value
                words = words[1:]
            return words
        skip = _RUNNERS[prog]
        while words and words[0].startswith("-"):
            done = words[0] == "--"
            words = words[1:]
            if done:
                break
        return words[skip:]

    def _shell(self, rest: list[str], depth: int) -> AppEntry | None:
        while rest and rest[0].startswith("-") and rest[0] != "-c":
            rest = rest[1:]  # -e, -x, -eu ...
        if rest and rest[0] == "-c":
            if len(rest) < 2:
                self.why = "sh -c with no command"
                return None
            found = self._commands(split_shell(rest[1]), rest[2:], depth)
            if found is not None:
                return _prefixed(found, "sh -c: ")
            return None
        if not rest:
            self.why = "an interactive shell"
            return None
        text = self._read(rest[0])
        if text is None:
            self.why = f"the script {rest[0]} is not readable in the image"
            return None
        return self._script(rest[0], text, rest[1:], depth)

    def _script(self, path: str, text: str, args: Sequence[str], depth: int) -> AppEntry | None:
        found = self._commands(split_shell(text), args, depth + 1)
        if found is None:
            self.why = f"{path}: {self.why or 'no server or python command in it'}"
            return None
        return _prefixed(found, f"{path}: ")

    def _commands(
        self, commands: list[list[str]], args: Sequence[str], depth: int
    ) -> AppEntry | None:
        """The last command that names an application (a script's server comes last,
        after its waits and migrations); ``exec "$@"`` hands over to ``args``."""
        found: AppEntry | None = None
        for words in commands:
            assigns = words[1:] if words[0] in ("export", "readonly", "local") else words
            if assigns and all(_ASSIGN.match(w) for w in assigns):
                for word in assigns:
                    name, _, value = word.partition("=")
                    self.env[name] = expand(value, self.env)
                continue
            hit = self.argv(words, depth, args)
            if hit is not None:
                found = hit
        return found

    def _python(self, rest: list[str], depth: int) -> AppEntry | None:
        i = 0
        while i < len(rest):
            word = rest[i]
            if word == "-m" and i + 1 < len(rest):
                module = rest[i + 1]
                if module in ("uvicorn", "gunicorn", "hypercorn", "daphne", "fastapi", "celery"):
                    return self.argv([module, *rest[i + 2 :]], depth)
                if module == "flask":
                    return self._flask(rest[i + 2 :])
                if not _MODULE.match(module):
                    self.why = f"python -m {module}: not a module name"
                    return None
                return AppEntry(
                    module, None, f"python -m {module} (imported; its __main__ is not run)"
                )
            if word.startswith("-m") and len(word) > 2:
                return self._python(["-m", word[2:], *rest[i + 1 :]], depth)
            if word == "-c":
                self.why = "python -c runs inline code, not a module"
                return None
            if word in ("-W", "-X", "--check-hash-based-pycs"):
                i += 2
                continue
            if word.startswith("-"):
                i += 1
                continue
            if word.endswith(".py"):
                return AppEntry(
                    None,
                    None,
                    f"python {word} (imported, not run as __main__)",
                    path=word,
                    script=True,
                )
            self.why = f"python {word}: not a .py file"
            return None
        self.why = "python without a script or -m"
        return None

    def _positionals(self, prog: str, rest: list[str]) -> tuple[list[str], dict[str, str]]:
        values = _VALUE_OPTIONS.get(prog, frozenset())
        positionals: list[str] = []
        options: dict[str, str] = {}
        i = 0
        while i < len(rest):
            word = rest[i]
            if word == "--":
                positionals.extend(rest[i + 1 :])
                break
            if word.startswith("-") and len(word) > 1:
                name, eq, value = word.partition("=")
                if eq:
                    options[name] = value
                elif name in values:
                    options[name] = rest[i + 1] if i + 1 < len(rest) else ""
                    i += 1
                elif name[:2] in values and not name.startswith("--"):  # -kgevent, -w4
                    options[name[:2]] = name[2:]
                else:
                    options[name] = ""
                i += 1
                continue
            positionals.append(word)
            i += 1
        return positionals, options

    def _server(self, prog: str, rest: list[str]) -> AppEntry | None:
        positionals, options = self._positionals(prog, rest)
        sys_path: tuple[str, ...] = ()
        for name in ("--app-dir", "--chdir", "--pythonpath"):
            if options.get(name):
                sys_path += tuple(self._abs(p) for p in options[name].split(","))
        if not positionals:
            if "-c" in options or "--config" in options:
                self.why = f"{prog} reads its application from its config file"
            else:
                self.why = f"{prog} without an application argument"
            return None
        spec = positionals[0]
        module, _, attribute = spec.partition(":")
        if not _MODULE.match(module):
            self.why = f"{prog}'s application {spec!r} is not MODULE:ATTRIBUTE"
            return None
        if not attribute:
            attribute = "application" if prog == "gunicorn" else "app"
        note = " (a factory: called)" if "--factory" in options else ""
        worker = options.get("-k") or options.get("--worker-class")
        server = f"{prog} -k {worker}" if worker else prog
        return AppEntry(
            module, attribute, f"{server}'s application {spec}{note}", sys_path=sys_path
        )

    def _fastapi(self, rest: list[str]) -> AppEntry | None:
        if rest and rest[0] in ("run", "dev"):
            rest = rest[1:]
        positionals, options = self._positionals("fastapi", rest)
        entry = options.get("--entrypoint")
        if entry:
            module, _, attribute = entry.partition(":")
            return AppEntry(module, attribute or None, f"fastapi --entrypoint {entry}")
        named = options.get("--app") or None
        attributes = () if named else FASTAPI_ATTRIBUTES
        if positionals:
            return AppEntry(
                None,
                named,
                f"fastapi run {positionals[0]}",
                path=positionals[0],
                attributes=attributes,
            )
        return AppEntry(
            None,
            named,
            "fastapi run (its default paths: " + ", ".join(FASTAPI_DEFAULT_PATHS) + ")",
            candidates=FASTAPI_DEFAULT_PATHS,
            attributes=attributes,
        )

    def _celery(self, rest: list[str]) -> AppEntry | None:
        spec = None
        for i, word in enumerate(rest):
            if word in ("-A", "--app") and i + 1 < len(rest):
                spec = rest[i + 1]
                break
            if word.startswith("--app="):
                spec = word.partition("=")[2]
                break
            if word.startswith("-A") and len(word) > 2:
                spec = word[2:]
                break
        if spec is None:
            self.why = "celery without -A/--app"
            return None
        module, _, attribute = spec.partition(":")
        if not _MODULE.match(module):
            self.why = f"celery's application {spec!r} is not a module name"
            return None
        return AppEntry(module, attribute or None, f"celery -A {spec}")

    def _flask(self, rest: list[str]) -> AppEntry | None:
        for i, word in enumerate(rest):
            if word in ("-A", "--app") and i + 1 < len(rest):
                module, _, attribute = rest[i + 1].partition(":")
                return AppEntry(module, attribute or None, f"flask --app {rest[i + 1]}")
        spec = self.env.get("FLASK_APP")
        if spec:
            module, _, attribute = spec.partition(":")
            return AppEntry(module, attribute or None, f"flask, FLASK_APP={spec}")
        self.why = "flask without --app or FLASK_APP"
        return None


def _prefixed(found: AppEntry, prefix: str) -> AppEntry:
    return AppEntry(
        found.module,
        found.attribute,
        prefix + found.how,
        found.sys_path,
        found.path,
        found.candidates,
        found.attributes,
        found.script,
    )


def _is_shell(text: str) -> bool:
    first = text.split("\n", 1)[0]
    if not first.startswith("#!"):
        return True  # a script without a shebang runs under sh
    return any(posixpath.basename(w) in _SHELLS for w in first[2:].split())
