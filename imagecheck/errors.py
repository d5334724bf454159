"""Exit codes and the error tree: every error a user can act on is one line and one code."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Documented process exit codes (README, "Exit codes")."""

    OK = 0
    FINDINGS = 1
    BAD_INPUT = 2
    ENVIRONMENT = 3
    INTERNAL = 4
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT), as shells report it


class ImagecheckError(Exception):
    """Base of errors the user can act on; ``str(err)`` is the one line we print."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __str__(self) -> str:
        # A library's message quoted in ours may span lines (tarfile lists each method
        # it tried): still one line.
        return "; ".join(line.strip() for line in super().__str__().splitlines() if line.strip())


class BadInput(ImagecheckError):
    """The target, an archive, a flag or a file the user gave us is wrong."""

    exit_code = ExitCode.BAD_INPUT


class ImageNotFound(BadInput):
    """The engine or archive has no image by that reference."""


class CorruptArchive(BadInput):
    """An archive, manifest, blob or layer cannot be read as what it claims to be."""


class EnvironmentProblem(ImagecheckError):
    """Something outside the input is missing: no engine, no permission."""

    exit_code = ExitCode.ENVIRONMENT


class EngineUnavailable(EnvironmentProblem):
    """The Docker engine cannot be reached."""
