"""`sira serve` as a Kafka consumer, against librdkafka's mock cluster (sira_kafka_mock, one broker
on 127.0.0.1): request records produced to the topic go through SIRA Guard, the group's offsets
are committed only once the records are applied, and a restart resumes exactly where the commits
left off (nothing lost, nothing applied twice)."""
import json
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

from harness import SIRA_BIN, Sira, poll, require_binary, run_cli

SIRA_KAFKA_MOCK = os.environ.get("SIRA_KAFKA_MOCK", "")

TOPIC = "sira-requests"
GROUP = "sira-group"
# Generous for an AddressSanitizer build: the first group join takes a few seconds on the mock
# cluster's coordinator.
CONSUME_TIMEOUT = 30.0
# librdkafka's mock coordinator (2.0.x) answers a member's LeaveGroup by holding the group in a
# join phase for session.timeout.ms - 1 s before it elects a leader, however soon the next member
# joins: the servers here set a 6 s session timeout through kafka.properties, so the consumer of
# a restarted server gets its partition ~5 s after the previous one left.
RESTART_TIMEOUT = 60.0
ANSWER_TIMEOUT = 30.0


def now_ms():
    return int(time.time() * 1000)


def record(key, ip, status, latency, ts, path="/v1/payments", ua="curl/8.0", method="POST"):
    return json.dumps({"ts": ts, "key_id": key, "ip": ip, "method": method, "path": path,
                       "status": status, "latency_ms": latency, "user_agent": ua})


def brute_force_records(key, ip="203.0.113.7", n=150):
    """n records over the last ~4 minutes, 80% of them 401."""
    start = now_ms() - 4 * 60 * 1000
    return [record(key, ip, 401 if i % 10 < 8 else 200, 80 + (i % 7) * 13, start + i * 1500)
            for i in range(n)]


def benign_records(key, n):
    start = now_ms() - 60 * 1000
    return [record(key, f"198.51.100.{i % 3 + 1}", 200, 40 + i % 17, start + i * 500, method="GET")
            for i in range(n)]


class KafkaMock:
    """sira_kafka_mock as a subprocess: one command line in, one answer line out."""

    def __init__(self, topic):
        if not SIRA_KAFKA_MOCK or not os.access(SIRA_KAFKA_MOCK, os.X_OK):
            raise unittest.SkipTest("SIRA_KAFKA_MOCK is not set to the sira_kafka_mock binary")
        self.stderr_file = tempfile.TemporaryFile()
        self.final_stderr = ""
        self.proc = subprocess.Popen([SIRA_KAFKA_MOCK, topic], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr_file, text=True,
                                     bufsize=1)
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.bootstraps = self._next_line("the bootstrap servers")
        assert self.bootstraps.startswith("127.0.0.1:"), self.bootstraps

    def _read(self):
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # EOF

    def _next_line(self, what):
        try:
            line = self.lines.get(timeout=ANSWER_TIMEOUT)
        except queue.Empty:
            raise AssertionError(f"sira_kafka_mock gave no {what} within {ANSWER_TIMEOUT}s\n"
                                 f"stderr: {self.stderr_text()}")
        if line is None:
            raise AssertionError(f"sira_kafka_mock exited (rc={self.proc.poll()}) before {what}\n"
                                 f"stderr: {self.stderr_text()}")
        return line

    def command(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self._next_line(f"answer to {line[:60]!r}")

    def produce(self, payloads):
        for p in payloads:
            self.assert_ok(self.command("produce " + p), p)

    def assert_ok(self, answer, what):
        if answer != "ok":
            raise AssertionError(f"produce {what[:80]!r}: {answer}")

    def committed(self, group):
        answer = self.command("committed " + group)
        if not answer.startswith("committed "):
            return None  # e.g. the coordinator is still busy: the caller polls
        return int(answer.split()[1])

    def stderr_text(self):
        if self.stderr_file.closed:
            return self.final_stderr
        self.stderr_file.seek(0)
        return self.stderr_file.read().decode("utf-8", "replace")

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, ValueError):
                pass
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (BrokenPipeError, OSError):
                pass
        self.reader.join(timeout=5)
        self.final_stderr = self.stderr_text()
        self.stderr_file.close()
        return self.proc.returncode


def requests_in_last_hour(s, key):
    r = s.request("GET", f"/api/v1/observability/keys/{key}/metrics?period=1h")
    if r.status == 404:
        return 0
    if r.status != 200:
        raise AssertionError(f"metrics for {key}: {r!r}")
    return sum(p["requests"] for p in r.body["periods"])


