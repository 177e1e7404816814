"""Test harness: runs the real `sira` binary on an ephemeral loopback port with a temp data dir.

Only the Python standard library is used. Every wait is bounded. The binary comes from the
SIRA_BIN environment variable (set by ctest).
"""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

SIRA_BIN = os.environ.get("SIRA_BIN", "")

_LISTEN_RE = re.compile(r"listening on http://127\.0\.0\.1:(\d+)")

# Sentinel: use the harness's admin token.
ADMIN = object()


def require_binary():
    if not SIRA_BIN or not os.access(SIRA_BIN, os.X_OK):
        raise unittest.SkipTest("SIRA_BIN is not set to an executable sira binary")


def run_cli(*args, timeout=60, env=None, check=False):
    """Runs `sira ARGS...`; returns a CompletedProcess with text stdout/stderr."""
    require_binary()
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    cp = subprocess.run([SIRA_BIN, *[str(a) for a in args]], capture_output=True, text=True,
                        timeout=timeout, env=full_env)
    if check and cp.returncode != 0:
        raise AssertionError(f"sira {' '.join(map(str, args))} exited {cp.returncode}\n"
                             f"stdout: {cp.stdout}\nstderr: {cp.stderr}")
    return cp


def last_line(text):
    lines = [l for l in text.splitlines() if l.strip()]
    return lines[-1].strip() if lines else ""


def poll(fn, timeout=10.0, interval=0.1, what="condition"):
    """Calls fn() until it returns a truthy value; returns it, or raises AssertionError."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")
        time.sleep(interval)


class Response:
    """A decoded HTTP response: status, headers (case-insensitive), body (json, text or None)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        self.content_type = ctype
        self.body = None
        if raw:
            if ctype.endswith("json"):
                try:
                    self.body = json.loads(raw.decode("utf-8"))
                except (ValueError, UnicodeDecodeError):
                    self.body = raw.decode("utf-8", "replace")
            else:
                self.body = raw.decode("utf-8", "replace")

    def __iter__(self):  # allows `status, headers, body = s.request(...)`
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        return f"<Response {self.status} {self.content_type} {self.raw[:300]!r}>"


