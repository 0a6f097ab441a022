from __future__ import annotations

import grpc

from daemon.accounts.watchlists import Watchlist, WatchlistChange
from daemon.app import BrokerApp
from daemon.rpc.rpc_errors import translate_errors
from protos.broker.v1 import watchlists_pb2, watchlists_pb2_grpc

Ctx = grpc.aio.ServicerContext


def watchlist_message(watchlist: Watchlist) -> watchlists_pb2.Watchlist:
    return watchlists_pb2.Watchlist(name=watchlist.name, symbols=list(watchlist.symbols))


def change_message(change: WatchlistChange) -> watchlists_pb2.WatchlistChangeResponse:
    response = watchlists_pb2.WatchlistChangeResponse(name=change.name, change=change.change)
    if change.watchlist is not None:
        response.watchlist.CopyFrom(watchlist_message(change.watchlist))
    return response


class WatchlistsServicer(watchlists_pb2_grpc.WatchlistsServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    @translate_errors
    async def ListWatchlists(
        self,
        request: watchlists_pb2.ListWatchlistsRequest,
        context: Ctx[watchlists_pb2.ListWatchlistsRequest, watchlists_pb2.ListWatchlistsResponse],
    ) -> watchlists_pb2.ListWatchlistsResponse:
        book = self.app.watchlists
        return watchlists_pb2.ListWatchlistsResponse(
            watchlists=[watchlist_message(w) for w in book.watchlists()],
            problems=book.problems,
            config_path=str(book.path or ""),
        )

    @translate_errors
    async def GetWatchlist(
        self,
        request: watchlists_pb2.GetWatchlistRequest,
        context: Ctx[watchlists_pb2.GetWatchlistRequest, watchlists_pb2.GetWatchlistResponse],
    ) -> watchlists_pb2.GetWatchlistResponse:
        return watchlists_pb2.GetWatchlistResponse(watchlist=watchlist_message(self.app.watchlists.get(request.name)))

    @translate_errors
    async def AddToWatchlist(
        self,
        request: watchlists_pb2.AddToWatchlistRequest,
        context: Ctx[watchlists_pb2.AddToWatchlistRequest, watchlists_pb2.WatchlistChangeResponse],
    ) -> watchlists_pb2.WatchlistChangeResponse:
        return change_message(await self.app.watchlists.add(request.name, request.symbols))

    @translate_errors
    async def RemoveFromWatchlist(
        self,
        request: watchlists_pb2.RemoveFromWatchlistRequest,
        context: Ctx[watchlists_pb2.RemoveFromWatchlistRequest, watchlists_pb2.WatchlistChangeResponse],
    ) -> watchlists_pb2.WatchlistChangeResponse:
        return change_message(await self.app.watchlists.remove(request.name, request.symbols))
