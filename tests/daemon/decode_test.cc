#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "column_builder.h"
#include "decode/decoder.h"

namespace {

using drift::FeatureKind;
using drift::daemon::CategoryRef;
using drift::daemon::ConfigError;
using drift::daemon::DecodeCounts;
using drift::daemon::DecodedRows;
using drift::daemon::Decoder;
using drift::daemon::FeatureConfig;
using drift::daemon::FeatureOrigin;
using drift::daemon::Header;
using drift::daemon::kMaxRecordBytes;
using drift::daemon::kRejectReasons;
using drift::daemon::MatchRule;
using drift::daemon::ModelConfig;
using drift::daemon::parse_rfc3339_ms;
using drift::daemon::RawRecord;
using drift::daemon::RecordFormat;
using drift::daemon::RejectReason;

constexpr std::int64_t kArrival = 1'700'000'000'000;
constexpr RecordFormat kFlat = RecordFormat::kFlat;
constexpr RecordFormat kV1 = RecordFormat::kKserveV1;
constexpr RecordFormat kV2 = RecordFormat::kKserveV2;

FeatureConfig numeric(std::string name, std::string pointer,
                      FeatureOrigin from = FeatureOrigin::kRecord) {
  FeatureConfig feature;
  feature.name = std::move(name);
  feature.pointer = std::move(pointer);
  feature.kind = FeatureKind::kNumeric;
  feature.from = from;
  return feature;
}

FeatureConfig categorical(std::string name, std::string pointer,
                          FeatureOrigin from = FeatureOrigin::kRecord) {
  FeatureConfig feature = numeric(std::move(name), std::move(pointer), from);
  feature.kind = FeatureKind::kCategorical;
  return feature;
}

FeatureConfig prediction(std::string name, std::string pointer) {
  return numeric(std::move(name), std::move(pointer), FeatureOrigin::kPrediction);
}

MatchRule all() { return MatchRule{}; }

MatchRule by_pointer(std::string pointer, std::string equals) {
  return MatchRule{MatchRule::Kind::kPointer, std::move(pointer), std::move(equals)};
}

MatchRule by_header(std::string name, std::string equals) {
  return MatchRule{MatchRule::Kind::kHeader, std::move(name), std::move(equals)};
}

ModelConfig model(std::string name, MatchRule match, std::vector<FeatureConfig> features,
                  std::string timestamp_pointer = "") {
  ModelConfig config;
  config.name = std::move(name);
  config.match = std::move(match);
  config.features = std::move(features);
  config.timestamp_pointer = std::move(timestamp_pointer);
  return config;
}

RawRecord record(std::string_view body, std::string_view response = {},
                 std::span<const Header> headers = {}, std::int64_t arrival_ms = kArrival) {
  RawRecord raw;
  raw.body = body;
  raw.response_body = response;
  raw.headers = headers;
  raw.arrival_ms = arrival_ms;
  return raw;
}

struct Result {
  std::vector<DecodedRows> rows;
  DecodeCounts counts;

  std::uint64_t accepted(std::size_t m) const { return counts.accepted_rows.at(m); }
  std::uint64_t rejected(std::size_t m, RejectReason reason) const {
    return counts.rejected.at(m)[static_cast<std::size_t>(reason)];
  }
  std::uint64_t unmatched(RejectReason reason) const {
    return counts.unmatched[static_cast<std::size_t>(reason)];
  }
  std::uint64_t rejected_total(std::size_t m) const {
    std::uint64_t total = 0;
    for (const auto count : counts.rejected.at(m)) total += count;
    return total;
  }
  std::uint64_t unmatched_total() const {
    std::uint64_t total = 0;
    for (const auto count : counts.unmatched) total += count;
    return total;
  }
};

Result run(const Decoder& decoder, const std::vector<RawRecord>& records) {
  Result result;
  decoder.decode(records, result.rows, result.counts);
  return result;
}

Result run_one(std::vector<ModelConfig> models, RecordFormat format, std::string_view body,
               std::string_view response = {}, std::span<const Header> headers = {}) {
  const Decoder decoder(std::move(models), format);
  return run(decoder, {record(body, response, headers)});
}

/// Categorical value `row` of column `column`, or "<missing>".
std::string category(const DecodedRows& rows, std::size_t column, std::size_t row) {
  const CategoryRef& ref = rows.categorical.at(column).at(row);
  if (ref.length == CategoryRef::kMissingLength) return "<missing>";
  return std::string(rows.category(ref));
}

/// The float the batch readers make of a literal (NaN for missing).
float batch_float(std::string_view literal) {
  float value = 0.0f;
  const auto kind =
      drift::daemon::detail::parse_float(literal.data(), literal.data() + literal.size(), value);
  return kind == drift::daemon::detail::NumberKind::kNumber
             ? value
             : std::numeric_limits<float>::quiet_NaN();
}

bool same_float(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) ||
         std::bit_cast<std::uint32_t>(a) == std::bit_cast<std::uint32_t>(b);
}

// ---------------------------------------------------------------------------------------------
// Flat records

TEST_CASE("A flat object becomes one row with numeric, categorical and time columns",
          "[decode][unit]") {
  const auto result = run_one(
      {model("fraud", all(),
             {numeric("amount", "/amount"), categorical("country", "/country"),
              numeric("score", "/prediction")},
             "/ts")},
      kFlat, R"({"ts": 1764237600123, "amount": 12.5, "country": "US", "prediction": 0.87})");
  REQUIRE(result.accepted(0) == 1);
  REQUIRE(result.rejected_total(0) == 0);
  const DecodedRows& rows = result.rows.at(0);
  REQUIRE(rows.rows() == 1);
  REQUIRE(rows.numeric.size() == 2);
  REQUIRE(rows.categorical.size() == 1);
  CHECK(rows.numeric[0][0] == 12.5f);
  CHECK(rows.numeric[1][0] == 0.87f);
  CHECK(category(rows, 0, 0) == "US");
  CHECK(rows.timestamp_ms[0] == 1764237600123);
}

TEST_CASE("A flat array of objects becomes one row per object", "[decode][unit]") {
  const auto result = run_one({model("m", all(), {numeric("x", "/x"), categorical("c", "/c")})},
                              kFlat, R"([{"x": 1, "c": "a"}, {"x": 2, "c": "b"}, {"x": 3}])");
  REQUIRE(result.accepted(0) == 3);
  const DecodedRows& rows = result.rows.at(0);
  REQUIRE(rows.rows() == 3);
  CHECK(rows.numeric[0] == std::vector<float>{1.0f, 2.0f, 3.0f});
  CHECK(category(rows, 0, 0) == "a");
  CHECK(category(rows, 0, 1) == "b");
  CHECK(category(rows, 0, 2) == "<missing>");
  CHECK(rows.timestamp_ms == std::vector<std::int64_t>{kArrival, kArrival, kArrival});
}

