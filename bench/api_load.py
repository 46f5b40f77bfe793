"""Load test of the SOC API: GET /v1/alerts at a fixed rate with locust (headless), then the figures.

    bench/api_load.py [--home DIR] [--rate 200] [--seconds 60] [--alerts 2000]

Uses the lakehouse under ``--home`` (default ``$AUTHPULSE_HOME`` or
``./.authpulse``, e.g. after ``make demo``) when it has an ``alerts`` table;
otherwise it writes a demo-like one into a temporary home through Spark
(``--alerts`` alerts of 1,000 users over 30 days, the demo's severities and
reasons). Then: the local stack (moto) up, a read key, ``authpulse api serve``
on a free loopback port, and locust with ``--rate / 4`` users each at a
constant 4 requests/s, paging through filters the way a SOC tool polls
(newest page, the next page, by severity, by status, by entity; one request per task). Prints
requests, errors, achieved rate and latency percentiles; exits 1 when there
were errors or p99 is over ``--p99-ms`` (100). Everything stays on 127.0.0.1
and stops by itself.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import subprocess
import sys
import tempfile
import textwrap
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CLI = (sys.executable, "-c", "from authpulse_dagster.cli import main; main()")
REASONS = ["first_time_access", "rare_host", "fan_out_spike", "velocity_spike", "off_hours", "new_or_dormant_account",
           "new_host_spread", "new_src_dst_pair", "failed_logon_burst"]

LOCUSTFILE = textwrap.dedent('''
    import os, random
    from locust import HttpUser, constant_throughput, task

    KEY = os.environ["BENCH_API_KEY"]
    USERS = os.environ.get("BENCH_ENTITIES", "U1").split(",")

    class Soc(HttpUser):
        wait_time = constant_throughput(4)

        def on_start(self):
            self.client.headers["Authorization"] = f"Bearer {KEY}"

        cursor = None

        @task(3)
        def newest(self):
            self.cursor = self.client.get("/v1/alerts?limit=50", name="/v1/alerts").json().get("next_cursor")

        @task(1)
        def next_page(self):
            # One request per task, so the offered rate is exactly users x 4/s.
            query = f"&cursor={self.cursor}" if self.cursor else ""
            self.cursor = self.client.get(f"/v1/alerts?limit=50{query}", name="/v1/alerts").json().get("next_cursor")

        @task(2)
        def by_severity(self):
            self.client.get(f"/v1/alerts?severity={random.choice(['medium', 'high', 'critical'])}&limit=100", name="/v1/alerts")

        @task(1)
        def by_status(self):
            self.client.get("/v1/alerts?status=open&limit=100", name="/v1/alerts")

        @task(1)
        def by_entity(self):
            self.client.get(f"/v1/alerts?entity={random.choice(USERS)}", name="/v1/alerts")
''')


def synthesize(home: Path, alerts: int, seed: int = 7) -> list[str]:
    """A demo-like alerts table (through Spark, like the pipeline writes it); returns the users alerted."""
    from authpulse_dagster.lakehouse import spark_tables
    from authpulse_dagster.lakehouse.schemas import ALERTS
    from authpulse_dagster.settings import Settings
    from authpulse_dagster.spark import get_spark

    rng = random.Random(seed)
    settings = Settings.from_env({"AUTHPULSE_HOME": str(home)})
    start = date(2024, 1, 1)
    rows, seen = [], set()
    while len(rows) < alerts:
        user, day = f"U{rng.randint(1, 1000)}", start + timedelta(days=rng.randrange(30))
        if (user, day) in seen:
            continue
        seen.add((user, day))
        score = rng.choice([62.0, 70.5, 84.0, 91.0, 97.5])
        at = datetime(day.year, day.month, day.day, rng.randrange(24), tzinfo=timezone.utc)
        rows.append(dict(alert_id=f"{abs(hash((user, day))):024x}"[:24], user_id=user, event_date=day, created_at=at,
                         severity="critical" if score >= 95 else "high" if score >= 80 else "medium", score=score,
                         reasons=rng.sample(REASONS, 2), first_event_ts=at, last_event_ts=at + timedelta(minutes=20),
                         event_ids=[f"e{user}{day}{i}" for i in range(rng.randint(1, 30))], updated_at=at, model_version="bench"))
    spark = get_spark(settings, "authpulse-bench")
    df = spark_tables.dataframe(spark, ALERTS, rows)
    spark_tables.replace_days(df, ALERTS, sorted({r["event_date"] for r in rows}), {"authpulse.asset": "bench"})
    spark.stop()
    return sorted({r["user_id"] for r in rows})


def has_alerts(home: Path) -> bool:
    from pyiceberg.exceptions import NoSuchTableError

    from authpulse_dagster.lakehouse.catalog import load_catalog
    from authpulse_dagster.settings import Settings

    if not (home / "catalog.db").exists():
        return False
    try:
        load_catalog(Settings(home=home)).load_table("authpulse.alerts")
    except NoSuchTableError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--home", type=Path, default=Path(os.environ.get("AUTHPULSE_HOME") or ".authpulse"))
    parser.add_argument("--rate", type=int, default=200, help="requests per second (offered)")
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--alerts", type=int, default=2000, help="alerts to synthesize when --home has none")
    parser.add_argument("--p99-ms", type=float, default=100.0)
    args = parser.parse_args()

    from authpulse_dagster.local_stack import find_free_port

    work = Path(tempfile.mkdtemp(prefix="authpulse-api-bench-"))
    home = args.home.resolve()
    entities = ["U1"]
    if not has_alerts(home):
        home = work / "home"
        print(f"no alerts table under {args.home}; writing {args.alerts} demo-like alerts to {home} (Spark)", flush=True)
        entities = synthesize(home, args.alerts)[:50]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_ENDPOINT_URL")}
    env.update(AUTHPULSE_HOME=str(home), AUTHPULSE_MOTO_PORT=str(find_free_port()), AUTHPULSE_API_TABLE="authpulse-api-bench",
               AUTHPULSE_API_RATE_LIMIT=str(args.rate * 5), AUTHPULSE_API_BURST=str(args.rate * 5),
               AUTHPULSE_TRIAGE_URI=str(work / "triage"))
    subprocess.run([*CLI, "local", "up"], env=env, check=True, capture_output=True)
    server = None
    try:
        key = json.loads(subprocess.run([*CLI, "api", "keys", "create", "--name", f"bench-{int(time.time())}", "--scope", "read",
                                         "--json"], env=env, check=True, capture_output=True, text=True).stdout)["key"]
        port = find_free_port()
        log = open(work / "server.log", "wb")
        server = subprocess.Popen([*CLI, "api", "serve", "--port", str(port), "--log-level", "warning"], env=env,
                                  stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        import httpx

        for _ in range(300):
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        httpx.get(f"{url}/v1/alerts", headers={"Authorization": f"Bearer {key}"}, timeout=30).raise_for_status()  # warm the cache
        (work / "locustfile.py").write_text(LOCUSTFILE)
        users = max(1, args.rate // 4)
        prefix = work / "locust"
        started = time.monotonic()
        subprocess.run(
            [sys.executable, "-m", "locust", "-f", str(work / "locustfile.py"), "--headless", "--host", url, "-u", str(users),
             "-r", str(users), "--run-time", f"{args.seconds}s", "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING"],
            env={**env, "BENCH_API_KEY": key, "BENCH_ENTITIES": ",".join(entities)}, check=False, timeout=args.seconds + 120,
        )
        elapsed = time.monotonic() - started
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=15)
        subprocess.run([*CLI, "local", "down"], env=env, capture_output=True)
    with open(f"{prefix}_stats.csv") as handle:
        total = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    requests, failures = int(total["Request Count"]), int(total["Failure Count"])
    p50, p95, p99 = (float(total[p]) for p in ("50%", "95%", "99%"))
    print(f"GET /v1/alerts: {requests} requests in {args.seconds} s ({float(total['Requests/s']):.1f} req/s achieved, "
          f"{args.rate} offered), errors {failures}")
    print(f"latency ms: p50 {p50:.0f}  p95 {p95:.0f}  p99 {p99:.0f}  max {float(total['Max Response Time']):.0f}  "
          f"(locust, {users} users at 4 req/s each; wall {elapsed:.0f} s)")
    ok = failures == 0 and p99 <= args.p99_ms
    print("target (0 errors, p99 <= %.0f ms): %s" % (args.p99_ms, "met" if ok else "MISSED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
