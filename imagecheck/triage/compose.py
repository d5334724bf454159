"""Find and read a docker compose project the way ``docker compose`` (v2) does, without an engine.

We only need what decides which images a project builds or pulls: the files compose would
pick, the environment it would interpolate with, the project name and, per service, the
image (or the names compose would give a built one), its build context, Dockerfile and args,
with ``include:`` and ``extends:`` followed.
The rules follow compose-go (file discovery, .env parsing, interpolation, merging, project
names) so that ``imagecheck`` checks the very image ``docker compose build`` made.
"""

from __future__ import annotations

import difflib
import os
import re
import shlex
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ..errors import BadInput

#: Compose-go's order of preference in each folder (``docker-compose.yml`` before ``.yaml``).
DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
#: Merged after the default file found in the same folder (only when no file was named).
OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
REMOTE_CONTEXT_PREFIXES = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")
INVALID_NAME = (
    "must consist only of lowercase alphanumeric characters, hyphens, and underscores"
    " as well as start with a letter or number"
)


@dataclass(frozen=True, slots=True)
class BuildSpec:
    """How compose would build a service: all paths absolute, args interpolated.

    ``context`` is None for a remote (git/URL) context, which is kept in ``remote_context``;
    ``dockerfile`` is None when the Dockerfile is given inline (``dockerfile_inline``).
    ``args`` keeps the file's order; a None value is an arg compose leaves unset (no value in
    the file nor the environment), so the Dockerfile's default applies.
    """

    context: Path | None
    dockerfile: Path | None
    args: tuple[tuple[str, str | None], ...] = ()
    target: str | None = None
    dockerfile_inline: str | None = None
    remote_context: str | None = None

    def arg_values(self) -> dict[str, str]:
        """The args compose passes to the build (those with a value)."""
        return {k: v for k, v in self.args if v is not None}


@dataclass(frozen=True, slots=True)
class ComposeService:
    """One service: ``image`` as written, ``image_candidates`` the references to look for."""

    name: str
    image: str | None
    image_candidates: tuple[str, ...]
    build: BuildSpec | None
    container_name: str | None = None
    profiles: tuple[str, ...] = ()
    #: (service, condition) per ``depends_on`` entry; the list form means service_started.
    depends_on: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] | None = None  # ``command:`` (replaces the image's CMD)
    entrypoint: tuple[str, ...] | None = None  # ``entrypoint:`` (replaces ENTRYPOINT)
    #: ``env_file:`` then ``environment:``, as the container gets them (compose's order).
    environment: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class ComposeProject:
    """A loaded project; ``warnings`` are the ones compose prints (unset variables)."""

    name: str
    folder: Path
    files: tuple[Path, ...]
    services: tuple[ComposeService, ...]
    warnings: tuple[str, ...] = ()

    @property
    def service_names(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.services)

    def one_shot(self, name: str) -> bool:
        """Whether another service waits for ``name`` to complete (``condition:
        service_completed_successfully``): exiting 0 is its job, not a failure."""
        return any(
            dep == name and condition == "service_completed_successfully"
            for s in self.services
            for dep, condition in s.depends_on
        )

    def service(self, name: str) -> ComposeService:
        """The service called ``name``; a typo gets the list and a close match, in one line."""
        for service in self.services:
            if service.name == name:
                return service
        names = sorted(self.service_names)
        listed = ", ".join(names) if names else "none"
        message = f"no service {name!r} in {', '.join(f.name for f in self.files)}"
        message += f" (services: {listed})"
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        raise BadInput(message)


# --- finding the files ---------------------------------------------------------------------


