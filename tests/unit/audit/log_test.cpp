// Unit tests of the audit log over a real SQLite file: transactional appends, signed heads,
// proofs, and detection of every kind of tampering made behind the log's back.
#include "audit/log.h"

#include <gtest/gtest.h>

#include "../test_util.h"
#include "store/migrations.h"
#include "store/sqlite.h"

namespace sira::audit {
namespace {

using testing_util::TempDir;

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions o;
    o.path = dir_.file("audit.db");
    db_ = std::move(*store::open_sqlite(o));
    ASSERT_TRUE(store::migrate(*db_, AuditLog::migrations(), 0).has_value());
    signer_ = std::make_unique<Signer>(std::move(*Signer::load_or_create(dir_.file("key.pem"))));
    log_ = std::make_unique<AuditLog>(*db_, *signer_, clock_, metrics_);
    ASSERT_TRUE(log_->open().has_value());
  }

  void append_n(const std::string& tenant, int n, int per_tx = 1) {
    for (int i = 0; i < n; i += per_tx) {
      auto tx = *db_->begin(store::TxKind::kWrite);
      for (int k = 0; k < per_tx && i + k < n; ++k)
        ASSERT_TRUE(log_->append(*tx, tenant,
                                 {"tok_x", "user.create", "user", "usr_" + std::to_string(i + k),
                                  "{\"n\":" + std::to_string(i + k) + "}"}));
      ASSERT_TRUE(tx->commit());
      clock_.advance(std::chrono::milliseconds(5));
    }
  }

  void sql(const std::string& statement) {
    auto tx = *db_->begin(store::TxKind::kWrite);
    ASSERT_TRUE(db_->exec_script(*tx, statement).has_value()) << statement;
    ASSERT_TRUE(tx->commit());
  }

  VerifyReport offline(const std::string& tenant) {
    auto reps = verify_store(*db_, signer_->public_key_raw(), tenant);
    EXPECT_TRUE(reps.has_value());
    return reps->at(0);
  }

  TempDir dir_;
  ManualClock clock_{TimePoint(std::chrono::milliseconds(1760000000000))};
  MetricsRegistry metrics_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<Signer> signer_;
  std::unique_ptr<AuditLog> log_;
};

TEST_F(AuditLogTest, CommittedAppendsAreSignedAndProvable) {
  append_n("ten_a", 10, 3);
  auto head = log_->latest_head("ten_a");
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->tree_size, 10);
  EXPECT_TRUE(verify_ed25519(signer_->public_key_raw(), tree_head_message(*head), head->signature));
  for (int64_t i = 0; i < 10; ++i) {
    auto proof = log_->inclusion_proof("ten_a", i, 10);
    ASSERT_TRUE(proof.has_value());
    EXPECT_TRUE(verify_inclusion(*log_->leaf_at("ten_a", i), i, 10, *proof, head->root));
  }
  auto c = log_->consistency_proof("ten_a", 4, 10);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(verify_consistency(4, 10, *log_->root_at("ten_a", 4), head->root, *c));
  EXPECT_TRUE(offline("ten_a").ok);
  EXPECT_FALSE(log_->inclusion_proof("ten_a", 10, 10).has_value());
  EXPECT_FALSE(log_->inclusion_proof("ten_a", 0, 11).has_value());
}

TEST_F(AuditLogTest, RolledBackAppendLeavesNoTrace) {
  append_n("ten_a", 3);
  {
    auto tx = *db_->begin(store::TxKind::kWrite);
    ASSERT_TRUE(log_->append(*tx, "ten_a", {"tok_x", "user.delete", "user", "usr_9", "{}"}));
    // No commit: the change and its entry disappear together.
  }
  EXPECT_EQ(log_->latest_head("ten_a")->tree_size, 3);
  append_n("ten_a", 1);
  EXPECT_EQ(log_->latest_head("ten_a")->tree_size, 4);
  auto entries = log_->entries("ten_a", EntryFilter{});
  ASSERT_EQ(entries->size(), 4u);
  EXPECT_EQ(entries->back().action, "user.create");
  EXPECT_TRUE(offline("ten_a").ok);
}

