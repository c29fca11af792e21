"""Settings come from CODESVC_* variables; a wrong one stops the service with its name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from codesvc.settings import ConfigError, Settings


def test_values_and_rules_come_from_the_environment():
    settings = Settings.from_env(
        {
            "CODESVC_PORT": "9000",
            "CODESVC_HOME": "/srv/codesvc",
            "CODESVC_SCAN_RATE": "12.5",
            "CODESVC_RULE_LANDING_WINDOW": "86400",
            "CODESVC_RULE_NEGATIVES_TO_CLEAR": "3",
        }
    )
    assert settings.port == 9000
    assert settings.home == Path("/srv/codesvc")
    assert settings.scan_rate == 12.5
    assert settings.rules.landing_window == timedelta(days=1)
    assert settings.rules.negatives_to_clear == 3
    assert settings.embedded


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CODESVC_PORT": "eighty"}, "CODESVC_PORT='eighty' is not a valid int"),
        ({"CODESVC_RULE_TEST_SPACING": "a day"}, "CODESVC_RULE_TEST_SPACING='a day'"),
        ({"CODESVC_RULE_NO_SUCH_RULE": "1"}, "unknown rule 'no_such_rule'"),
    ],
)
def test_a_wrong_setting_names_itself(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_a_wrong_setting_stops_the_command_with_its_name(monkeypatch, capsys):
    from codesvc.cli import main

    monkeypatch.setenv("CODESVC_PORT", "eighty")
    assert main(["token", "--role", "feeder", "--sub", "feed"]) == 2
    assert "codesvc: CODESVC_PORT='eighty' is not a valid int" in capsys.readouterr().err
