"""Job name → handler: the single table every runner uses (arq worker or in-process)."""

from portal.auth import jobs as auth_jobs
from portal.jobs.registry import Handler
from portal.notifications import jobs as notification_jobs
from portal.payments import jobs as payment_jobs
from portal.signing import jobs as signing_jobs
from portal.tenants import jobs as tenant_jobs
from workers import auth, notifications, payments, signing, tenants

HANDLERS: dict[str, Handler] = {
    auth_jobs.SEND_PASSWORD_RESET: auth.send_password_reset,
    tenant_jobs.SEND_INVITATION: tenants.send_invitation,
    notification_jobs.SEND_EMAIL: notifications.send_email,
    notification_jobs.SEND_DIGEST: notifications.send_digest,
    signing_jobs.SEND_MAIL: signing.send_mail,
    signing_jobs.APPLY: signing.apply_signatures,
    payment_jobs.EXPORT: payments.export,
}
