// /api/v1/audit: entries, signed tree heads, inclusion and consistency proofs, public key,
// verification and acknowledgement of integrity failures.
#include "api/common.h"
#include "core/crypto.h"
#include "core/json.h"

namespace sira::api {

namespace {

bj::array hashes_json(const std::vector<Hash256>& hs) {
  bj::array a;
  for (const auto& h : hs) a.emplace_back(hex_encode(h));
  return a;
}

bj::object head_json(const audit::TreeHead& h) {
  return {{"tenant_id", h.tenant_id},
          {"tree_size", h.tree_size},
          {"root_hash", hex_encode(h.root)},
          {"timestamp", format_rfc3339_ms(h.timestamp_ms)},
          {"timestamp_ms", h.timestamp_ms},
          {"signature", base64_encode(h.signature)},
          {"key_id", h.key_id},
          {"signature_algorithm", "Ed25519"},
          {"signed_message_format",
           "sira-tree-head-v1\\n<tenant_id>\\n<tree_size>\\n<root_hash hex>\\n<timestamp_ms>\\n"}};
}

bj::object report_json(const audit::VerifyReport& r) {
  bj::object o{{"tenant_id", r.tenant_id}, {"ok", r.ok}, {"entries", r.entries}};
  if (!r.ok) {
    o["first_bad_index"] = r.first_bad_index;
    o["reason"] = r.reason;
  }
  if (r.head) o["signed_tree_size"] = r.head->tree_size;
  return o;
}

Result<std::optional<int64_t>> time_param(const http::Request& req, std::string_view name) {
  auto v = req.query_param(name);
  if (!v) return std::optional<int64_t>();
  int64_t ms;
  if (!parse_rfc3339(*v, &ms))
    return fail(ErrorCode::kInvalidArgument,
                "query parameter " + std::string(name) + " must be an RFC 3339 time",
                std::string(name));
  return std::optional<int64_t>(ms);
}

}  // namespace

void add_audit_routes(http::Router& router, Services& s) {
  router.add("GET", "/api/v1/audit/entries",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, auth::Permission::kAuditRead));
               audit::EntryFilter f;
               f.actor = req.query_param("actor");
               f.action = req.query_param("action");
               f.target_type = req.query_param("target_type");
               f.target_id = req.query_param("target");
               if (!f.target_id) f.target_id = req.query_param("target_id");
               f.since_ms = SIRA_TRY(time_param(req, "since"));
               f.until_ms = SIRA_TRY(time_param(req, "until"));
               auto page = SIRA_TRY(page_request(req));
               f.limit = page.limit + 1;
               if (page.cursor) {
                 std::string raw;
                 int64_t idx = -1;
                 if (!base64url_decode(*page.cursor, &raw) || raw.empty() || raw.size() > 19 ||
                     raw.find_first_not_of("0123456789") != std::string::npos)
                   return fail(ErrorCode::kInvalidArgument, "cursor is not one this server issued",
                               "cursor");
                 idx = std::stoll(raw);
                 f.after_index = idx;
               }
               auto entries = SIRA_TRY(s.audit.entries(p.tenant_id, f));
               bj::object out;
               bj::array items;
               std::optional<std::string> next;
               if (static_cast<int>(entries.size()) > page.limit) {
                 entries.resize(page.limit);
                 next = base64url_encode(std::to_string(entries.back().index));
               }
               for (const auto& e : entries) {
                 bj::value details = bj::object();
                 if (auto d = json::parse(e.details_json)) details = std::move(*d);
                 items.push_back(bj::object{{"index", e.index},
                                            {"time", format_rfc3339_ms(e.time_ms)},
                                            {"actor", e.actor},
                                            {"action", e.action},
                                            {"target_type", e.target_type},
                                            {"target_id", e.target_id},
                                            {"details", std::move(details)}});
               }
               out["items"] = std::move(items);
               out["next_cursor"] = next ? bj::value(*next) : bj::value(nullptr);
               return json(200, out);
             }));

  router.add("GET", "/api/v1/audit/sth",
             authed(s, Effect::kRead, [&s](http::Request&, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, auth::Permission::kAuditRead));
               auto head = s.audit.latest_head(p.tenant_id);
               if (!head) return fail(ErrorCode::kNotFound, "the audit log has no signed head yet");
               return json(200, head_json(*head));
             }));

  router.add("GET", "/api/v1/audit/proof/inclusion",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, auth::Permission::kAuditRead));
               int64_t index = SIRA_TRY(required_int_param(req, "index"));
               int64_t size = SIRA_TRY(required_int_param(req, "tree_size"));
               auto path = SIRA_TRY(s.audit.inclusion_proof(p.tenant_id, index, size));
               auto leaf = SIRA_TRY(s.audit.leaf_at(p.tenant_id, index));
               auto root = SIRA_TRY(s.audit.root_at(p.tenant_id, size));
               return json(200, bj::object{{"index", index},
                                           {"tree_size", size},
                                           {"leaf_hash", hex_encode(leaf)},
                                           {"root_hash", hex_encode(root)},
                                           {"audit_path", hashes_json(path)}});
             }));

  router.add("GET", "/api/v1/audit/proof/consistency",
             authed(s, Effect::kRead, [&s](http::Request& req, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, auth::Permission::kAuditRead));
               int64_t first = SIRA_TRY(required_int_param(req, "first"));
               int64_t second = SIRA_TRY(required_int_param(req, "second"));
               auto proof = SIRA_TRY(s.audit.consistency_proof(p.tenant_id, first, second));
               auto r1 = SIRA_TRY(s.audit.root_at(p.tenant_id, first));
               auto r2 = SIRA_TRY(s.audit.root_at(p.tenant_id, second));
               return json(200, bj::object{{"first", first},
                                           {"second", second},
                                           {"first_root_hash", hex_encode(r1)},
                                           {"second_root_hash", hex_encode(r2)},
                                           {"consistency", hashes_json(proof)}});
             }));

  router.add("GET", "/api/v1/audit/public-key",
             authed(s, Effect::kRead, [&s](http::Request&, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, auth::Permission::kAuditRead));
               const auto& signer = s.audit.signer();
               return json(200, bj::object{{"algorithm", "Ed25519"},
                                           {"key_id", signer.key_id()},
                                           {"public_key", base64_encode(signer.public_key_raw())},
                                           {"public_key_pem", signer.public_key_pem()}});
             }));

  router.add("GET", "/api/v1/audit/status",
             authed(s, Effect::kRead, [&s](http::Request&, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, auth::Permission::kAuditRead));
               bj::object o{{"tenant_id", p.tenant_id}, {"frozen", s.audit.frozen(p.tenant_id)}};
               for (const auto& f : s.audit.failures())
                 if (f.tenant_id == p.tenant_id) o["failure"] = report_json(f);
               return json(200, o);
             }));

  router.add("POST", "/api/v1/audit/verify",
             authed(s, Effect::kRead, [&s](http::Request&, const auth::Principal& p)
                                          -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, auth::Permission::kAuditAdmin));
               auto rep = SIRA_TRY(s.audit.reverify(p.tenant_id, true));
               return json(rep.ok ? 200 : 409, report_json(rep));
             }));

  router.add("POST", "/api/v1/audit/acknowledge",
             authed(s, Effect::kWrite, [&s](http::Request& req, const auth::Principal& p)
                                           -> Result<http::Response> {
               SIRA_CHECK(s.auth.require(p, auth::Permission::kAuditAdmin));
               auto body = SIRA_TRY(body_object(req));
               SIRA_CHECK(json::only_fields(body, {"note"}));
               auto note = SIRA_TRY(json::required_string(body, "note", 4000));
               SIRA_CHECK(s.audit.acknowledge(p.tenant_id, p.actor(), note));
               auto head = s.audit.latest_head(p.tenant_id);
               return json(200, head ? bj::value(head_json(*head)) : bj::value(nullptr));
             }));
}

}  // namespace sira::api
