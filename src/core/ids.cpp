// Time-sortable random identifiers.
#include "core/ids.h"

#include "core/crypto.h"

namespace sira {

namespace {
constexpr char kCrockford[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
}

std::string new_id(std::string_view prefix, const Clock& clock) {
  uint64_t ms = static_cast<uint64_t>(clock.now_ms());
  std::string out(prefix);
  out.push_back('_');
  char time_part[10];
  for (int i = 9; i >= 0; --i) {
    time_part[i] = kCrockford[ms & 31];
    ms >>= 5;
  }
  out.append(time_part, 10);
  std::string rnd = random_bytes(10);  // 80 bits -> 16 chars
  uint64_t acc = 0;
  int bits = 0;
  for (unsigned char c : rnd) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out.push_back(kCrockford[(acc >> bits) & 31]);
    }
  }
  return out;
}

bool is_valid_id(std::string_view id, std::string_view prefix) {
  if (id.size() != prefix.size() + 1 + 26) return false;
  if (id.substr(0, prefix.size()) != prefix || id[prefix.size()] != '_') return false;
  for (char c : id.substr(prefix.size() + 1)) {
    bool ok = false;
    for (char k : std::string_view(kCrockford)) ok |= (c == k);
    if (!ok) return false;
  }
  return true;
}

}  // namespace sira
