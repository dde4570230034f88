"""Serving: the BentoML service, batch scoring, and write-back through crm_core."""
