// Outbound SMTP client: message composition (RFC 5322 headers, RFC 2047 encoded-words, MIME
// with quoted-printable parts, dot-stuffing) and one C++20 coroutine per send() on its own strand
// of the client's io_context; the calling thread waits on a future with a deadline.
#include "http/smtp.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <exception>
#include <future>
#include <string_view>
#include <thread>

#include "core/crypto.h"
#include "core/log.h"
#include "http/internal/io_runtime.h"
#include "http/internal/parse.h"

namespace sira::http {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kNoThrow = asio::as_tuple(asio::use_awaitable);
// send() gives the exchange this much longer than its deadline before answering "timed out"
// itself: only a system resolver stuck in getaddrinfo (which cannot be cancelled) gets there.
constexpr auto kResolverGrace = std::chrono::seconds(2);
// After the message is accepted, QUIT's answer is awaited this long at most: it changes nothing.
constexpr auto kQuitWait = std::chrono::seconds(1);
constexpr size_t kMaxReplyBytes = 8192;  // one reply line (RFC 5321 allows 512)
constexpr size_t kMaxReplyLines = 100;
constexpr size_t kMaxReplyInDetail = 300;
// Header lines longer than this are sent as encoded-words, which fold (RFC 5322 caps at 998).
constexpr size_t kMaxPlainHeaderLine = 900;
constexpr std::string_view kImplicitTlsPort = "465";

enum class Step {
  kResolve,
  kConnect,
  kTls,
  kGreeting,
  kHello,
  kStartTls,
  kAuth,
  kMailFrom,
  kRcptTo,
  kData,
  kBody,
  kQuit
};

// ---- input validation -----------------------------------------------------------------------

bool has_line_break_or_nul(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

std::unexpected<Error> injection(std::string_view field) {
  return fail(ErrorCode::kInvalidArgument, std::string(field) + " holds a CR, LF or NUL character",
              std::string(field));
}

bool is_ascii(std::string_view s) {
  for (unsigned char c : s) {
    if (c >= 0x80) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::string ascii_upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool is_ip_literal(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

bool is_loopback(const asio::ip::address& a) {
  if (a.is_loopback()) return true;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return false;
}

struct Smarthost {
  std::string host;       // lower-case, IPv6 without brackets
  std::string port;       // "1".."65535"
  std::string authority;  // "host:port", IPv6 in brackets
};

Result<Smarthost> parse_smarthost(std::string_view s) {
  auto invalid = [&](std::string why) {
    return fail(ErrorCode::kInvalidArgument, "invalid smarthost '" + std::string(s) + "': " + why,
                "smarthost");
  };
  if (has_line_break_or_nul(s)) return injection("smarthost");
  if (s.empty())
    return fail(ErrorCode::kInvalidArgument, "smarthost is empty (want host:port)", "smarthost");
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f) return invalid("whitespace, control or non-ASCII character");
  }
  std::string_view host;
  std::string_view port;
  bool v6 = false;
  if (s.front() == '[') {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return invalid("unterminated IPv6 literal");
    host = s.substr(1, close - 1);
    std::string_view after = s.substr(close + 1);
    if (after.empty() || after.front() != ':') return invalid("missing port (want host:port)");
    port = after.substr(1);
    beast::error_code ec;
    asio::ip::make_address_v6(std::string(host), ec);
    if (ec || host.find('%') != std::string_view::npos) return invalid("bad IPv6 literal");
    v6 = true;
  } else {
    size_t colon = s.rfind(':');
    if (colon == std::string_view::npos) return invalid("missing port (want host:port)");
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return invalid("IPv6 literals must be in brackets");
    }
    for (char c : host) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '-' || c == '.' || c == '_';
      if (!ok) return invalid("bad character in host");
    }
  }
  if (host.empty()) return invalid("missing host");
  int n = all_digits(port) && port.size() <= 5 ? std::stoi(std::string(port)) : 0;
  if (n < 1 || n > 65535) return invalid("port must be 1..65535");
  Smarthost out;
  out.host = internal::ascii_lower(host);
  out.port = std::to_string(n);
  out.authority = (v6 ? "[" + out.host + "]" : out.host) + ":" + out.port;
  return out;
}

struct Mailbox {
  std::string display;  // UTF-8, unquoted; empty when none
  std::string address;  // addr-spec, ASCII
};

bool local_part_char(unsigned char c) {
  return c > 0x20 && c < 0x7f &&
         std::string_view("<>()[],;:\"@\\").find(static_cast<char>(c)) == std::string_view::npos;
}

// A dot-atom-ish local part and a host name or [literal] domain; quoted local parts and
// SMTPUTF8 are out of scope.
bool valid_address(std::string_view a) {
  size_t at = a.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == a.size()) return false;
  for (unsigned char c : a.substr(0, at)) {
    if (!local_part_char(c)) return false;
  }
  std::string_view domain = a.substr(at + 1);
  if (domain.front() == '[') {
    if (domain.size() < 3 || domain.back() != ']') return false;
    for (unsigned char c : domain.substr(1, domain.size() - 2)) {
      if (c <= 0x20 || c >= 0x7f || c == '[' || c == ']' || c == '\\') return false;
    }
    return true;
  }
  if (domain.front() == '.' || domain.back() == '.') return false;
  for (char c : domain) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_';
    if (!ok) return false;
  }
  return true;
}

