"""Hosts as entities: ``host_risk_daily``, one row per active computer and day.

What: a computer is judged by the users it sees for the first time, as a
destination (both formats) and, in LANL 2015, as the source of remote logons:
how many users are new to it today, compared with the most it ever saw in a
day of its own history and with its peers (computers of the same role and
popularity), plus how many source computers reach it for the first time.
The events of the users new to it add their risk (user to host flow), and
the day scores decay over the window as users' do.

Why: an intruder works from a handful of hosts and spends many accounts on
them (LANL's real red team: four source computers, one of them authenticating
as 30-50 distinct users on a busy day where a workstation shows a handful).
Each account is diluted, seen a few times; the host is not. Several users
newly on one rare host, or newly coming from one source, is campaign
evidence no single user carries.

Anchors: Elastic entity risk scoring and Splunk risk-based alerting score
hosts ("systems") as well as users and alert on either, pivoting to the
other; the first-seen measure is Elastic's *new terms* (a user never seen on
this host in the lookback); the peer comparison follows Sentinel's
"uncommon among peers" insights. The popularity buckets are this project's
own design.

Parameters: ``hosts`` in ``risk/config.py`` (min_history_days, min_site_days, own_margin,
peer_quantile, scale, source_weight, user_flow, max_related_users).
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from authpulse_dagster.risk.config import RiskConfig
from authpulse_dagster.risk.decay import decayed_risk

MEASURES = ("new_users_in", "new_users_out", "new_sources_in")
REASONS = {
    "new_users_in": "host_new_users",
    "new_users_out": "host_new_source_users",
    "new_sources_in": "host_new_sources",
    "evidence": "host_user_evidence",
}


def mark_new(today: DataFrame, history: DataFrame, keys: list[str], lookback_days: int) -> DataFrame:
    """``today`` rows (``keys`` + ``event_date``) with ``is_new``: the keys not seen in the lookback before their day.

    An equi-join on the keys with a date range, so a long history is never
    paired with every target day.
    """
    h = history.select(*[F.col(k).alias(f"h_{k}") for k in keys], F.col("event_date").alias("h_date")).distinct()
    cond = [F.col(k) == F.col(f"h_{k}") for k in keys]
    cond.append((F.col("h_date") < F.col("event_date")) & (F.col("h_date") >= F.date_sub(F.col("event_date"), lookback_days)))
    seen = today.join(h, cond, "left_semi").select(*keys, "event_date").withColumn("seen", F.lit(True))
    return today.join(seen, [*keys, "event_date"], "left").withColumn("is_new", F.col("seen").isNull()).drop("seen")


def host_features(pairs: DataFrame, routes: DataFrame, days: list[date], lookback_days: int) -> tuple[DataFrame, DataFrame]:
    """Per computer and target day: users in/out, and how many of them (and of the sources) are new.

    Returns (features, first_seen) where ``first_seen`` lists ``computer_id,
    event_date, user_id`` for every user new to the computer that day (either role).
    The days are selected with a plain filter on ``event_date`` (not a join):
    the table writer's guard against rows outside the replaced days is pushed
    down by Spark, and must meet that filter, not the unfiltered history.
    """
    on_days = F.col("event_date").isin(days)
    in_day = pairs.where(on_days).select("computer_id", "user_id", "event_date")
    users_in = mark_new(in_day.distinct(), pairs, ["computer_id", "user_id"], lookback_days)
    remote = routes.where(F.col("src_computer_id") != F.col("computer_id"))
    remote_day = remote.where(on_days)
    out_today = remote_day.select(F.col("src_computer_id").alias("computer_id"), "user_id", "event_date").distinct()
    out_hist = remote.select(F.col("src_computer_id").alias("computer_id"), "user_id", "event_date")
    users_out = mark_new(out_today, out_hist, ["computer_id", "user_id"], lookback_days)
    src_today = remote_day.select("computer_id", "src_computer_id", "event_date").distinct()
    sources = mark_new(src_today, remote.select("computer_id", "src_computer_id", "event_date"), ["computer_id", "src_computer_id"], lookback_days)

    def count(df: DataFrame, total: str, new: str) -> DataFrame:
        return df.groupBy("computer_id", "event_date").agg(
            F.count(F.lit(1)).alias(total), F.sum(F.col("is_new").cast("long")).alias(new)
        )

    features = (
        count(users_in, "users_in", "new_users_in")
        .join(count(users_out, "users_out", "new_users_out"), ["computer_id", "event_date"], "full")
        .join(count(sources, "sources_in", "new_sources_in").drop("sources_in"), ["computer_id", "event_date"], "full")
    )
    features = features.select(
        "computer_id",
        "event_date",
        *[F.coalesce(F.col(c), F.lit(0)).cast("long").alias(c) for c in ("users_in", "new_users_in", "users_out", "new_users_out", "new_sources_in")],
    )
    first_seen = (
        users_in.where("is_new").select("computer_id", "event_date", "user_id")
        .unionByName(users_out.where("is_new").select("computer_id", "event_date", "user_id"))
        .distinct()
    )
    return features, first_seen


def _bucket(returning: Column) -> Column:
    # Popularity bucket from the users a host keeps (not today's newcomers, who would lift an attacked host among servers).
    return F.floor(F.log2(F.lit(1.0) + returning)).cast("int")


def expected_new(features: DataFrame, history: DataFrame, days_df: DataFrame, config: RiskConfig) -> DataFrame:
    """Add ``expected_<measure>``: what a normal day of this host brings, from its own history and its peers.

    ``history`` holds feature rows of earlier days (the stored
    ``host_risk_daily`` plus the range's own earlier days). Own: the highest
    value in the host's history (hosts with fewer than ``min_history_days``
    days of it have none). Peers: the ``peer_quantile`` of the measure over
    all history rows of the same popularity bucket. Expected = max(own, peers)
    + margin; peers + margin for a host without its own history. ``judged``:
    false while neither the host has ``min_history_days`` days of history
    nor the site ``min_site_days`` (its newcomers then score nothing).
    """
    p = config.hosts
    lookback = config.history.lookback_days
    hist = history.select(
        F.col("computer_id").alias("h_computer"),
        F.col("event_date").alias("h_date"),
        *MEASURES,
        _bucket(F.col("users_in") - F.col("new_users_in")).alias("b_in"),
        _bucket(F.col("users_out") - F.col("new_users_out")).alias("b_out"),
    )
    in_window = hist.join(
        days_df, (F.col("h_date") < F.col("day")) & (F.col("h_date") >= F.date_sub(F.col("day"), lookback))
    )
    own = in_window.groupBy(F.col("h_computer").alias("computer_id"), F.col("day").alias("event_date")).agg(
        F.count(F.lit(1)).alias("history_days"),
        *[F.max(m).alias(f"own_{m}") for m in MEASURES],
    )
    peers_in = in_window.groupBy("day", "b_in").agg(
        F.percentile_approx("new_users_in", p.peer_quantile).alias("peer_new_users_in"),
        F.percentile_approx("new_sources_in", p.peer_quantile).alias("peer_new_sources_in"),
    )
    peers_out = in_window.groupBy("day", "b_out").agg(F.percentile_approx("new_users_out", p.peer_quantile).alias("peer_new_users_out"))
    f = (
        features.withColumn("b_in", _bucket(F.col("users_in") - F.col("new_users_in")))
        .withColumn("b_out", _bucket(F.col("users_out") - F.col("new_users_out")))
        .join(own, ["computer_id", "event_date"], "left")
        .join(F.broadcast(peers_in.withColumnRenamed("day", "event_date")), ["event_date", "b_in"], "left")
        .join(F.broadcast(peers_out.withColumnRenamed("day", "event_date")), ["event_date", "b_out"], "left")
    )
    site = in_window.groupBy(F.col("day").alias("event_date")).agg(F.countDistinct("h_date").alias("site_days"))
    f = f.join(F.broadcast(site), "event_date", "left")
    judged = F.coalesce(F.col("history_days"), F.lit(0)) >= p.min_history_days
    # Without its own history a host is held to its peers', and without enough of those its newcomers
    # are not judged at all (``judged``): an empty baseline made every busy host of the first warm day
    # look like a campaign.
    f = f.withColumn("judged", judged | (F.coalesce(F.col("site_days"), F.lit(0)) >= p.min_site_days))
    for m in MEASURES:
        peer_m = F.coalesce(F.col(f"peer_{m}"), F.lit(0))
        own_m = F.when(judged, F.col(f"own_{m}")).otherwise(F.lit(0))
        f = f.withColumn(f"expected_{m}", (F.greatest(own_m, peer_m) + p.own_margin).cast("double"))
    return f.drop(
        "b_in", "b_out", "history_days", "site_days", *[f"own_{m}" for m in MEASURES], *[f"peer_{m}" for m in MEASURES]
    )


def host_evidence(scores: DataFrame, first_seen: DataFrame, config: RiskConfig) -> DataFrame:
    """Per computer and day: the risk its new users brought (top event scores above the floor, on it or from it).

    Also the related users, riskiest first: every user new to it that day,
    ranked by the evidence of their events there, and that evidence
    (``related_evidence``, same order), so the flow back to a user can leave
    out what the user brought (``scoring.host_flow``).
    """
    floor = config.day_event_floor
    strong = scores.where(F.col("score") > floor).select(
        "user_id", "event_date", "score", "computer_id", "src_computer_id"
    )
    on_host = strong.select("user_id", "event_date", "score", "computer_id").unionByName(
        strong.where(F.col("src_computer_id").isNotNull() & (F.col("src_computer_id") != F.col("computer_id"))).select(
            "user_id", "event_date", "score", F.col("src_computer_id").alias("computer_id")
        )
    )
    per_user = (
        on_host.join(first_seen, ["computer_id", "event_date", "user_id"])
        .groupBy("computer_id", "event_date", "user_id")
        .agg(F.max(F.col("score") - floor).alias("user_evidence"))
    )
    related = (
        first_seen.join(per_user, ["computer_id", "event_date", "user_id"], "left")
        .withColumn("user_evidence", F.coalesce("user_evidence", F.lit(0.0)))
        .groupBy("computer_id", "event_date")
        .agg(
            F.sort_array(F.collect_list(F.struct((-F.col("user_evidence")).alias("neg"), F.col("user_id")))).alias("r"),
        )
        .select(
            "computer_id",
            "event_date",
            F.slice(F.transform("r", lambda x: x["user_id"]), 1, config.hosts.max_related_users).alias("related_users"),
            F.slice(F.transform("r", lambda x: -x["neg"]), 1, config.hosts.max_related_users).alias("related_evidence"),
            # The strongest users' evidence, as the day score of a user counts its top events.
            F.aggregate(
                F.slice(F.transform("r", lambda x: -x["neg"]), 1, config.day_top_k), F.lit(0.0), lambda acc, x: acc + x
            ).alias("evidence"),
        )
    )
    return related


def day_scores(features: DataFrame, evidence: DataFrame, config: RiskConfig) -> DataFrame:
    """The host's day score from its excess newcomers and the evidence of its new users; warm days only (``warm``)."""
    p = config.hosts
    f = features.join(evidence, ["computer_id", "event_date"], "left").withColumn(
        "evidence", F.coalesce("evidence", F.lit(0.0))
    ).withColumn("related_users", F.coalesce("related_users", F.array().cast("array<string>"))).withColumn(
        "related_evidence", F.coalesce("related_evidence", F.array().cast("array<double>"))
    )
    parts = {
        "new_users_in": F.greatest(F.col("new_users_in") - F.col("expected_new_users_in"), F.lit(0.0)),
        "new_users_out": F.greatest(F.col("new_users_out") - F.col("expected_new_users_out"), F.lit(0.0)),
        "new_sources_in": p.source_weight * F.greatest(F.col("new_sources_in") - F.col("expected_new_sources_in"), F.lit(0.0)),
    }
    for name, col in parts.items():
        f = f.withColumn(f"x_{name}", F.when(F.col("judged"), col).otherwise(F.lit(0.0)))
    excess = sum((F.col(f"x_{n}") for n in parts), F.lit(0.0))
    novelty = 100.0 * (1.0 - F.exp(-excess / p.scale))
    score = F.least(F.lit(100.0), novelty + p.user_flow * F.col("evidence"))
    f = f.withColumn("day_score", F.when(F.col("warm"), score).otherwise(F.lit(0.0)))
    contributions = [F.struct((-F.col(f"x_{n}")).alias("c"), F.lit(REASONS[n]).alias("reason")) for n in parts]
    contributions.append(F.struct((-p.user_flow * F.col("evidence") / 50.0).alias("c"), F.lit(REASONS["evidence"]).alias("reason")))
    ranked = F.filter(F.sort_array(F.array(*contributions)), lambda x: x["c"] < 0)
    return f.withColumn(
        "top_reasons", F.when(F.col("day_score") > 0, F.transform(ranked, lambda x: x["reason"])).otherwise(F.array().cast("array<string>"))
    ).withColumn("expected_in", F.when(F.col("warm"), F.col("expected_new_users_in"))).withColumn(
        "expected_out", F.when(F.col("warm"), F.col("expected_new_users_out"))
    )


