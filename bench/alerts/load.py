"""bench/alerts helper (standard library only): the webhook sink, the load generator, the
group_wait-expiry-to-delivery probes and the memory run, for sira and Alertmanager alike.

  load.py sink PORT                          webhook sink, one asyncio loop (runs until killed)
  load.py sink-ceiling SINK                  how fast the sink takes notifications from one sender
  load.py ceiling NAME URL OUT               client ceiling: the same load against a do-nothing server
  load.py bench NAME URL TOKEN SINK PID OUT  probes at idle, then the load (with probes under it)
  load.py memory NAME URL TOKEN SINK PID OUT idle RSS, 100,000 distinct active alerts, RSS again
  load.py compare SIRA.json AM.json [CEILING.json]   ratios against the issue's targets

TOKEN "-" sends no Authorization header (Alertmanager). Timestamps of the client and the sink are
time.monotonic() (CLOCK_MONOTONIC, shared by every process of the machine). Env knobs: see run.
"""
import asyncio
import http.client
import json
import multiprocessing
import os
import random
import resource
import signal
import subprocess
import sys
import time
from urllib.parse import parse_qs, urlparse

ENV = os.environ
DURATION = float(ENV.get("DURATION", "20"))
WORKERS = int(ENV.get("WORKERS", "4"))
BATCH = int(ENV.get("BATCH", "64"))
LABEL_SETS = int(ENV.get("LABEL_SETS", "10000"))
RESOLVE_EVERY = 5  # every 5th post resolves alerts it fired before: 20% of posts
ALERTNAMES = int(ENV.get("ALERTNAMES", "10"))
SERVICES = int(ENV.get("SERVICES", "50"))
GROUP_WAIT = float(ENV.get("GROUP_WAIT_S", "1"))
GROUP_INTERVAL = float(ENV.get("GROUP_INTERVAL_S", "1"))
PROBES = int(ENV.get("PROBES", "200"))
PROBE_INTERVAL = float(ENV.get("PROBE_INTERVAL_MS", "50")) / 1000
LOAD_PROBE_INTERVAL = float(ENV.get("LOAD_PROBE_INTERVAL_MS", "250")) / 1000
MEM_ALERTS = int(ENV.get("MEM_ALERTS", "100000"))
MEM_BATCH = int(ENV.get("MEM_BATCH", "500"))
CEILING_SECONDS = float(ENV.get("CEILING_SECONDS", "5"))
HTTP_TIMEOUT = 30


# ---- shared helpers --------------------------------------------------------------------------

def rfc3339(t):
    """Wall-clock seconds -> RFC 3339 UTC with milliseconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%03dZ" % int((t % 1) * 1000)


def pct(values, p):
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(len(v) * p))]


def headers(token):
    h = {"Content-Type": "application/json"}
    if token and token != "-":
        h["Authorization"] = "Bearer " + token
    return h


def conn_for(url, timeout=HTTP_TIMEOUT):
    u = urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)


def http_get_json(url, timeout=10):
    u = urlparse(url)
    c = conn_for(url, timeout)
    try:
        c.request("GET", u.path + ("?" + u.query if u.query else ""))
        r = c.getresponse()
        body = r.read()
        if r.status != 200:
            raise RuntimeError("GET %s: HTTP %d %s" % (url, r.status, body[:200]))
        return json.loads(body)
    finally:
        c.close()


def rss(pid):
    """(VmRSS, VmHWM) in MiB from /proc/PID/status."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) / 1024.0
    except OSError:
        return float("nan"), float("nan")
    return out.get("VmRSS", float("nan")), out.get("VmHWM", float("nan"))


