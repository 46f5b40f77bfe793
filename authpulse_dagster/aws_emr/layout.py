"""Names of what ``make emr-package`` builds and uploads under ``AUTHPULSE_EMR_ARTIFACTS_URI``."""

ARCHIVE_NAME = "authpulse-emr.tar.gz"  # the project + its Python dependencies, for spark.archives
ARCHIVE_ALIAS = "environment"  # spark.archives ...#environment: unpacked as ./environment in every container
LAUNCHER_NAME = "authpulse_emr_main.py"  # the primary resource of every spark-submit
JAR_NAME = "authpulse-streaming.jar"  # the project's JVM code (jvm/src), for --jars
