from authpulse_dagster.risk.rules import failed_logon_burst
from tests.risk.builders import TARGET, build, fired, normal_history, target_day_routine


def test_fires_once_failures_pile_up_within_minutes(spark):
    ev = target_day_routine(normal_history())
    for i in range(12):
        ev.add(f"fail-{i}", TARGET, "U1", "S1", 12, 0, second=10 * i, src="W3", success=False)
    assert fired(failed_logon_burst.RULE, build(spark, ev)) == {"fail-9", "fail-10", "fail-11"}


def test_quiet_for_a_few_spread_out_failures(spark):
    ev = target_day_routine(normal_history())
    for i in range(12):
        ev.add(f"typo-{i}", TARGET, "U2", "S1", 9 + i % 8, 6 * (i // 8), src="W2", success=False)
    assert fired(failed_logon_burst.RULE, build(spark, ev)) == set()
