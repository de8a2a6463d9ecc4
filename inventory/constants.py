"""Constants several layers share, defined once: a leaf module (it imports nothing of the project).

Severities are what rules say and what findings, grades and settings store; the drivers and
defaults are Trident's and the kubelet's, read by the sources, the join, the analysis and the
simulator alike.
"""

SEVERITIES = ("info", "low", "medium", "high", "critical")  # least to most severe
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
SEVERITY_CHOICES = [(s, s) for s in SEVERITIES]

# Where the kubelet keeps pod volumes unless the admin says otherwise; Trident's usual namespace.
DEFAULT_KUBELET_ROOT = "/var/lib/kubelet"
DEFAULT_TRIDENT_NAMESPACE = "trident"
# Platform namespaces unless the admin lists them (Trident's is added, as found); Kubernetes' own
# bookkeeping namespaces, where nobody runs workloads: nobody's tenant.
DEFAULT_PLATFORM_NAMESPACES = ("kube-system",)
KUBERNETES_SYSTEM_NAMESPACES = frozenset({"kube-public", "kube-node-lease"})

# Trident's CSI driver name, on PVs, inline volumes and StorageClasses.
TRIDENT_CSI_DRIVER = "csi.trident.netapp.io"

# The array records that hold a volume's data: what the join resolves a PV or an inline volume to
# (arrays/join.py).  Their names are data's names: redaction names them only to their users.
ARRAY_DATA_KINDS = frozenset(
    {"ontap.Volume", "ontap.Qtree", "ontap.Lun", "ontap.NvmeNamespace", "solidfire.Volume"}
)

# The array families the product reads (Array.kind, a backend's family, an endpoint's kind).
ONTAP = "ontap"
SOLIDFIRE = "solidfire"

# Trident backend drivers, by what the product reads behind them.
CLOUD_DRIVERS = frozenset(
    {
        "azure-netapp-files",
        "google-cloud-netapp-volumes",
        "google-cloud-netapp-volumes-san",
        "gcp-cvs",
    }
)
NAS_DRIVERS = frozenset({"ontap-nas", "ontap-nas-economy", "ontap-nas-flexgroup"})
ONTAP_SAN_DRIVERS = frozenset({"ontap-san", "ontap-san-economy"})
SOLIDFIRE_SAN_DRIVER = "solidfire-san"

# A snapshot's change set (what it wrote versions of) names Kubernetes kinds, and these two: any
# array's records, and the access records derived from the inventory.  The analysis re-runs only
# the rules whose inputs are in it (exposure/analyse.py).
ARRAY_RECORDS = "array records"
ACCESS_RECORDS = "access records"
