"""An operator's install, as the README's "Running multilogue for your movements" says, works.

The wheel is built once per test session from a copy of this source tree (what `pip install .`
builds) and installed without extras into a fresh virtual environment that shares nothing with
the one running the tests. The README's install and run commands are read from the README and
run word for word (the wheel stands in for `.` and the clone), the `.env` is written from
`config.example.env` as its comments describe, and that install's own `multilogue run` must
answer a person's `!ping` in a plain and in an encrypted room. If the README changes, this test
follows it; if it can no longer follow it, it fails and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.languages import DOMAIN, SHIPPED, SOURCE
from bot.tooling.homeserver import LocalSynapse, RegisteredUser
from tests.integration.conftest import MakeUser, room_with_bot, unique

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
OPERATOR_SECTION = "## Running multilogue for your movements"
# What a source tree holds that a clone does not bring (or that is made by building).
NOT_IN_A_CLONE = {".git", ".venv", "build", "dist", ".demo", "data", ".env", "bench-results"}


# -- what the README tells an operator -------------------------------------------------------


def operator_section() -> str:
    text = README.read_text("utf-8")
    assert OPERATOR_SECTION in text, f"README.md has no section {OPERATOR_SECTION!r}"
    return text.split(OPERATOR_SECTION, 1)[1].split("\n## ", 1)[0]


def step(title: str) -> str:
    """The text of one numbered step (`2. **Install**`) of the operator section."""
    found = re.search(
        rf"^\d+\. \*\*{title}\*\*(.*?)(?=^\d+\. \*\*|\Z)", operator_section(), re.S | re.M
    )
    assert found, f"the README's operator section has no step **{title}**"
    return found.group(1)


def shell_lines(text: str) -> list[str]:
    """The commands of the first ```sh block in `text`, comments dropped."""
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "no ```sh block in this step of the README"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


@dataclass(frozen=True)
class OperatorSteps:
    install: list[list[str]]
    """The install commands after the clone, as argument lists."""
    essentials: list[str]
    """The variables the README says to fill in."""
    run: list[str]
    """The command that runs the bot with ./.env."""


def read_operator_steps() -> OperatorSteps:
    install = shell_lines(step("Install"))
    clone = "the README's install no longer starts by cloning into ./multilogue: update this test"
    assert install[0].startswith("git clone "), clone
    assert install[0].endswith("&& cd multilogue"), clone
    configure = step("Configure")
    assert "copy `config.example.env` to `.env`" in configure
    sentence = re.search(r"The essentials:(.*?)\.", configure, re.S)
    assert sentence, "the README's configure step no longer says what is essential"
    essentials = re.findall(r"`((?:MATRIX|MULTILOGUE)_[A-Z_]+)`", sentence.group(1))
    run = shell_lines(step("Run"))
    return OperatorSteps(
        install=[shlex.split(line) for line in install[1:]],
        essentials=essentials,
        run=shlex.split(run[0]),
    )


def fill_env(example: str, values: Mapping[str, str]) -> str:
    """`config.example.env` with `values` filled in where the file shows each variable.

    Every variable must appear in the example (set, or commented out as `# NAME=`): an
    operator fills in the file, they do not invent lines.
    """
    lines = example.splitlines()
    for name, value in values.items():
        pattern = re.compile(rf"^(# )?{name}=.*$")
        at = [i for i, line in enumerate(lines) if pattern.match(line)]
        assert len(at) == 1, f"config.example.env shows {name} {len(at)} times, not once"
        lines[at[0]] = f"{name}={value}"
    return "\n".join(lines) + "\n"


# -- a fresh install -------------------------------------------------------------------------


def base_python() -> str:
    """The interpreter the test venv was made from (a new venv must not nest in ours)."""
    return getattr(sys, "_base_executable", sys.executable)


