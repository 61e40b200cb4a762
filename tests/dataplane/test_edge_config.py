"""The local edge's reading of a distribution: custom error responses, origin headers."""

from __future__ import annotations

from chatops.emulator.dataplane import cloudfront


def test_custom_error_responses_with_a_page_replace_the_origin_answer() -> None:
    config = {
        "CustomErrorResponses": {
            "Quantity": 2,
            "Items": [
                {
                    "ErrorCode": 403,
                    "ResponsePagePath": "/404.html",
                    "ResponseCode": "404",
                    "ErrorCachingMinTTL": 10,
                },
                {"ErrorCode": 500, "ResponsePagePath": "", "ErrorCachingMinTTL": 0},
            ],
        }
    }
    assert cloudfront.error_responses(config) == {
        403: cloudfront.ErrorResponse("/404.html", 404)
    }  # one without a page only sets error caching: the origin's answer stands


def test_a_response_code_defaults_to_the_error_code() -> None:
    config = {"CustomErrorResponses": {"Items": [{"ErrorCode": 404, "ResponsePagePath": "/x"}]}}
    assert cloudfront.error_responses(config) == {404: cloudfront.ErrorResponse("/x", 404)}
    assert cloudfront.error_responses({"CustomErrorResponses": {"Quantity": 0}}) == {}