TEST_CASE("Pointers reach nested objects, array elements and escaped keys", "[decode][unit]") {
  const auto result =
      run_one({model("m", all(),
                     {numeric("nested", "/a/b/c"), numeric("element", "/list/2"),
                      numeric("deep", "/rows/1/v"), numeric("slash", "/a~1b"),
                      numeric("tilde", "/m~0n"), numeric("digit_key", "/obj/0"),
                      numeric("empty_key", "/"), numeric("escaped", "/esc")})},
              kFlat,
              R"({"a": {"b": {"c": 1.5}}, "list": [10, 20, 30, 40], "rows": [{"v": 5}, {"v": 6}],
          "a/b": 7, "m~n": 8, "obj": {"0": 9}, "": 11, "e\u0073c": 12})");
  REQUIRE(result.accepted(0) == 1);
  const auto& numeric_columns = result.rows.at(0).numeric;
  CHECK(numeric_columns[0][0] == 1.5f);
  CHECK(numeric_columns[1][0] == 30.0f);
  CHECK(numeric_columns[2][0] == 6.0f);
  CHECK(numeric_columns[3][0] == 7.0f);
  CHECK(numeric_columns[4][0] == 8.0f);
  CHECK(numeric_columns[5][0] == 9.0f);
  CHECK(numeric_columns[6][0] == 11.0f);
  CHECK(numeric_columns[7][0] == 12.0f);
}

TEST_CASE("Keys match pointers exactly in any order, escaped, long or holding quotes",
          "[decode][unit]") {
  const Decoder decoder(
      {model("m", all(),
             {numeric("f0", "/f0"), numeric("f1", "/f1"), numeric("long", "/a_rather_long_key_name"),
              numeric("longer", "/a_key_longer_than_thirty_two_bytes_x"),
              numeric("quote", "/q\"t"), numeric("f2", "/f2"), numeric("empty", "/")})},
      kFlat);
  // Near misses before each key (a prefix, an extension, one byte off), escapes, and the same
  // keys in reverse order.
  const std::string forward =
      R"({"f": 9, "f0x": 8, "f0": 1, "f1": 2, "a_rather_long_key_namE": 7,
          "a_rather_long_key_name": 3, "a_key_longer_than_thirty_two_bytes_y": 9,
          "a_key_longer_than_thirty_two_bytes_x": 4, "q\"t": 5, "f\u0032": 6, "": 10})";
  const std::string backward =
      R"({"": 10, "f\u0032": 6, "q\"t": 5, "a_key_longer_than_thirty_two_bytes_x": 4,
          "a_rather_long_key_name": 3, "f1": 2, "f0": 1, "f0x": 8, "f": 9})";
  const std::string duplicates = R"({"f0": 1, "f1": 2, "f\u0030": 11, "f1": 12})";
  const auto result =
      run(decoder, {record(forward), record(backward), record(duplicates), record(R"({"f1":5})")});
  REQUIRE(result.accepted(0) == 4);
  const auto& columns = result.rows.at(0).numeric;
  for (std::size_t row = 0; row < 2; ++row) {
    CHECK(columns[0][row] == 1.0f);
    CHECK(columns[1][row] == 2.0f);
    CHECK(columns[2][row] == 3.0f);
    CHECK(columns[3][row] == 4.0f);
    CHECK(columns[4][row] == 5.0f);
    CHECK(columns[5][row] == 6.0f);
    CHECK(columns[6][row] == 10.0f);
  }
  CHECK(columns[0][2] == 11.0f);  // the last of duplicate keys wins
  CHECK(columns[1][2] == 12.0f);
  CHECK(std::isnan(columns[0][3]));
  CHECK(columns[1][3] == 5.0f);
}

TEST_CASE("Absent pointers and nulls are missing values", "[decode][unit]") {
  const auto result =
      run_one({model("m", all(),
                     {numeric("null", "/n"), numeric("absent", "/nope"),
                      numeric("past_end", "/list/5"), numeric("through_scalar", "/x/y"),
                      categorical("cnull", "/n"), categorical("cabsent", "/nope")})},
              kFlat, R"({"n": null, "list": [1], "x": 3})");
  REQUIRE(result.accepted(0) == 1);
  const DecodedRows& rows = result.rows.at(0);
  for (const auto& column : rows.numeric) CHECK(std::isnan(column.at(0)));
  CHECK(category(rows, 0, 0) == "<missing>");
  CHECK(category(rows, 1, 0) == "<missing>");
}

TEST_CASE("A string, object or array for a numeric feature rejects the row as wrong_type",
          "[decode][unit]") {
  const Decoder decoder({model("m", all(), {numeric("x", "/x"), numeric("y", "/y")})}, kFlat);
  const std::vector<std::string> bodies = {R"({"x": "1.5", "y": 1})", R"({"x": "NaN", "y": 1})",
                                           R"({"x": "inf", "y": 1})", R"({"x": {"v": 1}, "y": 1})",
                                           R"({"x": [1], "y": 1})",   R"({"x": 1, "y": "2"})"};
  std::vector<RawRecord> records;
  for (const auto& body : bodies) records.push_back(record(body));
  records.push_back(record(R"({"x": 1, "y": 2})"));
  const auto result = run(decoder, records);
  CHECK(result.rejected(0, RejectReason::kWrongType) == bodies.size());
  CHECK(result.accepted(0) == 1);
  // The rejected rows left nothing behind: one row, complete.
  const DecodedRows& rows = result.rows.at(0);
  REQUIRE(rows.rows() == 1);
  CHECK(rows.numeric[0] == std::vector<float>{1.0f});
  CHECK(rows.numeric[1] == std::vector<float>{2.0f});
}

