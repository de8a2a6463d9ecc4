"""The OpenAPI schema's shared parts: every operation documents the one error shape for each status
it can answer with, and the token scheme."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema

from api.serializers import Error

ERRORS = {
    "400": "A parameter or the body is not valid (details name which and why).",
    "401": "No credentials, or an invalid, expired or revoked token.",
    "403": "Signed in, but not allowed (only dashboard admins suppress findings or request snapshots).",
    "404": "Nothing here that the caller may see.",
    "405": "This method is not allowed here.",
    "429": "Too many requests for this token: wait `Retry-After` seconds.",
    "500": "The server failed (logged).",
}


class ApiAutoSchema(AutoSchema):
    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, description in ERRORS.items():
            if code not in responses:
                responses[code] = {**self._get_response_for_code(Error, code), "description": description}
        responses["429"]["headers"] = {
            "Retry-After": {
                "schema": {"type": "integer", "minimum": 1},
                "description": "Seconds until this token's count starts again (`API_THROTTLE_RATE`).",
            }
        }
        return responses


class TokenScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.TokenAuthentication"
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>`: a key made by `python manage.py api_token USERNAME`.",
        }
