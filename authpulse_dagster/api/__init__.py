"""The SOC API: alerts, entities and investigation queries over HTTP, with triage state.

``authpulse api serve`` runs :func:`authpulse_dagster.api.app.create_app` under
uvicorn on 127.0.0.1; in AWS the same app runs in Lambda behind API Gateway
(``lambda_handler``). Reads come from the Iceberg tables (pyiceberg + DuckDB,
named queries on Athena in AWS); triage state, API keys and the audit trail
live in one DynamoDB table (moto's locally). A ``false_positive`` becomes a
suppression the alerts step reads (``suppressions``).

Modules: ``config`` (settings), ``keys`` (key format, hashing, scopes),
``store`` (DynamoDB: keys, triage, audit), ``triage`` (statuses and
transitions), ``reads`` (the lakehouse side), ``suppressions`` and ``export``
(the feedback into detection and the triage view for queries and the
dashboard), ``ratelimit``, ``middleware``, ``errors``, ``models``, ``app``.
"""
