-- Accesses to rare hosts: who authenticated to a computer that few users touched over the
-- lookback (host_popularity.distinct_users_lookback at most max_users), rarest first.
--
-- @param day date = latest(host_popularity)   Last day of the window
-- @param days int[1,366] = 1                  Window length in days, ending on `day`
-- @param max_users int[1,] = 2                A host is rare when at most this many users used it in the lookback
-- @param user string = ''                     Only this user (empty: every user)
SELECT
    u.event_date,
    u.user_id,
    u.computer_id,
    u.events,
    u.first_seen,
    u.last_seen,
    p.distinct_users_lookback AS host_users_lookback,
    p.active_users_lookback,
    round(p.rarity, 3) AS rarity
FROM authpulse.user_host_daily u
JOIN authpulse.host_popularity p
    ON p.computer_id = u.computer_id
    AND p.event_date = u.event_date
WHERE u.event_date BETWEEN date_add('day', 1 - {{days}}, {{day}}) AND {{day}}
    AND p.event_date BETWEEN date_add('day', 1 - {{days}}, {{day}}) AND {{day}}
    AND p.distinct_users_lookback <= {{max_users}}
    AND ({{user}} = '' OR u.user_id = {{user}})
ORDER BY p.rarity DESC, u.event_date, u.user_id, u.computer_id
