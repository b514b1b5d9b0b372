"""The registry's tables, one SQLAlchemy Core definition for SQLite and PostgreSQL.

Objects are stored once, globally (content addressing makes that safe); who
may see them is recorded per namespace in `object_ns`, and every index row
carries the namespace of the push that made it. A namespace is `anon`,
`public:<account>`, `private:<account>` or `project:<owner>/<name>`.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

ID = String(64)
NS = String(200)

objects = Table(
    "objects",
    metadata,
    Column("id", ID, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("frame", LargeBinary, nullable=False),
    Column("stored_ns", BigInteger, nullable=False),
)

# Object -> object references (job -> env/patch/tree, session -> parent/job):
# global like the objects themselves, walked by fetch.
edges = Table(
    "edges",
    metadata,
    Column("src", ID, nullable=False),
    Column("dst", ID, nullable=False),
    PrimaryKeyConstraint("src", "dst"),
)

object_ns = Table(
    "object_ns",
    metadata,
    Column("object_id", ID, nullable=False),
    Column("ns", NS, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("stored_ns", BigInteger, nullable=False),
    PrimaryKeyConstraint("object_id", "ns"),
)

# An artifact's existence is global: first registration time only.
artifacts = Table(
    "artifacts",
    metadata,
    Column("hash", ID, primary_key=True),
    Column("first_ns", BigInteger, nullable=False),
)

# Paths are the recorded bytes (BLOB / BYTEA), exactly as the objects hold them
# (docs/object-format.md): a text column would have to decode them, and a name
# that is not UTF-8 would come back other than it went in, or not be found.
artifact_jobs = Table(
    "artifact_jobs",
    metadata,
    Column("hash", ID, nullable=False),
    Column("job_id", ID, nullable=False),
    Column("role", String(3), nullable=False),  # "in" | "out"
    Column("path", LargeBinary, nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("kind", String(8), nullable=False),
    Column("ns", NS, nullable=False),
    Column("public", Boolean, nullable=False),
    PrimaryKeyConstraint("hash", "job_id", "role", "path", "ns"),
    Index("ix_artifact_jobs_job", "job_id"),
)

# A file's other digests (md5, sha256, sha512) as its jobs recorded them, so the
# hash a user holds finds the artifact (docs/lineage.md §7). Scoped like
# artifact_jobs: a private push's digests are found only by who may read it.
artifact_digests = Table(
    "artifact_digests",
    metadata,
    Column("algorithm", String(8), nullable=False),
    Column("digest", String(128), nullable=False),
    Column("hash", ID, nullable=False),
    Column("ns", NS, nullable=False),
    Column("public", Boolean, nullable=False),
    PrimaryKeyConstraint("algorithm", "digest", "hash", "ns"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", ID, nullable=False),
    Column("ns", NS, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("owner", String(100)),
    Column("command", Text, nullable=False),
    Column("type", String(8), nullable=False),
    Column("started_ns", BigInteger, nullable=False),
    Column("ended_ns", BigInteger, nullable=False),
    Column("exit_code", Integer, nullable=False),
    Column("gpu", Text),
    PrimaryKeyConstraint("job_id", "ns"),
    Index("ix_jobs_started", "started_ns"),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", ID, nullable=False),
    Column("ns", NS, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("job_id", ID, nullable=False),
    Column("parent", ID),
    Column("step", Integer, nullable=False),
    Column("step_kind", String(8), nullable=False),  # "run" | "build"
    Column("supersedes", ID),  # the job a re-run replaced
    Column("time_ns", BigInteger, nullable=False),
    PrimaryKeyConstraint("session_id", "ns"),
    Index("ix_sessions_job", "job_id"),
)

# The files of each composite artifact (tree object), global like `edges`:
# a step that read one file of a composite depends on the composite's writer.
tree_entries = Table(
    "tree_entries",
    metadata,
    Column("tree", ID, nullable=False),
    Column("hash", ID, nullable=False),
    Column("path", LargeBinary, nullable=False),  # relpath bytes, as artifact_jobs.path
    Column("size", BigInteger, nullable=False),
    PrimaryKeyConstraint("tree", "path"),
    Index("ix_tree_entries_hash", "hash"),
)

labels = Table(
    "labels",
    metadata,
    Column("label_id", ID, nullable=False),
    Column("ns", NS, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("target", ID, nullable=False),
    Column("key", String(200), nullable=False),
    Column("value", Text, nullable=False),
    Column("time_ns", BigInteger, nullable=False),
    PrimaryKeyConstraint("label_id", "ns", "key"),
    Index("ix_labels_kv", "key", "value"),
    Index("ix_labels_target", "target"),
)

# Server-side refs, by ref namespace: an object namespace, or `anon:<key>`
# so anonymous pushers do not fight over one `sessions/main`.
refs = Table(
    "refs",
    metadata,
    Column("ref_ns", NS, nullable=False),
    Column("name", String(255), nullable=False),
    Column("target", ID, nullable=False),
    Column("ns", NS, nullable=False),
    Column("public", Boolean, nullable=False),
    PrimaryKeyConstraint("ref_ns", "name"),
)

# Which session objects each ref's chain holds, so fetch finds the heads and the
# lineage rules find where a job is a step.
ref_members = Table(
    "ref_members",
    metadata,
    Column("ref_ns", NS, nullable=False),
    Column("name", String(255), nullable=False),
    Column("session_id", ID, nullable=False),
    # A later step of this chain re-ran the same step (docs/lineage.md §2), marked
    # when the ref moves so that "where is this job a step" is one indexed read.
    Column("superseded", Boolean, nullable=False, default=False),
    PrimaryKeyConstraint("ref_ns", "name", "session_id"),
    Index("ix_ref_members_session", "session_id"),
)

# An account's name is its id: namespaces, projects, memberships and browser
# logins name it. A deleted account keeps its row (deleted_ns set) so that
# its name is never taken again and nothing of it is inherited.
accounts = Table(
    "accounts",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("created_ns", BigInteger, nullable=False),
    Column("deleted_ns", BigInteger),
)

keys = Table(
    "keys",
    metadata,
    Column("fingerprint", String(100), primary_key=True),
    Column("account", String(100), nullable=False, index=True),
    Column("public_key", Text, nullable=False),
    Column("created_ns", BigInteger, nullable=False),
)

projects = Table(
    "projects",
    metadata,
    Column("owner", String(100), nullable=False),
    Column("name", String(100), nullable=False),
    Column("created_ns", BigInteger, nullable=False),
    PrimaryKeyConstraint("owner", "name"),
)

members = Table(
    "members",
    metadata,
    Column("owner", String(100), nullable=False),
    Column("project", String(100), nullable=False),
    Column("account", String(100), nullable=False),
    PrimaryKeyConstraint("owner", "project", "account"),
    Index("ix_members_account", "account"),
)

# Signature nonces seen within the freshness window: replay protection that
# holds across server processes.
nonces = Table(
    "nonces",
    metadata,
    Column("fingerprint", String(100), nullable=False),
    Column("nonce", String(64), nullable=False),
    Column("created", BigInteger, nullable=False, index=True),
    PrimaryKeyConstraint("fingerprint", "nonce"),
)

# Browser logins (docs/protocol.md §8): a one-time link a signed request
# creates, and the cookie session it turns into. Only SHA-256 digests of the
# secrets are kept, so a copy of the database logs nobody in.
web_logins = Table(
    "web_logins",
    metadata,
    Column("digest", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),  # "link" | "cookie"
    Column("account", String(100), nullable=False),
    Column("expires_ns", BigInteger, nullable=False, index=True),
)
