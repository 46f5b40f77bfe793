"""Who may do what, against the live server: 401 vs 403, revocation, ETags, and the audit trail."""

from __future__ import annotations

import threading
import time

import httpx

from authpulse_dagster.api.store import Store
from tests.api.conftest import LiveApi

ALERT = "al-u2-d3"  # medium alert of U2 on 2024-01-03 in the seed


def _store(live_api: LiveApi) -> Store:
    import os

    saved = dict(os.environ)
    os.environ.update({k: v for k, v in live_api.env.items() if k.startswith("AWS_")})
    try:
        return Store(live_api.settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _patch(client: httpx.Client, alert: str, etag: str | None, body: dict) -> httpx.Response:
    headers = {"If-Match": etag} if etag is not None else {}
    return client.patch(f"/v1/alerts/{alert}", json=body, headers=headers)


def test_no_key_malformed_or_unknown_key_is_401_with_a_bearer_challenge(live_api: LiveApi):
    anonymous = httpx.Client(base_url=live_api.url)
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer not-a-key"},
                    {"Authorization": "Bearer ap_000000000000_" + "A" * 43}):
        r = anonymous.get("/v1/alerts", headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["error"]["code"] == "unauthorized"
    # A real key id with a wrong secret is the same 401 as an unknown key.
    real = live_api.keys["reader"]
    forged = real[:-4] + ("AAAA" if not real.endswith("AAAA") else "BBBB")
    r = anonymous.get("/v1/alerts", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["error"]["message"] == "the API key is unknown or revoked"
    assert anonymous.get("/healthz").status_code == 200  # the one route without a key


def test_read_key_reads_but_cannot_triage(live_api: LiveApi):
    with live_api.client("reader") as reader:
        assert reader.get("/v1/alerts").status_code == 200
        detail = reader.get(f"/v1/alerts/{ALERT}")
        assert detail.status_code == 200
        assert reader.get("/v1/queries").status_code == 200
        assert reader.post("/v1/queries/recent_alerts", json={}).status_code == 200
        r = _patch(reader, ALERT, detail.headers["etag"], {"status": "acknowledged"})
        assert r.status_code == 403
        assert "triage" in r.json()["error"]["message"]
    with live_api.client("triager") as triager:
        assert triager.get(f"/v1/alerts/{ALERT}").json()["triage"]["version"] == detail.json()["triage"]["version"]


def test_triage_key_changes_state_stale_etag_is_412_and_each_change_is_audited_once(live_api: LiveApi):
    store = _store(live_api)
    with live_api.client("triager") as triager:
        first = triager.get(f"/v1/alerts/{ALERT}")
        etag0 = first.headers["etag"]
        assert first.json()["status"] == "open"
        before = len(store.audit(ALERT))

        assert _patch(triager, ALERT, None, {"status": "acknowledged"}).status_code == 428
        ack = _patch(triager, ALERT, etag0, {"status": "acknowledged", "assignee": "alice", "note": "looking"})
        assert ack.status_code == 200, ack.text
        etag1 = ack.headers["etag"]
        assert etag1 != etag0 and ack.json()["status"] == "acknowledged" and ack.json()["updated_by"] == "triager"

        stale = _patch(triager, ALERT, etag0, {"status": "closed"})
        assert stale.status_code == 412
        assert stale.headers["etag"] == etag1  # the current one, so a client can re-read

        bad_move = _patch(triager, ALERT, etag1, {"status": "acknowledged"})
        assert bad_move.status_code == 200  # same status, an idempotent move with no note
        etag2 = bad_move.headers["etag"]
        closed = _patch(triager, ALERT, etag2, {"status": "closed", "note": "benign: backup job"})
        assert closed.status_code == 200
        refused = _patch(triager, ALERT, closed.headers["etag"], {"status": "acknowledged"})
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "invalid_transition"

        detail = triager.get(f"/v1/alerts/{ALERT}").json()
        assert detail["status"] == "closed" and detail["assignee"] == "alice"
        assert detail["triage"]["note"] == "benign: backup job"

    history = store.audit(ALERT)[before:]
    assert [(h.from_status, h.to_status, h.by) for h in history] == [
        ("open", "acknowledged", "triager"), ("acknowledged", "acknowledged", "triager"), ("acknowledged", "closed", "triager"),
    ]
    assert [h.version for h in history] == sorted({h.version for h in history})  # each change once, in order
    assert history[0].to_assignee == "alice" and history[2].note == "benign: backup job"
    assert [h["version"] for h in detail["history"]][-3:] == [h.version for h in history]
    # The list view shows the new status (this process wrote it).
    with live_api.client("reader") as reader:
        listed = reader.get("/v1/alerts", params={"status": "closed"}).json()["items"]
        assert [a["alert_id"] for a in listed] == [ALERT]


def test_two_writers_with_the_same_etag_one_wins_one_gets_412(live_api: LiveApi):
    alert = "al-u2-d5"
    store = _store(live_api)
    with live_api.client("triager") as triager:
        etag = triager.get(f"/v1/alerts/{alert}").headers["etag"]
    before = len(store.audit(alert))
    results: list[int] = []
    barrier = threading.Barrier(4)

    def writer(i: int) -> None:
        with live_api.client("triager") as c:
            barrier.wait()
            results.append(_patch(c, alert, etag, {"status": "acknowledged", "note": f"writer {i}"}).status_code)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [200, 412, 412, 412]
    assert len(store.audit(alert)) == before + 1


def test_revoked_key_is_401_within_the_key_cache_time(live_api: LiveApi):
    with live_api.client("to-revoke") as client:
        assert client.get("/v1/alerts").status_code == 200
        out = live_api.cli("api", "keys", "revoke", "to-revoke").stdout
        assert "revoked key" in out
        # Within the key cache's 2 s (AUTHPULSE_API_KEY_CACHE_SECONDS), then for good.
        deadline = time.monotonic() + 3.0
        while (r := client.get("/v1/alerts")).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert r.status_code == 401 and r.json()["error"]["message"] == "the API key is unknown or revoked"
        time.sleep(2.5)
        assert client.get("/v1/alerts").status_code == 401
    listing = live_api.cli("api", "keys", "list").stdout
    revoked = [line for line in listing.splitlines() if " to-revoke " in line]
    assert len(revoked) == 1 and not revoked[0].rstrip().endswith("-")


def test_requests_are_logged_with_the_key_name_never_the_key(live_api: LiveApi):
    with live_api.client("reader") as reader:
        marker = reader.get("/v1/alerts").headers["x-request-id"]
    # The access log line is written as the response completes, so under load it can trail the response a little.
    deadline = time.monotonic() + 10
    while marker not in (log := live_api.log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.1)
    line = next(line for line in log.splitlines() if marker in line)
    assert '"key": "reader"' in line and '"path": "/v1/alerts"' in line
    for token in live_api.keys.values():
        assert token not in log
        # The secret alone neither (it is URL-safe base64 and may itself hold "_", so split by the key format).
        from authpulse_dagster.api.keys import parse

        parsed = parse(token)
        assert parsed is not None and parsed[1] not in log
