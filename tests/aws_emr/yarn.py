"""YARN cluster-mode semantics on top of ``tests/fixtures/emr_cluster.FakeEmrCluster``.

The shared fake runs a step's driver as the step's own process and signals it
on ``CancelSteps``: that is client mode. AuthPulse submits in cluster mode,
where EMR's cancel kills only ``spark-submit`` and the YARN application (the
driver) keeps running. This module makes a fake cluster behave that way, for
the tests that show a cancel must also end the application:

- ``CancelSteps`` on a RUNNING step marks it CANCELLED and leaves its process
  (the driver) alone; a PENDING step is cancelled as before;
- the application's YARN tags are read from the step's ``spark.yarn.tags``;
- a step running ``aws_emr.submit.kill_application_step`` is executed as
  ``yarn application -kill`` would: every live driver whose tags contain the
  given tag gets SIGTERM, then SIGKILL after a short grace, and the step COMPLETES.

Spark-submit steps run in their own threads (the real cluster runs steps
concurrently, ``StepConcurrencyLevel`` > 1), so a kill step is not stuck behind
the driver it has to kill.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time

from authpulse_dagster.aws_emr.submit import KILL_APPLICATION_SCRIPT, yarn_tag_of
from tests.fixtures.emr_cluster import ExecutedStep, FakeEmrCluster

KILL_GRACE_SECONDS = 1.0


class YarnClusterMode:
    def __init__(self, cluster: FakeEmrCluster):
        self.cluster = cluster
        self.detached: set[str] = set()  # steps cancelled while their driver ran on
        self.killed: list[tuple[str, str]] = []  # (tag, step id of the driver killed)
        self.kill_steps: list[ExecutedStep] = []
        self._run_spark_submit = cluster._run
        self._cancel = cluster.cancel
        cluster._run = self._run  # type: ignore[method-assign]
        cluster.cancel = self._cancel_cluster_mode  # type: ignore[method-assign]

    # -- steps ----------------------------------------------------------------
    def _run(self, emr_cluster, step) -> None:
        args = list(step.args)
        if args[:3] == ["bash", "-c", KILL_APPLICATION_SCRIPT]:
            self._kill_application(emr_cluster, step, args[4])
            return
        threading.Thread(target=self._run_driver, args=(emr_cluster, step), daemon=True).start()

    def _run_driver(self, emr_cluster, step) -> None:
        self._run_spark_submit(emr_cluster, step)
        if step.id in self.detached:
            step.state = "CANCELLED"  # the step ended when it was cancelled, whatever the driver did since

    def _kill_application(self, emr_cluster, step, tag: str) -> None:
        record = ExecutedStep(emr_cluster.id, step.id, step.name, list(step.args), {})
        self.kill_steps.append(record)
        step.state = "RUNNING"
        step.start()
        victims = [
            (ran.step_id, self.cluster._procs.get(ran.step_id))
            for ran in list(self.cluster.executed)
            if tag in (yarn_tag_of(ran.args) or "").split(",")
        ]
        lines = []
        for step_id, proc in victims:
            if proc is not None and proc.poll() is None:
                lines.append(f"killing application of step {step_id} (tag {tag})")
                _terminate(proc)
                self.killed.append((tag, step_id))
        record.stdout, record.returncode = "\n".join(lines), 0
        step.state = "COMPLETED"

    # -- CancelSteps, cluster mode ---------------------------------------------
    def _cancel_cluster_mode(self, cluster_id: str, step_ids: list[str], option: str) -> list[dict]:
        self.cluster.cancel_requests.append({"ClusterId": cluster_id, "StepIds": list(step_ids), "StepCancellationOption": option})
        info = []
        for sid in step_ids:
            step = self.cluster.step(cluster_id, sid)
            with self.cluster._lock:
                if step.state == "PENDING":
                    step.state = "CANCELLED"
                    self.cluster._handled.add(sid)
                elif step.state == "RUNNING":
                    # spark-submit is killed and the step ends; the application it submitted runs on.
                    self.detached.add(sid)
                    step.state = "CANCELLED"
            info.append({"StepId": sid, "Status": "SUBMITTED", "Reason": ""})
        return info

    def driver_alive(self, step_id: str) -> bool:
        proc = self.cluster._procs.get(step_id)
        return proc is not None and proc.poll() is None


def _terminate(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + KILL_GRACE_SECONDS
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)  # like `yarn application -kill`, return once the application is gone
