"""What the array-side rules of Guideline 3 share: each access gate with the PVs behind it and the
parties it admits, and each Trident backend with its Kubernetes objects.

The join and ONTAP's evaluation are done already (arrays/join.py, export_policy.py, arrays/volume_access.py):
every PV's access record names its gates and its admitted parties, each with a verdict.  This
module only regroups those records, by gate (an export policy, a cloud backend's `exportRule`, an
igroup, an NVMe subsystem, a SolidFire access group), so that a rule reports one finding per gate
(or per export rule) listing every namespace behind it.  A party is matched to its gate by the
`via` text arrays/admission.py writes for it.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from arrays.backends import BackendInfo, backend_info
from exposure.analysis.paths import Actor, ExposurePath, Hop
from inventory.fields import as_list
from inventory.refs import OUTSIDE, array_ref, k8s_ref

# Verdicts of parties the node set cannot vouch for (a stale node is judged on its own, never here).
BEYOND_NODES = ("foreign", "wildcard", "unverifiable", "unparseable")
NODE = "node"  # a party that is a current node of the cluster
POLICY_GATES = ("export-policy", "cloud-rule")
INITIATOR_GATES = ("igroup", "nvme-subsystem", "access-group")
_GATE_RECORD_KIND = {
    "export-policy": "ontap.ExportPolicy",
    "igroup": "ontap.Igroup",
    "nvme-subsystem": "ontap.NvmeSubsystem",
}


@dataclass(frozen=True)
class Backend:
    info: BackendInfo
    ref: str  # the TridentBackend
    config_ref: str  # its TridentBackendConfig, "" when created by tridentctl

    @property
    def refs(self) -> list[str]:
        return [ref for ref in (self.config_ref, self.ref) if ref]


@dataclass(frozen=True)
class VolumeUse:
    """One PV and what its data is made of: its claim, itself, the array object behind it."""

    pv: str
    namespace: str  # of its claim; "" when unclaimed
    record: dict
    data: tuple[str, ...]  # references that name objects of the snapshot, outermost last

    @property
    def pv_ref(self) -> str:
        return k8s_ref("PersistentVolume", self.pv)


@dataclass
class GateUse:
    """One access-control object and every PV it guards."""

    kind: str  # export-policy | cloud-rule | igroup | nvme-subsystem | access-group
    name: str
    array: str  # "" for a cloud rule (no array is read)
    svm: str
    ref: str  # the gate's record (or, for a cloud rule, the TridentBackend whose config holds it)
    uses: list[VolumeUse] = field(default_factory=list)
    # rule index (export gates) or initiator (initiator gates) -> each PV's admitted party there, but
    # those admitted as a current node (verdict `node`): the rules judge only the others
    parties: dict[str, list[tuple[VolumeUse, dict]]] = field(default_factory=dict)

    @property
    def namespaces(self) -> list[str]:
        return sorted({use.namespace for use in self.uses if use.namespace})


def backends(ctx) -> dict[str, Backend]:
    """Trident backend name -> its info and references."""
    return ctx.memo("array_exposure.backends", lambda: _backends(ctx))


def _backends(ctx) -> dict[str, Backend]:
    configs = {}
    for (namespace, name), tbc in ctx.state.of_kind("TridentBackendConfig").items():
        status = tbc.get("status") if isinstance(tbc.get("status"), dict) else {}
        status_info = status.get("backendInfo") if isinstance(status.get("backendInfo"), dict) else {}
        metadata = tbc.get("metadata") if isinstance(tbc.get("metadata"), dict) else {}
        ref = k8s_ref("TridentBackendConfig", name, namespace)
        for key in (
            metadata.get("uid"),
            status_info.get("backendUUID"),
            status_info.get("backendName"),
        ):
            if isinstance(key, str) and key:
                configs.setdefault(key, ref)
    found = {}
    for (namespace, name), raw in ctx.state.of_kind("TridentBackend").items():
        if not isinstance(raw, dict):
            continue
        info = backend_info(raw)
        if not all(isinstance(v, str) for v in (info.name, info.uuid, info.driver)):
            continue  # odd input: a backend that names itself with something other than text
        config_ref = next(
            (
                configs[k]
                for k in (raw.get("configRef"), info.uuid, info.name)
                if isinstance(k, str) and k in configs
            ),
            "",
        )
        found[info.name] = Backend(info, k8s_ref("TridentBackend", name, namespace), config_ref)
    return found


def volume_uses(ctx) -> list[VolumeUse]:
    return ctx.memo("array_exposure.volume_uses", lambda: _volume_uses(ctx))


def _volume_uses(ctx) -> list[VolumeUse]:
    uses = []
    for pv_name, record in sorted(ctx.volume_access.items()):
        if not isinstance(record, dict):
            continue
        claimed = record.get("namespaces")
        namespace = (
            claimed[0] if isinstance(claimed, list) and claimed and isinstance(claimed[0], str) else ""
        )
        data = ctx.volume_data(pv_name, record)
        uses.append(VolumeUse(pv_name, namespace, record, tuple(data)))
    return uses


def uses_of_backend(ctx, backend: str) -> list[VolumeUse]:
    return [use for use in volume_uses(ctx) if use.record.get("backend") == backend]


def gates(ctx, kinds: Iterable[str]) -> list[GateUse]:
    """The gates of these kinds that guard some PV, each with its PVs and admitted parties."""
    wanted = set(kinds)
    return [gate for gate in ctx.memo("array_exposure.gates", lambda: _gates(ctx)) if gate.kind in wanted]


def _gates(ctx) -> list[GateUse]:
    by_key: dict[tuple, GateUse] = {}
    on_gate: dict[tuple, set[str]] = {}  # the PVs of each gate's `uses`
    known = backends(ctx)
    for use in volume_uses(ctx):
        record = use.record
        array = record.get("array") or ""
        svm = ((record.get("object") or {}).get("name") or "").split("/", 1)[0]
        for gate in record.get("gates") or []:
            if not isinstance(gate, dict) or gate.get("kind") not in (*POLICY_GATES, *INITIATOR_GATES):
                continue
            kind, name, where = gate["kind"], gate.get("name") or "", gate.get("where") or ""
            gate_array = array if kind != "cloud-rule" else ""
            if kind == "access-group":
                # SolidFire has no SVM (the object's name is `<volumeID>/<name>`) and a group's name
                # need not be unique: the group is known by its record, shared by all its volumes.
                ref = _gate_ref(ctx, kind, gate_array, "", name, record, known)
                gate_svm, key = "", (kind, where, ref)
            else:
                ref, gate_svm, key = "", svm, (kind, where, svm, name)
            if key not in by_key:
                ref = ref or _gate_ref(ctx, kind, gate_array, gate_svm, name, record, known)
                if not ref:
                    continue
                by_key[key] = GateUse(kind, name, gate_array, gate_svm, ref)
            entry = by_key[key]
            if use.pv not in on_gate.setdefault(key, set()):  # a PV's record may name a gate twice
                on_gate[key].add(use.pv)
                entry.uses.append(use)
            party_key = _party_keys(gate)
            for party in record.get("admitted") or []:
                if isinstance(party, dict) and party.get("verdict") == NODE:
                    continue  # the cluster's own node: one party per node and PV, and no rule's concern
                index = party_key(party)
                if index is not None:
                    entry.parties.setdefault(index, []).append((use, party))
    return sorted(by_key.values(), key=lambda g: (g.kind, g.array, g.svm, g.name))


def _gate_ref(ctx, kind, array, svm, name, record, known) -> str:
    if kind == "cloud-rule":
        backend = known.get(record.get("backend") or "")
        return backend.ref if backend else ""
    if kind == "access-group":
        volume_id = ((record.get("object") or {}).get("name") or "").split("/", 1)[0]
        records = ctx.state.arrays.get(array)
        for key, group in (records.all("solidfire.VolumeAccessGroup") if records else {}).items():
            volumes = group.get("volumes")
            # A group whose volume list cannot be read may hold this volume (the join says so too).
            holds = volume_id in [str(v) for v in volumes] if isinstance(volumes, list) else True
            if group.get("name") == name and holds:
                return array_ref(array, "solidfire.VolumeAccessGroup", key)
        return ""
    ref = array_ref(array, _GATE_RECORD_KIND[kind], f"{svm}/{name}")
    return ref if ctx.lookup(ref) is not None else ""


def _party_key(gate: dict, party: dict) -> str | None:
    """The rule index (export gates) or initiator (initiator gates) of a party this gate admits."""
    return _party_keys(gate)(party)


def _party_keys(gate: dict) -> Callable[[dict], str | None]:
    """`_party_key` for one gate, its `via` texts built once: a record lists a party per node."""
    where, name = gate.get("where") or "", gate.get("name") or ""
    if gate["kind"] in POLICY_GATES:
        prefix = f"{where} {gate.get('role') or ''} {name}, rule "

        def rule_index(party: dict) -> str | None:
            via = party.get("via") if isinstance(party, dict) else None
            if not isinstance(via, str):
                return None
            return via.removeprefix(prefix) if via.startswith(prefix) else None

        return rule_index
    own = f"{where} {gate['kind'].replace('-', ' ')} {name}"
    nested = own + " (through nested igroup "

    def initiator(party: dict) -> str | None:
        via = party.get("via") if isinstance(party, dict) else None
        if not isinstance(via, str):
            return None
        if via == own or via.startswith(nested):
            return str(party.get("party") or "")
        return None

    return initiator


def export_rule(ctx, gate: GateUse, index: str) -> dict:
    """The export rule's record as ONTAP answered it ({} for a cloud rule or when not found)."""
    if gate.kind != "export-policy":
        return {}
    policy = ctx.lookup(gate.ref) or {}
    return next(
        (r for r in as_list(policy.get("rules")) if isinstance(r, dict) and str(r.get("index")) == index), {}
    )


