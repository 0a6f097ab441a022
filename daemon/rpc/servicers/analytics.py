from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc

from daemon.accounts.analytics import PortfolioAnalysis, Progress
from daemon.app import BrokerApp
from daemon.rpc.convert.common import to_message
from daemon.rpc.rpc_errors import translate_stream_errors
from protos.broker.v1 import analytics_pb2, analytics_pb2_grpc

Ctx = grpc.aio.ServicerContext


def analysis_message(analysis: PortfolioAnalysis) -> analytics_pb2.PortfolioAnalysis:
    return to_message(
        analytics_pb2.PortfolioAnalysis,
        analysis,
        holdings=[to_message(analytics_pb2.Holding, h) for h in analysis.holdings],
        by_asset_class=[to_message(analytics_pb2.Allocation, a) for a in analysis.by_asset_class],
        by_sector=[to_message(analytics_pb2.Allocation, a) for a in analysis.by_sector],
        notes=list(analysis.notes),
        **(
            {"activity": to_message(analytics_pb2.PeriodActivity, analysis.activity)}
            if analysis.activity is not None
            else {}
        ),
    )


def progress_message(progress: Progress) -> analytics_pb2.AnalysisProgress:
    return analytics_pb2.AnalysisProgress(done=progress.done, total=progress.total or 0, message=progress.message)


class AnalyticsServicer(analytics_pb2_grpc.AnalyticsServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    @translate_stream_errors
    async def AnalyzePortfolio(
        self,
        request: analytics_pb2.AnalyzePortfolioRequest,
        context: Ctx[analytics_pb2.AnalyzePortfolioRequest, analytics_pb2.AnalyzePortfolioUpdate],
    ) -> AsyncIterator[analytics_pb2.AnalyzePortfolioUpdate]:
        # The analysis reports progress through a callback; a queue turns it into this stream.
        updates: asyncio.Queue[Progress | PortfolioAnalysis | Exception] = asyncio.Queue()

        async def work() -> None:
            try:
                analysis = await self.app.analyst.analyze(
                    request.account_id_key,
                    updates.put,
                    period_start=request.period_start,
                    period_end=request.period_end,
                )
                await updates.put(analysis)
            except Exception as exc:
                await updates.put(exc)

        task = asyncio.create_task(work())
        try:
            while True:
                item = await updates.get()
                if isinstance(item, Exception):
                    raise item
                if isinstance(item, Progress):
                    yield analytics_pb2.AnalyzePortfolioUpdate(progress=progress_message(item))
                    continue
                yield analytics_pb2.AnalyzePortfolioUpdate(analysis=analysis_message(item))
                return
        finally:
            task.cancel()