def cpu_seconds(pid):
    """user + system CPU seconds of a process (all its threads) from /proc/PID/stat."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def label_fragment(i):
    """The JSON of label set i (of LABEL_SETS) and its annotations. group_by [alertname, service]
    gives ALERTNAMES * SERVICES groups of LABEL_SETS / (ALERTNAMES * SERVICES) alerts each."""
    a = i % ALERTNAMES
    s = (i // ALERTNAMES) % SERVICES
    inst = i // (ALERTNAMES * SERVICES)
    labels = json.dumps({"alertname": "BenchAlert%d" % a, "service": "svc-%d" % s,
                         "instance": "host-%d:9100" % inst, "job": "node",
                         "severity": "warning" if a % 3 else "critical"}, separators=(",", ":"))
    ann = json.dumps({"summary": "bench alert %d on host-%d" % (a, inst),
                      "runbook_url": "https://runbooks.example.com/BenchAlert%d" % a},
                     separators=(",", ":"))
    return '{"labels":%s,"annotations":%s' % (labels, ann)


# ---- the webhook sink ------------------------------------------------------------------------

class Sink:
    def __init__(self):
        self.events = []  # (t_monotonic, alerts, firing, resolved, payload bytes)
        self.group_keys = set()
        self.probes = {}  # probe id (groupLabels.service) -> first receive time
        self.bad = 0


SINK = Sink()


# The sink is one asyncio loop, not http.server's ThreadingHTTPServer: that one starts a thread per
# connection, which cost ~3 ms per connection here on a busy 2-core VM (a new thread waits for a
# CPU), and sira's notifier opens a connection per notification while Alertmanager keeps them
# alive, so a threaded sink would have slowed sira's deliveries and not Alertmanager's.

def sink_post(body):
    t = time.monotonic()
    try:
        p = json.loads(body)
        alerts = p["alerts"]
        firing = sum(1 for a in alerts if a.get("status") == "firing")
        svc = (p.get("groupLabels") or {}).get("service", "")
        SINK.events.append((t, len(alerts), firing, len(alerts) - firing, len(body)))
        SINK.group_keys.add(p.get("groupKey"))
        if svc.startswith("probe-") and svc not in SINK.probes:
            SINK.probes[svc] = t
    except (ValueError, KeyError, TypeError, AttributeError):
        SINK.bad += 1
    return b""


def sink_get(target):
    u = urlparse(target)
    q = parse_qs(u.query)
    if u.path == "/stats":
        lo = float(q.get("from", ["0"])[0])
        hi = float(q.get("to", ["1e18"])[0])
        ev = [e for e in SINK.events if lo <= e[0] <= hi]
        out = {"notifications": len(ev), "alerts": sum(e[1] for e in ev),
               "firing": sum(e[2] for e in ev), "resolved": sum(e[3] for e in ev),
               "bytes": sum(e[4] for e in ev), "last": SINK.events[-1][0] if SINK.events else 0,
               "groups": len(SINK.group_keys), "bad": SINK.bad, "now": time.monotonic()}
        return json.dumps(out).encode()
    if u.path == "/probes":
        return json.dumps(SINK.probes).encode()
    if u.path == "/reset":
        SINK.events.clear()
        SINK.group_keys.clear()
        SINK.probes.clear()
        SINK.bad = 0
        return b"{}"
    return b"ok"


async def sink_conn(reader, writer):
    """HTTP/1.1 with keep-alive; bodies by Content-Length or chunked."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target = lines[0].split(" ")[:2]
            hdrs = {}
            for line in lines[1:]:
                if ":" in line:
                    k, v = line.split(":", 1)
                    hdrs[k.strip().lower()] = v.strip()
            if hdrs.get("transfer-encoding", "").lower() == "chunked":
                chunks = []
                while True:
                    size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    if size == 0:
                        await reader.readuntil(b"\r\n")
                        break
                    chunks.append(await reader.readexactly(size))
                    await reader.readexactly(2)
                body = b"".join(chunks)
            else:
                body = await reader.readexactly(int(hdrs.get("content-length", "0")))
            out = sink_post(body) if method == "POST" else sink_get(target)
            close = hdrs.get("connection", "").lower() == "close" or lines[0].endswith("HTTP/1.0")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n"
                         % (len(out), b"Connection: close\r\n" if close else b"") + out)
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
        pass
    finally:
        writer.close()


def run_sink(port):
    async def main():
        server = await asyncio.start_server(sink_conn, "127.0.0.1", port, backlog=1024, limit=1 << 20)
        async with server:
            await server.serve_forever()
    asyncio.run(main())


# ---- load workers ----------------------------------------------------------------------------

