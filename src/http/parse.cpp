// Request-line helpers: percent-decoding, query splitting, traceparent and random ids.
#include "http/internal/parse.h"

#include <array>
#include <cstdint>
#include <cstring>
#include <random>

#include "core/crypto.h"

namespace sira::http::internal {
namespace {

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

bool all_zero(std::string_view s) {
  return s.find_first_not_of('0') == std::string_view::npos;
}

bool starts_with_icase(std::string_view s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != prefix[i]) return false;
  }
  return true;
}

}  // namespace

bool percent_decode(std::string_view in, bool plus_as_space, std::string* out) {
  out->clear();
  out->reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (i + 2 >= in.size()) return false;
      int hi = hex_value(in[i + 1]);
      int lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      c = static_cast<char>(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_as_space) {
      c = ' ';
    }
    if (c == '\0') return false;
    out->push_back(c);
  }
  return true;
}

bool split_target(std::string_view target, std::string_view* path, std::string_view* query) {
  if (starts_with_icase(target, "http://") || starts_with_icase(target, "https://")) {
    size_t authority = target.find("//") + 2;
    size_t end = target.find_first_of("/?", authority);
    if (end == std::string_view::npos) {
      *path = "/";
      *query = {};
      return true;
    }
    target.remove_prefix(end);
    if (target.front() == '?') {
      *path = "/";
      *query = target.substr(1);
      return true;
    }
  }
  if (target.empty() || target.front() != '/') return false;
  size_t q = target.find('?');
  if (q == std::string_view::npos) {
    *path = target;
    *query = {};
  } else {
    *path = target.substr(0, q);
    *query = target.substr(q + 1);
  }
  return true;
}

bool parse_query(std::string_view query, std::multimap<std::string, std::string>* out) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    std::string key;
    std::string value;
    if (!percent_decode(pair.substr(0, eq), true, &key)) return false;
    if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), true, &value)) {
      return false;
    }
    out->emplace(std::move(key), std::move(value));
  }
  return true;
}

std::optional<TraceParent> parse_traceparent(std::string_view v) {
  // version "-" trace-id "-" parent-id "-" flags; version 00 is exactly 55 characters, later
  // versions may append "-..." fields that we ignore (W3C trace-context, section 3.2).
  if (v.size() < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-') return std::nullopt;
  std::string_view version = v.substr(0, 2);
  std::string_view trace = v.substr(3, 32);
  std::string_view parent = v.substr(36, 16);
  std::string_view flags = v.substr(53, 2);
  if (!is_lower_hex(version) || version == "ff") return std::nullopt;
  if (version == "00" && v.size() != 55) return std::nullopt;
  if (v.size() > 55 && v[55] != '-') return std::nullopt;
  if (!is_lower_hex(trace) || all_zero(trace)) return std::nullopt;
  if (!is_lower_hex(parent) || all_zero(parent)) return std::nullopt;
  if (!is_lower_hex(flags)) return std::nullopt;
  return TraceParent{std::string(trace), std::string(parent), std::string(flags)};
}

bool valid_request_id(std::string_view value) {
  if (value.empty() || value.size() > 128) return false;
  for (char c : value) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::string random_hex(size_t bytes) {
  // Trace and request ids need uniqueness, not secrecy: a seeded per-thread generator avoids a
  // trip through OpenSSL on every request.
  thread_local std::mt19937_64 rng = [] {
    std::string seed = random_bytes(32);
    std::array<uint32_t, 8> words{};
    std::memcpy(words.data(), seed.data(), std::min(seed.size(), sizeof(words)));
    std::seed_seq seq(words.begin(), words.end());
    return std::mt19937_64(seq);
  }();
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(bytes * 2, '0');
  do {
    for (size_t i = 0; i < bytes; i += 8) {
      uint64_t r = rng();
      for (size_t j = 0; j < 8 && i + j < bytes; ++j) {
        auto b = static_cast<unsigned>((r >> (8 * j)) & 0xff);
        out[2 * (i + j)] = kHex[b >> 4];
        out[2 * (i + j) + 1] = kHex[b & 0xf];
      }
    }
  } while (bytes > 0 && all_zero(out));
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

}  // namespace sira::http::internal
