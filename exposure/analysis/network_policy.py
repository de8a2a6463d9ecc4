"""Kubernetes NetworkPolicy egress semantics: may this pod send to that outside address and port?

Real semantics (networking.k8s.io/v1), not name matching:
- a pod is egress-isolated only if some policy of its namespace selects it (`podSelector`, on the
  pod's labels; `{}` selects every pod) and has `Egress` in `policyTypes`; when `policyTypes` is
  absent or empty the API defaults it to `Ingress`, plus `Egress` when `egress` has rules;
- an isolated pod may send only what some egress rule of some selecting policy allows (the union);
- a rule with no (or empty) `to` allows every destination; an `ipBlock` peer allows its `cidr`
  minus its `except`; `podSelector`/`namespaceSelector` peers select pods of the cluster and so
  never an address outside it;
- a rule with no (or empty) `ports` allows every port; a port entry has a protocol (default TCP),
  a numeric port (absent: every port of that protocol) and an optional `endPort` range; a named
  port resolves against the destination pod's container ports, so it never matches an outside
  address.

Odd input never raises.  A malformed selector selects nothing and a malformed peer or port allows
nothing: the evaluator then errs towards "reachable", so a broken policy is reported rather than
trusted.
"""

from dataclasses import dataclass, field
from ipaddress import ip_address, ip_network

from inventory.refs import k8s_ref

EGRESS, INGRESS = "Egress", "Ingress"
DEFAULT_PROTOCOL = "TCP"
_SELECTOR_OPERATORS = frozenset({"In", "NotIn", "Exists", "DoesNotExist"})


def selector_matches(selector, labels: dict) -> bool:
    """A LabelSelector against labels; `{}` (or null) selects everything, a malformed one nothing."""
    if selector is None:
        return True
    if not isinstance(selector, dict):
        return False
    labels = labels if isinstance(labels, dict) else {}
    match_labels = selector.get("matchLabels") or {}
    expressions = selector.get("matchExpressions") or []
    if not isinstance(match_labels, dict) or not isinstance(expressions, list):
        return False
    for key, value in match_labels.items():
        if not isinstance(value, str) or labels.get(key) != value:
            return False
    return all(_expression_matches(expression, labels) for expression in expressions)


def _expression_matches(expression, labels: dict) -> bool:
    if not isinstance(expression, dict):
        return False
    key, operator, values = expression.get("key"), expression.get("operator"), expression.get("values")
    if not isinstance(key, str) or operator not in _SELECTOR_OPERATORS:
        return False
    if operator in ("In", "NotIn"):
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            return False
        if operator == "In":
            return key in labels and labels[key] in values
        return key not in labels or labels[key] not in values  # NotIn also matches an absent key
    return (key in labels) == (operator == "Exists")


@dataclass(frozen=True)
class PortSpec:
    protocol: str
    first: int | None  # None: every port of the protocol
    last: int | None
    named: str = ""  # a named port: resolved only against pods, never an outside address
    malformed: bool = False

    def allows(self, port: int, protocol: str) -> bool:
        if self.malformed or self.named or protocol != self.protocol:
            return False
        return self.first is None or self.first <= port <= self.last

    def text(self) -> str:
        if self.malformed:
            return "(malformed port)"
        if self.named:
            return f"{self.named} (named)/{self.protocol}"
        if self.first is None:
            return f"any/{self.protocol}"
        span = str(self.first) if self.first == self.last else f"{self.first}-{self.last}"
        return f"{span}/{self.protocol}"


def _port_spec(entry) -> PortSpec:
    if not isinstance(entry, dict):
        return PortSpec("", None, None, malformed=True)
    protocol = entry.get("protocol", DEFAULT_PROTOCOL)
    port, end = entry.get("port"), entry.get("endPort")
    if not isinstance(protocol, str):
        return PortSpec("", None, None, malformed=True)
    if isinstance(port, str):
        return PortSpec(protocol, None, None, named=port, malformed=end is not None)
    if port is None:
        return PortSpec(protocol, None, None, malformed=end is not None)
    if not _is_int(port) or (end is not None and (not _is_int(end) or end < port)):
        return PortSpec(protocol, None, None, malformed=True)
    return PortSpec(protocol, port, port if end is None else end)


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Peer:
    networks: tuple = ()  # ipBlock.cidr (one network), empty for a pod/namespace selector peer
    excepted: tuple = ()
    in_cluster: bool = False  # a podSelector/namespaceSelector peer: pods, never outside addresses
    malformed: bool = False

    def allows(self, address) -> bool:
        if self.malformed or self.in_cluster:
            return False
        return any(_contains(n, address) for n in self.networks) and not any(
            _contains(n, address) for n in self.excepted
        )

    def text(self) -> str:
        if self.malformed:
            return "(malformed peer)"
        if self.in_cluster:
            return "pods selected by pod/namespace selector"
        cidr = ", ".join(map(str, self.networks))
        return f"{cidr} except {', '.join(map(str, self.excepted))}" if self.excepted else cidr


def _contains(network, address) -> bool:
    return network.version == address.version and address in network


