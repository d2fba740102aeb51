"""Configuration: read from the environment and a `.env` file, validated all at once.

`load_config` collects every problem before failing, so an operator fixes a broken
`.env` in one go. Problems name the variable, never its value, because several of
these variables are secrets.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values

from bot import languages
from bot.ids import UserID

USER_ID_RE = re.compile(r"^@[a-z0-9._=\-/+]+:[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")
SERVER_NAME_RE = re.compile(r"^[A-Za-z0-9.\-]+(:[0-9]{1,5})?$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Every variable the bot reads (config.example.env explains each). Others that start with
# these prefixes are mistakes: a misspelt MULTILOGUE_ADMINS would leave the bot without admins.
KNOWN_VARIABLES: tuple[str, ...] = (
    "MATRIX_HOMESERVER",
    "MATRIX_USER_ID",
    "MATRIX_PASSWORD",
    "MATRIX_ACCESS_TOKEN",
    "MATRIX_DEVICE_ID",
    "MULTILOGUE_DATA_DIR",
    "MULTILOGUE_COMMAND_PREFIX",
    "MULTILOGUE_ADMINS",
    "MULTILOGUE_INVITE_ALLOWLIST",
    "MULTILOGUE_LOG_LEVEL",
    "MULTILOGUE_MAX_COMMAND_AGE",
    "MULTILOGUE_MAX_ROOMS",
    "MULTILOGUE_TIMEZONE",
    "MULTILOGUE_LANGUAGE",
    "MULTILOGUE_ENCRYPTION",
    "MULTILOGUE_RECOVERY_KEY",
)
OUR_PREFIXES = ("MATRIX_", "MULTILOGUE_")
ENV_FILE_NAME = ".env"


class ConfigError(Exception):
    """The configuration cannot be used. `problems` lists every reason, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class InviteAllowlist:
    """Whose invites the bot accepts: exact user ids, `@*:server` patterns, bare servers."""

    users: frozenset[str] = frozenset()
    servers: frozenset[str] = frozenset()

    def allows(self, user_id: str) -> bool:
        if user_id in self.users:
            return True
        _, _, server = user_id.partition(":")
        return server in self.servers


@dataclass(frozen=True)
class Config:
    homeserver: str
    user_id: UserID
    password: str | None = field(repr=False)
    access_token: str | None = field(repr=False)
    device_id: str | None
    data_dir: Path
    command_prefix: str = "!"
    admins: frozenset[UserID] = frozenset()
    invite_allowlist: InviteAllowlist = InviteAllowlist()
    log_level: str = "INFO"
    max_command_age_s: int = 3600
    max_rooms: int = 1000
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    language: str = languages.SOURCE
    encryption: bool = True
    recovery_key: str | None = field(default=None, repr=False)

    @property
    def server_name(self) -> str:
        return self.user_id.partition(":")[2]

    @property
    def database_path(self) -> Path:
        return self.data_dir / "multilogue.db"

    @property
    def crypto_dir(self) -> Path:
        return self.data_dir / "crypto"


@dataclass(frozen=True)
class EnvVars:
    """The variables to configure from: an env file's, overridden by the environment's."""

    values: Mapping[str, str]
    file: Path | None = None
    """The env file that was read (absolute), if one was."""
    looked_for: Path | None = None
    """Where an env file was looked for and not found (absolute), if it was not."""
    in_file: frozenset[str] = frozenset()
    """The variables whose value comes from the file."""

    def origin(self, name: str) -> str:
        return f"in {self.file}" if name in self.in_file else "in the environment"


def read_env(env_file: Path | None, environ: Mapping[str, str]) -> EnvVars:
    """Merge an env file with the environment; variables already set in the environment win.

    With `env_file=None`, `./.env` is read when it exists. A file named explicitly must exist.
    """
    path = (env_file if env_file is not None else Path(ENV_FILE_NAME)).absolute()
    if env_file is not None and not path.is_file():
        raise ConfigError([f"--env-file: no such file: {path}"])
    if not path.is_file():
        return EnvVars(dict(environ), looked_for=path)
    try:
        values = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not UTF-8 text"
        raise ConfigError([f"cannot read the configuration file {path}: {why}"]) from None
    from_file = {key: value for key, value in values.items() if value is not None}
    merged = {**from_file, **environ}
    in_file = frozenset(key for key in from_file if key not in environ)
    return EnvVars(merged, file=path, in_file=in_file)


