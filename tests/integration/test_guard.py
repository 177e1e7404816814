"""SIRA Guard against the real binary: ingestion with per-line rejects, detections with the seed's
evidence, graded actions and decisions, allowlists, recommendations, debug packs, and Debian's
crowdsec-custom-bouncer enforcing sira's bans through the CrowdSec-compatible API."""
import json
import os
import shutil
import subprocess
import tempfile
import time
import unittest

from harness import Sira, poll, problem_ok


def now_ms():
    return int(time.time() * 1000)


def record(key, ip, status, latency, ts, path="/v1/payments", ua="curl/8.0", method="POST",
           **extra):
    r = {"ts": ts, "key_id": key, "ip": ip, "method": method, "path": path, "status": status,
         "latency_ms": latency, "user_agent": ua}
    r.update(extra)
    return json.dumps(r)


def brute_force_lines(key, ip="203.0.113.7", n=150, fail_share=0.8):
    start = now_ms() - 4 * 60 * 1000
    lines = []
    for i in range(n):
        status = 401 if (i % 10) < fail_share * 10 else 200
        lines.append(record(key, ip, status, 80 + (i % 7) * 13, start + i * 1500))
    return "\n".join(lines) + "\n"


def ingest(s, text, token=None, fmt="ndjson"):
    kw = {} if token is None else {"token": token}
    return s.request("POST", f"/api/v1/signals/requests?format={fmt}", raw=text,
                     content_type="application/x-ndjson", **kw)


class GuardApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Sira()
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_bad_lines_are_reported_per_line_and_good_ones_kept(self):
        ts = now_ms()
        good = record("key_mixed", "198.51.100.4", 200, 12, ts)
        text = "\n".join([
            good,
            "{not json",
            record("key_mixed", "999.1.1.1", 200, 12, ts),
            record("key_mixed", "198.51.100.4", 200, -5, ts),
            json.dumps({"ts": ts, "key_id": "key_mixed"}),
            record("key_mixed", "198.51.100.4", 200, 12, ts + 86400 * 1000),
            record("key_mixed", "198.51.100.4", 200, 12, ts, path="/" + "a" * 5000),
            good,
        ]) + "\n"
        r = ingest(self.s, text)
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.body["accepted"], 2)
        self.assertEqual(r.body["rejected"], 6)
        lines = {x["line"]: x["reason"] for x in r.body["rejects"]}
        self.assertEqual(sorted(lines), [2, 3, 4, 5, 6, 7])
        self.assertIn("ip", lines[3])
        self.assertIn("latency", lines[4])
        self.assertEqual(lines[6], "timestamp in the future")
        self.assertIn("too long", lines[7])
        self.assertEqual(r.body["rejectReasons"]["timestamp in the future"], 1)
        m = self.s.ok("GET", "/api/v1/observability/keys/key_mixed/metrics?period=1h")
        self.assertEqual(sum(p["requests"] for p in m["periods"]), 2)

    def test_ingest_needs_the_role(self):
        auditor = self.s.create_token("ro-" + str(time.time()), ["auditor"])["token"]
        problem_ok(self, ingest(self.s, brute_force_lines("k_ro"), token=auditor), 403, "forbidden")
        problem_ok(self, ingest(self.s, "x", token="sira_wrong"), 401)

    def test_brute_force_is_detected_banned_and_explained(self):
        key = "key_bf_" + str(now_ms())
        r = ingest(self.s, brute_force_lines(key))
        self.assertEqual(r.status, 202, r)
        self.assertGreaterEqual(r.body["detections"], 1)
        evs = self.s.ok("GET", f"/api/v1/observability/keys/{key}/suspicious")["events"]
        bf = [e for e in evs if e["eventType"] == "brute_force"]
        self.assertEqual(len(bf), 1, evs)
        e = bf[0]
        self.assertEqual(e["severity"], "critical")
        for field in ("errorRate", "totalRequests", "errors", "statusDistribution"):
            self.assertIn(field, e["evidence"])
        self.assertEqual(e["evidence"]["statusDistribution"]["401"], 120)
        self.assertEqual(e["evidence"]["totalRequests"], 150)
        self.assertIn(e["actionTaken"], ("tempban", "permban"))
        self.assertTrue(set(["rotate_key", "review_auth_flow", "enable_mfa"]) & set(e["recommendations"]))
        # The decision is visible to gateways, for the key and for the single attacking IP.
        v = self.s.ok("GET", f"/api/v1/decisions?key={key}")
        self.assertEqual(v["decision"], "ban")
        self.assertIsNotNone(v["expiresAt"])
        self.assertEqual(self.s.ok("GET", "/api/v1/decisions?ip=203.0.113.7")["decision"], "ban")
        self.assertEqual(self.s.ok("GET", "/api/v1/decisions?key=someone_else")["decision"], "allow")
        # Every action is on the audit record.
        entries = self.s.audit_entries(query=f"action=guard.detection&target={e['id']}")
        self.assertEqual(len(entries), 1, entries)
        created = self.s.audit_entries(query="action=decision.create")
        self.assertTrue(any(x["details"].get("value") == key for x in created))
        # Recommendations with status tracking.
        recs = self.s.ok("GET", f"/api/v1/observability/keys/{key}/recommendations")["recommendations"]
        types = {r["type"] for r in recs}
        self.assertIn("review_auth_flow", types)
        rec = recs[0]
        for field in ("priority", "title", "description", "actionSteps", "triggeredBy", "status"):
            self.assertIn(field, rec)
        upd = self.s.ok("PATCH", f"/api/v1/observability/recommendations/{rec['id']}",
                        {"status": "accepted"})
        self.assertEqual(upd["status"], "accepted")
        problem_ok(self, self.s.request("PATCH", f"/api/v1/observability/recommendations/{rec['id']}",
                                        {"status": "maybe"}), 400)
        # Metrics in the seed's shape.
        m = self.s.ok("GET", f"/api/v1/observability/keys/{key}/metrics?period=1h")
        self.assertEqual(sum(p["requests"] for p in m["periods"]), 150)
        self.assertEqual(m["lastHour"]["statusDistribution"]["401"], 120)
        problem_ok(self, self.s.request("GET", f"/api/v1/observability/keys/{key}/metrics?period=2y"), 400)

    def test_benign_traffic_triggers_nothing(self):
        key = "key_ok_" + str(now_ms())
        start = now_ms() - 10 * 60 * 1000
        lines = [record(key, f"198.51.100.{i % 3 + 1}", 200 if i % 20 else 404, 60 + (i * 37) % 400,
                        start + i * 2000, method="GET") for i in range(300)]
        r = ingest(self.s, "\n".join(lines) + "\n")
        self.assertEqual(r.body["detections"], 0, r.body)
        self.assertEqual(self.s.ok("GET", f"/api/v1/observability/keys/{key}/suspicious")["events"], [])
        self.assertEqual(self.s.ok("GET", f"/api/v1/decisions?key={key}")["decision"], "allow")

    def test_allowlist_always_wins(self):
        key = "key_partner_" + str(now_ms())
        a = self.s.ok("POST", "/api/v1/guard/allowlist", {"scope": "key", "value": key,
                                                          "reason": "load-testing partner"})
        ingest(self.s, brute_force_lines(key, ip="192.0.2.50"))
        evs = self.s.ok("GET", f"/api/v1/observability/keys/{key}/suspicious")["events"]
        self.assertEqual([e["actionTaken"] for e in evs if e["eventType"] == "brute_force"], ["allowlisted"])
        self.assertEqual(self.s.ok("GET", f"/api/v1/decisions?key={key}")["decision"], "allow")
        problem_ok(self, self.s.request("POST", "/api/v1/decisions",
                                        {"scope": "key", "value": key, "type": "ban"}), 409)
        # A CIDR allowlist covers addresses inside it.
        self.s.ok("POST", "/api/v1/guard/allowlist", {"scope": "range", "value": "10.20.0.0/16"})
        problem_ok(self, self.s.request("POST", "/api/v1/decisions",
                                        {"scope": "ip", "value": "10.20.3.4", "type": "ban"}), 409)
        self.s.ok("DELETE", f"/api/v1/guard/allowlist/{a['id']}", expect=204)

    def test_manual_decisions(self):
        d = self.s.ok("POST", "/api/v1/decisions", {"scope": "range", "value": "100.64.0.0/24",
                                                    "type": "ban", "durationSeconds": 600,
                                                    "reason": "abuse report"})
        self.assertEqual(self.s.ok("GET", "/api/v1/decisions?ip=100.64.0.99")["decision"], "ban")
        self.assertEqual(self.s.ok("GET", "/api/v1/decisions?ip=100.64.1.1")["decision"], "allow")
        t = self.s.ok("POST", "/api/v1/decisions", {"scope": "key", "value": "key_noisy",
                                                    "type": "throttle", "ratePerMinute": 10,
                                                    "durationSeconds": 600})
        v = self.s.ok("GET", "/api/v1/decisions?key=key_noisy")
        self.assertEqual((v["decision"], v["ratePerMinute"]), ("throttle", 10))
        self.s.ok("DELETE", f"/api/v1/decisions/{d['id']}", expect=204)
        self.assertEqual(self.s.ok("GET", "/api/v1/decisions?ip=100.64.0.99")["decision"], "allow")
        problem_ok(self, self.s.request("DELETE", f"/api/v1/decisions/{d['id']}"), 404)
        for bad in ({"scope": "ip", "value": "1.2.3.999"}, {"scope": "planet", "value": "x"},
                    {"scope": "ip", "value": "1.2.3.4", "type": "nuke"},
                    {"scope": "key", "value": "k", "type": "throttle"},
                    {"scope": "ip", "value": "1.2.3.4", "durationSeconds": -1},
                    {"scope": "range", "value": "1.2.3.4"}):
            problem_ok(self, self.s.request("POST", "/api/v1/decisions", bad), 400)
        self.s.ok("DELETE", f"/api/v1/decisions/{t['id']}", expect=204)

    def test_debug_pack_is_anonymised_audited_and_expires(self):
        key = "key_dbg_" + str(now_ms())
        ts = now_ms() - 60 * 1000
        lines = [
            record(key, "203.0.113.77", 500, 20, ts, path="/v1/users/jane.doe@example.com",
                   ua="app/1.0 Bearer abcdefghijklmnopqrstuvwxyz0123", query="card=4111111111111111&token=s3cr3tvalue",
                   trace_id="4bf92f3577b34da6a3ce929d0e0e4736", span_id="00f067aa0ba902b7"),
            record(key, "2001:db8:abcd:12::1", 200, 20, ts + 10, method="GET"),
        ]
        ingest(self.s, "\n".join(lines) + "\n")
        pack = self.s.ok("POST", "/api/v1/observability/debug-packs", {
            "keyId": key, "title": "Payment failures investigation",
            "startTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts / 1000 - 60)),
            "endTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts / 1000 + 60)),
            "includesLogs": True, "includesTraces": True})
        for field in ("packId", "accessToken", "expiresAt", "shareUrl"):
            self.assertIn(field, pack)
        self.assertTrue(pack["shareUrl"].endswith("/debug/" + pack["accessToken"]))
        r = self.s.request("GET", "/debug/" + pack["accessToken"], token=None)
        self.assertEqual(r.status, 200, r)
        text = r.raw.decode()
        for secret in ("jane.doe@example.com", "4111111111111111", "s3cr3tvalue",
                       "abcdefghijklmnopqrstuvwxyz0123", "203.0.113.77", "2001:db8:abcd:12::1"):
            self.assertNotIn(secret, text)
        self.assertIn("203.0.113.0", text)
        self.assertEqual(len(r.body["logs"]), 2)
        self.assertEqual(r.body["traces"][0]["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736")
        problem_ok(self, self.s.request("GET", "/debug/debug_nope_nope_nope", token=None), 404)
        created = self.s.audit_entries(query=f"action=debug_pack.create&target={pack['packId']}")
        accessed = self.s.audit_entries(query=f"action=debug_pack.access&target={pack['packId']}")
        self.assertEqual((len(created), len(accessed)), (1, 1))
        # The token is stored hashed only.
        with open(self.s.db_path, "rb") as f:
            data = f.read()
        wal = self.s.db_path + "-wal"
        if os.path.exists(wal):
            with open(wal, "rb") as f:
                data += f.read()
        self.assertNotIn(pack["accessToken"].encode(), data)

    def test_json_array_on_api_v1_requests(self):
        ts = now_ms()
        arr = [json.loads(record("key_arr", "198.51.100.9", 200, 15, ts - i * 1000)) for i in range(3)]
        arr.insert(1, {"ts": ts, "key_id": "key_arr"})  # element 2: missing fields
        r = self.s.request("POST", "/api/v1/requests", raw=json.dumps(arr).encode(),
                           headers={"Content-Type": "application/json"})
        self.assertEqual(r.status, 202, r)
        self.assertEqual(r.body["accepted"], 3)
        self.assertEqual([x["line"] for x in r.body["rejects"]], [2])
        problem_ok(self, self.s.request("POST", "/api/v1/requests", raw=b"[{\"ts\": 1",
                                        headers={"Content-Type": "application/json"}), 400)

    def test_metrics_step_health_and_active_events(self):
        key = "key_health_" + str(now_ms())
        self.assertEqual(ingest(self.s, brute_force_lines(key)).status, 202)
        m = self.s.ok("GET", f"/api/v1/observability/keys/{key}/metrics?period=24h&step=1h")
        self.assertEqual(m["step"], "1h")
        self.assertEqual(sum(p["requests"] for p in m["periods"]), 150)
        d = self.s.ok("GET", f"/api/v1/observability/keys/{key}/metrics?period=24h&step=1d")
        self.assertEqual(sum(p["requests"] for p in d["periods"]), 150)
        problem_ok(self, self.s.request("GET", f"/api/v1/observability/keys/{key}/metrics?period=30d&step=1m"), 400)
        problem_ok(self, self.s.request("GET", f"/api/v1/observability/keys/{key}/metrics?period=1y"), 400)
        h = self.s.ok("GET", f"/api/v1/observability/keys/{key}/health")
        self.assertEqual(h["totalRequests"], 150)
        self.assertAlmostEqual(h["errorRate"], 80.0, places=3)
        self.assertGreaterEqual(h["maxAnomalyScore"], 0.5)
        self.assertEqual(h["status"], "suspicious")
        self.assertGreaterEqual(h["suspiciousPeriods"], 1)
        keys = self.s.ok("GET", "/api/v1/observability/keys?limit=500")["keys"]
        scores = [k["maxAnomalyScore"] for k in keys]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertIn(key, [k["keyId"] for k in keys])
        problem_ok(self, self.s.request("GET", "/api/v1/observability/keys/nobody/health"), 404)
        active = self.s.ok("GET", "/api/v1/observability/events/active?limit=200")["events"]
        rank = {"critical": 0, "high": 1, "medium": 2, "low": 3}
        ranks = [rank[e["severity"]] for e in active]
        self.assertEqual(ranks, sorted(ranks))
        self.assertIn(key, [e["keyId"] for e in active])


class GuardRestartTest(unittest.TestCase):
    def test_rollups_survive_a_restart(self):
        with Sira() as s:
            key = "key_restart"
            self.assertEqual(ingest(s, brute_force_lines(key, n=120)).status, 202)
            before = s.ok("GET", f"/api/v1/observability/keys/{key}/metrics?period=1h")
            self.assertEqual(s.stop(), 0)
            s.start()
            after = s.ok("GET", f"/api/v1/observability/keys/{key}/metrics?period=1h")
            self.assertEqual(sum(p["requests"] for p in after["periods"]), 120)
            self.assertEqual(before["periods"], after["periods"])
            self.assertEqual(after["lastHour"]["requests"], 120)

class GuardModesTest(unittest.TestCase):
    def test_auto_action_off_recommends_without_acting(self):
        with Sira(env={"SIRA_GUARD_AUTO_ACTION": "false"}) as s:
            key = "key_dry"
            ingest(s, brute_force_lines(key))
            evs = s.ok("GET", f"/api/v1/observability/keys/{key}/suspicious")["events"]
            self.assertTrue(evs)
            self.assertTrue(all(e["actionTaken"].startswith("recommended:") for e in evs), evs)
            self.assertEqual(s.ok("GET", f"/api/v1/decisions?key={key}")["decision"], "allow")

    def test_decisions_survive_restart_and_debug_links_expire(self):
        with Sira(env={"SIRA_GUARD_DEBUG_PACK_TTL_SECONDS": "1"}) as s:
            d = s.ok("POST", "/api/v1/decisions", {"scope": "ip", "value": "192.0.2.9", "type": "ban",
                                                   "durationSeconds": 3600})
            ingest(s, record("key_x", "192.0.2.1", 200, 10, now_ms()) + "\n")
            pack = s.ok("POST", "/api/v1/observability/debug-packs", {
                "keyId": "key_x", "startTime": "2020-01-01T00:00:00Z",
                "endTime": "2020-01-02T00:00:00Z"})
            s.stop()
            s.start()
            v = s.ok("GET", "/api/v1/decisions?ip=192.0.2.9")
            self.assertEqual(v["decision"], "ban")
            self.assertEqual(v["expiresAt"], d["expiresAt"])
            poll(lambda: s.request("GET", "/debug/" + pack["accessToken"], token=None).status == 410,
                 timeout=10, what="debug link to expire")
            problem_ok(self, s.request("GET", "/debug/" + pack["accessToken"], token=None), 410, "gone")
            self.assertEqual(len(s.audit_entries(query="action=debug_pack.access_expired")) >= 1, True)


@unittest.skipUnless(shutil.which("crowdsec-custom-bouncer"), "crowdsec-custom-bouncer not installed")
class CrowdSecBouncerTest(unittest.TestCase):
    """Debian's crowdsec-custom-bouncer, unchanged, enforces bans that sira makes."""

    def test_bouncer_adds_then_deletes_a_sira_ban(self):
        with Sira() as s:
            b = s.ok("POST", "/api/v1/guard/bouncers", {"name": "edge-1"})
            work = tempfile.mkdtemp(prefix="sira-bouncer-")
            calls = os.path.join(work, "calls.log")
            script = os.path.join(work, "enforce.sh")
            with open(script, "w") as f:
                f.write(f"#!/bin/sh\necho \"$1 $2 $3\" >> {calls}\n")
            os.chmod(script, 0o755)
            cfg = os.path.join(work, "bouncer.yaml")
            with open(cfg, "w") as f:
                f.write(f"""bin_path: {script}
feed_via_stdin: false
total_retries: 0
scenarios_containing: []
scenarios_not_containing: []
origins: []
piddir: {work}
update_frequency: 1s
cache_retention_duration: 1s
daemonize: false
log_mode: file
log_dir: {work}
log_level: info
api_url: {s.base_url}/
api_key: {b['apiKey']}
prometheus:
  enabled: false
""")
            proc = subprocess.Popen(["crowdsec-custom-bouncer", "-c", cfg],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                def calls_text():
                    return open(calls).read() if os.path.exists(calls) else ""
                # A ban made by SIRA Guard itself from a brute force out of one address.
                ingest(s, brute_force_lines("key_edge", ip="198.18.0.66"))
                self.assertEqual(s.ok("GET", "/api/v1/decisions?ip=198.18.0.66")["decision"], "ban")
                poll(lambda: "add 198.18.0.66" in calls_text(), timeout=20,
                     what="the bouncer script to be called with add")
                ip_decisions = [d for d in s.ok("GET", "/api/v1/decisions")["decisions"]
                                if d["value"] == "198.18.0.66"]
                self.assertEqual(len(ip_decisions), 1)
                s.ok("DELETE", f"/api/v1/decisions/{ip_decisions[0]['id']}", expect=204)
                poll(lambda: "del 198.18.0.66" in calls_text(), timeout=20,
                     what="the bouncer script to be called with del")
                bouncers = s.ok("GET", "/api/v1/guard/bouncers")["items"]
                self.assertIsNotNone(bouncers[0]["lastPullAt"])
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                shutil.rmtree(work, ignore_errors=True)

    def test_crowdsec_api_shapes(self):
        with Sira() as s:
            b = s.ok("POST", "/api/v1/guard/bouncers", {"name": "probe"})
            h = {"X-Api-Key": b["apiKey"]}
            r = s.request("GET", "/v1/decisions?ip=192.0.2.1", token=None, headers=h)
            self.assertEqual((r.status, r.raw), (200, b"null"))
            self.assertEqual(s.request("GET", "/v1/decisions", token=None,
                                       headers={"X-Api-Key": "wrong"}).status, 403)
            s.ok("POST", "/api/v1/decisions", {"scope": "ip", "value": "192.0.2.1", "type": "ban",
                                               "durationSeconds": 120})
            r = s.request("GET", "/v1/decisions?ip=192.0.2.1", token=None, headers=h)
            d = json.loads(r.raw)[0]
            self.assertEqual((d["scope"], d["value"], d["type"]), ("Ip", "192.0.2.1", "ban"))
            self.assertTrue(d["duration"].endswith("s"))
            st = json.loads(s.request("GET", "/v1/decisions/stream?startup=true", token=None,
                                      headers=h).raw)
            self.assertEqual([x["value"] for x in st["new"]], ["192.0.2.1"])
            st = json.loads(s.request("GET", "/v1/decisions/stream", token=None, headers=h).raw)
            self.assertIsNone(st["new"])


if __name__ == "__main__":
    unittest.main()
