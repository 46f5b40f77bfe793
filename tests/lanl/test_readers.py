"""The bronze reader: one row per physical line, whatever the compression,
chunking or content of the line."""

import bz2
import gzip
from pathlib import Path

import pyarrow as pa
import pytest

from authpulse_dagster.errors import ConfigError, InputError
from authpulse_dagster.lanl.event_id import EventIdAssigner, event_id
from authpulse_dagster.lanl.readers import BATCH_SCHEMA, LINE_HARD_CAP, iter_batches, open_binary

LINES_2014 = [b"%d,U%d,C%d" % (t, t % 3, t % 5) for t in range(10)]
LINES_2015 = [
    b"1,C625$@DOM1,U147@DOM1,C625,C625,Negotiate,Batch,LogOn,Success",
    b"1,C625$@DOM1,U147@DOM1,C625,C625,Negotiate,Batch,LogOn,Success",
    b"2,C653$@DOM1,SYSTEM@C653,C653,C653,Negotiate,Service,LogOn,Success",
    b"3,U22@DOM1,U22@DOM1,C1065,C529,Kerberos,Network,LogOn,Fail",
    b"3,ANONYMOUS LOGON@C586,ANONYMOUS LOGON@C586,C1250,C586,NTLM,Network,LogOn,Success",
    b"4,C1$@DOM1,C1$@DOM1,C1,C1,?,?,LogOff,Success",
]


def write(path: Path, data: bytes, compress: str = "plain") -> Path:
    if compress == "gz":
        data = gzip.compress(data)
    elif compress == "bz2":
        data = bz2.compress(data)
    path.write_bytes(data)
    return path


def read(path, fmt="lanl2014", **kw) -> pa.Table:
    batches = list(iter_batches(path, fmt, **kw))
    for b in batches:
        assert b.schema == BATCH_SCHEMA
    return pa.Table.from_batches(batches, schema=BATCH_SCHEMA)


def rows(path, fmt="lanl2014", **kw) -> list[dict]:
    return read(path, fmt, **kw).to_pylist()


def test_schema_columns_in_order():
    assert BATCH_SCHEMA.names == ["line_number", "payload", "payload_size", "event_id", "dataset_time"]
    assert [f.type for f in BATCH_SCHEMA] == [pa.int64(), pa.binary(), pa.int64(), pa.string(), pa.int64()]
    assert BATCH_SCHEMA.field("dataset_time").nullable


def test_basic_2014_rows(tmp_path):
    p = write(tmp_path / "auth.txt", b"\n".join(LINES_2014) + b"\n")
    got = rows(p)
    assert [r["line_number"] for r in got] == list(range(1, 11))
    assert [r["payload"] for r in got] == LINES_2014
    assert [r["payload_size"] for r in got] == [len(x) for x in LINES_2014]
    assert [r["dataset_time"] for r in got] == list(range(10))
    assert [r["event_id"] for r in got] == [event_id(x, 0) for x in LINES_2014]


def test_lanl2015_rows_and_occurrence(tmp_path):
    p = write(tmp_path / "auth.txt", b"\r\n".join(LINES_2015) + b"\r\n")
    got = rows(p, "lanl2015")
    assert [r["payload"] for r in got] == LINES_2015
    assert [r["dataset_time"] for r in got] == [1, 1, 2, 3, 3, 4]
    assert got[0]["event_id"] == event_id(LINES_2015[0], 0)
    assert got[1]["event_id"] == event_id(LINES_2015[1], 1)
    assert len({r["event_id"] for r in got}) == len(LINES_2015)


@pytest.mark.parametrize("compress", ["gz", "bz2"])
def test_compressed_files_read_identically(tmp_path, compress):
    data = b"\n".join(LINES_2015) + b"\n\n" + b"junk"
    plain = read(write(tmp_path / "plain", data), "lanl2015")
    # The misleading name proves detection is by magic bytes, not extension.
    packed = read(write(tmp_path / "auth.txt", data, compress), "lanl2015")
    assert packed.equals(plain)
    assert plain.num_rows == len(LINES_2015) + 2


def test_plain_file_named_gz_is_read_as_plain(tmp_path):
    p = write(tmp_path / "auth.txt.gz", b"1,U1,C1\n")
    assert [r["payload"] for r in rows(p)] == [b"1,U1,C1"]


def test_chunk_boundaries_do_not_change_rows(tmp_path):
    data = b"\n".join([b"1,U1,C1", b"1,U1,C1", b"1,U1,C1", b"1,U1,C1"] + LINES_2014[2:8]) + b"\n"
    p = write(tmp_path / "auth.txt", data)
    batches = list(iter_batches(p, "lanl2014", chunk_lines=3))
    assert [b.num_rows for b in batches] == [3, 3, 3, 1]
    small = pa.Table.from_batches(batches)
    whole = read(p, chunk_lines=100_000)
    assert small.equals(whole)
    assert whole.num_rows == 10
    assert len(set(whole.column("event_id").to_pylist())) == 10


