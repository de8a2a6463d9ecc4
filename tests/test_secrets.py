"""The one decision on what is a secret (inventory/secrets.py): keys judged by pattern, in any case
and with any separator; names of secrets, settings and label selectors kept."""

import pytest

from inventory.kept_fields import ARRAY_KEPT_FIELDS, keep
from inventory.secrets import is_secret_key, without_secrets

SECRET_KEYS = [
    # the four that reached the database
    "example.com/chap-secret",
    "chap-secret",
    "backendPassword",
    "chapSecret",
    # the words, in every case and separator
    "password",
    "PASSWORD",
    "db_password",
    "db.passwd",
    "ssh/passphrase",
    "auth-token",
    "bearerToken",
    "x_api_token",
    "clientCredentials",
    "aws.credential",
    "CHAPSecret",
    "chapInitiatorSecret",
    "chapTargetUsername",
    "CHAP_USER",
    "secret",
    "clientSecret",
    "client_secret",
    "initiator_secret",
    "DB_SECRET_VALUE",
    # key as the last word of a longer name
    "apiKey",
    "api-key",
    "API_KEY",
    "private-key",
    "clientPrivateKey",
    "example.com/signing.key",
    "clusterPairingKey",
    "ssh_keys",
    "apikey",
    "privatekey",
    # certificates (the ONTAP library's sensitive fields)
    "clientCertificate",
    # known names the words miss
    "iscsiUsername",
    "iscsiTargetUsername",
    "scriptParameters",
    "EndPoint",
    "Endpoint",
]

NOT_SECRET_KEYS = [
    # Kubernetes label and annotation keys rules or pages read
    "kubernetes.io/metadata.name",
    "pod-security.kubernetes.io/enforce",
    "trident.netapp.io/shareToNamespace",
    "pv.kubernetes.io/provisioned-by",
    "app.kubernetes.io/name",
    # names of secrets: where a secret is, not what it holds
    "csi.storage.k8s.io/node-stage-secret-name",
    "csi.storage.k8s.io/node-stage-secret-namespace",
    "csi.storage.k8s.io/provisioner-secret-name",
    "nodePublishSecretRef",
    "nodeStageSecretRef",
    "secretName",
    "tokenName",
    "credentialsName",
    # key alone (a selector's key, a secret volume item's key) and words merely ending in key
    "key",
    "keys",
    "monkey",
    "turkey",
    "whiskey",
    "hockey-team",
    "keyName",
    "key_id",
    "keyboard",
    # a projected volume's request for a token (audience, expiry, path), not a token
    "serviceAccountToken",
    # ordinary fields
    "username",
    "backendUUID",
    "internalName",
    "internalID",
    "driver",
    "fsType",
    "chapter",
    "authentication_type",
    "initiator",
]


@pytest.mark.parametrize("key", SECRET_KEYS)
def test_secret_bearing_keys(key):
    assert is_secret_key(key)


@pytest.mark.parametrize("key", NOT_SECRET_KEYS)
def test_keys_that_are_not_secrets(key):
    assert not is_secret_key(key)


def test_values_go_keys_settings_and_selectors_stay():
    value = {
        "chap-secret": "s1",
        "backendPassword": {"nested": "s2"},
        "tokens": ["s3"],
        "useCHAP": True,  # a setting: a boolean carries no secret
        "enableChap": False,
        "requireChap": None,
        "csi.storage.k8s.io/node-stage-secret-name": "chap-ref",
        "nodeStageSecretRef": {"name": "chap-ref", "namespace": "trident"},
        "url": "https://admin:s4@198.51.100.5/json-rpc/8.0",
        "podSelector": {"matchLabels": {"vault-token": "yes"}, "matchExpressions": [{"key": "app"}]},
        "metadata": {"labels": {"api-key": "yes"}},
    }
    assert without_secrets(value) == {
        "useCHAP": True,
        "enableChap": False,
        "requireChap": None,
        "csi.storage.k8s.io/node-stage-secret-name": "chap-ref",
        "nodeStageSecretRef": {"name": "chap-ref", "namespace": "trident"},
        "url": "https://198.51.100.5/json-rpc/8.0",
        "podSelector": {"matchLabels": {"vault-token": "yes"}, "matchExpressions": [{"key": "app"}]},
        "metadata": {"labels": {"api-key": "yes"}},
    }


