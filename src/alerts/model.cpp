// Label sets, fingerprints, Go-style quoting and alert validation (Alertmanager 0.25 rules).
#include "alerts/model.h"

#include <algorithm>
#include <vector>

namespace sira::alerts {

namespace {

constexpr uint64_t kFnvOffset = 14695981039346656037ULL;
constexpr uint64_t kFnvPrime = 1099511628211ULL;
constexpr char kHex[] = "0123456789abcdef";

uint64_t fnv_add(uint64_t h, std::string_view s) {
  for (unsigned char c : s) {
    h ^= c;
    h *= kFnvPrime;
  }
  return h;
}

uint64_t fnv_add_byte(uint64_t h, unsigned char c) {
  h ^= c;
  return h * kFnvPrime;
}

// Decodes one rune at s[i] the way Go's utf8.DecodeRuneInString does. Returns the rune and its
// width; an invalid sequence yields (-1, 1).
std::pair<int32_t, size_t> decode_rune(std::string_view s, size_t i) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c0 = b(i);
  if (c0 < 0x80) return {c0, 1};
  size_t n = s.size() - i;
  auto cont = [&](size_t k, unsigned char lo = 0x80, unsigned char hi = 0xBF) {
    return k < n && b(i + k) >= lo && b(i + k) <= hi;
  };
  if (c0 >= 0xC2 && c0 <= 0xDF) {
    if (!cont(1)) return {-1, 1};
    return {((c0 & 0x1F) << 6) | (b(i + 1) & 0x3F), 2};
  }
  if (c0 >= 0xE0 && c0 <= 0xEF) {
    unsigned char lo = c0 == 0xE0 ? 0xA0 : 0x80;
    unsigned char hi = c0 == 0xED ? 0x9F : 0xBF;  // no surrogates
    if (!cont(1, lo, hi) || !cont(2)) return {-1, 1};
    return {((c0 & 0x0F) << 12) | ((b(i + 1) & 0x3F) << 6) | (b(i + 2) & 0x3F), 3};
  }
  if (c0 >= 0xF0 && c0 <= 0xF4) {
    unsigned char lo = c0 == 0xF0 ? 0x90 : 0x80;
    unsigned char hi = c0 == 0xF4 ? 0x8F : 0xBF;  // nothing above U+10FFFF
    if (!cont(1, lo, hi) || !cont(2) || !cont(3)) return {-1, 1};
    return {((c0 & 0x07) << 18) | ((b(i + 1) & 0x3F) << 12) | ((b(i + 2) & 0x3F) << 6) |
                (b(i + 3) & 0x3F),
            4};
  }
  return {-1, 1};
}

// Approximates Go's unicode.IsPrint for non-ASCII runes: letters, marks, numbers, punctuation
// and symbols are printable; controls, format characters, separators other than U+0020,
// private use and non-characters are not. Unassigned code points in assigned blocks are
// treated as printable (Go would escape them); label values rarely contain them.
bool is_print_non_ascii(int32_t r) {
  struct Range {
    int32_t lo, hi;
  };
  static constexpr Range kNotPrint[] = {
      {0x0080, 0x00A0},   {0x00AD, 0x00AD},   {0x0600, 0x0605},    {0x061C, 0x061C},
      {0x06DD, 0x06DD},   {0x070F, 0x070F},   {0x0890, 0x0891},    {0x08E2, 0x08E2},
      {0x1680, 0x1680},   {0x180E, 0x180E},   {0x2000, 0x200F},    {0x2028, 0x202F},
      {0x205F, 0x2064},   {0x2066, 0x206F},   {0x3000, 0x3000},    {0xD800, 0xF8FF},
      {0xFDD0, 0xFDEF},   {0xFEFF, 0xFEFF},   {0xFFF0, 0xFFFB},    {0xFFFE, 0xFFFF},
      {0x110BD, 0x110BD}, {0x110CD, 0x110CD}, {0x13430, 0x1343F},  {0x1BCA0, 0x1BCA3},
      {0x1D173, 0x1D17A}, {0xE0000, 0xE00FF}, {0xE01F0, 0x10FFFF},
  };
  for (const auto& range : kNotPrint) {
    if (r >= range.lo && r <= range.hi) return false;
  }
  if ((r & 0xFFFE) == 0xFFFE) return false;  // U+xFFFE / U+xFFFF of every plane
  return true;
}

void append_hex(std::string& out, uint32_t v, int digits) {
  for (int shift = (digits - 1) * 4; shift >= 0; shift -= 4)
    out.push_back(kHex[(v >> shift) & 0xF]);
}

void validate_pairs(const LabelSet& set, const char* what, std::string* err) {
  for (const auto& [name, value] : set) {
    if (!valid_label_name(name)) {
      *err = std::string(what) + ": invalid name " + go_quote(name);
      return;
    }
    if (!valid_utf8(value)) {
      *err = std::string(what) + ": invalid value " + go_quote(value);
      return;
    }
  }
}

}  // namespace

