"""The analyst dashboard: one self-contained HTML page of risk, alerts and host popularity.

``build`` turns frames into the page (pure), ``charts`` holds the figures,
``io`` reads the gold tables and writes ``$AUTHPULSE_HOME/dashboard/index.html``;
the ``risk_dashboard`` asset (``assets/dashboard.py``) runs it when gold changes.
"""
