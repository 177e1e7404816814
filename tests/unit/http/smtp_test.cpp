// SMTP client against a scripted SMTP server on 127.0.0.1 (blocking Asio sockets, one thread per
// connection) that records the dialogue and the DATA payload: envelope, headers, dot-stuffing,
// CRLF endings, multi-line replies, AUTH, refusals at each step, dropped and silent servers,
// input validation, and STARTTLS with a certificate generated in the test.
#include "http/smtp.h"

#include <gtest/gtest.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "core/clock.h"
#include "core/crypto.h"
#include "test_cert.h"

namespace sira::http {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

// ---- certificates ---------------------------------------------------------------------------

using testing_util::make_cert;
using testing_util::TestCert;

// A MailClient whose trust store is the system one plus `cert` (OpenSSL reads SSL_CERT_FILE
// when the client loads its default verify paths).
std::unique_ptr<MailClient> client_trusting(const TestCert& cert, const std::string& file_name) {
  std::string path = ::testing::TempDir() + file_name;
  {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f << cert.cert_pem;
  }
  const char* previous = std::getenv("SSL_CERT_FILE");
  std::optional<std::string> saved = previous ? std::optional<std::string>(previous) : std::nullopt;
  ::setenv("SSL_CERT_FILE", path.c_str(), 1);
  auto client = std::make_unique<MailClient>();
  if (saved) {
    ::setenv("SSL_CERT_FILE", saved->c_str(), 1);
  } else {
    ::unsetenv("SSL_CERT_FILE");
  }
  std::remove(path.c_str());
  return client;
}

// ---- scripted SMTP server -------------------------------------------------------------------

struct Script {
  std::string greeting = "220 mx.test ESMTP ready";
  // EHLO answer: the first line is the greeting, the others extensions (sent as 250-... 250 ...).
  std::vector<std::string> ehlo = {"mx.test greets you", "PIPELINING", "SIZE 10485760",
                                   "AUTH PLAIN LOGIN", "8BITMIME"};
  bool starttls = false;   // advertise STARTTLS (the server needs a certificate)
  std::string ehlo_reply;  // when set, the whole answer to EHLO ("502 5.5.2 unrecognized")
  std::map<std::string, std::string> rcpt_replies;  // "<x@y>" -> reply; default 250
  std::string auth_reply = "235 2.7.0 Authentication successful";
  std::string data_reply = "354 End data with <CR><LF>.<CR><LF>";
  std::string end_reply = "250 2.0.0 Ok: queued as 42";
  // Verb ("MAIL", "DATA", ...; "GREETING" before the greeting, "BODY" after the payload) at
  // which the server closes the connection / stops answering.
  std::string drop_at;
  std::string silent_at;
};

struct Record {
  std::vector<std::string> commands;  // every line received outside DATA, without CRLF
  std::string raw_data;               // DATA bytes as received, with the final ".\r\n"
  std::string message;                // raw_data without dot-stuffing and the final ".\r\n"
  bool tls = false;                   // a STARTTLS handshake completed
  int sessions_done = 0;
};

class SmtpServer {
 public:
  explicit SmtpServer(Script script, const TestCert* cert = nullptr,
                      const std::string& address = "127.0.0.1")
      : script_(std::move(script)),
        tls_ctx_(asio::ssl::context::tls_server),
        acceptor_(ioc_, tcp::endpoint(asio::ip::make_address(address), 0)),
        address_(address) {
    if (cert) {
      tls_ctx_.use_certificate(asio::buffer(cert->cert_pem), asio::ssl::context::pem);
      tls_ctx_.use_private_key(asio::buffer(cert->key_pem), asio::ssl::context::pem);
    }
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this] { accept_loop(); });
  }

  ~SmtpServer() {
    stop_ = true;
    {
      boost::system::error_code ec;
      tcp::socket wake(ioc_);
      wake.connect(tcp::endpoint(asio::ip::make_address(address_), port_), ec);
    }
    thread_.join();
    for (auto& s : sockets_) ::shutdown(s->native_handle(), SHUT_RDWR);
    for (auto& t : workers_) t.join();
  }

  int port() const { return port_; }
  std::string smarthost() const { return address_ + ":" + std::to_string(port_); }
  int connections() const { return connections_.load(); }

  // Waits (bounded) until `n` sessions have ended, then returns what was recorded.
  Record record(int n = 1) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return record_.sessions_done >= n; });
    return record_;
  }

 private:
  // Line-oriented I/O over the plain socket, then over TLS after STARTTLS.
  class Conn {
   public:
    Conn(tcp::socket& s, asio::ssl::context& ctx) : sock_(s), ctx_(ctx) {}

    bool read_more() {
      char chunk[4096];
      boost::system::error_code ec;
      size_t n = tls_ ? tls_->read_some(asio::buffer(chunk), ec)
                      : sock_.read_some(asio::buffer(chunk), ec);
      if (ec || n == 0) return false;
      buf_.append(chunk, n);
      return buf_.size() < (1 << 20);
    }

    bool read_line(std::string& line) {
      size_t eol;
      while ((eol = buf_.find("\r\n")) == std::string::npos) {
        if (!read_more()) return false;
      }
      line = buf_.substr(0, eol);
      buf_.erase(0, eol + 2);
      return true;
    }

    // DATA payload up to and including the terminating ".\r\n".
    bool read_data(std::string& raw) {
      for (;;) {
        size_t end = buf_.starts_with(".\r\n") ? 0 : buf_.find("\r\n.\r\n");
        if (end != std::string::npos) {
          size_t len = end == 0 && buf_.starts_with(".\r\n") ? 3 : end + 5;
          raw = buf_.substr(0, len);
          buf_.erase(0, len);
          return true;
        }
        if (!read_more()) return false;
      }
    }

    void write(const std::string& text) {
      boost::system::error_code ec;
      std::string data = text + "\r\n";
      if (tls_) {
        asio::write(*tls_, asio::buffer(data), ec);
      } else {
        asio::write(sock_, asio::buffer(data), ec);
      }
    }

    bool start_tls() {
      tls_ = std::make_unique<asio::ssl::stream<tcp::socket&>>(sock_, ctx_);
      boost::system::error_code ec;
      tls_->handshake(asio::ssl::stream_base::server, ec);
      return !ec;
    }

    // Reads until the peer closes (or the server shuts the socket down at the end of a test).
    void drain() {
      while (read_more()) {
      }
    }

    bool secure() const { return tls_ != nullptr; }

   private:
    tcp::socket& sock_;
    asio::ssl::context& ctx_;
    std::unique_ptr<asio::ssl::stream<tcp::socket&>> tls_;
    std::string buf_;
  };

  static std::string unstuff(const std::string& raw) {
    std::string body = raw.substr(0, raw.size() - 3);  // drop ".\r\n"
    std::string out;
    bool line_start = true;
    for (size_t i = 0; i < body.size(); ++i) {
      if (line_start && body[i] == '.') {
        line_start = false;
        continue;  // the stuffed dot
      }
      out += body[i];
      line_start = body[i] == '\n';
    }
    return out;
  }

  void note(const std::function<void(Record&)>& f) {
    std::lock_guard lock(mu_);
    f(record_);
  }

  void serve(tcp::socket& s) {
    Conn c(s, tls_ctx_);
    const Script& sc = script_;
    if (sc.silent_at == "GREETING") return c.drain();
    if (sc.drop_at == "GREETING") return;
    c.write(sc.greeting);
    std::string line;
    while (c.read_line(line)) {
      note([&](Record& r) { r.commands.push_back(line); });
      std::string verb = line.substr(0, line.find(' '));
      for (char& ch : verb) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      if (verb == sc.drop_at) return;
      if (verb == sc.silent_at) return c.drain();
      if (verb == "EHLO") {
        if (!sc.ehlo_reply.empty()) {
          c.write(sc.ehlo_reply);
          continue;
        }
        std::vector<std::string> lines = sc.ehlo;
        if (sc.starttls && !c.secure()) lines.insert(lines.begin() + 1, "STARTTLS");
        for (size_t i = 0; i < lines.size(); ++i) {
          c.write((i + 1 < lines.size() ? "250-" : "250 ") + lines[i]);
        }
      } else if (verb == "HELO") {
        c.write("250 mx.test");
      } else if (verb == "STARTTLS") {
        c.write("220 2.0.0 Ready to start TLS");
        if (!c.start_tls()) return;
        note([](Record& r) { r.tls = true; });
      } else if (verb == "AUTH" && line.starts_with("AUTH LOGIN")) {
        for (const char* prompt : {"334 VXNlcm5hbWU6", "334 UGFzc3dvcmQ6"}) {
          c.write(prompt);
          if (!c.read_line(line)) return;
          note([&](Record& r) { r.commands.push_back(line); });
        }
        c.write(sc.auth_reply);
      } else if (verb == "AUTH") {
        c.write(sc.auth_reply);
      } else if (verb == "MAIL") {
        c.write("250 2.1.0 Ok");
      } else if (verb == "RCPT") {
        std::string addr = line.substr(line.find(':') + 1);
        auto it = sc.rcpt_replies.find(addr);
        c.write(it == sc.rcpt_replies.end() ? "250 2.1.5 Ok" : it->second);
      } else if (verb == "DATA") {
        c.write(sc.data_reply);
        if (!sc.data_reply.starts_with("354")) continue;
        std::string raw;
        if (!c.read_data(raw)) return;
        note([&](Record& r) {
          r.raw_data = raw;
          r.message = unstuff(raw);
        });
        if (sc.drop_at == "BODY") return;
        if (sc.silent_at == "BODY") return c.drain();
        c.write(sc.end_reply);
      } else if (verb == "QUIT") {
        c.write("221 2.0.0 Bye");
        return;
      } else if (verb == "RSET" || verb == "NOOP") {
        c.write("250 2.0.0 Ok");
      } else {
        c.write("502 5.5.2 Error: command not recognized");
      }
    }
  }

  void accept_loop() {
    for (;;) {
      auto sock = std::make_unique<tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*sock, ec);
      if (stop_ || ec) return;
      ++connections_;
      tcp::socket* s = sock.get();
      sockets_.push_back(std::move(sock));
      workers_.emplace_back([this, s] {
        serve(*s);
        boost::system::error_code ignored;
        s->shutdown(tcp::socket::shutdown_both, ignored);
        {
          std::lock_guard lock(mu_);
          ++record_.sessions_done;
        }
        cv_.notify_all();
      });
    }
  }

  Script script_;
  asio::ssl::context tls_ctx_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::string address_;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  Record record_;
  std::thread thread_;
  std::vector<std::unique_ptr<tcp::socket>> sockets_;  // closed only after workers joined
  std::vector<std::thread> workers_;
};