// Splits "a@x, B <b@y>, \"C, D\" <c@z>" on the commas outside quotes and angle brackets.
std::vector<std::string_view> split_address_list(std::string_view s) {
  std::vector<std::string_view> out;
  bool quoted = false;
  int angle = 0;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '<') {
      ++angle;
    } else if (c == '>') {
      if (angle > 0) --angle;
    } else if (c == ',' && angle == 0) {
      out.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(s.substr(start));
  return out;
}

Result<Mailbox> parse_mailbox(std::string_view item, std::string_view field) {
  auto invalid = [&](std::string why) {
    return fail(ErrorCode::kInvalidArgument, why, std::string(field));
  };
  Mailbox mb;
  std::string_view address = item;
  if (!item.empty() && item.back() == '>') {
    size_t lt = item.rfind('<');
    if (lt == std::string_view::npos) {
      return invalid("invalid e-mail address '" + std::string(item) + "' in " + std::string(field));
    }
    address = item.substr(lt + 1, item.size() - lt - 2);
    std::string_view display = trim(item.substr(0, lt));
    if (display.size() >= 2 && display.front() == '"' && display.back() == '"') {
      display = display.substr(1, display.size() - 2);
      for (size_t i = 0; i < display.size(); ++i) {
        if (display[i] == '\\' && i + 1 < display.size()) ++i;
        mb.display += display[i];
      }
    } else {
      mb.display = std::string(display);
    }
  }
  if (!is_ascii(address)) {
    return invalid("e-mail address '" + std::string(address) + "' in " + std::string(field) +
                   " is not ASCII (SMTPUTF8 is not supported)");
  }
  if (!valid_address(address)) {
    return invalid("invalid e-mail address '" + std::string(address) + "' in " +
                   std::string(field));
  }
  mb.address = std::string(address);
  return mb;
}

Result<std::vector<Mailbox>> parse_mailbox_list(std::string_view text, std::string_view field) {
  if (has_line_break_or_nul(text)) return injection(field);
  std::vector<Mailbox> out;
  for (std::string_view item : split_address_list(text)) {
    item = trim(item);
    if (item.empty()) continue;
    out.push_back(SIRA_TRY(parse_mailbox(item, field)));
  }
  return out;
}

// ---- message composition --------------------------------------------------------------------

bool needs_encoding(std::string_view s) {
  for (unsigned char c : s) {
    if ((c < 0x20 && c != '\t') || c >= 0x7f) return true;
  }
  return false;
}

// RFC 2047 "B" encoded-words, never splitting a UTF-8 sequence, each sized so that its line
// (the first starts at column `used`, the others after a folding space) stays within 76.
std::vector<std::string> encoded_words(std::string_view s, size_t used) {
  constexpr size_t kFraming = 12;  // "=?UTF-8?B?" + "?="
  auto chunk_for = [](size_t column) {
    size_t room = column + kFraming + 4 <= 76 ? 76 - column - kFraming : 4;
    return room / 4 * 3;
  };
  std::vector<std::string> words;
  size_t pos = 0;
  size_t column = used;
  while (pos < s.size()) {
    size_t n = std::min(chunk_for(column), s.size() - pos);
    size_t cut = n;
    while (cut > 0 && pos + cut < s.size() &&
           (static_cast<unsigned char>(s[pos + cut]) & 0xC0) == 0x80) {
      --cut;
    }
    if (cut > 0) {
      n = cut;
    } else {  // a tiny chunk: take the whole character (or run of stray continuation bytes)
      while (pos + n < s.size() && (static_cast<unsigned char>(s[pos + n]) & 0xC0) == 0x80) ++n;
    }
    words.push_back("=?UTF-8?B?" + base64_encode(s.substr(pos, n)) + "?=");
    pos += n;
    column = 1;
  }
  return words;
}