def test_the_four_that_reached_the_database_are_not_kept():
    namespace = {"metadata": {"name": "a", "annotations": {"example.com/chap-secret": "s1", "owner": "x"}}}
    assert keep("Namespace", namespace)["metadata"]["annotations"] == {"owner": "x"}
    inline = {
        "name": "v",
        "csi": {"driver": "csi.trident.netapp.io", "volumeAttributes": {"chap-secret": "s2"}},
    }
    pod = {"metadata": {"name": "p", "namespace": "a"}, "spec": {"volumes": [inline]}}
    assert keep("Pod", pod)["spec"]["volumes"][0]["csi"]["volumeAttributes"] == {}
    attributes = {"backendUUID": "u", "internalName": "i", "backendPassword": "s3"}
    pv = {"metadata": {"name": "pv"}, "spec": {"csi": {"driver": "d", "volumeAttributes": attributes}}}
    assert keep("PersistentVolume", pv)["spec"]["csi"]["volumeAttributes"] == {
        "backendUUID": "u",
        "internalName": "i",
    }
    parameters = {"chapSecret": "s4", "csi.storage.k8s.io/node-stage-secret-name": "ref", "backendType": "x"}
    kept = keep("StorageClass", {"metadata": {"name": "sc"}, "parameters": parameters})["parameters"]
    assert kept == {"csi.storage.k8s.io/node-stage-secret-name": "ref", "backendType": "x"}


def test_labels_are_selectors_and_trust_inputs_never_scrubbed():
    labels = {"kubernetes.io/metadata.name": "a", "example.com/api-key-rotation": "weekly"}
    assert keep("Namespace", {"metadata": {"name": "a", "labels": labels}})["metadata"]["labels"] == labels


def _keys_named(path: str) -> list[str]:
    """The keys a kept-field path names: its segments and the exact keys of its {…} filters."""
    keys = []
    for segment in path.split("."):
        name, _, inside = segment.partition("{")
        keys.append(name.removesuffix("[]"))
        keys += [k.lstrip("!") for k in inside.rstrip("}").split(",") if k and "*" not in k]
    return keys


def test_no_kept_array_field_is_dropped_on_arrival_unless_it_is_a_setting():
    # Array answers are scrubbed whole on arrival, so a kept field whose key looked secret would
    # never reach the projection: only the boolean CHAP settings (a boolean carries no secret) may.
    for fields in ARRAY_KEPT_FIELDS.values():
        for field in fields:
            for key in _keys_named(field.path):
                assert not is_secret_key(key) or key in {"enableChap", "requireChap"}, (field.path, key)


TRICKY = [
    {"v": "a,", ":secret": "s"},  # a key starting with ':' after a value ending in ','
    ["x", ":y", {"password": "p"}],
    {'k"x': 1, "apiKey\u0001": "s"},  # escaped keys
    {"a": {"b": [{"c": "d", "chap": {"inbound": {"user": "u", "password": "p"}}}]}},
    {"note": 'a "quoted" value', "token": "t"},
    {"useCHAP": True, "chapSecret": None, "chapUser": "u"},
    {"endpoint": "https://admin:pw@10.0.0.1/json-rpc/8.0"},
    {"x": [["nested", {"db_password": 1}]]},
    {"url": 'https://admin:pa"ss@10.0.0.1/'},  # an escaped quote inside URL credentials
    {"url": "https://admin:p@ss@10.0.0.1/", "x": "://@@"},  # an '@' inside the password
]


@pytest.mark.parametrize("value", TRICKY)
def test_the_shortcut_never_changes_the_result(value):
    # without_secrets skips the walk when the serialised value shows no secret: it must agree with it.
    from inventory.secrets import _scrub

    assert without_secrets(value) == _scrub(value)


@pytest.mark.parametrize("value", TRICKY)
def test_scrubbing_what_was_scrubbed_changes_nothing(value):
    # A snapshot takes an object whose kept fields equal its stored version as that version
    # (inventory/kept_fields.py keep_serialised): it must be what scrubbing them again would give.
    assert without_secrets(without_secrets(value)) == without_secrets(value)


def test_tricky_shapes_lose_their_secrets():
    assert without_secrets(TRICKY[0]) == {"v": "a,"}
    assert without_secrets(TRICKY[1]) == ["x", ":y", {}]
    assert without_secrets(TRICKY[2]) == {'k"x': 1}
    assert without_secrets(TRICKY[5]) == {"useCHAP": True, "chapSecret": None}
    assert without_secrets(TRICKY[-1]) == {"url": "https://10.0.0.1/", "x": "://@@"}
