"""The chat app as a process for benchmarks: started on a free local port, waited for until healthy,
stopped however the run ends; its memory and CPU time sampled from /proc."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import httpx

from qa import QAError

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_S = 180.0  # importing gradio and loading the seed index take about 10 s here
SAMPLE_S = 0.5  # how often the server's health is polled while it starts
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


class ProcSample(NamedTuple):
    at: float
    rss_mb: float
    threads: int
    cpu_s: float  # the server's CPU time
    client_cpu_s: float  # this process's
    machine_cpu_s: float  # every process's: what the others take is measured, not assumed away


def proc_sample(pid: int) -> ProcSample:
    """The server's resident memory, thread count and CPU time (user + system), from /proc."""
    status = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    busy = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    return ProcSample(
        time.monotonic(),
        int(status["VmRSS"].split()[0]) / 1024,
        int(status["Threads"]),
        (int(stat[11]) + int(stat[12])) / CLOCK_TICKS,
        time.process_time(),
        sum(int(t) for t in busy[:3] + busy[5:8]) / CLOCK_TICKS,  # all but idle and iowait
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server(NamedTuple):
    url: str
    pid: int
    startup_s: float


@contextmanager
def serve(index: Path, *, log: Path) -> Iterator[Server]:
    """`app.py` serving `index` on a free local port, healthy; stopped however the block ends."""
    port = free_port()
    started = time.monotonic()
    with log.open("w") as sink:
        address = ["--host", "127.0.0.1", "--port", str(port)]
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "app.py"), "--index", str(index), *address],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        )
        try:
            url = f"http://127.0.0.1:{port}"
            while True:
                try:
                    if httpx.get(url + "/api/health", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() - started > STARTUP_TIMEOUT_S:
                    raise QAError(
                        f"app.py did not answer /api/health within {STARTUP_TIMEOUT_S:.0f} s "
                        f"(exit code {proc.poll()}); check that the index loads with "
                        f"`qa ask test --index {index}`. Server log:\n{log.read_text()[-2000:]}"
                    )
                time.sleep(SAMPLE_S)
            yield Server(url, proc.pid, time.monotonic() - started)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def cores(first: ProcSample, last: ProcSample) -> dict[str, float]:
    """Cores busy on average between two samples: the server, this load client, every other process."""
    wall = max(last.at - first.at, 1e-9)
    server, client = last.cpu_s - first.cpu_s, last.client_cpu_s - first.client_cpu_s
    others = last.machine_cpu_s - first.machine_cpu_s - server - client
    return {k: round(v / wall, 2) for k, v in (("server", server), ("client", client), ("others", others))}
