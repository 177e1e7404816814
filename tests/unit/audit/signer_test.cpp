// Checks the Ed25519 tree-head signer: key file creation and permissions, reload, signatures.
#include "audit/signer.h"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace sira::audit {
namespace {

namespace fs = std::filesystem;

std::string to_hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0x0f];
  }
  return out;
}

std::string from_hex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  }
  return out;
}

mode_t file_mode(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Writes `key` as a PKCS#8 PEM file with the given mode.
void write_key_file(EVP_PKEY* key, const std::string& path, mode_t mode) {
  FILE* f = std::fopen(path.c_str(), "w");
  ASSERT_NE(f, nullptr);
  ASSERT_EQ(PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr), 1);
  std::fclose(f);
  ASSERT_EQ(::chmod(path.c_str(), mode), 0);
}

class SignerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "sira-signer-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  std::string path(const std::string& name) const { return (fs::path(dir_) / name).string(); }

  std::string dir_;
};

TEST_F(SignerTest, CreatesKeyFileWithMode0600) {
  const std::string key = path("tree-head.pem");
  auto signer = Signer::load_or_create(key);
  ASSERT_TRUE(signer.has_value()) << signer.error().detail;
  ASSERT_TRUE(fs::exists(key));
  EXPECT_EQ(file_mode(key), 0600);
  EXPECT_EQ(signer->public_key_raw().size(), 32u);
}

TEST_F(SignerTest, ModeIsSetAtCreationNotByUmask) {
  const std::string key = path("k.pem");
  const mode_t old = ::umask(0);
  auto signer = Signer::load_or_create(key);
  ::umask(old);
  ASSERT_TRUE(signer.has_value()) << signer.error().detail;
  EXPECT_EQ(file_mode(key), 0600);
}

TEST_F(SignerTest, ReloadGivesSameKey) {
  const std::string key = path("k.pem");
  auto first = Signer::load_or_create(key);
  ASSERT_TRUE(first.has_value()) << first.error().detail;
  auto again = Signer::load_or_create(key);
  ASSERT_TRUE(again.has_value()) << again.error().detail;
  auto loaded = Signer::load(key);
  ASSERT_TRUE(loaded.has_value()) << loaded.error().detail;

  EXPECT_EQ(first->public_key_raw(), again->public_key_raw());
  EXPECT_EQ(first->public_key_raw(), loaded->public_key_raw());
  EXPECT_EQ(first->public_key_pem(), loaded->public_key_pem());
  EXPECT_EQ(first->key_id(), loaded->key_id());
  // Ed25519 is deterministic: the same key signs the same message identically.
  EXPECT_EQ(first->sign("head"), loaded->sign("head"));
}

TEST_F(SignerTest, DistinctFilesGetDistinctKeys) {
  auto a = Signer::load_or_create(path("a.pem"));
  auto b = Signer::load_or_create(path("b.pem"));
  ASSERT_TRUE(a.has_value() && b.has_value());
  EXPECT_NE(a->public_key_raw(), b->public_key_raw());
  EXPECT_NE(a->key_id(), b->key_id());
  const std::string sig = a->sign("m");
  EXPECT_FALSE(b->verify("m", sig));
  EXPECT_FALSE(verify_ed25519(b->public_key_raw(), "m", sig));
}

TEST_F(SignerTest, LoadNeverCreates) {
  const std::string key = path("missing.pem");
  auto signer = Signer::load(key);
  ASSERT_FALSE(signer.has_value());
  EXPECT_EQ(signer.error().code, ErrorCode::kIo);
  EXPECT_NE(signer.error().detail.find(key), std::string::npos) << signer.error().detail;
  EXPECT_FALSE(fs::exists(key));
}

TEST_F(SignerTest, MissingDirectoryIsAnIoError) {
  auto signer = Signer::load_or_create(path("no/such/dir/k.pem"));
  ASSERT_FALSE(signer.has_value());
  EXPECT_EQ(signer.error().code, ErrorCode::kIo);
}

