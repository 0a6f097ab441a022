"""etrade-mcp over real stdio: malformed JSON-RPC is answered (or logged), signals end it cleanly,
and ``initialize`` never waits for the daemon.

No daemon runs here unless a test starts one: every behaviour below is the proxy's own.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness.processes import child_env, login_with_etradectl, running_system
from tests.harness.stdio_proxy import StdioProxy, tool_text

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602


@pytest.fixture
def proxy(short_dir: Path) -> Iterator[StdioProxy]:
    """An initialized proxy whose daemon socket does not exist."""
    env = child_env(short_dir, ETRADE_MCP_SOCKET=str(short_dir / "no-daemon.sock"))
    with StdioProxy(env) as running:
        running.initialize()
        yield running


def error_of(answer: dict[str, Any]) -> dict[str, Any]:
    assert "error" in answer, answer
    error: dict[str, Any] = answer["error"]
    return error


def assert_still_serving(proxy: StdioProxy) -> None:
    assert "result" in proxy.request("ping")


@pytest.mark.parametrize(
    ("line", "code", "answer_id"),
    [
        pytest.param(b"{not json", PARSE_ERROR, None, id="unparsable"),
        pytest.param(b'{"jsonrpc": "2.0", "id": 5, "method": "ping"', PARSE_ERROR, None, id="truncated"),
        pytest.param(
            b'{"jsonrpc":"2.0","id":5,"method":"tools/list","params":{"x":"\xff"}}', PARSE_ERROR, None, id="not-utf8"
        ),
        pytest.param(b'{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":NaN}}', PARSE_ERROR, None, id="nan"),
        pytest.param(b'[{"jsonrpc":"2.0","id":5,"method":"ping"}]', INVALID_REQUEST, None, id="batch"),
        pytest.param(b"[]", INVALID_REQUEST, None, id="empty-batch"),
        pytest.param(b'"ping"', INVALID_REQUEST, None, id="string"),
        pytest.param(b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', INVALID_REQUEST, None, id="object-id"),
        pytest.param(b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', INVALID_REQUEST, None, id="float-id"),
        pytest.param(b'{"jsonrpc":"2.0","id":null,"method":"ping"}', INVALID_REQUEST, None, id="null-id"),
        pytest.param(b'{"jsonrpc":"2.0","id":true,"method":"ping"}', INVALID_REQUEST, None, id="bool-id"),
        pytest.param(b'{"jsonrpc":"1.0","id":5,"method":"ping"}', INVALID_REQUEST, 5, id="wrong-jsonrpc"),
        pytest.param(b'{"id":5,"method":"ping"}', INVALID_REQUEST, 5, id="missing-jsonrpc"),
        pytest.param(b'{"jsonrpc":"2.0","id":5,"method":7}', INVALID_REQUEST, 5, id="method-not-string"),
        pytest.param(b'{"jsonrpc":"2.0","id":"a"}', INVALID_REQUEST, "a", id="neither-request-nor-response"),
        pytest.param(
            b'{"jsonrpc":"2.0","id":5,"method":"tools/list","params":"x"}', INVALID_PARAMS, 5, id="params-string"
        ),
        pytest.param(
            b'{"jsonrpc":"2.0","id":5,"method":"tools/list","params":[1]}', INVALID_PARAMS, 5, id="params-array"
        ),
        pytest.param(
            b'{"jsonrpc":"2.0","id":5,"method":"tools/list","params":3}', INVALID_PARAMS, 5, id="params-number"
        ),
    ],
)
def test_malformed_json_rpc_is_answered_with_the_right_error(
    proxy: StdioProxy, line: bytes, code: int, answer_id: Any
) -> None:
    proxy.send_raw(line)
    answer = proxy.read()
    assert answer["jsonrpc"] == "2.0"
    assert answer["id"] == answer_id
    assert error_of(answer)["code"] == code
    assert error_of(answer)["message"]
    assert_still_serving(proxy)
    assert "Traceback" not in proxy.stderr_text


@pytest.mark.parametrize(
    "line",
    [
        pytest.param(b'{"jsonrpc":"2.0","method":"notifications/progress","params":"x"}', id="notification-params"),
        pytest.param(b'{"jsonrpc":"2.0","result":{}}', id="response-without-id"),
        pytest.param(b'{"jsonrpc":"2.0","id":9,"result":{},"error":{"code":1,"message":"x"}}', id="result-and-error"),
    ],
)
def test_what_json_rpc_forbids_answering_is_logged_on_stderr(proxy: StdioProxy, line: bytes) -> None:
    proxy.send_raw(line)
    # The next answer on stdout is the ping's: nothing was written for the line.
    answer = proxy.request("ping")
    assert "result" in answer
    proxy.wait_for_stderr("stdin: ignored")
    assert "Traceback" not in proxy.stderr_text


def test_an_oversized_line_is_answered_once_and_skipped(proxy: StdioProxy) -> None:
    from mcp_proxy.stdio import MAX_LINE_BYTES

    huge = b'{"jsonrpc":"2.0","id":5,"method":"ping","params":{"x":"' + b"a" * (MAX_LINE_BYTES + 10) + b'"}}'
    proxy.send_raw(huge)
    answer = proxy.read()
    assert answer["id"] is None
    assert error_of(answer)["code"] == PARSE_ERROR
    assert_still_serving(proxy)  # the next answer is the ping's: the rest of the line was dropped


@pytest.mark.parametrize("depth", [900, 5_000, 200_000], ids=["deep", "deeper", "deepest"])
def test_deeply_nested_json_is_answered_and_the_proxy_keeps_serving(proxy: StdioProxy, depth: int) -> None:
    """Tool arguments are the model's JSON, forwarded by the client: nesting too deep for the parser
    is a refused message like any other, never the end of the proxy."""
    arguments = b'{"a":' + b"[" * depth + b"]" * depth + b"}"
    proxy.send_raw(
        b'{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_stock_quote","arguments":'
        + arguments
        + b"}}"
    )
    answer = proxy.read()  # a parse error has no id to answer with
    assert answer["id"] in (7, None), answer
    assert "error" in answer or answer["result"].get("isError"), answer
    assert_still_serving(proxy)
    assert "Traceback" not in proxy.stderr_text


def test_stdin_redirected_from_a_file_is_served_to_its_end(short_dir: Path) -> None:
    """A regular file cannot be polled (epoll refuses it): the proxy reads it on a thread instead."""
    import subprocess
    import sys

    from tests.harness.processes import ROOT

    script = short_dir / "conversation.jsonl"
    # Only what is answered before the end of input is certain to be: at EOF the client is gone,
    # and the server stops without finishing what is in flight.
    lines = [{"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE}]
    script.write_text("".join(json.dumps(line) + "\n" for line in lines) + "{not json\n")
    env = child_env(short_dir, ETRADE_MCP_SOCKET=str(short_dir / "no-daemon.sock"))
    with script.open("rb") as stdin:
        done = subprocess.run(
            [sys.executable, "-m", "mcp_proxy"], stdin=stdin, capture_output=True, env=env, cwd=ROOT, timeout=60
        )
    assert done.returncode == 0, done.stderr
    answers = {json.loads(line)["id"]: json.loads(line) for line in done.stdout.splitlines()}
    assert answers[1]["result"]["serverInfo"]["name"] == "etrade"
    assert b"stdin: answered -32700" in done.stderr  # the line after it was read and judged
    assert b"Traceback" not in done.stderr


def test_stdout_redirected_to_a_file_gets_every_answer_whole(short_dir: Path) -> None:
    """A regular file cannot be polled either: answers, large ones included, are written to it directly."""
    import subprocess
    import sys

    from tests.harness.processes import ROOT

    lines = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},  # tens of kB: many pipe-sized pieces
    ]
    env = child_env(short_dir, ETRADE_MCP_SOCKET=str(short_dir / "no-daemon.sock"))
    out = short_dir / "answers.jsonl"
    with (
        out.open("wb") as stdout,
        subprocess.Popen(
            [sys.executable, "-m", "mcp_proxy"],
            stdin=subprocess.PIPE,
            stdout=stdout,
            stderr=subprocess.PIPE,
            env=env,
            cwd=ROOT,
        ) as proc,
    ):
        assert proc.stdin is not None and proc.stderr is not None
        proc.stdin.write(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
        proc.stdin.flush()
        # Bounded wait for the last answer to be in the file (at EOF the server would stop
        # without finishing what is in flight), then end the conversation.
        for _ in range(3000):
            if b'"id":2,' in out.read_bytes() or proc.poll() is not None:
                break
            time.sleep(0.01)
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
        stderr = proc.stderr.read()
    answers = {json.loads(line)["id"]: json.loads(line) for line in out.read_bytes().splitlines()}
    assert answers[1]["result"]["serverInfo"]["name"] == "etrade"
    assert len(out.read_bytes()) > 20_000 and {"get_stock_quote", "list_accounts"} <= {
        tool["name"] for tool in answers[2]["result"]["tools"]
    }
    assert b"Traceback" not in stderr


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_ends_the_proxy_while_its_client_reads_nothing(short_dir: Path, signum: signal.Signals) -> None:
    """Answers to a client that stopped reading fill the pipe; the proxy waits for it to drain
    without blocking its loop, so a signal still ends it (a write blocked in a thread would not end)."""
    import fcntl
    import select
    import subprocess
    import sys
    import termios

    from tests.harness.processes import ROOT

    env = child_env(short_dir, ETRADE_MCP_SOCKET=str(short_dir / "no-daemon.sock"))
    with subprocess.Popen(
        [sys.executable, "-m", "mcp_proxy"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        capacity = fcntl.fcntl(proc.stdout.fileno(), 1032)  # F_GETPIPE_SZ
        start = [
            {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE},
            {"jsonrpc": "2.0", "method": "notifications/initialized"},
        ]
        listing = [{"jsonrpc": "2.0", "id": 10 + n, "method": "tools/list"} for n in range(8)]
        proc.stdin.write(b"".join(json.dumps(line).encode() + b"\n" for line in start + listing))
        proc.stdin.flush()
        unread = 0
        for _ in range(3000):  # bounded wait for the pipe to be full
            unread = int.from_bytes(fcntl.ioctl(proc.stdout.fileno(), termios.FIONREAD, b"\0" * 4), sys.byteorder)
            if unread > capacity - select.PIPE_BUF:  # pieces of PIPE_BUF: the rest cannot take one
                break
            time.sleep(0.01)
        assert unread > capacity - select.PIPE_BUF, f"the answers never filled the pipe ({unread} of {capacity} bytes)"
        proc.send_signal(signum)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("the proxy did not end on the signal while its stdout was full") from None
        assert code == 128 + signum
        assert b"Traceback" not in proc.stderr.read()


def test_a_client_that_closes_stdout_ends_the_proxy_quietly(short_dir: Path) -> None:
    """The next answer meets a broken pipe: the proxy ends as at the end of stdin, without a traceback."""
    import subprocess
    import sys

    from tests.harness.processes import ROOT

    env = child_env(short_dir, ETRADE_MCP_SOCKET=str(short_dir / "no-daemon.sock"))
    with subprocess.Popen(
        [sys.executable, "-m", "mcp_proxy"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=ROOT,
    ) as proc:
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE}
        proc.stdin.write(json.dumps(initialize).encode() + b"\n")
        proc.stdin.flush()
        assert json.loads(proc.stdout.readline())["id"] == 1
        proc.stdout.close()
        proc.stdin.write(b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n')  # stdin stays open
        proc.stdin.flush()
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("the proxy kept running with nobody reading its answers") from None
        stderr = proc.stderr.read()
    assert code == 0, stderr
    assert b"Traceback" not in stderr


def test_stray_output_on_fd_1_never_reaches_the_wire(short_dir: Path) -> None:
    """While serving, fd 1 is stderr: a library's print cannot corrupt the protocol."""
    import subprocess
    import sys

    from tests.harness.processes import ROOT

    program = (
        "import os\n"
        "from mcp_proxy.stdio import claimed_stdio\n"
        "with claimed_stdio() as (wire_in, wire_out):\n"
        "    print('stray print', flush=True)\n"
        "    os.write(1, b'stray write\\n')\n"
        "    os.write(wire_out, b'{}\\n')\n"
        "    assert os.read(0, 10) == b''  # fd 0 reads the null device; the wire is wire_in\n"
        "    assert os.read(wire_in, 10) == b'request'\n"
        "print('after', flush=True)\n"
    )
    done = subprocess.run([sys.executable, "-c", program], input=b"request", capture_output=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"{}\nafter\n"  # fd 1 is the wire again afterwards
    assert b"stray print" in done.stderr and b"stray write" in done.stderr


def test_unflushed_stray_output_never_reaches_the_wire_after_serving(short_dir: Path) -> None:
    """A print while serving sits in sys.stdout's buffer (a pipe is block-buffered); it must be
    flushed to stderr before fd 1 is the wire again, not onto the wire at exit."""
    import os
    import subprocess
    import sys

    from tests.harness.processes import ROOT

    program = (
        "import os\n"
        "from mcp_proxy.stdio import claimed_stdio\n"
        "with claimed_stdio() as (wire_in, wire_out):\n"
        "    print('stray print')\n"
        "    os.write(wire_out, b'{}\\n')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # as an MCP client starts it
    done = subprocess.run(
        [sys.executable, "-c", program], stdin=subprocess.DEVNULL, capture_output=True, cwd=ROOT, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"{}\n"
    assert b"stray print" in done.stderr


def test_a_blank_line_is_neither_answered_nor_logged(proxy: StdioProxy) -> None:
    proxy.send_raw(b"")
    proxy.send_raw(b'{"jsonrpc":"2.0","result":{}}')  # logged: once it is, the blank line was judged
    proxy.wait_for_stderr("stdin: ignored")
    assert proxy.stderr_text.count("stdin:") == 1


def test_an_unknown_tool_is_a_protocol_error(proxy: StdioProxy) -> None:
    answer = proxy.call_tool("no_such_tool", {})
    error = error_of(answer)
    assert error["code"] == INVALID_PARAMS
    assert "no_such_tool" in error["message"]
    assert error["data"]["name"] == "no_such_tool"


def test_an_unknown_prompt_is_invalid_params_without_a_traceback(proxy: StdioProxy) -> None:
    error = error_of(proxy.request("prompts/get", {"name": "no_such_prompt"}))
    assert error["code"] == INVALID_PARAMS
    assert "no_such_prompt" in error["message"]
    assert "Traceback" not in proxy.stderr_text


def test_a_missing_prompt_argument_is_invalid_params_without_a_traceback(proxy: StdioProxy) -> None:
    prompts = proxy.request("prompts/list")["result"]["prompts"]
    prompt = next(p for p in prompts if any(a.get("required") for a in p.get("arguments", [])))
    error = error_of(proxy.request("prompts/get", {"name": prompt["name"], "arguments": {}}))
    assert error["code"] == INVALID_PARAMS
    required = [a["name"] for a in prompt["arguments"] if a.get("required")]
    assert error["data"]["missing"] == sorted(required)
    assert "Traceback" not in proxy.stderr_text


def test_an_unknown_prompt_argument_is_invalid_params_without_a_traceback(proxy: StdioProxy) -> None:
    """Found by the property tests: the SDK passed it to the prompt function (a TypeError, code 0)."""
    arguments = {"account_id_key": "abc", "symbols": ""}
    error = error_of(proxy.request("prompts/get", {"name": "portfolio_analysis", "arguments": arguments}))
    assert error["code"] == INVALID_PARAMS
    assert error["data"]["unknown"] == ["symbols"]
    assert "Traceback" not in proxy.stderr_text


def test_a_request_before_initialize_says_what_to_send_first(short_dir: Path) -> None:
    env = child_env(short_dir, ETRADE_MCP_SOCKET=str(short_dir / "no-daemon.sock"))
    with StdioProxy(env) as proxy:
        error = error_of(proxy.request("tools/list"))
        assert error["code"] == INVALID_PARAMS
        assert error["data"]["method"] == "tools/list"
        assert "initialize" in error["data"]["hint"]
        proxy.initialize()  # the connection is still usable
        assert "result" in proxy.request("tools/list")


def test_initialize_does_not_wait_for_a_daemon_that_does_not_answer(short_dir: Path) -> None:
    """A socket that accepts connections but never speaks: initialize and tools/list are answered
    by the proxy alone; the daemon client connects in the background."""
    silent = short_dir / "silent.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(silent))
    listener.listen(16)
    try:
        with StdioProxy(child_env(short_dir, ETRADE_MCP_SOCKET=str(silent))) as proxy:
            # Well within the background handshake's own 5 s bound: nothing here waits for it.
            answer = proxy.request("initialize", INITIALIZE)
            assert answer["result"]["serverInfo"]["name"] == "etrade"
            proxy.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
            assert "result" in proxy.request("ping")
    finally:
        listener.close()


INITIALIZE = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}


def test_without_a_daemon_initialize_answers_and_the_first_call_says_to_start_it(proxy: StdioProxy) -> None:
    answer = proxy.call_tool("get_stock_quote", {"symbol": "MSFT"})
    assert answer["result"]["isError"]
    assert "not running" in tool_text(answer)
    assert "[DAEMON_UNAVAILABLE]" in tool_text(answer)


# --- signals -----------------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_right_after_start_ends_the_proxy_without_a_traceback(short_dir: Path, signum: signal.Signals) -> None:
    env = child_env(short_dir, ETRADE_MCP_SOCKET=str(short_dir / "no-daemon.sock"))
    with StdioProxy(env) as proxy:
        proxy.signal(signum)  # before or during the interpreter's start, or while importing
        # Killed by the signal before Python installs any handler, else our quiet exit.
        assert proxy.wait() in (-signum, 128 + signum)
        assert "Traceback" not in proxy.stderr_text


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_before_initialize_ends_the_proxy_without_a_traceback(short_dir: Path, signum: signal.Signals) -> None:
    env = child_env(short_dir, ETRADE_MCP_SOCKET=str(short_dir / "no-daemon.sock"))
    with StdioProxy(env) as proxy:
        error_of(proxy.request("tools/list"))  # the server is up and reading
        proxy.signal(signum)
        assert proxy.wait() == 128 + signum
        assert "Traceback" not in proxy.stderr_text


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_after_initialize_ends_the_proxy_without_a_traceback(
    proxy: StdioProxy, signum: signal.Signals
) -> None:
    assert "result" in proxy.request("tools/list")
    proxy.signal(signum)
    assert proxy.wait() == 128 + signum
    assert "Traceback" not in proxy.stderr_text


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_during_a_call_ends_the_proxy_without_a_traceback(short_dir: Path, signum: signal.Signals) -> None:
    with running_system(short_dir) as system:
        login_with_etradectl(system.env, system.socket)
        # The quote's answer is parked at the emulator: the call stays in flight.
        system.admin("POST", "/faults", {"match": "quote", "hold": True, "count": 1})
        with StdioProxy(system.env, ["--socket", str(system.socket)]) as proxy:
            proxy.initialize()
            proxy.send(
                {
                    "jsonrpc": "2.0",
                    "id": 99,
                    "method": "tools/call",
                    "params": {"name": "get_stock_quote", "arguments": {"symbol": "MSFT"}},
                }
            )
            assert system.admin("GET", "/holds?wait=30")
            proxy.signal(signum)
            assert proxy.wait() == 128 + signum
            assert "Traceback" not in proxy.stderr_text
            # Whatever reached stdout is whole JSON-RPC messages.
            while not proxy.stdout_lines.empty():
                json.loads(proxy.stdout_lines.get())


# --- generated lines ---------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
generated_messages = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "2.0", "1.0"]) | json_values,
        "id": st.integers() | st.text(max_size=8) | json_values,
        "method": st.sampled_from(["ping", "tools/list", "prompts/list", "tools/call", "prompts/get", "no/such"])
        | json_values,
        "params": st.dictionaries(st.sampled_from(["name", "arguments", "cursor", "_meta"]), json_values, max_size=3)
        | json_values,
        "result": json_values,
        "error": json_values,
    },
)
generated_lines = st.binary(max_size=60).filter(lambda b: b"\n" not in b) | generated_messages.map(
    lambda message: json.dumps(message).encode("utf-8")
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(line=generated_lines)
def test_every_generated_line_gets_at_most_one_well_formed_answer(short_dir: Path, line: bytes) -> None:
    # A proxy of its own per line: the SDK answers requests concurrently, so an answer to one line
    # may come after the ping that follows it, and would be counted against the next line.
    with StdioProxy(child_env(short_dir, ETRADE_MCP_SOCKET=str(short_dir / "no-daemon.sock"))) as proxy:
        proxy.initialize()
        _at_most_one_answer(proxy, line)


def _at_most_one_answer(proxy: StdioProxy, line: bytes) -> None:
    proxy.send_raw(line)
    ping_id = f"ping-after-{proxy.popen.pid}-{len(proxy.stderr_lines)}-{line[:8]!r}"
    proxy.send({"jsonrpc": "2.0", "id": ping_id, "method": "ping"})
    answers = []
    while True:
        message = proxy.read()
        if message.get("id") == ping_id:
            assert "result" in message, message
            break
        if "method" not in message:  # notifications from the server (e.g. list changed) are fine
            answers.append(message)
    assert len(answers) <= 1, answers
    for answer in answers:
        assert answer["jsonrpc"] == "2.0"
        if "error" in answer:
            assert answer["error"]["code"] in (PARSE_ERROR, INVALID_REQUEST, INVALID_PARAMS, -32601), answer
    assert "Traceback" not in proxy.stderr_text
