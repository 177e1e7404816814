// Go text/template subset: every construct Alertmanager templates use, the functions, trimming,
// parse errors with positions, execution errors, the built-in defaults and the bounds that stop
// hostile templates.
#include "alerts/template.h"

#include <gtest/gtest.h>

namespace sira::alerts {
namespace {

constexpr int64_t kStart = 1760000000123;  // 2025-10-09T08:53:20.123Z

TemplateData sample() {
  TemplateData d;
  d.receiver = "team x";
  d.status = "firing";
  d.external_url = "http://am.example";
  d.group_labels = {{"alertname", "DiskFull"}};
  d.common_labels = {{"alertname", "DiskFull"}, {"severity", "critical"}};
  d.common_annotations = {{"summary", "disk is full"}};
  TemplateAlert a;
  a.status = "firing";
  a.labels = {{"alertname", "DiskFull"}, {"instance", "db1"}, {"severity", "critical"}};
  a.annotations = {{"summary", "disk is full"}};
  a.starts_at_ms = kStart;
  a.generator_url = "http://prom/graph?g0.expr=up";
  a.fingerprint = "0123456789abcdef";
  TemplateAlert b = a;
  b.status = "resolved";
  b.labels["instance"] = "db2";
  b.ends_at_ms = kStart + 60000;
  b.fingerprint = "fedcba9876543210";
  d.alerts = {a, b};
  return d;
}

std::string run(std::string_view text, const TemplateSet& set = TemplateSet()) {
  auto r = set.execute("t", text, template_value(sample()));
  EXPECT_TRUE(r.has_value()) << text << " -> " << r.error().detail;
  return r ? *r : "<error>";
}

std::string error_of(std::string_view text, const TemplateLimits& limits = {}) {
  auto r = TemplateSet().execute("t", text, template_value(sample()), limits);
  EXPECT_FALSE(r.has_value()) << text << " rendered " << *r;
  return r ? "" : r.error().detail;
}

TEST(Template, FieldsNestedFieldsAndMapKeys) {
  EXPECT_EQ(run("{{ .Receiver }}/{{ .Status }}/{{ .ExternalURL }}"),
            "team x/firing/http://am.example");
  EXPECT_EQ(run("{{ .CommonLabels.alertname }} {{ .GroupLabels.alertname }}"), "DiskFull DiskFull");
  EXPECT_EQ(run("{{ .CommonAnnotations.summary }}"), "disk is full");
  EXPECT_EQ(run("{{ (index .Alerts 1).Labels.instance }}"), "db2");
  EXPECT_EQ(run("{{ index .CommonLabels \"severity\" }}"), "critical");
  // A missing label: a field lookup prints Go's "<no value>", index gives the zero value.
  EXPECT_EQ(run("[{{ .CommonLabels.nope }}][{{ index .CommonLabels \"nope\" }}]"),
            "[<no value>][]");
  EXPECT_EQ(run("{{ range .Alerts }}{{ .Fingerprint }} {{ .GeneratorURL }};{{ end }}"),
            "0123456789abcdef http://prom/graph?g0.expr=up;fedcba9876543210 "
            "http://prom/graph?g0.expr=up;");
}

TEST(Template, Pipelines) {
  EXPECT_EQ(run("{{ .Status | toUpper }}"), "FIRING");
  EXPECT_EQ(run("{{ \"a\" | printf \"%s-%s\" \"b\" }}"), "b-a");
  EXPECT_EQ(run("{{ .CommonLabels.SortedPairs.Values | join \",\" | toUpper }}"),
            "DISKFULL,CRITICAL");
  EXPECT_EQ(run("{{ (.Alerts.Firing | len) }}"), "1");
}

TEST(Template, Variables) {
  EXPECT_EQ(run("{{ $x := .Status }}{{ $x }}"), "firing");
  EXPECT_EQ(run("{{ $x := 1 }}{{ $x = 2 }}{{ $x }}"), "2");
  EXPECT_EQ(run("{{ range .Alerts }}{{ $.Receiver }}:{{ .Labels.instance }} {{ end }}"),
            "team x:db1 team x:db2 ");
  EXPECT_EQ(run("{{ $a := index .Alerts 0 }}{{ $a.Labels.instance }}"), "db1");
  EXPECT_EQ(run("{{ with $s := .Status }}{{ $s }}{{ end }}"), "firing");
}

TEST(Template, RangeWithIndexElseAndMaps) {
  EXPECT_EQ(run("{{ range $i, $a := .Alerts }}{{ $i }}={{ $a.Labels.instance }} {{ end }}"),
            "0=db1 1=db2 ");
  EXPECT_EQ(run("{{ range $a := .Alerts.Resolved }}{{ $a.Status }}{{ end }}"), "resolved");
  EXPECT_EQ(run("{{ range .Alerts.Firing }}{{ .Labels.instance }}{{ else }}none{{ end }}"), "db1");
  EXPECT_EQ(run("{{ range (stringSlice) }}x{{ else }}none{{ end }}"), "none");
  EXPECT_EQ(run("{{ range $k, $v := .CommonLabels }}{{ $k }}={{ $v }};{{ end }}"),
            "alertname=DiskFull;severity=critical;");
  EXPECT_EQ(run("{{ range stringSlice \"a\" \"b\" \"c\" \"d\" }}{{ if eq . \"b\" }}{{ continue }}"
                "{{ end }}{{ if eq . \"d\" }}{{ break }}{{ end }}{{ . }}{{ end }}"),
            "ac");
}

TEST(Template, IfElseIfElseAndWith) {
  const char* t =
      "{{ if eq .Status \"resolved\" }}R{{ else if eq .Status \"firing\" }}F{{ else }}?{{ end }}";
  EXPECT_EQ(run(t), "F");
  EXPECT_EQ(run("{{ if .CommonLabels.nope }}yes{{ else }}no{{ end }}"), "no");
  EXPECT_EQ(run("{{ if and .Alerts (not .CommonLabels.nope) }}ok{{ end }}"), "ok");
  EXPECT_EQ(run("{{ with .CommonAnnotations.summary }}<{{ . }}>{{ else }}-{{ end }}"),
            "<disk is full>");
  EXPECT_EQ(run("{{ with .CommonAnnotations.nope }}<{{ . }}>{{ else }}-{{ end }}"), "-");
  EXPECT_EQ(run("{{ with .CommonLabels.nope }}a{{ else with .Receiver }}{{ . }}{{ end }}"),
            "team x");
}

TEST(Template, DefineTemplateAndBlock) {
  EXPECT_EQ(run("{{ define \"inst\" }}<{{ .Labels.instance }}>{{ end }}"
                "{{ range .Alerts }}{{ template \"inst\" . }}{{ end }}"),
            "<db1><db2>");
  EXPECT_EQ(run("{{ define \"noarg\" }}[{{ . }}]{{ end }}{{ template \"noarg\" }}"),
            "[<no value>]");
  EXPECT_EQ(run("{{ block \"b\" .Status }}({{ . }}){{ end }}"), "(firing)");
  // $ inside a called template is its argument.
  EXPECT_EQ(run("{{ define \"d\" }}{{ $ }}{{ end }}{{ template \"d\" .Receiver }}"), "team x");
  TemplateSet set;
  ASSERT_TRUE(set.add("file.tmpl",
                      "{{ define \"slack.default.title\" }}custom {{ .Status }}"
                      "{{ end }}{{ define \"mine\" }}m{{ end }}")
                  .has_value());
  EXPECT_TRUE(set.defines("mine"));
  EXPECT_EQ(run("{{ template \"slack.default.title\" . }}/{{ template \"mine\" }}", set),
            "custom firing/m");
}

TEST(Template, CommentsAndTrimming) {
  EXPECT_EQ(run("a {{/* a comment */}} b"), "a  b");
  EXPECT_EQ(run("a {{- /* trimmed */ -}} b"), "ab");
  EXPECT_EQ(run("x  \n  {{- .Status -}}  \n  y"), "xfiringy");
  EXPECT_EQ(run("{{ range .Alerts -}}\n  {{ .Labels.instance }}\n{{- end }}"), "db1db2");
  // "{{-3}}" is the number -3, not a trim marker.
  EXPECT_EQ(run("1 {{-3}}"), "1 -3");
}

TEST(Template, Literals) {
  EXPECT_EQ(run("{{ \"a\\tb\\n\\\"q\\\"\\u00e9\\x41\" }}"),
            "a\tb\n\"q\"\xc3\xa9"
            "A");
  EXPECT_EQ(run("{{ `raw \\n` }}"), "raw \\n");
  EXPECT_EQ(run("{{ 42 }} {{ -7 }} {{ 0x1F }} {{ 1.5 }} {{ 'a' }} {{ true }} {{ false }}"),
            "42 -7 31 1.5 97 true false");
  EXPECT_EQ(run("{{ printf \"%v\" nil }}"), "<nil>");
}

TEST(Template, StringFunctions) {
  EXPECT_EQ(run("{{ toUpper \"abc\" }} {{ toLower \"ABC\" }} {{ title \"disk full-now\" }}"),
            "ABC abc Disk Full-Now");
  EXPECT_EQ(run("{{ join \", \" (stringSlice \"a\" \"b\") }}"), "a, b");
  EXPECT_EQ(run("{{ safeHtml \"<b>\" }} {{ html \"<b>&\" }}"), "<b> &lt;b&gt;&amp;");
  EXPECT_EQ(run("{{ reReplaceAll \"(db)([0-9]+)\" \"$2-$1 ${1}x $$\" \"db12 db3\" }}"),
            "12-db dbx $ 3-db dbx $");
  EXPECT_EQ(run("{{ reReplaceAll \"(?P<host>[a-z]+):\\\\d+\" \"$host\" \"web:80\" }}"), "web");
  EXPECT_EQ(run("{{ match \"^db[0-9]$\" \"db1\" }} {{ match \"^x\" \"db1\" }}"), "true false");
  EXPECT_EQ(run("{{ trimSpace \"  a b \\n\" }}|{{ urlquery \"a b&c\" }}"), "a b|a+b%26c");
  EXPECT_EQ(run("{{ len \"abc\" }} {{ len .Alerts }} {{ len .CommonLabels }}"), "3 2 2");
}

TEST(Template, Comparisons) {
  EXPECT_EQ(run("{{ eq 1 1 }} {{ eq \"a\" \"b\" \"a\" }} {{ ne .Status \"firing\" }}"),
            "true true false");
  EXPECT_EQ(run("{{ lt 1 2 }} {{ le 2 2 }} {{ gt \"b\" \"a\" }} {{ ge 1.5 2 }}"),
            "true true true false");
  EXPECT_EQ(run("{{ gt (len .Alerts.Firing) 0 }}"), "true");
  // and / or short-circuit and return an operand.
  EXPECT_EQ(run("{{ and false (index .Alerts 99) }}|{{ or \"\" \"x\" }}|{{ and 1 2 }}"),
            "false|x|2");
  EXPECT_EQ(run("{{ not 0 }} {{ not \"x\" }}"), "true false");
  EXPECT_NE(error_of("{{ eq .Alerts 1 }}").find("non-comparable"), std::string::npos);
  EXPECT_NE(error_of("{{ lt 1 \"a\" }}").find("comparison"), std::string::npos);
}

TEST(Template, Printf) {
  EXPECT_EQ(run("{{ printf \"%s|%d|%v|%q\" \"s\" 42 .Status \"q\\\"\" }}"),
            "s|42|firing|\"q\\\"\"");
  EXPECT_EQ(run("{{ printf \"[%5d][%-4s][%05d][%.2f][%x][%%]\" 42 \"ab\" -42 3.14159 255 }}"),
            "[   42][ab  ][-0042][3.14][ff][%]");
  EXPECT_EQ(run("{{ printf \"%d\" }}|{{ printf \"%d\" \"x\" }}|{{ printf \"a\" 1 }}"),
            "%!d(MISSING)|%!d(string=x)|a%!(EXTRA int=1)");
  EXPECT_EQ(run("{{ print \"a\" 1 2 \"b\" }}|{{ println 1 \"x\" }}"), "a1 2b|1 x\n");
}

TEST(Template, AlertmanagerDataModelMethods) {
  EXPECT_EQ(run("{{ len .Alerts.Firing }}/{{ len .Alerts.Resolved }}"), "1/1");
  EXPECT_EQ(run("{{ range .CommonLabels.SortedPairs }}{{ .Name }}={{ .Value }} {{ end }}"),
            "alertname=DiskFull severity=critical ");
  EXPECT_EQ(run("{{ .CommonLabels.Names | join \",\" }}|{{ .CommonLabels.Values | join \",\" }}"),
            "alertname,severity|DiskFull,critical");
  EXPECT_EQ(run("{{ .CommonLabels.SortedPairs.Names | join \",\" }}"), "alertname,severity");
  EXPECT_EQ(run("{{ (.CommonLabels.Remove .GroupLabels.Names).Values | join \",\" }}"), "critical");
  EXPECT_EQ(run("{{ with .CommonLabels.Remove (stringSlice \"severity\") }}"
                "{{ .Names | join \",\" }}{{ end }}"),
            "alertname");
  EXPECT_EQ(run("{{ (index .Alerts 0).StartsAt }}"), "2025-10-09 08:53:20.123 +0000 UTC");
  EXPECT_EQ(run("{{ (index .Alerts 0).StartsAt.Format \"2006-01-02T15:04:05Z07:00\" }}"),
            "2025-10-09T08:53:20Z");
  EXPECT_EQ(run("{{ (index .Alerts 1).EndsAt.Format \"Mon Jan _2 3:04PM 2006 .000\" }}"),
            "Thu Oct  9 8:54AM 2025 .123");
  EXPECT_EQ(run("{{ (index .Alerts 0).EndsAt.Format \"2006-01-02\" }}"), "0001-01-01");
  EXPECT_EQ(run("{{ (index .Alerts 0).StartsAt.Unix }}"), "1760000000");
}

TEST(Template, ParseErrorsNameThePosition) {
  TemplateSet set;
  auto check = [&](std::string_view text) {
    auto st = set.check("title", text);
    EXPECT_FALSE(st.has_value()) << text;
    return st ? std::string() : st.error().detail;
  };
  EXPECT_EQ(check("ab {{ .Status"), "template: title:1:4: unclosed action");
  EXPECT_EQ(check("{{ nope . }}"), "template: title:1:4: function \"nope\" not defined");
  EXPECT_EQ(check("line\n  {{ $y }}"), "template: title:2:6: undefined variable \"$y\"");
  EXPECT_EQ(check("{{ if .X }}a"), "template: title:1:13: unexpected EOF");
  EXPECT_EQ(check("{{ end }}"), "template: title:1:4: unexpected {{end}}");
  EXPECT_EQ(check("{{ \"abc }}"), "template: title:1:4: unterminated quoted string");
  EXPECT_EQ(check("{{/* open"), "template: title:1:3: unclosed comment");
  EXPECT_EQ(check("{{ template }}"), "template: title:1:13: unexpected \"}}\" in template clause");
  EXPECT_EQ(check("{{ break }}"), "template: title:1:4: {{break}} outside {{range}}");
  EXPECT_EQ(check("{{ .A | }}"), "template: title:1:9: missing value for command");
  EXPECT_EQ(check("{{ if .A }}{{ define \"x\" }}{{ end }}{{ end }}"),
            "template: title:1:15: unexpected {{define}} inside a control structure");
  // Definition files name themselves.
  auto st =
      set.add("/etc/am/x.tmpl", "{{ define \"a\" }}ok{{ end }}\n{{ define \"b\" }}{{ .A ) }}");
  ASSERT_FALSE(st.has_value());
  EXPECT_EQ(st.error().detail, "template: /etc/am/x.tmpl:2:23: unexpected \")\" in command");
  EXPECT_TRUE(set.check("title", "{{ template \"undefined.is.found.at.send.time\" . }}"));
}

TEST(Template, ExecutionErrorsAreClear) {
  EXPECT_EQ(error_of("{{ .Nope }}"), "template: t:1:4: can't evaluate field Nope in type Data");
  EXPECT_EQ(error_of("x\n{{ template \"missing\" . }}"),
            "template: t:2:4: no such template \"missing\"");
  EXPECT_EQ(error_of("{{ len 3 }}"), "template: t:1:4: error calling len: len of type int");
  EXPECT_EQ(error_of("{{ toUpper 3 }}"),
            "template: t:1:4: wrong type for value in toUpper; expected string; got int");
  EXPECT_EQ(error_of("{{ index .Alerts 5 }}"),
            "template: t:1:4: error calling index: index out of range: 5");
  EXPECT_EQ(error_of("{{ .CommonLabels.nope.deeper }}"),
            "template: t:1:4: nil data; no entry for key \"deeper\"");
  EXPECT_EQ(error_of("{{ reReplaceAll \"(\" \"\" \"x\" }}")
                .rfind("template: t:1:4: error calling reReplaceAll: error parsing regexp", 0),
            0u);
  EXPECT_EQ(error_of("{{ \"x\" 1 }}"),
            "template: t:1:4: can't give argument to non-function \"x\"");
  EXPECT_EQ(error_of("{{ .Receiver.Foo }}"),
            "template: t:1:4: can't evaluate field Foo in type string");
  EXPECT_EQ(error_of("{{ . | len }}"), "template: t:1:8: error calling len: len of type Data");
  // An error inside a called template names the file and line of the definition.
  TemplateSet set;
  ASSERT_TRUE(set.add("defs.tmpl", "{{ define \"bad\" }}\n\n  {{ .Nope }}{{ end }}").has_value());
  auto r = set.execute("t", "{{ template \"bad\" . }}", template_value(sample()));
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().detail, "template: defs.tmpl:3:6: can't evaluate field Nope in type Data");
}

TEST(Template, HostileTemplatesAreBounded) {
  // Infinite recursion through template calls.
  EXPECT_NE(error_of("{{ define \"r\" }}{{ template \"r\" . }}{{ end }}{{ template \"r\" . }}")
                .find("exceeded maximum template call depth (100)"),
            std::string::npos);
  // Exponential fan-out: the first branch reaches the depth limit.
  EXPECT_NE(error_of("{{ define \"a\" }}{{ template \"a\" . }}{{ template \"a\" . }}{{ end }}"
                     "{{ template \"a\" . }}")
                .find("maximum template call depth"),
            std::string::npos);
  // Ten million iterations writing nothing: stopped by the step budget, quickly.
  const std::string tens =
      "(stringSlice \"0\" \"1\" \"2\" \"3\" \"4\" \"5\" \"6\" \"7\" \"8\" \"9\")";
  std::string quiet;
  for (int i = 0; i < 7; ++i) quiet += "{{ range " + tens + " }}";
  for (int i = 0; i < 7; ++i) quiet += "{{ end }}";
  TemplateLimits budget;
  budget.max_steps = 100000;  // the default (1e6) takes seconds under the sanitizers
  EXPECT_NE(error_of(quiet, budget).find("execution stopped after 100000 steps"),
            std::string::npos);
  // Huge output: nested ranges that would write gigabytes stop at the output cap.
  const std::string ten =
      "(stringSlice \"0\" \"1\" \"2\" \"3\" \"4\" \"5\" \"6\" \"7\" \"8\" \"9\")";
  std::string t;
  for (int i = 0; i < 6; ++i) t += "{{ range " + ten + " }}";
  t += "{{ printf \"%1000s\" \"x\" }}";
  for (int i = 0; i < 6; ++i) t += "{{ end }}";
  EXPECT_NE(error_of(t).find("output exceeds 1048576 bytes"), std::string::npos);
  TemplateLimits small;
  small.max_output_bytes = 10;
  EXPECT_EQ(error_of("0123456789{{ .Status }}", small),
            "template: t:1:11: output exceeds 10 bytes");
  // A range over a huge integer hits the step budget.
  EXPECT_NE(error_of("{{ range 1000000000 }}{{ end }}", budget).find("steps"), std::string::npos);
}

TEST(Template, BuiltInDefaults) {
  const TemplateSet& set = *TemplateSet::defaults();
  auto named = [&](std::string_view name, const TemplateData& d = sample()) {
    auto r = set.execute_named(name, template_value(d));
    EXPECT_TRUE(r.has_value()) << name << ": " << r.error().detail;
    return r ? *r : "<error>";
  };
  EXPECT_EQ(named("__subject"), "[FIRING:1] DiskFull (critical)");
  EXPECT_EQ(named("slack.default.title"), "[FIRING:1] DiskFull (critical)");
  EXPECT_EQ(named("email.default.subject"), "[FIRING:1] DiskFull (critical)");
  EXPECT_EQ(named("pagerduty.default.description"), "[FIRING:1] DiskFull (critical)");
  EXPECT_EQ(named("slack.default.username"), "sira");
  EXPECT_EQ(named("slack.default.titlelink"), "http://am.example/#/alerts?receiver=team+x");
  EXPECT_EQ(named("slack.default.fallback"),
            "[FIRING:1] DiskFull (critical) | http://am.example/#/alerts?receiver=team+x");
  EXPECT_EQ(named("slack.default.text"), "");
  TemplateData resolved = sample();
  resolved.status = "resolved";
  resolved.common_labels = resolved.group_labels;
  EXPECT_EQ(named("__subject", resolved), "[RESOLVED] DiskFull");
  auto r = set.execute("t", "{{ template \"__text_alert_list\" .Alerts.Firing }}",
                       template_value(sample()));
  ASSERT_TRUE(r.has_value()) << r.error().detail;
  EXPECT_EQ(*r,
            "Labels:\n - alertname = DiskFull\n - instance = db1\n - severity = critical\n"
            "Annotations:\n - summary = disk is full\nSource: http://prom/graph?g0.expr=up\n");
  const std::string text = named("email.default.text");
  EXPECT_EQ(text.rfind("[FIRING:1] DiskFull (critical)\n\nFiring:\nLabels:\n", 0), 0u) << text;
  EXPECT_NE(text.find("Resolved:\nLabels:\n - alertname = DiskFull\n - instance = db2"),
            std::string::npos)
      << text;
  TemplateData html = sample();
  html.alerts[0].annotations["summary"] = "<script>x</script>";
  const std::string page = named("email.default.html", html);
  EXPECT_NE(page.find("<li>instance = db1</li>"), std::string::npos) << page;
  EXPECT_NE(page.find("&lt;script&gt;x&lt;/script&gt;"), std::string::npos) << page;
  EXPECT_EQ(page.find("<script>"), std::string::npos);
  EXPECT_NE(page.find("[1] Firing"), std::string::npos);
  EXPECT_NE(page.find("[1] Resolved"), std::string::npos);
}

}  // namespace
}  // namespace sira::alerts
