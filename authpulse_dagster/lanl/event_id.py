"""Deterministic event ids for raw LANL lines.

Every path that reads a file (the batch bronze reader now, a Kinesis replay
producer later) must give a line the same id, so that a file loaded twice, or
a record delivered twice, can be deduplicated downstream. The rule:

* ``canonical_line`` is the raw line bytes with trailing ``\\n`` and ``\\r``
  removed (nothing else changes: no decoding, no trimming of spaces).
* ``first field`` is the canonical line up to its first comma (the whole line
  if there is none); only the first ``LINE_HARD_CAP`` bytes are looked at.
* ``occurrence`` is how many identical canonical lines came earlier in the
  current *run*: the consecutive lines that share the same time field. The
  counter resets when a line's first field is a plain integer (ASCII digits)
  different from the run's. A line whose first field is not a plain integer
  (blank, header, garbage, a negative time) stays in the current run: a
  damaged line between two identical events must not make them look like one
  delivered twice.
* ``event_id = blake2b(canonical_line + b"\\x1f" + str(occurrence).encode(),
  digest_size=16).hexdigest()``.

So two genuinely repeated events inside one second get occurrences 0 and 1 and
stay distinct, while a file concatenated with itself gives both copies the same
ids (the run resets between the copies because the time field changes).

The occurrence table of a run holds its distinct lines, so memory grows with
the largest run (LANL runs are one second of events: hundreds of lines).
"""

from __future__ import annotations

from hashlib import blake2b
from typing import Any, Callable

from authpulse_dagster.lanl.formats import LINE_HARD_CAP

SEPARATOR = b"\x1f"
DIGEST_SIZE = 16

# Suffixes for the common small occurrences, built once (hot loop).
_SUFFIXES = [SEPARATOR + str(i).encode() for i in range(1024)]


def _suffix(occurrence: int) -> bytes:
    return _SUFFIXES[occurrence] if occurrence < 1024 else SEPARATOR + str(occurrence).encode()


def canonical_line(line: bytes) -> bytes:
    """Strip the line terminator (any trailing ``\\r``/``\\n``), nothing else."""
    return line.rstrip(b"\r\n")


def event_id(line: bytes, occurrence: int) -> str:
    """The id of ``line`` given its occurrence in the current run (see module doc)."""
    if occurrence < 0:
        raise ValueError("occurrence must be >= 0")
    return blake2b(canonical_line(line) + _suffix(occurrence), digest_size=DIGEST_SIZE).hexdigest()


def first_field(canonical: bytes) -> bytes:
    """Raw bytes up to the first comma, looking only at the first LINE_HARD_CAP bytes."""
    head = canonical[:LINE_HARD_CAP]
    i = head.find(b",")
    return head if i < 0 else head[:i]


class EventIdAssigner:
    """Applies the occurrence rule to lines fed in file order.

    ``run_value`` (optional) maps a run's first field to a value that is
    computed once per run and returned alongside each id by
    :meth:`assign_many`; the reader uses it to parse the time field once per
    second instead of once per line.
    """

    def __init__(self, run_value: Callable[[bytes], Any] | None = None) -> None:
        self._run_value_fn = run_value or (lambda field: None)
        self._field: bytes | None = None
        self._prefix = b""  # first field + b","; b"" only before the first line
        self._value: Any = None
        self._seen: dict[Any, int] = {}

    # -- public API -------------------------------------------------------
    def assign(self, line: bytes) -> str:
        """Id of the next line (raw bytes, terminator optional)."""
        canon = canonical_line(line)
        if len(canon) > LINE_HARD_CAP:
            return self.assign_long(canon[:LINE_HARD_CAP], blake2b(canon, digest_size=DIGEST_SIZE))
        return self.assign_many([canon])[0][0]

    def assign_many(self, lines: list[bytes]) -> tuple[list[str], list[Any]]:
        """Ids (and run values) of consecutive *canonical* lines no longer than the cap.

        This is the reader's hot loop, hence the local-variable style.
        """
        suffixes: list[bytes] = []
        values: list[Any] = []
        add_suffix = suffixes.append
        add_value = values.append
        seen = self._seen
        get = seen.get
        prefix, field, value = self._prefix, self._field, self._value
        table, n_table, run_value = _SUFFIXES, len(_SUFFIXES), self._run_value_fn
        for canon in lines:
            line_value = value
            if not prefix or not canon.startswith(prefix):
                i = canon.find(b",")
                f = canon if i < 0 else canon[:i]
                if f != field:
                    if field is None or f.isdigit():
                        field = f
                        seen.clear()
                        value = line_value = run_value(f)
                        prefix = f + b","
                    else:
                        line_value = run_value(f)  # its own (invalid) time; the run goes on
            occ = get(canon, 0)
            seen[canon] = occ + 1
            add_suffix(table[occ] if occ < n_table else _suffix(occ))
            add_value(line_value)
        ids = [blake2b(c + s, digest_size=DIGEST_SIZE).hexdigest() for c, s in zip(lines, suffixes)]
        self._prefix, self._field, self._value = prefix, field, value
        return ids, values

    def assign_long(self, head: bytes, hasher: "blake2b") -> str:
        """Id of a line longer than the cap, known only by its first bytes and a hash.

        ``head`` is the first LINE_HARD_CAP bytes of the canonical line and
        ``hasher`` a ``blake2b(digest_size=16)`` fed the whole canonical line;
        this lets a reader stream a huge line without holding it.
        """
        self._enter_run(first_field(head))
        key = ("long", hasher.digest())  # never equal to a bytes key
        occ = self._seen.get(key, 0)
        self._seen[key] = occ + 1
        h = hasher.copy()
        h.update(_suffix(occ))
        return h.hexdigest()

    def time_of(self, head: bytes) -> Any:
        """The run value computed from a line's own first field (not the run's)."""
        return self._run_value_fn(first_field(head))

    @property
    def run_value(self) -> Any:
        """The run value of the current run (that of the last line assigned)."""
        return self._value

    # -- internals --------------------------------------------------------
    def _enter_run(self, field: bytes) -> None:
        if field != self._field and (self._field is None or field.isdigit()):
            self._field = field
            self._seen.clear()
            self._value = self._run_value_fn(field)
            self._prefix = field + b","


# How many occurrences :func:`id_matches` tries. Legitimate ids almost always have occurrence 0
# (a line repeated within its second is rare), so the cost is one hash; a forged id costs this many.
MAX_VERIFIED_OCCURRENCE = 4096


def id_matches(claimed: str, line: bytes, max_occurrence: int = MAX_VERIFIED_OCCURRENCE) -> bool:
    """Whether ``claimed`` is the event id of ``line`` for some occurrence below ``max_occurrence``.

    A stream record carries its id; this is how the stream path knows the id
    belongs to the line, so that two records sharing an id are the same line
    and one may be dropped as a duplicate of the other.
    """
    if len(claimed) != 2 * DIGEST_SIZE:
        return False
    base = blake2b(canonical_line(line), digest_size=DIGEST_SIZE)
    for occurrence in range(max_occurrence):
        h = base.copy()
        h.update(_suffix(occurrence))
        if h.hexdigest() == claimed:
            return True
    return False
