"""What is a secret: the one decision, wherever a value from a cluster or an array is kept, dropped
on arrival or written to a dump.

Secrets are recognised by their key, in any case and with any separator (`-`, `_`, `.`, `/`,
camelCase): a value is dropped, key and all, when its key
- contains secret, password, passwd, passphrase, token, credential or certificate in a word
  (`example.com/chap-secret`, `backendPassword`, `DB_PASSWD`, `x-auth-token`);
- has the word chap (`useCHAP`, `CHAP_USER`; "chapter" is not one);
- ends in the word key after other words (`apiKey`, `private-key`, `clusterPairingKey`, `ssh_keys`,
  or the compounds apikey, privatekey, accesskey).  `key` alone is a selector's or a Secret item's
  key, and words that merely end in key (monkey, whiskey) are not keys;
- or is one of the few secret-bearing names the words miss (`NAMED`).
A change to what is dropped bumps inventory/kept_fields.py's SCHEMA_VERSION: an object whose stored
version is of an older schema is looked at again (inventory/history.py), even if unchanged.
Strings with credentials in a URL (`https://user:password@host`) lose the credentials, all of them
(`https://user:p@ss@host` keeps no `ss@`): scrubbing what was scrubbed changes nothing.

Decisions:
- The name of a secret is not a secret: a key ending in name, namespace, ref or reference
  (`csi.storage.k8s.io/node-stage-secret-name`, `nodeStageSecretRef`, `secretName`) says where a
  secret is kept, which rules and pages may show; it is kept.
- A boolean (or null) carries no secret: `useCHAP`, `enableChap`, `requireChap` are settings the
  rules read (rules.md: "CHAP settings other than the boolean useCHAP" are dropped), so they stay.
- A pod's projected `serviceAccountToken` volume source is a request (audience, expiry, path),
  not a token: kept (`NOT_SECRETS`).
- Labels and label selectors (`labels`, `matchLabels`) are never scrubbed: they are what
  NetworkPolicies and role aggregation select on and what tenancy, owners and Pod Security are read
  from (admin-declared keys), Kubernetes limits their values to 63-character names, and anyone who
  may list an object reads them.  Dropping one would change who a policy selects.
- Everything else kept whole is scrubbed: annotations, CSI volumeAttributes (PVs and inline pod
  volumes), StorageClass parameters, Trident backend config, and array answers (whole, on arrival).
"""

import functools
import re

import orjson

_SECRET_PARTS = ("secret", "password", "passwd", "passphrase", "token", "credential", "certificate")
_KEY_WORDS = frozenset({"key", "keys"})
_COMPOUND_KEYS = frozenset({"apikey", "apikeys", "privatekey", "accesskey"})
_REFERENCE_ENDINGS = frozenset({"name", "names", "namespace", "ref", "reference"})
# Names the words would take for secrets but are not: a pod's projected service account token
# volume asks the kubelet for a token (audience, expiry, path); it holds none.
NOT_SECRETS = frozenset({"serviceAccountToken"})
# Secret-bearing names the words miss: the CHAP user names Trident copies into TridentVolumes,
# an Element schedule's script parameters, a SolidFire backend's Endpoint (it embeds the password).
NAMED = frozenset({"iscsiUsername", "iscsiTargetUsername", "scriptParameters", "EndPoint", "Endpoint"})
# Maps of labels and label selectors: kept as they are (see the module docstring).
LABEL_MAPS = frozenset({"labels", "matchLabels"})

_WORDS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
# Everything before the authority's last '@': a password may hold '@' itself (`user:p@ss@host`).
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s]+@")
# Most kept values hold no secret (snapshots keep 100,000s of them), so a value is walked only when
# its serialised form may hold one: a URL credential, or one of these words (a C-speed substring
# search of the lowercased bytes; every secret-bearing key contains one) in a key.  Keys are read
# off the bytes around each word found; a value with a backslash (an escaped quote) is simply walked.
_GATE_WORDS = (*(p.encode() for p in _SECRET_PARTS), b"chap", b"key", b"endpoint", b"iscsi", b"script")
# The bytes of any string _URL_CREDENTIALS changes match this, escaped quotes included (a run may
# then cross from one string into the next: that only ever walks a value needlessly).
_URL_CREDENTIALS_BYTES = re.compile(rb"://[^/\s]+@")


@functools.lru_cache(maxsize=8192)  # keys repeat across objects: decide each once
def is_secret_key(key) -> bool:
    """Whether the value under `key` may be a secret (any value but a boolean is then dropped)."""
    if not isinstance(key, str):
        return False
    if key in NAMED:
        return True
    if key in NOT_SECRETS:
        return False
    words = [word.lower() for word in _WORDS.findall(key)]
    if not words or words[-1] in _REFERENCE_ENDINGS:
        return False
    return (
        any(part in word for word in words for part in _SECRET_PARTS)
        or "chap" in words
        or (len(words) > 1 and words[-1] in _KEY_WORDS)
        or any(word in _COMPOUND_KEYS for word in words)
    )


def without_secrets(value):
    """`value` (any JSON value) without secret-bearing keys' values and URL credentials, at any depth."""
    if isinstance(value, dict | list):
        return _scrub(value) if might_hold_secrets(orjson.dumps(value)) else value
    if isinstance(value, str) and "@" in value and "://" in value:
        return _URL_CREDENTIALS.sub(r"\g<scheme>", value)
    return value


def might_hold_secrets(blob: bytes) -> bool:
    """Whether the JSON document serialised (by orjson, keys in any order) as `blob` may hold a secret.

    False says that no string in it has URL credentials and no key in it, labels' included, would
    drop its value: so `without_secrets` leaves the document, and every value inside it, as it is.
    One look at a whole kept object thus spares a look at each of its parts (inventory/kept_fields.py).
    """
    if b"://" in blob and _URL_CREDENTIALS_BYTES.search(blob):
        return True
    if b"\\" in blob:
        return any(map(blob.lower().__contains__, _GATE_WORDS))
    return any(map(_drops, _keys_with_gate_words(blob, blob.lower())))


def _keys_with_gate_words(blob: bytes, lowered: bytes):
    """(key, first byte of its value) of each key holding a gate word, as serialised.  Only called
    without backslashes, so every `"` opens or closes a string; letters outside strings are only
    true, false, null and exponents, so a gate word is inside a string, a key when `:` follows it."""
    for word in _GATE_WORDS:
        at = lowered.find(word)
        while at >= 0:
            end = blob.find(b'"', at)  # the string's closing quote
            if blob[end + 1 : end + 2] == b":":
                yield blob[blob.rfind(b'"', 0, at) + 1 : end], blob[end + 2 : end + 3]
            at = lowered.find(word, end)


@functools.lru_cache(maxsize=8192)
def _drops(key_and_first: tuple[bytes, bytes]) -> bool:
    """Whether a key (as serialised) with a value starting with this byte would be dropped."""
    key, first = key_and_first
    return first not in b"tfn" and is_secret_key(key.decode("utf-8", "replace"))


def _scrub(value):
    if isinstance(value, dict):
        return {
            key: item if key in LABEL_MAPS else _scrub(item)
            for key, item in value.items()
            if item is None or isinstance(item, bool) or not is_secret_key(key)
        }
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, str) and "@" in value and "://" in value:
        return _URL_CREDENTIALS.sub(r"\g<scheme>", value)
    return value