def find_files(
    cwd: Path, files: Sequence[str | Path] = (), environ: Mapping[str, str] | None = None
) -> tuple[Path, ...]:
    """The compose files, in merge order, as compose picks them: the ``-f`` files, else
    ``COMPOSE_FILE``, else the first default name in ``cwd`` or the nearest parent that has
    one, plus an override file next to it."""
    env = os.environ if environ is None else environ
    cwd = _absolute(cwd, Path.cwd())
    named: list[str | Path] = list(files)
    if not named and env.get("COMPOSE_FILE"):
        separator = env.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        named = [p for p in env["COMPOSE_FILE"].split(separator) if p]
        origin = "COMPOSE_FILE"
    else:
        origin = "compose file"
    if named:
        found = []
        for entry in named:
            if str(entry) == "-":
                raise BadInput("reading a compose file from standard input (-f -) is not supported")
            path = _absolute(Path(entry).expanduser(), cwd)
            if not path.exists():
                raise BadInput(f"{origin} not found: {path}")
            if not path.is_file():
                raise BadInput(f"{origin} is not a file: {path}")
            found.append(path)
        return tuple(found)
    for folder in (cwd, *cwd.parents):
        main = next((folder / n for n in DEFAULT_FILES if (folder / n).is_file()), None)
        if main is None:
            continue
        override = next((folder / n for n in OVERRIDE_FILES if (folder / n).is_file()), None)
        return (main,) if override is None else (main, override)
    raise BadInput(
        f"no compose file in {cwd} or its parents (looked for {', '.join(DEFAULT_FILES)})"
    )


def _absolute(path: Path, base: Path) -> Path:
    """Absolute and normalised like Go's filepath.Abs: '..' collapsed, symlinks kept."""
    return Path(os.path.normpath(base / path))


# --- interpolation -------------------------------------------------------------------------

_NAME = re.compile(r"[_a-zA-Z][_a-zA-Z0-9]*")
_BRACED = re.compile(r"([_a-zA-Z][_a-zA-Z0-9]*)(?:(:?[-+?])(.*))?", re.DOTALL)


class _TemplateError(Exception):
    """Raised inside interpolation; the caller adds where it happened."""

    def __init__(self, message: str, *, invalid: bool = False) -> None:
        super().__init__(message)
        self.invalid = invalid


def interpolate(
    text: str,
    environ: Mapping[str, str],
    *,
    where: str = "value",
    unset: list[str] | None = None,
) -> str:
    """Substitute ``$VAR``, ``${VAR}``, ``${VAR:-default}`` and friends, ``$$`` to ``$``.

    An unset plain variable becomes "" and its name is appended to ``unset`` (compose warns);
    a required one (``:?``/``?``) raises BadInput with compose's message. ``where`` names the
    value in messages (``services.web.image``).
    """
    try:
        return _substitute(text, environ, unset)
    except _TemplateError as exc:
        if exc.invalid:
            raise BadInput(
                f"invalid interpolation format for {where}: {text!r}"
                " (you may need to escape any $ with another $)"
            ) from None
        raise BadInput(f"error while interpolating {where}: {exc}") from None


def _substitute(text: str, env: Mapping[str, str], unset: list[str] | None) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        dollar = text.find("$", i)
        if dollar < 0:
            out.append(text[i:])
            break
        out.append(text[i:dollar])
        nxt = text[dollar + 1 : dollar + 2]
        if nxt == "$":
            out.append("$")
            i = dollar + 2
        elif nxt == "{":
            end = _closing_brace(text, dollar)
            if end < 0:
                raise _TemplateError(text, invalid=True)
            out.append(_braced(text[dollar + 2 : end], env, unset))
            i = end + 1
        elif match := _NAME.match(text, dollar + 1):
            out.append(_plain(match.group(), env, unset))
            i = match.end()
        else:  # a lone '$' stays, as in compose
            out.append("$")
            i = dollar + 1
    return "".join(out)


def _closing_brace(text: str, start: int) -> int:
    """Index of the '}' closing the '${' at ``start``, counting nested '${'."""
    depth = 0
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def _plain(name: str, env: Mapping[str, str], unset: list[str] | None) -> str:
    if name in env:
        return env[name]
    if unset is not None and name not in unset:
        unset.append(name)
    return ""