TEST_CASE("Categorical values are strings, number literals as written and true/false",
          "[decode][unit]") {
  const auto result =
      run_one({model("m", all(),
                     {categorical("s", "/s"), categorical("int", "/i"), categorical("real", "/r"),
                      categorical("exp", "/e"), categorical("yes", "/t"), categorical("no", "/f"),
                      categorical("escaped", "/u"), categorical("empty", "/empty")})},
              kFlat,
              R"({"s": "web", "i": 3, "r": 2.50, "e": -1E+2, "t": true, "f": false,
          "u": "caf\u00e9 \"q\"", "empty": ""})");
  REQUIRE(result.accepted(0) == 1);
  const DecodedRows& rows = result.rows.at(0);
  CHECK(category(rows, 0, 0) == "web");
  CHECK(category(rows, 1, 0) == "3");
  CHECK(category(rows, 2, 0) == "2.50");
  CHECK(category(rows, 3, 0) == "-1E+2");
  CHECK(category(rows, 4, 0) == "true");
  CHECK(category(rows, 5, 0) == "false");
  CHECK(category(rows, 6, 0) == "caf\xC3\xA9 \"q\"");
  CHECK(category(rows, 7, 0) == "");
  CHECK(rows.categorical[7][0].length == 0);
}

TEST_CASE("An object or array for a categorical feature is wrong_type", "[decode][unit]") {
  const Decoder decoder({model("m", all(), {categorical("c", "/c")})}, kFlat);
  const auto result = run(
      decoder, {record(R"({"c": {"a": 1}})"), record(R"({"c": ["a"]})"), record(R"({"c": "ok"})")});
  CHECK(result.rejected(0, RejectReason::kWrongType) == 2);
  CHECK(result.accepted(0) == 1);
  REQUIRE(result.rows.at(0).rows() == 1);
  CHECK(result.rows.at(0).arena == "ok");
}

TEST_CASE("Flat records hold their predictions: from prediction reads the record",
          "[decode][unit]") {
  const auto result = run_one({model("m", all(), {prediction("p", "/prediction")})}, kFlat,
                              R"({"prediction": 0.25})");
  REQUIRE(result.accepted(0) == 1);
  CHECK(result.rows.at(0).numeric[0][0] == 0.25f);
}

TEST_CASE("Booleans are 1 and 0 for numeric features", "[decode][unit]") {
  const auto result = run_one({model("m", all(), {numeric("t", "/t"), numeric("f", "/f")})}, kFlat,
                              R"({"t": true, "f": false})");
  REQUIRE(result.accepted(0) == 1);
  CHECK(result.rows.at(0).numeric[0][0] == 1.0f);
  CHECK(result.rows.at(0).numeric[1][0] == 0.0f);
}

TEST_CASE("Numbers round to float32 exactly like the batch readers", "[decode][unit]") {
  std::vector<std::string> literals = {"0",
                                       "-0",
                                       "1",
                                       "-1",
                                       "0.1",
                                       "-0.1",
                                       "12.5",
                                       "3.4028235e38",
                                       "1.17549435e-38",
                                       "1e-45",
                                       "7e-46",
                                       "16777217",
                                       "16777217.0",
                                       "1.6777217e7",
                                       "0.16777217e8",
                                       "-16777219",
                                       "33554435",
                                       "9007199254740993",
                                       "123456789012345678901234567890",
                                       "0.000001234",
                                       "1E5",
                                       "1e+5",
                                       "2.5E-3",
                                       "99999999",
                                       "0.99999999",
                                       "1234567.8",
                                       "-9876543.21",
                                       "4.9406564584124654e-324",
                                       "340282356779733661637539395458142568448",
                                       "1234567.1234567",
                                       "-9999999.9999999",
                                       "0.0000001",
                                       "7.0",
                                       "1234567",
                                       "12345678",
                                       "-12345678.5",
                                       "1.12345678"};
  std::mt19937_64 rng(11);
  for (int i = 0; i < 3000; ++i) {
    std::string literal = rng() % 2 ? "-" : "";
    const int integer_digits = 1 + static_cast<int>(rng() % 9);
    for (int d = 0; d < integer_digits; ++d) {
      literal +=
          static_cast<char>('0' + (d == 0 && integer_digits > 1 ? 1 + rng() % 9 : rng() % 10));
    }
    const int fraction_digits = static_cast<int>(rng() % 12);
    if (fraction_digits > 0) literal += '.';
    for (int d = 0; d < fraction_digits; ++d) literal += static_cast<char>('0' + rng() % 10);
    if (rng() % 5 == 0) literal += "e" + std::to_string(static_cast<int>(rng() % 90) - 45);
    literals.push_back(literal);
  }
  std::string body = "[";
  for (std::size_t i = 0; i < literals.size(); ++i) {
    body += (i == 0 ? "{\"x\": " : ", {\"x\": ") + literals[i] + "}";
  }
  body += "]";
  const auto result = run_one({model("m", all(), {numeric("x", "/x")})}, kFlat, body);
  REQUIRE(result.accepted(0) == literals.size());
  const auto& column = result.rows.at(0).numeric[0];
  for (std::size_t i = 0; i < literals.size(); ++i) {
    INFO(literals[i]);
    CHECK(same_float(column[i], batch_float(literals[i])));
  }
}

TEST_CASE("Literals beyond float range are missing; tiny ones round to zero", "[decode][unit]") {
  const auto result =
      run_one({model("m", all(),
                     {numeric("big", "/big"), numeric("huge", "/huge"), numeric("negative", "/neg"),
                      numeric("tiny", "/tiny")})},
              kFlat, R"({"big": 3.5e38, "huge": 1e400, "neg": -1e39, "tiny": 1e-60})");
  REQUIRE(result.accepted(0) == 1);
  const auto& columns = result.rows.at(0).numeric;
  CHECK(std::isnan(columns[0][0]));
  CHECK(std::isnan(columns[1][0]));
  CHECK(std::isnan(columns[2][0]));
  CHECK(columns[3][0] == 0.0f);
}

TEST_CASE("A malformed number a feature reads is invalid_json", "[decode][unit]") {
  const Decoder decoder({model("m", all(), {numeric("x", "/x"), categorical("c", "/c")})}, kFlat);
  const std::vector<std::string> bodies = {R"({"x": 01})",   R"({"x": 1.})",    R"({"x": -})",
                                           R"({"x": 1e})",   R"({"x": 1.2.3})", R"({"x": 1x})",
                                           R"({"c": 0123})", R"({"x": -.5})",
                                           R"({"x": 1.-5})", R"({"x": 00.5})",
                                           R"({"x": -01.5})", R"({"x": 1..5})",
                                           R"({"x": 1.5.})", R"({"x": .5})"};
  std::vector<RawRecord> records;
  for (const auto& body : bodies) records.push_back(record(body));
  const auto result = run(decoder, records);
  CHECK(result.rejected(0, RejectReason::kInvalidJson) == bodies.size());
  CHECK(result.accepted(0) == 0);
  CHECK(result.rows.at(0).rows() == 0);
}

