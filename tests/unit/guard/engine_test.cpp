// Unit tests of the SIRA Guard ingest pipeline over a real SQLite file: NDJSON in, suspicious
// events, graded decisions, cooldowns, recommend-only mode, allowlist, repeat offenders, future
// timestamps, debug packs and recommendations. Time only moves through a ManualClock.
#include "guard/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <set>

#include "../test_util.h"
#include "store/migrations.h"
#include "store/sqlite.h"

namespace sira::guard {
namespace {

namespace bj = boost::json;
using namespace std::chrono_literals;
using testing_util::TempDir;

constexpr int64_t kStart = 1760000000000;  // 2025-10-09T08:53:20Z
constexpr int64_t kMinute = 60 * 1000;
constexpr int64_t kHour = 60 * kMinute;
constexpr int64_t kDay = 24 * kHour;

struct Rec {
  int64_t ts = 0;
  std::string key = "key_a";
  std::string ip = "198.51.100.77";
  int status = 200;
  std::string path = "/v1/auth/token";
  std::string query;
  std::string user_agent = "curl/8.4.0";
  std::string trace_id;
};

std::string line(const Rec& r) {
  bj::object o{
      {"ts", r.ts},     {"key_id", r.key},    {"ip", r.ip},         {"method", "POST"},
      {"path", r.path}, {"status", r.status}, {"latency_ms", 42.5}, {"user_agent", r.user_agent}};
  if (!r.query.empty()) o["query"] = r.query;
  if (!r.trace_id.empty()) {
    o["trace_id"] = r.trace_id;
    o["span_id"] = r.trace_id.substr(0, 16);
  }
  return bj::serialize(o) + "\n";
}

// `n` requests from one IP spread over the `span_ms` ending at `end_ms`, 80 % answered 401.
std::string brute_force(const std::string& key, const std::string& ip, int64_t end_ms, int n = 150,
                        int64_t span_ms = 5 * kMinute) {
  std::string out;
  for (int i = 0; i < n; ++i) {
    Rec r;
    r.ts = end_ms - span_ms + (i + 1) * span_ms / n;
    r.key = key;
    r.ip = ip;
    r.status = i % 5 == 0 ? 200 : 401;
    out += line(r);
  }
  return out;
}

class GuardEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions o;
    o.path = dir_.file("guard.db");
    o.synchronous = "normal";
    db_ = std::move(*store::open_sqlite(o));
    auto migrations = audit::AuditLog::migrations();
    for (auto& m : Decisions::migrations()) migrations.push_back(m);
    for (auto& m : Engine::migrations()) migrations.push_back(m);
    ASSERT_TRUE(store::migrate(*db_, migrations, 0).has_value());
    signer_ = std::make_unique<audit::Signer>(
        std::move(*audit::Signer::load_or_create(dir_.file("key.pem"))));
    audit_ = std::make_unique<audit::AuditLog>(*db_, *signer_, clock_, metrics_);
    ASSERT_TRUE(audit_->open().has_value());
    dec_ = std::make_unique<Decisions>(*db_, *audit_, clock_);
    ASSERT_TRUE(dec_->load().has_value());
    make_engine(GuardConfig{});
  }

  void make_engine(GuardConfig config) {
    config.recent_records = 10000;
    engine_ = std::make_unique<Engine>(*db_, *audit_, *dec_, clock_, metrics_, std::move(config));
  }

