"""A throwaway Synapse homeserver on loopback, for integration tests, the demo and benchmarks.

`LocalSynapse` writes a small config into a folder of its own, runs
`python -m synapse.app.homeserver` as a child process on 127.0.0.1, waits until it answers,
registers accounts with the shared secret and makes plain client-server calls. It uses only the
standard library, so importing it never needs Synapse itself: Synapse must simply be installed in
the interpreter that runs this module (`sys.executable`).

Re-running in the same folder reuses the config, its port (unless something else took it) and
the SQLite database, so accounts survive. Passwords and access tokens are never logged.
"""

from __future__ import annotations

import atexit
import hashlib
import hmac
import json
import logging
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

log = logging.getLogger(__name__)

_NO_LIMIT = {"per_second": 1000, "burst_count": 1000}
_LIFTED_RATE_LIMITS: dict[str, Any] = {
    "rc_message": _NO_LIMIT,
    "rc_login": {"address": _NO_LIMIT, "account": _NO_LIMIT, "failed_attempts": _NO_LIMIT},
    "rc_joins": {"local": _NO_LIMIT, "remote": _NO_LIMIT},
    "rc_joins_per_room": _NO_LIMIT,
    "rc_invites": {"per_room": _NO_LIMIT, "per_user": _NO_LIMIT, "per_issuer": _NO_LIMIT},
    "rc_registration": _NO_LIMIT,
    "rc_3pid_validation": _NO_LIMIT,
    "rc_admin_redaction": _NO_LIMIT,
    "rc_room_creation": _NO_LIMIT,
}
# Direct HTTP to loopback: never go through a proxy from the environment.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class HomeserverError(Exception):
    """The local homeserver failed to start, stop or answer a request as expected."""

    def __init__(self, message: str, *, status: int | None = None, errcode: str | None = None):
        super().__init__(message)
        self.status = status
        self.errcode = errcode


