"""Keep account numbers out of the daemon's log (the journal, launchd's log file).

E*TRADE account numbers are 8-12 digit numbers; the daemon's own messages use the opaque
``account_id_key`` instead, but E*TRADE's error texts and URLs can carry a number, and a log is
read by more people and programs than the account owner. A handler filter rewrites every record
(message, arguments and traceback) so such numbers keep their last four digits only, the same
form as ``account_number_masked`` (``****1234``).

The same masking applies to E*TRADE's error and order-message texts before they leave the daemon
(``daemon/etrade/upstream.py``, ``daemon/orders/etrade.py``), so etradectl and the model see the masked
form too.

Secrets are a different matter: they are never passed to a logger in the first place (tests run
the daemon at DEBUG and search its output for every secret); this filter is not what keeps them out.
"""

from __future__ import annotations

import logging
import re

# A standalone run of 8-12 digits: not part of a longer number, a word or a decimal fraction.
_ACCOUNT_NUMBER = re.compile(r"(?<![\w.])(?<!\d\.)\d{8,12}(?!\w|\.\d)")


def mask_account_numbers(text: str) -> str:
    return _ACCOUNT_NUMBER.sub(lambda match: "****" + match.group(0)[-4:], text)


class AccountNumberFilter(logging.Filter):
    """A handler filter: rewrites each record's text with account numbers masked; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_account_numbers(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_account_numbers(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_account_numbers(record.stack_info)
        return True