  IngestReport ingest(const std::string& data, const std::string& tenant = "ten_a",
                      int64_t first_line = 1) {
    auto r = engine_->ingest(tenant, data, signals::Format::kNdjson, "tok_ingest", first_line);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().detail);
    return r ? *r : IngestReport{};
  }

  std::vector<SuspiciousEvent> events(const std::string& key, const std::string& tenant = "ten_a") {
    auto e = engine_->events(tenant, key, 100, std::nullopt);
    EXPECT_TRUE(e.has_value());
    return e ? *e : std::vector<SuspiciousEvent>{};
  }

  std::vector<audit::Entry> audit_entries(const std::string& action,
                                          const std::string& tenant = "ten_a") {
    audit::EntryFilter f;
    f.action = action;
    f.limit = 1000;
    auto e = audit_->entries(tenant, f);
    EXPECT_TRUE(e.has_value());
    return e ? *e : std::vector<audit::Entry>{};
  }

  std::vector<StoredRecommendation> recs(const std::string& key,
                                         std::optional<std::string> status = std::nullopt) {
    auto r = engine_->recommendations("ten_a", key, status);
    EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().detail);
    return r ? *r : std::vector<StoredRecommendation>{};
  }

  Decision decision(const std::string& id) {
    auto d = dec_->get("ten_a", id);
    EXPECT_TRUE(d.has_value()) << id;
    return d ? *d : Decision{};
  }

  int64_t now() const { return clock_.now_ms(); }

  TempDir dir_;
  ManualClock clock_{TimePoint(std::chrono::milliseconds(kStart))};
  MetricsRegistry metrics_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<audit::Signer> signer_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<Decisions> dec_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(GuardEngineTest, BruteForceBansTheKeyAndTheIp) {
  IngestReport rep = ingest(brute_force("key_a", "198.51.100.77", now()));
  EXPECT_EQ(rep.stats.records, 150);
  EXPECT_EQ(rep.stats.rejected, 0);
  EXPECT_EQ(rep.detections, 1);
  EXPECT_EQ(rep.actions, 1);

  auto evs = events("key_a");
  ASSERT_EQ(evs.size(), 1u);
  const SuspiciousEvent& ev = evs[0];
  EXPECT_EQ(ev.type, "brute_force");
  EXPECT_EQ(ev.severity, "critical");
  EXPECT_EQ(ev.action_taken, "tempban");
  EXPECT_EQ(ev.tenant_id, "ten_a");
  EXPECT_GE(ev.anomaly_score, 0.7);
  EXPECT_LT(ev.anomaly_score, 0.9);
  EXPECT_EQ(ev.detected_at, now());
  EXPECT_EQ(ev.event_time_ms, now());
  ASSERT_EQ(ev.decision_ids.size(), 2u);

  std::map<Scope, Decision> by_scope;
  for (const auto& id : ev.decision_ids) {
    Decision d = decision(id);
    by_scope[d.scope] = d;
    EXPECT_EQ(d.type, "ban");
    EXPECT_EQ(d.origin, "sira");
    EXPECT_EQ(d.scenario, "sira/brute_force");
    EXPECT_EQ(d.event_id, ev.id);
    ASSERT_TRUE(d.expires_at.has_value());
    EXPECT_EQ(*d.expires_at - d.created_at, 3600 * 1000);  // tempban_seconds * 2^0
  }
  ASSERT_EQ(by_scope.count(Scope::kKey), 1u);
  ASSERT_EQ(by_scope.count(Scope::kIp), 1u);
  EXPECT_EQ(by_scope[Scope::kKey].value, "key_a");
  EXPECT_EQ(by_scope[Scope::kIp].value, "198.51.100.77");
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "").action, "ban");
  EXPECT_EQ(dec_->lookup("ten_a", "other_key", "198.51.100.77").action, "ban");
  EXPECT_EQ(dec_->active("ten_a").size(), 2u);

  auto det = audit_entries("guard.detection");
  ASSERT_EQ(det.size(), 1u);
  EXPECT_EQ(det[0].target_type, "suspicious_event");
  EXPECT_EQ(det[0].target_id, ev.id);
  EXPECT_EQ(det[0].actor, "sira-guard");
  EXPECT_EQ(audit_entries("decision.create").size(), 2u);

  auto open = recs("key_a", "open");
  std::set<std::string> types;
  for (const auto& r : open) {
    types.insert(r.type);
    EXPECT_EQ(r.event_id, ev.id);
    EXPECT_EQ(r.triggered_by, "suspicious_event");
  }
  EXPECT_EQ(types, (std::set<std::string>{"rotate_key", "review_auth_flow", "enable_mfa"}));
  // A neighbour key with ordinary traffic is untouched.
  EXPECT_TRUE(events("key_b").empty());
}

TEST_F(GuardEngineTest, NoSecondEventWithinTheCooldown) {
  ingest(brute_force("key_a", "198.51.100.77", now()));
  ASSERT_EQ(events("key_a").size(), 1u);
  clock_.advance(2min);
  IngestReport rep = ingest(brute_force("key_a", "198.51.100.77", now(), 100, 2 * kMinute));
  EXPECT_EQ(rep.stats.records, 100);
  EXPECT_EQ(rep.detections, 0);
  EXPECT_EQ(rep.actions, 0);
  clock_.advance(5min);
  rep = ingest(brute_force("key_a", "198.51.100.77", now(), 60, 5 * kMinute));
  EXPECT_EQ(rep.detections, 0);
  EXPECT_EQ(events("key_a").size(), 1u);
  EXPECT_EQ(audit_entries("guard.detection").size(), 1u);
  EXPECT_EQ(dec_->active("ten_a").size(), 2u);
}

