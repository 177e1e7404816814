// Unit tests of src/guard/decisions over a real SQLite file: IP range parsing and matching,
// verdicts, supersede rules, expiry by moving a ManualClock, allowlist, audit entries,
// persistence across restarts, tenant isolation, bouncers and the CrowdSec stream.
#include "guard/decisions.h"

#include <gtest/gtest.h>

#include <map>
#include <thread>

#include <algorithm>
#include <set>

#include "../test_util.h"
#include "core/ids.h"
#include "core/metrics.h"
#include "store/migrations.h"
#include "store/sqlite.h"

namespace sira::guard {
namespace {

using namespace std::chrono_literals;
using testing_util::TempDir;

constexpr int64_t kStart = 1760000000000;
constexpr int64_t kHour = 3600 * 1000;

IpRange range_of(std::string_view text) {
  IpRange r;
  EXPECT_TRUE(r.parse(text)) << text;
  return r;
}

bool range_contains(std::string_view range, std::string_view addr) {
  return range_of(range).contains(range_of(addr));
}

NewDecision make(Scope scope, std::string value, std::string type = "ban",
                 std::optional<int64_t> duration_ms = kHour, int64_t rate = 0) {
  NewDecision d;
  d.scope = scope;
  d.value = std::move(value);
  d.type = std::move(type);
  d.duration_ms = duration_ms;
  d.rate_per_minute = rate;
  d.reason = "test";
  return d;
}

std::set<std::string> ids_of(const std::vector<Decision>& ds) {
  std::set<std::string> out;
  for (const auto& d : ds) out.insert(d.id);
  return out;
}

std::vector<std::string> values_of(const std::vector<Decision>& ds) {
  std::vector<std::string> out;
  for (const auto& d : ds) out.push_back(d.value);
  return out;
}

// ---- IpRange ----

TEST(GuardDecisionsIpRange, ParsesIpv4IntoTheMappedForm) {
  IpRange r = range_of("1.2.3.4");
  EXPECT_EQ(r.prefix, 128);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(r.bytes[i], 0) << i;
  EXPECT_EQ(r.bytes[10], 0xff);
  EXPECT_EQ(r.bytes[11], 0xff);
  EXPECT_EQ(r.bytes[12], 1);
  EXPECT_EQ(r.bytes[13], 2);
  EXPECT_EQ(r.bytes[14], 3);
  EXPECT_EQ(r.bytes[15], 4);
  EXPECT_EQ(range_of("10.0.0.0/8").prefix, 96 + 8);
  EXPECT_EQ(range_of("2001:db8::/32").prefix, 32);
  EXPECT_EQ(range_of("2001:db8::1").prefix, 128);
}

TEST(GuardDecisionsIpRange, Ipv4Cidr) {
  EXPECT_TRUE(range_contains("10.0.0.0/8", "10.0.0.0"));
  EXPECT_TRUE(range_contains("10.0.0.0/8", "10.255.255.255"));
  EXPECT_TRUE(range_contains("10.0.0.0/8", "10.1.2.3"));
  EXPECT_FALSE(range_contains("10.0.0.0/8", "11.0.0.1"));
  EXPECT_FALSE(range_contains("10.0.0.0/8", "9.255.255.255"));
  EXPECT_TRUE(range_contains("1.2.3.4/32", "1.2.3.4"));
  EXPECT_FALSE(range_contains("1.2.3.4/32", "1.2.3.5"));
  EXPECT_TRUE(range_contains("1.2.3.4", "1.2.3.4"));
  EXPECT_FALSE(range_contains("1.2.3.4", "1.2.3.5"));
  EXPECT_TRUE(range_contains("192.168.1.128/25", "192.168.1.200"));
  EXPECT_FALSE(range_contains("192.168.1.128/25", "192.168.1.127"));
  // /0 over IPv4 is the whole IPv4 space, not the IPv6 one.
  EXPECT_TRUE(range_contains("0.0.0.0/0", "8.8.8.8"));
  EXPECT_TRUE(range_contains("0.0.0.0/0", "255.255.255.255"));
  EXPECT_FALSE(range_contains("0.0.0.0/0", "2001:db8::1"));
  // Host bits are zeroed, so a sloppy network address still means the same range.
  IpRange a = range_of("10.1.2.3/8"), b = range_of("10.0.0.0/8");
  EXPECT_EQ(a.prefix, b.prefix);
  EXPECT_TRUE(std::equal(std::begin(a.bytes), std::end(a.bytes), std::begin(b.bytes)));
}

TEST(GuardDecisionsIpRange, Ipv6Cidr) {
  EXPECT_TRUE(range_contains("::/0", "2001:db8::1"));
  EXPECT_TRUE(range_contains("::/0", "::1"));
  EXPECT_TRUE(range_contains("::/0", "1.2.3.4"));  // every address, IPv4 included
  EXPECT_TRUE(range_contains("2001:db8::/32", "2001:db8:ffff:1::9"));
  EXPECT_FALSE(range_contains("2001:db8::/32", "2001:db9::1"));
  EXPECT_TRUE(range_contains("2001:db8::1/128", "2001:db8::1"));
  EXPECT_FALSE(range_contains("2001:db8::1/128", "2001:db8::2"));
  EXPECT_TRUE(range_contains("2001:db8:abcd::/48", "2001:db8:abcd:12::1"));
  EXPECT_FALSE(range_contains("2001:db8:abcd::/48", "2001:db8:abce::1"));
  EXPECT_TRUE(range_contains("fe80::/10", "febf::1"));
  EXPECT_FALSE(range_contains("fe80::/10", "fec0::1"));
}

TEST(GuardDecisionsIpRange, Ipv4AgainstIpv4Mapped) {
  IpRange v4 = range_of("1.2.3.4"), mapped = range_of("::ffff:1.2.3.4");
  EXPECT_EQ(v4.prefix, mapped.prefix);
  EXPECT_TRUE(std::equal(std::begin(v4.bytes), std::end(v4.bytes), std::begin(mapped.bytes)));
  EXPECT_TRUE(range_contains("1.2.3.0/24", "::ffff:1.2.3.4"));
  EXPECT_TRUE(range_contains("::ffff:0:0/96", "1.2.3.4"));
  EXPECT_TRUE(range_contains("::ffff:1.2.3.0/120", "1.2.3.99"));
  // The IPv4-compatible form (::a.b.c.d) is another address.
  EXPECT_FALSE(range_contains("1.2.3.0/24", "::1.2.3.4"));
  EXPECT_FALSE(range_contains("::1.2.3.4", "1.2.3.4"));
}

TEST(GuardDecisionsIpRange, RejectsBadInput) {
  for (const char* bad :
       {"1.2.3", "1.2.3.4/33", "::1/129", "abc", "10.0.0.0/x", "", "/8", "1.2.3.4/", "1.2.3.256",
        "1.2.3.4/-1", "1.2.3.4/ 8", "1.2.3.4/8/9", "1.2.3.4/0008", " 1.2.3.4", "1.2.3.4 ",
        "2001:db8::g", "1:2:3:4:5:6:7:8:9", "10.0.0.0/8x"}) {
    IpRange r;
    EXPECT_FALSE(r.parse(bad)) << "'" << bad << "'";
  }
  IpRange r;
  EXPECT_TRUE(r.parse("1.2.3.4/0"));
  EXPECT_TRUE(r.parse("1.2.3.4/32"));
  EXPECT_TRUE(r.parse("::/128"));
}

TEST(GuardDecisionsScope, NamesRoundTrip) {
  for (Scope s : {Scope::kKey, Scope::kIp, Scope::kRange}) EXPECT_EQ(parse_scope(scope_name(s)), s);
  EXPECT_EQ(parse_scope("Ip"), Scope::kIp);
  EXPECT_EQ(parse_scope("Range"), Scope::kRange);
  EXPECT_FALSE(parse_scope("country").has_value());
}

// ---- Decisions over SQLite ----

class GuardDecisionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions o;
    o.path = dir_.file("guard.db");
    o.synchronous = "normal";
    db_ = std::move(*store::open_sqlite(o));
    auto migrations = audit::AuditLog::migrations();
    for (auto& m : Decisions::migrations()) migrations.push_back(m);
    ASSERT_TRUE(store::migrate(*db_, migrations, 0).has_value());
    signer_ = std::make_unique<audit::Signer>(
        std::move(*audit::Signer::load_or_create(dir_.file("key.pem"))));
    audit_ = std::make_unique<audit::AuditLog>(*db_, *signer_, clock_, metrics_);
    ASSERT_TRUE(audit_->open().has_value());
    dec_ = std::make_unique<Decisions>(*db_, *audit_, clock_);
    ASSERT_TRUE(dec_->load().has_value());
  }

