"""The exposure diagram of a namespace's page: a Plotly Sankey from actors (by group) through
mechanisms (the rule that judges each path) to the namespace's volumes.

Built from the paths already redacted for the reader, and labelled from them only: a group's label
is fixed text (dashboard/path_groups.py), a mechanism is a rule's slug, and a volume is one of the
namespace's own PVCs, a PV of its data, an array object (cluster-level, shown by the redaction rule)
or the namespace itself.  Anything else a path names becomes "other data", never a name.
"""

from collections import Counter

from dashboard.path_groups import ACTOR_GROUPS, group_of
from exposure.rules import SEVERITIES
from inventory.refs import parse_ref

SEVERITY_COLOURS = {  # links, by the severity of the paths they carry (the page's severity styles)
    "critical": "rgba(198, 40, 40, 0.55)",
    "high": "rgba(239, 108, 0, 0.55)",
    "medium": "rgba(249, 168, 37, 0.55)",
    "low": "rgba(124, 179, 66, 0.5)",
    "info": "rgba(120, 144, 156, 0.4)",
}
COLUMN_COLOURS = ("#1d2b44", "#66707f", "#2f6db5")  # actors, mechanisms, volumes
OTHER_DATA = "other data"
MAX_VOLUMES = 30  # volume nodes drawn one by one; the rest share one node
ROW_HEIGHT = 26  # pixels per node of the tallest column
ARRAY_KINDS = {
    "ontap.Volume": "volume",
    "ontap.Qtree": "qtree",
    "ontap.Lun": "LUN",
    "ontap.NvmeNamespace": "NVMe namespace",
    "solidfire.Volume": "SolidFire volume",
}


def _parsed(ref: str) -> tuple[str, str, str, str] | None:
    """A data entry as a reference; None for a redacted one ("PersistentVolume of another tenant")."""
    if "/" not in ref:
        return None
    return parse_ref(ref)


def _plain(label: str) -> str:
    """A label as plain text: Plotly reads a few HTML-like tags in labels (<a href>, <b>); entities it
    shows as the characters they stand for."""
    return label.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def volumes_of(path: dict, namespace: str) -> list[str]:
    """The labels of what a path reaches in `namespace`'s data, most specific first: its PVCs; else
    PVs; else array objects; else the namespace as a whole."""
    claims, pvs, arrays, whole = [], [], [], False
    for ref in path.get("data") or []:
        parsed = _parsed(ref)
        if parsed is None:
            continue
        scope, kind, ref_namespace, name = parsed
        if scope:
            arrays.append(f"{scope} {ARRAY_KINDS.get(kind, kind)} {name}")
        elif kind == "PersistentVolumeClaim" and ref_namespace == namespace:
            claims.append(f"PVC {name}")
        elif kind == "PersistentVolume" and not ref_namespace:
            pvs.append(f"PV {name}")
        elif kind == "Namespace" and name == namespace:
            whole = True
    found = claims or pvs or arrays or ([f"all of {namespace}"] if whole else [OTHER_DATA])
    return list(dict.fromkeys(found))


def _drawn_volumes(reached: dict[int, list[str]]) -> tuple[set[str], str]:
    """The volumes drawn one by one (those most paths reach, up to MAX_VOLUMES) and the label of the
    node that stands for the rest: a namespace of a thousand PVCs still draws a readable chart."""
    counts = Counter(volume for volumes in reached.values() for volume in volumes)
    if len(counts) <= MAX_VOLUMES:
        return set(counts), ""
    kept = sorted(counts, key=lambda volume: (-counts[volume], volume))[: MAX_VOLUMES - 1]
    return set(kept), f"{len(counts) - len(kept)} more volumes"


def sankey(paths: list[dict], namespace: str, chart_id: str = "chart-exposure-sankey") -> dict | None:
    """The chart (see templates/dashboard/parts/chart.html) of the paths from outside the namespace's
    trust boundary, or None when there is none.  Link values count (path, volume) pairs."""
    outside = [p for p in paths if group_of(p).violation]
    if not outside:
        return None
    reached = {path_index: volumes_of(path, namespace) for path_index, path in enumerate(outside)}
    drawn, rest = _drawn_volumes(reached)
    # (column of the source, source label, target label, severity) -> (path, volume) pairs
    flows: dict[tuple[int, str, str, str], int] = {}
    group_counts: dict[str, int] = {}
    for path_index, path in enumerate(outside):
        group = group_of(path).label
        group_counts[group] = group_counts.get(group, 0) + 1
        mechanism = path.get("rule") or "unknown"
        severity = path.get("severity") if path.get("severity") in SEVERITY_COLOURS else "info"
        for volume in reached[path_index]:
            volume = volume if volume in drawn else rest
            for key in ((0, group, mechanism, severity), (1, mechanism, volume, severity)):
                flows[key] = flows.get(key, 0) + 1
    group_order = [g.label for g in ACTOR_GROUPS]
    ordered = (
        [label for label in group_order if label in group_counts],
        sorted({key[1] for key in flows if key[0] == 1}),
        sorted(
            {key[2] for key in flows if key[0] == 1}, key=lambda label: (label in (OTHER_DATA, rest), label)
        ),
    )
    index, position = {}, 0
    for column, column_labels in enumerate(ordered):
        for label in column_labels:
            index[(column, label)] = position
            position += 1
    worst_first = list(reversed(SEVERITIES))
    source, target, value, colour, severity_of = [], [], [], [], []
    for (column, from_label, to_label, severity), n in sorted(
        flows.items(), key=lambda item: (item[0][0], worst_first.index(item[0][3]), item[0][1:3])
    ):
        source.append(index[(column, from_label)])
        target.append(index[(column + 1, to_label)])
        value.append(n)
        colour.append(SEVERITY_COLOURS[severity])
        severity_of.append(severity)
    labels = [_plain(label) for column in ordered for label in column]
    node_colours = [COLUMN_COLOURS[c] for c in range(3) for _ in ordered[c]]
    tallest = max(len(column) for column in ordered)
    figure = {
        "data": [
            {
                "type": "sankey",
                "arrangement": "snap",
                "valueformat": "d",
                "node": {
                    "label": labels,
                    "color": node_colours,
                    "pad": 14,
                    "thickness": 16,
                    "hovertemplate": "%{label}: %{value} route(s)<extra></extra>",
                },
                "link": {
                    "source": source,
                    "target": target,
                    "value": value,
                    "color": colour,
                    "customdata": severity_of,
                    "hovertemplate": (
                        "%{source.label} → %{target.label}<br>%{value} route(s), %{customdata}<extra></extra>"
                    ),
                },
            }
        ],
        "layout": {
            "height": max(320, ROW_HEIGHT * tallest + 80),
            "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
            "font": {"size": 12},
        },
    }
    return {
        "id": chart_id,
        "title": "Who reaches its data from outside its trust boundary: actors → mechanisms → volumes",
        "figure": figure,
        "summary": _summary(outside, group_counts, len(ordered[1]), len(ordered[2])),
    }


def _summary(outside, group_counts, mechanisms: int, volumes: int) -> str:
    """The chart in words: what a printout, a screen reader or a browser without script shows."""
    groups = ", ".join(
        f"{group_counts[group.label]} from {group.phrase}"
        for group in ACTOR_GROUPS
        if group.label in group_counts
    )
    return (
        f"{len(outside)} path{'s' if len(outside) != 1 else ''} from outside its trust boundary ({groups}), "
        f"through {mechanisms} mechanism{'s' if mechanisms != 1 else ''} "
        f"to {volumes} volume{'s' if volumes != 1 else ''} or data set{'s' if volumes != 1 else ''}."
    )