def rule_facts(rule: dict) -> dict:
    """An export rule's clients and flavors: what makes it the situation it is (odd values as answered)."""
    clients = rule.get("clients")
    return {
        "clients": [c.get("match") if isinstance(c, dict) else c for c in clients]
        if isinstance(clients, list)
        else clients,
        "protocols": rule.get("protocols"),
        "ro_rule": rule.get("ro_rule"),
        "rw_rule": rule.get("rw_rule"),
        "superuser": rule.get("superuser"),
        "anonymous_user": rule.get("anonymous_user"),
    }


def gate_label(gate: GateUse) -> str:
    if gate.kind == "cloud-rule":
        return f"the exportRule of {gate.ref.split('/')[0]} {gate.ref.rsplit('/', 1)[-1]}"
    where = f"{gate.svm} on {gate.array}" if gate.svm else gate.array
    return f"{gate.kind.replace('-', ' ')} {gate.name} ({where})"


def backend_refs_of(ctx, uses: Iterable[VolumeUse]) -> list[str]:
    known = backends(ctx)
    names = (use.record.get("backend") for use in uses)
    refs: list[str] = []
    for name in dict.fromkeys(name for name in names if isinstance(name, str)):  # each backend once
        backend = known.get(name)
        for ref in backend.refs if backend else ():
            if ref not in refs:
                refs.append(ref)
    return refs


