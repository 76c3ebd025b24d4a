"""The product end to end over HTTP, with a real worker, as a client sees it.

A session prepares a database (migrate, managed types, admin user), starts
``manage.py serve`` (runserver plus a qcluster worker) in its own process
group, runs its imports one after the other and always kills the group at the
end. An import is timed from the start of the upload request until the
metadata record has ``end`` set. The session never touches dev data: its own
DATA_DIR in a temporary folder and its own database.
"""

import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from bench.client import Client, HttpError
from bench.data import DataFile
from bench.procs import PeakSampler, memory_kib, worker_tree

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SERVE = [sys.executable, "manage.py", "serve"]
# Variables of a developer's shell that would point the product elsewhere or
# change how it runs; the session sets its own.
INHERITED_PREFIXES = (
    "DATABASE_URL",
    "REDIS_URL",
    "DATA_DIR",
    "Q_",
    "IMPORTS_",
    "ADMIN_",
    "ALLOWED_HOSTS",
    "FILE_UPLOAD_",
    "DJANGO_",
)


class ProductError(Exception):
    """The product did not start, answer or finish as expected."""


@dataclass
class Step:
    """One timed import: the line it fills and what its counts must be."""

    key: str
    data: DataFile
    expect: str  # "new", "unchanged" or "changed"


@dataclass
class Session:
    """Where the product keeps its data for one server lifetime."""

    name: str
    data_dir: Path
    database_url: str = ""  # empty: the embedded SQLite default
    redis_url: str = ""  # empty: django-q2's ORM broker
    q_workers: int | None = None
    token: str = ""  # the admin's API token, set by prepare_database
    env: dict = field(init=False)

    def __post_init__(self):
        env = {
            k: v for k, v in os.environ.items() if not k.startswith(INHERITED_PREFIXES)
        }
        env.update(
            DJANGO_SETTINGS_MODULE="idmimport.settings.base",
            DATA_DIR=str(self.data_dir),
            DEBUG="true",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            # its own queue, so a developer's worker on the same Redis never takes it
            Q_CLUSTER_NAME=f"idmimport-bench-{os.getpid()}-{self.name}",
        )
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        if self.q_workers:
            env["Q_WORKERS"] = str(self.q_workers)
        self.env = env
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir / "server.log"


def manage(session: Session, *args: str) -> str:
    """Run one management command of the product; its output, also logged."""
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=session.env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    with session.log_path.open("a") as log:
        log.write(done.stdout + done.stderr)
    if done.returncode:
        raise ProductError(f"manage.py {args[0]} failed: {log_tail(session)}")
    return done.stdout


# What ``make run`` does before serving (schema, managed types, admin), in one
# process instead of three, plus an API token of the admin for cheap polling
# (see bench.client): each Django start costs seconds on a busy machine.
PREPARE = """
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token

call_command("migrate", interactive=False, verbosity=0)
call_command("load_managed_config", verbosity=0)
call_command("ensure_admin")
admin = get_user_model().objects.get(username="openidm-admin")
Token.objects.filter(user=admin).delete()
Token.objects.create(user=admin, key="{token}")
"""


def prepare_database(session: Session) -> str:
    """Make the session's database ready to serve; return the admin's token."""
    token = secrets.token_hex(20)
    manage(session, "shell", "--no-imports", "-c", PREPARE.format(token=token))
    session.token = token
    return token


