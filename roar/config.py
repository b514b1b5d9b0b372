"""Configuration: the workspace's `.roar/config.toml`, then the user's, then defaults.

Like git's: a key set in the workspace wins; otherwise the user-level file
(`$XDG_CONFIG_HOME/roar/config.toml`, written by `roar config set --global`)
applies; otherwise the documented default. `roar init` writes every option
commented out, so a fresh workspace follows the user's settings. Reading
uses the standard TOML parser (fast, and cached as JSON); writing uses
tomlkit so the comments survive `roar config set`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from roar.errors import UsageError


class Option(NamedTuple):
    key: str
    default: Any
    help: str


OPTIONS: tuple[Option, ...] = (
    Option("output.quiet", False, "Suppress written files report"),
    Option(
        "output.track_repo_files",
        False,
        "Include list of repo files read in provenance output (`roar show` of a job lists "
        "the inputs that are files of its git commit)",
    ),
    Option("filters.ignore_system_reads", True, "Ignore /sys, /etc, /sbin reads"),
    Option(
        "filters.ignore_package_reads",
        True,
        "Ignore installed package reads (recorded as packages)",
    ),
    Option("filters.ignore_torch_cache", True, "Ignore torch/triton cache"),
    Option("filters.ignore_tmp_files", True, "Ignore /tmp files"),
    Option(
        "filters.ignore_patterns",
        [],
        "Paths or globs never recorded as artifacts (comma-separated, .gitignore-like; "
        "/abs or ~/ paths name that place)",
    ),
    Option("glaas.url", "https://api.glaas.ai", "GLaaS server URL"),
    Option("glaas.web_url", "https://glaas.ai", "GLaaS web UI URL"),
    Option(
        "scope.current",
        "",
        "Scope for register/fetch: anonymous, public, private or owner/project "
        "(empty: private when logged in, else anonymous)",
    ),
    Option("registration.omit.enabled", True, "Enable secret filtering"),
    Option(
        "hash.primary",
        "blake3",
        "Primary hash algorithm: blake3, what b3sum prints (artifact identity everywhere)",
    ),
    Option(
        "hash.also",
        [],
        "Digests recorded beside BLAKE3 in the same read (md5, sha256, sha512; comma-separated): "
        "`roar show <sha256>` then finds the file",
    ),
    Option(
        "logging.level",
        "warning",
        "Log level (debug, info, warning, error); debug shows each tracer run and remote request",
    ),
    Option("run.require_clean", False, "Refuse to run when the git work tree is dirty"),
    Option("s3.endpoint_url", "", "S3-compatible endpoint for s3:// URLs (empty: AWS)"),
    Option("s3.region", "", "Region for s3:// URLs (empty: boto3's default)"),
    Option("tracer.path", "", "A roar-tracer binary to use instead of the installed one"),
    Option(
        "store.fsync", True, "fsync objects and refs as they are written (durable on power loss)"
    ),
)
BY_KEY = {o.key: o for o in OPTIONS}
# Values a key accepts, where it is a choice.
CHOICES: dict[str, tuple[str, ...]] = {
    "hash.primary": ("blake3",),
    "hash.also": ("md5", "sha256", "sha512"),  # each item; roar.objects.job.DIGEST_ALGORITHMS
    "logging.level": ("debug", "info", "warning", "error"),
}
_PRIMARY_HINT = (
    "; artifacts are identified by BLAKE3, what b3sum prints: add sha256 or md5 beside it "
    "with `roar config set hash.also sha256` (or `roar run --hash sha256`)"
)

# roar-cli 0.4.7's keys (its `roar config list`) that mean nothing in roar, and why:
# `roar config get/set` refuses them with the reason instead of storing them silently.
_NO_TELEMETRY = "roar sends no telemetry"
ROAR_CLI_KEYS: dict[str, str] = {
    "output.verbosity": "use output.quiet (quiet) or `roar run -v` (verbose)",
    "analyzers.experiment_tracking": "roar does not inspect experiment trackers",
    "filters.ignore_library_caches": "use filters.ignore_patterns (e.g. ~/.cache/wandb)",
    "cleanup.delete_tmp_writes": "roar never deletes what a command wrote",
    "glaas.query_nonlocal_ids_on_glaas": "commands that need a remote take --remote",
    "glaas.key": "roar signs with ~/.ssh/id_ed25519 or its own key (`roar auth key`)",
    "registration.public_by_default": "use `roar scope use public` or `register --public`",
    "registration.omit.secrets.values": "secret rules are roar's own (roar/capture/secrets.py)",
    "registration.omit.env_vars.names": "secret rules are roar's own (roar/capture/secrets.py)",
    "registration.omit.allowlist.patterns": "secret rules are roar's own",
    "registration.tagging.enabled": "register tags the git commit when it can; no switch",
    "tags.custom_kinds": "roar-cli's compliance tags are not part of roar (use `roar label`)",
    "reversible.enabled": "roar does not keep copies of overwritten files",
    "hash.get": "use hash.also (e.g. `roar config set hash.also sha256`): one list for every job",
    "hash.put": "use hash.also (e.g. `roar config set hash.also sha256`): one list for every job",
    "hash.run": "use hash.also (e.g. `roar config set hash.also sha256`): one list for every job",
    "proxy.enabled": "roar has no S3 proxy; `roar get`/`roar put` record s3:// transfers",
    "tracer.default": "roar has one tracer (seccomp notification, ptrace as the fallback); "
    "tracer.path picks its binary",
    "tracer.fallback_enabled": "roar falls back to ptrace by itself where notification is missing",
    "tracer.banner": "roar prints no tracer banner",
    "runtime.install": "roar installs nothing into the traced interpreter",
    "telemetry.enabled": _NO_TELEMETRY,
    "telemetry.endpoint": _NO_TELEMETRY,
    "git.remote": "roar reads the branch's remote from git itself",
    "git.push_tags_on_register": "register tags the commit locally and pushes nothing to git",
    "hints.enabled": "roar prints no hint blocks",
    "logging.console": "logging.level decides what reaches stderr",
    "logging.file": "roar writes no log file",
}
# Whole groups of roar-cli integrations roar does not have.
ROAR_CLI_GROUPS = {
    "ray": "roar does not instrument Ray",
    "k8s": "roar does not rewrite Kubernetes Jobs",
    "osmo": "roar does not attach to OSMO workflows",
}


def roar_cli_only(key: str) -> str | None:
    """Why a roar-cli key has no meaning here, or None if it is not one."""
    if key in ROAR_CLI_KEYS:
        return ROAR_CLI_KEYS[key]
    return ROAR_CLI_GROUPS.get(key.split(".", 1)[0]) if "." in key else None


def _unknown(key: str) -> UsageError:
    why = roar_cli_only(key)
    if why:
        return UsageError(f"{key} is a roar-cli setting with no meaning in roar: {why}")
    return UsageError(f"unknown config key {key!r} (see `roar config list`)")


# The cache's layout version, shared with tracer/src/config.rs.
CACHE_FORMAT = 3


def _stamp(path: Path) -> str | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


def user_config_dir() -> Path:
    """roar's per-user configuration ($XDG_CONFIG_HOME/roar, else ~/.config/roar)."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "roar"


