"""The daemon's E*TRADE session: the state machine, the credentials in the secret store, OAuth login,
renewal, the signed-call path, and the keeper that renews and warns on schedule.

- ``state``        the states, their human text, the status snapshot, :class:`RefusedAtAuthentication`;
- ``credentials``  :class:`CredentialVault`: the consumer key and the token in the secret store, on its
                   own thread (never the HTTP pool);
- ``manager``      :class:`SessionManager`: the state machine, renewal and :meth:`SessionManager.call`,
                   the one path every signed request takes (only this package touches tokens);
- ``keeper``       :class:`SessionKeeper`: scheduled renewal, expiry, the login reminder and its warnings.

The secret store itself stays at ``daemon.secret_store`` (etradectl imports it by that name).

May import: ``broker_client``, ``daemon.clock``, ``daemon.etrade``, ``daemon.secret_store``,
``daemon.events`` (the keeper's warnings) and the standard library; never ``daemon.orders`` or the
servicers. Invariant: no token, secret, verifier or confirmation code is ever logged or put in an error.
"""

from daemon.session.manager import SessionManager
from daemon.session.state import (
    DEFAULT_RENEW_AFTER,
    IDLE_LIMIT,
    LIVE_STATES,
    SETUP_COMMAND,
    RefusedAtAuthentication,
    SessionInfo,
    SessionState,
)

__all__ = [
    "DEFAULT_RENEW_AFTER",
    "IDLE_LIMIT",
    "LIVE_STATES",
    "SETUP_COMMAND",
    "RefusedAtAuthentication",
    "SessionInfo",
    "SessionManager",
    "SessionState",
]
