"""One error shape for every API status: `{"error": {"code", "message", "details"}}`.

DRF's exceptions (400, 401, 403, 404, 405, 406, 415, 429) keep their status and code; anything else a
view raises is logged and answered 500 in the same shape, never with a traceback or an HTML page.
Messages name what was wrong with the request, never another tenant's data: field errors carry
their own messages, which (dashboard/filters.py) never echo the value given.
"""

import logging

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.decorators import api_view
from rest_framework.response import Response
from rest_framework.views import set_rollback

logger = logging.getLogger("api")

MESSAGES = {
    "invalid": "The request is not valid: see details.",
    "not_found": "Not found.",
    "server_error": "The server failed to answer this request; it has been logged.",
}


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def _details(detail) -> dict:
    if isinstance(detail, dict):
        return {key: _details_value(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return {"non_field_errors": [str(item) for item in detail]}
    return {}


def _details_value(value):
    if isinstance(value, dict):
        return _details(value)
    if isinstance(value, list):
        return [str(item) if not isinstance(item, dict) else _details(item) for item in value]
    return [str(value)]


def exception_handler(exc, context):
    """DRF's EXCEPTION_HANDLER: every exception a view raises, as the one error shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()  # Django's message may name what was asked for
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    if not isinstance(exc, exceptions.APIException):
        view = context.get("view")
        logger.error("API view %s failed", type(view).__name__, exc_info=exc)
        set_rollback()
        return Response(
            error_body("server_error", MESSAGES["server_error"]), status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    details = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        headers["Retry-After"] = str(exc.wait)
        details = {"retry_after": exc.wait}
    if isinstance(exc, exceptions.ValidationError):
        code, message, details = "invalid", MESSAGES["invalid"], _details(exc.detail)
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
        message = str(exc.detail) if isinstance(exc.detail, str) else str(exc.default_detail)
    set_rollback()
    return Response(error_body(code, message, details), status=exc.status_code, headers=headers)


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
def not_found(request, *args, **kwargs):
    """Any other path under /api/: a 404 in the API's shape, not the pages' HTML (after
    authentication, like every API answer: no anonymous access)."""
    raise exceptions.NotFound()
