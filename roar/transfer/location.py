"""What a transfer URL says: where a download lands and what may be recorded.

A URL is recorded in the get or put job so that reproduce can fetch the
same bytes again; credentials in it (user:password, signed query
parameters) are replaced before it is written, as env secrets are.
"""

from __future__ import annotations

import posixpath
import re
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"
_SECRET_PARAM = re.compile(
    r"(sig|signature|token|secret|password|passwd|credential|key|auth)", re.IGNORECASE
)


def basename(url: str) -> str:
    """The last path component of the URL ('' for a bare host or a prefix ending in /)."""
    return unquote(posixpath.basename(urlsplit(url).path.rstrip("/")))


def redact(url: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_SECRET_PARAM.search(k) for k, _ in pairs):
            query = urlencode(
                [(k, REDACTED if _SECRET_PARAM.search(k) else v) for k, v in pairs], safe="<>"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def is_redacted(url: str) -> bool:
    return REDACTED in url or "%3Credacted%3E" in url


def join(url: str, name: str) -> str:
    """`url` itself, or `url/name` when it names a directory (ends in `/`)."""
    return url + name if url.endswith("/") else url
