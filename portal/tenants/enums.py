from enum import StrEnum


class Programme(StrEnum):
    AVDL = "avdl"
    FNAVDL = "fnavdl"
    HLM_ACCOMPAGNES = "hlm_accompagnes"
    OTHER = "other"


class ConsortiumStatus(StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    ARCHIVED = "archived"


class OrganisationKind(StrEnum):
    """Not exclusive: an association may also be a landlord, a SIAO is run by an association."""

    LESSOR = "lessor"
    ASSOCIATION = "association"
    STATE_SERVICE = "state_service"
    FUNDER = "funder"  # CGLLS or another funder
    LOCAL_AUTHORITY = "local_authority"  # collectivité
    SIAO = "siao"
