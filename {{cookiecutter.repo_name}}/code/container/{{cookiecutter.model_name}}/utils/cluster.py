"""The hosts of a training job, as the SageMaker training toolkit names them (SM_HOSTS, SM_CURRENT_HOST), and
how they end together.

With `instance_count` above 1, SageMaker (and local mode, as `algo-1`, `algo-2`, ...) starts the same job on
every host. The first host in name order leads: it alone writes the model. The others do their share and then
wait for the leader before they exit, because a host that exits early ends the job for all of them in local
mode (Compose stops the others). The leader holds a TCP port open while it works; a follower connects to it
and waits until the leader closes it, so a failed leader releases its followers as well.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from utils.errors import JobError

# The leader's "still working" port: any port the job's hosts reach each other on; TRAINING_CLUSTER_PORT
# overrides it (two jobs sharing one machine's network, as in tests).
PORT = 7520
CONNECT_SECONDS = 300.0  # how long a follower keeps trying to reach a leader that is starting


@dataclass(frozen=True)
class Cluster:
    hosts: tuple[str, ...]
    current_host: str

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Cluster:
        """The toolkit's host list; one host (this one) when the variables are unset, as outside SageMaker."""
        variables = os.environ if environ is None else environ
        current = variables.get("SM_CURRENT_HOST") or "algo-1"
        try:
            hosts = tuple(json.loads(variables.get("SM_HOSTS") or "[]")) or (current,)
        except ValueError:
            raise JobError(f"SM_HOSTS is not a JSON list of host names: {variables['SM_HOSTS']!r}") from None
        if current not in hosts:
            raise JobError(f"this host ({current}) is not among the job's hosts {list(hosts)}")
        return cls(hosts, current)

    @property
    def leader(self) -> str:
        return sorted(self.hosts)[0]

    @property
    def is_leader(self) -> bool:
        return self.current_host == self.leader

    @property
    def size(self) -> int:
        return len(self.hosts)

    def describe(self) -> str:
        role = "the leader" if self.is_leader else f"a follower of {self.leader}"
        return f"host {self.current_host}, {role}, of {self.size}"


@contextmanager
def together(
    cluster: Cluster, port: int | None = None, connect_seconds: float = CONNECT_SECONDS
) -> Iterator[None]:
    """Run the block as this host's share of the job and end with the others: the leader holds `port` open
    while its block runs; a follower connects before its block (retrying while the leader starts) and, after
    it, waits until the leader closes the connection, whether the leader succeeded or failed. A single-host
    job just runs the block."""
    port = port or int(os.environ.get("TRAINING_CLUSTER_PORT") or PORT)
    if cluster.size == 1:
        yield
    elif cluster.is_leader:
        with _serving(port):
            yield
    else:
        with _connected(cluster, port, connect_seconds) as connection:
            yield
            try:
                while connection.recv(1024):
                    pass
            except OSError:  # reset instead of closed: the leader is gone all the same
                pass


@contextmanager
def _serving(port: int) -> Iterator[None]:
    server = socket.create_server(("", port))
    followers: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                connection, _ = server.accept()
            except OSError:  # the server socket was closed: the leader is done
                return
            followers.append(connection)

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield
    finally:
        server.close()
        for connection in followers:
            connection.close()


@contextmanager
def _connected(cluster: Cluster, port: int, connect_seconds: float) -> Iterator[socket.socket]:
    deadline = time.monotonic() + connect_seconds
    while True:
        try:
            connection = socket.create_connection((cluster.leader, port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise JobError(
                    f"{cluster.current_host} could not reach the leader {cluster.leader} on port {port} "
                    f"within {connect_seconds:.0f} s"
                ) from None
            time.sleep(0.2)
    connection.settimeout(None)
    with connection:
        yield connection
