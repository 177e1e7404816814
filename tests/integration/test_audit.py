"""Audit log checked from the outside: an independent RFC 6962 implementation recomputes leaves,
roots, inclusion and consistency proofs from the stored rows; tree-head signatures are checked
with openssl; tampering with the database is detected, freezes the tenant and is recovered by
an acknowledgement."""

import base64
import hashlib
import json
import os
import sqlite3
import stat
import subprocess
import tempfile
import unittest
import uuid

from harness import Sira, metric_value, poll, problem_ok

# ---------------------------------------------------------------------------------------------
# RFC 6962 (straight from the RFC's definitions, no shortcuts)


def sha256(b):
    return hashlib.sha256(b).digest()


def leaf_hash(entry_bytes):
    return sha256(b"\x00" + entry_bytes)


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def split_point(n):
    """Largest power of two strictly smaller than n (n >= 2)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves):
    """Merkle Tree Hash over a list of leaf hashes."""
    n = len(leaves)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaves[0]
    k = split_point(n)
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def audit_path(m, leaves):
    """PATH(m, D[n]) of RFC 6962 section 2.1.1."""
    n = len(leaves)
    if n <= 1:
        return []
    k = split_point(n)
    if m < k:
        return audit_path(m, leaves[:k]) + [mth(leaves[k:])]
    return audit_path(m - k, leaves[k:]) + [mth(leaves[:k])]


def consistency_proof(m, leaves):
    """PROOF(m, D[n]) of RFC 6962 section 2.1.2."""

    def subproof(m, d, b):
        n = len(d)
        if m == n:
            return [] if b else [mth(d)]
        k = split_point(n)
        if m <= k:
            return subproof(m, d[:k], b) + [mth(d[k:])]
        return subproof(m - k, d[k:], False) + [mth(d[:k])]

    return subproof(m, leaves, True)


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first, second, first_root, second_root, proof):
    """RFC 9162 section 2.1.4.2."""
    if first > second or first < 1:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    if first & (first - 1) == 0:  # power of two
        proof = [first_root] + list(proof)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


class MerkleSelfTest(unittest.TestCase):
    """The reference implementation agrees with itself before it judges the server."""

    def test_reference_implementation(self):
        leaves = [leaf_hash(str(i).encode()) for i in range(17)]
        for n in range(1, 18):
            root = mth(leaves[:n])
            for i in range(n):
                self.assertTrue(verify_inclusion(leaves[i], i, n, audit_path(i, leaves[:n]), root))
                self.assertFalse(verify_inclusion(leaves[i], i, n, audit_path(i, leaves[:n]),
                                                  sha256(b"x")))
            for m in range(1, n + 1):
                p = consistency_proof(m, leaves[:n])
                self.assertTrue(verify_consistency(m, n, mth(leaves[:m]), root, p), (m, n))
                if m < n:
                    self.assertFalse(verify_consistency(m, n, sha256(b"x"), root, p))
        self.assertEqual(mth([]).hex(),
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")


# ---------------------------------------------------------------------------------------------
# Helpers over the stored rows


def js(s):
    return json.dumps(s, ensure_ascii=False, separators=(",", ":"))


def canonical(tenant, idx, time_ms, actor, action, target_type, target_id, details):
    return ('{"tenant":' + js(tenant) + ',"index":' + str(idx) + ',"time":' + str(time_ms) +
            ',"actor":' + js(actor) + ',"action":' + js(action) + ',"target_type":' +
            js(target_type) + ',"target_id":' + js(target_id) + ',"details":' +
            (details if details else "{}") + "}").encode("utf-8")


def read_rows(db_path, tenant):
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        entries = con.execute(
            "SELECT idx, time_ms, actor, action, target_type, target_id, details, leaf_hash "
            "FROM audit_entries WHERE tenant_id = ? ORDER BY idx", (tenant,)).fetchall()
        heads = con.execute(
            "SELECT tree_size, root_hash, timestamp_ms, signature, key_id FROM audit_heads "
            "WHERE tenant_id = ? ORDER BY tree_size", (tenant,)).fetchall()
        return entries, heads
    finally:
        con.close()


def row_leaf(tenant, row):
    idx, time_ms, actor, action, ttype, tid, details, _ = row
    return leaf_hash(canonical(tenant, idx, time_ms, actor, action, ttype, tid, details))


def sqlite_cli(db_path, sql):
    cp = subprocess.run(["sqlite3", "-cmd", ".timeout 10000", db_path, sql], capture_output=True,
                        text=True, timeout=30)
    if cp.returncode != 0:
        raise AssertionError(f"sqlite3 failed ({cp.returncode}): {cp.stderr}")
    return cp.stdout


def head_message(tenant, size, root_hex, ts):
    return f"sira-tree-head-v1\n{tenant}\n{size}\n{root_hex}\n{ts}\n".encode()


def openssl_verify(pub_pem, message, signature):
    with tempfile.TemporaryDirectory(prefix="sira-sig-") as d:
        paths = {}
        for name, data in (("pub.pem", pub_pem.encode()), ("msg", message), ("sig", signature)):
            paths[name] = os.path.join(d, name)
            with open(paths[name], "wb") as f:
                f.write(data)
        cp = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", paths["pub.pem"],
                             "-rawin", "-in", paths["msg"], "-sigfile", paths["sig"]],
                            capture_output=True, text=True, timeout=30)
        return cp.returncode == 0, cp.stdout + cp.stderr


def system_tenant_id(s):
    return [t for t in s.list_all("/api/v1/tenants") if t["system"]][0]["id"]


def populate(s, n_users=4):
    users = [s.create_user(f"user-{i}-{uuid.uuid4().hex[:6]}", ["ops"]) for i in range(n_users)]
    s.ok("PATCH", f"/api/v1/users/{users[0]['id']}", {"email": "p@example.com"})
    tok = s.create_token("t-" + uuid.uuid4().hex[:6], ["admin"])
    s.ok("DELETE", f"/api/v1/tokens/{tok['id']}")
    s.ok("DELETE", f"/api/v1/users/{users[-1]['id']}")
    return users


class AuditTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Sira()
        cls.s.start()
        cls.tenant = system_tenant_id(cls.s)
        populate(cls.s, 5)
        # Values that stress the canonical form: quotes, backslashes, unicode, control chars.
        cls.s.create_user('q"uo\\te Zoë 日本 🚀 ' + uuid.uuid4().hex[:4], ["auditor"],
                          email="tab\there\nnewline \u0001 \u007f é")
        tb = cls.s.ok("POST", "/api/v1/tenants", {"name": "other-" + uuid.uuid4().hex[:6]},
                      expect=201)
        cls.other_token = tb["admin_token"]["token"]
        cls.other_tenant = tb["id"]
        populate(cls.s, 2)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def check_tenant(self, token, tenant):
        """Recomputes the tenant's log from the rows and compares it with the server."""
        s = self.s
        sth = s.sth(token=token)
        rows, heads = read_rows(s.db_path, tenant)
        self.assertEqual(sth["tenant_id"], tenant)
        self.assertEqual(sth["tree_size"], len(rows))
        self.assertEqual([r[0] for r in rows], list(range(len(rows))))
        leaves = []
        for r in rows:
            leaf = row_leaf(tenant, r)
            self.assertEqual(leaf, bytes(r[7]), f"stored leaf hash of entry {r[0]} differs")
            leaves.append(leaf)
        self.assertEqual(mth(leaves).hex(), sth["root_hash"])
        # The API entries are the stored rows.
        api = s.audit_entries(token=token)
        self.assertEqual(len(api), len(rows))
        for e, r in zip(api, rows):
            self.assertEqual((e["index"], e["actor"], e["action"], e["target_type"],
                              e["target_id"]), (r[0], r[2], r[3], r[4], r[5]))
            self.assertEqual(e["details"], json.loads(r[6]))
        # Every stored head is a prefix root and the newest is the served one.
        self.assertTrue(heads)
        for size, root, ts, sig, key_id in heads:
            self.assertEqual(bytes(root), mth(leaves[:size]), f"head of size {size}")
        self.assertEqual(heads[-1][0], sth["tree_size"])
        self.assertEqual(bytes(heads[-1][1]).hex(), sth["root_hash"])
        self.assertEqual(heads[-1][2], sth["timestamp_ms"])
        return sth, leaves, heads

    def test_recompute_tree_from_rows(self):
        sth, leaves, _ = self.check_tenant(None if False else self.s.token, self.tenant)
        self.assertGreaterEqual(len(leaves), 15)
        self.check_tenant(self.other_token, self.other_tenant)

    def test_signature_with_openssl(self):
        s = self.s
        pk = s.ok("GET", "/api/v1/audit/public-key")
        raw = base64.b64decode(pk["public_key"])
        self.assertEqual(len(raw), 32)
        # The PEM is an Ed25519 SubjectPublicKeyInfo holding the same 32 bytes.
        der = base64.b64decode("".join(l for l in pk["public_key_pem"].splitlines()
                                       if l and not l.startswith("-----")))
        self.assertEqual(der[:12], bytes.fromhex("302a300506032b6570032100"))
        self.assertEqual(der[12:], raw)
        for token, tenant in ((s.token, self.tenant), (self.other_token, self.other_tenant)):
            sth = s.sth(token=token)
            self.assertEqual(sth["key_id"], pk["key_id"])
            sig = base64.b64decode(sth["signature"])
            self.assertEqual(len(sig), 64)
            msg = head_message(tenant, sth["tree_size"], sth["root_hash"], sth["timestamp_ms"])
            ok, out = openssl_verify(pk["public_key_pem"], msg, sig)
            self.assertTrue(ok, f"openssl rejected the STH signature: {out}")
            # A different message must not verify.
            bad = head_message(tenant, sth["tree_size"] + 1, sth["root_hash"], sth["timestamp_ms"])
            ok, _ = openssl_verify(pk["public_key_pem"], bad, sig)
            self.assertFalse(ok, "openssl accepted a signature over a different tree size")
        # Every stored head of the system tenant verifies too (bounded: at most 40 heads).
        _, heads = read_rows(s.db_path, self.tenant)
        for size, root, ts, sig, key_id in heads[-40:]:
            ok, out = openssl_verify(pk["public_key_pem"],
                                     head_message(self.tenant, size, bytes(root).hex(), ts),
                                     bytes(sig))
            self.assertTrue(ok, f"stored head {size}: {out}")
            self.assertEqual(key_id, pk["key_id"])

    def test_inclusion_proofs(self):
        s = self.s
        sth, leaves, _ = self.check_tenant(s.token, self.tenant)
        n = sth["tree_size"]
        sizes = sorted({x for x in (1, 2, 3, 4, 5, 7, 8, 9, 13, 16, n - 1, n) if 1 <= x <= n})
        checked = 0
        for size in sizes:
            root = mth(leaves[:size])
            for i in range(size):
                r = s.ok("GET", f"/api/v1/audit/proof/inclusion?index={i}&tree_size={size}")
                path = [bytes.fromhex(h) for h in r["audit_path"]]
                self.assertEqual(r["leaf_hash"], leaves[i].hex(), (i, size))
                self.assertEqual(r["root_hash"], root.hex(), (i, size))
                self.assertEqual(path, audit_path(i, leaves[:size]), (i, size))
                self.assertTrue(verify_inclusion(leaves[i], i, size, path, root), (i, size))
                checked += 1
        self.assertGreater(checked, 50)

    def test_consistency_proofs(self):
        s = self.s
        sth, leaves, _ = self.check_tenant(s.token, self.tenant)
        n = sth["tree_size"]
        pairs = [(1, 1), (1, 2), (1, n), (2, n), (3, 7), (4, 8), (5, 8), (6, 13), (7, 8),
                 (8, 16), (9, n), (n - 1, n), (n, n), (3, 4), (2, 3)]
        for first, second in pairs:
            if not (1 <= first <= second <= n):
                continue
            with self.subTest(first=first, second=second):
                r = s.ok("GET", f"/api/v1/audit/proof/consistency?first={first}&second={second}")
                proof = [bytes.fromhex(h) for h in r["consistency"]]
                r1, r2 = mth(leaves[:first]), mth(leaves[:second])
                self.assertEqual(r["first_root_hash"], r1.hex())
                self.assertEqual(r["second_root_hash"], r2.hex())
                self.assertEqual(proof, consistency_proof(first, leaves[:second]))
                self.assertTrue(verify_consistency(first, second, r1, r2, proof))

    def test_cli_verify_untouched(self):
        cp = self.s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertIn(f"tenant {self.tenant}: ok", cp.stdout)
        self.assertIn(f"tenant {self.other_tenant}: ok", cp.stdout)
        cp = self.s.cli("audit", "verify", "--tenant", self.other_tenant)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        r = self.s.request("POST", "/api/v1/audit/verify")
        self.assertEqual(r.status, 200, r)
        self.assertTrue(r.body["ok"])

    def test_signing_key_file_mode(self):
        st = os.stat(os.path.join(self.s.data_dir, "audit_ed25519.pem"))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

    def test_concurrent_mutations_keep_one_chain(self):
        import threading
        s = self.s
        errors = []
        tokens = [s.token, self.other_token]

        def work(k):
            try:
                for i in range(15):
                    s.create_user(f"conc-{k}-{i}-{uuid.uuid4().hex[:4]}", ["ops"],
                                  token=tokens[k % 2])
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertFalse([t for t in threads if t.is_alive()])
        self.assertFalse(errors, errors)
        self.check_tenant(s.token, self.tenant)
        self.check_tenant(self.other_token, self.other_tenant)
        self.assertEqual(s.cli("audit", "verify").returncode, 0)

    def test_failed_mutation_adds_no_entry(self):
        s = self.s
        name = "dup-" + uuid.uuid4().hex[:6]
        s.create_user(name, ["ops"])
        size = s.tree_size()
        rows_before = len(read_rows(s.db_path, self.tenant)[0])
        for method, path, body, status in [
                ("POST", "/api/v1/users", {"name": name, "roles": ["ops"]}, 409),
                ("POST", "/api/v1/users", {"name": "x", "roles": ["nope"]}, 400),
                ("DELETE", "/api/v1/users/usr_missing", None, 404),
                ("PATCH", "/api/v1/users/usr_missing", {"name": "y"}, 404),
                ("DELETE", "/api/v1/tokens/tok_missing", None, 404),
                ("POST", "/api/v1/tokens", {"name": "t", "roles": ["admin"],
                                            "user_id": "usr_missing"}, 400)]:
            with self.subTest(method=method, path=path):
                r = s.request(method, path, body)
                problem_ok(self, r, status)
                self.assertEqual(s.tree_size(), size)
        self.assertEqual(len(read_rows(s.db_path, self.tenant)[0]), rows_before)
        self.assertEqual(s.cli("audit", "verify").returncode, 0)


