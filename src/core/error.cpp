// Stable mapping of error codes to problem types, HTTP statuses and titles.
#include "core/error.h"

namespace sira {

namespace {
struct ErrorInfo {
  std::string_view slug;
  int status;
  std::string_view title;
};

ErrorInfo info(ErrorCode code) {
  switch (code) {
    case ErrorCode::kInvalidArgument: return {"invalid-argument", 400, "Invalid argument"};
    case ErrorCode::kMalformedJson: return {"malformed-json", 400, "Malformed JSON"};
    case ErrorCode::kUnauthorized: return {"unauthorized", 401, "Unauthorized"};
    case ErrorCode::kForbidden: return {"forbidden", 403, "Forbidden"};
    case ErrorCode::kNotFound: return {"not-found", 404, "Not found"};
    case ErrorCode::kMethodNotAllowed: return {"method-not-allowed", 405, "Method not allowed"};
    case ErrorCode::kConflict: return {"conflict", 409, "Conflict"};
    case ErrorCode::kGone: return {"gone", 410, "Gone"};
    case ErrorCode::kPayloadTooLarge: return {"payload-too-large", 413, "Payload too large"};
    case ErrorCode::kUnprocessable: return {"idempotency-key-reused", 422, "Idempotency key reused"};
    case ErrorCode::kUnsupportedMediaType:
      return {"unsupported-media-type", 415, "Unsupported media type"};
    case ErrorCode::kHeaderTooLarge: return {"header-too-large", 431, "Request header too large"};
    case ErrorCode::kInternal: return {"internal", 500, "Internal error"};
    case ErrorCode::kUnavailable: return {"unavailable", 503, "Service unavailable"};
    case ErrorCode::kAuditFrozen: return {"audit-frozen", 503, "Audit log frozen"};
    case ErrorCode::kIntegrity: return {"audit-integrity", 500, "Audit integrity failure"};
    case ErrorCode::kIo: return {"io", 500, "I/O error"};
    case ErrorCode::kConfig: return {"config", 500, "Configuration error"};
    case ErrorCode::kSchemaTooNew: return {"schema-too-new", 500, "Database schema too new"};
  }
  return {"internal", 500, "Internal error"};
}
}  // namespace

std::string_view error_slug(ErrorCode code) { return info(code).slug; }
int error_status(ErrorCode code) { return info(code).status; }
std::string_view error_title(ErrorCode code) { return info(code).title; }

}  // namespace sira
