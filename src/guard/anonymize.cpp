// Debug-pack anonymisation: IP truncation and secret masking by small hand-written scanners.
#include "guard/anonymize.h"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <cstring>
#include <vector>

namespace sira::guard {

namespace {

bool is_email_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '%' ||
         c == '+' || c == '-';
}

bool luhn(std::string_view digits) {
  int sum = 0;
  bool dbl = false;
  for (size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return sum % 10 == 0;
}

bool iequals_prefix(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[pos + i])) != word[i]) return false;
  return true;
}

bool token_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
         c == '~' || c == '+' || c == '/' || c == '=';
}

// Replaces e-mail addresses: local@domain.tld -> ***@***.
std::string mask_emails(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    size_t at = in.find('@', i);
    if (at == std::string_view::npos) break;
    size_t start = at;
    while (start > i && is_email_char(in[start - 1])) --start;
    size_t end = at + 1;
    bool dot = false;
    while (end < in.size() && (std::isalnum(static_cast<unsigned char>(in[end])) ||
                               in[end] == '.' || in[end] == '-')) {
      dot |= in[end] == '.';
      ++end;
    }
    if (start < at && dot && end > at + 3) {
      out.append(in.substr(i, start - i));
      out += "***@***";
      i = end;
    } else {
      out.append(in.substr(i, at + 1 - i));
      i = at + 1;
    }
  }
  out.append(in.substr(i));
  return out;
}

// Replaces runs of 13-19 digits (spaces or dashes allowed between groups) passing Luhn.
std::string mask_cards(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    if (!std::isdigit(static_cast<unsigned char>(in[i])) ||
        (i > 0 && std::isdigit(static_cast<unsigned char>(in[i - 1])))) {
      out += in[i++];
      continue;
    }
    // Collect digits (spaces or dashes may separate groups), remembering where each ends, then
    // take the longest 13-19 digit prefix that passes Luhn and is not glued to another digit:
    // "4111 1111 1111 1111 12/26" masks the card and keeps the expiry.
    std::string digits;
    std::vector<size_t> ends;  // ends[k] = text position just after digit k
    size_t j = i;
    while (j < in.size() && digits.size() < 24) {
      char c = in[j];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        digits += c;
        ends.push_back(j + 1);
      } else if (!((c == ' ' || c == '-') && j + 1 < in.size() &&
                   std::isdigit(static_cast<unsigned char>(in[j + 1])))) {
        break;
      }
      ++j;
    }
    size_t masked_end = 0, len = 0;
    for (size_t n = std::min<size_t>(19, digits.size()); n >= 13; --n) {
      size_t end = ends[n - 1];
      bool glued = end < in.size() && std::isdigit(static_cast<unsigned char>(in[end]));
      if (!glued && luhn(std::string_view(digits).substr(0, n))) {
        masked_end = end;
        len = n;
        break;
      }
    }
    if (len > 0) {
      out += "[card:****" + digits.substr(len - 4, 4) + "]";
      i = masked_end;
    } else {
      out += in[i++];
    }
  }
  return out;
}

// "Bearer xyz", "Basic xyz", JWT-looking "eyJ….….…" and sira/debug tokens.
std::string mask_tokens(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  size_t i = 0;
  while (i < in.size()) {
    bool scheme = false;
    size_t skip = 0;
    for (std::string_view w : {"bearer ", "bearer%20", "bearer+", "basic ", "basic%20"}) {
      if (iequals_prefix(in, i, w)) {
        scheme = true;
        skip = w.size();
        break;
      }
    }
    if (scheme) {
      size_t j = i + skip;
      size_t k = j;
      while (k < in.size() && token_char(in[k])) ++k;
      if (k > j) {
        out.append(in.substr(i, skip));
        out += "[redacted]";
        i = k;
        continue;
      }
    }
    // Tokens start after a separator: path and query punctuation count as separators.
    auto word_char = [](char c) {
      return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    };
    bool at_word_start = i == 0 || !word_char(in[i - 1]);
    if (at_word_start && (in.substr(i, 3) == "eyJ" || in.substr(i, 5) == "sira_" ||
                          in.substr(i, 6) == "debug_" || in.substr(i, 3) == "sk_" ||
                          in.substr(i, 3) == "pk_")) {
      size_t k = i;
      while (k < in.size() && token_char(in[k]) && in[k] != '/') ++k;
      if (k - i >= 16) {
        out += "[redacted]";
        i = k;
        continue;
      }
    }
    out += in[i++];
  }
  return out;
}

constexpr std::array<std::string_view, 16> kSecretParams = {
    "token",  "access_token", "refresh_token", "id_token", "api_key",   "apikey",
    "key",    "password",     "passwd",        "pwd",      "secret",    "client_secret",
    "signature", "sig",       "auth",          "session"};

bool secret_param(std::string_view name) {
  std::string lower;
  for (char c : name) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (auto s : kSecretParams)
    if (lower == s) return true;
  return lower.ends_with("_token") || lower.ends_with("_secret") || lower.ends_with("password");
}

}  // namespace

std::string truncate_ip(std::string_view ip) {
  std::string s(ip);
  in_addr v4;
  in6_addr v6;
  char buf[INET6_ADDRSTRLEN];
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    reinterpret_cast<uint8_t*>(&v4)[3] = 0;
    inet_ntop(AF_INET, &v4, buf, sizeof buf);
    return buf;
  }
  if (inet_pton(AF_INET6, s.c_str(), &v6) == 1) {
    std::memset(reinterpret_cast<uint8_t*>(&v6) + 6, 0, 10);
    inet_ntop(AF_INET6, &v6, buf, sizeof buf);
    return buf;
  }
  return "[invalid-ip]";
}

std::string mask_secrets(std::string_view text) {
  return mask_cards(mask_emails(mask_tokens(text)));
}

std::string mask_query(std::string_view query) {
  std::string out;
  size_t i = 0;
  while (i <= query.size()) {
    size_t amp = query.find('&', i);
    if (amp == std::string_view::npos) amp = query.size();
    std::string_view pair = query.substr(i, amp - i);
    size_t eq = pair.find('=');
    if (eq != std::string_view::npos && secret_param(pair.substr(0, eq))) {
      out.append(pair.substr(0, eq + 1));
      out += "[redacted]";
    } else {
      out.append(pair);
    }
    if (amp < query.size()) out += '&';
    i = amp + 1;
  }
  return mask_secrets(out);
}

}  // namespace sira::guard
