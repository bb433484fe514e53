"""The hosts of a training job: who leads, and how the hosts of one job end together."""

from __future__ import annotations

import threading
import time

import pytest
from fake_opt_ml import free_port

from utils.cluster import Cluster, together
from utils.errors import JobError

# Two names of this machine; "127.0.0.1" sorts first, so it leads.
LEADER, FOLLOWER = "127.0.0.1", "localhost"


def test_outside_sagemaker_a_job_is_one_host_that_leads() -> None:
    cluster = Cluster.from_environment({})

    assert cluster.size == 1
    assert cluster.is_leader


def test_the_first_host_by_name_leads_whatever_the_order() -> None:
    environ = {"SM_HOSTS": '["algo-2", "algo-1", "algo-3"]', "SM_CURRENT_HOST": "algo-3"}

    cluster = Cluster.from_environment(environ)

    assert cluster.leader == "algo-1"
    assert not cluster.is_leader
    assert cluster.describe() == "host algo-3, a follower of algo-1, of 3"


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SM_HOSTS": "algo-1", "SM_CURRENT_HOST": "algo-1"}, "not a JSON list"),
        ({"SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-2"}, "not among the job's hosts"),
    ],
)
def test_a_host_list_that_makes_no_sense_fails_the_job(environ: dict[str, str], message: str) -> None:
    with pytest.raises(JobError, match=message):
        Cluster.from_environment(environ)


def run_follower(port: int, ended: list[str]) -> threading.Thread:
    def follow() -> None:
        with together(Cluster((LEADER, FOLLOWER), FOLLOWER), port=port, connect_seconds=10):
            ended.append("follower's share")
        ended.append("follower")

    thread = threading.Thread(target=follow)
    thread.start()
    return thread


def test_a_follower_ends_only_after_its_leader_even_when_it_started_first() -> None:
    port, ended = free_port(), list[str]()
    follower = run_follower(port, ended)
    time.sleep(0.5)  # the follower is up before the leader, as a slow leader's would be

    with together(Cluster((LEADER, FOLLOWER), LEADER), port=port):
        time.sleep(0.5)
        ended.append("leader")
    follower.join(timeout=10)

    assert ended == ["follower's share", "leader", "follower"]


def test_a_leader_that_fails_releases_its_followers() -> None:
    port, ended = free_port(), list[str]()
    follower = run_follower(port, ended)

    with pytest.raises(JobError), together(Cluster((LEADER, FOLLOWER), LEADER), port=port):
        time.sleep(0.5)
        raise JobError("the leader's data is bad")
    follower.join(timeout=10)

    assert not follower.is_alive()
    assert ended[-1] == "follower"


def test_a_follower_that_cannot_reach_its_leader_fails_naming_it() -> None:
    cluster = Cluster((LEADER, FOLLOWER), FOLLOWER)

    reaching = together(cluster, port=free_port(), connect_seconds=0.5)

    with pytest.raises(JobError, match=f"could not reach the leader {LEADER} on port"), reaching:
        pass
