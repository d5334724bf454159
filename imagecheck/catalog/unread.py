"""What the catalogers could not read: a catalog file over the in-memory bound.

The layer reader streams big dpkg status files and core metadata through a filter that
keeps what the catalogers read (``image.layerindex.condensed``); a file still too big
(a RECORD of millions of rows, a status of tens of thousands of packages) is left
unread, and rather than leave a silent gap in the inventory, IC210 names it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..codes import IC210
from ..model import Finding, UnreadFile

if TYPE_CHECKING:
    from ..checks import Context

_WHAT = (
    ("/var/lib/dpkg/status", "Debian packages"),
    ("/METADATA", "a Python distribution's name and version"),
    ("/PKG-INFO", "a Python distribution's name and version"),
    ("/RECORD", "a Python distribution's import names and files"),
)


def _mib(size: int) -> str:
    return f"{size / (1 << 20):.1f} MiB"


def _missing(path: str) -> str:
    return next((what for tail, what in _WHAT if tail in path), "what the file lists")


def unread_note(unread: UnreadFile) -> str:
    """The inventory's note for a file left unread."""
    return (
        f"left unread: {unread.path} ({_mib(unread.size)}, layer {unread.layer.index}) is "
        f"over the {_mib(unread.bound)} a catalog file may hold in memory"
    )


def check_unread(ctx: Context) -> Iterator[Finding]:
    """IC210: a catalog file left unread; what it would have told is not in the report."""
    for item in ctx.inventory.unread:
        yield IC210.finding(
            subject=item.path,
            message=(
                f"{item.path} ({_mib(item.size)}, {item.size} bytes) is over the "
                f"{_mib(item.bound)} imagecheck reads of a catalog file: {_missing(item.path)} "
                "it holds are not in this report"
            ),
            hint=f"inspect it in the image: docker run --rm IMAGE wc -c {item.path}",
            layer=item.layer,
        )
