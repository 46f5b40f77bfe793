-- One user's timeline: every scored authentication in a window, oldest first, with the rules
-- that fired and the severity of that day's alert.
--
-- @param user string                          User id, e.g. U12
-- @param day date = latest(risk_scores)       Last day of the window
-- @param days int[1,366] = 7                  Window length in days, ending on `day`
-- @param min_score int[0,100] = 0             Only events scoring at least this
SELECT
    s.event_ts,
    s.event_date,
    s.event_id,
    s.computer_id,
    s.src_computer_id,
    s.score,
    array_join(s.reasons, ', ') AS reasons,
    a.severity AS alert_severity
FROM authpulse.risk_scores s
LEFT JOIN authpulse.alerts a
    ON a.user_id = s.user_id
    AND a.event_date = s.event_date
WHERE s.user_id = {{user}}
    AND s.event_date BETWEEN date_add('day', 1 - {{days}}, {{day}}) AND {{day}}
    AND s.score >= {{min_score}}
ORDER BY s.event_ts, s.event_id