TEST_F(SignerTest, SignatureVerifiesWithRawPublicKey) {
  auto signer = Signer::load_or_create(path("k.pem"));
  ASSERT_TRUE(signer.has_value()) << signer.error().detail;
  const std::string msg = "tree_size=42 root=abc";
  const std::string sig = signer->sign(msg);
  ASSERT_EQ(sig.size(), 64u);
  EXPECT_TRUE(signer->verify(msg, sig));
  EXPECT_TRUE(verify_ed25519(signer->public_key_raw(), msg, sig));

  for (size_t bit : {0u, 7u, 100u, 511u}) {
    std::string bad = sig;
    bad[bit / 8] = static_cast<char>(bad[bit / 8] ^ (1 << (bit % 8)));
    EXPECT_FALSE(verify_ed25519(signer->public_key_raw(), msg, bad)) << "bit " << bit;
    EXPECT_FALSE(signer->verify(msg, bad)) << "bit " << bit;
  }
  std::string other_msg = msg;
  other_msg[0] ^= 1;
  EXPECT_FALSE(verify_ed25519(signer->public_key_raw(), other_msg, sig));
  EXPECT_FALSE(signer->verify(other_msg, sig));

  // Wrong lengths are rejected rather than read out of bounds.
  EXPECT_FALSE(verify_ed25519(signer->public_key_raw(), msg, sig.substr(0, 63)));
  EXPECT_FALSE(verify_ed25519(signer->public_key_raw(), msg, sig + "x"));
  EXPECT_FALSE(verify_ed25519(signer->public_key_raw().substr(0, 31), msg, sig));
  EXPECT_FALSE(verify_ed25519("", msg, sig));
  EXPECT_FALSE(signer->verify(msg, ""));

  // Empty and binary messages.
  const std::string empty_sig = signer->sign("");
  EXPECT_TRUE(verify_ed25519(signer->public_key_raw(), "", empty_sig));
  const std::string binary("\0\1\2\0", 4);
  EXPECT_TRUE(verify_ed25519(signer->public_key_raw(), binary, signer->sign(binary)));
  EXPECT_FALSE(
      verify_ed25519(signer->public_key_raw(), std::string("\0\1\2", 3), signer->sign(binary)));
}

TEST_F(SignerTest, KeyIdIsPrefixOfSha256OfRawPublicKey) {
  auto signer = Signer::load_or_create(path("k.pem"));
  ASSERT_TRUE(signer.has_value()) << signer.error().detail;
  const std::string raw = signer->public_key_raw();
  unsigned char digest[32];
  unsigned int len = 0;
  ASSERT_EQ(EVP_Digest(raw.data(), raw.size(), digest, &len, EVP_sha256(), nullptr), 1);
  const std::string expected =
      to_hex(std::string_view(reinterpret_cast<const char*>(digest), len)).substr(0, 16);
  EXPECT_EQ(signer->key_id(), expected);
  EXPECT_EQ(signer->key_id().size(), 16u);
}

TEST_F(SignerTest, PemPublicKeyParsesBackAndVerifies) {
  auto signer = Signer::load_or_create(path("k.pem"));
  ASSERT_TRUE(signer.has_value()) << signer.error().detail;
  const std::string pem = signer->public_key_pem();
  EXPECT_EQ(pem.rfind("-----BEGIN PUBLIC KEY-----", 0), 0u) << pem;

  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  ASSERT_NE(bio, nullptr);
  EVP_PKEY* key = PEM_read_bio_PUBKEY(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(EVP_PKEY_get_base_id(key), EVP_PKEY_ED25519);

  unsigned char raw[32];
  size_t raw_len = sizeof raw;
  ASSERT_EQ(EVP_PKEY_get_raw_public_key(key, raw, &raw_len), 1);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(raw), raw_len), signer->public_key_raw());

  const std::string msg = "signed tree head";
  const std::string sig = signer->sign(msg);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, key), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, reinterpret_cast<const unsigned char*>(sig.data()), sig.size(),
                             reinterpret_cast<const unsigned char*>(msg.data()), msg.size()),
            1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(key);
}