def _peer(entry) -> Peer:
    if not isinstance(entry, dict):
        return Peer(malformed=True)
    block = entry.get("ipBlock")
    if block is None:
        selectors = ("podSelector", "namespaceSelector")
        return Peer(in_cluster=True) if any(k in entry for k in selectors) else Peer(malformed=True)
    if not isinstance(block, dict) or any(k in entry for k in ("podSelector", "namespaceSelector")):
        return Peer(malformed=True)
    cidr, excepts = block.get("cidr"), block.get("except") or []
    if (
        not isinstance(cidr, str)
        or not isinstance(excepts, list)
        or not all(isinstance(e, str) for e in excepts)
    ):
        return Peer(malformed=True)  # ip_network would read a number (or True) as an address
    try:
        network = ip_network(cidr, strict=False)
        excepted = tuple(ip_network(e, strict=False) for e in excepts)
    except (TypeError, ValueError):
        return Peer(malformed=True)
    return Peer((network,), excepted)


@dataclass(frozen=True)
class EgressRule:
    index: int  # 1-based, as a person counts the policy's rules
    peers: tuple[Peer, ...] | None  # None: every destination
    ports: tuple[PortSpec, ...] | None  # None: every port
    malformed: bool = False

    def allows(self, address, port: int, protocol: str) -> bool:
        if self.malformed:
            return False
        if self.peers is not None and not any(p.allows(address) for p in self.peers):
            return False
        return self.ports is None or any(p.allows(port, protocol) for p in self.ports)

    def text(self) -> str:
        to = "everywhere" if self.peers is None else "; ".join(p.text() for p in self.peers)
        ports = "all ports" if self.ports is None else ", ".join(p.text() for p in self.ports)
        return f"egress rule {self.index}: to {to}, {ports}"


def _egress_rule(index: int, entry) -> EgressRule:
    if not isinstance(entry, dict):
        return EgressRule(index, None, None, malformed=True)
    to, ports = entry.get("to"), entry.get("ports")
    if (to is not None and not isinstance(to, list)) or (ports is not None and not isinstance(ports, list)):
        return EgressRule(index, None, None, malformed=True)
    return EgressRule(
        index,
        tuple(_peer(p) for p in to) if to else None,
        tuple(_port_spec(p) for p in ports) if ports else None,
    )


@dataclass(frozen=True)
class Policy:
    namespace: str
    name: str
    selector: object  # the podSelector as written
    types: tuple[str, ...]  # policyTypes, defaulted as the API server does
    egress: tuple[EgressRule, ...] = field(default=())

    @property
    def ref(self) -> str:
        return k8s_ref("NetworkPolicy", self.name, self.namespace)

    @property
    def isolates_egress(self) -> bool:
        return EGRESS in self.types

    def selects(self, labels: dict) -> bool:
        return selector_matches(self.selector, labels)

    def allowing_rules(self, address, port: int, protocol: str) -> list[EgressRule]:
        return [rule for rule in self.egress if rule.allows(address, port, protocol)]


def parse_policy(namespace: str, name: str, data) -> Policy:
    """A stored NetworkPolicy; a malformed spec selects no pod (so it isolates nothing)."""
    spec = (data.get("spec") if isinstance(data, dict) else None) or {}
    if not isinstance(spec, dict):
        return Policy(namespace, name, False, ())
    selector = spec.get("podSelector")
    egress = spec.get("egress")
    egress = egress if isinstance(egress, list) else []
    types = spec.get("policyTypes")
    if not types:  # the API server's defaulting (pkg/apis/networking/v1/defaults.go)
        types = [INGRESS, EGRESS] if egress else [INGRESS]
    if not isinstance(types, list):
        return Policy(namespace, name, False, ())
    return Policy(
        namespace,
        name,
        selector if selector is not None else {},  # a required field: an absent one decodes to {}
        tuple(t for t in types if isinstance(t, str)),
        tuple(_egress_rule(i, rule) for i, rule in enumerate(egress, 1)),
    )


def policies_by_namespace(objects: dict) -> dict[str, list[Policy]]:
    """`{(namespace, name): NetworkPolicy}` -> namespace -> its policies, sorted by name."""
    by_namespace: dict[str, list[Policy]] = {}
    for (namespace, name), data in sorted(objects.items()):
        by_namespace.setdefault(namespace, []).append(parse_policy(namespace, name, data))
    return by_namespace


@dataclass
class EgressVerdict:
    """What the policies of a pod's namespace say about one destination address and port."""

    selecting: list[Policy]  # every policy that selects the pod
    isolating: list[Policy]  # those with Egress in policyTypes
    allowed_by: list[tuple[Policy, EgressRule]]  # the rules that allow it (when isolated)

    @property
    def isolated(self) -> bool:
        return bool(self.isolating)

    @property
    def allowed(self) -> bool:
        return not self.isolated or bool(self.allowed_by)


def as_address(value):
    """An IP address, or None for a hostname or anything else that is not one."""
    try:
        return ip_address(value.strip()) if isinstance(value, str) else None
    except ValueError:
        return None


class EgressEvaluator:
    """Answers "may a pod with these labels in this namespace send to address:port/protocol"."""

    def __init__(self, policies: dict[str, list[Policy]]):
        self.policies = policies

    def selecting(self, namespace: str, labels: dict) -> list[Policy]:
        return [p for p in self.policies.get(namespace, []) if p.selects(labels)]

    def verdict(self, namespace: str, labels: dict, address, port: int, protocol: str) -> EgressVerdict:
        address = as_address(address) if isinstance(address, str) else address
        selecting = self.selecting(namespace, labels)
        isolating = [p for p in selecting if p.isolates_egress]
        allowed_by = []
        if address is not None:
            allowed_by = [(p, r) for p in isolating for r in p.allowing_rules(address, port, protocol)]
        return EgressVerdict(selecting, isolating, allowed_by)
