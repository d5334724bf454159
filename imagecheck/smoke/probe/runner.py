"""Import modules and run probes in a fork chain, each result on its own.

Run as ``python -c <this file> <json>`` inside the image. The JSON holds ``items``
(``{"kind": "import", "name": "numpy"}`` or ``{"kind": "probe", "name": ...,
"code": ..., "needs": [...]}``) and ``module_timeout`` in seconds.

Why a fork chain: a fresh interpreter per module pays every shared import again
(numpy under scipy under pandas ...), and one process for all lets a failure or a
segfault hide the rest. Here each child imports one module; if that works it becomes
the parent of the next, so each module is imported once, while a failing, hanging or
crashing import stays in its own process and its parent goes on with the next item.

Results are JSON lines on the original stdout, which nothing else writes to: each
item runs with fd 1 and 2 pointed at a memory file that becomes its ``output``.
Standard library only; Python 3.8 and later; Linux (fork, memfd).
"""

from __future__ import annotations

import difflib
import faulthandler
import functools
import gc
import importlib
import importlib.util
import inspect
import json
import logging
import os
import pkgutil
import re
import select
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

TAIL_LINES = 12
MAX_OUTPUT = 16 * 1024
if TYPE_CHECKING:  # annotations are never evaluated: the image may run Python 3.8
    Record = dict[str, Any]


class Collect(logging.Handler):
    """Log records of the current item (passlib logs its trapped bcrypt error)."""

    def __init__(self) -> None:
        logging.Handler.__init__(self, logging.DEBUG)
        self.records: list[Record] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):  # a log call with bad % arguments
            text = str(record.msg)
        self.records.append({"level": record.levelname, "logger": record.name, "message": text})


def output_file() -> int:
    if hasattr(os, "memfd_create"):
        return os.memfd_create("imagecheck-output", 0)
    import tempfile

    fd, path = tempfile.mkstemp(prefix="imagecheck-")
    os.unlink(path)
    return fd


def read_output(fd: int) -> str:
    try:
        size = os.lseek(fd, 0, os.SEEK_END)
        os.lseek(fd, max(0, size - MAX_OUTPUT), os.SEEK_SET)
        data = os.read(fd, MAX_OUTPUT)
    except OSError:
        return ""
    text = data.decode("utf-8", "replace")
    return ("[...]\n" + text) if size > MAX_OUTPUT else text


def redirect(fd: int) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)


def attempt(item: Record, handler: Collect) -> Record:
    """Import the module or run the probe in this process; return the result."""
    result: Record = _name(item)
    handler.records = []
    started = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if item["kind"] == "import":
                if item.get("listed") and "." not in item["name"] and not _findable(item["name"]):
                    result["status"] = "skipped"
                    result["reason"] = "listed by its distribution, but no such module"
                    return result
                __import__(item["name"])
            elif item["kind"] == "app":
                if item.get("skip"):
                    result["status"] = "skipped"
                    result["reason"] = item["skip"]
                    return result
                module = importlib.import_module(item["name"])
                result["reason"] = "attribute"  # the import worked: what fails now is this
                resolve_attribute(module, item)
                del result["reason"]
            elif item["kind"] == "mappers":
                if "sqlalchemy.orm" not in sys.modules:
                    result["status"] = "skipped"
                    result["reason"] = "the application does not import sqlalchemy.orm"
                    return result
                sys.modules["sqlalchemy.orm"].configure_mappers()
            else:
                code = compile(item["code"], f"<probe {item['name']}>", "exec")
                exec(code, {"__name__": "__probe__"})  # noqa: S102 - probes are code by design
            result["status"] = "ok"
        # Anything, SystemExit and KeyboardInterrupt included, is the item's failure.
        except BaseException as exc:  # noqa: BLE001
            result["status"] = "error"
            result["exc_type"] = type(exc).__module__ + "." + type(exc).__name__
            last = traceback.format_exception_only(type(exc), exc)
            result["last_line"] = last[-1].strip() if last else type(exc).__name__
            tb = exc.__traceback__.tb_next if exc.__traceback__ else None  # not our frame
            lines = "".join(traceback.format_exception(type(exc), exc, tb)).rstrip("\n")
            result["traceback_tail"] = "\n".join(lines.split("\n")[-TAIL_LINES:])
            if item["kind"] in ("app", "mappers"):
                result["location"] = app_location(exc, item.get("root") or os.getcwd())
                result["close_names"] = close_names(exc, item)
                result["missing_env"] = missing_environment(exc)
                if item["kind"] == "mappers":
                    result["location"] = model_location(str(exc), item) or result["location"]
    result["seconds"] = round(time.perf_counter() - started, 4)
    result["warnings"] = [
        {
            "category": w.category.__name__,
            "message": str(w.message),
            "where": f"{w.filename}:{w.lineno}",
        }
        for w in caught
    ]
    result["logs"] = list(handler.records)
    return result


