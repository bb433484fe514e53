"""MLflow's tracking server app (what `mlflow server` serves) in a process of its own, for tests:
`python support/mlflow_app.py <backend store URI> <artifact root> <port>` serves it on 127.0.0.1.

`mlflow server` itself starts a web server that starts a worker, each importing MLflow: about 8 s before
it answers, where one process serving the same app answers in about 3 s."""

from __future__ import annotations

import os
import sys


def main(store: str, artifacts: str, port: int) -> None:
    from mlflow.server.constants import ARTIFACT_ROOT_ENV_VAR, BACKEND_STORE_URI_ENV_VAR

    # Read when mlflow.server is imported, as `mlflow server` passes them to its workers.
    os.environ[BACKEND_STORE_URI_ENV_VAR] = store
    os.environ[ARTIFACT_ROOT_ENV_VAR] = artifacts
    from mlflow.server import app
    from werkzeug.serving import make_server

    make_server("127.0.0.1", port, app, threaded=True).serve_forever()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
