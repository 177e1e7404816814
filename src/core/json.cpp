// Strict JSON parsing and typed field access.
#include "core/json.h"

namespace sira::json {

bool valid_utf8(std::string_view s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0)
      len = 2, cp = c & 0x1F;
    else if ((c & 0xF0) == 0xE0)
      len = 3, cp = c & 0x0F;
    else if ((c & 0xF8) == 0xF0)
      len = 4, cp = c & 0x07;
    else
      return false;
    if (i + len > n) return false;
    for (size_t k = 1; k < len; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

Result<bj::value> parse(std::string_view text) {
  if (!valid_utf8(text)) return fail(ErrorCode::kMalformedJson, "body is not valid UTF-8");
  bj::parse_options opts;
  opts.max_depth = 32;
  opts.allow_invalid_utf8 = false;
  boost::system::error_code ec;
  bj::stream_parser p(bj::storage_ptr(), opts);
  p.write(text.data(), text.size(), ec);
  if (!ec) p.finish(ec);
  if (ec) return fail(ErrorCode::kMalformedJson, "body is not valid JSON: " + ec.message());
  return p.release();
}

Result<bj::object> parse_object(std::string_view text) {
  auto v = SIRA_TRY(parse(text));
  if (!v.is_object()) return fail(ErrorCode::kInvalidArgument, "body must be a JSON object");
  return std::move(v.as_object());
}

Status only_fields(const bj::object& obj, std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : obj) {
    bool ok = false;
    for (auto a : allowed) ok |= (kv.key() == a);
    if (!ok)
      return fail(ErrorCode::kInvalidArgument, "unknown field \"" + std::string(kv.key()) + "\"",
                  std::string(kv.key()));
  }
  return {};
}

Result<std::optional<std::string>> optional_string(const bj::object& obj, std::string_view key,
                                                   size_t max_len) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null()) return std::optional<std::string>();
  if (!it->value().is_string())
    return fail(ErrorCode::kInvalidArgument, "field \"" + std::string(key) + "\" must be a string",
                std::string(key));
  const auto& s = it->value().as_string();
  if (s.size() > max_len)
    return fail(ErrorCode::kInvalidArgument,
                "field \"" + std::string(key) + "\" is longer than " + std::to_string(max_len),
                std::string(key));
  for (char c : s)
    if (c == '\0')
      return fail(ErrorCode::kInvalidArgument,
                  "field \"" + std::string(key) + "\" contains a NUL character", std::string(key));
  return std::optional<std::string>(std::string(s));
}

Result<std::string> required_string(const bj::object& obj, std::string_view key, size_t max_len) {
  auto v = SIRA_TRY(optional_string(obj, key, max_len));
  if (!v || v->empty())
    return fail(ErrorCode::kInvalidArgument, "field \"" + std::string(key) + "\" is required",
                std::string(key));
  return *v;
}

Result<std::optional<int64_t>> optional_int(const bj::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null()) return std::optional<int64_t>();
  const auto& v = it->value();
  if (v.is_int64()) return std::optional<int64_t>(v.as_int64());
  if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX))
    return std::optional<int64_t>(static_cast<int64_t>(v.as_uint64()));
  return fail(ErrorCode::kInvalidArgument,
              "field \"" + std::string(key) + "\" must be an integer in the 64-bit signed range",
              std::string(key));
}

Result<std::optional<bool>> optional_bool(const bj::object& obj, std::string_view key) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null()) return std::optional<bool>();
  if (!it->value().is_bool())
    return fail(ErrorCode::kInvalidArgument, "field \"" + std::string(key) + "\" must be a boolean",
                std::string(key));
  return std::optional<bool>(it->value().as_bool());
}

Result<std::optional<std::vector<std::string>>> optional_string_array(const bj::object& obj,
                                                                      std::string_view key,
                                                                      size_t max_items) {
  auto it = obj.find(key);
  if (it == obj.end() || it->value().is_null()) return std::optional<std::vector<std::string>>();
  std::string k(key);
  if (!it->value().is_array())
    return fail(ErrorCode::kInvalidArgument, "field \"" + k + "\" must be an array of strings", k);
  const auto& a = it->value().as_array();
  if (a.size() > max_items)
    return fail(ErrorCode::kInvalidArgument, "field \"" + k + "\" has too many items", k);
  std::vector<std::string> out;
  for (const auto& e : a) {
    if (!e.is_string())
      return fail(ErrorCode::kInvalidArgument, "field \"" + k + "\" must be an array of strings",
                  k);
    out.emplace_back(e.as_string());
  }
  return std::optional<std::vector<std::string>>(std::move(out));
}

std::string serialize(const bj::value& v) {
  return bj::serialize(v);
}

bj::array string_array(const std::vector<std::string>& items) {
  bj::array a;
  a.reserve(items.size());
  for (const auto& s : items) a.emplace_back(s);
  return a;
}

void append_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
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
      case '\b':
        out += "\\b";
        break;
      case '\f':
        out += "\\f";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(ch);
        }
    }
  }
  out.push_back('"');
}

void append_string_map(std::string& out, const std::map<std::string, std::string>& m) {
  out.push_back('{');
  bool first = true;
  for (const auto& [k, v] : m) {
    if (!first) out.push_back(',');
    first = false;
    append_string(out, k);
    out.push_back(':');
    append_string(out, v);
  }
  out.push_back('}');
}

}  // namespace sira::json
