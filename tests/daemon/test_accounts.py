"""Accounts, balances, portfolios and positions through the daemon's gRPC API."""

from __future__ import annotations

import pytest

from broker_client.client import BrokerClient
from broker_client.errors import ErrorCode, InvalidRequest, NotFound

pytestmark = pytest.mark.anyio


async def test_accounts_hide_closed_ones_unless_asked_and_mask_numbers(broker: BrokerClient) -> None:
    open_accounts = (await broker.list_accounts()).accounts
    all_accounts = (await broker.list_accounts(include_closed=True)).accounts
    assert len(open_accounts) >= 3
    assert len(all_accounts) == len(open_accounts) + 1
    assert {a.status for a in open_accounts} == {"ACTIVE"}
    assert {a.account_mode for a in open_accounts} >= {"CASH", "MARGIN"}
    for account in all_accounts:
        assert account.account_number_masked.startswith("****")
        assert len(account.account_number_masked) == 8


async def test_balance_and_portfolio_are_consistent(broker: BrokerClient) -> None:
    account = (await broker.list_accounts()).accounts[0]
    balance = (await broker.get_balance(account.account_id_key)).balance
    portfolio = await broker.get_portfolio(account.account_id_key)
    assert balance.account_id_key == account.account_id_key
    assert balance.total_account_value > 0
    assert portfolio.positions
    total = sum(p.market_value for p in portfolio.positions)
    assert portfolio.totals.total_market_value == pytest.approx(total, rel=1e-6)
    for position in portfolio.positions:
        assert position.symbol
        assert position.market_value == pytest.approx(position.quantity * position.last_price, rel=1e-3)
        assert position.total_gain == pytest.approx(position.market_value - position.total_cost, abs=0.05)


async def test_position_details_include_lots_and_a_quote(broker: BrokerClient) -> None:
    for account in (await broker.list_accounts()).accounts:
        portfolio = await broker.get_portfolio(account.account_id_key)
        for position in portfolio.positions:
            details = await broker.get_position(account.account_id_key, position.symbol.lower())
            assert details.quote.symbol == position.symbol
            assert details.lots
            assert sum(lot.remaining_quantity for lot in details.lots) == pytest.approx(
                sum(abs(p.quantity) for p in details.positions)
            )
            assert {lot.term for lot in details.lots} <= {"SHORT", "LONG"}
            return
    pytest.fail("no account holds a position")


@pytest.mark.parametrize("key", ["nosuchaccountkeyatall1", "x" * 200, "../../etc", "a b"])
async def test_unknown_account_keys_are_clear_errors(broker: BrokerClient, key: str) -> None:
    for call in (broker.get_balance, broker.get_portfolio):
        with pytest.raises(NotFound) as caught:
            await call(key)
        assert caught.value.code is ErrorCode.UNKNOWN_ACCOUNT
        assert "list_accounts" in caught.value.hint


async def test_empty_account_key_is_invalid(broker: BrokerClient) -> None:
    with pytest.raises(InvalidRequest):
        await broker.get_balance("")


async def test_a_symbol_not_held_is_position_not_found(broker: BrokerClient) -> None:
    account = (await broker.list_accounts()).accounts[0]
    held = {p.symbol for p in (await broker.get_portfolio(account.account_id_key)).positions}
    symbol = next(s for s in ("ZM", "ROKU", "ETSY", "PINS", "SNAP") if s not in held)
    with pytest.raises(NotFound) as caught:
        await broker.get_position(account.account_id_key, symbol)
    assert caught.value.code is ErrorCode.POSITION_NOT_FOUND
