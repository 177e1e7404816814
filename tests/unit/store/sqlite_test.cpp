// Unit tests of src/store: SQLite transactions, hooks, concurrency, migrations, backup.
#include <gtest/gtest.h>

#include <thread>

#include "../test_util.h"
#include "store/migrations.h"
#include "store/sqlite.h"

namespace sira::store {
namespace {

using testing_util::TempDir;

std::unique_ptr<Database> open_db(const std::string& path) {
  SqliteOptions o;
  o.path = path;
  o.read_connections = 2;
  auto db = open_sqlite(o);
  EXPECT_TRUE(db.has_value());
  return std::move(*db);
}

TEST(Sqlite, CommitRollbackAndHooks) {
  TempDir dir;
  auto db = open_db(dir.file("t.db"));
  {
    auto tx = *db->begin(TxKind::kWrite);
    ASSERT_TRUE(tx->exec("CREATE TABLE t (k TEXT PRIMARY KEY, v BLOB, n INTEGER, d REAL)"));
    ASSERT_TRUE(tx->commit());
  }
  int committed = 0, rolled_back = 0;
  {
    auto tx = *db->begin(TxKind::kWrite);
    ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (?, ?, ?, ?)",
                         {std::string("a"), Blob{std::string("\0\1", 2)}, int64_t{42}, 1.5}));
    tx->after_commit([&] { ++committed; });
    tx->on_rollback([&] { ++rolled_back; });
    // Destroyed without commit: rolled back.
  }
  EXPECT_EQ(committed, 0);
  EXPECT_EQ(rolled_back, 1);
  {
    auto tx = *db->begin(TxKind::kRead);
    EXPECT_EQ(tx->query("SELECT * FROM t")->size(), 0u);
  }
  {
    auto tx = *db->begin(TxKind::kWrite);
    ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (?, ?, ?, ?)",
                         {std::string("'; DROP TABLE t;--"), Blob{std::string("\0\1", 2)},
                          int64_t{42}, 1.5}));
    tx->before_commit([&]() -> Status { return {}; });
    tx->after_commit([&] { ++committed; });
    ASSERT_TRUE(tx->commit());
  }
  EXPECT_EQ(committed, 1);
  auto tx = *db->begin(TxKind::kRead);
  auto row = *tx->query_one("SELECT k, v, n, d FROM t");
  ASSERT_TRUE(row.has_value());
  EXPECT_EQ(row->str(0), "'; DROP TABLE t;--");
  EXPECT_EQ(row->str(1), std::string("\0\1", 2));
  EXPECT_EQ(row->i64(2), 42);
  EXPECT_DOUBLE_EQ(row->f64(3), 1.5);
}

TEST(Sqlite, FailingBeforeCommitHookRollsBack) {
  TempDir dir;
  auto db = open_db(dir.file("t.db"));
  {
    auto tx = *db->begin(TxKind::kWrite);
    ASSERT_TRUE(tx->exec("CREATE TABLE t (k TEXT PRIMARY KEY)"));
    ASSERT_TRUE(tx->commit());
  }
  bool rolled_back = false;
  {
    auto tx = *db->begin(TxKind::kWrite);
    ASSERT_TRUE(tx->exec("INSERT INTO t VALUES ('x')"));
    tx->before_commit([]() -> Status { return fail(ErrorCode::kConflict, "no"); });
    tx->on_rollback([&] { rolled_back = true; });
    auto st = tx->commit();
    ASSERT_FALSE(st.has_value());
    EXPECT_EQ(st.error().code, ErrorCode::kConflict);
  }
  EXPECT_TRUE(rolled_back);
  auto tx = *db->begin(TxKind::kRead);
  EXPECT_EQ(tx->query("SELECT * FROM t")->size(), 0u);
}

TEST(Sqlite, ConstraintViolationIsConflict) {
  TempDir dir;
  auto db = open_db(dir.file("t.db"));
  auto tx = *db->begin(TxKind::kWrite);
  ASSERT_TRUE(tx->exec("CREATE TABLE t (k TEXT PRIMARY KEY)"));
  ASSERT_TRUE(tx->exec("INSERT INTO t VALUES ('x')"));
  auto r = tx->exec("INSERT INTO t VALUES ('x')");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code, ErrorCode::kConflict);
}