EXCLUDED_DIRS = frozenset({"tests", "test", "testing", "migrations", "alembic", "scripts"})
MAX_APP_MODULES = 1000


def resolve_attribute(module: Any, item: Record) -> None:
    """``app`` of ``app.main:app`` (dotted, a trailing call not made); the first of
    ``attributes`` that exists when none is named (fastapi run: app, api)."""
    names = [item["attribute"]] if item.get("attribute") else list(item.get("attributes") or [])
    for name in names:
        value: Any = module
        try:
            for part in name.split("(")[0].split("."):
                value = getattr(value, part)
        except AttributeError:
            continue
        return
    if names:
        raise AttributeError(
            "module {!r} has no attribute {!r}".format(module.__name__, " or ".join(names))
        )


def app_location(exc: BaseException, root: str) -> Any:
    """``file:line`` of the last traceback frame inside the application (``root``), the
    file relative to the working folder when under it; a syntax error's own line."""
    where: Any = None
    if isinstance(exc, SyntaxError) and exc.filename and exc.lineno:
        where = (exc.filename, exc.lineno)
    else:
        for frame in traceback.extract_tb(exc.__traceback__):
            if os.path.abspath(frame.filename).startswith(root.rstrip("/") + "/"):
                where = (frame.filename, frame.lineno)
    if where is None:
        return None
    return f"{_shown(where[0])}:{where[1]}"


def _shown(path: str) -> str:
    """``path`` relative to the working folder when under it (``app/models.py``)."""
    full = os.path.abspath(path)
    cwd = os.getcwd().rstrip("/") + "/"
    return full[len(cwd) :] if full.startswith(cwd) else full


def close_names(exc: BaseException, item: Record) -> list[str]:
    """For ``from X import Y``: the names X defines close to Y; for a missing
    submodule, X's submodules close to it; for the attribute, the module's names."""
    text = str(exc)
    match = re.search(r"cannot import name '([^']+)' from '([^']+)'", text)
    if match:
        module = sys.modules.get(match.group(2))
        names = [n for n in dir(module) if not n.startswith("__")] if module else []
        return difflib.get_close_matches(match.group(1), names, n=3, cutoff=0.6)
    match = re.search(r"No module named '([^']+)'", text)
    if match and "." in match.group(1):
        parent, _, child = match.group(1).rpartition(".")
        module = sys.modules.get(parent)
        path = getattr(module, "__path__", None)
        subs = [m.name for m in pkgutil.iter_modules(path)] if path else []
        found = difflib.get_close_matches(child, subs, n=3, cutoff=0.6)
        return [parent + "." + n for n in found]
    if item["kind"] == "app" and isinstance(exc, AttributeError) and item["name"] in sys.modules:
        names = [n for n in dir(sys.modules[item["name"]]) if not n.startswith("_")]
        wanted = (item.get("attribute") or "app").split(".")[0]
        return difflib.get_close_matches(wanted, names, n=3, cutoff=0.5)
    return []


def missing_environment(exc: BaseException) -> list[str]:
    """The environment variables a failure asks for, when that is all it asks for:
    ``os.environ["X"]`` (a KeyError raised by ``os.environ``) or a pydantic settings
    class whose every error is a missing field (pydantic-settings, pydantic 1's
    BaseSettings). Their names as the settings class reads them (``env_prefix``,
    aliases); empty for any other failure, which stays the application's bug."""
    frames = traceback.extract_tb(exc.__traceback__)
    if isinstance(exc, KeyError) and frames and frames[-1].name == "__getitem__":
        where = frames[-1].filename  # "<frozen os>" since Python 3.11
        if (where.endswith(os.sep + "os.py") or where == "<frozen os>") and exc.args:
            return [str(exc.args[0])]
        return []
    errors = getattr(exc, "errors", None)
    if type(exc).__name__ != "ValidationError" or not callable(errors):
        return []
    try:
        found = list(errors())
    except Exception:  # noqa: BLE001 - a foreign errors(): not ours to understand
        return []
    if not found or any(e.get("type") not in ("missing", "value_error.missing") for e in found):
        return []
    settings = _settings_class(exc)
    if settings is None:
        return []
    return [_env_name(settings, str(e.get("loc", ("?",))[0])) for e in found]


