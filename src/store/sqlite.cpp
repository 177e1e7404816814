// SQLite backend: WAL, one serialised writer, pooled readers, cached prepared statements.
#include "store/sqlite.h"

#include <sqlite3.h>

#include <condition_variable>
#include <mutex>
#include <unordered_map>

namespace sira::store {

namespace {

Error sqlite_error(sqlite3* db, int rc, std::string_view what) {
  std::string msg = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  int primary = rc & 0xff;
  if (primary == SQLITE_CONSTRAINT) return Error(ErrorCode::kConflict, msg);
  if (primary == SQLITE_BUSY || primary == SQLITE_LOCKED)
    return Error(ErrorCode::kUnavailable, msg);
  if (primary == SQLITE_TOOBIG) return Error(ErrorCode::kPayloadTooLarge, msg);
  return Error(ErrorCode::kInternal, msg);
}

class Connection {
 public:
  ~Connection() {
    for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
    if (db_) sqlite3_close_v2(db_);
  }

  static Result<std::unique_ptr<Connection>> open(const SqliteOptions& o, bool writer) {
    // Before the library initialises: no global allocation statistics, whose mutex every
    // sqlite3_malloc of every connection would otherwise take (connections are used by one
    // thread at a time, under the store's own locks). Refused harmlessly if already initialised.
    static std::once_flag configured;
    std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
    auto c = std::make_unique<Connection>();
    int flags = SQLITE_OPEN_NOMUTEX;
    if (o.read_only) flags |= SQLITE_OPEN_READONLY;
    else flags |= SQLITE_OPEN_READWRITE | (writer ? SQLITE_OPEN_CREATE : 0);
    int rc = sqlite3_open_v2(o.path.c_str(), &c->db_, flags, nullptr);
    if (rc != SQLITE_OK)
      return std::unexpected(Error(ErrorCode::kIo, "cannot open database " + o.path + ": " +
                                                       (c->db_ ? sqlite3_errmsg(c->db_) : "")));
    sqlite3_busy_timeout(c->db_, o.busy_timeout_ms);
    sqlite3_extended_result_codes(c->db_, 1);
    if (writer && !o.read_only) {
      SIRA_CHECK(c->run("PRAGMA journal_mode=WAL"));
    }
    SIRA_CHECK(c->run(o.synchronous == "normal" ? "PRAGMA synchronous=NORMAL"
                                                  : "PRAGMA synchronous=FULL"));
    SIRA_CHECK(c->run("PRAGMA foreign_keys=ON"));
    return c;
  }

  Status run(const char* sql) {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      Error e = sqlite_error(nullptr, rc, msg);
      e.detail = msg;
      return std::unexpected(e);
    }
    return {};
  }

  Result<sqlite3_stmt*> prepare(std::string_view sql, const Params& params) {
    sqlite3_stmt* stmt = nullptr;
    std::string key(sql);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      stmt = it->second;
      sqlite3_reset(stmt);
      sqlite3_clear_bindings(stmt);
    } else {
      int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                  SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
      if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_, rc, "prepare"));
      cache_.emplace(std::move(key), stmt);
    }
    if (static_cast<int>(params.size()) != sqlite3_bind_parameter_count(stmt))
      return fail(ErrorCode::kInternal, "parameter count mismatch for: " + std::string(sql));
    for (size_t i = 0; i < params.size(); ++i) {
      int idx = static_cast<int>(i + 1);
      int rc = std::visit(
          [&](const auto& v) -> int {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, std::nullptr_t>) return sqlite3_bind_null(stmt, idx);
            else if constexpr (std::is_same_v<T, int64_t>) return sqlite3_bind_int64(stmt, idx, v);
            else if constexpr (std::is_same_v<T, double>) return sqlite3_bind_double(stmt, idx, v);
            else if constexpr (std::is_same_v<T, std::string>)
              return sqlite3_bind_text64(stmt, idx, v.data(), v.size(), SQLITE_STATIC, SQLITE_UTF8);
            else
              return sqlite3_bind_blob64(stmt, idx, v.bytes.data(), v.bytes.size(), SQLITE_STATIC);
          },
          params[i]);
      if (rc != SQLITE_OK) return std::unexpected(sqlite_error(db_, rc, "bind"));
    }
    return stmt;
  }

  static Row read_row(sqlite3_stmt* stmt) {
    int n = sqlite3_column_count(stmt);
    std::vector<Value> values;
    values.reserve(n);
    for (int i = 0; i < n; ++i) {
      switch (sqlite3_column_type(stmt, i)) {
        case SQLITE_INTEGER: values.emplace_back(int64_t{sqlite3_column_int64(stmt, i)}); break;
        case SQLITE_FLOAT: values.emplace_back(sqlite3_column_double(stmt, i)); break;
        case SQLITE_TEXT:
          values.emplace_back(std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, i)),
                                          sqlite3_column_bytes(stmt, i)));
          break;
        case SQLITE_BLOB: {
          const char* p = static_cast<const char*>(sqlite3_column_blob(stmt, i));
          values.emplace_back(Blob{std::string(p ? p : "", sqlite3_column_bytes(stmt, i))});
          break;
        }
        default: values.emplace_back(nullptr);
      }
    }
    return Row(std::move(values));
  }

  sqlite3* db() { return db_; }

 private:
  sqlite3* db_ = nullptr;
  std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// The writer connection's lock, granted first come, first served. A plain std::mutex lets a
