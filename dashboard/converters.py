"""URL path converters.

Names come from clusters and dumps, so a page must work for any of them: a namespace read from a
hostile dump may hold `/`, which no URL segment can carry (the server decodes `%2F` to `/` before
routing).  `~` and `/` are written as `~7E` and `~2F`; neither occurs in a valid Kubernetes name, so
real names appear in URLs unchanged.

Registered here, once, as `<name:…>`: every URL configuration that uses it (the pages', the API's)
imports this module first, in whatever order Django or a test loads them.
"""

import re

from django.urls import register_converter

ESCAPED = re.compile(r"~([0-9A-F]{2})")


class ObjectNameConverter:
    regex = r"[^/]+"

    def to_python(self, value: str) -> str:
        return ESCAPED.sub(lambda match: chr(int(match.group(1), 16)), value)

    def to_url(self, value) -> str:
        return str(value).replace("~", "~7E").replace("/", "~2F")


register_converter(ObjectNameConverter, "name")
