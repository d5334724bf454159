"""Secrets out of a bug-report bundle: the values of keys that name a secret, URLs'
passwords, ``Authorization:`` credentials, command-line secret flags, and then every
value so learnt wherever else it appears.

Pure (no engine, no files). One ``Redactor`` sees everything a bundle will hold twice:
``learn`` first (every member, so that a password found in one member's environment is
known before another member's log is written), then ``scrub``. The patterns are data
(``SECRET_WORDS``, ``SECRET_SUFFIXES``, ``DESCRIBING_WORDS``, ``PUBLIC_KEYS``), listed
in the README's "Bug-report bundle" section.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

MARK = "[REDACTED]"
#: A key is a secret's when one of its words (split at ``_ - .``, spaces and camelCase,
#: lowercased) is one of these ...
SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "pass",
        "passphrase",
        "pwd",
        "secret",
        "secrets",
        "token",
        "tokens",
        "key",
        "keys",
        "apikey",
        "credential",
        "credentials",
        "creds",
        "dsn",
        "authorization",
        "bearer",
        "jwt",
        "cookie",
        "salt",
        "privkey",
    }
)
#: ... or ends with one of these (``PGPASSWORD``, ``APIKEY``, ``accesstoken``) ...
SECRET_SUFFIXES = ("password", "passwd", "secret", "token", "apikey", "privkey")
#: ... unless its last word says the value describes the secret rather than being it
#: (``SECRET_KEY_FILE`` is a path, ``ACCESS_TOKEN_EXPIRE_MINUTES`` a number).
DESCRIBING_WORDS = frozenset(
    {
        "file",
        "path",
        "dir",
        "name",
        "names",
        "minutes",
        "seconds",
        "hours",
        "days",
        "ttl",
        "expire",
        "expires",
        "expiry",
        "lifetime",
        "length",
        "size",
        "algorithm",
        "type",
        "mode",
        "method",
        "enabled",
        "required",
        "url",
        "header",
        "id",
    }
)
#: Keys of well-known public values: the shell's folders, python images' release key.
PUBLIC_KEYS = frozenset({"PWD", "OLDPWD", "GPG_KEY"})
#: Learnt values searched for everywhere must be this long, not a common literal nor a
#: reference (``$VAR``): ``SECRET_ENABLED=true`` must not redact every "true" of the logs
#: (they are still redacted at their keys).
MIN_SEARCHED = 4
_LITERALS = frozenset({"true", "false", "none", "null", "yes", "no", "on", "off", "redacted"})

_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
#: scheme://user:PASSWORD@host
_URL = re.compile(r"(?P<head>\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@'\"]*:)(?P<pw>[^\s@'\"]+)@")
#: Authorization: Bearer X, authorization=Basic X, "Authorization": "token X"
_AUTH = re.compile(
    r"(?P<head>\b(?:proxy-)?authorization\b[\"']?\s*[:=]\s*[\"']?"
    r"(?:(?:bearer|basic|token|digest|negotiate)\s+|(?!(?:bearer|basic|token|digest|negotiate)\b)))"
    r"(?P<pw>[^\s\"',;]+)",
    re.IGNORECASE,
)
#: An ``Authorization`` value's first word, which ``_AUTH`` keeps.
_SCHEMES = frozenset({"bearer", "basic", "token", "digest", "negotiate"})
_BEARER = re.compile(r"(?P<head>\bbearer\s+)(?P<pw>[A-Za-z0-9._~+/=-]{8,})", re.IGNORECASE)
#: KEY=value, KEY: value, "key": "value", "key":"value", --key=value; never ``name:tag``
#: or ``host:port`` (a colon with neither a space after it nor a quote before it)
_PAIR = re.compile(
    r"(?<![A-Za-z0-9_.\-])(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)"
    r"(?P<sep>[\"']?\s*=\s*[\"']?|[\"']?:\s+[\"']?|[\"']:[\"']?)"
    r"(?P<pw>(?<=[\"'])[^\"'\n]+|[^\s\"'&,;)\]}]+)"  # a quoted value whole, spaces and all
)
#: --key value (a command line)
_FLAG = re.compile(r"(?<![\w-])--?(?P<key>[A-Za-z][\w.-]*)\s+(?P<pw>[^\s\"'-][^\s\"']*)")
#: What a ``(key, value)`` pair's key looks like: a variable's or a label's name, no path.
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_ENV_ITEM = re.compile(r"^(?P<key>[A-Za-z_][A-Za-z0-9_.\-]*)=(?P<value>.*)$", re.DOTALL)


def words(key: str) -> list[str]:
    """A key's words, lowercased: ``dbPassword`` and ``DB_PASSWORD`` are ``db password``."""
    return [w.lower() for w in _WORD.findall(key)]


