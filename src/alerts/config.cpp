// alertmanager.yml parsing: Alertmanager 0.25 fields, defaults and validation, plus the list
// of fields sira does not support.
#include "alerts/config.h"

// yaml-cpp's headers trip g++ 12's -Wdangling-pointer at -O2; the warning is theirs, not ours.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdangling-pointer"
#include <yaml-cpp/yaml.h>
#pragma GCC diagnostic pop

#include <glob.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <string_view>

namespace sira::alerts {

namespace {

using YAML::Node;

std::unexpected<Error> cfg_err(const std::string& path, const std::string& msg) {
  return fail(ErrorCode::kConfig, path.empty() ? msg : path + ": " + msg, path);
}

std::string at(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string at(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

// Re-labels an error from a helper (matchers, time intervals) with the config path.
std::unexpected<Error> with_path(const std::string& path, const Error& e) {
  return cfg_err(path, e.detail);
}

bool is_null(const Node& n) {
  return !n.IsDefined() || n.IsNull();
}

Result<std::string> get_string(const Node& n, const std::string& path) {
  if (is_null(n)) return std::string();
  if (!n.IsScalar()) return cfg_err(path, "must be a string");
  return n.Scalar();
}

Result<bool> get_bool(const Node& n, const std::string& path) {
  if (is_null(n)) return false;
  bool b = false;
  if (!n.IsScalar() || !YAML::convert<bool>::decode(n, b))
    return cfg_err(path, "must be a boolean, got " +
                             (n.IsScalar() ? n.Scalar() : std::string("a collection")));
  return b;
}

Result<int64_t> get_uint(const Node& n, const std::string& path) {
  if (is_null(n)) return int64_t{0};
  if (!n.IsScalar()) return cfg_err(path, "must be a non-negative integer");
  const std::string& s = n.Scalar();
  int64_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || v < 0)
    return cfg_err(path, "must be a non-negative integer, got \"" + s + "\"");
  return v;
}

Result<int64_t> get_duration(const Node& n, const std::string& path) {
  std::string s = SIRA_TRY(get_string(n, path));
  auto d = parse_duration_ms(s);
  if (!d) return with_path(path, d.error());
  return *d;
}

Status expect_map(const Node& n, const std::string& path) {
  if (is_null(n) || n.IsMap()) return {};
  return cfg_err(path, "must be a mapping");
}

Status expect_seq(const Node& n, const std::string& path) {
  if (is_null(n) || n.IsSequence()) return {};
  return cfg_err(path, "must be a list");
}

Result<std::vector<std::string>> get_string_list(const Node& n, const std::string& path) {
  SIRA_CHECK(expect_seq(n, path));
  std::vector<std::string> out;
  if (is_null(n)) return out;
  for (size_t i = 0; i < n.size(); ++i) out.push_back(SIRA_TRY(get_string(n[i], at(path, i))));
  return out;
}

// Calls f(key, value, key_path) for each entry of a mapping.
template <class F>
Status for_each_entry(const Node& n, const std::string& path, F&& f) {
  SIRA_CHECK(expect_map(n, path));
  if (is_null(n)) return {};
  for (auto it = n.begin(); it != n.end(); ++it) {
    if (!it->first.IsScalar()) return cfg_err(path, "keys must be strings");
    const std::string key = it->first.Scalar();
    SIRA_CHECK(f(key, it->second, at(path, key)));
  }
  return {};
}

Status unknown_field(const std::string& path, const std::string& key) {
  return cfg_err(path, "unknown field \"" + key + "\"");
}

bool one_of(const std::string& key, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), key) != names.end();
}

// A mapping of string to string (PagerDuty details, e-mail headers).
Status get_string_map(const Node& n, const std::string& path,
                      std::map<std::string, std::string>* out) {
  return for_each_entry(n, path,
                        [&](const std::string& key, const Node& v, const std::string& p) -> Status {
                          (*out)[key] = SIRA_TRY(get_string(v, p));
                          return {};
                        });
}

// Go's textproto.CanonicalMIMEHeaderKey: "content-type" -> "Content-Type".
std::string canonical_header(std::string key) {
  bool upper = true;
  for (char& c : key) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    upper = c == '-';
  }
  return key;
}

struct Parser {
  std::vector<std::string>* unsupported;
  AlertingConfig cfg;
  std::string base_dir;

  void note(const std::string& path) {
    if (unsupported != nullptr) unsupported->push_back(path);
  }

  // --- matchers -------------------------------------------------------------------------

  // Legacy `match` (equality) and `match_re` (regex) maps. match_re values become
  // `^(?:value)$`, exactly as Alertmanager passes the compiled regex's text to NewMatcher, so
  // route keys print the same.
  Status legacy_matchers(const Node& n, const std::string& path, bool regex,
                         std::vector<Matcher>* out) {
    return for_each_entry(
        n, path, [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (!valid_label_name(key)) return cfg_err(p, "invalid label name " + go_quote(key));
          std::string value = SIRA_TRY(get_string(v, p));
          if (regex && is_null(v)) return cfg_err(p, "invalid regexp value for " + go_quote(key));
          if (regex) value = "^(?:" + value + ")$";
          auto m = Matcher::make(key, regex ? MatchType::kRegex : MatchType::kEqual, value);
          if (!m) return with_path(p, m.error());
          out->push_back(std::move(*m));
          return {};
        });
  }

