// Database access: the only place SQL is sent. A Database hands out transactions; statements
// use "?" placeholders (the PostgreSQL backend rewrites them to $n) and SQL that both SQLite
// and PostgreSQL accept. Domain modules own their tables and migrations; this module knows none.
//
// Thread-safety: Database is thread-safe. A Transaction belongs to the thread that began it and
// must not outlive the Database. Write transactions are serialised; read transactions run
// concurrently on snapshot connections.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"

namespace sira::store {

// A bound parameter or a column value. Blobs are std::vector<uint8_t>-like strings tagged Blob.
struct Blob {
  std::string bytes;
};
using Value = std::variant<std::nullptr_t, int64_t, double, std::string, Blob>;

class Row {
 public:
  explicit Row(std::vector<Value> values) : values_(std::move(values)) {}
  size_t size() const { return values_.size(); }
  bool is_null(size_t i) const { return std::holds_alternative<std::nullptr_t>(values_.at(i)); }
  int64_t i64(size_t i) const;            // 0 when NULL
  double f64(size_t i) const;             // 0 when NULL
  const std::string& str(size_t i) const;  // text or blob bytes; "" when NULL
  std::optional<std::string> opt_str(size_t i) const;
  std::optional<int64_t> opt_i64(size_t i) const;
  const Value& at(size_t i) const { return values_.at(i); }

 private:
  std::vector<Value> values_;
};

using Params = std::vector<Value>;

class Transaction {
 public:
  virtual ~Transaction() = default;
  // Runs a statement; returns the number of changed rows.
  virtual Result<int64_t> exec(std::string_view sql, const Params& params = {}) = 0;
  virtual Result<std::vector<Row>> query(std::string_view sql, const Params& params = {}) = 0;
  // Streams rows to `fn` without materialising them; fn returns false to stop early.
  virtual Status each(std::string_view sql, const Params& params,
                      const std::function<bool(const Row&)>& fn) = 0;
  Result<std::optional<Row>> query_one(std::string_view sql, const Params& params = {});
  // Makes the changes durable: runs the before-commit hooks (any error rolls everything back
  // and is returned), commits, then runs the after-commit hooks — still inside the write
  // serialisation, so the next writer sees their effects. Without commit(), destruction rolls
  // back and runs the rollback hooks.
  virtual Status commit() = 0;
  virtual bool is_write() const = 0;

  // Hooks let a module keep in-memory state in step with what the transaction made durable.
  void before_commit(std::function<Status()> fn) { before_commit_.push_back(std::move(fn)); }
  void after_commit(std::function<void()> fn) { after_commit_.push_back(std::move(fn)); }
  void on_rollback(std::function<void()> fn) { on_rollback_.push_back(std::move(fn)); }

 protected:
  Status run_before_commit();
  void run_after_commit();
  void run_rollback();

 private:
  std::vector<std::function<Status()>> before_commit_;
  std::vector<std::function<void()>> after_commit_;
  std::vector<std::function<void()>> on_rollback_;
};

enum class TxKind { kRead, kWrite };

class Database {
 public:
  virtual ~Database() = default;
  virtual Result<std::unique_ptr<Transaction>> begin(TxKind kind) = 0;
  // Runs a multi-statement script (migrations) in the given transaction's connection.
  virtual Status exec_script(Transaction& tx, std::string_view sql) = 0;
  // Writes a consistent copy of the whole database to `path` while writers continue.
  virtual Status backup_to(const std::string& path) = 0;
  virtual std::string backend() const = 0;  // "sqlite" | "postgresql"
};

}  // namespace sira::store
