// Go text/template subset for notification templates: lexer, parser, evaluator, Alertmanager's
// functions and data model, and sira's versions of Alertmanager's default templates.
#include "alerts/template.h"

#include <re2/re2.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <optional>
#include <set>

#include "core/assert.h"

namespace sira::alerts {

// --- syntax tree (named namespace: TemplateTree below holds these types) -------------------

namespace tmpl_internal {

struct Source {
  std::string name, text;
};

struct Pipe;

// One operand of a command.
struct Arg {
  enum class K { kDot, kField, kVar, kIdent, kString, kInt, kFloat, kBool, kNil, kPipe };
  K k = K::kDot;
  std::string name;                // kIdent, kVar ("$x"), kString value
  std::vector<std::string> chain;  // field names applied after the term
  int64_t i = 0;
  double f = 0;
  bool b = false;
  std::shared_ptr<Pipe> pipe;
  size_t pos = 0;
};

struct Cmd {
  std::vector<Arg> args;
  size_t pos = 0;
};

struct Pipe {
  std::vector<std::string> decl;  // $x := / $i, $v :=
  bool assign = false;            // $x = (existing variable)
  std::vector<Cmd> cmds;
  size_t pos = 0;
};

struct Node {
  enum class K { kText, kAction, kIf, kRange, kWith, kTemplate, kBreak, kContinue };
  K k = K::kText;
  std::string text;  // kText: the text; kTemplate: the name
  std::shared_ptr<Pipe> pipe;
  std::vector<Node> list, else_list;
  size_t pos = 0;
};

}  // namespace tmpl_internal

struct TemplateTree {
  std::shared_ptr<const tmpl_internal::Source> src;
  std::vector<tmpl_internal::Node> body;
};

namespace {

using namespace tmpl_internal;
using Defs = std::map<std::string, std::shared_ptr<const TemplateTree>, std::less<>>;
using V = TmplValue;
using VK = TmplValue::Kind;

std::string where(const Source& s, size_t pos) {
  pos = std::min(pos, s.text.size());
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < pos; ++i) {
    if (s.text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return s.name + ":" + std::to_string(line) + ":" + std::to_string(pos - line_start + 1);
}

std::unexpected<Error> err_at(const Source& s, size_t pos, const std::string& msg) {
  return fail(ErrorCode::kInvalidArgument, "template: " + where(s, pos) + ": " + msg);
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_alnum(char c) {
  return is_alpha(c) || is_digit(c);
}

// --- lexer ----------------------------------------------------------------------------------

enum class Tok {
  kText,
  kOpen,
  kClose,
  kIdent,
  kField,
  kVar,
  kString,
  kNumber,
  kChar,
  kBool,
  kNil,
  kLParen,
  kRParen,
  kPipe,
  kDeclare,
  kAssign,
  kComma,
  kDot,
  kEOF
};

struct Token {
  Tok t = Tok::kEOF;
  std::string text;
  size_t pos = 0;
  bool adjacent = false;  // no space since the previous token
};

void append_utf8(std::string* out, uint32_t r) {
  if (r < 0x80) {
    out->push_back(static_cast<char>(r));
  } else if (r < 0x800) {
    out->push_back(static_cast<char>(0xc0 | (r >> 6)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3f)));
  } else if (r < 0x10000) {
    out->push_back(static_cast<char>(0xe0 | (r >> 12)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3f)));
  } else {
    out->push_back(static_cast<char>(0xf0 | (r >> 18)));
    out->push_back(static_cast<char>(0x80 | ((r >> 12) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | ((r >> 6) & 0x3f)));
    out->push_back(static_cast<char>(0x80 | (r & 0x3f)));
  }
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Go's interpreted string / rune literal escapes, from just after the backslash.
bool unescape(std::string_view t, size_t* i, std::string* out) {
  if (*i >= t.size()) return false;
  const char c = t[(*i)++];
  switch (c) {
    case 'n':
      out->push_back('\n');
      return true;
    case 't':
      out->push_back('\t');
      return true;
    case 'r':
      out->push_back('\r');
      return true;
    case 'a':
      out->push_back('\a');
      return true;
    case 'b':
      out->push_back('\b');
      return true;
    case 'f':
      out->push_back('\f');
      return true;
    case 'v':
      out->push_back('\v');
      return true;
    case '\\':
      out->push_back('\\');
      return true;
    case '"':
      out->push_back('"');
      return true;
    case '\'':
      out->push_back('\'');
      return true;
    case 'x':
    case 'u':
    case 'U': {
      const size_t n = c == 'x' ? 2 : c == 'u' ? 4 : 8;
      if (*i + n > t.size()) return false;
      uint32_t r = 0;
      for (size_t k = 0; k < n; ++k) {
        int h = hex_value(t[*i + k]);
        if (h < 0) return false;
        r = r * 16 + static_cast<uint32_t>(h);
      }
      *i += n;
      if (c == 'x')
        out->push_back(static_cast<char>(r));
      else if (r > 0x10ffff || (r >= 0xd800 && r < 0xe000))
        return false;
      else
        append_utf8(out, r);
      return true;
    }
    default:
      if (c >= '0' && c <= '7') {  // \NNN octal
        if (*i + 2 > t.size()) return false;
        int v = c - '0';
        for (int k = 0; k < 2; ++k) {
          char d = t[(*i)++];
          if (d < '0' || d > '7') return false;
          v = v * 8 + (d - '0');
        }
        if (v > 255) return false;
        out->push_back(static_cast<char>(v));
        return true;
      }
      return false;
  }
}

Result<std::vector<Token>> lex(const Source& src) {
  const std::string& t = src.text;
  const size_t n = t.size();
  std::vector<Token> out;
  size_t pos = 0;
  bool trim_next = false;
  while (pos <= n) {
    const size_t open = t.find("{{", pos);
    const size_t end = open == std::string::npos ? n : open;
    const bool left_trim =
        open != std::string::npos && open + 3 < n && t[open + 2] == '-' && is_space(t[open + 3]);
    size_t a = pos, b = end;
    if (trim_next)
      while (a < b && is_space(t[a])) ++a;
    if (left_trim)
      while (b > a && is_space(t[b - 1])) --b;
    if (b > a) out.push_back({Tok::kText, t.substr(a, b - a), a, false});
    trim_next = false;
    if (open == std::string::npos) break;
    size_t p = open + 2 + (left_trim ? 2 : 0);
    // A comment fills the whole action: {{/* ... */}} or {{- /* ... */ -}}.
    if (t.compare(p, 2, "/*") == 0) {
      const size_t close = t.find("*/", p + 2);
      if (close == std::string::npos) return err_at(src, p, "unclosed comment");
      size_t q = close + 2;
      if (t.compare(q, 2, "}}") == 0) {
        pos = q + 2;
      } else if (q < n && is_space(t[q]) && t.compare(q + 1, 3, "-}}") == 0) {
        pos = q + 4;
        trim_next = true;
      } else {
        return err_at(src, q, "comment ends before closing delimiter");
      }
      continue;
    }
    out.push_back({Tok::kOpen, "{{", open, false});
    bool spaced = true;
    for (;;) {
      if (p >= n) return err_at(src, open, "unclosed action");
      const char c = t[p];
      if (t.compare(p, 2, "}}") == 0) {
        out.push_back({Tok::kClose, "}}", p, !spaced});
        p += 2;
        break;
      }
      if (is_space(c)) {
        if (t.compare(p + 1, 3, "-}}") == 0) {
          out.push_back({Tok::kClose, "}}", p, false});
          p += 4;
          trim_next = true;
          break;
        }
        ++p;
        spaced = true;
        continue;
      }
      Token tok;
      tok.pos = p;
      tok.adjacent = !spaced;
      spaced = false;
      const char next = p + 1 < n ? t[p + 1] : '\0';
      if (c == '(' || c == ')' || c == '|' || c == ',') {
        tok.t = c == '('   ? Tok::kLParen
                : c == ')' ? Tok::kRParen
                : c == '|' ? Tok::kPipe
                           : Tok::kComma;
        tok.text = std::string(1, c);
        ++p;
      } else if (c == ':' && next == '=') {
        tok.t = Tok::kDeclare;
        tok.text = ":=";
        p += 2;
      } else if (c == '=') {
        tok.t = Tok::kAssign;
        tok.text = "=";
        ++p;
      } else if (c == '"') {
        tok.t = Tok::kString;
        size_t i = p + 1;
        for (;;) {
          if (i >= n || t[i] == '\n') return err_at(src, p, "unterminated quoted string");
          if (t[i] == '"') break;
          if (t[i] == '\\') {
            ++i;
            if (!unescape(t, &i, &tok.text)) return err_at(src, i, "invalid escape in string");
            continue;
          }
          tok.text.push_back(t[i++]);
        }
        p = i + 1;
      } else if (c == '`') {
        tok.t = Tok::kString;
        const size_t close = t.find('`', p + 1);
        if (close == std::string::npos) return err_at(src, p, "unterminated raw quoted string");
        tok.text = t.substr(p + 1, close - p - 1);
        p = close + 1;
      } else if (c == '\'') {
        tok.t = Tok::kChar;
        size_t i = p + 1;
        std::string ch;
        if (i < n && t[i] == '\\') {
          ++i;
          if (!unescape(t, &i, &ch)) return err_at(src, i, "invalid escape in character");
        } else {
          while (i < n && t[i] != '\'') ch.push_back(t[i++]);
        }
        if (i >= n || t[i] != '\'' || ch.empty()) return err_at(src, p, "bad character constant");
        // The rune's value (first code point).
        uint32_t r = static_cast<unsigned char>(ch[0]);
        if (r >= 0xc0 && ch.size() > 1) {
          const size_t len = r >= 0xf0 ? 4 : r >= 0xe0 ? 3 : 2;
          r &= len == 4 ? 0x07 : len == 3 ? 0x0f : 0x1f;
          for (size_t k = 1; k < len && k < ch.size(); ++k)
            r = (r << 6) | (static_cast<unsigned char>(ch[k]) & 0x3f);
        }
        tok.text = std::to_string(r);
        p = i + 1;
      } else if (c == '$') {
        tok.t = Tok::kVar;
        size_t i = p + 1;
        while (i < n && is_alnum(t[i])) ++i;
        tok.text = t.substr(p, i - p);
        p = i;
      } else if (c == '.' && is_alpha(next)) {
        tok.t = Tok::kField;
        size_t i = p + 1;
        while (i < n && is_alnum(t[i])) ++i;
        tok.text = t.substr(p + 1, i - p - 1);
        p = i;
      } else if (c == '.' && !is_digit(next)) {
        tok.t = Tok::kDot;
        tok.text = ".";
        ++p;
      } else if (is_digit(c) || ((c == '-' || c == '+' || c == '.') && is_digit(next))) {
        tok.t = Tok::kNumber;
        size_t i = p + 1;
        while (i < n && (is_alnum(t[i]) || t[i] == '.' ||
                         ((t[i] == '-' || t[i] == '+') && (t[i - 1] == 'e' || t[i - 1] == 'E'))))
          ++i;
        tok.text = t.substr(p, i - p);
        p = i;
      } else if (is_alpha(c)) {
        size_t i = p + 1;
        while (i < n && is_alnum(t[i])) ++i;
        tok.text = t.substr(p, i - p);
        tok.t = tok.text == "true" || tok.text == "false" ? Tok::kBool
                : tok.text == "nil"                       ? Tok::kNil
                                                          : Tok::kIdent;
        p = i;
      } else {
        std::string shown(1, c);
        return err_at(src, p, "unexpected \"" + shown + "\" in action");
      }
      out.push_back(std::move(tok));
    }
    pos = p;
  }
  out.push_back({Tok::kEOF, "", n, false});
  return out;
}

// --- functions ------------------------------------------------------------------------------

struct FnCtx;
using Fn = std::function<Result<V>(const std::vector<V>&, FnCtx&)>;
const std::map<std::string, Fn, std::less<>>& functions();
bool is_function(std::string_view name) {
  return name == "and" || name == "or" || functions().contains(name);
}

// --- parser ---------------------------------------------------------------------------------

const std::set<std::string_view> kKeywords = {"if",     "else",  "end",      "range", "with",
                                              "define", "block", "template", "break", "continue"};

class Parser {
 public:
  Parser(std::shared_ptr<const Source> src, const std::vector<Token>& toks, Defs* defs)
      : src_(std::move(src)), toks_(toks), defs_(defs) {}

  Result<std::vector<Node>> parse() {
    std::string ended;
    return list(true, &ended);
  }

 private:
  const Token& peek(size_t k = 0) const { return toks_[std::min(i_ + k, toks_.size() - 1)]; }
  const Token& next() {
    const Token& t = peek();
    if (i_ < toks_.size() - 1) ++i_;
    return t;
  }
  std::unexpected<Error> err(size_t pos, const std::string& msg) const {
    return err_at(*src_, pos, msg);
  }
  std::unexpected<Error> unexpected(const Token& t, const std::string& context) const {
    std::string what = t.t == Tok::kEOF     ? "EOF"
                       : t.t == Tok::kClose ? "\"}}\""
                                            : "\"" + t.text + "\"";
    return err(t.pos, "unexpected " + what + " in " + context);
  }
  Status expect_close(const std::string& context) {
    if (peek().t != Tok::kClose) return unexpected(peek(), context);
    next();
    return {};
  }
  bool is_kw(size_t k, std::string_view kw) const {
    return peek(k).t == Tok::kIdent && peek(k).text == kw;
  }
  bool var_defined(const std::string& name) const {
    return std::find(vars_.begin(), vars_.end(), name) != vars_.end();
  }

  // Items until EOF (top level) or {{end}} / {{else}} (reported in *ended, not consumed past
  // the keyword for else).
  Result<std::vector<Node>> list(bool top, std::string* ended) {
    std::vector<Node> out;
    for (;;) {
      const Token& t = peek();
      if (t.t == Tok::kEOF) {
        if (top) return out;
        return err(t.pos, "unexpected EOF");
      }
      if (t.t == Tok::kText) {
        out.push_back(Node{Node::K::kText, t.text, nullptr, {}, {}, t.pos});
        next();
        continue;
      }
      // kOpen
      const Token& open = next();
      const Token& kw = peek();
      if (kw.t == Tok::kIdent && (kw.text == "end" || kw.text == "else")) {
        if (top) return err(kw.pos, "unexpected {{" + kw.text + "}}");
        next();
        *ended = kw.text;
        if (kw.text == "end") SIRA_CHECK(expect_close("end"));
        return out;
      }
      if (kw.t == Tok::kIdent && (kw.text == "if" || kw.text == "range" || kw.text == "with")) {
        out.push_back(SIRA_TRY(control()));
      } else if (is_kw(0, "define")) {
        if (!top) return err(kw.pos, "unexpected {{define}} inside a control structure");
        SIRA_CHECK(define(false));
      } else if (is_kw(0, "block")) {
        out.push_back(SIRA_TRY(define(true)));
      } else if (is_kw(0, "template")) {
        out.push_back(SIRA_TRY(template_call()));
      } else if (is_kw(0, "break") || is_kw(0, "continue")) {
        if (range_depth_ == 0) return err(kw.pos, "{{" + kw.text + "}} outside {{range}}");
        Node nd{
            kw.text == "break" ? Node::K::kBreak : Node::K::kContinue, "", nullptr, {}, {}, kw.pos};
        next();
        SIRA_CHECK(expect_close(nd.k == Node::K::kBreak ? "break" : "continue"));
        out.push_back(std::move(nd));
      } else {
        Node nd{Node::K::kAction, "", nullptr, {}, {}, open.pos};
        nd.pipe = SIRA_TRY(pipeline("command", 1));
        SIRA_CHECK(expect_close("command"));
        out.push_back(std::move(nd));
      }
    }
  }

  // {{if|range|with pipeline}} list [{{else [if|with ...]}} list] {{end}}
  Result<Node> control() {
    const Token& kw = next();
    const std::string name = kw.text;
    Node nd{name == "if"      ? Node::K::kIf
            : name == "range" ? Node::K::kRange
                              : Node::K::kWith,
            "",
            nullptr,
            {},
            {},
            kw.pos};
    const size_t mark = vars_.size();
    nd.pipe = SIRA_TRY(pipeline(name, name == "range" ? 2 : 1));
    SIRA_CHECK(expect_close(name));
    std::string ended;
    if (nd.k == Node::K::kRange) ++range_depth_;
    auto body = list(false, &ended);
    if (nd.k == Node::K::kRange) --range_depth_;
    if (!body) return std::unexpected(body.error());
    nd.list = std::move(*body);
    if (ended == "else") {
      // {{else if ...}} / {{else with ...}}: a nested structure that owns the final {{end}}.
      if ((name == "if" && is_kw(0, "if")) || (name == "with" && is_kw(0, "with"))) {
        nd.else_list.push_back(SIRA_TRY(control()));
      } else {
        SIRA_CHECK(expect_close("else"));
        std::string ended2;
        nd.else_list = SIRA_TRY(list(false, &ended2));
        if (ended2 != "end") return err(peek().pos, "expected {{end}}; found {{else}}");
      }
    }
    vars_.resize(mark);
    return nd;
  }

  // {{define "name"}} list {{end}}, or {{block "name" pipeline}} list {{end}} (defines and
  // calls).
  Result<Node> define(bool block) {
    const Token& kw = next();
    const std::string ctx = block ? "block clause" : "define clause";
    if (peek().t != Tok::kString) return unexpected(peek(), ctx);
    const std::string name = next().text;
    Node call{Node::K::kTemplate, name, nullptr, {}, {}, kw.pos};
    if (block) call.pipe = SIRA_TRY(pipeline(ctx, 0));
    SIRA_CHECK(expect_close(ctx));
    std::vector<std::string> saved = std::move(vars_);
    const int saved_range = range_depth_;
    vars_ = {"$"};
    range_depth_ = 0;
    std::string ended;
    auto body = list(false, &ended);
    vars_ = std::move(saved);
    range_depth_ = saved_range;
    if (!body) return std::unexpected(body.error());
    if (ended != "end") return err(peek().pos, "unexpected {{else}} in " + ctx);
    auto tree = std::make_shared<TemplateTree>();
    tree->src = src_;
    tree->body = std::move(*body);
    (*defs_)[name] = std::move(tree);
    return call;
  }

  // {{template "name" [pipeline]}}
  Result<Node> template_call() {
    const Token& kw = next();
    if (peek().t != Tok::kString) return unexpected(peek(), "template clause");
    Node nd{Node::K::kTemplate, next().text, nullptr, {}, {}, kw.pos};
    if (peek().t != Tok::kClose) nd.pipe = SIRA_TRY(pipeline("template clause", 0));
    SIRA_CHECK(expect_close("template clause"));
    return nd;
  }

  // [decl :=] command { | command }; max_decl: variables a declaration may name.
  Result<std::shared_ptr<Pipe>> pipeline(const std::string& ctx, int max_decl) {
    auto p = std::make_shared<Pipe>();
    p->pos = peek().pos;
    std::vector<std::string> declared;
    if (peek().t == Tok::kVar && (peek(1).t == Tok::kDeclare || peek(1).t == Tok::kAssign) &&
        !peek(1).adjacent) {
      if (max_decl < 1) return err(peek().pos, "unexpected declaration in " + ctx);
      const Token& v = next();
      if (next().t == Tok::kAssign) {
        if (!var_defined(v.text)) return err(v.pos, "undefined variable \"" + v.text + "\"");
        p->assign = true;
      } else {
        declared.push_back(v.text);
      }
      p->decl.push_back(v.text);
    } else if (peek().t == Tok::kVar && peek(1).t == Tok::kComma && peek(2).t == Tok::kVar &&
               peek(3).t == Tok::kDeclare) {
      if (max_decl < 2) return err(peek(1).pos, "too many declarations in " + ctx);
      p->decl = {peek().text, peek(2).text};
      declared = p->decl;
      i_ += 4;
    }
    for (;;) {
      p->cmds.push_back(SIRA_TRY(command(ctx)));
      if (peek().t != Tok::kPipe) break;
      next();
    }
    for (auto& d : declared) vars_.push_back(d);
    return p;
  }

  Result<Cmd> command(const std::string& ctx) {
    Cmd c;
    c.pos = peek().pos;
    for (;;) {
      const Tok t = peek().t;
      if (t == Tok::kClose || t == Tok::kRParen || t == Tok::kPipe || t == Tok::kEOF) break;
      c.args.push_back(SIRA_TRY(operand(ctx)));
    }
    if (c.args.empty()) return err(peek().pos, "missing value for " + ctx);
    return c;
  }

  Result<Arg> operand(const std::string& ctx) {
    const Token& t = next();
    Arg a;
    a.pos = t.pos;
    switch (t.t) {
      case Tok::kDot:
        a.k = Arg::K::kDot;
        break;
      case Tok::kField:
        a.k = Arg::K::kField;
        a.chain.push_back(t.text);
        break;
      case Tok::kVar:
        if (!var_defined(t.text)) return err(t.pos, "undefined variable \"" + t.text + "\"");
        a.k = Arg::K::kVar;
        a.name = t.text;
        break;
      case Tok::kIdent:
        if (kKeywords.contains(t.text)) return unexpected(t, ctx);
        if (!is_function(t.text)) return err(t.pos, "function \"" + t.text + "\" not defined");
        a.k = Arg::K::kIdent;
        a.name = t.text;
        break;
      case Tok::kString:
        a.k = Arg::K::kString;
        a.name = t.text;
        break;
      case Tok::kBool:
        a.k = Arg::K::kBool;
        a.b = t.text == "true";
        break;
      case Tok::kNil:
        a.k = Arg::K::kNil;
        break;
      case Tok::kChar:
        a.k = Arg::K::kInt;
        a.i = std::stoll(t.text);
        break;
      case Tok::kNumber:
        SIRA_CHECK(number(t, &a));
        break;
      case Tok::kLParen: {
        a.k = Arg::K::kPipe;
        a.pipe = SIRA_TRY(pipeline("parenthesized pipeline", 1));
        if (peek().t != Tok::kRParen) return unexpected(peek(), "parenthesized pipeline");
        next();
        break;
      }
      default:
        return unexpected(t, ctx);
    }
    while (peek().t == Tok::kField && peek().adjacent) {
      if (a.k != Arg::K::kField && a.k != Arg::K::kVar && a.k != Arg::K::kPipe)
        return err(peek().pos, "unexpected . after term \"" + t.text + "\"");
      a.chain.push_back(next().text);
    }
    return a;
  }

  Status number(const Token& t, Arg* a) {
    std::string s = t.text;
    const bool neg = !s.empty() && s[0] == '-';
    std::string_view body(s);
    if (!body.empty() && (body[0] == '-' || body[0] == '+')) body.remove_prefix(1);
    int base = 10;
    if (body.size() > 2 && body[0] == '0' && (body[1] == 'x' || body[1] == 'X')) {
      base = 16;
      body.remove_prefix(2);
    }
    uint64_t u = 0;
    auto [p, ec] = std::from_chars(body.data(), body.data() + body.size(), u, base);
    if (ec == std::errc() && p == body.data() + body.size() &&
        u <= static_cast<uint64_t>(INT64_MAX)) {
      a->k = Arg::K::kInt;
      a->i = neg ? -static_cast<int64_t>(u) : static_cast<int64_t>(u);
      return {};
    }
    if (base == 10) {
      double d = 0;
      auto [q, ec2] = std::from_chars(s.data() + (s[0] == '+' ? 1 : 0), s.data() + s.size(), d);
      if (ec2 == std::errc() && q == s.data() + s.size()) {
        a->k = Arg::K::kFloat;
        a->f = d;
        return {};
      }
    }
    return err(t.pos, "bad number syntax: \"" + t.text + "\"");
  }

  std::shared_ptr<const Source> src_;
  const std::vector<Token>& toks_;
  Defs* defs_;
  size_t i_ = 0;
  std::vector<std::string> vars_{"$"};
  int range_depth_ = 0;
};

struct Parsed {
  std::shared_ptr<const TemplateTree> root;
  Defs defs;
};

Result<Parsed> parse(std::string_view name, std::string_view text) {
  auto src = std::make_shared<Source>(Source{std::string(name), std::string(text)});
  auto toks = SIRA_TRY(lex(*src));
  Parsed out;
  Parser p(src, toks, &out.defs);
  auto root = std::make_shared<TemplateTree>();
  root->src = src;
  root->body = SIRA_TRY(p.parse());
  out.root = std::move(root);
  return out;
}

// --- values ---------------------------------------------------------------------------------

std::string type_name(const V& v) {
  if (!v.type.empty()) return v.type;
  switch (v.kind) {
    case VK::kNil:
      return "nil";
    case VK::kBool:
      return "bool";
    case VK::kInt:
      return "int";
    case VK::kFloat:
      return "float64";
    case VK::kString:
      return "string";
    case VK::kTime:
      return "time.Time";
    case VK::kList:
      return "[]interface {}";
    case VK::kMap:
      return "map[string]interface {}";
    case VK::kObject:
      return "struct";
  }
  return "?";
}

bool truth(const V& v) {
  switch (v.kind) {
    case VK::kNil:
      return false;
    case VK::kBool:
      return v.b;
    case VK::kInt:
      return v.i != 0;
    case VK::kFloat:
      return v.f != 0;
    case VK::kString:
      return !v.s.empty();
    case VK::kList:
      return v.list && !v.list->empty();
    case VK::kMap:
      return v.map && !v.map->empty();
    case VK::kTime:
    case VK::kObject:
      return true;
  }
  return false;
}

std::string format_float(double d) {
  if (std::isinf(d)) return d > 0 ? "+Inf" : "-Inf";
  if (std::isnan(d)) return "NaN";
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, d);
  return ec == std::errc() ? std::string(buf, p) : "NaN";
}

// Civil time of a Unix millisecond instant (UTC).
struct Civil {
  int year;
  unsigned month, day, hour, minute, second, millis, weekday, yday;
};

Civil civil(int64_t ms) {
  using namespace std::chrono;
  int64_t days = ms / 86400000;
  int64_t rem = ms % 86400000;
  if (rem < 0) {
    rem += 86400000;
    --days;
  }
  const sys_days sd{std::chrono::days{days}};
  const year_month_day ymd{sd};
  const weekday wd{sd};
  const sys_days jan1{ymd.year() / January / 1};
  return {static_cast<int>(ymd.year()),
          static_cast<unsigned>(ymd.month()),
          static_cast<unsigned>(ymd.day()),
          static_cast<unsigned>(rem / 3600000),
          static_cast<unsigned>(rem / 60000 % 60),
          static_cast<unsigned>(rem / 1000 % 60),
          static_cast<unsigned>(rem % 1000),
          wd.c_encoding(),
          static_cast<unsigned>((sd - jan1).count() + 1)};
}

std::string pad(int64_t v, int width, char fill = '0') {
  std::string s = std::to_string(v < 0 ? -v : v);
  while (static_cast<int>(s.size()) < width) s.insert(s.begin(), fill);
  return v < 0 ? "-" + s : s;
}

// Go's Time.Format for a UTC instant: the reference-time layout elements.
std::string go_time_format(int64_t ms, std::string_view layout) {
  static constexpr const char* kMonths[] = {"January",   "February", "March",    "April",
                                            "May",       "June",     "July",     "August",
                                            "September", "October",  "November", "December"};
  static constexpr const char* kDays[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday"};
  const Civil c = civil(ms);
  std::string out;
  size_t i = 0;
  auto at = [&](std::string_view s) { return layout.substr(i, s.size()) == s; };
  while (i < layout.size()) {
    const int hour12 = c.hour % 12 == 0 ? 12 : static_cast<int>(c.hour % 12);
    if (at("January")) {
      out += kMonths[c.month - 1];
      i += 7;
    } else if (at("Jan")) {
      out += std::string(kMonths[c.month - 1]).substr(0, 3);
      i += 3;
    } else if (at("Monday")) {
      out += kDays[c.weekday];
      i += 6;
    } else if (at("Mon")) {
      out += std::string(kDays[c.weekday]).substr(0, 3);
      i += 3;
    } else if (at("MST")) {
      out += "UTC";
      i += 3;
    } else if (at("2006")) {
      out += pad(c.year, 4);
      i += 4;
    } else if (at("002")) {
      out += pad(c.yday, 3);
      i += 3;
    } else if (at("01")) {
      out += pad(c.month, 2);
      i += 2;
    } else if (at("02")) {
      out += pad(c.day, 2);
      i += 2;
    } else if (at("03")) {
      out += pad(hour12, 2);
      i += 2;
    } else if (at("04")) {
      out += pad(c.minute, 2);
      i += 2;
    } else if (at("05")) {
      out += pad(c.second, 2);
      i += 2;
    } else if (at("06")) {
      out += pad(c.year % 100, 2);
      i += 2;
    } else if (at("15")) {
      out += pad(c.hour, 2);
      i += 2;
    } else if (at("_2")) {
      out += pad(c.day, 2, ' ');
      i += 2;
    } else if (at("-07:00:00") || at("-070000") || at("-07:00") || at("-0700") || at("-07")) {
      const size_t len = at("-07:00:00") ? 9
                         : at("-070000") ? 7
                         : at("-07:00")  ? 6
                         : at("-0700")   ? 5
                                         : 3;
      out += len == 9   ? "+00:00:00"
             : len == 7 ? "+000000"
             : len == 6 ? "+00:00"
             : len == 5 ? "+0000"
                        : "+00";
      i += len;
    } else if (at("Z07:00:00") || at("Z070000") || at("Z07:00") || at("Z0700") || at("Z07")) {
      out += "Z";
      i += at("Z07:00:00") ? 9 : at("Z070000") ? 7 : at("Z07:00") ? 6 : at("Z0700") ? 5 : 3;
    } else if (at("PM") || at("pm")) {
      const bool upper = at("PM");
      out += c.hour >= 12 ? (upper ? "PM" : "pm") : (upper ? "AM" : "am");
      i += 2;
    } else if ((layout[i] == '.' || layout[i] == ',') && i + 1 < layout.size() &&
               (layout[i + 1] == '0' || layout[i + 1] == '9')) {
      const char d = layout[i + 1];
      size_t j = i + 1;
      while (j < layout.size() && layout[j] == d) ++j;
      if (j < layout.size() && is_digit(layout[j])) {  // not a fraction: copy the separator
        out += layout[i++];
        continue;
      }
      const size_t digits = j - i - 1;
      std::string frac = pad(c.millis, 3) + "000000";
      frac = frac.substr(0, std::min<size_t>(digits, 9));
      if (d == '9') {
        while (!frac.empty() && frac.back() == '0') frac.pop_back();
        if (!frac.empty()) out += layout[i] + frac;
      } else {
        out += layout[i] + frac;
      }
      i = j;
    } else if (at("1")) {
      out += std::to_string(c.month);
      i += 1;
    } else if (at("2")) {
      out += std::to_string(c.day);
      i += 1;
    } else if (at("3")) {
      out += std::to_string(hour12);
      i += 1;
    } else if (at("4")) {
      out += std::to_string(c.minute);
      i += 1;
    } else if (at("5")) {
      out += std::to_string(c.second);
      i += 1;
    } else {
      out += layout[i++];
    }
  }
  return out;
}

std::string print_value(const V& v, bool in_fmt);

std::string print_value(const V& v, bool in_fmt) {
  switch (v.kind) {
    case VK::kNil:
      return in_fmt ? "<nil>" : "<no value>";
    case VK::kBool:
      return v.b ? "true" : "false";
    case VK::kInt:
      return std::to_string(v.i);
    case VK::kFloat:
      return format_float(v.f);
    case VK::kString:
      return v.s;
    case VK::kTime:
      return go_time_format(v.i, "2006-01-02 15:04:05.999999999 -0700 MST");
    case VK::kList: {
      std::string out = "[";
      for (size_t k = 0; v.list && k < v.list->size(); ++k)
        out += (k ? " " : "") + print_value((*v.list)[k], true);
      return out + "]";
    }
    case VK::kMap:
    case VK::kObject: {
      std::string out = v.kind == VK::kMap ? "map[" : "{";
      bool first = true;
      for (const auto& [k, e] : *v.map) {
        out += (first ? "" : " ") + (v.kind == VK::kMap ? k + ":" : "") + print_value(e, true);
        first = false;
      }
      return out + (v.kind == VK::kMap ? "]" : "}");
    }
  }
  return "";
}

// --- function implementations -------------------------------------------------------------

struct FnCtx {
  std::string name;
};

std::unexpected<Error> fn_err(const FnCtx& c, const std::string& msg) {
  return fail(ErrorCode::kInvalidArgument, "error calling " + c.name + ": " + msg);
}

Status want_args(const FnCtx& c, const std::vector<V>& a, size_t n) {
  if (a.size() == n) return {};
  return fail(ErrorCode::kInvalidArgument, "wrong number of args for " + c.name + ": want " +
                                               std::to_string(n) + " got " +
                                               std::to_string(a.size()));
}

Result<std::string> want_string(const FnCtx& c, const V& v) {
  if (v.kind == VK::kString) return v.s;
  return fail(ErrorCode::kInvalidArgument,
              "wrong type for value in " + c.name + "; expected string; got " + type_name(v));
}

Result<std::vector<std::string>> want_strings(const FnCtx& c, const V& v) {
  if (v.kind != VK::kList)
    return fail(ErrorCode::kInvalidArgument,
                "wrong type for value in " + c.name + "; expected []string; got " + type_name(v));
  std::vector<std::string> out;
  for (const V& e : *v.list) out.push_back(SIRA_TRY(want_string(c, e)));
  return out;
}

std::string ascii_map(std::string s, int (*f)(int)) {
  for (char& ch : s)
    if (static_cast<unsigned char>(ch) < 0x80) ch = static_cast<char>(f(ch));
  return s;
}

// Go's strings.Title: upper-cases the first letter of each word (words split at anything that
// is not a letter, digit, underscore or non-ASCII byte).
std::string title_case(std::string s) {
  bool prev_sep = true;
  for (char& ch : s) {
    const bool sep = !is_alnum(ch);
    if (prev_sep && ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
    prev_sep = sep;
  }
  return s;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char ch : s) {
    switch (ch) {
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '&':
        out += "&amp;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '"':
        out += "&#34;";
        break;
      case '\0':
        out += "\xef\xbf\xbd";
        break;
      default:
        out += ch;
    }
  }
  return out;
}

std::string query_escape(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char ch : s) {
    if (is_alnum(static_cast<char>(ch)) && ch < 0x80) {
      out += static_cast<char>(ch);
    } else if (ch == '-' || ch == '_' || ch == '.' || ch == '~') {
      out += static_cast<char>(ch);
    } else if (ch == ' ') {
      out += '+';
    } else {
      out += '%';
      out += kHex[ch >> 4];
      out += kHex[ch & 15];
    }
  }
  return out;
}

// fmt.Sprint: spaces between operands when neither side is a string.
std::string sprint(const std::vector<V>& a) {
  std::string out;
  for (size_t k = 0; k < a.size(); ++k) {
    if (k > 0 && a[k].kind != VK::kString && a[k - 1].kind != VK::kString) out += ' ';
    out += print_value(a[k], true);
  }
  return out;
}

// The numeric or string class of a value for comparisons.
enum class Basic { kBool, kNum, kString, kNil, kOther };
Basic basic(const V& v) {
  switch (v.kind) {
    case VK::kBool:
      return Basic::kBool;
    case VK::kInt:
    case VK::kFloat:
      return Basic::kNum;
    case VK::kString:
      return Basic::kString;
    case VK::kNil:
      return Basic::kNil;
    default:
      return Basic::kOther;
  }
}
double num(const V& v) {
  return v.kind == VK::kInt ? static_cast<double>(v.i) : v.f;
}

Result<bool> equal(const FnCtx& c, const V& a, const V& b) {
  const Basic x = basic(a), y = basic(b);
  if (x == Basic::kOther || y == Basic::kOther) {
    if (a.kind == VK::kTime && b.kind == VK::kTime) return a.i == b.i;
    return fn_err(c, "non-comparable type " + type_name(x == Basic::kOther ? a : b));
  }
  if (x == Basic::kNil || y == Basic::kNil) return x == y;
  if (x != y) return fn_err(c, "incompatible types for comparison");
  switch (x) {
    case Basic::kBool:
      return a.b == b.b;
    case Basic::kString:
      return a.s == b.s;
    default:
      if (a.kind == VK::kInt && b.kind == VK::kInt) return a.i == b.i;
      return num(a) == num(b);
  }
}

Result<bool> less(const FnCtx& c, const V& a, const V& b) {
  const Basic x = basic(a), y = basic(b);
  if (x == Basic::kString && y == Basic::kString) return a.s < b.s;
  if (x == Basic::kNum && y == Basic::kNum) {
    if (a.kind == VK::kInt && b.kind == VK::kInt) return a.i < b.i;
    return num(a) < num(b);
  }
  if (a.kind == VK::kTime && b.kind == VK::kTime) return a.i < b.i;
  if (x == y && x != Basic::kOther && x != Basic::kNil && x != Basic::kBool)
    return fn_err(c, "incompatible types for comparison");
  return fn_err(c, "invalid type for comparison");
}

// fmt.Sprintf subset: flags - + # 0 space, width, precision; verbs s v q d f e g x X t c %.
std::string sprintf_go(const std::string& f, const std::vector<V>& args) {
  std::string out;
  size_t next_arg = 0;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] != '%') {
      out += f[i];
      continue;
    }
    if (i + 1 < f.size() && f[i + 1] == '%') {
      out += '%';
      ++i;
      continue;
    }
    bool minus = false, plus = false, zero = false, space = false, sharp = false;
    size_t j = i + 1;
    for (; j < f.size(); ++j) {
      if (f[j] == '-')
        minus = true;
      else if (f[j] == '+')
        plus = true;
      else if (f[j] == '0')
        zero = true;
      else if (f[j] == ' ')
        space = true;
      else if (f[j] == '#')
        sharp = true;
      else
        break;
    }
    int width = -1, prec = -1;
    while (j < f.size() && is_digit(f[j])) width = std::max(width, 0) * 10 + (f[j++] - '0');
    if (j < f.size() && f[j] == '.') {
      ++j;
      prec = 0;
      while (j < f.size() && is_digit(f[j])) prec = prec * 10 + (f[j++] - '0');
    }
    width = std::min(width, 4096);
    prec = std::min(prec, 4096);
    if (j >= f.size()) {
      out += "%!(NOVERB)";
      break;
    }
    const char verb = f[j];
    i = j;
    if (next_arg >= args.size()) {
      out += std::string("%!") + verb + "(MISSING)";
      continue;
    }
    const V& a = args[next_arg++];
    std::string s;
    bool numeric = false;
    auto bad = [&] {
      return std::string("%!") + verb + "(" + type_name(a) + "=" + print_value(a, true) + ")";
    };
    switch (verb) {
      case 'v':
      case 's':
        if (verb == 's' && a.kind != VK::kString && a.kind != VK::kList && a.kind != VK::kTime &&
            a.kind != VK::kMap && a.kind != VK::kObject) {
          s = a.kind == VK::kNil ? "%!s(<nil>)" : bad();
        } else {
          s = print_value(a, true);
          if (a.kind == VK::kInt || a.kind == VK::kFloat) numeric = true;
          if (prec >= 0 && a.kind == VK::kString && static_cast<size_t>(prec) < s.size())
            s.resize(static_cast<size_t>(prec));
        }
        break;
      case 'q':
        if (a.kind == VK::kString)
          s = sharp && a.s.find('`') == std::string::npos ? "`" + a.s + "`" : go_quote(a.s);
        else if (a.kind == VK::kInt) {
          s = "'";
          append_utf8(&s, static_cast<uint32_t>(a.i));
          s += "'";
        } else
          s = bad();
        break;
      case 'd':
        if (a.kind == VK::kInt) {
          s = std::to_string(a.i);
          if (plus && a.i >= 0)
            s = "+" + s;
          else if (space && a.i >= 0)
            s = " " + s;
          numeric = true;
        } else {
          s = bad();
        }
        break;
      case 'f':
      case 'F':
      case 'e':
      case 'g': {
        if (a.kind != VK::kInt && a.kind != VK::kFloat) {
          s = bad();
          break;
        }
        char buf[512];
        std::string spec = std::string("%") + (plus ? "+" : "") + (space ? " " : "") + "." +
                           std::to_string(prec < 0 ? (verb == 'g' ? 17 : 6) : std::min(prec, 100)) +
                           (verb == 'F' ? 'f' : verb);
        if (verb == 'g' && prec < 0) {
          s = format_float(num(a));
        } else {
          std::snprintf(buf, sizeof buf, spec.c_str(), num(a));
          s = buf;
        }
        numeric = true;
        break;
      }
      case 'x':
      case 'X': {
        static constexpr char kLower[] = "0123456789abcdef";
        static constexpr char kUpper[] = "0123456789ABCDEF";
        const char* digits = verb == 'x' ? kLower : kUpper;
        if (a.kind == VK::kInt) {
          uint64_t u = a.i < 0 ? static_cast<uint64_t>(-(a.i + 1)) + 1 : static_cast<uint64_t>(a.i);
          do {
            s.insert(s.begin(), digits[u % 16]);
            u /= 16;
          } while (u);
          if (a.i < 0) s = "-" + s;
          numeric = true;
        } else if (a.kind == VK::kString) {
          for (unsigned char ch : a.s) {
            s += digits[ch >> 4];
            s += digits[ch & 15];
          }
        } else {
          s = bad();
        }
        break;
      }
      case 't':
        s = a.kind == VK::kBool ? (a.b ? "true" : "false") : bad();
        break;
      case 'c':
        if (a.kind == VK::kInt)
          append_utf8(&s, static_cast<uint32_t>(a.i));
        else
          s = bad();
        break;
      default:
        s = std::string("%!") + verb + "(" + type_name(a) + "=" + print_value(a, true) + ")";
    }
    if (width > 0 && static_cast<int>(s.size()) < width) {
      const size_t fill = static_cast<size_t>(width) - s.size();
      if (minus) {
        s.append(fill, ' ');
      } else if (zero && numeric) {
        const size_t sign = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
        s.insert(sign, fill, '0');
      } else {
        s.insert(0, fill, ' ');
      }
    }
    out += s;
  }
  if (next_arg < args.size()) {
    out += "%!(EXTRA ";
    for (size_t k = next_arg; k < args.size(); ++k)
      out += (k > next_arg ? ", " : "") + type_name(args[k]) + "=" + print_value(args[k], true);
    out += ")";
  }
  return out;
}

