"""The appeal workflow: its machine and rules. No I/O here."""
