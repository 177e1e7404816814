// Invariant failure reporting.
#include "core/assert.h"

#include <cstdio>
#include <cstdlib>
#include <string>

#include "core/log.h"

namespace sira {

void assertion_failed(const char* expr, const char* file, int line) {
  std::fprintf(stderr, "sira: assertion failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

void report_bug(std::string_view what, const char* file, int line) {
  log_error("bug", {{"what", std::string(what)}, {"file", file}, {"line", std::to_string(line)}});
}

}  // namespace sira
