// Forward-only, versioned schema migrations. Each module declares its own list (module name,
// increasing versions from 1, SQL script). The runner records applied steps in
// schema_migrations(module, version, name, applied_at) and refuses a database holding a module
// version, or a module, this binary does not know. Not thread-safe: run at start-up.
#pragma once

#include <string>
#include <vector>

#include "core/error.h"
#include "store/database.h"

namespace sira::store {

struct Migration {
  std::string module;
  int version = 0;
  std::string name;
  std::string sql;
};

struct MigrationReport {
  int applied = 0;
  int total = 0;
};

// Applies the missing migrations, each in its own transaction.
Result<MigrationReport> migrate(Database& db, const std::vector<Migration>& all, int64_t now_ms);
// Checks without changing anything that the database is fully migrated and not newer.
Status check_schema(Database& db, const std::vector<Migration>& all);

}  // namespace sira::store