// ---- helpers --------------------------------------------------------------------------------

MailMessage basic_message(const SmtpServer& server) {
  MailMessage m;
  m.smarthost = server.smarthost();
  m.hello = "sira.test";
  m.from = "alerts@example.com";
  m.to = {"oncall@example.com"};
  m.subject = "[FIRING:1] DiskFull";
  m.text_body = "Disk almost full on db-1.\n";
  m.require_tls = false;
  m.timeout_ms = 5000;
  return m;
}

// First header `name` (any case) of an RFC 5322 message, unfolded; nullopt when absent.
std::optional<std::string> header(const std::string& message, const std::string& name) {
  std::string head = message.substr(0, message.find("\r\n\r\n"));
  std::string unfolded;
  for (size_t i = 0; i < head.size(); ++i) {
    if (head.compare(i, 3, "\r\n ") == 0 || head.compare(i, 3, "\r\n\t") == 0) {
      i += 1;  // drop CRLF, keep the blank
      continue;
    }
    unfolded += head[i];
  }
  std::string lname;
  for (char c : name) lname += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  size_t pos = 0;
  while (pos <= unfolded.size()) {
    size_t eol = unfolded.find("\r\n", pos);
    std::string line =
        unfolded.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string n = line.substr(0, colon);
      for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      if (n == lname) {
        std::string v = line.substr(colon + 1);
        while (!v.empty() && v.front() == ' ') v.erase(0, 1);
        return v;
      }
    }
    if (eol == std::string::npos) break;
    pos = eol + 2;
  }
  return std::nullopt;
}

