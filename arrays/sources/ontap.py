"""Live ONTAP source: every collection in ONTAP_COLLECTIONS, all pages, as the array returned it.

The connection is a `netapp_ontap.HostConnection` made for this call alone (never the library's
process-global or thread-local connection), so arrays can be read from several threads at once.
Pages are fetched as raw JSON through that connection's session and parsed with orjson: the
library's object layer costs several times the fetch itself on large arrays, and reading pages
ourselves lets one failed page be retried without starting the collection over.  The session's
retry adapter is replaced by one that does not retry, so this module alone decides how often an
array is asked (bounded attempts with backoff, for 5xx answers and transport errors).

Only the configured endpoint is ever asked: the session ignores the environment (no proxy, netrc
or CA bundle from it), redirects are not followed (a redirect leaves the collection unread), and a
next-page link is resolved against the page that gave it and refused if it leads to any other
origin (scheme, host and port), so that no answer can send our credentials elsewhere.

Secret-bearing fields (CHAP passwords, keys, tokens: inventory/secrets.py decides) are dropped
from the records before they leave this module.  Neither credentials nor response bodies
are ever logged; a failure's reason quotes at most the array's own error message.
"""

import logging
import re
import time
from urllib.parse import urljoin, urlsplit

import orjson
import requests
from netapp_ontap import HostConnection
from requests.adapters import HTTPAdapter

from arrays.sources.contract import ONTAP_COLLECTIONS, ONTAP_SINGLE_OBJECTS, ArrayEndpoint
from inventory.secrets import without_secrets
from inventory.sources import Collection

logger = logging.getLogger(__name__)

# What each collection asks for: everything (`*`) plus the expensive fields the rules need,
# which ONTAP only returns when they are named.
FIELDS: dict[str, str] = {
    "/api/storage/volumes": "*,is_svm_root",
    "/api/storage/luns": "*,lun_maps",
    "/api/protocols/san/igroups": "*,igroups,parent_igroups,lun_maps,initiators",
    "/api/protocols/nvme/subsystems": "*,subsystem_maps",
    "/api/storage/namespaces": "*,subsystem_map",
}
EXPORT_POLICIES = "/api/protocols/nfs/export-policies"
FC_INTERFACES = "/api/network/fc/interfaces"
RETRIED_STATUSES = {429, 500, 502, 503, 504}
MAX_REASON = 300


class PathUnread(Exception):
    """This collection could not be read; the others may still be."""


class ArrayUnusable(Exception):
    """Nothing on this array can be read: unreachable, credentials refused, TLS, or not ONTAP's JSON."""


def collect_ontap(
    endpoint: ArrayEndpoint, *, page_size: int = 500, attempts: int = 3, backoff: float = 0.5
) -> Collection:
    """Read every ONTAP collection of `endpoint`.  Failures end up in `unread` (never raised):
    one path's failure costs that path; an array-wide one marks every path with its reason."""
    reader = _Reader(endpoint, page_size, attempts, backoff)
    collection = Collection()
    started = time.monotonic()
    try:
        for path in ONTAP_COLLECTIONS:
            try:
                collection.objects[path] = reader.read(path)
            except PathUnread as error:
                if path == FC_INTERFACES and reader.last_status == 404:
                    collection.objects[path] = []
                    collection.facts["fc_interfaces"] = "not served by this array"
                else:
                    collection.unread[path] = str(error)
    except ArrayUnusable as error:
        logger.warning("ONTAP array %s not read: %s", endpoint, error)
        return Collection(unread=dict.fromkeys(ONTAP_COLLECTIONS, str(error)))
    finally:
        reader.close()
    if FC_INTERFACES in collection.objects and not collection.objects[FC_INTERFACES]:
        collection.facts.setdefault("fc_interfaces", "none")
    logger.debug(  # the snapshot's one INFO line sums it up (inventory/snapshotting.py)
        "read ONTAP array %s: %d records in %d collections (%d unread) in %.1f s",
        endpoint,
        sum(len(records) for records in collection.objects.values()),
        len(collection.objects),
        len(collection.unread),
        time.monotonic() - started,
    )
    return collection


