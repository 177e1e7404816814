// Small cryptographic helpers over OpenSSL: SHA-256, secure random bytes, hex and base64url,
// constant-time comparison. Stateless and thread-safe.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace sira {

using Hash256 = std::array<uint8_t, 32>;

Hash256 sha256(std::string_view data);
// The 32 raw digest bytes as a string (for BLOB columns holding hashes of secrets).
std::string sha256_bytes(std::string_view data);
std::string hash_bytes(const Hash256& h);
std::string random_bytes(size_t n);
std::string hex_encode(std::string_view bytes);
std::string hex_encode(const Hash256& h);
bool hex_decode(std::string_view hex, std::string* out);
std::string base64url_encode(std::string_view bytes);
bool base64url_decode(std::string_view text, std::string* out);
std::string base64_encode(std::string_view bytes);
bool constant_time_equal(std::string_view a, std::string_view b);

}  // namespace sira
