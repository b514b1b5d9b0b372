"""`roar telemetry`: roar-cli's switch for its usage telemetry. roar has none (it sends
nothing anywhere but the remotes you push to), so each form says so and succeeds,
and scripts that turn roar-cli's telemetry off keep working."""

from __future__ import annotations

import click

NONE = "roar has no telemetry: it sends nothing, so there is nothing to switch on or off"


@click.command()
@click.option("--status", is_flag=True, help="Show telemetry status (the default).")
@click.option("--print", "print_", is_flag=True, help="Print the next payload (there is none).")
@click.option("--disable", is_flag=True, help="Accepted: there is nothing to disable.")
@click.option("--enable", is_flag=True, help="Accepted: there is nothing to enable.")
@click.option("--endpoint", metavar="URL", help="Accepted and not used: nothing is sent.")
def telemetry(
    status: bool, print_: bool, disable: bool, enable: bool, endpoint: str | None
) -> None:
    """Telemetry status, as roar-cli's `telemetry` prints it: roar has none."""
    if print_:  # roar-cli, observed: `Error: No telemetry payload would be uploaded: <why>.`
        raise click.ClickException("No telemetry payload would be uploaded: roar has no telemetry.")
    if disable:
        click.echo(f"Telemetry disabled ({NONE}).")
    elif enable:
        click.echo(f"Telemetry not enabled: {NONE}.")
    elif endpoint is not None:
        click.echo(f"Endpoint not used: {NONE}.")
    else:
        click.echo(f"Telemetry: disabled\nUploads: disabled\n({NONE}.)")