std::string body_of(const std::string& message) {
  size_t sep = message.find("\r\n\r\n");
  return sep == std::string::npos ? std::string() : message.substr(sep + 4);
}

bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

bool has_prefix(const std::vector<std::string>& v, const std::string& prefix) {
  for (const auto& s : v) {
    if (s.starts_with(prefix)) return true;
  }
  return false;
}

// Every LF is preceded by CR.
bool crlf_only(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) return false;
    if (s[i] == '\r' && (i + 1 == s.size() || s[i + 1] != '\n')) return false;
  }
  return true;
}

int free_port() {
  asio::io_context ioc;
  tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  int port = a.local_endpoint().port();
  a.close();
  return port;
}

TimePoint jan_2_2026() {
  return TimePoint(std::chrono::seconds(1767323045));  // 2026-01-02T03:04:05Z
}

// ---- delivery -------------------------------------------------------------------------------

TEST(SmtpSend, DeliversMessageWithEnvelopeHeadersAndDotStuffing) {
  SmtpServer server({});
  ManualClock clock(jan_2_2026());
  MailClient client(clock);
  MailMessage m = basic_message(server);
  m.from = "Sira Alerts <alerts@example.com>";
  m.to = {"oncall@example.com, Bob <bob@example.com>", "carol@example.org"};
  m.text_body = "Alert: DiskFull\n.hidden line\n..two dots\nlast line";
  m.headers = {{"X-Sira-Tenant", "acme"}};
  auto res = client.send(m);
  ASSERT_TRUE(res) << res.error().detail;

  Record r = server.record();
  std::vector<std::string> want = {"EHLO sira.test",
                                   "MAIL FROM:<alerts@example.com>",
                                   "RCPT TO:<oncall@example.com>",
                                   "RCPT TO:<bob@example.com>",
                                   "RCPT TO:<carol@example.org>",
                                   "DATA",
                                   "QUIT"};
  EXPECT_EQ(r.commands, want);
  EXPECT_FALSE(r.tls);

  EXPECT_TRUE(crlf_only(r.raw_data));
  EXPECT_TRUE(r.raw_data.ends_with("\r\nlast line\r\n.\r\n"));
  EXPECT_NE(r.raw_data.find("\r\n..hidden line\r\n"), std::string::npos) << r.raw_data;
  EXPECT_NE(r.raw_data.find("\r\n...two dots\r\n"), std::string::npos) << r.raw_data;

  EXPECT_EQ(header(r.message, "From"), "Sira Alerts <alerts@example.com>");
  EXPECT_EQ(header(r.message, "To"),
            "oncall@example.com, Bob <bob@example.com>, carol@example.org");
  EXPECT_EQ(header(r.message, "Subject"), "[FIRING:1] DiskFull");
  EXPECT_EQ(header(r.message, "Date"), "Fri, 02 Jan 2026 03:04:05 +0000");
  auto id = header(r.message, "Message-Id");
  ASSERT_TRUE(id);
  EXPECT_TRUE(std::regex_match(*id, std::regex("<[0-9a-f]{32}@example\\.com>"))) << *id;
  EXPECT_EQ(header(r.message, "MIME-Version"), "1.0");
  EXPECT_EQ(header(r.message, "Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(header(r.message, "Content-Transfer-Encoding"), "quoted-printable");
  EXPECT_EQ(header(r.message, "X-Sira-Tenant"), "acme");
  EXPECT_EQ(body_of(r.message), "Alert: DiskFull\r\n.hidden line\r\n..two dots\r\nlast line\r\n");
}

TEST(SmtpSend, EachMessageGetsItsOwnMessageId) {
  SmtpServer server({});
  MailClient client;
  ASSERT_TRUE(client.send(basic_message(server)));
  std::string first = *header(server.record(1).message, "Message-Id");
  ASSERT_TRUE(client.send(basic_message(server)));
  std::string second = *header(server.record(2).message, "Message-Id");
  EXPECT_NE(first, second);
}

TEST(SmtpSend, EncodesNonAsciiSubjectNamesAndBodyAndSendsHtmlAlternative) {
  SmtpServer server({});
  MailClient client;
  MailMessage m = basic_message(server);
  m.from = "Équipe Ops <ops@example.com>";
  m.to = {"\"Doe, Jane\" <jane@example.com>"};
  m.subject = "Disque plein à 95 %";
  m.text_body = "Température élevée = alerte  \n";
  m.html_body = "<p>Temp&eacute;rature</p>";
  auto res = client.send(m);
  ASSERT_TRUE(res) << res.error().detail;
  Record r = server.record();
  EXPECT_TRUE(has(r.commands, "RCPT TO:<jane@example.com>"));
  EXPECT_TRUE(crlf_only(r.raw_data));

  EXPECT_EQ(header(r.message, "Subject"),
            "=?UTF-8?B?" + base64_encode("Disque plein à 95 %") + "?=");
  EXPECT_EQ(header(r.message, "From"),
            "=?UTF-8?B?" + base64_encode("Équipe Ops") + "?= <ops@example.com>");
  EXPECT_EQ(header(r.message, "To"), "\"Doe, Jane\" <jane@example.com>");
  auto type = header(r.message, "Content-Type");
  ASSERT_TRUE(type);
  std::smatch match;
  ASSERT_TRUE(
      std::regex_match(*type, match, std::regex("multipart/alternative; boundary=\"([^\"]+)\"")))
      << *type;
  std::string boundary = match[1];
  std::string body = body_of(r.message);
  std::string text_part = "--" + boundary +
                          "\r\nContent-Type: text/plain; charset=UTF-8\r\n"
                          "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                          "Temp=C3=A9rature =C3=A9lev=C3=A9e =3D alerte =20\r\n";
  std::string html_part = "--" + boundary +
                          "\r\nContent-Type: text/html; charset=UTF-8\r\n"
                          "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                          "<p>Temp&eacute;rature</p>\r\n";
  EXPECT_EQ(body, text_part + html_part + "--" + boundary + "--\r\n");
}

TEST(SmtpSend, LongLinesAreSoftWrappedAndLongSubjectsFolded) {
  SmtpServer server({});
  MailClient client;
  MailMessage m = basic_message(server);
  m.text_body = std::string(200, 'x');
  m.subject = std::string(60, 'a') + " é " + std::string(60, 'b');
  ASSERT_TRUE(client.send(m));
  Record r = server.record();
  size_t start = 0;
  while (start < r.raw_data.size()) {
    size_t eol = r.raw_data.find("\r\n", start);
    ASSERT_NE(eol, std::string::npos);
    EXPECT_LE(eol - start, 78u) << r.raw_data.substr(start, eol - start);
    start = eol + 2;
  }
  EXPECT_EQ(body_of(r.message), std::string(75, 'x') + "=\r\n" + std::string(75, 'x') + "=\r\n" +
                                    std::string(50, 'x') + "\r\n");
}

TEST(SmtpSend, ExtraHeadersReplaceDefaultsButNotMimeFraming) {
  SmtpServer server({});
  MailClient client;
  MailMessage m = basic_message(server);
  m.headers = {{"Subject", "custom subject"},
               {"Content-Type", "application/evil"},
               {"Reply-To", "noc@example.com"}};
  ASSERT_TRUE(client.send(m));
  Record r = server.record();
  EXPECT_EQ(header(r.message, "Subject"), "custom subject");
  EXPECT_EQ(header(r.message, "Content-Type"), "text/plain; charset=UTF-8");
  EXPECT_EQ(header(r.message, "Reply-To"), "noc@example.com");
  EXPECT_EQ(r.message.find("Subject: [FIRING"), std::string::npos);
}

TEST(SmtpSend, ParsesMultiLineEhloAndSendsAuthPlainOnLoopbackWithoutTls) {
  Script script;
  script.ehlo = {"mx.test Hello sira.test [127.0.0.1]",
                 "SIZE 35882577",
                 "8BITMIME",
                 "AUTH LOGIN PLAIN XOAUTH2",
                 "ENHANCEDSTATUSCODES",
                 "PIPELINING",
                 "SMTPUTF8"};
  SmtpServer server(script);
  MailClient client;
  MailMessage m = basic_message(server);
  m.username = "alice";
  m.password = "s3cret";
  auto res = client.send(m);
  ASSERT_TRUE(res) << res.error().detail;
  Record r = server.record();
  ASSERT_GE(r.commands.size(), 3u);
  EXPECT_EQ(r.commands[0], "EHLO sira.test");
  EXPECT_EQ(r.commands[1], "AUTH PLAIN " + base64_encode(std::string("\0alice\0s3cret", 13)));
  EXPECT_EQ(r.commands[1], "AUTH PLAIN AGFsaWNlAHMzY3JldA==");
  EXPECT_EQ(r.commands[2], "MAIL FROM:<alerts@example.com>");
}

TEST(SmtpSend, UsesAuthLoginWhenOnlyLoginIsOffered) {
  Script script;
  script.ehlo = {"mx.test", "AUTH=LOGIN", "AUTH LOGIN CRAM-MD5"};
  SmtpServer server(script);
  MailClient client;
  MailMessage m = basic_message(server);
  m.username = "alice";
  m.password = "s3cret";
  auto res = client.send(m);
  ASSERT_TRUE(res) << res.error().detail;
  Record r = server.record();
  ASSERT_GE(r.commands.size(), 5u);
  EXPECT_EQ(r.commands[1], "AUTH LOGIN");
  EXPECT_EQ(r.commands[2], base64_encode("alice"));
  EXPECT_EQ(r.commands[3], base64_encode("s3cret"));
  EXPECT_EQ(r.commands[4], "MAIL FROM:<alerts@example.com>");
}

TEST(SmtpSend, AuthRefusedNamesTheStepWithoutTheSecret) {
  Script script;
  script.auth_reply = "535 5.7.8 Authentication credentials invalid";
  SmtpServer server(script);
  MailClient client;
  MailMessage m = basic_message(server);
  m.username = "alice";
  m.password = "s3cret";
  auto res = client.send(m);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(res.error().detail, "AUTH PLAIN refused by " + server.smarthost() +
                                    ": 535 5.7.8 Authentication credentials invalid");
  EXPECT_FALSE(has_prefix(server.record().commands, "MAIL"));
}

TEST(SmtpSend, AuthFailsWhenServerOffersNoUsableMechanism) {
  Script script;
  script.ehlo = {"mx.test", "AUTH CRAM-MD5"};
  SmtpServer server(script);
  MailClient client;
  MailMessage m = basic_message(server);
  m.username = "alice";
  m.password = "s3cret";
  auto res = client.send(m);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().detail, server.smarthost() +
                                    " offers no supported AUTH mechanism (want PLAIN or LOGIN; "
                                    "it offers CRAM-MD5)");
}

TEST(SmtpSend, FallsBackToHeloWhenEhloIsRefused) {
  Script script;
  script.ehlo_reply = "502 5.5.2 Error: command not recognized";
  SmtpServer server(script);
  MailClient client;
  auto res = client.send(basic_message(server));
  ASSERT_TRUE(res) << res.error().detail;
  Record r = server.record();
  ASSERT_GE(r.commands.size(), 3u);
  EXPECT_EQ(r.commands[0], "EHLO sira.test");
  EXPECT_EQ(r.commands[1], "HELO sira.test");
  EXPECT_EQ(r.commands[2], "MAIL FROM:<alerts@example.com>");
}

// ---- refusals and failures ------------------------------------------------------------------

TEST(SmtpSend, RequireTlsFailsBeforeMailFromWhenStartTlsIsNotOffered) {
  SmtpServer server({});
  MailClient client;
  MailMessage m = basic_message(server);
  m.require_tls = true;
  auto res = client.send(m);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(res.error().detail, server.smarthost() +
                                    " does not offer STARTTLS and require_tls is set; the "
                                    "message was not sent over an unencrypted connection");
  Record r = server.record();
  EXPECT_EQ(r.commands, (std::vector<std::string>{"EHLO sira.test", "QUIT"}));
  EXPECT_TRUE(r.raw_data.empty());
}

TEST(SmtpSend, RefusedRecipientNamesAddressServerAndReply) {
  Script script;
  script.rcpt_replies["<bob@example.com>"] = "550 5.1.1 no such user";
  SmtpServer server(script);
  MailClient client;
  MailMessage m = basic_message(server);
  m.to = {"oncall@example.com", "bob@example.com"};
  auto res = client.send(m);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(res.error().detail, "RCPT TO <bob@example.com> refused by " + server.smarthost() +
                                    ": 550 5.1.1 no such user");
  Record r = server.record();
  EXPECT_TRUE(has(r.commands, "RCPT TO:<oncall@example.com>"));
  EXPECT_FALSE(has(r.commands, "DATA"));
  EXPECT_TRUE(has(r.commands, "QUIT"));
}

TEST(SmtpSend, MultiLineRefusalIsReportedWhole) {
  Script script;
  script.rcpt_replies["<oncall@example.com>"] =
      "450-4.2.1 mailbox busy\r\n450 4.2.1 try again later";
  SmtpServer server(script);
  MailClient client;
  auto res = client.send(basic_message(server));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().detail, "RCPT TO <oncall@example.com> refused by " + server.smarthost() +
                                    ": 450 4.2.1 mailbox busy 4.2.1 try again later");
}

