#!/usr/bin/env python3
"""Regenerates the SIRA Guard golden corpora (NAME.ndjson) and their expectations.

Each case is one NDJSON file of request records plus NAME.expected.json naming, for every key
of the file, the detections sira must report at `evaluate_at` and bounds on its anomaly score.
Deterministic: every case draws from its own seeded random.Random. Python stdlib only.

    python3 tests/golden/guard/generate.py            # rewrite every case
    python3 tests/golden/guard/generate.py bot_pattern # rewrite one case
"""

import datetime as dt
import json
import math
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

UTC = dt.timezone.utc
EVALUATE_AT = dt.datetime(2025, 11, 11, 12, 50, 0, tzinfo=UTC)  # a Tuesday
MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
DAY_MS = 24 * HOUR_MS
NOW_MS = int(EVALUATE_AT.timestamp() * 1000)

# Benign keys must stay below the alert band of the seed's action table.
BENIGN_MAX_SCORE = 0.3

ENDPOINTS = [
    ("GET", "/v1/payments"),
    ("GET", "/v1/payments/pay_8f2k1"),
    ("POST", "/v1/payments"),
    ("GET", "/v1/customers"),
    ("POST", "/v1/customers"),
    ("GET", "/v1/balance"),
    ("POST", "/v1/refunds"),
    ("GET", "/v1/invoices"),
]
BROWSER_UAS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/119.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64) Firefox/119.0",
]
SDK_UA = "molam-node/4.2.0"


def at(hh, mm, day=11, ss=0):
    """Unix ms of 2025-11-<day> hh:mm:ss UTC."""
    return int(dt.datetime(2025, 11, day, hh, mm, ss, tzinfo=UTC).timestamp() * 1000)