  Status matcher_lines(const Node& n, const std::string& path, std::vector<Matcher>* out) {
    auto lines = SIRA_TRY(get_string_list(n, path));
    for (size_t i = 0; i < lines.size(); ++i) {
      auto ms = parse_matchers(lines[i]);
      if (!ms) return with_path(at(path, i), ms.error());
      for (auto& m : *ms) out->push_back(std::move(m));
    }
    return {};
  }

  Result<std::vector<std::string>> label_name_list(const Node& n, const std::string& path,
                                                   const char* what) {
    auto names = SIRA_TRY(get_string_list(n, path));
    for (size_t i = 0; i < names.size(); ++i) {
      if (!valid_label_name(names[i]))
        return cfg_err(at(path, i),
                       "invalid label name " + go_quote(names[i]) + " in " + what + " list");
    }
    return names;
  }

  // --- global ---------------------------------------------------------------------------

  Status global(const Node& n, const std::string& path) {
    GlobalConfig& g = cfg.global;
    return for_each_entry(
        n, path, [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (key == "resolve_timeout") {
            g.resolve_timeout_ms = SIRA_TRY(get_duration(v, p));
          } else if (key == "smtp_from") {
            g.smtp_from = SIRA_TRY(get_string(v, p));
          } else if (key == "smtp_smarthost") {
            g.smtp_smarthost = SIRA_TRY(get_string(v, p));
            SIRA_CHECK(check_hostport(g.smtp_smarthost, p));
          } else if (key == "smtp_hello") {
            g.smtp_hello = SIRA_TRY(get_string(v, p));
          } else if (key == "smtp_auth_username") {
            g.smtp_auth_username = SIRA_TRY(get_string(v, p));
          } else if (key == "smtp_auth_password") {
            g.smtp_auth_password = SIRA_TRY(get_string(v, p));
          } else if (key == "smtp_require_tls") {
            g.smtp_require_tls = SIRA_TRY(get_bool(v, p));
          } else if (key == "slack_api_url") {
            g.slack_api_url = SIRA_TRY(get_string(v, p));
            SIRA_CHECK(check_url(g.slack_api_url, p));
          } else if (key == "pagerduty_url") {
            g.pagerduty_url = SIRA_TRY(get_string(v, p));
            SIRA_CHECK(check_url(g.pagerduty_url, p));
          } else if (one_of(key, {"http_config",
                                  "smtp_auth_password_file",
                                  "smtp_auth_secret",
                                  "smtp_auth_secret_file",
                                  "smtp_auth_identity",
                                  "smtp_tls_config",
                                  "smtp_force_implicit_tls",
                                  "slack_api_url_file",
                                  "opsgenie_api_url",
                                  "opsgenie_api_key",
                                  "opsgenie_api_key_file",
                                  "wechat_api_url",
                                  "wechat_api_secret",
                                  "wechat_api_corp_id",
                                  "victorops_api_url",
                                  "victorops_api_key",
                                  "victorops_api_key_file",
                                  "telegram_api_url",
                                  "webex_api_url",
                                  "jira_api_url",
                                  "rocketchat_api_url",
                                  "rocketchat_token",
                                  "rocketchat_token_file",
                                  "rocketchat_token_id",
                                  "rocketchat_token_id_file"})) {
            note(p);
          } else {
            return unknown_field(path, key);
          }
          return {};
        });
  }

  static Status check_url(const std::string& url, const std::string& path) {
    if (url == "<secret>") return {};  // what Alertmanager's API prints for secret URLs
    std::string_view rest;
    if (url.starts_with("http://"))
      rest = std::string_view(url).substr(7);
    else if (url.starts_with("https://"))
      rest = std::string_view(url).substr(8);
    else {
      auto colon = url.find(':');
      std::string scheme = colon == std::string::npos ? "" : url.substr(0, colon);
      return cfg_err(path, "unsupported scheme \"" + scheme + "\" for URL");
    }
    if (rest.empty() || rest.front() == '/' || rest.front() == '?' || rest.front() == '#')
      return cfg_err(path, "missing host for URL");
    return {};
  }

  static Status check_hostport(const std::string& hp, const std::string& path) {
    if (hp.empty()) return {};
    auto colon = hp.rfind(':');
    if (colon == std::string::npos)
      return cfg_err(path, "address " + hp + ": missing port in address");
    if (colon + 1 == hp.size())
      return cfg_err(path, "address \"" + hp + "\": port cannot be empty");
    return {};
  }

  // --- receivers ------------------------------------------------------------------------

  template <class T, class F>
  Status integration_list(const Node& n, const std::string& path, std::vector<T>* out,
                          F&& parse_one) {
    SIRA_CHECK(expect_seq(n, path));
    if (is_null(n)) return {};
    for (size_t i = 0; i < n.size(); ++i) {
      T item;
      SIRA_CHECK(expect_map(n[i], at(path, i)));
      SIRA_CHECK(parse_one(n[i], at(path, i), &item));
      out->push_back(std::move(item));
    }
    return {};
  }