def _settings_class(exc: BaseException) -> Any:
    """The settings class the error's title names, from the failing frames' globals
    (the module itself is gone from sys.modules once its import failed)."""
    title = getattr(exc, "title", None) or getattr(getattr(exc, "model", None), "__name__", "")
    tb = exc.__traceback__
    while tb is not None:
        cls = tb.tb_frame.f_globals.get(title) if title else None
        bases = [c.__name__ for c in getattr(cls, "__mro__", ())]
        if "BaseSettings" in bases:
            return cls
        tb = tb.tb_next
    return None


def _env_name(settings: Any, field: str) -> str:
    """The variable pydantic-settings reads for ``field``: its alias, else
    ``env_prefix`` + its name; shown upper-case unless the class is case-sensitive."""
    config = getattr(settings, "model_config", None)
    aliases = set()
    if isinstance(config, dict):
        prefix, sensitive = config.get("env_prefix", ""), config.get("case_sensitive", False)
        for info in getattr(settings, "model_fields", {}).values():
            alias = getattr(info, "validation_alias", None) or getattr(info, "alias", None)
            if isinstance(alias, str):
                aliases.add(alias)
    else:  # pydantic 1: class Config
        old = getattr(settings, "__config__", None)
        prefix = getattr(old, "env_prefix", "")
        sensitive = getattr(old, "case_sensitive", False)
    name = field if field in aliases else str(prefix) + field  # an alias is read as it is
    return name if sensitive else name.upper()


def model_location(text: str, item: Record) -> Any:
    """Where the model (and its relationship) a mapper error names is defined."""
    match = re.search(r"relationship '?([A-Za-z_]\w*)\.([A-Za-z_]\w*)", text)
    model, attr = (match.group(1), match.group(2)) if match else (None, None)
    if model is None:
        match = re.search(r"Mapper\[([A-Za-z_]\w*)\(", text)
        model = match.group(1) if match else None
    if model is None:
        return None
    root = (item.get("root") or os.getcwd()).rstrip("/") + "/"
    for module in list(sys.modules.values()):
        cls = getattr(module, model, None)
        where = getattr(module, "__file__", None) or ""
        if not inspect.isclass(cls) or not os.path.abspath(where).startswith(root):
            continue
        try:
            lines, start = inspect.getsourcelines(cls)
            path = inspect.getsourcefile(cls) or where
        except (OSError, TypeError):
            continue
        line = start
        for n, source in enumerate(lines):
            if attr and re.match(r"\s+" + re.escape(attr) + r"\s*[:=]", source):
                line = start + n
                break
        return f"{_shown(path)}:{line}"
    return None


def _guarded(path: str) -> bool:
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read()
    except OSError:
        return True
    return re.search(r"^if\s+__name__\s*==", text, re.M) is not None


def module_of_file(path: str) -> Any:
    """``app/main.py`` -> (``app.main``, the folder above the package), as ``fastapi run``
    and ``python app/main.py`` find it: up through the folders with an ``__init__.py``."""
    full = os.path.abspath(path)
    folder, base = os.path.split(full)
    parts = [] if base == "__init__.py" else [base[:-3]]
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, name = os.path.split(folder)
        parts.insert(0, name)
    return ".".join(parts), folder


def package_modules(module: str) -> Any:
    """The folder of ``module``'s top-level package and every module in it (found on
    disk, none imported), minus tests, migrations, alembic, scripts and ``__main__``."""
    top = module.partition(".")[0]
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        return None, []
    locations = list(spec.submodule_search_locations or [])
    if not locations:
        return (os.path.dirname(spec.origin) if spec.origin else None), []
    found: list[str] = []
    for location in locations:
        for folder, dirs, files in os.walk(location):
            rel = os.path.relpath(folder, location)
            prefix = [top] + ([] if rel == "." else rel.split(os.sep))
            dirs[:] = sorted(
                d
                for d in dirs
                if d not in EXCLUDED_DIRS
                and not d.startswith(".")
                and os.path.isfile(os.path.join(folder, d, "__init__.py"))
            )
            for name in sorted(files):
                stem = name[:-3]
                if not name.endswith(".py") or not stem.isidentifier():
                    continue
                if stem in ("__main__", "conftest", "setup") or stem.startswith("test_"):
                    continue
                if stem.endswith("_test"):
                    continue
                found.append(".".join(prefix if stem == "__init__" else [*prefix, stem]))
    return locations[0], sorted(set(found))[:MAX_APP_MODULES]


