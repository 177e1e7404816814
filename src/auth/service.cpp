// Tenants, users, tokens: storage, scoping, authentication and audit entries.
#include "auth/service.h"

#include <boost/json.hpp>

#include "core/crypto.h"
#include "core/ids.h"

namespace sira::auth {

namespace bj = boost::json;

namespace {

constexpr int kMaxLimit = 500;

std::vector<Role> roles_from_csv(const std::string& csv) {
  std::vector<Role> out;
  size_t start = 0;
  while (start <= csv.size()) {
    size_t end = csv.find(',', start);
    if (end == std::string::npos) end = csv.size();
    if (auto r = parse_role(std::string_view(csv).substr(start, end - start))) out.push_back(*r);
    start = end + 1;
  }
  return out;
}

bj::array roles_json(const std::vector<Role>& roles) {
  bj::array a;
  for (Role r : roles) a.emplace_back(role_name(r));
  return a;
}

Result<std::optional<std::string>> decode_cursor(const PageRequest& page) {
  if (page.limit < 1 || page.limit > kMaxLimit)
    return fail(ErrorCode::kInvalidArgument, "limit must be between 1 and 500", "limit");
  if (!page.cursor) return std::optional<std::string>();
  std::string id;
  if (!base64url_decode(*page.cursor, &id) || id.empty() || id.size() > 64)
    return fail(ErrorCode::kInvalidArgument, "cursor is not one this server issued", "cursor");
  return std::optional<std::string>(id);
}

template <class T>
Page<T> make_page(std::vector<T> items, int limit) {
  Page<T> page;
  if (static_cast<int>(items.size()) > limit) {
    items.resize(limit);
    page.next_cursor = base64url_encode(items.back().id);
  }
  page.items = std::move(items);
  return page;
}

Tenant tenant_from(const store::Row& r) {
  Tenant t;
  t.id = r.str(0);
  t.name = r.str(1);
  t.is_system = r.i64(2) != 0;
  t.created_at = r.i64(3);
  t.updated_at = r.i64(4);
  t.disabled_at = r.opt_i64(5);
  return t;
}
constexpr const char* kTenantCols = "id, name, is_system, created_at, updated_at, disabled_at";

User user_from(const store::Row& r) {
  User u;
  u.id = r.str(0);
  u.tenant_id = r.str(1);
  u.name = r.str(2);
  u.email = r.str(3);
  u.roles = roles_from_csv(r.str(4));
  u.created_at = r.i64(5);
  u.updated_at = r.i64(6);
  return u;
}
constexpr const char* kUserCols = "id, tenant_id, name, email, roles, created_at, updated_at";

Token token_from(const store::Row& r) {
  Token t;
  t.id = r.str(0);
  t.tenant_id = r.str(1);
  t.user_id = r.str(2);
  t.name = r.str(3);
  t.roles = roles_from_csv(r.str(4));
  t.created_at = r.i64(5);
  t.expires_at = r.opt_i64(6);
  t.revoked_at = r.opt_i64(7);
  t.created_by = r.str(8);
  return t;
}
constexpr const char* kTokenCols =
    "id, tenant_id, user_id, name, roles, created_at, expires_at, revoked_at, created_by";

// One page of a tenant's rows; `sql` takes (tenant_id, after_id, limit) parameters.
template <class T>
Result<Page<T>> tenant_page(store::Database& db, const std::string& tenant_id,
                            const PageRequest& page, const std::string& sql,
                            T (*from_row)(const store::Row&)) {
  auto after = SIRA_TRY(decode_cursor(page));
  auto tx = SIRA_TRY(db.begin(store::TxKind::kRead));
  auto rows = SIRA_TRY(tx->query(sql, {tenant_id, after.value_or(""), int64_t{page.limit + 1}}));
  std::vector<T> items;
  for (const auto& r : rows) items.push_back(from_row(r));
  return make_page(std::move(items), page.limit);
}

Status check_name(const std::string& name, const char* field) {
  if (name.empty()) return fail(ErrorCode::kInvalidArgument, std::string(field) + " is required", field);
  if (name.size() > 200)
    return fail(ErrorCode::kInvalidArgument, std::string(field) + " is longer than 200", field);
  for (unsigned char c : name)
    if (c < 0x20 || c == 0x7f)
      return fail(ErrorCode::kInvalidArgument, std::string(field) + " contains control characters",
                  field);
  return {};
}

Status check_roles(const std::vector<Role>& roles) {
  if (roles.empty()) return fail(ErrorCode::kInvalidArgument, "roles must not be empty", "roles");
  return {};
}

bool subset(const std::vector<Role>& a, const std::vector<Role>& b) {
  for (Role r : a)
    if (std::find(b.begin(), b.end(), r) == b.end()) return false;
  return true;
}

audit::EntryInput entry(const Principal& p, std::string action, std::string type, std::string id,
                        const bj::object& details) {
  return {p.actor(), std::move(action), std::move(type), std::move(id), bj::serialize(details)};
}

// Maps a unique-constraint failure to a readable conflict.
template <class T>
Result<T> name_conflict(Result<T> r, const std::string& what) {
  if (!r && r.error().code == ErrorCode::kConflict)
    return fail(ErrorCode::kConflict, what + " already exists", "name");
  return r;
}

}  // namespace

std::string roles_to_csv(const std::vector<Role>& roles) {
  std::string out;
  for (Role r : roles) {
    if (!out.empty()) out += ',';
    out += role_name(r);
  }
  return out;
}

bool Principal::has(Permission p) const {
  if (p == Permission::kTenantsManage && !system_tenant) return false;
  for (Role r : roles)
    if (role_grants(r, p)) return true;
  return false;
}

bool Principal::has_role(Role r) const {
  return std::find(roles.begin(), roles.end(), r) != roles.end();
}

Principal Principal::local_admin(const std::string& tenant_id, bool system_tenant) {
  Principal p;
  p.tenant_id = tenant_id;
  p.system_tenant = system_tenant;
  p.roles = {Role::kAdmin};
  return p;
}

AuthService::AuthService(store::Database& db, audit::AuditLog& audit, const Clock& clock)
    : db_(db), audit_(audit), clock_(clock) {}

std::vector<store::Migration> AuthService::migrations() {
  return {{"auth", 1, "tenants, users and api tokens",
           "CREATE TABLE tenants ("
           " id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, is_system INTEGER NOT NULL DEFAULT 0,"
           " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, disabled_at INTEGER);"
           "CREATE TABLE users ("
           " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants (id),"
           " name TEXT NOT NULL, email TEXT NOT NULL DEFAULT '', roles TEXT NOT NULL,"
           " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, deleted_at INTEGER);"
           "CREATE UNIQUE INDEX users_name ON users (tenant_id, name) WHERE deleted_at IS NULL;"
           "CREATE TABLE api_tokens ("
           " id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL REFERENCES tenants (id),"
           " user_id TEXT NOT NULL, name TEXT NOT NULL, token_hash BLOB NOT NULL UNIQUE,"
           " roles TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER,"
           " revoked_at INTEGER, created_by TEXT NOT NULL);"
           "CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, id);"}};
}

Result<std::vector<std::string>> AuthService::tenant_ids(store::Database& db) {
  auto tx = SIRA_TRY(db.begin(store::TxKind::kRead));
  auto rows = SIRA_TRY(tx->query("SELECT id FROM tenants ORDER BY id"));
  std::vector<std::string> out;
  for (const auto& r : rows) out.push_back(r.str(0));
  return out;
}

Result<Bootstrap> AuthService::bootstrap(const std::string& tenant_name) {
  SIRA_CHECK(check_name(tenant_name, "name"));
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto existing = SIRA_TRY(tx->query_one("SELECT id FROM tenants WHERE is_system = 1"));
  if (existing) return fail(ErrorCode::kConflict, "sira is already initialised");
  int64_t now = clock_.now_ms();
  Bootstrap b;
  b.tenant = Tenant{new_id("ten", clock_), tenant_name, true, now, now, std::nullopt};
  SIRA_CHECK(tx->exec("INSERT INTO tenants (id, name, is_system, created_at, updated_at) "
                      "VALUES (?, ?, 1, ?, ?)",
                      {b.tenant.id, b.tenant.name, now, now}));
  b.admin = User{new_id("usr", clock_), b.tenant.id, "admin", "", {Role::kAdmin}, now, now};
  SIRA_CHECK(tx->exec("INSERT INTO users (id, tenant_id, name, email, roles, created_at, "
                      "updated_at) VALUES (?, ?, ?, '', 'admin', ?, ?)",
                      {b.admin.id, b.tenant.id, b.admin.name, now, now}));
  b.admin_token.secret = "sira_" + base64url_encode(random_bytes(32));
  b.admin_token.token = Token{new_id("tok", clock_), b.tenant.id, b.admin.id, "bootstrap admin",
                              "cli", {Role::kAdmin}, now, std::nullopt, std::nullopt};
  SIRA_CHECK(tx->exec("INSERT INTO api_tokens (id, tenant_id, user_id, name, token_hash, roles, "
                      "created_at, created_by) VALUES (?, ?, ?, ?, ?, 'admin', ?, 'cli')",
                      {b.admin_token.token.id, b.tenant.id, b.admin.id, b.admin_token.token.name,
                       store::Blob{sha256_bytes(b.admin_token.secret)}, now}));
  Principal cli = Principal::local_admin(b.tenant.id, true);
  bj::object d{{"name", tenant_name}, {"system", true}};
  SIRA_CHECK(audit_.append(*tx, b.tenant.id, entry(cli, "tenant.create", "tenant", b.tenant.id, d)));
  SIRA_CHECK(audit_.append(*tx, b.tenant.id,
                           entry(cli, "user.create", "user", b.admin.id,
                                 {{"name", "admin"}, {"roles", roles_json(b.admin.roles)}})));
  SIRA_CHECK(audit_.append(*tx, b.tenant.id,
                           entry(cli, "token.create", "token", b.admin_token.token.id,
                                 {{"name", b.admin_token.token.name},
                                  {"roles", roles_json(b.admin_token.token.roles)},
                                  {"user_id", b.admin.id}})));
  SIRA_CHECK(tx->commit());
  return b;
}

Result<std::optional<Tenant>> AuthService::system_tenant() {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto row = SIRA_TRY(tx->query_one(std::string("SELECT ") + kTenantCols +
                                    " FROM tenants WHERE is_system = 1"));
  if (!row) return std::optional<Tenant>();
  return std::optional<Tenant>(tenant_from(*row));
}

Result<Principal> AuthService::authenticate(std::string_view token) const {
  if (token.size() < 10 || token.size() > 200 || token.substr(0, 5) != "sira_")
    return fail(ErrorCode::kUnauthorized, "invalid bearer token");
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto row = SIRA_TRY(tx->query_one(
      "SELECT k.id, k.tenant_id, k.user_id, k.roles, k.expires_at, k.revoked_at, t.is_system, "
      "t.disabled_at, u.roles, u.deleted_at FROM api_tokens k JOIN tenants t ON t.id = k.tenant_id "
      "LEFT JOIN users u ON u.id = k.user_id AND u.tenant_id = k.tenant_id "
      "WHERE k.token_hash = ?",
      {store::Blob{sha256_bytes(token)}}));
  if (!row) return fail(ErrorCode::kUnauthorized, "invalid bearer token");
  if (!row->is_null(5)) return fail(ErrorCode::kUnauthorized, "token has been revoked");
  if (!row->is_null(4) && row->i64(4) <= clock_.now_ms())
    return fail(ErrorCode::kUnauthorized, "token has expired");
  if (!row->is_null(7)) return fail(ErrorCode::kUnauthorized, "tenant is disabled");
  if (row->is_null(8) || !row->is_null(9))
    return fail(ErrorCode::kUnauthorized, "the token's user no longer exists");
  Principal p;
  p.token_id = row->str(0);
  p.tenant_id = row->str(1);
  p.user_id = row->str(2);
  // A token never holds more than its user holds now: demoting a user demotes its tokens.
  auto user_roles = roles_from_csv(row->str(8));
  bool user_admin = std::find(user_roles.begin(), user_roles.end(), Role::kAdmin) != user_roles.end();
  for (Role r : roles_from_csv(row->str(3)))
    if (user_admin || std::find(user_roles.begin(), user_roles.end(), r) != user_roles.end())
      p.roles.push_back(r);
  p.system_tenant = row->i64(6) != 0;
  return p;
}

Status AuthService::require(const Principal& p, Permission perm) const {
  if (!p.has(perm))
    return fail(ErrorCode::kForbidden, "this token lacks the permission " +
                                           std::string(permission_name(perm)));
  return {};
}

// ---- tenants ----

Result<Page<Tenant>> AuthService::list_tenants(const Principal& p, const PageRequest& page) {
  SIRA_CHECK(require(p, Permission::kTenantsRead));
  auto after = SIRA_TRY(decode_cursor(page));
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  std::string sql = std::string("SELECT ") + kTenantCols + " FROM tenants WHERE id > ?";
  store::Params params{after.value_or("")};
  if (!p.has(Permission::kTenantsManage)) {
    sql += " AND id = ?";
    params.push_back(p.tenant_id);
  }
  sql += " ORDER BY id LIMIT ?";
  params.push_back(int64_t{page.limit + 1});
  auto rows = SIRA_TRY(tx->query(sql, params));
  std::vector<Tenant> items;
  for (const auto& r : rows) items.push_back(tenant_from(r));
  return make_page(std::move(items), page.limit);
}

Result<Tenant> AuthService::get_tenant(const Principal& p, const std::string& id) {
  SIRA_CHECK(require(p, Permission::kTenantsRead));
  if (id != p.tenant_id && !p.has(Permission::kTenantsManage))
    return fail(ErrorCode::kNotFound, "no tenant " + id);
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto row = SIRA_TRY(
      tx->query_one(std::string("SELECT ") + kTenantCols + " FROM tenants WHERE id = ?", {id}));
  if (!row) return fail(ErrorCode::kNotFound, "no tenant " + id);
  return tenant_from(*row);
}

Result<Tenant> AuthService::find_tenant(const std::string& id_or_name) {
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto row = SIRA_TRY(tx->query_one(
      std::string("SELECT ") + kTenantCols + " FROM tenants WHERE id = ? OR name = ?",
      {id_or_name, id_or_name}));
  if (!row) return fail(ErrorCode::kNotFound, "no tenant \"" + id_or_name + "\"");
  return tenant_from(*row);
}

Result<CreatedTenant> AuthService::create_tenant(const Principal& p, const std::string& name) {
  SIRA_CHECK(require(p, Permission::kTenantsManage));
  SIRA_CHECK(check_name(name, "name"));
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  int64_t now = clock_.now_ms();
  CreatedTenant c;
  c.tenant = Tenant{new_id("ten", clock_), name, false, now, now, std::nullopt};
  SIRA_CHECK(name_conflict(
      tx->exec("INSERT INTO tenants (id, name, is_system, created_at, updated_at) "
               "VALUES (?, ?, 0, ?, ?)",
               {c.tenant.id, name, now, now}),
      "a tenant named \"" + name + "\""));
  c.admin = User{new_id("usr", clock_), c.tenant.id, "admin", "", {Role::kAdmin}, now, now};
  SIRA_CHECK(tx->exec("INSERT INTO users (id, tenant_id, name, email, roles, created_at, "
                      "updated_at) VALUES (?, ?, 'admin', '', 'admin', ?, ?)",
                      {c.admin.id, c.tenant.id, now, now}));
  c.admin_token.secret = "sira_" + base64url_encode(random_bytes(32));
  c.admin_token.token = Token{new_id("tok", clock_), c.tenant.id, c.admin.id, "bootstrap admin",
                              p.actor(), {Role::kAdmin}, now, std::nullopt, std::nullopt};
  SIRA_CHECK(tx->exec("INSERT INTO api_tokens (id, tenant_id, user_id, name, token_hash, roles, "
                      "created_at, created_by) VALUES (?, ?, ?, ?, ?, 'admin', ?, ?)",
                      {c.admin_token.token.id, c.tenant.id, c.admin.id, c.admin_token.token.name,
                       store::Blob{sha256_bytes(c.admin_token.secret)}, now, p.actor()}));
  // Recorded both in the creator's log and in the new tenant's own log.
  bj::object d{{"name", name}, {"admin_user_id", c.admin.id},
               {"admin_token_id", c.admin_token.token.id}, {"created_by_tenant", p.tenant_id}};
  SIRA_CHECK(audit_.append(*tx, p.tenant_id, entry(p, "tenant.create", "tenant", c.tenant.id, d)));
  SIRA_CHECK(audit_.append(*tx, c.tenant.id, entry(p, "tenant.create", "tenant", c.tenant.id, d)));
  SIRA_CHECK(tx->commit());
  return c;
}

Result<Tenant> AuthService::rename_tenant(const Principal& p, const std::string& id,
                                          const std::string& name) {
  bool own = id == p.tenant_id;
  if (!own && !p.has(Permission::kTenantsManage)) {
    SIRA_CHECK(require(p, Permission::kTenantsRead));
    return fail(ErrorCode::kNotFound, "no tenant " + id);
  }
  SIRA_CHECK(require(p, own ? Permission::kTenantsWrite : Permission::kTenantsManage));
  SIRA_CHECK(check_name(name, "name"));
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto row = SIRA_TRY(
      tx->query_one(std::string("SELECT ") + kTenantCols + " FROM tenants WHERE id = ?", {id}));
  if (!row) return fail(ErrorCode::kNotFound, "no tenant " + id);
  Tenant t = tenant_from(*row);
  int64_t now = clock_.now_ms();
  SIRA_CHECK(name_conflict(tx->exec("UPDATE tenants SET name = ?, updated_at = ? WHERE id = ?",
                                    {name, now, id}),
                           "a tenant named \"" + name + "\""));
  SIRA_CHECK(audit_.append(*tx, p.tenant_id,
                           entry(p, "tenant.update", "tenant", id, {{"name", name}, {"previous_name", t.name}})));
  SIRA_CHECK(tx->commit());
  t.name = name;
  t.updated_at = now;
  return t;
}

Status AuthService::disable_tenant(const Principal& p, const std::string& id) {
  if (!p.has(Permission::kTenantsManage)) {
    SIRA_CHECK(require(p, Permission::kTenantsRead));
    if (id != p.tenant_id) return fail(ErrorCode::kNotFound, "no tenant " + id);
    return fail(ErrorCode::kForbidden, "this token lacks the permission tenants:manage");
  }
  if (id == p.tenant_id) return fail(ErrorCode::kConflict, "a tenant cannot delete itself");
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto row = SIRA_TRY(tx->query_one("SELECT is_system FROM tenants WHERE id = ? AND disabled_at IS NULL", {id}));
  if (!row) return fail(ErrorCode::kNotFound, "no tenant " + id);
  if (row->i64(0)) return fail(ErrorCode::kConflict, "the system tenant cannot be deleted");
  int64_t now = clock_.now_ms();
  SIRA_CHECK(tx->exec("UPDATE tenants SET disabled_at = ?, updated_at = ? WHERE id = ?", {now, now, id}));
  SIRA_CHECK(audit_.append(*tx, p.tenant_id, entry(p, "tenant.delete", "tenant", id, {})));
  SIRA_CHECK(tx->commit());
  return {};
}

// ---- users ----

Result<Page<User>> AuthService::list_users(const Principal& p, const PageRequest& page) {
  SIRA_CHECK(require(p, Permission::kUsersRead));
  return tenant_page<User>(db_, p.tenant_id, page,
                           std::string("SELECT ") + kUserCols +
                               " FROM users WHERE tenant_id = ? AND deleted_at IS NULL AND id > ? "
                               "ORDER BY id LIMIT ?",
                           user_from);
}

Result<User> AuthService::get_user(const Principal& p, const std::string& id) {
  SIRA_CHECK(require(p, Permission::kUsersRead));
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto row = SIRA_TRY(tx->query_one(std::string("SELECT ") + kUserCols +
                                        " FROM users WHERE tenant_id = ? AND id = ? AND "
                                        "deleted_at IS NULL",
                                    {p.tenant_id, id}));
  if (!row) return fail(ErrorCode::kNotFound, "no user " + id);
  return user_from(*row);
}

Result<User> AuthService::create_user(const Principal& p, const NewUser& in) {
  SIRA_CHECK(require(p, Permission::kUsersWrite));
  SIRA_CHECK(check_name(in.name, "name"));
  SIRA_CHECK(check_roles(in.roles));
  if (in.email.size() > 320) return fail(ErrorCode::kInvalidArgument, "email is too long", "email");
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  int64_t now = clock_.now_ms();
  User u{new_id("usr", clock_), p.tenant_id, in.name, in.email, in.roles, now, now};
  SIRA_CHECK(name_conflict(
      tx->exec("INSERT INTO users (id, tenant_id, name, email, roles, created_at, updated_at) "
               "VALUES (?, ?, ?, ?, ?, ?, ?)",
               {u.id, u.tenant_id, u.name, u.email, roles_to_csv(u.roles), now, now}),
      "a user named \"" + in.name + "\""));
  SIRA_CHECK(audit_.append(*tx, p.tenant_id,
                           entry(p, "user.create", "user", u.id,
                                 {{"name", u.name}, {"email", u.email}, {"roles", roles_json(u.roles)}})));
  SIRA_CHECK(tx->commit());
  return u;
}

Result<User> AuthService::update_user(const Principal& p, const std::string& id,
                                      const UserUpdate& in) {
  SIRA_CHECK(require(p, Permission::kUsersWrite));
  if (in.name) SIRA_CHECK(check_name(*in.name, "name"));
  if (in.roles) SIRA_CHECK(check_roles(*in.roles));
  if (in.email && in.email->size() > 320)
    return fail(ErrorCode::kInvalidArgument, "email is too long", "email");
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  auto row = SIRA_TRY(tx->query_one(std::string("SELECT ") + kUserCols +
                                        " FROM users WHERE tenant_id = ? AND id = ? AND "
                                        "deleted_at IS NULL",
                                    {p.tenant_id, id}));
  if (!row) return fail(ErrorCode::kNotFound, "no user " + id);
  User u = user_from(*row);
  bj::object changes;
  if (in.name) u.name = *in.name, changes["name"] = *in.name;
  if (in.email) u.email = *in.email, changes["email"] = *in.email;
  if (in.roles) u.roles = *in.roles, changes["roles"] = roles_json(*in.roles);
  u.updated_at = clock_.now_ms();
  SIRA_CHECK(name_conflict(
      tx->exec("UPDATE users SET name = ?, email = ?, roles = ?, updated_at = ? WHERE id = ? AND "
               "tenant_id = ?",
               {u.name, u.email, roles_to_csv(u.roles), u.updated_at, id, p.tenant_id}),
      "a user named \"" + u.name + "\""));
  SIRA_CHECK(audit_.append(*tx, p.tenant_id, entry(p, "user.update", "user", id, changes)));
  SIRA_CHECK(tx->commit());
  return u;
}

Status AuthService::delete_user(const Principal& p, const std::string& id) {
  SIRA_CHECK(require(p, Permission::kUsersWrite));
  if (id == p.user_id) return fail(ErrorCode::kConflict, "a user cannot delete itself");
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  int64_t now = clock_.now_ms();
  auto n = SIRA_TRY(tx->exec("UPDATE users SET deleted_at = ?, updated_at = ? WHERE tenant_id = ? "
                             "AND id = ? AND deleted_at IS NULL",
                             {now, now, p.tenant_id, id}));
  if (n == 0) return fail(ErrorCode::kNotFound, "no user " + id);
  // A deleted user's tokens stop working with it.
  auto revoked = SIRA_TRY(tx->exec("UPDATE api_tokens SET revoked_at = ? WHERE tenant_id = ? AND "
                                   "user_id = ? AND revoked_at IS NULL",
                                   {now, p.tenant_id, id}));
  SIRA_CHECK(audit_.append(*tx, p.tenant_id,
                           entry(p, "user.delete", "user", id, {{"tokens_revoked", revoked}})));
  SIRA_CHECK(tx->commit());
  return {};
}

// ---- tokens ----

Result<Page<Token>> AuthService::list_tokens(const Principal& p, const PageRequest& page) {
  SIRA_CHECK(require(p, Permission::kTokensRead));
  return tenant_page<Token>(db_, p.tenant_id, page,
                            std::string("SELECT ") + kTokenCols +
                                " FROM api_tokens WHERE tenant_id = ? AND id > ? ORDER BY id LIMIT ?",
                            token_from);
}

Result<Token> AuthService::get_token(const Principal& p, const std::string& id) {
  SIRA_CHECK(require(p, Permission::kTokensRead));
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kRead));
  auto row = SIRA_TRY(tx->query_one(std::string("SELECT ") + kTokenCols +
                                        " FROM api_tokens WHERE tenant_id = ? AND id = ?",
                                    {p.tenant_id, id}));
  if (!row) return fail(ErrorCode::kNotFound, "no token " + id);
  return token_from(*row);
}

