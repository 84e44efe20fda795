"""Audit events cannot be changed or removed once written."""

from __future__ import annotations

import pytest

from portal.audit import repository
from portal.audit.tables import AuditEvent
from portal.core import db
from tests.conftest import ON_POSTGRES


class TestAppendOnly:
    def test_the_repository_offers_no_update_or_delete(self) -> None:
        public = {name for name in vars(repository) if not name.startswith("_")}
        assert not any(name.startswith(("update", "delete", "remove")) for name in public)

    @pytest.mark.postgres_only
    async def test_postgres_refuses_update_and_delete(self) -> None:
        assert ON_POSTGRES
        await repository.insert(
            tag="auth:login:failed",
            actor_id=None,
            actor_email="x@y.fr",
            consortium_id=None,
            subject="",
            ip="",
            details={},
        )
        with pytest.raises(Exception, match="append-only"):
            await AuditEvent.update({AuditEvent.subject: "changé"}, force=True)
        with pytest.raises(Exception, match="append-only"):
            await db.engine().run_ddl("DELETE FROM audit_event")
        assert await AuditEvent.count() == 1