def objects_of(ctx, uses: Iterable[VolumeUse], *extra: str) -> list[str]:
    """The backend configs first (what an admin changes), then each PV, its claim, and `extra`."""
    uses = list(uses)
    refs = backend_refs_of(ctx, uses)
    seen = set(refs)  # thousands of PVs on one policy: membership by set, not by scanning the list
    for use in uses:
        new = [ref for ref in use.data if ref not in seen and not ref.startswith("array:")]
        refs += new
        seen.update(new)
    refs += [ref for ref in extra if ref and ref not in seen]
    return refs


def access_level(label: str) -> str:
    """A party's access label (`root`, `write (as anonymous)`…) as a path's access level."""
    word = (label or "").split(" ", 1)[0]
    return word if word in ("read", "write", "root") else "metadata"


def outside_path(
    use: VolumeUse, who: str, hops: list[Hop], access: str, rule: str, severity: str, mitigations=()
) -> ExposurePath:
    """A host outside the cluster reaching one PV's data."""
    return ExposurePath(
        actor=Actor("outside-host", who, OUTSIDE),
        hops=hops,
        data=list(use.data),
        namespace=use.namespace,
        access=access,
        rule=rule,
        severity=severity,
        mitigations=list(mitigations),
    )


def traversal_mitigations(use: VolumeUse) -> list[str]:
    """The junction-path policies the evaluation already narrowed the parties by."""
    return [
        f"{g.get('role')} policy {g.get('name')} must also admit the client (considered)"
        for g in use.record.get("gates") or []
        if isinstance(g, dict) and g.get("kind") == "traversal-policy"
    ]


def export_rules_admitting(
    ctx, verdicts: Iterable[str]
) -> list[tuple[GateUse, str, list[tuple[VolumeUse, dict]]]]:
    """(gate, rule index, the PVs' parties of these verdicts) for every export rule (or cloud
    exportRule) that admits such a party to some PV."""
    verdicts = set(verdicts)
    found = []
    for gate in gates(ctx, POLICY_GATES):
        for index, parties in sorted(gate.parties.items()):
            chosen = [(use, party) for use, party in parties if party.get("verdict") in verdicts]
            if chosen:
                found.append((gate, index, chosen))
    return found


def party_texts(parties: Iterable[tuple[VolumeUse, dict]]) -> list[str]:
    return sorted({str(party.get("party")) for _, party in parties})


def verdict_lines(parties: Iterable[tuple[VolumeUse, dict]]) -> list[str]:
    """One line per distinct party: what it is and why (the verdict's own detail)."""
    lines = {}
    for _, party in parties:
        text = f"{party.get('party')}: {party.get('verdict')}"
        if party.get("detail"):
            text += f" ({party['detail']})"
        lines[text] = None
    return sorted(lines)


def rule_hop(gate: GateUse, index: str, clients: list[str]) -> Hop:
    if gate.kind == "cloud-rule":
        return Hop(gate.ref, f"config exportRule {', '.join(clients)}")
    return Hop(gate.ref, f"rule {index} clients {', '.join(clients)}")


def config_flag(config: dict, key: str) -> bool | None:
    """A boolean of Trident's backend config (Trident accepts "true"/"false" strings too)."""
    value = config.get(key) if isinstance(config, dict) else None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def backend_paths(
    use_list: list[VolumeUse], backend: Backend, who: str, via: str, access: str, rule: str, severity: str
) -> list[ExposurePath]:
    """One path per PV on the backend: a host outside the cluster through the backend's setting."""
    hop = Hop(backend.config_ref or backend.ref, via)
    return [outside_path(use, who, [hop], access, rule, severity) for use in use_list]