// thread that writes in a loop (the alert journal's group commit under load) take it again and
// again while another writer (a notification pass) waits for seconds.
class FifoMutex {
 public:
  void lock() {
    std::unique_lock l(mu_);
    const uint64_t ticket = next_++;
    cv_.wait(l, [&] { return serving_ == ticket; });
  }
  void unlock() {
    {
      std::lock_guard l(mu_);
      ++serving_;
    }
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t next_ = 0, serving_ = 0;
};

class SqliteDatabase;

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(SqliteDatabase* owner, Connection* conn, bool write,
                    std::unique_lock<FifoMutex> write_lock)
      : owner_(owner), conn_(conn), write_(write), write_lock_(std::move(write_lock)) {}
  ~SqliteTransaction() override;

  Result<int64_t> exec(std::string_view sql, const Params& params) override {
    SIRA_CHECK(check_open());
    sqlite3_stmt* stmt = SIRA_TRY(conn_->prepare(sql, params));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return std::unexpected(sqlite_error(conn_->db(), rc, "exec"));
    return static_cast<int64_t>(sqlite3_changes64(conn_->db()));
  }

  Result<std::vector<Row>> query(std::string_view sql, const Params& params) override {
    std::vector<Row> rows;
    SIRA_CHECK(each(sql, params, [&](const Row& r) {
      rows.push_back(r);
      return true;
    }));
    return rows;
  }

  Status each(std::string_view sql, const Params& params,
              const std::function<bool(const Row&)>& fn) override {
    SIRA_CHECK(check_open());
    sqlite3_stmt* stmt = SIRA_TRY(conn_->prepare(sql, params));
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      if (!fn(Connection::read_row(stmt))) {
        rc = SQLITE_DONE;
        break;
      }
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) return std::unexpected(sqlite_error(conn_->db(), rc, "query"));
    return {};
  }

  Status commit() override {
    SIRA_CHECK(check_open());
    if (auto st = run_before_commit(); !st) {
      finish(false);
      return st;
    }
    if (auto st = conn_->run("COMMIT"); !st) {
      finish(false);
      return st;
    }
    done_ = true;
    // Hooks run while the writer lock is still held: the next writer must see memory that
    // already matches what this transaction committed.
    run_after_commit();
    release();
    return {};
  }

  bool is_write() const override { return write_; }
  Connection* connection() { return conn_; }

 private:
  Status check_open() const {
    if (done_) return fail(ErrorCode::kInternal, "transaction already finished");
    return {};
  }
  void finish(bool) {
    if (done_) return;
    done_ = true;
    (void)conn_->run("ROLLBACK");
    run_rollback();
    release();
  }
  void release();

  SqliteDatabase* owner_;
  Connection* conn_;
  bool write_;
  bool done_ = false;
  std::unique_lock<FifoMutex> write_lock_;
};