def test_every_physical_line_is_a_row(tmp_path):
    data = b"1,U1,C1\n\n\r\n2,U2,C2\n\n3,U3,C3"  # blank lines, CR-only line, no final newline
    got = rows(write(tmp_path / "f", data))
    assert [r["payload"] for r in got] == [b"1,U1,C1", b"", b"", b"2,U2,C2", b"", b"3,U3,C3"]
    assert [r["line_number"] for r in got] == [1, 2, 3, 4, 5, 6]
    assert [r["dataset_time"] for r in got] == [1, None, None, 2, None, 3]
    # Two blank lines in a row are still two events: occurrences 0 and 1 of "".
    assert got[1]["event_id"] == event_id(b"", 0) and got[2]["event_id"] == event_id(b"", 1)


def test_empty_file_yields_nothing(tmp_path):
    assert list(iter_batches(write(tmp_path / "empty", b""), "lanl2014")) == []
    assert list(iter_batches(write(tmp_path / "empty.gz", b"", "gz"), "lanl2014")) == []


def test_single_newline_is_one_blank_row(tmp_path):
    got = rows(write(tmp_path / "f", b"\n"))
    assert [(r["payload"], r["payload_size"], r["dataset_time"]) for r in got] == [(b"", 0, None)]


def test_non_utf8_line_is_kept_byte_for_byte(tmp_path):
    bad = b"4,U\xff\xfe1,C\x801"
    got = rows(write(tmp_path / "f", b"3,U1,C1\n" + bad + b"\n"))
    assert got[1]["payload"] == bad
    assert got[1]["dataset_time"] == 4
    assert got[1]["event_id"] == event_id(bad, 0)


def test_time_field_parsing(tmp_path):
    lines = [
        b"time,user,computer",  # header
        b"-1,U1,C1",  # negative
        b"+5,U1,C1",
        b" 5,U1,C1",  # spaces trimmed, as silver trims them: a valid time
        b"1e3,U1,C1",
        b"\xd9\xa3,U1,C1",  # Arabic-Indic digit three: not ASCII
        b"99999999999999999999999,U1,C1",  # beyond int64
        b"500,U1,C1",  # beyond max_dataset_seconds
        b"00042,U1,C1",
        b"100,U1,C1",
        b"",
    ]
    got = rows(write(tmp_path / "f", b"\n".join(lines) + b"\n"), max_dataset_seconds=100)
    assert [r["dataset_time"] for r in got] == [None] * 3 + [5] + [None] * 4 + [42, 100, None]
    unbounded = rows(write(tmp_path / "g", b"500,U1,C1\n9223372036854775808,U,C\n"))
    assert [r["dataset_time"] for r in unbounded] == [500, None]


def test_two_mebibyte_line_is_truncated_but_measured(tmp_path):
    big = b"9," + b"x" * (2 * 1024 * 1024)
    data = b"8,U1,C1\n" + big + b"\r\n" + big + b"\n10,U2,C2"
    for compress in ("plain", "gz"):
        got = rows(write(tmp_path / f"big-{compress}", data, compress))
        assert len(got) == 4
        assert [r["payload_size"] for r in got] == [7, len(big), len(big), 8]
        assert got[1]["payload"] == big[:LINE_HARD_CAP]
        assert got[1]["dataset_time"] == 9
        # Ids are those of the whole line: a Kinesis producer holding it gets the same.
        assert got[1]["event_id"] == event_id(big, 0)
        assert got[2]["event_id"] == event_id(big, 1)
        assert got[3]["payload"] == b"10,U2,C2" and got[3]["line_number"] == 4


def test_long_line_without_newline_at_end(tmp_path):
    big = b"1," + b"z" * (LINE_HARD_CAP + 5)
    got = rows(write(tmp_path / "f", b"0,U,C\n" + big))
    assert [r["payload_size"] for r in got] == [5, len(big)]
    assert got[1]["event_id"] == event_id(big, 0)


def test_line_just_over_cap_only_because_of_carriage_returns(tmp_path):
    line = b"1," + b"q" * (LINE_HARD_CAP - 2)  # exactly the cap
    got = rows(write(tmp_path / "f", line + b"\r" * 10 + b"\n"))
    assert got[0]["payload"] == line and got[0]["payload_size"] == LINE_HARD_CAP
    assert got[0]["event_id"] == event_id(line, 0)


