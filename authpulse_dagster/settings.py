"""Every setting AuthPulse reads from the environment, resolved in one place.

Settings are read late (when a command or a resource runs, never at import),
so tests and `dagster dev` can point the same code at different homes. The
environment resolver follows the anchors' rule: anything but ``aws`` is local.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Mapping

from authpulse_dagster import env_vars
from authpulse_dagster.errors import ConfigError

LOCAL = "local"
AWS = "aws"

# Day 0 of the dataset. The LANL releases do not disclose real dates; a Monday
# keeps the generator's weekly rhythm aligned with calendar weekdays.
DEFAULT_DATASET_EPOCH = "2024-01-01T00:00:00+00:00"




# Event times are epoch + seconds and become daily partitions: both ends must be dates Spark,
# Iceberg and Python all represent (partition ordinals count days from 1970).
_EARLIEST_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_LATEST_DAY = datetime(9999, 12, 31, tzinfo=timezone.utc)


def _home(raw: str | None, env: str) -> Path:
    """The data home, refused with one line when it cannot be one (a file; locally, an unwritable place).

    In AWS mode the lakehouse is in S3 and the home may sit on a read-only disk
    (a Lambda's /var/task) that nothing writes to, so only a file is refused there.
    """
    home = Path(raw or ".authpulse").expanduser().resolve()
    if home.exists() and not home.is_dir():
        raise ConfigError(f"AUTHPULSE_HOME={home} is a file, not a folder; point it at a folder (it is created if missing)")
    if env != LOCAL:
        return home
    existing = next(p for p in (home, *home.parents) if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ConfigError(f"AUTHPULSE_HOME={home} cannot be created or written ({existing} is not writable); choose another folder")
    return home


def _api_table(raw: str | None) -> str:
    table = (raw or "authpulse-api").strip()
    if not re.match(r"^[A-Za-z0-9_.-]{3,255}$", table):
        raise ConfigError(f"AUTHPULSE_API_TABLE={table!r} is not a DynamoDB table name (3-255 of A-Z a-z 0-9 _ . -)")
    return table


def _triage_uri(raw: str | None) -> str:
    uri = (raw or "").strip().rstrip("/")
    if uri.startswith("s3://") and not _S3_URI.match(uri):
        raise ConfigError(f"AUTHPULSE_TRIAGE_URI={uri!r} is not an s3://bucket/prefix URI")
    return uri


def _epoch(raw: str, max_dataset_seconds: int) -> datetime:
    epoch = parse_epoch(raw)
    if epoch < _EARLIEST_EPOCH:
        raise ConfigError(f"AUTHPULSE_DATASET_EPOCH={raw} is before 1970-01-01; daily partitions start at 1970, use a later epoch")
    if (_LATEST_DAY - epoch).total_seconds() < max_dataset_seconds:
        raise ConfigError(
            f"AUTHPULSE_DATASET_EPOCH={raw} plus AUTHPULSE_MAX_DATASET_SECONDS={max_dataset_seconds} passes 9999-12-31; "
            "use an earlier epoch"
        )
    return epoch


def _choice(environ: Mapping[str, str], name: str, allowed: tuple[str, ...], default: str) -> str:
    value = (environ.get(name) or default).strip().lower()
    if value not in allowed:
        raise ConfigError(f"{name}={value!r} must be one of: {', '.join(allowed)}")
    return value


def parse_epoch(raw: str, name: str = "AUTHPULSE_DATASET_EPOCH") -> datetime:
    """Parse an ISO-8601 date or datetime; naive values are taken as UTC."""
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{name}={raw!r} is not an ISO-8601 date or time; use e.g. 2024-01-01 or 2024-01-01T00:00:00Z"
        ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


_SPARK_MASTER = re.compile(r"^(local(\[(\*|\d+)(,\d+)?\])?|yarn|spark://\S+|k8s://\S+)$")
_JVM_MEMORY = re.compile(r"^\d+[kmgt]?$", re.IGNORECASE)


@dataclass(frozen=True)
class SparkSettings:
    """How this process starts Spark. Locally it is the session's launch; on EMR ``master`` is ``yarn``
    and the cluster's spark-submit made the session (``aws_emr/submit.py`` sets these variables there)."""

    master: str = "local[*]"
    driver_memory: str = "4g"
    shuffle_partitions: int = 8
    ui: bool = False
    jars_dir: Path | None = None  # None: the folder `make jars` fills

    @property
    def local(self) -> bool:
        return self.master.startswith("local")

    @classmethod
    def from_env(cls, e: Mapping[str, str]) -> "SparkSettings":
        master = (e.get("AUTHPULSE_SPARK_MASTER") or "local[*]").strip()
        if not _SPARK_MASTER.match(master):
            raise ConfigError(f"AUTHPULSE_SPARK_MASTER={master!r} is not a Spark master; use local[*], local[N] or yarn")
        memory = (e.get("AUTHPULSE_SPARK_DRIVER_MEMORY") or "4g").strip()
        if not _JVM_MEMORY.match(memory):
            raise ConfigError(f"AUTHPULSE_SPARK_DRIVER_MEMORY={memory!r} is not a JVM memory size; use e.g. 4g or 2048m")
        jars = (e.get("AUTHPULSE_JARS_DIR") or "").strip()
        return cls(
            master=master,
            driver_memory=memory,
            shuffle_partitions=env_vars.integer(e, "AUTHPULSE_SPARK_SHUFFLE_PARTITIONS", 8, minimum=1),
            ui=env_vars.switch(e, "AUTHPULSE_SPARK_UI", False),
            jars_dir=Path(jars).expanduser() if jars else None,
        )


@dataclass(frozen=True)
class Settings:
    """Resolved configuration. Build it with :meth:`from_env`."""

    env: str = LOCAL
    home: Path = field(default_factory=lambda: Path(".authpulse").resolve())
    dataset_epoch: datetime = field(default_factory=lambda: parse_epoch(DEFAULT_DATASET_EPOCH))
    max_line_bytes: int = 1024
    max_dataset_seconds: int = 3 * 365 * 86400
    lookback_days: int = 30
    moto_port: int = 4566
    region: str = "us-east-1"
    stream_name: str = "authpulse-events"
    stream_shards: int = 2
    alert_topic: str = "authpulse-alerts"
    alert_queue: str = "authpulse-alerts-local"
    metrics_namespace: str = "AuthPulse"
    step_mode: str = "in_process"
    # Table maintenance (the maintain_tables job): time travel reaches back this far.
    snapshot_retention_hours: int = 120
    snapshot_retain_last: int = 50
    orphan_file_age_hours: int = 24
    max_run_days: int = 400  # a file spanning more days is refused by `authpulse run` (a stray far-off time)
    # The SOC API's triage export, read back by the alerts step and the queries: where it lives
    # ("" = <home>/triage locally, <warehouse>/_triage in AWS) and how long a false positive silences.
    triage_uri: str = ""
    suppression_days: int = 7
    api_table: str = "authpulse-api"  # the SOC API's DynamoDB table (keys, triage state, audit); `local up` creates it
    spark: SparkSettings = field(default_factory=SparkSettings)
    # AWS resources; present (and validated) only when env == "aws". See AwsSettings.
    aws: "AwsSettings | None" = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        e = os.environ if environ is None else environ
        env = (e.get("AUTHPULSE_ENV") or LOCAL).strip().lower()
        if env not in (LOCAL, AWS):
            # Refused, not guessed: a typo must neither reach for the cloud nor quietly run local.
            raise ConfigError(f"AUTHPULSE_ENV={env!r} is not {LOCAL!r} or {AWS!r}; set one of them or unset it (local)")
        aws = AwsSettings.from_env(e) if env == AWS else None
        max_dataset_seconds = env_vars.integer(e, "AUTHPULSE_MAX_DATASET_SECONDS", 3 * 365 * 86400, minimum=1)
        return cls(
            env=env,
            home=_home(e.get("AUTHPULSE_HOME"), env),
            dataset_epoch=_epoch(e.get("AUTHPULSE_DATASET_EPOCH") or DEFAULT_DATASET_EPOCH, max_dataset_seconds),
            max_line_bytes=env_vars.integer(e, "AUTHPULSE_MAX_LINE_BYTES", 1024, minimum=16),
            max_dataset_seconds=max_dataset_seconds,
            lookback_days=env_vars.integer(e, "AUTHPULSE_LOOKBACK_DAYS", 30, minimum=1),
            moto_port=env_vars.integer(e, "AUTHPULSE_MOTO_PORT", 4566, minimum=1, maximum=65535),
            region=aws.region if aws else (e.get("AWS_REGION") or e.get("AWS_DEFAULT_REGION") or "us-east-1"),
            stream_name=e.get("AUTHPULSE_STREAM") or "authpulse-events",
            stream_shards=env_vars.integer(e, "AUTHPULSE_STREAM_SHARDS", 2, minimum=1),
            alert_topic=e.get("AUTHPULSE_ALERT_TOPIC") or "authpulse-alerts",
            alert_queue=e.get("AUTHPULSE_ALERT_QUEUE") or "authpulse-alerts-local",
            metrics_namespace=e.get("AUTHPULSE_METRICS_NAMESPACE") or "AuthPulse",
            step_mode=_choice(e, "AUTHPULSE_STEP_MODE", ("in_process", "pipes"), "in_process"),
            snapshot_retention_hours=env_vars.integer(e, "AUTHPULSE_SNAPSHOT_RETENTION_HOURS", 120, minimum=1),
            snapshot_retain_last=env_vars.integer(e, "AUTHPULSE_SNAPSHOT_RETAIN_LAST", 50, minimum=1),
            orphan_file_age_hours=env_vars.integer(e, "AUTHPULSE_ORPHAN_FILE_AGE_HOURS", 24, minimum=1),
            max_run_days=env_vars.integer(e, "AUTHPULSE_MAX_RUN_DAYS", 400, minimum=1),
            triage_uri=_triage_uri(e.get("AUTHPULSE_TRIAGE_URI")),
            suppression_days=env_vars.integer(e, "AUTHPULSE_SUPPRESSION_DAYS", 7, minimum=0, maximum=3650),
            api_table=_api_table(e.get("AUTHPULSE_API_TABLE")),
            spark=SparkSettings.from_env(e),
            aws=aws,
        )

    def require_aws(self) -> "AwsSettings":
        """The AWS settings, or one clear line when this is not an AWS configuration."""
        if self.aws is None:
            raise ConfigError("this needs AUTHPULSE_ENV=aws and its settings (see docs/deploy-aws.md); AUTHPULSE_ENV is local")
        return self.aws

    # Everything below lives under the data home.
    @property
    def catalog_uri(self) -> str:
        return f"sqlite:///{self.home / 'catalog.db'}"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    @property
    def run_dir(self) -> Path:
        return self.home / "run"

    @property
    def landing_dir(self) -> Path:
        """Where file sources are dropped: ``landing/<format>/<file>``."""
        return self.home / "landing"


# ---------------------------------------------------------------------------
# AWS mode (AUTHPULSE_ENV=aws)
#
# Every AWS resource is named by one variable (the deploy stack's outputs map
# onto them, see docs/deploy-aws.md). They are read and checked when Settings
# load in aws mode, so a missing or malformed one fails the code location at
# load time with one line naming the variable, never halfway through a run.
# ---------------------------------------------------------------------------

DEFAULT_EMR_RELEASE = "emr-spark-8.1.0"
_REGION = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d$")
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_S3_URI = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$")
_TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}(\.fifo)?$")
_CLUSTER_ID = re.compile(r"^j-[0-9A-Z]{4,}$")
_GLUE_NAME = re.compile(r"^[a-z0-9_]{1,255}$")
_WORKGROUP = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
_STREAM = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class _Reader:
    """Reads AWS variables, collecting every problem so one line can name them all."""

    def __init__(self, environ: Mapping[str, str]):
        self.e = environ
        self.problems: list[tuple[str, str]] = []  # (variable, message)

    def _fail(self, name: str, message: str) -> str:
        self.problems.append((name, message))
        return ""

    def required(self, name: str, what: str, pattern: re.Pattern | None = None, example: str = "") -> str:
        value = (self.e.get(name) or "").strip()
        if not value:
            return self._fail(name, f"{name} is not set; AUTHPULSE_ENV=aws needs it ({what})")
        return self.check(name, value, what, pattern, example)

    def optional(self, name: str, default: str, what: str, pattern: re.Pattern | None = None, example: str = "") -> str:
        value = (self.e.get(name) or "").strip()
        return self.check(name, value, what, pattern, example) if value else default

    def check(self, name: str, value: str, what: str, pattern: re.Pattern | None, example: str) -> str:
        if pattern is not None and not pattern.match(value):
            hint = f", e.g. {example}" if example else ""
            return self._fail(name, f"{name}={value!r} is not valid: expected {what}{hint}")
        return value

    def s3_uri(self, name: str, what: str, required: bool = True, default: str = "") -> str:
        if required:
            value = self.required(name, what, _S3_URI, "s3://my-bucket/prefix")
        else:
            value = self.optional(name, default, what, _S3_URI, "s3://my-bucket/prefix")
        return value.rstrip("/")

    def flag(self, name: str) -> bool:
        try:
            return env_vars.switch(self.e, name, False)
        except ConfigError as exc:
            self._fail(name, str(exc))
            return False

    def integer(self, name: str, default: int, minimum: int) -> int:
        try:
            return env_vars.integer(self.e, name, default, minimum)
        except ConfigError as exc:
            self._fail(name, str(exc))
            return default

    def raise_if_any(self) -> None:
        if not self.problems:
            return
        first = self.problems[0][1]
        rest = [name for name, _ in self.problems[1:]]
        raise ConfigError(first + (f"; also missing or invalid: {', '.join(rest)}" if rest else ""))