TEST_CASE("Invalid JSON is counted under unmatched when no model can claim the record",
          "[decode][unit]") {
  const Decoder decoder({model("m", by_pointer("/model", "a"), {numeric("x", "/x")})}, kFlat);
  const std::vector<std::string> bodies = {R"({"model": "a", "x": 1)",
                                           R"({"model": "a", "x": 1} extra)",
                                           R"({"model": "a" "x": 1})",
                                           R"({"model": "a", "x": tru})",
                                           R"(nope)",
                                           "",
                                           "   ",
                                           R"({"model": "a", "x": nul})",
                                           R"({"model": "a\q", "x": 1})",
                                           "[{\"model\": \"a\"}, ",
                                           "{\"model\": \"a\xff\", \"x\": 1}",
                                           "{\"model\": \"a\tb\", \"x\": 1}"};
  std::vector<RawRecord> records;
  for (const auto& body : bodies) records.push_back(record(body));
  const auto result = run(decoder, records);
  CHECK(result.unmatched(RejectReason::kInvalidJson) == bodies.size());
  CHECK(result.accepted(0) == 0);
  CHECK(result.rejected_total(0) == 0);
}

TEST_CASE("Invalid JSON is counted for the models that take every record", "[decode][unit]") {
  const Decoder decoder({model("any", all(), {numeric("x", "/x")}),
                         model("picky", by_pointer("/model", "a"), {numeric("x", "/x")})},
                        kFlat);
  const auto result = run(decoder, {record(R"({"x": )")});
  CHECK(result.rejected(0, RejectReason::kInvalidJson) == 1);
  CHECK(result.rejected_total(1) == 0);
  CHECK(result.unmatched_total() == 0);
}

TEST_CASE("A valid body that is not an object or array of objects is not_an_object",
          "[decode][unit]") {
  const Decoder decoder({model("m", all(), {numeric("x", "/x")})}, kFlat);
  const auto result =
      run(decoder, {record("42"), record(R"("text")"), record("null"), record("true"),
                    record(R"([{"x": 1}, 2, "s", [3], {"x": 4}])")});
  CHECK(result.rejected(0, RejectReason::kNotAnObject) == 4 + 3);
  CHECK(result.accepted(0) == 2);
  CHECK(result.rows.at(0).numeric[0] == std::vector<float>{1.0f, 4.0f});
}

TEST_CASE("A flat array found malformed part-way adds no rows", "[decode][unit]") {
  const Decoder decoder({model("m", all(), {numeric("x", "/x"), categorical("c", "/c")})}, kFlat);
  std::vector<DecodedRows> out;
  DecodeCounts counts;
  decoder.decode(std::vector<RawRecord>{record(R"({"x": 1, "c": "keep"})")}, out, counts);
  const std::vector<RawRecord> bad = {
      record(R"([{"x": 2, "c": "drop"}, {"x": "wrong"}, {"x": 3, "c": "drop"}, {"x": ]])")};
  decoder.decode(bad, out, counts);
  CHECK(counts.accepted_rows.at(0) == 1);
  CHECK(counts.rejected.at(0)[static_cast<std::size_t>(RejectReason::kInvalidJson)] == 1);
  CHECK(counts.rejected.at(0)[static_cast<std::size_t>(RejectReason::kWrongType)] == 0);
  REQUIRE(out.at(0).rows() == 1);
  CHECK(out.at(0).numeric[0].size() == 1);
  CHECK(out.at(0).categorical[0].size() == 1);
  CHECK(out.at(0).arena == "keep");
}

TEST_CASE("A body over the size limit is too_large", "[decode][unit]") {
  const Decoder decoder({model("m", all(), {numeric("x", "/x")})}, kFlat);
  const std::string huge(kMaxRecordBytes + 1, ' ');
  const auto result = run(decoder, {record(huge)});
  CHECK(result.rejected(0, RejectReason::kTooLarge) == 1);
}

// ---------------------------------------------------------------------------------------------
// Routing

TEST_CASE("Routing by pointer compares strings, numbers as written and bools as text",
          "[decode][unit]") {
  const Decoder decoder({model("fraud", by_pointer("/model", "fraud"), {numeric("x", "/x")}),
                         model("v2", by_pointer("/meta/version", "2"), {numeric("x", "/x")}),
                         model("flag", by_pointer("/on", "true"), {numeric("x", "/x")})},
                        kFlat);
  const auto result =
      run(decoder,
          {record(R"({"model": "fraud", "x": 1})"), record(R"({"meta": {"version": 2}, "x": 2})"),
           record(R"({"meta": {"version": 2.0}, "x": 3})"), record(R"({"on": true, "x": 4})"),
           record(R"({"model": "credit", "x": 5})"), record(R"({"x": 6})"),
           record(R"({"model": null, "x": 7})"), record(R"({"model": ["fraud"], "x": 8})")});
  CHECK(result.accepted(0) == 1);
  CHECK(result.accepted(1) == 1);
  CHECK(result.accepted(2) == 1);
  CHECK(result.unmatched(RejectReason::kNoModel) == 5);
  CHECK(result.rows.at(1).numeric[0] == std::vector<float>{2.0f});
}

TEST_CASE("Routing by header reads the lower-case header name", "[decode][unit]") {
  const Decoder decoder(
      {model("fraud", by_header("ce-inferenceservicename", "fraud"), {numeric("x", "/x")}),
       model("credit", by_header("Ce-InferenceServiceName", "credit"), {numeric("x", "/x")})},
      kFlat);
  const std::vector<Header> fraud = {{"ce-id", "1"}, {"ce-inferenceservicename", "fraud"}};
  const std::vector<Header> credit = {{"ce-inferenceservicename", "credit"}};
  const std::vector<Header> other = {{"ce-inferenceservicename", "other"}};
  const auto result =
      run(decoder, {record(R"({"x": 1})", {}, fraud), record(R"({"x": 2})", {}, credit),
                    record(R"({"x": 3})", {}, other), record(R"({"x": 4})")});
  CHECK(result.accepted(0) == 1);
  CHECK(result.accepted(1) == 1);
  CHECK(result.unmatched(RejectReason::kNoModel) == 2);
  CHECK(result.rows.at(1).numeric[0] == std::vector<float>{2.0f});
}

