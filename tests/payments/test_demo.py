"""`portal demo` gives a consortium with payments in every state, for both kinds."""

from __future__ import annotations


class TestDemo:
    async def test_every_state_is_shown(self) -> None:
        from portal import demo
        from portal.payments.tables import Line

        await demo.load()
        rows = await Line.select(Line.schedule.kind, Line.status)  # tenant-scope-ok: test
        found = {(r["schedule.kind"], r["status"]) for r in rows}
        assert {("subsidy", s) for s in ("planned", "due", "requested", "partial", "paid")} <= found
        assert {("repayment", s) for s in ("planned", "due", "partial", "paid")} <= found
        await demo.load()  # idempotent: nothing added the second time
        assert len(await Line.select(Line.id)) == len(rows)  # tenant-scope-ok: test
