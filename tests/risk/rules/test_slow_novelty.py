from authpulse_dagster.risk.rules import slow_novelty
from tests.risk.builders import TARGET, build, fired, normal_history, routine_inputs, target_day_routine


def test_fires_when_two_new_computers_a_day_add_up_over_four_days(spark):
    ev = target_day_routine(normal_history())
    for back in (3, 2, 1):  # each day alone stays under every daily threshold
        for i in range(2):
            ev.add(f"prev-{back}-{i}", TARGET - back, "U2", f"N{back}{i}", 19, 20 * i, src="W2")
    for i in range(2):
        ev.add(f"slow-{i}", TARGET, "U2", f"N0{i}", 19, 20 * i, src="W2")
    ev.add("slow-0-again", TARGET, "U2", "N00", 20, src="W2")  # the rule marks first uses only
    assert fired(slow_novelty.RULE, build(spark, ev)) == {"slow-0", "slow-1"}


def test_quiet_for_new_computers_on_one_day_only_and_for_an_explorer_at_their_usual_rate(spark):
    ev = normal_history()
    # U3 explores: two new computers on every history day, so two more today is their normal.
    for d in range(TARGET):
        for i in range(2):
            ev.add(f"explore-{d}-{i}", d, "U3", f"E{d}{i}", 10, 20 * i, src="W3")
    ev = target_day_routine(ev)
    for i in range(2):
        ev.add(f"u3-{i}", TARGET, "U3", f"E{TARGET}{i}", 10, 20 * i, src="W3")
        ev.add(f"u2-{i}", TARGET, "U2", f"N0{i}", 19, 20 * i, src="W2")  # U2: two new today, none before
    assert fired(slow_novelty.RULE, build(spark, ev)) == set()


def test_quiet_on_an_ordinary_day(spark):
    assert fired(slow_novelty.RULE, routine_inputs(spark)) == set()