Result<CreatedToken> AuthService::create_token(const Principal& p, const NewToken& in) {
  SIRA_CHECK(require(p, Permission::kTokensWrite));
  SIRA_CHECK(check_name(in.name, "name"));
  SIRA_CHECK(check_roles(in.roles));
  int64_t now = clock_.now_ms();
  if (in.expires_at && *in.expires_at <= now)
    return fail(ErrorCode::kInvalidArgument, "expiry must be in the future", "expires_at");
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  std::string user_id = in.user_id.value_or(p.user_id);
  std::optional<store::Row> user;
  if (user_id.empty()) {
    // The CLI acts for the tenant's first admin user.
    SIRA_CHECK(tx->each("SELECT id, roles FROM users WHERE tenant_id = ? AND deleted_at IS NULL "
                        "ORDER BY id",
                        {p.tenant_id}, [&](const store::Row& r) {
                          auto roles = roles_from_csv(r.str(1));
                          if (std::find(roles.begin(), roles.end(), Role::kAdmin) == roles.end())
                            return true;
                          user = r;
                          return false;
                        }));
  } else {
    user = SIRA_TRY(tx->query_one("SELECT id, roles FROM users WHERE tenant_id = ? AND id = ? AND "
                                  "deleted_at IS NULL",
                                  {p.tenant_id, user_id}));
  }
  if (!user) return fail(ErrorCode::kInvalidArgument, "no user " + user_id + " in this tenant", "user_id");
  auto user_roles = roles_from_csv(user->str(1));
  bool user_is_admin = std::find(user_roles.begin(), user_roles.end(), Role::kAdmin) != user_roles.end();
  if (!user_is_admin && !subset(in.roles, user_roles))
    return fail(ErrorCode::kInvalidArgument, "a token cannot hold roles its user does not have",
                "roles");
  CreatedToken c;
  c.secret = "sira_" + base64url_encode(random_bytes(32));
  c.token = Token{new_id("tok", clock_), p.tenant_id, user->str(0), in.name, p.actor(), in.roles,
                  now, in.expires_at, std::nullopt};
  SIRA_CHECK(tx->exec("INSERT INTO api_tokens (id, tenant_id, user_id, name, token_hash, roles, "
                      "created_at, expires_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                      {c.token.id, p.tenant_id, c.token.user_id, in.name,
                       store::Blob{sha256_bytes(c.secret)}, roles_to_csv(in.roles), now,
                       in.expires_at ? store::Value(*in.expires_at) : store::Value(nullptr),
                       p.actor()}));
  bj::object d{{"name", in.name}, {"roles", roles_json(in.roles)}, {"user_id", c.token.user_id}};
  if (in.expires_at) d["expires_at"] = *in.expires_at;
  SIRA_CHECK(audit_.append(*tx, p.tenant_id, entry(p, "token.create", "token", c.token.id, d)));
  SIRA_CHECK(tx->commit());
  return c;
}

Status AuthService::revoke_token(const Principal& p, const std::string& id) {
  SIRA_CHECK(require(p, Permission::kTokensWrite));
  auto tx = SIRA_TRY(db_.begin(store::TxKind::kWrite));
  int64_t now = clock_.now_ms();
  auto n = SIRA_TRY(tx->exec("UPDATE api_tokens SET revoked_at = ? WHERE tenant_id = ? AND id = ? "
                             "AND revoked_at IS NULL",
                             {now, p.tenant_id, id}));
  if (n == 0) {
    auto exists = SIRA_TRY(tx->query_one("SELECT 1 FROM api_tokens WHERE tenant_id = ? AND id = ?",
                                         {p.tenant_id, id}));
    if (!exists) return fail(ErrorCode::kNotFound, "no token " + id);
    return fail(ErrorCode::kConflict, "token " + id + " is already revoked");
  }
  SIRA_CHECK(audit_.append(*tx, p.tenant_id, entry(p, "token.revoke", "token", id, {})));
  SIRA_CHECK(tx->commit());
  return {};
}

}  // namespace sira::auth