def plan_app(spec: Record, timeout: float) -> Any:
    """The application's items (its entry, every module of its package, the mappers)
    and the plan record the host reads; ``sys.path`` set up as the server would."""
    for folder in reversed(spec.get("sys_path") or []):
        sys.path.insert(0, folder)
    module = spec.get("module")
    plan: Record = {"kind": "app-plan", "status": "ok", "reason": ""}
    if not module:
        paths = [spec["path"]] if spec.get("path") else list(spec.get("candidates") or [])
        chosen = next((p for p in paths if os.path.isfile(p)), None)
        if chosen is None:
            plan["status"] = "missing"
            plan["reason"] = "no {} in {}".format(" or ".join(paths), os.getcwd())
            return [], plan
        module, folder = module_of_file(chosen)
        sys.path.insert(0, folder)
        plan["file"] = chosen
        if spec.get("script") and not _guarded(chosen):
            # ``python app.py`` of a script with no __main__ guard: importing it *is*
            # running it (connect, serve, sleep); only its package's other modules remain.
            plan["skipped"] = (
                f'{chosen} has no `if __name__ == "__main__":`: importing it would run it'
            )
    root, modules = package_modules(module)
    common = {"kind": "app", "root": root or os.getcwd(), "timeout": timeout}
    entry = {**common, "name": module, "role": "entry", "skip": plan.get("skipped")}
    entry["attribute"] = spec.get("attribute")
    entry["attributes"] = spec.get("attributes") or []
    items = [entry] + [{**common, "name": m, "role": "module"} for m in modules if m != module]
    if spec.get("mappers"):
        items.append(
            {
                "kind": "mappers",
                "name": "sqlalchemy.orm.configure_mappers",
                "root": common["root"],
                "timeout": timeout,
            }
        )
    plan.update({"module": module, "root": root, "modules": [i["name"] for i in items]})
    return items, plan