class CliEntriesVisibleTest(unittest.TestCase):
    def test_cli_written_entries_reach_the_api(self):
        # `sira token create` on the data dir of a running server appends to the audit log; the
        # server's audit API must show that entry (and a head covering it) within its
        # re-verification period, not only after some unrelated write.
        with Sira(env={"SIRA_AUDIT_VERIFY_INTERVAL_SECONDS": "1"}) as s:
            size = s.tree_size()
            cp = s.cli("token", "create", "--name", "from-cli", "--roles", "admin")
            self.assertEqual(cp.returncode, 0, cp.stderr)
            tid = [t for t in s.list_all("/api/v1/tokens") if t["name"] == "from-cli"][0]["id"]
            rows, _ = read_rows(s.db_path, system_tenant_id(s))
            self.assertEqual(len(rows), size + 1)
            self.assertEqual(s.cli("audit", "verify").returncode, 0)
            poll(lambda: s.audit_entries(query=f"target={tid}"), timeout=10, interval=0.3,
                 what="the CLI's token.create entry in GET /api/v1/audit/entries")
            self.assertEqual(s.tree_size(), size + 1)


# ---------------------------------------------------------------------------------------------
# Tampering


class TamperTest(unittest.TestCase):
    ENV = {"SIRA_AUDIT_VERIFY_INTERVAL_SECONDS": "1"}

    def setUp(self):
        self.s = Sira(env=self.ENV)
        self.addCleanup(self.s.close)
        self.s.start()
        self.tenant = system_tenant_id(self.s)
        # A second tenant, untouched by the tampering, keeps working throughout.
        other = self.s.ok("POST", "/api/v1/tenants", {"name": "bystander"}, expect=201)
        self.other_token = other["admin_token"]["token"]
        populate(self.s, 3)
        self.size = self.s.tree_size()
        self.assertGreaterEqual(self.size, 8)
        cp = self.s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)

    def db_user_count(self):
        con = sqlite3.connect(f"file:{self.s.db_path}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute("SELECT COUNT(*) FROM users").fetchone()[0]
        finally:
            con.close()

    def db_entry_count(self):
        return len(read_rows(self.s.db_path, self.tenant)[0])

    def detected(self, expected_index, reason_hint=None):
        s = self.s
        # Offline verification names the tenant and the first bad index.
        cp = s.cli("audit", "verify")
        self.assertNotEqual(cp.returncode, 0, cp.stdout)
        self.assertIn(f"tenant {self.tenant}: FAILED at index {expected_index}:", cp.stdout,
                      cp.stdout + cp.stderr)
        if reason_hint:
            self.assertIn(reason_hint, cp.stdout)
        cp = s.cli("audit", "verify", "--tenant", self.tenant)
        self.assertEqual(cp.returncode, 1, cp.stdout)

        # The running server notices by itself within a bounded time.
        poll(lambda: (s.metric_value("audit_chain_integrity_failed_total") or 0) >= 1,
             timeout=10, interval=0.2, what="audit_chain_integrity_failed_total >= 1")
        poll(lambda: s.request("GET", "/readyz", token=None).status == 503, timeout=10,
             interval=0.2, what="/readyz 503")
        r = s.request("GET", "/readyz", token=None)
        self.assertEqual(r.body["status"], "not ready")
        self.assertFalse(r.body["checks"]["audit"]["ok"])
        self.assertIn(self.tenant, r.body["checks"]["audit"]["detail"])
        self.assertEqual(s.metric_value("sira_audit_frozen", {"tenant": self.tenant}), 1.0)
        st = s.ok("GET", "/api/v1/audit/status")
        self.assertTrue(st["frozen"])
        self.assertEqual(st["failure"]["first_bad_index"], expected_index, st)

        # Mutations of the frozen tenant are refused and change nothing.
        users_before = self.db_user_count()
        entries_before = self.db_entry_count()
        api_users_before = len(s.list_all("/api/v1/users"))
        for method, path, body in [
                ("POST", "/api/v1/users", {"name": "while-frozen", "roles": ["ops"]}),
                ("POST", "/api/v1/tokens", {"name": "while-frozen", "roles": ["admin"]})]:
            r = s.request(method, path, body)
            problem_ok(self, r, 503, "audit-frozen")
        self.assertEqual(self.db_user_count(), users_before)
        self.assertEqual(self.db_entry_count(), entries_before)
        self.assertEqual(len(s.list_all("/api/v1/users")), api_users_before)
        # Reads still work, and the untouched tenant still mutates.
        self.assertEqual(s.request("GET", "/api/v1/audit/entries").status, 200)
        s.create_user("bystander-user", ["ops"], token=self.other_token)

    def acknowledged(self, expected_index):
        s = self.s
        note = "investigated tamper " + uuid.uuid4().hex[:6]
        r = s.request("POST", "/api/v1/audit/acknowledge", {"note": note})
        self.assertEqual(r.status, 200, r)
        poll(lambda: s.request("GET", "/readyz", token=None).status == 200, timeout=10,
             interval=0.2, what="/readyz 200 after acknowledge")
        self.assertFalse(s.ok("GET", "/api/v1/audit/status")["frozen"])
        self.assertEqual(s.metric_value("sira_audit_frozen", {"tenant": self.tenant}), 0.0)
        u = s.create_user("after-ack", ["ops"])
        self.assertEqual(s.ok("GET", f"/api/v1/users/{u['id']}")["name"], "after-ack")
        cp = s.cli("audit", "verify")
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        acks = s.audit_entries(query="action=audit.integrity_acknowledged")
        self.assertEqual(len(acks), 1, acks)
        self.assertEqual(acks[0]["details"].get("first_bad_index"), expected_index, acks[0])
        self.assertEqual(acks[0]["details"].get("note"), note)
        # Stays healthy across further background verifications (the loop runs every second).
        marker = s.metric_value("audit_chain_integrity_failed_total")
        s.create_user("after-ack-2", ["ops"])
        self.assertEqual(s.request("POST", "/api/v1/audit/verify").status, 200)
        self.assertEqual(s.request("GET", "/readyz", token=None).status, 200)
        self.assertEqual(s.metric_value("audit_chain_integrity_failed_total"), marker)
        # The re-anchored log is consistent with an independent recomputation.
        rows, _ = read_rows(s.db_path, self.tenant)
        leaves = [row_leaf(self.tenant, r) for r in rows]
        self.assertEqual([r[0] for r in rows], list(range(len(rows))))
        self.assertEqual(mth(leaves).hex(), s.sth()["root_hash"])

    def test_update_details(self):
        sqlite_cli(self.s.db_path,
                   "UPDATE audit_entries SET details = '{\"tampered\":true}' "
                   f"WHERE tenant_id = '{self.tenant}' AND idx = 2;")
        self.detected(2, "altered")
        self.acknowledged(2)

    def test_delete_entry(self):
        sqlite_cli(self.s.db_path,
                   f"DELETE FROM audit_entries WHERE tenant_id = '{self.tenant}' AND idx = 1;")
        self.detected(1)
        self.acknowledged(1)
        # The hole is filled with a tombstone.
        e = self.s.audit_entries(query="target_type=audit_entry")
        self.assertEqual([x["index"] for x in e], [1])

    def test_insert_extra_entry(self):
        rows, _ = read_rows(self.s.db_path, self.tenant)
        idx = rows[-1][0] + 1
        self.assertEqual(idx, self.size)
        time_ms = rows[-1][1] + 1
        fields = ("tok_forged", "user.create", "user", "usr_forged", '{"name":"forged"}')
        leaf = leaf_hash(canonical(self.tenant, idx, time_ms, *fields))
        sqlite_cli(self.s.db_path,
                   "INSERT INTO audit_entries (tenant_id, idx, time_ms, actor, action, "
                   "target_type, target_id, details, leaf_hash) VALUES "
                   f"('{self.tenant}', {idx}, {time_ms}, '{fields[0]}', '{fields[1]}', "
                   f"'{fields[2]}', '{fields[3]}', '{fields[4]}', X'{leaf.hex()}');")
        self.detected(idx)
        self.acknowledged(idx)

    def test_swap_entries(self):
        t = self.tenant
        sqlite_cli(self.s.db_path,
                   "BEGIN;"
                   f"UPDATE audit_entries SET idx = -1 WHERE tenant_id = '{t}' AND idx = 1;"
                   f"UPDATE audit_entries SET idx = 1 WHERE tenant_id = '{t}' AND idx = 2;"
                   f"UPDATE audit_entries SET idx = 2 WHERE tenant_id = '{t}' AND idx = -1;"
                   "COMMIT;")
        self.detected(1)
        self.acknowledged(1)

    def test_rewrite_entry_and_its_hash(self):
        # Consistent rewrite (new details + matching leaf hash): only the signed heads catch it.
        # Every mutation signed its own head, so the first bad index is exact.
        rows, heads = read_rows(self.s.db_path, self.tenant)
        sizes = [h[0] for h in heads]
        victim = self.size - 3
        self.assertIn(victim, sizes)
        self.assertIn(victim + 1, sizes)
        r = rows[victim]
        details = '{"rewritten":true}'
        leaf = leaf_hash(canonical(self.tenant, r[0], r[1], r[2], r[3], r[4], r[5], details))
        sqlite_cli(self.s.db_path,
                   f"UPDATE audit_entries SET details = '{details}', leaf_hash = X'{leaf.hex()}' "
                   f"WHERE tenant_id = '{self.tenant}' AND idx = {victim};")
        self.detected(victim)
        self.acknowledged(victim)

    def test_truncate_tail(self):
        last = self.size - 1
        sqlite_cli(self.s.db_path,
                   f"DELETE FROM audit_entries WHERE tenant_id = '{self.tenant}' AND idx = {last};")
        self.detected(last)
        self.acknowledged(last)

    def test_truncate_tail_with_its_heads(self):
        # Rolling the log back to an older, validly signed prefix cannot be seen offline, but the
        # running server knows what it committed.
        last = self.size - 1
        sqlite_cli(self.s.db_path,
                   f"DELETE FROM audit_entries WHERE tenant_id = '{self.tenant}' AND idx = {last};"
                   f"DELETE FROM audit_heads WHERE tenant_id = '{self.tenant}' "
                   f"AND tree_size = {self.size};")
        s = self.s
        poll(lambda: s.request("GET", "/readyz", token=None).status == 503, timeout=10,
             interval=0.2, what="/readyz 503 after a rollback to an older head")
        self.assertGreaterEqual(s.metric_value("audit_chain_integrity_failed_total") or 0, 1)
        problem_ok(self, s.request("POST", "/api/v1/users", {"name": "x", "roles": ["ops"]}),
                   503, "audit-frozen")
        self.assertEqual(s.ok("GET", "/api/v1/audit/status")["failure"]["first_bad_index"], last)
        self.acknowledged(last)

    def wipe_bystander_log(self):
        # Deleting every entry and every head of one tenant must not pass as "nothing to check":
        # the tenant exists (tenants table) and its log had entries.
        s = self.s
        victim = s.ok("GET", "/api/v1/tenants", token=self.other_token)["items"][0]["id"]
        self.assertGreater(s.tree_size(token=self.other_token), 0)
        sqlite_cli(s.db_path,
                   f"DELETE FROM audit_entries WHERE tenant_id = '{victim}';"
                   f"DELETE FROM audit_heads WHERE tenant_id = '{victim}';")
        return victim

    def test_wipe_whole_tenant_log_offline(self):
        victim = self.wipe_bystander_log()
        cp = self.s.cli("audit", "verify")
        self.assertNotEqual(cp.returncode, 0,
                            "`sira audit verify` passes with a tenant's whole audit log deleted:\n"
                            + cp.stdout)
        self.assertIn(f"tenant {victim}: FAILED at index 0:", cp.stdout)

    def test_wipe_whole_tenant_log_online(self):
        s = self.s
        self.wipe_bystander_log()
        # No request touches the victim: the background verification alone must notice.
        poll(lambda: s.request("GET", "/readyz", token=None).status == 503, timeout=10,
             interval=0.2, what="/readyz 503 after a tenant's whole audit log was deleted")
        self.assertGreaterEqual(s.metric_value("audit_chain_integrity_failed_total") or 0, 1)
        problem_ok(self, s.request("POST", "/api/v1/users", {"name": "x", "roles": ["ops"]},
                                   token=self.other_token), 503, "audit-frozen")

    def test_tamper_while_stopped_detected_at_start(self):
        s = self.s
        self.assertEqual(s.stop(), 0)
        sqlite_cli(s.db_path, "UPDATE audit_entries SET actor = 'tok_mallory' "
                              f"WHERE tenant_id = '{self.tenant}' AND idx = 3;")
        s.env = {}  # no background loop: detection must come from the start-up verification
        s.start()
        r = s.request("GET", "/readyz", token=None)
        self.assertEqual(r.status, 503, r)
        self.assertGreaterEqual(s.metric_value("audit_chain_integrity_failed_total") or 0, 1)
        problem_ok(self, s.request("POST", "/api/v1/users", {"name": "x", "roles": ["ops"]}),
                   503, "audit-frozen")
        self.assertEqual(s.ok("GET", "/api/v1/audit/status")["failure"]["first_bad_index"], 3)
        self.acknowledged(3)


if __name__ == "__main__":
    unittest.main()
