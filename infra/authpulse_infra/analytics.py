"""The Glue database (the Iceberg catalog namespace) and the Athena workgroup.

The database is named like the Iceberg namespace the code uses (``authpulse``)
and located at ``<warehouse>/authpulse.db``, which is where pyiceberg's
GlueCatalog puts a namespace's tables by default: tables land in the same
place whether or not the catalog honours the database location.

The workgroup enforces its own settings (clients cannot send results
elsewhere or unencrypted), writes results SSE-KMS to the aggregates bucket,
uses engine v3 (Iceberg reads) and caps the bytes one query may scan.
"""

from __future__ import annotations

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_kms as kms
from constructs import Construct

from authpulse_infra.config import InfraConfig


class Analytics(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: InfraConfig,
        warehouse_uri: str,
        results_uri: str,
        key: kms.IKey,
    ) -> None:
        super().__init__(scope, id)
        self.database_name = config.glue_database
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=Aws.ACCOUNT_ID,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=config.glue_database,
                description="AuthPulse Iceberg tables: bronze raw_events, silver auth_events/quarantine, gold aggregates",
                location_uri=f"{warehouse_uri}/{config.glue_database}.db",
            ),
        )
        # Deleting the database drops every table definition with it; the
        # table data would be left without a catalog. Keep it with the data.
        self.database.apply_removal_policy(RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY)

        self.workgroup = athena.CfnWorkGroup(
            self,
            "WorkGroup",
            name=config.athena_workgroup,
            description="AuthPulse analysts' queries over the Iceberg tables",
            state="ENABLED",
            recursive_delete_option=True,  # stack deletion removes saved queries with it
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                enforce_work_group_configuration=True,
                publish_cloud_watch_metrics_enabled=True,
                bytes_scanned_cutoff_per_query=config.athena_bytes_scanned_cutoff,
                engine_version=athena.CfnWorkGroup.EngineVersionProperty(selected_engine_version="Athena engine version 3"),
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=results_uri,
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS",
                        kms_key=key.key_arn,
                    ),
                    expected_bucket_owner=Aws.ACCOUNT_ID,
                ),
            ),
        )

    @property
    def catalog_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:catalog"

    @property
    def database_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:database/{self.database_name}"

    @property
    def tables_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:glue:{Aws.REGION}:{Aws.ACCOUNT_ID}:table/{self.database_name}/*"

    @property
    def workgroup_arn(self) -> str:
        return f"arn:{Aws.PARTITION}:athena:{Aws.REGION}:{Aws.ACCOUNT_ID}:workgroup/{self.workgroup.name}"