def _findable(name: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return True  # let the import itself say what is wrong


class Chain:
    """The state every process of the chain inherits through fork."""

    def __init__(self, items: list[Record], timeout: float) -> None:
        self.items = items
        self.timeout = timeout
        self.results_fd = os.dup(1)  # the result channel: the original stdout
        self.quiet_fd = os.dup(2)  # output between items (threads, atexit) goes to stderr
        self.failed: set[str] = set()  # import names that failed so far (this branch)
        self.all_failed = output_file()  # every process appends the imports that failed
        self.handler = Collect()
        # The chain's last process writes one byte here; the first process waits for it.
        self.finished_r, self.finished_w = os.pipe()

    def emit(self, record: Record) -> None:
        data = (json.dumps(record, sort_keys=True) + "\n").encode("utf-8", "replace")
        view = memoryview(data)
        while view:
            view = view[os.write(self.results_fd, view) :]

    def run(self, start: int) -> None:
        """Run ``items[start:]``: fork a child per item and wait for it (see above).

        A probe that needs an import that failed is skipped rather than failing the
        same way again.
        """
        i = start
        while i < len(self.items):
            item = self.items[i]
            missing = [n for n in item.get("needs", ()) if n in self.failed]
            if missing:
                reason = f"needs {', '.join(missing)}, which did not import"
                self.emit({**_name(item), "status": "skipped", "reason": reason})
                i += 1
                continue
            out = output_file()
            pid, ready_r = self.spawn(functools.partial(self.child, i, out))
            verdict = self.wait(pid, ready_r, float(item.get("timeout") or self.timeout))
            os.close(ready_r)
            if verdict == "took-over":
                # The child runs the rest of the chain; this process is done. It exits
                # now, not when the chain ends: the teardown of its copy of a large
                # address space overlaps the next imports instead of adding up at
                # the end. The first process waits on ``finished`` instead.
                os.close(out)
                return
            if verdict in ("done", "failed"):
                os.waitpid(pid, 0)
            else:
                self.emit({**_name(item), "output": read_output(out), **verdict})
            if verdict != "done" and item["kind"] == "import":
                self.failed.add(item["name"])
                if verdict == "failed" or verdict.get("status") == "crash":
                    os.write(self.all_failed, (item["name"] + "\n").encode())
            os.close(out)
            i += 1
        os.write(self.finished_w, b"x")  # the last process of the chain: all items done

    def spawn(self, body: Callable[[int], None]) -> tuple[int, int]:
        """Fork; the child runs ``body(ready_w)`` and exits. Returns the pid and the
        read end of the pipe on which the child says how it went."""
        ready_r, ready_w = os.pipe()
        # Objects alive now go to the permanent generation: the child's collections
        # then never write to them, which would copy every page of the parent's heap.
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(ready_r)
                body(ready_w)
            finally:
                os._exit(0)
        os.close(ready_w)
        return pid, ready_r

    def alone(self, name: str, out: int, ready_w: int) -> None:
        os.setpgid(0, 0)
        redirect(out)
        result = attempt({"kind": "import", "name": name}, self.handler)
        redirect(self.quiet_fd)
        self.emit({"kind": "alone", "name": name, "status": result["status"]})
        os.write(ready_w, b"d")

    def child(self, i: int, out: int, ready_w: int) -> None:
        """Try item ``i``; carry the chain on if it was an import that worked."""
        item = self.items[i]
        os.setpgid(0, 0)  # its own group: a timeout kills what it started too
        redirect(out)
        result = attempt(item, self.handler)
        redirect(self.quiet_fd)
        result["output"] = read_output(out)
        os.close(out)
        self.emit(result)
        ok = result["status"] in ("ok", "skipped")
        takes_over = result["status"] == "ok" and item["kind"] in ("import", "app")
        os.write(ready_w, b"c" if takes_over else (b"d" if ok else b"f"))
        os.close(ready_w)
        if takes_over:
            self.run(i + 1)

    def wait(self, pid: int, ready_r: int, timeout: Any = None) -> Any:
        """What became of the child: "took-over", "done", "failed", or a record of its
        timeout or crash."""
        timeout = self.timeout if timeout is None else timeout
        started = time.perf_counter()
        deadline = started + timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return {"status": "timeout", "seconds": round(timeout, 3)}
            readable, _, _ = select.select([ready_r], [], [], left)
            if not readable:
                continue
            flag = os.read(ready_r, 1)
            if flag in (b"c", b"d", b"f"):
                return {b"c": "took-over", b"d": "done", b"f": "failed"}[flag]
            # No word and the pipe closed: the child died before it could report.
            _, status = os.waitpid(pid, 0)
            seconds = round(time.perf_counter() - started, 4)
            if os.WIFSIGNALED(status):
                sig = os.WTERMSIG(status)
                try:
                    name = signal.Signals(sig).name
                except ValueError:
                    name = f"signal {sig}"
                return {"status": "crash", "signal": name, "seconds": seconds}
            code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
            return {"status": "crash", "exit_code": code, "seconds": seconds}

    def retry_alone(self) -> None:
        """Import each failure again in a fresh child of the first process, where
        nothing else is imported: a module that works alone failed because of an
        earlier import (an order effect of importing everything in one process)."""
        os.lseek(self.all_failed, 0, os.SEEK_SET)
        names = os.read(self.all_failed, 1 << 20).decode().split()
        for name in dict.fromkeys(names):
            out = output_file()
            pid, ready_r = self.spawn(functools.partial(self.alone, name, out))
            verdict = self.wait(pid, ready_r)
            os.close(ready_r)
            os.close(out)
            if verdict == "done":
                os.waitpid(pid, 0)
            else:
                self.emit({"kind": "alone", "name": name, "status": verdict["status"]})


def _name(item: Record) -> Record:
    if item.get("role"):
        return {"kind": item["kind"], "name": item["name"], "role": item["role"]}
    return {"kind": item["kind"], "name": item["name"]}


def main() -> None:
    config = json.loads(sys.argv[1])
    chain = Chain(config["items"], float(config.get("module_timeout", 60)))
    faulthandler.enable()  # on fd 2: a crashing import's Python stack lands in its output
    root = logging.getLogger()
    root.addHandler(chain.handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    chain.emit({"kind": "start", "python": sys.version.split()[0], "executable": sys.executable})
    if config.get("app"):
        timeout = float(config["app"].get("timeout") or chain.timeout)
        items, plan = plan_app(config["app"], timeout)
        chain.items.extend(items)
        chain.emit(plan)
    chain.run(0)  # only this first process returns from it; the others exit
    os.close(chain.finished_w)
    os.read(chain.finished_r, 1)  # "x" from the chain's last process, or all of it died
    chain.retry_alone()
    chain.emit({"kind": "end"})
    os._exit(0)


if __name__ == "__main__":
    main()
