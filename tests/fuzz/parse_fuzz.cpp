// libFuzzer target for the request-log parsers: NDJSON, nginx and Envoy lines (with each key
// option), line splitting and the IP check must never crash, read out of bounds or accept a record
// that breaks the RecordView contract, whatever the bytes. Build: see README.md in this folder.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "signals/parse.h"

namespace {

using namespace sira::signals;

void check(const RecordView& r) {
  // Every accepted record honours the documented invariants.
  bool ok = r.status >= 100 && r.status <= 599 && r.latency_ms >= 0 && r.bytes >= 0 &&
            r.ts_ms >= 0 && !r.key_id.empty() && r.key_id.size() <= kMaxKeyId &&
            !r.method.empty() && r.method.size() <= kMaxMethod && !r.path.empty() &&
            r.path.size() <= kMaxPath && r.query.size() <= kMaxQuery &&
            r.user_agent.size() <= kMaxUserAgent && valid_ip(r.ip) &&
            r.path.find('?') == std::string_view::npos;
  if (!ok) std::abort();
  // Touch every byte so sanitizers see dangling views.
  size_t sum = 0;
  for (std::string_view s :
       {r.key_id, r.ip, r.method, r.path, r.query, r.user_agent, r.trace_id, r.span_id}) {
    for (char c : s) sum += static_cast<unsigned char>(c);
  }
  if (sum == 1) std::abort();  // never true for valid records; keeps the loop alive
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto ndjson = make_parser(Format::kNdjson);
  static auto nginx = make_parser(Format::kNginx);
  static auto nginx_user = make_parser(Format::kNginx, {.nginx_key = "remote_user"});
  static auto nginx_query = make_parser(Format::kNginx, {.nginx_key = "query:api_key"});
  static auto envoy = make_parser(Format::kEnvoy);
  static auto envoy_query = make_parser(Format::kEnvoy, {.envoy_key = "query:api_key"});
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ParseStats stats;
  for (LineParser* parser : {ndjson.get(), nginx.get(), nginx_user.get(), nginx_query.get(),
                             envoy.get(), envoy_query.get()}) {
    parse_lines(
        *parser, input, 1, [](const RecordView& r) { check(r); },
        [](int64_t line, std::string_view reason) {
          if (line < 1 || reason.empty()) std::abort();
        },
        &stats);
  }
  if (stats.lines != stats.records + stats.rejected) std::abort();
  (void)valid_ip(input);
  (void)valid_key_option(Format::kNginx, input);
  (void)valid_key_option(Format::kEnvoy, input);
  return 0;
}