TEST_CASE("One record can feed several models, each with its own outcome", "[decode][unit]") {
  const Decoder decoder({model("a", all(), {numeric("x", "/x")}),
                         model("b", by_pointer("/kind", "k"), {numeric("y", "/y")}),
                         model("c", all(), {categorical("x_as_text", "/x")})},
                        kFlat);
  const auto result = run(decoder, {record(R"({"kind": "k", "x": 1, "y": "oops"})"),
                                    record(R"({"kind": "k", "x": 2, "y": 5})")});
  CHECK(result.accepted(0) == 2);
  CHECK(result.accepted(1) == 1);
  CHECK(result.rejected(1, RejectReason::kWrongType) == 1);
  CHECK(result.accepted(2) == 2);
  CHECK(result.rows.at(1).numeric[0] == std::vector<float>{5.0f});
  CHECK(category(result.rows.at(2), 0, 1) == "2");
}

// ---------------------------------------------------------------------------------------------
// Timestamps

TEST_CASE("Timestamps may be epoch seconds, milliseconds or RFC 3339", "[decode][unit]") {
  const Decoder decoder({model("m", all(), {numeric("x", "/x")}, "/t")}, kFlat);
  const auto result = run(
      decoder,
      {record(R"({"t": 1764237600, "x": 1})"), record(R"({"t": 1764237600123, "x": 1})"),
       record(R"({"t": 1764237600.5, "x": 1})"), record(R"({"t": "2026-11-27T10:00:00Z", "x": 1})"),
       record(R"({"t": "2026-11-27T11:00:00+01:00", "x": 1})"),
       record(R"({"t": "2026-11-27T10:00:00.123456Z", "x": 1})"), record(R"({"x": 1})"),
       record(R"({"t": null, "x": 1})")});
  REQUIRE(result.accepted(0) == 8);
  CHECK(result.rows.at(0).timestamp_ms ==
        std::vector<std::int64_t>{1764237600000, 1764237600123, 1764237600500, 1795773600000,
                                  1795773600000, 1795773600123, kArrival, kArrival});
}

TEST_CASE("A timestamp that is not a time rejects the row as bad_timestamp", "[decode][unit]") {
  const Decoder decoder({model("m", all(), {numeric("x", "/x")}, "/t")}, kFlat);
  const auto result = run(
      decoder, {record(R"({"t": "yesterday", "x": 1})"), record(R"({"t": true, "x": 1})"),
                record(R"({"t": {"s": 1}, "x": 1})"), record(R"({"t": "2026-02-30T00:00:00Z"})"),
                record(R"({"t": "2026-11-27T10:00:00", "x": 1})"), record(R"({"t": 1e400})")});
  CHECK(result.rejected(0, RejectReason::kBadTimestamp) == 6);
  CHECK(result.accepted(0) == 0);
}

TEST_CASE("parse_rfc3339_ms reads RFC 3339 and epoch numbers", "[decode][unit]") {
  const auto parse = [](std::string_view text) {
    std::int64_t ms = -1;
    return parse_rfc3339_ms(text, ms) ? ms : std::int64_t{-999};
  };
  CHECK(parse("1970-01-01T00:00:00Z") == 0);
  CHECK(parse("2026-11-27T10:00:00Z") == 1795773600000);
  CHECK(parse("2026-11-27t10:00:00z") == 1795773600000);
  CHECK(parse("2026-11-27 10:00:00Z") == 1795773600000);
  CHECK(parse("2026-11-27T10:00:00.5Z") == 1795773600500);
  CHECK(parse("2026-11-27T10:00:00.123999Z") == 1795773600123);
  CHECK(parse("2026-11-27T10:00:00+01:00") == 1795773600000 - 3600000);
  CHECK(parse("2026-11-27T10:00:00-05:30") == 1795773600000 + 19800000);
  CHECK(parse("2024-02-29T00:00:00Z") == 1709164800000);
  CHECK(parse("1969-12-31T23:59:59.999Z") == -1);
  CHECK(parse("2016-12-31T23:59:60Z") == 1483228800000);
  CHECK(parse("1764237600") == 1764237600000);
  CHECK(parse("1764237600123") == 1764237600123);
  CHECK(parse("100000000000") == 100000000000000);  // 1e11 itself is seconds
  CHECK(parse("100000000001") == 100000000001);     // above: milliseconds
  CHECK(parse("1764237600.25") == 1764237600250);
  CHECK(parse("1.7642376e9") == 1764237600000);
  CHECK(parse("-1.5") == -1500);
  CHECK(parse("0") == 0);
  for (const char* bad : {"",
                          "abc",
                          "2026-11-27",
                          "2026-11-27T10:00:00",
                          "2023-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-11-27T24:00:00Z",
                          "2026-11-27T10:60:00Z",
                          "2026-11-27T10:00:00.Z",
                          "2026-11-27T10:00:00+1:00",
                          "2026-11-27T10:00:00+01:00x",
                          "2026-11-27X10:00:00Z",
                          "1764237600x",
                          "01764237600",
                          "1.",
                          "+5",
                          "NaN",
                          "inf",
                          "1e400",
                          "99999999999999999999999"}) {
    INFO(bad);
    CHECK(parse(bad) == -999);
  }
}

// ---------------------------------------------------------------------------------------------
// KServe v1

TEST_CASE("KServe v1 instances become rows joined with their predictions", "[decode][unit]") {
  const std::vector<Header> headers = {{"ce-inferenceservicename", "fraud"},
                                       {"ce-time", "2026-11-27T10:00:00.250Z"}};
  const auto result =
      run_one({model("fraud", by_header("ce-inferenceservicename", "fraud"),
                     {numeric("a", "/0"), numeric("b", "/2"), prediction("p", "")})},
              kV1, R"({"instances": [[1, 2, 3], [4, 5, 6], [7, 8, 9]]})",
              R"({"predictions": [0.1, 0.2, 0.3]})", headers);
  REQUIRE(result.accepted(0) == 3);
  const DecodedRows& rows = result.rows.at(0);
  CHECK(rows.numeric[0] == std::vector<float>{1, 4, 7});
  CHECK(rows.numeric[1] == std::vector<float>{3, 6, 9});
  CHECK(rows.numeric[2] == std::vector<float>{0.1f, 0.2f, 0.3f});
  CHECK(rows.timestamp_ms == std::vector<std::int64_t>(3, 1795773600250));
}