// Go's regexp.Expand template ($1, ${1}, $name, ${name}, $$) to RE2's rewrite (\1, \\).
std::string go_to_re2_rewrite(const RE2& re, std::string_view repl) {
  std::string out;
  const auto& named = re.NamedCapturingGroups();
  for (size_t i = 0; i < repl.size(); ++i) {
    const char ch = repl[i];
    if (ch == '\\') {
      out += "\\\\";
      continue;
    }
    if (ch != '$') {
      out += ch;
      continue;
    }
    if (i + 1 < repl.size() && repl[i + 1] == '$') {
      out += '$';
      ++i;
      continue;
    }
    std::string name;
    size_t j = i + 1;
    if (j < repl.size() && repl[j] == '{') {
      size_t close = repl.find('}', j);
      if (close == std::string::npos) {
        out += ch;
        continue;
      }
      name = std::string(repl.substr(j + 1, close - j - 1));
      j = close + 1;
    } else {
      while (j < repl.size() && is_alnum(repl[j])) name += repl[j++];
    }
    if (name.empty()) {
      out += ch;
      continue;
    }
    i = j - 1;
    int group = -1;
    if (std::all_of(name.begin(), name.end(), is_digit)) {
      group = name.size() > 3 ? -1 : std::stoi(name);
    } else if (auto it = named.find(name); it != named.end()) {
      group = it->second;
    }
    if (group >= 0 && group <= re.NumberOfCapturingGroups()) out += "\\" + std::to_string(group);
    // Go expands an unknown group to the empty string.
  }
  return out;
}

