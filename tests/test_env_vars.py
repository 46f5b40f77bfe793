"""One parser for every environment variable: the same spellings and messages in every module."""

import pytest

from authpulse_dagster import env_vars
from authpulse_dagster.errors import ConfigError
from authpulse_dagster.sensors.config import OpsConfig
from authpulse_dagster.settings import AwsSettings
from tests.test_settings_aws import VALID


@pytest.mark.parametrize("raw", ["on", "ON", "1", "true", "yes", " on "])
def test_every_on_spelling_is_on(raw):
    assert env_vars.switch({"X": raw}, "X", default=False) is True


@pytest.mark.parametrize("raw", ["off", "0", "false", "No"])
def test_every_off_spelling_is_off(raw):
    assert env_vars.switch({"X": raw}, "X", default=True) is False


def test_unset_or_empty_is_the_default_and_anything_else_is_one_line():
    assert env_vars.switch({}, "X", default=True) is True and env_vars.switch({"X": ""}, "X", default=False) is False
    with pytest.raises(ConfigError, match=r"^X='pipes' must be on or off$"):
        env_vars.switch({"X": "pipes"}, "X", default=False)


def test_numbers_and_their_bounds():
    assert env_vars.integer({"N": " 7 "}, "N", 1) == 7 and env_vars.integer({}, "N", 3) == 3
    with pytest.raises(ConfigError, match=r"^N='7.5' is not a whole number; set it to one or unset it$"):
        env_vars.integer({"N": "7.5"}, "N", 1)
    with pytest.raises(ConfigError, match=r"^N=0 must be between 1 and 1000000$"):
        env_vars.integer({"N": "0"}, "N", 1, minimum=1, maximum=1_000_000)
    with pytest.raises(ConfigError, match=r"^R=0.5 must be at least 1$"):
        env_vars.number({"R": "0.5"}, "R", 2.0, minimum=1.0)
    assert env_vars.number({"R": "2.5"}, "R", 1.0) == 2.5


def test_the_sensors_and_the_aws_settings_read_switches_alike():
    # Before one parser, AUTHPULSE_SENSORS took only on/off and AUTHPULSE_EMR_TRANSIENT only 1/0.
    assert OpsConfig.from_env({"AUTHPULSE_SENSORS": "1"}).sensors_on is True
    assert OpsConfig.from_env({"AUTHPULSE_SENSORS": "false"}).sensors_on is False
    with pytest.raises(ConfigError, match="AUTHPULSE_EMR_TRANSIENT='maybe' must be on or off"):
        AwsSettings.from_env({**VALID, "AUTHPULSE_EMR_TRANSIENT": "maybe"})
    assert AwsSettings.from_env({**VALID, "AUTHPULSE_EMR_TRANSIENT": "off"}).emr.transient is False
