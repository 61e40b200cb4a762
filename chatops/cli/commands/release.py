from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.text import Text

from chatops.cli import options
from chatops.cli.common import open_stack, prepare
from chatops.cli.ui import ApplyView, confirm, console, err_console, print_json
from chatops.release import Intent, Progress, ReleaseHooks, ReleaseOptions, release
from chatops.terraform.models import UIEvent
from chatops.traffic import parse_colour


class ReleaseView:
    """The release as it happens: build output, Terraform's progress, the new tasks."""

    def __init__(self, out: Console, *, yes: bool) -> None:
        self.out = out
        self.yes = yes
        self.apply: ApplyView | None = None
        self.live: Live | None = None
        self.line = Text("")
        self.last = ""

    def hooks(self) -> ReleaseHooks:
        return ReleaseHooks(
            confirm=self.confirm,
            step=self.step,
            build_line=self.build_line,
            plan_event=self.plan_event,
            apply_event=self.apply_event,
            apply_total=self.start_apply,
            observe=self.observe,
        )

    def confirm(self, intent: Intent) -> None:
        artefact, choice = intent.artefact, intent.choice
        self.out.print(
            f"Release [bold]{artefact.version.tag}[/] ({artefact.version.origin}) to "
            f"[bold]{choice.colour}[/] on {intent.target}"
        )
        running = intent.previous_version or "nothing"
        if running == "unreleased":
            running = "nothing yet"
        self.out.print(
            f"  {choice.colour}: {choice.weight}% of new connections, runs {running}; "
            f"will run {intent.tasks} task(s) of the new version"
        )
        if artefact.local:
            made = "reused: same content" if artefact.exists else "new"
            self.out.print(f"  image: {artefact.image} (snapshot of app/, {made})")
        elif artefact.exists:
            self.out.print(f"  image: {artefact.image} (already in ECR: not rebuilt)")
        else:
            builder = artefact.builder.name if artefact.builder else "?"
            self.out.print(
                f"  image: {artefact.image} (app/ built for {artefact.platform} with "
                f"{builder}, pushed to ECR)"
            )
        if choice.risk:
            self.out.print(f"[bold yellow]Warning:[/] {choice.risk}.")
        confirm(f"Release {artefact.version.tag} to {choice.colour}?", yes=self.yes, what="release")

    def step(self, message: str) -> None:
        self._stop_live()
        self.out.print(message)

    def build_line(self, line: str) -> None:
        err_console.print(f"  {line}", style="dim", markup=False, highlight=False)

    def plan_event(self, event: UIEvent) -> None:
        pass

    def start_apply(self, total: int) -> None:
        self.apply = ApplyView("Applying", total=total, out=self.out).__enter__()

    def apply_event(self, event: UIEvent) -> None:
        if self.apply is not None:
            self.apply.handle(event)

    def observe(self, progress: Progress) -> None:
        if self.apply is not None:
            self.apply.__exit__(None, None, None)
            self.apply = None
        text = (
            f"{progress.elapsed:4.0f}s: {progress.running}/{progress.wanted} new task(s) "
            f"running, {progress.healthy}/{progress.wanted} serving"
            + (f", {progress.starting} starting" if progress.starting else "")
            + (f", {progress.old} old" if progress.old else "")
            + (f", {progress.stopped} stopped ({progress.note})" if progress.stopped else "")
        )
        if self.out.is_terminal:
            if self.live is None:
                self.live = Live(self.line, console=self.out, refresh_per_second=4)
                self.live.__enter__()
            self.line.plain = text
            self.live.update(self.line)
        elif text.split(": ", 1)[1] != self.last:
            self.out.print(text, soft_wrap=True)  # one line per change in CI logs
        self.last = text.split(": ", 1)[1]

    def _stop_live(self) -> None:
        if self.live is not None:
            self.live.__exit__(None, None, None)
            self.live = None

    def close(self) -> None:
        if self.apply is not None:
            self.apply.__exit__(None, None, None)
            self.apply = None
        self._stop_live()


def release_command(
    to: Annotated[
        str | None,
        typer.Option("--to", help="The colour to release to. Default: the idle one (weight 0)."),
    ] = None,
    version: Annotated[
        str | None,
        typer.Option(
            "--version",
            help="Name this build (an image tag). Default: the commit that last changed a "
            "clean app/. Not with --local (a snapshot is named by its content).",
        ),
    ] = None,
    local: options.Local = False,
    directory: options.Dir = None,
    profile: options.Profile = None,
    region: options.Region = None,
    var: options.Vars = None,
    var_file: options.VarFiles = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Release onto the colour that receives traffic."),
    ] = False,
    wait: Annotated[
        bool,
        typer.Option("--wait/--no-wait", help="Wait until the new tasks run and serve."),
    ] = True,
    timeout: Annotated[
        float, typer.Option("--timeout", min=1, help="Seconds to wait at most.")
    ] = 600,
    reason: options.Reason = None,
    yes: options.Yes = False,
    json_output: options.Json = False,
) -> None:
    """Build app/ as a new version and put it on the idle colour, for a rollout.

    On AWS the version is the commit that last changed app/ (which must have
    no uncommitted change), or --version. app/Dockerfile is built for the
    stack's CPU architecture with docker, podman or buildah (the first found)
    and pushed to the stack's ECR repository; a tag already there is reused.
    With --local the image is a snapshot of app/: no builder needed. Then
    only the colour's task definition and service are applied, the image is
    recorded for Terraform, and the command waits until the new tasks serve.
    Releasing onto the colour that holds traffic needs --force.

    Examples:

      chatops release --local --yes     # edit app/, then release it locally

      chatops release --reason "fix typing"    # build, push, deploy
    """
    chosen = parse_colour(to) if to is not None else None
    stack = open_stack(
        local=local, directory=directory, profile=profile, region=region, emulator="require"
    )
    out = err_console if json_output else console
    prepare(stack)
    view = ReleaseView(out, yes=yes)
    try:
        result = release(
            stack,
            ReleaseOptions(
                to=chosen,
                version=version,
                force=force,
                variables=options.variables(var),
                var_files=var_file or [],
                wait=wait,
                timeout=timeout,
                reason=reason,
            ),
            view.hooks(),
        )
    finally:
        view.close()
    if json_output:
        print_json(result.to_json())
        return
    if not result.changed:
        console.print(f"{result.colour} already runs {result.version}.")
    elif result.progress is None:
        console.print(f"Released {result.version} to {result.colour} (not waiting for its tasks).")
    else:
        console.print(
            f"[green]Released[/] {result.version} to {result.colour} in {result.seconds:.0f}s: "
            f"{result.progress.healthy} task(s) serving."
        )
    if result.next_command:
        console.print(f"Next: [bold]{result.next_command}[/]")
