from authpulse_dagster.risk.rules import campaign_shared_source
from tests.risk.builders import TARGET, build, fired, normal_history, routine_inputs, target_day_routine


def _with_jump_host():
    """The usual history plus J1, a jump host U1-U4 log on from every day (four regulars as a source)."""
    ev = normal_history()
    for d in range(TARGET):
        for n in range(1, 5):
            ev.add(f"jump-{d}-{n}", d, f"U{n}", "S1", 8, n, src="J1")
    return target_day_routine(ev)


def test_fires_when_three_users_newly_start_from_one_unusual_source(spark):
    ev = _with_jump_host()
    for i, user in enumerate(("U1", "U5", "U7")):  # U7 never seen: a new account on the foothold too
        ev.add(f"foot-{user}", TARGET, user, "S1", 13, i, src="F1")
        ev.add(f"foot-{user}-2", TARGET, user, "S1", 13, 30 + i, src="F1")  # same route again: not a first use
    assert fired(campaign_shared_source.RULE, build(spark, ev)) == {"foot-U1", "foot-U5", "foot-U7"}


def test_quiet_for_newcomers_on_a_known_jump_host_and_for_two_users(spark):
    ev = _with_jump_host()
    for i, user in enumerate(("U5", "U7", "U8")):  # three new users of J1, but J1 already serves four
        ev.add(f"jump-new-{user}", TARGET, user, "S1", 13, i, src="J1")
    for i, user in enumerate(("U1", "U2")):  # a new source shared by only two
        ev.add(f"pair-{user}", TARGET, user, "S2", 14, i, src="F2")
    assert fired(campaign_shared_source.RULE, build(spark, ev)) == set()


def test_quiet_on_an_ordinary_day(spark):
    assert fired(campaign_shared_source.RULE, routine_inputs(spark)) == set()