  Status webhook(const Node& n, const std::string& path, WebhookConfig* c) {
    bool has_url_file = false;
    SIRA_CHECK(for_each_entry(
        n, path, [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (key == "url") {
            c->url = SIRA_TRY(get_string(v, p));
            SIRA_CHECK(check_url(c->url, p));
          } else if (key == "send_resolved") {
            c->send_resolved = SIRA_TRY(get_bool(v, p));
          } else if (key == "max_alerts") {
            c->max_alerts = SIRA_TRY(get_uint(v, p));
          } else if (key == "body_template") {
            c->body_template = SIRA_TRY(get_string(v, p));
          } else if (key == "content_type") {
            c->content_type = SIRA_TRY(get_string(v, p));
            if (c->content_type.empty() ||
                c->content_type.find_first_of("\r\n") != std::string::npos)
              return cfg_err(p, "content_type must be a non-empty single-line value");
          } else {
            if (key == "url_file") has_url_file = true;
            note(p);
          }
          return {};
        }));
    if (c->url.empty() && !has_url_file)
      return cfg_err(path, "one of url or url_file must be configured");
    if (!c->url.empty() && has_url_file)
      return cfg_err(path, "at most one of url & url_file must be configured");
    return {};
  }

  Status slack(const Node& n, const std::string& path, SlackConfig* c) {
    bool has_url_file = false;
    SIRA_CHECK(for_each_entry(
        n, path, [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (key == "api_url") {
            c->api_url = SIRA_TRY(get_string(v, p));
            SIRA_CHECK(check_url(c->api_url, p));
          } else if (key == "channel") {
            c->channel = SIRA_TRY(get_string(v, p));
          } else if (key == "username") {
            c->username = SIRA_TRY(get_string(v, p));
          } else if (key == "title") {
            c->title = SIRA_TRY(get_string(v, p));
          } else if (key == "text") {
            c->text = SIRA_TRY(get_string(v, p));
          } else if (key == "color") {
            c->color = SIRA_TRY(get_string(v, p));
          } else if (key == "title_link") {
            c->title_link = SIRA_TRY(get_string(v, p));
          } else if (key == "pretext") {
            c->pretext = SIRA_TRY(get_string(v, p));
          } else if (key == "fallback") {
            c->fallback = SIRA_TRY(get_string(v, p));
          } else if (key == "footer") {
            c->footer = SIRA_TRY(get_string(v, p));
          } else if (key == "icon_emoji") {
            c->icon_emoji = SIRA_TRY(get_string(v, p));
          } else if (key == "icon_url") {
            c->icon_url = SIRA_TRY(get_string(v, p));
          } else if (key == "send_resolved") {
            c->send_resolved = SIRA_TRY(get_bool(v, p));
          } else {
            if (key == "api_url_file") has_url_file = true;
            note(p);
          }
          return {};
        }));
    if (!c->api_url.empty() && has_url_file)
      return cfg_err(path, "at most one of api_url & api_url_file must be configured");
    if (c->api_url.empty() && !has_url_file) {
      if (cfg.global.slack_api_url.empty())
        return cfg_err(path, "no global Slack API URL set either inline or in a file");
      c->api_url = cfg.global.slack_api_url;
    }
    return {};
  }

  Status pagerduty(const Node& n, const std::string& path, PagerDutyConfig* c) {
    bool has_key_file = false;
    bool has_url = false;
    SIRA_CHECK(for_each_entry(
        n, path, [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (key == "routing_key") {
            c->routing_key = SIRA_TRY(get_string(v, p));
          } else if (key == "service_key") {
            c->service_key = SIRA_TRY(get_string(v, p));
          } else if (key == "url") {
            c->url = SIRA_TRY(get_string(v, p));
            SIRA_CHECK(check_url(c->url, p));
            has_url = true;
          } else if (key == "severity") {
            c->severity = SIRA_TRY(get_string(v, p));
          } else if (key == "description") {
            c->description = SIRA_TRY(get_string(v, p));
          } else if (key == "client") {
            c->client = SIRA_TRY(get_string(v, p));
          } else if (key == "client_url") {
            c->client_url = SIRA_TRY(get_string(v, p));
          } else if (key == "class") {
            c->class_ = SIRA_TRY(get_string(v, p));
          } else if (key == "component") {
            c->component = SIRA_TRY(get_string(v, p));
          } else if (key == "group") {
            c->group = SIRA_TRY(get_string(v, p));
          } else if (key == "details") {
            std::map<std::string, std::string> details;
            SIRA_CHECK(get_string_map(v, p, &details));
            for (auto& [k, val] : details) c->details[k] = std::move(val);
          } else if (key == "send_resolved") {
            c->send_resolved = SIRA_TRY(get_bool(v, p));
          } else {
            if (key == "routing_key_file" || key == "service_key_file") has_key_file = true;
            note(p);
          }
          return {};
        }));
    if (c->routing_key.empty() && c->service_key.empty() && !has_key_file)
      return cfg_err(path, "missing service or routing key in PagerDuty config");
    if (!has_url) c->url = cfg.global.pagerduty_url;
    return {};
  }

