"""One day of synthetic authentications as parallel numpy arrays.

The generator draws a day's benign events, optionally adds the LANL 2015
details (source computer, auth and logon type, success), lets the attack
scenarios remove and add events, and only then renders lines. Keeping the
day as arrays until the very end is what makes all of that vectorised, and
sharing this one shape is what lets the scenarios stay independent of the
generator's internals (both modules import this one, never each other).

Users and computers are 0-based indices: user ``i`` is written ``U{i+1}``,
computer ``j`` is ``C{j+1}``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DOMAIN = "DOM1"
# Vocabularies of the 2015 text fields; the arrays hold indices into them.
AUTH_TYPES: tuple[str, ...] = ("Kerberos", "NTLM", "Negotiate")
LOGON_TYPES: tuple[str, ...] = ("Interactive", "Network", "Batch", "Service", "Unlock")
KERBEROS, NTLM, NEGOTIATE = range(3)
INTERACTIVE, NETWORK, BATCH, SERVICE, UNLOCK = range(5)
ORIENTATION = "LogOn"


@dataclass
class DayEvents:
    """Events of one day (or a handful of injected ones), not necessarily sorted.

    ``time`` is in dataset seconds; ``dst`` is the computer authenticated to
    (the only computer a 2014 line shows); ``src`` the computer it came from.
    """

    time: np.ndarray  # int64
    user: np.ndarray  # int64
    dst: np.ndarray  # int64
    src: np.ndarray  # int64
    auth: np.ndarray  # uint8 index into AUTH_TYPES
    logon: np.ndarray  # uint8 index into LOGON_TYPES
    success: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.time)

    @classmethod
    def basic(cls, time: np.ndarray, user: np.ndarray, dst: np.ndarray) -> "DayEvents":
        """Events with only what a 2014 line carries: local Kerberos logons that succeeded."""
        n = len(time)
        return cls(
            time=time,
            user=user,
            dst=dst,
            src=dst,
            auth=np.full(n, KERBEROS, dtype=np.uint8),
            logon=np.full(n, INTERACTIVE, dtype=np.uint8),
            success=np.ones(n, dtype=bool),
        )

    @classmethod
    def empty(cls) -> "DayEvents":
        i64 = np.zeros(0, dtype=np.int64)
        u8 = np.zeros(0, dtype=np.uint8)
        return cls(i64, i64, i64, i64, u8, u8, np.zeros(0, dtype=bool))

    def take(self, index: np.ndarray) -> "DayEvents":
        """Rows by boolean mask or integer index (in that order)."""
        return DayEvents(*(getattr(self, f)[index] for f in _FIELDS))

    @staticmethod
    def concat(parts: list["DayEvents"]) -> "DayEvents":
        parts = [p for p in parts if len(p)]
        if not parts:
            return DayEvents.empty()
        if len(parts) == 1:
            return parts[0]
        return DayEvents(*(np.concatenate([getattr(p, f) for p in parts]) for f in _FIELDS))

    def sorted_by_time(self) -> "DayEvents":
        """Stable sort: events sharing a second keep their order (benign first, then injected)."""
        return self.take(np.argsort(self.time, kind="stable"))


_FIELDS = ("time", "user", "dst", "src", "auth", "logon", "success")