Result<std::unique_ptr<RE2>> compile(const FnCtx& c, const std::string& pattern) {
  RE2::Options o;
  o.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, o);
  if (!re->ok()) return fn_err(c, "error parsing regexp: " + re->error());
  return re;
}

const std::map<std::string, Fn, std::less<>>& functions() {
  static const auto* table = new std::map<std::string, Fn, std::less<>>{
      {"toUpper",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 1));
         return V::string(ascii_map(SIRA_TRY(want_string(c, a[0])), ::toupper));
       }},
      {"toLower",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 1));
         return V::string(ascii_map(SIRA_TRY(want_string(c, a[0])), ::tolower));
       }},
      {"title",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 1));
         return V::string(title_case(SIRA_TRY(want_string(c, a[0]))));
       }},
      {"trimSpace",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 1));
         std::string s = SIRA_TRY(want_string(c, a[0]));
         size_t b = 0, e = s.size();
         while (b < e && (is_space(s[b]) || s[b] == '\v' || s[b] == '\f')) ++b;
         while (e > b && (is_space(s[e - 1]) || s[e - 1] == '\v' || s[e - 1] == '\f')) --e;
         return V::string(s.substr(b, e - b));
       }},
      {"join",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 2));
         std::string sep = SIRA_TRY(want_string(c, a[0]));
         std::string out;
         auto items = SIRA_TRY(want_strings(c, a[1]));
         for (size_t k = 0; k < items.size(); ++k) out += (k ? sep : "") + items[k];
         return V::string(std::move(out));
       }},
      {"safeHtml",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 1));
         return V::string(SIRA_TRY(want_string(c, a[0])));
       }},
      {"html",
       [](const std::vector<V>& a, FnCtx&) -> Result<V> {
         return V::string(html_escape(sprint(a)));
       }},
      {"urlquery",
       [](const std::vector<V>& a, FnCtx&) -> Result<V> {
         return V::string(query_escape(sprint(a)));
       }},
      {"stringSlice",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         std::vector<V> out;
         for (const V& v : a) out.push_back(V::string(SIRA_TRY(want_string(c, v))));
         return V::list_of(std::move(out), "[]string");
       }},
      {"reReplaceAll",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 3));
         auto re = SIRA_TRY(compile(c, SIRA_TRY(want_string(c, a[0]))));
         std::string text = SIRA_TRY(want_string(c, a[2]));
         RE2::GlobalReplace(&text, *re, go_to_re2_rewrite(*re, SIRA_TRY(want_string(c, a[1]))));
         return V::string(std::move(text));
       }},
      {"match",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 2));
         auto re = SIRA_TRY(compile(c, SIRA_TRY(want_string(c, a[0]))));
         return V::boolean(RE2::PartialMatch(SIRA_TRY(want_string(c, a[1])), *re));
       }},
      {"len",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 1));
         const V& v = a[0];
         if (v.kind == VK::kString) return V::integer(static_cast<int64_t>(v.s.size()));
         if (v.kind == VK::kList) return V::integer(static_cast<int64_t>(v.list->size()));
         if (v.kind == VK::kMap) return V::integer(static_cast<int64_t>(v.map->size()));
         return fn_err(c, "len of type " + type_name(v));
       }},
      {"index",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         if (a.empty()) return std::unexpected(want_args(c, a, 1).error());
         V item = a[0];
         for (size_t k = 1; k < a.size(); ++k) {
           const V& key = a[k];
           if (item.kind == VK::kList || item.kind == VK::kString) {
             if (key.kind != VK::kInt)
               return fn_err(c, "cannot index slice/array with type " + type_name(key));
             const size_t size = item.kind == VK::kList ? item.list->size() : item.s.size();
             if (key.i < 0 || static_cast<size_t>(key.i) >= size)
               return fn_err(c, "index out of range: " + std::to_string(key.i));
             item =
                 item.kind == VK::kList
                     ? (*item.list)[static_cast<size_t>(key.i)]
                     : V::integer(static_cast<unsigned char>(item.s[static_cast<size_t>(key.i)]));
           } else if (item.kind == VK::kMap) {
             if (key.kind != VK::kString)
               return fn_err(c, "value has type " + type_name(key) + "; should be string");
             auto it = item.map->find(key.s);
             // A missing key gives the map's zero value: "" for label sets.
             item = it != item.map->end() ? it->second
                    : item.type == "KV"   ? V::string("")
                                          : V::nil();
           } else if (item.kind == VK::kNil) {
             return fn_err(c, "index of untyped nil");
           } else {
             return fn_err(c, "can't index item of type " + type_name(item));
           }
         }
         return item;
       }},
      {"not",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 1));
         return V::boolean(!truth(a[0]));
       }},
      {"eq",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         if (a.size() < 2) return fn_err(c, "missing argument for comparison");
         for (size_t k = 1; k < a.size(); ++k)
           if (SIRA_TRY(equal(c, a[0], a[k]))) return V::boolean(true);
         return V::boolean(false);
       }},
      {"ne",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 2));
         return V::boolean(!SIRA_TRY(equal(c, a[0], a[1])));
       }},
      {"lt",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 2));
         return V::boolean(SIRA_TRY(less(c, a[0], a[1])));
       }},
      {"le",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 2));
         return V::boolean(!SIRA_TRY(less(c, a[1], a[0])));
       }},
      {"gt",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 2));
         return V::boolean(SIRA_TRY(less(c, a[1], a[0])));
       }},
      {"ge",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         SIRA_CHECK(want_args(c, a, 2));
         return V::boolean(!SIRA_TRY(less(c, a[0], a[1])));
       }},
      {"print", [](const std::vector<V>& a, FnCtx&) -> Result<V> { return V::string(sprint(a)); }},
      {"println",
       [](const std::vector<V>& a, FnCtx&) -> Result<V> {
         std::string out;
         for (size_t k = 0; k < a.size(); ++k) {
           if (k) out += ' ';
           out += print_value(a[k], true);
         }
         return V::string(out + "\n");
       }},
      {"printf",
       [](const std::vector<V>& a, FnCtx& c) -> Result<V> {
         if (a.empty()) return fn_err(c, "missing format");
         std::string f = SIRA_TRY(want_string(c, a[0]));
         return V::string(sprintf_go(f, std::vector<V>(a.begin() + 1, a.end())));
       }},
  };
  return *table;
}

