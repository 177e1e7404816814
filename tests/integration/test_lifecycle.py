"""Process lifecycle: graceful shutdown, crash recovery, the data directory lock, configuration
errors, online backup and restore, first start on an empty directory and JSON request logs."""

import http.client
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time
import unittest
import uuid

from harness import SIRA_BIN, Sira, poll, problem_ok, run_cli


class Writer(threading.Thread):
    """Creates users in a loop (bounded in count and time); records the acknowledged ones."""

    def __init__(self, s, max_requests=2000, max_seconds=30.0, prefix="w"):
        super().__init__(daemon=True)
        self.s = s
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.prefix = prefix
        self.stop_flag = threading.Event()
        self.created = []      # ids acknowledged with 201
        self.statuses = {}     # status -> count
        self.errors = []       # connection-level failures (refused / reset)
        self.lock = threading.Lock()

    def run(self):
        deadline = time.monotonic() + self.max_seconds
        for i in range(self.max_requests):
            if self.stop_flag.is_set() or time.monotonic() > deadline:
                return
            try:
                r = self.s.request("POST", "/api/v1/users",
                                   {"name": f"{self.prefix}-{i}-{uuid.uuid4().hex[:6]}",
                                    "roles": ["ops"]}, timeout=20)
            except (OSError, http.client.HTTPException) as e:
                with self.lock:
                    self.errors.append(e)
                if isinstance(e, ConnectionRefusedError):
                    return  # the listener is gone
                continue
            with self.lock:
                self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                if r.status == 201:
                    self.created.append(r.body["id"])

    def count(self):
        with self.lock:
            return len(self.created)


def db_user_count(path):
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute("SELECT COUNT(*) FROM users WHERE deleted_at IS NULL").fetchone()[0]
    finally:
        con.close()


