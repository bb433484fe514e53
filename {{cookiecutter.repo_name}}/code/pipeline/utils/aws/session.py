"""The boto3 session every AWS call of the pipeline goes through."""

from __future__ import annotations

from typing import Any

import boto3


class EndpointSession(boto3.Session):
    """A boto3 session whose clients all talk to one endpoint (moto, LocalStack...) when one is given.

    boto3 reads `AWS_ENDPOINT_URL` from the environment by itself, but the endpoint may also come from the
    config file; passing it to every client keeps both ways equivalent, including for the SDK's own clients.
    """

    def __init__(self, region: str, endpoint_url: str | None = None) -> None:
        super().__init__(region_name=region)
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:
        if self.endpoint_url and kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self.endpoint_url
        return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        if self.endpoint_url and kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self.endpoint_url
        return super().resource(*args, **kwargs)