def _unprefixed(name: str) -> str:
    for prefix in OUR_PREFIXES:
        name = name.removeprefix(prefix)
    return name


_BY_SUFFIX: Final = {_unprefixed(name): name for name in KNOWN_VARIABLES}


def _unknown_variables(env: EnvVars) -> list[str]:
    problems = []
    for name in sorted(env.values):
        if not name.startswith(OUR_PREFIXES) or name in KNOWN_VARIABLES:
            continue
        # Compared without the prefixes, which every name shares (and either may be mistaken).
        typed = _unprefixed(name)
        close = difflib.get_close_matches(typed, _BY_SUFFIX, n=1, cutoff=0.7)
        if not close:  # a part of a name: MATRIX_TOKEN, MULTILOGUE_PREFIX
            close = [known for known in _BY_SUFFIX if typed in known.split("_")][:1]
        hint = (
            f"did you mean {_BY_SUFFIX[close[0]]}?"
            if close
            else "config.example.env lists every setting"
        )
        problems.append(f"{name}: not a setting multilogue knows ({env.origin(name)}); {hint}")
    return problems


def _split_list(raw: str) -> list[str]:
    return [item.strip() for item in raw.split(",") if item.strip()]


def _parse_allowlist(raw: str | None, own_server: str, problems: list[str]) -> InviteAllowlist:
    if raw is None or not raw.strip():
        return InviteAllowlist(servers=frozenset({own_server}) if own_server else frozenset())
    users: set[str] = set()
    servers: set[str] = set()
    for item in _split_list(raw):
        if item.startswith("@*:") and SERVER_NAME_RE.match(item[3:]):
            servers.add(item[3:])
        elif item.startswith("@") and USER_ID_RE.match(item):
            users.add(item)
        elif SERVER_NAME_RE.match(item):
            servers.add(item)
        else:
            problems.append(
                f"MULTILOGUE_INVITE_ALLOWLIST: '{item}' is not a user id (@name:server), "
                "a pattern (@*:server) or a server name"
            )
    return InviteAllowlist(users=frozenset(users), servers=frozenset(servers))


def _parse_bool(name: str, raw: str | None, default: bool, problems: list[str]) -> bool:
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    problems.append(f"{name}: must be true or false")
    return default