def load_worker(w, url, token, start_at, end_at, q, path):
    """Posts BATCH alerts per request from the label sets it owns (i % WORKERS == w) until end_at;
    every RESOLVE_EVERY-th post resolves (endsAt in the past) BATCH alerts it fired before."""
    rnd = random.Random(1000 + w)
    owned = list(range(w, LABEL_SETS, WORKERS))
    frag = {i: label_fragment(i) for i in owned}
    fired_list, fired_pos, started = [], {}, {}
    hdr = headers(token)
    res = {"posts": 0, "ok_posts": 0, "alerts_ok": 0, "fired": 0, "resolved": 0, "non200": 0,
           "errors": 0, "sample": "", "lat": []}
    conn = conn_for(url)
    while time.monotonic() < start_at:
        time.sleep(0.001)
    n = 0
    while True:
        t0 = time.monotonic()
        if t0 >= end_at:
            break
        wall = time.time()
        resolving = n % RESOLVE_EVERY == RESOLVE_EVERY - 1 and len(fired_list) >= BATCH
        n += 1
        parts = []
        if resolving:
            for i in rnd.sample(fired_list, BATCH):
                st_wall, st = started.pop(i)
                # endsAt in the past, and after startsAt (Alertmanager refuses end <= start)
                ends = rfc3339(max(wall - 1, st_wall + 0.002))
                parts.append('%s,"startsAt":"%s","endsAt":"%s"}' % (frag[i], st, ends))
                # swap-remove from the list of fired label sets
                k = fired_pos.pop(i)
                last = fired_list.pop()
                if last != i:
                    fired_list[k] = last
                    fired_pos[last] = k
        else:
            now_s = rfc3339(wall)
            for i in rnd.sample(owned, BATCH):
                st = started.get(i)
                if st is None:
                    st = started[i] = (wall, now_s)
                    fired_pos[i] = len(fired_list)
                    fired_list.append(i)
                parts.append('%s,"startsAt":"%s"}' % (frag[i], st[1]))
        body = ("[" + ",".join(parts) + "]").encode()
        try:
            conn.request("POST", path, body=body, headers=hdr)
            r = conn.getresponse()
            rb = r.read()
            res["posts"] += 1
            if r.status == 200:
                res["ok_posts"] += 1
                res["alerts_ok"] += BATCH
                res["resolved" if resolving else "fired"] += BATCH
            else:
                res["non200"] += 1
                if not res["sample"]:
                    res["sample"] = "HTTP %d %s" % (r.status, rb[:300])
        except (OSError, http.client.HTTPException) as e:
            res["errors"] += 1
            if not res["sample"]:
                res["sample"] = repr(e)
            conn.close()
            conn = conn_for(url)
            time.sleep(0.01)
        res["lat"].append(time.monotonic() - t0)
    conn.close()
    q.put(res)


def client_desc():
    if ENV.get("ALERTS_LOAD"):
        return "native client, %d connections" % WORKERS
    return "%d Python processes" % WORKERS


def run_load(url, token, path="/api/v2/alerts", duration=DURATION):
    """Starts the load: the native generator (bench/alerts_load, env ALERTS_LOAD) when there is
    one, else WORKERS Python processes. Returns (procs, q, start_at, end_at)."""
    start_at = time.monotonic() + 0.5
    end_at = start_at + duration
    native = ENV.get("ALERTS_LOAD", "")
    if native:
        env = dict(ENV, PATH_=path)
        proc = subprocess.Popen([native, url, token, "%.6f" % start_at, "%.6f" % duration],
                                stdout=subprocess.PIPE, env=env)
        return [proc], None, start_at, end_at
    q = multiprocessing.Queue()
    procs = [multiprocessing.Process(target=load_worker, args=(w, url, token, start_at, end_at, q, path),
                                     daemon=True) for w in range(WORKERS)]
    for p in procs:
        p.start()
    return procs, q, start_at, end_at


