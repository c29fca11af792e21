"""The service layer: the pure health code applied to what is stored in PostgreSQL."""
