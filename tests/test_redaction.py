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


TENANTS = {"alpha-web": "alpha", "beta": "beta", "beta-app": "beta", "sandbox": "namespace:sandbox"}


def test_source_text_names_only_what_the_reader_sees():
    from tenancy.redaction import source_text_scrubber

    scrub = source_text_scrubber(READER, TENANTS)
    x = "(a name of another tenant)"
    assert scrub("403: cannot list pods in namespace beta-app.") == f"403: cannot list pods in namespace {x}."
    assert scrub("tenant beta, namespaces beta and sandbox") == f"tenant {x}, namespaces {x} and {x}"
    assert scrub("KeyError: 'beta-app/db-0'") == "KeyError: 'an object of another tenant'"
    # The reader's own names stay, and a hidden name inside a longer word or a host name is not one.
    assert scrub("alpha-web (tenant alpha) on beta.example.com, betamax") == (
        "alpha-web (tenant alpha) on beta.example.com, betamax"
    )
    admin = Reader(Scope.everything(), 1)
    assert source_text_scrubber(admin, TENANTS)("namespace beta-app") == "namespace beta-app"