std::string join(const std::vector<std::string>& parts, std::string_view sep) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i) out += sep;
    out += parts[i];
  }
  return out;
}

// "Name: value" for an unstructured header; encoded-words (folded) when the value is not
// printable ASCII or the line would be too long.
std::string unstructured_header(std::string_view name, std::string_view value) {
  std::string line = std::string(name) + ":";
  if (value.empty()) return line;
  if (!needs_encoding(value) && line.size() + 1 + value.size() <= kMaxPlainHeaderLine) {
    return line + " " + std::string(value);
  }
  return line + " " + join(encoded_words(value, line.size() + 1), "\r\n ");
}

bool atext_or_space(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == ' ' ||
         std::string_view("!#$%&'*+-/=?^_`{|}~").find(static_cast<char>(c)) !=
             std::string_view::npos;
}

std::string display_phrase(std::string_view display, size_t used) {
  if (needs_encoding(display)) return join(encoded_words(display, used), "\r\n ");
  bool plain = true;
  for (unsigned char c : display) plain = plain && atext_or_space(c);
  if (plain) return std::string(display);
  std::string out = "\"";
  for (char c : display) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// `used`: the column the mailbox starts at (for the size of encoded-words).
std::string format_mailbox(const Mailbox& mb, size_t used) {
  if (mb.display.empty()) return mb.address;
  return display_phrase(mb.display, used) + " <" + mb.address + ">";
}

// RFC 5322 date-time in UTC: "Fri, 02 Jan 2026 03:04:05 +0000".
std::string rfc5322_date(TimePoint t) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t secs = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday % 7],
                tm.tm_mday, kMonths[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

// Quoted-printable (RFC 2045) with CRLF hard breaks whatever the input's line endings, soft
// breaks keeping lines within 76 characters, trailing blanks encoded. Ends with CRLF unless empty.
std::string quoted_printable(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  size_t line_len = 0;
  auto emit = [&](std::string_view token) {
    if (line_len + token.size() > 75) {
      out += "=\r\n";
      line_len = 0;
    }
    out += token;
    line_len += token.size();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\r\n";
      line_len = 0;
      continue;
    }
    auto u = static_cast<unsigned char>(c);
    bool at_eol = i + 1 == text.size() || text[i + 1] == '\r' || text[i + 1] == '\n';
    if ((u >= 33 && u <= 126 && u != '=') || ((u == ' ' || u == '\t') && !at_eol)) {
      emit(std::string_view(&text[i], 1));
    } else {
      char enc[3] = {'=', kHex[u >> 4], kHex[u & 0xF]};
      emit(std::string_view(enc, 3));
    }
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out;
}

std::string text_part_headers(std::string_view subtype) {
  return "Content-Type: text/" + std::string(subtype) +
         "; charset=UTF-8\r\nContent-Transfer-Encoding: quoted-printable\r\n";
}

bool header_name_ok(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (c <= 0x20 || c >= 0x7f || c == ':') return false;
  }
  return true;
}

// The RFC 5322 message with CRLF line endings (before dot-stuffing).
Result<std::string> compose(const MailMessage& m, const Mailbox& from,
                            const std::vector<Mailbox>& to, TimePoint now) {
  if (has_line_break_or_nul(m.subject)) return injection("subject");
  std::vector<std::string> to_fields;
  for (const auto& mb : to) to_fields.push_back(format_mailbox(mb, to_fields.empty() ? 4 : 1));
  std::string domain = from.address.substr(from.address.rfind('@') + 1);

  // Lower-case name -> header line (no CRLF), in sending order.
  std::vector<std::pair<std::string, std::string>> lines = {
      {"from", "From: " + format_mailbox(from, 6)},
      {"to", "To: " + join(to_fields, ",\r\n ")},
      {"subject", unstructured_header("Subject", m.subject)},
      {"date", "Date: " + rfc5322_date(now)},
      {"message-id", "Message-Id: <" + hex_encode(random_bytes(16)) + "@" + domain + ">"},
      {"mime-version", "MIME-Version: 1.0"},
  };
  for (const auto& [name, value] : m.headers) {
    if (has_line_break_or_nul(name) || has_line_break_or_nul(value)) {
      return fail(ErrorCode::kInvalidArgument,
                  "header '" + name + "' holds a CR, LF or NUL character", "headers");
    }
    if (!header_name_ok(name)) {
      return fail(ErrorCode::kInvalidArgument, "invalid header name '" + name + "'", "headers");
    }
    std::string lower = internal::ascii_lower(name);
    // MIME framing belongs to the client.
    if (lower == "mime-version" || lower == "content-type" ||
        lower == "content-transfer-encoding") {
      continue;
    }
    std::string line = unstructured_header(name, value);
    bool replaced = false;
    for (auto& [n, l] : lines) {
      if (n == lower) {
        l = line;
        replaced = true;
        break;
      }
    }
    if (!replaced) lines.emplace_back(lower, std::move(line));
  }

  std::string out;
  for (const auto& [n, l] : lines) out += l + "\r\n";
  if (m.html_body.empty()) {
    out += text_part_headers("plain") + "\r\n" + quoted_printable(m.text_body);
    return out;
  }
  if (m.text_body.empty()) {
    out += text_part_headers("html") + "\r\n" + quoted_printable(m.html_body);
    return out;
  }
  std::string boundary = "sira-" + hex_encode(random_bytes(12));
  out += "Content-Type: multipart/alternative; boundary=\"" + boundary + "\"\r\n\r\n";
  out += "--" + boundary + "\r\n" + text_part_headers("plain") + "\r\n" +
         quoted_printable(m.text_body);
  out +=
      "--" + boundary + "\r\n" + text_part_headers("html") + "\r\n" + quoted_printable(m.html_body);
  out += "--" + boundary + "--\r\n";
  return out;
}

