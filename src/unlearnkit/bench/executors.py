"""Executors: where benchmark tasks run. ``local`` runs them in this process, one after another;
``ray`` fans them out as Ray tasks (a local Ray instance, or a cluster joined with ``address``)."""

from __future__ import annotations

import socket
from typing import Any, Callable, Iterator, Sequence

from unlearnkit.errors import ConfigError
from unlearnkit.registry import Registry

#: name -> executor class
EXECUTORS: Registry[type] = Registry("executor")

Outcome = tuple[int, Any, BaseException | None]


@EXECUTORS.register("local")
class LocalExecutor:
    """Runs tasks in order in this process.

    Args:
        threads: torch intra-op threads for the tasks (None: torch's default).
    """

    def __init__(self, *, threads: int | None = None):
        self.threads = threads

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple]) -> Iterator[Outcome]:
        for i, a in enumerate(args):
            try:
                yield i, fn(*a, threads=self.threads), None
            except Exception as exc:  # a failed task is reported, the others go on
                yield i, None, exc

    def close(self) -> None:
        """Nothing to release."""


@EXECUTORS.register("ray")
class RayExecutor:
    """Runs tasks as Ray tasks, each with ``threads`` CPU(s) and as many torch threads.

    Args:
        address: a Ray cluster to join (``host:port``); None starts a local Ray instance.
        workers: CPUs of the local instance (None: all cores); ignored when joining a cluster.
        threads: CPUs (and torch threads) per task; default 1.
    """

    def __init__(self, *, address: str | None = None, workers: int | None = None, threads: int | None = None):
        try:
            import ray
        except ImportError:
            raise ConfigError("The ray executor needs Ray: pip install 'unlearnkit[ray]'.") from None
        self.threads = threads or 1
        if address is not None:
            _check_reachable(address)
        kwargs: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, ignore_reinit_error=True,
                                      configure_logging=False)
        if address is None:
            kwargs["num_cpus"] = workers
        else:
            kwargs["address"] = address
        try:
            ray.init(**kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(f"Could not start or join Ray{f' at {address}' if address else ''}: {exc}") from None
        self._ray = ray

    def map_unordered(self, fn: Callable[..., Any], args: Sequence[tuple]) -> Iterator[Outcome]:
        ray = self._ray
        remote = ray.remote(num_cpus=self.threads, max_retries=0)(fn)
        pending = {remote.remote(*a, threads=self.threads): i for i, a in enumerate(args)}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            ref = ready[0]
            i = pending.pop(ref)
            try:
                yield i, ray.get(ref), None
            except Exception as exc:
                yield i, None, _unwrap(exc)

    def close(self) -> None:
        self._ray.shutdown()


def _unwrap(exc: Exception) -> BaseException:
    cause = getattr(exc, "cause", None)
    return cause if isinstance(cause, BaseException) else exc


def _check_reachable(address: str, timeout: float = 3.0) -> None:
    """Fail fast, with a clear message, when nothing listens at ``address`` (``host:port``)."""
    text = address.removeprefix("ray://")
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        raise ConfigError(f"Ray address {address!r} must have the form host:port (e.g. 127.0.0.1:6379).")
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(f"Cannot reach a Ray cluster at {address} ({exc.strerror or exc}); start one with "
                          "'ray start --head' or leave out --address to run Ray locally.") from None


def make_executor(name: str, **options: Any):
    """An executor by registry name (``local`` or ``ray``) with its options."""
    cls = EXECUTORS.get(name)
    return cls(**{k: v for k, v in options.items() if v is not None})
