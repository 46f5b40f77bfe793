"""The risk engine: rules that flag events, scores that combine them, alerts that reach people.

Every rule is a small module in ``risk/rules/``; weights and thresholds live
in ``risk/config.py``; ``risk/scoring.py`` turns rule hits into event scores,
daily user scores and alerts; ``risk/publish.py`` sends new alerts to SNS.
The batch steps (``steps/risk.py``) and the streaming job call the same code.
"""
