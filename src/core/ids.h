// Identifiers: "<prefix>_<26 chars>" where the first 10 chars encode the creation time in
// milliseconds (Crockford base32) and the rest 80 random bits, so ids sort by creation time.
// Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "core/clock.h"

namespace sira {

std::string new_id(std::string_view prefix, const Clock& clock);
// True when `id` looks like "<prefix>_" followed by 26 Crockford base32 characters.
bool is_valid_id(std::string_view id, std::string_view prefix);

}  // namespace sira
