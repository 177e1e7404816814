// Error values shared by every module: a stable code, a human detail, and the Result alias.
//
// Expected failures travel as values (std::expected), never as exceptions across module
// boundaries. Each ErrorCode maps to exactly one problem+json `type` and HTTP status (see
// error_type()/error_status()); the mapping is part of the public API and must stay stable.
// Thread-safety: plain values, freely copyable.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace sira {

enum class ErrorCode {
  kInvalidArgument,       // 400 bad input (field missing, wrong type, out of range)
  kMalformedJson,         // 400 body is not JSON
  kUnauthorized,          // 401 no or bad credentials
  kForbidden,             // 403 authenticated but lacks the role
  kNotFound,              // 404
  kMethodNotAllowed,      // 405
  kConflict,              // 409 state conflict (duplicate name, idempotency key in flight)
  kGone,                  // 410 expired
  kPayloadTooLarge,       // 413
  kUnprocessable,         // 422 idempotency key reused with another request
  kUnsupportedMediaType,  // 415
  kHeaderTooLarge,        // 431
  kInternal,              // 500 a bug or an unexpected library failure
  kUnavailable,           // 503 store not ready, shutting down, too many connections
  kAuditFrozen,           // 503 audit log of the tenant failed verification: writes frozen
  kIntegrity,             // audit verification failure (CLI exit code, metrics)
  kIo,                    // file system failure
  kConfig,                // bad configuration
  kSchemaTooNew,          // database written by a newer sira
};

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string detail;
  // Optional machine-readable hint, e.g. the offending field or config key.
  std::string field;

  Error() = default;
  Error(ErrorCode c, std::string d, std::string f = {})
      : code(c), detail(std::move(d)), field(std::move(f)) {}
};

template <class T>
using Result = std::expected<T, Error>;
using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(ErrorCode code, std::string detail, std::string field = {}) {
  return std::unexpected<Error>(Error(code, std::move(detail), std::move(field)));
}

// Stable problem type URI suffix ("not-found"), HTTP status and title of each code.
std::string_view error_slug(ErrorCode code);
int error_status(ErrorCode code);
std::string_view error_title(ErrorCode code);

}  // namespace sira

// Propagates the error of an expression returning Result<T>/Status; evaluates to the value.
#define SIRA_TRY(expr)                                                      \
  ({                                                                        \
    auto&& sira_try_result_ = (expr);                                       \
    if (!sira_try_result_) return std::unexpected(sira_try_result_.error()); \
    std::move(sira_try_result_).value();                                    \
  })

// Same as SIRA_TRY for Status-returning expressions used as statements.
#define SIRA_CHECK(expr)                                                    \
  do {                                                                      \
    auto&& sira_check_result_ = (expr);                                     \
    if (!sira_check_result_) return std::unexpected(sira_check_result_.error()); \
  } while (0)