def collect(procs, q, end_at):
    keys = ("posts", "ok_posts", "alerts_ok", "fired", "resolved", "non200", "errors")
    merged = dict({k: 0 for k in keys}, sample="", lat=[])
    if q is None:  # the native generator: one JSON object on stdout
        try:
            out, _ = procs[0].communicate(timeout=max(1, end_at - time.monotonic()) + HTTP_TIMEOUT + 10)
            r = json.loads(out)
        except (subprocess.TimeoutExpired, ValueError) as e:
            procs[0].kill()
            merged.update(sample=repr(e), workers_reported=0, lat_p50=float("nan"),
                          lat_p99=float("nan"), lat_max=float("nan"))
            return merged
        merged.update({k: r[k] for k in keys}, sample=r["sample"], lat_p50=r["lat_p50"],
                      lat_p99=r["lat_p99"], lat_max=r["lat_max"], workers_reported=WORKERS)
        return merged
    got = 0
    deadline = end_at + HTTP_TIMEOUT + 10
    while got < len(procs) and time.monotonic() < deadline:
        try:
            r = q.get(timeout=max(0.1, deadline - time.monotonic()))
        except Exception:
            break
        got += 1
        for k in keys:
            merged[k] += r[k]
        merged["lat"] += r["lat"]
        merged["sample"] = merged["sample"] or r["sample"]
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
    merged["workers_reported"] = got
    merged["lat_p50"] = pct(merged["lat"], 0.5)
    merged["lat_p99"] = pct(merged["lat"], 0.99)
    merged["lat_max"] = max(merged["lat"] or [0])
    return merged


# ---- probes ----------------------------------------------------------------------------------

def post_probe(conn, token, pid):
    now = rfc3339(time.time())
    body = ('[{"labels":{"alertname":"BenchProbe","service":"%s","instance":"probe:1"},'
            '"annotations":{"summary":"group_wait probe"},"startsAt":"%s"}]' % (pid, now)).encode()
    t0 = time.monotonic()
    conn.request("POST", "/api/v2/alerts", body=body, headers=headers(token))
    r = conn.getresponse()
    r.read()
    if r.status != 200:
        raise RuntimeError("probe POST: HTTP %d" % r.status)
    return t0


def run_probes(url, token, prefix, count, interval, stop_at=None):
    """Posts `count` probes (or until stop_at), one new group each, `interval` apart (plus up to
    40% jitter, so probes fall at every phase of a periodic dispatcher). Returns {id: t0}."""
    rnd = random.Random(sum(prefix.encode()))
    conn = conn_for(url)
    sent = {}
    i = 0
    while (stop_at is None and i < count) or (stop_at is not None and time.monotonic() < stop_at):
        pid = "probe-%s-%d" % (prefix, i)
        try:
            sent[pid] = post_probe(conn, token, pid)
        except (OSError, http.client.HTTPException, RuntimeError):
            conn.close()
            conn = conn_for(url)
        i += 1
        time.sleep(interval * (1 + 0.4 * rnd.random()))
    conn.close()
    return sent


def probe_delays(sink, sent, wait_s):
    """Waits (bounded) for every probe's notification; returns (delays in ms, missing)."""
    deadline = time.monotonic() + wait_s
    got = {}
    while time.monotonic() < deadline:
        got = http_get_json(sink + "/probes")
        if all(p in got for p in sent):
            break
        time.sleep(0.2)
    delays = [(got[p] - t0 - GROUP_WAIT) * 1000 for p, t0 in sent.items() if p in got]
    return delays, len(sent) - len(delays)


def fmt_delays(delays, missing):
    if not delays:
        return "no probe delivered (%d missing)" % missing
    return ("p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms, min %.1f ms over %d probes%s" %
            (pct(delays, 0.5), pct(delays, 0.9), pct(delays, 0.99), max(delays), min(delays),
             len(delays), (", %d MISSING" % missing) if missing else ""))


# ---- phases ----------------------------------------------------------------------------------

def wait_quiet(sink, quiet_s, max_s):
    """Waits until the sink received nothing for quiet_s (at most max_s). Returns the time of the
    last notification received."""
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        s = http_get_json(sink + "/stats?from=0")
        if s["last"] and s["now"] - s["last"] >= quiet_s:
            return s["last"]
        time.sleep(0.25)
    return http_get_json(sink + "/stats?from=0")["last"]


def cmd_ceiling(name, url, out):
    procs, q, start_at, end_at = run_load(url, "-", path="/", duration=CEILING_SECONDS)
    r = collect(procs, q, end_at)
    rate = r["alerts_ok"] / CEILING_SECONDS
    print("  client ceiling against %s (does nothing): %s posts/s = %s alerts/s "
          "(%s, %d alerts per POST, %.0f s; POST p50 %.2f ms)"
          % (name, f"{r['ok_posts'] / CEILING_SECONDS:,.0f}", f"{rate:,.0f}", client_desc(), BATCH,
             CEILING_SECONDS, r["lat_p50"] * 1000))
    with open(out, "w") as f:
        json.dump({"alerts_per_s": rate}, f)