TEST_CASE("KServe v1 object rows, the inputs key and object predictions", "[decode][unit]") {
  const auto result = run_one(
      {model("m", all(),
             {numeric("amount", "/amount"), categorical("country", "/geo/country"),
              prediction("score", "/score"),
              categorical("label", "/label", FeatureOrigin::kPrediction)})},
      kV1, R"({"inputs": [{"amount": 10, "geo": {"country": "DE"}}, {"amount": 20}]})",
      R"({"predictions": [{"score": 0.9, "label": "fraud"}, {"score": 0.1, "label": "ok"}]})");
  REQUIRE(result.accepted(0) == 2);
  const DecodedRows& rows = result.rows.at(0);
  CHECK(rows.numeric[0] == std::vector<float>{10, 20});
  CHECK(rows.numeric[1] == std::vector<float>{0.9f, 0.1f});
  CHECK(category(rows, 0, 0) == "DE");
  CHECK(category(rows, 0, 1) == "<missing>");
  CHECK(category(rows, 1, 0) == "fraud");
  CHECK(category(rows, 1, 1) == "ok");
  CHECK(rows.timestamp_ms == std::vector<std::int64_t>(2, kArrival));
}

TEST_CASE("KServe v1 without a response leaves prediction features missing", "[decode][unit]") {
  const auto result = run_one({model("m", all(), {numeric("x", "/0"), prediction("p", "")})}, kV1,
                              R"({"instances": [[1], [2]]})");
  REQUIRE(result.accepted(0) == 2);
  CHECK(result.rows.at(0).numeric[0] == std::vector<float>{1, 2});
  CHECK(std::isnan(result.rows.at(0).numeric[1][0]));
  CHECK(std::isnan(result.rows.at(0).numeric[1][1]));
}

TEST_CASE("KServe v1 predictions that do not match the instances are shape_mismatch",
          "[decode][unit]") {
  const Decoder decoder({model("joined", all(), {numeric("x", "/0"), prediction("p", "")}),
                         model("request_only", all(), {numeric("x", "/0")})},
                        kV1);
  const auto result =
      run(decoder, {record(R"({"instances": [[1], [2], [3]]})", R"({"predictions": [0.5, 0.6]})")});
  CHECK(result.rejected(0, RejectReason::kShapeMismatch) == 1);
  CHECK(result.accepted(0) == 0);
  CHECK(result.rows.at(0).rows() == 0);
  CHECK(result.accepted(1) == 3);  // a model that reads no prediction is not affected
}

TEST_CASE("KServe v1 whole-row pointers and wrong row shapes", "[decode][unit]") {
  const Decoder decoder({model("m", all(), {numeric("row", "")})}, kV1);
  const auto result =
      run(decoder, {record(R"({"instances": [1.5, [1, 2], null]})"),
                    record(R"({"instances": {"a": [1]}})"), record(R"({"id": "no rows"})"),
                    record(R"([[1, 2]])"), record(R"({"instances": [1, 2)")});
  CHECK(result.accepted(0) == 2);
  CHECK(result.rejected(0, RejectReason::kWrongType) == 1);
  CHECK(result.rejected(0, RejectReason::kNotAnObject) == 3);
  CHECK(result.rejected(0, RejectReason::kInvalidJson) == 1);
  REQUIRE(result.rows.at(0).rows() == 2);
  CHECK(result.rows.at(0).numeric[0][0] == 1.5f);
  CHECK(std::isnan(result.rows.at(0).numeric[0][1]));
}

TEST_CASE("KServe v1 routes on the request body and reads its timestamp pointer",
          "[decode][unit]") {
  const Decoder decoder(
      {model("fraud", by_pointer("/parameters/model", "fraud"), {numeric("x", "/0")}, "/sent_at"),
       model("credit", by_pointer("/parameters/model", "credit"), {numeric("x", "/0")})},
      kV1);
  const auto result = run(
      decoder,
      {record(
           R"({"instances": [[1], [2]], "parameters": {"model": "fraud"}, "sent_at": 1764237600})"),
       record(R"({"parameters": {"model": "credit"}, "instances": [[3]]})"),
       record(R"({"parameters": {"model": "other"}, "instances": [[4]]})"),
       record(R"({"parameters": {"model": "fraud"}, "sent_at": "later", "instances": [[5]]})")});
  CHECK(result.accepted(0) == 2);
  CHECK(result.rows.at(0).timestamp_ms == std::vector<std::int64_t>(2, 1764237600000));
  CHECK(result.rejected(0, RejectReason::kBadTimestamp) == 1);
  CHECK(result.accepted(1) == 1);
  CHECK(result.unmatched(RejectReason::kNoModel) == 1);
}

TEST_CASE("KServe messages with a bad ce-time or a bad response are rejected", "[decode][unit]") {
  const std::vector<Header> bad_time = {{"ce-time", "not a time"}};
  const Decoder decoder({model("m", all(), {numeric("x", "/0"), prediction("p", "")})}, kV1);
  const auto result =
      run(decoder, {record(R"({"instances": [[1]]})", R"({"predictions": [1]})", bad_time),
                    record(R"({"instances": [[1]]})", R"({"predictions": [1)"),
                    record(R"({"instances": [[1]]})", R"({"error": "boom"})"),
                    record(R"({"instances": [[1]]})", R"(["x"])")});
  CHECK(result.rejected(0, RejectReason::kBadTimestamp) == 1);
  CHECK(result.rejected(0, RejectReason::kInvalidJson) == 1);
  CHECK(result.rejected(0, RejectReason::kNotAnObject) == 2);
  CHECK(result.accepted(0) == 0);
}

TEST_CASE("KServe messages no model claims are counted once as no_model", "[decode][unit]") {
  const Decoder decoder(
      {model("m", by_header("ce-inferenceservicename", "fraud"), {numeric("x", "/0")})}, kV1);
  const auto result = run(decoder, {record(R"({"instances": [[1], [2]]})"), record("garbage")});
  CHECK(result.unmatched(RejectReason::kNoModel) == 2);
  CHECK(result.unmatched_total() == 2);
}

// ---------------------------------------------------------------------------------------------
// KServe v2 (Open Inference Protocol)

