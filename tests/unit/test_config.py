"""Reading the operator's configuration: every problem at once, and never a secret shown."""

from __future__ import annotations

import os
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.cli import main
from bot.config import KNOWN_VARIABLES, ConfigError, EnvVars, load_config, read_env

PASSWORD = "correct-horse-battery-staple"
TOKEN = "syt_c2VjcmV0_tokenvalue_123"
RECOVERY_KEY = "EsTc 1234 abcd efgh"


def valid_env(tmp_path: Path, **changes: str | None) -> dict[str, str]:
    """A working configuration, with some variables changed (None removes one)."""
    env = {
        "MATRIX_HOMESERVER": "https://matrix.example.org/",
        "MATRIX_USER_ID": "@multilogue:example.org",
        "MATRIX_PASSWORD": PASSWORD,
        "MULTILOGUE_DATA_DIR": str(tmp_path / "data"),
    }
    for name, value in changes.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def problems_of(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    return caught.value.problems


def problems_of_vars(env: EnvVars) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    return caught.value.problems


def variables_in(problems: list[str]) -> set[str]:
    return {problem.partition(":")[0] for problem in problems}


# --- a valid configuration ------------------------------------------------------------------


def test_minimal_configuration_gets_sensible_defaults(tmp_path: Path) -> None:
    config = load_config(valid_env(tmp_path))
    assert config.homeserver == "https://matrix.example.org"
    assert config.user_id == "@multilogue:example.org"
    assert config.password == PASSWORD
    assert config.access_token is None
    assert config.command_prefix == "!"
    assert config.admins == frozenset()
    assert config.log_level == "INFO"
    assert config.max_command_age_s == 3600
    assert config.timezone == ZoneInfo("UTC")
    assert config.encryption is True
    assert config.database_path == tmp_path / "data" / "multilogue.db"


def test_every_setting_is_read(tmp_path: Path) -> None:
    config = load_config(
        valid_env(
            tmp_path,
            MATRIX_PASSWORD=None,
            MATRIX_ACCESS_TOKEN=TOKEN,
            MATRIX_DEVICE_ID="BOTDEVICE",
            MULTILOGUE_COMMAND_PREFIX="ml!",
            MULTILOGUE_ADMINS="@ana:example.org, @ben:allied.net",
            MULTILOGUE_LOG_LEVEL="debug",
            MULTILOGUE_MAX_COMMAND_AGE="600",
            MULTILOGUE_MAX_ROOMS="50",
            MULTILOGUE_TIMEZONE="Europe/Berlin",
            MULTILOGUE_ENCRYPTION="off",
            MULTILOGUE_RECOVERY_KEY=RECOVERY_KEY,
        )
    )
    assert config.password is None
    assert config.access_token == TOKEN
    assert config.device_id == "BOTDEVICE"
    assert config.command_prefix == "ml!"
    assert config.admins == {"@ana:example.org", "@ben:allied.net"}
    assert config.log_level == "DEBUG"
    assert config.max_command_age_s == 600
    assert config.max_rooms == 50
    assert config.timezone == ZoneInfo("Europe/Berlin")
    assert config.encryption is False
    assert config.recovery_key == RECOVERY_KEY


# --- problems, all at once ------------------------------------------------------------------


def test_every_problem_is_listed_at_once_by_variable_name(tmp_path: Path) -> None:
    env = {
        "MATRIX_USER_ID": "@Multilogue",
        "MULTILOGUE_DATA_DIR": str(tmp_path),
        "MULTILOGUE_COMMAND_PREFIX": "bot !",
        "MULTILOGUE_ADMINS": "@ana:example.org, ana",
        "MULTILOGUE_INVITE_ALLOWLIST": "@*:allied.net, not a server",
        "MULTILOGUE_LOG_LEVEL": "LOUD",
        "MULTILOGUE_TIMEZONE": "Mars/Olympus",
        "MULTILOGUE_MAX_COMMAND_AGE": "an hour",
        "MULTILOGUE_ENCRYPTION": "maybe",
    }
    problems = problems_of(env)
    assert variables_in(problems) == {
        "MATRIX_HOMESERVER",
        "MATRIX_USER_ID",
        "MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN",
        "MULTILOGUE_COMMAND_PREFIX",
        "MULTILOGUE_ADMINS",
        "MULTILOGUE_INVITE_ALLOWLIST",
        "MULTILOGUE_LOG_LEVEL",
        "MULTILOGUE_TIMEZONE",
        "MULTILOGUE_MAX_COMMAND_AGE",
        "MULTILOGUE_ENCRYPTION",
    }
    assert len(problems) == 10
    assert any("'ana'" in p for p in problems if p.startswith("MULTILOGUE_ADMINS"))
    assert any("'not a server'" in p for p in problems)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MATRIX_HOMESERVER", "matrix.example.org"),
        ("MATRIX_HOMESERVER", "ftp://matrix.example.org"),
        ("MATRIX_USER_ID", "multilogue:example.org"),
        ("MATRIX_USER_ID", "@multilogue"),
        ("MULTILOGUE_COMMAND_PREFIX", "toolong"),
        ("MULTILOGUE_MAX_COMMAND_AGE", "-5"),
        ("MULTILOGUE_MAX_COMMAND_AGE", "²"),
        ("MULTILOGUE_MAX_ROOMS", "0"),
        ("MULTILOGUE_MAX_ROOMS", "lots"),
        ("MULTILOGUE_TIMEZONE", "../etc/passwd"),
        ("MULTILOGUE_TIMEZONE", "Europe"),
    ],
)
def test_one_bad_value_is_one_problem_naming_its_variable(
    tmp_path: Path, name: str, value: str
) -> None:
    problems = problems_of(valid_env(tmp_path, **{name: value}))
    assert len(problems) == 1
    assert problems[0].startswith(f"{name}: ")


