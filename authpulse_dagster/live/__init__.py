"""The live path: replaying LANL files into Kinesis and reading them back with Spark."""