def load_config(variables: Mapping[str, str] | EnvVars) -> Config:
    """Build a Config from variables, or raise ConfigError listing every problem.

    Every problem names its variable; a variable the bot does not know (a misspelling) is a
    problem too, and when no env file was found the first line says where it was looked for.
    """
    env = variables if isinstance(variables, EnvVars) else EnvVars(variables)
    problems = _unknown_variables(env)

    def get(name: str) -> str | None:
        value = env.values.get(name)
        return value.strip() if value is not None and value.strip() else None

    homeserver = get("MATRIX_HOMESERVER")
    if homeserver is None:
        problems.append("MATRIX_HOMESERVER: missing (the URL of your homeserver, https://...)")
    else:
        parsed = urlparse(homeserver)
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            problems.append("MATRIX_HOMESERVER: must be a URL starting with https:// or http://")
        homeserver = homeserver.rstrip("/")

    user_id = get("MATRIX_USER_ID")
    if user_id is None:
        problems.append("MATRIX_USER_ID: missing (the bot's full id, like @multilogue:example.org)")
    elif not USER_ID_RE.match(user_id):
        problems.append("MATRIX_USER_ID: must look like @name:server (lower-case name)")
        user_id = None

    password = env.values.get("MATRIX_PASSWORD") or None
    access_token = get("MATRIX_ACCESS_TOKEN")
    device_id = get("MATRIX_DEVICE_ID")
    if password is None and access_token is None:
        problems.append("MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN: one of them is needed to log in")

    data_dir = Path(get("MULTILOGUE_DATA_DIR") or "./data").expanduser()
    if data_dir.exists() and not data_dir.is_dir():
        problems.append("MULTILOGUE_DATA_DIR: exists but is not a folder")

    prefix = get("MULTILOGUE_COMMAND_PREFIX") or "!"
    if any(ch.isspace() for ch in prefix) or len(prefix) > 5:
        problems.append("MULTILOGUE_COMMAND_PREFIX: must be 1 to 5 characters without spaces")

    admins: set[UserID] = set()
    for item in _split_list(env.values.get("MULTILOGUE_ADMINS", "")):
        if USER_ID_RE.match(item):
            admins.add(UserID(item))
        else:
            problems.append(f"MULTILOGUE_ADMINS: '{item}' is not a user id like @name:server")

    own_server = user_id.partition(":")[2] if user_id else ""
    allowlist = _parse_allowlist(get("MULTILOGUE_INVITE_ALLOWLIST"), own_server, problems)

    log_level = (get("MULTILOGUE_LOG_LEVEL") or "INFO").upper()
    if log_level not in LOG_LEVELS:
        problems.append(f"MULTILOGUE_LOG_LEVEL: must be one of {', '.join(LOG_LEVELS)}")

    max_age_raw = get("MULTILOGUE_MAX_COMMAND_AGE") or "3600"
    max_age = 3600
    if not max_age_raw.isdecimal():
        problems.append("MULTILOGUE_MAX_COMMAND_AGE: must be a whole number of seconds")
    else:
        max_age = int(max_age_raw)

    max_rooms_raw = get("MULTILOGUE_MAX_ROOMS") or "1000"
    max_rooms = 1000
    if not max_rooms_raw.isdecimal() or int(max_rooms_raw) < 1:
        problems.append("MULTILOGUE_MAX_ROOMS: must be a whole number of rooms, at least 1")
    else:
        max_rooms = int(max_rooms_raw)

    tz_name = get("MULTILOGUE_TIMEZONE") or "UTC"
    timezone = ZoneInfo("UTC")
    try:
        timezone = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # "Europe" is a folder of tzdata
        problems.append(f"MULTILOGUE_TIMEZONE: unknown time zone '{tz_name}' (try Europe/Berlin)")

    language = get("MULTILOGUE_LANGUAGE") or languages.SOURCE
    if not languages.is_shipped(language):
        problems.append(
            f"MULTILOGUE_LANGUAGE: multilogue does not speak '{language}' "
            f"(it speaks {', '.join(languages.SHIPPED)})"
        )
        language = languages.SOURCE

    encryption = _parse_bool("MULTILOGUE_ENCRYPTION", get("MULTILOGUE_ENCRYPTION"), True, problems)

    if problems:
        if env.looked_for is not None:
            problems.insert(
                0,
                f"no configuration file at {env.looked_for}: copy config.example.env to "
                f"{ENV_FILE_NAME} there and fill it in, or name one with --env-file",
            )
        raise ConfigError(problems)
    assert homeserver is not None
    assert user_id is not None
    return Config(
        homeserver=homeserver,
        user_id=UserID(user_id),
        password=password,
        access_token=access_token,
        device_id=device_id,
        data_dir=data_dir,
        command_prefix=prefix,
        admins=frozenset(admins),
        invite_allowlist=allowlist,
        log_level=log_level,
        max_command_age_s=max_age,
        max_rooms=max_rooms,
        timezone=timezone,
        language=language,
        encryption=encryption,
        recovery_key=get("MULTILOGUE_RECOVERY_KEY"),
    )


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # nio logs request details at INFO/DEBUG; keep its chatter (and anything near tokens) down.
    for noisy in ("nio", "aiohttp", "peewee"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    # nio warns about every error answer it parses ("Error validating response: 'user_id' is
    # a required property" before a refused login); the bot checks each answer and says itself
    # what went wrong, in plain words.
    logging.getLogger("nio.responses").setLevel(logging.ERROR)
    # aiosqlite logs every statement at DEBUG, message texts and tokens included: never.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)


def environ() -> dict[str, str]:
    return dict(os.environ)