def secret_key(key: str) -> bool:
    """Whether ``key`` (an environment variable, a label, a mapping key, a flag) names a
    value that is a secret."""
    if key.upper() in PUBLIC_KEYS:
        return False
    found = words(key)
    if not found or found[-1] in DESCRIBING_WORDS:
        return False
    return any(w in SECRET_WORDS or w.endswith(SECRET_SUFFIXES) for w in found)


#: A shell's or compose's reference (``$VAR``, ``${VAR}``, ``$(command)``), not a value.
_REFERENCE = re.compile(r"\$(?:[({]|[A-Za-z_][A-Za-z0-9_]*$)")


def _searchable(value: str) -> bool:
    value = value.strip()
    return (
        len(value) >= MIN_SEARCHED
        and not _REFERENCE.match(value)
        and value.lower() not in _LITERALS
        and MARK[:-1] not in value
        and not (value.isdigit() and len(value) < 8)
    )


@dataclasses.dataclass(frozen=True, slots=True)
class Redactions:
    """What one member lost: how many values by kind, and the keys (never the values)."""

    kinds: tuple[tuple[str, int], ...] = ()
    keys: tuple[str, ...] = ()

    @property
    def count(self) -> int:
        return sum(n for _, n in self.kinds)

    def __add__(self, other: Redactions) -> Redactions:
        kinds = Counter(dict(self.kinds)) + Counter(dict(other.kinds))
        return Redactions(tuple(sorted(kinds.items())), tuple(sorted({*self.keys, *other.keys})))


