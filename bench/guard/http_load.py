"""HTTP ingest throughput with two client connections, then detection latency: time from the
POST carrying an attack's first qualifying record to the decision being visible."""
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlparse

base, token, path, limit = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
u = urlparse(base)
HDR = {"Authorization": f"Bearer {token}", "Content-Type": "application/x-ndjson"}
CHUNK_LINES = 20000

chunks = []
with open(path, "rb") as f:
    buf, n = [], 0
    for line in f:
        buf.append(line)
        n += 1
        if len(buf) == CHUNK_LINES:
            chunks.append(b"".join(buf))
            buf = []
        if n >= limit:
            break
    if buf:
        chunks.append(b"".join(buf))

accepted = [0, 0]


def worker(idx):
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    for i in range(idx, len(chunks), 2):
        conn.request("POST", "/api/v1/signals/requests?format=ndjson", body=chunks[i], headers=HDR)
        r = conn.getresponse()
        body = json.loads(r.read())
        if r.status not in (200, 202):
            raise SystemExit(f"ingest failed: {r.status} {body}")
        accepted[idx] += body["accepted"]
    conn.close()


t0 = time.time()
threads = [threading.Thread(target=worker, args=(i,)) for i in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
dt = time.time() - t0
rate = sum(accepted) / dt
print(f"  HTTP ingest: {sum(accepted)} records in {dt:.2f} s = {rate:,.0f} records/s "
      f"(2 connections, {CHUNK_LINES} records per POST), target >= 200,000/s: "
      f"{'met' if rate >= 200000 else 'NOT met'}")

# Detection latency: each attack is sent 10 records per POST; the clock starts when the POST
# holding the record that makes the key qualify (the 101st request of a >50% 401 stream) is sent.
conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
lat = []
now = int(time.time() * 1000)
for a in range(50):
    key = f"lat_{a}_{now}"
    recs = [json.dumps({"ts": now - 200000 + i * 1000, "key_id": key, "ip": f"198.18.1.{a}",
                        "method": "POST", "path": "/v1/auth", "status": 401 if i % 5 else 200,
                        "latency_ms": 50}) for i in range(140)]
    qualifying_batch = 100 // 10  # the batch holding record index 100
    visible = None
    for b in range(14):
        body = ("\n".join(recs[b * 10:(b + 1) * 10]) + "\n").encode()
        if b == qualifying_batch:
            start = time.perf_counter()
        conn.request("POST", "/api/v1/signals/requests", body=body, headers=HDR)
        conn.getresponse().read()
        if b >= qualifying_batch:
            conn.request("GET", f"/api/v1/decisions?key={key}", headers={"Authorization": HDR["Authorization"]})
            v = json.loads(conn.getresponse().read())
            if v["decision"] != "allow":
                visible = time.perf_counter() - start
                break
    if visible is not None:
        lat.append(visible * 1000)
lat.sort()
if lat:
    p50 = lat[len(lat) // 2]
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    print(f"  detection latency over {len(lat)} attacks: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
          f"(target p99 <= 100 ms: {'met' if p99 <= 100 else 'NOT met'})")
else:
    print("  detection latency: no attack was decided (check the detectors)")
