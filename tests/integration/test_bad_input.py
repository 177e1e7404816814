"""Bad input against the real binary: every error is a problem+json with the right status and a
detail, and changes nothing (user count, token count and audit tree size stay the same)."""

import base64
import http.client
import json
import socket
import unittest
import uuid

from harness import Sira, problem_ok

SQLI = "Robert'); DROP TABLE users;--"


class BadInputTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Sira(env={"SIRA_HTTP_MAX_BODY_BYTES": "2048"})
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def state(self):
        return (len(self.s.list_all("/api/v1/users")), len(self.s.list_all("/api/v1/tokens")),
                self.s.tree_size())

    def rejected(self, method, path, status, slug=None, field=None, **kw):
        """Sends a bad request; asserts the problem and that nothing changed."""
        before = self.state()
        r = self.s.request(method, path, **kw)
        problem_ok(self, r, status, slug)
        if field is not None:
            self.assertEqual(r.body.get("field"), field, r)
        self.assertEqual(self.state(), before, f"state changed after a rejected {method} {path}")
        return r

    def user_body(self, **kw):
        b = {"name": "u-" + uuid.uuid4().hex[:8], "email": "u@example.com", "roles": ["ops"]}
        b.update(kw)
        return b

    # ---- framing ----

    def test_malformed_json(self):
        for raw in [b'{"name": "x", ', b'{"name": "x", "roles": ["ops"]} trailing',
                    b'{name: "x"}', b"{'name': 'x'}", b"", b'{"name": "x",}',
                    b"[" * 600 + b"]" * 600]:
            with self.subTest(raw=raw[:40]):
                self.rejected("POST", "/api/v1/users", 400, "malformed-json", raw=raw)
        # Valid JSON that is not an object.
        for raw in [b"[1, 2]", b'"just a string"', b"42", b"null"]:
            with self.subTest(raw=raw):
                self.rejected("POST", "/api/v1/users", 400, raw=raw)

    def test_wrong_content_type(self):
        body = json.dumps(self.user_body()).encode()
        for ctype in ["text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                      None]:
            with self.subTest(ctype=ctype):
                self.rejected("POST", "/api/v1/users", 415, "unsupported-media-type", raw=body,
                              content_type=ctype)
        # Parameters on the right type are fine.
        r = self.s.request("POST", "/api/v1/users", raw=json.dumps(self.user_body()).encode(),
                           content_type="application/json; charset=utf-8")
        self.assertEqual(r.status, 201, r)

    def test_oversize_body(self):
        body = json.dumps(self.user_body(email="x" * 10_000)).encode()
        self.assertGreater(len(body), 10_000)
        self.rejected("POST", "/api/v1/users", 413, "payload-too-large", raw=body)
        # Also when the client announces the length and the body is streamed.
        self.rejected("POST", "/api/v1/tokens", 413, "payload-too-large",
                      raw=b'{"name":"' + b"y" * 10_000 + b'","roles":["admin"]}')
        # Chunked bodies (no Content-Length) are held to the same limit.
        before = self.state()
        conn = http.client.HTTPConnection("127.0.0.1", self.s.port, timeout=30)
        try:
            chunks = [b'{"name":"chunky","email":"'] + [b"z" * 1000] * 10 + [b'","roles":["ops"]}']
            conn.request("POST", "/api/v1/users", body=iter(chunks), encode_chunked=True,
                         headers={"Authorization": f"Bearer {self.s.token}",
                                  "Content-Type": "application/json",
                                  "Transfer-Encoding": "chunked"})
            resp = conn.getresponse()
            resp.read()
            self.assertEqual(resp.status, 413)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may close before the client finished sending
        finally:
            conn.close()
        self.assertEqual(self.state(), before)
        # The server is still healthy and a small body still works.
        self.assertEqual(self.s.request("POST", "/api/v1/users", self.user_body()).status, 201)

    def test_header_too_large(self):
        r = self.s.request("GET", "/api/v1/users", headers={"X-Big": "z" * 40_000})
        problem_ok(self, r, 431)

    def test_unknown_route_and_wrong_method(self):
        for path in ["/nope", "/api/v1/nope", "/api/v1/users/usr_x/extra", "/api/v2/users",
                     "/api/v1/users/"]:
            with self.subTest(path=path):
                self.rejected("GET", path, 404, "not-found")
        self.rejected("POST", "/api/v1/nothing-here", 404, "not-found", body={"name": "x"})
        for method, path in [("PUT", "/api/v1/users"), ("DELETE", "/api/v1/users"),
                             ("POST", "/healthz"), ("PATCH", "/api/v1/tokens/tok_x"),
                             ("PUT", "/api/v1/users/usr_x"), ("DELETE", "/api/v1/audit/sth")]:
            with self.subTest(method=method, path=path):
                r = self.rejected(method, path, 405, "method-not-allowed",
                                  body={"name": "x", "roles": ["ops"]})
                self.assertTrue(r.headers.get("Allow"), "405 without an Allow header")

    def test_bad_path_and_query_encoding(self):
        self.rejected("GET", "/api/v1/users/%00", 400)
        self.rejected("GET", "/api/v1/users?limit=%zz", 400)

    # ---- fields ----

    def test_unknown_field(self):
        self.rejected("POST", "/api/v1/users", 400, "invalid-argument", field="admin",
                      body=self.user_body(admin=True))
        self.rejected("POST", "/api/v1/tokens", 400, "invalid-argument", field="tenant_id",
                      body={"name": "t", "roles": ["admin"], "tenant_id": "ten_x"})
        self.rejected("POST", "/api/v1/tenants", 400, "invalid-argument", field="system",
                      body={"name": "t-" + uuid.uuid4().hex[:6], "system": True})
        u = self.s.create_user("unk-" + uuid.uuid4().hex[:6], ["ops"])
        self.rejected("PATCH", f"/api/v1/users/{u['id']}", 400, field="id",
                      body={"id": "usr_other"})
        self.assertEqual(self.s.ok("GET", f"/api/v1/users/{u['id']}"), u)

    def test_wrong_field_types(self):
        cases = [
            ({"name": 123, "roles": ["ops"]}, "name"),
            ({"name": "x", "roles": "admin"}, "roles"),
            ({"name": "x", "roles": ["nope"]}, "roles"),
            ({"name": "x", "roles": [1]}, "roles"),
            ({"name": "x", "roles": [["ops"]]}, "roles"),
            ({"name": "x", "roles": []}, "roles"),
            ({"name": "x"}, "roles"),
            ({"name": "", "roles": ["ops"]}, "name"),
            ({"name": None, "roles": ["ops"]}, "name"),
            ({"name": ["x"], "roles": ["ops"]}, "name"),
            ({"name": {"x": 1}, "roles": ["ops"]}, "name"),
            ({"name": True, "roles": ["ops"]}, "name"),
            ({"name": "x", "email": 5, "roles": ["ops"]}, "email"),
            ({"name": "x" * 201, "roles": ["ops"]}, "name"),
            ({"name": "a\nb", "roles": ["ops"]}, "name"),
            ({"roles": ["ops"]}, "name"),
        ]
        for body, field in cases:
            with self.subTest(body=body):
                r = self.rejected("POST", "/api/v1/users", 400, "invalid-argument", body=body)
                self.assertEqual(r.body.get("field"), field, r)
        u = self.s.create_user("typ-" + uuid.uuid4().hex[:6], ["ops"])
        for body in [{"name": 5}, {"roles": "admin"}, {"roles": ["nope"]}, {"roles": []},
                     {"email": ["x"]}, {"name": ""}]:
            with self.subTest(patch=body):
                self.rejected("PATCH", f"/api/v1/users/{u['id']}", 400, body=body)
        self.assertEqual(self.s.ok("GET", f"/api/v1/users/{u['id']}"), u)
        for body in [{"name": 1, "roles": ["admin"]}, {"name": "t", "roles": "admin"},
                     {"name": "t", "roles": ["nope"]}, {"name": "t", "roles": ["admin"],
                                                        "user_id": 7}]:
            with self.subTest(token=body):
                self.rejected("POST", "/api/v1/tokens", 400, body=body)
        self.rejected("POST", "/api/v1/tenants", 400, body={"name": 42})
        self.rejected("POST", "/api/v1/audit/acknowledge", 400, body={"note": 1})

    def test_huge_and_bad_numbers(self):
        raws = [b'{"name":"t","roles":["admin"],"expires_in_seconds":1e400}',
                b'{"name":"t","roles":["admin"],"expires_in_seconds":123456789012345678901234567890}',
                b'{"name":"t","roles":["admin"],"expires_in_seconds":-123456789012345678901234567890}',
                b'{"name":"t","roles":["admin"],"expires_in_seconds":18446744073709551615}',
                b'{"name":"t","roles":["admin"],"expires_in_seconds":9223372036854775807}',
                b'{"name":"t","roles":["admin"],"expires_in_seconds":-1}',
                b'{"name":"t","roles":["admin"],"expires_in_seconds":0}',
                b'{"name":"t","roles":["admin"],"expires_in_seconds":1.5}',
                b'{"name":"t","roles":["admin"],"expires_in_seconds":"10"}',
                b'{"name":"t","roles":["admin"],"expires_in_seconds":NaN}',
                b'{"name":"t","roles":["admin"],"expires_in_seconds":Infinity}',
                b'{"name":"t","roles":["admin"],"expires_at":"not a time"}',
                b'{"name":"t","roles":["admin"],"expires_at":"2001-01-01T00:00:00Z"}',
                b'{"name":"t","roles":["admin"],"expires_at":"99999-01-01T00:00:00Z"}',

                b'{"name":"t","roles":["admin"],"expires_at":"2999-01-01T00:00:00Z",'
                b'"expires_in_seconds":60}']
        for raw in raws:
            with self.subTest(raw=raw):
                self.rejected("POST", "/api/v1/tokens", 400, raw=raw)

    def test_impossible_calendar_dates(self):
        # Days that do not exist in their month are not RFC 3339 dates (RFC 3339 section 5.7);
        # they must not be silently rolled over into the next month.
        for date in ["2030-02-30T00:00:00Z", "2031-04-31T00:00:00Z", "2031-02-29T00:00:00Z"]:
            with self.subTest(date=date):
                self.rejected("POST", "/api/v1/tokens", 400, field="expires_at",
                              raw=b'{"name":"t","roles":["admin"],"expires_at":"' + date.encode()
                              + b'"}')
        # A leap day is fine.
        r = self.s.request("POST", "/api/v1/tokens", {"name": "leap", "roles": ["admin"],
                                                      "expires_at": "2032-02-29T12:00:00Z"})
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.body["expires_at"], "2032-02-29T12:00:00.000Z")

    def test_invalid_utf8(self):
        for bad in [b"\xff\xfe", b"\xc0\xaf", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80"]:
            with self.subTest(bad=bad):
                raw = b'{"name":"x' + bad + b'","roles":["ops"]}'
                self.rejected("POST", "/api/v1/users", 400, "malformed-json", raw=raw)
        # A lone surrogate escape is either refused or stored as valid UTF-8; never a 5xx and the
        # audit log stays verifiable.
        before = self.state()
        r = self.s.request("POST", "/api/v1/users",
                           raw=b'{"name":"lone\\ud800x","roles":["ops"]}')
        self.assertIn(r.status, (201, 400), r)
        if r.status == 400:
            problem_ok(self, r, 400)
            self.assertEqual(self.state(), before)
        else:
            got = self.s.request("GET", f"/api/v1/users/{r.body['id']}")
            self.assertEqual(got.status, 200)
            got.raw.decode("utf-8")  # valid UTF-8 on the way out
        cp = self.s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    def test_nul_in_strings(self):
        self.rejected("POST", "/api/v1/users", 400, field="name",
                      body={"name": "a\u0000b", "roles": ["ops"]})
        self.rejected("POST", "/api/v1/users", 400, field="email",
                      body={"name": "nul-" + uuid.uuid4().hex[:6], "email": "a\u0000@x",
                            "roles": ["ops"]})
        self.rejected("POST", "/api/v1/users", 400, field="roles",
                      body={"name": "nul-" + uuid.uuid4().hex[:6], "roles": ["ops\u0000"]})
        self.rejected("POST", "/api/v1/tokens", 400, body={"name": "t\u0000", "roles": ["admin"]})
        self.rejected("POST", "/api/v1/tenants", 400, body={"name": "t\u0000x"})
        # A raw NUL byte inside a JSON string is invalid JSON.
        self.rejected("POST", "/api/v1/users", 400,
                      raw=b'{"name":"a\x00b","roles":["ops"]}')

    def test_sql_metacharacters_stored_verbatim(self):
        s = self.s
        name = SQLI + " " + uuid.uuid4().hex[:6]
        email = "x'; DELETE FROM api_tokens; --@example.com"
        u = s.create_user(name, ["ops"], email=email)
        self.assertEqual(u["name"], name)
        self.assertEqual(u["email"], email)
        got = s.ok("GET", f"/api/v1/users/{u['id']}")
        self.assertEqual((got["name"], got["email"]), (name, email))
        self.assertIn(name, [x["name"] for x in s.list_all("/api/v1/users")])
        # Update with metacharacters everywhere.
        name2 = "\" OR 1=1; --" + SQLI + uuid.uuid4().hex[:6]
        upd = s.ok("PATCH", f"/api/v1/users/{u['id']}", {"name": name2, "email": SQLI})
        self.assertEqual((upd["name"], upd["email"]), (name2, SQLI))
        got = s.ok("GET", f"/api/v1/users/{u['id']}")
        self.assertEqual((got["name"], got["email"]), (name2, SQLI))
        # Token and tenant names.
        tname = SQLI + " token"
        t = s.create_token(tname, ["admin"])
        self.assertEqual(s.ok("GET", f"/api/v1/tokens/{t['id']}")["name"], tname)
        ten_name = SQLI + " tenant " + uuid.uuid4().hex[:6]
        ten = s.ok("POST", "/api/v1/tenants", {"name": ten_name}, expect=201)
        self.assertEqual(s.ok("GET", f"/api/v1/tenants/{ten['id']}")["name"], ten_name)
        # The audit details carry the values verbatim too.
        entries = s.audit_entries(query=f"target={u['id']}")
        self.assertEqual(entries[0]["details"]["name"], name)
        self.assertEqual(entries[1]["details"]["name"], name2)
        # Metacharacters in query parameters and path ids are plain values.
        before = self.state()
        r = s.request("GET", "/api/v1/audit/entries?actor=%27%20OR%20%271%27%3D%271")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body["items"], [])
        problem_ok(self, s.request("GET", "/api/v1/users/%27%20OR%20%271%27%3D%271"), 404)
        problem_ok(self, s.request("DELETE", "/api/v1/users/%27%20OR%20%271%27%3D%271"), 404)
        self.assertEqual(self.state(), before)
        # Nothing was dropped: tables answer and the audit chain verifies.
        self.assertTrue(s.list_all("/api/v1/users"))
        self.assertTrue(s.list_all("/api/v1/tokens"))
        cp = s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    def test_unicode_stored_verbatim(self):
        name = "Zoë 日本語 🚀 " + uuid.uuid4().hex[:6]
        u = self.s.create_user(name, ["ops"], email="zoë@exämple.com")
        got = self.s.ok("GET", f"/api/v1/users/{u['id']}")
        self.assertEqual(got["name"], name)
        self.assertEqual(got["email"], "zoë@exämple.com")
        cp = self.s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    # ---- pagination and query parameters ----

    def test_bad_cursor_and_limit(self):
        for path in ["/api/v1/users", "/api/v1/tokens", "/api/v1/tenants",
                     "/api/v1/audit/entries"]:
            for q, field in [("cursor=!!!notbase64", "cursor"), ("cursor=", "cursor"),
                             ("limit=0", "limit"), ("limit=abc", "limit"),
                             ("limit=-1", "limit"), ("limit=501", "limit"),
                             ("limit=1.5", "limit"), ("limit=", "limit"),
                             ("limit=99999999999999999999", "limit")]:
                with self.subTest(path=path, q=q):
                    self.rejected("GET", f"{path}?{q}", 400, "invalid-argument", field=field)
        # An audit cursor must encode an index.
        cur = base64.urlsafe_b64encode(b"abc").decode().rstrip("=")
        self.rejected("GET", f"/api/v1/audit/entries?cursor={cur}", 400, field="cursor")
        # Boundary limits are fine.
        for q in ["limit=1", "limit=500"]:
            self.assertEqual(self.s.request("GET", f"/api/v1/users?{q}").status, 200)

    def test_bad_proof_parameters(self):
        size = self.s.tree_size()
        for q in ["", "index=0", "tree_size=1", "index=abc&tree_size=1",
                  f"index=0&tree_size={size + 1}", "index=-1&tree_size=1",
                  f"index={size}&tree_size={size}", "index=0&tree_size=-5",
                  "index=0&tree_size=99999999999999999999"]:
            with self.subTest(q=q):
                self.rejected("GET", f"/api/v1/audit/proof/inclusion?{q}", 400)
        for q in ["", "first=1", "first=0&second=1", f"first=2&second=1",
                  f"first=1&second={size + 1}", "first=x&second=2"]:
            with self.subTest(q=q):
                self.rejected("GET", f"/api/v1/audit/proof/consistency?{q}", 400)

    def test_bad_audit_time_filters(self):
        for q in ["since=yesterday", "until=2030-13-01T00:00:00Z", "since=2030-01-01",
                  "until=1700000000", "since=2030-01-01T00:00:00"]:
            with self.subTest(q=q):
                self.rejected("GET", f"/api/v1/audit/entries?{q}", 400, "invalid-argument")

    def test_bad_idempotency_key(self):
        self.rejected("POST", "/api/v1/users", 400, body=self.user_body(),
                      headers={"Idempotency-Key": "k" * 300})

    def test_garbage_request_line(self):
        # Not HTTP at all: the server answers 400 or closes, and stays up.
        with socket.create_connection(("127.0.0.1", self.s.port), timeout=10) as sock:
            sock.sendall(b"\x16\x03\x01\x02\x00garbage\r\n\r\n")
            try:
                data = sock.recv(4096)
            except OSError:
                data = b""
        if data:
            self.assertTrue(data.startswith(b"HTTP/1.1 400"), data[:100])
        self.assertEqual(self.s.request("GET", "/healthz", token=None).status, 200)

    def test_acknowledge_when_not_frozen(self):
        self.rejected("POST", "/api/v1/audit/acknowledge", 409, "conflict",
                      body={"note": "nothing to acknowledge"})


if __name__ == "__main__":
    unittest.main()