@dataclass(frozen=True)
class RegisteredUser:
    user_id: str
    access_token: str = field(repr=False)
    device_id: str
    password: str = field(repr=False)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as Twisted does
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class LocalSynapse:
    """One Synapse process on 127.0.0.1 with its config, keys, database and log in `base_dir`."""

    def __init__(
        self,
        base_dir: Path,
        *,
        port: int | None = None,
        server_name: str = "localhost",
        in_memory_db: bool = False,
        lift_rate_limits: bool = True,
        extra_config: dict[str, Any] | None = None,
        federation: bool = False,
    ) -> None:
        """With `federation`, Synapse also talks to other homeservers on this machine: it is
        named `localhost:<federation port>` (so the others find it there) and serves federation
        over TLS with a self-signed certificate on that port, besides the plain client port."""
        self.base_dir = Path(base_dir).resolve()
        self.federation = federation
        self.in_memory_db = in_memory_db
        self.lift_rate_limits = lift_rate_limits
        self.extra_config = dict(extra_config or {})
        self.config_path = self.base_dir / "homeserver.yaml"
        self.log_path = self.base_dir / "homeserver.log"
        self.pid_path = self.base_dir / "homeserver.pid"
        self._fixed_port = port is not None
        self._proc: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_offset = 0
        existing = self._raw_config() if self.config_path.exists() else {}
        self._secret: str = existing.get("registration_shared_secret") or secrets.token_urlsafe(32)
        listeners = existing.get("listeners") or [{}]
        self.port: int = port or listeners[0].get("port") or free_port()
        self.federation_port: int | None = None
        if federation:
            kept = listeners[1].get("port") if len(listeners) > 1 else None
            self.federation_port = kept or free_port()
            server_name = f"localhost:{self.federation_port}"
        self.server_name = server_name
        if existing:
            self._read_config()  # refuses a folder of another homeserver

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        """Write the config if needed, launch Synapse and wait until it answers (no-op if up)."""
        if self.is_running():
            return
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._refuse_leftover()
        if not _port_is_free(self.port):
            if self._fixed_port:
                raise HomeserverError(f"Port {self.port} on 127.0.0.1 is already in use")
            old, self.port = self.port, free_port()
            log.info("port %d is taken; Synapse moves to port %d", old, self.port)
        self._write_config()
        self._log_file = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self._log_file.write(f"--- LocalSynapse starts Synapse on {self.url} ---\n".encode())
        self._log_file.flush()
        self._log_offset = self._log_file.tell()
        command = [sys.executable, "-m", "synapse.app.homeserver", "-c", str(self.config_path)]
        self._proc = subprocess.Popen(
            command,
            cwd=self.base_dir,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )
        self.pid_path.write_text(f"{self._proc.pid}\n")
        atexit.register(self.stop)
        started = time.monotonic()
        try:
            while not self._answers():
                if self._proc.poll() is not None:
                    code = self._proc.returncode
                    raise HomeserverError(f"Synapse exited early (code {code}); {self._log_hint()}")
                if time.monotonic() - started >= timeout:
                    hint = self._log_hint()
                    raise HomeserverError(f"Synapse did not start within {timeout:g} s; {hint}")
                time.sleep(0.1)
        except BaseException:  # including Ctrl-C: leave no Synapse behind
            self.stop()
            raise
        log.info("Synapse up at %s after %.1f s", self.url, time.monotonic() - started)

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM Synapse, wait up to `timeout`, then SIGKILL it. Safe to call repeatedly."""
        proc, self._proc = self._proc, None
        atexit.unregister(self.stop)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("Synapse ignored SIGTERM for %g s; killing it", timeout)
                proc.kill()
                proc.wait()
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if proc is not None:  # only the pid file this object wrote
            self.pid_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalSynapse:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- accounts -------------------------------------------------------------------------------

    def register(
        self, localpart: str, password: str | None = None, *, admin: bool = False
    ) -> RegisteredUser:
        """Create an account with the shared secret; if it exists already, log in instead."""
        if password is None:
            password = secrets.token_urlsafe(12)
        nonce = self.api("GET", "/_synapse/admin/v1/register")["nonce"]
        role = b"admin" if admin else b"notadmin"
        message = b"\x00".join([nonce.encode(), localpart.encode(), password.encode(), role])
        mac = hmac.new(self._secret.encode(), message, hashlib.sha1)
        body = {
            "nonce": nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac.hexdigest(),
        }
        try:
            reply = self.api("POST", "/_synapse/admin/v1/register", body=body)
        except HomeserverError as error:
            if error.errcode != "M_USER_IN_USE":
                raise
            log.info("user %s exists already; logging in instead", localpart)
            return self.login(localpart, password)
        return RegisteredUser(reply["user_id"], reply["access_token"], reply["device_id"], password)

    def login(self, localpart: str, password: str) -> RegisteredUser:
        """Log in with a password; every call creates a new device and access token."""
        body = {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        }
        reply = self.api("POST", "/_matrix/client/v3/login", body=body)
        return RegisteredUser(reply["user_id"], reply["access_token"], reply["device_id"], password)

    def override_ratelimit(self, *, admin_token: str, user_id: str) -> None:
        """Lift the message rate limit of `user_id` (needs a server admin's token)."""
        path = f"/_synapse/admin/v1/users/{urllib.parse.quote(user_id)}/override_ratelimit"
        body = {"messages_per_second": 0, "burst_count": 0}
        self.api("POST", path, token=admin_token, body=body)

    def api(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: dict[str, Any] | None = None,
        timeout: float = 30.0,
    ) -> dict[str, Any]:
        """Make one client-server/admin API call and return the JSON reply."""
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with _HTTP.open(request, timeout=timeout) as response:
                raw: bytes = response.read()
        except urllib.error.HTTPError as error:
            try:
                reply = json.loads(error.read() or b"{}")
            except ValueError:
                reply = {}
            errcode = reply.get("errcode") if isinstance(reply, dict) else None
            detail = reply.get("error", error.reason) if isinstance(reply, dict) else error.reason
            raise HomeserverError(
                f"{method} {path} failed: HTTP {error.code} {errcode or ''}: {detail}",
                status=error.code,
                errcode=errcode,
            ) from None
        except OSError as error:  # URLError, refused connection, timeout
            raise HomeserverError(f"{method} {path}: cannot reach {self.url}: {error}") from None
        result = json.loads(raw) if raw.strip() else {}
        if not isinstance(result, dict):
            raise HomeserverError(f"{method} {path}: expected a JSON object, got {raw[:100]!r}")
        return result

    # -- internals ------------------------------------------------------------------------------

    def _answers(self) -> bool:
        try:
            with _HTTP.open(self.url + "/_matrix/client/versions", timeout=2) as response:
                return bool(response.status == 200)
        except OSError:  # not listening yet, or an HTTP error while starting
            return False

    def _refuse_leftover(self) -> None:
        """Refuse to share the database with a Synapse left running by an earlier process."""
        try:
            pid = int(self.pid_path.read_text())
            command_line = Path(f"/proc/{pid}/cmdline").read_bytes()  # Linux; elsewhere: no check
        except (OSError, ValueError):
            return
        if str(self.config_path).encode() in command_line:
            raise HomeserverError(
                f"A Synapse from an earlier run (pid {pid}) still uses {self.base_dir}; "
                f"stop it (kill {pid}) or use another folder"
            )

    def _log_hint(self) -> str:
        try:
            with open(self.log_path, "rb") as log_file:
                log_file.seek(self._log_offset)
                lines = log_file.read().decode(errors="replace").splitlines()[-5:]
        except OSError:
            lines = []
        tail = "".join(f"\n    {line}" for line in lines)
        return f"see {self.log_path}" + (f"; it ends with:{tail}" if tail else "")

    def _raw_config(self) -> dict[str, Any]:
        try:
            config = json.loads(self.config_path.read_text())
        except (OSError, ValueError) as error:
            raise HomeserverError(
                f"Cannot read {self.config_path} (written by LocalSynapse as JSON): {error}"
            ) from None
        if not isinstance(config, dict):
            raise HomeserverError(f"{self.config_path} does not hold a JSON object")
        return config

    def _federation_config(self) -> dict[str, Any]:
        """A TLS federation listener with a self-signed certificate, trusting other loopback
        homeservers (this one's certificate is not checked by them, nor theirs by it)."""
        assert self.federation_port is not None
        cert, key = self.base_dir / "federation.crt", self.base_dir / "federation.key"
        if not cert.exists() or not key.exists():
            _self_signed(cert, key, host="localhost")
        return {
            "listeners": [
                *self._client_listener(),
                {
                    "port": self.federation_port,
                    "type": "http",
                    "tls": True,
                    "bind_addresses": ["127.0.0.1"],
                    "x_forwarded": False,
                    "resources": [{"names": ["federation"], "compress": False}],
                },
            ],
            "tls_certificate_path": str(cert),
            "tls_private_key_path": str(key),
            "federation_verify_certificates": False,
            "ip_range_blacklist": [],
            "ip_range_whitelist": ["127.0.0.1"],
            "federation_ip_range_blacklist": [],
        }

    def _client_listener(self) -> list[dict[str, Any]]:
        names = ["client"] if self.federation_port is not None else ["client", "federation"]
        return [
            {
                "port": self.port,
                "type": "http",
                "tls": False,
                "bind_addresses": ["127.0.0.1"],
                "x_forwarded": False,
                "resources": [{"names": names, "compress": False}],
            }
        ]

    def _read_config(self) -> dict[str, Any]:
        config = self._raw_config()
        if config.get("server_name", self.server_name) != self.server_name:
            raise HomeserverError(
                f"{self.base_dir} holds a homeserver named {config['server_name']!r}, not "
                f"{self.server_name!r}; use another folder"
            )
        return config

    def _write_config(self) -> None:
        """Create or update the config; keeps unmanaged keys and the registration secret."""
        base = self.base_dir
        log_config_path = base / "log_config.json"
        handler = {"class": "logging.FileHandler", "filename": str(self.log_path), "formatter": "f"}
        log_config = {
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {"f": {"format": "%(asctime)s %(name)s %(levelname)s %(message)s"}},
            "handlers": {"file": handler},
            "loggers": {"synapse.app": {"level": "INFO"}},  # a few lines about starting up
            "root": {"level": "WARNING", "handlers": ["file"]},
        }
        log_config_path.write_text(json.dumps(log_config, indent=2) + "\n")

        config = self._read_config() if self.config_path.exists() else {}
        database = ":memory:" if self.in_memory_db else str(base / "homeserver.db")
        config.update(
            {
                "server_name": self.server_name,
                "pid_file": str(self.pid_path),  # Synapse only writes it when daemonizing
                "listeners": self._client_listener(),
                "database": {"name": "sqlite3", "args": {"database": database}},
                "media_store_path": str(base / "media_store"),
                "signing_key_path": str(base / f"{self.server_name}.signing.key"),
                "log_config": str(log_config_path),
                "registration_shared_secret": self._secret,
                "report_stats": False,
                "trusted_key_servers": [],
                "suppress_key_server_warning": True,
                "bcrypt_rounds": 4,
                "enable_registration": False,
            }
        )
        for key in _LIFTED_RATE_LIMITS:
            config.pop(key, None)
        if self.lift_rate_limits:
            config.update(_LIFTED_RATE_LIMITS)
        if self.federation_port is not None:
            config.update(self._federation_config())
        config.update(self.extra_config)
        # JSON is valid YAML; the secret makes this file private.
        self.config_path.touch(mode=0o600)
        self.config_path.write_text(json.dumps(config, indent=2) + "\n")


def _self_signed(cert_path: Path, key_path: Path, *, host: str) -> None:
    """A self-signed certificate for `host`, valid ten years, and its private key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
