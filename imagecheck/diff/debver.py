"""Debian version order (deb-version(7)): ``[epoch:]upstream[-revision]``, where ``~``
sorts before everything, even the end of the string. Versions stay raw strings in the
model; this only orders two of them."""

from __future__ import annotations

import re

_EPOCH = re.compile(r"^(\d+):")


def _split(version: str) -> tuple[int, str, str]:
    epoch = 0
    match = _EPOCH.match(version)
    if match:
        epoch, version = int(match.group(1)), version[match.end() :]
    upstream, sep, revision = version.rpartition("-")
    if not sep:
        upstream, revision = version, ""
    return epoch, upstream, revision


def _order(char: str) -> int:
    if char == "~":
        return -1
    if char.isalpha():
        return ord(char)
    return ord(char) + 256


def _compare_part(a: str, b: str) -> int:
    """dpkg's verrevcmp: alternate runs of non-digits (by ``_order``) and digits (as numbers)."""
    i = j = 0
    while i < len(a) or j < len(b):
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ca = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            cb = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ca != cb:
                return -1 if ca < cb else 1
            i, j = i + 1, j + 1
        start_i, start_j = i, j
        while i < len(a) and a[i].isdigit():
            i += 1
        while j < len(b) and b[j].isdigit():
            j += 1
        na, nb = int(a[start_i:i] or "0"), int(b[start_j:j] or "0")
        if na != nb:
            return -1 if na < nb else 1
    return 0


def compare_debian(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b`` in Debian's order."""
    ea, ua, ra = _split(a)
    eb, ub, rb = _split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _compare_part(ua, ub) or _compare_part(ra, rb)
