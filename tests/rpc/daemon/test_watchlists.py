"""Watchlists kept in config.toml: validation, safe write-back, hand edits, and the daemon's RPCs."""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, InvalidRequest, NotFound
from daemon.accounts.watchlists import MAX_SYMBOLS, WatchlistBook, check_name, parse_table
from daemon.app import build_app
from daemon.events import EventBus, EventKind, Subscription
from daemon.rpc.server import start_server
from daemon.secret_store import MemorySecretStore
from daemon.settings import load_settings
from emulator import Emulator
from tests.harness.daemons import daemon_settings

pytestmark = pytest.mark.anyio

ORIGINAL = """\
# My etrade-mcp settings.
environment = "emulator"   # practice first
read_only = true

[watchlists]
# Things I follow every morning.
tech = ["AAPL", "MSFT"]  # big tech
income = ["SCHD", "O"]
"""


class FixedClock:
    def now(self) -> float:
        return 1_800_000_000.0


def book_for(path: Path) -> tuple[WatchlistBook, EventBus]:
    bus = EventBus(FixedClock(), instance_id="t")
    book = WatchlistBook(path, bus)
    book.load()
    return book, bus


async def drained(subscription: Subscription) -> list[tuple[str, str, str]]:
    """The events a subscription received so far: closing it ends the iteration after them."""
    subscription.close()
    return [
        (event.kind.value, event.subject, event.attributes.get("change", ""))
        async for event in subscription
        if event.kind is not EventKind.STREAM_STARTED
    ]


def test_names_are_checked() -> None:
    assert check_name(" tech-2_x ") == "tech-2_x"
    for bad in ("", "has space", "-leading", "x" * 33, "semi;colon", "ünïcode", "a/b"):
        with pytest.raises(InvalidRequest) as caught:
            check_name(bad)
        assert caught.value.code is ErrorCode.INVALID_WATCHLIST


def test_invalid_entries_are_reported_and_the_valid_ones_kept() -> None:
    table = {
        "tech": ["aapl", "MSFT", "AAPL"],
        "bad name": ["SPY"],
        "Tech": ["QQQ"],
        "notalist": "AAPL",
        "badsymbol": ["AAPL", "$$$"],
        "huge": [f"S{n}" for n in range(MAX_SYMBOLS + 1)],
        "empty": [],
    }
    lists, problems = parse_table(table, "config.toml")
    assert {name: w.symbols for name, w in lists.items()} == {"tech": ("AAPL", "MSFT"), "empty": ()}
    assert len(problems) == 5
    joined = "\n".join(problems)
    for fragment in (
        "watchlists.bad name",
        "repeats watchlists.tech",
        "watchlists.notalist: expected a list",
        "'$$$' is not a ticker symbol",
        f"at most {MAX_SYMBOLS}",
    ):
        assert fragment in joined
    assert all(p.startswith("config.toml: watchlists.") for p in problems)


async def test_adding_and_removing_rewrites_only_that_entry_and_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(ORIGINAL)
    book, bus = book_for(path)
    assert [(w.name, w.symbols) for w in book.watchlists()] == [("tech", ("AAPL", "MSFT")), ("income", ("SCHD", "O"))]
    subscription = bus.subscribe()

    added = await book.add("tech", ["nvda", "AAPL"])
    assert (added.change, added.watchlist and added.watchlist.symbols) == ("updated", ("AAPL", "MSFT", "NVDA"))
    created = await book.add("energy", ["XOM"])
    assert created.change == "created"
    removed = await book.remove("income", ["O"])
    assert removed.watchlist is not None and removed.watchlist.symbols == ("SCHD",)
    deleted = await book.remove("energy")
    assert (deleted.change, deleted.watchlist) == ("deleted", None)
    unchanged = await book.add("tech", ["MSFT"])
    assert unchanged.change == "unchanged"

    text = path.read_text()
    for kept in ("# My etrade-mcp settings.", "# practice first", "# Things I follow every morning.", "# big tech"):
        assert kept in text
    assert tomllib.loads(text)["watchlists"] == {"tech": ["AAPL", "MSFT", "NVDA"], "income": ["SCHD"]}
    # The settings loader still accepts the file the daemon wrote.
    assert load_settings(environ={}, config_path=path).environment == "emulator"
    assert os.listdir(tmp_path) == ["config.toml"]  # no temporary file left behind
    assert await drained(subscription) == [
        ("WATCHLIST_CHANGED", "tech", "updated"),
        ("WATCHLIST_CHANGED", "energy", "created"),
        ("WATCHLIST_CHANGED", "income", "updated"),
        ("WATCHLIST_CHANGED", "energy", "deleted"),
    ]