  Status email(const Node& n, const std::string& path, EmailConfig* c) {
    bool has_require_tls = false;
    bool has_password_file = false;
    SIRA_CHECK(for_each_entry(
        n, path, [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (key == "to") {
            c->to = SIRA_TRY(get_string(v, p));
          } else if (key == "from") {
            c->from = SIRA_TRY(get_string(v, p));
          } else if (key == "smarthost") {
            c->smarthost = SIRA_TRY(get_string(v, p));
            SIRA_CHECK(check_hostport(c->smarthost, p));
          } else if (key == "hello") {
            c->hello = SIRA_TRY(get_string(v, p));
          } else if (key == "auth_username") {
            c->auth_username = SIRA_TRY(get_string(v, p));
          } else if (key == "auth_password") {
            c->auth_password = SIRA_TRY(get_string(v, p));
          } else if (key == "require_tls") {
            c->require_tls = SIRA_TRY(get_bool(v, p));
            has_require_tls = true;
          } else if (key == "send_resolved") {
            c->send_resolved = SIRA_TRY(get_bool(v, p));
          } else if (key == "html") {
            c->html = SIRA_TRY(get_string(v, p));
          } else if (key == "text") {
            c->text = SIRA_TRY(get_string(v, p));
          } else if (key == "headers") {
            std::map<std::string, std::string> headers;
            SIRA_CHECK(get_string_map(v, p, &headers));
            for (auto& [k, val] : headers) {
              const std::string name = canonical_header(k);
              if (c->headers.contains(name))
                return cfg_err(at(p, k), "duplicate header " + go_quote(name) + " in email config");
              c->headers[name] = std::move(val);
            }
          } else {
            if (key == "auth_password_file") has_password_file = true;
            note(p);
          }
          return {};
        }));
    const GlobalConfig& g = cfg.global;
    if (c->to.empty()) return cfg_err(path, "missing to address in email config");
    if (c->smarthost.empty()) {
      if (g.smtp_smarthost.empty()) return cfg_err(path, "no global SMTP smarthost set");
      c->smarthost = g.smtp_smarthost;
    }
    if (c->from.empty()) {
      if (g.smtp_from.empty()) return cfg_err(path, "no global SMTP from set");
      c->from = g.smtp_from;
    }
    if (c->hello.empty()) c->hello = g.smtp_hello;
    if (c->auth_username.empty()) c->auth_username = g.smtp_auth_username;
    if (c->auth_password.empty() && !has_password_file) c->auth_password = g.smtp_auth_password;
    if (!has_require_tls) c->require_tls = g.smtp_require_tls;
    c->require_tls_str = c->require_tls ? "true" : "false";
    if (!c->headers.contains("Subject"))
      c->headers["Subject"] = "{{ template \"email.default.subject\" . }}";
    return {};
  }

  Status receiver(const Node& n, const std::string& path, Receiver* r) {
    SIRA_CHECK(expect_map(n, path));
    SIRA_CHECK(for_each_entry(
        n, path, [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (key == "name") {
            r->name = SIRA_TRY(get_string(v, p));
          } else if (key == "webhook_configs") {
            return integration_list(v, p, &r->webhook_configs,
                                    [&](const Node& e, const std::string& ep, WebhookConfig* c) {
                                      return webhook(e, ep, c);
                                    });
          } else if (key == "slack_configs") {
            return integration_list(v, p, &r->slack_configs,
                                    [&](const Node& e, const std::string& ep, SlackConfig* c) {
                                      return slack(e, ep, c);
                                    });
          } else if (key == "pagerduty_configs") {
            return integration_list(v, p, &r->pagerduty_configs,
                                    [&](const Node& e, const std::string& ep, PagerDutyConfig* c) {
                                      return pagerduty(e, ep, c);
                                    });
          } else if (key == "email_configs") {
            return integration_list(v, p, &r->email_configs,
                                    [&](const Node& e, const std::string& ep, EmailConfig* c) {
                                      return email(e, ep, c);
                                    });
          } else if (one_of(key, {"opsgenie_configs", "wechat_configs", "pushover_configs",
                                  "victorops_configs", "sns_configs", "telegram_configs",
                                  "webex_configs", "discord_configs", "msteams_configs",
                                  "msteamsv2_configs", "jira_configs", "rocketchat_configs",
                                  "mattermost_configs", "incidentio_configs"})) {
            if (!is_null(v)) note(p);
          } else {
            return unknown_field(path, key);
          }
          return {};
        }));
    if (r->name.empty()) return cfg_err(at(path, "name"), "missing name in receiver");
    return {};
  }

  // --- routes ---------------------------------------------------------------------------

