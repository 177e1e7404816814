// JSON helpers over Boost.JSON: strict parsing of request bodies into objects, typed field
// readers that produce InvalidArgument errors naming the field, and UTF-8 validation.
// Stateless and thread-safe.
#pragma once

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace sira::json {

namespace bj = boost::json;

// Parses a document that must be a JSON object. Rejects invalid UTF-8, trailing garbage and
// nesting deeper than 32. A duplicated key keeps its last value (RFC 8259 leaves it open).
Result<bj::object> parse_object(std::string_view text);
Result<bj::value> parse(std::string_view text);

// Rejects any key of `obj` not in `allowed`.
Status only_fields(const bj::object& obj, std::initializer_list<std::string_view> allowed);

// Field readers: absent -> nullopt (optional_*) or InvalidArgument (required_*); present with
// the wrong type -> InvalidArgument naming the field.
Result<std::string> required_string(const bj::object& obj, std::string_view key,
                                    size_t max_len = 1024);
Result<std::optional<std::string>> optional_string(const bj::object& obj, std::string_view key,
                                                   size_t max_len = 1024);
Result<std::optional<int64_t>> optional_int(const bj::object& obj, std::string_view key);
Result<std::optional<bool>> optional_bool(const bj::object& obj, std::string_view key);
Result<std::optional<std::vector<std::string>>> optional_string_array(const bj::object& obj,
                                                                      std::string_view key,
                                                                      size_t max_items = 64);

bool valid_utf8(std::string_view s);
bj::array string_array(const std::vector<std::string>& items);
std::string serialize(const bj::value& v);
// Appends `s` as a JSON string literal (quotes and escapes included), for writers that build
// large documents as text instead of a DOM. `s` must be valid UTF-8.
void append_string(std::string& out, std::string_view s);
// Appends {"name":"value",...} in the map's order (label sets and the like).
void append_string_map(std::string& out, const std::map<std::string, std::string>& m);

}  // namespace sira::json
