"""Notification templates end to end: the real sira binary reads an alertmanager.yml with a
`templates:` file and templated receivers, and a local HTTP sink receives what it renders: a
webhook `body_template` body with its content type, and a Slack message built from a {{ define }}
of the templates file. `sira alerts check-config` refuses a template that does not parse, naming
the configuration path and the position."""
import http.server
import json
import os
import shutil
import subprocess
import tempfile
import threading
import unittest

from harness import Sira, poll

TEMPLATES = """\
{{/* team templates */}}
{{ define "team.title" }}{{ .Status | toUpper }} {{ .CommonLabels.alertname }}{{ end }}
{{ define "team.text" -}}
{{ range .Alerts }}{{ .Annotations.summary }} on {{ .Labels.instance }}
{{ end }}
{{- end }}
"""


class Sink:
    """Records every POST: (path, content type, raw body); answers 200."""

    def __init__(self):
        self.posts = []
        self.lock = threading.Lock()
        sink = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n).decode("utf-8")
                with sink.lock:
                    sink.posts.append((self.path, self.headers.get("Content-Type"), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = "http://127.0.0.1:%d" % self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def at(self, path):
        with self.lock:
            return [p for p in self.posts if p[0] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class AlertTemplatesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="sira-tmpl-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.sink = Sink()
        self.addCleanup(self.sink.close)
        os.makedirs(os.path.join(self.tmp, "templates"))
        with open(os.path.join(self.tmp, "templates", "team.tmpl"), "w") as f:
            f.write(TEMPLATES)
        # An absolute glob: `sira serve` parses the file without its directory today (relative
        # globs are resolved against the working directory; see docs/alerts.md).
        self.am = os.path.join(self.tmp, "alertmanager.yml")
        with open(self.am, "w") as f:
            f.write(f"""
templates: ['{self.tmp}/templates/*.tmpl']
route:
  receiver: team
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: team
    webhook_configs:
      - url: {self.sink.base}/hook
        content_type: text/plain; charset=utf-8
        body_template: >-
          alert={{{{ .CommonLabels.alertname }}}} status={{{{ .Status }}}}
          n={{{{ len .Alerts }}}}{{{{ range .Alerts }}}}
          [{{{{ .Labels.instance }}}}: {{{{ .Annotations.summary }}}}]{{{{ end }}}}
    slack_configs:
      - api_url: {self.sink.base}/slack
        channel: '#ops'
        title: '{{{{ template "team.title" . }}}}'
        text: '{{{{ template "team.text" . }}}}'
""")

    def check_config(self, path):
        return subprocess.run([os.environ["SIRA_BIN"], "alerts", "check-config", path],
                              capture_output=True, text=True, timeout=30)

    def test_body_template_and_templates_file_render(self):
        self.assertEqual(self.check_config(self.am).returncode, 0)
        s = Sira(env={"SIRA_ALERTS_CONFIG_FILE": self.am})
        s.start()
        self.addCleanup(s.close)
        r = s.request("POST", "/api/v2/alerts", body=[
            {"labels": {"alertname": "TemplDisk", "instance": "db1"},
             "annotations": {"summary": "disk full"}},
            {"labels": {"alertname": "TemplDisk", "instance": "db2"},
             "annotations": {"summary": "disk slow"}}])
        self.assertEqual(r.status, 200, r)
        hook = poll(lambda: self.sink.at("/hook"), timeout=20, what="templated webhook body")
        path, ctype, body = hook[0]
        self.assertEqual(ctype, "text/plain; charset=utf-8")
        # The folded YAML scalar joins the lines with spaces; alerts come in fingerprint order.
        self.assertTrue(body.startswith("alert=TemplDisk status=firing n=2 ["), body)
        self.assertIn("[db1: disk full]", body)
        self.assertIn("[db2: disk slow]", body)
        slack = poll(lambda: self.sink.at("/slack"), timeout=20, what="Slack message")
        self.assertEqual(slack[0][1], "application/json")
        msg = json.loads(slack[0][2])
        self.assertEqual(msg["channel"], "#ops")
        self.assertEqual(msg["username"], "sira")  # Alertmanager's default template, rendered
        att = msg["attachments"][0]
        self.assertEqual(att["title"], "FIRING TemplDisk")
        self.assertEqual(sorted(att["text"].splitlines(keepends=True)),
                         ["disk full on db1\n", "disk slow on db2\n"])
        self.assertEqual(att["color"], "danger")
        log = s.ok("GET", "/api/v1/notifications?receiver=team")["items"]
        self.assertEqual(sorted(n["kind"] for n in log), ["slack", "webhook"])
        poll(lambda: all(n["status"] == "sent"
                         for n in s.ok("GET", "/api/v1/notifications?receiver=team")["items"]),
             timeout=20, what="notifications marked sent")

    def test_check_config_refuses_a_template_that_does_not_parse(self):
        with open(os.path.join(self.tmp, "templates", "broken.tmpl"), "w") as f:
            f.write('{{ define "x" }}\n{{ if }}{{ end }}{{ end }}\n')
        cp = self.check_config(self.am)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn("templates[0]: template: %s/templates/broken.tmpl:2:7: missing value for if"
                      % self.tmp, cp.stderr)
        os.unlink(os.path.join(self.tmp, "templates", "broken.tmpl"))
        with open(self.am) as f:
            text = f.read()
        with open(self.am, "w") as f:
            f.write(text.replace('{{ template "team.title" . }}', '{{ .Status | nope }}'))
        cp = self.check_config(self.am)
        self.assertNotEqual(cp.returncode, 0)
        self.assertIn('receivers[0].slack_configs[0].title: template: title:1:14: function "nope" '
                      'not defined', cp.stderr)
        # sira serve refuses to start on it.
        s = Sira(env={"SIRA_ALERTS_CONFIG_FILE": self.am}, start_timeout=10)
        self.addCleanup(s.close)
        with self.assertRaises(Exception):
            s.start()


if __name__ == "__main__":
    unittest.main()
