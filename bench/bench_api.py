"""Platform API benchmark: latency of the REST API over 100,000 alerts, 10 concurrent clients.

Builds a province tree (13 cities x 3 counties x 4 enterprises = 156 enterprises), writes the
alerts into the store (spread over 30 days, 10 rules, severities 10..100), starts
``python -m api.cli serve`` on 127.0.0.1 in a subprocess and runs ``--clients`` threads, each
with its own HTTP connection, through a mix of reads as a city responder and a provincial
responder. Prints p50/p95/p99 per request kind and overall, beside the median of the store
calls behind each kind made directly, one at a time (what the store costs without the API and
without concurrency). SQLite always; Elasticsearch too
when one answers on 127.0.0.1:9200 (documents under the prefix ``icssa-benchapi-``, dropped
afterwards).

    python bench/bench_api.py [--alerts 100000] [--clients 10] [--seconds 20] [--workers 1] [--no-es]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from api.db import Database, now_iso  # noqa: E402
from api.security import Passwords, create_access_token  # noqa: E402
from api.settings import Settings  # noqa: E402
from icssa.store import AlertQuery, open_store  # noqa: E402

CITIES, COUNTIES, ENTERPRISES = 13, 3, 4
RULES = [(f"rule-{i}", f"T08{30 + i}") for i in range(10)]


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


def store_latency(store: Any, enterprises: list[str], by_city: dict[str, list[str]], docs: list[dict[str, Any]]) -> dict[str, float]:
    """Median milliseconds of the store calls behind each request kind, one caller at a time."""
    city = sorted(by_city["c03"])
    county = [e for e in city if e.startswith("c03k1")]
    calls = {
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


def run(store_url: str, label: str, n_alerts: int, clients: int, seconds: float, folder: Path, workers: int) -> None:
    rng = random.Random(1)
    yaml_text, enterprises, by_city = tree_yaml()
    (folder / "orgs.yaml").write_text(yaml_text)
    store = open_store(store_url)
    store.drop()
    docs = alerts(n_alerts, enterprises, rng)
    t0 = time.perf_counter()
    for i in range(0, len(docs), 5000):
        store.put_alerts(docs[i : i + 5000])
    store.refresh()
    load = time.perf_counter() - t0
    direct = store_latency(store, enterprises, by_city, docs)
    store.close()
    secret = "b" * 48
    settings = Settings(environment="test", secret_key=secret, db_path=folder / f"{label}.db", argon2_time_cost=1,
                        argon2_memory_kib=64)
    db = Database(settings.db_path)
    from api.tenancy import load_yaml, save_orgs

    save_orgs(db, load_yaml(folder / "orgs.yaml"))
    pw = Passwords(settings)
    tokens = {}
    for name, role, org in (("city", "responder", "c03"), ("prov", "responder", "js")):
        cur = db.execute("INSERT INTO users (username, password_hash, role, org, active, created) VALUES (?,?,?,?,1,?)",
                         (name, pw.hash("benchmark-pass"), role, org, now_iso()))
        tokens[name] = create_access_token(settings, int(cur.lastrowid or 0), minutes=600)
    db.close()
    port = 18000 + rng.randrange(2000)
    env = {**os.environ, "ICSSA_ENVIRONMENT": "test", "ICSSA_SECRET_KEY": secret, "ICSSA_SYNC_INTERVAL": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--store", store_url, "--db", str(settings.db_path),
         "--port", str(port), "--workspaces", str(folder / "ws"), "--workers", str(workers)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/api/v1/health", proc)
        cpu_ready = server_cpu(proc.pid)
        city_ids = [d["event"]["id"] for d in docs if d["organization"]["id"] in by_city["c03"]]
        mix: list[tuple[str, str, str, dict[str, Any]]] = [
            ("alerts page (city)", "city", "/api/v1/alerts", {"size": 50}),
            ("alerts filtered (city)", "city", "/api/v1/alerts", {"size": 50, "min_severity": 70, "technique": "T0832"}),
            ("alerts by county (city)", "city", "/api/v1/alerts", {"size": 50, "region": "js/c03/c03k1"}),
            ("alert by id (city)", "city", "", {}),
            ("alert stats (city)", "city", "/api/v1/alerts/stats", {"interval": 86400}),
            ("alerts page (province)", "prov", "/api/v1/alerts", {"size": 50}),
            ("alerts by city (province)", "prov", "/api/v1/alerts", {"size": 50, "region": "js/c07", "min_severity": 90}),
        ]
        timings: dict[str, list[float]] = defaultdict(list)
        errors = [0]
        stop = time.perf_counter() + seconds
        lock = threading.Lock()

        def client(seed: int) -> None:
            r = random.Random(seed)
            local: dict[str, list[float]] = defaultdict(list)
            with httpx.Client(base_url=base, timeout=30) as http:
                while time.perf_counter() < stop:
                    name, who, path, params = mix[r.randrange(len(mix))]
                    if not path:
                        path = f"/api/v1/alerts/{city_ids[r.randrange(len(city_ids))]}"
                    t = time.perf_counter()
                    resp = http.get(path, params=params, headers={"Authorization": f"Bearer {tokens[who]}"})
                    local[name].append(time.perf_counter() - t)
                    if resp.status_code != 200:
                        errors[0] += 1
            with lock:
                for k, v in local.items():
                    timings[k].extend(v)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        cpu_end = server_cpu(proc.pid)
        cpu = None if cpu_end is None or cpu_ready is None else cpu_end - cpu_ready
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    every = [x for v in timings.values() for x in v]
    print(f"\n{label}: {n_alerts:,} alerts (loaded in {load:.1f} s), {workers} server process(es), "
          f"{clients} clients, {seconds:.0f} s, "
          f"{len(every):,} requests ({len(every) / seconds:,.0f}/s), {errors[0]} non-200, "
          f"server CPU {'?' if cpu is None else f'{cpu * 1000 / max(1, len(every)):.1f} ms'} per request, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'request':32} {'n':>7} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'store alone ms':>15}")
    for name, values in sorted(timings.items()) + [("overall", every)]:
        q = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        alone = f"{direct[name] * 1000:>15.1f}" if name in direct else ""
        print(f"{name:32} {len(values):>7} {q[49] * 1000:>8.1f} {q[94] * 1000:>8.1f} {q[98] * 1000:>8.1f} {alone}")
    if store_url.startswith("http"):
        cleanup = open_store(store_url)
        cleanup.drop()
        delete_templates = getattr(cleanup, "delete_templates", None)
        if delete_templates is not None:
            delete_templates()
        cleanup.close()


def es_up(url: str) -> bool:
    try:
        return httpx.get(url + "/_cluster/health", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--alerts", type=int, default=100_000)
    ap.add_argument("--clients", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--es", default="http://127.0.0.1:9200")
    ap.add_argument("--no-es", action="store_true")
    ap.add_argument("--workers", type=int, default=1, help="server processes (icssa serve --workers)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="icssa-bench-api-") as tmp:
        folder = Path(tmp)
        run(f"sqlite:///{folder / 'store.db'}", "SQLite", args.alerts, args.clients, args.seconds, folder, args.workers)
        if not args.no_es and es_up(args.es):
            run(f"{args.es}?prefix=icssa-benchapi-", "Elasticsearch", args.alerts, args.clients, args.seconds, folder,
                args.workers)
        elif not args.no_es:
            print(f"\nElasticsearch: nothing answers on {args.es}; skipped")


if __name__ == "__main__":
    main()
