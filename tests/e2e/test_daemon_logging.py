"""The daemon's log: levels on stderr, account numbers masked, and never a secret (real processes)."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from daemon.log_redaction import AccountNumberFilter, mask_account_numbers
from emulator import DEFAULT_CONSUMER_SECRET
from tests.harness.processes import etradectl, read_verifier, running_system
from tests.harness.support import admin

ACCOUNT_NUMBER = "845120337"


def test_masking_keeps_the_last_four_digits_of_standalone_8_to_12_digit_numbers() -> None:
    assert mask_account_numbers("account 84512033 and 123456789012") == "account ****2033 and ****9012"
    assert mask_account_numbers("/v1/accounts/845120337/balance.") == "/v1/accounts/****0337/balance."
    # Not account numbers: short ids, epoch milliseconds, prices, keys with letters.
    untouched = "order 773, at 1767225600123 ms, price 12345678.25, key dBZOKt9xDrtRSAOl4MSiiA, 0.123456789"
    assert mask_account_numbers(untouched) == untouched


def test_the_filter_masks_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(AccountNumberFilter())
    logger = logging.getLogger("tests.masking")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("E*TRADE refused account %s", ACCOUNT_NUMBER)
        try:
            raise ValueError(f"bad account {ACCOUNT_NUMBER}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert ACCOUNT_NUMBER not in text
    assert text.count("****0337") == 2
    assert "ValueError" in text  # the traceback is still there


def test_the_daemon_at_debug_logs_no_secret_and_no_account_number(short_dir: Path) -> None:
    with running_system(short_dir, "--log-level", "DEBUG") as system:
        started = system.ctl("--json", "auth", "login", "--url-only")
        verifier = read_verifier(started.json()["authorize_url"])
        assert system.ctl("auth", "login", "--verifier", verifier).code == 0
        secrets_file = system.home / "state" / "etrade-mcp" / "secrets.json"
        stored = json.loads(secrets_file.read_text())
        token = stored["emulator/access_token"]
        token_secret = stored["emulator/access_token_secret"]
        assert system.ctl("quote", "AAPL").code == 0
        key = system.ctl("--json", "accounts").json()["accounts"][0]["account_id_key"]
        # E*TRADE's own error text can carry an account number; it reaches the log masked.
        admin(
            system.emulator_url,
            "faults",
            {"match": "balance", "status": 400, "code": 9999, "message": f"Account {ACCOUNT_NUMBER} is restricted"},
        )
        assert system.ctl("balance", key).code != 0
        assert system.ctl("auth", "logout").code == 0
        assert etradectl(system.env, system.socket, "auth", "login", "--verifier", "WRONG1").code != 0
        assert system.daemon.terminate() == 0
        log = system.daemon.stderr_text

    assert " DEBUG " in log and " INFO " in log  # levels, and DEBUG really was on
    assert "****0337" in log
    for secret in (DEFAULT_CONSUMER_SECRET, token, token_secret, verifier, ACCOUNT_NUMBER):
        assert secret not in log
