"""Kernel pieces that need no server: settings, microversions, log masking, atomic files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from overcast.common import config, errors, log
from overcast.common.files import atomic_write
from overcast.common.http.microversions import APIVersion, VersionRange

RANGE = VersionRange("compute", APIVersion(2, 1), APIVersion(2, 90), "x-openstack-nova-api-version")


def test_settings_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "overcast.toml"
    file.write_text("port = 6000\n[identity]\ntoken_expiration = 60\nlockout_duration = 5\n")
    monkeypatch.setenv("OVERCAST_IDENTITY__TOKEN_EXPIRATION", "120")
    settings = config.load(file, data_dir=tmp_path)
    assert settings.port == 6000
    assert settings.identity.token_expiration == 120  # environment beats the file
    assert settings.identity.lockout_duration == 5
    assert config.load(file, data_dir=tmp_path, port=7000).port == 7000  # command line wins


def test_microversion_negotiation() -> None:
    assert RANGE.negotiate({}) == APIVersion(2, 1)
    assert RANGE.negotiate({"openstack-api-version": "compute 2.53"}) == APIVersion(2, 53)
    assert RANGE.negotiate({"x-openstack-nova-api-version": "latest"}) == APIVersion(2, 90)
    with pytest.raises(errors.NotAcceptable):
        RANGE.negotiate({"openstack-api-version": "compute 2.91"})
    with pytest.raises(errors.BadRequest):
        RANGE.negotiate({"openstack-api-version": "compute two"})
    headers = RANGE.response_headers(APIVersion(2, 10))
    assert headers["OpenStack-API-Version"] == "compute 2.10"
    assert headers["X-OpenStack-Nova-API-Version"] == "2.10"


def test_logs_never_carry_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    log.setup("INFO")
    logging.getLogger("t").info(
        'body {"password": "hunter2"} token=gAAAAsecret', extra={"fields": {"X-Auth-Token": "abc"}}
    )
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert "hunter2" not in line and "gAAAAsecret" not in line and "abc" not in line
    assert entry["X-Auth-Token"] == "***"


def test_atomic_write(tmp_path: Path) -> None:
    target = tmp_path / "a" / "secret"
    atomic_write(target, b"one")
    atomic_write(target, b"two", 0o600)
    assert target.read_bytes() == b"two"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in target.parent.iterdir()] == ["secret"]


def test_a_failed_pass_is_one_line_while_the_database_is_away(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from sqlalchemy import exc as sa_exc

    from overcast.common.db import session

    logger = logging.getLogger("overcast.test.passes")
    away = sa_exc.OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
    with caplog.at_level(logging.WARNING, logger="overcast.test.passes"):
        session.report_failed_pass(logger, "report failed", away)
        session.report_failed_pass(logger, "report failed", ValueError("a bug"))
    first, second = caplog.records
    assert first.levelno == logging.WARNING and first.exc_info is None
    assert "the next pass retries" in first.getMessage()
    assert second.levelno == logging.ERROR and second.exc_info is not None
