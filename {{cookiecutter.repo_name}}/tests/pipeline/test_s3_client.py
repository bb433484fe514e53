"""The S3 client against moto and against a local folder behaves the same."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from utils.aws.s3_client import S3Client, S3Location, join
from utils.aws.session import EndpointSession

BUCKET = "data-bucket"


@pytest.fixture(params=["s3", "local"])
def base(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "local":
        yield str(tmp_path / "store")
        return
    endpoint = request.getfixturevalue("moto_endpoint")
    session = EndpointSession("eu-west-1", endpoint)
    session.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    yield f"s3://{BUCKET}/prefix"
    s3 = session.client("s3")
    for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        s3.delete_object(Bucket=BUCKET, Key=obj["Key"])
    s3.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def client(request: pytest.FixtureRequest) -> S3Client:
    endpoint = request.getfixturevalue("moto_endpoint")
    return S3Client(EndpointSession("eu-west-1", endpoint))


def test_text_round_trips_and_lists_under_a_prefix(client: S3Client, base: str) -> None:
    client.put_text(join(base, "a", "one.csv"), "x,y\n1,2\n")
    client.put_text(join(base, "a", "b", "two.csv"), "z\n")

    assert client.get_text(join(base, "a", "one.csv")) == "x,y\n1,2\n"
    assert client.list(join(base, "a")) == [join(base, "a", "b", "two.csv"), join(base, "a", "one.csv")]
    assert client.exists(join(base, "a", "one.csv"))
    assert not client.exists(join(base, "missing.csv"))


def test_files_upload_download_and_copy(client: S3Client, base: str, tmp_path: Path) -> None:
    source = tmp_path / "model.tar.gz"
    source.write_bytes(b"\x1f\x8b archive")

    client.upload(source, join(base, "model", "model.tar.gz"))
    client.copy(join(base, "model", "model.tar.gz"), join(base, "copy", "model.tar.gz"))
    fetched = client.download(join(base, "copy", "model.tar.gz"), tmp_path / "out" / "model.tar.gz")

    assert fetched.read_bytes() == b"\x1f\x8b archive"


def test_copy_moves_data_between_a_local_folder_and_s3(
    client: S3Client, moto_endpoint: str, tmp_path: Path
) -> None:
    session = EndpointSession("eu-west-1", moto_endpoint)
    session.client("s3").create_bucket(
        Bucket="cross", CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    local = tmp_path / "raw.csv"
    local.write_text("id\n1\n")

    client.copy(str(local), "s3://cross/raw.csv")
    client.copy("s3://cross/raw.csv", str(tmp_path / "back.csv"))

    assert (tmp_path / "back.csv").read_text() == "id\n1\n"


def test_s3_uris_parse_into_bucket_and_key() -> None:
    assert S3Location.parse("s3://bucket/a/b.csv") == S3Location("bucket", "a/b.csv")
    assert S3Location.parse("s3://bucket/a/b.csv").uri == "s3://bucket/a/b.csv"
    with pytest.raises(ValueError, match="not an S3 URI"):
        S3Location.parse("relative/x.csv")


class FlakyS3(ThreadingHTTPServer):
    """An S3 endpoint that answers each GET with the next status of `answers`, then 200 with a body."""

    def __init__(self, answers: list[tuple[int, str]]) -> None:
        self.answers = answers
        self.requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.requests += 1
                status, code = server.answers.pop(0) if server.answers else (200, "")
                body = (
                    f"<Error><Code>{code}</Code><Message>{code}</Message></Error>" if code else "payload"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    def __enter__(self) -> FlakyS3:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.shutdown()
        self.server_close()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def test_a_throttled_read_is_retried_until_it_succeeds() -> None:
    with FlakyS3([(503, "SlowDown"), (503, "SlowDown")]) as s3:
        text = S3Client(EndpointSession("eu-west-1", s3.endpoint)).get_text("s3://bucket/key.csv")

    assert text == "payload"
    assert s3.requests == 3


def test_a_refused_read_fails_at_once_with_the_service_error() -> None:
    with FlakyS3([(403, "AccessDenied")]) as s3, pytest.raises(ClientError, match="AccessDenied"):
        S3Client(EndpointSession("eu-west-1", s3.endpoint)).get_text("s3://bucket/key.csv")

    assert s3.requests == 1


def test_an_endpoint_session_sends_every_client_to_the_endpoint() -> None:
    session = EndpointSession("eu-west-1", "http://127.0.0.1:1")

    assert session.client("s3").meta.endpoint_url == "http://127.0.0.1:1"
    assert session.client("sagemaker").meta.endpoint_url == "http://127.0.0.1:1"
    assert boto3.Session(region_name="eu-west-1").client("s3").meta.endpoint_url != "http://127.0.0.1:1"


def test_every_session_checks_requests_as_botocore_does_and_keeps_its_own_hooks_to_itself() -> None:
    closed = "http://127.0.0.1:1"  # nothing answers: a request that left the process would fail to connect
    once = Config(retries={"total_max_attempts": 1})
    first, second = EndpointSession("eu-west-1", closed), EndpointSession("eu-west-1", closed)

    def refuse(**_: object) -> None:
        raise RuntimeError("the first session's hook")

    first.events.register("before-call.s3.HeadObject", refuse)

    # botocore's own checks run before any request (here its bucket name check).
    with pytest.raises(ParamValidationError, match="Invalid bucket name"):
        second.client("s3", config=once).head_object(Bucket="no/slashes", Key="key")
    with pytest.raises(RuntimeError, match="the first session's hook"):
        first.client("s3", config=once).head_object(Bucket=BUCKET, Key="key")
    with pytest.raises(EndpointConnectionError):
        second.client("s3", config=once).head_object(Bucket=BUCKET, Key="key")
