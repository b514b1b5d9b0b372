"""The GLaaS web UI: server-rendered pages over the same storage queries as the API.

Every page has a JSON twin under /api/v1 built by the same function
(`views.py`); `pages.py` mounts both, `graph.py` builds the DAGs the pages
draw, `registry_diff.py` runs `roar diff`'s logic over the registry, and
`login.py` turns a signed request into a browser login.
"""

from roar.server.web.pages import mount

__all__ = ["mount"]