def clean_environment(**extra: str) -> dict[str, str]:
    """The environment of an operator's shell: nothing of the test run's Python or settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("PYTHON", "VIRTUAL_ENV", "MATRIX_", "MULTILOGUE_", "PYTEST"))
    }
    env.update(extra)
    return env


def run(args: list[str], cwd: Path, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=clean_environment(), capture_output=True, text=True, timeout=600
    )
    if check:
        assert result.returncode == 0, f"{shlex.join(args)} failed:\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """multilogue's wheel, built once per test session from a copy of this source tree."""
    source = tmp_path_factory.mktemp("clone") / "multilogue"
    shutil.copytree(
        ROOT,
        source,
        ignore=lambda folder, names: (
            ([n for n in names if n in NOT_IN_A_CLONE] if Path(folder) == ROOT else [])
            + [n for n in names if n == "__pycache__" or n.endswith((".egg-info", "_cache"))]
        ),
    )
    out = tmp_path_factory.mktemp("wheel")
    run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(out), "."], source)
    (built,) = out.glob("multilogue-*.whl")
    return built


@dataclass(frozen=True)
class Install:
    folder: Path
    """Where the operator stands: `.venv` and `.env` are here."""
    python: Path
    site_packages: Path
    steps: OperatorSteps


@pytest.fixture(scope="session")
def install(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Install:
    """The README's install commands, run word for word in a new folder (the wheel for `.`)."""
    steps = read_operator_steps()
    folder = tmp_path_factory.mktemp("operator") / "multilogue"
    folder.mkdir()
    for args in steps.install:
        if args[:1] == ["python3"]:
            args = [base_python(), *args[1:]]
        if args[-2:] == ["install", "."]:
            args = [*args[:-1], str(wheel)]
        run(args, folder)
    python = folder / ".venv" / "bin" / "python"
    assert python.exists(), "the README's install made no .venv"
    site = run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], folder
    )
    return Install(folder, python, Path(site.stdout.strip()), steps)


# -- the bare install ------------------------------------------------------------------------


def test_the_install_holds_every_module_template_and_migration_and_nothing_else_is_needed(
    install: Install,
) -> None:
    # Every module of the bot imports in the bare install, from the install (not this tree).
    probe = run(
        [
            str(install.python),
            "-c",
            "import importlib, pkgutil, bot, commands\n"
            "for package in (bot, commands):\n"
            "    for info in pkgutil.walk_packages(package.__path__, package.__name__ + '.'):\n"
            "        if info.name != 'bot.__main__':\n"
            "            importlib.import_module(info.name)\n"
            "print(bot.__file__)",
        ],
        install.folder,
    )
    assert Path(probe.stdout.strip()).is_relative_to(install.site_packages)
    run([str(install.python), "-m", "pip", "check"], install.folder)

    def names(folder: Path, pattern: str) -> set[str]:
        return {p.name for p in folder.glob(pattern)}

    templates = names(ROOT / "templates", "*.*[tl]")  # .txt and .html
    assert templates, "no templates found in the source tree"
    assert templates <= names(install.site_packages / "templates", "*")
    catalogues = names(ROOT / "templates" / "refusals", "*.txt")
    assert catalogues, "no message catalogues found in the source tree"
    assert catalogues <= names(install.site_packages / "templates" / "refusals", "*")
    site = names(ROOT / "templates" / "site", "*")
    assert {"index.html", "movement.html", "decisions.html", "style.css"} <= site
    assert site <= names(install.site_packages / "templates" / "site", "*")
    # The compiled catalogue of every language the bot speaks, as the source holds it.
    for language in SHIPPED:
        if language == SOURCE:
            continue
        compiled = Path("templates", "locale", language, "LC_MESSAGES", f"{DOMAIN}.mo")
        assert (install.site_packages / compiled).read_bytes() == (ROOT / compiled).read_bytes()
    spanish = run(
        [
            str(install.python),
            "-c",
            "from bot.render import Renderer; "
            "print(Renderer(globals={'prefix': '!'}, language='es').render('language_set', "
            "{'own': True, 'name': 'español', 'in_room_state': True, 'code': 'es', "
            "'available': []}).body)",
        ],
        cwd=install.folder,
    )
    assert spanish.stdout.startswith("A partir de ahora hablo español"), spanish.stdout
    schema = install.site_packages / "commands" / "record" / "schema.json"
    assert schema.read_bytes() == (ROOT / "commands" / "record" / "schema.json").read_bytes()
    migrations = names(ROOT / "bot" / "migrations", "*.sql")
    assert migrations, "no migrations found in the source tree"
    assert migrations == names(install.site_packages / "bot" / "migrations", "*.sql")