  Decision add_ok(const NewDecision& d, const std::string& tenant = "ten_a") {
    auto r = dec_->add(tenant, "tok_admin", d);
    EXPECT_TRUE(r.has_value()) << d.value << ": " << (r ? "" : r.error().detail);
    return r ? *r : Decision{};
  }

  ErrorCode add_error(const NewDecision& d, std::string* field = nullptr) {
    auto r = dec_->add("ten_a", "tok_admin", d);
    EXPECT_FALSE(r.has_value()) << d.value << " was accepted";
    if (r) return ErrorCode::kInternal;
    if (field) *field = r.error().field;
    return r.error().code;
  }

  std::vector<audit::Entry> audit_entries(const std::string& tenant, const std::string& action) {
    audit::EntryFilter f;
    f.action = action;
    f.limit = 1000;
    auto e = audit_->entries(tenant, f);
    EXPECT_TRUE(e.has_value());
    return e ? *e : std::vector<audit::Entry>{};
  }

  int64_t now() const { return clock_.now_ms(); }

  TempDir dir_;
  ManualClock clock_{TimePoint(std::chrono::milliseconds(kStart))};
  MetricsRegistry metrics_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<audit::Signer> signer_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<Decisions> dec_;
};

TEST_F(GuardDecisionsTest, KeyBanVerdict) {
  Decision d = add_ok(make(Scope::kKey, "key_a"));
  EXPECT_TRUE(is_valid_id(d.id, "dec")) << d.id;
  EXPECT_GT(d.seq, 0);
  EXPECT_EQ(d.tenant_id, "ten_a");
  EXPECT_EQ(d.created_at, now());
  ASSERT_TRUE(d.expires_at.has_value());
  EXPECT_EQ(*d.expires_at, now() + kHour);
  Verdict v = dec_->lookup("ten_a", "key_a", "");
  EXPECT_EQ(v.action, "ban");
  EXPECT_FALSE(v.allowlisted);
  ASSERT_EQ(v.matched.size(), 1u);
  EXPECT_EQ(v.matched[0].id, d.id);
  EXPECT_EQ(v.expires_at, d.expires_at);
  EXPECT_EQ(dec_->lookup("ten_a", "key_b", "").action, "allow");
  // A key decision says nothing about an IP that happens to spell the same.
  EXPECT_EQ(dec_->lookup("ten_a", "", "key_a").action, "allow");
  auto got = dec_->get("ten_a", d.id);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->value, "key_a");
  EXPECT_EQ(got->scope, Scope::kKey);
  EXPECT_EQ(got->seq, d.seq);
  EXPECT_FALSE(got->deleted_at.has_value());
}

