from authpulse_dagster.risk.rules import fan_out_spike
from tests.risk.builders import routine_inputs, TARGET, build, fired, normal_history, target_day_routine


def test_fires_when_the_user_reaches_many_computers_in_an_hour(spark):
    ev = target_day_routine(normal_history())
    for i in range(15):
        ev.add(f"lat-{i}", TARGET, "U1", f"X{i}", 13, 2 * i)
    hits = fired(fan_out_spike.RULE, build(spark, ev))
    # The routine gives U1 two computers that hour; the bar is 8, so hits start at the 6th or 7th new host.
    assert {f"lat-{i}" for i in range(8, 15)} <= hits
    # U1's own routine events inside the same trailing hour count too; nothing before the burst does.
    during = {"t-1-13-b", "t-1-14-a", "t-1-14-b"}
    assert "lat-0" not in hits and hits <= {f"lat-{i}" for i in range(15)} | during


def test_quiet_on_an_ordinary_day(spark):
    assert fired(fan_out_spike.RULE, routine_inputs(spark)) == set()
