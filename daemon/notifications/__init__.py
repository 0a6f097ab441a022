"""Notifications to the human: phone, chat, email and webhook channels fed by the daemon's event bus.

What lives here:

- (the channels' schema — ``[[notifications.channels]]``, event names, where each URL lives in the
  secret store, URL masking — is :mod:`daemon.settings.notifications`: the settings read it);
- :mod:`daemon.notifications.messages` — events turned into human text (and a JSON payload);
- :mod:`daemon.notifications.webhook` — the signed generic webhook (HMAC-SHA256 over
  ``"<timestamp>.<body>"``) and the receiver's verification recipe;
- :mod:`daemon.notifications.channels` — one worker thread per channel with a bounded queue, the
  apprise and webhook senders, delivery health;
- :mod:`daemon.notifications.throttle` — the per-channel cap on "order pending" notifications
  (a model previewing in a loop), with one summary of the held ones per window;
- :mod:`daemon.notifications.hub` — :class:`~daemon.notifications.hub.NotificationHub`: subscribes
  to the bus, renders, hands each notification to the channels that want it.

Invariants:

- Nothing here delays the daemon's other work: the hub only renders and enqueues on the event loop
  (never blocking; a full queue drops and counts), and every delivery runs on its channel's own
  thread — never the loop's default executor, which the session jobs and the orders share.
- A channel hears at most ``notify_pending_limit`` pending orders per window, then one summary of
  the rest (no code in it); no other event is capped, and no held pending order goes untold.
- Confirmation codes never travel on the event bus. The hub reads a new pending order's code from
  the pending store in-process, and puts it only into notifications for channels the operator
  marked ``trusted_for_codes``; Subscribe streams to clients never carry it.
- A channel URL or signing secret lives in the secret store only (never config.toml, never a log,
  never an RPC answer: display uses :func:`~daemon.settings.notifications.mask_url`). Logs name a
  channel and an error class, never a URL, a body or a code.

May import: the standard library, ``apprise``, ``requests``, and ``daemon.events``, ``daemon.clock``,
``broker_client.errors``, ``daemon.secret_store``, ``daemon.orders.pending`` and ``daemon.orders.model`` (to
describe a pending order), ``daemon.settings``. No gRPC. Sits above ``daemon.orders`` in the layers
contract (pyproject ``[tool.importlinter]``), which is why the order service's desktop notifications
(:mod:`daemon.host.notify`) are not here.
"""