// --- methods of the data model --------------------------------------------------------------

std::optional<Result<V>> method(const V& recv, const std::string& name,
                                const std::vector<V>& args) {
  auto want = [&](size_t n) -> Status {
    if (args.size() == n) return {};
    return fail(ErrorCode::kInvalidArgument, "wrong number of args for " + name + ": want " +
                                                 std::to_string(n) + " got " +
                                                 std::to_string(args.size()));
  };
  auto strings_of = [](const V& list, bool names) {
    std::vector<V> out;
    for (const V& p : *list.list) out.push_back(p.map->at(names ? "Name" : "Value"));
    return V::list_of(std::move(out), "[]string");
  };
  if (recv.type == "KV" && recv.kind == VK::kMap) {
    if (name == "SortedPairs") {
      if (auto st = want(0); !st) return std::unexpected(st.error());
      std::vector<V> pairs;
      for (const auto& [k, v] : *recv.map)
        pairs.push_back(V::object({{"Name", V::string(k)}, {"Value", v}}, "Pair"));
      return V::list_of(std::move(pairs), "Pairs");
    }
    if (name == "Names" || name == "Values") {
      if (auto st = want(0); !st) return std::unexpected(st.error());
      std::vector<V> out;
      for (const auto& [k, v] : *recv.map) out.push_back(name == "Names" ? V::string(k) : v);
      return V::list_of(std::move(out), "[]string");
    }
    if (name == "Remove") {
      if (auto st = want(1); !st) return std::unexpected(st.error());
      FnCtx c{"Remove"};
      auto drop = want_strings(c, args[0]);
      if (!drop) return std::unexpected(drop.error());
      std::map<std::string, V> kept = *recv.map;
      for (const auto& d : *drop) kept.erase(d);
      return V::map_of(std::move(kept), "KV");
    }
  }
  if (recv.type == "Pairs" && (name == "Names" || name == "Values")) {
    if (auto st = want(0); !st) return std::unexpected(st.error());
    return strings_of(recv, name == "Names");
  }
  if (recv.type == "Alerts" && (name == "Firing" || name == "Resolved")) {
    if (auto st = want(0); !st) return std::unexpected(st.error());
    std::vector<V> out;
    for (const V& a : *recv.list)
      if (a.map->at("Status").s == (name == "Firing" ? "firing" : "resolved")) out.push_back(a);
    return V::list_of(std::move(out), "Alerts");
  }
  if (recv.kind == VK::kTime) {
    if (name == "Format") {
      if (auto st = want(1); !st) return std::unexpected(st.error());
      FnCtx c{"Format"};
      auto layout = want_string(c, args[0]);
      if (!layout) return std::unexpected(layout.error());
      return V::string(go_time_format(recv.i, *layout));
    }
    if (name == "Unix" || name == "UnixMilli") {
      if (auto st = want(0); !st) return std::unexpected(st.error());
      int64_t s = recv.i / 1000;
      if (recv.i % 1000 < 0) --s;
      return V::integer(name == "Unix" ? s : recv.i);
    }
    if (name == "UTC" || name == "Local") {
      if (auto st = want(0); !st) return std::unexpected(st.error());
      return recv;
    }
    if (name == "String") {
      if (auto st = want(0); !st) return std::unexpected(st.error());
      return V::string(print_value(recv, true));
    }
    if (name == "IsZero") {
      if (auto st = want(0); !st) return std::unexpected(st.error());
      return V::boolean(recv.i == kGoZeroTimeMs);
    }
  }
  return std::nullopt;
}

