"""The OpenAPI schema and the interactive docs page.

The docs page is drf-spectacular's split Swagger UI: its init script is a separate same-origin
response (`?script`), its assets come from drf-spectacular-sidecar through our static files, and
our template (templates/api/swagger_ui.html) replaces the stock one's inline <style> with a
stylesheet: it works offline and under the pages' strict CSP.  It is a page for people signed in
with a session (anonymous: to the login page); tools read the schema with their token.
"""

from django.contrib.auth.decorators import login_required
from drf_spectacular.renderers import OpenApiJsonRenderer, OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.authentication import SessionAuthentication
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer


class ErrorsAsJson:
    """Errors in the API's JSON shape, whatever the view renders when it succeeds (a YAML schema,
    an HTML page)."""

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response


class SchemaView(ErrorsAsJson, SpectacularAPIView):
    """The OpenAPI 3 schema: JSON by default, YAML with `?format=yaml` (or `Accept`)."""

    renderer_classes = [OpenApiJsonRenderer, OpenApiYamlRenderer]
    permission_classes = [IsAuthenticated]


class DocsView(ErrorsAsJson, SpectacularSwaggerSplitView):
    template_name = "api/swagger_ui.html"
    url_name = "api-schema"
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]


docs = login_required(DocsView.as_view())
