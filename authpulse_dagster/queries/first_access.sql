-- Computers first accessed in a window: user/computer pairs whose first day in the access history
-- (user_host_daily, as far back as it goes) falls in the window, with how rare the computer was.
--
-- @param user string = ''                     Only this user (empty: every user)
-- @param day date = latest(user_host_daily)   Last day of the window
-- @param days int[1,366] = 7                  Window length in days, ending on `day`
WITH history AS (
    SELECT
        user_id,
        computer_id,
        min(event_date) AS first_day,
        min(first_seen) AS first_seen
    FROM authpulse.user_host_daily
    WHERE ({{user}} = '' OR user_id = {{user}})
        AND event_date <= {{day}}
    GROUP BY user_id, computer_id
),
in_window AS (
    SELECT
        user_id,
        computer_id,
        sum(events) AS events_in_window,
        count(*) AS active_days
    FROM authpulse.user_host_daily
    WHERE ({{user}} = '' OR user_id = {{user}})
        AND event_date BETWEEN date_add('day', 1 - {{days}}, {{day}}) AND {{day}}
    GROUP BY user_id, computer_id
)
SELECT
    h.user_id,
    h.computer_id,
    h.first_day,
    h.first_seen,
    w.events_in_window,
    w.active_days,
    p.distinct_users_lookback AS host_users_lookback,
    round(p.rarity, 3) AS host_rarity
FROM history h
JOIN in_window w
    ON w.user_id = h.user_id
    AND w.computer_id = h.computer_id
LEFT JOIN authpulse.host_popularity p
    ON p.computer_id = h.computer_id
    AND p.event_date = h.first_day
WHERE h.first_day >= date_add('day', 1 - {{days}}, {{day}})
ORDER BY h.first_seen, h.user_id, h.computer_id