def _braced(body: str, env: Mapping[str, str], unset: list[str] | None) -> str:
    match = _BRACED.fullmatch(body)
    if match is None:
        raise _TemplateError(body, invalid=True)
    name, operator, rest = match.groups()
    if operator is None:
        return _plain(name, env, unset)
    value = env.get(name)
    present = value is not None if ":" not in operator else bool(value)
    if operator.endswith("-"):
        return value if present and value is not None else _substitute(rest, env, unset)
    if operator.endswith("+"):
        return _substitute(rest, env, unset) if present else ""
    if not present or value is None:  # '?' and ':?'
        reason = f": {rest}" if rest else ""
        raise _TemplateError(f"required variable {name} is missing a value{reason}")
    return value


# --- .env files ----------------------------------------------------------------------------

_ENV_KEY = re.compile(r"(?:export\s+)?([\w.\-\[\]]+)[ \t]*([=:]|$)")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "$": "$$"}


def read_env_file(path: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables of a ``.env`` file, parsed as compose does.

    ``KEY=VALUE``, ``export KEY=VALUE``, ``KEY: VALUE``; ``#`` comments (inline after a
    space when unquoted); single quotes literal; double quotes with ``\\n \\t \\"`` escapes;
    values may use ``${VAR}`` of ``environ`` or of earlier lines; a bare ``KEY`` takes
    ``environ``'s value. Quoted values may span lines.
    """
    env = os.environ if environ is None else environ
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read env file {path}: {exc}") from None
    values: dict[str, str] = {}
    lookup = _Chain(env, values)
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        lineno = i + 1
        line = lines[i].strip()
        i += 1
        if not line or line.startswith("#"):
            continue
        match = _ENV_KEY.match(line)
        if match is None:
            raise BadInput(f"{path}:{lineno}: invalid line {line!r} (expected KEY=VALUE)")
        key = match.group(1)
        if not match.group(2):  # bare KEY: inherit it from the environment, if set there
            if key in env:
                values[key] = env[key]
            continue
        rest = line[match.end() :].lstrip()
        where = f"{path}:{lineno}: {key}"
        if rest[:1] in ("'", '"'):
            quote, body = rest[0], rest[1:]
            end = _closing_quote(body, quote)
            while end < 0:
                if i >= len(lines):
                    raise BadInput(f"{path}:{lineno}: unterminated quoted value for {key}")
                body += "\n" + lines[i]
                i += 1
                end = _closing_quote(body, quote)
            value = body[:end]
            if quote == '"':
                value = interpolate(_unescape(value), lookup, where=where)
        else:
            value = rest.split(" #", 1)[0].rstrip()
            value = interpolate(value, lookup, where=where)
        values[key] = value
    return values


def _closing_quote(body: str, quote: str) -> int:
    escaped = False
    for i, char in enumerate(body):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == quote:
            return i
    return -1


def _unescape(value: str) -> str:
    """Double-quoted escapes; ``\\$`` becomes ``$$`` so interpolation leaves a literal '$'."""
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), value, flags=re.DOTALL)


class _Chain(Mapping[str, str]):
    """The process environment first, then what the .env file defined so far."""

    def __init__(self, first: Mapping[str, str], second: Mapping[str, str]) -> None:
        self._maps = (first, second)

    def __getitem__(self, key: str) -> str:
        for mapping in self._maps:
            if key in mapping:
                return mapping[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter({**self._maps[1], **self._maps[0]})

    def __len__(self) -> int:
        return len({**self._maps[1], **self._maps[0]})


def _add_dot_env(env: dict[str, str], env_file: Path | None, folder: Path, cwd: Path) -> None:
    """Add the ``--env-file`` (must exist) or ``folder/.env`` (may not) to ``env``, keeping
    what ``env`` already has: compose's WithEnvFiles + WithDotEnv. ``COMPOSE_DISABLE_ENV_FILE``
    turns the default .env off."""
    if env_file is not None:
        path = _absolute(env_file.expanduser(), cwd)
        if not path.is_file():
            raise BadInput(f"env file not found: {path}")
    else:
        if env.get("COMPOSE_DISABLE_ENV_FILE", "").lower() in ("1", "t", "true"):
            return
        path = folder / ".env"
        if not path.is_file():
            return
    for key, value in read_env_file(path, env).items():
        env.setdefault(key, value)


# --- YAML ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Tagged:
    """A value tagged ``!reset`` (drop what earlier files set) or ``!override`` (replace)."""

    tag: str
    value: Any


class _Loader(yaml.SafeLoader):
    """safe_load, plus compose's rejection of duplicate keys and its merge tags."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None,
                        None,
                        f"mapping key {key!r} already defined at line {seen[key] + 1}",
                        key_node.start_mark,
                    )
                seen[key] = key_node.start_mark.line
            except TypeError:  # an unhashable key: let PyYAML report it
                continue
        return super().construct_mapping(node, deep=deep)