  Status route(const Node& n, const std::string& path, Route* r) {
    SIRA_CHECK(expect_map(n, path));
    std::vector<Matcher> legacy;
    std::vector<Matcher> modern;
    SIRA_CHECK(for_each_entry(
        n, path, [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (key == "receiver") {
            r->receiver = SIRA_TRY(get_string(v, p));
          } else if (key == "group_by") {
            auto names = SIRA_TRY(get_string_list(v, p));
            std::set<std::string> seen;
            for (size_t i = 0; i < names.size(); ++i) {
              if (names[i] == "...") {
                r->group_by_all = true;
                continue;
              }
              if (!valid_label_name(names[i]))
                return cfg_err(at(p, i),
                               "invalid label name " + go_quote(names[i]) + " in group_by list");
              if (!seen.insert(names[i]).second)
                return cfg_err(at(p, i), "duplicated label " + go_quote(names[i]) + " in group_by");
              r->group_by.push_back(names[i]);
            }
            if (r->group_by_all && !r->group_by.empty())
              return cfg_err(
                  p, "cannot have wildcard group_by (`...`) and other labels at the same time");
          } else if (key == "match") {
            SIRA_CHECK(legacy_matchers(v, p, false, &legacy));
          } else if (key == "match_re") {
            SIRA_CHECK(legacy_matchers(v, p, true, &legacy));
          } else if (key == "matchers") {
            SIRA_CHECK(matcher_lines(v, p, &modern));
          } else if (key == "mute_time_intervals") {
            r->mute_time_intervals = SIRA_TRY(get_string_list(v, p));
          } else if (key == "active_time_intervals") {
            r->active_time_intervals = SIRA_TRY(get_string_list(v, p));
          } else if (key == "continue") {
            r->continue_matching = SIRA_TRY(get_bool(v, p));
          } else if (key == "group_wait") {
            r->group_wait_ms = SIRA_TRY(get_duration(v, p));
          } else if (key == "group_interval") {
            r->group_interval_ms = SIRA_TRY(get_duration(v, p));
            if (r->group_interval_ms == 0) return cfg_err(p, "group_interval cannot be zero");
          } else if (key == "repeat_interval") {
            r->repeat_interval_ms = SIRA_TRY(get_duration(v, p));
            if (r->repeat_interval_ms == 0) return cfg_err(p, "repeat_interval cannot be zero");
          } else if (key == "routes") {
            SIRA_CHECK(expect_seq(v, p));
            if (is_null(v)) return {};
            for (size_t i = 0; i < v.size(); ++i) {
              Route child;
              SIRA_CHECK(route(v[i], at(p, i), &child));
              r->routes.push_back(std::move(child));
            }
          } else {
            return unknown_field(path, key);
          }
          return {};
        }));
    // Alertmanager appends match, then match_re, then matchers, then sorts them all.
    r->matchers = std::move(legacy);
    for (auto& m : modern) r->matchers.push_back(std::move(m));
    sort_matchers(&r->matchers);
    return {};
  }

  Status check_route_refs(const Route& r, const std::string& path,
                          const std::set<std::string>& receivers,
                          const std::set<std::string>& intervals) {
    for (size_t i = 0; i < r.routes.size(); ++i)
      SIRA_CHECK(check_route_refs(r.routes[i], at(at(path, "routes"), i), receivers, intervals));
    if (!r.receiver.empty() && !receivers.contains(r.receiver))
      return cfg_err(at(path, "receiver"),
                     "undefined receiver " + go_quote(r.receiver) + " used in route");
    for (size_t i = 0; i < r.active_time_intervals.size(); ++i) {
      if (!intervals.contains(r.active_time_intervals[i]))
        return cfg_err(
            at(at(path, "active_time_intervals"), i),
            "undefined time interval " + go_quote(r.active_time_intervals[i]) + " used in route");
    }
    for (size_t i = 0; i < r.mute_time_intervals.size(); ++i) {
      if (!intervals.contains(r.mute_time_intervals[i]))
        return cfg_err(
            at(at(path, "mute_time_intervals"), i),
            "undefined time interval " + go_quote(r.mute_time_intervals[i]) + " used in route");
    }
    return {};
  }

  // --- inhibit rules --------------------------------------------------------------------

  Status inhibit_rule(const Node& n, const std::string& path, InhibitRule* rule) {
    SIRA_CHECK(expect_map(n, path));
    std::vector<Matcher> source_legacy, source_modern, target_legacy, target_modern;
    SIRA_CHECK(for_each_entry(
        n, path, [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (key == "source_match") return legacy_matchers(v, p, false, &source_legacy);
          if (key == "source_match_re") return legacy_matchers(v, p, true, &source_legacy);
          if (key == "source_matchers") return matcher_lines(v, p, &source_modern);
          if (key == "target_match") return legacy_matchers(v, p, false, &target_legacy);
          if (key == "target_match_re") return legacy_matchers(v, p, true, &target_legacy);
          if (key == "target_matchers") return matcher_lines(v, p, &target_modern);
          if (key == "equal") {
            rule->equal = SIRA_TRY(label_name_list(v, p, "equal"));
            return {};
          }
          if (key == "name") {
            rule->name = SIRA_TRY(get_string(v, p));
            return {};
          }
          return unknown_field(path, key);
        }));
    rule->source_matchers = std::move(source_legacy);
    for (auto& m : source_modern) rule->source_matchers.push_back(std::move(m));
    rule->target_matchers = std::move(target_legacy);
    for (auto& m : target_modern) rule->target_matchers.push_back(std::move(m));
    return {};
  }

