"""Analyst: the risk dashboard, one HTML page rebuilt whenever gold changes.

No ``from __future__ import annotations`` here: Dagster inspects the asset
function's ``context`` annotation at definition time and needs the real class.
"""


import dagster as dg

from authpulse_dagster.lakehouse.schemas import ALERTS, HOST_POPULARITY, RISK_SCORES, USER_RISK_DAILY
from authpulse_dagster.resources.step_runner import LocalStepRunner

GROUP = "analyst"
DASHBOARD_DEPS = tuple(dg.AssetKey(t.name) for t in (RISK_SCORES, USER_RISK_DAILY, ALERTS, HOST_POPULARITY))

# Why not AutomationCondition.eager(): eager waits until no dependency is
# missing, and for this unpartitioned page every daily partition since the
# dataset epoch is a dependency, most of which never exist. So: rebuild once
# after any gold partition updates (remembered until handled), but not while
# gold is still being written nor while a rebuild is running.
GOLD_CHANGED = (
    (dg.AutomationCondition.newly_missing() | dg.AutomationCondition.any_deps_updated()).since_last_handled()
    & ~dg.AutomationCondition.any_deps_in_progress()
    & ~dg.AutomationCondition.in_progress()
).with_label("rebuild when gold changes")


def build_dashboard_assets() -> list[dg.AssetsDefinition]:
    @dg.asset(
        name="risk_dashboard",
        group_name=GROUP,
        deps=list(DASHBOARD_DEPS),
        kinds={"plotly", "html"},
        automation_condition=GOLD_CHANGED,
        description=(
            "Self-contained HTML page under $AUTHPULSE_HOME/dashboard/index.html: risk over time, top risky users "
            "with reasons, alert volume by severity, host popularity. Rebuilt when the gold tables change."
        ),
    )
    def risk_dashboard(context: dg.AssetExecutionContext, step_runner: LocalStepRunner):
        yield from step_runner.run(context, "risk_dashboard")

    return [risk_dashboard]


def build_dashboard_sensors() -> list[dg.AutomationConditionSensorDefinition]:
    """Evaluates the dashboard's automation condition; on by default, unlike Dagster's default sensor."""
    return [
        dg.AutomationConditionSensorDefinition(
            "analyst_automation",
            target=dg.AssetSelection.groups(GROUP),
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=30,
            description="Rebuilds the risk dashboard after gold tables change.",
        )
    ]