def cmd_sink_ceiling(sink):
    """How fast the sink takes notifications one after the other (as a sequential sender does):
    a new connection per POST (sira's notifier: no pooling) and one keep-alive connection."""
    body = json.dumps({"receiver": "sink", "status": "firing", "groupKey": "{}:{alertname=\"C\"}",
                       "groupLabels": {"alertname": "C"}, "version": "4",
                       "alerts": [{"status": "firing", "labels": {"alertname": "C", "instance": str(i)},
                                   "annotations": {"summary": "x" * 60}} for i in range(20)]}).encode()
    rates = []
    for keepalive in (False, True):
        n, t_end = 0, time.monotonic() + 1.5
        c = conn_for(sink)
        t0 = time.monotonic()
        while time.monotonic() < t_end:
            if not keepalive:
                c = conn_for(sink)
            c.request("POST", "/hook", body=body, headers={"Content-Type": "application/json"})
            c.getresponse().read()
            if not keepalive:
                c.close()
            n += 1
        rates.append(n / (time.monotonic() - t0))
        c.close()
    http_get_json(sink + "/reset")
    print("  webhook sink, one sender posting 20-alert notifications back to back: %s/s with a new "
          "connection each, %s/s on one keep-alive connection" % (f"{rates[0]:,.0f}", f"{rates[1]:,.0f}"))


def cmd_bench(name, url, token, sink, pid, out):
    pid = int(pid)
    http_get_json(sink + "/reset")
    groups = ALERTNAMES * SERVICES
    print("  %s: idle RSS %.1f MiB" % (name, rss(pid)[0]))
    # 1. probes with nothing else running
    sent = run_probes(url, token, name + "-idle", PROBES, PROBE_INTERVAL)
    idle, idle_missing = probe_delays(sink, sent, GROUP_WAIT + 10)
    print("  %s: delay from group_wait expiry to webhook delivery, idle (%d probes, one every ~%.0f ms): %s"
          % (name, len(sent), PROBE_INTERVAL * 1000 * 1.2, fmt_delays(idle, idle_missing)))
    # 2. the load, with probes under it
    http_get_json(sink + "/reset")
    client_cpu0 = children_cpu()
    procs, q, start_at, end_at = run_load(url, token)
    while time.monotonic() < start_at:
        time.sleep(0.005)
    server_cpu0 = cpu_seconds(pid)
    sent_load = run_probes(url, token, name + "-load", 0, LOAD_PROBE_INTERVAL, stop_at=end_at)
    server_cpu = cpu_seconds(pid) - server_cpu0
    r = collect(procs, q, end_at)
    client_cpu = children_cpu() - client_cpu0
    rss_after_load = rss(pid)
    win = http_get_json(sink + "/stats?from=%f&to=%f" % (start_at, end_at))
    last = wait_quiet(sink, max(2.5, GROUP_INTERVAL * 2 + 0.5), 30)
    total = http_get_json(sink + "/stats?from=0")
    loaded, loaded_missing = probe_delays(sink, sent_load, 5)
    d = end_at - start_at
    acc = r["alerts_ok"] / d
    print("  %s: posted %d batches of %d in %.1f s (%s, keep-alive): %s alerts/s accepted "
          "(HTTP 200; %d fired, %d resolved), %d non-200, %d connection errors%s"
          % (name, r["posts"], BATCH, d, client_desc(), f"{acc:,.0f}", r["fired"], r["resolved"],
             r["non200"], r["errors"], (" (first: %s)" % r["sample"]) if r["sample"] else ""))
    print("  %s: POST latency p50 %.1f ms, p99 %.1f ms, max %.1f ms; CPU during the load: server "
          "%.1f s (%.2f cores, %.2f ms per 1,000 alerts accepted), client processes %.1f s (%.2f cores)"
          % (name, r["lat_p50"] * 1000, r["lat_p99"] * 1000, r["lat_max"] * 1000, server_cpu, server_cpu / d,
             1e6 * server_cpu / max(1, r["alerts_ok"]), client_cpu, client_cpu / d))
    print("  %s: delivered during the load: %s notifications/s, %s alerts/s (%d notifications, "
          "%d alerts: %d firing + %d resolved entries; ceiling of the config: %d groups / %.0f s "
          "group_interval = %d notifications/s)"
          % (name, f"{win['notifications'] / d:,.0f}", f"{win['alerts'] / d:,.0f}", win["notifications"],
             win["alerts"], win["firing"], win["resolved"], groups, GROUP_INTERVAL, groups / GROUP_INTERVAL))
    tail = (last - end_at) if last else float("nan")
    print("  %s: delivered in all: %d notifications, %d alerts, %d distinct group keys, last one "
          "%.1f s after the load stopped%s"
          % (name, total["notifications"], total["alerts"], total["groups"], tail,
             (", %d unparsable payloads" % total["bad"]) if total["bad"] else ""))
    print("  %s: delay from group_wait expiry to webhook delivery, under load (%d probes): %s"
          % (name, len(sent_load), fmt_delays(loaded, loaded_missing)))
    print("  %s: RSS after the load %.1f MiB (peak %.1f MiB)" % (name, rss_after_load[0], rss_after_load[1]))
    with open(out, "w") as f:
        json.dump({"accepted": acc, "notif": win["notifications"] / d, "delivered": win["alerts"] / d,
                   "idle_p50": pct(idle, 0.5), "idle_p99": pct(idle, 0.99), "idle_missing": idle_missing,
                   "load_p50": pct(loaded, 0.5), "load_p99": pct(loaded, 0.99),
                   "load_missing": loaded_missing, "non200": r["non200"], "errors": r["errors"],
                   "cpu_per_1000": 1e6 * server_cpu / max(1, r["alerts_ok"])}, f)


