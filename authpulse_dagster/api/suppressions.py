"""A false positive closes the loop into detection: the same entity and reasons stay quiet for a while.

When an analyst marks an alert ``false_positive``, each of its reasons
becomes a suppression row ``(entity_type, entity, reason, after_day, until_day)``
with ``after_day`` = the alert's day and ``until_day`` = that day +
``AUTHPULSE_SUPPRESSION_DAYS`` (default 7). The alerts step then raises no
alert for an entity on a day in ``(after_day, until_day]`` whose reasons are *all*
suppressed for it: the pattern the analyst judged benign. A new reason, or
the same reasons after ``until_day``, alerts as before. The false-positive
alert itself stays (with its triage status): suppression only looks
forward.

Days are dataset days (the alert's ``event_date``), not wall-clock days, so
a replayed history suppresses the same alerts as a live one would.

:func:`from_triage` is pure (triage records in, rows out);
:func:`drop_suppressed` and :func:`silence` are the Spark side the alerts
step applies to its candidates (``export.for_alerts_step``). The rows reach the step through the export file
(:mod:`authpulse_dagster.api.export`), so detection never calls DynamoDB.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING, Iterable

from authpulse_dagster.api.triage import FALSE_POSITIVE, TriageState

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

SPARK_SCHEMA = (
    "entity_type string, entity string, reason string, after_day date, until_day date, alert_id string, set_by string, set_at string"
)


@dataclass(frozen=True)
class Suppression:
    entity_type: str
    entity: str
    reason: str
    after_day: date  # the false-positive alert's day: suppression starts the day after
    until_day: date  # last day suppressed (inclusive)
    alert_id: str
    set_by: str | None = None
    set_at: str | None = None

    def covers(self, entity_type: str, entity: str, reason: str, day: date) -> bool:
        return (self.entity_type, self.entity, self.reason) == (entity_type, entity, reason) and self.after_day < day <= self.until_day


def from_triage(states: Iterable[TriageState], days: int) -> list[Suppression]:
    """One row per reason of every alert marked false_positive; none when ``days`` is 0."""
    if days <= 0:
        return []
    rows: list[Suppression] = []
    for s in states:
        if s.status != FALSE_POSITIVE or not s.entity or not s.event_date:
            continue
        day = date.fromisoformat(s.event_date)
        for reason in dict.fromkeys(s.reasons):
            rows.append(Suppression(entity_type=s.entity_type or "user", entity=s.entity, reason=reason, after_day=day,
                                    until_day=day + timedelta(days=days), alert_id=s.alert_id, set_by=s.updated_by, set_at=s.updated_at))
    return sorted(rows, key=lambda r: (r.entity_type, r.entity, r.reason, r.after_day, r.alert_id))


def is_suppressed(rows: Iterable[Suppression], entity_type: str, entity: str, reasons: Iterable[str], day: date) -> bool:
    """The rule :func:`drop_suppressed` applies, for one candidate: every reason covered (and at least one)."""
    reasons = list(reasons)
    rows = list(rows)
    return bool(reasons) and all(any(r.covers(entity_type, entity, reason, day) for r in rows) for reason in reasons)


def frame(spark: "SparkSession", rows: Iterable[Suppression]) -> "DataFrame":
    data = [(r.entity_type, r.entity, r.reason, r.after_day, r.until_day, r.alert_id, r.set_by, r.set_at) for r in rows]
    return spark.createDataFrame(data, SPARK_SCHEMA)


def drop_suppressed(
    candidates: "DataFrame", suppressions: "DataFrame", entity: str = "user_id", reasons: str = "top_reasons"
) -> "DataFrame":
    """``candidates`` without the rows (entity, day) whose reasons are all suppressed for that entity that day.

    The entity is ``entity_type``/``entity_id`` when the frame has them (host
    alerts), else user ``entity`` with type ``user``.
    """
    from pyspark.sql import functions as F

    has_type = "entity_type" in candidates.columns and "entity_id" in candidates.columns
    etype = F.col("entity_type") if has_type else F.lit("user")
    eid = F.col("entity_id") if has_type else F.col(entity)
    keyed = candidates.select(
        etype.alias("_etype"), eid.alias("_eid"), F.col("event_date").alias("_day"), F.explode(reasons).alias("_reason")
    )
    s = suppressions.select(
        F.col("entity_type").alias("_s_type"), F.col("entity").alias("_s_entity"), F.col("reason").alias("_s_reason"),
        F.col("after_day").alias("_s_after"), F.col("until_day").alias("_s_until"),
    )
    cond = (
        (F.col("_etype") == F.col("_s_type")) & (F.col("_eid") == F.col("_s_entity")) & (F.col("_reason") == F.col("_s_reason"))
        & (F.col("_day") > F.col("_s_after")) & (F.col("_day") <= F.col("_s_until"))
    )
    per_reason = keyed.join(F.broadcast(s), cond, "left").groupBy("_etype", "_eid", "_day", "_reason").agg(
        F.max(F.col("_s_type").isNotNull().cast("int")).alias("_covered")
    )
    silenced = per_reason.groupBy("_etype", "_eid", "_day").agg(F.min("_covered").alias("_all")).where(F.col("_all") == 1)
    tagged = candidates.withColumn("_etype", etype).withColumn("_eid", eid).withColumn("_day", F.col("event_date"))
    return tagged.join(silenced.select("_etype", "_eid", "_day"), ["_etype", "_eid", "_day"], "left_anti").drop("_etype", "_eid", "_day")


def silence(
    daily: "DataFrame", suppressions: "DataFrame", entity_type: str = "user", entity: str = "user_id", reasons: str = "top_reasons"
) -> "DataFrame":
    """``daily`` (user_risk_daily / host_risk_daily rows) with ``day_score`` 0 where the day is suppressed.

    The alert decision raises nothing for a day with nothing new (``day_score``
    0), so a suppressed day is no candidate and its place in the day's budget
    goes to the next one; the row itself (population, risk score) stays.
    """
    from pyspark.sql import functions as F

    tagged = daily.withColumn("_etype_in", F.lit(entity_type)).withColumn("_eid_in", F.col(entity))
    keys = tagged.select(F.col("_etype_in").alias("entity_type"), F.col("_eid_in").alias("entity_id"), "event_date", reasons)
    kept = drop_suppressed(keys, suppressions, reasons=reasons).select(
        F.col("entity_id").alias("_k_eid"), F.col("event_date").alias("_k_day"), F.lit(True).alias("_kept")
    )
    # Joined on columns named apart: both sides descend from ``daily``, and Spark would read x == x as always true.
    joined = tagged.join(kept, (F.col("_eid_in") == F.col("_k_eid")) & (F.col("event_date") == F.col("_k_day")), "left")
    quiet = F.size(F.col(reasons)) > 0
    return joined.select(
        *[F.when(quiet & F.col("_kept").isNull(), F.lit(0.0)).otherwise(F.col(c)).alias(c) if c == "day_score" else F.col(c)
          for c in daily.columns]
    )