TEST(SmtpSend, DataRefusedWith4xx) {
  Script script;
  script.data_reply = "451 4.3.0 local error, try later";
  SmtpServer server(script);
  MailClient client;
  auto res = client.send(basic_message(server));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(res.error().detail,
            "DATA refused by " + server.smarthost() + ": 451 4.3.0 local error, try later");
}

TEST(SmtpSend, MessageRefusedWith5xxAfterData) {
  Script script;
  script.end_reply = "554 5.7.1 message rejected as spam";
  SmtpServer server(script);
  MailClient client;
  auto res = client.send(basic_message(server));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(res.error().detail, "message refused by " + server.smarthost() +
                                    " after DATA: 554 5.7.1 message rejected as spam");
  EXPECT_FALSE(server.record().raw_data.empty());
}

TEST(SmtpSend, GreetingRefused) {
  Script script;
  script.greeting = "554 5.3.2 no service for you";
  SmtpServer server(script);
  MailClient client;
  auto res = client.send(basic_message(server));
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().detail,
            server.smarthost() + " refused the session: 554 5.3.2 no service for you");
}

TEST(SmtpSend, ConnectionDroppedMidDialogue) {
  for (const char* at : {"MAIL", "GREETING", "BODY"}) {
    Script script;
    script.drop_at = at;
    SmtpServer server(script);
    MailClient client;
    auto res = client.send(basic_message(server));
    ASSERT_FALSE(res) << at;
    EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
    std::string want =
        std::string(at) == "MAIL"       ? " closed the connection at MAIL FROM <alerts@example.com>"
        : std::string(at) == "GREETING" ? " closed the connection before the greeting"
                                        : " closed the connection at the end of DATA";
    EXPECT_EQ(res.error().detail, server.smarthost() + want) << at;
  }
}

