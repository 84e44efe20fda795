"""Job contracts: a name and a payload of ids. Domains declare theirs in `<domain>/jobs.py`;
`workers/` registers a handler for each name."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Handler = Callable[[dict[str, Any]], Awaitable[None]]


class UnknownJob(LookupError):
    pass
