#pragma once
/// The configuration schema: one table of keys (path pattern, type, default, allowed values,
/// one-line doc, and where the value lands in Config). The parser walks a document with it,
/// the validator reads its ranges and forms, and configuration_reference() prints it.

#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace drift::daemon::config_detail {

enum class KeyType : std::uint8_t {
  kString,
  kName,     ///< [a-z0-9_-]+ (appears in URLs and metric labels)
  kPointer,  ///< RFC 6901 JSON Pointer
  kInt,      ///< non-negative integer
  kNumber,   ///< finite float
  kSigma,    ///< a keyword from `choices` or a number in range
  kBool,
  kDuration,    ///< "500ms", "5s", "1h30m"
  kSize,        ///< "512MiB", "8GiB", bytes
  kEnum,        ///< one of `choices`
  kList,        ///< list of strings (of `choices` when given)
  kMap,         ///< string -> scalar, values kept as text
  kSection,     ///< a mapping of keys listed under this path
  kSectionList  ///< a list of mappings of keys listed under path + "[]"
};

/// Where parsed values land: the config and the list elements being filled.
struct Target {
  Config* config = nullptr;
  SourceConfig* source = nullptr;
  ModelConfig* model = nullptr;
  FeatureConfig* feature = nullptr;
  WebhookSettings* webhook = nullptr;
};

/// A parsed value; the field that matters depends on the key's type.
struct Value {
  std::string text;                        ///< string types, enums, kSigma's keyword
  std::uint64_t count = 0;                 ///< kInt, kSize
  double number = 0.0;                     ///< kNumber, kSigma
  bool flag = false;                       ///< kBool; kSigma: true when the keyword was given
  Duration duration{0};                    ///< kDuration
  std::vector<std::string> list;           ///< kList
  std::map<std::string, std::string> map;  ///< kMap
};

/// Stores a value (or, for sections and section lists, enters the section / appends an element
/// and points `target` at it).
using Apply = void (*)(Target&, const Value&);
/// Extra check of a string value (kMap: of each name); returns the reason it is refused, or
/// empty.
using Check = std::string (*)(std::string_view);

/// One key of the schema. Built with the chaining setters below.
struct Key {
  std::string_view path;  ///< "models[].window.slide": list elements are "[]"
  KeyType type = KeyType::kString;
  std::string_view fallback;  ///< default applied before parsing (text in the key's syntax)
  std::string_view shown;     ///< default as documented when it is not a literal
  std::string_view choices;   ///< '|'-separated: enum values, list values, kSigma keyword
  std::optional<double> min;  ///< numbers, counts (ints, list lengths), ms, bytes
  std::optional<double> max;
  bool min_open = false;  ///< min is exclusive
  bool max_open = false;
  bool required = false;
  bool allow_empty = false;     ///< strings and pointers may be ""
  bool unique = false;          ///< kList: no repeats; list element key: unique across elements
  bool discriminator = false;   ///< its value selects which `only_for` keys apply
  bool needs_form = false;      ///< kSection: exactly one of its children's forms
  bool file_suffix = false;     ///< kMap: "<key>_file: path" reads the file into <key>
  std::string_view only_for;    ///< '|'-separated discriminator values this key applies to
  std::string_view form;        ///< alternative form (named by its lead key) in its section
  std::string_view secret_for;  ///< a "*_file" key: the sibling key the file's text fills
  /// kSection: its keys mirror those of the section `base`, and each one given replaces that
  /// section's value: the parser keeps them and applies them again over `base`'s final value,
  /// so the file may give the two in any order (a model's alerts.policy over alerts.policy).
  std::string_view base;
  Check check = nullptr;
  Apply apply = nullptr;
  std::string_view doc;

  Key(std::string_view key_path, KeyType key_type) : path(key_path), type(key_type) {}
  Key& def(std::string_view text) {
    fallback = text;
    return *this;
  }
  Key& show(std::string_view text) {
    shown = text;
    return *this;
  }
  Key& one_of(std::string_view values) {
    choices = values;
    return *this;
  }
  Key& at_least(double value) {
    min = value;
    return *this;
  }
  Key& above(double value) {
    min = value;
    min_open = true;
    return *this;
  }
  Key& at_most(double value) {
    max = value;
    return *this;
  }
  Key& below(double value) {
    max = value;
    max_open = true;
    return *this;
  }
  Key& needed() {
    required = true;
    return *this;
  }
  Key& may_be_empty() {
    allow_empty = true;
    return *this;
  }
  Key& distinct() {
    unique = true;
    return *this;
  }
  Key& selects() {
    discriminator = true;
    return *this;
  }
  Key& one_form() {
    needs_form = true;
    return *this;
  }
  Key& file_keys() {
    file_suffix = true;
    return *this;
  }
  Key& when(std::string_view values) {
    only_for = values;
    return *this;
  }
  Key& in_form(std::string_view lead) {
    form = lead;
    return *this;
  }
  Key& secret_of(std::string_view sibling) {
    secret_for = sibling;
    return *this;
  }
  Key& over(std::string_view section) {
    base = section;
    return *this;
  }
  Key& checked(Check fn) {
    check = fn;
    return *this;
  }
  Key& to(Apply fn) {
    apply = fn;
    return *this;
  }
  Key& about(std::string_view text) {
    doc = text;
    return *this;
  }

  /// The last path component ("slide"); the path up to it ("models[].window").
  std::string_view name() const;
  std::string_view parent() const;
};

/// Every key, parents before children, in the order of the reference document.
std::span<const Key> schema();
/// The key with this exact path pattern, or nullptr.
const Key* find_key(std::string_view path);
/// The keys directly under `parent` ("" = top level, "sources[]" = a source).
std::vector<const Key*> children_of(std::string_view parent);

/// The key's numeric bounds in words, values in the key's syntax: "at least 1", "between 2 and
/// 1000", "greater than 0", "strictly between 0 and 1", "at least 100ms"; empty when unbounded.
std::string range_text(const Key& key);
/// Whether `value` (in the key's unit: ms for durations, bytes for sizes) is within the bounds.
bool in_range(const Key& key, double value);
/// "a non-negative integer", "a duration", "one of auto, cpu, gpu"... (after "expected").
std::string type_phrase(const Key& key);

/// Whether `value` is one of the '|'-separated `choices`.
bool is_choice(std::string_view choices, std::string_view value);
/// Splits '|'-separated choices.
std::vector<std::string> split_choices(std::string_view choices);

}  // namespace drift::daemon::config_detail
