from authpulse_dagster.risk.rules import rare_host
from tests.risk.builders import TARGET, build, fired, normal_history, target_day_routine


def test_fires_on_first_use_of_a_computer_few_users_use(spark):
    ev = target_day_routine(normal_history())
    ev.add("other-ws", TARGET, "U1", "W2", 11)  # U2's workstation: one user in the lookback
    assert fired(rare_host.RULE, build(spark, ev)) == {"other-ws"}


def test_quiet_for_popular_hosts_and_own_workstation(spark):
    ev = target_day_routine(normal_history())
    ev.add("popular", TARGET, "U4", "S2", 11)  # new for U4, but S2 has three other users
    assert fired(rare_host.RULE, build(spark, ev)) == set()