async def test_comments_inside_a_list_line_endings_and_dotted_keys_survive_edits(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[watchlists]\r\ntech = [\r\n  "AAPL", # bought 2019\r\n  "MSFT", # core holding\r\n]\r\n')
    book, _ = book_for(path)
    await book.add("tech", ["NVDA"])
    await book.remove("tech", ["AAPL"])
    raw = path.read_bytes()
    assert b"# core holding" in raw  # the comment of the item that stayed
    assert b"\n" not in raw.replace(b"\r\n", b"")  # still CRLF throughout
    assert tomllib.loads(raw.decode())["watchlists"] == {"tech": ["MSFT", "NVDA"]}

    dotted = tmp_path / "dotted.toml"
    dotted.write_text('watchlists.tech = ["AAPL"]\nwatchlists.income = ["O"]\n')
    book, _ = book_for(dotted)
    await book.add("tech", ["MSFT"])
    await book.add("energy", ["XOM"])
    assert tomllib.loads(dotted.read_text())["watchlists"] == {
        "tech": ["AAPL", "MSFT"],
        "income": ["O"],
        "energy": ["XOM"],
    }


async def test_a_missing_file_is_created_private_with_a_watchlists_table(tmp_path: Path) -> None:
    path = tmp_path / "new" / "config.toml"
    book, _ = book_for(path)
    assert book.watchlists() == []
    await book.add("Tech", ["aapl"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert tomllib.loads(path.read_text()) == {"watchlists": {"Tech": ["AAPL"]}}
    assert "etradectl watchlist" in path.read_text()  # says who keeps the table
    assert book.get("tech").name == "Tech"  # names ignore case
    await book.add("TECH", ["MSFT"])
    assert tomllib.loads(path.read_text()) == {"watchlists": {"Tech": ["AAPL", "MSFT"]}}


async def test_the_file_mode_and_a_symlinked_config_survive_a_rewrite(tmp_path: Path) -> None:
    dotfiles = tmp_path / "dotfiles"
    dotfiles.mkdir()
    real = dotfiles / "etrade.toml"
    real.write_text(ORIGINAL)
    os.chmod(real, 0o640)
    link = tmp_path / "config.toml"
    link.symlink_to(real)
    book, _ = book_for(link)
    await book.add("tech", ["NVDA"])
    assert link.is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    assert tomllib.loads(real.read_text())["watchlists"]["tech"] == ["AAPL", "MSFT", "NVDA"]
    assert sorted(p.name for p in dotfiles.iterdir()) == ["etrade.toml"]


async def test_an_invalid_entry_is_left_untouched_and_blocks_only_its_own_edits(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[watchlists]\ngood = ["AAPL"]\nbroken = ["AAPL", 42]\n')
    book, _ = book_for(path)
    assert [w.name for w in book.watchlists()] == ["good"]
    assert len(book.problems) == 1 and "watchlists.broken" in book.problems[0]
    with pytest.raises(InvalidRequest) as caught:
        await book.add("broken", ["MSFT"])
    assert caught.value.code is ErrorCode.CONFIG_FILE_PROBLEM
    assert "watchlists.broken" in caught.value.message
    await book.add("good", ["MSFT"])
    assert path.read_text() == '[watchlists]\ngood = ["AAPL", "MSFT"]\nbroken = ["AAPL", 42]\n'


async def test_a_file_that_is_not_toml_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text("this is = = not toml\n")
    book, _ = book_for(path)
    assert book.watchlists() == []
    assert book.problems and "cannot read" in book.problems[0]
    with pytest.raises(InvalidRequest) as caught:
        await book.add("tech", ["AAPL"])
    assert caught.value.code is ErrorCode.CONFIG_FILE_PROBLEM
    assert str(path) in caught.value.message
    assert path.read_text() == "this is = = not toml\n"


async def test_hand_edits_are_picked_up_and_announced(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(ORIGINAL)
    book, bus = book_for(path)
    subscription = bus.subscribe()
    path.write_text(ORIGINAL.replace('income = ["SCHD", "O"]', 'growth = ["NVDA", "TSLA"]').replace("MSFT", "GOOGL"))
    assert [w.name for w in book.watchlists()] == ["tech", "growth"]
    assert book.get("tech").symbols == ("AAPL", "GOOGL")
    assert sorted(await drained(subscription)) == [
        ("WATCHLIST_CHANGED", "growth", "created"),
        ("WATCHLIST_CHANGED", "income", "deleted"),
        ("WATCHLIST_CHANGED", "tech", "updated"),
    ]


@pytest.mark.parametrize(
    ("action", "code"),
    [
        ("get-unknown", ErrorCode.WATCHLIST_NOT_FOUND),
        ("remove-unknown-list", ErrorCode.WATCHLIST_NOT_FOUND),
        ("remove-absent-symbol", ErrorCode.WATCHLIST_NOT_FOUND),
        ("too-many", ErrorCode.INVALID_WATCHLIST),
        ("bad-symbol", ErrorCode.INVALID_SYMBOL),
        ("bad-name", ErrorCode.INVALID_WATCHLIST),
    ],
)
async def test_bad_edits_are_refused_with_a_clear_error(tmp_path: Path, action: str, code: ErrorCode) -> None:
    path = tmp_path / "config.toml"
    path.write_text(ORIGINAL)
    book, _ = book_for(path)
    with pytest.raises((InvalidRequest, NotFound)) as caught:
        if action == "get-unknown":
            book.get("nope")
        elif action == "remove-unknown-list":
            await book.remove("nope", ["AAPL"])
        elif action == "remove-absent-symbol":
            await book.remove("tech", ["TSLA"])
        elif action == "too-many":
            await book.add("tech", [f"S{n}" for n in range(MAX_SYMBOLS - 1)])
        elif action == "bad-symbol":
            await book.add("tech", ["NOT A SYMBOL"])
        else:
            await book.add("no good", ["AAPL"])
    assert caught.value.code is code
    assert path.read_text() == ORIGINAL


@pytest.fixture
async def daemon_with_config(emulator: Emulator, short_dir: Path) -> AsyncIterator[tuple[BrokerClient, Path]]:
    config = short_dir / "config" / "config.toml"
    config.parent.mkdir()
    config.write_text(ORIGINAL)
    app = await build_app(daemon_settings(emulator), store=MemorySecretStore(), config_path=config)
    socket = short_dir / "run" / "broker.sock"
    server, lock = await start_server(app, socket)
    try:
        async with BrokerClient(socket, client_name="tests") as client:
            yield client, config
    finally:
        await server.stop(grace=None)
        await app.close()
        lock.release()


async def test_the_daemon_serves_and_edits_watchlists_over_grpc(daemon_with_config: tuple[BrokerClient, Path]) -> None:
    client, config = daemon_with_config
    listed = await client.list_watchlists()
    assert [(w.name, list(w.symbols)) for w in listed.watchlists] == [
        ("tech", ["AAPL", "MSFT"]),
        ("income", ["SCHD", "O"]),
    ]
    assert listed.config_path == str(config)
    assert list(listed.problems) == []

    change = await client.add_to_watchlist("tech", ["nvda"])
    assert (change.change, list(change.watchlist.symbols)) == ("updated", ["AAPL", "MSFT", "NVDA"])
    assert list((await client.get_watchlist("TECH")).watchlist.symbols) == ["AAPL", "MSFT", "NVDA"]
    deleted = await client.remove_from_watchlist("income")
    assert deleted.change == "deleted" and not deleted.HasField("watchlist")
    assert tomllib.loads(config.read_text())["watchlists"] == {"tech": ["AAPL", "MSFT", "NVDA"]}

    with pytest.raises(NotFound) as caught:
        await client.get_watchlist("income")
    assert caught.value.code is ErrorCode.WATCHLIST_NOT_FOUND
    assert "etradectl watchlist list" in caught.value.hint
    with pytest.raises(InvalidRequest) as invalid:
        await client.add_to_watchlist("bad name", ["AAPL"])
    assert invalid.value.code is ErrorCode.INVALID_WATCHLIST
