"""Batch pipeline benchmark: bronze → silver → gold on N generated events, against a DuckDB baseline.

    python bench/batch_pipeline.py --events 1000000 [--repeat 3]

The data is generated once; each engine then runs ``--repeat`` times, every
run in a fresh subprocess (so peak memory is that run's own) on a fresh data
home. AuthPulse runs the same step functions the Dagster assets call, on
local Spark; Spark's start-up is timed separately. The baseline does the same
silver and gold computation in DuckDB SQL on the same file and writes Parquet.
Figures are medians over the runs. Peak memory is the high-water mark of
resident memory (VmHWM) of the Python process and, for AuthPulse, of the
Spark JVM it drives.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DAYS = 14  # two full weeks: the weekly rhythm averages out, and the risk rules get a week of history to judge by
# The DuckDB baseline does what these steps do; the rest of the pipeline registry (risk) and the
# dashboard are timed on top.
CORE_STEPS = ["bronze", "silver", "user_host_daily", "user_behavior", "host_popularity"]
EPOCH = "2024-01-01T00:00:00+00:00"
LOOKBACK = 30


def vm_hwm_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def jvm_pid() -> int | None:
    me = os.getpid()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                stat = (proc / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == me and b"java" in (proc / "cmdline").read_bytes():
                    return int(proc.name)
            except (OSError, ValueError, IndexError):
                continue
    return None


def run_authpulse(data: Path, home: Path) -> dict:
    os.environ.update({"AUTHPULSE_HOME": str(home), "AUTHPULSE_DATASET_EPOCH": EPOCH, "PYSPARK_PYTHON": sys.executable})
    from authpulse_dagster.pipeline import PIPELINE
    from authpulse_dagster.settings import Settings
    from authpulse_dagster.spark import get_spark
    from authpulse_dagster.steps.context import StepContext
    from authpulse_dagster import local_stack
    from authpulse_dagster.local_stack import apply_local_environment
    from authpulse_dagster.steps.registry import run_step

    settings = Settings.from_env()
    # Alerts are delivered through SNS, so the child has its own local stack.
    local_stack.up(settings, port=local_stack.find_free_port())
    apply_local_environment(settings)
    landing = settings.landing_dir / "lanl2014"
    landing.mkdir(parents=True)
    (landing / data.name).symlink_to(data)
    t0 = time.monotonic()
    spark = get_spark(settings, "authpulse-bench")
    startup = time.monotonic() - t0
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(DAYS)]
    seconds, rows = {}, {}
    risk_steps = [s.name for s in PIPELINE if s.name not in CORE_STEPS]
    for step in [s.name for s in PIPELINE] + ["risk_dashboard"]:
        t = time.monotonic()
        result = run_step(step, StepContext(settings, days, "bench", open_spark=spark))
        seconds[step] = time.monotonic() - t
        rows.update({name: meta["rows"] for name, meta in result.metadata.items() if "rows" in meta})
    pid = jvm_pid()
    local_stack.down(settings)
    return {
        "spark_startup_s": startup,
        "pipeline_s": sum(seconds[s] for s in CORE_STEPS),
        "risk_s": sum(seconds[s] for s in risk_steps),
        "risk_steps": risk_steps,
        "dashboard_s": seconds["risk_dashboard"],
        "step_s": seconds,
        "rows": rows,
        "python_peak_mb": vm_hwm_mb(),
        "jvm_peak_mb": vm_hwm_mb(pid) if pid else None,
    }


BASELINE_SQL = """
CREATE TABLE raw AS
  SELECT row_number() OVER () AS line_number, line
  FROM read_csv('{data}', columns={{'line': 'VARCHAR'}}, header=false, delim='\\x01', quote='', escape='',
                auto_detect=false, compression='auto');
CREATE TABLE parsed AS
  SELECT line_number, line, string_split(line, ',') AS f FROM raw;
CREATE TABLE valid AS
  SELECT line_number, line, CAST(f[1] AS BIGINT) AS t, f[2] AS user_id, f[3] AS computer_id
  FROM parsed
  WHERE len(f) = 3 AND regexp_full_match(f[1], '[0-9]{{1,18}}') AND regexp_full_match(f[2], 'U[0-9]+')
    AND regexp_full_match(f[3], 'C[0-9]+') AND CAST(f[1] AS BIGINT) <= {max_seconds};
CREATE TABLE quarantine AS
  SELECT line_number, line FROM raw ANTI JOIN valid USING (line_number);
CREATE TABLE with_ids AS
  SELECT md5(line || chr(31) || CAST(row_number() OVER (PARTITION BY t, line ORDER BY line_number) - 1 AS VARCHAR)) AS event_id,
         line_number, t, user_id, computer_id FROM valid;