// RFC 5321 4.5.2: a line starting with '.' gets another; then the terminating ".".
std::string dot_stuff(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 64 + 8);
  bool line_start = true;
  for (char c : message) {
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = c == '\n';
  }
  if (!out.ends_with("\r\n")) out += "\r\n";
  out += ".\r\n";
  return out;
}

// Everything the coroutine needs, validated and composed up front.
struct Plan {
  Smarthost server;
  std::string hello;
  std::string from;                // envelope sender
  std::vector<std::string> rcpts;  // envelope recipients
  std::string data;                // dot-stuffed, ends with ".\r\n"
  std::string username, password;
  bool require_tls = true;
  bool implicit_tls = false;
  int64_t timeout_ms = 0;
};

Result<Plan> prepare(const MailMessage& m, TimePoint now) {
  if (m.timeout_ms <= 0) {
    return fail(ErrorCode::kInvalidArgument, "timeout_ms must be positive", "timeout_ms");
  }
  Plan plan;
  plan.server = SIRA_TRY(parse_smarthost(m.smarthost));
  if (has_line_break_or_nul(m.hello)) return injection("hello");
  if (m.hello.empty()) {
    return fail(ErrorCode::kInvalidArgument, "hello is empty (want a host name)", "hello");
  }
  for (unsigned char c : m.hello) {
    if (c <= 0x20 || c >= 0x7f) {
      return fail(ErrorCode::kInvalidArgument,
                  "hello '" + m.hello + "' must be a host name or address literal", "hello");
    }
  }
  plan.hello = m.hello;

  auto from = SIRA_TRY(parse_mailbox_list(m.from, "from"));
  if (from.size() != 1) {
    return fail(ErrorCode::kInvalidArgument,
                from.empty() ? "from is empty" : "from must hold exactly one address", "from");
  }
  std::vector<Mailbox> to;
  for (const auto& entry : m.to) {
    for (auto& mb : SIRA_TRY(parse_mailbox_list(entry, "to"))) to.push_back(std::move(mb));
  }
  if (to.empty()) return fail(ErrorCode::kInvalidArgument, "no recipient in to", "to");
  plan.from = from.front().address;
  for (const auto& mb : to) {
    bool seen = false;
    for (const auto& r : plan.rcpts) seen = seen || r == mb.address;
    if (!seen) plan.rcpts.push_back(mb.address);
  }

  // AUTH PLAIN separates its fields with NUL.
  if (m.username.find('\0') != std::string::npos) return injection("username");
  if (m.password.find('\0') != std::string::npos) return injection("password");
  plan.username = m.username;
  plan.password = m.password;

  plan.data = dot_stuff(SIRA_TRY(compose(m, from.front(), to, now)));
  plan.require_tls = m.require_tls;
  plan.implicit_tls = plan.server.port == kImplicitTlsPort;
  plan.timeout_ms = m.timeout_ms;
  return plan;
}

// ---- the dialogue ---------------------------------------------------------------------------