TEST(SmtpSend, SilentServerTimesOutWithinTheDeadline) {
  for (const char* at : {"GREETING", "DATA", "BODY"}) {
    Script script;
    script.silent_at = at;
    SmtpServer server(script);
    MailClient client;
    MailMessage m = basic_message(server);
    m.timeout_ms = 300;
    auto start = std::chrono::steady_clock::now();
    auto res = client.send(m);
    auto elapsed = std::chrono::steady_clock::now() - start;
    ASSERT_FALSE(res) << at;
    EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
    std::string want =
        std::string(at) == "GREETING"
            ? "timed out after 300 ms waiting for the greeting from " + server.smarthost()
        : std::string(at) == "DATA"
            ? "timed out after 300 ms at DATA with " + server.smarthost()
            : "timed out after 300 ms at the end of DATA with " + server.smarthost();
    EXPECT_EQ(res.error().detail, want) << at;
    EXPECT_LT(elapsed, 3s) << at;
  }
}

TEST(SmtpSend, ConnectRefused) {
  MailClient client;
  MailMessage m;
  int port = free_port();
  m.smarthost = "127.0.0.1:" + std::to_string(port);
  m.from = "alerts@example.com";
  m.to = {"oncall@example.com"};
  m.timeout_ms = 3000;
  auto res = client.send(m);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(res.error().detail, "connect to 127.0.0.1:" + std::to_string(port) + " refused");
}

