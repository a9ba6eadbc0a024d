"""certnn.executor: every backend (sequential, 2 local processes, a local Dask
cluster of 2 worker processes) gives the sequential results, yields as completed,
turns failures into TaskError, refuses bad scheduler addresses quickly, stops on
Ctrl-C and leaves no processes or clients behind."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import psutil
import pytest

from certnn.errors import CertnnError
from certnn.executor import ExecutorError, TaskError, make_executor

distributed = pytest.importorskip("distributed")
dask = pytest.importorskip("dask")


# --------------------------------------------------------------- task functions (top level: picklable)

def square(x):
    return x * x


def sleep_then(item):
    seconds, value = item
    time.sleep(seconds)
    return value


def fail_on_odd(x):
    if x % 2:
        raise ValueError(f"odd item {x}")
    return x * x


class TwoArgError(Exception):
    """Cannot be unpickled from its args (a classic multiprocessing pitfall)."""

    def __init__(self, a, b):
        super().__init__(f"{a}/{b}")


def raise_two_arg(x):
    raise TwoArgError(x, "b")


def exit_abruptly(x):
    if x == 0:
        os._exit(3)  # like a crash or the OOM killer: no exception to report
    time.sleep(0.2)
    return x


def return_lock(x):
    return threading.Lock() if x else x


def worker_pid(_):
    time.sleep(0.05)  # long enough that both workers take some items
    return os.getpid()


def record_start_then_sleep(item):
    folder, index, seconds = item
    Path(folder, f"{index}.started").write_text(str(os.getpid()))
    time.sleep(seconds)
    return index


# --------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def cluster():
    # processes=True: real worker processes, as on a real cluster (starts in ~1-2 s here)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as c:  # random port: no clash
        yield c


BACKENDS = ["sequential", "processes", "dask"]


@pytest.fixture
def open_executor(request):
    """Factory: open_executor(backend) -> executor, closed after the test."""
    opened = []

    def open_(backend):
        if backend == "dask":
            ex = make_executor(scheduler=request.getfixturevalue("cluster").scheduler_address)
        else:
            ex = make_executor(jobs=1 if backend == "sequential" else 2)
        opened.append(ex)
        return ex

    yield open_
    for ex in opened:
        ex.close()


# --------------------------------------------------------------- results

@pytest.mark.parametrize("backend", BACKENDS)
def test_results_equal_the_sequential_map(open_executor, backend):
    items = [3, -1, 0, 7, 12, 5, 2, 9, 4, 11, 8, 6]
    ex = open_executor(backend)
    pairs = list(ex.map(square, items))
    assert sorted(i for i, _ in pairs) == list(range(len(items)))  # every item exactly once
    assert [r for _, r in sorted(pairs)] == list(map(square, items))
    assert list(ex.map(square, [])) == []
    assert dict(ex.map(square, items[:3])) == {0: 9, 1: 1, 2: 0}  # the executor is reusable


@pytest.mark.parametrize("backend", ["processes", "dask"])
def test_a_slow_item_does_not_block_faster_ones(open_executor, backend):
    ex = open_executor(backend)
    items = [(2.0, "slow"), (0.0, "a"), (0.0, "b"), (0.0, "c")]
    start, arrivals = time.monotonic(), []
    for index, value in ex.map(sleep_then, items):
        arrivals.append((index, value, time.monotonic() - start))
    assert [a[1] for a in arrivals][-1] == "slow"
    assert sorted(a[1] for a in arrivals[:-1]) == ["a", "b", "c"]
    # the fast ones came while the slow one still ran (relative: worker start-up is slow under load)
    assert arrivals[-1][2] - arrivals[0][2] >= 1.0, arrivals
    assert arrivals[-1][2] >= 2.0


def test_sequential_runs_in_order_in_this_process():
    with make_executor() as ex:
        assert ex.describe() == "sequential"
        assert list(ex.map(worker_pid, range(3))) == [(0, os.getpid()), (1, os.getpid()), (2, os.getpid())]


# --------------------------------------------------------------- failures

@pytest.mark.parametrize("backend", BACKENDS)
def test_failures_become_task_errors(open_executor, backend):
    ex = open_executor(backend)
    done = []
    got = dict(ex.map(fail_on_odd, range(6), return_exceptions=True, progress=done.append))
    assert done == [1] * 6  # progress(1) once per completed item, failures included
    assert sorted(got) == list(range(6))
    for i, value in got.items():
        if i % 2:
            assert isinstance(value, TaskError) and isinstance(value, CertnnError)
            assert (value.index, value.exc_type, value.message) == (i, "ValueError", f"odd item {i}")
            assert "fail_on_odd" in value.remote_traceback
            assert f"task {i} failed: ValueError: odd item {i}" == str(value)
        else:
            assert value == i * i

    with pytest.raises(TaskError) as info:
        for _ in ex.map(fail_on_odd, range(6)):
            pass
    assert info.value.index % 2 == 1 and info.value.exc_type == "ValueError"
    assert dict(ex.map(square, [4])) == {0: 16}  # still usable after a raised failure


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_unpicklable_exception_still_reports_its_type_and_message(open_executor, backend):
    [(index, err)] = list(open_executor(backend).map(raise_two_arg, ["x"], return_exceptions=True))
    assert index == 0 and isinstance(err, TaskError)
    assert err.exc_type.endswith("TwoArgError") and err.message == "x/b"


@pytest.mark.parametrize("backend", ["processes", "dask"])
def test_an_unpicklable_result_is_a_task_error(open_executor, backend):
    got = dict(open_executor(backend).map(return_lock, [0, 1], return_exceptions=True))
    assert sorted(got) == [0, 1] and got[0] == 0
    assert isinstance(got[1], TaskError) and got[1].index == 1 and "lock" in got[1].message
    assert "pickle" in got[1].message or "serialize" in got[1].message
    assert "\n" not in got[1].message


def test_a_dead_dask_worker_is_a_task_error():
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as c, \
            make_executor(scheduler=c.scheduler_address) as ex:
        got = dict(ex.map(exit_abruptly, [1, 0], return_exceptions=True))
    assert got[0] == 1 or isinstance(got[0], TaskError)  # may die with its worker
    assert isinstance(got[1], TaskError) and got[1].exc_type.endswith("KilledWorker")


def test_lambda_is_refused_for_local_processes():
    with make_executor(jobs=2) as ex, pytest.raises(ExecutorError, match="picklable top-level function"):
        list(ex.map(lambda x: x, [1]))


def test_a_dead_worker_fails_its_own_item_only():
    # the pool cannot say which task killed it: the suspects run again alone, and
    # the one that dies again is that item's error; the rest go on in a fresh pool
    with make_executor(jobs=2) as ex:
        got = dict(ex.map(exit_abruptly, [1, 0, 1, 2, 3], return_exceptions=True))
        assert {i: got[i] for i in (0, 2, 3, 4)} == {0: 1, 2: 1, 3: 2, 4: 3}
        assert isinstance(got[1], TaskError) and got[1].exc_type == "WorkerDied" and got[1].index == 1
        assert dict(ex.map(square, [1, 2])) == {0: 1, 1: 4}           # still usable
        with pytest.raises(TaskError, match="WorkerDied"):
            list(ex.map(exit_abruptly, [0]))                          # without return_exceptions: raised


@pytest.mark.parametrize("backend", ["processes", "dask"])
def test_an_unpicklable_item(open_executor, backend):
    items = [2, threading.Lock()]
    got = dict(open_executor(backend).map(square, items, return_exceptions=True))  # sent one by one:
    assert got[0] == 4 and isinstance(got[1], TaskError)  # only that item fails
    assert "pickle" in got[1].message or "serialize" in got[1].message, got[1].message
    if backend == "dask":
        assert "cannot send item 1 to the Dask scheduler" in got[1].message


@pytest.mark.parametrize("jobs", [0, -2, 1.5, "2", True])
def test_bad_jobs(jobs):
    with pytest.raises(ExecutorError, match="jobs must be an integer >= 1"):
        make_executor(jobs=jobs)


# --------------------------------------------------------------- scheduler addresses

def test_unreachable_scheduler_fails_quickly_without_leaking_threads():
    threads = threading.active_count()
    start = time.monotonic()
    with pytest.raises(ExecutorError) as info:
        make_executor(scheduler="tcp://127.0.0.1:1", connect_timeout=1)
    assert time.monotonic() - start < 5
    assert "tcp://127.0.0.1:1" in str(info.value) and "connect" in str(info.value)
    assert threading.active_count() == threads  # the failed client's event loop is stopped


@pytest.mark.parametrize("address, cause", [("127.0.0.1:8786", "protocol"), ("tcp://127.0.0.1", "port"),
                                            ("http://127.0.0.1:8786", "scheme")])
def test_malformed_scheduler_address(address, cause):
    threads, start = threading.active_count(), time.monotonic()
    with pytest.raises(ExecutorError, match="malformed Dask scheduler address") as info:
        make_executor(scheduler=address)
    assert address in str(info.value) and cause in str(info.value)
    assert time.monotonic() - start < 2 and threading.active_count() == threads


# --------------------------------------------------------------- describe, close, no leaks

def test_local_processes_leave_no_worker_processes():
    me = psutil.Process()
    before = {p.pid for p in me.children(recursive=True)}
    with make_executor(jobs=2) as ex:
        assert ex.describe() == "2 local processes"
        pids = {pid for _, pid in ex.map(worker_pid, range(20))}
    assert len(pids) == 2 and os.getpid() not in pids
    assert not any(_alive(pid) for pid in pids)
    # what remains is multiprocessing's shared helpers (one per interpreter), not workers
    for p in me.children(recursive=True):
        if p.pid not in before and _alive(p.pid):
            assert "forkserver" in " ".join(p.cmdline()) or "resource_tracker" in " ".join(p.cmdline())
    with pytest.raises(ExecutorError, match="closed"):
        list(ex.map(square, [1]))


def test_dask_describe_and_close(cluster):
    threads = threading.active_count()
    ex = make_executor(scheduler=cluster.scheduler_address)
    assert ex.describe() == f"dask {cluster.scheduler_address}: 2 workers"
    client = ex._client
    ex.close()
    assert client.status == "closed"
    assert threading.active_count() <= threads
    ex.close()  # idempotent


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture(autouse=True)
def _sigint_raises():
    """pytest-xdist workers ignore SIGINT; the Ctrl-C tests need Python's default."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, old)


