// Outbound SMTP client for alert e-mails (Alertmanager's email_configs): one message per
// connection to a smarthost, with STARTTLS (or implicit TLS on port 465), AUTH PLAIN/LOGIN and a
// deadline on the whole exchange. No pipelining, no SMTPUTF8, no connection reuse.
//
// A MailClient owns an io_context served by one background thread and a TLS context (the system
// CA store, peer and host name verification on, SNI sent, TLS 1.2 or newer), like http::Client.
// send() is thread-safe: several threads may call it at once; each call uses its own socket.
// Destroying a MailClient while a send() is in progress on it is a caller bug. The Clock given to
// the constructor (Date header) must outlive the client. No Boost types leak here.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace sira::http {

struct MailMessage {
  std::string smarthost;            // "host:port"; host a name, IPv4 or [IPv6]; port required
  std::string hello = "localhost";  // EHLO name
  // "addr@example.com" or "Display Name <addr@example.com>"; display names may be UTF-8.
  std::string from;
  // Recipients; each entry may itself be a comma-separated list of addresses as above.
  std::vector<std::string> to;
  std::string subject;    // UTF-8; sent as RFC 2047 encoded-words when not plain ASCII
  std::string text_body;  // UTF-8 plain text; any line ending (LF, CRLF, CR)
  std::string html_body;  // optional; when set, multipart/alternative (text part first)
  // Extra headers. A From, To, Subject, Date or Message-Id given here replaces the default;
  // MIME-Version, Content-Type and Content-Transfer-Encoding are set by the client and ignored
  // here. Names must be printable ASCII without ':'; values must not hold CR, LF or NUL.
  std::vector<std::pair<std::string, std::string>> headers;
  // AUTH PLAIN (or LOGIN when only that is offered) when username is set. Credentials are only
  // sent over TLS, or in clear text to a loopback peer when require_tls is false.
  std::string username, password;
  // STARTTLS is used whenever offered; require_tls makes it mandatory (the send fails before
  // MAIL FROM when the server does not offer it). Port 465 means implicit TLS.
  bool require_tls = true;
  int64_t timeout_ms = 15000;  // whole exchange: resolve + connect + TLS + dialogue
};

class MailClient {
 public:
  MailClient();  // Date headers from the system clock
  explicit MailClient(const Clock& clock);
  ~MailClient();
  MailClient(const MailClient&) = delete;
  MailClient& operator=(const MailClient&) = delete;

  // Delivers one message to the smarthost (250 after DATA), then says QUIT (its answer is not
  // waited for long and does not matter).
  // Errors: kInvalidArgument for bad input (no recipient, a malformed address or smarthost, CR,
  // LF or NUL in a header, address or the EHLO name, a bad timeout); kUnavailable for DNS,
  // connect, TLS, timeout and I/O failures and for refusals, with a detail naming the step, the
  // server and its reply ("RCPT TO <x@y> refused by 127.0.0.1:2525: 550 no such user",
  // "timed out after 300 ms at DATA with 127.0.0.1:2525"). Credentials never appear in a detail.
  // Returns within timeout_ms plus a short grace even when the system resolver hangs.
  Status send(const MailMessage& m);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sira::http
