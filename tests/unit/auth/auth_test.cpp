// Unit tests of src/auth: bootstrap, authentication, role checks, tenant scoping, audit entries.
#include "auth/service.h"

#include <gtest/gtest.h>

#include "../test_util.h"
#include "store/sqlite.h"

namespace sira::auth {
namespace {

using testing_util::TempDir;

class AuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store::SqliteOptions o;
    o.path = dir_.file("auth.db");
    db_ = std::move(*store::open_sqlite(o));
    auto migrations = audit::AuditLog::migrations();
    for (auto& m : AuthService::migrations()) migrations.push_back(m);
    ASSERT_TRUE(store::migrate(*db_, migrations, 0).has_value());
    signer_ = std::make_unique<audit::Signer>(
        std::move(*audit::Signer::load_or_create(dir_.file("key.pem"))));
    audit_ = std::make_unique<audit::AuditLog>(*db_, *signer_, clock_, metrics_);
    ASSERT_TRUE(audit_->open().has_value());
    auth_ = std::make_unique<AuthService>(*db_, *audit_, clock_);
    auto b = auth_->bootstrap("admin");
    ASSERT_TRUE(b.has_value());
    root_ = *auth_->authenticate(b->admin_token.secret);
  }

  int64_t audit_size(const std::string& tenant) {
    auto h = audit_->latest_head(tenant);
    return h ? h->tree_size : 0;
  }

  TempDir dir_;
  ManualClock clock_{TimePoint(std::chrono::milliseconds(1760000000000))};
  MetricsRegistry metrics_;
  std::unique_ptr<store::Database> db_;
  std::unique_ptr<audit::Signer> signer_;
  std::unique_ptr<audit::AuditLog> audit_;
  std::unique_ptr<AuthService> auth_;
  Principal root_;
};

