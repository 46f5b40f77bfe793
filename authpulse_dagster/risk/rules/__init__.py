"""The rule set, in the order reasons are reported when weights tie.

Entity rules for hosts are not here: hosts are scored in ``risk/hosts.py``.

To add a rule: a module here with a docstring (what, why, which anchor, parameters) and a
``RULE``, its weight in ``risk/config.py``, its tests in ``tests/risk/rules/``.
"""

from authpulse_dagster.risk.rules import (
    campaign_rare_host,
    campaign_shared_source,
    failed_logon_burst,
    fan_out_spike,
    first_time_access,
    new_host_spread,
    new_or_dormant_account,
    new_src_dst_pair,
    off_hours,
    rare_host,
    slow_novelty,
    velocity_spike,
)
from authpulse_dagster.risk.rules.base import Rule

RULES: list[Rule] = [
    fan_out_spike.RULE,
    campaign_shared_source.RULE,
    new_or_dormant_account.RULE,
    campaign_rare_host.RULE,
    failed_logon_burst.RULE,
    rare_host.RULE,
    new_host_spread.RULE,
    slow_novelty.RULE,
    velocity_spike.RULE,
    first_time_access.RULE,
    new_src_dst_pair.RULE,
    off_hours.RULE,
]

__all__ = ["RULES", "Rule"]
