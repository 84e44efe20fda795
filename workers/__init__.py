"""Background work: job handlers (one thin module per domain), the arq worker settings, and the
in-process runner used on the embedded default. Imports `portal`, never the reverse."""
