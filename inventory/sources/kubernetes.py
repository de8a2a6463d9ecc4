"""The live source: every kind in `inventory.kinds.KINDS`, read from a Kubernetes API.

It uses the official client's transport (authentication, TLS, token refresh) but not its models:
pages come back as raw bytes (`ApiClient.call_api`, what `_preload_content=False` returns) and are
parsed with orjson, an order of magnitude faster for 100,000 pods; or with simdjson, when the
snapshot holds the last read's forms of the kind, so that objects it reuses are never built.
Lists go in pages (`limit` + `continue`) and restart when the server lets a continue token expire
(410 Gone).  429, 5xx, timeouts and broken connections are retried with exponential backoff and
jitter, a bounded number of times; a kind that still fails (a 404 included) is reported in
`Collection.unread` while every other kind is read.  Only discovery can say a Trident kind is absent
(`Collection.absent`), and the snapshot still distrusts that for a kind the cluster had.  Secrets
are never requested.
"""

import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
import urllib3
from kubernetes import config as kube_config
from kubernetes.client import ApiClient, Configuration
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from inventory.fields import as_list, as_text
from inventory.kinds import KINDS, TRIDENT_GROUP, KindInfo
from inventory.sources import Collection, SourceError
from inventory.sources.lazy_pages import read_page
from inventory.sources.parsing import gc_paused

logger = logging.getLogger(__name__)

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_BACKOFF_SECONDS = 30.0
MAX_RETRY_AFTER_SECONDS = 30.0  # a server asking for longer must not stall the whole snapshot
MAX_LIST_RESTARTS = 3
Reduce = Callable[[str, dict], object]  # (kind, raw object) -> what is kept of it
TRIDENT_DISCOVERY_PATH = f"/apis/{TRIDENT_GROUP}/v1"


class ContinueExpired(Exception):
    """The server answered 410 Gone: the list must start again from its first page."""


class RequestFailed(Exception):
    """A request that failed for good; `str()` is the reason an operator reads."""

    def __init__(self, reason: str, status: int | None = None):
        super().__init__(reason)
        self.status = status  # the HTTP status, when the server answered at all


