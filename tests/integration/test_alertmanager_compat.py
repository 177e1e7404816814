"""sira as Prometheus's Alertmanager: a real Prometheus (Debian's package) sends a firing rule to
sira; Debian's amtool queries alerts and adds, queries and expires silences against sira; the
Alertmanager API v2 answers in its own shapes and refuses bad input without changing anything."""
import http.server
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from harness import Sira, poll, problem_ok

PROMETHEUS = shutil.which("prometheus")
AMTOOL = shutil.which("amtool")

ALERTMANAGER_YML = """
route:
  receiver: team
  group_by: [alertname]
  group_wait: 1s
  routes:
    - matchers: ['severity="critical"']
      receiver: pager
      continue: true
receivers:
  - name: team
  - name: pager
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [service]
"""


class WebhookSink:
    """A webhook receiver on 127.0.0.1: records every POSTed JSON body; answers `self.status`."""

    def __init__(self):
        self.bodies = []
        self.status = 200
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n) or b"null")
                with sink.lock:
                    sink.bodies.append(body)
                    status = sink.status
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def received(self, alertname=None, status=None):
        with self.lock:
            out = list(self.bodies)
        if alertname is not None:
            out = [b for b in out if b["groupLabels"].get("alertname") == alertname]
        if status is not None:
            out = [b for b in out if b["status"] == status]
        return out

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def hook_config(url):
    return ("route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n"
            "  group_interval: 1s\n  repeat_interval: 1h\nreceivers:\n  - name: hook\n"
            "    webhook_configs:\n      - url: %s\n        send_resolved: true\n" % url)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fnv1a_fingerprint(labels):
    """Alertmanager's fingerprint: FNV-1a 64 over sorted names and values, each followed by 0xff."""
    h = 0xcbf29ce484222325
    for name in sorted(labels):
        for part in (name, labels[name]):
            for b in part.encode() + b"\xff":
                h ^= b
                h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


class AlertmanagerApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sira-am-")
        path = os.path.join(cls.tmp, "alertmanager.yml")
        with open(path, "w") as f:
            f.write(ALERTMANAGER_YML)
        cls.s = Sira(env={"SIRA_ALERTS_CONFIG_FILE": path})
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def post(self, alerts, **kw):
        return self.s.request("POST", "/api/v2/alerts", body=alerts, **kw)

    def alerts(self, query=""):
        r = self.s.request("GET", "/api/v2/alerts" + query)
        self.assertEqual(r.status, 200, r)
        return r.body

    def test_post_get_fingerprint_receivers_and_inhibition(self):
        crit = {"alertname": "DiskFull", "severity": "critical", "service": "db"}
        warn = {"alertname": "DiskSlow", "severity": "warning", "service": "db"}
        other = {"alertname": "DiskSlow", "severity": "warning", "service": "web"}
        r = self.post([{"labels": crit, "annotations": {"summary": "full"}},
                       {"labels": warn}, {"labels": other,
                                          "generatorURL": "http://prom/graph"}])
        self.assertEqual(r.status, 200, r)
        by_fp = {a["fingerprint"]: a for a in self.alerts()}
        a = by_fp[fnv1a_fingerprint(crit)]
        self.assertEqual(a["labels"], crit)
        self.assertEqual(a["annotations"], {"summary": "full"})
        # The critical child route matched, so the root receiver is not used (Alertmanager).
        self.assertEqual([x["name"] for x in a["receivers"]], ["pager"])
        self.assertEqual(a["status"], {"state": "active", "silencedBy": [], "inhibitedBy": []})
        # Missing endsAt: now + resolve_timeout (5 m).
        self.assertGreater(a["endsAt"], a["startsAt"])
        w = by_fp[fnv1a_fingerprint(warn)]
        self.assertEqual(w["status"]["state"], "suppressed")
        self.assertEqual(w["status"]["inhibitedBy"], [fnv1a_fingerprint(crit)])
        # `equal: [service]`: another service is not inhibited.
        self.assertEqual(by_fp[fnv1a_fingerprint(other)]["status"]["state"], "active")
        self.assertEqual(by_fp[fnv1a_fingerprint(other)]["receivers"], [{"name": "team"}])
        # Filters.
        got = self.alerts("?filter=" + "alertname%3D%22DiskSlow%22" + "&inhibited=false")
        self.assertEqual([x["labels"]["service"] for x in got], ["web"])
        got = self.alerts("?receiver=pag.*&filter=alertname%3D~%22Disk.%2A%22")
        self.assertEqual([x["labels"]["alertname"] for x in got], ["DiskFull"])
        # Groups in Alertmanager's shape, one per (route, alertname).
        groups = self.s.request("GET", "/api/v2/alerts/groups").body
        keys = sorted((g["receiver"]["name"], g["labels"]["alertname"], len(g["alerts"])) for g in groups)
        self.assertIn(("pager", "DiskFull", 1), keys)
        self.assertIn(("team", "DiskSlow", 2), keys)
        # Resolving: endsAt in the past removes it from the list.
        past = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 5))
        r = self.post([{"labels": other, "startsAt": "2020-01-01T00:00:00Z", "endsAt": past}])
        self.assertEqual(r.status, 200, r)
        self.assertNotIn(fnv1a_fingerprint(other), {a["fingerprint"] for a in self.alerts()})

    def test_receivers_and_status(self):
        r = self.s.request("GET", "/api/v2/receivers")
        self.assertEqual(r.status, 200)
        self.assertEqual(sorted(x["name"] for x in r.body), ["pager", "team"])
        st = self.s.request("GET", "/api/v2/status").body
        self.assertEqual(st["cluster"]["status"], "disabled")
        self.assertIn("receiver: team", st["config"]["original"])
        for k in ("version", "revision", "branch", "buildUser", "buildDate", "goVersion"):
            self.assertIn(k, st["versionInfo"])

    def test_bad_input_changes_nothing(self):
        before = self.alerts()
        cases = [
            [{"labels": {"alertname": "X", "bad-name": "v"}}],           # invalid label name
            [{"labels": {}}],                                             # empty label set
            [{"labels": {"alertname": "X"}, "startsAt": "2026-01-02T00:00:00Z",
              "endsAt": "2026-01-01T00:00:00Z"}],                         # ends before it starts
            [{"labels": {"severity": "x"}}],                              # no alertname
            [{"labels": {"alertname": "X"}, "startsAt": "yesterday"}],   # not RFC 3339
            {"labels": {"alertname": "X"}},                               # not an array
        ]
        for body in cases:
            problem_ok(self, self.post(body), 400)
        problem_ok(self, self.s.request("GET", "/api/v2/alerts?filter=alertname%3D%3E%22x%22"), 400)
        problem_ok(self, self.s.request("GET", "/api/v2/alerts?filter=alertname%3D~%22(%22"), 400)
        big = [{"labels": {"alertname": "Big%d" % i, "pad": "x" * 1000}} for i in range(10000)]
        r = self.post(big)
        self.assertEqual(r.status, 413, r.status)
        self.assertEqual(self.alerts(), before)

    def test_silence_lifecycle_over_the_api(self):
        labels = {"alertname": "ApiSilenced", "team": "payments"}
        self.post([{"labels": labels}])
        now = time.time()
        sil = {"matchers": [{"name": "alertname", "value": "ApiSilenced", "isRegex": False}],
               "startsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
               "endsAt": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 3600)),
               "createdBy": "ci", "comment": "maintenance"}
        r = self.s.request("POST", "/api/v2/silences", body=sil)
        self.assertEqual(r.status, 200, r)
        sid = r.body["silenceID"]
        self.assertRegex(sid, r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
        a = [x for x in self.alerts() if x["labels"] == labels][0]
        self.assertEqual(a["status"]["silencedBy"], [sid])
        self.assertEqual(a["status"]["state"], "suppressed")
        got = self.s.request("GET", "/api/v2/silence/" + sid).body
        self.assertEqual(got["status"]["state"], "active")
        self.assertEqual(got["matchers"][0], {"name": "alertname", "value": "ApiSilenced",
                                              "isRegex": False, "isEqual": True})
        # Changing only the comment updates in place; changing matchers replaces the silence.
        r = self.s.request("POST", "/api/v2/silences", body=dict(sil, id=sid, startsAt=got["startsAt"],
                                                                 comment="longer"))
        self.assertEqual(r.body["silenceID"], sid)
        r = self.s.request("POST", "/api/v2/silences", body=dict(
            sil, id=sid, matchers=[{"name": "team", "value": "pay.*", "isRegex": True}]))
        new_id = r.body["silenceID"]
        self.assertNotEqual(new_id, sid)
        self.assertEqual(self.s.request("GET", "/api/v2/silence/" + sid).body["status"]["state"], "expired")
        self.assertEqual(self.s.request("DELETE", "/api/v2/silence/" + new_id).status, 200)
        a = [x for x in self.alerts() if x["labels"] == labels][0]
        self.assertEqual(a["status"]["state"], "active")
        problem_ok(self, self.s.request("GET", "/api/v2/silence/00000000-0000-4000-8000-000000000000"), 404)
        problem_ok(self, self.s.request("DELETE", "/api/v2/silence/" + new_id), 409)
        bad = dict(sil, matchers=[{"name": "alertname", "value": "", "isRegex": False}])
        problem_ok(self, self.s.request("POST", "/api/v2/silences", body=bad), 400)
        bad = dict(sil, endsAt="2001-01-01T00:00:00Z")
        problem_ok(self, self.s.request("POST", "/api/v2/silences", body=bad), 400)
        # Every silence change is in the audit log.
        entries = self.s.ok("GET", "/api/v1/audit/entries?target_type=silence&limit=50")["items"]
        actions = {e["action"] for e in entries}
        self.assertTrue({"silence.create", "silence.update", "silence.expire"} <= actions, actions)

    def test_guard_detections_become_alerts(self):
        now = int(time.time() * 1000)
        lines = []
        for i in range(150):
            lines.append(json.dumps({"ts": now - 4 * 60 * 1000 + i * 1500, "key_id": "key_am_bf",
                                     "ip": "203.0.113.9", "method": "POST", "path": "/v1/auth",
                                     "status": 401 if i % 5 else 200, "latency_ms": 40}))
        r = self.s.request("POST", "/api/v1/requests", raw=("\n".join(lines) + "\n").encode(),
                           headers={"Content-Type": "application/x-ndjson"})
        self.assertEqual(r.status, 202, r)
        got = self.alerts("?filter=alertname%3D%22SiraGuardBruteForce%22")
        self.assertEqual(len(got), 1, got)
        a = got[0]
        self.assertEqual(a["labels"]["severity"], "critical")
        self.assertEqual(a["labels"]["key_id"], "key_am_bf")
        self.assertEqual(a["labels"]["source"], "sira-guard")
        self.assertEqual(a["annotations"]["runbook_url"], "docs/runbooks/SiraGuardBruteForce.md")
        self.assertIn(a["annotations"]["action_taken"], ("tempban", "permban"))

    def test_recurring_silence_mutes_only_inside_its_interval(self):
        self.post([{"labels": {"alertname": "Nightly", "job": "backup"}}])
        now = time.time()
        fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        hour = time.gmtime(now).tm_hour
        inside = {"start_time": "%02d:00" % hour, "end_time": "%02d:00" % (hour + 1) if hour < 23 else "24:00"}
        other = (hour + 2) % 24
        outside = {"start_time": "%02d:00" % other, "end_time": "%02d:00" % (other + 1) if other < 23 else "24:00"}
        base = {"matchers": [{"name": "alertname", "value": "Nightly", "isRegex": False}],
                "startsAt": fmt(now), "endsAt": fmt(now + 7 * 86400), "createdBy": "ci",
                "comment": "nightly backup window"}
        r = self.s.request("POST", "/api/v2/silences", body=dict(base, recurrence=[{"times": [outside]}]))
        self.assertEqual(r.status, 200, r)
        out_id = r.body["silenceID"]
        a = [x for x in self.alerts() if x["labels"]["alertname"] == "Nightly"][0]
        self.assertEqual(a["status"]["silencedBy"], [])
        got = self.s.request("GET", "/api/v2/silence/" + out_id).body
        self.assertEqual(got["recurrence"], [{"times": [outside]}])
        r = self.s.request("POST", "/api/v2/silences", body=dict(base, recurrence=[{"times": [inside]}]))
        in_id = r.body["silenceID"]
        a = [x for x in self.alerts() if x["labels"]["alertname"] == "Nightly"][0]
        self.assertEqual(a["status"]["silencedBy"], [in_id])
        bad = dict(base, recurrence=[{"weekdays": ["funday"]}])
        r = self.s.request("POST", "/api/v2/silences", body=bad)
        problem_ok(self, r, 400)
        self.assertIn("recurrence[0].weekdays[0]", json.dumps(r.body))

    def test_needs_a_token_unless_anonymous_is_configured(self):
        r = self.s.request("GET", "/api/v2/alerts", token=None)
        self.assertEqual(r.status, 401)


class CheckConfigTest(unittest.TestCase):
    def run_check(self, path):
        return subprocess.run([os.environ["SIRA_BIN"], "alerts", "check-config", path],
                              capture_output=True, text=True, timeout=30)

    def test_existing_alertmanager_yml_is_accepted_and_unsupported_fields_are_named(self):
        golden = os.path.join(os.path.dirname(__file__), "..", "golden", "alerts", "alertmanager.yml")
        cp = self.run_check(golden)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("valid (8 receivers, 2 inhibit rules)", cp.stdout)
        for field in ("receivers[4].opsgenie_configs", "receivers[6].victorops_configs",
                      "receivers[5].webhook_configs[0].http_config", "global.http_config"):
            self.assertIn("not supported, ignored: " + field, cp.stdout)

    def test_errors_name_the_path(self):
        with tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False) as f:
            f.write("route:\n  receiver: nobody\nreceivers:\n  - name: team\n")
        self.addCleanup(os.unlink, f.name)
        cp = self.run_check(f.name)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn('route.receiver: undefined receiver "nobody"', cp.stderr)
        cp = self.run_check("/nonexistent/alertmanager.yml")
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("cannot read", cp.stderr)