class KafkaConsumerTest(unittest.TestCase):
    def setUp(self):
        require_binary()
        self.mock = KafkaMock(TOPIC)
        self.addCleanup(self._close_mock)

    def _close_mock(self):
        rc = self.mock.close()
        self.assertEqual(rc, 0, self.mock.stderr_text()[-4000:])

    def server(self, **overrides):
        env = {
            "SIRA_KAFKA_BROKERS": self.mock.bootstraps,
            "SIRA_KAFKA_TOPIC": TOPIC,
            "SIRA_KAFKA_GROUP": GROUP,
            "SIRA_KAFKA_TENANT": "admin",  # the system tenant `sira init` creates
            "SIRA_KAFKA_BATCH_MAX_MS": "50",
            "SIRA_KAFKA_PROPERTIES": "session.timeout.ms=6000,heartbeat.interval.ms=500",
        }
        env.update(overrides)
        s = Sira(env=env)
        self.addCleanup(s.close)
        return s

    def wait_for(self, s, key, requests, committed, timeout=CONSUME_TIMEOUT):
        """Polls until the key shows exactly `requests` and the group committed `committed`."""
        def applied():
            n = requests_in_last_hour(s, key)
            if n > requests:
                raise AssertionError(f"{key}: {n} requests applied, more than the {requests} produced")
            return n == requests
        try:
            poll(applied, timeout=timeout, interval=0.2,
                 what=f"{requests} requests for {key} consumed from Kafka")
            poll(lambda: self.mock.committed(GROUP) == committed, timeout=CONSUME_TIMEOUT,
                 interval=0.2, what=f"group {GROUP} to commit offset {committed}")
        except AssertionError as e:
            raise AssertionError(f"{e}\nlast committed: {self.mock.committed(GROUP)}\n"
                                 f"sira stderr: {s.stderr_text()[-6000:]}") from None

    def test_consumes_commits_after_apply_and_resumes_after_restart(self):
        n, m = 150, 40
        key = "key_kafka_" + str(now_ms())
        s = self.server()
        s.start()
        poll(lambda: "kafka consumer started" in s.stderr_text(), timeout=10,
             what="the kafka consumer start in the log")
        self.assertEqual(self.mock.committed(GROUP), 0)

        self.mock.produce(brute_force_records(key, n=n))
        self.wait_for(s, key, requests=n, committed=n)
        # The records went through the whole Guard pipeline: detection, evidence, action.
        evs = s.ok("GET", f"/api/v1/observability/keys/{key}/suspicious")["events"]
        bf = [e for e in evs if e["eventType"] == "brute_force"]
        self.assertTrue(bf, evs)
        # How many records the detector had seen depends on how the consumer cut the batches.
        self.assertLessEqual(bf[0]["evidence"]["totalRequests"], n, bf[0])
        self.assertIn(bf[0]["actionTaken"], ("tempban", "permban"), bf[0])
        self.assertEqual(s.ok("GET", f"/api/v1/decisions?key={key}")["decision"], "ban")
        m1 = s.ok("GET", f"/api/v1/observability/keys/{key}/metrics?period=1h")
        self.assertEqual(m1["lastHour"]["statusDistribution"]["401"], 120)

        # Records produced while sira is down are consumed after the restart, from the
        # committed offset on: the first n are neither lost nor applied a second time.
        self.assertEqual(s.stop(), 0, s.stderr_text()[-4000:])
        self.assertEqual(self.mock.committed(GROUP), n)
        self.mock.produce(benign_records(key, m))
        s.start()
        self.wait_for(s, key, requests=n + m, committed=n + m, timeout=RESTART_TIMEOUT)
        # Still exactly n + m a moment later: no late re-delivery.
        time.sleep(1.0)
        self.assertEqual(requests_in_last_hour(s, key), n + m)
        self.assertEqual(self.mock.committed(GROUP), n + m)
        self.assertEqual(s.stop(), 0, s.stderr_text()[-4000:])


class KafkaConfigTest(unittest.TestCase):
    def start_should_fail(self, env):
        require_binary()
        root = tempfile.mkdtemp(prefix="sira-it-kafka-")
        self.addCleanup(shutil.rmtree, root, ignore_errors=True)
        data = os.path.join(root, "data")
        run_cli("init", "--data", data, check=True)
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("SIRA_KAFKA_")}
        full_env.update(env)
        cp = subprocess.run([SIRA_BIN, "serve", "--data", data, "--listen", "127.0.0.1:0"],
                            capture_output=True, text=True, timeout=30, env=full_env)
        self.assertNotEqual(cp.returncode, 0, cp.stdout)
        self.assertNotIn("listening on", cp.stdout)
        return cp

    def test_brokers_without_tenant_is_refused(self):
        cp = self.start_should_fail({"SIRA_KAFKA_BROKERS": "127.0.0.1:9"})
        self.assertIn("kafka.tenant", cp.stderr)

    def test_unknown_tenant_is_refused(self):
        cp = self.start_should_fail({"SIRA_KAFKA_BROKERS": "127.0.0.1:9",
                                     "SIRA_KAFKA_TENANT": "no-such-tenant"})
        self.assertIn("kafka consumer", cp.stderr)
        self.assertIn("no-such-tenant", cp.stderr)


if __name__ == "__main__":
    unittest.main()
