// Ed25519 tree-head signer over OpenSSL 3 EVP: key file handling, signing and verification.
#include "audit/signer.h"

#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "core/assert.h"

namespace sira::audit {
namespace {

constexpr size_t kRawPublicKeySize = 32;
constexpr size_t kSignatureSize = 64;
// A PEM Ed25519 private key is about 120 bytes; anything much larger is not one.
constexpr size_t kMaxKeyFileSize = 64 * 1024;

struct PkeyDeleter {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};
struct BioDeleter {
  void operator()(BIO* p) const { BIO_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

// Holds secret bytes and wipes them on scope exit.
class SecretBuffer {
 public:
  SecretBuffer() = default;
  SecretBuffer(const SecretBuffer&) = delete;
  SecretBuffer& operator=(const SecretBuffer&) = delete;
  ~SecretBuffer() {
    if (!data.empty()) OPENSSL_cleanse(data.data(), data.size());
  }
  std::string data;
};

// Drains the thread's OpenSSL error queue into one line (empty when nothing was queued).
std::string openssl_errors() {
  std::string out;
  while (unsigned long e = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out;
}

std::string with_reason(std::string message, const std::string& reason) {
  if (!reason.empty()) message += ": " + reason;
  return message;
}

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string mode_text(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

std::string hex(const unsigned char* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(n * 2, '\0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0x0f];
  }
  return out;
}

Status write_all(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorCode::kIo, "writing audit signing key " + path + ": " + errno_text(errno),
                  path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

// Makes the new directory entry durable; best effort (some file systems refuse fsync on a
// directory, and the key itself is already synced).
void sync_parent_directory(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  (void)::fsync(fd);
  ::close(fd);
}

// Reads the key file behind an open descriptor after checking it is a private regular file.
Result<PkeyPtr> read_private_key(int fd, const std::string& path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return fail(ErrorCode::kIo, "cannot stat audit signing key " + path + ": " + errno_text(errno),
                path);
  }
  if (!S_ISREG(st.st_mode)) {
    return fail(ErrorCode::kConfig, "audit signing key " + path + " is not a regular file", path);
  }
  if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    return fail(ErrorCode::kConfig,
                "audit signing key " + path + " has mode " + mode_text(st.st_mode) +
                    ", which gives group or other users access; restrict it with chmod 600 " + path,
                path);
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxKeyFileSize) {
    return fail(ErrorCode::kConfig,
                "audit signing key " + path + " is too large to be a PEM Ed25519 key", path);
  }

  SecretBuffer pem;
  pem.data.resize(static_cast<size_t>(st.st_size) + 1);
  size_t got = 0;
  for (;;) {
    if (got == pem.data.size()) {
      if (pem.data.size() > kMaxKeyFileSize) {
        return fail(ErrorCode::kConfig,
                    "audit signing key " + path + " is too large to be a PEM Ed25519 key", path);
      }
      pem.data.resize(pem.data.size() * 2);
    }
    ssize_t n = ::read(fd, pem.data.data() + got, pem.data.size() - got);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrorCode::kIo, "reading audit signing key " + path + ": " + errno_text(errno),
                  path);
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }

  ERR_clear_error();
  BioPtr bio(BIO_new_mem_buf(pem.data.data(), static_cast<int>(got)));
  if (!bio) return fail(ErrorCode::kIo, with_reason("BIO_new_mem_buf failed", openssl_errors()));
  PkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return fail(
        ErrorCode::kConfig,
        with_reason("audit signing key " + path + " is not a PEM private key", openssl_errors()),
        path);
  }
  if (EVP_PKEY_get_base_id(key.get()) != EVP_PKEY_ED25519) {
    return fail(
        ErrorCode::kConfig,
        "audit signing key " + path + " is not an Ed25519 key (found " +
            (EVP_PKEY_get0_type_name(key.get()) ? EVP_PKEY_get0_type_name(key.get()) : "unknown") +
            ")",
        path);
  }
  return key;
}

Result<PkeyPtr> generate_key() {
  ERR_clear_error();
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
  if (!key) {
    return fail(ErrorCode::kIo, with_reason("Ed25519 key generation failed", openssl_errors()));
  }
  return key;
}

// Writes `key` as PKCS#8 PEM to a new file created with mode 0600; fails if the path exists.
// Returns EEXIST through `*exists` so the caller can load a key another process just created.
Status create_key_file(EVP_PKEY* key, const std::string& path, bool* exists) {
  *exists = false;
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) bio.reset(BIO_new(BIO_s_mem()));
  if (!bio ||
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return fail(ErrorCode::kIo,
                with_reason("encoding the audit signing key failed", openssl_errors()));
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);

