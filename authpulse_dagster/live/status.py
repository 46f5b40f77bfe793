"""The streaming job's status file: what the job writes after each micro-batch and the Dagster resource reads.

Kept apart from both so the job (which runs on EMR without Dagster) and the
resource share the format without importing each other.
"""

STATUS_FILE = "stream-status.json"