TEST_CASE("KServe v2 tensors become rows, with flat or nested data alike", "[decode][unit]") {
  const Decoder decoder({model("m", all(),
                               {numeric("f0", "/features/0"), numeric("f2", "/features/2"),
                                numeric("amount", "/amount"), prediction("score", "/score")})},
                        kV2);
  const std::string flat = R"({"id": "1", "inputs": [
      {"name": "features", "shape": [2, 3], "datatype": "FP32", "data": [1, 2, 3, 4, 5, 6]},
      {"name": "amount", "shape": [2], "datatype": "FP64", "data": [10.5, 20.5]}]})";
  const std::string nested = R"({"inputs": [
      {"data": [[1, 2, 3], [4, 5, 6]], "datatype": "FP32", "shape": [2, 3], "name": "features"},
      {"name": "amount", "shape": [2, 1], "datatype": "FP64", "data": [[10.5], [20.5]]}]})";
  const std::string response = R"({"model_name": "m", "outputs": [
      {"name": "score", "shape": [2], "datatype": "FP32", "data": [0.25, 0.75]}]})";
  const auto result = run(decoder, {record(flat, response), record(nested, response)});
  REQUIRE(result.accepted(0) == 4);
  const DecodedRows& rows = result.rows.at(0);
  CHECK(rows.numeric[0] == std::vector<float>{1, 4, 1, 4});
  CHECK(rows.numeric[1] == std::vector<float>{3, 6, 3, 6});
  CHECK(rows.numeric[3] == std::vector<float>{0.25f, 0.75f, 0.25f, 0.75f});
  // amount is [2] in the first message, [2, 1] in the second: a row of one element reads as
  // that element.
  CHECK(rows.numeric[2] == std::vector<float>{10.5f, 20.5f, 10.5f, 20.5f});
  CHECK(result.rejected_total(0) == 0);
}

TEST_CASE("KServe v2 BYTES are categorical strings and BOOL is numeric 1/0", "[decode][unit]") {
  const auto result =
      run_one({model("m", all(),
                     {categorical("country", "/country"), numeric("flag", "/flag"),
                      categorical("flag_text", "/flag"), categorical("code", "/code")})},
              kV2, R"({"inputs": [
          {"name": "country", "shape": [3], "datatype": "BYTES", "data": ["US", "DE", "FR"]},
          {"name": "flag", "shape": [3], "datatype": "BOOL", "data": [true, false, true]},
          {"name": "code", "shape": [3], "datatype": "INT32", "data": [7, 8, 9]}]})");
  REQUIRE(result.accepted(0) == 3);
  const DecodedRows& rows = result.rows.at(0);
  CHECK(category(rows, 0, 1) == "DE");
  CHECK(rows.numeric[0] == std::vector<float>{1, 0, 1});
  CHECK(category(rows, 1, 1) == "false");
  CHECK(category(rows, 2, 2) == "9");
}

TEST_CASE("KServe v2 pointers into higher-rank tensors and out of range", "[decode][unit]") {
  const auto result =
      run_one({model("m", all(),
                     {numeric("pixel", "/image/1/0"), numeric("out_of_range", "/image/2/0"),
                      numeric("unknown", "/nope"), numeric("whole_row", "/image")})},
              kV2, R"({"inputs": [{"name": "image", "shape": [2, 2, 2], "datatype": "UINT8",
                           "data": [1, 2, 3, 4, 5, 6, 7, 8]}]})");
  // /image without indices is a whole row of a 3-D tensor: an array, wrong for a number.
  CHECK(result.rejected(0, RejectReason::kWrongType) == 2);
  const auto fine =
      run_one({model("m", all(),
                     {numeric("pixel", "/image/1/0"), numeric("out_of_range", "/image/2/0"),
                      numeric("unknown", "/nope")})},
              kV2, R"({"inputs": [{"name": "image", "shape": [2, 2, 2], "datatype": "UINT8",
                           "data": [1, 2, 3, 4, 5, 6, 7, 8]}]})");
  REQUIRE(fine.accepted(0) == 2);
  CHECK(fine.rows.at(0).numeric[0] == std::vector<float>{3, 7});
  CHECK(std::isnan(fine.rows.at(0).numeric[1][0]));
  CHECK(std::isnan(fine.rows.at(0).numeric[2][1]));
}

TEST_CASE("KServe v2 shapes that disagree are shape_mismatch", "[decode][unit]") {
  const Decoder decoder({model("joined", all(), {numeric("a", "/a"), prediction("s", "/s")}),
                         model("request_only", all(), {numeric("a", "/a")})},
                        kV2);
  const std::string two_rows =
      R"({"inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]}]})";
  const auto result = run(
      decoder,
      {record(R"({"inputs": [{"name": "a", "shape": [2], "datatype": "FP32", "data": [1, 2]},
                             {"name": "b", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}]})"),
       record(
           R"({"inputs": [{"name": "a", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3]}]})"),
       record(
           two_rows,
           R"({"outputs": [{"name": "s", "shape": [3], "datatype": "FP32", "data": [1, 2, 3]}]})"),
       record(R"({"inputs": [{"name": "a", "shape": [], "datatype": "FP32", "data": [1]}]})")});
  CHECK(result.rejected(0, RejectReason::kShapeMismatch) == 4);
  CHECK(result.rejected(1, RejectReason::kShapeMismatch) == 3);
  CHECK(result.accepted(1) == 2);  // the third message, which it reads without the outputs
  CHECK(result.accepted(0) == 0);
}

TEST_CASE("KServe v2 messages of the wrong shape are not_an_object", "[decode][unit]") {
  const Decoder decoder({model("m", all(), {numeric("a", "/a")})}, kV2);
  const auto result = run(
      decoder, {record(R"({"outputs": []})"), record(R"({"inputs": {"a": 1}})"),
                record(R"({"inputs": [{"shape": [1], "data": [1]}]})"),
                record(R"({"inputs": [{"name": "a", "data": [1]}]})"),
                record(R"({"inputs": [{"name": "a", "shape": ["x"], "data": [1]}]})"),
                record(R"({"inputs": [{"name": 5, "shape": [1], "data": [1]}]})"), record("[]")});
  CHECK(result.rejected(0, RejectReason::kNotAnObject) == 7);
  CHECK(result.accepted(0) == 0);
}

TEST_CASE("KServe v2 batched messages carry many rows", "[decode][unit]") {
  std::string data;
  for (int i = 0; i < 100; ++i) data += (i ? "," : "") + std::to_string(i);
  const auto result = run_one(
      {model("m", all(), {numeric("x", "/x/0"), numeric("y", "/x/1"), prediction("p", "/p")})}, kV2,
      R"({"inputs": [{"name": "x", "shape": [50, 2], "datatype": "INT64", "data": [)" + data +
          "]}]}");
  REQUIRE(result.accepted(0) == 50);
  CHECK(result.rows.at(0).numeric[0][49] == 98.0f);
  CHECK(result.rows.at(0).numeric[1][49] == 99.0f);
  CHECK(std::isnan(result.rows.at(0).numeric[2][0]));  // no response: predictions missing
}

// ---------------------------------------------------------------------------------------------
// Construction, counters, threads

