"""The one place AWS clients are built.

Local and cloud code paths are identical: a client never receives an
``endpoint_url``. In local mode the endpoint of the embedded AWS (a moto
server started by ``authpulse local up``) reaches boto3 only through the
standard ``AWS_ENDPOINT_URL`` / ``AWS_ENDPOINT_URL_<SERVICE>`` environment
variables, which botocore resolves itself (``ConfiguredEndpointProvider``,
read from ``os.environ`` each time a client is created). Pointing the project
at another emulator, or at real AWS, is therefore a matter of environment.
"""

from __future__ import annotations

import functools
import os
import threading
from typing import Any, Mapping
from urllib.parse import urlsplit

import boto3
import botocore.session
from botocore.config import Config

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.settings import LOCAL, Settings

# Dummy credentials for the local emulator; moto accepts anything, but botocore
# refuses to sign a request without some credentials.
DUMMY_CREDENTIAL = "testing"

# Standard retries absorb throttling and transient 5xx on real AWS; bounded
# timeouts make a dead local endpoint fail in seconds instead of hanging.
# botocore's ``max_attempts`` counts retries, so this is up to 6 calls in all.
_MAX_ATTEMPTS = 5
_CONNECT_TIMEOUT = 5
_READ_TIMEOUT = 30

# What a boto3 Session resolves once and then keeps: credentials and profile.
# The endpoint is not among them; botocore reads it for every new client.
_SESSION_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
# Per thread because boto3 sessions are not thread-safe (clients are).
_sessions = threading.local()


def _session(region: str | None) -> boto3.session.Session:
    """A session for the current credential environment.

    Not boto3's default session: it keeps the first credentials it resolved,
    which would outlive a change of environment (tests,
    ``apply_local_environment``). Not a fresh one per client either: loading
    the service models again costs ~0.1 s a client.
    """
    key = (region, *(os.environ.get(name) for name in _SESSION_KEYS))
    cache: dict[tuple[str | None, ...], boto3.session.Session] = _sessions.__dict__.setdefault("by_key", {})
    if key not in cache:
        cache[key] = boto3.session.Session(region_name=region)
    return cache[key]


def _base_config() -> Config:
    return Config(
        retries={"mode": "standard", "max_attempts": _MAX_ATTEMPTS},
        connect_timeout=_CONNECT_TIMEOUT,
        read_timeout=_READ_TIMEOUT,
    )


def aws_client(service: str, settings: Settings, **kwargs: Any) -> Any:
    """Return a boto3 client for ``service`` in the settings' region.

    ``kwargs`` go to ``Session.client``; a ``config`` is merged over the
    project defaults. ``endpoint_url`` is refused on purpose: the endpoint
    comes from the environment so no code path can pin one. In local mode
    the client is refused unless that endpoint is on this machine
    (:func:`require_local_endpoint`).
    """
    if settings.env == LOCAL:
        require_local_endpoint(service)
    return client_in_region(service, settings.region, **kwargs)


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def local_endpoint_problem(service: str, environ: Mapping[str, str] | None = None) -> str | None:
    """Why a ``service`` client would leave this machine in local mode, or None when it would not.

    botocore takes ``AWS_ENDPOINT_URL_<SERVICE_ID>`` over ``AWS_ENDPOINT_URL``;
    without either (or with configured endpoints switched off) it goes to real
    AWS with whatever credentials the shell has.
    """
    e = os.environ if environ is None else environ
    if (e.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") or "").strip().lower() == "true":
        return "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true makes boto3 skip the local endpoint"
    name = f"AWS_ENDPOINT_URL_{_service_id(service)}"
    endpoint = (e.get(name) or e.get("AWS_ENDPOINT_URL") or "").strip()
    if not endpoint:
        return "AWS_ENDPOINT_URL is not set"
    host = urlsplit(endpoint).hostname or ""
    if host not in _LOOPBACK and not host.startswith("127."):
        return f"{name if e.get(name) else 'AWS_ENDPOINT_URL'}={endpoint} is not on this machine"
    return None


def require_local_endpoint(service: str) -> None:
    """Refuse, with one line, a local-mode client that would reach a real AWS account."""
    problem = local_endpoint_problem(service)
    if problem:
        raise ConfigError(
            f"local mode never calls real AWS, and a {service} client would: {problem}; run through `authpulse` "
            "(it starts the local stack), or `eval \"$(authpulse local env)\"` first, or set AUTHPULSE_ENV=aws"
        )


@functools.lru_cache(maxsize=None)
def _service_id(service: str) -> str:
    """botocore's environment-variable form of a service's id (``cloudwatch`` -> ``CLOUDWATCH``)."""
    model = botocore.session.get_session().get_service_model(service)
    return model.service_id.hyphenize().replace("-", "_").upper()


def client_in_region(service: str, region: str | None, **kwargs: Any) -> Any:
    """:func:`aws_client` for a process that has a region but no settings (Spark's Python workers);
    ``None`` leaves the region to botocore (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the config file)."""
    if "endpoint_url" in kwargs:
        raise TypeError(
            "aws_client does not take endpoint_url; set AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_<SERVICE> instead"
        )
    extra = kwargs.pop("config", None)
    config = _base_config() if extra is None else _base_config().merge(extra)
    return _session(region).client(service, config=config, **kwargs)


def local_aws_environment(
    endpoint: str, region: str, *, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment variables local mode sets to reach the embedded AWS.

    Credentials are only included when the user has none in ``environ``
    (default ``os.environ``), so an explicit pair is never overridden; they
    are treated as a pair because botocore rejects half a key.
    """
    e = os.environ if environ is None else environ
    env = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
    }
    if not e.get("AWS_ACCESS_KEY_ID") and not e.get("AWS_SECRET_ACCESS_KEY"):
        env["AWS_ACCESS_KEY_ID"] = DUMMY_CREDENTIAL
        env["AWS_SECRET_ACCESS_KEY"] = DUMMY_CREDENTIAL
    return env