def host_risk_daily(
    spark: SparkSession,
    pairs: DataFrame,
    routes: DataFrame,
    scores: DataFrame,
    earlier: DataFrame,
    days: list[date],
    config: RiskConfig,
) -> DataFrame:
    """``host_risk_daily`` rows for ``days`` (and only those days).

    ``pairs`` (user_host_daily) and ``routes`` (user_route_daily) cover the
    lookback before the first day through the last; ``scores`` are the days'
    risk_scores; ``earlier`` the stored host_risk_daily rows of the lookback
    before the first day (history for the baselines and the decay).

    A day without enough site history (the first days of a dataset, when
    every user is new everywhere) scores 0 and stores ``expected_in`` /
    ``expected_out`` as null: such rows are not a normal day and never enter
    a later day's baseline, whether that day is computed in the same range
    or later (batch and stream see the same history).
    """
    days = sorted(set(days))
    days_df = F.broadcast(spark.createDataFrame([(d,) for d in days], "day date"))
    lookback = config.history.lookback_days
    features, first_seen = host_features(pairs, routes, days, lookback)
    # Each stage below reads its input several times (baselines, evidence, decay); without a cut the
    # optimised plan repeats the whole feature lineage per read (megabytes of plan, minutes of planning).
    features, first_seen = features.localCheckpoint(), first_seen.localCheckpoint()
    site_days = pairs.select("event_date").distinct()
    warm = F.broadcast(
        site_days.join(days_df, (F.col("event_date") < F.col("day")) & (F.col("event_date") >= F.date_sub(F.col("day"), lookback)))
        .groupBy("day").count().where(F.col("count") >= config.history.min_history_days).select("day")
    )
    features = features.join(
        warm.select(F.col("day").alias("event_date"), F.lit(True).alias("warm")), "event_date", "left"
    ).withColumn("warm", F.coalesce("warm", F.lit(False)))
    cols = ["computer_id", "event_date", "users_in", "new_users_in", "users_out", "new_users_out", "new_sources_in"]
    stored = earlier.where(~F.col("event_date").isin(days)).select(*cols, F.col("expected_in").isNotNull().alias("warm"))
    history = stored.unionByName(features.select(*cols, "warm")).where("warm").drop("warm")
    expected = expected_new(features, history, days_df, config)
    scored = day_scores(expected, host_evidence(scores, first_seen, config), config).localCheckpoint()
    decayed = decayed_risk(scored, earlier, "computer_id", config)
    return decayed.select(
        "computer_id",
        "event_date",
        "users_in",
        "new_users_in",
        "new_sources_in",
        "users_out",
        "new_users_out",
        "expected_in",
        "expected_out",
        F.col("evidence").cast("double"),
        F.col("day_score").cast("double"),
        F.col("risk_score").cast("double"),
        "related_users",
        "top_reasons",
        F.lit(config.model_version).alias("model_version"),
        "related_evidence",
    )