// Server text for an error detail: control and non-ASCII bytes replaced, capped.
std::string printable(std::string_view s, size_t cap = kMaxReplyInDetail) {
  std::string out(s.substr(0, cap));
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
  }
  if (s.size() > cap) out += "...";
  return out;
}

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // text after "250-" / "250 ", one per line

  // "550 no such user"; lines joined by spaces, control bytes replaced, capped.
  std::string text() const {
    std::string out = std::to_string(code);
    for (const auto& l : lines) {
      if (l.empty()) continue;
      out += ' ';
      out += l;
    }
    return printable(out);
  }
};

struct Capabilities {
  bool starttls = false;
  std::vector<std::string> auth;  // upper-case mechanism names
};

Capabilities parse_ehlo(const Reply& r) {
  Capabilities caps;
  // The first line is the server's greeting; each further line one extension.
  for (size_t i = 1; i < r.lines.size(); ++i) {
    std::string line = ascii_upper(trim(r.lines[i]));
    size_t end = line.find_first_of(" =");
    std::string keyword = line.substr(0, end);
    if (keyword == "STARTTLS") caps.starttls = true;
    if (keyword == "AUTH" && end != std::string::npos) {
      std::string_view rest(line);
      rest.remove_prefix(end + 1);
      while (!rest.empty()) {
        size_t sp = rest.find(' ');
        std::string_view mech = rest.substr(0, sp);
        if (!mech.empty()) caps.auth.emplace_back(mech);
        if (sp == std::string_view::npos) break;
        rest.remove_prefix(sp + 1);
      }
    }
  }
  return caps;
}

bool offers(const Capabilities& caps, std::string_view mech) {
  for (const auto& m : caps.auth) {
    if (m == mech) return true;
  }
  return false;
}

std::string fallback_phrase(Step step, const Smarthost& s) {
  switch (step) {
    case Step::kResolve:
      return "resolving " + s.host;
    case Step::kConnect:
      return "connecting to " + s.authority;
    case Step::kTls:
      return "in the TLS handshake with " + s.authority;
    case Step::kGreeting:
      return "waiting for the greeting from " + s.authority;
    default:
      return "talking to " + s.authority;
  }
}

std::unexpected<Error> unavailable(std::string detail) {
  return fail(ErrorCode::kUnavailable, std::move(detail));
}

// Resolves the host (IP literals skip the resolver), bounded by the deadline.
asio::awaitable<Result<std::vector<tcp::endpoint>>> resolve(const Plan& plan,
                                                            SteadyClock::time_point deadline) {
  const Smarthost& s = plan.server;
  internal::Resolved r = co_await internal::resolve(s.host, s.port, deadline);
  if (r.timed_out)
    co_return unavailable("timed out after " + std::to_string(plan.timeout_ms) + " ms resolving " +
                          s.host);
  if (!r.error.empty()) co_return unavailable("cannot resolve " + s.host + ": " + r.error);
  co_return std::move(r.endpoints);
}

// Propagates the error of a Result/Status inside a coroutine.
#define SMTP_CO_CHECK(expr)                                             \
  do {                                                                  \
    auto&& smtp_check_result_ = (expr);                                 \
    if (!smtp_check_result_) {                                          \
      co_return std::unexpected(std::move(smtp_check_result_.error())); \
    }                                                                   \
  } while (0)

// One connection's dialogue. Lives in the exchange coroutine's frame.
class Session {
 public:
  Session(const asio::any_io_executor& ex, ssl::context& tls, const Plan& plan,
          std::atomic<Step>& step, SteadyClock::time_point deadline)
      : plan_(plan), step_(step), deadline_(deadline), stream_(ex, tls) {}

  asio::awaitable<Status> run(std::vector<tcp::endpoint> endpoints) {
    auto& lowest = beast::get_lowest_layer(stream_);
    enter(Step::kConnect, "connect");
    lowest.expires_at(deadline_);
    auto [cec, ep] = co_await lowest.async_connect(endpoints, kNoThrow);
    (void)ep;
    if (cec) {
      if (cec == beast::error::timeout) co_return timed_out();
      if (cec == asio::error::connection_refused) {
        co_return unavailable("connect to " + authority() + " refused");
      }
      co_return unavailable("connect to " + authority() + " failed: " + cec.message());
    }
    beast::error_code rec;
    auto remote = lowest.socket().remote_endpoint(rec);
    loopback_ = !rec && is_loopback(remote.address());

    if (plan_.implicit_tls) SMTP_CO_CHECK(co_await handshake());
    auto status = co_await dialogue();
    lowest.close();  // no TLS close_notify: the server may never answer it
    co_return status;
  }

