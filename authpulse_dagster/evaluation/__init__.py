"""Evaluation of the risk engine against labelled attacks.

``metrics`` holds the pure definitions, ``evaluate`` reads labels and the gold
tables, ``report`` is the result and its printed form. The end-to-end test
calls ``evaluate(settings, labels_path)``.
"""

from authpulse_dagster.evaluation.evaluate import evaluate
from authpulse_dagster.evaluation.report import EvaluationReport, Row, Target, render_table

__all__ = ["EvaluationReport", "Row", "Target", "evaluate", "render_table"]
