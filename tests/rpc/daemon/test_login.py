"""The real OAuth exchange with the emulator, driven through the daemon's RPCs."""

from __future__ import annotations

from pathlib import Path

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, InvalidRequest, SessionError
from daemon.app import build_app
from daemon.rpc.server import start_server
from daemon.secret_store import ACCESS_TOKEN, ACCESS_TOKEN_SECRET, MemorySecretStore
from emulator import Emulator
from protos.broker.v1 import session_pb2
from tests.harness.daemons import RunningDaemon, daemon_settings, login
from tests.harness.support import read_verifier, requests_to

pytestmark = pytest.mark.anyio


async def test_before_login_status_says_what_to_run_and_calls_fail_with_it(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        status = await client.get_status()
        assert status.session.state == session_pb2.SESSION_STATE_NEEDS_LOGIN
        assert status.session.fix_command == "etradectl auth login"
        with pytest.raises(SessionError) as caught:
            await client.get_quotes(["AAPL"])
    assert caught.value.code is ErrorCode.NOT_LOGGED_IN
    assert "etradectl auth login" in caught.value.message


async def test_login_performs_the_real_oauth_exchange_and_stores_the_token(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        begin = await client.begin_login()
        assert begin.authorize_url.startswith(f"{daemon.emulator.base_url}/e/t/etws/authorize?key=")
        verifier = read_verifier(begin.authorize_url)
        done = await client.complete_login(verifier)
        assert done.session.state == session_pb2.SESSION_STATE_ACTIVE
        assert done.session.expires_at_et.endswith(("-05:00", "-04:00"))
        quotes = await client.get_quotes(["AAPL"])
    assert [q.symbol for q in quotes.quotes] == ["AAPL"]
    assert daemon.store.get(ACCESS_TOKEN)
    assert daemon.store.get(ACCESS_TOKEN_SECRET)
    assert requests_to(daemon.emulator, "access_token") == 1


async def test_a_wrong_consumer_secret_gives_a_clear_login_error(emulator: Emulator, short_dir: Path) -> None:
    settings = daemon_settings(emulator, consumer_key=emulator.consumer_key, consumer_secret="not-the-secret")
    app = await build_app(settings, store=MemorySecretStore())
    server, lock = await start_server(app, short_dir / "run" / "broker.sock")
    try:
        async with BrokerClient(short_dir / "run" / "broker.sock") as client:
            with pytest.raises(SessionError) as caught:
                await client.begin_login()
    finally:
        await server.stop(None)
        await app.close()
        lock.release()
    assert caught.value.code is ErrorCode.LOGIN_FAILED
    assert "consumer key and secret" in caught.value.message
    assert "signature_invalid" in caught.value.message
    assert "not-the-secret" not in caught.value.message
    assert "etradectl auth setup" in caught.value.hint


async def test_a_wrong_verifier_is_refused_and_a_right_one_still_works(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        begin = await client.begin_login()
        with pytest.raises(SessionError) as caught:
            await client.complete_login("WRONG1")
        assert caught.value.code is ErrorCode.LOGIN_FAILED
        assert "WRONG1" not in caught.value.message
        # The request token is still pending; the right code completes the login.
        begin = await client.begin_login()
        await client.complete_login(read_verifier(begin.authorize_url))
        assert (await client.get_status()).session.state == session_pb2.SESSION_STATE_ACTIVE


@pytest.mark.parametrize("verifier", ["", "   ", "ab cd", "x" * 500, "<script>"])
async def test_malformed_verifiers_are_refused_before_calling_upstream(daemon: RunningDaemon, verifier: str) -> None:
    async with daemon.client() as client:
        await client.begin_login()
        with pytest.raises(InvalidRequest):
            await client.complete_login(verifier)
    assert requests_to(daemon.emulator, "access_token") == 0


async def test_completing_without_starting_says_to_start(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        with pytest.raises(SessionError) as caught:
            await client.complete_login("ABCDE")
    assert caught.value.code is ErrorCode.LOGIN_NOT_STARTED


async def test_logout_revokes_upstream_and_forgets_the_token(daemon: RunningDaemon) -> None:
    async with daemon.client() as client:
        await login(client)
        result = await client.logout()
        assert result.revoked_upstream
        assert result.session.state == session_pb2.SESSION_STATE_REVOKED
        with pytest.raises(SessionError) as caught:
            await client.get_quotes(["AAPL"])
    assert caught.value.code is ErrorCode.SESSION_REVOKED
    assert daemon.store.get(ACCESS_TOKEN) is None
    assert requests_to(daemon.emulator, "revoke_access_token") == 1