  // --- time intervals -------------------------------------------------------------------

  Status time_interval(const Node& n, const std::string& path, TimeInterval* ti) {
    auto ranges = [&](const Node& v, const std::string& p, auto parse,
                      std::vector<InclusiveRange>* out) -> Status {
      auto items = SIRA_TRY(get_string_list(v, p));
      for (size_t i = 0; i < items.size(); ++i) {
        auto r = parse(items[i]);
        if (!r) return with_path(at(p, i), r.error());
        out->push_back(*r);
      }
      return {};
    };
    return for_each_entry(
        n, path, [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (key == "times") {
            SIRA_CHECK(expect_seq(v, p));
            if (is_null(v)) return {};
            for (size_t i = 0; i < v.size(); ++i) {
              std::string start, end;
              SIRA_CHECK(for_each_entry(
                  v[i], at(p, i),
                  [&](const std::string& k, const Node& tv, const std::string& tp) -> Status {
                    if (k == "start_time")
                      start = SIRA_TRY(get_string(tv, tp));
                    else if (k == "end_time")
                      end = SIRA_TRY(get_string(tv, tp));
                    else
                      return unknown_field(at(p, i), k);
                    return {};
                  }));
              auto tr = parse_time_range(start, end);
              if (!tr) return with_path(at(p, i), tr.error());
              ti->times.push_back(*tr);
            }
            return {};
          }
          if (key == "weekdays") return ranges(v, p, parse_weekday_range, &ti->weekdays);
          if (key == "days_of_month")
            return ranges(v, p, parse_day_of_month_range, &ti->days_of_month);
          if (key == "months") return ranges(v, p, parse_month_range, &ti->months);
          if (key == "years") return ranges(v, p, parse_year_range, &ti->years);
          if (key == "location") {
            std::string loc = SIRA_TRY(get_string(v, p));
            auto st = set_location(ti, loc);
            if (!st) return with_path(p, st.error());
            if (!ti->location_supported) note(p);
            return {};
          }
          return unknown_field(path, key);
        });
  }

  Status named_intervals(const Node& n, const std::string& path) {
    SIRA_CHECK(expect_seq(n, path));
    if (is_null(n)) return {};
    for (size_t i = 0; i < n.size(); ++i) {
      const std::string p = at(path, i);
      SIRA_CHECK(expect_map(n[i], p));
      NamedTimeInterval named;
      SIRA_CHECK(for_each_entry(
          n[i], p, [&](const std::string& key, const Node& v, const std::string& kp) -> Status {
            if (key == "name") {
              named.name = SIRA_TRY(get_string(v, kp));
              return {};
            }
            if (key == "time_intervals") {
              SIRA_CHECK(expect_seq(v, kp));
              if (is_null(v)) return {};
              for (size_t j = 0; j < v.size(); ++j) {
                TimeInterval ti;
                SIRA_CHECK(expect_map(v[j], at(kp, j)));
                SIRA_CHECK(time_interval(v[j], at(kp, j), &ti));
                named.intervals.push_back(std::move(ti));
              }
              return {};
            }
            return unknown_field(p, key);
          }));
      if (named.name.empty()) return cfg_err(at(p, "name"), "missing name in time interval");
      if (cfg.find_time_interval(named.name) != nullptr)
        return cfg_err(at(p, "name"), "time interval " + go_quote(named.name) + " is not unique");
      cfg.time_intervals.push_back(std::move(named));
    }
    return {};
  }

  // --- top level ------------------------------------------------------------------------

  Status parse(const Node& root) {
    if (is_null(root)) return cfg_err("route", "no route provided in config");
    SIRA_CHECK(expect_map(root, ""));
    // Global first: receivers take their defaults from it wherever it appears in the file.
    SIRA_CHECK(global(root["global"], "global"));
    Node route_node;
    bool has_route = false;
    SIRA_CHECK(for_each_entry(
        root, "", [&](const std::string& key, const Node& v, const std::string& p) -> Status {
          if (key == "global") return {};
          if (key == "route") {
            route_node = v;
            has_route = !is_null(v);
            return {};
          }
          if (key == "receivers") {
            SIRA_CHECK(expect_seq(v, p));
            if (is_null(v)) return {};
            for (size_t i = 0; i < v.size(); ++i) {
              Receiver r;
              SIRA_CHECK(receiver(v[i], at(p, i), &r));
              if (cfg.find_receiver(r.name) != nullptr)
                return cfg_err(at(at(p, i), "name"),
                               "notification config name " + go_quote(r.name) + " is not unique");
              cfg.receivers.push_back(std::move(r));
            }
            return {};
          }
          if (key == "inhibit_rules") {
            SIRA_CHECK(expect_seq(v, p));
            if (is_null(v)) return {};
            for (size_t i = 0; i < v.size(); ++i) {
              InhibitRule rule;
              SIRA_CHECK(inhibit_rule(v[i], at(p, i), &rule));
              cfg.inhibit_rules.push_back(std::move(rule));
            }
            return {};
          }
          if (key == "templates") {
            cfg.templates = SIRA_TRY(get_string_list(v, p));
            return {};
          }
          if (key == "time_intervals" || key == "mute_time_intervals") return named_intervals(v, p);
          if (key == "tracing") {
            note(p);
            return {};
          }
          return unknown_field("", key);
        }));
    if (!has_route) return cfg_err("route", "no route provided in config");
    SIRA_CHECK(route(route_node, "route", &cfg.route));
    const Route& root_route = cfg.route;
    if (root_route.continue_matching)
      return cfg_err("route.continue", "cannot have continue in root route");
    if (root_route.receiver.empty())
      return cfg_err("route.receiver", "root route must specify a default receiver");
    if (!root_route.matchers.empty())
      return cfg_err("route", "root route must not have any matchers");
    if (!root_route.mute_time_intervals.empty())
      return cfg_err("route.mute_time_intervals",
                     "root route must not have any mute time intervals");
    if (!root_route.active_time_intervals.empty())
      return cfg_err("route.active_time_intervals",
                     "root route must not have any active time intervals");
    std::set<std::string> receiver_names, interval_names;
    for (const auto& r : cfg.receivers) receiver_names.insert(r.name);
    for (const auto& ti : cfg.time_intervals) interval_names.insert(ti.name);
    SIRA_CHECK(check_route_refs(cfg.route, "route", receiver_names, interval_names));
    resolve_route_tree(cfg.route);
    SIRA_CHECK(load_templates());
    SIRA_CHECK(check_templates());
    return {};
  }