 private:
  const std::string& authority() const { return plan_.server.authority; }

  void enter(Step step, std::string label) {
    step_ = step;
    label_ = std::move(label);
  }

  // "at RCPT TO <x@y> with 127.0.0.1:2525"
  std::string where() const {
    switch (step_.load()) {
      case Step::kResolve:
      case Step::kConnect:
      case Step::kTls:
      case Step::kGreeting:
        return fallback_phrase(step_.load(), plan_.server);
      default:
        return "at " + label_ + " with " + authority();
    }
  }

  std::unexpected<Error> timed_out() const {
    return unavailable("timed out after " + std::to_string(plan_.timeout_ms) + " ms " + where());
  }

  std::unexpected<Error> io_failed(beast::error_code ec) const {
    if (ec == beast::error::timeout || SteadyClock::now() >= deadline_) return timed_out();
    if (ec == asio::error::eof || ec == ssl::error::stream_truncated ||
        ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
      if (step_ == Step::kGreeting) {
        return unavailable(authority() + " closed the connection before the greeting");
      }
      if (step_ == Step::kTls) {
        return unavailable(authority() + " closed the connection in the TLS handshake");
      }
      return unavailable(authority() + " closed the connection at " + label_);
    }
    return unavailable("I/O error " + where() + ": " + ec.message());
  }

  // "RCPT TO <x@y> refused by 127.0.0.1:2525: 550 no such user"
  std::unexpected<Error> refused(const Reply& r) const {
    if (step_ == Step::kGreeting) {
      return unavailable(authority() + " refused the session: " + r.text());
    }
    if (step_ == Step::kBody) {
      return unavailable("message refused by " + authority() + " after DATA: " + r.text());
    }
    return unavailable(label_ + " refused by " + authority() + ": " + r.text());
  }

  asio::awaitable<Status> write(std::string_view data) {
    beast::error_code ec;
    if (secure_) {
      auto [wec, n] = co_await asio::async_write(stream_, asio::buffer(data), kNoThrow);
      (void)n;
      ec = wec;
    } else {
      auto [wec, n] = co_await asio::async_write(beast::get_lowest_layer(stream_),
                                                 asio::buffer(data), kNoThrow);
      (void)n;
      ec = wec;
    }
    if (ec) co_return io_failed(ec);
    co_return Status{};
  }

  asio::awaitable<Result<std::string>> read_line() {
    beast::error_code ec;
    size_t n = 0;
    if (secure_) {
      std::tie(ec, n) = co_await asio::async_read_until(
          stream_, asio::dynamic_buffer(rbuf_, kMaxReplyBytes), '\n', kNoThrow);
    } else {
      std::tie(ec, n) = co_await asio::async_read_until(beast::get_lowest_layer(stream_),
                                                        asio::dynamic_buffer(rbuf_, kMaxReplyBytes),
                                                        '\n', kNoThrow);
    }
    if (ec == asio::error::not_found) {
      co_return unavailable("reply line from " + authority() + " over " +
                            std::to_string(kMaxReplyBytes) + " bytes " + where());
    }
    if (ec) co_return io_failed(ec);
    std::string line = rbuf_.substr(0, n);
    rbuf_.erase(0, n);
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
    co_return line;
  }

  // One reply, multi-line ("250-a", "250-b", "250 c") or not.
  asio::awaitable<Result<Reply>> read_reply() {
    Reply reply;
    for (;;) {
      auto line = co_await read_line();
      if (!line) co_return std::unexpected(line.error());
      auto malformed = [&] {
        return unavailable("malformed reply from " + authority() + " " + where() + ": '" +
                           printable(*line, 100) + "'");
      };
      if (line->size() < 3 || !all_digits(std::string_view(*line).substr(0, 3)) ||
          (line->size() > 3 && (*line)[3] != ' ' && (*line)[3] != '-')) {
        co_return malformed();
      }
      int code = std::stoi(line->substr(0, 3));
      if (code < 200 || code > 599 || (reply.code != 0 && code != reply.code)) {
        co_return malformed();
      }
      reply.code = code;
      reply.lines.push_back(line->size() > 4 ? line->substr(4) : std::string());
      if (line->size() == 3 || (*line)[3] == ' ') co_return reply;
      if (reply.lines.size() >= kMaxReplyLines) {
        co_return unavailable("reply from " + authority() + " " + where() + " has over " +
                              std::to_string(kMaxReplyLines) + " lines");
      }
    }
  }

  asio::awaitable<Result<Reply>> command(std::string line) {
    line += "\r\n";
    SMTP_CO_CHECK(co_await write(line));
    co_return co_await read_reply();
  }

