// Stored first responses for Idempotency-Key replays.
#include "api/idempotency.h"

#include "core/log.h"

namespace sira::api {

IdempotencyStore::IdempotencyStore(store::Database& db, const Clock& clock, int64_t ttl_seconds)
    : db_(db), clock_(clock), ttl_ms_(ttl_seconds * 1000) {}

std::vector<store::Migration> IdempotencyStore::migrations() {
  return {{"api", 1, "idempotency keys",
           "CREATE TABLE idempotency_keys ("
           " tenant_id TEXT NOT NULL, idem_key TEXT NOT NULL, fingerprint TEXT NOT NULL,"
           " status INTEGER, content_type TEXT, body TEXT, created_at INTEGER NOT NULL,"
           " PRIMARY KEY (tenant_id, idem_key));"
           "CREATE INDEX idempotency_keys_created ON idempotency_keys (created_at);"}};
}

Result<std::optional<StoredResponse>> IdempotencyStore::claim(const std::string& tenant_id,
                                                              const std::string& key,
                                                              const std::string& fingerprint) {
  if (key.empty() || key.size() > 400)
    return fail(ErrorCode::kInvalidArgument, "Idempotency-Key must be 1 to 255 characters",
                "Idempotency-Key");
  int64_t now = clock_.now_ms();
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto row = SIRA_TRY(tx->query_one(
      "SELECT fingerprint, status, content_type, body, created_at FROM idempotency_keys "
      "WHERE tenant_id = ? AND idem_key = ?",
      {tenant_id, key}));
  if (row && row->i64(4) > now - ttl_ms_) {
    if (row->str(0) != fingerprint)
      return fail(ErrorCode::kUnprocessable,
                  "this Idempotency-Key was used with a different request", "Idempotency-Key");
    if (row->is_null(1))
      return fail(ErrorCode::kConflict, "a request with this Idempotency-Key is still in progress",
                  "Idempotency-Key");
    return std::optional<StoredResponse>(
        StoredResponse{static_cast<int>(row->i64(1)), row->str(2), row->str(3)});
  }
  SIRA_CHECK(tx->exec("DELETE FROM idempotency_keys WHERE tenant_id = ? AND idem_key = ?",
                      {tenant_id, key}));
  SIRA_CHECK(tx->exec("INSERT INTO idempotency_keys (tenant_id, idem_key, fingerprint, created_at) "
                      "VALUES (?, ?, ?, ?)",
                      {tenant_id, key, fingerprint, now}));
  SIRA_CHECK(tx->commit());
  return std::optional<StoredResponse>();
}

void IdempotencyStore::complete(const std::string& tenant_id, const std::string& key,
                                const StoredResponse& r) {
  auto tx = db_.begin(store::TxKind::kWrite);
  if (!tx) return log_error("idempotency: cannot record response", {{"error", tx.error().detail}});
  Result<int64_t> res =
      r.status >= 500
          ? (*tx)->exec("DELETE FROM idempotency_keys WHERE tenant_id = ? AND idem_key = ?",
                        {tenant_id, key})
          : (*tx)->exec("UPDATE idempotency_keys SET status = ?, content_type = ?, body = ? "
                        "WHERE tenant_id = ? AND idem_key = ?",
                        {int64_t{r.status}, r.content_type, r.body, tenant_id, key});
  if (!res || !(*tx)->commit())
    log_error("idempotency: cannot record response", {{"key", key}});
}

Status IdempotencyStore::purge_expired() {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  SIRA_CHECK(tx->exec("DELETE FROM idempotency_keys WHERE created_at <= ?",
                      {clock_.now_ms() - ttl_ms_}));
  return tx->commit();
}

}  // namespace sira::api