class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(SqliteOptions o) : options_(std::move(o)) {}

  Status open() {
    if (!options_.read_only) {
      writer_ = SIRA_TRY(Connection::open(options_, true));
    }
    for (int i = 0; i < std::max(1, options_.read_connections); ++i) {
      auto c = SIRA_TRY(Connection::open(options_, false));
      free_readers_.push_back(c.get());
      readers_.push_back(std::move(c));
    }
    return {};
  }

  Result<std::unique_ptr<Transaction>> begin(TxKind kind) override {
    if (kind == TxKind::kWrite) {
      if (!writer_) return fail(ErrorCode::kUnavailable, "database opened read-only");
      std::unique_lock lock(write_mu_);
      SIRA_CHECK(writer_->run("BEGIN IMMEDIATE"));
      return std::unique_ptr<Transaction>(
          new SqliteTransaction(this, writer_.get(), true, std::move(lock)));
    }
    Connection* c;
    {
      std::unique_lock lock(pool_mu_);
      pool_cv_.wait(lock, [&] { return !free_readers_.empty(); });
      c = free_readers_.back();
      free_readers_.pop_back();
    }
    if (auto st = c->run("BEGIN"); !st) {
      give_back(c);
      return std::unexpected(st.error());
    }
    return std::unique_ptr<Transaction>(new SqliteTransaction(this, c, false, {}));
  }

  Status exec_script(Transaction& tx, std::string_view sql) override {
    auto* t = dynamic_cast<SqliteTransaction*>(&tx);
    if (!t) return fail(ErrorCode::kInternal, "foreign transaction");
    std::string script(sql);
    return t->connection()->run(script.c_str());
  }

  Status backup_to(const std::string& path) override { return sqlite_backup_file(options_.path, path); }

  std::string backend() const override { return "sqlite"; }

  void give_back(Connection* c) {
    if (c == writer_.get()) return;
    {
      std::lock_guard lock(pool_mu_);
      free_readers_.push_back(c);
    }
    pool_cv_.notify_one();
  }

 private:
  SqliteOptions options_;
  std::unique_ptr<Connection> writer_;
  FifoMutex write_mu_;
  std::vector<std::unique_ptr<Connection>> readers_;
  std::vector<Connection*> free_readers_;
  std::mutex pool_mu_;
  std::condition_variable pool_cv_;
};

SqliteTransaction::~SqliteTransaction() { finish(false); }

void SqliteTransaction::release() {
  if (!write_) owner_->give_back(conn_);
  if (write_lock_.owns_lock()) write_lock_.unlock();
}

}  // namespace

Result<std::unique_ptr<Database>> open_sqlite(const SqliteOptions& options) {
  auto db = std::make_unique<SqliteDatabase>(options);
  SIRA_CHECK(db->open());
  return std::unique_ptr<Database>(std::move(db));
}

Status sqlite_backup_file(const std::string& from, const std::string& to) {
  sqlite3* src = nullptr;
  sqlite3* dst = nullptr;
  auto close = [&] {
    if (src) sqlite3_close_v2(src);
    if (dst) sqlite3_close_v2(dst);
  };
  int rc = sqlite3_open_v2(from.c_str(), &src, SQLITE_OPEN_READONLY, nullptr);
  if (rc != SQLITE_OK) {
    close();
    return fail(ErrorCode::kIo, "cannot open " + from + ": " + sqlite3_errstr(rc));
  }
  sqlite3_busy_timeout(src, 10000);
  rc = sqlite3_open_v2(to.c_str(), &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  if (rc != SQLITE_OK) {
    close();
    return fail(ErrorCode::kIo, "cannot create " + to + ": " + sqlite3_errstr(rc));
  }
  sqlite3_backup* b = sqlite3_backup_init(dst, "main", src, "main");
  if (!b) {
    std::string msg = sqlite3_errmsg(dst);
    close();
    return fail(ErrorCode::kIo, "backup failed: " + msg);
  }
  // One step copies every page inside a single read transaction: a consistent snapshot.
  for (int attempt = 0; attempt < 200; ++attempt) {
    rc = sqlite3_backup_step(b, -1);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    sqlite3_sleep(50);
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    std::string msg = sqlite3_errstr(rc);
    close();
    return fail(ErrorCode::kIo, "backup failed: " + msg);
  }
  close();
  return {};
}

}  // namespace sira::store