@dataclass(frozen=True)
class EmrSettings:
    """Where Spark steps run on EMR: an existing cluster, or a transient cluster per step."""

    artifacts_uri: str  # s3 prefix holding authpulse-emr.tar.gz and authpulse_emr_main.py (make emr-package)
    cluster_id: str | None = None  # existing long-running cluster: batch steps (unless transient) and the stream
    transient: bool = False  # batch steps each start their own cluster (PipesEMRClient)
    release_label: str = DEFAULT_EMR_RELEASE
    instance_type: str = "m6i.xlarge"
    instance_count: int = 3
    service_role: str = ""
    instance_profile: str = ""
    subnet_id: str = ""
    log_uri: str = ""
    python: str = "python3.11"
    poll_seconds: float = 15.0
    # spark-submit sizes: in cluster mode the driver's JVM starts before any builder
    # setting is read, so memory must be passed on the command line.
    driver_memory: str = "4g"
    executor_memory: str = "16g"
    executor_cores: int = 4
    # Transient clusters only: what the stack outputs for them (private subnet,
    # tagged EMR-managed security groups, the security configuration).
    security_configuration: str = ""
    primary_security_group: str = ""
    core_security_group: str = ""
    service_access_security_group: str = ""

    @property
    def archive_uri(self) -> str:
        from authpulse_dagster.aws_emr.layout import ARCHIVE_NAME

        return f"{self.artifacts_uri}/{ARCHIVE_NAME}"

    @property
    def launcher_uri(self) -> str:
        from authpulse_dagster.aws_emr.layout import LAUNCHER_NAME

        return f"{self.artifacts_uri}/{LAUNCHER_NAME}"

    @property
    def jar_uri(self) -> str:
        from authpulse_dagster.aws_emr.layout import JAR_NAME

        return f"{self.artifacts_uri}/{JAR_NAME}"


