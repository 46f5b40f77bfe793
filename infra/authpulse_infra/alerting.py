"""The alert topic and the CloudWatch alarms that publish to it.

The topic has its own key because its key policy must let CloudWatch use it:
an alarm publishing to a topic encrypted with the AWS-managed ``aws/sns`` key
fails silently (that key's policy cannot be changed to admit CloudWatch).
Keeping this grant off the data key keeps the data key's policy minimal.

Alarms, both with alarm and OK actions on the topic:

- iterator age: AWS/Kinesis ``GetRecords.IteratorAgeMilliseconds`` (Maximum)
  above half the retention means the reader is falling behind fast enough to
  lose records when they expire (DOMAIN.md §4).
- batch duration: the streaming job's own ``BatchDuration`` (namespace
  ``AuthPulse``, dimension ``StreamName``, unit Milliseconds; see
  authpulse_dagster/live/metrics.py) above the threshold for every period of
  the window means micro-batches no longer keep up with the trigger.

Missing data means what it means for each metric:

- iterator age is **breaching** when missing: Kinesis publishes it on every
  ``GetRecords`` call, empty reads included, and the running job reads all the
  time, so no datapoint means nobody reads the stream, i.e. detection is off.
  A planned stop pages too unless the operator disables the alarm's actions
  first (docs/deploy-aws.md, "Stop streaming").
- batch duration is **not breaching** when missing: Spark runs no micro-batch
  when no records arrive, so an idle stream (a quiet night) publishes nothing
  either, and that is not a fault.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesis as kinesis
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sns as sns
from constructs import Construct

from authpulse_infra.config import InfraConfig

BATCH_DURATION_METRIC = "BatchDuration"
STREAM_DIMENSION = "StreamName"


class Alerting(Construct):
    def __init__(self, scope: Construct, id: str, *, config: InfraConfig, stream: kinesis.Stream) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "AlertsKey",
            alias=f"alias/{config.prefix}/alerts",
            description="AuthPulse alert topic",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        # CloudWatch alarms publish to the encrypted topic as the CloudWatch
        # service, which needs the key for that (AWS's documented statement,
        # unconditioned: CloudWatch's KMS calls are not documented to carry
        # source keys). Which alarms may publish is narrowed on the topic below,
        # and this key encrypts nothing but this topic.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsToUseTheKey",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],  # in a key policy "*" is this key
            )
        )
        self.topic = sns.Topic(
            self,
            "AlertTopic",
            topic_name=config.topic_name,
            display_name="AuthPulse alerts",
            master_key=self.key,
            enforce_ssl=True,
        )
        # enforce_ssl gives the topic an explicit policy, which replaces SNS's
        # default one; without this statement the alarms could not publish.
        # Only this stack's alarms (by name prefix, in this account and region).
        self.alarm_arn_pattern = f"arn:{Aws.PARTITION}:cloudwatch:{Aws.REGION}:{Aws.ACCOUNT_ID}:alarm:{config.prefix}-*"
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowThisStacksAlarmsToPublish",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
                conditions={"ArnLike": {"aws:SourceArn": self.alarm_arn_pattern}},
            )
        )

        period = Duration.minutes(config.alarm_period_minutes)
        self.iterator_age_alarm = cloudwatch.Alarm(
            self,
            "IteratorAgeAlarm",
            alarm_name=f"{config.prefix}-stream-iterator-age",
            alarm_description=(
                f"Oldest record read from {config.stream_name} is older than half its "
                f"{config.stream_retention_hours} h retention: the streaming job is falling behind and will lose records."
            ),
            metric=stream.metric_get_records_iterator_age_milliseconds(statistic="Maximum", period=period),
            threshold=config.iterator_age_threshold_ms,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=config.alarm_evaluation_periods,
            datapoints_to_alarm=config.alarm_evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.BREACHING,  # nobody reads the stream (see module doc)
        )
        self.batch_duration_alarm = cloudwatch.Alarm(
            self,
            "BatchDurationAlarm",
            alarm_name=f"{config.prefix}-stream-batch-duration",
            alarm_description=(
                f"Streaming micro-batches on {config.stream_name} take longer than "
                f"{config.batch_duration_alarm_ms} ms: the job no longer keeps up with its trigger."
            ),
            metric=cloudwatch.Metric(
                namespace=config.metrics_namespace,
                metric_name=BATCH_DURATION_METRIC,
                dimensions_map={STREAM_DIMENSION: stream.stream_name},
                statistic="Maximum",
                period=period,
                unit=cloudwatch.Unit.MILLISECONDS,
            ),
            threshold=config.batch_duration_alarm_ms,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=config.alarm_evaluation_periods,
            datapoints_to_alarm=config.alarm_evaluation_periods,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,  # an idle stream runs no batch
        )
        action = cw_actions.SnsAction(self.topic)
        for alarm in (self.iterator_age_alarm, self.batch_duration_alarm):
            alarm.add_alarm_action(action)
            alarm.add_ok_action(action)