@unittest.skipUnless(PROMETHEUS and AMTOOL, "Debian's prometheus and prometheus-alertmanager are needed")
class PrometheusAndAmtoolTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sira-prom-")
        self.addCleanup(lambda: shutil.rmtree(self.tmp, True) if not self._outcome.result.failures else None)
        self.sink = WebhookSink()
        self.addCleanup(self.sink.close)
        am = os.path.join(self.tmp, "alertmanager.yml")
        with open(am, "w") as f:
            f.write(hook_config(self.sink.url))
        self.s = Sira(env={"SIRA_ALERTS_CONFIG_FILE": am})
        self.s.start()
        self.addCleanup(self.s.close)
        self.http_config = os.path.join(self.tmp, "http.yml")
        with open(self.http_config, "w") as f:
            f.write("authorization:\n  type: Bearer\n  credentials: %s\n" % self.s.token)

    def start_prometheus(self):
        rules = os.path.join(self.tmp, "rules.yml")
        with open(rules, "w") as f:
            f.write("groups:\n- name: sira-ci\n  interval: 1s\n  rules:\n")
            for name in ("SiraCiAlwaysFiring", "SiraCiMuted"):
                f.write("  - alert: %s\n    expr: vector(1)\n    labels:\n"
                        "      severity: critical\n    annotations:\n      summary: fires at once\n"
                        % name)
        cfg = os.path.join(self.tmp, "prometheus.yml")
        with open(cfg, "w") as f:
            f.write("global:\n  evaluation_interval: 1s\nrule_files: [%s]\n"
                    "alerting:\n  alertmanagers:\n  - api_version: v2\n    authorization:\n"
                    "      credentials: %s\n    static_configs:\n    - targets: ['127.0.0.1:%d']\n"
                    % (rules, self.s.token, self.s.port))
        port = free_port()
        log = open(os.path.join(self.tmp, "prometheus.log"), "wb")
        self.addCleanup(log.close)
        proc = subprocess.Popen([PROMETHEUS, "--config.file=" + cfg,
                                 "--storage.tsdb.path=" + os.path.join(self.tmp, "tsdb"),
                                 "--web.listen-address=127.0.0.1:%d" % port,
                                 # Alertmanagers are discovered a few seconds after the first
                                 # evaluation; without this the first send waits a minute.
                                 "--rules.alert.resend-delay=1s"],
                                stdout=log, stderr=subprocess.STDOUT)

        def stop():
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.addCleanup(stop)
        return proc

    def amtool(self, *args):
        cp = subprocess.run([AMTOOL, "--alertmanager.url=http://127.0.0.1:%d" % self.s.port,
                             "--http.config.file=" + self.http_config] + list(args),
                            capture_output=True, text=True, timeout=30)
        self.assertEqual(cp.returncode, 0, cp.stderr + cp.stdout)
        return cp.stdout

    def firing(self):
        r = self.s.request("GET", "/api/v2/alerts?filter=alertname%3D%22SiraCiAlwaysFiring%22")
        return r.body if r.status == 200 else []

    def test_prometheus_sends_and_amtool_queries_and_silences(self):
        # A silence set with amtool before the alert fires mutes its notification.
        muted_sid = self.amtool("silence", "add", "alertname=SiraCiMuted", "--comment=quiet",
                                "--author=ci", "--duration=1h").strip()
        self.start_prometheus()
        poll(lambda: self.firing(), timeout=60, what="Prometheus's alert reaching sira")
        a = self.firing()[0]
        self.assertEqual(a["labels"]["severity"], "critical")
        self.assertEqual(a["annotations"]["summary"], "fires at once")
        self.assertTrue(a["generatorURL"].startswith("http"), a)
        self.assertEqual(a["fingerprint"], fnv1a_fingerprint(a["labels"]))

        out = self.amtool("alert", "query", "alertname=SiraCiAlwaysFiring")
        self.assertIn("SiraCiAlwaysFiring", out)
        sid = self.amtool("silence", "add", "alertname=SiraCiAlwaysFiring", "--comment=ci window",
                          "--author=ci", "--duration=1h").strip()
        self.assertRegex(sid, r"^[0-9a-f-]{36}$")
        self.assertIn(sid, self.amtool("silence", "query", "-q"))
        self.assertEqual(self.firing()[0]["status"]["silencedBy"], [sid])
        # amtool's own view: the silenced alert is hidden unless asked for.
        self.assertNotIn("SiraCiAlwaysFiring", self.amtool("alert", "query"))
        self.assertIn("SiraCiAlwaysFiring", self.amtool("alert", "query", "--silenced"))
        self.amtool("silence", "expire", sid)
        self.assertNotIn(sid, self.amtool("silence", "query", "-q"))
        self.assertIn(sid, self.amtool("silence", "query", "--expired", "-q"))
        self.assertEqual(self.firing()[0]["status"]["state"], "active")

        # The unsilenced alert was notified once, in Alertmanager's webhook payload (version 4).
        poll(lambda: self.sink.received("SiraCiAlwaysFiring"), timeout=30, what="webhook call")
        body = self.sink.received("SiraCiAlwaysFiring")[0]
        self.assertEqual(body["version"], "4")
        self.assertEqual(body["receiver"], "hook")
        self.assertEqual(body["status"], "firing")
        self.assertEqual(body["groupKey"], '{}:{alertname="SiraCiAlwaysFiring"}')
        self.assertEqual(body["alerts"][0]["fingerprint"], a["fingerprint"])
        self.assertEqual(body["commonLabels"]["severity"], "critical")
        # The muted one was not, until its silence expired.
        time.sleep(2)
        self.assertEqual(self.sink.received("SiraCiMuted"), [])
        self.amtool("silence", "expire", muted_sid)
        poll(lambda: self.sink.received("SiraCiMuted"), timeout=30, what="notification after expiry")
        time.sleep(2)
        self.assertEqual(len(self.sink.received("SiraCiAlwaysFiring")), 1)  # repeat_interval 1h


class NotificationTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sira-notify-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.sink = WebhookSink()
        self.addCleanup(self.sink.close)
        self.am = os.path.join(self.tmp, "alertmanager.yml")
        with open(self.am, "w") as f:
            f.write(hook_config(self.sink.url))

    def server(self):
        s = Sira(env={"SIRA_ALERTS_CONFIG_FILE": self.am, "SIRA_ALERTS_RETRY_INITIAL_MS": "100",
                      "SIRA_ALERTS_RETRY_MAX_MS": "200", "SIRA_ALERTS_MAX_ATTEMPTS": "3"})
        self.addCleanup(s.close)
        return s

    def test_resolved_inside_group_wait_is_never_notified(self):
        s = self.server()
        s.start()
        now = time.time()
        fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        r = s.request("POST", "/api/v2/alerts", body=[{"labels": {"alertname": "Blip"}}])
        self.assertEqual(r.status, 200)
        r = s.request("POST", "/api/v2/alerts", body=[{"labels": {"alertname": "Blip"},
                                                        "startsAt": fmt(now - 10), "endsAt": fmt(now - 1)}])
        self.assertEqual(r.status, 200)
        time.sleep(3)
        self.assertEqual(self.sink.received("Blip"), [])

    def test_kill_9_loses_nothing_and_sends_nothing_twice(self):
        s = self.server()
        s.start()
        s.request("POST", "/api/v2/alerts", body=[{"labels": {"alertname": "Durable", "x": "1"}}])
        poll(lambda: self.sink.received("Durable"), timeout=20, what="first notification")
        # Delivery is at-least-once: a kill between the receiver's 2xx and the row being marked
        # sent re-sends it. Kill once sira recorded the delivery.
        poll(lambda: [n for n in s.ok("GET", "/api/v1/notifications")["items"] if n["status"] == "sent"],
             timeout=20, what="delivery recorded")
        s.kill()  # SIGKILL
        s.start()
        time.sleep(3)
        self.assertEqual(len(self.sink.received("Durable")), 1)
        # The alert survived: resolving it notifies the resolution, once.
        now = time.time()
        fmt = lambda t: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t))
        a = s.request("GET", "/api/v2/alerts").body
        self.assertEqual([x["labels"]["alertname"] for x in a], ["Durable"])
        s.request("POST", "/api/v2/alerts", body=[{"labels": {"alertname": "Durable", "x": "1"},
                                                    "endsAt": fmt(now - 1)}])
        poll(lambda: self.sink.received("Durable", "resolved"), timeout=20, what="resolved notification")
        time.sleep(2)
        self.assertEqual(len(self.sink.received("Durable", "resolved")), 1)
        log = s.ok("GET", "/api/v1/notifications?receiver=hook")["items"]
        self.assertEqual([n["status"] for n in log], ["sent", "sent"])

    def test_kill_9_right_after_concurrent_acknowledged_posts_loses_none(self):
        # Concurrent POSTs share group commits; a 200 means the batch holding them is durable.
        s = self.server()
        s.start()
        ok, errors = [], []

        def sender(w):
            for b in range(10):
                body = [{"labels": {"alertname": "Acked", "w": str(w), "i": str(b * 40 + i)}}
                        for i in range(40)]
                r = s.request("POST", "/api/v2/alerts", body=body)
                (ok if r.status == 200 else errors).append(r.status)

        threads = [threading.Thread(target=sender, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual((len(ok), errors), (80, []))
        s.kill()  # SIGKILL at once: no shutdown checkpoint
        s.start()
        got = s.request("GET", "/api/v2/alerts?filter=alertname%3D%22Acked%22").body
        self.assertEqual(len(got), 8 * 400)
        want = {fnv1a_fingerprint({"alertname": "Acked", "w": str(w), "i": str(i)})
                for w in range(8) for i in range(400)}
        self.assertEqual({a["fingerprint"] for a in got}, want)

    def test_alerting_section_of_sira_yaml(self):
        # The alertmanager.yml content can live in sira.yaml under `alerting:`.
        cfg = os.path.join(self.tmp, "sira.yaml")
        with open(cfg, "w") as f:
            f.write("alerts:\n  notify_silences: false\nalerting:\n" +
                    "".join("  " + line + "\n" for line in hook_config(self.sink.url).splitlines()))
        s = Sira(config=cfg)
        self.addCleanup(s.close)
        s.start()
        status = s.ok("GET", "/api/v2/status")
        self.assertIn(self.sink.url, status["config"]["original"])
        s.request("POST", "/api/v2/alerts", body=[{"labels": {"alertname": "Inline"}}])
        poll(lambda: self.sink.received("Inline"), timeout=20, what="notification")
        self.assertEqual(self.sink.received("Inline")[0]["receiver"], "hook")
        # Both places at once is refused, naming the keys.
        both = Sira(config=cfg, env={"SIRA_ALERTS_CONFIG_FILE": self.am})
        self.addCleanup(both.close)
        with self.assertRaises(Exception):
            both.start()
        self.assertIn("not both", both.stderr_text())
        # An invalid section names its path.
        with open(cfg, "w") as f:
            f.write("alerting:\n  route:\n    receiver: nobody\n  receivers:\n  - name: hook\n")
        bad = Sira(config=cfg)
        self.addCleanup(bad.close)
        with self.assertRaises(Exception):
            bad.start()
        self.assertIn("sira.yaml alerting", bad.stderr_text())
        self.assertIn("nobody", bad.stderr_text())

    def test_email_over_smtp(self):
        import smtpd  # deprecated but present in Python 3.11; a local SMTP sink
        import asyncore
        received = []

        class Sink(smtpd.SMTPServer):
            def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
                received.append((mailfrom, rcpttos, data))

        server = Sink(("127.0.0.1", 0), None, decode_data=True)
        port = server.socket.getsockname()[1]
        stop = threading.Event()

        def loop():
            while not stop.is_set():
                asyncore.loop(timeout=0.1, count=1)
        t = threading.Thread(target=loop, daemon=True)
        t.start()
        self.addCleanup(lambda: (stop.set(), t.join(5), server.close()))
        with open(self.am, "w") as f:
            f.write("route:\n  receiver: mail\n  group_wait: 1s\n  group_interval: 1s\n"
                    "receivers:\n  - name: mail\n    email_configs:\n      - to: oncall@example.com\n"
                    "        from: sira@example.com\n        smarthost: 127.0.0.1:%d\n"
                    "        require_tls: false\n" % port)
        s = self.server()
        s.start()
        s.request("POST", "/api/v2/alerts", body=[{"labels": {"alertname": "MailMe", "team": "db"},
                                                    "annotations": {"summary": "disk almost full"}}])
        poll(lambda: received, timeout=20, what="e-mail")
        mailfrom, rcpts, data = received[0]
        self.assertEqual(mailfrom, "sira@example.com")
        self.assertEqual(rcpts, ["oncall@example.com"])
        self.assertIn("Subject: [FIRING:1]", data)
        self.assertIn("disk almost full", data)
        self.assertEqual(s.ok("GET", "/api/v1/notifications")["items"][0]["kind"], "email")

    def test_retries_then_dead_letter_then_replay(self):
        self.sink.status = 500
        s = self.server()
        s.start()
        s.request("POST", "/api/v2/alerts", body=[{"labels": {"alertname": "Flaky"}}])
        poll(lambda: s.ok("GET", "/api/v1/notifications?status=dead")["items"], timeout=30,
             what="dead notification")
        dead = s.ok("GET", "/api/v1/notifications?status=dead")["items"][0]
        self.assertEqual(dead["attempts"], 3)
        self.assertEqual(dead["lastError"], "HTTP 500")
        self.assertEqual(dead["payload"]["groupKey"], '{}:{alertname="Flaky"}')
        self.assertEqual(len(self.sink.received("Flaky")), 3)
        self.sink.status = 200
        r = s.ok("POST", "/api/v1/notifications/%d/replay" % dead["id"], expect=200)
        self.assertEqual(r["status"], "pending")
        poll(lambda: s.ok("GET", "/api/v1/notifications?status=sent")["items"], timeout=20,
             what="replayed notification sent")
        self.assertEqual(len(self.sink.received("Flaky")), 4)
        problem_ok(self, s.request("POST", "/api/v1/notifications/%d/replay" % dead["id"]), 409)
        problem_ok(self, s.request("POST", "/api/v1/notifications/999999/replay"), 404)


if __name__ == "__main__":
    unittest.main()
