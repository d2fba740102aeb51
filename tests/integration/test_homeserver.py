"""Integration tests for bot.tooling.homeserver: a real Synapse on loopback, started and stopped."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from bot.tooling.homeserver import HomeserverError, LocalSynapse, free_port

pytestmark = pytest.mark.integration

WHOAMI = "/_matrix/client/v3/account/whoami"


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_local_synapse_lifecycle(tmp_path: Path) -> None:
    server = LocalSynapse(tmp_path / "hs")
    assert server.url == f"http://127.0.0.1:{server.port}"
    server.start()
    try:
        assert server.is_running()
        admin = server.register("admin", admin=True)
        alice = server.register("alice", "alice-password")
        assert alice.user_id == "@alice:localhost"
        assert "alice-password" not in repr(alice)
        assert alice.access_token not in repr(alice)
        whoami = server.api("GET", WHOAMI, token=alice.access_token)
        assert whoami["user_id"] == alice.user_id
        assert whoami["device_id"] == alice.device_id
        assert server.api("GET", WHOAMI, token=admin.access_token)["user_id"] == "@admin:localhost"

        again = server.register("alice", "alice-password")  # exists: falls back to login
        assert again.user_id == alice.user_id
        assert again.device_id != alice.device_id

        with pytest.raises(HomeserverError) as bad_token:
            server.api("GET", WHOAMI, token="not-a-token")
        assert bad_token.value.errcode == "M_UNKNOWN_TOKEN"
        assert bad_token.value.status == 401

        server.override_ratelimit(admin_token=admin.access_token, user_id=alice.user_id)
        path = f"/_synapse/admin/v1/users/{alice.user_id}/override_ratelimit"
        limits = server.api("GET", path, token=admin.access_token)
        assert limits == {"messages_per_second": 0, "burst_count": 0}

        # The homeserver goes away and comes back: same object, same folder, same accounts.
        first_pid = server.pid
        assert first_pid is not None
        server.stop()
        assert not server.is_running()
        assert _gone(first_pid)
        server.stop()  # idempotent
        with pytest.raises(HomeserverError):
            server.api("GET", WHOAMI, token=alice.access_token)
        server.start()
        back = server.login("alice", "alice-password")
        assert server.api("GET", WHOAMI, token=back.access_token)["user_id"] == alice.user_id
        # Access tokens issued before the restart still work: the database was kept.
        assert server.api("GET", WHOAMI, token=alice.access_token)["user_id"] == alice.user_id
        last_pid = server.pid
        assert last_pid is not None
    finally:
        server.stop()
    assert not server.is_running()
    assert _gone(last_pid)


def test_rerun_in_same_folder_moves_off_a_taken_port(tmp_path: Path) -> None:
    with LocalSynapse(tmp_path / "hs") as first:
        bob = first.register("bob")
    old_port = first.port
    with socket.socket() as squatter:  # something else now holds the old port
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", old_port))
        squatter.listen()
        with LocalSynapse(tmp_path / "hs") as second:
            assert second.port != old_port
            assert second.login("bob", bob.password).user_id == bob.user_id
            assert f'"port": {second.port}' in (tmp_path / "hs" / "homeserver.yaml").read_text()
        assert not second.is_running()


def test_failed_start_names_the_log_and_leaves_no_process(tmp_path: Path) -> None:
    server = LocalSynapse(tmp_path / "hs", port=free_port(), in_memory_db=True)
    with pytest.raises(HomeserverError, match="did not start within") as error:
        server.start(timeout=0.2)
    assert str(server.log_path) in str(error.value)
    assert not server.is_running()
    found = subprocess.run(["pgrep", "-f", str(server.config_path)], capture_output=True)
    assert found.returncode == 1, "a Synapse process was left running"