TEST_F(GuardDecisionsTest, IpBanVerdict) {
  Decision d = add_ok(make(Scope::kIp, "203.0.113.7"));
  EXPECT_EQ(dec_->lookup("ten_a", "", "203.0.113.7").action, "ban");
  EXPECT_EQ(dec_->lookup("ten_a", "any_key", "203.0.113.7").action, "ban");
  EXPECT_EQ(dec_->lookup("ten_a", "", "::ffff:203.0.113.7").action, "ban");
  EXPECT_EQ(dec_->lookup("ten_a", "", "203.0.113.8").action, "allow");
  EXPECT_EQ(dec_->lookup("ten_a", "", "not-an-ip").action, "allow");
  // A CIDR is not a client address.
  EXPECT_EQ(dec_->lookup("ten_a", "", "203.0.113.7/32").action, "allow");

  Decision v6 = add_ok(make(Scope::kIp, "2001:db8::42"));
  EXPECT_EQ(dec_->lookup("ten_a", "", "2001:db8::42").action, "ban");
  EXPECT_EQ(dec_->lookup("ten_a", "", "2001:db8:0:0:0:0:0:42").action, "ban");
  EXPECT_EQ(dec_->lookup("ten_a", "", "2001:db8::43").action, "allow");
  EXPECT_NE(d.seq, v6.seq);
}

TEST_F(GuardDecisionsTest, RangeContainingTheIp) {
  Decision r = add_ok(make(Scope::kRange, "198.51.100.0/24", "throttle", kHour, 30));
  Verdict v = dec_->lookup("ten_a", "", "198.51.100.77");
  EXPECT_EQ(v.action, "throttle");
  EXPECT_EQ(v.rate_per_minute, 30);
  ASSERT_EQ(v.matched.size(), 1u);
  EXPECT_EQ(v.matched[0].id, r.id);
  EXPECT_EQ(dec_->lookup("ten_a", "", "198.51.101.1").action, "allow");

  add_ok(make(Scope::kRange, "2001:db8:beef::/48"));
  EXPECT_EQ(dec_->lookup("ten_a", "", "2001:db8:beef:1::2").action, "ban");
  EXPECT_EQ(dec_->lookup("ten_a", "", "2001:db8:bef0::2").action, "allow");
}

TEST_F(GuardDecisionsTest, BanBeatsThrottle) {
  add_ok(make(Scope::kKey, "key_a", "throttle", kHour, 10));
  Decision ban = add_ok(make(Scope::kIp, "192.0.2.1", "ban", 2 * kHour));
  Verdict v = dec_->lookup("ten_a", "key_a", "192.0.2.1");
  EXPECT_EQ(v.action, "ban");
  EXPECT_EQ(v.rate_per_minute, 0);
  EXPECT_EQ(v.matched.size(), 2u);
  EXPECT_EQ(v.expires_at, ban.expires_at);
  // Order of the matches does not matter: a throttle on the IP, a ban on the key.
  add_ok(make(Scope::kKey, "key_b", "ban"));
  add_ok(make(Scope::kIp, "192.0.2.2", "throttle", kHour, 5));
  Verdict w = dec_->lookup("ten_a", "key_b", "192.0.2.2");
  EXPECT_EQ(w.action, "ban");
  EXPECT_EQ(w.rate_per_minute, 0);
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "").action, "throttle");
}

TEST_F(GuardDecisionsTest, LowestThrottleRateWins) {
  add_ok(make(Scope::kKey, "key_a", "throttle", kHour, 50));
  Decision slow = add_ok(make(Scope::kIp, "192.0.2.9", "throttle", 3 * kHour, 5));
  add_ok(make(Scope::kRange, "192.0.2.0/24", "throttle", 2 * kHour, 20));
  Verdict v = dec_->lookup("ten_a", "key_a", "192.0.2.9");
  EXPECT_EQ(v.action, "throttle");
  EXPECT_EQ(v.rate_per_minute, 5);
  EXPECT_EQ(v.matched.size(), 3u);
  EXPECT_EQ(v.expires_at, slow.expires_at);
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "192.0.2.10").rate_per_minute, 20);
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "").rate_per_minute, 50);
}

TEST_F(GuardDecisionsTest, LongestBanDecidesTheExpiry) {
  add_ok(make(Scope::kKey, "key_a", "ban", kHour));
  Decision longer = add_ok(make(Scope::kIp, "192.0.2.1", "ban", 5 * kHour));
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "192.0.2.1").expires_at, longer.expires_at);
  add_ok(make(Scope::kRange, "192.0.2.0/24", "ban", std::nullopt));
  EXPECT_FALSE(dec_->lookup("ten_a", "key_a", "192.0.2.1").expires_at.has_value());
}

TEST_F(GuardDecisionsTest, ExpiryByMovingTheClock) {
  Decision d = add_ok(make(Scope::kIp, "192.0.2.1", "ban", 10'000));
  Decision k = add_ok(make(Scope::kKey, "key_a", "throttle", 10'000, 3));
  ASSERT_EQ(dec_->active("ten_a").size(), 2u);
  clock_.advance(9999ms);
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "192.0.2.1").action, "ban");
  clock_.advance(1ms);  // now == expires_at: no longer active
  EXPECT_EQ(dec_->lookup("ten_a", "", "192.0.2.1").action, "allow");
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "").action, "allow");
  EXPECT_TRUE(dec_->lookup("ten_a", "key_a", "192.0.2.1").matched.empty());
  EXPECT_TRUE(dec_->active("ten_a").empty());
  EXPECT_TRUE(dec_->sweep_expired().has_value());
  EXPECT_TRUE(dec_->active("ten_a").empty());
  // An expired decision cannot be removed and no longer blocks a new one.
  EXPECT_EQ(dec_->remove("ten_a", "tok_admin", d.id).error().code, ErrorCode::kNotFound);
  Decision again = add_ok(make(Scope::kIp, "192.0.2.1", "throttle", kHour, 10));
  EXPECT_EQ(dec_->lookup("ten_a", "", "192.0.2.1").action, "throttle");
  EXPECT_NE(again.id, d.id);
  EXPECT_NE(k.id, d.id);
}

TEST_F(GuardDecisionsTest, PermanentDecisionsNeverExpire) {
  Decision d = add_ok(make(Scope::kIp, "192.0.2.1", "ban", std::nullopt));
  EXPECT_FALSE(d.expires_at.has_value());
  clock_.advance(std::chrono::hours(24 * 365 * 20));
  EXPECT_EQ(dec_->lookup("ten_a", "", "192.0.2.1").action, "ban");
  EXPECT_EQ(dec_->active("ten_a").size(), 1u);
}

