"""Platform API benchmark: latency of the REST API over 100,000 alerts, 10 concurrent clients.

Builds a province tree (13 cities x 3 counties x 4 enterprises = 156 enterprises), writes the
alerts into the store (spread over 30 days, 10 rules, severities 10..100), starts
``python -m api.cli serve`` on 127.0.0.1 in a subprocess and runs ``--clients`` threads, each
with its own keep-alive HTTP connection and no think time (a closed loop: the next request
leaves when the last answer is in), through a mix of reads as a city responder and a
provincial responder. ``--runs`` repeats that load phase against the same server. The clients
use ``http.client`` (a fifth of httpx's CPU per request): on a 2-core machine the load
generator's CPU is taken from the server under test.

Printed per run: p50/p95/p99 per request kind and overall, and CPU per request of the server
process and of this process (the clients); then, per store, p50/p99 of every run and the
median of the store calls behind each kind made directly, one at a time (what the store costs
without the API and without concurrency). The machine is shared: wall-clock latency moves with
whatever else runs, CPU per request much less; compare CPU per request (server, clients and,
for Elasticsearch, its JVM) across changes, and latency over several runs. ``--ingest N``
writes N new alerts a second during each phase (from this process: its CPU counts under
clients), so Elasticsearch's request cache keeps starting over as it would in service.

The server runs as ``icssa serve`` does without options (one worker process, uvicorn on
uvloop and httptools, as ``uvicorn[standard]`` installs them); ``--workers N`` passes
``--workers N`` on. Results and how to read them: bench/README.md.

SQLite always; Elasticsearch too when one answers on 127.0.0.1:9200 (documents under the
prefix ``icssa-benchapi-``, dropped afterwards).

    python bench/bench_api.py [--alerts 100000] [--clients 10] [--seconds 20] [--runs 3]
                              [--store sqlite|es|both] [--mix KIND,...] [--workers 1] [--ingest 0]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPConnection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.db import Database, now_iso  # noqa: E402
from api.security import Passwords, create_access_token  # noqa: E402
from api.settings import Settings  # noqa: E402
from icssa.store import AlertQuery, Store, open_store  # noqa: E402

CITIES, COUNTIES, ENTERPRISES = 13, 3, 4
RULES = [(f"rule-{i}", f"T08{30 + i}") for i in range(10)]
#: request kinds: (who, path, query parameters); an empty path means one alert by id
MIX: dict[str, tuple[str, str, dict[str, Any]]] = {
    "alerts page (city)": ("city", "/api/v1/alerts", {"size": 50}),
    "alerts filtered (city)": ("city", "/api/v1/alerts", {"size": 50, "min_severity": 70, "technique": "T0832"}),
    "alerts by county (city)": ("city", "/api/v1/alerts", {"size": 50, "region": "js/c03/c03k1"}),
    "alert by id (city)": ("city", "", {}),
    "alert stats (city)": ("city", "/api/v1/alerts/stats", {"interval": 86400}),
    "alerts page (province)": ("prov", "/api/v1/alerts", {"size": 50}),
    "alerts by city (province)": ("prov", "/api/v1/alerts", {"size": 50, "region": "js/c07", "min_severity": 90}),
}
#: not in the default mix: the floor of the HTTP stack (no authentication, no store)
EXTRA: dict[str, tuple[str, str, dict[str, Any]]] = {"health": ("city", "/api/v1/health", {})}


def tree_yaml() -> tuple[str, list[str], dict[str, list[str]]]:
    lines = ["organizations:", "  - {id: js, name: Jiangsu, level: province}"]
    enterprises: list[str] = []
    by_city: dict[str, list[str]] = defaultdict(list)
    for c in range(CITIES):
        city = f"c{c:02d}"
        lines.append(f"  - {{id: {city}, level: city, parent: js}}")
        for k in range(COUNTIES):
            county = f"{city}k{k}"
            lines.append(f"  - {{id: {county}, level: county, parent: {city}}}")
            for e in range(ENTERPRISES):
                ent = f"{county}e{e}"
                lines.append(f"  - {{id: {ent}, level: enterprise, parent: {county}}}")
                enterprises.append(ent)
                by_city[city].append(ent)
    return "\n".join(lines) + "\n", enterprises, by_city


def alerts(n: int, enterprises: list[str], rng: random.Random) -> list[dict[str, Any]]:
    base = 1_777_600_000  # 2026-05-01
    out = []
    for i in range(n):
        ent = enterprises[i % len(enterprises)]
        rule, tech = RULES[rng.randrange(len(RULES))]
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(base + rng.randrange(30 * 86400))) + f".{i % 1000000:06d}Z"
        out.append({
            "@timestamp": ts, "message": f"{rule} at {ent}",
            "event": {"id": f"bench-{i:07d}", "kind": "alert", "dataset": "icssa.alert", "severity": rng.randrange(10, 101),
                      "start": ts, "end": ts, "count": 1},
            "rule": {"id": rule, "name": rule}, "threat": {"technique": {"id": [tech]}},
            "source": {"ip": f"10.{i % 200}.{(i >> 8) % 250}.{i % 250 + 1}", "port": 40000 + i % 20000},
            "destination": {"ip": f"10.200.{i % 250}.10", "port": 502},
            "related": {"events": [f"ev-{i}"]}, "organization": {"id": ent},
        })
    return out


def store_latency(store: Store, enterprises: list[str], by_city: dict[str, list[str]],
                  docs: list[dict[str, Any]]) -> dict[str, float]:
    """Median seconds of the store calls behind each request kind, one caller at a time."""
    city = sorted(by_city["c03"])
    county = [e for e in city if e.startswith("c03k1")]
    calls: dict[str, Callable[[], Any]] = {
        "alerts page (city)": lambda: store.search_alerts(AlertQuery(organizations=city), size=50),
        "alerts filtered (city)": lambda: store.search_alerts(
            AlertQuery(organizations=city, min_severity=70, technique="T0832"), size=50),
        "alerts by county (city)": lambda: store.search_alerts(AlertQuery(organizations=county), size=50),
        "alert by id (city)": lambda: store.get("alerts", docs[3]["event"]["id"]),
        "alert stats (city)": lambda: store.alert_stats(AlertQuery(organizations=city), interval_seconds=86400),
        "alerts page (province)": lambda: store.search_alerts(AlertQuery(organizations=sorted(enterprises)), size=50),
        "alerts by city (province)": lambda: store.search_alerts(
            AlertQuery(organizations=sorted(by_city["c07"]), min_severity=90), size=50),
    }
    out = {}
    for name, call in calls.items():
        times = []
        for _ in range(15):
            t = time.perf_counter()
            call()
            times.append(time.perf_counter() - t)
        out[name] = statistics.median(times)
    return out


def server_cpu(pid: int) -> float | None:
    """CPU seconds used so far by the server process and its worker processes (Linux /proc)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        threading.Event().wait(0.05)
    raise SystemExit(f"{url} never answered")


