"""One exception for "a dependency does not answer": the database, object storage, the mail
server, the spool disk. Nothing is wrong with what the user sent and the action can be tried
again later, so pages answer 503 with the French `message`, and jobs are retried soon without
counting a failed attempt. `str(exc)` keeps the technical cause for the logs."""

from __future__ import annotations


class Unavailable(RuntimeError):
    service = "service"
    default_message = "Un service du portail est momentanément indisponible : réessayez plus tard."

    def __init__(self, detail: str = "", message: str | None = None) -> None:
        super().__init__(detail or self.default_message)
        self.message = message or self.default_message


class DatabaseUnavailable(Unavailable):
    service = "database"
    default_message = (
        "La base de données du portail ne répond pas : rien n'a été enregistré. "
        "Réessayez dans quelques instants."
    )
