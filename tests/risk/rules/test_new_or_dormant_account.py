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
