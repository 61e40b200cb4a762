"""CloudFront: where moto differs from AWS, and the patches that close the gap."""

from __future__ import annotations

from typing import Any

from moto.cloudfront import exceptions as cloudfront_exceptions
from moto.cloudfront import models as cloudfront_models
from moto.cloudfront import responses as cloudfront_responses
from moto.cloudfront import urls as cloudfront_urls
from moto.core.responses import ActionResult, EmptyResult
from moto.core.utils import utcnow

from chatops.emulator.patches.registry import Patch, Revert, chain, replace


def _install_default_certificate() -> Revert:
    cls = cloudfront_models.ViewerCertificate
    original = cls.__init__

    def __init__(self: Any, config: dict[str, Any]) -> None:
        original(self, config)
        if str(self.cloud_front_default_certificate).lower() == "true" and not (
            config.get("ACMCertificateArn") or config.get("IAMCertificateId")
        ):
            # AWS describes the *.cloudfront.net certificate with no ACM/IAM fields.
            self.iam_certificate_id = None
            self.acm_certificate_arn = None
            self.certificate = None
            self.ssl_support_method = config.get("SSLSupportMethod") or "vip"

    return replace(cls, "__init__", __init__)


def _install_cache_policy_behaviours() -> Revert:
    cls = cloudfront_models.DefaultCacheBehaviour
    original = cls.__init__

    def __init__(self: Any, config: dict[str, Any]) -> None:
        legacy = "ForwardedValues" in config
        original(self, config)
        if config.get("CachePolicyId") and not legacy:
            # A behaviour driven by a cache policy has no legacy ForwardedValues.
            self.forwarded_values = None

    return replace(cls, "__init__", __init__)


def _install_origin_access_control() -> Revert:
    cls = cloudfront_models.Origin
    original = cls.__init__

    def __init__(self: Any, origin: dict[str, Any]) -> None:
        original(self, origin)
        self.origin_access_control_id = origin.get("OriginAccessControlId") or ""

    return replace(cls, "__init__", __init__)


class NoSuchResponseHeadersPolicy(cloudfront_exceptions.CloudFrontException):
    code = "NoSuchResponseHeadersPolicy"

    def __init__(self) -> None:
        super().__init__("The response headers policy does not exist.")


_RESPONSE_HEADERS_PATHS = {
    "{0}/2020-05-31/response-headers-policy$": cloudfront_responses.CloudFrontResponse.dispatch,
    "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)$": (
        cloudfront_responses.CloudFrontResponse.dispatch
    ),
    "{0}/2020-05-31/response-headers-policy/(?P<policy_id>[^/]+)/config$": (
        cloudfront_responses.CloudFrontResponse.dispatch
    ),
}


def _install_response_headers_policies() -> Revert:
    cls = cloudfront_responses.CloudFrontResponse

    def policies(response: Any) -> dict[str, dict[str, Any]]:
        backend = response.backend
        if not hasattr(backend, "response_headers_policies"):
            backend.response_headers_policies = {}
        store: dict[str, dict[str, Any]] = backend.response_headers_policies
        return store

    def find(response: Any) -> dict[str, Any]:
        policy = policies(response).get(response._get_param("Id"))
        if policy is None:
            raise NoSuchResponseHeadersPolicy()
        return policy

    def described(policy: dict[str, Any]) -> Any:
        return ActionResult(
            {
                "ResponseHeadersPolicy": {
                    "Id": policy["Id"],
                    "LastModifiedTime": policy["LastModifiedTime"],
                    "ResponseHeadersPolicyConfig": policy["Config"],
                },
                "ETag": policy["ETag"],
            }
        )

    def create(self: Any) -> Any:
        policy = {
            "Id": cloudfront_models.random_id(),
            "LastModifiedTime": utcnow(),
            "Config": self._get_param("ResponseHeadersPolicyConfig", {}),
            "ETag": cloudfront_models.random_id(),
        }
        policies(self)[policy["Id"]] = policy
        result = described(policy)
        result.result["Location"] = (
            f"https://cloudfront.amazonaws.com/2020-05-31/response-headers-policy/{policy['Id']}"
        )
        return result

    def get(self: Any) -> Any:
        return described(find(self))

    def get_config(self: Any) -> Any:
        policy = find(self)
        return ActionResult(
            {"ResponseHeadersPolicyConfig": policy["Config"], "ETag": policy["ETag"]}
        )

    def update(self: Any) -> Any:
        policy = find(self)
        policy.update(
            Config=self._get_param("ResponseHeadersPolicyConfig", {}),
            LastModifiedTime=utcnow(),
            ETag=cloudfront_models.random_id(),
        )
        return described(policy)

    def delete(self: Any) -> Any:
        policies(self).pop(find(self)["Id"])
        return EmptyResult()

    def list_policies(self: Any) -> Any:
        items = [
            {
                "Type": "custom",
                "ResponseHeadersPolicy": {
                    "Id": p["Id"],
                    "LastModifiedTime": p["LastModifiedTime"],
                    "ResponseHeadersPolicyConfig": p["Config"],
                },
            }
            for p in policies(self).values()
        ]
        return ActionResult(
            {"ResponseHeadersPolicyList": {"MaxItems": 100, "Quantity": len(items), "Items": items}}
        )

    reverts = [
        replace(cls, "create_response_headers_policy", create),
        replace(cls, "get_response_headers_policy", get),
        replace(cls, "get_response_headers_policy_config", get_config),
        replace(cls, "update_response_headers_policy", update),
        replace(cls, "delete_response_headers_policy", delete),
        replace(cls, "list_response_headers_policies", list_policies),
    ]
    added = [path for path in _RESPONSE_HEADERS_PATHS if path not in cloudfront_urls.url_paths]
    cloudfront_urls.url_paths.update(_RESPONSE_HEADERS_PATHS)

    def remove_paths() -> None:
        for path in added:
            cloudfront_urls.url_paths.pop(path, None)

    return chain(*reverts, remove_paths)


PATCHES: tuple[Patch, ...] = (
    Patch(
        "cloudfront-cache-policy-behaviours",
        "Cache behaviours that use a cache policy are described with legacy ForwardedValues: "
        "every plan removes them.",
        _install_cache_policy_behaviours,
    ),
    Patch(
        "cloudfront-origin-access-control",
        "Origins lose OriginAccessControlId: every plan re-attaches the origin access control.",
        _install_origin_access_control,
    ),
    Patch(
        "cloudfront-response-headers-policies",
        "Response headers policies are not implemented (the API answers 404): a distribution "
        "with its own security headers cannot be deployed.",
        _install_response_headers_policies,
    ),
    Patch(
        "cloudfront-default-certificate",
        "The default certificate is described with SSLSupportMethod 'sni-only' and empty "
        "certificate fields: every plan shows a change.",
        _install_default_certificate,
    ),
)
