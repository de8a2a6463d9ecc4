"""API views, one module per area.  Each reads through the caller's scope (tenancy.access.scope_of)
and the readers of dashboard/queries.py and dashboard/filters.py, never a queryset of its own."""