class Sira:
    """One sira server process on its own temporary data directory.

    Use as a context manager, or call start()/close() yourself. `env` is added to the server's
    environment (e.g. {"SIRA_AUDIT_VERIFY_INTERVAL_SECONDS": "1"}).
    """

    def __init__(self, env=None, data_dir=None, init=True, config=None, log_format=None,
                 extra_args=(), start_timeout=20.0):
        require_binary()
        self.root = tempfile.mkdtemp(prefix="sira-it-")
        self.data_dir = data_dir or os.path.join(self.root, "data")
        self.env = dict(env or {})
        self.init = init
        self.config = config
        self.log_format = log_format
        self.extra_args = list(extra_args)
        self.start_timeout = start_timeout
        self.token = None
        self.port = None
        self.proc = None
        self.stdout_lines = []
        self.stderr_path = None
        self._stderr_file = None
        self._reader = None
        self._serial = 0

    # ---- process control ----

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def init_data(self):
        cp = run_cli("init", "--data", self.data_dir, check=True)
        self.token = last_line(cp.stdout)
        assert self.token.startswith("sira_"), cp.stdout
        return self.token

    def serve_command(self):
        cmd = [SIRA_BIN, "serve", "--data", self.data_dir, "--listen", "127.0.0.1:0"]
        if self.config:
            cmd += ["--config", self.config]
        if self.log_format:
            cmd += ["--log-format", self.log_format]
        return cmd + self.extra_args

    def start(self):
        if self.init and self.token is None and not os.path.exists(
                os.path.join(self.data_dir, "sira.db")):
            self.init_data()
        env = dict(os.environ)
        env.update(self.env)
        self._serial += 1
        self.stderr_path = os.path.join(self.root, f"serve-{self._serial}.stderr")
        self._stderr_file = open(self.stderr_path, "wb")
        self.stdout_lines = []
        self.proc = subprocess.Popen(self.serve_command(), stdout=subprocess.PIPE,
                                     stderr=self._stderr_file, env=env)
        port_found = threading.Event()

        def reader(proc=self.proc, lines=self.stdout_lines):
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace").rstrip("\n")
                lines.append(line)
                m = _LISTEN_RE.search(line)
                if m and not port_found.is_set():
                    self.port = int(m.group(1))
                    port_found.set()
            port_found.set()  # EOF: the process exited

        self.port = None
        self._reader = threading.Thread(target=reader, daemon=True)
        self._reader.start()
        if not port_found.wait(self.start_timeout) or self.port is None:
            rc = self.proc.poll()
            self.kill()
            raise AssertionError(f"sira serve did not report its port (rc={rc})\n"
                                 f"stdout: {self.stdout_lines}\nstderr: {self.stderr_text()}")
        # A server that initialised the data dir itself prints the token on the line before.
        for i, line in enumerate(self.stdout_lines):
            if "admin token" in line and i + 1 < len(self.stdout_lines):
                self.token = self.stdout_lines[i + 1].strip()
        poll(lambda: self._healthy(), timeout=self.start_timeout, what="/healthz")
        return self

    def _healthy(self):
        try:
            return self.request("GET", "/healthz", token=None, timeout=2).status == 200
        except OSError:
            return False

    def stop(self, timeout=20.0):
        """SIGTERM, then wait (bounded). Returns the exit code; kills -9 after the timeout."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"sira did not exit within {timeout}s of SIGTERM")
        self._finish()
        return rc

    def kill(self):
        """SIGKILL and reap."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.kill()
        try:
            rc = self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        self._finish()
        return rc

    def _finish(self):
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None
        if self.proc is not None and self.proc.stdout is not None:
            self.proc.stdout.close()
        if self._stderr_file is not None:
            self._stderr_file.close()
            self._stderr_file = None

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        try:
            if self.running():
                try:
                    self.stop(timeout=15)
                except AssertionError:
                    pass
            else:
                self._finish()
        finally:
            if not os.environ.get("SIRA_IT_KEEP"):
                shutil.rmtree(self.root, ignore_errors=True)

    def stderr_text(self):
        if self._stderr_file is not None:
            self._stderr_file.flush()
        try:
            with open(self.stderr_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, TypeError):
            return ""

    @property
    def db_path(self):
        return os.path.join(self.data_dir, "sira.db")

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    # ---- HTTP ----

    def request(self, method, path, body=None, token=ADMIN, headers=None, raw=None,
                content_type="application/json", timeout=30):
        """Sends one request on a fresh connection. `body` is JSON-encoded; `raw` is sent as-is.

        Returns a Response (unpackable as status, headers, body)."""
        hdrs = {}
        if token is ADMIN:
            token = self.token
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        data = None
        if raw is not None:
            data = raw if isinstance(raw, bytes) else raw.encode("utf-8")
        elif body is not None:
            data = json.dumps(body).encode("utf-8")
        if data is not None and content_type is not None:
            hdrs["Content-Type"] = content_type
        if headers:
            hdrs.update(headers)
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            payload = resp.read()
            return Response(resp.status, resp.headers, payload)
        finally:
            conn.close()

    # ---- conveniences ----

    def ok(self, method, path, body=None, token=ADMIN, expect=(200, 201, 204), **kw):
        r = self.request(method, path, body=body, token=token, **kw)
        if isinstance(expect, int):
            expect = (expect,)
        if r.status not in expect:
            raise AssertionError(f"{method} {path} -> {r.status}, expected {expect}: {r.raw!r}")
        return r.body

    def create_user(self, name, roles=("admin",), email="", token=ADMIN):
        return self.ok("POST", "/api/v1/users", {"name": name, "email": email,
                                                 "roles": list(roles)}, token=token, expect=201)

    def create_token(self, name, roles, token=ADMIN, **extra):
        body = {"name": name, "roles": list(roles)}
        body.update(extra)
        return self.ok("POST", "/api/v1/tokens", body, token=token, expect=201)

    def list_all(self, path, token=ADMIN, limit=100, max_pages=200):
        """Follows next_cursor; returns every item (bounded number of pages)."""
        items = []
        cursor = None
        sep = "&" if "?" in path else "?"
        for _ in range(max_pages):
            url = f"{path}{sep}limit={limit}"
            if cursor:
                url += "&cursor=" + cursor
            page = self.ok("GET", url, token=token, expect=200)
            items.extend(page["items"])
            cursor = page.get("next_cursor")
            if not cursor:
                return items
        raise AssertionError(f"more than {max_pages} pages at {path}")

    def sth(self, token=ADMIN):
        r = self.request("GET", "/api/v1/audit/sth", token=token)
        if r.status == 404:
            return None
        if r.status != 200:
            raise AssertionError(f"GET /api/v1/audit/sth -> {r.status}: {r.raw!r}")
        return r.body

    def tree_size(self, token=ADMIN):
        head = self.sth(token)
        return 0 if head is None else head["tree_size"]

    def audit_entries(self, token=ADMIN, query=""):
        path = "/api/v1/audit/entries" + (("?" + query) if query else "")
        return self.list_all(path, token=token, limit=500)

    def metrics(self):
        r = self.request("GET", "/metrics", token=None)
        if r.status != 200:
            raise AssertionError(f"/metrics -> {r.status}")
        return r.body

    def metric_value(self, name, labels=None):
        """Sum of the samples of `name` whose labels include `labels` (None when absent)."""
        return metric_value(self.metrics(), name, labels)

    def cli(self, *args, **kw):
        """Runs `sira ARGS... --data DIR` against this server's data directory."""
        return run_cli(*args, "--data", self.data_dir, **kw)


_SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)')
_LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    """Prometheus text format -> list of (name, {labels}, float)."""
    out = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            continue
        labels = dict(_LABEL_RE.findall(m.group(3) or ""))
        try:
            value = float(m.group(4))
        except ValueError:
            continue
        out.append((m.group(1), labels, value))
    return out


def metric_value(text, name, labels=None):
    total = None
    for n, l, v in parse_metrics(text):
        if n != name:
            continue
        if labels and any(l.get(k) != val for k, val in labels.items()):
            continue
        total = (total or 0.0) + v
    return total


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def problem_ok(test, resp, status, slug=None):
    """Asserts an RFC 9457 problem response with the given status (and slug)."""
    test.assertEqual(resp.status, status, f"expected {status}, got {resp!r}")
    test.assertEqual(resp.content_type, "application/problem+json", repr(resp))
    test.assertIsInstance(resp.body, dict, repr(resp))
    test.assertEqual(resp.body.get("status"), status, repr(resp))
    test.assertTrue(str(resp.body.get("type", "")).startswith("https://sira.dev/problems/"),
                    repr(resp))
    test.assertTrue(resp.body.get("title"), repr(resp))
    test.assertTrue(resp.body.get("detail"), repr(resp))
    if slug is not None:
        test.assertEqual(resp.body["type"], "https://sira.dev/problems/" + slug, repr(resp))


if __name__ == "__main__":
    print("harness module; run the test_*.py files", file=sys.stderr)
