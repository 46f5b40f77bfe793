from authpulse_dagster.risk.rules import new_or_dormant_account
from tests.risk.builders import routine_inputs, TARGET, build, fired, normal_history, target_day_routine


def test_fires_on_the_first_day_of_a_dormant_and_of_a_new_account(spark):
    ev = target_day_routine(normal_history())
    ev.add("wake-1", TARGET, "U6", "W6", 2, 0)  # U6 silent since day 1
    ev.add("wake-2", TARGET, "U6", "S1", 2, 10)
    ev.add("newbie", TARGET, "U9", "S1", 11, 0)  # never seen
    assert fired(new_or_dormant_account.RULE, build(spark, ev)) == {"wake-1", "wake-2", "newbie"}


def test_quiet_for_accounts_active_every_day(spark):
    assert fired(new_or_dormant_account.RULE, routine_inputs(spark)) == set()


def _regular_and_irregular(history_days: int = 14):
    """F works every day 0-7 then goes quiet; Q works days 0-1 and 6-7 (a 4-day gap is normal for Q)."""
    ev = normal_history(history_days)
    for d in range(8):
        ev.add(f"f-{d}", d, "F", "WF", 10, src="WF")
        if d in (0, 1, 6, 7):
            ev.add(f"q-{d}", d, "Q", "WQ", 10, src="WQ")
    return ev


def test_fires_when_a_silence_is_long_for_an_account_that_never_pauses(spark):
    # Day 14: F has been silent six days (under the week of dormant_days), never more than 0 before.
    ev = _regular_and_irregular().add("f-wake", 14, "F", "WF", 3, src="WF")
    assert fired(new_or_dormant_account.RULE, build(spark, ev, score_day=14)) == {"f-wake"}


def test_quiet_when_the_same_silence_is_ordinary_for_the_account(spark):
    # Q's six quiet days are less than twice the four-day gap it already had.
    ev = _regular_and_irregular().add("q-wake", 14, "Q", "WQ", 10, src="WQ")
    assert fired(new_or_dormant_account.RULE, build(spark, ev, score_day=14)) == set()