  // --- templates ------------------------------------------------------------------------

  // Reads the files the `templates` globs match (sorted per glob, as Go's filepath.Glob) and
  // adds their definitions to the built-ins. A glob matching nothing is not an error.
  Status load_templates() {
    if (cfg.templates.empty()) return {};
    auto set = std::make_shared<TemplateSet>();
    for (size_t i = 0; i < cfg.templates.size(); ++i) {
      const std::string path = at("templates", i);
      std::filesystem::path pattern(cfg.templates[i]);
      if (pattern.is_relative() && !base_dir.empty())
        pattern = std::filesystem::path(base_dir) / pattern;
      glob_t g{};
      const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
      std::vector<std::string> files;
      for (size_t k = 0; rc == 0 && k < g.gl_pathc; ++k) files.emplace_back(g.gl_pathv[k]);
      globfree(&g);
      if (rc != 0 && rc != GLOB_NOMATCH)
        return cfg_err(path, "cannot expand template glob " + go_quote(pattern.string()));
      std::sort(files.begin(), files.end());
      for (const auto& file : files) {
        std::ifstream in(file, std::ios::binary);
        if (!in) return cfg_err(path, "cannot read template file " + file);
        std::ostringstream text;
        text << in.rdbuf();
        if (auto st = set->add(file, text.str()); !st) return with_path(path, st.error());
        cfg.template_files.push_back(file);
      }
    }
    cfg.template_set = std::move(set);
    return {};
  }

  Status check_template(const std::string& path, const std::string& name, const std::string& text) {
    if (text.find("{{") == std::string::npos) return {};
    if (auto st = cfg.template_set->check(name, text); !st) return with_path(path, st.error());
    return {};
  }

  // Every template field of every receiver must parse (Alertmanager finds out at send time).
  Status check_templates() {
    for (size_t r = 0; r < cfg.receivers.size(); ++r) {
      const Receiver& rc = cfg.receivers[r];
      const std::string rp = at("receivers", r);
      for (size_t i = 0; i < rc.webhook_configs.size(); ++i) {
        const std::string p = at(at(rp, "webhook_configs"), i);
        SIRA_CHECK(check_template(at(p, "body_template"), "body_template",
                                  rc.webhook_configs[i].body_template));
      }
      for (size_t i = 0; i < rc.slack_configs.size(); ++i) {
        const SlackConfig& c = rc.slack_configs[i];
        const std::string p = at(at(rp, "slack_configs"), i);
        const std::pair<const char*, const std::string*> fields[] = {{"channel", &c.channel},
                                                                     {"username", &c.username},
                                                                     {"color", &c.color},
                                                                     {"title", &c.title},
                                                                     {"title_link", &c.title_link},
                                                                     {"pretext", &c.pretext},
                                                                     {"text", &c.text},
                                                                     {"fallback", &c.fallback},
                                                                     {"footer", &c.footer},
                                                                     {"icon_emoji", &c.icon_emoji},
                                                                     {"icon_url", &c.icon_url}};
        for (const auto& [name, text] : fields)
          SIRA_CHECK(check_template(at(p, name), name, *text));
      }
      for (size_t i = 0; i < rc.pagerduty_configs.size(); ++i) {
        const PagerDutyConfig& c = rc.pagerduty_configs[i];
        const std::string p = at(at(rp, "pagerduty_configs"), i);
        const std::pair<const char*, const std::string*> fields[] = {
            {"description", &c.description},
            {"client", &c.client},
            {"client_url", &c.client_url},
            {"severity", &c.severity},
            {"class", &c.class_},
            {"component", &c.component},
            {"group", &c.group}};
        for (const auto& [name, text] : fields)
          SIRA_CHECK(check_template(at(p, name), name, *text));
        for (const auto& [k, v] : c.details)
          SIRA_CHECK(check_template(at(at(p, "details"), k), k, v));
      }
      for (size_t i = 0; i < rc.email_configs.size(); ++i) {
        const EmailConfig& c = rc.email_configs[i];
        const std::string p = at(at(rp, "email_configs"), i);
        SIRA_CHECK(check_template(at(p, "to"), "to", c.to));
        SIRA_CHECK(check_template(at(p, "html"), "html", c.html));
        SIRA_CHECK(check_template(at(p, "text"), "text", c.text));
        for (const auto& [k, v] : c.headers)
          SIRA_CHECK(check_template(at(at(p, "headers"), k), k, v));
      }
    }
    return {};
  }
};

}  // namespace

