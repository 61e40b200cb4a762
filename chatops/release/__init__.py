"""`chatops release`: build a version of app/, push it, and put it on the idle colour.

One module per concern:

- `version`: the version, derived from the source (a commit) or given, never a moving tag;
- `snapshots`: local images, content-addressed copies of app/ the local data plane runs;
- `builders`: docker, podman or buildah, found in that order; build and push arguments;
- `registry`: the ECR login through the API, whether a tag is already pushed;
- `tasks`: waiting for the colour's new tasks (and the circuit breaker's verdict);
- `flow`: the release itself, and the snapshot a first local deploy gives both colours.
"""

from chatops.release.builders import (
    Builder,
    BuildFailed,
    NoBuilder,
    build_and_push,
    detect_builder,
    find_builder,
    platform_for,
)
from chatops.release.flow import (
    Artefact,
    Choice,
    Intent,
    NoIdleColour,
    ReleaseHooks,
    ReleaseOptions,
    ReleaseResult,
    UnexpectedChanges,
    app_dir,
    choose_colour,
    first_local_images,
    release,
)
from chatops.release.registry import Credentials, ecr_credentials, ecr_has_image
from chatops.release.snapshots import Snapshot, content_id, image_of, take_snapshot
from chatops.release.tasks import Progress, ReleaseFailed, ReleaseTimeout, TaskWatch
from chatops.release.version import Version, check_tag, resolve_version, version_from_git

__all__ = [
    "Artefact",
    "BuildFailed",
    "Builder",
    "Choice",
    "Credentials",
    "Intent",
    "NoBuilder",
    "NoIdleColour",
    "Progress",
    "ReleaseFailed",
    "ReleaseHooks",
    "ReleaseOptions",
    "ReleaseResult",
    "ReleaseTimeout",
    "Snapshot",
    "TaskWatch",
    "UnexpectedChanges",
    "Version",
    "app_dir",
    "build_and_push",
    "check_tag",
    "choose_colour",
    "content_id",
    "detect_builder",
    "ecr_credentials",
    "ecr_has_image",
    "find_builder",
    "first_local_images",
    "image_of",
    "platform_for",
    "release",
    "resolve_version",
    "take_snapshot",
    "version_from_git",
]
