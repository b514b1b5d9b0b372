"""GLaaS: the registry server roar pushes lineage to, like a git remote.

Layers: `schema` (tables), `storage` (every SQL statement), `verify` (pack
checks, no I/O), `scope` (who may see and write what), `app` (HTTP), `cli`
(the `glaas-server` command). No state that matters lives in process memory,
so several processes can serve one PostgreSQL database.
"""
