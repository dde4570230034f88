"""Public shapes of CRM records: `XCreate` / `XUpdate` forbid unknown fields, `XPublic` is output."""