TEST_F(AuthTest, BootstrapOnceAndAuthenticate) {
  EXPECT_TRUE(root_.system_tenant);
  EXPECT_TRUE(root_.has(Permission::kTenantsManage));
  EXPECT_EQ(auth_->bootstrap("again").error().code, ErrorCode::kConflict);
  EXPECT_EQ(auth_->authenticate("sira_nope").error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(auth_->authenticate("Basic abc").error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(audit_size(root_.tenant_id), 3);  // tenant, user and token creation
}

TEST_F(AuthTest, TokensExpireAndRevoke) {
  NewToken nt{"short", {Role::kAuditor}, std::nullopt, clock_.now_ms() + 1000};
  auto c = auth_->create_token(root_, nt);
  ASSERT_TRUE(c.has_value());
  auto p = auth_->authenticate(c->secret);
  ASSERT_TRUE(p.has_value());
  EXPECT_TRUE(p->has(Permission::kAuditRead));
  EXPECT_FALSE(p->has(Permission::kUsersWrite));
  EXPECT_EQ(auth_->require(*p, Permission::kUsersWrite).error().code, ErrorCode::kForbidden);
  clock_.advance(std::chrono::seconds(2));
  EXPECT_EQ(auth_->authenticate(c->secret).error().code, ErrorCode::kUnauthorized);

  auto d = auth_->create_token(root_, {"long", {Role::kOps}, std::nullopt, std::nullopt});
  ASSERT_TRUE(auth_->revoke_token(root_, d->token.id).has_value());
  EXPECT_EQ(auth_->authenticate(d->secret).error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(auth_->revoke_token(root_, d->token.id).error().code, ErrorCode::kConflict);
}

TEST_F(AuthTest, TokenRolesAreBoundedByTheUser) {
  auto ops = auth_->create_user(root_, {"olivia", "o@example.com", {Role::kOps}});
  ASSERT_TRUE(ops.has_value());
  auto bad = auth_->create_token(root_, {"t", {Role::kAdmin}, ops->id, std::nullopt});
  ASSERT_FALSE(bad.has_value());
  EXPECT_EQ(bad.error().field, "roles");
  EXPECT_TRUE(auth_->create_token(root_, {"t", {Role::kOps}, ops->id, std::nullopt}).has_value());
}

TEST_F(AuthTest, TenantsAreIsolated) {
  auto a = auth_->create_tenant(root_, "tenant-a");
  auto b = auth_->create_tenant(root_, "tenant-b");
  ASSERT_TRUE(a.has_value() && b.has_value());
  Principal pa = *auth_->authenticate(a->admin_token.secret);
  Principal pb = *auth_->authenticate(b->admin_token.secret);
  EXPECT_FALSE(pa.has(Permission::kTenantsManage));
  auto bob = auth_->create_user(pb, {"bob", "", {Role::kOps}});
  ASSERT_TRUE(bob.has_value());
  int64_t b_size = audit_size(pb.tenant_id);

  auto tenants = auth_->list_tenants(pa, {});
  ASSERT_EQ(tenants->items.size(), 1u);
  EXPECT_EQ(tenants->items[0].id, pa.tenant_id);
  auto users = auth_->list_users(pa, {});
  for (const auto& u : users->items) EXPECT_EQ(u.tenant_id, pa.tenant_id);
  auto tokens = auth_->list_tokens(pa, {});
  for (const auto& t : tokens->items) EXPECT_EQ(t.tenant_id, pa.tenant_id);
  EXPECT_EQ(auth_->get_user(pa, bob->id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(auth_->update_user(pa, bob->id, {std::string("mallory"), {}, {}}).error().code,
            ErrorCode::kNotFound);
  EXPECT_EQ(auth_->delete_user(pa, bob->id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(auth_->get_token(pa, b->admin_token.token.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(auth_->revoke_token(pa, b->admin_token.token.id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(auth_->get_tenant(pa, pb.tenant_id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(auth_->rename_tenant(pa, pb.tenant_id, "x").error().code, ErrorCode::kNotFound);
  EXPECT_EQ(auth_->disable_tenant(pa, pb.tenant_id).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(auth_->create_tenant(pa, "c").error().code, ErrorCode::kForbidden);
  // A token of another tenant cannot be used as a user in this one.
  EXPECT_FALSE(auth_->create_token(pa, {"t", {Role::kOps}, bob->id, std::nullopt}).has_value());

  EXPECT_EQ(auth_->get_user(pb, bob->id)->name, "bob");
  EXPECT_TRUE(auth_->authenticate(b->admin_token.secret).has_value());
  EXPECT_EQ(audit_size(pb.tenant_id), b_size);
}

TEST_F(AuthTest, DisabledTenantTokensStopWorking) {
  auto a = auth_->create_tenant(root_, "tenant-a");
  ASSERT_TRUE(auth_->disable_tenant(root_, a->tenant.id).has_value());
  EXPECT_EQ(auth_->authenticate(a->admin_token.secret).error().code, ErrorCode::kUnauthorized);
  EXPECT_EQ(auth_->disable_tenant(root_, root_.tenant_id).error().code, ErrorCode::kConflict);
}

TEST_F(AuthTest, FailedMutationsWriteNoAuditEntry) {
  ASSERT_TRUE(auth_->create_user(root_, {"carol", "", {Role::kOps}}).has_value());
  int64_t before = audit_size(root_.tenant_id);
  auto dup = auth_->create_user(root_, {"carol", "", {Role::kOps}});
  ASSERT_FALSE(dup.has_value());
  EXPECT_EQ(dup.error().code, ErrorCode::kConflict);
  EXPECT_EQ(audit_size(root_.tenant_id), before);
  EXPECT_EQ(audit_->entries(root_.tenant_id, {})->size(), static_cast<size_t>(before));
}

TEST_F(AuthTest, PaginationVisitsEveryUserOnce) {
  for (int i = 0; i < 7; ++i)
    ASSERT_TRUE(auth_->create_user(root_, {"u" + std::to_string(i), "", {Role::kOps}}).has_value());
  std::set<std::string> seen;
  PageRequest pr;
  pr.limit = 3;
  for (int pages = 0; pages < 10; ++pages) {
    auto page = auth_->list_users(root_, pr);
    ASSERT_TRUE(page.has_value());
    for (const auto& u : page->items) EXPECT_TRUE(seen.insert(u.id).second);
    if (!page->next_cursor) break;
    pr.cursor = page->next_cursor;
  }
  EXPECT_EQ(seen.size(), 8u);  // 7 + the bootstrap admin
  pr.cursor = "!!!";
  EXPECT_EQ(auth_->list_users(root_, pr).error().code, ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace sira::auth
