import json
import pytest
from tests.test_demo_rules import demo  # noqa: F401


@pytest.mark.django_db
def test_dump(demo):
    manifest, ctx, evaluation = demo
    out = {
        "pvs": {f"{k}": v for k, v in ctx.state.of_kind("PersistentVolume").items()},
        "pvcs": {f"{k}": v for k, v in ctx.state.of_kind("PersistentVolumeClaim").items()},
        "tvols": {f"{k}": v for k, v in ctx.state.of_kind("TridentVolume").items()},
        "tbes": {f"{k}": v for k, v in ctx.state.of_kind("TridentBackend").items()},
        "tvrs": {f"{k}": v for k, v in ctx.state.of_kind("TridentVolumeReference").items()},
        "va": ctx.volume_access,
        "ia": {f"{k}": v for k, v in ctx.inline_access.items()},
        "join": ctx.join_facts,
        "arrays": {n: dict(r.by_kind) for n, r in ctx.state.arrays.items()},
        "facts": ctx.state.facts,
        "manifest": manifest,
        "ns": {f"{k}": v for k, v in ctx.state.of_kind("Namespace").items()},
    }
    json.dump(out, open("/tmp/explore/demo.json", "w"), indent=1, default=str)
