-- Top risky users for a day: the highest accumulated (decaying) risk first, with what drove it
-- and the alert raised for the user that day, if any, with its triage status (SOC API).
--
-- @param day date = latest(user_risk_daily)  Day to rank
-- @param top int[1,1000] = 20                How many users to list
SELECT
    r.user_id,
    r.event_date,
    round(r.risk_score, 1) AS risk_score,
    round(r.day_score, 1) AS day_score,
    r.max_event_score,
    r.high_risk_events,
    r.events,
    array_join(r.top_reasons, ', ') AS top_reasons,
    a.severity AS alert_severity,
    a.alert_id,
    CASE WHEN a.alert_id IS NOT NULL THEN CASE WHEN t.status IS NULL THEN 'open' ELSE t.status END END AS triage_status
FROM authpulse.user_risk_daily r
LEFT JOIN authpulse.alerts a
    ON a.user_id = r.user_id
    AND a.event_date = r.event_date
LEFT JOIN authpulse.alert_triage t
    ON t.alert_id = a.alert_id
WHERE r.event_date = {{day}}
ORDER BY r.risk_score DESC, r.max_event_score DESC, r.user_id
LIMIT {{top}}
