"""Gold aggregates checked against an independent pandas computation on the same input."""

from datetime import date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from authpulse_dagster.transforms import gold

DAYS = [date(2024, 1, 1) + timedelta(days=i) for i in range(4)]
LOOKBACK = 2


@pytest.fixture(scope="module")
def events_pd() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 3000
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
    secs = np.sort(rng.integers(0, len(DAYS) * 86400, n))
    df = pd.DataFrame(
        {
            "user_id": [f"U{u}" for u in rng.integers(1, 25, n)],
            "computer_id": [f"C{c}" for c in rng.zipf(1.6, n) % 30],
            "event_ts": [t0 + timedelta(seconds=int(s)) for s in secs],
        }
    )
    df["event_date"] = [ts.date() for ts in df["event_ts"]]
    return df


@pytest.fixture(scope="module")
def events_sp(spark, events_pd):
    return spark.createDataFrame(events_pd, "user_id string, computer_id string, event_ts timestamp, event_date date")


def _pairs_pd(e: pd.DataFrame) -> pd.DataFrame:
    return (
        e.groupby(["user_id", "computer_id", "event_date"])
        .agg(events=("event_ts", "size"), first_seen=("event_ts", "min"), last_seen=("event_ts", "max"))
        .reset_index()
    )


def _utc(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, utc=True)


def test_user_host_daily_matches_pandas(spark, events_sp, events_pd):
    got = gold.user_host_daily(events_sp).toPandas()
    want = _pairs_pd(events_pd)
    key = ["user_id", "computer_id", "event_date"]
    got, want = got.sort_values(key).reset_index(drop=True), want.sort_values(key).reset_index(drop=True)
    assert got[key + ["events"]].astype(str).equals(want[key + ["events"]].astype(str))
    assert (_utc(got["first_seen"]) == _utc(want["first_seen"])).all()
    assert (_utc(got["last_seen"]) == _utc(want["last_seen"])).all()


def _new_pairs_pd(pairs: pd.DataFrame) -> pd.DataFrame:
    seen = set(zip(pairs.user_id, pairs.computer_id, pairs.event_date))
    is_new = [
        not any((u, c, d - timedelta(days=k)) in seen for k in range(1, LOOKBACK + 1))
        for u, c, d in zip(pairs.user_id, pairs.computer_id, pairs.event_date)
    ]
    return pairs.assign(is_new=is_new)


def test_user_behavior_matches_pandas(spark, events_sp, events_pd):
    target = DAYS[1:]
    pairs_sp = gold.user_host_daily(events_sp)
    got = gold.user_behavior(events_sp, pairs_sp, target, LOOKBACK).toPandas()
    pairs = _new_pairs_pd(_pairs_pd(events_pd))
    pairs = pairs[pairs.event_date.isin(target)]
    e = events_pd[events_pd.event_date.isin(target)].copy()

    daily = pairs.groupby(["user_id", "event_date"]).agg(
        events=("events", "sum"), distinct_computers=("computer_id", "size"), new_computers=("is_new", "sum")
    )
    g = got[got.window == "1d"].set_index(["user_id", "event_date"]).sort_index()
    assert len(g) == len(daily)
    for col in ["events", "distinct_computers", "new_computers"]:
        assert list(g[col]) == list(daily.sort_index()[col]), col

    for name, freq in [("5m", "5min"), ("1h", "1h")]:
        e["ws"] = e.event_ts.dt.floor(freq)
        per = e.groupby(["user_id", "ws"]).agg(events=("event_ts", "size"), distinct_computers=("computer_id", "nunique"))
        newp = pairs[pairs.is_new].assign(ws=lambda p: p.first_seen.dt.floor(freq)).groupby(["user_id", "ws"]).size()
        per["new_computers"] = newp.reindex(per.index).fillna(0).astype(int)
        w = got[got.window == name].copy()
        w["ws"] = _utc(w.window_start)
        w = w.set_index(["user_id", "ws"]).sort_index()
        per = per.sort_index()
        assert len(w) == len(per), name
        for col in ["events", "distinct_computers", "new_computers"]:
            assert list(w[col]) == list(per[col]), (name, col)


def test_host_popularity_matches_pandas(spark, events_sp, events_pd):
    target = DAYS[1:]
    got = gold.host_popularity(spark, gold.user_host_daily(events_sp), target, LOOKBACK).toPandas()
    pairs = _pairs_pd(events_pd)
    rows = []
    for d in target:
        window = pairs[(pairs.event_date > d - timedelta(days=LOOKBACK)) & (pairs.event_date <= d)]
        active = window.user_id.nunique()
        today = pairs[pairs.event_date == d]
        for c, grp in today.groupby("computer_id"):
            lb = window[window.computer_id == c].user_id.nunique()
            rows.append((c, d, grp.user_id.nunique(), grp.events.sum(), lb, active, np.log((active + 1) / (lb + 1))))
    want = pd.DataFrame(rows, columns=list(got.columns)).sort_values(["computer_id", "event_date"]).reset_index(drop=True)
    got = got.sort_values(["computer_id", "event_date"]).reset_index(drop=True)
    assert len(got) == len(want)
    for col in ["distinct_users", "events", "distinct_users_lookback", "active_users_lookback"]:
        assert list(got[col]) == list(want[col]), col
    assert np.allclose(got.rarity, want.rarity)