// --- executor -------------------------------------------------------------------------------

class Exec {
 public:
  Exec(const Defs& set, const Defs* local, const TemplateLimits& limits)
      : set_(set), local_(local), limits_(limits) {}

  Status run(const TemplateTree& t, const V& data) {
    src_ = t.src.get();
    vars_ = {{"$", data}};
    return walk_list(t.body, data);
  }
  std::string out;

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  std::unexpected<Error> err(size_t pos, const std::string& msg) const {
    return err_at(*src_, pos, msg);
  }
  // Re-labels an error from a function or method with the position, once.
  std::unexpected<Error> at(size_t pos, const Error& e) const {
    if (e.detail.starts_with("template: ")) return std::unexpected(e);
    return err(pos, e.detail);
  }
  Status step(size_t pos) {
    if (++steps_ > limits_.max_steps)
      return err(pos, "execution stopped after " + std::to_string(limits_.max_steps) +
                          " steps (template too expensive)");
    return {};
  }
  Status emit(size_t pos, std::string_view s) {
    if (out.size() + s.size() > limits_.max_output_bytes)
      return err(pos, "output exceeds " + std::to_string(limits_.max_output_bytes) + " bytes");
    out.append(s);
    return {};
  }

  Status walk_list(const std::vector<Node>& list, const V& dot) {
    for (const Node& n : list) {
      SIRA_CHECK(walk(n, dot));
      if (flow_ != Flow::kNormal) return {};
    }
    return {};
  }