  // After a refusal: a polite QUIT whose answer is not awaited.
  asio::awaitable<void> quit_quietly() {
    if (SteadyClock::now() >= deadline_) co_return;
    (void)co_await write("QUIT\r\n");
  }

  // Sends a command and expects one of the codes; a refusal says QUIT.
  asio::awaitable<Result<Reply>> expect(std::string line, int code, int alt_code = 0) {
    auto r = co_await command(std::move(line));
    if (!r) co_return r;
    if (r->code != code && r->code != alt_code) {
      co_await quit_quietly();
      co_return refused(*r);
    }
    co_return r;
  }

  asio::awaitable<Status> handshake() {
    enter(Step::kTls, "the TLS handshake");
    SSL* ssl = stream_.native_handle();
    const std::string& host = plan_.server.host;
    if (is_ip_literal(host)) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host.c_str());
    } else {
      // SNI is for names only (RFC 6066); SSL_set1_host makes verification check the name.
      SSL_set_tlsext_host_name(ssl, host.c_str());
      SSL_set1_host(ssl, host.c_str());
    }
    auto [hec] = co_await stream_.async_handshake(ssl::stream_base::client, kNoThrow);
    if (hec) {
      if (hec == beast::error::timeout || SteadyClock::now() >= deadline_) co_return timed_out();
      std::string reason = hec.message();
      long verify = SSL_get_verify_result(ssl);
      if (verify != X509_V_OK) {
        reason = std::string("certificate verification failed: ") +
                 X509_verify_cert_error_string(verify);
      }
      co_return unavailable("TLS handshake with " + authority() + " failed: " + reason);
    }
    secure_ = true;
    co_return Status{};
  }

  // EHLO, or HELO when the server refuses EHLO with 5xx (then no extensions).
  asio::awaitable<Result<Capabilities>> hello() {
    enter(Step::kHello, "EHLO");
    auto r = co_await command("EHLO " + plan_.hello);
    if (!r) co_return std::unexpected(r.error());
    if (r->code == 250) co_return parse_ehlo(*r);
    if (r->code / 100 != 5) {
      co_await quit_quietly();
      co_return refused(*r);
    }
    enter(Step::kHello, "HELO");
    SMTP_CO_CHECK(co_await expect("HELO " + plan_.hello, 250));
    co_return Capabilities{};
  }

  asio::awaitable<Status> authenticate(const Capabilities& caps) {
    enter(Step::kAuth, "AUTH");
    if (!secure_ && (plan_.require_tls || !loopback_)) {
      co_await quit_quietly();
      co_return unavailable("refusing to send credentials to " + authority() +
                            " over an unencrypted connection (it does not offer STARTTLS; clear "
                            "text is allowed only to a loopback host with require_tls false)");
    }
    if (caps.auth.empty()) {
      co_await quit_quietly();
      co_return unavailable(authority() + " does not offer AUTH but a username is set");
    }
    if (offers(caps, "PLAIN")) {
      enter(Step::kAuth, "AUTH PLAIN");
      std::string token = std::string(1, '\0') + plan_.username + '\0' + plan_.password;
      SMTP_CO_CHECK(co_await expect("AUTH PLAIN " + base64_encode(token), 235));
      co_return Status{};
    }
    if (offers(caps, "LOGIN")) {
      enter(Step::kAuth, "AUTH LOGIN");
      SMTP_CO_CHECK(co_await expect("AUTH LOGIN", 334));
      SMTP_CO_CHECK(co_await expect(base64_encode(plan_.username), 334));
      SMTP_CO_CHECK(co_await expect(base64_encode(plan_.password), 235));
      co_return Status{};
    }
    co_await quit_quietly();
    std::string offered;
    for (const auto& m : caps.auth) offered += (offered.empty() ? "" : " ") + m;
    co_return unavailable(authority() +
                          " offers no supported AUTH mechanism (want PLAIN or LOGIN; " +
                          "it offers " + printable(offered) + ")");
  }

  asio::awaitable<Status> dialogue() {
    enter(Step::kGreeting, "the greeting");
    auto greeting = co_await read_reply();
    if (!greeting) co_return std::unexpected(greeting.error());
    if (greeting->code != 220) {
      co_await quit_quietly();
      co_return refused(*greeting);
    }

    auto caps = co_await hello();
    if (!caps) co_return std::unexpected(caps.error());
    if (!secure_) {
      if (caps->starttls) {
        enter(Step::kStartTls, "STARTTLS");
        SMTP_CO_CHECK(co_await expect("STARTTLS", 220));
        // Bytes already buffered were sent in clear text before TLS and could be injected.
        if (!rbuf_.empty()) {
          co_return unavailable(authority() +
                                " sent data after its STARTTLS reply; refusing to continue");
        }
        SMTP_CO_CHECK(co_await handshake());
        caps = co_await hello();
        if (!caps) co_return std::unexpected(caps.error());
      } else if (plan_.require_tls) {
        co_await quit_quietly();
        co_return unavailable(authority() +
                              " does not offer STARTTLS and require_tls is set; the message was "
                              "not sent over an unencrypted connection");
      }
    }

    if (!plan_.username.empty()) SMTP_CO_CHECK(co_await authenticate(*caps));

    enter(Step::kMailFrom, "MAIL FROM <" + plan_.from + ">");
    SMTP_CO_CHECK(co_await expect("MAIL FROM:<" + plan_.from + ">", 250));
    for (const auto& rcpt : plan_.rcpts) {
      enter(Step::kRcptTo, "RCPT TO <" + rcpt + ">");
      SMTP_CO_CHECK(co_await expect("RCPT TO:<" + rcpt + ">", 250, 251));
    }
    enter(Step::kData, "DATA");
    SMTP_CO_CHECK(co_await expect("DATA", 354));
    enter(Step::kBody, "the end of DATA");
    SMTP_CO_CHECK(co_await write(plan_.data));
    auto accepted = co_await read_reply();
    if (!accepted) co_return std::unexpected(accepted.error());
    if (accepted->code != 250) {
      co_await quit_quietly();
      co_return refused(*accepted);
    }

    // The message is accepted: QUIT's answer (or its absence) changes nothing.
    enter(Step::kQuit, "QUIT");
    auto& lowest = beast::get_lowest_layer(stream_);
    if (SteadyClock::now() + kQuitWait < deadline_) lowest.expires_after(kQuitWait);
    (void)co_await command("QUIT");
    co_return Status{};
  }

  const Plan& plan_;
  std::atomic<Step>& step_;
  SteadyClock::time_point deadline_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  bool secure_ = false;
  bool loopback_ = false;
  std::string label_;
  std::string rbuf_;  // received bytes not yet consumed as reply lines
};

