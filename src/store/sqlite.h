// SQLite backend of store::Database: one file in WAL mode, one writer connection (writes are
// serialised with BEGIN IMMEDIATE) and a pool of reader connections, each with a prepared
// statement cache. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "store/database.h"

namespace sira::store {

struct SqliteOptions {
  std::string path;                  // database file
  std::string synchronous = "full";  // full | normal
  int busy_timeout_ms = 5000;
  int read_connections = 4;
  bool read_only = false;  // open without creating; used by offline tools
};

Result<std::unique_ptr<Database>> open_sqlite(const SqliteOptions& options);

// Copies the database file at `from` into `to` with the online backup API (consistent even while
// another process writes to `from`).
Status sqlite_backup_file(const std::string& from, const std::string& to);

}  // namespace sira::store
