// Invariant checks: SIRA_ASSERT (debug only), SIRA_RELEASE_ASSERT (always, aborts), and
// SIRA_BUG (logs, counts sira_bugs_total, continues). Thread-safe.
#pragma once

#include <string_view>

namespace sira {
[[noreturn]] void assertion_failed(const char* expr, const char* file, int line);
void report_bug(std::string_view what, const char* file, int line);
}  // namespace sira

#ifdef NDEBUG
#define SIRA_ASSERT(cond) ((void)0)
#else
#define SIRA_ASSERT(cond) \
  ((cond) ? (void)0 : ::sira::assertion_failed(#cond, __FILE__, __LINE__))
#endif
#define SIRA_RELEASE_ASSERT(cond) \
  ((cond) ? (void)0 : ::sira::assertion_failed(#cond, __FILE__, __LINE__))
#define SIRA_BUG(what) ::sira::report_bug((what), __FILE__, __LINE__)