def _construct_tagged(loader: _Loader, node: yaml.Node) -> _Tagged:
    tag = node.tag.lstrip("!")
    value: Any
    if isinstance(node, yaml.MappingNode):
        value = loader.construct_mapping(node, deep=True)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_scalar(node)  # type: ignore[arg-type]
    return _Tagged(tag, value)


_Loader.add_constructor("!reset", _construct_tagged)
_Loader.add_constructor("!override", _construct_tagged)
# YAML 1.2 booleans, as compose's yaml.v3 reads them: ``yes``, ``no``, ``on``, ``off`` stay
# strings (``DEBUG: yes`` is the build arg "yes", not "true").
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _read_yaml(path: Path, label: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"cannot read {label}: {exc}") from None
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{label}:{mark.line + 1}:{mark.column + 1}" if mark else label
        problem = exc.problem or exc.context or "cannot parse"
        raise BadInput(f"{where}: invalid YAML: {problem}") from None
    except yaml.YAMLError as exc:
        raise BadInput(f"{label}: invalid YAML: {' '.join(str(exc).split())}") from None
    if data is None:
        raise BadInput(f"{label}: empty compose file")
    if not isinstance(data, dict):
        raise BadInput(f"{label}: top-level must be a mapping, not {_kind(data)}")
    return data


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return type(value).__name__


def _interpolate_tree(
    value: Any, env: Mapping[str, str], path: str, unset: list[str], label: str
) -> Any:
    """Every string value (not key) of a file, interpolated; errors name the file and key."""
    if isinstance(value, str):
        try:
            return interpolate(value, env, where=path, unset=unset)
        except BadInput as exc:
            raise BadInput(f"{label}: {exc}") from None
    if isinstance(value, dict):
        return {
            k: _interpolate_tree(v, env, f"{path}.{k}" if path else str(k), unset, label)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            _interpolate_tree(v, env, f"{path}[{n}]", unset, label) for n, v in enumerate(value)
        ]
    if isinstance(value, _Tagged):
        return _Tagged(value.tag, _interpolate_tree(value.value, env, path, unset, label))
    return value


# --- merging -------------------------------------------------------------------------------


def _canonical_services(data: dict[str, Any], label: str) -> dict[str, Any]:
    """``services`` with ``build: dir`` as ``{context: dir}`` and list args as a mapping, so
    that a later file merges key by key (compose-go's mergeBuild and mergeToSequence)."""
    services = data.get("services")
    if services is None:
        return {}
    if isinstance(services, _Tagged):
        services = services.value
    if not isinstance(services, dict):
        raise BadInput(f"{label}: services must be a mapping, not {_kind(services)}")
    result: dict[str, Any] = {}
    for name, service in services.items():
        body = service.value if isinstance(service, _Tagged) else service
        if not isinstance(body, dict):
            raise BadInput(f"{label}: services.{name} must be a mapping, not {_kind(body)}")
        body = dict(body)
        build = body.get("build")
        if isinstance(build, str):
            body["build"] = {"context": build}
        elif isinstance(build, dict) and isinstance(build.get("args"), list):
            body["build"] = {**build, "args": _args_mapping(build["args"], name, label)}
        elif build is not None and not isinstance(build, (dict, _Tagged)):
            raise BadInput(f"{label}: services.{name}.build must be a string or a mapping")
        result[str(name)] = _Tagged(service.tag, body) if isinstance(service, _Tagged) else body
    return result


def _args_mapping(args: list[Any], service: str, label: str) -> dict[str, Any]:
    mapping: dict[str, Any] = {}
    for entry in args:
        if not isinstance(entry, str):
            raise BadInput(f"{label}: services.{service}.build.args entries must be strings")
        key, sep, value = entry.partition("=")
        mapping[key] = value if sep else None
    return mapping