def test_version_and_help_work_in_the_bare_install(install: Install) -> None:
    multilogue = str(install.folder / ".venv" / "bin" / "multilogue")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]["version"]

    assert run([multilogue, "--version"], install.folder).stdout.strip() == f"multilogue {version}"
    usage = run([multilogue, "run", "--help"], install.folder).stdout
    assert "--env-file" in usage


def test_the_demo_in_a_bare_install_says_how_to_get_synapse(install: Install) -> None:
    multilogue = str(install.folder / ".venv" / "bin" / "multilogue")
    result = run(
        [multilogue, "demo", "--dir", str(install.folder / "demo")], install.folder, check=False
    )
    assert result.returncode == 2
    assert "scripts/demo" in result.stderr
    assert "[demo]" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_without_an_env_file_says_where_it_looked(install: Install, tmp_path: Path) -> None:
    multilogue = str(install.folder / ".venv" / "bin" / "multilogue")
    result = run([multilogue, "run"], tmp_path, check=False)
    assert result.returncode == 2
    assert f"no configuration file at {tmp_path / '.env'}" in result.stderr
    assert "Traceback" not in result.stderr


# -- the bot of the bare install, against a real homeserver ----------------------------------


@dataclass
class OperatorBot:
    process: asyncio.subprocess.Process
    output: list[str]
    reader: asyncio.Task[None]

    def said(self, text: str) -> bool:
        return any(text in line for line in self.output)

    async def wait_for(self, text: str, *, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not self.said(text):
            if self.process.returncode is not None:
                raise AssertionError(f"multilogue stopped:\n{''.join(self.output)[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} from multilogue in {timeout} s")
            await asyncio.sleep(0.1)

    async def exit_status(self, *, timeout: float = 60) -> int:
        """Wait for a bot that stops by itself (bad configuration, refused login)."""
        status = await asyncio.wait_for(self.process.wait(), timeout)
        await self.reader
        return status

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(self.process.wait(), timeout=30)
        await self.reader
        return status


async def start_operator_bot(install: Install, folder: Path) -> OperatorBot:
    """The README's run command, in `folder` (which holds its `.env`), as the operator runs it."""
    args = install.steps.run
    assert args[0].startswith(".venv/"), f"the README runs {args[0]}, not the install's own"
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=folder,
        env=clean_environment(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output: list[str] = []

    async def read() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            output.append(line.decode("utf-8", "replace"))

    return OperatorBot(process, output, asyncio.create_task(read()))


@pytest.fixture
async def operator_bots() -> AsyncIterator[list[OperatorBot]]:
    """Operator bots started by a test; killed at its end if the test did not stop them."""
    started: list[OperatorBot] = []
    yield started
    for running in started:
        if running.process.returncode is None:
            running.process.kill()
            await running.process.wait()
        with contextlib.suppress(Exception):
            await running.reader


def operator_env(
    install: Install,
    synapse: LocalSynapse,
    account: RegisteredUser,
    *,
    admins: str,
    password: str | None = None,
) -> str:
    """A `.env` made from `config.example.env`, with the README's essentials filled in."""
    filled = {
        "MATRIX_HOMESERVER": synapse.url,
        "MATRIX_USER_ID": account.user_id,
        "MATRIX_PASSWORD": password or account.password,
        "MULTILOGUE_ADMINS": admins,
    }
    # The README names what to fill in (MATRIX_ACCESS_TOKEN is the password's alternative):
    # the test fills in exactly that and leaves the rest as the example has it.
    named = set(install.steps.essentials) - {"MATRIX_ACCESS_TOKEN"}
    assert named == set(filled), f"the README's essentials changed: {sorted(named)}"
    return fill_env((ROOT / "config.example.env").read_text("utf-8"), filled)


@pytest.fixture
def operator_folder(install: Install, tmp_path: Path) -> Path:
    """A folder with the install's `.venv` in it, where the operator writes `.env`."""
    folder = tmp_path / "multilogue"
    folder.mkdir()
    (folder / ".venv").symlink_to(install.folder / ".venv")
    return folder


async def test_the_bare_install_answers_ping_in_a_plain_and_an_encrypted_room(
    install: Install,
    operator_folder: Path,
    operator_bots: list[OperatorBot],
    synapse: LocalSynapse,
    make_user: MakeUser,
) -> None:
    account = synapse.register(unique("multilogue"))
    alice = await make_user("alice")
    (operator_folder / ".env").write_text(
        operator_env(install, synapse, account, admins=alice.user_id)
    )
    bot = await start_operator_bot(install, operator_folder)
    operator_bots.append(bot)
    await bot.wait_for("Ready: ")

    secret_words = "our blockade starts at dawn on the north gate"
    for encrypted in (False, True):
        room = await room_with_bot(alice, account.user_id, encrypted=encrypted)
        await alice.say(room, secret_words)
        answer = await alice.ask(room, "!ping", bot=account.user_id)
        assert answer["content"]["body"].startswith("pong"), answer["content"]["body"]
        assert answer["content"]["msgtype"] == "m.notice"
        assert answer["decrypted"] is encrypted
    # A refusal: its words come from the installed message catalogues.
    refused = await alice.ask(room, "!poll close 99", bot=account.user_id)
    assert "no poll #99" in refused["content"]["body"].lower(), refused["content"]["body"]

    assert await bot.stop() == 0
    log = "".join(bot.output)
    assert "Stopped" in log
    assert (operator_folder / "data" / "multilogue.db").exists()  # MULTILOGUE_DATA_DIR=./data
    for never in (account.password, account.access_token, secret_words, "Traceback"):
        assert never not in log


async def test_a_wrong_password_is_one_clear_line_without_noise(
    install: Install,
    operator_folder: Path,
    operator_bots: list[OperatorBot],
    synapse: LocalSynapse,
) -> None:
    account = synapse.register(unique("multilogue"))
    wrong = "not-the-password-" + unique("x")
    (operator_folder / ".env").write_text(
        operator_env(install, synapse, account, admins="", password=wrong)
    )
    bot = await start_operator_bot(install, operator_folder)
    operator_bots.append(bot)

    assert await bot.exit_status() == 1
    lines = [line.strip() for line in bot.output if line.strip()]
    assert lines[-1].startswith("multilogue: cannot log in"), lines
    assert not any("Error validating response" in line for line in lines), lines
    assert wrong not in "".join(lines)


async def test_a_misspelt_variable_stops_the_bot_before_it_starts(
    install: Install,
    operator_folder: Path,
    operator_bots: list[OperatorBot],
    synapse: LocalSynapse,
) -> None:
    account = synapse.register(unique("multilogue"))
    env = operator_env(install, synapse, account, admins="")
    (operator_folder / ".env").write_text(env + "MULTILOGUE_ADMIN=@ana:localhost\n")
    bot = await start_operator_bot(install, operator_folder)
    operator_bots.append(bot)

    assert await bot.exit_status() == 2
    output = "".join(bot.output)
    assert "MULTILOGUE_ADMIN: not a setting multilogue knows" in output
    assert "did you mean MULTILOGUE_ADMINS?" in output
    assert not (operator_folder / "data").exists()  # nothing was started