TEST_F(GuardEngineTest, RecommendOnlyModeActsOnNothing) {
  GuardConfig c;
  c.auto_action = false;
  make_engine(c);
  IngestReport rep = ingest(brute_force("key_a", "198.51.100.77", now()));
  EXPECT_EQ(rep.detections, 1);
  EXPECT_EQ(rep.actions, 0);
  auto evs = events("key_a");
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].action_taken, "recommended:tempban");
  EXPECT_TRUE(evs[0].decision_ids.empty());
  EXPECT_TRUE(dec_->active("ten_a").empty());
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "198.51.100.77").action, "allow");
  EXPECT_TRUE(audit_entries("decision.create").empty());
  EXPECT_EQ(audit_entries("guard.detection").size(), 1u);
  EXPECT_FALSE(recs("key_a", "open").empty());
}

TEST_F(GuardEngineTest, AllowlistedKeyIsNotActedOn) {
  ASSERT_TRUE(dec_->allow("ten_a", "tok_admin", Scope::kKey, "key_a", "load test").has_value());
  IngestReport rep = ingest(brute_force("key_a", "198.51.100.77", now()));
  EXPECT_EQ(rep.detections, 1);
  auto evs = events("key_a");
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].action_taken, "allowlisted");
  EXPECT_TRUE(evs[0].decision_ids.empty());
  EXPECT_TRUE(dec_->active("ten_a").empty());
}

TEST_F(GuardEngineTest, AllowlistedIpIsNotBannedWithTheKey) {
  ASSERT_TRUE(
      dec_->allow("ten_a", "tok_admin", Scope::kRange, "198.51.100.0/24", "office").has_value());
  ingest(brute_force("key_a", "198.51.100.77", now()));
  auto evs = events("key_a");
  ASSERT_EQ(evs.size(), 1u);
  EXPECT_EQ(evs[0].action_taken, "tempban");
  ASSERT_EQ(evs[0].decision_ids.size(), 1u);
  EXPECT_EQ(decision(evs[0].decision_ids[0]).scope, Scope::kKey);
}

TEST_F(GuardEngineTest, RepeatOffenderGetsALongerBan) {
  ingest(brute_force("key_a", "198.51.100.77", now()));
  auto first = events("key_a");
  ASSERT_EQ(first.size(), 1u);
  // The first ban (1 h) expires and the cooldown (15 min of event time) passes.
  clock_.advance(2h);
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "").action, "allow");
  IngestReport rep = ingest(brute_force("key_a", "198.51.100.77", now()));
  EXPECT_EQ(rep.detections, 1);
  auto evs = events("key_a");
  ASSERT_EQ(evs.size(), 2u);
  const SuspiciousEvent& second = evs[0];  // newest first
  EXPECT_NE(second.id, first[0].id);
  EXPECT_EQ(second.type, "brute_force");
  EXPECT_EQ(second.action_taken, "tempban");
  ASSERT_EQ(second.decision_ids.size(), 2u);
  for (const auto& id : second.decision_ids) {
    Decision d = decision(id);
    ASSERT_TRUE(d.expires_at.has_value());
    // base * 2 ^ offences with one earlier decision on the key.
    EXPECT_EQ(*d.expires_at - d.created_at, 7200 * 1000) << scope_name(d.scope);
  }
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "").expires_at, now() + 2 * kHour);
}

TEST_F(GuardEngineTest, BanDurationIsCappedAndConfigurable) {
  GuardConfig c;
  c.ban_duration_expr = "base * 10 ^ offences";
  c.max_ban_seconds = 5 * 3600;
  make_engine(c);
  ingest(brute_force("key_a", "198.51.100.77", now()));
  clock_.advance(2h);
  ingest(brute_force("key_a", "198.51.100.77", now()));
  auto evs = events("key_a");
  ASSERT_EQ(evs.size(), 2u);
  ASSERT_FALSE(evs[0].decision_ids.empty());
  Decision d = decision(evs[0].decision_ids[0]);
  EXPECT_EQ(*d.expires_at - d.created_at, 5 * kHour);  // 36000 s capped at 5 h
}

