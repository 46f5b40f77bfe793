"""API keys: their format, how they are stored (hashed) and what each scope allows.

A key is ``ap_<id>_<secret>``: ``id`` (12 hex characters) finds the stored
record in one read, ``secret`` (43 URL-safe characters, 256 random bits) is
never stored; only ``sha256(id + ":" + secret)`` is. The secrets are random,
so a fast hash is enough (a slow password hash protects guessable secrets;
these are not guessable), and it is compared in constant time with
:func:`hmac.compare_digest`. The full key is shown once, at creation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

PREFIX = "ap"
READ = "read"
TRIAGE = "triage"
SCOPES = (READ, TRIAGE)
# What each scope grants: a triage key can also read.
GRANTS: dict[str, frozenset[str]] = {READ: frozenset({READ}), TRIAGE: frozenset({READ, TRIAGE})}
_KEY = re.compile(r"^ap_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.@-]{0,63}$")


@dataclass(frozen=True)
class NewKey:
    key_id: str
    secret: str

    @property
    def token(self) -> str:
        """The whole key, as the client sends it (shown once)."""
        return f"{PREFIX}_{self.key_id}_{self.secret}"

    @property
    def hash(self) -> str:
        return digest(self.key_id, self.secret)


def generate() -> NewKey:
    return NewKey(key_id=secrets.token_hex(6), secret=secrets.token_urlsafe(32))


def digest(key_id: str, secret: str) -> str:
    return hashlib.sha256(f"{key_id}:{secret}".encode()).hexdigest()


def parse(token: str) -> tuple[str, str] | None:
    """``(id, secret)`` of a well-formed key, else None."""
    match = _KEY.match(token)
    return (match.group(1), match.group(2)) if match else None


def matches(stored_hash: str, key_id: str, secret: str) -> bool:
    """Whether the secret belongs to the stored hash, in time independent of where they differ."""
    return hmac.compare_digest(stored_hash.encode(), digest(key_id, secret).encode())


def allows(scope: str, needed: str) -> bool:
    return needed in GRANTS.get(scope, frozenset())
