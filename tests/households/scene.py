"""Three households with everything that may leak: a household followed by the association and
housed by the tenant's bailleur (its private diagnostic, its housing synthesis sent under a
live consent, an alert from the bailleur), one housed by another bailleur, and one followed by
another association. What each role may see of them is asserted by the walks."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from portal.documents.service import ReceivedFile
from portal.households.demo import blank_scan, spooled
from tests.households.conftest import ORIENTED, Home, orient, signed_convention

PRIVATE = "Suivi addictologie au CSAPA de Villeurbanne"
SYNTHESIS = "Rechercher un T2 accessible, loyer résiduel supportable"
ALERT_NOTE = "Loyer de septembre et octobre impayé"
FOLLOWED = "Dubreuil"  # followed by the association, housed by the tenant's bailleur
ELSEWHERE = "Kowalczyk"  # followed by the association, housed by the other bailleur
OTHER_ASSOCIATION = "Nguyen-Thibault"  # followed by the second association
NAMES = (FOLLOWED, ELSEWHERE, OTHER_ASSOCIATION)


def scan() -> ReceivedFile:
    """A signed authorisation, as an upload leaves it in the spool."""
    return spooled(blank_scan())


@dataclass
class Scene:
    followed: uuid.UUID
    elsewhere: uuid.UUID
    other_association: uuid.UUID
    consent: uuid.UUID
    alert: uuid.UUID


async def consent_for(home: Home, household: uuid.UUID, **values: object) -> uuid.UUID:
    from portal.households import access, consents

    opened = await access.open_household(home.ctx("worker"), household)
    assert opened is not None
    evidence = scan() if values.get("state", "given") == "given" else None
    return await consents.record(
        opened,
        {
            "purpose": "Transmettre la synthèse logement au bailleur",
            "sections": ["synthesis"],
            "recipients": [home.lessor_id],
            "siao_copied": False,
            "state": "given",
            "collected_on": ORIENTED,
            "expires_on": None,
            **values,
        },
        evidence,
    )


async def build(home: Home) -> Scene:
    from portal.households import access, alerts, consents, diagnostic, register

    followed = await orient(home, FOLLOWED)
    elsewhere = await orient(home, ELSEWHERE, lessor=home.other_lessor_id)
    convention2 = await signed_convention(
        home.world.tenant.scope,
        [(home.lessor_id, "lessor"), (home.association2_id, "association")],
        reference="AVDL-2026-02",
    )
    other = await register.orient(
        home.ctx("worker2"),
        {
            "convention": convention2,
            "lessor": None,
            "source": "association",
            "oriented_on": ORIENTED,
            "motive": "Orientation par l'accueil de jour",
            "last_name": OTHER_ASSOCIATION,
            "first_name": "Linh",
            "adults": 1,
            "children": 0,
        },
    )
    opened = await access.open_household(home.ctx("worker"), followed)
    assert opened is not None
    await diagnostic.save_section(opened, "health", PRIVATE)
    await diagnostic.save_section(opened, "synthesis", SYNTHESIS)
    consent = await consent_for(home, followed)
    await consents.transmit(opened, consent)
    as_lessor = await access.open_household(home.ctx("gla"), followed)
    assert as_lessor is not None
    alert = await alerts.raise_alert(
        as_lessor, {"kind": "unpaid_rent", "raised_on": ORIENTED, "note": ALERT_NOTE}
    )
    return Scene(followed, elsewhere, other, consent, alert)


def day(offset: int) -> dt.date:
    return ORIENTED + dt.timedelta(days=offset)