def _merge(base: Any, over: Any) -> Any:
    """Compose's merge: mappings key by key, sequences appended, scalars replaced; a null
    keeps the base, ``!override`` replaces and ``!reset`` removes."""
    if isinstance(over, _Tagged):
        return over
    if isinstance(base, _Tagged):  # an earlier file's tag is settled before merging over it
        base = _untag(base)
    if over is None:
        return base
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = _merge(merged[key], value) if key in merged else value
        return merged
    if isinstance(base, list) and isinstance(over, list):
        return base + over
    return over


def _untag(value: Any) -> Any:
    if isinstance(value, _Tagged):
        return None if value.tag == "reset" else _untag(value.value)
    if isinstance(value, dict):
        return {k: _untag(v) for k, v in value.items() if not _is_reset(v)}
    if isinstance(value, list):
        return [_untag(v) for v in value if not _is_reset(v)]
    return value


def _is_reset(value: Any) -> bool:
    return isinstance(value, _Tagged) and value.tag == "reset"


# --- the project ---------------------------------------------------------------------------


def normalize_project_name(name: str) -> str:
    """Compose's NormalizeProjectName: lowercase, keep [a-z0-9_-], no leading '_' or '-'."""
    return "".join(re.findall(r"[a-z0-9_-]", name.lower())).lstrip("_-")


def _checked_name(name: str, origin: str) -> str:
    if normalize_project_name(name) != name:
        raise BadInput(f"invalid project name {name!r} ({origin}): {INVALID_NAME}")
    return name