class _CtrlC(threading.Thread):
    """Simulate Ctrl-C once a task has started (a file appears in ``folder``):
    SIGINT to this process only (the workers do not get it)."""

    def __init__(self, folder: Path):
        super().__init__(daemon=True)
        self.folder, self.sent_at, self.stop = folder, None, threading.Event()
        self.start()

    def run(self):
        while not self.stop.wait(0.02):
            if any(self.folder.glob("*.started")):
                time.sleep(0.2)
                self.sent_at = time.monotonic()
                os.kill(os.getpid(), signal.SIGINT)
                return


@pytest.mark.parametrize("with_block", [True, False])
def test_ctrl_c_stops_local_workers(tmp_path, with_block):
    items = [(str(tmp_path), i, 30.0) for i in range(6)]
    ctrl_c = _CtrlC(tmp_path)
    try:
        with pytest.raises(KeyboardInterrupt):
            if with_block:
                with make_executor(jobs=2) as ex:
                    for _ in ex.map(record_start_then_sleep, items):
                        pass
            else:  # no context manager: the interrupted map itself must stop the workers
                ex = make_executor(jobs=2)
                try:
                    for _ in ex.map(record_start_then_sleep, items):
                        pass
                finally:
                    ex.close()
    finally:
        ctrl_c.stop.set()
    assert time.monotonic() - ctrl_c.sent_at < 6  # not the 30 s the running tasks would take
    started = list(tmp_path.glob("*.started"))
    assert 1 <= len(started) < len(items)  # queued items never started
    assert not any(_alive(int(f.read_text())) for f in started)  # running ones were killed


