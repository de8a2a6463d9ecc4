"""Issue 13's targets, each judged against the figure measured (met, missed, or not measured), and
the summary the bench prints last."""

KIB = 1024


def _target(name: str, figure, limit: str, met) -> dict:
    return {"target": name, "figure": figure, "limit": limit, "met": met}


def _ratio(results: dict, step: str):
    return ((results.get("snapshots") or {}).get(step) or {}).get("ratio_to_floor")


def judge(results: dict) -> list[dict]:
    snapshots = results.get("snapshots") or {}
    targets = []
    for step, limit in (("first", 3.0), ("churn", 2.0), ("unchanged", 1.5)):
        ratio = _ratio(results, step)
        targets.append(
            _target(
                f"{step} snapshot × floor", ratio, f"<= {limit}", None if ratio is None else ratio <= limit
            )
        )
        # The same in CPU time (the worker's against the floor client's), beside the target: what
        # waiting for a core on a loaded machine does not inflate.
        cpu = (snapshots.get(step) or {}).get("cpu_ratio_to_floor")
        targets.append(
            _target(
                f"{step} snapshot × floor, in CPU time",
                cpu,
                f"<= {limit}",
                None if cpu is None else cpu <= limit,
            )
        )
    unchanged = snapshots.get("unchanged")
    inventory_rows = unchanged["inventory_rows_written"] if unchanged else None
    targets.append(
        _target(
            "unchanged snapshot: inventory rows written",
            inventory_rows,
            "0",
            unchanged and inventory_rows == 0,
        )
    )
    if snapshots.get("churn") and snapshots.get("first"):
        share = snapshots["churn"]["rows_written"] / max(snapshots["first"]["rows_written"], 1)
        targets.append(_target("1% churn rows written / first's", f"{share:.2%}", "<= 3%", share <= 0.03))
    else:
        targets.append(_target("1% churn rows written / first's", None, "<= 3%", None))
    memory = results.get("memory")
    per_object = round(memory["bytes_per_object"] / KIB, 2) if memory else None
    targets.append(
        _target(
            "worker peak memory per object, KiB",
            per_object,
            "< 8",
            None if memory is None else per_object < 8,
        )
    )
    history_queries = (results.get("database_growth") or {}).get("key_page_queries") or {}
    for row in results.get("key_pages") or []:
        name = f"{row['page']} ({row['reader']})"
        targets.append(_target(f"{name}: p95 server ms", row["p95_ms"], "< 300", row["p95_ms"] < 300))
        smaller = history_queries.get(f"{row['page']}/{row['reader']}")
        targets.append(
            _target(
                f"{name}: queries here / at a tenth of the scale",
                f"{row['queries']} / {smaller if smaller is not None else '?'}",
                "equal",
                None if smaller is None else row["queries"] == smaller,
            )
        )
    digests = results.get("digests")
    targets.append(
        _target(
            "every owner's digest, seconds",
            digests["seconds"] if digests else None,
            "< 60",
            None if digests is None else digests["seconds"] < 60,
        )
    )
    growth = results.get("database_growth")
    targets.append(
        _target(
            f"database after {growth['snapshots'] if growth else 100} snapshots at churn / after the first",
            growth["growth"] if growth else None,
            "< 3",
            None if growth is None else growth["growth"] < 3,
        )
    )
    net = growth.get("growth_net_of_empty") if growth else None
    targets.append(
        _target(
            "the same, net of the empty database's tables and indexes",
            net,
            "< 3",
            None if net is None else net < 3,
        )
    )
    # Judged of a full run only: every item, at the bench scale.
    complete = results.get("scale") == "bench" and set(results.get("items") or ()) >= {
        str(i) for i in range(1, 10)
    }
    minutes = round(results["total_seconds"] / 60, 1) if "total_seconds" in results else None
    targets.append(
        _target("the whole run, minutes", minutes, "<= 30", (minutes <= 30) if complete and minutes else None)
    )
    return targets


def summary(results: dict) -> list[str]:
    lines = [f"targets (issue 13), scale {results['scale']}:"]
    for target in results["targets"]:
        verdict = {True: "met", False: "MISSED", None: "not measured"}[target["met"]]
        figure = "—" if target["figure"] is None else target["figure"]
        lines.append(f"  {verdict:<12} {target['target']:<72} {figure!s:>10}  (target {target['limit']})")
    lines.append(
        "time per item (s): "
        + ", ".join(f"{item} {seconds}" for item, seconds in results.get("item_seconds", {}).items())
        + f"; total {results.get('total_seconds')}s"
    )
    start = (results.get("machine") or {}).get("load_average_at_start")
    lines.append(
        f"load average (1, 5, 15 min) at the start {start}, at the end {results.get('load_average_at_end')}"
    )
    return lines