def cmd_accept(name, url, token, pid, out):
    """Accepted alerts/s only (no probes), with the WORKERS of the environment: the 'fleet' run
    (many Prometheus servers posting at once)."""
    pid = int(pid)
    client_cpu0 = children_cpu()
    procs, q, start_at, end_at = run_load(url, token)
    while time.monotonic() < start_at:
        time.sleep(0.005)
    server_cpu0 = cpu_seconds(pid)
    r = collect(procs, q, end_at)
    server_cpu = cpu_seconds(pid) - server_cpu0
    client_cpu = children_cpu() - client_cpu0
    d = end_at - start_at
    acc = r["alerts_ok"] / d
    print("  %s, %d connections: %s alerts/s accepted (%d non-200, %d connection errors%s); POST "
          "p50 %.1f ms, p99 %.1f ms; server %.2f cores (%.2f ms per 1,000 alerts), client %.2f cores"
          % (name, WORKERS, f"{acc:,.0f}", r["non200"], r["errors"],
             (", first: %s" % r["sample"]) if r["sample"] else "", r["lat_p50"] * 1000,
             r["lat_p99"] * 1000, server_cpu / d, 1e6 * server_cpu / max(1, r["alerts_ok"]),
             client_cpu / d))
    with open(out, "w") as f:
        json.dump({"accepted": acc, "workers": WORKERS}, f)


def mem_worker(w, url, token, q):
    hdr = headers(token)
    conn = conn_for(url, 120)
    ok = bad = 0
    sample = ""
    now = rfc3339(time.time())
    idx = list(range(w, MEM_ALERTS, WORKERS))
    for b in range(0, len(idx), MEM_BATCH):
        parts = []
        for i in idx[b:b + MEM_BATCH]:
            parts.append('{"labels":{"alertname":"BenchMemory","service":"svc-%d","instance":"host-%d:9100",'
                         '"job":"node","severity":"warning"},"annotations":{"summary":"memory bench '
                         'alert %d","runbook_url":"https://runbooks.example.com/BenchMemory"},'
                         '"startsAt":"%s"}' % (i % 1000, i, i, now))
        try:
            conn.request("POST", "/api/v2/alerts", body=("[" + ",".join(parts) + "]").encode(), headers=hdr)
            r = conn.getresponse()
            rb = r.read()
            if r.status == 200:
                ok += len(parts)
            else:
                bad += len(parts)
                sample = sample or "HTTP %d %s" % (r.status, rb[:300])
        except (OSError, http.client.HTTPException) as e:
            bad += len(parts)
            sample = sample or repr(e)
            conn.close()
            conn = conn_for(url, 120)
    q.put((ok, bad, sample))


