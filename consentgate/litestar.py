"""Litestar: ``plugins=[ConsentPlugin(secret_key=...)]``, or Litestar's own middleware list with
the route of consentgate's paths.

Litestar runs the middleware of its ``middleware=[...]`` list around each route handler, once it
has matched a route. A path no handler matches is answered 404 by Litestar's router before any
such middleware runs, so ``/consentgate/consent``, ``/consentgate/preferences`` and
``/consentgate/static/…`` need a route of their own: :func:`consentgate_route` is that route
(``ConsentMiddleware`` answers those paths before the handler is reached; the handler answers 404
only where the middleware is missing). Litestar also builds the middleware once per route
handler: :class:`ConsentPlugin` builds one ``ConsentMiddleware`` (one policy, one consent log)
and shares it among them. Imported only by Litestar sites.
"""

from __future__ import annotations

import copy
from typing import Any

from litestar import HttpMethod, Response, route
from litestar.config.app import AppConfig
from litestar.handlers import HTTPRouteHandler
from litestar.plugins import InitPluginProtocol
from litestar.types import ASGIApp, Receive, Scope, Send

from .middleware import ConsentMiddleware

# (Litestar builds a route's middleware once per method: only those consentgate answers.)
_METHODS = [HttpMethod.GET, HttpMethod.HEAD, HttpMethod.POST]


def consentgate_route(prefix: str = "/consentgate") -> HTTPRouteHandler:
    """A route handler matching ``prefix`` and every path under it, so that Litestar hands
    those requests to its middleware, where ``ConsentMiddleware`` answers them."""

    @route(
        [prefix, prefix + "/{consentgate_path:path}"],
        http_method=_METHODS,
        include_in_schema=False,
        name="consentgate",
    )
    async def consentgate_paths() -> Response[bytes]:
        # Reached only when no ConsentMiddleware runs for this route: nothing to serve.
        return Response(b"Not Found", status_code=404, media_type="text/plain")

    return consentgate_paths


async def _unrouted(scope: Scope, receive: Receive, send: Send) -> None:
    raise RuntimeError("ConsentPlugin's middleware runs only around Litestar's route handlers")


class ConsentPlugin(InitPluginProtocol):
    """Adds ``ConsentMiddleware`` (built once, from these options, checked here) around every
    route handler, outside the app's other middleware, and the route of its own paths."""

    def __init__(self, **options: Any) -> None:
        self.middleware = ConsentMiddleware(_unrouted, **options)  # type: ignore[arg-type]

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(0, self.around)
        app_config.route_handlers.append(consentgate_route(self.middleware.prefix))
        return app_config

    def around(self, app: ASGIApp) -> ASGIApp:
        """The shared middleware in front of one route handler's ASGI app (Litestar calls
        this with ``app=``, once per handler)."""
        routed = copy.copy(self.middleware)  # (shares its policy, pages, log and gate)
        inner: Any = app
        if self.middleware.app is not _unrouted:
            # debug=True: the inventory's Observer sits in between; a copy of it for this
            # handler shares what was logged, so each thing is still logged once.
            inner = copy.copy(self.middleware.app)
            inner.app = app
        routed.app = inner
        return routed  # type: ignore[return-value]
