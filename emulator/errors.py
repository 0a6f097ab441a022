"""E*TRADE-style failures the emulator answers with.

Three shapes exist on the wire, and each has one exception type here:

- :class:`ApiError` — a REST error: HTTP 4xx/5xx with ``{"Error": {"code": N, "message": "…"}}``
  (or ``<Error><code>N</code><message>…</message></Error>`` in XML).
- :class:`OAuthProblem` — an OAuth failure: HTTP 401 (400 for ``callback_rejected``) whose body
  carries ``oauth_problem=<problem>[,extra=value…]``.
- :class:`RateLimited` — HTTP 400 with an HTML page "Number of requests exceeded the rate limit
  set" (v0 documentation, the only description of E*TRADE throttling that exists).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

# Documented E*TRADE error codes and messages (reference/etrade-api.md §2, §4).
ACCOUNT_KEY_NOT_OWNED = (100, "Account key does not belong to user")
ACCOUNT_KEY_INVALID = (102, "Please enter valid account key")
INVALID_INSTITUTION_TYPE = (7002, "Invalid institution type")
SERVICE_UNAVAILABLE = (100, "The requested service is not currently available, please try after sometime.")
QUOTE_INVALID_SYMBOL = (1019, "Invalid symbol.")
QUOTE_INVALID_DETAIL_FLAG = (1020, "Invalid detail flag.")
QUOTE_TOO_MANY_25 = (1023, "Invalid count. A request may contain up to 25 quotes.")
QUOTE_TOO_MANY_50 = (1025, "Invalid count. A request may contain up to 50 quotes.")
QUOTE_NOT_MUTUAL_FUND = (1024, "Please enter valid Mutual Fund or Money Market Fund symbols.")
LOOKUP_INVALID = (10033, "The symbol entered is invalid. Please enter another symbol.")
LOOKUP_MISSING = (10043, "Missing symbol. Please enter valid symbol.")
# Portfolio parameter errors are undocumented; these codes are borrowed from the Transactions
# API, which documents the same kinds of mistakes (see README "Assumptions").
INVALID_COUNT = (2005, "Invalid count. Count value should be a positive integer.")
INVALID_SORT_COLUMN = (2006, "Invalid SortColumn.")
INVALID_SORT_ORDER = (2007, "Invalid SortOrder.")
#: Emulator-specific code for a malformed parameter whose E*TRADE code is unknown.
INVALID_PARAMETER_CODE = 9001


class ApiError(Exception):
    """A REST error answered as E*TRADE's ``Error`` object."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    @classmethod
    def bad_request(cls, code_and_message: tuple[int, str]) -> ApiError:
        """HTTP 400 with a documented (code, message) pair."""
        return cls(400, *code_and_message)

    @classmethod
    def invalid_parameter(cls, name: str) -> ApiError:
        """HTTP 400 for a malformed parameter E*TRADE documents no code for."""
        return cls(400, INVALID_PARAMETER_CODE, f"Invalid value for parameter {name}.")

    def payload(self) -> dict[str, object]:
        """The ``Error`` object's content (without the ``Error`` wrapper)."""
        body: dict[str, object] = {}
        if self.code is not None:
            body["code"] = self.code
        body["message"] = self.message
        return body


@dataclass
class OAuthProblem(Exception):
    """An OAuth 1.0a failure, reported the way E*TRADE does: ``oauth_problem=<problem>``."""

    problem: str
    status: int = 401
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.problem)

    @property
    def text(self) -> str:
        """``oauth_problem=timestamp_refused,oauth_acceptable_timestamps=lo-hi`` and the like."""
        parts = [f"oauth_problem={self.problem}"]
        parts.extend(f"{key}={value}" for key, value in self.extra.items())
        return ",".join(parts)


class RateLimited(Exception):
    """A request refused by the per-module rate limit."""

    def __init__(self, module: str) -> None:
        super().__init__(module)
        self.module = module


# Orders (reference §2.3, §3.6-3.9, §4.2, §5). Codes 101, 1021, 1037, 1026 and 4186 are E*TRADE's
# own (captured); the 90xx codes are the emulator's where E*TRADE's code is unknown (README).
ORDER_TIMED_OUT = (
    101,
    "For your protection, we have timed out your original order request. "
    "If you would like to place this order, please resubmit it now.",
)
INSUFFICIENT_FUNDS = (1021, "We cannot accept this order because there are insufficient funds in your account.")
NOT_ENOUGH_SHARES = (
    1037,
    "We did not find enough available shares of this security in your account. Please check the quantity.",
)
CANNOT_CANCEL = (5001, "This order is currently being executed or rejected. It cannot be cancelled.")
ORDER_INVALID_SYMBOL = (1019, "Invalid symbol.")
INVALID_DATE_FORMAT = (2004, "Invalid date format. Format must be MMDDYYYY; for example, 07112018")
INVALID_DATE = (2003, "Invalid Date. History is available for two years.")
INVALID_ORDER_COUNT = (2005, "Invalid count. Count value should be between 1 and 100.")
ORDER_NOT_FOUND = (9002, "The order was not found.")
SHORT_NOT_ALLOWED = (9003, "Short selling is allowed in margin accounts only.")
NO_SHORT_POSITION = (9004, "There is no short position to cover in this account.")
INVALID_ORDER = 9005

# Transactions (reference §2.1): E*TRADE's documented codes and texts. The date-range error's code
# is not legible in the stored copy of the documentation; 2002 continues its 2003-2008 run.
TXN_INVALID_MARKER = (2008, "Invalid Marker. Both PageMarker and Marker passed.")
TXN_INVALID_SORT_ORDER = (2007, "Invalid SortOrder. SortOrder should be ASC or DESC.")
TXN_INVALID_COUNT = (2005, "Invalid count. Count value should be between 1 and 50.")
TXN_INVALID_DATE_FORMAT = (2004, "Invalid date format. Format must be MMDDYYYY; for example, 07112018.")
TXN_INVALID_DATE = (2003, "Invalid Date. Date should fall within the last three years.")
TXN_INVALID_DATE_RANGE = (
    2002,
    "Invalid Date Range. Both fromDate & toDate should be provided, toDate should be greater than fromDate.",
)
TXN_NOT_FOUND = (9006, "The transaction was not found.")