@dataclass(frozen=True)
class AwsSettings:
    """Every AWS resource AuthPulse uses, from the environment (AUTHPULSE_ENV=aws)."""

    region: str
    warehouse_uri: str  # s3://bucket/prefix of the Iceberg warehouse
    raw_uri: str  # s3://bucket/prefix of the raw zone (landed files)
    glue_database: str
    stream_name: str
    alert_topic_arn: str
    metrics_namespace: str
    pipes_bucket: str  # bucket for Dagster Pipes context and messages
    emr: EmrSettings
    athena_workgroup: str
    athena_output: str  # s3://bucket/prefix for Athena results
    stream_checkpoint_uri: str

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> "AwsSettings":
        r = _Reader(environ)
        region = (environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or "").strip()
        if not region:
            r._fail("AWS_REGION", "AWS_REGION is not set; AUTHPULSE_ENV=aws needs it (the region of the AuthPulse stack, e.g. eu-west-1)")
        elif not _REGION.match(region):
            r._fail("AWS_REGION", f"AWS_REGION={region!r} is not a region name, e.g. eu-west-1")
        warehouse = r.s3_uri("AUTHPULSE_WAREHOUSE_URI", "the S3 prefix of the Iceberg warehouse")
        raw = r.s3_uri("AUTHPULSE_RAW_URI", "the S3 prefix of the raw zone")
        glue_db = r.optional("AUTHPULSE_GLUE_DATABASE", "authpulse", "a Glue database name (lower case, digits, _)", _GLUE_NAME, "authpulse")
        from authpulse_dagster.lakehouse.schemas import NAMESPACE

        if glue_db and glue_db != NAMESPACE and not any(n == "AUTHPULSE_GLUE_DATABASE" for n, _ in r.problems):
            r._fail("AUTHPULSE_GLUE_DATABASE", f"AUTHPULSE_GLUE_DATABASE={glue_db!r} is not supported: the tables live in the Glue database {NAMESPACE!r}; unset it")
        stream = r.required("AUTHPULSE_STREAM", "the Kinesis stream name", _STREAM, "authpulse-events")
        topic = r.required("AUTHPULSE_ALERT_TOPIC_ARN", "the SNS alert topic ARN", _TOPIC_ARN, "arn:aws:sns:eu-west-1:123456789012:authpulse-alerts")
        namespace = r.optional("AUTHPULSE_METRICS_NAMESPACE", "AuthPulse", "a CloudWatch namespace", re.compile(r"^[^:]{1,255}$"))
        pipes_bucket = (environ.get("AUTHPULSE_PIPES_BUCKET") or "").strip()
        if pipes_bucket.startswith("s3://"):
            r._fail("AUTHPULSE_PIPES_BUCKET", f"AUTHPULSE_PIPES_BUCKET={pipes_bucket!r} must be a bucket name, not a URI (drop s3://)")
        else:
            pipes_bucket = r.required("AUTHPULSE_PIPES_BUCKET", "the S3 bucket for Dagster Pipes messages", _BUCKET, "authpulse-pipes-123456789012")
        emr = _emr_from(r, pipes_bucket)
        workgroup = r.required("AUTHPULSE_ATHENA_WORKGROUP", "the Athena workgroup", _WORKGROUP, "authpulse")
        athena_output = r.s3_uri("AUTHPULSE_ATHENA_OUTPUT", "the S3 prefix for Athena query results")
        checkpoint = r.s3_uri(
            "AUTHPULSE_STREAM_CHECKPOINT_URI", "the S3 prefix of the streaming checkpoint", required=False,
            default=f"{warehouse}/_checkpoints/stream" if warehouse else "",
        )
        r.raise_if_any()
        return cls(
            region=region, warehouse_uri=warehouse, raw_uri=raw, glue_database=glue_db, stream_name=stream,
            alert_topic_arn=topic, metrics_namespace=namespace, pipes_bucket=pipes_bucket, emr=emr,
            athena_workgroup=workgroup, athena_output=athena_output, stream_checkpoint_uri=checkpoint,
        )


