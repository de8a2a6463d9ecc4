"""The settings page's reader (admins only): what the rules are told to trust and whom they treat as
platform, per cluster, with where each is set (the admin, the demo, or the environment).

Read-only: every value here is changed where the page says it is set.  Tenants never reach this
reader (the view answers 404), and `Cluster.restrict` / `RuleSetting.restrict` keep it to the scope
it is given all the same.
"""

import os
from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from exposure.models import RuleSetting
from exposure.rules import RULES
from inventory.models import Cluster
from tenancy.scope import Scope

# The Cluster fields the rules read (exposure/analysis/settings.py), grouped as rules.md explains them.
SECTIONS = (
    (
        "Trust inputs (read from Namespace objects only, under these keys)",
        ("tenant_label", "owner_keys", "owner_label_trust"),
    ),
    (
        "Platform and identities",
        (
            "platform_namespaces",
            "platform_service_accounts",
            "cluster_admins",
            "identity_mapping",
            "storage_drivers",
            "kubelet_root",
            "pod_security_default",
        ),
    ),
    ("Attestations", ("storage_network_firewalled", "firewall_attestation")),
)
# Settings from the environment (dashboard/settings.py) that decide what is read and trusted.
ENVIRONMENT = (
    ("DEMO_ENABLED", "serve the built-in simulated cluster while no real cluster is registered"),
    ("ARRAY_CREDENTIAL_ENV_PREFIXES", "the only environment prefixes an array's env: credentials may name"),
    ("ARRAY_CREDENTIALS_DIR", "the only folder an array's file: credentials may point into"),
    ("DUMP_MAX_FILE_BYTES", "the largest file an offline dump may hold"),
)


# What a field means where its model gives no help text.
EXPLAINED = {
    "owner_keys": "Label or annotation keys on Namespace objects whose values name the namespace's owners.",
    "kubelet_root": "The kubelet's directory on the nodes: a hostPath at, above or inside it is critical.",
}


@dataclass(frozen=True)
class Setting:
    label: str
    value: str
    default: bool  # the value is the default, not a decision
    help: str
    where: str
    link: str = ""


def _shown(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(str(item) for item in value)
    if isinstance(value, dict):
        return "; ".join(f"{key}: {_shown(item)}" for key, item in sorted(value.items()))
    return str(value)


def _effective(cluster: Cluster, name: str) -> tuple[str, bool]:
    """What the rules use for the field, and whether that is the default (no decision made)."""
    value = getattr(cluster, name)
    field = Cluster._meta.get_field(name)
    if name == "platform_namespaces" and not value:
        return f"{_shown(cluster.effective_platform_namespaces())} (kube-system and Trident's)", True
    if name == "tenant_label" and not value:
        return "none: each namespace is its own tenant", True
    if field.choices:
        label = str(dict(field.choices).get(value, ""))
        shown = value if label in ("", value) else f"{value}: {label}"
    else:
        shown = _shown(value) if value not in ("", [], {}, None) else "(none)"
    default = field.get_default()
    return shown, value == default


def cluster_settings(scope: Scope) -> list[dict]:
    """Per cluster the reader may see: each section's settings, and its rule settings."""
    clusters = list(Cluster.objects.restrict(scope).order_by("name"))
    decided: dict[int, list[RuleSetting]] = {}
    for setting in RuleSetting.objects.restrict(scope).filter(cluster__in=clusters).order_by("rule"):
        decided.setdefault(setting.cluster_id, []).append(setting)
    shown = []
    for cluster in clusters:
        link = reverse("admin:inventory_cluster_change", args=[cluster.pk])
        where = (
            "the built-in demo (set on each start)"
            if cluster.source == Cluster.Source.DEMO
            else f"the admin: Clusters › {cluster.name}"
        )
        sections = []
        for title, names in SECTIONS:
            rows = []
            for name in names:
                field = Cluster._meta.get_field(name)
                value, default = _effective(cluster, name)
                rows.append(
                    Setting(
                        str(field.verbose_name).capitalize(),
                        value,
                        default,
                        str(field.help_text) or EXPLAINED.get(name, ""),
                        where,
                        link,
                    )
                )
            sections.append((title, rows))
        rules = [
            {
                "rule": s.rule,
                "known": s.rule in RULES,
                "default": RULES[s.rule].severity if s.rule in RULES else "",
                "severity": s.severity,
                "enabled": s.enabled,
            }
            for s in decided.get(cluster.pk, [])
        ]
        shown.append({"cluster": cluster, "sections": sections, "rules": rules, "where": where, "link": link})
    return shown


def environment_settings() -> list[Setting]:
    """The environment's settings, as this process read them."""
    rows = []
    for name, help_text in ENVIRONMENT:
        from_env = name in os.environ
        rows.append(
            Setting(
                name,
                _shown(getattr(settings, name)),
                not from_env,
                help_text,
                f"the environment ({name})" if from_env else f"the default (set {name} to change it)",
            )
        )
    return rows
