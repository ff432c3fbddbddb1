"""Where a plan's runs are carried out: executors behind one seam, ``concurrent.futures.Executor``.

``runs.run_plan(..., executor=...)`` takes any ``concurrent.futures.Executor``; None runs the plan
in this process, one run after the other (the numbers every notebook publishes). This module
makes the ones the repository supports from a short text, which ``DML_EXECUTOR`` (or
``make reproduce JOBS=N``) sets:

- ``serial``: in this process (the default);
- ``pool:N``: a local process pool of N workers (``spawn``: no forked torch state), each run
  pinned to the plan's thread count, so N × threads cores;
- ``dask:N``: a Dask ``LocalCluster`` of N single-threaded worker processes; ``dask:tcp://HOST:PORT``
  a running Dask scheduler (``dask scheduler`` on one machine, ``dask worker tcp://…`` on others);
- ``slurm:PARTITION`` (or ``slurm:local`` to try it on this machine): one SLURM job per run
  through ``submitit``.

Every run seeds every generator from its spec and pins its threads wherever it runs, so one spec
gives bit-identical results on every executor of one machine (tests/test_executors.py). A
worker on another CPU can give other last bits (dml_utils/machine.py): ``run_plan`` stores a
result in the run cache only when the worker's float path is the one the cache key was made for.
Dask and submitit are engines others keep; this module only adapts them to the one seam
(``DaskExecutor`` closes its client and cluster on shutdown, ``SubmititExecutor`` turns a submitit
job into a ``Future``): that adapter code is all that is ours.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from pathlib import Path

from .parameters import ConfigError

EXECUTOR_ENV = "DML_EXECUTOR"
KINDS = ("serial", "pool:N", "dask:N", "dask:tcp://HOST:PORT", "slurm:PARTITION", "slurm:local")


class DaskExecutor(Executor):
    """A Dask client as a ``concurrent.futures.Executor``; shutdown closes the client (and the
    LocalCluster it started, if any)."""

    def __init__(self, address: str | None = None, workers: int = 2, timeout: float = 20.0):
        from distributed import Client, LocalCluster

        self._cluster = None
        if address is None:
            self._cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
            address = self._cluster.scheduler_address
        try:
            self._client = Client(address, timeout=timeout)
        except OSError as err:  # TimeoutError included: nothing listens there
            if self._cluster is not None:
                self._cluster.close()
            raise ConfigError(
                f"no Dask scheduler reachable at {address} within {timeout:.0f} s ({err}); start one "
                f"(`dask scheduler`, then `dask worker {address}` on each machine) or use "
                f"{EXECUTOR_ENV}=dask:N for a local cluster of N workers"
            ) from None
        self._executor = self._client.get_executor(pure=False)

    def share(self, obj):
        """``obj`` sent once to every worker; pass what this returns to ``submit`` in its place."""
        return self._client.scatter(obj, broadcast=True, hash=False)

    def submit(self, fn, /, *args, **kwargs) -> Future:
        return self._executor.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._executor.shutdown(wait=wait)
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


class SubmititExecutor(Executor):
    """submitit's jobs as futures: ``submit`` sends one job, a thread waits for its result."""

    def __init__(self, folder: str | os.PathLike, partition: str = "local", **slurm_parameters):
        import submitit

        if partition == "local":
            self._executor = submitit.LocalExecutor(folder=str(folder))
        else:
            self._executor = submitit.AutoExecutor(folder=str(folder), cluster="slurm")
            self._executor.update_parameters(slurm_partition=partition, **slurm_parameters)
        self._threads: list[threading.Thread] = []

    def submit(self, fn, /, *args, **kwargs) -> Future:
        job = self._executor.submit(fn, *args, **kwargs)
        future: Future = Future()
        future.set_running_or_notify_cancel()

        def wait() -> None:
            try:
                future.set_result(job.result())
            except BaseException as err:  # the job's own error, or submitit's (a killed job)
                future.set_exception(err)

        t = threading.Thread(target=wait, daemon=True)
        t.start()
        self._threads.append(t)
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        if wait:
            for t in self._threads:
                t.join()


def parse_executor(text: str | None) -> tuple[str, str]:
    """(kind, argument) of an executor's name, checked without starting anything: ("serial", "")
    for ``serial`` or nothing; a ConfigError naming the choices otherwise."""
    text = (text or "").strip()
    if text in ("", "serial"):
        return "serial", ""
    kind, _, arg = text.partition(":")
    workers = arg.isdigit() and int(arg) >= 1
    if (kind in ("pool", "dask") and workers) or (kind == "dask" and "://" in arg) or (kind == "slurm" and arg):
        return kind, arg
    raise ConfigError(
        f"{EXECUTOR_ENV}={text!r} names no executor; use one of {', '.join(KINDS)} (N a whole number ≥ 1)"
    )


def make_executor(text: str | None, root: Path | None = None) -> Executor | None:
    """The executor ``text`` names (see the module's docstring); None for ``serial`` or nothing."""
    import multiprocessing

    kind, arg = parse_executor(text)
    if kind == "pool":
        return ProcessPoolExecutor(max_workers=int(arg), mp_context=multiprocessing.get_context("spawn"))
    if kind == "dask":
        return DaskExecutor(address=arg) if "://" in arg else DaskExecutor(workers=int(arg))
    if kind == "slurm":
        from .config import repo_root

        return SubmititExecutor((root or repo_root()) / "build" / "submitit", partition=arg)
    return None


def executor_from_env() -> Executor | None:
    """The executor ``DML_EXECUTOR`` names; None (serial, in this process) when it is unset."""
    return make_executor(os.environ.get(EXECUTOR_ENV))