def user_cache_dir() -> Path:
    """roar's per-user cache ($XDG_CACHE_HOME/roar, else ~/.cache/roar)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "roar"


def default_toml() -> str:
    """The config.toml that `roar init` writes: every option, commented out at its default."""
    lines = [
        "# roar workspace configuration. `roar config list` shows every option; a key set",
        "# here wins over `roar config set --global`, which wins over the default shown.",
        "",
    ]
    section = None
    for opt in OPTIONS:
        head, _, name = opt.key.rpartition(".")
        if head != section:
            if section is not None:
                lines.append("")
            lines.append(f"[{head}]")
            section = head
        lines.append(f"# {opt.help}")
        lines.append(f"# {name} = {_toml_literal(opt.default)}")
    return "\n".join(lines) + "\n"


def _toml_literal(value: Any) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


class Config:
    def __init__(
        self, path: Path, *, fallback: Config | None = None, cache_path: Path | None = None
    ):
        self.path = path
        self.fallback = fallback  # consulted for keys this file does not set
        self._cache = cache_path or path.parent / "cache" / "config.json"
        self._data: dict[str, Any] | None = None

    @classmethod
    def user(cls) -> Config:
        """The user-level configuration (`roar config set --global`)."""
        return cls(user_config_dir() / "config.toml", cache_path=user_cache_dir() / "config.json")

    def _load(self) -> dict[str, Any]:
        if self._data is None:
            cached = self._cached()
            if cached is None:
                sources = self._sources()  # stamped before reading: a later edit is seen
                self._data = self._parse()
                self._write_cache(sources)
            else:
                self._data = cached
        return self._data

    # The parsed file is kept as JSON in the cache, keyed on the identity of
    # the files the configuration comes from (this one, then the fallback's):
    # json is already loaded on every run, tomllib is not. The record also
    # holds every option's resolved value, which the Rust front end reads
    # (tracer/src/config.rs): the options, their defaults and their files
    # stay defined here only.
    def _cache_path(self) -> Path:
        return self._cache

    def _sources(self) -> list[list[str | None]]:
        """[path, stamp] of every file the values come from, this one first."""
        own: list[list[str | None]] = [[str(self.path), _stamp(self.path)]]
        return own + (self.fallback._sources() if self.fallback is not None else [])

    def _cached(self) -> dict[str, Any] | None:
        import json

        try:
            cached = json.loads(self._cache_path().read_text())
        except (OSError, ValueError):
            return None
        if (
            cached.get("format") != CACHE_FORMAT
            or cached.get("sources") != self._sources()
            or not isinstance(cached.get("data"), dict)
        ):
            return None
        return cached["data"]  # type: ignore[no-any-return]

    def _parse(self) -> dict[str, Any]:
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            with open(self.path, "rb") as f:
                return tomllib.load(f)
        except FileNotFoundError:
            return {}
        except tomllib.TOMLDecodeError as e:
            raise UsageError(f"{self.path} is not valid TOML: {e}") from None

    def _write_cache(self, sources: list[list[str | None]]) -> None:
        import json

        try:
            from roar.atomic import write_atomic

            record = {
                "format": CACHE_FORMAT,
                "sources": sources,
                "data": self._data,
                "resolved": {o.key: self.get(o.key) for o in OPTIONS},
                # extra_digests' verdict, which the front end applies as it is.
                "digests": self._digests_verdict(),
            }
            self._cache_path().parent.mkdir(parents=True, exist_ok=True)
            write_atomic(self._cache_path(), json.dumps(record).encode(), fsync=False)
        except (OSError, TypeError, ValueError):
            pass  # an unwritable cache directory, or a value JSON cannot hold

    def _digests_verdict(self) -> dict[str, Any]:
        """`{"also": [...]}` (hash.also checked, sorted) or `{"error": message}`."""
        try:
            return {"also": extra_digests(self)}
        except UsageError as e:
            return {"error": str(e)}

    _UNSET = object()

    def _own(self, key: str) -> Any:
        node: Any = self._load()
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return self._UNSET
            node = node[part]
        if key not in BY_KEY and not isinstance(node, dict) and roar_cli_only(key):
            raise _unknown(key)
        return node

    def get(self, key: str) -> Any:
        return self.get_with_origin(key)[0]

    def get_with_origin(self, key: str) -> tuple[Any, str]:
        """(value, where it comes from: this file's path, the fallback's, or "default")."""
        value = self._own(key)
        if value is not self._UNSET:
            return value, str(self.path)
        if self.fallback is not None:
            return self.fallback.get_with_origin(key)
        if key in BY_KEY:
            return BY_KEY[key].default, "default"
        raise _unknown(key)

    def items(self) -> list[tuple[str, Any]]:
        return [(o.key, self.get(o.key)) for o in OPTIONS]

    def set(self, key: str, text: str) -> Any:
        """Set `key` from its command-line text, typed like its default; returns the value."""
        import tomlkit

        if key not in BY_KEY:
            raise _unknown(key)
        value = parse_value(BY_KEY[key].default, text, key)
        if key == "hash.also":
            value = [v.lower() for v in value]
        check_choice(key, value)
        try:
            doc = tomlkit.parse(self.path.read_text())
        except FileNotFoundError:
            doc = tomlkit.document()
        *heads, name = key.split(".")
        table: Any = doc
        for h in heads:
            if h not in table:
                table[h] = tomlkit.table()
            table = table[h]
        table[name] = value
        from roar.atomic import write_atomic

        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, tomlkit.dumps(doc).encode())
        self._data = None
        self._load()  # re-cache now, so the next `roar run` finds it fresh
        return value


def check_choice(key: str, value: Any) -> None:
    """Raise UsageError unless `value` (each item, for a list) is one `key` takes."""
    if key not in CHOICES:
        return
    for item in value if isinstance(value, list) else [value]:
        if item not in CHOICES[key]:
            hint = _PRIMARY_HINT if key == "hash.primary" else ""
            raise UsageError(f"{key} takes {', '.join(CHOICES[key])}, not {item!r}{hint}")


def extra_digests(config: Config) -> list[str]:
    """The digests to record beside BLAKE3: `hash.also`, checked, lowercased, sorted.

    Checks `hash.primary` too, where a hand-edited file may hold anything: raises
    UsageError naming the file for a primary other than blake3 or an unknown digest.
    `roar run` applies this verdict through the configuration cache (`_write_cache`;
    tracer/src/config.rs adds `--hash` to it).
    """
    primary, origin = config.get_with_origin("hash.primary")
    if primary != "blake3":
        raise UsageError(
            f"hash.primary = {primary} in {origin}: roar takes blake3 only{_PRIMARY_HINT}"
        )
    also, origin = config.get_with_origin("hash.also")
    if isinstance(also, str):
        also = [also]
    if not isinstance(also, list):
        raise UsageError(f'hash.also in {origin} must be a list such as ["sha256"]')
    wanted = {str(a).lower() for a in also}
    wanted.discard("blake3")
    try:
        check_choice("hash.also", sorted(wanted))
    except UsageError as e:
        raise UsageError(f"{e} (in {origin})") from None
    return sorted(wanted)


def parse_value(default: Any, text: str, key: str) -> Any:
    if isinstance(default, bool):
        lowered = text.lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise UsageError(f"{key} takes true or false, not {text!r}")
    if isinstance(default, int):
        try:
            return int(text)
        except ValueError:
            raise UsageError(f"{key} takes an integer, not {text!r}") from None
    if isinstance(default, list):
        return [p for p in (s.strip() for s in text.split(",")) if p]
    return text