def cmd_memory(name, url, token, sink, pid, out):
    pid = int(pid)
    http_get_json(sink + "/reset")
    time.sleep(1)
    idle = rss(pid)
    print("  %s: idle RSS %.1f MiB (peak %.1f MiB)" % (name, idle[0], idle[1]))
    q = multiprocessing.Queue()
    t0 = time.monotonic()
    procs = [multiprocessing.Process(target=mem_worker, args=(w, url, token, q), daemon=True)
             for w in range(WORKERS)]
    for p in procs:
        p.start()
    ok = bad = 0
    sample = ""
    for _ in procs:
        try:
            o, b, s = q.get(timeout=300)
        except Exception:
            break
        ok, bad, sample = ok + o, bad + b, sample or s
    for p in procs:
        p.join(timeout=5)
        if p.is_alive():
            p.kill()
    dt = time.monotonic() - t0
    # let the dispatcher form the 1,000 groups and flush them (group_wait), then sample RSS and
    # CPU for 3 s with no traffic at all
    time.sleep(GROUP_WAIT + 1)
    cpu0, t_cpu0 = cpu_seconds(pid), time.monotonic()
    samples = []
    for _ in range(30):
        samples.append(rss(pid)[0])
        time.sleep(0.1)
    idle_cores = (cpu_seconds(pid) - cpu0) / (time.monotonic() - t_cpu0)
    loaded = (max(samples), rss(pid)[1])
    # then list them all twice, as amtool or Grafana do (each listing may land on another I/O thread)
    count, after_get, get_s = -1, [], []
    for _ in range(2):
        try:
            t_get = time.monotonic()
            c = conn_for(url, 120)
            c.request("GET", '/api/v2/alerts?filter=alertname%3D%22BenchMemory%22', headers=headers(token))
            r = c.getresponse()
            body = r.read()
            count = len(json.loads(body)) if r.status == 200 else -r.status
            c.close()
            del body
            get_s.append(time.monotonic() - t_get)
        except (OSError, http.client.HTTPException, ValueError) as e:
            sample = sample or repr(e)
        time.sleep(1)
        after_get.append(rss(pid))
    stats = http_get_json(sink + "/stats?from=0")
    print("  %s: posted %d distinct alerts in batches of %d in %.1f s (%s alerts/s), %d refused%s"
          % (name, ok, MEM_BATCH, dt, f"{ok / dt:,.0f}", bad, (" (first: %s)" % sample) if sample else ""))
    print("  %s: holding %d active alerts, no client traffic: RSS %.1f-%.1f MiB over 3 s (+%.1f over idle), "
          "peak since start (VmHWM) %.1f MiB, CPU %.2f cores"
          % (name, ok, min(samples), max(samples), max(samples) - idle[0], loaded[1], idle_cores))
    print("  %s: GET /api/v2/alerts then lists %d of them (%s s); RSS 1 s after the 1st listing "
          "%.1f MiB, after the 2nd %.1f MiB, peak %.1f MiB; the sink got %d notifications carrying %d alerts"
          % (name, count, " and ".join("%.1f" % x for x in get_s), after_get[0][0], after_get[-1][0],
             after_get[-1][1], stats["notifications"], stats["alerts"]))
    with open(out, "w") as f:
        json.dump({"idle_rss": idle[0], "rss": loaded[0], "hwm": loaded[1], "rss_after_get": after_get[-1][0],
                   "idle_cores": idle_cores,
                   "hwm_after_get": after_get[-1][1], "count": count, "ok": ok}, f)


