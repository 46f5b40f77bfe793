-- An alert's drill-down: the alert and each of its high-risk events with the rules that fired
-- and the authentication's details, in time order.
--
-- @param alert_id string   Alert id (see the recent_alerts or top_risky_users queries)
WITH alert AS (
    SELECT alert_id, user_id, event_date, severity, score, reasons, event_ids
    FROM authpulse.alerts
    WHERE alert_id = {{alert_id}}
),
alert_events AS (
    SELECT
        a.alert_id,
        a.user_id,
        a.event_date,
        a.severity,
        a.score,
        a.reasons,
        x.event_id,
        x.ordinal
    FROM alert a
    CROSS JOIN UNNEST(a.event_ids) WITH ORDINALITY AS x (event_id, ordinal)
)
SELECT
    ae.alert_id,
    ae.severity,
    round(ae.score, 1) AS alert_score,
    array_join(ae.reasons, ', ') AS alert_reasons,
    ae.user_id,
    s.event_ts,
    ae.event_id,
    s.computer_id,
    s.src_computer_id,
    s.score AS event_score,
    array_join(s.reasons, ', ') AS event_reasons,
    e.auth_type,
    e.logon_type,
    e.orientation,
    e.success
FROM alert_events ae
LEFT JOIN authpulse.risk_scores s
    ON s.event_id = ae.event_id
    AND s.event_date = ae.event_date
LEFT JOIN authpulse.auth_events e
    ON e.event_id = ae.event_id
    AND e.event_date = ae.event_date
ORDER BY s.event_ts, ae.ordinal
