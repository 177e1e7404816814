// Forward-only migration runner with a "too new" guard.
#include "store/migrations.h"

#include <map>
#include <set>

namespace sira::store {

namespace {

constexpr std::string_view kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " module TEXT NOT NULL, version INTEGER NOT NULL, name TEXT NOT NULL,"
    " applied_at INTEGER NOT NULL, PRIMARY KEY (module, version))";

Result<std::map<std::string, int64_t>> applied_versions(Transaction& tx) {
  auto exists = SIRA_TRY(tx.query_one(
      "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'"));
  std::map<std::string, int64_t> out;
  if (!exists) return out;
  auto rows = SIRA_TRY(tx.query("SELECT module, MAX(version) FROM schema_migrations GROUP BY module"));
  for (const auto& r : rows) out[r.str(0)] = r.i64(1);
  return out;
}

Status check_known(const std::map<std::string, int64_t>& applied,
                   const std::vector<Migration>& all) {
  std::map<std::string, int> known;
  for (const auto& m : all) known[m.module] = std::max(known[m.module], m.version);
  for (const auto& [module, version] : applied) {
    auto it = known.find(module);
    if (it == known.end())
      return fail(ErrorCode::kSchemaTooNew, "database has tables of module \"" + module +
                                                "\" which this sira does not know; it was "
                                                "written by a newer sira");
    if (version > it->second)
      return fail(ErrorCode::kSchemaTooNew,
                  "database schema of module \"" + module + "\" is at version " +
                      std::to_string(version) + " but this sira knows up to " +
                      std::to_string(it->second) + "; upgrade sira");
  }
  return {};
}

}  // namespace

Result<MigrationReport> migrate(Database& db, const std::vector<Migration>& all, int64_t now_ms) {
  MigrationReport report;
  report.total = static_cast<int>(all.size());
  {
    auto tx = SIRA_TRY(db.begin(TxKind::kWrite));
    SIRA_CHECK(tx->exec(kCreateTable));
    auto applied = SIRA_TRY(applied_versions(*tx));
    SIRA_CHECK(check_known(applied, all));
    SIRA_CHECK(tx->commit());
  }
  for (const auto& m : all) {
    auto tx = SIRA_TRY(db.begin(TxKind::kWrite));
    auto done = SIRA_TRY(tx->query_one(
        "SELECT 1 FROM schema_migrations WHERE module = ? AND version = ?",
        {m.module, int64_t{m.version}}));
    if (done) continue;
    if (auto st = db.exec_script(*tx, m.sql); !st)
      return fail(ErrorCode::kInternal, "migration " + m.module + "/" + std::to_string(m.version) +
                                            " (" + m.name + ") failed: " + st.error().detail);
    SIRA_CHECK(tx->exec(
        "INSERT INTO schema_migrations (module, version, name, applied_at) VALUES (?, ?, ?, ?)",
        {m.module, int64_t{m.version}, m.name, now_ms}));
    SIRA_CHECK(tx->commit());
    ++report.applied;
  }
  return report;
}

Status check_schema(Database& db, const std::vector<Migration>& all) {
  auto tx = SIRA_TRY(db.begin(TxKind::kRead));
  auto applied = SIRA_TRY(applied_versions(*tx));
  SIRA_CHECK(check_known(applied, all));
  for (const auto& m : all) {
    auto it = applied.find(m.module);
    if (it == applied.end() || it->second < m.version)
      return fail(ErrorCode::kUnavailable, "database is not migrated (module " + m.module +
                                               "); run sira serve once to migrate it");
  }
  return {};
}

}  // namespace sira::store
