// Row accessors and transaction hook plumbing shared by every backend.
#include "store/database.h"

namespace sira::store {

int64_t Row::i64(size_t i) const {
  const Value& v = values_.at(i);
  if (auto p = std::get_if<int64_t>(&v)) return *p;
  if (auto p = std::get_if<double>(&v)) return static_cast<int64_t>(*p);
  if (auto p = std::get_if<std::string>(&v)) return std::strtoll(p->c_str(), nullptr, 10);
  return 0;
}

double Row::f64(size_t i) const {
  const Value& v = values_.at(i);
  if (auto p = std::get_if<double>(&v)) return *p;
  if (auto p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  return 0;
}

const std::string& Row::str(size_t i) const {
  static const std::string kEmpty;
  const Value& v = values_.at(i);
  if (auto p = std::get_if<std::string>(&v)) return *p;
  if (auto p = std::get_if<Blob>(&v)) return p->bytes;
  return kEmpty;
}

std::optional<std::string> Row::opt_str(size_t i) const {
  if (is_null(i)) return std::nullopt;
  return str(i);
}

std::optional<int64_t> Row::opt_i64(size_t i) const {
  if (is_null(i)) return std::nullopt;
  return i64(i);
}

Result<std::optional<Row>> Transaction::query_one(std::string_view sql, const Params& params) {
  std::optional<Row> out;
  SIRA_CHECK(each(sql, params, [&](const Row& r) {
    out = r;
    return false;
  }));
  return out;
}

Status Transaction::run_before_commit() {
  // Hooks may register further hooks (e.g. an audit append inside a hook); index, don't iterate.
  for (size_t i = 0; i < before_commit_.size(); ++i) SIRA_CHECK(before_commit_[i]());
  return {};
}

void Transaction::run_after_commit() {
  auto hooks = std::move(after_commit_);
  after_commit_.clear();
  on_rollback_.clear();
  for (auto& h : hooks) h();
}

void Transaction::run_rollback() {
  auto hooks = std::move(on_rollback_);
  on_rollback_.clear();
  after_commit_.clear();
  // Undo in reverse order of registration.
  for (auto it = hooks.rbegin(); it != hooks.rend(); ++it) (*it)();
}

}  // namespace sira::store
