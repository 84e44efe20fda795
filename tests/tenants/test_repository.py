"""Repository functions never reach across consortia."""

from __future__ import annotations

import uuid

from portal.core.clock import now
from portal.tenants import repository
from tests.conftest import World


class TestCrossTenant:
    async def test_lists_only_hold_the_scope_s_rows(self, world: World) -> None:
        scope = world.tenant.scope
        emails = {m["email"] for m in await repository.members(scope)}
        assert world.other_tenant.pilot.email not in emails
        assert world.tenant.pilot.email in emails
        orgs = {o["id"] for o in await repository.organisations(scope)}
        assert orgs == {world.tenant.lessor_id, world.tenant.association_id}

    async def test_reads_and_writes_by_id_ignore_other_consortia(self, world: World) -> None:
        scope = world.tenant.scope
        foreign = world.other_tenant.pilot.membership_id
        assert foreign is not None
        assert await repository.member(scope, foreign) is None
        await repository.update_membership(scope, foreign, role="read_only", is_active=False)
        row = await repository.member(world.other_tenant.scope, foreign)
        assert row is not None and row["role"] == "pilot" and row["is_active"]
        assert await repository.organisation_in(scope, world.other_tenant.lessor_id) is None

    async def test_inserts_are_stamped_with_the_scope(self, world: World) -> None:
        scope = world.other_tenant.scope
        await repository.insert_invitation(
            scope,
            organisation_id=world.other_tenant.lessor_id,
            email="x@y.fr",
            role="read_only",
            may_sign=False,
            invitation_id=uuid.uuid4(),
            token_hash="a" * 64,
            invited_by=world.other_tenant.pilot.id,
            expires_at=now().replace(year=2099),
        )
        assert await repository.pending_invitations(world.tenant.scope, now()) == []
        assert len(await repository.pending_invitations(scope, now())) == 1