  // O_EXCL: never overwrite or follow a planted file; the mode is set at creation so the key is
  // never readable by others, not even briefly.
  Fd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.get() < 0) {
    if (errno == EEXIST) {
      *exists = true;
      return fail(ErrorCode::kIo, "audit signing key " + path + " already exists", path);
    }
    return fail(ErrorCode::kIo,
                "cannot create audit signing key " + path + ": " + errno_text(errno), path);
  }
  Status written = write_all(fd.get(), std::string_view(data, static_cast<size_t>(len)), path);
  if (written && ::fsync(fd.get()) != 0) {
    written =
        fail(ErrorCode::kIo, "syncing audit signing key " + path + ": " + errno_text(errno), path);
  }
  if (::close(fd.release()) != 0 && written) {
    written =
        fail(ErrorCode::kIo, "closing audit signing key " + path + ": " + errno_text(errno), path);
  }
  if (!written) {
    // A truncated key file would be refused at the next start; remove it so a retry recreates it.
    ::unlink(path.c_str());
    return written;
  }
  sync_parent_directory(path);
  return {};
}

Result<PkeyPtr> open_existing(const std::string& path, bool* missing) {
  *missing = false;
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    const int err = errno;
    *missing = err == ENOENT;
    return fail(ErrorCode::kIo, "cannot open audit signing key " + path + ": " + errno_text(err),
                path);
  }
  return read_private_key(fd.get(), path);
}

bool verify_with(EVP_PKEY* key, std::string_view message, std::string_view signature) {
  if (signature.size() != kSignatureSize) return false;
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx) return false;
  bool ok =
      EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key) == 1 &&
      EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                       signature.size(), reinterpret_cast<const unsigned char*>(message.data()),
                       message.size()) == 1;
  ERR_clear_error();
  return ok;
}

// The key and its public forms, derived once so the accessors are plain reads.
struct KeyMaterial {
  PkeyPtr key;
  std::string public_pem;
  std::string public_raw;
  std::string id;
};

Result<KeyMaterial> derive_material(PkeyPtr key, const std::string& path) {
  KeyMaterial m;
  m.key = std::move(key);

  unsigned char raw[kRawPublicKeySize];
  size_t raw_len = sizeof raw;
  if (EVP_PKEY_get_raw_public_key(m.key.get(), raw, &raw_len) != 1 ||
      raw_len != kRawPublicKeySize) {
    return fail(ErrorCode::kConfig,
                with_reason("cannot derive the public key of " + path, openssl_errors()), path);
  }
  m.public_raw.assign(reinterpret_cast<const char*>(raw), raw_len);

  BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PUBKEY(bio.get(), m.key.get()) != 1) {
    return fail(ErrorCode::kIo, with_reason("encoding the public key failed", openssl_errors()));
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  m.public_pem.assign(data, static_cast<size_t>(len));

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_len = 0;
  if (EVP_Digest(raw, raw_len, digest, &digest_len, EVP_sha256(), nullptr) != 1) {
    return fail(ErrorCode::kIo, with_reason("hashing the public key failed", openssl_errors()));
  }
  m.id = hex(digest, digest_len).substr(0, 16);
  return m;
}

}  // namespace

struct Signer::Impl {
  KeyMaterial m;
};

Signer::Signer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Signer::~Signer() = default;
Signer::Signer(Signer&&) noexcept = default;
Signer& Signer::operator=(Signer&&) noexcept = default;

Result<Signer> Signer::load(const std::string& path) {
  bool missing = false;
  auto key = open_existing(path, &missing);
  if (!key) return std::unexpected(key.error());
  auto material = derive_material(std::move(*key), path);
  if (!material) return std::unexpected(material.error());
  return Signer(std::make_unique<Impl>(Impl{std::move(*material)}));
}

Result<Signer> Signer::load_or_create(const std::string& path) {
  bool missing = false;
  auto key = open_existing(path, &missing);
  if (!key && missing) {
    auto fresh = generate_key();
    if (!fresh) return std::unexpected(fresh.error());
    bool exists = false;
    Status created = create_key_file(fresh->get(), path, &exists);
    if (created) {
      key = std::move(fresh);
    } else if (exists) {
      // Another process won the race to create the key: use theirs.
      key = open_existing(path, &missing);
    } else {
      return std::unexpected(created.error());
    }
  }
  if (!key) return std::unexpected(key.error());
  auto material = derive_material(std::move(*key), path);
  if (!material) return std::unexpected(material.error());
  return Signer(std::make_unique<Impl>(Impl{std::move(*material)}));
}

std::string Signer::sign(std::string_view message) const {
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::string sig(kSignatureSize, '\0');
  size_t sig_len = sig.size();
  // Signing with a loaded Ed25519 key can only fail when OpenSSL cannot allocate; an unsigned
  // tree head must never be published, so stop.
  const bool ok =
      ctx && EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, impl_->m.key.get()) == 1 &&
      EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &sig_len,
                     reinterpret_cast<const unsigned char*>(message.data()), message.size()) == 1 &&
      sig_len == kSignatureSize;
  SIRA_RELEASE_ASSERT(ok);
  return sig;
}

bool Signer::verify(std::string_view message, std::string_view signature) const {
  return verify_with(impl_->m.key.get(), message, signature);
}

std::string Signer::public_key_pem() const {
  return impl_->m.public_pem;
}
std::string Signer::public_key_raw() const {
  return impl_->m.public_raw;
}
std::string Signer::key_id() const {
  return impl_->m.id;
}

bool verify_ed25519(std::string_view public_key_raw, std::string_view message,
                    std::string_view signature) {
  if (public_key_raw.size() != kRawPublicKeySize || signature.size() != kSignatureSize)
    return false;
  PkeyPtr key(EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(public_key_raw.data()),
      public_key_raw.size()));
  if (!key) {
    ERR_clear_error();
    return false;
  }
  return verify_with(key.get(), message, signature);
}

}  // namespace sira::audit
