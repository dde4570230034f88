"""One module per area of the web app; each is a router of pages calling crm_core services."""
