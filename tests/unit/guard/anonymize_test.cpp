// Unit tests of src/guard/anonymize: IP truncation, secret masking in free text (e-mails,
// bearer/basic credentials, JWTs, sira tokens, Luhn-valid card numbers) and query masking.
#include "guard/anonymize.h"

#include <gtest/gtest.h>

#include <string>

namespace sira::guard {
namespace {

TEST(GuardAnonymizeIp, Ipv4KeepsTheSlash24) {
  EXPECT_EQ(truncate_ip("192.168.1.77"), "192.168.1.0");
  EXPECT_EQ(truncate_ip("10.0.0.1"), "10.0.0.0");
  EXPECT_EQ(truncate_ip("203.0.113.255"), "203.0.113.0");
  EXPECT_EQ(truncate_ip("8.8.8.0"), "8.8.8.0");
}

TEST(GuardAnonymizeIp, Ipv6KeepsTheSlash48) {
  EXPECT_EQ(truncate_ip("2001:db8:1234:5678:9abc:def0:1234:5678"), "2001:db8:1234::");
  EXPECT_EQ(truncate_ip("2001:db8:abcd:12::1"), "2001:db8:abcd::");
  EXPECT_EQ(truncate_ip("2001:DB8:ABCD:12::1"), "2001:db8:abcd::");
  EXPECT_EQ(truncate_ip("fe80::1"), "fe80::");
  EXPECT_EQ(truncate_ip("::1"), "::");
}

TEST(GuardAnonymizeIp, InvalidInput) {
  for (const char* bad :
       {"", "abc", "1.2.3", "999.1.1.1", "1.2.3.4/24", " 1.2.3.4", "2001:db8::g", "1.2.3.4:8080"})
    EXPECT_EQ(truncate_ip(bad), "[invalid-ip]") << "'" << bad << "'";
}

TEST(GuardAnonymizeSecrets, Emails) {
  EXPECT_EQ(mask_secrets("contact john.doe+tag@example.co.uk now"), "contact ***@*** now");
  EXPECT_EQ(mask_secrets("/v1/users/alice@example.com/orders"), "/v1/users/***@***/orders");
  EXPECT_EQ(mask_secrets("a@example.com,b_c@mail.example.org"), "***@***,***@***");
  // Not addresses: no local part, or no dotted domain.
  EXPECT_EQ(mask_secrets("@example.com"), "@example.com");
  EXPECT_EQ(mask_secrets("user@localhost"), "user@localhost");
  EXPECT_EQ(mask_secrets("price @ 5"), "price @ 5");
}

TEST(GuardAnonymizeSecrets, AuthorizationSchemes) {
  EXPECT_EQ(mask_secrets("Authorization: Bearer abc.def-ghi_123"),
            "Authorization: Bearer [redacted]");
  EXPECT_EQ(mask_secrets("bearer xyz987 rest"), "bearer [redacted] rest");
  EXPECT_EQ(mask_secrets("auth=Bearer%20tok123"), "auth=Bearer%20[redacted]");
  EXPECT_EQ(mask_secrets("BEARER+zz9"), "BEARER+[redacted]");
  EXPECT_EQ(mask_secrets("Basic dXNlcjpwYXNzd29yZA=="), "Basic [redacted]");
  EXPECT_EQ(mask_secrets("Basic%20dXNlcjpwYXNz"), "Basic%20[redacted]");
  // The scheme word alone is not a secret.
  EXPECT_EQ(mask_secrets("Bearer "), "Bearer ");
}

TEST(GuardAnonymizeSecrets, Tokens) {
  const std::string jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJlMTIz";
  EXPECT_EQ(mask_secrets("token " + jwt + " end"), "token [redacted] end");
  EXPECT_EQ(mask_secrets("/callback/" + jwt), "/callback/[redacted]");
  EXPECT_EQ(mask_secrets("key sira_0123456789abcdefghij"), "key [redacted]");
  EXPECT_EQ(mask_secrets("/debug/debug_AbCdEfGhIjKlMnOpQrSt"), "/debug/[redacted]");
  EXPECT_EQ(mask_query("jwt=" + jwt + "&page=1"), "jwt=[redacted]&page=1");
  EXPECT_EQ(mask_secrets("sk_live_0123456789abcdef"), "[redacted]");
  // Too short to be a token, or not at the start of a word.
  EXPECT_EQ(mask_secrets("sira_short"), "sira_short");
  EXPECT_EQ(mask_secrets("eyJshort"), "eyJshort");
  EXPECT_EQ(mask_secrets("xeyJhbGciOiJIUzI1NiJ9abcdef"), "xeyJhbGciOiJIUzI1NiJ9abcdef");
}

TEST(GuardAnonymizeSecrets, LuhnValidCardNumbers) {
  EXPECT_EQ(mask_secrets("4111111111111111"), "[card:****1111]");
  EXPECT_EQ(mask_secrets("card 4111 1111 1111 1111 ok"), "card [card:****1111] ok");
  EXPECT_EQ(mask_secrets("pan=4111-1111-1111-1111&x=1"), "pan=[card:****1111]&x=1");
  EXPECT_EQ(mask_secrets("5555555555554444"), "[card:****4444]");
  EXPECT_EQ(mask_secrets("amex 378282246310005."), "amex [card:****0005].");
  EXPECT_EQ(mask_secrets("4222222222222"), "[card:****2222]");        // 13 digits
  EXPECT_EQ(mask_secrets("4111111111111111110"), "[card:****1110]");  // 19 digits
  EXPECT_EQ(mask_secrets("6011 0009 9013 9424"), "[card:****9424]");
  EXPECT_EQ(mask_secrets("/cards/4111111111111111/charge"), "/cards/[card:****1111]/charge");
}

TEST(GuardAnonymizeSecrets, LeavesOtherNumbersAlone) {
  for (const char* keep :
       {"4111111111111112",       // fails Luhn
        "4111 1111 1111 1112",    // fails Luhn, grouped
        "1234567890123",          // 13 digits, fails Luhn
        "ts 1760000000000",       // a unix-ms timestamp failing Luhn
        "order ORD-2024-000123",  // an order id
        "/v1/orders/ord_8f2k1/items/42", "id 12345", "qty 7", "2025-11-11T12:50:00Z",
        "+33 6 12 34 56 78", "41111111111111110000"}) {  // 20 digits: too long for a card
    EXPECT_EQ(mask_secrets(keep), keep) << keep;
  }
  EXPECT_EQ(mask_secrets(""), "");
  EXPECT_EQ(mask_secrets("nothing secret here"), "nothing secret here");
}

// A card number followed by a space and another number (its expiry date, a CVV, an amount) is
// still a card number: the digits of the card alone pass Luhn.
TEST(GuardAnonymizeSecrets, CardFollowedByAnotherNumber) {
  EXPECT_EQ(mask_secrets("4111 1111 1111 1111 12/26"), "[card:****1111] 12/26");
  EXPECT_EQ(mask_secrets("card=4111111111111111 123"), "card=[card:****1111] 123");
  EXPECT_EQ(mask_secrets("5555-5555-5555-4444 2026"), "[card:****4444] 2026");
}

TEST(GuardAnonymizeSecrets, SeveralKindsInOneText) {
  EXPECT_EQ(mask_secrets("bob@example.com paid with 4111111111111111 using Bearer t0k3n"),
            "***@*** paid with [card:****1111] using Bearer [redacted]");
}

TEST(GuardAnonymizeQuery, RedactsSecretParameters) {
  EXPECT_EQ(mask_query("token=abc123&page=2"), "token=[redacted]&page=2");
  EXPECT_EQ(mask_query("password=hunter2&user=bob"), "password=[redacted]&user=bob");
  EXPECT_EQ(mask_query("api_key=k1&limit=10"), "api_key=[redacted]&limit=10");
  EXPECT_EQ(mask_query("secret=s3"), "secret=[redacted]");
  EXPECT_EQ(mask_query("signature=abcdef&expires=1700000000"),
            "signature=[redacted]&expires=1700000000");
  EXPECT_EQ(
      mask_query("access_token=at&refresh_token=rt&my_token=mt&id_token=it"),
      "access_token=[redacted]&refresh_token=[redacted]&my_token=[redacted]&id_token=[redacted]");
  EXPECT_EQ(mask_query("client_secret=cs&Password=P&API_KEY=K&key=k&sig=s&apikey=a"),
            "client_secret=[redacted]&Password=[redacted]&API_KEY=[redacted]&key=[redacted]&"
            "sig=[redacted]&apikey=[redacted]");
  EXPECT_EQ(mask_query("token="), "token=[redacted]");
}

TEST(GuardAnonymizeQuery, KeepsOtherParameters) {
  EXPECT_EQ(mask_query("page=2&limit=10&sort=desc"), "page=2&limit=10&sort=desc");
  EXPECT_EQ(mask_query("tokens_left=5&keyword=shoes&monkey=1"),
            "tokens_left=5&keyword=shoes&monkey=1");
  EXPECT_EQ(mask_query("flag&page=3"), "flag&page=3");
  EXPECT_EQ(mask_query("a=1&"), "a=1&");
  EXPECT_EQ(mask_query(""), "");
  // Values of ordinary parameters still go through mask_secrets.
  EXPECT_EQ(mask_query("email=john@example.com&page=1"), "email=***@***&page=1");
  EXPECT_EQ(mask_query("pan=4111111111111111"), "pan=[card:****1111]");
}

}  // namespace
}  // namespace sira::guard