bool valid_label_name(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    auto [r, w] = decode_rune(s, i);
    if (r < 0) return false;
    i += w;
  }
  return true;
}

uint64_t fingerprint(const LabelSet& labels) {
  // std::map iterates by name in byte order, which is Go's sort order for label names.
  uint64_t h = kFnvOffset;
  for (const auto& [name, value] : labels) {
    h = fnv_add(h, name);
    h = fnv_add_byte(h, 0xff);
    h = fnv_add(h, value);
    h = fnv_add_byte(h, 0xff);
  }
  return h;
}

std::string fingerprint_hex(uint64_t fp) {
  std::string out;
  out.reserve(16);
  append_hex(out, static_cast<uint32_t>(fp >> 32), 8);
  append_hex(out, static_cast<uint32_t>(fp), 8);
  return out;
}

bool parse_fingerprint_hex(std::string_view text, uint64_t* fp) {
  if (text.empty() || text.size() > 16) return false;
  uint64_t v = 0;
  for (char c : text) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    v = (v << 4) | static_cast<uint64_t>(d);
  }
  *fp = v;
  return true;
}

std::string go_quote(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.push_back('"');
  for (size_t i = 0; i < s.size();) {
    auto [r, w] = decode_rune(s, i);
    if (r < 0) {
      out += "\\x";
      append_hex(out, static_cast<unsigned char>(s[i]), 2);
      i += 1;
      continue;
    }
    if (r == '"' || r == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(r));
    } else if (r >= 0x20 && r < 0x7F) {
      out.push_back(static_cast<char>(r));
    } else if (r >= 0x80 && is_print_non_ascii(r)) {
      out.append(s.substr(i, w));
    } else {
      switch (r) {
        case '\a':
          out += "\\a";
          break;
        case '\b':
          out += "\\b";
          break;
        case '\f':
          out += "\\f";
          break;
        case '\n':
          out += "\\n";
          break;
        case '\r':
          out += "\\r";
          break;
        case '\t':
          out += "\\t";
          break;
        case '\v':
          out += "\\v";
          break;
        default:
          if (r < 0x20 || r == 0x7F) {
            out += "\\x";
            append_hex(out, static_cast<uint32_t>(r), 2);
          } else if (r < 0x10000) {
            out += "\\u";
            append_hex(out, static_cast<uint32_t>(r), 4);
          } else {
            out += "\\U";
            append_hex(out, static_cast<uint32_t>(r), 8);
          }
      }
    }
    i += w;
  }
  out.push_back('"');
  return out;
}

std::string label_set_string(const LabelSet& labels) {
  // Alertmanager formats each pair, then sorts the formatted strings (not the names): with
  // names "a" and "a0", `a0="x"` sorts before `a="y"` because '0' < '='.
  std::vector<std::string> pairs;
  pairs.reserve(labels.size());
  for (const auto& [name, value] : labels) pairs.push_back(name + "=" + go_quote(value));
  std::sort(pairs.begin(), pairs.end());
  std::string out = "{";
  for (size_t i = 0; i < pairs.size(); ++i) {
    if (i > 0) out += ", ";
    out += pairs[i];
  }
  out += "}";
  return out;
}

Status validate_alert(const Alert& alert) {
  if (alert.starts_at_ms == 0)
    return fail(ErrorCode::kInvalidArgument, "start time missing", "startsAt");
  if (alert.ends_at_ms != 0 && alert.ends_at_ms < alert.starts_at_ms)
    return fail(ErrorCode::kInvalidArgument, "start time must be before end time", "endsAt");
  std::string err;
  validate_pairs(alert.labels, "invalid label set", &err);
  if (!err.empty()) return fail(ErrorCode::kInvalidArgument, err, "labels");
  if (alert.labels.empty())
    return fail(ErrorCode::kInvalidArgument, "at least one label pair required", "labels");
  validate_pairs(alert.annotations, "invalid annotations", &err);
  if (!err.empty()) return fail(ErrorCode::kInvalidArgument, err, "annotations");
  return {};
}

}  // namespace sira::alerts
