"""The boto3 session every AWS call of the pipeline goes through."""

from __future__ import annotations

import copy
import threading
from functools import cache
from typing import Any

import boto3
import botocore.hooks
import botocore.loaders
import botocore.session

_loader_lock = threading.Lock()
_shared_loader: botocore.loaders.Loader | None = None


@cache
def _builtin_handlers() -> botocore.hooks.HierarchicalEmitter:
    """An event emitter holding botocore's built-in handlers and nothing else. A botocore session registers
    those ~250 handlers one by one (16 ms); a session started from a copy of this one takes about 1 ms. Each
    session gets its own copy, so what one registers (boto3's handlers, a test's hooks) stays its own."""
    emitter = botocore.hooks.HierarchicalEmitter()
    botocore.session.Session(event_hooks=emitter)  # registers the built-in handlers into `emitter`
    return emitter


def _share_loader(core: botocore.session.Session) -> botocore.loaders.Loader:
    """One loader of service definitions for the whole process, the first session's. Each botocore session
    otherwise parses the service JSON again (SageMaker's is several MB): about 0.15 s a client, and the SDK
    makes five clients per session. The loader caches what it parsed; it holds no credentials or region."""
    global _shared_loader
    with _loader_lock:
        if _shared_loader is None:
            _shared_loader = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _shared_loader)
        return _shared_loader


class EndpointSession(boto3.Session):
    """A boto3 session whose clients all talk to one endpoint (moto, LocalStack...) when one is given.

    boto3 reads `AWS_ENDPOINT_URL` from the environment by itself, but the endpoint may also come from the
    config file; passing it to every client keeps both ways equivalent, including for the SDK's own clients.
    """

    def __init__(self, region: str, endpoint_url: str | None = None) -> None:
        core = botocore.session.Session(
            event_hooks=copy.copy(_builtin_handlers()), include_builtin_handlers=False
        )
        loader = _share_loader(core)
        paths = list(loader.search_paths)
        super().__init__(region_name=region, botocore_session=core)
        # boto3 adds its own data folder to the loader's search paths on every session: once is enough.
        loader.search_paths[:] = list(dict.fromkeys([*paths, *loader.search_paths]))
        self.endpoint_url = endpoint_url

    def client(self, *args: Any, **kwargs: Any) -> Any:
        if self.endpoint_url and kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self.endpoint_url
        return super().client(*args, **kwargs)

    def resource(self, *args: Any, **kwargs: Any) -> Any:
        if self.endpoint_url and kwargs.get("endpoint_url") is None:
            kwargs["endpoint_url"] = self.endpoint_url
        return super().resource(*args, **kwargs)
