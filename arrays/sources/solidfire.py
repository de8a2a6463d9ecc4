"""SolidFire source: what an Element cluster admits (accounts, volumes, access groups, initiators).

Read with solidfire-sdk-python's `Element`, given a transport of our own: the SDK's factory refuses
to verify TLS when the MVIP is an IP address, and its own transport cannot be handed a CA bundle.
Ours is a requests session that verifies against the array's configured CA (or the system's),
ignores proxy, netrc and CA settings from the environment and follows no redirect (the product
dials only what an admin configured; no answer can send the credentials elsewhere), and drops
CHAP secrets (whatever inventory/secrets.py calls a secret) from every answer before the SDK, its
logs or we see it.

Records are returned as Element sends them (raw JSON, all pages merged), the shape of an offline
dump's `backends/*.json`.  A cluster that cannot be reached, refuses the credentials or fails TLS
leaves every method unread with one reason; a method that fails alone leaves only itself unread.
"""

import logging
import ssl
from collections.abc import Iterable

import orjson
import requests
import requests.auth
import urllib3.exceptions
from solidfire import Element
from solidfire.common import ApiMethodVersionError, ApiServerError

from arrays.sources.contract import SOLIDFIRE_METHODS, ArrayEndpoint
from inventory.constants import SOLIDFIRE
from inventory.secrets import without_secrets
from inventory.sources import Collection

logger = logging.getLogger(__name__)

NEGOTIATION_VERSION = "7.0"  # the SDK's oldest API version; GetAPI there names the cluster's current one
PAGE_SIZE = 500
JSON_CONTENT = {"Content-Type": "application/json"}
# The SDK logs requests at INFO and whole responses at DEBUG (ERROR when they are not JSON).
SDK_LOGGERS = ("solidfire", "solidfire.Element")
# Methods Element pages: the start parameter and the record ID it counts in.
PAGING = {
    "ListAccounts": ("startAccountID", "accountID"),
    "ListVolumes": ("startVolumeID", "volumeID"),
    "ListVolumeAccessGroups": ("startVolumeAccessGroupID", "volumeAccessGroupID"),
    "ListInitiators": ("startInitiatorID", "initiatorID"),
}
# The API version that introduced each method read (the SDK refuses to call it on an older one).
SINCE = {
    "GetAPI": 1.0,
    "GetClusterInfo": 1.0,
    "ListAccounts": 1.0,
    "ListVolumeAccessGroups": 5.0,
    "ListVolumes": 8.0,
    "ListInitiators": 9.0,
}


class Unreadable(Exception):
    """What kept a method from being read; `whole_array` when no other method can be read either."""

    def __init__(self, reason: str, whole_array: bool = False):
        super().__init__(reason)
        self.whole_array = whole_array


def collect_solidfire(endpoint: ArrayEndpoint, page_size: int = PAGE_SIZE) -> Collection:
    """Every method in SOLIDFIRE_METHODS: `objects[method]` is its records (GetClusterInfo: one)."""
    if endpoint.kind != SOLIDFIRE:
        raise ValueError(f"not a SolidFire endpoint: {endpoint}")
    for name in SDK_LOGGERS:  # whatever logging was configured: the SDK would log every answer
        logging.getLogger(name).setLevel(logging.WARNING)
    collection = Collection()
    with requests.Session() as session:
        session.trust_env = False  # no proxy, netrc or CA bundle from the environment
        session.verify = endpoint.verify
        try:
            cluster = _connect(endpoint, session)
        except Unreadable as failure:
            _unread(collection, endpoint, SOLIDFIRE_METHODS, failure)
            return collection
        collection.facts["element_api_version"] = cluster.version_text
        methods = list(SOLIDFIRE_METHODS)
        for index, method in enumerate(methods):
            try:
                collection.objects[method] = _read(cluster, method, page_size)
            except Unreadable as failure:
                _unread(collection, endpoint, methods[index:] if failure.whole_array else [method], failure)
                if failure.whole_array:
                    break
    return collection


def _unread(
    collection: Collection, endpoint: ArrayEndpoint, methods: Iterable[str], failure: Unreadable
) -> None:
    reason = f"{endpoint}: {failure}"
    logger.warning("SolidFire %s not read: %s", ", ".join(methods), reason)
    for method in methods:
        collection.unread[method] = reason


# --- talking to the cluster ---------------------------------------------------------------------


