"""``authpulse generate`` through click, as a user would call it."""

import gzip

from click.testing import CliRunner

from authpulse_dagster.cli import generate


def test_generate_writes_gzip_and_reports(tmp_path):
    out = tmp_path / "data" / "auth.txt.gz"
    result = CliRunner().invoke(
        generate.generate,
        ["--users", "50", "--computers", "80", "--days", "2", "--seed", "3", "--out", str(out),
         "--events-per-user-day", "20", "--no-progress"],
    )
    assert result.exit_code == 0, result.output
    lines = gzip.decompress(out.read_bytes()).split(b"\n")[:-1]
    assert lines and all(line.count(b",") == 2 for line in lines)
    assert f"generated {len(lines)} events" in result.output
    assert str(out) in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_defaults_are_used(tmp_path):
    out = tmp_path / "auth.txt"
    result = CliRunner().invoke(generate.generate, ["--out", str(out), "--days", "1", "--no-progress"])
    assert result.exit_code == 0, result.output
    users = {line.split(b",")[1] for line in out.read_bytes().splitlines()}
    assert len(users) > 500 and all(int(u[1:]) <= 1000 for u in users)


def test_help_mentions_every_option():
    result = CliRunner().invoke(generate.generate, ["--help"])
    assert result.exit_code == 0
    for option in ("--users", "--computers", "--days", "--seed", "--out", "--events-per-user-day", "--no-progress"):
        assert option in result.output


def test_bad_arguments_exit_non_zero(tmp_path):
    runner = CliRunner()
    for args in (
        ["--users", "0", "--out", str(tmp_path / "a.txt")],
        ["--computers", "1", "--out", str(tmp_path / "a.txt")],
        ["--days", "x", "--out", str(tmp_path / "a.txt")],
        ["--events-per-user-day", "0", "--out", str(tmp_path / "a.txt")],
        ["--users", "5"],  # --out is required
    ):
        result = runner.invoke(generate.generate, args)
        assert result.exit_code != 0, args
    assert not (tmp_path / "a.txt").exists()
