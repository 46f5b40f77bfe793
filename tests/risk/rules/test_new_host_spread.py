from authpulse_dagster.risk.rules import new_host_spread
from tests.risk.builders import TARGET, build, fired, normal_history, target_day_routine


def test_fires_when_new_computers_pile_up_over_days(spark):
    ev = target_day_routine(normal_history())
    # Two new computers a day for U2 on the two days before the target, three on it.
    for back, count in ((2, 2), (1, 2)):
        for i in range(count):
            ev.add(f"prev-{back}-{i}", TARGET - back, "U2", f"N{back}{i}", 19, 10 * i, src="W2")
    for i in range(3):
        ev.add(f"spread-{i}", TARGET, "U2", f"N0{i}", 20, 15 * i, src="W2")
    assert fired(new_host_spread.RULE, build(spark, ev)) == {"spread-0", "spread-1", "spread-2"}


def test_quiet_for_an_occasional_new_computer(spark):
    ev = target_day_routine(normal_history())
    ev.add("one-new", TARGET, "U2", "N9", 11, src="W2")
    assert fired(new_host_spread.RULE, build(spark, ev)) == set()
