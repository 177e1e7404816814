// Logging on spdlog with a JSON-lines or text layout.
#include "core/log.h"

#include <spdlog/async.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <boost/json.hpp>

namespace sira {

namespace {
LogFormat g_format = LogFormat::kText;

void emit(spdlog::level::level_enum level, std::string_view msg, const LogFields& fields) {
  auto logger = spdlog::default_logger_raw();
  if (!logger->should_log(level)) return;
  if (g_format == LogFormat::kJson) {
    boost::json::object o;
    o["level"] = spdlog::level::to_string_view(level).data();
    o["msg"] = msg;
    for (const auto& [k, v] : fields) o[k] = v;
    // The pattern opens the object with the time field; drop our own opening brace.
    std::string line = boost::json::serialize(o);
    logger->log(level, "{}", std::string_view(line).substr(1));
  } else {
    std::string line(msg);
    for (const auto& [k, v] : fields) {
      line += ' ';
      line += k;
      line += '=';
      line += v;
    }
    logger->log(level, "{}", line);
  }
}
}  // namespace

void init_logging(LogFormat format, std::string_view level) {
  g_format = format;
  // Lines are formatted on the caller's thread and written by one background thread, so request
  // handling never waits on stderr; the queue blocks rather than drops when it is full.
  spdlog::init_thread_pool(16384, 1);
  auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto logger = std::make_shared<spdlog::async_logger>("sira", sink, spdlog::thread_pool(),
                                                       spdlog::async_overflow_policy::block);
  logger->flush_on(spdlog::level::warn);
  if (format == LogFormat::kJson) {
    // Time is added as the first field of the JSON line.
    logger->set_pattern("{\"time\":\"%Y-%m-%dT%H:%M:%S.%eZ\",%v", spdlog::pattern_time_type::utc);
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%eZ %l %v", spdlog::pattern_time_type::utc);
  }
  logger->set_level(spdlog::level::from_str(std::string(level)));
  spdlog::set_default_logger(logger);
}

LogFormat log_format() { return g_format; }

void shutdown_logging() {
  spdlog::default_logger_raw()->flush();
  spdlog::shutdown();
}

void log_info(std::string_view msg, const LogFields& f) { emit(spdlog::level::info, msg, f); }
void log_warn(std::string_view msg, const LogFields& f) { emit(spdlog::level::warn, msg, f); }
void log_error(std::string_view msg, const LogFields& f) { emit(spdlog::level::err, msg, f); }
void log_debug(std::string_view msg, const LogFields& f) { emit(spdlog::level::debug, msg, f); }

}  // namespace sira
