"""API surface against the real binary: health, metrics, tracing, auth, tokens, users, idempotency
and the audit entry every mutation leaves behind."""

import time
import unittest
import os
import uuid

from harness import Sira, metric_value, poll, problem_ok

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


class ApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Sira()
        cls.s.start()
        toks = cls.s.list_all("/api/v1/tokens")
        cls.admin_token_id = [t for t in toks if t["name"] == "bootstrap admin"][0]["id"]
        tenants = cls.s.list_all("/api/v1/tenants")
        cls.tenant_id = [t for t in tenants if t["system"]][0]["id"]

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def unique(self, prefix):
        return f"{prefix}-{uuid.uuid4().hex[:10]}"

    def user_count(self):
        return len(self.s.list_all("/api/v1/users"))

    def token_for_new_user(self, roles, **extra):
        """Creates a user holding `roles` and a token for it (a token may only hold roles its
        user has)."""
        u = self.s.create_user(self.unique("holder"), roles)
        return self.s.create_token(self.unique("tok"), roles, user_id=u["id"], **extra)

    def metric_at_least(self, name, labels, minimum=1):
        # Request metrics are recorded once the response is written: poll briefly.
        return poll(lambda: (metric_value(self.s.metrics(), name, labels) or 0) >= minimum,
                    timeout=5, interval=0.05, what=f"{name}{labels} >= {minimum}")

    # ---- operational endpoints ----

    def test_healthz(self):
        r = self.s.request("GET", "/healthz", token=None)
        self.assertEqual(r.status, 200)
        self.assertEqual(r.content_type, "application/json")
        self.assertEqual(r.body, {"status": "ok"})

    def test_readyz(self):
        r = self.s.request("GET", "/readyz", token=None)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["status"], "ready")
        self.assertIsInstance(r.body["checks"], dict)
        self.assertTrue(r.body["checks"], "readyz lists no checks")
        for name, check in r.body["checks"].items():
            self.assertTrue(check["ok"], f"check {name} not ok: {check}")
        self.assertIn("audit", r.body["checks"])
        self.assertIn("store", r.body["checks"])

    def test_metrics(self):
        self.s.ok("GET", "/api/v1/users")
        self.metric_at_least("http_requests_total",
                             {"route": "/api/v1/users", "method": "GET", "status": "200"})
        r = self.s.request("GET", "/metrics", token=None)
        self.assertEqual(r.status, 200)
        self.assertTrue(r.headers.get("Content-Type", "").startswith("text/plain"), r.headers)
        text = r.body
        v = metric_value(text, "http_requests_total",
                         {"route": "/api/v1/users", "method": "GET", "status": "200"})
        self.assertIsNotNone(v, "no http_requests_total sample for GET /api/v1/users 200")
        self.assertGreaterEqual(v, 1)
        # The route label is the pattern, not the concrete path.
        self.s.request("GET", "/api/v1/users/usr_doesnotexist")
        self.metric_at_least("http_requests_total",
                             {"route": "/api/v1/users/{id}", "method": "GET", "status": "404"})
        text = self.s.metrics()
        self.assertNotIn('route="/api/v1/users/usr_doesnotexist"', text)
        self.assertIsNotNone(metric_value(text, "http_request_duration_seconds_count",
                                          {"route": "/api/v1/users", "method": "GET"}))
        self.assertIsNotNone(metric_value(text, "http_request_duration_seconds_bucket",
                                          {"route": "/api/v1/users", "method": "GET", "le": "+Inf"}))
        self.assertEqual(metric_value(text, "sira_build_info"), 1.0)
        self.assertIn("# TYPE http_requests_total counter", text)
        self.assertEqual(metric_value(text, "audit_chain_integrity_failed_total"), 0.0)
        self.assertEqual(metric_value(text, "sira_audit_frozen", {"tenant": self.tenant_id}), 0.0)
        self.assertEqual(metric_value(text, "sira_audit_tree_size", {"tenant": self.tenant_id}),
                         float(self.s.tree_size()))

    def test_traceparent_propagated(self):
        r = self.s.request("GET", "/healthz", token=None, headers={"traceparent": TRACEPARENT})
        self.assertEqual(r.status, 200)
        tp = r.headers.get("traceparent")
        self.assertIsNotNone(tp, "response has no traceparent")
        parts = tp.split("-")
        self.assertEqual(len(parts), 4, tp)
        self.assertEqual(parts[1], TRACE_ID)
        self.assertEqual(len(parts[2]), 16)
        # Also on an authenticated API route and on errors.
        r = self.s.request("GET", "/api/v1/users", headers={"traceparent": TRACEPARENT})
        self.assertEqual(r.headers.get("traceparent", "").split("-")[1], TRACE_ID)
        r = self.s.request("GET", "/nope", headers={"traceparent": TRACEPARENT})
        self.assertEqual(r.status, 404)
        self.assertEqual(r.headers.get("traceparent", "").split("-")[1], TRACE_ID)

    def test_invalid_traceparent_gets_fresh_trace(self):
        bad = "00-00000000000000000000000000000000-00f067aa0ba902b7-01"
        r = self.s.request("GET", "/healthz", token=None, headers={"traceparent": bad})
        self.assertEqual(r.status, 200)
        tid = r.headers.get("traceparent", "").split("-")[1]
        self.assertEqual(len(tid), 32)
        self.assertNotEqual(tid, "0" * 32)

    def test_keep_alive_and_pipelining(self):
        import http.client
        import socket
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=10)
        try:
            for _ in range(20):
                conn.request("GET", "/api/v1/users?limit=1",
                             headers={"Authorization": f"Bearer {self.s.token}"})
                resp = conn.getresponse()
                resp.read()
                self.assertEqual(resp.status, 200)
        finally:
            conn.close()
        # Two pipelined requests on one connection get two answers, in order.
        req = (b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as sock:
            sock.sendall(req)
            for _ in range(100):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        self.assertEqual(data.count(b"HTTP/1.1 "), 2, data)
        first, second = data.index(b"HTTP/1.1 200"), data.index(b"HTTP/1.1 404")
        self.assertLess(first, second)

    # ---- authentication / authorisation ----

    def test_401_without_or_with_bad_token(self):
        for token, headers in [(None, None), ("sira_notarealtoken_xxxxxxxxxxxxxxxx", None),
                               ("garbage", None),
                               (None, {"Authorization": "Basic YWRtaW46YWRtaW4="})]:
            r = self.s.request("GET", "/api/v1/users", token=token, headers=headers)
            problem_ok(self, r, 401, "unauthorized")
            self.assertIn("Bearer", r.headers.get("WWW-Authenticate", ""))
        before = self.user_count()
        r = self.s.request("POST", "/api/v1/users", {"name": self.unique("u"), "roles": ["ops"]},
                           token=None)
        problem_ok(self, r, 401, "unauthorized")
        self.assertEqual(self.user_count(), before)

    def test_403_for_auditor(self):
        tok = self.token_for_new_user(["auditor"])
        secret = tok["token"]
        self.assertTrue(secret.startswith("sira_"))
        self.assertEqual(tok["roles"], ["auditor"])
        before_users = self.user_count()
        before_size = self.s.tree_size()
        r = self.s.request("POST", "/api/v1/users", {"name": self.unique("u"), "roles": ["ops"]},
                           token=secret)
        problem_ok(self, r, 403, "forbidden")
        r = self.s.request("POST", "/api/v1/tokens", {"name": "x", "roles": ["auditor"]},
                           token=secret)
        problem_ok(self, r, 403, "forbidden")
        r = self.s.request("DELETE", f"/api/v1/tokens/{self.admin_token_id}", token=secret)
        problem_ok(self, r, 403, "forbidden")
        self.assertEqual(self.user_count(), before_users)
        self.assertEqual(self.s.tree_size(), before_size)
        # Read-only everything.
        for path in ["/api/v1/users", "/api/v1/tokens", "/api/v1/tenants",
                     "/api/v1/audit/entries", "/api/v1/audit/sth", "/api/v1/audit/public-key",
                     "/api/v1/audit/status"]:
            r = self.s.request("GET", path, token=secret)
            self.assertEqual(r.status, 200, f"auditor GET {path}: {r!r}")
        # The admin token still works (the 403s revoked nothing).
        self.assertEqual(self.s.request("GET", "/api/v1/users").status, 200)

    def test_token_secret_shown_once(self):
        tok = self.token_for_new_user(["auditor"])
        self.assertIn("token", tok)
        got = self.s.ok("GET", f"/api/v1/tokens/{tok['id']}")
        self.assertNotIn("token", got)
        self.assertNotIn(tok["token"], repr(got))
        listed = self.s.list_all("/api/v1/tokens")
        self.assertNotIn(tok["token"], repr(listed))
        self.assertEqual(got["status"], "active")

    def test_token_revoke(self):
        tok = self.s.create_token(self.unique("rev"), ["admin"])
        secret = tok["token"]
        self.assertEqual(self.s.request("GET", "/api/v1/users", token=secret).status, 200)
        r = self.s.request("DELETE", f"/api/v1/tokens/{tok['id']}")
        self.assertEqual(r.status, 204, r)
        self.assertEqual(r.raw, b"")
        r = self.s.request("GET", "/api/v1/users", token=secret)
        problem_ok(self, r, 401, "unauthorized")
        r = self.s.request("POST", "/api/v1/users", {"name": self.unique("u"), "roles": ["ops"]},
                           token=secret)
        problem_ok(self, r, 401, "unauthorized")
        got = self.s.ok("GET", f"/api/v1/tokens/{tok['id']}")
        self.assertEqual(got["status"], "revoked")
        self.assertIsNotNone(got["revoked_at"])
        # Revoking twice is a conflict and does not add an audit entry.
        size = self.s.tree_size()
        r = self.s.request("DELETE", f"/api/v1/tokens/{tok['id']}")
        problem_ok(self, r, 409, "conflict")
        self.assertEqual(self.s.tree_size(), size)
        r = self.s.request("DELETE", "/api/v1/tokens/tok_doesnotexist")
        problem_ok(self, r, 404, "not-found")

    def test_token_expiry(self):
        u = self.s.create_user(self.unique("expuser"), ["auditor"])
        t0 = time.monotonic()
        tok = self.s.create_token(self.unique("exp"), ["auditor"], user_id=u["id"],
                                  expires_in_seconds=1)
        secret = tok["token"]
        self.assertIsNotNone(tok["expires_at"])
        r = self.s.request("GET", "/api/v1/users", token=secret)
        if time.monotonic() - t0 < 0.9:
            self.assertEqual(r.status, 200, "fresh token refused before its expiry")

        def expired():
            return self.s.request("GET", "/api/v1/users", token=secret).status == 401

        poll(expired, timeout=6, interval=0.2, what="token expiry -> 401")
        self.assertGreaterEqual(time.monotonic() - t0, 0.9, "token expired too early")
        r = self.s.request("GET", "/api/v1/users", token=secret)
        problem_ok(self, r, 401, "unauthorized")
        got = self.s.ok("GET", f"/api/v1/tokens/{tok['id']}")
        self.assertEqual(got["status"], "expired")

    def test_admin_can_mint_downscoped_token(self):
        # The admin role grants every permission, so an admin may hand out an auditor-only
        # token (the documented `sira token create --roles admin,auditor` relies on this).
        r = self.s.request("POST", "/api/v1/tokens", {"name": self.unique("ro"),
                                                      "roles": ["auditor"]})
        self.assertEqual(r.status, 201, f"admin cannot mint an auditor token: {r!r}")
        secret = r.body["token"]
        problem_ok(self, self.s.request("POST", "/api/v1/users",
                                        {"name": self.unique("u"), "roles": ["ops"]},
                                        token=secret), 403, "forbidden")
        self.assertEqual(self.s.request("GET", "/api/v1/users", token=secret).status, 200)

    def test_cli_token_create_list_revoke(self):
        # The CLI writes to the data directory while the server runs.
        cp = self.s.cli("token", "create", "--name", self.unique("cli"), "--roles", "admin")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        secret = cp.stdout.strip().splitlines()[-1]
        self.assertTrue(secret.startswith("sira_"), cp.stdout)
        self.assertEqual(self.s.request("GET", "/api/v1/users", token=secret).status, 200)
        cp = self.s.cli("token", "list")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        ids = [line.split("\t")[0] for line in cp.stdout.splitlines() if line.strip()]
        api_ids = {t["id"] for t in self.s.list_all("/api/v1/tokens")}
        self.assertEqual(set(ids), api_ids)
        new_ids = [i for i in ids if i not in (self.admin_token_id,)]
        mine = [t for t in self.s.list_all("/api/v1/tokens") if t["created_by"] == "cli"
                and t["status"] == "active" and t["id"] != self.admin_token_id]
        self.assertTrue(mine, "CLI-created token not listed by the API")
        tid = mine[-1]["id"]
        self.assertIn(tid, new_ids)
        # The CLI's token.create landed in the audit log and the server still appends after it
        # (the server picks up entries appended by another process on its next write).
        self.s.create_user(self.unique("after-cli"), ["ops"])
        self.assertTrue(self.s.audit_entries(query=f"target={tid}"))
        cp = self.s.cli("token", "revoke", tid)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        by_id = {t["id"]: t for t in self.s.list_all("/api/v1/tokens")}
        self.assertEqual(by_id[tid]["status"], "revoked")
        self.assertEqual(self.s.request("GET", "/api/v1/users", token=secret).status, 401)
        self.s.create_user(self.unique("after-cli2"), ["ops"])
        self.assertEqual([e["action"] for e in self.s.audit_entries(query=f"target={tid}")],
                         ["token.create", "token.revoke"])
        r = self.s.request("GET", "/readyz", token=None)
        self.assertEqual(r.status, 200, r)
        cp = self.s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    def test_cli_token_create_documented_roles(self):
        cp = self.s.cli("token", "create", "--name", self.unique("cli2"), "--roles",
                        "admin,auditor")
        self.assertEqual(cp.returncode, 0, f"`sira token create --roles admin,auditor` failed: "
                                           f"{cp.stderr.strip()}")
        secret = cp.stdout.strip().splitlines()[-1]
        self.assertEqual(self.s.request("GET", "/api/v1/users", token=secret).status, 200)

    def test_token_roles_limited_to_user(self):
        u = self.s.create_user(self.unique("opsuser"), ["ops"])
        r = self.s.request("POST", "/api/v1/tokens",
                           {"name": "x", "roles": ["admin"], "user_id": u["id"]})
        problem_ok(self, r, 400)
        tok = self.s.create_token(self.unique("opstok"), ["ops"], user_id=u["id"])
        self.assertEqual(tok["user_id"], u["id"])
        r = self.s.request("POST", "/api/v1/users", {"name": self.unique("u"), "roles": ["ops"]},
                           token=tok["token"])
        problem_ok(self, r, 403, "forbidden")
        self.assertEqual(self.s.request("GET", "/api/v1/users", token=tok["token"]).status, 200)

    # ---- users ----

    def test_users_crud(self):
        name = self.unique("alice")
        r = self.s.request("POST", "/api/v1/users",
                           {"name": name, "email": "alice@example.com", "roles": ["ops", "auditor"]})
        self.assertEqual(r.status, 201, r)
        u = r.body
        self.assertTrue(u["id"].startswith("usr_"), u)
        self.assertEqual(r.headers.get("Location"), f"/api/v1/users/{u['id']}")
        self.assertEqual(u["name"], name)
        self.assertEqual(u["email"], "alice@example.com")
        self.assertEqual(sorted(u["roles"]), ["auditor", "ops"])
        self.assertEqual(u["tenant_id"], self.tenant_id)

        got = self.s.ok("GET", f"/api/v1/users/{u['id']}")
        self.assertEqual(got, u)

        new_name = self.unique("alice2")
        upd = self.s.ok("PATCH", f"/api/v1/users/{u['id']}",
                        {"name": new_name, "email": "a2@example.com", "roles": ["compliance"]},
                        expect=200)
        self.assertEqual(upd["name"], new_name)
        self.assertEqual(upd["email"], "a2@example.com")
        self.assertEqual(upd["roles"], ["compliance"])
        got = self.s.ok("GET", f"/api/v1/users/{u['id']}")
        self.assertEqual(got["name"], new_name)
        self.assertEqual(got["roles"], ["compliance"])
        self.assertEqual(got["created_at"], u["created_at"])

        # Partial update leaves the other fields alone.
        upd = self.s.ok("PATCH", f"/api/v1/users/{u['id']}", {"email": "a3@example.com"})
        self.assertEqual(upd["name"], new_name)
        self.assertEqual(upd["roles"], ["compliance"])

        r = self.s.request("DELETE", f"/api/v1/users/{u['id']}")
        self.assertEqual(r.status, 204, r)
        problem_ok(self, self.s.request("GET", f"/api/v1/users/{u['id']}"), 404, "not-found")
        problem_ok(self, self.s.request("DELETE", f"/api/v1/users/{u['id']}"), 404, "not-found")
        problem_ok(self, self.s.request("PATCH", f"/api/v1/users/{u['id']}", {"name": "zz"}),
                   404, "not-found")
        ids = [x["id"] for x in self.s.list_all("/api/v1/users")]
        self.assertNotIn(u["id"], ids)

    def test_duplicate_user_name_conflict(self):
        name = self.unique("dup")
        self.s.create_user(name, ["ops"])
        size = self.s.tree_size()
        count = self.user_count()
        r = self.s.request("POST", "/api/v1/users", {"name": name, "roles": ["ops"]})
        problem_ok(self, r, 409, "conflict")
        self.assertEqual(self.s.tree_size(), size)
        self.assertEqual(self.user_count(), count)

    def test_users_pagination(self):
        # Isolated in a fresh tenant so that other tests' users do not interleave.
        t = self.s.ok("POST", "/api/v1/tenants", {"name": self.unique("pag")}, expect=201)
        tok = t["admin_token"]["token"]
        created = {self.s.create_user(f"p{i}", ["ops"], token=tok)["id"] for i in range(5)}
        seen = []
        cursor = None
        for _ in range(10):
            url = "/api/v1/users?limit=2" + (f"&cursor={cursor}" if cursor else "")
            page = self.s.ok("GET", url, token=tok)
            self.assertLessEqual(len(page["items"]), 2)
            seen.extend(x["id"] for x in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
            self.assertIsInstance(cursor, str)
        else:
            self.fail("pagination did not terminate")
        self.assertEqual(len(seen), len(set(seen)), f"duplicates across pages: {seen}")
        self.assertTrue(created.issubset(set(seen)), "a created user is missing from the pages")
        # 5 created users + the tenant's admin user.
        self.assertEqual(len(seen), 6)
        self.assertEqual(seen, sorted(seen), "pages are not in a stable id order")

    # ---- idempotency ----

    def test_idempotency_replay_and_reuse(self):
        key = "idem-" + uuid.uuid4().hex
        name = self.unique("idem")
        body = {"name": name, "email": "i@example.com", "roles": ["ops"]}
        count = self.user_count()
        size = self.s.tree_size()
        r1 = self.s.request("POST", "/api/v1/users", body, headers={"Idempotency-Key": key})
        self.assertEqual(r1.status, 201, r1)
        self.assertIsNone(r1.headers.get("Idempotent-Replayed"))
        r2 = self.s.request("POST", "/api/v1/users", body, headers={"Idempotency-Key": key})
        self.assertEqual(r2.status, 201, r2)
        self.assertEqual(r2.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(r2.body, r1.body)
        self.assertEqual(self.user_count(), count + 1)
        self.assertEqual(self.s.tree_size(), size + 1)
        # Same key, different body -> 422, nothing created.
        r3 = self.s.request("POST", "/api/v1/users", dict(body, name=name + "-other"),
                            headers={"Idempotency-Key": key})
        problem_ok(self, r3, 422)
        self.assertEqual(self.user_count(), count + 1)
        self.assertEqual(self.s.tree_size(), size + 1)
        names = [u["name"] for u in self.s.list_all("/api/v1/users")]
        self.assertEqual(names.count(name), 1)
        self.assertNotIn(name + "-other", names)

    def test_idempotency_replays_errors_too(self):
        # A 4xx first answer is replayed as well and creates nothing afterwards.
        key = "idem-" + uuid.uuid4().hex
        body = {"name": "x", "roles": ["nope"]}
        r1 = self.s.request("POST", "/api/v1/users", body, headers={"Idempotency-Key": key})
        problem_ok(self, r1, 400)
        r2 = self.s.request("POST", "/api/v1/users", body, headers={"Idempotency-Key": key})
        self.assertEqual(r2.status, 400)
        self.assertEqual(r2.body, r1.body)

    def test_idempotency_token_create(self):
        key = "idem-" + uuid.uuid4().hex
        body = {"name": self.unique("itok"), "roles": ["admin"]}
        n = len(self.s.list_all("/api/v1/tokens"))
        r1 = self.s.request("POST", "/api/v1/tokens", body, headers={"Idempotency-Key": key})
        self.assertEqual(r1.status, 201)
        r2 = self.s.request("POST", "/api/v1/tokens", body, headers={"Idempotency-Key": key})
        # The replay creates nothing and points at the token, but never repeats its secret,
        # which is shown once and must not rest in the database.
        problem_ok(self, r2, 409, "conflict")
        self.assertEqual(r2.headers.get("Idempotent-Replayed"), "true")
        self.assertIn("/api/v1/tokens/" + r1.body["id"], r2.body["detail"])
        self.assertNotIn(r1.body["token"].encode(), r2.raw)
        self.assertEqual(len(self.s.list_all("/api/v1/tokens")), n + 1)
        with open(os.path.join(self.s.data_dir, "sira.db"), "rb") as f:
            db_bytes = f.read()
        wal = os.path.join(self.s.data_dir, "sira.db-wal")
        if os.path.exists(wal):
            with open(wal, "rb") as f:
                db_bytes += f.read()
        self.assertNotIn(r1.body["token"].encode(), db_bytes)

    def test_idempotency_replay_does_not_bypass_authorization(self):
        # A replay must not hand a caller a response it is not allowed to obtain: here an
        # auditor (read-only) re-sends an admin's POST /api/v1/tokens with the same key.
        auditor = self.token_for_new_user(["auditor"])["token"]
        key = "deploy-" + uuid.uuid4().hex
        body = {"name": self.unique("ci"), "roles": ["admin"]}
        r1 = self.s.request("POST", "/api/v1/tokens", body, headers={"Idempotency-Key": key})
        self.assertEqual(r1.status, 201, r1)
        secret = r1.body["token"]
        r2 = self.s.request("POST", "/api/v1/tokens", body, token=auditor,
                            headers={"Idempotency-Key": key})
        self.assertNotIn(secret.encode(), r2.raw,
                         "an auditor obtained an admin token secret through an idempotent replay")
        problem_ok(self, r2, 403, "forbidden")

    def test_deleted_user_tokens_stop_working(self):
        u = self.s.create_user(self.unique("leaver"), ["admin"])
        tok = self.s.create_token(self.unique("leaver-tok"), ["admin"], user_id=u["id"])
        self.assertEqual(self.s.request("GET", "/api/v1/users", token=tok["token"]).status, 200)
        self.assertEqual(self.s.request("DELETE", f"/api/v1/users/{u['id']}").status, 204)
        problem_ok(self, self.s.request("GET", "/api/v1/users", token=tok["token"]), 401)
        self.assertEqual(self.s.ok("GET", f"/api/v1/tokens/{tok['id']}")["status"], "revoked")
        # The name is free again once the user is deleted.
        self.s.create_user(u["name"], ["ops"])
        # A user cannot delete itself through its own token.
        me = self.s.create_user(self.unique("self"), ["admin"])
        mt = self.s.create_token(self.unique("self-tok"), ["admin"], user_id=me["id"])
        problem_ok(self, self.s.request("DELETE", f"/api/v1/users/{me['id']}", token=mt["token"]),
                   409, "conflict")

    def test_demoted_user_token_loses_the_roles(self):
        # A token may never hold roles its user does not have; that must stay true after the
        # user is demoted, not only when the token is created.
        u = self.s.create_user(self.unique("boss"), ["admin"])
        tok = self.s.create_token(self.unique("boss-tok"), ["admin"], user_id=u["id"])
        self.s.ok("PATCH", f"/api/v1/users/{u['id']}", {"roles": ["ops"]})
        count = self.user_count()
        r = self.s.request("POST", "/api/v1/users", {"name": self.unique("by-demoted"),
                                                     "roles": ["admin"]}, token=tok["token"])
        self.assertNotEqual(r.status, 201,
                            "a demoted user's token still creates admin users")
        self.assertIn(r.status, (401, 403), r)
        self.assertEqual(self.user_count(), count)

    def test_request_id_echoed(self):
        r = self.s.request("GET", "/healthz", token=None, headers={"X-Request-Id": "req-abc-123"})
        self.assertEqual(r.headers.get("X-Request-Id"), "req-abc-123")
        r = self.s.request("GET", "/healthz", token=None)
        self.assertTrue(r.headers.get("X-Request-Id"))

    # ---- audit entries ----

    def entries_for(self, target):
        return self.s.audit_entries(query=f"target={target}")

    def test_every_mutation_is_audited(self):
        size0 = self.s.tree_size()
        u = self.s.create_user(self.unique("aud"), ["ops"])
        self.s.ok("PATCH", f"/api/v1/users/{u['id']}", {"email": "x@example.com"})
        self.assertEqual(self.s.request("DELETE", f"/api/v1/users/{u['id']}").status, 204)
        tok = self.s.create_token(self.unique("audtok"), ["admin"])
        self.assertEqual(self.s.request("DELETE", f"/api/v1/tokens/{tok['id']}").status, 204)
        self.assertEqual(self.s.tree_size(), size0 + 5)

        ue = self.entries_for(u["id"])
        self.assertEqual([e["action"] for e in ue], ["user.create", "user.update", "user.delete"])
        te = self.entries_for(tok["id"])
        self.assertEqual([e["action"] for e in te], ["token.create", "token.revoke"])
        for e in ue + te:
            self.assertEqual(e["actor"], self.admin_token_id, e)
            self.assertEqual(e["target_type"], "user" if e in ue else "token", e)
            self.assertIsInstance(e["details"], dict)
            self.assertGreaterEqual(e["index"], size0)
        self.assertEqual(ue[0]["details"].get("name"), u["name"])
        self.assertEqual(ue[1]["details"].get("email"), "x@example.com")
        # The secret never lands in the audit log.
        self.assertNotIn(tok["token"], repr(te))
        # Indexes are consecutive and the last five entries are exactly these.
        last = self.s.audit_entries()[size0:]
        self.assertEqual([e["index"] for e in last], list(range(size0, size0 + 5)))
        self.assertEqual([e["action"] for e in last],
                         ["user.create", "user.update", "user.delete", "token.create",
                          "token.revoke"])

    def test_audit_filters(self):
        u = self.s.create_user(self.unique("flt"), ["ops"])
        by_action = self.s.audit_entries(query="action=user.create")
        self.assertTrue(by_action)
        self.assertTrue(all(e["action"] == "user.create" for e in by_action))
        self.assertIn(u["id"], [e["target_id"] for e in by_action])
        by_type = self.s.audit_entries(query="target_type=token")
        self.assertTrue(all(e["target_type"] == "token" for e in by_type))
        by_actor = self.s.audit_entries(query=f"actor={self.admin_token_id}")
        self.assertIn(u["id"], [e["target_id"] for e in by_actor])
        self.assertEqual(self.s.audit_entries(query="actor=tok_nobody"), [])
        e = self.entries_for(u["id"])[0]
        self.assertEqual(self.s.audit_entries(query=f"since={e['time']}&target={u['id']}")[0]["index"],
                         e["index"])
        self.assertEqual(self.s.audit_entries(query=f"until={e['time']}&target={u['id']}"), [])
        self.assertEqual(self.s.audit_entries(query="since=2999-01-01T00:00:00Z"), [])
        problem_ok(self, self.s.request("GET", "/api/v1/audit/entries?since=yesterday"), 400)
        # Pagination over entries: each exactly once.
        all_entries = self.s.audit_entries()
        paged = self.s.list_all("/api/v1/audit/entries", limit=3)
        self.assertEqual([x["index"] for x in paged], [x["index"] for x in all_entries])
        self.assertEqual([x["index"] for x in all_entries], list(range(len(all_entries))))


if __name__ == "__main__":
    unittest.main()
