from authpulse_dagster.risk.rules import new_src_dst_pair
from tests.risk.builders import TARGET, build, fired, normal_history, target_day_routine


def test_fires_when_a_known_destination_is_reached_from_a_new_source(spark):
    ev = target_day_routine(normal_history())
    ev.add("stolen", TARGET, "U1", "S1", 12, 10, src="W4")  # S1 is usual for U1, W4 is not its source
    ev.add("stolen-again", TARGET, "U1", "S1", 12, 20, src="W4")
    assert fired(new_src_dst_pair.RULE, build(spark, ev)) == {"stolen"}


def test_quiet_for_usual_routes_and_local_logons(spark):
    ev = target_day_routine(normal_history())
    ev.add("local", TARGET, "U1", "X7", 12, 10, src="X7")  # source = destination: a local logon
    ev.add("no-source", TARGET, "U1", "S1", 12, 30)  # LANL 2014 rows have no source
    assert fired(new_src_dst_pair.RULE, build(spark, ev)) == set()


def test_quiet_for_a_new_destination_from_the_usual_source(spark):
    ev = target_day_routine(normal_history())
    ev.add("new-dst", TARGET, "U1", "S9", 12, 10, src="W1")  # first_time_access covers this one
    assert fired(new_src_dst_pair.RULE, build(spark, ev)) == set()


def test_fires_for_new_destinations_from_a_new_source(spark):
    ev = target_day_routine(normal_history())
    ev.add("hop-1", TARGET, "U1", "S9", 12, 10, src="W4")
    ev.add("hop-2", TARGET, "U1", "S8", 12, 12, src="W4")
    assert fired(new_src_dst_pair.RULE, build(spark, ev)) == {"hop-1", "hop-2"}
