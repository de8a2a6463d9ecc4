"""Redaction of one finding for a reader who sees only some namespaces (tenancy/redaction.py)."""

from tenancy.redaction import Reader, redact_finding
from tenancy.scope import Scope

READER = Reader(Scope(namespaces={1: frozenset({"alpha-web"})}), 1, frozenset({"alpha"}))


def finding(refs):
    return {
        "rule": "storage-network-reachable",
        "namespaces": ["alpha-web"],
        "refs": refs,
        "paths": [],
        "title": "pods of beta-app reach the LIF serving alpha-web",
        "detail": "beta-app",
        "evidence": {"namespace": "beta-app"},
    }


def test_a_finding_naming_another_tenants_namespace_object_is_redacted():
    """`Namespace/beta-app` is cluster-scoped: its name, not a namespace part, is whose it is."""
    shown = redact_finding(finding(["Namespace/beta-app", "Node/worker-1"]), READER)
    assert shown.get("redacted") and "beta-app" not in repr(shown)


def test_a_finding_about_the_readers_own_objects_keeps_its_text():
    shown = redact_finding(finding(["Namespace/alpha-web", "Node/worker-1"]), READER)
    assert not shown.get("redacted") and shown["title"].startswith("pods of beta-app")
