"""The health code as pure functions: events, rules, holds, replay. No I/O here."""
