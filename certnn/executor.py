"""One interface for running many independent tasks (suite instances, branch-and-bound
jobs): in-process, in a pool of local processes, or on a Dask cluster.

    with make_executor(jobs=4) as ex:                 # or scheduler="tcp://host:8786"
        for index, result in ex.map(fn, items, return_exceptions=True):
            ...                                       # as completed, not in order

``fn`` must be a picklable top-level function. A task that raises becomes a
:class:`TaskError` (index, exception type name, message, remote traceback); the
executor itself failing (bad address, dead worker pool) is an :class:`ExecutorError`.
See docs/executor.md.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import multiprocessing
import os
import pickle
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing

from . import allocator
from .errors import CertnnError


class ExecutorError(CertnnError):
    """The executor cannot run: bad ``jobs``, a malformed or unreachable scheduler
    address, an unpicklable task function, a worker pool that died."""


class TaskError(CertnnError):
    """One task raised. Carries the item's ``index``, the exception's type name
    (``exc_type``) and ``message``, and the worker's ``remote_traceback`` text."""

    def __init__(self, index: int, exc_type: str, message: str, remote_traceback: str = ""):
        self.index, self.exc_type, self.message, self.remote_traceback = index, exc_type, message, remote_traceback
        super().__init__(f"task {index} failed: {exc_type}: {message}")

    def __reduce__(self):  # custom __init__: keep TaskError picklable
        return TaskError, (self.index, self.exc_type, self.message, self.remote_traceback)


def _type_name(exc: BaseException) -> str:
    t = type(exc)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _task_error(index: int, exc: BaseException, tb: str = "") -> TaskError:
    """For an exception raised here (not in ``fn``): Dask's carry a whole traceback
    in their message, which belongs in ``remote_traceback``."""
    text = str(exc)
    err = TaskError(index, _type_name(exc), text.splitlines()[0] if text else "", tb or text)
    err.__cause__ = exc
    return err


def _run_one(fn, item):
    """Worker side. Exceptions come back as plain strings: an exception object may
    not pickle, and unpickling it would need its class importable here."""
    try:
        return True, fn(item)
    except Exception as exc:
        return False, (_type_name(exc), str(exc), traceback.format_exc())


class Executor(ABC):
    """Base class; backends implement ``_run`` (yield ``(index, ok, value)`` as tasks
    complete) and ``describe``, and may override ``_abort`` (drop outstanding work
    now) and ``_release``."""

    closed = False

    def map(self, fn, items, *, return_exceptions: bool = False, progress=None):
        """Yield ``(index into items, fn(item))`` as tasks complete. A failed task
        raises its :class:`TaskError` (outstanding tasks are cancelled), or with
        ``return_exceptions=True`` is yielded as the result. ``progress(1)`` is called
        once per completed item (same convention as ``bar.advance(task, k)``)."""
        if self.closed:
            raise ExecutorError("map() called on a closed executor")
        items = list(items)
        with closing(self._run(fn, items)) as outcomes:
            for index, ok, value in outcomes:
                if progress is not None:
                    progress(1)
                if not ok and not return_exceptions:
                    raise value
                yield index, value

    def close(self, cancel: bool = False) -> None:
        """Release workers, processes and connections. ``cancel=True`` also stops
        running tasks instead of waiting for them (the context manager does this when
        its block raises, e.g. on Ctrl-C)."""
        if not self.closed:
            self.closed = True
            self._abort() if cancel else self._release()

    @abstractmethod
    def describe(self) -> str:
        """A short description for headers: "sequential", "2 local processes", ..."""

    @abstractmethod
    def _run(self, fn, items):
        """Yield ``(index, ok, value)`` as tasks complete."""

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        self.close(cancel=exc_type is not None)

    def _abort(self) -> None:
        self._release()

    def _release(self) -> None:
        pass


class SequentialExecutor(Executor):
    """In-process, one item after another, in order: the default and the reference."""

    def describe(self) -> str:
        return "sequential"

    def _run(self, fn, items):
        for index, item in enumerate(items):
            try:
                value, ok = fn(item), True
            except Exception as exc:
                value, ok = _task_error(index, exc, traceback.format_exc()), False
            yield index, ok, value


