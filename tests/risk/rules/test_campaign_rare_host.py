from dataclasses import replace

from authpulse_dagster.risk.config import RiskConfig
from authpulse_dagster.risk.rules import campaign_rare_host
from tests.risk.builders import TARGET, build, fired, normal_history, routine_inputs, target_day_routine


def test_fires_when_three_users_are_new_to_one_rare_computer_the_same_day(spark):
    ev = target_day_routine(normal_history())
    for n in (1, 2, 4):
        ev.add(f"rare-{n}", TARGET, f"U{n}", "R1", 14, n, src=f"W{n}")  # R1: nobody ever used it
        ev.add(f"rare-{n}-again", TARGET, f"U{n}", "R1", 15, n, src=f"W{n}")  # only the first use counts
    ev.add("alone", TARGET, "U5", "R2", 14, src="W5")  # a rare host with one newcomer is not a campaign
    assert fired(campaign_rare_host.RULE, build(spark, ev)) == {"rare-1", "rare-2", "rare-4"}


def test_quiet_for_two_newcomers_and_for_a_host_with_a_crowd_of_regulars(spark):
    ev = target_day_routine(normal_history())
    for n in (1, 2):
        ev.add(f"pair-{n}", TARGET, f"U{n}", "R1", 14, n, src=f"W{n}")
    for n in (4, 5, 6):  # S2 has U1-U3 as regulars: three newcomers, but S2 is not rare under a stricter bar
        ev.add(f"s2-{n}", TARGET, f"U{n}", "S2", 14, n, src=f"W{n}")
    strict = RiskConfig(campaign=replace(RiskConfig().campaign, max_host_users=2))
    assert fired(campaign_rare_host.RULE, build(spark, ev, strict)) == set()
    # Under the default bar (at most 6 regulars) the same S2 day is a campaign: the bar is what decides.
    assert fired(campaign_rare_host.RULE, build(spark, ev)) == {"s2-4", "s2-5", "s2-6"}


def test_quiet_on_an_ordinary_day(spark):
    assert fired(campaign_rare_host.RULE, routine_inputs(spark)) == set()