TEST_F(GuardEngineTest, RejectsRecordsFromTheFuture) {
  Rec ok;
  ok.ts = now() - 1000;
  Rec future = ok;
  future.ts = now() + kDay;
  Rec near = ok;
  near.ts = now() + 4 * kMinute;  // within the 5-minute tolerance
  IngestReport rep = ingest(line(ok) + line(future) + line(near));
  EXPECT_EQ(rep.stats.lines, 3);
  EXPECT_EQ(rep.stats.records, 2);
  EXPECT_EQ(rep.stats.rejected, 1);
  EXPECT_EQ(rep.stats.reasons["timestamp in the future"], 1);
  ASSERT_EQ(rep.rejects.size(), 1u);
  EXPECT_EQ(rep.rejects[0].first, 2);
  EXPECT_EQ(rep.rejects[0].second, "timestamp in the future");
  // Line numbers follow first_line for chunked input, and malformed lines keep their reason.
  IngestReport chunk = ingest(line(ok) + "{not json}\n" + line(future), "ten_a", 101);
  ASSERT_EQ(chunk.rejects.size(), 2u);
  std::map<int64_t, std::string> by_line(chunk.rejects.begin(), chunk.rejects.end());
  EXPECT_EQ(by_line[102], "invalid json");
  EXPECT_EQ(by_line[103], "timestamp in the future");
  EXPECT_EQ(chunk.stats.records, 1);
}

TEST_F(GuardEngineTest, DebugPackIsAnonymised) {
  std::string data;
  for (int i = 0; i < 5; ++i) {
    Rec r;
    r.ts = now() - 10 * kMinute + i * kMinute;
    r.key = "key_dbg";
    r.ip = "198.51.100.77";
    r.path = "/v1/users/john.doe@example.com";
    r.query = "token=supersecret123&page=2";
    r.user_agent = "client/1.0 Bearer abcdefghijkl";
    r.trace_id = "0123456789abcdef0123456789abcdef";
    r.status = 200 + i;
    data += line(r);
  }
  Rec other;
  other.ts = now() - kMinute;
  other.key = "key_other";
  other.ip = "203.0.113.50";
  data += line(other);
  ingest(data);

  DebugPackRequest req;
  req.key_id = "key_dbg";
  req.title = "checkout failures";
  req.start_ms = now() - kHour;
  req.end_ms = now() + kMinute;
  auto pack = engine_->create_debug_pack("ten_a", "tok_admin", req);
  ASSERT_TRUE(pack.has_value()) << pack.error().detail;
  EXPECT_EQ(pack->access_token.rfind("debug_", 0), 0u);
  EXPECT_NE(pack->share_url.find(pack->access_token), std::string::npos);
  EXPECT_EQ(pack->expires_at, now() + 7 * kDay);

  auto body = engine_->open_debug_pack(pack->access_token, "203.0.113.9");
  ASSERT_TRUE(body.has_value()) << body.error().detail;
  for (const char* secret :
       {"198.51.100.77", "john.doe", "supersecret123", "abcdefghijkl", "203.0.113.50", "key_other"})
    EXPECT_EQ(body->find(secret), std::string::npos) << secret << " leaked: " << *body;
  boost::system::error_code ec;
  bj::value v = bj::parse(*body, ec);
  ASSERT_FALSE(ec) << *body;
  const bj::object& o = v.as_object();
  EXPECT_EQ(o.at("packId").as_string(), pack->pack_id);
  EXPECT_EQ(o.at("keyId").as_string(), "key_dbg");
  EXPECT_EQ(o.at("title").as_string(), "checkout failures");
  EXPECT_TRUE(o.at("anonymised").as_bool());
  const bj::array& logs = o.at("logs").as_array();
  ASSERT_EQ(logs.size(), 5u);
  for (const auto& l : logs) {
    EXPECT_EQ(l.at("ip").as_string(), "198.51.100.0");
    EXPECT_EQ(l.at("path").as_string(), "/v1/users/***@***");
    EXPECT_EQ(l.at("query").as_string(), "token=[redacted]&page=2");
    EXPECT_EQ(l.at("userAgent").as_string(), "client/1.0 Bearer [redacted]");
  }
  EXPECT_EQ(o.at("traces").as_array().size(), 5u);
  EXPECT_TRUE(o.at("metrics").is_array());
  EXPECT_TRUE(o.at("suspiciousEvents").as_array().empty());

  auto created = audit_entries("debug_pack.create");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].target_id, pack->pack_id);
  EXPECT_EQ(created[0].actor, "tok_admin");
  EXPECT_EQ(created[0].details_json.find(pack->access_token), std::string::npos);
  auto access = audit_entries("debug_pack.access");
  ASSERT_EQ(access.size(), 1u);
  EXPECT_EQ(access[0].target_id, pack->pack_id);
  EXPECT_NE(access[0].details_json.find("203.0.113.0"), std::string::npos);
  EXPECT_EQ(access[0].details_json.find("203.0.113.9"), std::string::npos);

  // The link works until its TTL, then answers Gone (and the refusal is audited too).
  clock_.advance(std::chrono::milliseconds(7 * kDay - 1));
  EXPECT_TRUE(engine_->open_debug_pack(pack->access_token, "203.0.113.9").has_value());
  clock_.advance(1ms);
  auto gone = engine_->open_debug_pack(pack->access_token, "203.0.113.9");
  ASSERT_FALSE(gone.has_value());
  EXPECT_EQ(gone.error().code, ErrorCode::kGone);
  EXPECT_EQ(audit_entries("debug_pack.access").size(), 2u);
  EXPECT_EQ(audit_entries("debug_pack.access_expired").size(), 1u);
}

