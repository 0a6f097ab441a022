"""Where secrets live: `etradectl auth setup` through the daemon, the OS keyring, the opt-in file, headless."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import keyring
import keyring.backend
import keyring.errors
import pytest
from keyring.backends import fail

from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, InvalidRequest, SessionError
from daemon.app import BrokerApp, build_app
from daemon.etrade.emulator_clock import EmulatorClock
from daemon.rpc.server import start_server
from daemon.secret_store import SERVICE_NAME, KeyringSecretStore
from daemon.session import SessionState
from daemon.settings import Settings
from emulator import Emulator
from protos.broker.v1 import session_pb2
from tests.harness.daemons import daemon_settings, login

pytestmark = pytest.mark.anyio

KEY = "0123456789abcdef0123456789abcdef"
SECRET = "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A stand-in for the OS keyring (the keyring package ships no in-memory backend)."""

    priority = 1

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.passwords.pop((service, username), None) is None:
            raise keyring.errors.PasswordDeleteError(username)


@pytest.fixture
def os_keyring() -> Iterator[MemoryKeyring]:
    previous = keyring.get_keyring()
    backend = MemoryKeyring()
    keyring.set_keyring(backend)
    try:
        yield backend
    finally:
        keyring.set_keyring(previous)


@pytest.fixture
def no_keyring() -> Iterator[None]:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())  # type: ignore[no-untyped-call]
    try:
        yield
    finally:
        keyring.set_keyring(previous)


class Served:
    def __init__(self, app: BrokerApp, socket: Path) -> None:
        self.app = app
        self.socket = socket

    def client(self) -> BrokerClient:
        return BrokerClient(self.socket)


@asynccontextmanager
async def serve(settings: Settings, short_dir: Path, **kwargs: object) -> AsyncIterator[Served]:
    app = await build_app(settings, **kwargs)  # type: ignore[arg-type]
    socket = short_dir / f"s{id(app) % 10000}" / "broker.sock"
    server, lock = await start_server(app, socket)
    try:
        yield Served(app, socket)
    finally:
        await server.stop(None)
        await app.close()
        lock.release()


def sandbox(short_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "sandbox",
        "state_dir": short_dir / "state",
        "desktop_notifications": False,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


async def test_setup_stores_the_consumer_pair_in_the_os_keyring_under_one_service(
    os_keyring: MemoryKeyring, short_dir: Path
) -> None:
    async with serve(sandbox(short_dir), short_dir) as served, served.client() as client:
        before = await client.get_status()
        assert before.session.state == session_pb2.SESSION_STATE_NO_CREDENTIALS
        assert before.session.fix_command == "etradectl auth setup"
        result = await client.set_credentials(KEY, SECRET)
        assert result.session.state == session_pb2.SESSION_STATE_NEEDS_LOGIN
        assert result.stored_in.startswith("OS keyring (")
        assert not result.overridden_by_environment
        assert SECRET not in str(result)
    assert os_keyring.passwords == {
        (SERVICE_NAME, "sandbox/consumer_key"): KEY,
        (SERVICE_NAME, "sandbox/consumer_secret"): SECRET,
    }
    # A restarted daemon finds them and waits for a login.
    async with serve(sandbox(short_dir), short_dir) as served:
        info = served.app.session.info()
        assert info.state is SessionState.NEEDS_LOGIN
        assert info.credentials_source == "the secret store (etradectl auth setup)"


async def test_a_whole_day_with_tokens_in_the_os_keyring(
    os_keyring: MemoryKeyring, emulator: Emulator, short_dir: Path
) -> None:
    settings = daemon_settings(emulator)
    store = KeyringSecretStore("emulator")
    clock = EmulatorClock(emulator.clock)
    async with serve(settings, short_dir, clock=clock, store=store) as served, served.client() as client:
        await login(client)
    names = {user for (service, user) in os_keyring.passwords if service == SERVICE_NAME}
    assert names == {"emulator/access_token", "emulator/access_token_secret", "emulator/access_token_issued_at_ms"}
    async with serve(settings, short_dir, clock=EmulatorClock(emulator.clock), store=store) as served:
        assert served.app.session.state is SessionState.ACTIVE  # a restart keeps the session
        async with served.client() as client:
            await client.get_quotes(["AAPL"])
            await client.set_credentials(emulator.consumer_key, emulator.consumer_secret)  # same pair: no change
            assert served.app.session.state is SessionState.ACTIVE
            result = await client.logout(forget_credentials=True)
            assert result.revoked_upstream
    assert os_keyring.passwords == {}


async def test_headless_without_a_keyring_explains_and_offers_the_file_store(no_keyring: None, short_dir: Path) -> None:
    async with serve(sandbox(short_dir), short_dir) as served, served.client() as client:
        status = (await client.get_status()).session
        assert status.state == session_pb2.SESSION_STATE_NO_CREDENTIALS
        assert "no OS keyring backend is available" in status.detail
        assert status.secret_store.startswith("none: no OS keyring backend")
        with pytest.raises(SessionError) as caught:
            await client.set_credentials(KEY, SECRET)
    assert caught.value.code is ErrorCode.SECRET_STORE_UNAVAILABLE
    assert "headless" in caught.value.message
    assert "ETRADE_SECRET_STORE=file" in caught.value.hint
    assert "less safe" in caught.value.hint
    assert SECRET not in caught.value.message


async def test_the_opt_in_file_store_is_private_to_its_owner(no_keyring: None, short_dir: Path) -> None:
    settings = sandbox(short_dir, secret_store="file")
    async with serve(settings, short_dir) as served, served.client() as client:
        result = await client.set_credentials(KEY, SECRET)
        assert "less safe" in result.stored_in
    path = short_dir / "state" / "secrets.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


async def test_credentials_from_the_daemons_environment_take_precedence(
    os_keyring: MemoryKeyring, short_dir: Path
) -> None:
    settings = sandbox(short_dir, consumer_key=KEY, consumer_secret=SECRET)
    async with serve(settings, short_dir) as served:
        async with served.client() as client:
            result = await client.set_credentials("another-key-1234", "another-secret-1234")
            assert result.overridden_by_environment
            assert result.session.credentials_source == "the daemon's environment (ETRADE_CONSUMER_KEY/SECRET)"
        assert served.app.session.consumer is not None and served.app.session.consumer.key == KEY


@pytest.mark.parametrize(
    ("key", "secret"),
    [("", SECRET), ("short", SECRET), (KEY, "with space inside!"), (KEY, "")],
    ids=["no-key", "short-key", "secret-with-space", "no-secret"],
)
async def test_malformed_credentials_are_refused_without_echoing_them(
    os_keyring: MemoryKeyring, short_dir: Path, key: str, secret: str
) -> None:
    async with serve(sandbox(short_dir), short_dir) as served, served.client() as client:
        with pytest.raises(InvalidRequest) as caught:
            await client.set_credentials(key, secret)
    if secret:
        assert secret not in caught.value.message
    assert os_keyring.passwords == {}


async def test_new_credentials_end_the_current_session(emulator: Emulator, short_dir: Path) -> None:
    from daemon.secret_store import ACCESS_TOKEN, MemorySecretStore

    store = MemorySecretStore()
    settings, clock = daemon_settings(emulator), EmulatorClock(emulator.clock)
    async with serve(settings, short_dir, clock=clock, store=store) as served, served.client() as client:
        await login(client)
        result = await client.set_credentials(KEY, SECRET)
        assert result.session.state == session_pb2.SESSION_STATE_NEEDS_LOGIN
    assert store.get(ACCESS_TOKEN) is None