TEST_F(AuditLogTest, TenantsHaveSeparateLogs) {
  append_n("ten_a", 5);
  append_n("ten_b", 2);
  EXPECT_EQ(log_->latest_head("ten_a")->tree_size, 5);
  EXPECT_EQ(log_->latest_head("ten_b")->tree_size, 2);
  EXPECT_EQ(log_->entries("ten_b", EntryFilter{})->size(), 2u);
  EXPECT_NE(log_->latest_head("ten_a")->root, log_->latest_head("ten_b")->root);
}

TEST_F(AuditLogTest, FiltersAndCursor) {
  append_n("ten_a", 6);
  EntryFilter f;
  f.target_id = "usr_3";
  auto e = log_->entries("ten_a", f);
  ASSERT_EQ(e->size(), 1u);
  EXPECT_EQ(e->at(0).index, 3);
  EntryFilter page;
  page.after_index = 3;
  page.limit = 10;
  EXPECT_EQ(log_->entries("ten_a", page)->size(), 2u);
  EntryFilter window;
  window.since_ms = 1760000000000 + 10;
  window.until_ms = 1760000000000 + 20;
  EXPECT_EQ(log_->entries("ten_a", window)->size(), 2u);  // entries 2 and 3
}

struct Tamper {
  const char* name;
  const char* sql;
  int64_t first_bad;
};

class AuditTamperTest : public AuditLogTest, public ::testing::WithParamInterface<Tamper> {};

TEST_P(AuditTamperTest, DetectedFrozenAndAcknowledged) {
  append_n("ten_a", 6, 2);
  append_n("ten_b", 2);
  sql(GetParam().sql);
  VerifyReport off = offline("ten_a");
  EXPECT_FALSE(off.ok);
  EXPECT_EQ(off.first_bad_index, GetParam().first_bad) << off.reason;
  EXPECT_TRUE(offline("ten_b").ok);

  auto rep = log_->reverify("ten_a");
  ASSERT_TRUE(rep.has_value());
  EXPECT_FALSE(rep->ok);
  EXPECT_TRUE(log_->frozen("ten_a"));
  EXPECT_FALSE(log_->frozen("ten_b"));
  EXPECT_EQ(metrics_.counter("audit_chain_integrity_failed_total", "").value(), 1);
  {
    auto tx = *db_->begin(store::TxKind::kWrite);
    auto st = log_->append(*tx, "ten_a", {"tok_x", "user.create", "user", "usr_z", "{}"});
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kAuditFrozen);
  }
  append_n("ten_b", 1);  // other tenants keep working

  ASSERT_TRUE(log_->acknowledge("ten_a", "tok_admin", "investigated INC-1").has_value());
  EXPECT_FALSE(log_->frozen("ten_a"));
  EXPECT_TRUE(offline("ten_a").ok) << offline("ten_a").reason;
  EntryFilter f;
  f.action = "audit.integrity_acknowledged";
  auto acks = log_->entries("ten_a", f);
  ASSERT_EQ(acks->size(), 1u);
  EXPECT_NE(acks->at(0).details_json.find("investigated INC-1"), std::string::npos);
  append_n("ten_a", 1);
  EXPECT_TRUE(offline("ten_a").ok);
  EXPECT_TRUE(log_->reverify("ten_a")->ok);
}

