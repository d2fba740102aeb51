"""A small HTTP proxy between the bot and Synapse that breaks chosen requests on purpose.

Everything else passes through unchanged (long-polling syncs included). A test says which
requests to break and how, and afterwards how many were broken, so that a test whose fault
never happened fails instead of passing for nothing::

    proxy = FaultProxy(synapse.url)
    await proxy.start()
    rule = proxy.fail("PUT", f"/rooms/{room}/send/", Fault.error(500, "M_UNKNOWN"), times=2)
    ... (the bot, configured with homeserver=proxy.url, sends into the room)
    assert rule.hits == 2

A fault can happen before Synapse sees the request, or after (`after_synapse=True`: Synapse
did the work, but its answer is replaced by the fault), which is how a client learns nothing
of a request that in fact succeeded.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
from dataclasses import dataclass, field
from urllib.parse import unquote

import aiohttp
from aiohttp import web

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


@dataclass(frozen=True)
class Fault:
    """What the proxy does instead of passing a request on (or its answer back)."""

    kind: str  # "error", "drop" or "stall"
    status: int = 500
    errcode: str | None = None
    retry_after_ms: int | None = None
    seconds: float = 0.0
    after_synapse: bool = False

    @staticmethod
    def error(status: int, errcode: str | None = None, *, after_synapse: bool = False) -> Fault:
        """An error answer: Matrix JSON with `errcode`, or a proxy's HTML page without it."""
        return Fault("error", status=status, errcode=errcode, after_synapse=after_synapse)

    @staticmethod
    def rate_limited(retry_after_ms: int) -> Fault:
        return Fault("error", status=429, errcode="M_LIMIT_EXCEEDED", retry_after_ms=retry_after_ms)

    @staticmethod
    def drop(*, after_synapse: bool = False) -> Fault:
        """The connection is closed with no answer."""
        return Fault("drop", after_synapse=after_synapse)

    @staticmethod
    def stall(seconds: float) -> Fault:
        """The request is held this long, then passed on."""
        return Fault("stall", seconds=seconds)


@dataclass
class Rule:
    method: str
    path: re.Pattern[str]
    fault: Fault
    times: int  # how many matching requests to break (then it passes them on)
    hits: int = 0
    seen: list[str] = field(default_factory=list)  # paths it broke

    def matches(self, method: str, path: str) -> bool:
        return self.hits < self.times and method == self.method and bool(self.path.search(path))


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.rules: list[Rule] = []
        self.requests: list[tuple[str, str]] = []  # (method, unquoted path) of every request
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self.url = ""

    async def start(self) -> str:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None), auto_decompress=False
        )
        app = web.Application(client_max_size=1024**3)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        site = web.TCPSite(self._runner, "127.0.0.1", port)
        await site.start()
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    def fail(self, method: str, path: str, fault: Fault, *, times: int = 1) -> Rule:
        """Break the next `times` requests with this method whose unquoted path matches the
        regular expression `path` (searched, not matched whole)."""
        rule = Rule(method, re.compile(path), fault, times)
        self.rules.append(rule)
        return rule

    def _rule_for(self, method: str, path: str) -> Rule | None:
        for rule in self.rules:
            if rule.matches(method, path):
                rule.hits += 1
                rule.seen.append(path)
                return rule
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = unquote(request.path)
        self.requests.append((request.method, path))
        body = await request.read()
        rule = self._rule_for(request.method, path)
        if rule is not None and rule.fault.kind == "stall":
            await asyncio.sleep(rule.fault.seconds)
        elif rule is not None and not rule.fault.after_synapse:
            return await self._fault(request, rule.fault)
        answer = await self._pass_on(request, body)
        if rule is not None and rule.fault.after_synapse:
            return await self._fault(request, rule.fault)
        return answer

    async def _pass_on(self, request: web.Request, body: bytes) -> web.Response:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=body,
            allow_redirects=False,
        ) as upstream:
            data = await upstream.read()
            back = {k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP}
            return web.Response(status=upstream.status, body=data, headers=back)

    @staticmethod
    async def _fault(request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "drop":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)  # never reaches the client: the line is cut
        if fault.errcode is None:
            return web.Response(
                status=fault.status,
                text="<html><body><h1>Bad Gateway</h1></body></html>",
                content_type="text/html",
            )
        payload: dict[str, object] = {"errcode": fault.errcode, "error": "injected by the test"}
        if fault.retry_after_ms is not None:
            payload["retry_after_ms"] = fault.retry_after_ms
        return web.Response(
            status=fault.status, text=json.dumps(payload), content_type="application/json"
        )
