// Unit tests of src/guard/expr: precedence and associativity, variables, min/max, the guarded
// evaluation (division by zero, non-finite results) and parse errors.
#include "guard/expr.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace sira::guard {
namespace {

double eval(std::string_view text, const std::map<std::string, double>& vars = {}) {
  auto e = Expression::parse(text, {"base", "offences", "x"});
  EXPECT_TRUE(e.has_value()) << text << ": " << (e ? "" : e.error().detail);
  return e ? e->eval(vars) : std::nan("");
}

void expect_invalid(std::string_view text) {
  auto e = Expression::parse(text, {"base", "offences"});
  ASSERT_FALSE(e.has_value()) << "'" << text << "' parsed";
  EXPECT_EQ(e.error().code, ErrorCode::kInvalidArgument) << text;
  EXPECT_FALSE(e.error().detail.empty());
}

TEST(GuardExpr, Precedence) {
  EXPECT_DOUBLE_EQ(eval("2+3*4"), 14);
  EXPECT_DOUBLE_EQ(eval("2*3+4"), 10);
  EXPECT_DOUBLE_EQ(eval("(2+3)*4"), 20);
  EXPECT_DOUBLE_EQ(eval("10-4-3"), 3);    // left-associative
  EXPECT_DOUBLE_EQ(eval("100/10/5"), 2);  // left-associative
  EXPECT_DOUBLE_EQ(eval("2*3^2"), 18);
  EXPECT_DOUBLE_EQ(eval("2^3*2"), 16);
  EXPECT_DOUBLE_EQ(eval(" 1 +\t2 * ( 3 + 4 ) "), 15);
  EXPECT_DOUBLE_EQ(eval("1.5*4"), 6);
  EXPECT_DOUBLE_EQ(eval(".5+.25"), 0.75);
  EXPECT_DOUBLE_EQ(eval("42"), 42);
}

TEST(GuardExpr, PowerIsRightAssociative) {
  EXPECT_DOUBLE_EQ(eval("2^3^2"), 512);
  EXPECT_DOUBLE_EQ(eval("(2^3)^2"), 64);
  EXPECT_DOUBLE_EQ(eval("2^0"), 1);
  EXPECT_DOUBLE_EQ(eval("4^0.5"), 2);
}

TEST(GuardExpr, UnaryMinus) {
  EXPECT_DOUBLE_EQ(eval("-3"), -3);
  EXPECT_DOUBLE_EQ(eval("-3+5"), 2);
  EXPECT_DOUBLE_EQ(eval("5--3"), 8);
  EXPECT_DOUBLE_EQ(eval("2*-3"), -6);
  EXPECT_DOUBLE_EQ(eval("-(2+3)"), -5);
  EXPECT_DOUBLE_EQ(eval("--4"), 4);
  EXPECT_DOUBLE_EQ(eval("2^-1"), 0.5);
}

TEST(GuardExpr, Variables) {
  EXPECT_DOUBLE_EQ(eval("base * 2 ^ offences", {{"base", 3600}, {"offences", 0}}), 3600);
  EXPECT_DOUBLE_EQ(eval("base * 2 ^ offences", {{"base", 3600}, {"offences", 1}}), 7200);
  EXPECT_DOUBLE_EQ(eval("base * 2 ^ offences", {{"base", 3600}, {"offences", 3}}), 28800);
  EXPECT_DOUBLE_EQ(eval("base*(offences+1)", {{"base", 60}, {"offences", 4}}), 300);
  EXPECT_DOUBLE_EQ(eval("x * x - x", {{"x", 4}}), 12);
}

TEST(GuardExpr, MissingVariableValueIsZero) {
  auto e = Expression::parse("base + offences", {"base", "offences"});
  ASSERT_TRUE(e.has_value());
  EXPECT_DOUBLE_EQ(e->eval({{"base", 10}}), 10);
  EXPECT_EQ(e->text(), "base + offences");
}

TEST(GuardExpr, MinAndMax) {
  EXPECT_DOUBLE_EQ(eval("min(3, 7)"), 3);
  EXPECT_DOUBLE_EQ(eval("max(3, 7)"), 7);
  EXPECT_DOUBLE_EQ(eval("min(base * (offences + 1), 86400)", {{"base", 3600}, {"offences", 2}}),
                   10800);
  EXPECT_DOUBLE_EQ(eval("min(base * (offences + 1), 86400)", {{"base", 3600}, {"offences", 99}}),
                   86400);
  EXPECT_DOUBLE_EQ(eval("max(min(1,2), min(3,4))"), 3);
  EXPECT_DOUBLE_EQ(eval("2*max(1+1, 3)^2"), 18);
}

TEST(GuardExpr, DivisionByZeroAndNonFiniteGiveZero) {
  EXPECT_DOUBLE_EQ(eval("1/0"), 0);
  EXPECT_DOUBLE_EQ(eval("base/offences", {{"base", 5}, {"offences", 0}}), 0);
  EXPECT_DOUBLE_EQ(eval("1 + 1/0"), 1);
  EXPECT_DOUBLE_EQ(eval("10^400"), 0);    // overflow to infinity
  EXPECT_DOUBLE_EQ(eval("(-8)^0.5"), 0);  // NaN
}

TEST(GuardExpr, UnknownVariables) {
  expect_invalid("base * factor");
  expect_invalid("Base");
  expect_invalid("offence");
  expect_invalid("foo(1)");
  auto none = Expression::parse("base", {});
  EXPECT_FALSE(none.has_value());
}

TEST(GuardExpr, UnbalancedParentheses) {
  expect_invalid("(1+2");
  expect_invalid("1+2)");
  expect_invalid("((1)");
  expect_invalid("min(1, 2");
  expect_invalid("min 1, 2)");
  expect_invalid("max(1)");
  expect_invalid(")(");
}

TEST(GuardExpr, TrailingGarbageAndEmpty) {
  expect_invalid("1 2");
  expect_invalid("base offences");
  expect_invalid("1+");
  expect_invalid("*2");
  expect_invalid("2 ** 3");
  expect_invalid("3 % 2");
  expect_invalid("1;");
  expect_invalid("");
  expect_invalid("   ");
  expect_invalid(".");
}

// A number with two decimal points is malformed, not "the digits up to the second point".
TEST(GuardExpr, MalformedNumbers) {
  expect_invalid("1.2.3");
  expect_invalid("1..2");
}

TEST(GuardExpr, OverLongInput) {
  std::string ok = "1";
  while (ok.size() + 2 <= 512) ok += "+1";
  ASSERT_LE(ok.size(), 512u);
  EXPECT_DOUBLE_EQ(eval(ok), static_cast<double>((ok.size() + 1) / 2));
  std::string too_long(513, ' ');
  too_long[0] = '1';
  expect_invalid(too_long);
  expect_invalid(std::string(10000, '1'));
}

TEST(GuardExpr, DeepNesting) {
  auto nested = [](int depth) {
    return std::string(static_cast<size_t>(depth), '(') + "1" +
           std::string(static_cast<size_t>(depth), ')');
  };
  EXPECT_DOUBLE_EQ(eval(nested(10)), 1);
  EXPECT_DOUBLE_EQ(eval(nested(60)), 1);
  expect_invalid(nested(100));
  expect_invalid(nested(250));
  // Unary minus and right-associative powers recurse too; the length cap bounds them.
  std::string minus(500, '-');
  EXPECT_DOUBLE_EQ(eval(minus + "1"), 1);
  std::string powers = "1";
  while (powers.size() + 2 <= 512) powers += "^1";
  EXPECT_DOUBLE_EQ(eval(powers), 1);
}

TEST(GuardExpr, CopiesShareTheParsedTree) {
  auto e = Expression::parse("base * 2", {"base"});
  ASSERT_TRUE(e.has_value());
  Expression copy = *e;
  EXPECT_DOUBLE_EQ(copy.eval({{"base", 21}}), 42);
  EXPECT_DOUBLE_EQ(e->eval({{"base", 21}}), 42);
  Expression empty;
  EXPECT_DOUBLE_EQ(empty.eval({}), 0);
}

}  // namespace
}  // namespace sira::guard