TEST_F(GuardEngineTest, DebugPackLookupAndValidation) {
  EXPECT_EQ(
      engine_->open_debug_pack("debug_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "192.0.2.1").error().code,
      ErrorCode::kNotFound);
  EXPECT_EQ(engine_->open_debug_pack("short", "192.0.2.1").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(engine_->open_debug_pack("", "192.0.2.1").error().code, ErrorCode::kNotFound);

  DebugPackRequest req;
  req.key_id = "key_a";
  req.start_ms = now() - kHour;
  req.end_ms = now();
  DebugPackRequest bad = req;
  bad.end_ms = bad.start_ms - 1;
  auto r = engine_->create_debug_pack("ten_a", "tok_admin", bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().field, "endTime");
  bad.end_ms = bad.start_ms;
  EXPECT_EQ(engine_->create_debug_pack("ten_a", "tok_admin", bad).error().code,
            ErrorCode::kInvalidArgument);
  bad = req;
  bad.start_ms = req.end_ms - 7 * kDay - 1;
  r = engine_->create_debug_pack("ten_a", "tok_admin", bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().field, "endTime");
  bad = req;
  bad.key_id.clear();
  r = engine_->create_debug_pack("ten_a", "tok_admin", bad);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(r.error().field, "keyId");
  EXPECT_TRUE(audit_entries("debug_pack.create").empty());
  // Exactly seven days is allowed, and a key without traffic gives an empty pack.
  bad = req;
  bad.start_ms = req.end_ms - 7 * kDay;
  auto ok = engine_->create_debug_pack("ten_a", "tok_admin", bad);
  ASSERT_TRUE(ok.has_value());
  auto body = engine_->open_debug_pack(ok->access_token, "192.0.2.1");
  ASSERT_TRUE(body.has_value());
  EXPECT_TRUE(bj::parse(*body).as_object().at("logs").as_array().empty());
  EXPECT_TRUE(audit_entries("debug_pack.access_expired").empty());
}

TEST_F(GuardEngineTest, RotateKeyRecommendationByAge) {
  Rec r;
  r.ts = now() - 1000;
  r.key = "key_old";
  ingest(line(r) + line(r));
  EXPECT_TRUE(recs("key_old").empty());
  clock_.advance(std::chrono::hours(24 * 90));  // 90 days: not strictly older than the limit
  EXPECT_TRUE(recs("key_old").empty());
  clock_.advance(std::chrono::hours(24));
  auto list = recs("key_old");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].type, "rotate_key");
  EXPECT_EQ(list[0].triggered_by, "age_check");
  EXPECT_EQ(list[0].status, "open");
  EXPECT_EQ(list[0].key_id, "key_old");
  EXPECT_EQ(recs("key_old").size(), 1u);  // asked again: still one
  EXPECT_TRUE(recs("key_unknown").empty());

  // Status changes are validated and audited.
  auto bad = engine_->set_recommendation_status("ten_a", "tok_ops", list[0].id, "done");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  EXPECT_EQ(bad.error().field, "status");
  EXPECT_EQ(
      engine_->set_recommendation_status("ten_a", "tok_ops", "rec_nope", "accepted").error().code,
      ErrorCode::kNotFound);
  EXPECT_EQ(
      engine_->set_recommendation_status("ten_b", "tok_ops", list[0].id, "accepted").error().code,
      ErrorCode::kNotFound);
  auto accepted = engine_->set_recommendation_status("ten_a", "tok_ops", list[0].id, "accepted");
  ASSERT_TRUE(accepted.has_value());
  EXPECT_EQ(accepted->status, "accepted");
  EXPECT_EQ(accepted->updated_at, now());
  auto audited = audit_entries("recommendation.accepted");
  ASSERT_EQ(audited.size(), 1u);
  EXPECT_EQ(audited[0].target_id, list[0].id);
  EXPECT_EQ(audited[0].actor, "tok_ops");
  EXPECT_NE(audited[0].details_json.find("\"previous_status\":\"open\""), std::string::npos);
  EXPECT_TRUE(recs("key_old", "open").empty());
  EXPECT_EQ(recs("key_old", "accepted").size(), 1u);
  // Accepted recently: no new rotate_key until another rotation period has passed.
  clock_.advance(std::chrono::hours(24 * 10));
  EXPECT_EQ(recs("key_old").size(), 1u);
  ASSERT_TRUE(
      engine_->set_recommendation_status("ten_a", "tok_ops", list[0].id, "dismissed").has_value());
  EXPECT_EQ(audit_entries("recommendation.dismissed").size(), 1u);
}

