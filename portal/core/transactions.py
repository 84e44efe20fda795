"""The end of a piccolo transaction, for the engines that keep their connections (`sqlite`,
`pg`): piccolo's own `__aexit__` closes or releases the connection; these give it back."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any


async def end(
    tx: Any, exception: BaseException | None, give_back: Callable[[], Awaitable[None]]
) -> bool:
    if tx._parent:
        return exception is None
    if exception:
        if not tx._rolled_back:  # unless rolled back by hand
            await tx.rollback()
    elif not tx._committed and not tx._rolled_back:
        await tx.commit()
    await give_back()
    tx.engine.current_transaction.reset(tx.context)
    return exception is None
