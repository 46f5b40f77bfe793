from authpulse_dagster.risk.rules import first_time_access
from tests.risk.builders import routine_inputs, TARGET, build, fired, normal_history, target_day_routine


def test_fires_on_the_first_event_to_a_computer_never_used(spark):
    ev = target_day_routine(normal_history())
    ev.add("new-1", TARGET, "U1", "S9", 10, 10)
    ev.add("new-2", TARGET, "U1", "S9", 10, 20)  # second use the same day: not "first" again
    assert fired(first_time_access.RULE, build(spark, ev)) == {"new-1"}


def test_quiet_on_an_ordinary_day(spark):
    assert fired(first_time_access.RULE, routine_inputs(spark)) == set()


def test_quiet_before_the_site_has_history(spark):
    ev = normal_history(days=3)  # less than min_history_days
    ev.add("new-1", 3, "U1", "S9", 10)
    assert fired(first_time_access.RULE, build(spark, ev, score_day=3)) == set()
