"""`roar auth key|status`, `roar login`, `roar logout`, `roar whoami`."""

from __future__ import annotations

import time

import click


def _remote(remote_name: str | None):  # type: ignore[no-untyped-def]
    from roar.remote.remotes import get_remote
    from roar.workspace import Workspace

    return get_remote(Workspace.find(), remote_name)


@click.group()
def auth() -> None:
    """Your signing key and logins."""


@auth.command("key")
def key() -> None:
    """Print your public key (creating one if needed), to paste when signing up."""
    from roar.identity.keys import load_key

    click.echo(load_key().public.openssh)


@auth.command("register")
def register() -> None:
    """Print your public key to paste when signing up (the seeds' name for `auth key`)."""
    from roar.identity.keys import load_key

    click.echo(load_key().public.openssh)


@auth.command("test")
@click.option("--remote", "remote_name")
@click.option("--json", "as_json", is_flag=True)
def test(remote_name: str | None, as_json: bool) -> None:
    """Check that the GLaaS remote answers and whether your key has an account there."""
    from roar.cli.output import print_json
    from roar.identity.keys import load_key
    from roar.remote.client import RemoteClient

    r = _remote(remote_name)
    k = load_key()
    info = RemoteClient(r.url, k, "private").whoami()  # RemoteError (exit 8) if unreachable
    account = info.get("account")
    if as_json:
        print_json(
            {
                "url": r.url,
                "reachable": True,
                "fingerprint": k.public.fingerprint,
                "account": account,
            }
        )
        return
    click.echo(f"GLaaS at {r.url}: reachable")
    if account:
        click.echo(f"key {k.public.fingerprint}: account {account}")
    else:
        click.echo(f"key {k.public.fingerprint}: no account yet (`roar login --name <you>`)")


@auth.command("status")
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Which key signs requests, and where you are logged in."""
    from roar.cli.output import print_json
    from roar.errors import UsageError
    from roar.identity.keys import load_key
    from roar.remote.logins import all_logins

    try:
        k = load_key(create=False)
        info = {"key": str(k.path), "fingerprint": k.public.fingerprint}
    except UsageError:
        info = {"key": None, "fingerprint": None}
    logins = [{"url": lg.url, "account": lg.account} for lg in all_logins()]
    if as_json:
        print_json({**info, "logins": logins})
        return
    if info["key"] is None:
        click.echo("no key yet (`roar auth key` creates one)")
    else:
        click.echo(f"key: {info['key']} ({info['fingerprint']})")
    for lg in logins:
        click.echo(f"logged in to {lg['url']} as {lg['account']}")
    if not logins:
        click.echo("not logged in (requests act in the anonymous scope)")


@click.command()
@click.option("--name", help="Sign up with this account name if the key has no account yet.")
@click.option("--remote", "remote_name")
@click.option("--web", is_flag=True, help="Also print a one-time link that logs a browser in.")
def login(name: str | None, remote_name: str | None, web: bool) -> None:
    """Log in to a remote with your key (signing up with --name)."""
    from roar.errors import RemoteError
    from roar.identity.keys import load_key
    from roar.remote.client import RemoteClient
    from roar.remote.logins import Login, save_login
    from roar.remote.remotes import web_url
    from roar.workspace import Workspace

    r = _remote(remote_name)
    k = load_key()
    client = RemoteClient(r.url, k, "private")
    account = client.whoami().get("account")
    if account is not None and name is not None and name != account:
        raise RemoteError(
            f"key {k.public.fingerprint} already belongs to account {account} on {r.url}, "
            f"not {name}; log in without --name, or use another key"
        )
    if account is None:
        if name is None:
            raise RemoteError(
                f"no account on {r.url} has key {k.public.fingerprint}; "
                "sign up with `roar login --name <you>`"
            )
        account = client.sign_up(name)["account"]
        click.echo(f"signed up as {account} on {r.url}")
    save_login(Login(r.url, account, k.public.fingerprint))
    click.echo(f"logged in to {r.url} as {account}")
    if web:
        link = client.web_login()
        minutes = max(1, round((link["expires_ns"] - time.time_ns()) / 60e9))
        click.echo(f"open in your browser within {minutes} min (works once):")
        click.echo(f"{web_url(Workspace.find(), r)}{link['path']}")


@click.command()
@click.option("--remote", "remote_name")
def logout(remote_name: str | None) -> None:
    """Forget the login to a remote (requests then act anonymously)."""
    from roar.remote.logins import forget_login

    r = _remote(remote_name)
    if forget_login(r.url):
        click.echo(f"logged out of {r.url}")
    else:
        click.echo(f"not logged in to {r.url}")


@click.command()
@click.option("--remote", "remote_name")
@click.option("--json", "as_json", is_flag=True)
def whoami(remote_name: str | None, as_json: bool) -> None:
    """Ask the remote who your key belongs to."""
    from roar.cli.output import print_json
    from roar.identity.keys import load_key
    from roar.remote.client import RemoteClient
    from roar.remote.logins import get_login

    r = _remote(remote_name)
    logged_in = get_login(r.url)
    scope = "private" if logged_in else "anonymous"
    info = RemoteClient(r.url, load_key(), scope).whoami()
    info["url"] = r.url
    if as_json:
        print_json(info)
        return
    if info.get("account"):
        click.echo(f"{info['account']} on {r.url}")
    else:
        click.echo(f"anonymous on {r.url} (key {info['fingerprint']})")


# roar-cli's `roar auth login|logout` are its top-level `login`/`logout`: the same here.
auth.add_command(login, "login")
auth.add_command(logout, "logout")
