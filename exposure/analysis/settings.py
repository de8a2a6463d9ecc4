"""What an admin decided for one cluster that the rules must respect.

Everything here comes from the dashboard's own configuration (the Cluster row and its rule
settings), never from the cluster: trust is declared by the admin, not by tenants.
"""

from dataclasses import dataclass, field

from inventory.constants import DEFAULT_KUBELET_ROOT
from inventory.kept_fields import digest


@dataclass(frozen=True)
class AnalysisSettings:
    tenant_label: str = ""  # "" : each namespace is its own tenant
    owner_keys: tuple[str, ...] = ()
    owner_label_trust: str = "admin-only"  # tenancy/ownership.py: admin-only | always | off
    platform_namespaces: tuple[str, ...] = ()  # "" : kube-system and Trident's
    platform_service_accounts: tuple[str, ...] = ()  # "namespace/name"
    cluster_admins: tuple[str, ...] = ()  # "User:name", "Group:name", "ServiceAccount:ns:name"
    storage_drivers: tuple[str, ...] = ()  # inline CSI drivers that are storage, besides Trident's
    kubelet_root: str = DEFAULT_KUBELET_ROOT
    pod_security_default: str = "privileged"  # the API server's default enforce level
    storage_network_firewalled: bool = False  # attested: a firewall keeps pods off the storage network
    firewall_attestation: str = ""  # who attested, when, and what they said
    severity_overrides: dict[str, str] = field(default_factory=dict)  # slug -> severity
    disabled_rules: frozenset[str] = frozenset()

    @classmethod
    def for_cluster(cls, cluster) -> "AnalysisSettings":
        overrides, disabled = {}, set()
        for setting in cluster.rule_settings.all():
            if setting.severity:
                overrides[setting.rule] = setting.severity
            if not setting.enabled:
                disabled.add(setting.rule)
        return cls(
            tenant_label=cluster.tenant_label,
            owner_keys=tuple(cluster.owner_keys or ()),
            owner_label_trust=cluster.owner_label_trust,
            platform_namespaces=tuple(cluster.platform_namespaces or ()),
            platform_service_accounts=tuple(cluster.platform_service_accounts or ()),
            cluster_admins=tuple(cluster.cluster_admins or ()),
            storage_drivers=tuple(cluster.storage_drivers or ()),
            kubelet_root=cluster.kubelet_root or DEFAULT_KUBELET_ROOT,
            pod_security_default=cluster.pod_security_default or "privileged",
            storage_network_firewalled=cluster.storage_network_firewalled,
            firewall_attestation=cluster.firewall_attestation,
            severity_overrides=overrides,
            disabled_rules=frozenset(disabled),
        )

    def digest(self) -> str:
        """Changes when any decision changes: the next snapshot must then be analysed anew."""
        return digest({**self.__dict__, "disabled_rules": sorted(self.disabled_rules)})
