"""AuthPulse on Amazon EMR: step submission through Dagster Pipes, the streaming step, packaging.

- ``layout``: names of the uploaded artifacts.
- ``submit``: the spark-submit command an EMR step runs (the same entry points as locally).
- ``pipes_clients``: Dagster Pipes clients for an existing cluster (add_job_flow_steps) and for
  transient clusters (dagster-aws ``PipesEMRClient``).
- ``step_runner``: ``EmrStepRunner``, the AWS ``step_runner`` resource.
- ``streaming``: ``EmrStreamingJobResource``, the AWS ``streaming`` resource.
- ``package``: builds ``dist/authpulse-emr.tar.gz`` (``make emr-package``).
- ``launcher``: the tiny main file spark-submit runs; it runs a module as ``python -m`` would.
"""
