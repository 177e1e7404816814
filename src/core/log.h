// Process logging on spdlog: text or JSON lines, level from config. Call init_logging() once at
// start-up before any thread logs; log_* functions are thread-safe afterwards. Lines are written
// by a background thread; shutdown_logging() flushes them.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sira {

enum class LogFormat { kText, kJson };

void init_logging(LogFormat format, std::string_view level);
LogFormat log_format();
// Flushes queued lines; call once before the process exits.
void shutdown_logging();

using LogFields = std::vector<std::pair<std::string, std::string>>;
void log_info(std::string_view msg, const LogFields& fields = {});
void log_warn(std::string_view msg, const LogFields& fields = {});
void log_error(std::string_view msg, const LogFields& fields = {});
void log_debug(std::string_view msg, const LogFields& fields = {});

}  // namespace sira