// A local address that is not loopback, or "" when the machine has none.
std::string non_loopback_ipv4() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string found;
  for (ifaddrs* i = list; i && found.empty(); i = i->ifa_next) {
    if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !(i->ifa_flags & IFF_UP) ||
        (i->ifa_flags & IFF_LOOPBACK)) {
      continue;
    }
    auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    asio::ip::address_v4 a(ntohl(in->sin_addr.s_addr));
    if (!a.is_loopback()) found = a.to_string();
  }
  freeifaddrs(list);
  return found;
}

TEST(SmtpSend, RefusesCredentialsInClearTextToNonLoopbackHost) {
  std::string address = non_loopback_ipv4();
  if (address.empty()) GTEST_SKIP() << "no non-loopback IPv4 address on this machine";
  std::unique_ptr<SmtpServer> server;
  try {
    server = std::make_unique<SmtpServer>(Script{}, nullptr, address);
  } catch (const std::exception& e) {
    GTEST_SKIP() << "cannot listen on " << address << ": " << e.what();
  }
  MailClient client;
  MailMessage m = basic_message(*server);
  m.username = "alice";
  m.password = "s3cret";
  auto res = client.send(m);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(res.error().detail.starts_with("refusing to send credentials to " +
                                             server->smarthost() + " over an unencrypted"))
      << res.error().detail;
  Record r = server->record();
  EXPECT_FALSE(has_prefix(r.commands, "AUTH"));
  EXPECT_FALSE(has_prefix(r.commands, "MAIL"));

  // Without credentials the same server takes the message (require_tls is false).
  m.username.clear();
  EXPECT_TRUE(client.send(m));
}

