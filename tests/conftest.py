"""Shared fixtures: real local services, built once per session where costly."""

pytest_plugins = [
    "tests.fixtures.moto",
    "tests.fixtures.spark",
    "tests.fixtures.lakehouse",
    "tests.fixtures.fault_proxy",
    "tests.fixtures.browser",
]