def load_project(
    cwd: Path,
    files: Sequence[str | Path] = (),
    project_name: str | None = None,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ComposeProject:
    """Read the project compose would run from ``cwd`` with these ``-f``, ``-p`` and
    ``--env-file`` values; ``environ`` stands for the process environment (default: ours)."""
    return load_config(cwd, files, project_name, env_file, environ).project


@dataclass(frozen=True, slots=True)
class ComposeConfig:
    """The project as ``docker compose config`` resolves it, for a bug report: the files
    merged and interpolated (``include:`` and ``extends:`` applied), the variables they
    were interpolated with, and each top-level ``secrets:`` entry's value (its ``file:``,
    ``environment:`` or ``content:``), so that a redaction knows what to look for."""

    project: ComposeProject
    document: Mapping[str, Any]
    variables: tuple[tuple[str, str], ...]
    secrets: tuple[tuple[str, str], ...]


def load_config(
    cwd: Path,
    files: Sequence[str | Path] = (),
    project_name: str | None = None,
    env_file: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ComposeConfig:
    """``load_project``'s project, with the resolved files it was read from."""
    env = dict(os.environ if environ is None else environ)
    cwd = _absolute(cwd, Path.cwd())
    if files:
        paths = find_files(cwd, files, env)
        folder = paths[0].parent
        _add_dot_env(env, env_file, folder, cwd)
    else:
        # Like compose: the working folder's .env may set COMPOSE_FILE; the project folder's
        # .env (when it is another folder) then only adds variables the first did not set.
        _add_dot_env(env, env_file, cwd, cwd)
        paths = find_files(cwd, files, env)
        folder = paths[0].parent
        if folder != cwd and env_file is None:
            _add_dot_env(env, env_file, folder, cwd)

    unset: list[str] = []
    documents: list[dict[str, Any]] = []
    for path in paths:
        label = _display(path, cwd)
        raw = _read_yaml(path, label)
        documents.append(_interpolate_tree(raw, env, "", unset, label))

    services: dict[str, Any] = {}
    for path, document in zip(paths, documents, strict=True):
        services = _merge(services, _canonical_services(document, _display(path, cwd)))
    services = _untag(services)
    reader = _Reader(env, unset, cwd)
    for path, document in zip(paths, documents, strict=True):
        for name, body in reader.included(document.get("include"), path).items():
            if name in services:
                raise BadInput(
                    f"{_display(path, cwd)}: services.{name} conflicts with the service of the "
                    "same name an included file defines"
                )
            services[name] = body
    services = {k: reader.extended(services, k, folder, ()) for k in services}

    name = _project_name(project_name, env, documents, folder)
    label = ", ".join(_display(p, cwd) for p in paths)
    built = tuple(
        _service(str(k), v or {}, project=name, folder=folder, env=env, label=label)
        for k, v in services.items()
    )
    warnings = [f'The "{var}" variable is not set. Defaulting to a blank string.' for var in unset]
    project = ComposeProject(name, folder, paths, built, tuple(warnings))
    top: dict[str, Any] = {}
    for document in documents:
        for key, value in document.items():
            if key not in ("services", "include", "name"):
                top[key] = _merge(top.get(key), value)
    resolved = {"name": name, **_untag(top), "services": services}
    secrets = _secret_values(resolved.get("secrets"), folder, env)
    return ComposeConfig(project, resolved, tuple(sorted(env.items())), secrets)


#: A secret's file read for its value: at most this many bytes.
_SECRET_BYTES = 1 << 16


def _secret_values(
    secrets: Any, folder: Path, env: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """(name, value) of each top-level secret whose value can be read here."""
    out: list[tuple[str, str]] = []
    for name, spec in (secrets or {}).items() if isinstance(secrets, dict) else ():
        if not isinstance(spec, dict):
            continue
        if isinstance(spec.get("content"), str):
            out.append((str(name), spec["content"]))
        if isinstance(spec.get("environment"), str) and spec["environment"] in env:
            out.append((str(name), env[spec["environment"]]))
        if isinstance(spec.get("file"), str):
            path = _absolute(Path(spec["file"]).expanduser(), folder)
            try:
                with path.open("rb") as handle:
                    data = handle.read(_SECRET_BYTES)
            except OSError:
                continue  # compose refuses to start; the bundle has what it has
            out.append((str(name), data.decode("utf-8", "replace")))
    return tuple(out)


class _Reader:
    """``include:`` and ``extends:``: more files, read and interpolated as the main ones,
    their relative build contexts resolved against their own folders."""

    def __init__(self, env: Mapping[str, str], unset: list[str], cwd: Path) -> None:
        self._env, self._unset, self._cwd = env, unset, cwd

    def services(self, path: Path, base: Path | None = None) -> dict[str, Any]:
        label = _display(path, self._cwd)
        if not path.is_file():
            raise BadInput(f"no such compose file: {label}")
        document = _interpolate_tree(_read_yaml(path, label), self._env, "", self._unset, label)
        services = _untag(_canonical_services(document, label))
        folder = base or path.parent
        return {k: _rebased(v, folder) for k, v in services.items()}

    def included(self, include: Any, path: Path) -> dict[str, Any]:
        """Services of the files ``include:`` names (strings, or ``path``/
        ``project_directory`` mappings), relative to ``path``'s folder."""
        found: dict[str, Any] = {}
        for item in include if isinstance(include, list) else ([include] if include else []):
            spec = item if isinstance(item, dict) else {"path": item}
            names = spec.get("path")
            names = names if isinstance(names, list) else [names]
            base = spec.get("project_directory")
            for name in names:
                if not isinstance(name, str):
                    raise BadInput(f"{_display(path, self._cwd)}: include entries need a path")
                included = _absolute(Path(name), path.parent)
                root = _absolute(Path(str(base)), path.parent) if base else None
                found.update(self.services(included, root))
        return found

    def extended(
        self, services: dict[str, Any], name: str, folder: Path, stack: tuple[str, ...]
    ) -> Any:
        """``services[name]`` with what it ``extends`` merged under it (its own keys win)."""
        body = services[name]
        ext = body.get("extends") if isinstance(body, dict) else None
        if not ext:
            return body
        spec = {"service": ext} if isinstance(ext, str) else ext
        if not isinstance(spec, dict) or not isinstance(spec.get("service"), str):
            raise BadInput(f"services.{name}.extends must name a service")
        own = {k: v for k, v in body.items() if k != "extends"}
        target = spec["service"]
        if spec.get("file"):
            path = _absolute(Path(str(spec["file"])), folder)
            others = self.services(path)
            if target not in others:
                raise BadInput(f"services.{name} extends {target!r}, which {path.name} lacks")
            base = self.extended(others, target, path.parent, ())
        else:
            if target not in services:
                raise BadInput(f"services.{name} extends {target!r}, which is not a service")
            if target in stack or target == name:
                raise BadInput(f"services.{name}: circular extends through {target!r}")
            base = self.extended(services, target, folder, (*stack, name))
        return _merge(base, own)


def _rebased(service: Any, folder: Path) -> Any:
    """A service read from another file: its relative build context made absolute."""
    build = service.get("build") if isinstance(service, dict) else None
    if isinstance(build, dict):
        context = str(build.get("context") or ".")
        if "://" not in context and not context.startswith("git@"):
            return {**service, "build": {**build, "context": str(_absolute(Path(context), folder))}}
    return service


def _display(path: Path, cwd: Path) -> str:
    try:
        return str(path.relative_to(cwd))
    except ValueError:
        return str(path)


def _project_name(
    given: str | None, env: Mapping[str, str], documents: list[dict[str, Any]], folder: Path
) -> str:
    """``-p``, else COMPOSE_PROJECT_NAME, else the last file's ``name:``, else the folder."""
    if given:
        return _checked_name(given, "--project-name")
    if env.get("COMPOSE_PROJECT_NAME"):
        return _checked_name(env["COMPOSE_PROJECT_NAME"], "COMPOSE_PROJECT_NAME")
    from_files = ""
    for document in documents:
        value = _untag(document.get("name"))
        if isinstance(value, str) and value:
            from_files = normalize_project_name(value)
    name = from_files or normalize_project_name(folder.name)
    if not name:
        raise BadInput(
            f"project name must not be empty: the folder name {folder.name!r} has no usable"
            " character; pass --project-name"
        )
    return name


def _service(
    name: str,
    body: Any,
    *,
    project: str,
    folder: Path,
    env: Mapping[str, str],
    label: str,
) -> ComposeService:
    if not isinstance(body, dict):
        raise BadInput(f"{label}: services.{name} must be a mapping")
    image = _optional_str(body.get("image"), f"services.{name}.image", label)
    if image:
        candidates: tuple[str, ...] = (_with_tag(image),)
    else:
        image = None
        candidates = (f"{project}-{name}:latest", f"{project}_{name}:latest")
    build = body.get("build")
    profiles = body.get("profiles") or []
    if not isinstance(profiles, list) or not all(isinstance(p, str) for p in profiles):
        raise BadInput(f"{label}: services.{name}.profiles must be a list of strings")
    return ComposeService(
        name=name,
        image=image,
        image_candidates=candidates,
        build=_build(build, f"services.{name}.build", folder, env, label) if build else None,
        container_name=_optional_str(
            body.get("container_name"), f"services.{name}.container_name", label
        ),
        profiles=tuple(dict.fromkeys(profiles)),
        depends_on=_depends_on(body.get("depends_on"), f"services.{name}.depends_on", label),
        command=_words(body.get("command"), f"services.{name}.command", label),
        entrypoint=_words(body.get("entrypoint"), f"services.{name}.entrypoint", label),
        environment=_environment(body, folder, env, f"services.{name}", label),
    )


def _words(value: Any, where: str, label: str) -> tuple[str, ...] | None:
    """``command:``/``entrypoint:``: a list, or a string compose splits as a shell would
    (without running one)."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return tuple(shlex.split(value))
        except ValueError as exc:
            raise BadInput(f"{label}: {where}: {exc}") from None
    if isinstance(value, list):
        return tuple(_scalar(v) for v in value)
    raise BadInput(f"{label}: {where} must be a string or a list")


def _environment(
    body: dict[str, Any], folder: Path, env: Mapping[str, str], where: str, label: str
) -> tuple[tuple[str, str], ...]:
    """The variables compose gives the container: each ``env_file:`` (relative to the
    project folder; a missing optional one skipped), then ``environment:`` (list or
    mapping; a bare name takes the process environment's value, if it has one)."""
    out: dict[str, str] = {}
    files = body.get("env_file") or []
    for item in [files] if isinstance(files, (str, dict)) else files:
        spec = item if isinstance(item, dict) else {"path": item}
        path = _absolute(Path(str(spec.get("path", ""))).expanduser(), folder)
        if not path.is_file():
            continue  # compose refuses to start; triage says why elsewhere
        out.update(read_env_file(path, env))
    value = body.get("environment") or {}
    if isinstance(value, list):
        pairs = [(str(v).partition("=")[0], str(v).partition("=")[2]) for v in value]
        bare = {str(v) for v in value if "=" not in str(v)}
    elif isinstance(value, dict):
        pairs = [(str(k), "" if v is None else _scalar(v)) for k, v in value.items()]
        bare = {str(k) for k, v in value.items() if v is None}
    else:
        raise BadInput(f"{label}: {where}.environment must be a list or a mapping")
    for key, val in pairs:
        if key in bare:
            if key in env:
                out[key] = env[key]
        else:
            out[key] = val
    return tuple(out.items())


def _depends_on(value: Any, where: str, label: str) -> tuple[tuple[str, str], ...]:
    """``depends_on`` in its list or its mapping form (``condition:`` defaults as compose's)."""
    if value is None:
        return ()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple((v, "service_started") for v in value)
    if not isinstance(value, dict):
        raise BadInput(f"{label}: {where} must be a list of services or a mapping")
    out: list[tuple[str, str]] = []
    for name, spec in value.items():
        condition = spec.get("condition", "service_started") if isinstance(spec, dict) else None
        if not isinstance(condition, str):
            raise BadInput(f"{label}: {where}.{name} must be a mapping with a condition")
        out.append((str(name), condition))
    return tuple(out)


def _build(build: Any, where: str, folder: Path, env: Mapping[str, str], label: str) -> BuildSpec:
    if not isinstance(build, dict):
        raise BadInput(f"{label}: {where} must be a string or a mapping")
    context = _optional_str(build.get("context"), f"{where}.context", label) or "."
    dockerfile = _optional_str(build.get("dockerfile"), f"{where}.dockerfile", label)
    inline = _optional_str(build.get("dockerfile_inline"), f"{where}.dockerfile_inline", label)
    args = build.get("args") or {}
    if not isinstance(args, dict):
        raise BadInput(f"{label}: {where}.args must be a list or a mapping")
    resolved: list[tuple[str, str | None]] = []
    for key, value in args.items():
        text = _scalar(value) if value is not None else env.get(str(key))
        resolved.append((str(key), text))
    remote = context.startswith(REMOTE_CONTEXT_PREFIXES)
    context_path = None if remote else _absolute(Path(context).expanduser(), folder)
    dockerfile_path: Path | None = None
    if not inline:
        relative = Path(dockerfile or "Dockerfile")
        dockerfile_path = (
            relative
            if context_path is None or relative.is_absolute()
            else _absolute(relative, context_path)
        )
    return BuildSpec(
        context=context_path,
        dockerfile=dockerfile_path,
        args=tuple(resolved),
        target=_optional_str(build.get("target"), f"{where}.target", label),
        dockerfile_inline=inline,
        remote_context=context if remote else None,
    )


def _optional_str(value: Any, where: str, label: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise BadInput(f"{label}: {where} must be a string, not {_kind(value)}")


def _scalar(value: Any) -> str:
    """A YAML scalar as compose passes it on: booleans lowercase, numbers as written."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _with_tag(reference: str) -> str:
    """``reference`` with the ``:latest`` docker implies when it has no tag or digest."""
    if "@" in reference or ":" in reference.rsplit("/", 1)[-1]:
        return reference
    return f"{reference}:latest"


__all__ = [
    "DEFAULT_FILES",
    "OVERRIDE_FILES",
    "BuildSpec",
    "ComposeConfig",
    "ComposeProject",
    "ComposeService",
    "find_files",
    "interpolate",
    "load_config",
    "load_project",
    "normalize_project_name",
    "read_env_file",
]
