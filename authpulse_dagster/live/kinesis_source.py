"""A Kinesis source for Spark Structured Streaming, as a Python data source.

``spark.readStream.format("kinesis")`` after :func:`register`. Options:

==============================  ==========================================================
``streamName`` / ``streamARN``  the stream (one of them is required)
``endpointUrl``                 Kinesis endpoint; default: the standard AWS environment
``region``                      default: ``AWS_REGION`` / ``AWS_DEFAULT_REGION``
``startingPosition``            ``TRIM_HORIZON`` (default), ``LATEST`` or ``AT_TIMESTAMP``
``startingTimestamp``           ISO-8601, for ``AT_TIMESTAMP`` (naive means UTC)
``maxRecordsPerBatch``          records per micro-batch at most (default 10000)
``maxCallsPerShardPerSecond``   GetRecords calls per shard per second at most (default 5)
==============================  ==========================================================

Run :func:`register` after the AWS environment is set: it hands the driver's
``AWS_*`` variables to the source's Python workers, which Spark otherwise
starts with the environment the JVM was launched with.

Why :class:`SimpleDataSourceStreamReader`: Kinesis cannot tell where a shard
ends without reading it (there is no "latest sequence number" call), so the
end of a micro-batch can only be fixed by reading. The simple reader does
exactly that once, on the driver, in ``read(start)``: the rows are cached by
Spark for the batch and the end offset records, per shard, the sequence
number of the last row. A batch replayed after a crash goes through
``readBetweenOffsets(start, end)``, which re-reads each shard with an
AFTER_SEQUENCE_NUMBER iterator up to that recorded sequence number, so it
returns the same records. A partitioned ``DataSourceStreamReader`` would have
to read everything twice (once to plan the end, once in the tasks). The price
is that a batch flows through the driver's Python process, which
``maxRecordsPerBatch`` bounds.

Spark 4.1 gives Python sources no admission control (no ``ReadLimit``) and
no ``SupportsTriggerAvailableNow``: ``trigger(availableNow=True)`` falls back
to a single micro-batch per run (SPARK-45178), i.e. at most
``maxRecordsPerBatch`` records. To drain a backlog in one run, use a
processing-time trigger with ``query.processAllAvailable()`` and then stop,
or run availableNow queries until one runs no batch. LATEST is fixed when the
query first plans; a run that plans no batch leaves no offset behind, so
after such an availableNow run the next run's LATEST is later. AT_TIMESTAMP
is the fixed alternative.

Offsets and resharding rules live in :mod:`authpulse_dagster.live.kinesis_shards`.
Within a micro-batch, all records of one partition key come from one shard
(a child shard is never read in the batch that finishes its parent), so
ordering a key's rows by ``sequence_number`` (as a number) is exact.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping

from botocore.exceptions import ClientError, ConnectionClosedError, ConnectTimeoutError, EndpointConnectionError
from pyspark.sql.datasource import DataSource, SimpleDataSourceStreamReader
from pyspark.sql.types import StructType

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.live.kinesis_shards import (
    AT_TIMESTAMP,
    LATEST,
    MAX_GET_RECORDS_LIMIT,
    STARTING_POSITIONS,
    TRIM_HORIZON,
    CallLimiter,
    Offset,
    Position,
    ShardInfo,
    ShardState,
    caught_up,
    iterator_request,
    readable_shards,
    rotate,
    sequence_at_or_before,
    shard_finished,
    split_budget,
    start_position,
)
from authpulse_dagster.settings import parse_epoch

log = logging.getLogger(__name__)

SCHEMA_DDL = (
    "data binary, stream_name string, partition_key string, shard_id string, sequence_number string, "
    "approximate_arrival_timestamp timestamp, millis_behind_latest long"
)

LIST_SHARDS_PAGE = 1000
# Shards read at once; boto3 clients are thread-safe and a shard's calls are paced separately.
MAX_PARALLEL_SHARDS = 8
# Shard iterators expire after 5 minutes; one kept between batches is renewed a little earlier.
ITERATOR_TTL_SECONDS = 270.0
# Backoff (s) after botocore's own retries gave up on a throttled shard; then the shard waits a batch.
THROTTLE_BACKOFF = (0.5, 1.0, 2.0)
# Errors of an endpoint that is not answering (after botocore's own retries): wait, do not fail the query.
_UNREACHABLE = (EndpointConnectionError, ConnectTimeoutError, ConnectionClosedError)
# A replay must return its whole range; it retries throttling longer before failing the batch.
REPLAY_THROTTLE_BACKOFF = (0.5, 1.0, 2.0, 4.0, 8.0, 8.0, 8.0)


@dataclass(frozen=True)
class SourceOptions:
    """The validated options of one query."""

    stream_name: str
    stream_arn: str | None = None
    endpoint_url: str | None = None
    region: str | None = None
    starting_position: str = TRIM_HORIZON
    starting_timestamp: datetime | None = None
    max_records_per_batch: int = 10_000
    max_calls_per_shard_per_second: int = 5

    @property
    def stream_kwargs(self) -> dict[str, str]:
        """How API calls name the stream: by ARN when one was given."""
        return {"StreamARN": self.stream_arn} if self.stream_arn else {"StreamName": self.stream_name}

    @property
    def get_records_kwargs(self) -> dict[str, str]:
        # GetRecords takes the ARN (for cross-account access) but never a stream name.
        return {"StreamARN": self.stream_arn} if self.stream_arn else {}


def _positive_int(raw: str | None, name: str, default: int) -> int:
    if raw is None or str(raw).strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"kinesis option {name}={raw!r} is not a whole number") from None
    if value < 1:
        raise ConfigError(f"kinesis option {name}={value} must be at least 1")
    return value


def parse_options(options: Mapping[str, str]) -> SourceOptions:
    """Validate the reader options (keys are case-insensitive, as in Spark)."""
    o = {str(k).lower(): v for k, v in options.items() if v is not None}
    arn = o.get("streamarn") or None
    name = o.get("streamname") or None
    if arn:
        # arn:aws:kinesis:<region>:<account>:stream/<name>
        resource = arn.split(":", 5)[-1]
        if not resource.startswith("stream/") or len(resource) <= len("stream/"):
            raise ConfigError(f"kinesis option streamARN={arn!r} is not a Kinesis stream ARN")
        arn_name = resource[len("stream/"):]
        if name and name != arn_name:
            raise ConfigError(f"kinesis options streamName={name!r} and streamARN={arn!r} name different streams")
        name = arn_name
    if not name:
        raise ConfigError("kinesis source needs the streamName or streamARN option")
    position = (o.get("startingposition") or TRIM_HORIZON).strip().upper()
    if position not in STARTING_POSITIONS:
        raise ConfigError(f"kinesis option startingPosition={position!r} must be one of: {', '.join(STARTING_POSITIONS)}")
    timestamp = None
    if position == AT_TIMESTAMP:
        raw = o.get("startingtimestamp")
        if not raw:
            raise ConfigError("kinesis startingPosition AT_TIMESTAMP needs the startingTimestamp option (ISO-8601)")
        timestamp = parse_epoch(raw, "startingTimestamp")
    return SourceOptions(
        stream_name=name,
        stream_arn=arn,
        endpoint_url=o.get("endpointurl") or None,
        region=o.get("region") or None,
        starting_position=position,
        starting_timestamp=timestamp,
        max_records_per_batch=_positive_int(o.get("maxrecordsperbatch"), "maxRecordsPerBatch", 10_000),
        max_calls_per_shard_per_second=_positive_int(
            o.get("maxcallspershardpersecond"), "maxCallsPerShardPerSecond", 5
        ),
    )


def _error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def list_shards(client: Any, stream_kwargs: Mapping[str, str], page_size: int = LIST_SHARDS_PAGE) -> list[ShardInfo]:
    """Every shard of the stream (open and closed within retention), following NextToken.

    Not boto3's paginator: it repeats the stream name with the token, which
    AWS rejects. Some emulators (moto) need the name with the token, so that
    form is the fallback when the token alone is refused.
    """
    resp = client.list_shards(**stream_kwargs, MaxResults=page_size)
    shards: dict[str, dict[str, Any]] = {s["ShardId"]: s for s in resp.get("Shards", [])}
    while token := resp.get("NextToken"):
        try:
            resp = client.list_shards(NextToken=token, MaxResults=page_size)
        except ClientError as exc:
            try:
                resp = client.list_shards(**stream_kwargs, NextToken=token, MaxResults=page_size)
            except ClientError:
                raise exc from None
        new = [s for s in resp.get("Shards", []) if s["ShardId"] not in shards]
        if not new and resp.get("NextToken") == token:
            break  # a token that does not advance would loop forever
        shards.update((s["ShardId"], s) for s in new)
    return [ShardInfo.from_api(s) for s in shards.values()]


def _default_client(options: SourceOptions) -> Any:
    """A Kinesis client for this process, built the project's one way (``aws.client_in_region``).

    Runs in Spark's Python workers, which have the query's options but no
    settings: the region is the ``region`` option (the job passes its
    settings' region). No endpoint is taken, so an ``endpointUrl`` option
    becomes ``AWS_ENDPOINT_URL_KINESIS`` of this process, the variable
    botocore reads for Kinesis before the global one.
    """
    from authpulse_dagster.aws import client_in_region

    if options.endpoint_url:
        os.environ["AWS_ENDPOINT_URL_KINESIS"] = options.endpoint_url
    return client_in_region("kinesis", options.region)


class ShardGone(Exception):
    """The shard no longer exists (trimmed after retention)."""


class _Cursor:
    """Reading progress in one shard during one planning round (one ``read`` call)."""

    def __init__(self, shard_id: str, state: ShardState, position: Position, closed: bool, iterator: str | None):
        self.shard_id = shard_id
        self.after = state.after
        self.done = state.done
        self.position = position
        self.closed = closed
        self.iterator = iterator
        self.rows: list[tuple] = []
        self.calls = 0
        self.more = False

    @property
    def state(self) -> ShardState:
        return ShardState(self.after, self.done)


class KinesisStreamReader(SimpleDataSourceStreamReader):
    """Reads a Kinesis stream for one streaming query (see the module docstring).

    Spark pickles the reader to executors (for replays), so the constructor
    keeps only options; clients, pacing and cached iterators are built lazily
    and dropped on pickling.
    """

    def __init__(
        self,
        options: SourceOptions,
        client_factory: Callable[[SourceOptions], Any] = _default_client,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.options = options
        self._client_factory = client_factory
        self._clock = clock
        self._sleep = sleep
        self._reset_runtime()

    def _reset_runtime(self) -> None:
        self._client: Any = None
        self._limiter: CallLimiter | None = None
        # shard id -> (after, iterator, obtained at): the iterator where the last round stopped,
        # valid only for a round that starts at the same ``after``.
        self._iterators: dict[str, tuple[str | None, str, float]] = {}
        self._turn = 0

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        for key in ("_client", "_limiter", "_iterators"):
            state.pop(key, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset_runtime()

    # -- AWS calls ---------------------------------------------------------------------------

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = self._client_factory(self.options)
        return self._client

    @property
    def limiter(self) -> CallLimiter:
        if self._limiter is None:
            self._limiter = CallLimiter(self.options.max_calls_per_shard_per_second, self._clock, self._sleep)
        return self._limiter

    def _list_shards(self) -> list[ShardInfo]:
        try:
            return list_shards(self.client, self.options.stream_kwargs)
        except ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                raise ConfigError(f"Kinesis stream {self.options.stream_name!r} not found: {exc}") from exc
            raise

    def _new_iterator(self, cursor: _Cursor) -> str:
        # GetShardIterator has the same per-shard limit as GetRecords, so it is paced with it.
        self.limiter.acquire(cursor.shard_id)
        try:
            resp = self.client.get_shard_iterator(
                **self.options.stream_kwargs,
                ShardId=cursor.shard_id,
                **iterator_request(cursor.after, cursor.position),
            )
        except ClientError as exc:
            if _error_code(exc) == "ResourceNotFoundException":
                raise ShardGone(cursor.shard_id) from exc
            raise
        return resp["ShardIterator"]

    def _get_records(self, cursor: _Cursor, limit: int, backoff: tuple[float, ...]) -> dict[str, Any] | None:
        """One GetRecords page for the cursor, or None if the shard stays throttled.

        An expired iterator is replaced from the cursor's position, which is
        exactly where the lost iterator pointed (``after`` moves only when
        records are delivered).
        """
        expired = throttled = 0
        while True:
            if cursor.iterator is None:
                cursor.iterator = self._new_iterator(cursor)
            self.limiter.acquire(cursor.shard_id)
            cursor.calls += 1
            try:
                return self.client.get_records(
                    ShardIterator=cursor.iterator, Limit=limit, **self.options.get_records_kwargs
                )
            except ClientError as exc:
                code = _error_code(exc)
                if code == "ExpiredIteratorException" and expired < 2:
                    expired += 1
                    cursor.iterator = None
                    continue
                if code == "ProvisionedThroughputExceededException":
                    if throttled >= len(backoff):
                        log.warning("shard %s still throttled after backing off; it waits for a later batch", cursor.shard_id)
                        return None
                    self._sleep(backoff[throttled])
                    throttled += 1
                    continue
                if code == "ResourceNotFoundException":
                    raise ShardGone(cursor.shard_id) from exc
                raise

    def _row(self, shard_id: str, record: Mapping[str, Any], millis_behind: int | None) -> tuple:
        return (
            bytes(record["Data"]),
            self.options.stream_name,
            record["PartitionKey"],
            shard_id,
            record["SequenceNumber"],
            record.get("ApproximateArrivalTimestamp"),
            millis_behind,
        )

    # -- planning: read(start) ---------------------------------------------------------------

    def initialOffset(self) -> dict:
        """Resolve the starting position once, so every later read and replay agrees on it."""
        opts = self.options
        if opts.starting_position == TRIM_HORIZON:
            start = Position(TRIM_HORIZON)
        elif opts.starting_position == LATEST:
            # LATEST as "arrived from now on": a LATEST iterator has no sequence number to record,
            # and a replayed first batch must start where the original did.
            start = Position(AT_TIMESTAMP, datetime.now(timezone.utc))
        else:
            start = Position(AT_TIMESTAMP, opts.starting_timestamp)
        shards = {s.shard_id: ShardState() for s in self._list_shards()}
        return Offset(start, shards, self._stream_created()).to_json()

    def _stream_created(self) -> str:
        resp = self.client.describe_stream_summary(**self.options.stream_kwargs)
        created = resp["StreamDescriptionSummary"]["StreamCreationTimestamp"]
        return created.astimezone(timezone.utc).isoformat() if isinstance(created, datetime) else str(created)

    def _same_stream(self, offset: Offset) -> str:
        """The stream's creation time; refuses an offset whose sequence numbers belong to an earlier stream."""
        created = self._stream_created()
        if offset.stream_created is not None and offset.stream_created != created:
            raise ConfigError(
                f"Kinesis stream {self.options.stream_name!r} was created again ({created}) after this checkpoint was "
                f"written (for the stream created {offset.stream_created}); its sequence numbers start over, so "
                "resuming would skip records. Start the job on a new checkpoint (delete the old one, by default "
                "$AUTHPULSE_HOME/checkpoints/stream, or pass --checkpoint to the stream job) and replay what the new "
                "stream should hold"
            )
        return created

    def read(self, start: dict) -> tuple[Iterator[tuple], dict]:
        """Read up to ``maxRecordsPerBatch`` records after ``start``; return them and the new offset.

        While the endpoint cannot be reached (the local stack restarting, a network blip) this
        returns nothing new: Spark plans no batch and asks again at the next trigger, so the job
        waits instead of failing.
        """
        offset = Offset.from_json(start)
        try:
            created = self._same_stream(offset)
            listing = self._list_shards()
        except _UNREACHABLE as exc:
            log.warning("Kinesis endpoint unreachable (%s); no new records until it answers", type(exc).__name__)
            return iter([]), start
        closed = {s.shard_id for s in listing if s.closed}
        order = rotate(readable_shards(listing, offset), self._turn)
        self._turn += 1
        cursors = {
            sid: _Cursor(
                sid,
                offset.shards.get(sid, ShardState()),
                start_position(sid, offset),
                sid in closed,
                self._cached_iterator(sid, offset.shards.get(sid, ShardState()).after),
            )
            for sid in order
        }
        remaining = self.options.max_records_per_batch
        max_calls = 2 * self.options.max_calls_per_shard_per_second  # about 2 s of polling per shard
        pending = order
        # Passes: every shard gets an even share; what idle shards leave goes to the busy ones.
        while pending and remaining > 0:
            quotas = {sid: q for sid, q in split_budget(remaining, pending).items() if q > 0}
            with ThreadPoolExecutor(max_workers=min(len(quotas), MAX_PARALLEL_SHARDS)) as pool:
                delivered = list(pool.map(lambda sid: self._pull(cursors[sid], quotas[sid], max_calls), quotas))
            remaining -= sum(delivered)
            pending = [sid for sid in quotas if cursors[sid].more]

        updates: dict[str, ShardState] = {}
        for sid, cursor in cursors.items():
            if cursor.calls == 0:
                pass  # not polled this round: a cached iterator keeps its age
            elif cursor.iterator is not None and not cursor.done:
                self._iterators[sid] = (cursor.after, cursor.iterator, self._clock())
            else:
                self._iterators.pop(sid, None)
            before = offset.shards.get(sid)
            # A new shard enters the offset only once it has progress: absent means "from TRIM_HORIZON".
            if (before is None and cursor.state != ShardState()) or (before is not None and cursor.state != before):
                updates[sid] = cursor.state
        rows = [row for sid in sorted(cursors) for row in cursors[sid].rows]
        if not updates:
            return iter(rows), start
        # A list iterator, not a generator: Spark's cache copies it with copy.copy.
        return iter(rows), offset.advanced(updates, created).to_json()

    def _cached_iterator(self, shard_id: str, after: str | None) -> str | None:
        cached = self._iterators.get(shard_id)
        if cached and cached[0] == after and self._clock() - cached[2] < ITERATOR_TTL_SECONDS:
            return cached[1]
        return None

    def _pull(self, cursor: _Cursor, quota: int, max_calls: int) -> int:
        """Read up to ``quota`` records from one shard; returns how many were delivered."""
        delivered = 0
        cursor.more = False
        try:
            while delivered < quota and not cursor.done and cursor.calls < max_calls:
                limit = min(MAX_GET_RECORDS_LIMIT, quota - delivered)
                resp = self._get_records(cursor, limit, THROTTLE_BACKOFF)
                if resp is None:
                    return delivered
                records = resp.get("Records") or []
                millis = resp.get("MillisBehindLatest")
                cursor.rows.extend(self._row(cursor.shard_id, r, millis) for r in records)
                if records:
                    cursor.after = records[-1]["SequenceNumber"]
                delivered += len(records)
                cursor.iterator = resp.get("NextShardIterator")
                if shard_finished(cursor.iterator, len(records), millis, cursor.closed):
                    cursor.done = True
                    cursor.iterator = None
                    return delivered
                if caught_up(len(records), limit, millis):
                    return delivered
        except ShardGone:
            log.warning("shard %s no longer exists (past retention?); it is treated as read to its end", cursor.shard_id)
            cursor.done = True
            cursor.iterator = None
            return delivered
        cursor.more = delivered >= quota and not cursor.done
        return delivered

    # -- replay: readBetweenOffsets(start, end) ----------------------------------------------

    def readBetweenOffsets(self, start: dict, end: dict) -> Iterator[tuple]:
        """The records of the batch (start, end], fetched again: same records, same order as ``read``."""
        begin, stop = Offset.from_json(start), Offset.from_json(end)
        rows: list[tuple] = []
        for sid in sorted(stop.shards):
            until = stop.shards[sid].after
            from_state = begin.shards.get(sid, ShardState())
            if until is None or until == from_state.after:
                continue
            # The end offset carries the query's resolved start too; it is durable in Spark's offset
            # log, whereas a recomputed initial offset (replay of batch 0) may have a later LATEST time.
            position = stop.start if sid in begin.shards else Position(TRIM_HORIZON)
            rows.extend(self._read_range(_Cursor(sid, from_state, position, False, None), until))
        return iter(rows)

    def _read_range(self, cursor: _Cursor, until: str) -> list[tuple]:
        rows: list[tuple] = []
        try:
            while True:
                resp = self._get_records(cursor, MAX_GET_RECORDS_LIMIT, REPLAY_THROTTLE_BACKOFF)
                if resp is None:
                    raise RuntimeError(f"Kinesis shard {cursor.shard_id} stayed throttled while replaying a batch")
                records = resp.get("Records") or []
                millis = resp.get("MillisBehindLatest")
                for r in records:
                    if not sequence_at_or_before(r["SequenceNumber"], until):
                        return rows
                    rows.append(self._row(cursor.shard_id, r, millis))
                    if sequence_at_or_before(until, r["SequenceNumber"]):
                        return rows
                if records:
                    cursor.after = records[-1]["SequenceNumber"]
                cursor.iterator = resp.get("NextShardIterator")
                if cursor.iterator is None or (not records and millis == 0):
                    break
        except ShardGone:
            pass
        raise RuntimeError(
            f"Kinesis shard {cursor.shard_id} no longer holds the records up to sequence number {until} "
            "that this batch was planned with (past retention?); the batch cannot be replayed exactly. "
            "Start the query from a new checkpoint."
        )

    def commit(self, end: dict) -> None:
        """Nothing to release: Kinesis keeps no consumer state for this source."""


class KinesisDataSource(DataSource):
    """The ``kinesis`` format: a streaming read of one Kinesis stream (see the module docstring)."""

    @classmethod
    def name(cls) -> str:
        return "kinesis"

    def schema(self) -> str:
        # Validated here too: schema() runs at load(), so a bad option fails before the query starts.
        parse_options(self.options)
        return SCHEMA_DDL

    def simpleStreamReader(self, schema: StructType) -> KinesisStreamReader:
        return KinesisStreamReader(parse_options(self.options))


def register(spark: Any, forward_environment: bool = True) -> None:
    """Register the ``kinesis`` format with ``spark``.

    Spark starts the source's Python workers with the environment the JVM
    was launched with, not the driver's current one. With
    ``forward_environment`` the driver's ``AWS_*`` variables (endpoint,
    region, credentials, profile, config files) as they are now are handed
    to those workers, so the source reaches the same AWS as the rest of this
    process, even after ``apply_local_environment`` or a test changed them.
    Registering again replaces the previous registration.
    """
    sc = getattr(spark, "sparkContext", None) if forward_environment else None
    if sc is None:
        spark.dataSource.register(KinesisDataSource)
        return
    # The registered function snapshots sc.environment, which is otherwise shared by every UDF.
    saved = dict(sc.environment)
    sc.environment.update({k: v for k, v in os.environ.items() if k.startswith("AWS_")})
    try:
        spark.dataSource.register(KinesisDataSource)
    finally:
        sc.environment.clear()
        sc.environment.update(saved)