// ---- input validation -----------------------------------------------------------------------

TEST(SmtpValidation, RejectsHeaderAndAddressInjection) {
  SmtpServer server({});
  MailClient client;
  std::vector<std::pair<std::string, std::function<void(MailMessage&)>>> cases = {
      {"subject", [](MailMessage& m) { m.subject = "hi\r\nBcc: victim@example.net"; }},
      {"subject", [](MailMessage& m) { m.subject = "hi\nBcc: victim@example.net"; }},
      {"headers",
       [](MailMessage& m) {
         m.headers = {{"X-A", "v\r\nBcc: victim@example.net"}};
       }},
      {"headers",
       [](MailMessage& m) {
         m.headers = {{"X-A\r\nBcc", "victim@example.net"}};
       }},
      {"headers",
       [](MailMessage& m) {
         m.headers = {{"Bad Name", "v"}};
       }},
      {"from", [](MailMessage& m) { m.from = "a@example.com\r\nRCPT TO:<victim@example.net>"; }},
      {"to", [](MailMessage& m) { m.to = {"b@example.com>\r\nDATA"}; }},
      {"hello", [](MailMessage& m) { m.hello = "sira\r\nMAIL FROM:<x@y>"; }},
      {"smarthost", [](MailMessage& m) { m.smarthost = "127.0.0.1:25\r\n"; }},
  };
  for (auto& [field, mutate] : cases) {
    MailMessage m = basic_message(server);
    mutate(m);
    auto res = client.send(m);
    ASSERT_FALSE(res) << field;
    EXPECT_EQ(res.error().code, ErrorCode::kInvalidArgument) << field;
    EXPECT_EQ(res.error().field, field) << res.error().detail;
  }
  EXPECT_EQ(server.connections(), 0);
}

