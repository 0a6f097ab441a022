from __future__ import annotations

import pytest

from broker_client.errors import (
    BrokerError,
    DaemonUnavailable,
    ErrorCode,
    InvalidRequest,
    Kind,
    NotFound,
    PolicyRefused,
    SessionError,
    make_error,
    parse_code,
)


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_code_has_a_kind_and_an_actionable_hint(code: ErrorCode) -> None:
    assert isinstance(code.kind, Kind)
    assert len(code.hint) > 15


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (ErrorCode.DAEMON_UNAVAILABLE, DaemonUnavailable),
        (ErrorCode.NOT_LOGGED_IN, SessionError),
        (ErrorCode.INVALID_SYMBOL, InvalidRequest),
        (ErrorCode.UNKNOWN_ACCOUNT, NotFound),
        (ErrorCode.READ_ONLY, PolicyRefused),
    ],
)
def test_make_error_builds_the_class_of_the_codes_kind(code: ErrorCode, cls: type[BrokerError]) -> None:
    error = make_error(code, "something")
    assert type(error) is cls
    assert error.code is code
    assert error.hint == code.hint


def test_session_hints_name_the_login_command() -> None:
    for code in (ErrorCode.NOT_LOGGED_IN, ErrorCode.SESSION_EXPIRED, ErrorCode.SESSION_REVOKED):
        assert "etradectl auth login" in code.hint


def test_unknown_codes_from_another_process_become_internal() -> None:
    assert parse_code("NOT_LOGGED_IN") is ErrorCode.NOT_LOGGED_IN
    assert parse_code("SOMETHING_NEW") is ErrorCode.INTERNAL
