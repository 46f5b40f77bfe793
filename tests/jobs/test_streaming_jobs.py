"""The live-path Dagster jobs, run in process against the moto server."""

import dagster as dg

from authpulse_dagster.aws import aws_client
from authpulse_dagster.jobs.streaming import replay_lanl, streaming_status
from authpulse_dagster.resources.streaming import StreamingJobResource


def _stream_records(settings) -> int:
    kinesis = aws_client("kinesis", settings)
    total = 0
    for shard in kinesis.list_shards(StreamName=settings.stream_name)["Shards"]:
        it = kinesis.get_shard_iterator(StreamName=settings.stream_name, ShardId=shard["ShardId"],
                                        ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        total += len(kinesis.get_records(ShardIterator=it, Limit=10000)["Records"])
    return total


def test_replay_lanl_job_sends_the_file_with_run_config(aws_env, aws_resources, tmp_path):
    data = tmp_path / "auth.txt"
    data.write_text("1,U1,C1\n2,U2,C2\n3,U3,C3\nbroken\n")
    result = replay_lanl.execute_in_process(
        run_config={"ops": {"replay_lanl_op": {"config": {"input": str(data), "format": "lanl2014", "limit": 3}}}}
    )
    assert result.success
    assert _stream_records(aws_env) == 3


def test_streaming_status_job_records_an_observation(aws_env):
    with dg.instance_for_test() as instance:
        result = streaming_status.execute_in_process(instance=instance, resources={"streaming": StreamingJobResource()})
        assert result.success
        obs = [e.event_specific_data.asset_observation for e in result.all_events if e.event_type_value == "ASSET_OBSERVATION"]
        assert obs and obs[0].asset_key == dg.AssetKey("auth_events")
        assert obs[0].metadata["streaming_state"].value == "not started"
