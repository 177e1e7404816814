// Process logging on spdlog: text or JSON lines, level from config. Call init_logging() once at
// start-up before any thread logs; log_* functions are thread-safe afterwards.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sira {

enum class LogFormat { kText, kJson };

void init_logging(LogFormat format, std::string_view level);
LogFormat log_format();

using LogFields = std::vector<std::pair<std::string, std::string>>;
void log_info(std::string_view msg, const LogFields& fields = {});
void log_warn(std::string_view msg, const LogFields& fields = {});
void log_error(std::string_view msg, const LogFields& fields = {});
void log_debug(std::string_view msg, const LogFields& fields = {});

}  // namespace sira
