"""What a handler gets: the services, the matched route, and two helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from aiohttp import web

from ..errors import DistributionError
from .auth import Access, Authenticator
from .routes import Route
from .storage import Registry
from .uploads import Uploads

T = TypeVar("T")


@dataclass(frozen=True)
class Context:
    registry: Registry
    uploads: Uploads
    auth: Authenticator
    route: Route

    async def thread(self, fn: Callable[..., T], *args: object) -> T:
        """Run a blocking service call (one that writes or waits for the lock)."""
        return await asyncio.to_thread(fn, *args)

    async def may_pull(self, request: web.Request, repo: str) -> bool:
        """Whether this request's credentials may read ``repo`` (for a mount's source)."""
        try:
            self.auth.authorize(request.headers.get("Authorization"),
                                [Access("repository", repo, ("pull",))], "")
        except DistributionError:
            return False
        return True
