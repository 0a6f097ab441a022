"""The server as a whole: standalone process, routing, formats, bad input, threads, log hygiene."""

from __future__ import annotations

import logging
import os
import selectors
import signal
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from emulator import Emulator
from tests.emulator.conftest import HTTP_TIMEOUT, get, login, make_emulator, request_token, service_for

REPO = Path(__file__).resolve().parents[2]


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """First stdout line of ``proc``, waiting at most ``timeout`` seconds."""
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    try:
        if not selector.select(timeout):
            raise AssertionError("the emulator printed nothing")
        return proc.stdout.readline().strip()
    finally:
        selector.close()


def test_standalone_process_prints_url_serves_and_exits_zero_on_sigterm() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", "0", "--seed", "5", "--latency-ms", "0", "--no-rate-limits"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    try:
        url = _read_line(proc, timeout=30)
        assert url.startswith("http://127.0.0.1:")
        assert requests.get(f"{url}/_emulator/health", timeout=HTTP_TIMEOUT).json()["status"] == "ok"
        # It serves the real API: a signed call with the default consumer works.
        from rauth import OAuth1Service

        from emulator import DEFAULT_CONSUMER_KEY, DEFAULT_CONSUMER_SECRET

        service = OAuth1Service(
            name="e",
            consumer_key=DEFAULT_CONSUMER_KEY,
            consumer_secret=DEFAULT_CONSUMER_SECRET,
            request_token_url=f"{url}/oauth/request_token",
            access_token_url=f"{url}/oauth/access_token",
            base_url=url,
        )
        token, secret = service.get_request_token(params={"oauth_callback": "oob"}, header_auth=True)
        pending = requests.get(f"{url}/_emulator/authorizations", timeout=HTTP_TIMEOUT).json()["authorizations"]
        verifier = next(a["verifier"] for a in pending if a["request_token"] == token)
        session = service.get_auth_session(token, secret, params={"oauth_verifier": verifier}, header_auth=True)
        try:
            assert session.get(f"{url}/v1/market/quote/SPY.json", params={}, header_auth=True).status_code == 200
        finally:
            session.close()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
        _, stderr = proc.communicate(timeout=5)
        assert token not in stderr and secret not in stderr and verifier not in stderr
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


def test_standalone_refuses_non_loopback_hosts() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "emulator", "--host", "0.0.0.0", "--port", "0"],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=REPO,
        timeout=60,
    )
    assert result.returncode == 2
    assert "127.0.0.1" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize("host", ["0.0.0.0", "localhost", "192.168.1.10", "::1"])
def test_constructor_refuses_other_hosts(host: str) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1"):
        Emulator(host=host)


def test_start_stop_are_safe_and_the_port_is_reusable() -> None:
    emu = make_emulator()
    emu.start()
    port = emu.port
    with pytest.raises(RuntimeError):
        emu.start()
    emu.stop()
    emu.stop()
    with pytest.raises(RuntimeError):
        _ = emu.base_url
    with make_emulator(port=port) as again:
        assert again.base_url == f"http://127.0.0.1:{port}"


def test_unknown_routes_and_methods(emu: Emulator) -> None:
    session = login(emu)
    try:
        missing = get(session, emu, "/v1/accounts/list/extra.json")
        assert missing.status_code == 404
        assert missing.json()["Error"]["message"]
        assert requests.get(f"{emu.base_url}/nope", timeout=HTTP_TIMEOUT).status_code == 404
        wrong_method = session.request("POST", f"{emu.base_url}/v1/accounts/list.json", header_auth=True, data={})
        assert wrong_method.status_code == 405
        not_digits = get(session, emu, "/v1/accounts/AAAAAAAAAAAAAAAAAAAAAA/portfolio/abc.json")
        assert not_digits.status_code == 404
    finally:
        session.close()


def _raw(emu: Emulator, payload: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", emu.port), timeout=HTTP_TIMEOUT) as sock:
        sock.sendall(payload)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" in b"".join(chunks):
                break
    return b"".join(chunks)


@pytest.mark.parametrize(
    "payload",
    [
        b"garbage\r\n\r\n",
        b"GET /v1/market/quote/%ZZ%00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        b"GET /v1/accounts/list HTTP/1.1\r\nContent-Length: nope\r\nConnection: close\r\n\r\n",
        b"GET /_emulator/clock HTTP/1.1\r\nContent-Length: -5\r\nConnection: close\r\n\r\n",
        b"GET /\xff\xfe HTTP/1.1\r\nConnection: close\r\n\r\n",
        b"GET /v1/accounts/list?" + b"x=" * 3000 + b" HTTP/1.1\r\nConnection: close\r\n\r\n",
    ],
)
def test_malformed_requests_get_an_answer_and_the_server_survives(emu: Emulator, payload: bytes) -> None:
    answer = _raw(emu, payload)
    if answer.startswith(b"HTTP/1."):
        status = int(answer.split(b" ", 2)[1])
        assert 400 <= status < 500, answer[:200]
    else:
        # A request line without a version is HTTP/0.9: the answer is the bare error page.
        assert b"Error code: 400" in answer
    assert requests.get(f"{emu.base_url}/_emulator/health", timeout=HTTP_TIMEOUT).status_code == 200


def test_concurrent_clients(emu: Emulator) -> None:
    sessions = [login(emu) for _ in range(6)]
    emu.clock.unfreeze()  # the clock runs while threads race on the same tapes
    failures: list[str] = []

    def worker(index: int) -> None:
        session = sessions[index]
        for round_ in range(10):
            path = "/v1/market/quote/AAPL,MSFT,SPY.json" if round_ % 2 else "/v1/accounts/list.json"
            response = get(session, emu, path)
            if response.status_code != 200:
                failures.append(f"{path}: {response.status_code} {response.text[:200]}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(sessions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for session in sessions:
        session.close()
    assert not failures
    assert emu.stats()["requests_by_route"]["quote"] == 30


def test_logs_never_contain_credentials(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    service = service_for(emu)
    token, secret = request_token(service)
    verifier = emu.pending_verifier(token)
    assert verifier is not None
    requests.get(
        f"{emu.base_url}/e/t/etws/authorize", params={"key": emu.consumer_key, "token": token}, timeout=HTTP_TIMEOUT
    )
    session = service.get_auth_session(token, secret, params={"oauth_verifier": verifier}, header_auth=True)
    try:
        get(session, emu, "/v1/accounts/list.json", probe="1")
        forged = service_for(emu, consumer_secret="wrong").get_raw_request_token(
            params={"oauth_callback": "oob"}, header_auth=True
        )
        assert forged.status_code == 401
        emu.clock.advance(timedelta(hours=3))
        assert get(session, emu, "/v1/accounts/list.json").status_code == 401
        secrets = [
            token, secret, verifier, session.access_token, session.access_token_secret,
            emu.consumer_secret, "oauth_signature", "oauth_nonce", "probe",
        ]  # fmt: skip
    finally:
        session.close()
    # Only the server side's records: the client's own urllib3 debug lines do print full URLs.
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(("emulator", "oauthlib")))
    assert "GET /v1/accounts/list.json 200" in text  # the access log is there...
    for secret_value in secrets:
        assert secret_value not in text  # ...without credentials or query strings


def test_realistic_defaults() -> None:
    emu = Emulator()  # not started: settings are readable without serving
    stats = emu.stats()
    assert stats["latency_ms"] == [80, 150]
    assert stats["rate_limits"] == {"market": 4.0, "accounts": 2.0, "orders": 2.0}
    assert emu.clock.frozen is False
