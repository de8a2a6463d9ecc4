"""Pages, one module per area.  Every read goes through the reader's scope (tenancy.access.scope_of)
and dashboard.queries, which restricts and redacts by it."""