  Status walk(const Node& n, const V& dot) {
    SIRA_CHECK(step(n.pos));
    switch (n.k) {
      case Node::K::kText:
        return emit(n.pos, n.text);
      case Node::K::kAction: {
        V v = SIRA_TRY(eval_pipe(*n.pipe, dot, true));
        if (!n.pipe->decl.empty()) return {};
        return emit(n.pos, print_value(v, false));
      }
      case Node::K::kIf:
      case Node::K::kWith: {
        const size_t mark = vars_.size();
        V v = SIRA_TRY(eval_pipe(*n.pipe, dot, true));
        Status st;
        if (truth(v))
          st = walk_list(n.list, n.k == Node::K::kWith ? v : dot);
        else
          st = walk_list(n.else_list, dot);
        vars_.resize(mark);
        return st;
      }
      case Node::K::kRange:
        return range(n, dot);
      case Node::K::kTemplate:
        return call(n, dot);
      case Node::K::kBreak:
        flow_ = Flow::kBreak;
        return {};
      case Node::K::kContinue:
        flow_ = Flow::kContinue;
        return {};
    }
    return {};
  }

  Status range(const Node& n, const V& dot) {
    const size_t mark = vars_.size();
    V v = SIRA_TRY(eval_pipe(*n.pipe, dot, false));
    const auto& decl = n.pipe->decl;
    auto one = [&](const V& key, const V& elem) -> Status {
      SIRA_CHECK(step(n.pos));
      vars_.resize(mark);
      if (decl.size() == 1) vars_.emplace_back(decl[0], elem);
      if (decl.size() == 2) {
        vars_.emplace_back(decl[0], key);
        vars_.emplace_back(decl[1], elem);
      }
      return walk_list(n.list, elem);
    };
    bool any = false;
    Status st;
    auto after = [&]() {
      // true: stop iterating
      if (flow_ == Flow::kBreak) {
        flow_ = Flow::kNormal;
        return true;
      }
      flow_ = Flow::kNormal;
      return false;
    };
    if (v.kind == VK::kList) {
      for (size_t k = 0; k < v.list->size() && st; ++k) {
        any = true;
        st = one(V::integer(static_cast<int64_t>(k)), (*v.list)[k]);
        if (st && after()) break;
      }
    } else if (v.kind == VK::kMap) {
      for (const auto& [key, elem] : *v.map) {
        any = true;
        st = one(V::string(key), elem);
        if (!st || after()) break;
      }
    } else if (v.kind == VK::kInt) {
      for (int64_t k = 0; k < v.i && st; ++k) {
        any = true;
        st = one(V::integer(k), V::integer(k));
        if (st && after()) break;
      }
    } else if (v.kind != VK::kNil) {
      vars_.resize(mark);
      return err(n.pos, "range can't iterate over " + print_value(v, true));
    }
    vars_.resize(mark);
    if (!st) return st;
    if (!any) SIRA_CHECK(walk_list(n.else_list, dot));
    vars_.resize(mark);
    return {};
  }

