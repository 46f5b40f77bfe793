from authpulse_dagster.risk.rules import off_hours
from tests.risk.builders import TARGET, build, fired, normal_history, target_day_routine


def test_fires_in_an_hour_the_user_never_works(spark):
    ev = target_day_routine(normal_history())
    ev.add("night", TARGET, "U3", "W3", 3, 15)
    assert fired(off_hours.RULE, build(spark, ev)) == {"night"}


def test_quiet_in_usual_hours(spark):
    ev = target_day_routine(normal_history())
    ev.add("day", TARGET, "U3", "S2", 10, 50)
    assert fired(off_hours.RULE, build(spark, ev)) == set()
