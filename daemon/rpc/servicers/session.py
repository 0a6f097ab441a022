from __future__ import annotations

import grpc

from broker_client import VERSION
from broker_client.errors import BrokerError
from daemon.app import BrokerApp
from daemon.rpc import process_info
from daemon.rpc.convert import session as convert
from daemon.rpc.rpc_errors import translate_errors
from daemon.rpc.servicers.notifications import health_message
from protos.broker.v1 import session_pb2, session_pb2_grpc

Ctx = grpc.aio.ServicerContext


class SessionServicer(session_pb2_grpc.SessionServicer):
    def __init__(self, app: BrokerApp) -> None:
        self.app = app

    @translate_errors
    async def GetStatus(
        self,
        request: session_pb2.GetStatusRequest,
        context: Ctx[session_pb2.GetStatusRequest, session_pb2.GetStatusResponse],
    ) -> session_pb2.GetStatusResponse:
        response = session_pb2.GetStatusResponse(
            daemon_version=VERSION,
            api_version=self.app.api_version,
            environment=self.app.environment,
            session=convert.session_info(self.app.session.info()),
            read_only=self.app.settings.read_only,
            trading_halted=self.app.orders.switch.halted,
            **convert.halt_fields(self.app.orders.switch.state),
            started_at_unix_ms=int(self.app.started_at * 1000),
            upstream_base_url=self.app.endpoints.api_base,
            jobs=[convert.scheduled_job(job) for job in self.app.jobs.describe()],
            clock=self.app.clock_description(),
            performance=convert.performance(
                self.app.market.cache.stats(),
                [*self.app.accounts.cache_stats(), *self.app.history.cache_stats()],
                self.app.gateway.limiter.stats(),
                self.app.gateway.stats(),
            ),
        )
        if self.app.notifications is not None:
            response.notifications.extend(health_message(h) for h in self.app.notifications.health())
        process_info.fill_status(response, self.app)
        return response

    @translate_errors
    async def BeginLogin(
        self,
        request: session_pb2.BeginLoginRequest,
        context: Ctx[session_pb2.BeginLoginRequest, session_pb2.BeginLoginResponse],
    ) -> session_pb2.BeginLoginResponse:
        url, expires_at = await self.app.session.begin_login()
        return session_pb2.BeginLoginResponse(authorize_url=url, expires_at_unix_ms=int(expires_at * 1000))

    @translate_errors
    async def CompleteLogin(
        self,
        request: session_pb2.CompleteLoginRequest,
        context: Ctx[session_pb2.CompleteLoginRequest, session_pb2.CompleteLoginResponse],
    ) -> session_pb2.CompleteLoginResponse:
        try:
            info = await self.app.session.complete_login(request.verifier)
        except BrokerError as exc:
            await self.app.orders.record("session.login_failed", {"code": exc.code.value, "reason": exc.message})
            raise
        await self.app.orders.record("session.login", {"environment": self.app.environment})
        return session_pb2.CompleteLoginResponse(session=convert.session_info(info))

    @translate_errors
    async def Logout(
        self, request: session_pb2.LogoutRequest, context: Ctx[session_pb2.LogoutRequest, session_pb2.LogoutResponse]
    ) -> session_pb2.LogoutResponse:
        revoked = await self.app.session.logout(forget_credentials=request.forget_credentials)
        await self.app.orders.record(
            "session.logout", {"revoked_upstream": revoked, "forget_credentials": request.forget_credentials}
        )
        return session_pb2.LogoutResponse(
            session=convert.session_info(self.app.session.info()), revoked_upstream=revoked
        )

    @translate_errors
    async def SetCredentials(
        self,
        request: session_pb2.SetCredentialsRequest,
        context: Ctx[session_pb2.SetCredentialsRequest, session_pb2.SetCredentialsResponse],
    ) -> session_pb2.SetCredentialsResponse:
        info = await self.app.session.set_credentials(request.consumer_key, request.consumer_secret)
        await self.app.orders.record("session.credentials_set", {"stored_in": info.secret_store})
        return session_pb2.SetCredentialsResponse(
            session=convert.session_info(info),
            stored_in=info.secret_store,
            overridden_by_environment=self.app.session.overridden_by_environment,
        )