TEST_F(GuardEngineTest, TenantsAreSeparate) {
  ingest(brute_force("key_a", "198.51.100.77", now()), "ten_b");
  EXPECT_TRUE(events("key_a", "ten_a").empty());
  EXPECT_EQ(events("key_a", "ten_b").size(), 1u);
  EXPECT_TRUE(dec_->active("ten_a").empty());
  EXPECT_EQ(dec_->active("ten_b").size(), 2u);
  EXPECT_TRUE(audit_entries("guard.detection", "ten_a").empty());
  // Tenant A's own brute force on the same key id is a first offence there.
  ingest(brute_force("key_a", "198.51.100.77", now()), "ten_a");
  auto evs = events("key_a", "ten_a");
  ASSERT_EQ(evs.size(), 1u);
  ASSERT_FALSE(evs[0].decision_ids.empty());
  Decision d = decision(evs[0].decision_ids[0]);
  EXPECT_EQ(*d.expires_at - d.created_at, kHour);
}

// Background traffic over many keys: one request per key per `step_ms`, starting at `start_ms`.
std::string many_keys(int first, int count, int64_t start_ms, const std::string& prefix = "k") {
  std::string out;
  for (int i = 0; i < count; ++i) {
    Rec r;
    r.ts = start_ms + i % 1000;
    r.key = prefix + std::to_string(first + i);
    r.status = 200;
    r.path = "/v1/payments";
    out += line(r);
  }
  return out;
}

TEST_F(GuardEngineTest, RollupsSurviveARestart) {
  ingest(brute_force("key_a", "198.51.100.77", now(), 150));
  ingest(many_keys(0, 300, now() - 10 * kMinute));
  ASSERT_TRUE(engine_->flush().has_value());
  auto before = engine_->metrics("ten_a", "key_a", "1h");
  ASSERT_TRUE(before.has_value());
  // A new engine over the same store (a restart) answers from the snapshots.
  make_engine(GuardConfig{});
  EXPECT_EQ(engine_->tracked_keys(), 0u);
  auto after = engine_->metrics("ten_a", "key_a", "1h");
  ASSERT_TRUE(after.has_value()) << after.error().detail;
  ASSERT_EQ(after->size(), before->size());
  int64_t requests = 0;
  for (size_t i = 0; i < after->size(); ++i) {
    EXPECT_EQ((*after)[i].requests, (*before)[i].requests);
    requests += (*after)[i].requests;
  }
  EXPECT_EQ(requests, 150);
  EXPECT_EQ(engine_->tracked_keys(), 301u);
  auto summary = engine_->summary("ten_a", "k7");
  ASSERT_TRUE(summary.has_value() && summary->has_value());
  EXPECT_EQ((*summary)->requests, 1);
  // Traffic after the restart adds to the restored windows.
  ingest(many_keys(7, 1, now() - 5 * kMinute));
  summary = engine_->summary("ten_a", "k7");
  EXPECT_EQ((*summary)->requests, 2);
}