def cmd_compare(sira_f, am_f, ceiling_f=None):
    s, a = json.load(open(sira_f)), json.load(open(am_f))
    def ratio(x, y):
        return x / y if y else float("nan")
    r = ratio(s["accepted"], a["accepted"])
    fleet_s, fleet_a = sira_f.replace(".json", "-fleet.json"), am_f.replace(".json", "-fleet.json")
    print("  accepted: sira %s alerts/s, Alertmanager %s alerts/s, ratio sira/Alertmanager %.2fx "
          "(target >= 5x): %s" % (f"{s['accepted']:,.0f}", f"{a['accepted']:,.0f}", r,
                                  "met" if r >= 5 else "NOT met"))
    if os.path.exists(fleet_s) and os.path.exists(fleet_a):
        fs, fa = json.load(open(fleet_s)), json.load(open(fleet_a))
        rf = ratio(fs["accepted"], fa["accepted"])
        print("  accepted with %d connections: sira %s alerts/s, Alertmanager %s alerts/s, ratio %.2fx "
              "(target >= 5x): %s" % (fs["workers"], f"{fs['accepted']:,.0f}", f"{fa['accepted']:,.0f}",
                                      rf, "met" if rf >= 5 else "NOT met"))
    r2 = ratio(s["delivered"], a["delivered"])
    print("  delivered during the load: sira %s alerts/s in %s notifications/s, Alertmanager %s alerts/s "
          "in %s notifications/s, ratio %.2fx (target >= 5x): %s"
          % (f"{s['delivered']:,.0f}", f"{s['notif']:,.0f}", f"{a['delivered']:,.0f}",
             f"{a['notif']:,.0f}", r2, "met" if r2 >= 5 else "NOT met"))
    print("  server CPU per 1,000 alerts accepted under the load: sira %.1f ms, Alertmanager %.1f ms"
          % (s["cpu_per_1000"], a["cpu_per_1000"]))
    if ceiling_f and os.path.exists(ceiling_f):
        c = json.load(open(ceiling_f))["alerts_per_s"]
        print("  client ceiling %s alerts/s: sira ran at %.0f%% of it, Alertmanager at %.0f%%"
              % (f"{c:,.0f}", 100 * s["accepted"] / c, 100 * a["accepted"] / c))
    p99 = s["idle_p99"]
    ok = p99 == p99 and p99 <= 50 and not s["idle_missing"]
    print("  group_wait expiry -> webhook delivery, idle: sira p50 %.1f ms p99 %.1f ms, Alertmanager "
          "p50 %.1f ms p99 %.1f ms; sira p99 target <= 50 ms: %s"
          % (s["idle_p50"], p99, a["idle_p50"], a["idle_p99"], "met" if ok else "NOT met"))
    print("  group_wait expiry -> webhook delivery, under load: sira p50 %.1f ms p99 %.1f ms, "
          "Alertmanager p50 %.1f ms p99 %.1f ms" % (s["load_p50"], s["load_p99"], a["load_p50"], a["load_p99"]))


def cmd_compare_memory(sira_f, am_f):
    s, a = json.load(open(sira_f)), json.load(open(am_f))
    ok = s["hwm"] <= 512 and s["count"] == s["ok"] == MEM_ALERTS
    print("  memory holding %d active alerts: sira peak %.1f MiB (RSS %.1f MiB, idle %.1f MiB), "
          "Alertmanager peak %.1f MiB (RSS %.1f MiB, idle %.1f MiB); sira target <= 512 MiB: %s"
          % (MEM_ALERTS, s["hwm"], s["rss"], s["idle_rss"], a["hwm"], a["rss"], a["idle_rss"],
             "met" if ok else "NOT met"))
    ok2 = s["hwm_after_get"] <= 512
    print("  memory after listing them twice (GET /api/v2/alerts): sira RSS %.1f MiB, peak %.1f MiB; "
          "Alertmanager RSS %.1f MiB, peak %.1f MiB; sira <= 512 MiB: %s"
          % (s["rss_after_get"], s["hwm_after_get"], a["rss_after_get"], a["hwm_after_get"],
             "met" if ok2 else "NOT met"))
    print("  CPU holding them with no client traffic: sira %.2f cores, Alertmanager %.2f cores"
          % (s["idle_cores"], a["idle_cores"]))


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    # SIGTERM (from run's cleanup, through timeout) exits normally, so that multiprocessing
    # terminates the daemonic worker processes on the way out
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "sink":
        run_sink(int(args[0]))
    elif cmd == "sink-ceiling":
        cmd_sink_ceiling(*args)
    elif cmd == "ceiling":
        cmd_ceiling(*args)
    elif cmd == "bench":
        cmd_bench(*args)
    elif cmd == "accept":
        cmd_accept(*args)
    elif cmd == "memory":
        cmd_memory(*args)
    elif cmd == "compare":
        cmd_compare(*args)
    elif cmd == "compare-memory":
        cmd_compare_memory(*args)
    else:
        sys.exit("unknown command " + cmd)