class LifecycleTest(unittest.TestCase):
    def new_server(self, **kw):
        s = Sira(**kw)
        self.addCleanup(s.close)
        return s

    def test_graceful_shutdown_under_load(self):
        s = self.new_server()
        s.start()
        users_before = db_user_count(s.db_path)
        writers = [Writer(s, max_requests=3000, max_seconds=30, prefix=f"g{i}") for i in range(4)]
        for w in writers:
            w.start()
        poll(lambda: sum(w.count() for w in writers) >= 40, timeout=20,
             what="40 users created by the writers")
        s.proc.send_signal(signal.SIGTERM)
        t0 = time.monotonic()
        try:
            rc = s.proc.wait(timeout=25)
        except subprocess.TimeoutExpired:
            s.kill()
            self.fail("sira did not exit within 25 s of SIGTERM")
        elapsed = time.monotonic() - t0
        s._finish()
        for w in writers:
            w.stop_flag.set()
        for w in writers:
            w.join(timeout=30)
            self.assertFalse(w.is_alive())
        self.assertEqual(rc, 0, s.stderr_text()[-2000:])
        self.assertLess(elapsed, 20)
        # Every answered request got a complete 201: no 5xx and no truncated answers while
        # draining (connections still queued in the listen backlog may be refused or reset).
        for w in writers:
            self.assertEqual(set(w.statuses), {201}, w.statuses)
            self.assertFalse([e for e in w.errors if not isinstance(e, ConnectionError)],
                             w.errors)
        created = [i for w in writers for i in w.created]
        # Exactly the acknowledged writes are stored: none lost, none done without an answer.
        self.assertEqual(db_user_count(s.db_path) - users_before, len(created))
        cp = s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        s.start()
        ids = {u["id"] for u in s.list_all("/api/v1/users", limit=500)}
        missing = set(created) - ids
        self.assertFalse(missing, f"{len(missing)} acknowledged users lost across shutdown")
        self.assertEqual(s.request("GET", "/readyz", token=None).status, 200)

    def test_sigint_is_graceful_too(self):
        s = self.new_server()
        s.start()
        s.proc.send_signal(signal.SIGINT)
        self.assertEqual(s.proc.wait(timeout=20), 0)
        s._finish()

    def test_kill_9_after_201_then_restart(self):
        s = self.new_server()
        s.start()
        u = s.create_user("survivor-" + uuid.uuid4().hex[:6], ["ops"], email="s@example.com")
        size = s.tree_size()
        self.assertEqual(s.kill(), -signal.SIGKILL)
        cp = s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        s.start()  # same data dir; the stale lock of the dead process does not block
        got = s.ok("GET", f"/api/v1/users/{u['id']}")
        self.assertEqual(got, u)
        self.assertEqual(s.tree_size(), size)
        self.assertEqual(s.request("GET", "/readyz", token=None).status, 200)
        # Appends continue at the right index after the crash.
        u2 = s.create_user("after-crash", ["ops"])
        self.assertEqual(s.tree_size(), size + 1)
        e = s.audit_entries(query=f"target={u2['id']}")
        self.assertEqual(e[0]["index"], size)
        cp = s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    def test_kill_9_under_load_then_restart(self):
        s = self.new_server()
        s.start()
        w = Writer(s, max_requests=3000, max_seconds=30)
        w.start()
        poll(lambda: w.count() >= 30, timeout=20, what="30 users created by the writer")
        s.kill()
        w.stop_flag.set()
        w.join(timeout=30)
        cp = s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        s.start()
        ids = {u["id"] for u in s.list_all("/api/v1/users", limit=500)}
        self.assertFalse(set(w.created) - ids, "acknowledged users lost after kill -9")
        self.assertEqual(s.request("GET", "/readyz", token=None).status, 200)

    def test_second_server_on_same_data_dir(self):
        s = self.new_server()
        s.start()
        cp = subprocess.run([SIRA_BIN, "serve", "--data", s.data_dir, "--listen", "127.0.0.1:0"],
                            capture_output=True, text=True, timeout=30)
        self.assertNotEqual(cp.returncode, 0)
        self.assertNotIn("listening on", cp.stdout)
        self.assertIn("already running", cp.stderr)
        self.assertIn(s.data_dir, cp.stderr)
        # The first server is unaffected.
        self.assertEqual(s.request("GET", "/readyz", token=None).status, 200)
        s.create_user("still-works", ["ops"])

    def start_should_fail(self, config_text=None, env=None):
        s = self.new_server()
        s.init_data()
        cmd = [SIRA_BIN, "serve", "--data", s.data_dir, "--listen", "127.0.0.1:0"]
        if config_text is not None:
            path = os.path.join(s.root, "sira.yaml")
            with open(path, "w") as f:
                f.write(config_text)
            cmd += ["--config", path]
        full_env = dict(os.environ)
        full_env.update(env or {})
        cp = subprocess.run(cmd, capture_output=True, text=True, timeout=30, env=full_env)
        self.assertNotEqual(cp.returncode, 0, cp.stdout)
        self.assertNotIn("listening on", cp.stdout)
        return cp

    def test_bad_config_value(self):
        cp = self.start_should_fail("http: {max_body_bytes: -5}\n")
        self.assertIn("http.max_body_bytes", cp.stderr)

    def test_bad_config_unknown_key(self):
        cp = self.start_should_fail("http:\n  max_body_bytez: 4096\n")
        self.assertIn("http.max_body_bytez", cp.stderr)
        cp = self.start_should_fail("no_such_key: 1\n")
        self.assertIn("no_such_key", cp.stderr)

    def test_bad_config_other_forms(self):
        cp = self.start_should_fail("audit:\n  verify_interval_seconds: soon\n")
        self.assertIn("audit.verify_interval_seconds", cp.stderr)
        cp = self.start_should_fail("log_format: xml\n")
        self.assertIn("log_format", cp.stderr)
        cp = self.start_should_fail("http: [1, 2\n")
        self.assertTrue(cp.stderr.strip())
        cp = self.start_should_fail(None, env={"SIRA_HTTP_MAX_BODY_BYTES": "abc"})
        self.assertIn("http.max_body_bytes", cp.stderr)
        cp = self.start_should_fail(None, env={"SIRA_STORE_SYNCHRONOUS": "sometimes"})
        self.assertIn("store.synchronous", cp.stderr)
        cp = self.start_should_fail("store:\n  read_connections: [1]\n")
        self.assertIn("store.read_connections", cp.stderr)

    def test_good_config_file(self):
        s = self.new_server()
        path = os.path.join(s.root, "sira.yaml")
        with open(path, "w") as f:
            f.write("http:\n  max_body_bytes: 4096\naudit:\n  verify_interval_seconds: 5\n")
        s.config = path
        s.start()
        r = s.request("POST", "/api/v1/users",
                      {"name": "big", "email": "x" * 5000, "roles": ["ops"]})
        problem_ok(self, r, 413, "payload-too-large")
        # The environment overrides the file.
        s.stop()
        s.env = {"SIRA_HTTP_MAX_BODY_BYTES": "65536"}
        s.start()
        r = s.request("POST", "/api/v1/users",
                      {"name": "big", "email": "x" * 300, "roles": ["ops"]})
        self.assertEqual(r.status, 201, r)
        r = s.request("POST", "/api/v1/tokens", {"name": "t" * 150, "roles": ["admin"],
                                                 "expires_at": None, "user_id": None})
        self.assertEqual(r.status, 201, r)

    def test_backup_under_writes_and_restore(self):
        s = self.new_server()
        s.start()
        backup = os.path.join(s.root, "backup.db")
        w = Writer(s, max_requests=600, max_seconds=40, prefix="bk")
        w.start()
        try:
            poll(lambda: w.count() >= 20, timeout=20, what="writes before the backup")
            cp = run_cli("backup", backup, "--data", s.data_dir, timeout=60)
            self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
            at_backup = w.count()
            poll(lambda: w.count() >= at_backup + 20, timeout=20, what="writes after the backup")
        finally:
            w.stop_flag.set()
            w.join(timeout=30)
        self.assertEqual(set(w.statuses), {201}, w.statuses)
        self.assertTrue(os.path.getsize(backup) > 0)
        backed_up = db_user_count(backup)
        live = db_user_count(s.db_path)
        self.assertGreater(live, backed_up)
        # The backup is a consistent snapshot with a verifiable audit log of its own.
        con = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
        try:
            self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        finally:
            con.close()
        # Backup never overwrites.
        cp = run_cli("backup", backup, "--data", s.data_dir)
        self.assertNotEqual(cp.returncode, 0)
        # Restore is refused while the server runs, and changes nothing.
        cp = run_cli("restore", backup, "--data", s.data_dir, timeout=60)
        self.assertNotEqual(cp.returncode, 0, cp.stdout)
        self.assertIn("running", cp.stderr + cp.stdout)
        self.assertEqual(db_user_count(s.db_path), live)
        self.assertEqual(s.request("GET", "/readyz", token=None).status, 200)
        s.create_user("after-refused-restore", ["ops"])
        # Stop, restore, restart.
        self.assertEqual(s.stop(), 0)
        cp = run_cli("restore", backup, "--data", s.data_dir, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(db_user_count(s.db_path), backed_up)
        cp = s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        s.start()
        self.assertEqual(s.request("GET", "/readyz", token=None).status, 200)
        self.assertEqual(len(s.list_all("/api/v1/users", limit=500)), backed_up)
        s.create_user("after-restore", ["ops"])
        cp = s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    def test_restore_refuses_tampered_backup(self):
        s = self.new_server()
        s.start()
        s.create_user("orig", ["ops"])
        backup = os.path.join(s.root, "backup.db")
        self.assertEqual(run_cli("backup", backup, "--data", s.data_dir).returncode, 0)
        self.assertEqual(s.stop(), 0)
        subprocess.run(["sqlite3", backup,
                        "UPDATE audit_entries SET details = '{\"x\":1}' WHERE idx = 1;"],
                       check=True, capture_output=True, timeout=30)
        users = db_user_count(s.db_path)
        cp = run_cli("restore", backup, "--data", s.data_dir, timeout=60)
        self.assertNotEqual(cp.returncode, 0)
        self.assertEqual(db_user_count(s.db_path), users)
        self.assertEqual(s.cli("audit", "verify").returncode, 0)

    def test_serve_initialises_empty_dir(self):
        s = self.new_server(init=False)
        s.start()
        self.assertTrue(s.token and s.token.startswith("sira_"), s.stdout_lines)
        self.assertEqual(s.request("GET", "/api/v1/users").status, 200)
        self.assertTrue(os.path.exists(s.db_path))
        self.assertEqual(s.stop(), 0)
        # A restart does not print a new token; the old one still works.
        token = s.token
        s.start()
        self.assertFalse([l for l in s.stdout_lines if "admin token" in l], s.stdout_lines)
        self.assertEqual(s.token, token)
        self.assertEqual(s.request("GET", "/api/v1/users").status, 200)
        # `sira init` on an initialised directory refuses.
        cp = run_cli("init", "--data", s.data_dir)
        self.assertNotEqual(cp.returncode, 0)

    def test_json_request_logs(self):
        s = self.new_server(log_format="json")
        s.start()
        s.request("GET", "/api/v1/users")
        s.request("GET", "/no/such/route")
        u = s.create_user("logged", ["ops"])
        s.request("GET", f"/api/v1/users/{u['id']}",
                  headers={"traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"})
        self.assertEqual(s.stop(), 0)
        lines = [l for l in s.stderr_text().splitlines() if l.strip()]
        self.assertTrue(lines)
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                self.fail(f"stderr line is not JSON: {line!r}")
        for r in records:
            self.assertIsInstance(r, dict)
            self.assertIn("msg", r)
            self.assertIn("level", r)
            self.assertIn("time", r)
        reqs = [r for r in records if r.get("msg") == "request"]
        pairs = {(r.get("method"), r.get("route"), str(r.get("status"))) for r in reqs}
        self.assertIn(("GET", "/api/v1/users", "200"), pairs)
        self.assertIn(("POST", "/api/v1/users", "201"), pairs)
        self.assertIn(("GET", "/api/v1/users/{id}", "200"), pairs)
        self.assertTrue([r for r in reqs if str(r.get("status")) == "404"])
        traced = [r for r in reqs if r.get("trace_id") == "0af7651916cd43dd8448eb211c80319c"]
        self.assertEqual(len(traced), 1)
        # Secrets never reach the logs.
        self.assertNotIn(s.token, s.stderr_text())

    def test_version(self):
        cp = run_cli("version")
        self.assertEqual(cp.returncode, 0)
        self.assertTrue(cp.stdout.startswith("sira "))


if __name__ == "__main__":
    unittest.main()
