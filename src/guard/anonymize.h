// Anonymisation for debug packs shared outside the team: IP addresses truncated (IPv4 to /24,
// IPv6 to /48), and in free text (paths, queries, user agents) e-mail addresses, bearer tokens,
// card numbers (13-19 digits passing Luhn), JWTs, and values of secret-looking query parameters
// (token, key, password, secret, signature, ...) masked. Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>

namespace sira::guard {

std::string truncate_ip(std::string_view ip);
std::string mask_secrets(std::string_view text);
// Masks the values of sensitive parameters in a query string, then applies mask_secrets.
std::string mask_query(std::string_view query);

}  // namespace sira::guard