def test_reader_ids_match_a_line_by_line_assigner(tmp_path):
    lines = [b"%d,U%d,C%d" % (i // 7, i % 4, i % 3) for i in range(5000)]
    data = b"\r\n".join(lines + lines) + b"\r\n"
    got = read(write(tmp_path / "f", data), chunk_lines=777).column("event_id").to_pylist()
    a = EventIdAssigner()
    assert got == [a.assign(line) for line in lines + lines]
    assert got[:5000] == got[5000:]  # a replayed file dedups


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="input file not found"):
        iter_batches(tmp_path / "nope.txt", "lanl2014")  # raised at call time, not on first next()
    with pytest.raises(InputError, match="directory"):
        open_binary(tmp_path)


def test_bad_format_and_chunk_size(tmp_path):
    p = write(tmp_path / "f", b"1,U1,C1\n")
    with pytest.raises(ConfigError, match="lanl2016"):
        list(iter_batches(p, "lanl2016"))
    with pytest.raises(ConfigError):
        list(iter_batches(p, "lanl2014", chunk_lines=0))


def test_corrupt_gzip_is_an_input_error(tmp_path):
    p = write(tmp_path / "f.gz", gzip.compress(b"1,U1,C1\n" * 1000)[:-20])
    with pytest.raises(InputError, match="cannot read"):
        list(iter_batches(p, "lanl2014"))


def test_open_binary_decompresses(tmp_path):
    with open_binary(write(tmp_path / "x", b"hello\n", "bz2")) as f:
        assert f.read() == b"hello\n"


def reference_rows(data: bytes) -> list[tuple]:
    """The rule written the slow, obvious way: split everything in memory."""
    parts = data.split(b"\n")
    if parts[-1] == b"":
        parts.pop()
    a = EventIdAssigner()
    out = []
    for i, raw in enumerate(parts, start=1):
        canon = raw.rstrip(b"\r")
        out.append((i, canon[:LINE_HARD_CAP], len(canon), a.assign(raw)))
    return out


def test_block_boundaries_match_the_in_memory_reference(tmp_path):
    import random

    rnd = random.Random(3)
    # A CR exactly at the end of the first 1 MiB read block, the LF after it.
    first = b"0," + b"a" * (LINE_HARD_CAP - 3)
    lines = [first]
    for t in range(60_000):
        n = rnd.choice([0, 1, 1, 2])
        line = b"%d,U%d,C%d" % (t // 5, rnd.randrange(4), rnd.randrange(3)) + b"p" * rnd.randrange(n * 40 + 1)
        lines.append(line)
    data = b"".join(line + (b"\n" if i % 3 == 1 else b"\r\n") for i, line in enumerate(lines))
    assert data[LINE_HARD_CAP - 1 : LINE_HARD_CAP + 1] == b"\r\n"
    assert len(data) > 2 * LINE_HARD_CAP
    table = read(write(tmp_path / "f", data), chunk_lines=4096)
    got = list(zip(*(table.column(c).to_pylist() for c in ("line_number", "payload", "payload_size", "event_id"))))
    assert got == reference_rows(data)


def test_batches_are_also_cut_by_bytes(tmp_path, monkeypatch):
    from authpulse_dagster.lanl import readers

    data = b"".join(b"%d,U1,C%d\n" % (i, i) for i in range(300_000))  # ~4 MiB: several read blocks
    p = write(tmp_path / "f", data)
    whole = read(p)
    monkeypatch.setattr(readers, "_BATCH_BYTES", 1 << 20)
    batches = list(iter_batches(p, "lanl2014", chunk_lines=1_000_000))
    assert len(batches) >= 3
    assert pa.Table.from_batches(batches).equals(whole)


def test_a_utf8_byte_order_mark_is_not_part_of_the_first_line(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf5,U2,C2\n6,U3,C3\n")
    rows = [r for b in iter_batches(path, "lanl2014") for r in b.to_pylist()]
    assert [r["payload"] for r in rows] == [b"5,U2,C2", b"6,U3,C3"]
    assert rows[0]["dataset_time"] == 5
    assert rows[0]["event_id"] == event_id(b"5,U2,C2", 0)  # the id the line has without the mark


def test_spaces_around_the_time_are_trimmed_as_silver_trims_them(tmp_path):
    # Else bronze filed " 5,U2,C2" under the previous line's day while silver put it on day 0: it vanished.
    path = tmp_path / "space.txt"
    path.write_bytes(b"86500,U1,C1\n 5,U2,C2\n")
    rows = [r for b in iter_batches(path, "lanl2014") for r in b.to_pylist()]
    assert [r["dataset_time"] for r in rows] == [86500, 5]


def test_an_input_that_is_a_folder_or_unreadable_is_named_as_such(tmp_path):
    from authpulse_dagster.lanl.readers import require_file

    with pytest.raises(InputError, match="is a directory, not a file"):
        require_file(tmp_path)
    with pytest.raises(InputError, match="input file not found"):
        require_file(tmp_path / "missing.txt")
    readable = tmp_path / "x.txt"
    readable.write_text("1,U1,C1\n")
    assert require_file(str(readable)) == readable
