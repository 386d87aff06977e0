"""The test bucket on the moto S3 server the session starts (``s3_endpoint``)."""

from __future__ import annotations

S3_BUCKET = "sayso-test"
S3_KEY = "test"


def s3_overrides(endpoint: str, prefix: str) -> dict[str, object]:
    """Settings that put blobs under ``prefix`` in the test bucket."""
    return {
        "storage_url": f"s3://{S3_BUCKET}/{prefix}",
        "s3_endpoint_url": endpoint,
        "s3_access_key_id": S3_KEY,
        "s3_secret_access_key": S3_KEY,
        "s3_region": "us-east-1",
    }