TEST(SmtpValidation, RejectsBadInput) {
  MailClient client;
  auto base = [] {
    MailMessage m;
    m.smarthost = "127.0.0.1:2525";
    m.from = "alerts@example.com";
    m.to = {"oncall@example.com"};
    return m;
  };
  std::vector<std::pair<std::string, std::function<void(MailMessage&)>>> cases = {
      {"to", [](MailMessage& m) { m.to.clear(); }},
      {"to",
       [](MailMessage& m) {
         m.to = {"", " , "};
       }},
      {"to", [](MailMessage& m) { m.to = {"not-an-address"}; }},
      {"to", [](MailMessage& m) { m.to = {"a@b.example, @nolocal.example"}; }},
      {"to", [](MailMessage& m) { m.to = {"jos\xC3\xA9@example.com"}; }},
      {"to", [](MailMessage& m) { m.to = {"Bob <bob@example.com"}; }},
      {"from", [](MailMessage& m) { m.from = ""; }},
      {"from", [](MailMessage& m) { m.from = "a@example.com, b@example.com"; }},
      {"smarthost", [](MailMessage& m) { m.smarthost = ""; }},
      {"smarthost", [](MailMessage& m) { m.smarthost = "mx.example.com"; }},
      {"smarthost", [](MailMessage& m) { m.smarthost = "mx.example.com:0"; }},
      {"smarthost", [](MailMessage& m) { m.smarthost = "mx.example.com:65536"; }},
      {"smarthost", [](MailMessage& m) { m.smarthost = "::1:25"; }},
      {"smarthost", [](MailMessage& m) { m.smarthost = "[::1]"; }},
      {"smarthost", [](MailMessage& m) { m.smarthost = "mx example.com:25"; }},
      {"hello", [](MailMessage& m) { m.hello = ""; }},
      {"hello", [](MailMessage& m) { m.hello = "two words"; }},
      {"timeout_ms", [](MailMessage& m) { m.timeout_ms = 0; }},
      {"username", [](MailMessage& m) { m.username = std::string("a\0b", 3); }},
  };
  for (auto& [field, mutate] : cases) {
    MailMessage m = base();
    mutate(m);
    auto res = client.send(m);
    ASSERT_FALSE(res) << field;
    EXPECT_EQ(res.error().code, ErrorCode::kInvalidArgument) << field << ": " << res.error().detail;
    EXPECT_EQ(res.error().field, field) << res.error().detail;
  }
}

// ---- STARTTLS -------------------------------------------------------------------------------

TEST(SmtpTls, StartTlsThenEhloAgainThenAuthAndDelivery) {
  TestCert cert = make_cert("IP:127.0.0.1,DNS:localhost");
  Script script;
  script.starttls = true;
  SmtpServer server(script, &cert);
  auto client = client_trusting(cert, "sira_smtp_trusted.pem");
  MailMessage m = basic_message(server);
  m.require_tls = true;
  m.username = "alice";
  m.password = "s3cret";
  auto res = client->send(m);
  ASSERT_TRUE(res) << res.error().detail;
  Record r = server.record();
  EXPECT_TRUE(r.tls);
  std::vector<std::string> want = {"EHLO sira.test",
                                   "STARTTLS",
                                   "EHLO sira.test",
                                   "AUTH PLAIN AGFsaWNlAHMzY3JldA==",
                                   "MAIL FROM:<alerts@example.com>",
                                   "RCPT TO:<oncall@example.com>",
                                   "DATA",
                                   "QUIT"};
  EXPECT_EQ(r.commands, want);
  EXPECT_EQ(header(r.message, "Subject"), "[FIRING:1] DiskFull");

  // By name too (SNI and name verification).
  m.smarthost = "localhost:" + std::to_string(server.port());
  auto by_name = client->send(m);
  ASSERT_TRUE(by_name) << by_name.error().detail;
}

TEST(SmtpTls, StartTlsIsUsedWhenOfferedEvenIfNotRequired) {
  TestCert cert = make_cert("IP:127.0.0.1");
  Script script;
  script.starttls = true;
  SmtpServer server(script, &cert);
  auto client = client_trusting(cert, "sira_smtp_optional.pem");
  auto res = client->send(basic_message(server));  // require_tls false
  ASSERT_TRUE(res) << res.error().detail;
  EXPECT_TRUE(server.record().tls);
}

TEST(SmtpTls, UntrustedCertificateFailsBeforeMailFrom) {
  TestCert cert = make_cert("IP:127.0.0.1");
  Script script;
  script.starttls = true;
  SmtpServer server(script, &cert);
  MailClient client;  // system CA store only
  MailMessage m = basic_message(server);
  m.require_tls = true;
  m.username = "alice";
  m.password = "s3cret";
  auto res = client.send(m);
  ASSERT_FALSE(res);
  EXPECT_EQ(res.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(res.error().detail.starts_with("TLS handshake with " + server.smarthost() +
                                             " failed: certificate verification failed"))
      << res.error().detail;
  Record r = server.record();
  EXPECT_FALSE(has_prefix(r.commands, "AUTH"));
  EXPECT_FALSE(has_prefix(r.commands, "MAIL"));
}

TEST(SmtpTls, HostNameMismatchFails) {
  TestCert cert = make_cert("DNS:mx.example.invalid");
  Script script;
  script.starttls = true;
  SmtpServer server(script, &cert);
  auto client = client_trusting(cert, "sira_smtp_mismatch.pem");
  auto res = client->send(basic_message(server));
  ASSERT_FALSE(res);
  EXPECT_NE(res.error().detail.find("mismatch"), std::string::npos) << res.error().detail;
}

}  // namespace
}  // namespace sira::http