def log_tail(session: Session, lines: int = 15) -> str:
    try:
        text = session.log_path.read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(text.strip().splitlines()[-lines:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    """``manage.py serve`` in its own process group; a context manager."""

    def __init__(self, session: Session, start_timeout: float = 90.0):
        self.session = session
        self.start_timeout = start_timeout
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.client: Client | None = None

    def __enter__(self) -> "Server":
        with self.session.log_path.open("a") as log:
            self.process = subprocess.Popen(
                [*SERVE, "--host", HOST, "--port", str(self.port)],
                cwd=ROOT,
                env=self.session.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a group of its own, killed as one
            )
        try:
            self.client = Client(HOST, self.port, self.session.token)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _wait_ready(self) -> None:
        """Until the API answers and the worker tree has stopped growing."""
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                raise ProductError(f"server exited: {log_tail(self.session)}")
            if time.monotonic() > deadline:
                raise ProductError(f"server did not answer: {log_tail(self.session)}")
            try:
                status, _ = self.client.get("/openidm/csv/metadata?_queryFilter=true")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        seen, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = len(worker_tree(self.pid))
            if count != seen:
                seen, stable_since = count, time.monotonic()
            elif count >= 2 and time.monotonic() - stable_since > 1.0:
                return
            time.sleep(0.1)
        raise ProductError(f"worker did not start: {log_tail(self.session)}")

    def _signal_group(self, sig: int) -> bool:
        """Send a signal to the server's group; False once the group is empty."""
        try:
            os.killpg(self.process.pid, sig)
        except ProcessLookupError:
            return False
        return True

    def stop(self) -> None:
        """SIGTERM to the whole group, then SIGKILL to whatever is left."""
        if self.client:
            self.client.close()
        if not self.process:
            return
        self._signal_group(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            self.process.poll()  # reap the server itself, or it counts as alive
            if not self._signal_group(0):
                break
            time.sleep(0.2)
        self._signal_group(signal.SIGKILL)  # forked workers can outlive their parent
        self.process.wait()


def wait_for_end(client: Client, import_id: str, deadline: float) -> dict:
    """Poll the metadata record every 100 ms until ``end`` is set."""
    while True:
        record = client.get_json(f"/openidm/csv/metadata/{import_id}")
        if record.get("end"):
            return record
        if time.monotonic() > deadline:
            raise ProductError(
                f"no end after the time limit: status={record.get('status')} "
                f"processed={record.get('processed')}"
            )
        time.sleep(0.1)


def count_problems(step: Step, record: dict) -> tuple[list[str], list[str]]:
    """(errors, warnings): where the import's counts disagree with the file.

    Errors make the timing meaningless (not completed, rows lost, good rows
    not created or not recognised as unchanged). How many rows fail depends on
    the product's validation rules, which are not the generator's: a different
    failure count is only a warning (the end-to-end tests judge the rules).
    """
    data, r = step.data, record
    errors, warnings = [], []
    if r.get("status") != "completed":
        errors.append(f"status {r.get('status')}: {r.get('message')}")
    if r["total"] != data.rows or r["success"] + r["failure"] != r["total"]:
        errors.append(f"total {r['total']} != {data.rows} rows")
    if r["created"] + r["updated"] + r["unchanged"] != r["success"]:
        errors.append("created+updated+unchanged != success")
    if r["failure"] != data.bad:
        warnings.append(f"failure {r['failure']}, generator made {data.bad} bad rows")
    if step.expect == "new" and r["created"] != r["success"]:
        errors.append(f"created {r['created']} != success {r['success']}")
    if step.expect == "unchanged" and r["unchanged"] != r["success"]:
        errors.append(f"unchanged {r['unchanged']} != success {r['success']}")
    if step.expect == "changed" and (
        r["created"] or not data.changed - data.bad <= r["updated"] <= data.changed
    ):
        errors.append(
            f"updated {r['updated']} not within {data.changed - data.bad}.."
            f"{data.changed}, or created {r['created']}"
        )
    return errors, warnings


def run_import(server: Server, step: Step, timeout: float) -> dict:
    """Upload, wait for the end, check the counts; one line of the table."""
    client = server.client
    with PeakSampler(server.pid) as sampler:
        started = time.perf_counter()
        import_id, upload_seconds = client.upload(step.data.path)
        record = wait_for_end(client, import_id, time.monotonic() + timeout)
        seconds = time.perf_counter() - started
    counts = {
        k: record.get(k)
        for k in ("total", "success", "failure", "created", "updated", "unchanged")
    }
    errors, warnings = count_problems(step, record)
    shown = " ".join(f"{k}={v}" for k, v in counts.items() if v)
    note = "; ".join([shown, *warnings])
    return {
        "status": "failed" if errors else "ok",
        "note": "; ".join(errors) if errors else note,
        "warnings": warnings,
        "rows": step.data.rows,
        "seconds": round(seconds, 3),
        "rows_per_s": round(step.data.rows / seconds, 1),
        "peak_rss_mb": round(sampler.peak_hwm_kib * 1024 / 1e6, 1),
        "sampled_rss_mb": round(sampler.peak_rss_kib * 1024 / 1e6, 1),
        "worker_processes": sampler.processes,
        "peaks_reset": sampler.peaks_reset,
        "server_peak_mb": round(memory_kib(server.pid)[0] * 1024 / 1e6, 1),
        "upload_seconds": round(upload_seconds, 3),
        "import_id": import_id,
        "counts": counts,
        "metadata_status": record.get("status"),
    }


def median_request(
    client: Client, paths: list[str], repeat: int, check, warm: int = 3, **how
):
    """Median (and p90) seconds of ``repeat`` GETs, on one kept-alive connection
    unless ``fresh=True``; ``how`` goes to Client.get."""
    for path in paths[:warm]:  # warm-up: connection, caches, first query plans
        client.get(path, **how)
    times = []
    for index in range(repeat):
        path = paths[index % len(paths)]
        started = time.perf_counter()
        status, body = client.get(path, **how)
        times.append(time.perf_counter() - started)
        if status != 200 or not check(body):
            raise HttpError(f"GET {path}: {status} {str(body)[:300]}")
    times.sort()
    return {
        "status": "ok",
        "seconds": round(statistics.median(times), 5),
        "p90_seconds": round(times[max(int(len(times) * 0.9) - 1, 0)], 5),
        "requests": repeat,
    }


def read_line(client: Client, paths: list[str], repeat: int, check) -> dict:
    """The keep-alive median with the token, the figure the target is about.

    Two more medians go into the note, to tell the parts of a slow answer
    apart: a new connection per request (no keep-alive: the delayed-ACK
    interplay of small writes on a kept-alive socket does not arise) and
    IDM's header authentication (a password hash check per request).
    """
    line = median_request(client, paths, repeat, check)
    few = max(repeat // 5, 3)
    fresh = median_request(client, paths, few, check, warm=1, fresh=True)
    headers = median_request(client, paths, 3, check, warm=1, header_auth=True)
    line["fresh_connection_seconds"] = fresh["seconds"]
    line["header_auth_seconds"] = headers["seconds"]
    line["note"] = (
        f"{line['seconds'] * 1000:.1f} ms (p90 {line['p90_seconds'] * 1000:.1f}); "
        f"new connection each: {fresh['seconds'] * 1000:.1f} ms; "
        f"X-OpenIDM headers: {headers['seconds'] * 1000:.0f} ms"
    )
    return line


def measure_reads(
    server: Server, import_id: str, names: list[str], repeat: int
) -> tuple[dict, dict]:
    """The read targets after a full import: one metadata record, and a
    ``userName eq`` query on names spread through the imported file."""
    record_path = f"/openidm/csv/metadata/{import_id}"
    metadata = read_line(
        server.client,
        [record_path],
        repeat,
        lambda body: isinstance(body, dict) and body.get("_id") == import_id,
    )
    query_paths = [
        "/openidm/managed/user?_queryFilter=" + quote(f'userName eq "{name}"', safe="")
        for name in names
    ]
    query = read_line(
        server.client,
        query_paths,
        repeat,
        lambda body: isinstance(body, dict) and body.get("resultCount") == 1,
    )
    return metadata, query
