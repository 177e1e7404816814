// Ed25519 signing key for tree heads (OpenSSL 3). The private key lives in a PEM file created
// with mode 0600 on first use; the public key is published as PEM and as raw base64.
// Thread-safe after construction (sign() and verify() take no shared mutable state).
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sira::audit {

class Signer {
 public:
  ~Signer();
  Signer(Signer&&) noexcept;
  Signer& operator=(Signer&&) noexcept;

  // Loads the key at `path`, creating it (mode 0600) when absent. Refuses a key file readable
  // by group or others.
  static Result<Signer> load_or_create(const std::string& path);
  // Loads an existing key; never creates one.
  static Result<Signer> load(const std::string& path);

  std::string sign(std::string_view message) const;  // 64-byte raw signature
  bool verify(std::string_view message, std::string_view signature) const;

  std::string public_key_pem() const;
  std::string public_key_raw() const;  // 32 bytes
  std::string key_id() const;          // hex SHA-256 of the raw public key, first 16 chars

 private:
  struct Impl;
  explicit Signer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Verifies a raw Ed25519 signature with a raw 32-byte public key.
bool verify_ed25519(std::string_view public_key_raw, std::string_view message,
                    std::string_view signature);

}  // namespace sira::audit
