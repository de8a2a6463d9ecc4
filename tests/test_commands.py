"""The command line end to end: simulate → add_cluster → snapshot, with its exit codes."""

import io
import os
import re
import shlex
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from inventory.kinds import KIND_NAMES
from inventory.models import Cluster, InventoryObject, Snapshot
from simulator.control import SimulatorControl

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """`manage.py simulate` in its own process, as a user would run it."""
    workdir = tmp_path_factory.mktemp("simulate")
    kubeconfig = workdir / "sim.kubeconfig"
    process = subprocess.Popen(
        [sys.executable, "manage.py", "simulate", "--port", "0", "--kubeconfig-out", str(kubeconfig)],
        cwd=ROOT,
        env={**os.environ, "DASHBOARD_DATA_DIR": str(workdir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            if line.startswith("Ctrl-C stops it"):
                break
        text = "".join(lines)
        url = re.search(r"serving the Kubernetes API at (http://127\.0\.0\.1:\d+)", text)
        assert url and kubeconfig.exists(), text
        assert f"add_cluster simulated --kubeconfig {kubeconfig}" in text
        add_arrays = [shlex.split(line.strip())[2:] for line in lines if "manage.py add_array" in line]
        yield {"url": url[1], "kubeconfig": kubeconfig, "process": process, "add_arrays": add_arrays}
    finally:
        process.terminate()
        process.wait(timeout=10)


def run(*args) -> tuple[int, str]:
    out = io.StringIO()
    try:
        call_command(*args, stdout=out, stderr=out)
    except SystemExit as exit_:
        return exit_.code, out.getvalue()
    return 0, out.getvalue()


def test_snapshot_of_a_cluster_registered_from_simulate(simulated):
    code, out = run(
        "add_cluster", "simulated", "--kubeconfig", str(simulated["kubeconfig"]), "--interval", "5"
    )
    assert code == 0 and "registered cluster simulated" in out
    code, out = run("snapshot", "--cluster", "simulated")
    assert code == 0, out
    assert "simulated #1: complete" in out
    for kind in KIND_NAMES:
        assert re.search(rf"^\s+{kind}\s+\d+$", out, flags=re.MULTILINE), f"{kind} missing from:\n{out}"
    snapshot = Snapshot.objects.get()
    assert set(snapshot.counts) == set(KIND_NAMES) and snapshot.counts["Pod"] > 50


def test_partial_snapshot_exits_2_and_says_why(simulated):
    run("add_cluster", "simulated", "--kubeconfig", str(simulated["kubeconfig"]))
    control = SimulatorControl(simulated["url"])
    control.add_fault(r"/pods", status=500, times=None)
    try:
        code, out = run("snapshot", "--cluster", "simulated")
    finally:
        control.clear_faults()
    assert code == 2, out
    assert "partial" in out and re.search(r"not read: Pod: HTTP 500 after \d+ attempts", out)


def test_unreachable_cluster_exits_1(tmp_path):
    kubeconfig = tmp_path / "dead.kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: dead\n"
        "clusters: [{name: dead, cluster: {server: 'http://127.0.0.1:9'}}]\n"
        "contexts: [{name: dead, context: {cluster: dead, user: u}}]\nusers: [{name: u, user: {token: t}}]\n"
    )
    run("add_cluster", "dead", "--kubeconfig", str(kubeconfig))
    code, out = run("snapshot", "--cluster", "dead")
    assert code == 1 and "failed" in out
    assert InventoryObject.objects.count() == 0


def test_add_cluster_updates_and_validates(tmp_path):
    kubeconfig = tmp_path / "k"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    run("add_cluster", "prod", "--kubeconfig", str(kubeconfig))
    cluster = Cluster.objects.get(name="prod")
    assert (cluster.interval_minutes, cluster.tenant_label, cluster.kubelet_root) == (
        15,
        "",
        "/var/lib/kubelet",
    )
    assert cluster.effective_platform_namespaces() == ["kube-system", "trident"]
    code, out = run(
        "add_cluster",
        "prod",
        "--in-cluster",
        "--interval",
        "30",
        "--tenant-label",
        "capsule.clastix.io/tenant",
        "--owner-keys",
        "owner.example.com/email, owner.example.com/group",
        "--platform-namespaces",
        "kube-system,trident,calico-system",
        "--kubelet-root",
        "/data/kubelet",
    )
    assert "updated cluster prod" in out
    cluster.refresh_from_db()
    assert cluster.source == Cluster.Source.IN_CLUSTER and cluster.kubeconfig_path == ""
    assert cluster.owner_keys == ["owner.example.com/email", "owner.example.com/group"]
    assert cluster.platform_namespaces == ["kube-system", "trident", "calico-system"]
    assert (cluster.interval_minutes, cluster.kubelet_root) == (30, "/data/kubelet")
    with pytest.raises(CommandError, match="does not exist"):
        call_command("add_cluster", "x", "--kubeconfig", str(tmp_path / "missing"))
    with pytest.raises(CommandError, match="at least 1 minute"):
        call_command("add_cluster", "prod", "--in-cluster", "--interval", "0")


def test_no_secret_from_the_simulated_cluster_reaches_the_database(simulated):
    run("add_cluster", "simulated", "--kubeconfig", str(simulated["kubeconfig"]))
    code, out = run("snapshot", "--cluster", "simulated")
    assert code == 0, out
    # The simulator seeds SIMSECRET-… values into CHAP fields, a backend EndPoint and Secrets.
    served = urllib.request.urlopen(f"{simulated['url']}/apis/trident.netapp.io/v1/tridentvolumes").read()
    assert b"SIMSECRET" in served, "the simulator should serve secrets for this test to mean anything"
    dump = io.StringIO()
    call_command("dumpdata", stdout=dump)
    everything = dump.getvalue()
    assert "solidfire_config" in everything, "the SolidFire backend should have been stored (minus secrets)"
    assert "SIMSECRET" not in everything
    assert "U0lNU0VDUkVU" not in everything  # base64 of SIMSECRET, as it sits in Secret data


def test_arrays_registered_as_simulate_prints_are_read_in_the_snapshot(simulated):
    assert len(simulated["add_arrays"]) == 3, "two ONTAP clusters and one SolidFire cluster"
    for arguments in simulated["add_arrays"]:
        code, out = run(*arguments)
        assert code == 0 and "TLS verified" in out, out
    run("add_cluster", "simulated", "--kubeconfig", str(simulated["kubeconfig"]))
    code, out = run("snapshot", "--cluster", "simulated")
    assert code == 0, out
    assert re.search(r"ontap-a:ontap\.ExportPolicy\s+\d+", out) and re.search(
        r"solidfire-a:solidfire\.Volume", out
    )