class LocalProcessExecutor(Executor):
    """A pool of ``jobs`` local worker processes. Workers start from a fork server
    rather than by forking this (possibly multi-threaded: torch, BLAS) process.

    At most ``jobs`` items are in flight, so when a worker dies (a crash, ``os._exit``,
    the OOM killer) the suspects are those few: ``ProcessPoolExecutor`` fails every
    outstanding task and cannot say which one killed it. Each suspect then runs
    again alone, in a pool of its own: the one whose worker dies again becomes that
    item's :class:`TaskError` (``WorkerDied``), the others' results come back, and
    the remaining items go on in a fresh pool."""

    def __init__(self, jobs: int, start_method: str = "forkserver"):
        self.jobs = jobs
        self._context = multiprocessing.get_context(start_method)
        self._pool = self._new_pool(jobs)

    def _new_pool(self, workers: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(workers, mp_context=self._context, initializer=_share_cores,
                                   initargs=(self.jobs,))

    def describe(self) -> str:
        return f"{self.jobs} local processes"

    def _run(self, fn, items):
        try:
            pickle.dumps(fn)
        except Exception as exc:
            raise ExecutorError(f"the task function must be a picklable top-level function: {exc}") from exc
        todo, in_flight = list(range(len(items)))[::-1], {}
        try:
            while todo or in_flight:
                broken = False
                while todo and len(in_flight) < self.jobs and not broken:
                    index = todo.pop()
                    try:
                        in_flight[self._pool.submit(_run_one, fn, items[index])] = index
                    except BrokenProcessPool:          # it never ran: it goes back in line
                        todo.append(index)
                        broken = True
                suspects = []
                if not broken:
                    done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
                    for future in done:
                        index = in_flight.pop(future)
                        try:
                            ok, value = future.result()
                        except BrokenProcessPool:
                            suspects.append(index)
                            continue
                        except Exception as exc:  # e.g. the result could not be pickled
                            ok, value = False, _task_error(index, exc)
                        yield index, ok, _as_task_error(index, ok, value)
                if broken or suspects or any(f.done() and isinstance(f.exception(), BrokenProcessPool)
                                             for f in in_flight):
                    # the pool is gone: every task still in it is a suspect
                    suspects += list(in_flight.values())
                    in_flight.clear()
                    self._pool.shutdown(wait=False, cancel_futures=True)
                    for index in suspects:
                        ok, value = self._alone(fn, items[index], index)
                        yield index, ok, value
                    self._pool = self._new_pool(self.jobs)
        except KeyboardInterrupt:
            self.close(cancel=True)
            raise
        finally:  # early exit: drop queued tasks (running ones finish, or close(cancel=True) kills them)
            for future in in_flight:
                future.cancel()

    def _alone(self, fn, item, index: int):
        """(ok, value) of one item run in a pool of its own; a ``WorkerDied`` error
        when its worker dies there too."""
        pool = self._new_pool(1)
        try:
            ok, value = pool.submit(_run_one, fn, item).result()
            return ok, _as_task_error(index, ok, value)
        except BrokenProcessPool:
            return False, TaskError(index, "WorkerDied", "its worker process died (a crash, os._exit or the OOM "
                                    "killer), also when it ran alone")
        except Exception as exc:
            return False, _task_error(index, exc)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _release(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _abort(self) -> None:
        if hasattr(self._pool, "terminate_workers"):  # Python >= 3.14
            return self._pool.terminate_workers()
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for p in processes:
            p.terminate()
        for p in processes:
            p.join(5)


def _as_task_error(index: int, ok: bool, value):
    return value if ok or isinstance(value, TaskError) else TaskError(index, *value)


def _share_cores(jobs: int) -> None:
    """Worker initializer: split the cores between the workers so that N workers
    with multi-threaded BLAS/OpenMP do not oversubscribe them (user settings win)."""
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, threads)
    allocator.tune()           # a fresh process: the parent's malloc settings are not inherited


class DaskExecutor(Executor):
    """Tasks on the workers of a running Dask scheduler (``distributed.Client``).
    Closing disconnects; the cluster itself is left running."""

    def __init__(self, address: str, connect_timeout: float = 5.0):
        self.address = address
        self._client = _connect(address, connect_timeout)

    def describe(self) -> str:
        if self.closed:
            return f"dask {self.address}: closed"
        n = len(self._client.nthreads())
        return f"dask {self.address}: {n} worker{'s' if n != 1 else ''}"

    def _run(self, fn, items):
        # At most one task per worker thread is in flight; the next item goes out when
        # one finishes. Submitting everything at once lets the scheduler queue a fast
        # item behind a slow one on the same worker (it does not reorder few tasks).
        from distributed import as_completed as dask_completed
        from distributed.protocol.pickle import dumps
        try:
            dumps(fn)  # Dask's own pickler (cloudpickle: lambdas are fine)
        except Exception as exc:
            raise ExecutorError(f"cannot send the function to the Dask scheduler at {self.address}: "
                                f"{str(exc).splitlines()[0][:300]}") from exc
        slots = max(1, sum(self._client.nthreads().values()))
        pending = iter(enumerate(items))
        index_of, in_flight = {}, dask_completed(loop=self._client.loop)

        def refill():
            """Put the next item that can be sent in flight; yield those that cannot."""
            for index, item in pending:
                try:
                    future = self._client.submit(_run_one, fn, item, pure=False)
                except Exception as exc:  # an item or fn that cannot be serialized
                    yield index, False, _task_error(index, ExecutorError(
                        f"cannot send item {index} to the Dask scheduler at {self.address}: "
                        f"{str(exc).splitlines()[0][:300]}"))
                    continue
                index_of[future.key] = index
                in_flight.add(future)
                return

        try:
            for _ in range(slots):
                yield from refill()
            for future in in_flight:
                index = index_of[future.key]
                try:  # one call per result: as_completed(with_results=True) hangs on an unpicklable one
                    ok, value = future.result()
                except Exception as exc:  # KilledWorker, unpicklable result, lost scheduler
                    ok, value = False, _task_error(index, exc)
                if not ok and not isinstance(value, TaskError):
                    value = TaskError(index, *value)
                yield index, ok, value
                yield from refill()
        finally:
            if not self.closed:
                self._client.cancel([f for f in in_flight.futures if not f.done()])

    def _release(self) -> None:
        self._client.close()


def _connect(address: str, timeout: float):
    from distributed import Client
    from distributed.comm import parse_address
    from distributed.comm.addressing import get_address_host_port
    try:  # syntax first: a Client that fails on a bad address cannot be closed cleanly
        parse_address(address, strict=True)
        get_address_host_port(address)
    except (ValueError, TypeError) as exc:
        raise ExecutorError(f"malformed Dask scheduler address {address!r}: {exc}") from exc

    started = []

    class _Client(Client):
        def start(self, **kwargs):  # keep a handle so a failed connection can be cleaned up
            started.append(self)
            super().start(**kwargs)

    try:
        return _Client(address, timeout=timeout, set_as_default=False)
    except Exception as exc:
        for client in started:  # a failed Client keeps its event-loop thread alive
            client.close(timeout=1)
            if hasattr(client, "_loop_runner"):  # private, hence guarded
                client._loop_runner.stop()
        raise ExecutorError(f"cannot connect to the Dask scheduler at {address}: {exc}") from exc


def make_executor(jobs: int = 1, scheduler: str | None = None, connect_timeout: float = 5.0) -> Executor:
    """``scheduler`` (``tcp://host:port``): a Dask client (``jobs`` is then ignored:
    the cluster's workers decide); else ``jobs > 1``: that many local processes;
    else sequential in this process."""
    if scheduler:
        return DaskExecutor(scheduler, connect_timeout)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ExecutorError(f"jobs must be an integer >= 1, got {jobs!r}")
    return SequentialExecutor() if jobs == 1 else LocalProcessExecutor(jobs)