INSTANTIATE_TEST_SUITE_P(
    Kinds, AuditTamperTest,
    ::testing::Values(
        Tamper{"altered", "UPDATE audit_entries SET details='{\"n\":99}' WHERE tenant_id='ten_a' AND idx=2", 2},
        Tamper{"deleted", "DELETE FROM audit_entries WHERE tenant_id='ten_a' AND idx=1", 1},
        Tamper{"deleted_tail", "DELETE FROM audit_entries WHERE tenant_id='ten_a' AND idx=5", 5},
        Tamper{"inserted",
               "INSERT INTO audit_entries SELECT tenant_id, 6, time_ms, actor, action, target_type,"
               " target_id, details, leaf_hash FROM audit_entries WHERE tenant_id='ten_a' AND idx=5",
               6},
        Tamper{"reordered",
               "UPDATE audit_entries SET idx=100 WHERE tenant_id='ten_a' AND idx=1;"
               "UPDATE audit_entries SET idx=1 WHERE tenant_id='ten_a' AND idx=2;"
               "UPDATE audit_entries SET idx=2 WHERE tenant_id='ten_a' AND idx=100;",
               1}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(AuditLogTest, RewrittenEntriesWithRecomputedHashesAreCaughtBySignedHeads) {
  append_n("ten_a", 8, 2);  // heads at 2, 4, 6, 8
  // Rewrite entry 5 and recompute its stored leaf hash as an attacker without the key would.
  auto tx = *db_->begin(store::TxKind::kWrite);
  auto row = (*tx->query_one("SELECT time_ms FROM audit_entries WHERE tenant_id='ten_a' AND idx=5"));
  Entry e{"ten_a", 5, row->i64(0), "tok_x", "user.create", "user", "usr_5", "{\"n\":555}"};
  ASSERT_TRUE(tx->exec("UPDATE audit_entries SET details = ?, leaf_hash = ? WHERE tenant_id='ten_a' AND idx=5",
                       {e.details_json, store::Blob{[&] {
                          Hash256 h = leaf_hash(canonical_entry(e));
                          return std::string(reinterpret_cast<const char*>(h.data()), 32);
                        }()}}));
  ASSERT_TRUE(tx->commit());
  VerifyReport rep = offline("ten_a");
  EXPECT_FALSE(rep.ok);
  EXPECT_EQ(rep.first_bad_index, 4);  // the head of size 4 still holds; the one of size 6 fails
  EXPECT_NE(rep.reason.find("signed tree head"), std::string::npos);
}

TEST_F(AuditLogTest, ForgedHeadSignatureIsRejected) {
  append_n("ten_a", 3);
  sql("UPDATE audit_heads SET signature = zeroblob(64) WHERE tenant_id='ten_a' AND tree_size=3");
  EXPECT_FALSE(offline("ten_a").ok);
}

TEST_F(AuditLogTest, ReopenVerifiesAndFreezes) {
  append_n("ten_a", 4);
  sql("UPDATE audit_entries SET actor='someone' WHERE tenant_id='ten_a' AND idx=3");
  AuditLog reopened(*db_, *signer_, clock_, metrics_);
  auto reps = reopened.open();
  ASSERT_TRUE(reps.has_value());
  ASSERT_EQ(reps->size(), 1u);
  EXPECT_FALSE(reps->at(0).ok);
  EXPECT_EQ(reps->at(0).first_bad_index, 3);
  EXPECT_TRUE(reopened.frozen("ten_a"));
  EXPECT_EQ(reopened.failures().size(), 1u);
}

TEST_F(AuditLogTest, AppendsFromAnotherWriterAreAdopted) {
  append_n("ten_a", 2);
  // A second AuditLog on the same database plays the CLI appending while the server runs.
  AuditLog other(*db_, *signer_, clock_, metrics_);
  ASSERT_TRUE(other.open().has_value());
  {
    auto tx = *db_->begin(store::TxKind::kWrite);
    ASSERT_TRUE(other.append(*tx, "ten_a", {"cli", "token.create", "token", "tok_1", "{}"}));
    ASSERT_TRUE(tx->commit());
  }
  append_n("ten_a", 1);
  EXPECT_EQ(log_->latest_head("ten_a")->tree_size, 4);
  EXPECT_TRUE(offline("ten_a").ok);
}

}  // namespace
}  // namespace sira::audit
