// Tenants, users and API tokens, and the authentication of bearer tokens.
//
// Every read and write is scoped to the caller's tenant (Principal::tenant_id); only admins of
// the system tenant created by `sira init` may create, list or delete other tenants. Each
// mutation writes its audit entry in the same transaction. Tokens are shown once at creation and
// stored as SHA-256 hashes. Thread-safe.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "audit/log.h"
#include "auth/roles.h"
#include "core/clock.h"
#include "core/error.h"
#include "store/database.h"
#include "store/migrations.h"

namespace sira::auth {

struct Principal {
  std::string tenant_id;
  bool system_tenant = false;
  std::string token_id;  // empty for the local CLI
  std::string user_id;
  std::vector<Role> roles;
  std::string actor() const { return token_id.empty() ? "cli" : token_id; }
  bool has(Permission p) const;
  bool has_role(Role r) const;
  // The local operator running the CLI with access to the data directory: admin of `tenant`.
  static Principal local_admin(const std::string& tenant_id, bool system_tenant);
};

struct Tenant {
  std::string id, name;
  bool is_system = false;
  int64_t created_at = 0, updated_at = 0;
  std::optional<int64_t> disabled_at;
};

struct User {
  std::string id, tenant_id, name, email;
  std::vector<Role> roles;
  int64_t created_at = 0, updated_at = 0;
};

struct Token {
  std::string id, tenant_id, user_id, name, created_by;
  std::vector<Role> roles;
  int64_t created_at = 0;
  std::optional<int64_t> expires_at, revoked_at;
};

struct CreatedToken {
  Token token;
  std::string secret;  // "sira_…": returned once, never stored
};

template <class T>
struct Page {
  std::vector<T> items;
  std::optional<std::string> next_cursor;
};

struct PageRequest {
  std::optional<std::string> cursor;  // opaque, from a previous Page
  int limit = 50;                     // 1..500
};

struct NewUser {
  std::string name, email;
  std::vector<Role> roles;
};
struct UserUpdate {
  std::optional<std::string> name, email;
  std::optional<std::vector<Role>> roles;
};
struct NewToken {
  std::string name;
  std::vector<Role> roles;
  std::optional<std::string> user_id;  // defaults to the caller's user
  std::optional<int64_t> expires_at;   // unix ms
};
struct CreatedTenant {
  Tenant tenant;
  User admin;
  CreatedToken admin_token;
};
struct Bootstrap {
  Tenant tenant;
  User admin;
  CreatedToken admin_token;
};

class AuthService {
 public:
  AuthService(store::Database& db, audit::AuditLog& audit, const Clock& clock);
  static std::vector<store::Migration> migrations();
  // Ids of every tenant ever created (disabled ones too): each must have an audit log.
  static Result<std::vector<std::string>> tenant_ids(store::Database& db);

  // Creates the system tenant, its admin user and an admin token, once. kConflict when done.
  Result<Bootstrap> bootstrap(const std::string& tenant_name);
  Result<std::optional<Tenant>> system_tenant();

  // "Bearer sira_…" value (without the scheme). kUnauthorized on anything but a live token.
  Result<Principal> authenticate(std::string_view token) const;
  Status require(const Principal& p, Permission perm) const;

  Result<Page<Tenant>> list_tenants(const Principal& p, const PageRequest& page);
  Result<Tenant> get_tenant(const Principal& p, const std::string& id);
  Result<CreatedTenant> create_tenant(const Principal& p, const std::string& name);
  Result<Tenant> rename_tenant(const Principal& p, const std::string& id, const std::string& name);
  Status disable_tenant(const Principal& p, const std::string& id);
  // Looks a tenant up by id or name (CLI).
  Result<Tenant> find_tenant(const std::string& id_or_name);

  Result<Page<User>> list_users(const Principal& p, const PageRequest& page);
  Result<User> get_user(const Principal& p, const std::string& id);
  Result<User> create_user(const Principal& p, const NewUser& u);
  Result<User> update_user(const Principal& p, const std::string& id, const UserUpdate& u);
  Status delete_user(const Principal& p, const std::string& id);

  Result<Page<Token>> list_tokens(const Principal& p, const PageRequest& page);
  Result<Token> get_token(const Principal& p, const std::string& id);
  Result<CreatedToken> create_token(const Principal& p, const NewToken& t);
  Status revoke_token(const Principal& p, const std::string& id);

 private:
  store::Database& db_;
  audit::AuditLog& audit_;
  const Clock& clock_;
};

std::string roles_to_csv(const std::vector<Role>& roles);

}  // namespace sira::auth
