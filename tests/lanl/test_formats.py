"""The format table is shared by readers, Spark parsers and the generator."""

import pytest

from authpulse_dagster.errors import ConfigError
from authpulse_dagster.lanl.formats import COLUMNS, FIELD_COUNTS, FORMATS, LINE_HARD_CAP, validate_format


def test_formats_and_field_counts():
    assert FORMATS == ("lanl2014", "lanl2015")
    assert FIELD_COUNTS == {"lanl2014": 3, "lanl2015": 9}
    assert COLUMNS["lanl2014"] == ("time", "user", "computer")
    assert COLUMNS["lanl2015"][0] == "time" and COLUMNS["lanl2015"][-1] == "success"
    assert all(len(COLUMNS[f]) == FIELD_COUNTS[f] for f in FORMATS)


def test_sample_lines_have_the_documented_field_counts():
    assert len(b"1,U1,C1".split(b",")) == FIELD_COUNTS["lanl2014"]
    line = b"1,C625$@DOM1,U147@DOM1,C625,C625,Negotiate,Batch,LogOn,Success"
    assert len(line.split(b",")) == FIELD_COUNTS["lanl2015"]


def test_validate_format():
    assert validate_format("lanl2015") == "lanl2015"
    with pytest.raises(ConfigError, match="lanl2014, lanl2015"):
        validate_format("lanl2016")


def test_line_cap_is_one_mebibyte():
    assert LINE_HARD_CAP == 1 << 20
