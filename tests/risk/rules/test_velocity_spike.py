from authpulse_dagster.risk.rules import velocity_spike
from tests.risk.builders import routine_inputs, TARGET, build, fired, normal_history, target_day_routine


def test_fires_on_a_burst_of_events(spark):
    ev = target_day_routine(normal_history())
    for i in range(40):
        ev.add(f"burst-{i}", TARGET, "U2", "W2", 14, 0, second=4 * i, src="W2")
    hits = fired(velocity_spike.RULE, build(spark, ev))
    assert {f"burst-{i}" for i in range(25, 40)} <= hits
    # U2's routine event at 14:05 sits inside the burst's trailing window, so it counts too.
    assert "burst-0" not in hits and hits <= {f"burst-{i}" for i in range(40)} | {"t-2-14-a"}


def test_quiet_on_an_ordinary_day(spark):
    assert fired(velocity_spike.RULE, routine_inputs(spark)) == set()