class _Transport:
    """The dispatcher `solidfire.Element` posts through: one API version's URL on our session.

    Failures become `Unreadable` (the SDK wraps them in ApiServerError; `_Cluster.call` unwraps them)."""

    def __init__(self, session: requests.Session, endpoint: ArrayEndpoint, version: str):
        host = f"[{endpoint.host}]" if ":" in endpoint.host else endpoint.host
        port = f":{endpoint.port}" if endpoint.port else ""
        self._url = f"https://{host}{port}/json-rpc/{version}"
        self._session = session
        self._timeout = endpoint.timeout
        self._auth = requests.auth.HTTPBasicAuth(endpoint.username, endpoint.password)

    def post(self, data: str) -> str:
        try:
            response = self._session.post(
                self._url,
                data=data,
                auth=self._auth,
                timeout=self._timeout,
                headers=JSON_CONTENT,
                allow_redirects=False,
            )
        except requests.exceptions.SSLError as error:
            raise Unreadable(f"TLS verification failed: {_tls_detail(error)}", whole_array=True) from None
        except requests.exceptions.ConnectionError as error:
            if _failed_to_connect(error):
                raise Unreadable(f"cannot connect: {_innermost(error)}", whole_array=True) from None
            raise Unreadable(f"connection lost: {_innermost(error)}") from None
        except requests.exceptions.Timeout:
            raise Unreadable(f"no answer within {self._timeout:g} s") from None
        except requests.exceptions.RequestException as error:
            raise Unreadable(f"request failed: {_innermost(error)}") from None
        if 300 <= response.status_code < 400:
            raise Unreadable(
                f"the array redirected the request (HTTP {response.status_code}); redirects are not followed"
            )
        if response.status_code == 401:
            raise Unreadable("the array refused the credentials (HTTP 401)", whole_array=True)
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict) or not ("result" in answer or "error" in answer):
            raise Unreadable(f"the array's answer (HTTP {response.status_code}) is not JSON-RPC")
        return orjson.dumps(without_secrets(answer)).decode()


class _Cluster:
    """An `Element` client at one API version."""

    def __init__(self, session: requests.Session, endpoint: ArrayEndpoint, version: str):
        self.version_text = version
        # The transport holds the URL and the credentials; Element only frames calls and checks versions.
        self.element = Element(api_version=version, dispatcher=_Transport(session, endpoint, version))

    def call(self, method: str, params: dict) -> dict:
        """The `result` of one JSON-RPC call (secrets already dropped)."""
        try:
            raw = self.element.send_request(
                method, None, params, since=SINCE[method], return_response_raw=True
            )
        except ApiMethodVersionError as error:
            raise Unreadable(
                f"{method} needs Element API {error.since:g}; the array offers {error.api_version:g}"
            ) from None
        except ApiServerError as error:
            if isinstance(error.__context__, Unreadable):
                raise error.__context__ from None
            raise
        answer = orjson.loads(raw)
        if "error" in answer:
            error = answer["error"] if isinstance(answer["error"], dict) else {}
            name, code = error.get("name", "unknown error"), error.get("code", "?")
            raise Unreadable(
                f"{method} failed on the array: {name} ({code}): {error.get('message', '')}"[:300]
            )
        if not isinstance(answer["result"], dict):
            raise Unreadable(f"{method} answered a result that is not an object")
        return answer["result"]


def _connect(endpoint: ArrayEndpoint, session: requests.Session) -> _Cluster:
    """Negotiate as the SDK's factory does: ask GetAPI at the oldest version, use the current one."""
    try:
        api = _Cluster(session, endpoint, NEGOTIATION_VERSION).call("GetAPI", {})
    except Unreadable as failure:  # nothing can be read without a version, whatever went wrong
        reason = str(failure) if failure.whole_array else f"GetAPI: {failure}"
        raise Unreadable(reason, whole_array=True) from None
    version = str(api.get("currentVersion", ""))
    try:
        usable = float(version) >= float(NEGOTIATION_VERSION)
    except ValueError:
        usable = False
    if not usable:
        raise Unreadable(f"GetAPI named no usable API version ({version[:20]!r})", whole_array=True)
    return _Cluster(session, endpoint, version)


def _read(cluster: _Cluster, method: str, page_size: int) -> list[dict]:
    key = SOLIDFIRE_METHODS[method]
    if method not in PAGING:
        record = cluster.call(method, {}).get(key)
        if not isinstance(record, dict):
            raise Unreadable(f"{method} answered without {key}")
        return [record]
    start_key, id_key = PAGING[method]
    records: list[dict] = []
    start = 0
    while True:
        page = cluster.call(method, {start_key: start, "limit": page_size}).get(key)
        if not isinstance(page, list) or not all(isinstance(r, dict) for r in page):
            raise Unreadable(f"{method} answered without a list of {key}")
        ids = [r.get(id_key) for r in page]
        # A page must stay at or after its start, or paging would never end.
        if not all(isinstance(i, int) and i >= start for i in ids):
            raise Unreadable(f"{method} answered {key} outside the page asked for ({start_key}={start})")
        records.extend(page)
        if len(page) < page_size:
            return records
        start = max(ids) + 1


# --- what went wrong, in words without secrets -----------------------------------------------


def _causes(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        reason = getattr(error, "reason", None)  # urllib3's MaxRetryError keeps the cause here
        error = (
            error.__cause__ or error.__context__ or (reason if isinstance(reason, BaseException) else None)
        )


def _failed_to_connect(error: BaseException) -> bool:
    """True when no connection was made (refused, unresolvable, unreachable), not when one broke."""
    return any(
        isinstance(cause, urllib3.exceptions.NewConnectionError | urllib3.exceptions.ConnectTimeoutError)
        for cause in _causes(error)
    )


def _tls_detail(error: BaseException) -> str:
    for cause in _causes(error):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return cause.verify_message or str(cause)
    return _innermost(error)


def _innermost(error: BaseException) -> str:
    innermost = list(_causes(error))[-1]
    if isinstance(innermost, OSError) and innermost.strerror:
        return innermost.strerror
    return str(innermost) or type(innermost).__name__
