"""The weekly digest's records: who gets it when, and what was sent (issue 12)."""
