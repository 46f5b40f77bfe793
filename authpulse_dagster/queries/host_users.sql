-- Who used a computer: every user who authenticated to it in a window, busiest first, with
-- the first and last time seen (useful to judge whether an access to a rare host was expected).
--
-- @param computer string                      Computer id, e.g. C17
-- @param day date = latest(user_host_daily)   Last day of the window
-- @param days int[1,366] = 30                 Window length in days, ending on `day`
SELECT
    u.user_id,
    count(*) AS active_days,
    sum(u.events) AS events,
    min(u.first_seen) AS first_seen,
    max(u.last_seen) AS last_seen
FROM authpulse.user_host_daily u
WHERE u.computer_id = {{computer}}
    AND u.event_date BETWEEN date_add('day', 1 - {{days}}, {{day}}) AND {{day}}
GROUP BY u.user_id
ORDER BY events DESC, u.user_id
