from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chatops.cli import options
from chatops.cli.common import open_stack
from chatops.cli.ui import console, print_json
from chatops.site import PublishReport, publish_site

app = typer.Typer(
    name="site",
    help="The web client in the site bucket that CloudFront serves.",
    no_args_is_help=True,
)


def render_publish(report: PublishReport) -> None:
    if not report.uploaded and not report.deleted and not report.unchanged:
        console.print(f"No web client in {report.source}: nothing published.")
        return
    line = (
        f"Published the web client to s3://{report.bucket}: {len(report.uploaded)} uploaded, "
        f"{report.unchanged} unchanged, {len(report.deleted)} removed"
    )
    if report.invalidation_id:
        line += f"; CloudFront invalidation {report.invalidation_id}"
    console.print(line + ".")


@app.command()
def publish(
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    source: Annotated[
        Path | None,
        typer.Option(
            "--source",
            file_okay=False,
            exists=True,
            help="Publish this directory instead of app/web.",
        ),
    ] = None,
    json_output: options.Json = False,
) -> None:
    """Upload the web client alone (deploy does it too): new and changed files, with
    content types and cache headers; files gone from it are removed; on AWS the
    distribution is invalidated."""
    stack = open_stack(local=local, directory=directory, profile=profile, region=region)
    report = publish_site(stack, source)
    if json_output:
        print_json(report.to_json())
    else:
        render_publish(report)
