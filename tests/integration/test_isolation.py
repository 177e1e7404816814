"""Tenant isolation: a tenant's token never sees, changes or learns about another tenant's
objects, and its attempts leave the other tenant's audit log untouched."""

import unittest
import uuid

from harness import Sira, problem_ok


class IsolationTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Sira()
        cls.s.start()
        s = cls.s
        suffix = uuid.uuid4().hex[:8]
        cls.a = s.ok("POST", "/api/v1/tenants", {"name": f"tenant-a-{suffix}"}, expect=201)
        cls.b = s.ok("POST", "/api/v1/tenants", {"name": f"tenant-b-{suffix}"}, expect=201)
        cls.A = cls.a["admin_token"]["token"]
        cls.B = cls.b["admin_token"]["token"]
        cls.b_user = s.create_user("bob", ["ops"], email="bob@b.example", token=cls.B)
        cls.b_token = s.create_token("b-extra", ["admin"], token=cls.B)
        cls.a_user = s.create_user("alice", ["ops"], token=cls.A)
        cls.b_ids = {cls.b["id"], cls.b["admin_user"]["id"], cls.b["admin_token"]["id"],
                     cls.b_user["id"], cls.b_token["id"]}

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def snapshot_b(self):
        s = self.s
        return {
            "users": s.list_all("/api/v1/users", token=self.B),
            "tokens": s.list_all("/api/v1/tokens", token=self.B),
            "tenant": s.ok("GET", f"/api/v1/tenants/{self.b['id']}", token=self.B),
            "sth": s.sth(token=self.B),
            "entries": s.audit_entries(token=self.B),
        }

    def test_tenant_creation_response(self):
        for t in (self.a, self.b):
            self.assertTrue(t["id"].startswith("ten_"))
            self.assertFalse(t["system"])
            self.assertEqual(t["admin_user"]["tenant_id"], t["id"])
            self.assertEqual(t["admin_token"]["tenant_id"], t["id"])
            self.assertTrue(t["admin_token"]["token"].startswith("sira_"))
        # The system admin sees both; each tenant sees only itself.
        ids = {t["id"] for t in self.s.list_all("/api/v1/tenants")}
        self.assertTrue({self.a["id"], self.b["id"]}.issubset(ids))

    def test_lists_show_nothing_of_b(self):
        s = self.s
        users = s.list_all("/api/v1/users", token=self.A)
        self.assertTrue(users)
        self.assertTrue(all(u["tenant_id"] == self.a["id"] for u in users), users)
        self.assertFalse({u["id"] for u in users} & self.b_ids)
        tokens = s.list_all("/api/v1/tokens", token=self.A)
        self.assertTrue(all(t["tenant_id"] == self.a["id"] for t in tokens), tokens)
        self.assertFalse({t["id"] for t in tokens} & self.b_ids)
        tenants = s.list_all("/api/v1/tenants", token=self.A)
        self.assertEqual([t["id"] for t in tenants], [self.a["id"]])
        # Paging with tiny pages does not leak either.
        for path in ("/api/v1/users", "/api/v1/tokens", "/api/v1/tenants"):
            items = s.list_all(path, token=self.A, limit=1)
            self.assertFalse({x["id"] for x in items} & self.b_ids, path)
        # A cursor pointing "before" B's ids still only yields A's rows.
        import base64
        cur = base64.urlsafe_b64encode(b"a").decode().rstrip("=")
        for path in ("/api/v1/users", "/api/v1/tokens", "/api/v1/tenants"):
            page = s.ok("GET", f"{path}?cursor={cur}", token=self.A)
            self.assertFalse({x["id"] for x in page["items"]} & self.b_ids, path)

    def test_cross_tenant_access_is_404_and_changes_nothing(self):
        s = self.s
        before = self.snapshot_b()
        a_size = s.tree_size(token=self.A)
        bu, bt, bten = self.b_user["id"], self.b_token["id"], self.b["id"]
        attempts = [
            ("GET", f"/api/v1/users/{bu}", None),
            ("PATCH", f"/api/v1/users/{bu}", {"name": "hacked", "roles": ["admin"]}),
            ("DELETE", f"/api/v1/users/{bu}", None),
            ("GET", f"/api/v1/users/{self.b['admin_user']['id']}", None),
            ("DELETE", f"/api/v1/users/{self.b['admin_user']['id']}", None),
            ("GET", f"/api/v1/tokens/{bt}", None),
            ("DELETE", f"/api/v1/tokens/{bt}", None),
            ("DELETE", f"/api/v1/tokens/{self.b['admin_token']['id']}", None),
            ("GET", f"/api/v1/tenants/{bten}", None),
            ("PATCH", f"/api/v1/tenants/{bten}", {"name": "hacked"}),
            ("DELETE", f"/api/v1/tenants/{bten}", None),
        ]
        for method, path, body in attempts:
            with self.subTest(method=method, path=path):
                r = s.request(method, path, body, token=self.A)
                problem_ok(self, r, 404, "not-found")
                # The problem must not leak B's data.
                self.assertNotIn("bob@b.example", r.raw.decode())
        # Tokens have no PATCH route: 405 for every id, never 2xx.
        r = s.request("PATCH", f"/api/v1/tokens/{bt}", {"name": "x"}, token=self.A)
        self.assertIn(r.status, (404, 405), r)
        # Creating a token for B's user from A fails and creates nothing.
        r = s.request("POST", "/api/v1/tokens", {"name": "steal", "roles": ["ops"],
                                                 "user_id": bu}, token=self.A)
        self.assertIn(r.status, (400, 404), r)
        self.assertNotIn(r.status, (200, 201))
        # A non-system tenant cannot create tenants.
        r = s.request("POST", "/api/v1/tenants", {"name": "sneaky-" + uuid.uuid4().hex[:6]},
                      token=self.A)
        problem_ok(self, r, 403, "forbidden")

        after = self.snapshot_b()
        self.assertEqual(after, before, "B's objects or audit log changed because of A")
        # B's objects still work: B's extra token authenticates, B's user is intact.
        self.assertEqual(s.request("GET", "/api/v1/users", token=self.b_token["token"]).status, 200)
        self.assertEqual(s.ok("GET", f"/api/v1/users/{bu}", token=self.B)["name"], "bob")
        # A's failed attempts did not add entries to A's log either.
        self.assertEqual(s.tree_size(token=self.A), a_size)

    def test_audit_views_are_per_tenant(self):
        s = self.s
        b_size = s.tree_size(token=self.B)
        # Mutations in A grow A's log only.
        a_size = s.tree_size(token=self.A)
        u = s.create_user("audit-a-" + uuid.uuid4().hex[:6], ["ops"], token=self.A)
        s.ok("DELETE", f"/api/v1/users/{u['id']}", token=self.A)
        self.assertEqual(s.tree_size(token=self.A), a_size + 2)
        self.assertEqual(s.tree_size(token=self.B), b_size)

        sth_a = s.sth(token=self.A)
        self.assertEqual(sth_a["tenant_id"], self.a["id"])
        self.assertEqual(s.sth(token=self.B)["tenant_id"], self.b["id"])
        entries_a = s.audit_entries(token=self.A)
        self.assertEqual(len(entries_a), sth_a["tree_size"])
        self.assertEqual([e["index"] for e in entries_a], list(range(len(entries_a))))
        for e in entries_a:
            self.assertNotIn(e["target_id"], self.b_ids - {self.b["id"]}, e)
        self.assertFalse([e for e in entries_a if e["target_id"] == self.b["id"]])
        # Filtering A's log by B's ids finds nothing.
        for bid in self.b_ids:
            self.assertEqual(s.audit_entries(token=self.A, query=f"target={bid}"), [])
        # Proofs are bounded by A's own tree.
        r = s.request("GET", f"/api/v1/audit/proof/inclusion?index=0&tree_size="
                             f"{sth_a['tree_size'] + 50}", token=self.A)
        problem_ok(self, r, 400)
        st = s.ok("GET", "/api/v1/audit/status", token=self.A)
        self.assertEqual(st["tenant_id"], self.a["id"])
        # The system tenant's log records both tenant creations.
        acts = [(e["action"], e["target_id"]) for e in s.audit_entries()]
        self.assertIn(("tenant.create", self.a["id"]), acts)
        self.assertIn(("tenant.create", self.b["id"]), acts)

    def test_idempotency_keys_are_per_tenant(self):
        s = self.s
        key = "shared-" + uuid.uuid4().hex
        body = {"name": "idem-" + uuid.uuid4().hex[:6], "roles": ["ops"]}
        rb = s.request("POST", "/api/v1/users", body, token=self.B,
                       headers={"Idempotency-Key": key})
        self.assertEqual(rb.status, 201)
        ra = s.request("POST", "/api/v1/users", body, token=self.A,
                       headers={"Idempotency-Key": key})
        self.assertEqual(ra.status, 201, ra)
        self.assertIsNone(ra.headers.get("Idempotent-Replayed"), "A got B's stored response")
        self.assertEqual(ra.body["tenant_id"], self.a["id"])
        self.assertNotEqual(ra.body["id"], rb.body["id"])
        # Different body with the same key in A does not hit B's record either.
        r = s.request("POST", "/api/v1/users", dict(body, name=body["name"] + "x"), token=self.A,
                      headers={"Idempotency-Key": key})
        problem_ok(self, r, 422)

    def test_same_names_in_two_tenants(self):
        # Names are unique per tenant, not globally.
        name = "same-" + uuid.uuid4().hex[:6]
        ua = self.s.create_user(name, ["ops"], token=self.A)
        ub = self.s.create_user(name, ["ops"], token=self.B)
        self.assertNotEqual(ua["id"], ub["id"])

    def test_disabled_tenant_token_stops_working(self):
        s = self.s
        c = s.ok("POST", "/api/v1/tenants", {"name": "tenant-c-" + uuid.uuid4().hex[:6]},
                 expect=201)
        C = c["admin_token"]["token"]
        self.assertEqual(s.request("GET", "/api/v1/users", token=C).status, 200)
        # C cannot delete itself nor anyone.
        r = s.request("DELETE", f"/api/v1/tenants/{c['id']}", token=C)
        self.assertIn(r.status, (403, 409), r)
        r = s.request("DELETE", f"/api/v1/tenants/{c['id']}")
        self.assertEqual(r.status, 204, r)
        problem_ok(self, s.request("GET", "/api/v1/users", token=C), 401, "unauthorized")
        # A and B are unaffected.
        self.assertEqual(s.request("GET", "/api/v1/users", token=self.A).status, 200)
        self.assertEqual(s.request("GET", "/api/v1/users", token=self.B).status, 200)


if __name__ == "__main__":
    unittest.main()