def api_client_from_kubeconfig(
    kubeconfig: str | None, context: str | None = None, in_cluster: bool = False
) -> ApiClient:
    configuration = Configuration()
    try:
        if in_cluster:
            kube_config.load_incluster_config(client_configuration=configuration)
        else:
            kube_config.load_kube_config(
                config_file=kubeconfig,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
    except (ConfigException, OSError, ValueError) as error:
        where = "the in-cluster service account" if in_cluster else f"kubeconfig {kubeconfig or '(default)'}"
        raise SourceError(f"cannot load {where}: {error}") from None
    # urllib3 would otherwise repeat 429/503 answers on its own, invisibly and without our bound.
    configuration.retries = False
    return ApiClient(configuration)


@dataclass(frozen=True)
class _RetryPolicy:
    max_attempts: int
    backoff_base: float
    request_timeout: tuple[float, float] | float
    sleep: Callable[[float], None]

    def wait(self, attempt: int, retry_after: float | None) -> float:
        backoff = min(MAX_BACKOFF_SECONDS, self.backoff_base * 2 ** (attempt - 1))
        delay = backoff * random.uniform(0.5, 1.0)  # jitter: clients that failed together spread out
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        self.sleep(delay)
        return delay


def _status_message(body: bytes) -> str:
    """The `message` of a Kubernetes `Status` body, or the start of whatever else came back."""
    try:
        status = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace").strip() or "(empty body)"
    if isinstance(status, dict) and status.get("message"):
        return str(status["message"])
    return "(no message)"


def _retry_after(headers) -> float | None:
    try:
        return float(headers.get("Retry-After"))
    except (TypeError, ValueError):  # absent, or an HTTP date, which the apiserver never sends
        return None


def _get(api_client: ApiClient, path: str, query: list[tuple], policy: _RetryPolicy) -> bytes:
    """GET `path` as raw JSON bytes, retrying what a retry can fix."""
    attempt = 0
    while True:
        attempt += 1
        retry_after, status = None, None
        try:
            method, url, headers, _, _ = api_client.param_serialize(
                "GET",
                path,
                query_params=query,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
            )
            response = api_client.call_api(method, url, headers, _request_timeout=policy.request_timeout)
            body = response.read()
        except (urllib3.exceptions.HTTPError, OSError, ApiException) as error:
            # Refused, dropped or timed-out connections, and bodies cut off midway.
            failure = f"connection error after {attempt} attempts: {type(error).__name__}: {error}"
            problem = f"{type(error).__name__}"
        else:
            status = response.status
            if 200 <= status < 300:
                return body
            message = _status_message(body)
            if status == 410:
                raise ContinueExpired(message)
            if status not in RETRYABLE_STATUSES:
                raise RequestFailed(f"HTTP {status}: {message}", status)
            failure = f"HTTP {status} after {attempt} attempts: {message}"
            problem = f"HTTP {status}"
            retry_after = _retry_after(response.headers)
        if attempt == policy.max_attempts:
            raise RequestFailed(failure, status)
        delay = policy.wait(attempt, retry_after)
        logger.warning(
            "GET %s: %s (attempt %d of %d); retrying in %.2fs",
            path,
            problem,
            attempt,
            policy.max_attempts,
            delay,
        )


# body -> (what the page gives, its continue token)
PageReader = Callable[[bytes], tuple[object, object]]


def _iter_pages(
    api_client: ApiClient, info: KindInfo, page_size: int, policy: _RetryPolicy, read_page: PageReader
) -> Iterator:
    """What `read_page` gives of each page of the cluster-wide list of `info`."""
    token = None
    while True:
        query = [("limit", page_size)] + ([("continue", token)] if token else [])
        result, token = read_page(_get(api_client, info.list_path, query, policy))
        yield result
        if not token:
            return


def _parsed_pages(info: KindInfo) -> PageReader:
    def parsed(body: bytes) -> tuple[dict, object]:
        try:
            with gc_paused():
                page = orjson.loads(body)
        except orjson.JSONDecodeError as error:
            raise RequestFailed(f"the list of {info.plural} is not valid JSON: {error}") from None
        return page, (page.get("metadata") or {}).get("continue")

    return parsed


def iter_list_pages(
    api_client: ApiClient,
    kind_info: KindInfo,
    *,
    page_size: int = 500,
    max_attempts: int = 5,
    backoff_base: float = 0.5,
    request_timeout: tuple[float, float] | float = (5, 60),
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[dict]:
    """The pages of one kind's list, each fetched and parsed once, nothing else: the floor any
    collection is measured against.  Raises ContinueExpired on 410 Gone (the pages already yielded
    are then stale) and RequestFailed."""
    policy = _RetryPolicy(max_attempts, backoff_base, request_timeout, sleep)
    yield from _iter_pages(api_client, kind_info, page_size, policy, _parsed_pages(kind_info))


def _reduced_pages(info: KindInfo, reduce: Reduce | None) -> PageReader:
    """Each page's objects as `reduce` keeps them.  A reducer that holds the last read's forms of
    this kind (`remembers`, `finder`: inventory/history.py StoredForms) has the pages read lazily:
    an object whose form it reuses is never built (inventory/sources/lazy_pages.py)."""
    parsed = _parsed_pages(info)

    def reduce_item(item):
        # List items of built-in kinds carry no type of their own.
        item["kind"], item["apiVersion"] = info.kind, info.api_version
        return reduce(info.kind, item) if reduce else item

    def whole(body: bytes) -> tuple[list, object]:
        page, token = parsed(body)
        return [reduce_item(item) for item in page.get("items") or []], token

    remembers = getattr(reduce, "remembers", None)
    if remembers is None or not remembers(info.kind):
        return whole
    found = reduce.finder(info.kind)
    return lambda body: read_page(body, found, reduce_item) or whole(body)


def _read_kind(
    api_client: ApiClient, info: KindInfo, page_size: int, policy: _RetryPolicy, reduce: Reduce | None
) -> list:
    for _ in range(MAX_LIST_RESTARTS + 1):
        items: list = []
        try:
            with gc_paused():
                for reduced in _iter_pages(api_client, info, page_size, policy, _reduced_pages(info, reduce)):
                    items += reduced
        except ContinueExpired as expired:
            last_expiry = str(expired)
            logger.info("list of %s expired midway (410 Gone); starting it again", info.plural)
            continue
        return items
    raise RequestFailed(f"HTTP 410 on {MAX_LIST_RESTARTS + 1} list attempts in a row: {last_expiry}", 410)


def _trident_served(api_client: ApiClient, policy: _RetryPolicy) -> set[str] | None:
    """The plurals Trident's API group serves, or None when the cluster positively does not serve it.

    A 404 alone is no proof (an apiserver re-registering CRDs answers 404 for a moment): only a
    group list (`/apis`) that lacks the group too says Trident is absent; otherwise the 404 fails.
    """
    try:
        body = _get(api_client, TRIDENT_DISCOVERY_PATH, [], policy)
    except RequestFailed as failure:
        if failure.status != 404:
            raise
        if _group_listed(api_client, policy):
            raise RequestFailed(f"{failure}, yet /apis lists {TRIDENT_GROUP}", 404) from None
        return None
    try:
        resources = orjson.loads(body).get("resources")
    except (orjson.JSONDecodeError, AttributeError) as error:
        raise RequestFailed(f"the discovery document is not a JSON object: {error}") from None
    return {as_text(r.get("name")) for r in as_list(resources) if isinstance(r, dict)}


def _group_listed(api_client: ApiClient, policy: _RetryPolicy) -> bool:
    try:
        groups = orjson.loads(_get(api_client, "/apis", [], policy)).get("groups")
    except (orjson.JSONDecodeError, AttributeError) as error:
        raise RequestFailed(f"the API group list is not a JSON object: {error}") from None
    return any(isinstance(g, dict) and g.get("name") == TRIDENT_GROUP for g in as_list(groups))


def collect_kubernetes(
    api_client: ApiClient,
    *,
    page_size: int = 500,
    max_attempts: int = 5,
    backoff_base: float = 0.5,
    request_timeout: tuple[float, float] | float = (5, 60),
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    reduce: Reduce | None = None,
    kind_read: Callable[[str, list], None] | None = None,
) -> Collection:
    """Read every kind in KINDS.  Raises SourceError only when the API does not answer at all.

    `reduce(kind, raw)`: what to keep of each object, applied page by page as the pages arrive (the
    snapshot passes its stored form: the kept fields, digested), so a kind's raw list is never held
    whole.  `kind_read(kind, objects)`: called with each kind read whole, before the next is read
    (not for a kind unread or absent); what it raises ends the reading."""
    policy = _RetryPolicy(max_attempts, backoff_base, request_timeout, sleep)
    collection = Collection(kept=reduce is not None)
    try:
        version = orjson.loads(_get(api_client, "/version", [], policy))
    except RequestFailed as failure:
        raise SourceError(
            f"the Kubernetes API at {api_client.configuration.host} cannot be used: {failure}"
        ) from None
    collection.facts["kubernetes_version"] = version.get("gitVersion")

    trident_failure, trident_served = None, set()
    try:
        trident_served = _trident_served(api_client, policy)
        collection.facts["trident_installed"] = trident_served is not None
    except RequestFailed as failure:
        trident_failure = f"discovery of {TRIDENT_DISCOVERY_PATH} failed: {failure}"

    list_seconds = {}
    for info in KINDS:
        if info.is_trident and trident_failure:
            collection.unread[info.kind] = trident_failure
            continue
        # What discovery positively leaves out is a fact about the cluster, not a failure to read it;
        # the snapshot still distrusts it for a kind this cluster had before.
        if info.is_trident and trident_served is None:
            collection.objects[info.kind] = []
            collection.absent[info.kind] = (
                f"the cluster does not serve {TRIDENT_GROUP} (Trident not installed)"
            )
            continue
        if info.is_trident and info.plural not in trident_served:  # a Trident release without this CRD
            collection.objects[info.kind] = []
            collection.absent[info.kind] = f"this cluster's Trident does not serve {info.plural}"
            collection.warnings.append(f"{info.kind}: {collection.absent[info.kind]}")
            continue
        started = clock()
        try:
            collection.objects[info.kind] = _read_kind(api_client, info, page_size, policy, reduce)
        except RequestFailed as failure:  # a 404 of a served kind too: an error is never "none"
            collection.unread[info.kind] = str(failure)
            logger.warning("could not read %s: %s", info.plural, failure)
        list_seconds[info.kind] = round(clock() - started, 3)
        if kind_read is not None and info.kind in collection.objects:
            kind_read(info.kind, collection.objects[info.kind])
    collection.facts["list_seconds"] = list_seconds
    return collection
