"""Memory of the product's worker processes, read from /proc (Linux only).

``manage.py serve`` starts ``manage.py qcluster``, which forks django-q2's
sentinel, monitor, pusher and worker processes. The figure that matters is the
peak resident set (VmHWM) of the largest single process of that tree; a peak
is reset before each measured import by writing 5 to /proc/PID/clear_refs.
"""

import threading
from pathlib import Path

PROC = Path("/proc")


def _parent_map() -> dict[int, int]:
    """pid -> parent pid of every process visible now."""
    parents = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # the process ended meanwhile
        # the command name may hold spaces and parentheses: split after the last ")"
        fields = stat.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(root: int) -> list[int]:
    """Every process below ``root`` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for pid, parent in _parent_map().items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _cmdline(pid: int) -> bytes:
    try:
        return (PROC / str(pid) / "cmdline").read_bytes()
    except OSError:
        return b""


def worker_tree(serve_pid: int) -> list[int]:
    """The qcluster processes below the serve process (never anyone else's)."""
    below = descendants(serve_pid)
    roots = [pid for pid in below if b"qcluster" in _cmdline(pid)]
    tree = set(roots)
    for root in roots:
        tree.update(descendants(root))
    return sorted(tree)


def memory_kib(pid: int) -> tuple[int, int]:
    """(VmHWM, VmRSS) of a process in KiB; (0, 0) once it has gone."""
    values = {"VmHWM:": 0, "VmRSS:": 0}
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            key, _, rest = line.partition(":")
            key += ":"
            if key in values:
                values[key] = int(rest.split()[0])
    except OSError:
        pass
    return values["VmHWM:"], values["VmRSS:"]


def reset_peaks(pids: list[int]) -> bool:
    """Reset VmHWM to the current RSS; False if the kernel refused for any."""
    ok = True
    for pid in pids:
        try:
            (PROC / str(pid) / "clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


class PeakSampler:
    """Samples the worker tree in a thread while an import runs.

    VmHWM already holds each process's peak; sampling only has to see every
    process before it exits, and it also records the largest VmRSS seen.
    """

    def __init__(self, serve_pid: int, interval: float = 0.1):
        self.serve_pid = serve_pid
        self.interval = interval
        self.peak_hwm_kib = 0
        self.peak_rss_kib = 0
        self.processes = 0
        self.peaks_reset = reset_peaks(worker_tree(serve_pid))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def sample(self) -> None:
        pids = worker_tree(self.serve_pid)
        self.processes = max(self.processes, len(pids))
        for pid in pids:
            hwm, rss = memory_kib(pid)
            self.peak_hwm_kib = max(self.peak_hwm_kib, hwm)
            self.peak_rss_kib = max(self.peak_rss_kib, rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> "PeakSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