TEST_F(GuardDecisionsTest, Remove) {
  Decision d = add_ok(make(Scope::kIp, "192.0.2.1"));
  Decision r = add_ok(make(Scope::kRange, "10.0.0.0/8"));
  clock_.advance(1s);
  ASSERT_TRUE(dec_->remove("ten_a", "tok_admin", d.id).has_value());
  EXPECT_EQ(dec_->lookup("ten_a", "", "192.0.2.1").action, "allow");
  EXPECT_EQ(ids_of(dec_->active("ten_a")), std::set<std::string>{r.id});
  auto got = dec_->get("ten_a", d.id);
  ASSERT_TRUE(got.has_value());
  ASSERT_TRUE(got->deleted_at.has_value());
  EXPECT_EQ(*got->deleted_at, now());
  EXPECT_EQ(dec_->remove("ten_a", "tok_admin", d.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(dec_->remove("ten_a", "tok_admin", "dec_nope").error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(dec_->remove("ten_a", "tok_admin", r.id).has_value());
  EXPECT_EQ(dec_->lookup("ten_a", "", "10.1.1.1").action, "allow");
  EXPECT_TRUE(dec_->active("ten_a").empty());
  EXPECT_EQ(audit_entries("ten_a", "decision.delete").size(), 2u);
}

TEST_F(GuardDecisionsTest, WeakerOrShorterIsRefused) {
  Decision ban = add_ok(make(Scope::kIp, "192.0.2.1", "ban", 2 * kHour));
  clock_.advance(1s);
  EXPECT_EQ(add_error(make(Scope::kIp, "192.0.2.1", "throttle", 3 * kHour, 10)),
            ErrorCode::kConflict);  // weaker, even though longer
  EXPECT_EQ(add_error(make(Scope::kIp, "192.0.2.1", "ban", kHour)), ErrorCode::kConflict);
  EXPECT_EQ(add_error(make(Scope::kIp, "192.0.2.1", "throttle", std::nullopt, 10)),
            ErrorCode::kConflict);
  ASSERT_EQ(dec_->active("ten_a").size(), 1u);
  EXPECT_EQ(dec_->active("ten_a")[0].id, ban.id);
  EXPECT_EQ(audit_entries("ten_a", "decision.create").size(), 1u);

  Decision perm = add_ok(make(Scope::kKey, "key_a", "ban", std::nullopt));
  EXPECT_EQ(add_error(make(Scope::kKey, "key_a", "ban", 10 * kHour)), ErrorCode::kConflict);
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "").matched.size(), 1u);
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "").matched[0].id, perm.id);
}

TEST_F(GuardDecisionsTest, StrongerOrLongerReplaces) {
  Decision first = add_ok(make(Scope::kIp, "192.0.2.1", "ban", kHour));
  clock_.advance(1s);
  Decision longer = add_ok(make(Scope::kIp, "192.0.2.1", "ban", 2 * kHour));
  auto act = dec_->active("ten_a");
  ASSERT_EQ(act.size(), 1u);
  EXPECT_EQ(act[0].id, longer.id);
  auto old = dec_->get("ten_a", first.id);
  ASSERT_TRUE(old.has_value());
  EXPECT_TRUE(old->deleted_at.has_value());
  Verdict v = dec_->lookup("ten_a", "", "192.0.2.1");
  ASSERT_EQ(v.matched.size(), 1u);
  EXPECT_EQ(v.matched[0].id, longer.id);
  auto sup = audit_entries("ten_a", "decision.supersede");
  ASSERT_EQ(sup.size(), 1u);
  EXPECT_EQ(sup[0].target_id, first.id);
  EXPECT_NE(sup[0].details_json.find(longer.id), std::string::npos);

  // A throttle becomes a ban of the same length (created later, so it also ends later).
  Decision thr = add_ok(make(Scope::kKey, "key_a", "throttle", kHour, 10));
  clock_.advance(1s);
  Decision ban = add_ok(make(Scope::kKey, "key_a", "ban", kHour));
  auto on_key = dec_->lookup("ten_a", "key_a", "");
  EXPECT_EQ(on_key.action, "ban");
  ASSERT_EQ(on_key.matched.size(), 1u);
  EXPECT_EQ(on_key.matched[0].id, ban.id);
  EXPECT_TRUE(dec_->get("ten_a", thr.id)->deleted_at.has_value());

  // A permanent ban replaces a temporary one.
  Decision perm = add_ok(make(Scope::kKey, "key_a", "ban", std::nullopt));
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "").matched.size(), 1u);
  EXPECT_EQ(dec_->lookup("ten_a", "key_a", "").matched[0].id, perm.id);
  EXPECT_EQ(dec_->active("ten_a").size(), 2u);  // the IP ban and the key ban
}