def test_ctrl_c_cancels_outstanding_dask_tasks(tmp_path, cluster):
    items = [(str(tmp_path), i, 1.0) for i in range(8)]
    ctrl_c = _CtrlC(tmp_path)
    try:
        with pytest.raises(KeyboardInterrupt), make_executor(scheduler=cluster.scheduler_address) as ex:
            for _ in ex.map(record_start_then_sleep, items):
                pass
    finally:
        ctrl_c.stop.set()
    assert time.monotonic() - ctrl_c.sent_at < 1 and ex._client.status == "closed"
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as probe:
        deadline = time.monotonic() + 10  # the running tasks finish; nothing else may start
        while probe.run_on_scheduler(_scheduler_task_count) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert probe.run_on_scheduler(_scheduler_task_count) == 0
    assert 1 <= len(list(tmp_path.glob("*.started"))) <= 4


def _scheduler_task_count(dask_scheduler):
    return len(dask_scheduler.tasks)


def test_dask_refuses_a_function_it_cannot_send(open_executor):
    lock = threading.Lock()
    with pytest.raises(ExecutorError, match="cannot send the function to the Dask scheduler"):
        list(open_executor("dask").map(lambda x: (lock, x), [1]))
    assert dict(open_executor("dask").map(lambda x: x + 1, [1, 2])) == {0: 2, 1: 3}  # cloudpickle
