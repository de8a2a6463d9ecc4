"""Trust boundaries: which tenant each namespace belongs to, and which namespaces are platform.

Read only from Namespace objects, under the tenant label the admin declared (rules.md, "Trust
inputs").  A namespace without the label is its own tenant, named `namespace:<name>`: label values
cannot contain ":", so such a tenant never collides with a labelled one.
"""

from typing import TYPE_CHECKING

from inventory.constants import DEFAULT_PLATFORM_NAMESPACES, KUBERNETES_SYSTEM_NAMESPACES

if TYPE_CHECKING:  # the admin's decisions, built by the analysis (tenancy sits below it)
    from exposure.analysis.settings import AnalysisSettings

SOLO_PREFIX = "namespace:"


def namespace_labels(namespace_data) -> dict:
    """A Namespace's labels ({} when it is unknown or its labels are not a mapping)."""
    metadata = namespace_data.get("metadata") if isinstance(namespace_data, dict) else None
    labels = metadata.get("labels") if isinstance(metadata, dict) else None
    return labels if isinstance(labels, dict) else {}


def tenant_of_namespace(name: str, namespace_data, tenant_label: str) -> str:
    """The one definition of a namespace's tenant: the value of the admin's tenant label, else the
    namespace alone (`namespace:<name>`)."""
    value = namespace_labels(namespace_data).get(tenant_label) if tenant_label else None
    return value if isinstance(value, str) and value else SOLO_PREFIX + name


def tenant_label_text(tenant: str) -> str:
    """How a tenant reads on a page: `tenant acme` or `namespace sandbox-jdoe`."""
    if tenant.startswith(SOLO_PREFIX):
        return f"namespace {tenant.removeprefix(SOLO_PREFIX)}"
    return f"tenant {tenant}"


class Tenancy:
    def __init__(self, namespaces: dict[str, dict], settings: "AnalysisSettings", trident_namespace: str):
        self.namespaces = namespaces  # name -> kept Namespace data
        self.label = settings.tenant_label
        self.platform = frozenset(
            settings.platform_namespaces or (*DEFAULT_PLATFORM_NAMESPACES, trident_namespace)
        )
        self._tenants = {name: self._tenant_of(name) for name in namespaces}

    def _tenant_of(self, namespace: str) -> str:
        return tenant_of_namespace(namespace, self.namespaces.get(namespace), self.label)

    def tenant_of(self, namespace: str) -> str:
        """Also answers for namespaces that do not exist (a claimRef to a deleted one).  A namespace
        that is not text (a corrupted field) is a tenant of its own, unlike any real one."""
        if not isinstance(namespace, str):
            return f"{SOLO_PREFIX}<not text: {namespace!r:.80}>"
        return self._tenants.get(namespace) or SOLO_PREFIX + namespace

    def same_tenant(self, a: str, b: str) -> bool:
        return self.tenant_of(a) == self.tenant_of(b)

    def is_platform(self, namespace: str) -> bool:
        return isinstance(namespace, str) and namespace in self.platform

    def is_tenant_namespace(self, namespace: str) -> bool:
        """A namespace tenants' data and workloads live in (not platform, not Kubernetes' own)."""
        if not isinstance(namespace, str):
            return False  # a corrupted reference names no namespace at all
        return namespace not in self.platform and namespace not in KUBERNETES_SYSTEM_NAMESPACES

    def namespaces_of(self, tenant: str) -> list[str]:
        return sorted(name for name, t in self._tenants.items() if t == tenant)

    def label_values(self, namespace: str) -> dict:
        """The Namespace's labels ({} when it is unknown or its labels are not a mapping)."""
        return namespace_labels(self.namespaces.get(namespace) if isinstance(namespace, str) else None)