TEST_CASE("Malformed pointers are configuration errors", "[decode][unit]") {
  CHECK_THROWS_AS(Decoder({model("m", all(), {numeric("x", "x")})}, kFlat), ConfigError);
  CHECK_THROWS_AS(Decoder({model("m", all(), {numeric("x", "/a~2")})}, kFlat), ConfigError);
  CHECK_THROWS_AS(Decoder({model("m", by_pointer("model", "a"), {})}, kFlat), ConfigError);
  CHECK_THROWS_AS(Decoder({model("m", all(), {}, "ts")}, kV1), ConfigError);
  CHECK_THROWS_AS(Decoder({model("m", all(), {numeric("x", "")})}, kV2), ConfigError);
  CHECK_THROWS_AS(Decoder({model("m", all(), {numeric("x", "/t/name")})}, kV2), ConfigError);
  CHECK_NOTHROW(Decoder({model("m", all(), {numeric("x", "/t/0/1")})}, kV2));
}

TEST_CASE("Reject reasons have stable names", "[decode][unit]") {
  using drift::daemon::to_string;
  CHECK(to_string(RejectReason::kInvalidJson) == "invalid_json");
  CHECK(to_string(RejectReason::kNotAnObject) == "not_an_object");
  CHECK(to_string(RejectReason::kNoModel) == "no_model");
  CHECK(to_string(RejectReason::kWrongType) == "wrong_type");
  CHECK(to_string(RejectReason::kBadTimestamp) == "bad_timestamp");
  CHECK(to_string(RejectReason::kShapeMismatch) == "shape_mismatch");
  CHECK(to_string(RejectReason::kTooLarge) == "too_large");
}

TEST_CASE("Counters and rows accumulate over calls until cleared", "[decode][unit]") {
  const Decoder decoder(
      {model("m", by_pointer("/m", "a"), {numeric("x", "/x"), categorical("c", "/c")})}, kFlat);
  REQUIRE(decoder.model_count() == 1);
  std::vector<DecodedRows> out;
  DecodeCounts counts;
  const std::vector<RawRecord> batch = {record(R"({"m": "a", "x": 1, "c": "p"})"),
                                        record(R"({"m": "b", "x": 2})")};
  decoder.decode(batch, out, counts);
  decoder.decode(batch, out, counts);
  CHECK(counts.accepted_rows.at(0) == 2);
  CHECK(counts.unmatched[static_cast<std::size_t>(RejectReason::kNoModel)] == 2);
  REQUIRE(out.size() == 1);
  CHECK(out[0].rows() == 2);
  CHECK(out[0].arena == "pp");
  CHECK(out[0].categorical[0][1].offset == 1);
  out[0].clear();
  CHECK(out[0].rows() == 0);
  CHECK(out[0].numeric.size() == 1);
  CHECK(out[0].categorical.size() == 1);
  decoder.decode(batch, out, counts);
  CHECK(out[0].rows() == 1);
  CHECK(category(out[0], 0, 0) == "p");
}

TEST_CASE("Two threads decoding disjoint batches match one thread", "[decode][unit]") {
  const Decoder decoder(
      {model("a", by_pointer("/model", "a"), {numeric("x", "/x"), categorical("c", "/c")}, "/ts"),
       model("b", all(), {numeric("y", "/y")})},
      kFlat);
  std::vector<std::string> bodies;
  std::mt19937_64 rng(5);
  for (int i = 0; i < 4000; ++i) {
    const int kind = static_cast<int>(rng() % 10);
    std::string body = "{\"model\": \"" + std::string(kind < 7 ? "a" : "z") +
                       "\", \"ts\": " + std::to_string(1764237600000 + i) +
                       ", \"x\": " + std::to_string(static_cast<double>(rng() % 100000) / 7.0) +
                       ", \"c\": \"cat" + std::to_string(rng() % 13) + "\"";
    body += kind == 8 ? ", \"y\": \"bad\"}" : ", \"y\": " + std::to_string(i) + "}";
    if (kind == 9) body.pop_back();  // truncated: invalid JSON
    bodies.push_back(std::move(body));
  }
  std::vector<RawRecord> records;
  for (const auto& body : bodies) records.push_back(record(body));
  const std::span<const RawRecord> all_records(records);
  const std::size_t half = records.size() / 2;

  const Result single = run(decoder, records);
  Result first, second;
  std::thread t1([&] {
    for (std::size_t at = 0; at < half; at += 100) {
      decoder.decode(all_records.subspan(at, std::min<std::size_t>(100, half - at)), first.rows,
                     first.counts);
    }
  });
  std::thread t2([&] {
    for (std::size_t at = half; at < records.size(); at += 100) {
      decoder.decode(all_records.subspan(at, std::min<std::size_t>(100, records.size() - at)),
                     second.rows, second.counts);
    }
  });
  t1.join();
  t2.join();

  for (std::size_t m = 0; m < 2; ++m) {
    CHECK(first.accepted(m) + second.accepted(m) == single.accepted(m));
    for (std::size_t r = 0; r < kRejectReasons; ++r) {
      const auto reason = static_cast<RejectReason>(r);
      CHECK(first.rejected(m, reason) + second.rejected(m, reason) == single.rejected(m, reason));
    }
    const DecodedRows& one = single.rows.at(m);
    const DecodedRows& a = first.rows.at(m);
    const DecodedRows& b = second.rows.at(m);
    REQUIRE(a.rows() + b.rows() == one.rows());
    for (std::size_t k = 0; k < one.numeric.size(); ++k) {
      std::vector<float> joined = a.numeric[k];
      joined.insert(joined.end(), b.numeric[k].begin(), b.numeric[k].end());
      CHECK(joined == one.numeric[k]);
    }
    for (std::size_t k = 0; k < one.categorical.size(); ++k) {
      for (std::size_t i = 0; i < one.rows(); ++i) {
        const std::string expected = category(one, k, i);
        const std::string got = i < a.rows() ? category(a, k, i) : category(b, k, i - a.rows());
        CHECK(got == expected);
      }
    }
    std::vector<std::int64_t> times = a.timestamp_ms;
    times.insert(times.end(), b.timestamp_ms.begin(), b.timestamp_ms.end());
    CHECK(times == one.timestamp_ms);
  }
  CHECK(first.unmatched_total() + second.unmatched_total() == single.unmatched_total());
  CHECK(single.accepted(0) > 0);
  CHECK(single.rejected(1, RejectReason::kWrongType) > 0);
}

}  // namespace