CREATE TABLE auth_events AS
  SELECT event_id, to_timestamp({epoch} + t) AS event_ts, CAST(to_timestamp({epoch} + t) AS DATE) AS event_date, t AS dataset_time,
         user_id, computer_id, hour(to_timestamp({epoch} + t)) AS event_hour, isodow(to_timestamp({epoch} + t)) AS day_of_week,
         line_number
  FROM with_ids
  QUALIFY row_number() OVER (PARTITION BY event_id ORDER BY line_number) = 1;
CREATE TABLE user_host_daily AS
  SELECT user_id, computer_id, event_date, count(*) AS events, min(event_ts) AS first_seen, max(event_ts) AS last_seen
  FROM auth_events GROUP BY ALL;
CREATE TABLE flagged AS
  SELECT t.*, NOT EXISTS (
      SELECT 1 FROM user_host_daily h
      WHERE h.user_id = t.user_id AND h.computer_id = t.computer_id
        AND h.event_date < t.event_date AND h.event_date >= t.event_date - INTERVAL {lookback} DAY) AS is_new
  FROM user_host_daily t;
CREATE TABLE user_behavior AS
  SELECT user_id, event_date, '1d' AS "window", CAST(event_date AS TIMESTAMPTZ) AS window_start,
         sum(events) AS events, count(*) AS distinct_computers, sum(CAST(is_new AS BIGINT)) AS new_computers,
         min(first_seen) AS first_seen, max(last_seen) AS last_seen
  FROM flagged GROUP BY user_id, event_date
  UNION ALL BY NAME
  SELECT w.user_id, CAST(w.ws AS DATE) AS event_date, '{w1}' AS "window", w.ws AS window_start, w.events,
         w.distinct_computers, coalesce(n.new_computers, 0) AS new_computers, w.first_seen, w.last_seen
  FROM (SELECT user_id, time_bucket(INTERVAL '{i1}', event_ts) AS ws, count(*) AS events,
               count(DISTINCT computer_id) AS distinct_computers, min(event_ts) AS first_seen, max(event_ts) AS last_seen
        FROM auth_events GROUP BY ALL) w
  LEFT JOIN (SELECT user_id, time_bucket(INTERVAL '{i1}', first_seen) AS ws, count(*) AS new_computers
             FROM flagged WHERE is_new GROUP BY ALL) n USING (user_id, ws)
  UNION ALL BY NAME
  SELECT w.user_id, CAST(w.ws AS DATE) AS event_date, '{w2}' AS "window", w.ws AS window_start, w.events,
         w.distinct_computers, coalesce(n.new_computers, 0) AS new_computers, w.first_seen, w.last_seen
  FROM (SELECT user_id, time_bucket(INTERVAL '{i2}', event_ts) AS ws, count(*) AS events,
               count(DISTINCT computer_id) AS distinct_computers, min(event_ts) AS first_seen, max(event_ts) AS last_seen
        FROM auth_events GROUP BY ALL) w
  LEFT JOIN (SELECT user_id, time_bucket(INTERVAL '{i2}', first_seen) AS ws, count(*) AS new_computers
             FROM flagged WHERE is_new GROUP BY ALL) n USING (user_id, ws);
CREATE TABLE days AS SELECT DISTINCT event_date AS day FROM auth_events;
CREATE TABLE host_popularity AS
  WITH win AS (
    SELECT d.day, p.user_id, p.computer_id FROM days d JOIN user_host_daily p
      ON p.event_date BETWEEN d.day - INTERVAL {lookback_minus_1} DAY AND d.day),
  lb AS (SELECT computer_id, day, count(DISTINCT user_id) AS distinct_users_lookback FROM win GROUP BY ALL),
  act AS (SELECT day, count(DISTINCT user_id) AS active_users_lookback FROM win GROUP BY ALL)
  SELECT p.computer_id, p.event_date, count(*) AS distinct_users, sum(p.events) AS events,
         any_value(lb.distinct_users_lookback) AS distinct_users_lookback,
         any_value(act.active_users_lookback) AS active_users_lookback,
         ln((any_value(act.active_users_lookback) + 1) / (any_value(lb.distinct_users_lookback) + 1)) AS rarity
  FROM user_host_daily p JOIN lb ON lb.computer_id = p.computer_id AND lb.day = p.event_date
  JOIN act ON act.day = p.event_date GROUP BY p.computer_id, p.event_date;
