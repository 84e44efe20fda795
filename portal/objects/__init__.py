"""The ledger of stored objects: what the portal put in object storage, and whether a row
points at it yet (see `service`)."""