  Status call(const Node& n, const V& dot) {
    const TemplateTree* t = nullptr;
    if (local_ != nullptr)
      if (auto it = local_->find(n.text); it != local_->end()) t = it->second.get();
    if (t == nullptr)
      if (auto it = set_.find(n.text); it != set_.end()) t = it->second.get();
    if (t == nullptr) return err(n.pos, "no such template \"" + n.text + "\"");
    if (depth_ >= limits_.max_call_depth)
      return err(n.pos, "exceeded maximum template call depth (" +
                            std::to_string(limits_.max_call_depth) + ") calling \"" + n.text +
                            "\"");
    V data = n.pipe ? SIRA_TRY(eval_pipe(*n.pipe, dot, false)) : V::nil();
    auto saved_vars = std::move(vars_);
    const Source* saved_src = src_;
    vars_ = {{"$", data}};
    src_ = t->src.get();
    ++depth_;
    Status st = walk_list(t->body, data);
    --depth_;
    vars_ = std::move(saved_vars);
    src_ = saved_src;
    flow_ = Flow::kNormal;
    return st;
  }

  Result<V> eval_pipe(const Pipe& p, const V& dot, bool declare) {
    V v;
    for (size_t k = 0; k < p.cmds.size(); ++k)
      v = SIRA_TRY(eval_cmd(p.cmds[k], dot, k ? &v : nullptr));
    if (!declare || p.decl.empty()) return v;
    if (p.assign) {
      for (auto it = vars_.rbegin(); it != vars_.rend(); ++it) {
        if (it->first == p.decl[0]) {
          it->second = v;
          return v;
        }
      }
      return err(p.pos, "undefined variable \"" + p.decl[0] + "\"");
    }
    vars_.emplace_back(p.decl[0], v);
    return v;
  }

  Result<V> var(const Arg& a) const {
    for (auto it = vars_.rbegin(); it != vars_.rend(); ++it)
      if (it->first == a.name) return it->second;
    return err(a.pos, "undefined variable \"" + a.name + "\"");
  }

  Result<V> eval_cmd(const Cmd& c, const V& dot, const V* final) {
    SIRA_CHECK(step(c.pos));
    const Arg& first = c.args[0];
    auto rest = [&]() -> Result<std::vector<V>> {
      std::vector<V> args;
      for (size_t k = 1; k < c.args.size(); ++k) args.push_back(SIRA_TRY(eval_arg(c.args[k], dot)));
      if (final != nullptr) args.push_back(*final);
      return args;
    };
    switch (first.k) {
      case Arg::K::kIdent:
        return call_fn(first, c, dot, final);
      case Arg::K::kField:
        return chain(dot, first, SIRA_TRY(rest()), c.args.size() > 1 || final != nullptr);
      case Arg::K::kVar:
      case Arg::K::kPipe:
        if (!first.chain.empty()) {
          V recv = first.k == Arg::K::kVar ? SIRA_TRY(var(first))
                                           : SIRA_TRY(eval_pipe(*first.pipe, dot, false));
          return chain(recv, first, SIRA_TRY(rest()), c.args.size() > 1 || final != nullptr);
        }
        [[fallthrough]];
      default:
        if (c.args.size() > 1 || final != nullptr)
          return err(first.pos, "can't give argument to non-function " + describe(first));
        return eval_arg(first, dot);
    }
  }

  static std::string describe(const Arg& a) {
    switch (a.k) {
      case Arg::K::kDot:
        return ".";
      case Arg::K::kVar:
        return a.name;
      case Arg::K::kString:
        return go_quote(a.name);
      case Arg::K::kInt:
        return std::to_string(a.i);
      case Arg::K::kFloat:
        return format_float(a.f);
      case Arg::K::kBool:
        return a.b ? "true" : "false";
      case Arg::K::kNil:
        return "nil";
      default:
        return "(pipeline)";
    }
  }

  Result<V> eval_arg(const Arg& a, const V& dot) {
    switch (a.k) {
      case Arg::K::kDot:
        return dot;
      case Arg::K::kField:
        return chain(dot, a, {}, false);
      case Arg::K::kVar: {
        V v = SIRA_TRY(var(a));
        return a.chain.empty() ? v : chain(v, a, {}, false);
      }
      case Arg::K::kPipe: {
        V v = SIRA_TRY(eval_pipe(*a.pipe, dot, false));
        return a.chain.empty() ? v : chain(v, a, {}, false);
      }
      case Arg::K::kIdent: {
        Cmd c;
        c.args.push_back(a);
        c.pos = a.pos;
        return call_fn(a, c, dot, nullptr);
      }
      case Arg::K::kString:
        return V::string(a.name);
      case Arg::K::kInt:
        return V::integer(a.i);
      case Arg::K::kFloat:
        return V::real(a.f);
      case Arg::K::kBool:
        return V::boolean(a.b);
      case Arg::K::kNil:
        return V::nil();
    }
    return V::nil();
  }

  // Applies a.chain to recv; the last element gets `args` (a method call) when has_args.
  Result<V> chain(V recv, const Arg& a, const std::vector<V>& args, bool has_args) {
    for (size_t k = 0; k < a.chain.size(); ++k) {
      const bool last = k + 1 == a.chain.size();
      const std::string& name = a.chain[k];
      static const std::vector<V> kNone;
      const std::vector<V>& use = last ? args : kNone;
      if (auto m = method(recv, name, use)) {
        if (!*m) return at(a.pos, m->error());
        recv = std::move(**m);
        continue;
      }
      if (last && has_args) return err(a.pos, name + " is not a method but has arguments");
      switch (recv.kind) {
        case VK::kMap: {
          auto it = recv.map->find(name);
          recv = it != recv.map->end() ? it->second : V::nil();
          break;
        }
        case VK::kObject: {
          auto it = recv.map->find(name);
          if (it == recv.map->end())
            return err(a.pos, "can't evaluate field " + name + " in type " + type_name(recv));
          recv = it->second;
          break;
        }
        case VK::kNil:
          return err(a.pos, "nil data; no entry for key \"" + name + "\"");
        default:
          return err(a.pos, "can't evaluate field " + name + " in type " + type_name(recv));
      }
    }
    return recv;
  }

  Result<V> call_fn(const Arg& fn, const Cmd& c, const V& dot, const V* final) {
    if (fn.name == "and" || fn.name == "or") {
      // Short-circuit: the first falsy (and) / truthy (or) argument, else the last one.
      const size_t n = c.args.size() - 1 + (final ? 1 : 0);
      if (n == 0)
        return err(fn.pos, "wrong number of args for " + fn.name + ": want at least 1 got 0");
      V v;
      for (size_t k = 0; k < n; ++k) {
        v = k + 1 < c.args.size() ? SIRA_TRY(eval_arg(c.args[k + 1], dot)) : *final;
        if (truth(v) == (fn.name == "or")) return v;
      }
      return v;
    }
    std::vector<V> args;
    for (size_t k = 1; k < c.args.size(); ++k) args.push_back(SIRA_TRY(eval_arg(c.args[k], dot)));
    if (final != nullptr) args.push_back(*final);
    SIRA_CHECK(step(fn.pos));
    FnCtx ctx{fn.name};
    auto r = functions().at(fn.name)(args, ctx);
    if (!r) return at(fn.pos, r.error());
    if (r->kind == VK::kString && r->s.size() > limits_.max_output_bytes)
      return err(fn.pos, "value exceeds " + std::to_string(limits_.max_output_bytes) + " bytes");
    return r;
  }

  const Defs& set_;
  const Defs* local_;
  TemplateLimits limits_;
  const Source* src_ = nullptr;
  std::vector<std::pair<std::string, V>> vars_;
  int depth_ = 0;
  int64_t steps_ = 0;
  Flow flow_ = Flow::kNormal;
};

// --- sira's versions of Alertmanager's default templates -----------------------------------

