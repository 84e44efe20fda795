"""Households followed under a convention: a pseudonymous register, their pathway, occupancy,
consents, diagnostic, alerts between partners, and the log of every read of their data."""