"""


def run_duckdb(data: Path, home: Path) -> dict:
    import duckdb
    from datetime import datetime

    home.mkdir(parents=True)
    con = duckdb.connect(str(home / "baseline.duckdb"))
    con.execute(f"SET threads = {os.cpu_count()}; SET TimeZone = 'UTC'")
    epoch = int(datetime.fromisoformat(EPOCH).timestamp())
    sql = BASELINE_SQL.format(
        data=data, epoch=epoch, max_seconds=3 * 365 * 86400, lookback=LOOKBACK, lookback_minus_1=LOOKBACK - 1,
        w1="5m", i1="5 minutes", w2="1h", i2="1 hour",
    )
    t = time.monotonic()
    con.execute(sql)
    rows = {}
    for table in ["auth_events", "quarantine", "user_host_daily", "user_behavior", "host_popularity"]:
        con.execute(f"COPY {table} TO '{home / table}.parquet' (FORMAT parquet)")
        rows[table] = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    return {"pipeline_s": time.monotonic() - t, "rows": rows, "python_peak_mb": vm_hwm_mb()}


def child(args: argparse.Namespace) -> None:
    fn = run_authpulse if args.child == "authpulse" else run_duckdb
    print(json.dumps(fn(Path(args.data), Path(args.home))))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--events", type=int, default=1_000_000)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--child", choices=["authpulse", "duckdb"], help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    p.add_argument("--home", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args)

    from authpulse_dagster.lanl.generator import generate

    work = Path(tempfile.mkdtemp(prefix="authpulse-bench-"))
    try:
        users = max(10, round(args.events / (DAYS * 100)))
        data = work / "events.txt.gz"
        stats = generate(data, users=users, computers=2 * users, days=DAYS, seed=args.seed, progress=False)
        print(f"machine: {platform.machine()}, {os.cpu_count()} cores, "
              f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; python {platform.python_version()}")
        print(f"input: {stats.events:,} events, {users:,} users, {DAYS} days, gzip, generated in {stats.seconds:.1f} s")
        runs: dict[str, list[dict]] = {"authpulse": [], "duckdb": []}
        for i in range(args.repeat):
            for engine in runs:
                out = subprocess.run(
                    [sys.executable, __file__, "--child", engine, "--data", str(data), "--home", str(work / f"{engine}-{i}")],
                    capture_output=True, text=True, check=False,
                )
                if out.returncode != 0:
                    sys.exit(f"{engine} run failed:\n{out.stderr[-4000:]}")
                runs[engine].append(json.loads(out.stdout.strip().splitlines()[-1]))
                shutil.rmtree(work / f"{engine}-{i}", ignore_errors=True)
                print(f"  run {i + 1}/{args.repeat} {engine}: {runs[engine][-1]['pipeline_s']:.1f} s", flush=True)
        report(stats.events, runs)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def med(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def report(events: int, runs: dict[str, list[dict]]) -> None:
    a, d = runs["authpulse"], runs["duckdb"]
    a_s, d_s = med(a, "pipeline_s"), med(d, "pipeline_s")
    print(f"\nmedians of {len(a)} runs, {events:,} events")
    print(f"{'':<28}{'AuthPulse (Spark+Iceberg)':>28}{'DuckDB baseline':>18}")
    print(f"{'pipeline seconds':<28}{a_s:>28.1f}{d_s:>18.1f}")
    print(f"{'events/s':<28}{events / a_s:>28,.0f}{events / d_s:>18,.0f}")
    print(f"{'python peak RSS (MiB)':<28}{med(a, 'python_peak_mb'):>28,.0f}{med(d, 'python_peak_mb'):>18,.0f}")
    jvm = [r["jvm_peak_mb"] for r in a if r["jvm_peak_mb"]]
    print(f"{'Spark JVM peak RSS (MiB)':<28}{statistics.median(jvm) if jvm else float('nan'):>28,.0f}{'-':>18}")
    print(f"{'Spark start-up s (excluded)':<28}{med(a, 'spark_startup_s'):>28.1f}{'-':>18}")
    print(f"ratio AuthPulse/DuckDB time: {a_s / d_s:.2f}x")
    r_s = med(a, "risk_s")
    print(f"risk steps on top ({', '.join(a[0]['risk_steps'])}): {r_s:.1f} s (+{100 * r_s / a_s:.0f}% of the pipeline), "
          f"dashboard {med(a, 'dashboard_s'):.1f} s")
    print("AuthPulse seconds per step: " + ", ".join(
        f"{s} {statistics.median(r['step_s'][s] for r in a):.1f}" for s in a[0]["step_s"]))
    print("rows (AuthPulse / DuckDB): " + ", ".join(
        f"{t} {a[0]['rows'].get(t, '-'):,}/{d[0]['rows'].get(t, '-'):,}" for t in d[0]["rows"]))


if __name__ == "__main__":
    main()
