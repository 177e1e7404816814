// Tiny arithmetic expressions for configurable durations, in the spirit of CrowdSec's
// duration_expr: numbers, named variables, + - * / ^, parentheses, min(a, b), max(a, b).
// Example: "base * 2 ^ offences" or "min(base * (offences + 1), 86400)". Thread-safe after parse.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sira::guard {

class Expression {
 public:
  // Parses `text`; every variable used must be in `allowed` (kInvalidArgument otherwise).
  static Result<Expression> parse(std::string_view text,
                                  std::initializer_list<std::string_view> allowed);
  double eval(const std::map<std::string, double>& vars) const;
  const std::string& text() const { return text_; }

  struct Node;

 private:
  std::string text_;
  std::shared_ptr<const Node> root_;
};

}  // namespace sira::guard
