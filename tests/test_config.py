"""Config validation: every bad value is one line naming the table and key, exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from paperdigest.config import DEFAULT_CONFIG, config_path, load_config
from paperdigest.errors import ConfigError


def test_example_config_loads_and_resolves_paths_against_its_folder() -> None:
    root = Path(__file__).resolve().parents[1]
    cfg = load_config(root / "config" / "paperdigest.toml")
    assert cfg.store_url == "sqlite:///" + str(root / "var" / "paperdigest.db")
    assert cfg.output_dir == root / "var" / "out"
    assert [p.name for p in cfg.profiles] == ["efficient-inference", "agents", "vision"]
    assert cfg.profiles[0].keywords["mixture of experts|moe"] == 2.0
    assert cfg.email.smtp_url is None


def test_config_path_precedence(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PAPERDIGEST_CONFIG", raising=False)
    assert config_path(None) == DEFAULT_CONFIG
    monkeypatch.setenv("PAPERDIGEST_CONFIG", "/etc/pd.toml")
    assert config_path(None) == Path("/etc/pd.toml")
    assert config_path("x.toml") == Path("x.toml")


@pytest.mark.parametrize("extra, message", [
    ('[[profile]]\nname = "x"\nkeywrds = { "a" = 1 }\nkeywords = { "a" = 1 }', 'profile "x": unknown key "keywrds"'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = 0 }', 'profile "x": keyword "a" needs a positive number'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = -2 }', 'profile "x": keyword "a" needs a positive number'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = "high" }', 'profile "x": keyword "a" needs a positive number'),
    ('[[profile]]\nname = "Bad Name"\nkeywords = { "a" = 1 }', 'key "name" must match [a-z0-9-]+'),
    ('[[profile]]\nname = "inference"\nkeywords = { "a" = 1 }', 'profile "inference": duplicate profile name'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = 1 }\nrecipients = ["not-an-address"]',
     'profile "x": key "recipients" is not a valid email address'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = 1 }\nmax_items = "ten"', 'profile "x": key "max_items" must be an integer'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = 1 }\nmin_score = -1', 'profile "x": key "min_score" must be at least 0'),
    ('[schedule]\ncron = "0 25 * * *"', 'schedule: key "cron" is not a valid cron expression'),
    ('[schedule]\ncron = "every day"', 'schedule: key "cron" is not a valid cron expression'),
    ('[schedule]\ntimezone = "Mars/Olympus"', 'schedule: key "timezone" is not a known time zone'),
    ('[[source]]\nname = "s"\nurl = "ftp://example.org/x"', 'source "s": key "url" must be an http or https URL'),
    ('[[source]]\nname = "s"', 'source "s": needs exactly one of "path" or "url"'),
    ('[[source]]\nname = "s"\npath = "a"\nformat = "pdf"', 'source "s": key "format" must be one of'),
    ('[limits]\nmax_input_bytes = 0', 'limits: key "max_input_bytes" must be at least 1'),
    ('[feed]\nmax_items = true', 'feed: key "max_items" must be an integer'),
    ('[surprise]\nx = 1', 'config: unknown key "surprise"'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = 1 }\nmomentum = 1.5', 'profile "x": key "momentum" must be between 0 and 1'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = 1 }\nmomentum = -0.1', 'profile "x": key "momentum" must be at least 0'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = 1 }\ndigest = "monthly"',
     'profile "x": key "digest" must be "daily" or "weekly", not "monthly"'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = 1 }\nweek_day = "monday"',
     'profile "x": key "week_day" applies only to a weekly digest'),
    ('[[profile]]\nname = "x"\nkeywords = { "a" = 1 }\ndigest = "weekly"\nweek_day = "funday"',
     'profile "x": key "week_day" must be a day of the week'),
])
def test_bad_values_are_one_line_naming_the_key(make_config, extra: str, message: str) -> None:
    path = make_config(extra)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    text = str(info.value)
    assert message in text
    assert "\n" not in text


@pytest.mark.parametrize("email, message", [
    ('from = "nobody"', 'email: key "from" is not a valid email address'),
    ('from = "a@b.org"\nsmtp_url = "http://mail.example.org"', 'email: key "smtp_url" must look like'),
    ('from = "a@b.org"\nsmtp_url = "smtp://u:secret@mail.example.org"', "must not hold a password"),
    ('from = "a@b.org"\nlist_unsubscribe = "javascript:alert(1)"', 'key "list_unsubscribe" must be'),
    ('from = "a@b.org"\nstarttls = "yes"', 'email: key "starttls" must be true or false'),
])
def test_bad_email_table(make_config, email: str, message: str) -> None:
    base = make_config().read_text().replace(
        '[email]\nfrom = "Paper Digest <digest@example.org>"\nlist_unsubscribe = "mailto:unsubscribe@example.org"',
        "[email]\n" + email)
    path = make_config(base=base)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)
    assert "secret" not in str(info.value)


def test_toml_syntax_error_names_the_line(make_config) -> None:
    path = make_config("[[profile]\nname = 'x'")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert "TOML syntax error" in str(info.value) and "line" in str(info.value)


def test_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml")


def test_defaults(make_config) -> None:
    cfg = load_config(make_config())
    p = cfg.profiles[0]
    assert (p.backfill_days, p.send_empty, p.max_items) == (7, False, 20)
    assert cfg.feed.max_items == 100 and cfg.feed.max_days == 30
    assert cfg.schedule.cron == "0 7 * * *"


def test_momentum_and_cadence_defaults_and_a_weekly_profile(make_config) -> None:
    cfg = load_config(make_config('[[profile]]\nname = "w"\nkeywords = { "a" = 1 }\ndigest = "weekly"\n'
                                  'week_day = "Friday"\nmomentum = 0.25\n'))
    daily, weekly = cfg.profiles
    assert (daily.momentum, daily.digest, daily.week_day) == (0.0, "daily", "monday")
    assert (weekly.momentum, weekly.digest, weekly.week_day) == (0.25, "weekly", "friday")
