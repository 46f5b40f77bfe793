-- Recent alerts: every alert in a window at or above a severity, newest day first, strongest first.
--
-- @param day date = latest(alerts)                     Last day of the window
-- @param days int[1,366] = 7                           Window length in days, ending on `day`
-- @param min_severity choice[medium,high,critical] = medium   Lowest severity to list
-- @param status choice[any,open,acknowledged,closed,false_positive] = any   Only alerts in this triage state (SOC API)
SELECT
    a.event_date,
    a.alert_id,
    a.user_id,
    a.severity,
    round(a.score, 1) AS score,
    array_join(a.reasons, ', ') AS reasons,
    cardinality(a.event_ids) AS high_risk_events,
    a.first_event_ts,
    a.last_event_ts,
    a.created_at,
    CASE WHEN t.status IS NULL THEN 'open' ELSE t.status END AS triage_status,
    t.assignee AS triage_assignee
FROM authpulse.alerts a
LEFT JOIN authpulse.alert_triage t
    ON t.alert_id = a.alert_id
WHERE a.event_date BETWEEN date_add('day', 1 - {{days}}, {{day}}) AND {{day}}
    AND (CASE a.severity WHEN 'critical' THEN 3 WHEN 'high' THEN 2 WHEN 'medium' THEN 1 ELSE 0 END)
        >= (CASE {{min_severity}} WHEN 'critical' THEN 3 WHEN 'high' THEN 2 ELSE 1 END)
    AND ({{status}} = 'any' OR CASE WHEN t.status IS NULL THEN 'open' ELSE t.status END = {{status}})
ORDER BY a.event_date DESC, a.score DESC, a.alert_id
