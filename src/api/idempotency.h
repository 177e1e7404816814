// Idempotency-Key support for side-effecting POSTs: the first response to a key is stored for
// the TTL (24 h by default) and replayed verbatim for the same request; the same key with a
// different request is refused; a key whose first request is still running answers 409.
// Thread-safe.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "core/error.h"
#include "store/database.h"
#include "store/migrations.h"

namespace sira::api {

struct StoredResponse {
  int status = 200;
  std::string content_type;
  std::string body;
};

class IdempotencyStore {
 public:
  IdempotencyStore(store::Database& db, const Clock& clock, int64_t ttl_seconds);
  static std::vector<store::Migration> migrations();

  // Claims `key` for this request. Returns the stored response to replay, nullopt when the
  // caller should run the request, or an error (409 in flight, 422 reused differently).
  Result<std::optional<StoredResponse>> claim(const std::string& tenant_id, const std::string& key,
                                              const std::string& fingerprint);
  // Records the response of a claimed key; 5xx answers release the key so the client may retry.
  void complete(const std::string& tenant_id, const std::string& key, const StoredResponse& r);
  Status purge_expired();

 private:
  store::Database& db_;
  const Clock& clock_;
  int64_t ttl_ms_;
};

}  // namespace sira::api
