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

import faulthandler
import functools
import gc
import json
import logging
import os
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
    result: Record = {"kind": item["kind"], "name": item["name"]}
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
            verdict = self.wait(pid, ready_r)
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
        takes_over = result["status"] == "ok" and item["kind"] == "import"
        os.write(ready_w, b"c" if takes_over else (b"d" if ok else b"f"))
        os.close(ready_w)
        if takes_over:
            self.run(i + 1)

    def wait(self, pid: int, ready_r: int) -> Any:
        """What became of the child: "took-over", "done", "failed", or a record of its
        timeout or crash."""
        started = time.perf_counter()
        deadline = started + self.timeout
        while True:
            left = deadline - time.perf_counter()
            if left <= 0:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except OSError:
                    os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                return {"status": "timeout", "seconds": round(self.timeout, 3)}
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
    chain.run(0)  # only this first process returns from it; the others exit
    os.close(chain.finished_w)
    os.read(chain.finished_r, 1)  # "x" from the chain's last process, or all of it died
    chain.retry_alone()
    chain.emit({"kind": "end"})
    os._exit(0)


if __name__ == "__main__":
    main()