def quantiles(values: list[float]) -> tuple[float, float, float]:
    """p50, p95, p99 in milliseconds."""
    q = statistics.quantiles(values, n=100, method="inclusive") if len(values) > 1 else values * 99
    return q[49] * 1000, q[94] * 1000, q[98] * 1000


@dataclass
class RunResult:
    timings: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: int = 0
    seconds: float = 0.0
    server_cpu: float | None = None
    client_cpu: float = 0.0
    #: CPU of the Elasticsearch process (with whatever else it served meanwhile)
    es_cpu: float | None = None
    #: alerts written during the phase (--ingest)
    ingested: list[int] = field(default_factory=lambda: [0])

    @property
    def every(self) -> list[float]:
        return [x for v in self.timings.values() for x in v]


def ingest(store_url: str, rate: int, stop: list[float], started: threading.Barrier, seed: int,
           written: list[int]) -> None:
    """Writes ``rate`` new alerts a second (ten batches) until ``stop``: every refresh then
    changes what searches see (Elasticsearch's caches start over, SQLite's rollups move)."""
    _, enterprises, _ = tree_yaml()
    store = open_store(store_url)
    rng = random.Random(seed)
    try:
        started.wait()
        tick = time.perf_counter()
        while time.perf_counter() < stop[0]:
            batch = alerts(max(1, rate // 10), enterprises, rng)
            for d in batch:
                d["event"]["id"] = f"ingest-{seed}-{written[0]}"
                written[0] += 1
            store.put_alerts(batch)
            tick += 0.1
            threading.Event().wait(max(0.0, tick - time.perf_counter()))
    finally:
        store.close()


def load_phase(host: str, port: int, tokens: dict[str, str], kinds: list[str], city_ids: list[str], clients: int,
               seconds: float, pid: int, seed: int, es_pid: int | None = None, ingest_url: str | None = None,
               ingest_rate: int = 0) -> RunResult:
    mix = {**MIX, **EXTRA}
    result = RunResult()
    lock = threading.Lock()
    writer = ingest_url is not None and ingest_rate > 0
    start_barrier = threading.Barrier(clients + 1 + writer)
    stop = [0.0]

    def client(n: int) -> None:
        r = random.Random(seed * 1000 + n)
        local: dict[str, list[float]] = defaultdict(list)
        errors = 0
        http = HTTPConnection(host, port, timeout=30)  # one keep-alive connection per client
        http.request("GET", "/api/v1/health")  # connect before the clock starts
        http.getresponse().read()
        start_barrier.wait()
        while time.perf_counter() < stop[0]:
            name = kinds[r.randrange(len(kinds))]
            who, path, params = mix[name]
            if not path:
                path = f"/api/v1/alerts/{city_ids[r.randrange(len(city_ids))]}"
            url = f"{path}?{urlencode(params)}" if params else path
            t = time.perf_counter()
            http.request("GET", url, headers={"Authorization": f"Bearer {tokens[who]}"})
            resp = http.getresponse()
            resp.read()
            local[name].append(time.perf_counter() - t)
            if resp.status != 200:
                errors += 1
        http.close()
        with lock:
            result.errors += errors
            for k, v in local.items():
                result.timings[k].extend(v)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    if writer:
        threads.append(threading.Thread(target=ingest, args=(ingest_url, ingest_rate, stop, start_barrier, seed,
                                                             result.ingested)))
    for th in threads:
        th.start()
    cpu0, client0 = server_cpu(pid), time.process_time()
    es0 = server_cpu(es_pid) if es_pid else None
    t0 = time.perf_counter()
    stop[0] = t0 + seconds
    start_barrier.wait()
    for th in threads:
        th.join()
    result.seconds = time.perf_counter() - t0
    cpu1 = server_cpu(pid)
    result.server_cpu = None if cpu0 is None or cpu1 is None else cpu1 - cpu0
    result.client_cpu = time.process_time() - client0
    es1 = server_cpu(es_pid) if es_pid else None
    result.es_cpu = None if es0 is None or es1 is None else es1 - es0
    return result


def print_run(label: str, run_no: int, res: RunResult, direct: dict[str, float]) -> None:
    n = len(res.every)
    per = lambda cpu: "?" if cpu is None else f"{cpu * 1000 / max(1, n):.2f} ms"  # noqa: E731
    print(f"\n{label} run {run_no}: {n:,} requests in {res.seconds:.1f} s ({n / res.seconds:,.0f}/s), "
          f"{res.errors} non-200; CPU per request: server {per(res.server_cpu)}, clients {per(res.client_cpu)}"
          f"{'' if res.es_cpu is None else f', Elasticsearch {per(res.es_cpu)}'}; "
          f"{f'{res.ingested[0]:,} alerts written meanwhile; ' if res.ingested[0] else ''}"
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'request':32} {'n':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'store alone ms':>15}")
    for name, values in [*sorted(res.timings.items()), ("overall", res.every)]:
        p50, p95, p99 = quantiles(values)
        alone = f"{direct[name] * 1000:>15.2f}" if name in direct else ""
        print(f"{name:32} {len(values):>7} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f} {alone}")


def platform_users(folder: Path, label: str, yaml_text: str) -> tuple[Settings, dict[str, str]]:
    from api.tenancy import load_yaml, save_orgs

    (folder / "orgs.yaml").write_text(yaml_text)
    settings = Settings(environment="test", secret_key="b" * 48, db_path=folder / f"{label}.db", argon2_time_cost=1,
                        argon2_memory_kib=64)
    db = Database(settings.db_path)
    save_orgs(db, load_yaml(folder / "orgs.yaml"))
    pw = Passwords(settings)
    tokens = {}
    for name, role, org in (("city", "responder", "c03"), ("prov", "responder", "js")):
        cur = db.execute("INSERT INTO users (username, password_hash, role, org, active, created) VALUES (?,?,?,?,1,?)",
                         (name, pw.hash("benchmark-pass"), role, org, now_iso()))
        tokens[name] = create_access_token(settings, int(cur.lastrowid or 0), minutes=600)
    db.close()
    return settings, tokens


def run(store_url: str, label: str, args: argparse.Namespace, folder: Path) -> list[tuple[float, float]]:
    """Load the store, serve it, run the load phases; returns (p50, p99) ms of each run."""
    rng = random.Random(1)
    yaml_text, enterprises, by_city = tree_yaml()
    store = open_store(store_url)
    store.drop()
    docs = alerts(args.alerts, enterprises, rng)
    t0 = time.perf_counter()
    for i in range(0, len(docs), 5000):
        store.put_alerts(docs[i : i + 5000])
    store.refresh()
    print(f"\n{label}: {args.alerts:,} alerts loaded in {time.perf_counter() - t0:.1f} s")
    direct = store_latency(store, enterprises, by_city, docs)
    store.close()
    settings, tokens = platform_users(folder, label, yaml_text)
    port = free_port()
    env = {**os.environ, "ICSSA_ENVIRONMENT": "test", "ICSSA_SECRET_KEY": settings.secret_key, "ICSSA_SYNC_INTERVAL": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--store", store_url, "--db", str(settings.db_path),
         "--port", str(port), "--workspaces", str(folder / "ws"), "--workers", str(args.workers)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    city_ids = [d["event"]["id"] for d in docs if d["organization"]["id"] in by_city["c03"]]
    summary: list[tuple[float, float]] = []
    try:
        wait_ready(base + "/api/v1/health", proc)
        for n in range(1, args.runs + 1):
            res = load_phase("127.0.0.1", port, tokens, args.mix, city_ids, args.clients, args.seconds, proc.pid, n,
                             es_pid(store_url), store_url, args.ingest)
            print_run(label, n, res, direct)
            p50, _, p99 = quantiles(res.every)
            summary.append((p50, p99))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if store_url.startswith("http"):
            cleanup = open_store(store_url)
            cleanup.drop()
            delete_templates = getattr(cleanup, "delete_templates", None)
            if delete_templates is not None:
                delete_templates()
            cleanup.close()
    return summary


def es_pid(store_url: str) -> int | None:
    """The process id of the Elasticsearch node behind ``store_url`` when it runs here."""
    if not store_url.startswith("http"):
        return None
    try:
        nodes = httpx.get(store_url.split("?")[0] + "/_nodes/_local/process", timeout=2).json()["nodes"]
        return int(next(iter(nodes.values()))["process"]["id"])
    except (httpx.HTTPError, ValueError, KeyError, StopIteration):
        return None


def es_up(url: str) -> bool:
    try:
        return httpx.get(url + "/_cluster/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20.0, help="length of one load phase")
    ap.add_argument("--runs", type=int, default=3, help="load phases per store (same server, same data)")
    ap.add_argument("--store", choices=("sqlite", "es", "both"), default="both")
    ap.add_argument("--no-es", action="store_true", help="same as --store sqlite")
    ap.add_argument("--es", default="http://127.0.0.1:9200")
    ap.add_argument("--prefix", default="icssa-benchapi-", help="Elasticsearch index prefix")
    ap.add_argument("--mix", default=",".join(MIX),
                    help=f"request kinds, comma-separated, from: {', '.join([*MIX, *EXTRA])}")
    ap.add_argument("--workers", type=int, default=1,
                    help="server processes (icssa serve --workers; default 1, as icssa serve)")
    ap.add_argument("--ingest", type=int, default=0, metavar="ALERTS_PER_S",
                    help="write this many new alerts a second during each load phase (default 0)")
    args = ap.parse_args()
    args.mix = [k.strip() for k in args.mix.split(",") if k.strip()]
    unknown = [k for k in args.mix if k not in MIX and k not in EXTRA]
    if unknown or not args.mix:
        ap.error(f"--mix: unknown kinds {unknown}")
    stores = ["sqlite"] if args.no_es else {"sqlite": ["sqlite"], "es": ["es"], "both": ["sqlite", "es"]}[args.store]
    results: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="icssa-bench-api-") as tmp:
        folder = Path(tmp)
        if "sqlite" in stores:
            results["SQLite"] = run(f"sqlite:///{folder / 'store.db'}", "SQLite", args, folder)
        if "es" in stores:
            if es_up(args.es):
                results["Elasticsearch"] = run(f"{args.es}?prefix={args.prefix}", "Elasticsearch", args, folder)
            else:
                print(f"\nElasticsearch: nothing answers on {args.es}; skipped")
    print(f"\nsummary: {args.clients} clients, {args.seconds:.0f} s a run, overall p50 / p99 ms per run")
    for label, runs in results.items():
        figures = "  ".join(f"{p50:.1f} / {p99:.1f}" for p50, p99 in runs)
        print(f"{label:14} {figures}   (median p99 {statistics.median(p99 for _, p99 in runs):.1f} ms)")


if __name__ == "__main__":
    main()