TEST_F(GuardEngineTest, MemoryBudgetEvictsLeastRecentlySeenKeysToTheStore) {
  GuardConfig c;
  c.memory_budget_bytes = 2 << 20;
  make_engine(c);
  // A flood of distinct keys, far more than 2 MiB of rollups.
  const int kKeys = 40000;
  for (int chunk = 0; chunk < kKeys; chunk += 5000)
    ingest(many_keys(chunk, 5000, now() - 30 * kMinute));
  EXPECT_LE(engine_->memory_bytes(), c.memory_budget_bytes);
  EXPECT_LT(engine_->tracked_keys(), static_cast<size_t>(kKeys));
  EXPECT_GT(engine_->tracked_keys(), 0u);
  EXPECT_NE(metrics_.render().find("sira_guard_rollups_evicted_total"), std::string::npos);
  // An evicted key comes back from the store with its history when it is seen again.
  ingest(many_keys(0, 1, now() - 20 * kMinute));
  auto summary = engine_->summary("ten_a", "k0");
  ASSERT_TRUE(summary.has_value() && summary->has_value());
  EXPECT_EQ((*summary)->requests, 2);
  // And a query for an evicted key reads it back too.
  summary = engine_->summary("ten_a", "k1");
  ASSERT_TRUE(summary.has_value() && summary->has_value());
  EXPECT_EQ((*summary)->requests, 1);
  EXPECT_LE(engine_->memory_bytes(), c.memory_budget_bytes);
}

TEST_F(GuardEngineTest, DailyPointsOutliveTheDayRingUntilTheRetention) {
  GuardConfig c;
  c.metrics_retention_days = 90;
  make_engine(c);
  ingest(many_keys(0, 1, now() - 1000));
  ASSERT_TRUE(engine_->flush().has_value());
  auto points = engine_->metrics("ten_a", "k0", "90d");
  ASSERT_TRUE(points.has_value());
  ASSERT_EQ(points->size(), 1u);
  EXPECT_EQ((*points)[0].requests, 1);
  auto bad = engine_->metrics("ten_a", "k0", "2y");
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidArgument);
  // 91 days later the daily point and the idle key's snapshot are purged.
  auto n = engine_->purge(now() + 91 * kDay);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 2);
  make_engine(c);
  EXPECT_FALSE(engine_->metrics("ten_a", "k0", "90d").has_value());
}

TEST_F(GuardEngineTest, SpansAreStoredForTheTraceRetention) {
  GuardConfig c;
  c.traces_retention_days = 7;
  make_engine(c);
  Rec r;
  r.ts = now() - kMinute;
  r.key = "key_tr";
  r.trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
  r.path = "/v1/users/jane@example.com";
  ingest(line(r));
  // A restart: the ring of recent records is gone, the span is not.
  make_engine(c);
  DebugPackRequest req;
  req.key_id = "key_tr";
  req.start_ms = now() - kHour;
  req.end_ms = now();
  auto pack = engine_->create_debug_pack("ten_a", "tok_admin", req);
  ASSERT_TRUE(pack.has_value()) << pack.error().detail;
  auto bundle = engine_->open_debug_pack(pack->access_token, "127.0.0.1");
  ASSERT_TRUE(bundle.has_value());
  bj::value v = bj::parse(*bundle);
  const auto& traces = v.at("traces").as_array();
  ASSERT_EQ(traces.size(), 1u);
  EXPECT_EQ(traces[0].at("traceId").as_string(), r.trace_id);
  EXPECT_EQ(bundle->find("jane@example.com"), std::string::npos);
  // Eight days later the span is purged.
  auto n = engine_->purge(now() + 8 * kDay);
  ASSERT_TRUE(n.has_value());
  EXPECT_EQ(*n, 1);
}

}  // namespace
}  // namespace sira::guard