def test_a_file_where_the_data_folder_should_be(tmp_path: Path) -> None:
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    assert variables_in(problems_of(valid_env(tmp_path))) == {"MULTILOGUE_DATA_DIR"}


def test_blank_values_count_as_missing(tmp_path: Path) -> None:
    problems = problems_of(valid_env(tmp_path, MATRIX_HOMESERVER="   ", MATRIX_PASSWORD=""))
    assert variables_in(problems) == {
        "MATRIX_HOMESERVER",
        "MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN",
    }


# --- secrets --------------------------------------------------------------------------------


def test_secrets_never_appear_in_problems(tmp_path: Path) -> None:
    env = valid_env(
        tmp_path,
        MATRIX_HOMESERVER="nonsense",
        MATRIX_ACCESS_TOKEN=TOKEN,
        MULTILOGUE_RECOVERY_KEY=RECOVERY_KEY,
        MULTILOGUE_LOG_LEVEL="LOUD",
    )
    with pytest.raises(ConfigError) as caught:
        load_config(env)
    shown = str(caught.value) + repr(caught.value)
    for secret in (PASSWORD, TOKEN, RECOVERY_KEY):
        assert secret not in shown


def test_secrets_never_appear_in_the_config_repr(tmp_path: Path) -> None:
    config = load_config(
        valid_env(tmp_path, MATRIX_ACCESS_TOKEN=TOKEN, MULTILOGUE_RECOVERY_KEY=RECOVERY_KEY)
    )
    shown = repr(config) + str(config)
    assert "@multilogue:example.org" in shown
    for secret in (PASSWORD, TOKEN, RECOVERY_KEY):
        assert secret not in shown


# --- whose invites are accepted -------------------------------------------------------------


def test_allowlist_defaults_to_the_bots_own_server(tmp_path: Path) -> None:
    allowlist = load_config(valid_env(tmp_path)).invite_allowlist
    assert allowlist.allows("@ana:example.org")
    assert not allowlist.allows("@ana:elsewhere.org")


def test_allowlist_with_patterns_users_and_servers(tmp_path: Path) -> None:
    allowlist = load_config(
        valid_env(
            tmp_path,
            MULTILOGUE_INVITE_ALLOWLIST="@*:allied.net, @ben:friends.org,  climate.example ,",
        )
    ).invite_allowlist
    assert allowlist.allows("@anyone:allied.net")
    assert allowlist.allows("@ben:friends.org")
    assert not allowlist.allows("@carla:friends.org")
    assert allowlist.allows("@dee:climate.example")
    assert not allowlist.allows("@eve:evil-allied.net")
    assert not allowlist.allows("@eve:allied.net.evil")
    # An explicit list replaces the default: the bot's own server is not added.
    assert not allowlist.allows("@ana:example.org")


def test_allowlist_server_with_port(tmp_path: Path) -> None:
    allowlist = load_config(
        valid_env(tmp_path, MULTILOGUE_INVITE_ALLOWLIST="@*:localhost:8448")
    ).invite_allowlist
    assert allowlist.allows("@ana:localhost:8448")
    assert not allowlist.allows("@ana:localhost")


# --- reading the .env file ------------------------------------------------------------------


def test_dot_env_in_the_current_folder_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_text(
        'MATRIX_HOMESERVER=https://matrix.example.org\nMATRIX_PASSWORD="with spaces # and hash"\n'
    )
    monkeypatch.chdir(tmp_path)
    merged = read_env(None, {})
    assert merged.values["MATRIX_HOMESERVER"] == "https://matrix.example.org"
    assert merged.values["MATRIX_PASSWORD"] == "with spaces # and hash"
    assert merged.file == tmp_path / ".env"


def test_no_dot_env_is_fine_without_an_explicit_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    merged = read_env(None, {"MATRIX_USER_ID": "@a:b"})
    assert merged.values == {"MATRIX_USER_ID": "@a:b"}
    assert merged.file is None
    assert merged.looked_for == tmp_path / ".env"


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    env_file = tmp_path / "bot.env"
    env_file.write_text("MULTILOGUE_LOG_LEVEL=DEBUG\nMULTILOGUE_TIMEZONE=Europe/Berlin\n")
    merged = read_env(env_file, {"MULTILOGUE_LOG_LEVEL": "WARNING"})
    assert merged.values["MULTILOGUE_LOG_LEVEL"] == "WARNING"
    assert merged.values["MULTILOGUE_TIMEZONE"] == "Europe/Berlin"
    assert merged.origin("MULTILOGUE_TIMEZONE") == f"in {env_file}"
    assert merged.origin("MULTILOGUE_LOG_LEVEL") == "in the environment"


