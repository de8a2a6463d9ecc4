"""Checks every analysis must pass: each violation explained by a path, each reference real."""


def unexplained(evaluation) -> list[str]:
    return [
        f"{slug}: {hit.title}"
        for slug, hits in evaluation.hits.items()
        for hit in hits
        if hit.violation and not hit.paths
    ]


def dangling_refs(context, evaluation) -> list[str]:
    """References (objects, hops, data) that name no object of the snapshot."""
    missing = []
    for slug, hits in evaluation.hits.items():
        for hit in hits:
            refs = set(hit.objects) | {ref for path in hit.paths for ref in path.refs()}
            missing += [f"{slug}: {ref}" for ref in sorted(refs) if context.lookup(ref) is None]
    return missing
