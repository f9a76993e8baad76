"""A value computed once per test run and shared by the pytest-xdist workers: a file per key, a lock per key.

Under xdist each worker is its own process, so a module-level cache computes an expensive value once per
worker, and a test that needs every value (a page rendered from all the rows, say) computes again those
the other worker already has.  :class:`RunCache` keeps each value as a pickle in a folder of the run
(``run_folder``): the first worker that asks for a key computes it under that key's lock, every other
reads the file.  Nothing is kept between runs: blrkit may have changed, so every run computes afresh.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import pathlib
import pickle

#: ``RunCache.get(..., wait=False)`` returns this while another worker is computing the key
BUSY = object()


@contextlib.contextmanager
def locked(path: pathlib.Path, wait: bool = True):
    """An exclusive lock on ``path`` between the processes of the run; yields whether it was taken
    (always, when ``wait``)."""
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def run_folder(tmp_path_factory, name: str) -> pathlib.Path:
    """The folder ``name`` of the whole run: under xdist each worker's base temporary folder sits in the
    run's own (``…/pytest-N/popen-gwK``), so the workers share the parent's; alone, the base folder."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    folder = base / name
    folder.mkdir(exist_ok=True)
    return folder


class RunCache:
    """``get(key, compute)``: ``compute()``'s value, computed by one process of the run and read by the others.

    A value must pickle.  An exception raised by ``compute`` is not stored: the process that asked
    raises it, and the next one to ask computes again (and fails again, in its own test).
    """

    def __init__(self, folder: pathlib.Path):
        self.folder = folder

    def _file(self, key: str) -> pathlib.Path:
        return self.folder / hashlib.sha256(key.encode()).hexdigest()[:32]

    def get(self, key: str, compute, *, wait: bool = True):
        """The value of ``key``; with ``wait=False``, :data:`BUSY` while another process is computing it."""
        file = self._file(key)
        with locked(file.with_suffix(".lock"), wait=wait) as taken:
            if not taken:
                return BUSY
            if file.exists():
                return pickle.loads(file.read_bytes())
            value = compute()
            partial = file.with_suffix(".partial")
            partial.write_bytes(pickle.dumps(value))
            partial.replace(file)
            return value

    def get_all(self, keyed: dict) -> dict:
        """``{key: value}`` for ``keyed = {key: compute}``: first the keys no other process is computing,
        then the rest, waiting for each."""
        values = {}
        for key, compute in keyed.items():
            value = self.get(key, compute, wait=False)
            if value is not BUSY:
                values[key] = value
        for key, compute in keyed.items():
            if key not in values:
                values[key] = self.get(key, compute)
        return {key: values[key] for key in keyed}