TEST(Sqlite, ConcurrentWritersAreSerialised) {
  TempDir dir;
  auto db = open_db(dir.file("t.db"));
  {
    auto tx = *db->begin(TxKind::kWrite);
    ASSERT_TRUE(tx->exec("CREATE TABLE c (n INTEGER)"));
    ASSERT_TRUE(tx->exec("INSERT INTO c VALUES (0)"));
    ASSERT_TRUE(tx->commit());
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 50; ++i) {
        auto tx = *db->begin(TxKind::kWrite);
        auto n = (*tx->query_one("SELECT n FROM c"))->i64(0);
        ASSERT_TRUE(tx->exec("UPDATE c SET n = ?", {n + 1}));
        ASSERT_TRUE(tx->commit());
        auto rtx = *db->begin(TxKind::kRead);
        ASSERT_TRUE(rtx->query_one("SELECT n FROM c").has_value());
      }
    });
  for (auto& t : threads) t.join();
  auto tx = *db->begin(TxKind::kRead);
  EXPECT_EQ((*tx->query_one("SELECT n FROM c"))->i64(0), 200);
}

TEST(Migrations, AppliesOnceAndRefusesNewerDatabase) {
  TempDir dir;
  auto db = open_db(dir.file("m.db"));
  std::vector<Migration> v1 = {{"mod", 1, "one", "CREATE TABLE a (x INTEGER);"}};
  std::vector<Migration> v2 = v1;
  v2.push_back({"mod", 2, "two", "CREATE TABLE b (x INTEGER); CREATE INDEX b_x ON b (x);"});
  auto r = migrate(*db, v2, 1);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->applied, 2);
  EXPECT_EQ(migrate(*db, v2, 2)->applied, 0);
  EXPECT_TRUE(check_schema(*db, v2).has_value());
  // An older binary (knows only v1) must refuse the database.
  auto older = migrate(*db, v1, 3);
  ASSERT_FALSE(older.has_value());
  EXPECT_EQ(older.error().code, ErrorCode::kSchemaTooNew);
  auto check = check_schema(*db, v1);
  ASSERT_FALSE(check.has_value());
  EXPECT_EQ(check.error().code, ErrorCode::kSchemaTooNew);
  // A module unknown to the binary also means "newer".
  std::vector<Migration> other = {{"zzz", 1, "z", "CREATE TABLE z (x INTEGER);"}};
  EXPECT_FALSE(migrate(*db, other, 4).has_value());
}

TEST(Migrations, FailedStepLeavesNoTrace) {
  TempDir dir;
  auto db = open_db(dir.file("m.db"));
  std::vector<Migration> bad = {{"mod", 1, "broken", "CREATE TABLE a (x INTEGER); SELECT nope FROM missing;"}};
  EXPECT_FALSE(migrate(*db, bad, 1).has_value());
  auto tx = *db->begin(TxKind::kRead);
  EXPECT_FALSE(tx->query_one("SELECT 1 FROM sqlite_master WHERE name = 'a'")->has_value());
  EXPECT_EQ(tx->query("SELECT * FROM schema_migrations")->size(), 0u);
}

TEST(Backup, ConsistentCopyWhileWriting) {
  TempDir dir;
  auto db = open_db(dir.file("src.db"));
  {
    auto tx = *db->begin(TxKind::kWrite);
    ASSERT_TRUE(tx->exec("CREATE TABLE t (n INTEGER)"));
    ASSERT_TRUE(tx->commit());
  }
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int i = 0; i < 2000 && !stop; ++i) {
      auto tx = *db->begin(TxKind::kWrite);
      // Each transaction writes a pair: a consistent copy always has an even count.
      ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (?)", {int64_t{i}}));
      ASSERT_TRUE(tx->exec("INSERT INTO t VALUES (?)", {int64_t{i}}));
      ASSERT_TRUE(tx->commit());
    }
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(db->backup_to(dir.file("copy.db")).has_value());
  stop = true;
  writer.join();
  auto copy = open_db(dir.file("copy.db"));
  auto tx = *copy->begin(TxKind::kRead);
  int64_t n = (*tx->query_one("SELECT COUNT(*) FROM t"))->i64(0);
  EXPECT_EQ(n % 2, 0);
}

}  // namespace
}  // namespace sira::store