TEST_F(SignerTest, RefusesKeyFileReadableByOthers) {
  const std::string key = path("k.pem");
  ASSERT_TRUE(Signer::load_or_create(key).has_value());
  for (mode_t mode : {0644, 0640, 0604, 0660, 0602}) {
    SCOPED_TRACE(mode);
    ASSERT_EQ(::chmod(key.c_str(), mode), 0);
    auto loaded = Signer::load(key);
    ASSERT_FALSE(loaded.has_value());
    EXPECT_EQ(loaded.error().code, ErrorCode::kConfig);
    EXPECT_NE(loaded.error().detail.find(key), std::string::npos) << loaded.error().detail;
    auto created = Signer::load_or_create(key);
    ASSERT_FALSE(created.has_value());
    EXPECT_EQ(created.error().code, ErrorCode::kConfig);
    // Refusing is not fixing: the file is left as the operator set it.
    EXPECT_EQ(file_mode(key), mode);
  }
  ASSERT_EQ(::chmod(key.c_str(), 0400), 0);
  EXPECT_TRUE(Signer::load(key).has_value());
}

TEST_F(SignerTest, RefusesGarbageAndNonEd25519Keys) {
  const std::string garbage = path("garbage.pem");
  { std::ofstream(garbage) << "not a key\n"; }
  ASSERT_EQ(::chmod(garbage.c_str(), 0600), 0);
  auto g = Signer::load_or_create(garbage);
  ASSERT_FALSE(g.has_value());
  EXPECT_EQ(g.error().code, ErrorCode::kConfig);
  EXPECT_NE(g.error().detail.find(garbage), std::string::npos);

  const std::string ec_path = path("ec.pem");
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  write_key_file(ec, ec_path, 0600);
  EVP_PKEY_free(ec);
  auto e = Signer::load(ec_path);
  ASSERT_FALSE(e.has_value());
  EXPECT_EQ(e.error().code, ErrorCode::kConfig);

  auto dir = Signer::load(dir_);
  ASSERT_FALSE(dir.has_value());
}

// RFC 8032 section 7.1, TEST 1: a known secret key, its public key and the signature of "".
TEST_F(SignerTest, Rfc8032KnownAnswer) {
  const std::string secret =
      from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  EVP_PKEY* k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr,
                                             reinterpret_cast<const unsigned char*>(secret.data()),
                                             secret.size());
  ASSERT_NE(k, nullptr);
  const std::string key = path("rfc8032.pem");
  write_key_file(k, key, 0600);
  EVP_PKEY_free(k);

  auto signer = Signer::load(key);
  ASSERT_TRUE(signer.has_value()) << signer.error().detail;
  EXPECT_EQ(to_hex(signer->public_key_raw()),
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  const std::string sig = signer->sign("");
  EXPECT_EQ(to_hex(sig),
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
            "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
  EXPECT_TRUE(verify_ed25519(signer->public_key_raw(), "", sig));
}

TEST_F(SignerTest, MovedSignerKeepsWorking) {
  auto made = Signer::load_or_create(path("k.pem"));
  ASSERT_TRUE(made.has_value());
  const std::string raw = made->public_key_raw();
  Signer moved(std::move(*made));
  EXPECT_EQ(moved.public_key_raw(), raw);
  auto other = Signer::load_or_create(path("k2.pem"));
  ASSERT_TRUE(other.has_value());
  *other = std::move(moved);
  EXPECT_EQ(other->public_key_raw(), raw);
  EXPECT_TRUE(verify_ed25519(raw, "x", other->sign("x")));
}

}  // namespace
}  // namespace sira::audit
