"""The actor services receive: read from the request once by the route, or the system's."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request

from portal.auth.service import CurrentUser
from portal.core.actor import MAX_USER_AGENT, SYSTEM, Actor
from portal.core.tenancy import TenantContext, TenantScope


def _request(
    state: dict[str, Any], client: tuple[str, int] | None = ("192.0.2.1", 4000)
) -> Request:
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "headers": [(b"user-agent", b"Mozilla/5.0 " + b"x" * 1000)],
        "client": client,
        "state": state,
    }
    return Request(scope)


def _context(organisation_id: uuid.UUID) -> TenantContext:
    return TenantContext(
        consortium_id=uuid.uuid4(),
        slug="alpha",
        name="Alpha",
        user_id=uuid.uuid4(),
        membership_id=uuid.uuid4(),
        organisation_id=organisation_id,
        role="pilot",
        may_sign=True,
    )


class TestOfRequest:
    def test_a_member_in_a_consortium_is_named_with_their_organisation(self) -> None:
        user = CurrentUser(uuid.uuid4(), "claire@exemple.fr", "Claire Martin", False)
        organisation = uuid.uuid4()
        actor = Actor.of_request(_request({"user": user, "tenant": _context(organisation)}))
        assert (actor.user_id, actor.email) == (user.id, "claire@exemple.fr")
        assert (actor.organisation_id, actor.ip) == (organisation, "192.0.2.1")
        assert actor.user_agent.startswith("Mozilla/5.0 ")
        assert len(actor.user_agent) == MAX_USER_AGENT

    def test_an_anonymous_visitor_outside_any_consortium_has_only_an_address(self) -> None:
        actor = Actor.of_request(_request({"user": None}))
        assert (actor.user_id, actor.email, actor.organisation_id) == (None, "", None)
        assert actor.ip == "192.0.2.1"

    def test_a_scope_without_a_member_gives_no_organisation(self) -> None:
        scope = TenantScope.for_platform(uuid.uuid4(), reason="a scope with no member in it")
        actor = Actor.of_request(_request({"tenant": scope}))
        assert actor.organisation_id is None

    def test_no_client_address_gives_an_empty_one(self) -> None:
        assert Actor.of_request(_request({}, client=None)).ip == ""


class TestSystem:
    def test_jobs_and_commands_act_without_an_address(self) -> None:
        assert (SYSTEM.user_id, SYSTEM.email, SYSTEM.ip, SYSTEM.user_agent) == (None, "", "", "")
        someone = uuid.uuid4()
        assert Actor.system(someone, "a@b.fr").user_id == someone

    def test_identified_keeps_the_address_and_browser(self) -> None:
        visitor = Actor.of_request(_request({"user": None}))
        someone = uuid.uuid4()
        named = visitor.identified(someone, "a@b.fr")
        assert (named.user_id, named.email, named.ip) == (someone, "a@b.fr", visitor.ip)
        assert named.user_agent == visitor.user_agent
