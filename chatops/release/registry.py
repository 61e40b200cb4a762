"""The registry a release goes to: the stack's ECR repository, logged in through the API.

`GetAuthorizationToken` gives a registry password valid for 12 hours, so there is no
`aws ecr get-login-password` step: Docker and Podman get it on stdin (`login
--password-stdin`), Buildah in a temporary auth file deleted after the push.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.exceptions

from chatops.errors import ChatopsError


class RegistryError(ChatopsError):
    pass


@dataclass(frozen=True)
class Credentials:
    """A registry login: where, and the user name and password to present."""

    registry: str  # host[:port], no scheme
    username: str
    password: str = field(repr=False)
    tls_verify: bool = True


def split_repository(url: str) -> tuple[str, str]:
    """`<registry>/<name>` -> (registry, name), e.g. for an ECR repository URL."""
    registry, _, name = url.removeprefix("https://").partition("/")
    if not registry or not name:
        raise RegistryError(f"{url!r} is not a repository URL (<registry>/<name>)")
    return registry, name


def ecr_credentials(ecr: Any) -> Credentials:
    """Log in through the ECR API (GetAuthorizationToken)."""
    try:
        data = ecr.get_authorization_token()["authorizationData"][0]
    except botocore.exceptions.ClientError as error:
        raise RegistryError(
            "cannot log in to ECR: " + str(error.response["Error"].get("Message", error)),
            "the credentials need ecr:GetAuthorizationToken (and push rights on the repository)",
        ) from None
    username, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    registry = str(data["proxyEndpoint"]).removeprefix("https://").removeprefix("http://")
    return Credentials(registry=registry.rstrip("/"), username=username, password=password)


def ecr_has_image(ecr: Any, repository: str, tag: str) -> bool:
    """Whether the ECR `repository` already holds an image tagged `tag`."""
    try:
        found = ecr.describe_images(repositoryName=repository, imageIds=[{"imageTag": tag}])
    except botocore.exceptions.ClientError as error:
        code = error.response["Error"].get("Code", "")
        if code == "ImageNotFoundException":
            return False
        if code == "RepositoryNotFoundException":
            raise RegistryError(
                f"the ECR repository {repository} does not exist",
                "deploy the stack first with `chatops deploy`",
            ) from None
        raise
    return bool(found.get("imageDetails"))


@contextmanager
def auth_directory(credentials: Credentials) -> Iterator[Path]:
    """A private directory holding `config.json` with the login; removed afterwards.

    Docker reads it with `--config DIR`, podman and buildah with `--authfile DIR/config.json`.
    """
    directory = Path(tempfile.mkdtemp(prefix="chatops-auth-"))
    try:
        token = base64.b64encode(f"{credentials.username}:{credentials.password}".encode())
        path = directory / "config.json"
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            json.dump({"auths": {credentials.registry: {"auth": token.decode()}}}, handle)
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)
