"""Checking charts: reading YAML, validating against the schema, lint rules and their reports."""
