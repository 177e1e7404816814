// Recursive-descent parser and evaluator for duration expressions.
#include "guard/expr.h"

#include <cctype>
#include <cmath>
#include <vector>

namespace sira::guard {

struct Expression::Node {
  char op = 0;  // 'n' number, 'v' variable, '+', '-', '*', '/', '^', 'm' min, 'M' max, 'u' neg
  double number = 0;
  std::string name;
  std::shared_ptr<const Node> a, b;
};

namespace {

using NodeP = std::shared_ptr<const Expression::Node>;

class Parser {
 public:
  Parser(std::string_view s, std::initializer_list<std::string_view> allowed)
      : s_(s), allowed_(allowed) {}

  Result<NodeP> parse() {
    auto n = SIRA_TRY(sum());
    skip();
    if (pos_ != s_.size()) return error("unexpected '" + std::string(1, s_[pos_]) + "'");
    return n;
  }

 private:
  std::unexpected<Error> error(const std::string& what) {
    return fail(ErrorCode::kInvalidArgument,
                "expression \"" + std::string(s_) + "\": " + what + " at offset " +
                    std::to_string(pos_));
  }
  void skip() {
    while (pos_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[pos_]))) ++pos_;
  }
  bool eat(char c) {
    skip();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  static NodeP make(char op, NodeP a, NodeP b = nullptr) {
    auto n = std::make_shared<Expression::Node>();
    n->op = op;
    n->a = std::move(a);
    n->b = std::move(b);
    return n;
  }
  Result<NodeP> sum() {
    auto left = SIRA_TRY(product());
    for (;;) {
      if (eat('+')) left = make('+', left, SIRA_TRY(product()));
      else if (eat('-')) left = make('-', left, SIRA_TRY(product()));
      else return left;
    }
  }
  Result<NodeP> product() {
    auto left = SIRA_TRY(unary());
    for (;;) {
      if (eat('*')) left = make('*', left, SIRA_TRY(unary()));
      else if (eat('/')) left = make('/', left, SIRA_TRY(unary()));
      else return left;
    }
  }
  // Unary minus binds looser than ^, as in mathematics: -2^2 = -4.
  Result<NodeP> unary() {
    if (eat('-')) return make('u', SIRA_TRY(unary()));
    return power();
  }
  Result<NodeP> power() {
    auto base = SIRA_TRY(primary());
    if (eat('^')) return make('^', base, SIRA_TRY(unary()));  // right-associative
    return base;
  }
  Result<NodeP> primary() {
    if (++depth_ > 64) return error("nested too deeply");
    skip();
    if (eat('(')) {
      auto n = SIRA_TRY(sum());
      if (!eat(')')) return error("missing ')'");
      --depth_;
      return n;
    }
    if (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.')) {
      size_t start = pos_;
      while (pos_ < s_.size() && (std::isdigit(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '.'))
        ++pos_;
      auto n = std::make_shared<Expression::Node>();
      n->op = 'n';
      std::string text(s_.substr(start, pos_ - start));
      size_t used = 0;
      try {
        n->number = std::stod(text, &used);
      } catch (...) {
        used = 0;
      }
      if (used != text.size()) return error("bad number \"" + text + "\"");
      --depth_;
      return NodeP(n);
    }
    if (pos_ < s_.size() && (std::isalpha(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_')) {
      size_t start = pos_;
      while (pos_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[pos_])) || s_[pos_] == '_'))
        ++pos_;
      std::string name(s_.substr(start, pos_ - start));
      if (name == "min" || name == "max") {
        if (!eat('(')) return error("expected '(' after " + name);
        auto a = SIRA_TRY(sum());
        if (!eat(',')) return error("expected ','");
        auto b = SIRA_TRY(sum());
        if (!eat(')')) return error("missing ')'");
        --depth_;
        return make(name == "min" ? 'm' : 'M', a, b);
      }
      bool ok = false;
      for (auto a : allowed_) ok |= (a == name);
      if (!ok) return error("unknown variable \"" + name + "\"");
      auto n = std::make_shared<Expression::Node>();
      n->op = 'v';
      n->name = name;
      --depth_;
      return NodeP(n);
    }
    return error("expected a number, a variable or '('");
  }

  std::string_view s_;
  std::vector<std::string_view> allowed_;
  size_t pos_ = 0;
  int depth_ = 0;
};

double eval_node(const Expression::Node& n, const std::map<std::string, double>& vars) {
  switch (n.op) {
    case 'n': return n.number;
    case 'v': {
      auto it = vars.find(n.name);
      return it == vars.end() ? 0 : it->second;
    }
    case 'u': return -eval_node(*n.a, vars);
    case '+': return eval_node(*n.a, vars) + eval_node(*n.b, vars);
    case '-': return eval_node(*n.a, vars) - eval_node(*n.b, vars);
    case '*': return eval_node(*n.a, vars) * eval_node(*n.b, vars);
    case '/': {
      double d = eval_node(*n.b, vars);
      return d == 0 ? 0 : eval_node(*n.a, vars) / d;
    }
    case '^': return std::pow(eval_node(*n.a, vars), eval_node(*n.b, vars));
    case 'm': return std::min(eval_node(*n.a, vars), eval_node(*n.b, vars));
    case 'M': return std::max(eval_node(*n.a, vars), eval_node(*n.b, vars));
  }
  return 0;
}

}  // namespace

Result<Expression> Expression::parse(std::string_view text,
                                     std::initializer_list<std::string_view> allowed) {
  if (text.size() > 512) return fail(ErrorCode::kInvalidArgument, "expression is too long");
  Parser p(text, allowed);
  Expression e;
  e.text_ = std::string(text);
  e.root_ = SIRA_TRY(p.parse());
  return e;
}

double Expression::eval(const std::map<std::string, double>& vars) const {
  double v = root_ ? eval_node(*root_, vars) : 0;
  return std::isfinite(v) ? v : 0;
}

}  // namespace sira::guard
