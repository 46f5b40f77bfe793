"""The CDK app under test: infra/ on the path, one synthesis shared by the session.

Starting jsii (a Node process loading aws-cdk-lib) and the first synthesis
take several seconds, so the default stack is synthesized once and every test
reads the same template. Nothing here touches the network or AWS.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

INFRA = Path(__file__).resolve().parents[2] / "infra"
if str(INFRA) not in sys.path:
    sys.path.insert(0, str(INFRA))

# The machine's Node 20 works but jsii prints a banner about its end of life
# on every start; keep it out of the test output (deploying: use Node 22+).
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


@pytest.fixture(scope="session")
def synthesized():
    """``(stack, Template)`` for the stack with default context."""
    from aws_cdk.assertions import Template

    from authpulse_infra import build_app

    _, stack = build_app()
    return stack, Template.from_stack(stack)


@pytest.fixture(scope="session")
def stack(synthesized):
    return synthesized[0]


@pytest.fixture(scope="session")
def template(synthesized):
    return synthesized[1]


@pytest.fixture(scope="session")
def template_json(template) -> dict:
    return template.to_json()