constexpr const char* kBuiltins = R"tmpl(
{{ define "__alertmanager" }}sira{{ end }}
{{ define "__alertmanagerURL" }}{{ .ExternalURL }}/#/alerts?receiver=
{{- .Receiver | urlquery }}{{ end }}

{{- /* "[FIRING:2] GroupLabelValues (other common label values)" */ -}}
{{ define "__subject" -}}
[{{ .Status | toUpper }}{{ if eq .Status "firing" }}:{{ .Alerts.Firing | len }}{{ end }}]
{{- " " }}{{ .GroupLabels.SortedPairs.Values | join " " }}
{{- if gt (len .CommonLabels) (len .GroupLabels) }} (
{{- with .CommonLabels.Remove .GroupLabels.Names }}{{ .Values | join " " }}{{ end -}}
){{ end }}
{{- end }}
{{ define "__description" }}{{ end }}

{{ define "__text_alert_list" }}{{ range . }}Labels:
{{ range .Labels.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Annotations:
{{ range .Annotations.SortedPairs }} - {{ .Name }} = {{ .Value }}
{{ end }}Source: {{ .GeneratorURL }}
{{ end }}{{ end }}

{{ define "slack.default.title" }}{{ template "__subject" . }}{{ end }}
{{ define "slack.default.username" }}{{ template "__alertmanager" . }}{{ end }}
{{ define "slack.default.fallback" }}{{ template "slack.default.title" . }} |
{{- " " }}{{ template "slack.default.titlelink" . }}{{ end }}
{{ define "slack.default.callbackid" }}{{ end }}
{{ define "slack.default.pretext" }}{{ end }}
{{ define "slack.default.titlelink" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{ define "slack.default.iconemoji" }}{{ end }}
{{ define "slack.default.iconurl" }}{{ end }}
{{ define "slack.default.text" }}{{ end }}
{{ define "slack.default.footer" }}{{ end }}

{{ define "pagerduty.default.description" }}{{ template "__subject" . }}{{ end }}
{{ define "pagerduty.default.client" }}{{ template "__alertmanager" . }}{{ end }}
{{ define "pagerduty.default.clientURL" }}{{ template "__alertmanagerURL" . }}{{ end }}
{{ define "pagerduty.default.instances" }}{{ template "__text_alert_list" . }}{{ end }}

{{ define "email.default.subject" }}{{ template "__subject" . }}{{ end }}

{{- /* Plain-text part of e-mails whose `text` is not configured (a sira addition). */ -}}
{{ define "email.default.text" -}}
{{ template "__subject" . }}
{{ if .Alerts.Firing }}
Firing:
{{ template "__text_alert_list" .Alerts.Firing }}{{ end }}
{{- if .Alerts.Resolved }}
Resolved:
{{ template "__text_alert_list" .Alerts.Resolved }}{{ end }}
{{ template "__alertmanagerURL" . }}
{{ end }}

{{ define "__html_alert_list" -}}
<ul>
{{ range . }}<li><b>Labels</b><ul>
{{- range .Labels.SortedPairs }}<li>{{ .Name | html }} = {{ .Value | html }}</li>{{ end }}</ul>
{{- if .Annotations }}<b>Annotations</b><ul>
{{- range .Annotations.SortedPairs }}<li>{{ .Name | html }} = {{ .Value | html }}</li>{{ end -}}
</ul>{{ end }}
{{- if .GeneratorURL }}<a href="{{ .GeneratorURL | html }}">Source</a>{{ end }}</li>
{{ end }}</ul>
{{- end }}

{{ define "email.default.html" -}}
<!DOCTYPE html>
<html>
<head><meta charset="UTF-8"></head>
<body style="font-family: sans-serif">
<h2 style="color: {{ if eq .Status "firing" }}#b00020{{ else }}#2e7d32{{ end }}">
{{- .Alerts | len }} alert{{ if ne (len .Alerts) 1 }}s{{ end }} for
{{- range .GroupLabels.SortedPairs }} {{ .Name | html }}={{ .Value | html }}{{ end }}</h2>
{{ if .Alerts.Firing }}<h3>[{{ .Alerts.Firing | len }}] Firing</h3>
{{ template "__html_alert_list" .Alerts.Firing }}
{{ end }}
{{- if .Alerts.Resolved }}<h3>[{{ .Alerts.Resolved | len }}] Resolved</h3>
{{ template "__html_alert_list" .Alerts.Resolved }}
{{ end -}}
<p><a href="{{ template "__alertmanagerURL" . }}">View in sira</a></p>
</body>
</html>
{{ end }}
)tmpl";

const Defs& builtin_defs() {
  static const Defs* defs = [] {
    auto parsed = parse("default.tmpl", kBuiltins);
    if (!parsed) report_bug(parsed.error().detail, __FILE__, __LINE__);
    SIRA_RELEASE_ASSERT(parsed.has_value());
    return new Defs(std::move(parsed->defs));
  }();
  return *defs;
}

}  // namespace

// --- values ---------------------------------------------------------------------------------

TmplValue TmplValue::boolean(bool v) {
  TmplValue x;
  x.kind = Kind::kBool;
  x.b = v;
  return x;
}
TmplValue TmplValue::integer(int64_t v) {
  TmplValue x;
  x.kind = Kind::kInt;
  x.i = v;
  return x;
}
TmplValue TmplValue::real(double v) {
  TmplValue x;
  x.kind = Kind::kFloat;
  x.f = v;
  return x;
}
TmplValue TmplValue::string(std::string v) {
  TmplValue x;
  x.kind = Kind::kString;
  x.s = std::move(v);
  return x;
}
TmplValue TmplValue::time(int64_t unix_ms) {
  TmplValue x;
  x.kind = Kind::kTime;
  x.i = unix_ms;
  x.type = "Time";
  return x;
}
TmplValue TmplValue::list_of(std::vector<TmplValue> items, std::string type) {
  TmplValue x;
  x.kind = Kind::kList;
  x.list = std::make_shared<const std::vector<TmplValue>>(std::move(items));
  x.type = std::move(type);
  return x;
}
TmplValue TmplValue::map_of(std::map<std::string, TmplValue> entries, std::string type) {
  TmplValue x;
  x.kind = Kind::kMap;
  x.map = std::make_shared<const std::map<std::string, TmplValue>>(std::move(entries));
  x.type = std::move(type);
  return x;
}
TmplValue TmplValue::object(std::map<std::string, TmplValue> fields, std::string type) {
  TmplValue x = map_of(std::move(fields), std::move(type));
  x.kind = Kind::kObject;
  return x;
}
TmplValue TmplValue::kv(const LabelSet& labels) {
  std::map<std::string, TmplValue> m;
  for (const auto& [k, v] : labels) m.emplace(k, string(v));
  return map_of(std::move(m), "KV");
}

TmplValue template_value(const TemplateData& d) {
  std::vector<TmplValue> alerts;
  for (const auto& a : d.alerts)
    alerts.push_back(TmplValue::object({{"Status", TmplValue::string(a.status)},
                                        {"Labels", TmplValue::kv(a.labels)},
                                        {"Annotations", TmplValue::kv(a.annotations)},
                                        {"StartsAt", TmplValue::time(a.starts_at_ms)},
                                        {"EndsAt", TmplValue::time(a.ends_at_ms)},
                                        {"GeneratorURL", TmplValue::string(a.generator_url)},
                                        {"Fingerprint", TmplValue::string(a.fingerprint)}},
                                       "Alert"));
  return TmplValue::object({{"Receiver", TmplValue::string(d.receiver)},
                            {"Status", TmplValue::string(d.status)},
                            {"Alerts", TmplValue::list_of(std::move(alerts), "Alerts")},
                            {"GroupLabels", TmplValue::kv(d.group_labels)},
                            {"CommonLabels", TmplValue::kv(d.common_labels)},
                            {"CommonAnnotations", TmplValue::kv(d.common_annotations)},
                            {"ExternalURL", TmplValue::string(d.external_url)}},
                           "Data");
}

// --- TemplateSet ----------------------------------------------------------------------------

TemplateSet::TemplateSet() : defs_(builtin_defs()) {}

Status TemplateSet::add(std::string_view source, std::string_view text) {
  auto parsed = SIRA_TRY(parse(source, text));
  for (auto& [name, tree] : parsed.defs) defs_[name] = std::move(tree);
  return {};
}

Status TemplateSet::check(std::string_view source, std::string_view text) const {
  SIRA_CHECK(parse(source, text));
  return {};
}

Result<std::string> TemplateSet::execute(std::string_view source, std::string_view text,
                                         const TmplValue& data,
                                         const TemplateLimits& limits) const {
  auto parsed = SIRA_TRY(parse(source, text));
  Exec ex(defs_, &parsed.defs, limits);
  SIRA_CHECK(ex.run(*parsed.root, data));
  return std::move(ex.out);
}

Result<std::string> TemplateSet::execute_named(std::string_view name, const TmplValue& data,
                                               const TemplateLimits& limits) const {
  auto it = defs_.find(name);
  if (it == defs_.end())
    return fail(ErrorCode::kInvalidArgument,
                "template: no such template \"" + std::string(name) + "\"");
  Exec ex(defs_, nullptr, limits);
  SIRA_CHECK(ex.run(*it->second, data));
  return std::move(ex.out);
}

bool TemplateSet::defines(std::string_view name) const {
  return defs_.contains(name);
}

std::shared_ptr<const TemplateSet> TemplateSet::defaults() {
  static const auto set = std::make_shared<const TemplateSet>();
  return set;
}

}  // namespace sira::alerts