class _Reader:
    def __init__(self, endpoint: ArrayEndpoint, page_size: int, attempts: int, backoff: float):
        self.endpoint = endpoint
        self.page_size = page_size
        self.attempts = max(1, attempts)
        self.backoff = backoff
        self.connection = HostConnection(
            endpoint.host,
            username=endpoint.username,
            password=endpoint.password,
            verify=endpoint.verify,
            port=endpoint.port or (443 if endpoint.scheme == "https" else 80),
            scheme=endpoint.scheme,
            protocol_timeouts=(min(endpoint.timeout, 10.0), endpoint.timeout),
        )
        self.session = self.connection.session
        self.session.trust_env = False  # no proxy, netrc or CA bundle from the environment
        self.session.mount(self.connection.origin, HTTPAdapter(max_retries=0))
        self.origin = _origin(self.connection.origin)
        self.timeout = self.connection.protocol_timeouts
        self.answered = False  # whether the array has answered anything yet
        self.last_status: int | None = None

    def close(self) -> None:
        self.session.close()

    def read(self, path: str) -> list[dict]:
        fields = FIELDS.get(path, "*")
        if path in ONTAP_SINGLE_OBJECTS:
            body = self._get(self.connection.origin + path, {"fields": fields})
            body.pop("_links", None)
            return [without_secrets(body)]
        records = self._all_pages(path, {"fields": fields, "max_records": self.page_size})
        if path == EXPORT_POLICIES:
            for policy in records:
                if policy.get("are_rules_truncated"):
                    rules = self._all_pages(
                        f"{path}/{policy['id']}/rules", {"fields": "*", "max_records": self.page_size}
                    )
                    policy["rules"] = [
                        {k: v for k, v in rule.items() if k not in ("policy", "svm")} for rule in rules
                    ]
        return records

    def _all_pages(self, path: str, params: dict) -> list[dict]:
        records: list[dict] = []
        url: str | None = self.connection.origin + path
        while url:
            body = self._get(url, params)
            page = body.get("records", ())
            # One look at a page's records finds what a look at each would (inventory/secrets.py).
            records.extend(without_secrets(page) if isinstance(page, list) else map(without_secrets, page))
            url = self._next_page(url, body)
            params = None  # the next link carries the query
        return records

    def _next_page(self, url: str, body: dict) -> str | None:
        """The next page's URL from `_links.next.href`, resolved against this page's URL; refused
        (the collection unread) when it is not text or leads to another origin than the array's."""
        links = body.get("_links")
        following = links.get("next") if isinstance(links, dict) else None
        href = following.get("href") if isinstance(following, dict) else None
        if href is None:
            return None
        if not isinstance(href, str) or not href:
            raise PathUnread(f"the array's next-page link is not a link: {repr(href)[:80]}")
        target = urljoin(url, href)
        if urlsplit(target).username is not None:  # user info in a link would replace our credentials
            raise PathUnread("the array's next-page link carries user information: not followed")
        if _origin(target) != self.origin:
            raise PathUnread(
                f"the array's next-page link leads elsewhere ({_origin_text(target)}), "
                f"not to {self.connection.origin}: not followed"
            )
        return target

    def _get(self, url: str, params: dict | None) -> dict:
        """One answer as JSON, retrying 5xx answers and transport errors a bounded number of times."""
        problem = ""
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                time.sleep(self.backoff * 2 ** (attempt - 2))
            try:
                # `verify` per request: requests lets REQUESTS_CA_BUNDLE override the session's own.
                response = self.session.get(
                    url,
                    params=params,
                    timeout=self.timeout,
                    verify=self.endpoint.verify,
                    allow_redirects=False,
                )
            except requests.exceptions.SSLError as error:
                raise ArrayUnusable(f"TLS failure: {_tls_reason(error)}") from None
            except requests.exceptions.Timeout:
                problem = f"timed out after {self.timeout[1]:g} s"
                continue
            except requests.exceptions.ConnectionError as error:
                problem = f"unreachable ({_connection_reason(error)})"
                continue
            self.answered = True
            self.last_status = response.status_code
            if response.is_redirect or 300 <= response.status_code < 400:
                location = _origin_text(urljoin(url, response.headers.get("Location") or ""))
                raise PathUnread(
                    f"HTTP {response.status_code}: the array redirected the request (to {location}); "
                    "redirects are not followed"
                )
            if response.status_code == 401:
                raise ArrayUnusable(f"HTTP 401: credentials refused ({_ontap_message(response)})")
            if response.status_code in RETRIED_STATUSES:
                problem = (
                    f"HTTP {response.status_code} after {self.attempts} attempts: {_ontap_message(response)}"
                )
                continue
            if response.status_code >= 400:
                raise PathUnread(f"HTTP {response.status_code}: {_ontap_message(response)}")
            try:
                body = orjson.loads(response.content)
            except orjson.JSONDecodeError:
                content_type = response.headers.get("Content-Type", "no content type")
                raise ArrayUnusable(f"the answer is not JSON ({content_type})") from None
            if not isinstance(body, dict):
                raise ArrayUnusable("the answer is not a JSON object")
            return body
        if not problem.startswith("HTTP") and not self.answered:
            raise ArrayUnusable(f"{problem}, {self.attempts} attempts")
        raise PathUnread(problem if problem.startswith("HTTP") else f"{problem}, {self.attempts} attempts")


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a URL, the port made explicit; None for a URL that is not http(s)."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return parts.scheme.lower(), parts.hostname.lower(), port


def _origin_text(url: str) -> str:
    """Where a URL leads, for a reason: scheme, host and port only (never a path, query or userinfo)."""
    origin = _origin(url)
    if origin is None:
        return "not an http(s) URL"
    scheme, host, port = origin
    return f"{scheme}://{f'[{host}]' if ':' in host else host}:{port}"


def _ontap_message(response: requests.Response) -> str:
    """The array's own error message (ONTAP's `{"error": {"message"}}`), never the raw body."""
    try:
        message = orjson.loads(response.content)["error"]["message"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return response.reason or "no error message"
    return str(message)[:MAX_REASON]


def _tls_reason(error: Exception) -> str:
    text = str(error)
    match = re.search(r"certificate verify failed: [^'\")(]+", text) or re.search(
        r"\[SSL[^\]]*\][^'\")(]*", text
    )
    return (match.group(0).strip() if match else type(error).__name__)[:MAX_REASON]


def _connection_reason(error: Exception) -> str:
    text = str(error)
    for known in (
        "Connection refused",
        "Connection reset",
        "Remote end closed connection",
        "Name or service not known",
    ):
        if known.lower() in text.lower():
            return known.lower()
    return type(error).__name__