const Receiver* AlertingConfig::find_receiver(std::string_view name) const {
  for (const auto& r : receivers) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const NamedTimeInterval* AlertingConfig::find_time_interval(std::string_view name) const {
  for (const auto& ti : time_intervals) {
    if (ti.name == name) return &ti;
  }
  return nullptr;
}

std::map<std::string, std::string> PagerDutyConfig::default_details() {
  return {{"firing", "{{ template \"pagerduty.default.instances\" .Alerts.Firing }}"},
          {"resolved", "{{ template \"pagerduty.default.instances\" .Alerts.Resolved }}"},
          {"num_firing", "{{ .Alerts.Firing | len }}"},
          {"num_resolved", "{{ .Alerts.Resolved | len }}"}};
}

Result<AlertingConfig> parse_alerting_config(std::string_view yaml,
                                             std::vector<std::string>* unsupported) {
  return parse_alerting_config(yaml, unsupported, std::string());
}

Result<AlertingConfig> parse_alerting_config(std::string_view yaml,
                                             std::vector<std::string>* unsupported,
                                             const std::string& base_dir) {
  Parser parser{unsupported, {}, base_dir};
  try {
    Node root = YAML::Load(std::string(yaml));
    SIRA_CHECK(parser.parse(root));
  } catch (const YAML::Exception& e) {
    return fail(ErrorCode::kConfig, std::string("invalid YAML: ") + e.what());
  } catch (const std::exception& e) {
    return fail(ErrorCode::kConfig, std::string("invalid alerting config: ") + e.what());
  }
  return std::move(parser.cfg);
}

std::string default_config_yaml() {
  return "route:\n"
         "  receiver: default\n"
         "receivers:\n"
         "  - name: default\n";
}

Result<int64_t> parse_duration_ms(std::string_view text) {
  if (text == "0") return int64_t{0};
  if (text.empty()) return fail(ErrorCode::kConfig, "empty duration string");
  auto invalid = [&] {
    return fail(ErrorCode::kConfig, "not a valid duration string: \"" + std::string(text) + "\"");
  };
  struct Unit {
    std::string_view name;
    int64_t ms;
  };
  static constexpr Unit kUnits[] = {{"y", 365LL * 24 * 3600 * 1000},
                                    {"w", 7LL * 24 * 3600 * 1000},
                                    {"d", 24LL * 3600 * 1000},
                                    {"h", 3600LL * 1000},
                                    {"m", 60LL * 1000},
                                    {"s", 1000},
                                    {"ms", 1}};
  // Go's time.Duration is int64 nanoseconds.
  constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max() / 1000000;
  size_t next_unit = 0;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    size_t digits_begin = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    if (i == digits_begin) return invalid();
    std::string_view digits = text.substr(digits_begin, i - digits_begin);
    size_t unit_begin = i;
    while (i < text.size() && !(text[i] >= '0' && text[i] <= '9')) ++i;
    std::string_view unit = text.substr(unit_begin, i - unit_begin);
    size_t u = next_unit;
    while (u < std::size(kUnits) && kUnits[u].name != unit) ++u;
    if (u == std::size(kUnits)) return invalid();
    next_unit = u + 1;
    int64_t n = 0;
    auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
    if (ec == std::errc::result_out_of_range || n > kMaxMs / kUnits[u].ms)
      return fail(ErrorCode::kConfig, "duration out of range");
    if (ec != std::errc() || p != digits.data() + digits.size()) return invalid();
    total += n * kUnits[u].ms;
    if (total > kMaxMs) return fail(ErrorCode::kConfig, "duration out of range");
  }
  return total;
}

std::string format_duration_ms(int64_t ms) {
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  auto unit = [&](const char* name, int64_t mult, bool exact) {
    if (exact && ms % mult != 0) return;
    int64_t v = ms / mult;
    if (v > 0) {
      out += std::to_string(v) + name;
      ms -= v * mult;
    }
  };
  unit("y", 365LL * 24 * 3600 * 1000, true);
  unit("w", 7LL * 24 * 3600 * 1000, true);
  unit("d", 24LL * 3600 * 1000, false);
  unit("h", 3600LL * 1000, false);
  unit("m", 60LL * 1000, false);
  unit("s", 1000, false);
  unit("ms", 1, false);
  return out;
}

}  // namespace sira::alerts
