"""Portail des partenariats bailleurs sociaux / associations."""

import os

# Piccolo finds its engine through this module; set before any table is imported.
os.environ.setdefault("PICCOLO_CONF", "portal.piccolo_conf")