def _emr_from(r: _Reader, pipes_bucket: str) -> EmrSettings:
    artifacts = r.s3_uri("AUTHPULSE_EMR_ARTIFACTS_URI", "the S3 prefix where `make emr-package` output is uploaded")
    cluster_id = r.optional("AUTHPULSE_EMR_CLUSTER_ID", "", "an EMR cluster id", _CLUSTER_ID, "j-2AXXXXXXGAPLF") or None
    transient = r.flag("AUTHPULSE_EMR_TRANSIENT")
    if not cluster_id and not transient and not any(n in ("AUTHPULSE_EMR_CLUSTER_ID", "AUTHPULSE_EMR_TRANSIENT") for n, _ in r.problems):
        r._fail(
            "AUTHPULSE_EMR_CLUSTER_ID",
            "AUTHPULSE_EMR_CLUSTER_ID is not set; AUTHPULSE_ENV=aws needs it (the EMR cluster for Spark steps), "
            "or AUTHPULSE_EMR_TRANSIENT=1 to start a cluster per step",
        )
    service_role = instance_profile = subnet = security_configuration = primary_sg = core_sg = service_sg = ""
    if transient:
        # Every one is required: without the subnet a cluster lands in the default VPC, without the
        # security configuration it has no disk encryption, TLS or IMDSv2, and without the tagged
        # security groups the v2 service policy cannot launch it (the stack outputs them all).
        name = re.compile(r"^[\w+=,.@/:-]{1,2048}$")
        sg = re.compile(r"^sg-[0-9a-f]{8,17}$")
        service_role = r.required("AUTHPULSE_EMR_SERVICE_ROLE", "the EMR service role for transient clusters", name, "EMR_DefaultRole_V2")
        instance_profile = r.required("AUTHPULSE_EMR_INSTANCE_PROFILE", "the EC2 instance profile for transient clusters", name, "EMR_EC2_DefaultRole")
        subnet = r.required("AUTHPULSE_EMR_SUBNET_ID", "the private subnet for transient clusters", re.compile(r"^subnet-[0-9a-f]{8,17}$"), "subnet-0123456789abcdef0")
        security_configuration = r.required("AUTHPULSE_EMR_SECURITY_CONFIGURATION", "the EMR security configuration for transient clusters", re.compile(r"^[\w.-]{1,10280}$"), "AuthPulse-SecurityConfiguration")
        primary_sg = r.required("AUTHPULSE_EMR_PRIMARY_SG", "the EMR-managed primary security group", sg, "sg-0123456789abcdef0")
        core_sg = r.required("AUTHPULSE_EMR_CORE_SG", "the EMR-managed core/task security group", sg, "sg-0123456789abcdef0")
        service_sg = r.required("AUTHPULSE_EMR_SERVICE_ACCESS_SG", "the EMR service-access security group", sg, "sg-0123456789abcdef0")
    size = re.compile(r"^[1-9][0-9]*[kmgt]$")
    default_logs = f"s3://{pipes_bucket}/emr-logs" if pipes_bucket else ""
    return EmrSettings(
        artifacts_uri=artifacts,
        cluster_id=cluster_id,
        transient=transient,
        release_label=r.optional("AUTHPULSE_EMR_RELEASE_LABEL", DEFAULT_EMR_RELEASE, "an EMR release label", re.compile(r"^emr-[a-z0-9.-]+$"), DEFAULT_EMR_RELEASE),
        instance_type=r.optional("AUTHPULSE_EMR_INSTANCE_TYPE", "m6i.xlarge", "an EC2 instance type", re.compile(r"^[a-z0-9-]+\.[a-z0-9]+$"), "m6i.xlarge"),
        instance_count=r.integer("AUTHPULSE_EMR_INSTANCE_COUNT", 3, minimum=1),
        service_role=service_role,
        instance_profile=instance_profile,
        subnet_id=subnet,
        log_uri=r.s3_uri("AUTHPULSE_EMR_LOG_URI", "the S3 prefix for EMR logs", required=False, default=default_logs),
        python=r.optional("AUTHPULSE_EMR_PYTHON", "python3.11", "the Python 3.11 interpreter on the cluster nodes", re.compile(r"^[\w./-]+$")),
        poll_seconds=float(r.integer("AUTHPULSE_EMR_POLL_SECONDS", 15, minimum=1)),
        driver_memory=r.optional("AUTHPULSE_EMR_DRIVER_MEMORY", "4g", "a JVM size like 4g or 512m", size, "4g"),
        executor_memory=r.optional("AUTHPULSE_EMR_EXECUTOR_MEMORY", "16g", "a JVM size like 16g", size, "16g"),
        executor_cores=r.integer("AUTHPULSE_EMR_EXECUTOR_CORES", 4, minimum=1),
        security_configuration=security_configuration,
        primary_security_group=primary_sg,
        core_security_group=core_sg,
        service_access_security_group=service_sg,
    )