def rfc3339(ms):
    t = dt.datetime.fromtimestamp(ms / 1000, tz=UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ip_pool(rng, n, prefix="203.0.113"):
    """n distinct IPv4 addresses; beyond one /24 they spill into 198.51.100.x and 10.x.y.z."""
    out = []
    for i in range(n):
        if i < 250:
            out.append(f"{prefix}.{i + 1}")
        else:
            out.append(f"10.{rng.randrange(256)}.{(i // 250) % 256}.{i % 250 + 1}")
    return out


def lognormal_ms(median, sigma):
    return lambda rng: median * math.exp(rng.gauss(0, sigma))


def uniform_ms(lo, hi):
    return lambda rng: rng.uniform(lo, hi)


def mixed_statuses(rng):
    """Normal API traffic: ~96% success, a few client errors, rare 5xx."""
    x = rng.random()
    if x < 0.90:
        return 200
    if x < 0.96:
        return 201
    if x < 0.975:
        return 400
    if x < 0.985:
        return 422
    if x < 0.99:
        return 404
    if x < 0.996:
        return 401
    return 500


class Case:
    def __init__(self, name, seed):
        self.name = name
        self.rng = random.Random(seed)
        self.records = []
        self.expected = {}

    def traffic(self, key, start_ms, end_ms, per_minute, ips, latency, status=mixed_statuses,
                endpoints=ENDPOINTS, uas=(SDK_UA,), path_fn=None):
        """per_minute requests in each minute of [start_ms, end_ms), at random instants."""
        rng = self.rng
        minute = start_ms
        while minute < end_ms:
            span = min(MINUTE_MS, end_ms - minute)
            count = per_minute if span == MINUTE_MS else round(per_minute * span / MINUTE_MS)
            for _ in range(count):
                ts = minute + rng.randrange(span)
                method, path = rng.choice(endpoints)
                st = status(rng)
                if path_fn is not None:
                    method, path, st = path_fn(rng, method, path, st)
                self.records.append({
                    "ts": rfc3339(ts),
                    "key_id": key,
                    "ip": rng.choice(ips),
                    "method": method,
                    "path": path,
                    "status": st,
                    "latency_ms": round(max(0.1, latency(rng)), 1),
                    "user_agent": rng.choice(uas),
                    "_ms": ts,
                })
            minute += MINUTE_MS

    def expect(self, key, detections, min_score=0.0, max_score=None, note=""):
        e = {"detections": sorted(detections), "min_anomaly_score": min_score}
        if max_score is not None:
            e["max_anomaly_score"] = max_score
        if note:
            e["note"] = note
        self.expected[key] = e

    def write(self):
        self.records.sort(key=lambda r: (r["_ms"], r["key_id"]))
        assert all(r["_ms"] < NOW_MS for r in self.records), "records after evaluate_at"
        keys = {r["key_id"] for r in self.records}
        assert keys == set(self.expected), (keys, set(self.expected))
        with open(os.path.join(HERE, self.name + ".ndjson"), "w", encoding="utf-8") as f:
            for r in self.records:
                r = {k: v for k, v in r.items() if k != "_ms"}
                f.write(json.dumps(r, separators=(",", ":")) + "\n")
        doc = {"evaluate_at": EVALUATE_AT.strftime("%Y-%m-%dT%H:%M:%SZ"), "keys": self.expected}
        with open(os.path.join(HERE, self.name + ".expected.json"), "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2, sort_keys=True)
            f.write("\n")
        size = os.path.getsize(os.path.join(HERE, self.name + ".ndjson"))
        assert size < 1_500_000, f"{self.name}.ndjson is {size} bytes"
        print(f"{self.name}: {len(self.records)} records, {size} bytes")


# ---- attack cases ----

def brute_force():
    c = Case("brute_force", 1001)
    ips = ["198.51.100.7", "198.51.100.8", "198.51.100.9"]

    def guessing(rng, method, path, st):
        x = rng.random()
        if x < 0.64:
            return "POST", "/v1/auth/token", 401
        if x < 0.76:
            return "POST", "/v1/auth/token", 403
        return method, path, 200

    c.traffic("key_bf", at(11, 50), at(12, 50), 10, ips, lognormal_ms(90, 0.5),
              path_fn=guessing, uas=("curl/8.4.0",))
    c.expect("key_bf", ["brute_force"], 0.7, note="~76% 401/403 over 600 requests")
    # A well-behaved key of the same tenant in the same file must stay quiet.
    c.traffic("key_bf_neighbor", at(11, 50), at(12, 50), 5, ["192.0.2.10", "192.0.2.11"],
              lognormal_ms(80, 0.5))
    c.expect("key_bf_neighbor", [], 0.0, BENIGN_MAX_SCORE)
    return c


def bot_pattern():
    c = Case("bot_pattern", 1002)
    endpoints = [("GET", f"/v1/products/prod_{i:04d}") for i in range(200)]
    c.traffic("key_bot", at(11, 50), at(12, 50), 50, ["198.51.100.20", "198.51.100.21"],
              uniform_ms(18, 32), status=lambda rng: 200, endpoints=endpoints,
              uas=("python-requests/2.31.0",))
    c.expect("key_bot", ["bot_pattern"], 0.0,
             note="3000 req/h, latency uniform in 18-32 ms: p95 ~31, p99 - p95 ~1")
    return c


def ip_rotation():
    c = Case("ip_rotation", 1003)
    ips = ip_pool(c.rng, 90, prefix="198.51.100")
    # A few addresses carry much of the traffic, the rest appear once or twice an hour.
    weighted = ips[:5] * 12 + ips
    c.traffic("key_ipr", at(11, 50), at(12, 50), 9, weighted, lognormal_ms(110, 0.5),
              uas=BROWSER_UAS)
    c.expect("key_ipr", ["ip_rotation"], 0.15,
             note="~90 IPs over 540 requests: ~16 per 100")
    return c


def traffic_spike():
    c = Case("traffic_spike", 1004)
    ips = ["192.0.2.30", "192.0.2.31", "192.0.2.32", "192.0.2.33"]
    lat = lognormal_ms(95, 0.45)
    # Three previous days: 4 req/min in the same hour of day (240 per hour, 20 per 5 minutes).
    for day in (8, 9, 10):
        c.traffic("key_spike", at(12, 0, day), at(13, 0, day), 4, ips, lat)
    # Today: the same rate, then 100 req/min over the last four minutes.
    c.traffic("key_spike", at(12, 0), at(12, 46), 4, ips, lat)
    c.traffic("key_spike", at(12, 46), at(12, 50), 100, ips, lat)
    c.expect("key_spike", ["traffic_spike"], 0.9,
             note="baseline 20 per 5 minutes from 3 days at 12:00; ~400 in the last 5")
    return c


def endpoint_scanning():
    c = Case("endpoint_scanning", 1005)
    normal_ips = ["192.0.2.40", "192.0.2.41", "192.0.2.42"]
    c.traffic("key_scan", at(11, 50), at(12, 50), 8, normal_ips, lognormal_ms(85, 0.5))
    probes = [".env", "wp-login.php", "admin", "phpmyadmin", "backup.zip", "config.json",
              ".git/config", "server-status", "actuator/health", "debug", "console", "v0/users"]
    counter = iter(range(10_000))

    def scanner(rng, method, path, st):
        n = next(counter)
        if rng.random() < 0.95:
            base = probes[n % len(probes)]
            return "GET", f"/{base}" if n < len(probes) else f"/{base}.{n}", 404
        return "GET", "/v1/balance", 403

    c.traffic("key_scan", at(12, 42), at(12, 50), 22, ["203.0.113.66"], uniform_ms(5, 40),
              path_fn=scanner, uas=("Mozilla/5.0 zgrab/0.x",))
    c.expect("key_scan", ["endpoint_scanning"], 0.2,
             note="~167 404s on distinct paths among ~256 requests in 10 minutes")
    return c


def error_burst():
    c = Case("error_burst", 1006)
    ips = ["192.0.2.50", "192.0.2.51", "192.0.2.52", "192.0.2.53"]
    lat = lognormal_ms(120, 0.6)
    c.traffic("key_eb", at(11, 50), at(12, 46), 30, ips, lat)

    def failing(rng):
        x = rng.random()
        if x < 0.2:
            return 500
        if x < 0.4:
            return 502
        if x < 0.5:
            return 503
        return 200

    c.traffic("key_eb", at(12, 46), at(12, 50), 30, ips, lat, status=failing)
    c.expect("key_eb", ["error_burst"], 0.0,
             note="steady 30 req/min; half of the last 4 minutes answered 5xx")
    c.traffic("key_eb_neighbor", at(11, 50), at(12, 50), 3, ["192.0.2.60"],
              lognormal_ms(100, 0.5))
    c.expect("key_eb_neighbor", [], 0.0, BENIGN_MAX_SCORE)
    return c


def latency_degradation():
    c = Case("latency_degradation", 1007)
    ips = ["192.0.2.70", "192.0.2.71", "192.0.2.72"]
    c.traffic("key_lat", at(8, 50), at(12, 34), 10, ips, lognormal_ms(60, 0.4))
    c.traffic("key_lat", at(12, 34), at(12, 50), 10, ips, lognormal_ms(300, 0.4))
    c.expect("key_lat", ["latency_degradation"], 0.9,
             note="p95 ~115 ms for 4 hours, ~580 ms over the last 16 minutes")
    return c


# ---- benign cases: nothing may fire ----

def benign_steady():
    c = Case("benign_steady", 2001)
    c.traffic("key_steady", at(6, 50), at(12, 50), 6,
              ["192.0.2.80", "192.0.2.81", "192.0.2.82"], lognormal_ms(80, 0.5))
    c.expect("key_steady", [], 0.0, BENIGN_MAX_SCORE)
    c.traffic("key_steady_small", at(10, 0), at(12, 50), 2, ["192.0.2.90", "192.0.2.91"],
              lognormal_ms(120, 0.5))
    c.expect("key_steady_small", [], 0.0, BENIGN_MAX_SCORE)
    return c


def benign_busy_but_normal_latency():
    c = Case("benign_busy_but_normal_latency", 2002)

    def fast_with_tail(rng):
        # A fast service: most answers from cache in ~18 ms, 4% hit the database.
        if rng.random() < 0.04:
            return rng.uniform(100, 500)
        return 18 * math.exp(rng.gauss(0, 0.35))

    ips = [f"192.0.2.{100 + i}" for i in range(8)]
    c.traffic("key_busy", at(11, 20), at(12, 50), 50, ips, fast_with_tail)
    c.expect("key_busy", [], 0.0, BENIGN_MAX_SCORE,
             note="3000 req/h with p95 ~40 ms but a p99 in the hundreds: not uniform, not a bot")
    return c


def benign_few_ips():
    c = Case("benign_few_ips", 2003)
    nat = ["100.64.0.1", "100.64.0.2", "100.64.0.3", "100.64.0.4", "100.64.0.5"]
    c.traffic("key_nat", at(10, 50), at(12, 50), 15, nat, lognormal_ms(100, 0.5),
              uas=BROWSER_UAS)
    c.expect("key_nat", [], 0.0, BENIGN_MAX_SCORE, note="an office behind a 5-address NAT")
    return c


def benign_404s():
    c = Case("benign_404s", 2004)
    typos = ["/v1/payment", "/v1/customer", "/v1/refund", "/v1/invoice", "/v1/balances",
             "/v2/payments", "/v1/payments/", "/v1/customers/cus_x", "/v1/charges", "/favicon.ico"]
    counter = iter(range(10_000))

    def some_404(rng, method, path, st):
        n = next(counter)
        if n % 24 == 5:  # 15 of 360
            return "GET", typos[(n // 24) % len(typos)], 404
        return method, path, 200 if st == 404 else st

    c.traffic("key_404", at(11, 50), at(12, 50), 6, ["192.0.2.120", "192.0.2.121"],
              lognormal_ms(90, 0.5), path_fn=some_404)
    c.expect("key_404", [], 0.0, BENIGN_MAX_SCORE, note="15 404s on 10 paths in an hour")
    return c


def benign_slow_service_consistent():
    c = Case("benign_slow_service_consistent", 2005)
    c.traffic("key_slow", at(7, 50), at(12, 50), 8, ["192.0.2.130", "192.0.2.131"],
              lognormal_ms(500, 0.4))
    c.expect("key_slow", [], 0.0, BENIGN_MAX_SCORE,
             note="p95 ~950 ms for five hours: slow but not degrading")
    return c


CASES = [brute_force, bot_pattern, ip_rotation, traffic_spike, endpoint_scanning, error_burst,
         latency_degradation, benign_steady, benign_busy_but_normal_latency, benign_few_ips,
         benign_404s, benign_slow_service_consistent]


def main(argv):
    wanted = set(argv[1:])
    unknown = wanted - {f.__name__ for f in CASES}
    if unknown:
        sys.exit(f"unknown case(s): {', '.join(sorted(unknown))}")
    for make in CASES:
        if not wanted or make.__name__ in wanted:
            make().write()


if __name__ == "__main__":
    main(sys.argv)
