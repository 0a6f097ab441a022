"""Where the four secrets live: consumer key/secret and access token/secret.

The OS keyring is the default (one service name, ``etrade-mcp``; entries named
``<environment>/<name>`` so sandbox and production never mix). Headless Linux has no keyring
backend: then the daemon says so and uses a 0600 JSON file only if the operator opted in
(``ETRADE_SECRET_STORE=file``). The emulator environment keeps its worthless tokens in a file in
the state directory without asking, so ``make demo`` and CI run anywhere.

All methods are blocking (keyring may talk D-Bus); callers run them on a worker thread.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from typing import Protocol

from broker_client.errors import ErrorCode, SessionError

log = logging.getLogger(__name__)

SERVICE_NAME = "etrade-mcp"

CONSUMER_KEY = "consumer_key"
CONSUMER_SECRET = "consumer_secret"
ACCESS_TOKEN = "access_token"
ACCESS_TOKEN_SECRET = "access_token_secret"
ACCESS_TOKEN_ISSUED_AT = "access_token_issued_at_ms"
ALL_NAMES = (CONSUMER_KEY, CONSUMER_SECRET, ACCESS_TOKEN, ACCESS_TOKEN_SECRET, ACCESS_TOKEN_ISSUED_AT)


class SecretStore(Protocol):
    """A small key-value store for one environment's secrets."""

    description: str

    def get(self, name: str) -> str | None: ...

    def set(self, name: str, value: str) -> None: ...

    def delete(self, name: str) -> None: ...


class MemorySecretStore:
    """Secrets in process memory only (tests)."""

    description = "memory (lost when the daemon stops)"

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def get(self, name: str) -> str | None:
        return self._values.get(name)

    def set(self, name: str, value: str) -> None:
        self._values[name] = value

    def delete(self, name: str) -> None:
        self._values.pop(name, None)


class FileSecretStore:
    """A JSON file readable only by its owner (0600), written atomically. Less safe than a keyring."""

    def __init__(self, path: Path, environment: str) -> None:
        self.path = path
        self.environment = environment
        self.description = f"file {path} (0600; less safe than an OS keyring)"
        self._lock = threading.Lock()

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise SessionError(
                ErrorCode.SECRET_STORE_UNAVAILABLE,
                f"the secret file {self.path} cannot be read ({type(exc).__name__})",
                hint=f"fix or delete {self.path}, then run `etradectl auth setup` and `etradectl auth login`",
            ) from None
        return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}

    def _save(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".secrets-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _key(self, name: str) -> str:
        return f"{self.environment}/{name}"

    def get(self, name: str) -> str | None:
        with self._lock:
            return self._load().get(self._key(name))

    def set(self, name: str, value: str) -> None:
        with self._lock:
            data = self._load()
            data[self._key(name)] = value
            self._save(data)

    def delete(self, name: str) -> None:
        with self._lock:
            data = self._load()
            if data.pop(self._key(name), None) is not None:
                self._save(data)


class KeyringSecretStore:
    """The OS keyring (macOS Keychain, Secret Service, Windows Credential Locker)."""

    def __init__(self, environment: str) -> None:
        import keyring  # deferred: keyring scans entry points at import

        self._keyring = keyring
        self.environment = environment
        backend = keyring.get_keyring()
        self.description = f"OS keyring ({type(backend).__module__}.{type(backend).__name__})"

    def _user(self, name: str) -> str:
        return f"{self.environment}/{name}"

    def get(self, name: str) -> str | None:
        try:
            value = self._keyring.get_password(SERVICE_NAME, self._user(name))
        except self._keyring.errors.KeyringError as exc:
            raise _keyring_failed(exc) from None
        return None if value is None else str(value)

    def set(self, name: str, value: str) -> None:
        try:
            self._keyring.set_password(SERVICE_NAME, self._user(name), value)
        except self._keyring.errors.KeyringError as exc:
            raise _keyring_failed(exc) from None

    def delete(self, name: str) -> None:
        try:
            self._keyring.delete_password(SERVICE_NAME, self._user(name))
        except self._keyring.errors.PasswordDeleteError:
            pass
        except self._keyring.errors.KeyringError as exc:
            raise _keyring_failed(exc) from None


def _keyring_failed(exc: Exception) -> SessionError:
    return SessionError(ErrorCode.SECRET_STORE_UNAVAILABLE, f"the OS keyring failed: {type(exc).__name__}")


def keyring_problem() -> str | None:
    """Why the OS keyring cannot hold secrets here, or None when a real backend is available."""
    try:
        import keyring
        from keyring.backends import chainer, fail, null
    except Exception as exc:  # a broken keyring install must not stop the daemon
        return f"the keyring package cannot be imported ({type(exc).__name__})"
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring | null.Keyring):
        return "no OS keyring backend is available (typical on a headless Linux machine without D-Bus)"
    if isinstance(backend, chainer.ChainerBackend) and not backend.backends:
        return "no OS keyring backend is available (typical on a headless Linux machine without D-Bus)"
    if "plaintext" in type(backend).__name__.lower():
        return f"the only keyring backend ({type(backend).__name__}) stores secrets in plain text"
    return None


def open_secret_store(kind: str, environment: str, state_dir: Path) -> SecretStore:
    """The store the settings ask for. Raises SessionError(SECRET_STORE_UNAVAILABLE) if unusable."""
    if kind == "memory":
        return MemorySecretStore()
    if kind == "file" or environment == "emulator":
        return FileSecretStore(state_dir / "secrets.json", environment)
    problem = keyring_problem()
    if problem is not None:
        raise SessionError(ErrorCode.SECRET_STORE_UNAVAILABLE, problem)
    return KeyringSecretStore(environment)