class Redactor:
    """Learns secret values, then scrubs strings, mappings, lists and dataclasses of them."""

    def __init__(self) -> None:
        self._known: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._kinds: Counter[str] = Counter()
        self._keys: set[str] = set()

    # --- learning ------------------------------------------------------------------------

    def know(self, value: str) -> None:
        """``value`` is a secret: redacted wherever it appears (when long enough), and
        each of its lines (a key file's, printed line by line)."""
        for candidate in {value, value.strip(), *value.splitlines()}:
            if _searchable(candidate) and candidate not in self._known:
                self._known.add(candidate)
                self._pattern = None

    def know_pairs(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Environment-like pairs: the values of the secret keys."""
        for key, value in pairs:
            if secret_key(key):
                self.know(value)

    def learn(self, value: Any) -> None:
        """Walk ``value`` as ``scrub`` does, keeping only what it learns."""
        self.scrub(value)
        self._kinds.clear()
        self._keys.clear()

    @property
    def known(self) -> int:
        return len(self._known)

    # --- scrubbing -----------------------------------------------------------------------

    def take(self) -> Redactions:
        """What was redacted since the last ``take``."""
        found = Redactions(tuple(sorted(self._kinds.items())), tuple(sorted(self._keys)))
        self._kinds.clear()
        self._keys.clear()
        return found

    def _hit(self, kind: str, key: str | None = None) -> None:
        self._kinds[kind] += 1
        if key is not None:
            self._keys.add(key)

    def _value(self, key: str, value: str) -> str:
        """The value of a secret key: gone, and known from now on; a substitution
        (``${VAR}``, ``$(command)``: a script's) stays, it holds no value."""
        if value in ("", MARK) or value.startswith(("${", "$(")):
            return value
        self.know(value)
        self._hit("key", key)
        return MARK

    def text(self, text: str, item: bool = False) -> str:
        """One string: its secrets by pattern, then every known value. A one-line
        ``KEY=value``, or any one ``item`` of a list (an environment's ``KEY=multi-line
        value``), is a variable: a secret key's whole value goes."""
        if not text:
            return text
        variable = _ENV_ITEM.match(text) if item or "\n" not in text else None
        if variable is not None and secret_key(variable["key"]):
            return f"{variable['key']}={self._value(variable['key'], variable['value'])}"
        text = self._sub(_URL, text, "url-password")
        text = self._sub(_AUTH, text, "authorization")
        text = self._sub(_BEARER, text, "authorization")
        text = self._pairs(text)
        text = _FLAG.sub(self._flag, text)
        return self.known_values(text)

    def _sub(self, pattern: re.Pattern[str], text: str, kind: str) -> str:
        def one(m: re.Match[str]) -> str:
            if m["pw"] == MARK or m["pw"].lower() in _SCHEMES:
                return m[0]
            self.know(m["pw"])
            self._hit(kind)
            return m["head"] + MARK + m[0][len(m["head"]) + len(m["pw"]) :]

        return pattern.sub(one, text)

    def _pairs(self, text: str) -> str:
        """``KEY=value`` and friends; a pair whose key is no secret's is read on, since
        its value may hold one (``msg=password=X``)."""
        out: list[str] = []
        done = start = 0
        while (m := _PAIR.search(text, start)) is not None:
            value = m["pw"]
            done_already = MARK in value or text.startswith(MARK, m.start("pw"))
            if not done_already and value.lower() not in _SCHEMES and secret_key(m["key"]):
                out += [text[done : m.start("pw")], self._value(m["key"], value)]
                done = start = m.end()
            else:
                start = m.end("key")
        return "".join(out) + text[done:]

    def _flag(self, m: re.Match[str]) -> str:
        if m["pw"] == MARK or not secret_key(m["key"]):
            return m[0]
        return m[0][: m.start("pw") - m.start()] + self._value(m["key"], m["pw"])

    def known_values(self, text: str) -> str:
        """``text`` with every known value redacted (a serialised member's last pass)."""
        if not self._known:
            return text
        if self._pattern is None:
            ordered = sorted(self._known, key=len, reverse=True)
            self._pattern = re.compile("|".join(map(re.escape, ordered)))
        text, n = self._pattern.subn(MARK, text)
        if n:
            self._kinds["value-elsewhere"] += n
        return text

    def scrub(self, value: Any, key: str | None = None) -> Any:
        """``value`` with its secrets redacted: strings, numbers under a secret key,
        mappings (a secret key's scalar value goes), lists and tuples (``--password X``
        and ``(KEY, value)`` pairs), frozen dataclasses (rebuilt with ``replace``)."""
        if isinstance(value, str):
            if key is not None and secret_key(key):
                return self._value(key, value)
            return self.text(value)
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, (int, float)):
            if key is not None and secret_key(key):
                return self._value(key, str(value))
            return value
        if isinstance(value, Mapping):
            return {self.text(str(k)): self.scrub(v, str(k)) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return self._sequence(value)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            changes = {
                f.name: self.scrub(getattr(value, f.name))
                for f in dataclasses.fields(value)
                if f.init
            }
            return dataclasses.replace(value, **changes)
        return value

    def _sequence(self, items: list[Any] | tuple[Any, ...]) -> Any:
        pair = len(items) == 2 and all(isinstance(i, str) for i in items)
        if pair and isinstance(items, tuple) and _KEY.fullmatch(items[0]) and secret_key(items[0]):
            return (items[0], self._value(items[0], items[1]))
        out: list[Any] = []
        flag: str | None = None
        for item in items:
            if flag is not None and isinstance(item, str) and not item.startswith("-"):
                out.append(self._value(flag, item))
                flag = None
                continue
            flag = None
            if isinstance(item, str) and item.startswith("-") and "=" not in item:
                name = item.lstrip("-")
                flag = name if name and secret_key(name) else None
            out.append(self.text(item, item=True) if isinstance(item, str) else self.scrub(item))
        return tuple(out) if isinstance(items, tuple) else out


__all__ = [
    "DESCRIBING_WORDS",
    "MARK",
    "PUBLIC_KEYS",
    "SECRET_SUFFIXES",
    "SECRET_WORDS",
    "Redactions",
    "Redactor",
    "secret_key",
    "words",
]