asio::awaitable<Status> exchange(Plan plan, ssl::context& tls, SteadyClock::time_point deadline,
                                 std::shared_ptr<std::atomic<Step>> step) {
  auto endpoints = co_await resolve(plan, deadline);
  if (!endpoints) co_return std::unexpected(endpoints.error());
  auto ex = co_await asio::this_coro::executor;
  Session session(ex, tls, plan, *step, deadline);
  co_return co_await session.run(std::move(*endpoints));
}

#undef SMTP_CO_CHECK

}  // namespace

struct MailClient::Impl {
  explicit Impl(const Clock& c) : clock(c) {}

  const Clock& clock;
  internal::IoRuntime rt{"smtp client"};
};

namespace {
const SystemClock& system_clock_instance() {
  static const SystemClock clock;
  return clock;
}
}  // namespace

MailClient::MailClient() : MailClient(system_clock_instance()) {}

MailClient::MailClient(const Clock& clock) : impl_(std::make_unique<Impl>(clock)) {}

MailClient::~MailClient() = default;

Status MailClient::send(const MailMessage& m) {
  Plan plan;
  try {
    plan = SIRA_TRY(prepare(m, impl_->clock.now()));
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, std::string("smtp client: ") + e.what());
  }
  Smarthost server = plan.server;
  int64_t timeout_ms = plan.timeout_ms;
  auto deadline = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  auto step = std::make_shared<std::atomic<Step>>(Step::kResolve);
  std::future<Status> done;
  try {
    done = asio::co_spawn(asio::make_strand(impl_->rt.ioc),
                          exchange(std::move(plan), impl_->rt.tls, deadline, step), asio::use_future);
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal, std::string("smtp client: ") + e.what());
  }
  if (done.wait_until(deadline + kResolverGrace) != std::future_status::ready) {
    // The exchange keeps its own state and finishes (or is dropped with the client) later.
    return unavailable("timed out after " + std::to_string(timeout_ms) + " ms " +
                       fallback_phrase(step->load(), server));
  }
  try {
    return done.get();
  } catch (const std::exception& e) {
    return fail(ErrorCode::kInternal,
                "smtp client failed talking to " + server.authority + ": " + e.what());
  }
}

}  // namespace sira::http
