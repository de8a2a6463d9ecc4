"""The REST API under /api/v1/: what the pages show, to tools, scoped and redacted the same way.

Views read through dashboard.queries and dashboard.filters (the readers the pages use), so the
reader's `Scope` (tenancy.access.scope_of) and tenancy/redaction.py decide what they answer.
"""
