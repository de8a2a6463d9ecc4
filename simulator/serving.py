"""A simulation served over loopback: its Kubernetes API and the arrays its backends use.

Used by the demo and by `manage.py simulate`.  Every server listens on 127.0.0.1; the arrays'
endpoints, credentials and CA are handed over explicitly (files in `directory`), exactly as an
admin would configure real ones, never discovered from the simulated cluster.
"""

import secrets
from dataclasses import dataclass
from pathlib import Path

from simulator.element_api import ElementApiServer
from simulator.k8s_api import KubernetesApiServer
from simulator.ontap_api import OntapApiServer
from simulator.ontap_array import ontap_arrays
from simulator.solidfire_array import solidfire_arrays
from simulator.tls import TlsMaterial
from simulator.world import Simulation


@dataclass
class ServedArray:
    name: str
    kind: str  # "ontap" | "solidfire"
    server: OntapApiServer | ElementApiServer
    credentials_dir: Path
    ca_bundle: Path
    trident_addresses: list[str]
    trident_backends: list[str]

    @property
    def host_and_port(self) -> tuple[str, int]:
        host, port = self.server.url.split("://", 1)[1].rsplit(":", 1)
        return host.strip("[]"), int(port)

    def array_settings(self) -> dict:
        """The fields of an `arrays.models.Array` an admin would configure for this array."""
        host, port = self.host_and_port
        return {
            "name": self.name,
            "kind": self.kind,
            "host": host,
            "port": port,
            "ca_bundle": str(self.ca_bundle),
            "credentials": f"file:{self.credentials_dir}",
            "trident_addresses": self.trident_addresses,
            "trident_backends": self.trident_backends,
        }

    def add_array_command(self) -> str:
        host, port = self.host_and_port
        return (
            f"python manage.py add_array {self.name} --kind {self.kind} --host {host} --port {port} "
            f"--credentials file:{self.credentials_dir} --ca-bundle {self.ca_bundle} "
            f"--trident-addresses {','.join(self.trident_addresses)}"
        )


class SimulatedEstate:
    def __init__(
        self,
        simulation: Simulation,
        directory: Path,
        port: int = 0,
        kubeconfig: Path | None = None,
        credentials_dir: Path | None = None,
    ):
        """`credentials_dir` (default `directory/credentials`) holds a folder per array: for the
        product to read them it must lie inside the ARRAY_CREDENTIALS_DIR setting's folder."""
        self.simulation = simulation
        self.directory = Path(directory)
        self.credentials_dir = Path(credentials_dir) if credentials_dir else self.directory / "credentials"
        self.kubernetes = KubernetesApiServer(simulation, port=port)
        self.kubeconfig = Path(kubeconfig) if kubeconfig else self.directory / "kubeconfig.yaml"
        self.arrays: list[ServedArray] = []

    def start(self) -> "SimulatedEstate":
        self.directory.mkdir(parents=True, exist_ok=True)
        self.kubernetes.start()
        self.kubernetes.write_kubeconfig(self.kubeconfig)
        tls = TlsMaterial.generate(self.directory / "tls")
        for array in ontap_arrays(self.simulation):
            password = secrets.token_urlsafe(16)
            server = OntapApiServer(array, tls=tls, username="dashboard-ro", password=password).start()
            self._add(array.name, "ontap", server, tls, ("dashboard-ro", password), array.management_lifs, [])
        for array in solidfire_arrays(self.simulation):
            server = ElementApiServer(array, tls).start()
            backends = [backend.name for backend in array.backends]
            credentials = (array.admin_username, array.admin_password)
            self._add(array.name, "solidfire", server, tls, credentials, [array.svip.split(":")[0]], backends)
        return self

    def _add(self, name, kind, server, tls, credentials, addresses, backends) -> None:
        self.credentials_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory = self.credentials_dir / name
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        for key, value in zip(("username", "password"), credentials, strict=True):
            path = directory / key
            path.touch(mode=0o600)
            path.write_text(value)
        self.arrays.append(
            ServedArray(name, kind, server, directory, tls.ca_bundle, list(addresses), backends)
        )

    def stop(self) -> None:
        for array in self.arrays:
            array.server.stop()
        self.kubernetes.stop()
