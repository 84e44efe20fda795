from enum import StrEnum


class AuditTag(StrEnum):
    """Every audit event type, `<source>:<subject>:<action>`."""

    LOGIN_SUCCEEDED = "auth:login:succeeded"
    LOGIN_FAILED = "auth:login:failed"
    LOGIN_LOCKED = "auth:login:locked"
    LOGIN_OIDC_SUCCEEDED = "auth:oidc:succeeded"
    LOGIN_OIDC_REFUSED = "auth:oidc:refused"
    LOGOUT = "auth:logout:done"
    PASSWORD_RESET_REQUESTED = "auth:password:reset_requested"
    PASSWORD_RESET_DONE = "auth:password:reset_done"
    ADMIN_CREATED = "platform:admin:created"
    CONSORTIUM_CREATED = "platform:consortium:created"
    ORGANISATION_ADDED = "tenants:organisation:added"
    INVITATION_SENT = "tenants:invitation:sent"
    INVITATION_ACCEPTED = "tenants:invitation:accepted"
    INVITATION_REVOKED = "tenants:invitation:revoked"
    MEMBER_ROLE_CHANGED = "tenants:member:role_changed"
    MEMBER_DEACTIVATED = "tenants:member:deactivated"
    MEMBER_REACTIVATED = "tenants:member:reactivated"
    DOCUMENT_UPLOADED = "documents:version:uploaded"
    DOCUMENT_DOWNLOADED = "documents:version:downloaded"
    DOCUMENT_DELETED = "documents:version:deleted"
    DOCUMENT_REVIEWED = "documents:item:reviewed"
