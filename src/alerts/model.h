// Alert data model as Alertmanager 0.25 defines it: label sets, fingerprints, the alert value.
//
// Fingerprints and label-set strings are byte-compatible with prometheus/common `model`
// (LabelSet.Fingerprint, LabelSet.String), so dedup keys and group keys match an existing
// Alertmanager. Everything here is a plain value or a pure function: thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/error.h"

namespace sira::alerts {

// Label name -> value, ordered by name (byte order, as Go's sort.Strings).
using LabelSet = std::map<std::string, std::string>;

// Alertmanager 0.25 label names: [a-zA-Z_][a-zA-Z0-9_]*.
bool valid_label_name(std::string_view name);

// True when `s` is well-formed UTF-8 (Go's utf8.ValidString: no overlongs, no surrogates,
// nothing above U+10FFFF). Label values must be valid UTF-8.
bool valid_utf8(std::string_view s);

// FNV-1a 64 over the labels sorted by name, each name and value followed by the byte 0xff.
// The empty set hashes to the FNV offset basis 14695981039346656037.
uint64_t fingerprint(const LabelSet& labels);

// 16 lowercase hex digits, zero padded, as Alertmanager prints fingerprints.
std::string fingerprint_hex(uint64_t fp);
// Parses what fingerprint_hex printed (1 to 16 hex digits). False on bad input.
bool parse_fingerprint_hex(std::string_view text, uint64_t* fp);

// Go's strconv.Quote (the %q verb): double quotes, \" \\ \a \b \f \n \r \t \v, \xNN for
// control bytes and invalid UTF-8, \uNNNN / \UNNNNNNNN for non-printable runes.
std::string go_quote(std::string_view s);

// Alertmanager's LabelSet.String(): `{a="b", c="d"}`, pairs formatted name=%q and sorted as
// strings, joined by ", ". The empty set is `{}`.
std::string label_set_string(const LabelSet& labels);

struct Alert {
  LabelSet labels;
  LabelSet annotations;
  int64_t starts_at_ms = 0;
  int64_t ends_at_ms = 0;  // 0 = not set
  int64_t updated_at_ms = 0;
  std::string generator_url;
  uint64_t fp = 0;  // fingerprint(labels), filled by whoever builds the alert

  // Alertmanager's Alert.ResolvedAt: endsAt set and not after `now_ms`.
  bool resolved_at(int64_t now_ms) const { return ends_at_ms != 0 && ends_at_ms <= now_ms; }
};

// Alertmanager's model.Alert.Validate, in its order: start time set ("startsAt"), endsAt not
// before startsAt ("endsAt"), valid label names and UTF-8 values ("labels"), at least one label
// ("labels"), valid annotation names and values ("annotations"). kInvalidArgument with the
// field. Whether `alertname` is present is the API's business, not checked here.
Status validate_alert(const Alert& alert);

}  // namespace sira::alerts