# --- mistakes an operator makes -------------------------------------------------------------


def test_a_misspelt_variable_is_refused_with_the_closest_known_name(tmp_path: Path) -> None:
    env_file = tmp_path / "bot.env"
    env_file.write_text("MULTILOGUE_ADMIN=@ana:example.org\n")
    env = read_env(env_file, valid_env(tmp_path, MATRIX_HOMSERVER="https://x.example.org"))

    problems = problems_of_vars(env)

    assert problems == [
        "MATRIX_HOMSERVER: not a setting multilogue knows (in the environment); "
        "did you mean MATRIX_HOMESERVER?",
        f"MULTILOGUE_ADMIN: not a setting multilogue knows (in {env_file}); "
        "did you mean MULTILOGUE_ADMINS?",
    ]


def test_an_unknown_variable_with_nothing_close_points_to_the_example(tmp_path: Path) -> None:
    problems = problems_of(valid_env(tmp_path, MULTILOGUE_FAVOURITE_COLOUR="green"))
    assert problems == [
        "MULTILOGUE_FAVOURITE_COLOUR: not a setting multilogue knows (in the environment); "
        "config.example.env lists every setting"
    ]


def test_other_programs_variables_are_left_alone(tmp_path: Path) -> None:
    config = load_config(valid_env(tmp_path, HOME="/root", SYNAPSE_CONFIG_PATH="/etc/x.yaml"))
    assert config.user_id == "@multilogue:example.org"


def test_every_variable_of_the_example_file_is_known(tmp_path: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "config.example.env"
    names = {
        line.lstrip("# ").partition("=")[0]
        for line in example.read_text("utf-8").splitlines()
        if re.match(r"^(# )?(MATRIX|MULTILOGUE)_[A-Z_]+=", line)
    }
    assert names == set(KNOWN_VARIABLES)


def test_no_env_file_is_named_first_with_where_it_was_looked_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    problems = problems_of_vars(read_env(None, {}))
    assert problems[0].startswith(f"no configuration file at {tmp_path / '.env'}: copy ")
    assert variables_in(problems[1:]) == {
        "MATRIX_HOMESERVER",
        "MATRIX_USER_ID",
        "MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN",
    }


def test_a_missing_explicit_env_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_env(tmp_path / "nope.env", {})
    assert caught.value.problems == [f"--env-file: no such file: {tmp_path / 'nope.env'}"]


# --- the command line -----------------------------------------------------------------------


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No configuration from the test runner's own environment or folder."""
    for name in list(os.environ):
        if name.startswith(("MATRIX_", "MULTILOGUE_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.mark.usefixtures("clean_environment")
def test_cli_with_a_broken_file_lists_problems_and_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = tmp_path / "broken.env"
    env_file.write_text(
        f"MATRIX_HOMESERVER=matrix.example.org\nMATRIX_USER_ID=@multilogue:example.org\n"
        f"MATRIX_PASSWORD={PASSWORD}\nMULTILOGUE_LOG_LEVEL=LOUD\n"
    )
    status = main(["run", "--env-file", str(env_file)])
    out, err = capsys.readouterr()
    assert status == 2
    assert out == ""
    assert "the configuration has problems" in err
    assert "MATRIX_HOMESERVER" in err
    assert "MULTILOGUE_LOG_LEVEL" in err
    assert "Traceback" not in err
    assert PASSWORD not in err


@pytest.mark.usefixtures("clean_environment")
def test_cli_with_a_missing_env_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status = main(["run", "--env-file", str(tmp_path / "missing.env")])
    err = capsys.readouterr().err
    assert status == 2
    assert "no such file" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("clean_environment")
def test_an_env_file_that_is_not_text_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_file = tmp_path / "broken.env"
    env_file.write_bytes(b"MATRIX_PASSWORD=\xff\xfe\x00secret\n")
    status = main(["run", "--env-file", str(env_file)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"cannot read the configuration file {env_file}: not UTF-8 text" in err
    assert "Traceback" not in err


@pytest.mark.usefixtures("clean_environment")
def test_a_data_folder_that_cannot_be_made_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    env_file = tmp_path / "bot.env"
    env_file.write_text(
        "MATRIX_HOMESERVER=https://matrix.example.org\nMATRIX_USER_ID=@multilogue:example.org\n"
        f"MATRIX_PASSWORD={PASSWORD}\nMULTILOGUE_DATA_DIR={tmp_path / 'a-file' / 'data'}\n"
    )
    status = main(["run", "--env-file", str(env_file)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"cannot use the data folder {tmp_path / 'a-file' / 'data'}" in err
    assert "MULTILOGUE_DATA_DIR" in err
    assert "Traceback" not in err
    assert PASSWORD not in err