TEST_F(GuardDecisionsTest, ValidationErrors) {
  std::string field;
  EXPECT_EQ(add_error(make(Scope::kIp, "192.0.2.1/32"), &field), ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "value");
  EXPECT_EQ(add_error(make(Scope::kRange, "10.0.0.0"), &field), ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "value");
  EXPECT_EQ(add_error(make(Scope::kIp, "abc"), &field), ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "value");
  EXPECT_EQ(add_error(make(Scope::kRange, "10.0.0.0/40"), &field), ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "value");
  EXPECT_EQ(add_error(make(Scope::kKey, "key_a", "throttle", kHour, 0), &field),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "rate_per_minute");
  EXPECT_EQ(add_error(make(Scope::kKey, "key_a", "throttle", kHour, -5), &field),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "rate_per_minute");
  EXPECT_EQ(add_error(make(Scope::kKey, "key_a", "block"), &field), ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "type");
  EXPECT_EQ(add_error(make(Scope::kKey, "key_a", ""), &field), ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "type");
  EXPECT_EQ(add_error(make(Scope::kKey, ""), &field), ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "value");
  EXPECT_EQ(add_error(make(Scope::kIp, ""), &field), ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "value");
  EXPECT_EQ(add_error(make(Scope::kKey, std::string(257, 'k')), &field),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "value");
  EXPECT_EQ(add_error(make(Scope::kKey, "key_a", "ban", 999), &field), ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "duration");
  EXPECT_EQ(add_error(make(Scope::kKey, "key_a", "ban", 0), &field), ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "duration");
  EXPECT_EQ(add_error(make(Scope::kKey, "key_a", "ban", -kHour), &field),
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(field, "duration");
  // Nothing was written by the refused calls.
  EXPECT_TRUE(dec_->active("ten_a").empty());
  EXPECT_TRUE(audit_entries("ten_a", "decision.create").empty());
  // The boundaries themselves are accepted.
  Decision one_second = add_ok(make(Scope::kKey, "key_a", "ban", 1000));
  EXPECT_EQ(*one_second.expires_at, now() + 1000);
  add_ok(make(Scope::kKey, std::string(256, 'k'), "throttle", kHour, 1));
  // A throttle stores its rate; a ban stores none.
  Decision b = add_ok(make(Scope::kKey, "key_c", "ban", kHour, 77));
  EXPECT_EQ(b.rate_per_minute, 0);
}

TEST_F(GuardDecisionsTest, AllowlistWinsAndRefusesDecisions) {
  // Decisions made before the allowlist entry stop applying once it exists.
  add_ok(make(Scope::kIp, "203.0.113.5"));
  add_ok(make(Scope::kKey, "key_vip_old"));
  auto k = dec_->allow("ten_a", "tok_admin", Scope::kKey, "key_vip", "partner");
  auto ip = dec_->allow("ten_a", "tok_admin", Scope::kIp, "192.0.2.10", "office");
  auto cidr = dec_->allow("ten_a", "tok_admin", Scope::kRange, "10.0.0.0/8", "internal");
  auto later = dec_->allow("ten_a", "tok_admin", Scope::kRange, "203.0.113.0/24", "cdn");
  ASSERT_TRUE(k && ip && cidr && later);
  EXPECT_EQ(dec_->allowlist("ten_a").size(), 4u);

  Verdict v = dec_->lookup("ten_a", "", "203.0.113.5");
  EXPECT_EQ(v.action, "allow");
  EXPECT_TRUE(v.allowlisted);
  EXPECT_TRUE(dec_->allowlisted("ten_a", "key_vip", ""));
  EXPECT_TRUE(dec_->allowlisted("ten_a", "", "10.200.3.4"));
  EXPECT_TRUE(dec_->allowlisted("ten_a", "", "192.0.2.10"));
  EXPECT_FALSE(dec_->allowlisted("ten_a", "", "192.0.2.11"));
  EXPECT_FALSE(dec_->allowlisted("ten_a", "key_other", ""));
  // The allowlisted key wins over a ban on the IP it comes from.
  add_ok(make(Scope::kIp, "198.51.100.1"));
  EXPECT_EQ(dec_->lookup("ten_a", "key_vip", "198.51.100.1").action, "allow");
  EXPECT_TRUE(dec_->lookup("ten_a", "key_vip", "198.51.100.1").allowlisted);
  EXPECT_EQ(dec_->lookup("ten_a", "key_x", "198.51.100.1").action, "ban");

  EXPECT_EQ(add_error(make(Scope::kKey, "key_vip")), ErrorCode::kConflict);
  EXPECT_EQ(add_error(make(Scope::kIp, "192.0.2.10")), ErrorCode::kConflict);
  EXPECT_EQ(add_error(make(Scope::kIp, "10.1.2.3")), ErrorCode::kConflict);
  EXPECT_EQ(add_error(make(Scope::kRange, "10.20.0.0/16")), ErrorCode::kConflict);
  EXPECT_EQ(add_error(make(Scope::kIp, "::ffff:10.1.2.3")), ErrorCode::kConflict);
  add_ok(make(Scope::kIp, "192.0.2.11"));

  // Allowlist input is validated; duplicates conflict.
  EXPECT_EQ(dec_->allow("ten_a", "tok_admin", Scope::kIp, "not-an-ip", "").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(dec_->allow("ten_a", "tok_admin", Scope::kKey, "", "").error().code,
            ErrorCode::kInvalidArgument);
  EXPECT_EQ(dec_->allow("ten_a", "tok_admin", Scope::kKey, "key_vip", "again").error().code,
            ErrorCode::kConflict);

  // Removing the entry restores the decisions it was hiding.
  ASSERT_TRUE(dec_->unallow("ten_a", "tok_admin", later->id).has_value());
  EXPECT_EQ(dec_->lookup("ten_a", "", "203.0.113.5").action, "ban");
  ASSERT_TRUE(dec_->unallow("ten_a", "tok_admin", k->id).has_value());
  EXPECT_FALSE(dec_->allowlisted("ten_a", "key_vip", ""));
  add_ok(make(Scope::kKey, "key_vip"));
  EXPECT_EQ(dec_->lookup("ten_a", "key_vip", "").action, "ban");
  EXPECT_EQ(dec_->unallow("ten_a", "tok_admin", k->id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(dec_->allowlist("ten_a").size(), 2u);
}

TEST_F(GuardDecisionsTest, EveryMutationIsAudited) {
  Decision d = add_ok(make(Scope::kIp, "192.0.2.1"));
  ASSERT_TRUE(dec_->remove("ten_a", "tok_ops", d.id).has_value());
  auto a = dec_->allow("ten_a", "tok_ops", Scope::kKey, "key_vip", "partner");
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(dec_->unallow("ten_a", "tok_ops", a->id).has_value());
  auto b = dec_->add_bouncer("ten_a", "tok_ops", "edge-fw");
  ASSERT_TRUE(b.has_value());
  ASSERT_TRUE(dec_->delete_bouncer("ten_a", "tok_ops", b->first.id).has_value());

  auto created = audit_entries("ten_a", "decision.create");
  ASSERT_EQ(created.size(), 1u);
  EXPECT_EQ(created[0].actor, "tok_admin");
  EXPECT_EQ(created[0].target_type, "decision");
  EXPECT_EQ(created[0].target_id, d.id);
  EXPECT_NE(created[0].details_json.find("192.0.2.1"), std::string::npos);
  auto deleted = audit_entries("ten_a", "decision.delete");
  ASSERT_EQ(deleted.size(), 1u);
  EXPECT_EQ(deleted[0].actor, "tok_ops");
  EXPECT_EQ(deleted[0].target_id, d.id);
  auto added = audit_entries("ten_a", "allowlist.add");
  ASSERT_EQ(added.size(), 1u);
  EXPECT_EQ(added[0].target_id, a->id);
  EXPECT_NE(added[0].details_json.find("key_vip"), std::string::npos);
  EXPECT_EQ(audit_entries("ten_a", "allowlist.remove").size(), 1u);
  auto bc = audit_entries("ten_a", "bouncer.create");
  ASSERT_EQ(bc.size(), 1u);
  EXPECT_EQ(bc[0].target_id, b->first.id);
  // The bouncer's secret never reaches the log.
  EXPECT_EQ(bc[0].details_json.find(b->second), std::string::npos);
  EXPECT_EQ(audit_entries("ten_a", "bouncer.delete").size(), 1u);
  EXPECT_EQ(audit_->latest_head("ten_a")->tree_size, 6);
  // Failed mutations leave no entry.
  EXPECT_EQ(dec_->remove("ten_a", "tok_ops", d.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(audit_->latest_head("ten_a")->tree_size, 6);
}

TEST_F(GuardDecisionsTest, AddInFollowsTheCallersTransaction) {
  {
    auto tx = *db_->begin(store::TxKind::kWrite);
    ASSERT_TRUE(dec_->add_in(*tx, "ten_a", "tok_admin", make(Scope::kIp, "192.0.2.1")));
    ASSERT_TRUE(dec_->add_in(*tx, "ten_a", "tok_admin", make(Scope::kIp, "192.0.2.2")));
    // Not visible before the commit.
    EXPECT_EQ(dec_->lookup("ten_a", "", "192.0.2.1").action, "allow");
  }  // rolled back
  EXPECT_TRUE(dec_->active("ten_a").empty());
  EXPECT_EQ(audit_->latest_head("ten_a").has_value() ? audit_->latest_head("ten_a")->tree_size : 0,
            0);
  auto tx = *db_->begin(store::TxKind::kWrite);
  ASSERT_TRUE(dec_->add_in(*tx, "ten_a", "tok_admin", make(Scope::kIp, "192.0.2.1")));
  ASSERT_TRUE(tx->commit().has_value());
  EXPECT_EQ(dec_->lookup("ten_a", "", "192.0.2.1").action, "ban");
  EXPECT_EQ(audit_entries("ten_a", "decision.create").size(), 1u);
}

TEST_F(GuardDecisionsTest, PersistsAcrossRestart) {
  Decision perm = add_ok(make(Scope::kIp, "192.0.2.1", "ban", std::nullopt));
  Decision day = add_ok(make(Scope::kRange, "198.51.100.0/24", "ban", 24 * kHour));
  Decision brief = add_ok(make(Scope::kIp, "192.0.2.2", "ban", 10 * 60 * 1000));
  Decision gone = add_ok(make(Scope::kIp, "192.0.2.3", "ban", kHour));
  Decision thr = add_ok(make(Scope::kKey, "key_a", "throttle", 24 * kHour, 12));
  Decision b_only = add_ok(make(Scope::kKey, "key_b", "ban", kHour), "ten_b");
  ASSERT_TRUE(dec_->remove("ten_a", "tok_admin", gone.id).has_value());
  ASSERT_TRUE(dec_->allow("ten_a", "tok_admin", Scope::kRange, "10.0.0.0/8", "lan").has_value());
  clock_.advance(std::chrono::minutes(20));  // `brief` expires

  Decisions reopened(*db_, *audit_, clock_);
  ASSERT_TRUE(reopened.load().has_value());
  EXPECT_EQ(ids_of(reopened.active("ten_a")), (std::set<std::string>{perm.id, day.id, thr.id}));
  EXPECT_EQ(ids_of(reopened.active("ten_b")), std::set<std::string>{b_only.id});
  EXPECT_EQ(reopened.lookup("ten_a", "", "192.0.2.1").action, "ban");
  EXPECT_EQ(reopened.lookup("ten_a", "", "198.51.100.9").action, "ban");
  EXPECT_EQ(reopened.lookup("ten_a", "", "192.0.2.2").action, "allow");
  EXPECT_EQ(reopened.lookup("ten_a", "", "192.0.2.3").action, "allow");
  Verdict t = reopened.lookup("ten_a", "key_a", "");
  EXPECT_EQ(t.action, "throttle");
  EXPECT_EQ(t.rate_per_minute, 12);
  EXPECT_EQ(t.expires_at, thr.expires_at);
  ASSERT_EQ(reopened.allowlist("ten_a").size(), 1u);
  EXPECT_TRUE(reopened.allowlisted("ten_a", "", "10.9.9.9"));
  EXPECT_EQ(reopened.lookup("ten_b", "key_b", "").action, "ban");
  // The fields round-trip through the store.
  auto active = reopened.active("ten_a");
  auto it =
      std::find_if(active.begin(), active.end(), [&](const Decision& d) { return d.id == day.id; });
  ASSERT_NE(it, active.end());
  EXPECT_EQ(it->seq, day.seq);
  EXPECT_EQ(it->scope, Scope::kRange);
  EXPECT_EQ(it->value, "198.51.100.0/24");
  EXPECT_EQ(it->created_at, day.created_at);
  EXPECT_EQ(it->expires_at, day.expires_at);
  EXPECT_EQ(it->reason, "test");
  EXPECT_EQ(it->origin, "manual");
  // Supersede rules still apply after the restart.
  NewDecision weaker = make(Scope::kIp, "192.0.2.1", "throttle", kHour, 10);
  EXPECT_EQ(reopened.add("ten_a", "tok_admin", weaker).error().code, ErrorCode::kConflict);
}

TEST_F(GuardDecisionsTest, TenantsAreIsolated) {
  Decision ip = add_ok(make(Scope::kIp, "192.0.2.1"), "ten_a");
  Decision key = add_ok(make(Scope::kKey, "key_shared"), "ten_a");
  ASSERT_TRUE(dec_->allow("ten_a", "tok_admin", Scope::kIp, "198.51.100.7", "").has_value());

  EXPECT_EQ(dec_->lookup("ten_b", "key_shared", "192.0.2.1").action, "allow");
  EXPECT_TRUE(dec_->active("ten_b").empty());
  EXPECT_EQ(dec_->get("ten_b", ip.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(dec_->remove("ten_b", "tok_b", key.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(dec_->lookup("ten_a", "key_shared", "").action, "ban");
  EXPECT_TRUE(dec_->allowlist("ten_b").empty());
  EXPECT_FALSE(dec_->allowlisted("ten_b", "", "198.51.100.7"));
  // B's own decisions on the same values are independent of A's.
  Decision b_ip = add_ok(make(Scope::kIp, "198.51.100.7", "throttle", kHour, 5), "ten_b");
  add_ok(make(Scope::kIp, "192.0.2.1", "throttle", kHour, 5), "ten_b");  // no conflict with A's ban
  EXPECT_EQ(dec_->lookup("ten_b", "", "192.0.2.1").action, "throttle");
  EXPECT_EQ(dec_->lookup("ten_a", "", "192.0.2.1").action, "ban");
  EXPECT_EQ(dec_->lookup("ten_a", "", "198.51.100.7").action, "allow");
  EXPECT_EQ(dec_->get("ten_a", b_ip.id).error().code, ErrorCode::kNotFound);
  // Each tenant's entries land in its own audit log.
  EXPECT_EQ(audit_entries("ten_a", "decision.create").size(), 2u);
  EXPECT_EQ(audit_entries("ten_b", "decision.create").size(), 2u);
  // A bouncer of B sees none of A's decisions.
  auto bb = dec_->add_bouncer("ten_b", "tok_b", "fw-b");
  ASSERT_TRUE(bb.has_value());
  auto s = dec_->stream(bb->first, true);
  ASSERT_TRUE(s.has_value());
  for (const auto& d : s->added) EXPECT_EQ(d.tenant_id, "ten_b");
  EXPECT_EQ(s->added.size(), 2u);
  auto ba = dec_->bouncers("ten_a");
  ASSERT_TRUE(ba.has_value());
  EXPECT_TRUE(ba->empty());
  EXPECT_EQ(dec_->delete_bouncer("ten_a", "tok_admin", bb->first.id).error().code,
            ErrorCode::kNotFound);
}

TEST_F(GuardDecisionsTest, BouncerKeys) {
  EXPECT_EQ(dec_->add_bouncer("ten_a", "tok_admin", "").error().code, ErrorCode::kInvalidArgument);
  auto b = dec_->add_bouncer("ten_a", "tok_admin", "edge-fw");
  ASSERT_TRUE(b.has_value());
  const auto& [bouncer, secret] = *b;
  EXPECT_EQ(bouncer.name, "edge-fw");
  EXPECT_EQ(bouncer.tenant_id, "ten_a");
  EXPECT_GE(secret.size(), 32u);
  EXPECT_EQ(secret.find_first_not_of("0123456789abcdefABCDEF"), std::string::npos);
  auto other = dec_->add_bouncer("ten_a", "tok_admin", "edge-fw-2");
  ASSERT_TRUE(other.has_value());
  EXPECT_NE(other->second, secret);

  auto auth = dec_->authenticate_bouncer(secret);
  ASSERT_TRUE(auth.has_value());
  EXPECT_EQ(auth->id, bouncer.id);
  EXPECT_EQ(auth->tenant_id, "ten_a");
  EXPECT_EQ(auth->name, "edge-fw");
  std::string wrong = secret;
  wrong[0] = wrong[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(dec_->authenticate_bouncer(wrong).error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(dec_->authenticate_bouncer("").error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(dec_->authenticate_bouncer(std::string(500, 'a')).error().code,
            ErrorCode::kUnauthorized);
  auto list = dec_->bouncers("ten_a");
  ASSERT_TRUE(list.has_value());
  EXPECT_EQ(list->size(), 2u);

  ASSERT_TRUE(dec_->delete_bouncer("ten_a", "tok_admin", bouncer.id).has_value());
  EXPECT_EQ(dec_->authenticate_bouncer(secret).error().code, ErrorCode::kUnauthorized);
  EXPECT_TRUE(dec_->authenticate_bouncer(other->second).has_value());
  EXPECT_EQ(dec_->bouncers("ten_a")->size(), 1u);
  EXPECT_EQ(dec_->delete_bouncer("ten_a", "tok_admin", bouncer.id).error().code,
            ErrorCode::kNotFound);
}

TEST_F(GuardDecisionsTest, StreamStartupThenDeltas) {
  Decision ip1 = add_ok(make(Scope::kIp, "192.0.2.1", "ban", std::nullopt));
  Decision range1 = add_ok(make(Scope::kRange, "198.51.100.0/24", "ban", kHour));
  Decision key1 = add_ok(make(Scope::kKey, "key_a", "ban", kHour));
  Decision ip2 = add_ok(make(Scope::kIp, "192.0.2.2", "ban", 30'000));
  Decision ip3 = add_ok(make(Scope::kIp, "2001:db8::3", "throttle", kHour, 10));
  add_ok(make(Scope::kIp, "192.0.2.99"), "ten_b");
  clock_.advance(1s);
  auto b = dec_->add_bouncer("ten_a", "tok_admin", "fw");
  ASSERT_TRUE(b.has_value());
  const Bouncer bouncer = b->first;

  auto s1 = dec_->stream(bouncer, true);
  ASSERT_TRUE(s1.has_value());
  EXPECT_EQ(values_of(s1->added),
            (std::vector<std::string>{"192.0.2.1", "198.51.100.0/24", "192.0.2.2", "2001:db8::3"}));
  EXPECT_TRUE(s1->deleted.empty());
  for (size_t i = 1; i < s1->added.size(); ++i) EXPECT_LT(s1->added[i - 1].seq, s1->added[i].seq);
  EXPECT_EQ(ids_of(s1->added).count(key1.id), 0u);
  EXPECT_EQ(dec_->bouncers("ten_a")->at(0).last_pull_at, now());

  // Between pulls: one decision created (and a key one, not for bouncers), one removed.
  clock_.advance(500ms);
  Decision ip4 = add_ok(make(Scope::kIp, "192.0.2.4", "ban", kHour));
  add_ok(make(Scope::kKey, "key_b", "ban", kHour));
  ASSERT_TRUE(dec_->remove("ten_a", "tok_admin", ip3.id).has_value());
  clock_.advance(500ms);
  auto s2 = dec_->stream(bouncer, false);
  ASSERT_TRUE(s2.has_value());
  EXPECT_EQ(ids_of(s2->added), std::set<std::string>{ip4.id});
  EXPECT_EQ(ids_of(s2->deleted), std::set<std::string>{ip3.id});

  clock_.advance(1s);
  auto s3 = dec_->stream(bouncer, false);
  ASSERT_TRUE(s3.has_value());
  EXPECT_TRUE(s3->added.empty());
  EXPECT_TRUE(s3->deleted.empty());

  // ip2 expires (30 s after creation): the next pull lists it as deleted, once.
  clock_.advance(30s);
  auto s4 = dec_->stream(bouncer, false);
  ASSERT_TRUE(s4.has_value());
  EXPECT_TRUE(s4->added.empty());
  EXPECT_EQ(ids_of(s4->deleted), std::set<std::string>{ip2.id});
  clock_.advance(1s);
  auto s5 = dec_->stream(bouncer, false);
  ASSERT_TRUE(s5.has_value());
  EXPECT_TRUE(s5->deleted.empty());

  // A supersede reports the old decision deleted and the new one added.
  clock_.advance(1s);
  Decision longer = add_ok(make(Scope::kRange, "198.51.100.0/24", "ban", 5 * kHour));
  clock_.advance(1s);
  auto s6 = dec_->stream(bouncer, false);
  ASSERT_TRUE(s6.has_value());
  EXPECT_EQ(ids_of(s6->added), std::set<std::string>{longer.id});
  EXPECT_EQ(ids_of(s6->deleted), std::set<std::string>{range1.id});

  // A restart of the bouncer gets the full active list again.
  auto again = dec_->stream(bouncer, true);
  ASSERT_TRUE(again.has_value());
  EXPECT_EQ(ids_of(again->added), (std::set<std::string>{ip1.id, ip4.id, longer.id}));
  EXPECT_TRUE(again->deleted.empty());
}

// Two writers (the engine and an operator, two operators) adding a decision on the same value
// must leave one active decision: the later one supersedes or is refused. The store releases its
// write lock before running after-commit hooks, so another writer can begin in between; the hook
// registered here runs in exactly that window, as a second thread would.
TEST_F(GuardDecisionsTest, ConcurrentWritersOnOneValueLeaveOneActive) {
  // Memory follows each commit before the next writer starts (after-commit hooks run inside the
  // write serialisation), so racing adds on one key always end with one active decision.
  constexpr int kKeys = 100;
  for (int k = 0; k < kKeys; ++k) {
    std::string key = "key_race_" + std::to_string(k);
    std::thread a([&] { (void)dec_->add("ten_a", "tok_engine", make(Scope::kKey, key, "ban", kHour)); });
    std::thread b([&] { (void)dec_->add("ten_a", "tok_admin", make(Scope::kKey, key, "ban", 2 * kHour)); });
    a.join();
    b.join();
  }
  std::map<std::string, int> active;
  for (const auto& d : dec_->active("ten_a")) ++active[d.value];
  ASSERT_EQ(active.size(), static_cast<size_t>(kKeys));
  for (const auto& [value, n] : active) EXPECT_EQ(n, 1) << value;
  // The store agrees with memory.
  auto tx = *db_->begin(store::TxKind::kRead);
  auto rows = *tx->query("SELECT value, COUNT(*) FROM guard_decisions WHERE deleted_at IS NULL "
                         "AND value LIKE 'key_race_%' GROUP BY value");
  ASSERT_EQ(rows.size(), static_cast<size_t>(kKeys));
  for (const auto& r : rows) EXPECT_EQ(r.i64(1), 1) << r.str(0);
}

TEST_F(GuardDecisionsTest, FirstPullWithoutStartupIsAFullList) {
  Decision a = add_ok(make(Scope::kIp, "192.0.2.1", "ban", 2 * kHour));
  Decision b = add_ok(make(Scope::kRange, "10.0.0.0/8", "ban", 2 * kHour));
  add_ok(make(Scope::kIp, "192.0.2.2", "ban", 1000));  // expires before the pull
  clock_.advance(1h);
  auto bc = dec_->add_bouncer("ten_a", "tok_admin", "fw");
  ASSERT_TRUE(bc.has_value());
  clock_.advance(1s);
  // Created long before its first pull: a never-pulled bouncer still needs them.
  auto s = dec_->stream(bc->first, false);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(ids_of(s->added), (std::set<std::string>{a.id, b.id}));
  EXPECT_TRUE(s->deleted.empty());
}

}  // namespace
}  // namespace sira::guard
