#include <unistd.h>

#include <bit>
#include <catch2/catch.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "drift/daemon/table.h"

namespace {

using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using drift::FeatureKind;
using drift::kMissingCode;
using drift::daemon::Column;
using drift::daemon::parse_csv;
using drift::daemon::parse_jsonl;
using drift::daemon::read_table;
using drift::daemon::ReadOptions;
using drift::daemon::Table;
using drift::daemon::TableError;

Table csv(std::string_view text, const ReadOptions& options = {}) {
  return parse_csv(text, options, "data.csv");
}

Table jsonl(std::string_view text, const ReadOptions& options = {}) {
  return parse_jsonl(text, options, "data.jsonl");
}

const Column& column(const Table& table, std::string_view name) {
  const Column* found = table.find(name);
  REQUIRE(found != nullptr);
  return *found;
}

/// The categories of a categorical column row by row ("<missing>" for missing).
std::vector<std::string> texts(const Column& column) {
  REQUIRE(column.kind == FeatureKind::kCategorical);
  std::vector<std::string> out;
  for (const auto code : column.codes) {
    out.push_back(code == kMissingCode ? "<missing>" : column.dictionary.at(code));
  }
  return out;
}

/// Equal tables: same columns, kinds, dictionaries, codes, and values (NaN equal to NaN).
bool same_table(const Table& a, const Table& b) {
  if (a.rows != b.rows || a.columns.size() != b.columns.size()) return false;
  for (std::size_t j = 0; j < a.columns.size(); ++j) {
    const Column& x = a.columns[j];
    const Column& y = b.columns[j];
    if (x.name != y.name || x.kind != y.kind || x.codes != y.codes ||
        x.dictionary != y.dictionary || x.values.size() != y.values.size()) {
      return false;
    }
    for (std::size_t i = 0; i < x.values.size(); ++i) {
      const bool both_missing = std::isnan(x.values[i]) && std::isnan(y.values[i]);
      if (!both_missing && x.values[i] != y.values[i]) return false;
    }
  }
  return true;
}

/// A fresh directory under the system temp dir, removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "table_reader_XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    path_ = pattern;
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  std::filesystem::path write(const std::string& name, std::string_view contents) const {
    const auto file = path_ / name;
    std::ofstream out(file, std::ios::binary);
    out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
    return file;
  }

 private:
  std::filesystem::path path_;
};

}  // namespace

TEST_CASE("CSV numbers are read as float32 columns", "[table][unit]") {
  const Table table = csv("a,b,c\n1,2.5,-3e2\n+4, 5 ,\t0.1\n");
  REQUIRE(table.rows == 2);
  REQUIRE(table.columns.size() == 3);
  CHECK(table.columns[0].name == "a");
  CHECK(table.columns[2].name == "c");
  for (const auto& col : table.columns) CHECK(col.kind == FeatureKind::kNumeric);
  CHECK(column(table, "a").values == std::vector<float>{1.0f, 4.0f});
  CHECK(column(table, "b").values == std::vector<float>{2.5f, 5.0f});
  CHECK(column(table, "c").values == std::vector<float>{-300.0f, 0.1f});
}

TEST_CASE("CSV numbers round to float32 exactly as std::from_chars does", "[table][unit]") {
  std::mt19937_64 rng(11);
  std::vector<std::string> literals = {"16777217", "-16777219", "9007199254740993", "1e22",
                                       "1e-22",    "0.1",       "3.4028235e38",     "-0",
                                       ".5",       "5.",        "00012.500",        "1E+3"};
  for (int i = 0; i < 20000; ++i) {
    char buffer[64];
    const auto bits = static_cast<std::uint32_t>(rng() % 0x7F000000u);
    const float f = std::bit_cast<float>(bits);
    const float next = std::nextafter(f, std::numeric_limits<float>::max());
    // Halfway between two floats (the hard case), and the float itself at random precision.
    const double halfway = (static_cast<double>(f) + static_cast<double>(next)) / 2;
    literals.emplace_back(
        buffer, static_cast<std::size_t>(std::snprintf(buffer, sizeof buffer, "%.17g", halfway)));
    literals.emplace_back(buffer, static_cast<std::size_t>(std::snprintf(
                                      buffer, sizeof buffer, "%.*g",
                                      static_cast<int>(1 + rng() % 12), static_cast<double>(f))));
  }
  std::string text = "v\r\n";
  for (const auto& literal : literals) {
    text += literal;
    text += "\r\n";
  }
  const Table table = csv(text);
  const auto& values = column(table, "v").values;
  REQUIRE(values.size() == literals.size());
  std::size_t differences = 0;
  for (std::size_t i = 0; i < literals.size(); ++i) {
    float expected = 0.0f;
    std::from_chars(literals[i].data(), literals[i].data() + literals[i].size(), expected);
    if (std::bit_cast<std::uint32_t>(values[i]) != std::bit_cast<std::uint32_t>(expected)) {
      UNSCOPED_INFO(literals[i]);
      ++differences;
    }
  }
  CHECK(differences == 0);
}

TEST_CASE("CSV empty fields, nan and inf are missing", "[table][unit]") {
  const Table table = csv("x,y,name\n1,,a\n,nan,\nINF,-Infinity,b\n  ,NaN,\"\"\n");
  REQUIRE(table.rows == 4);
  const auto& x = column(table, "x").values;
  CHECK(x[0] == 1.0f);
  CHECK(std::isnan(x[1]));
  CHECK(std::isnan(x[2]));
  CHECK(std::isnan(x[3]));
  for (const float v : column(table, "y").values) CHECK(std::isnan(v));
  CHECK(texts(column(table, "name")) ==
        std::vector<std::string>{"a", "<missing>", "b", "<missing>"});
  CHECK(column(table, "name").dictionary == std::vector<std::string>{"a", "b"});
}

TEST_CASE("CSV quoted fields keep commas, doubled quotes and newlines", "[table][unit]") {
  const Table table =
      csv("id,comment,\"score\"\n1,\"a, b\",\"1.5\"\n2,\"say \"\"hi\"\"\",2\n"
          "3,\"two\nlines\",3\n4,plain,\" 4 \"\n");
  REQUIRE(table.rows == 4);
  CHECK(texts(column(table, "comment")) ==
        std::vector<std::string>{"a, b", "say \"hi\"", "two\nlines", "plain"});
  const Column& score = column(table, "score");
  REQUIRE(score.kind == FeatureKind::kNumeric);
  CHECK(score.values == std::vector<float>{1.5f, 2.0f, 3.0f, 4.0f});
}

TEST_CASE("CSV with CRLF line ends and no final newline", "[table][unit]") {
  const Table table = csv("a,b\r\n1,x\r\n2,\"y\"\r\n3,z");
  REQUIRE(table.rows == 3);
  CHECK(column(table, "a").values == std::vector<float>{1.0f, 2.0f, 3.0f});
  CHECK(texts(column(table, "b")) == std::vector<std::string>{"x", "y", "z"});
}

TEST_CASE("CSV byte order mark is skipped", "[table][unit]") {
  const Table table =
      csv("\xEF\xBB\xBF"
          "a,b\n1,2\n");
  CHECK(table.columns[0].name == "a");
  CHECK(column(table, "a").values == std::vector<float>{1.0f});
}

TEST_CASE("CSV column with any non-number is categorical in first-seen order", "[table][unit]") {
  const Table table = csv("c\n3\nred\n3\n2.0\nred\n");
  const Column& c = column(table, "c");
  CHECK(c.dictionary == std::vector<std::string>{"3", "red", "2.0"});
  CHECK(c.codes == std::vector<std::uint32_t>{0, 1, 0, 2, 1});
}

TEST_CASE("CSV forced categorical columns keep numbers as text", "[table][unit]") {
  ReadOptions options;
  options.categorical = {"zip"};
  const Table table = csv("zip,n\n02134,1\n10001,2\n02134,3\n,4\n", options);
  const Column& zip = column(table, "zip");
  CHECK(zip.dictionary == std::vector<std::string>{"02134", "10001"});
  CHECK(zip.codes == std::vector<std::uint32_t>{0, 1, 0, kMissingCode});
  CHECK(column(table, "n").kind == FeatureKind::kNumeric);

  options.categorical = {"zipcode"};
  CHECK_THROWS_WITH(csv("zip,n\n1,2\n", options), Contains("zipcode"));
}

TEST_CASE("CSV expected kinds fix the kind of named columns", "[table][unit]") {
  ReadOptions options;
  options.expected_kinds = {{"age", FeatureKind::kNumeric}, {"code", FeatureKind::kCategorical}};
  const Table table = csv("age,code,other\n30,7,1\n,8,2\n41,7,x\n", options);
  CHECK(column(table, "age").kind == FeatureKind::kNumeric);
  CHECK(texts(column(table, "code")) == std::vector<std::string>{"7", "8", "7"});
  CHECK(column(table, "other").kind == FeatureKind::kCategorical);

  CHECK_THROWS_WITH(csv("age,code\n30,1\n31,2\nold,3\n", options),
                    Equals("data.csv:4: column 'age' is numeric but 'old' is not a number"));
}

TEST_CASE("CSV ragged row names file, line and field counts", "[table][unit]") {
  CHECK_THROWS_WITH(csv("a,b,c\n1,2,3\n\"x\ny\",2,3\n4,5\n"),
                    Equals("data.csv:5: row has 2 fields, header has 3"));
  CHECK_THROWS_WITH(csv("a,b\n1,2,3\n"), Equals("data.csv:2: row has 3 fields, header has 2"));
  CHECK_THROWS_WITH(csv("a,b\n1,2\n\n"), Equals("data.csv:3: row has 1 field, header has 2"));
}

TEST_CASE("CSV empty file and header-only file have no data rows", "[table][unit]") {
  CHECK_THROWS_AS(csv(""), TableError);
  CHECK_THROWS_WITH(csv(""), Contains("data.csv: ") && Contains("no data rows"));
  CHECK_THROWS_WITH(csv("\xEF\xBB\xBF"), Contains("no data rows"));
  CHECK_THROWS_WITH(csv("a,b\n"), Contains("data.csv: ") && Contains("no data rows"));
  CHECK_THROWS_WITH(csv("a,b"), Contains("no data rows"));
}

TEST_CASE("CSV header names must be non-empty and unique", "[table][unit]") {
  CHECK_THROWS_WITH(csv("a,,c\n1,2,3\n"), Contains("data.csv:1:") && Contains("empty"));
  CHECK_THROWS_WITH(csv("a,b,a\n1,2,3\n"), Equals("data.csv:1: duplicate column name 'a'"));
}

TEST_CASE("CSV malformed quotes are errors with their line", "[table][unit]") {
  CHECK_THROWS_WITH(csv("a,b\n1,2\n\"open,3\n"),
                    Contains("data.csv:3:") && Contains("unterminated"));
  CHECK_THROWS_WITH(csv("a,b\n\"x\"y,2\n"), Contains("data.csv:2:") && Contains("closing quote"));
}

TEST_CASE("Out-of-range literals are missing and underflow is zero", "[table][unit]") {
  const Table table = csv("v\n1e999\n-1e999\n1e39\n1e-999\n1e-50\n3.4e38\n");
  const auto& v = column(table, "v").values;
  REQUIRE(column(table, "v").kind == FeatureKind::kNumeric);
  CHECK(std::isnan(v[0]));
  CHECK(std::isnan(v[1]));
  CHECK(std::isnan(v[2]));
  CHECK(v[3] == 0.0f);
  CHECK(v[4] == 0.0f);
  CHECK(v[5] == 3.4e38f);

  const Table json = jsonl("{\"v\":1e999}\n{\"v\":-1e400}\n{\"v\":1e-999}\n{\"v\":2}\n");
  const auto& w = column(json, "v").values;
  REQUIRE(column(json, "v").kind == FeatureKind::kNumeric);
  CHECK(std::isnan(w[0]));
  CHECK(std::isnan(w[1]));
  CHECK(w[2] == 0.0f);
  CHECK(w[3] == 2.0f);
}

TEST_CASE("JSONL objects become columns in order of first appearance", "[table][unit]") {
  const Table table = jsonl(
      "{\"a\": 1, \"s\": \"x\"}\r\n"
      "\n"
      "{\"s\": \"y\", \"b\": true, \"a\": null}\n"
      "   \n"
      "{\"a\": 2.5, \"b\": false, \"c\": null}");
  REQUIRE(table.rows == 3);
  REQUIRE(table.columns.size() == 4);
  CHECK(table.columns[0].name == "a");
  CHECK(table.columns[1].name == "s");
  CHECK(table.columns[2].name == "b");
  CHECK(table.columns[3].name == "c");
  const auto& a = column(table, "a").values;
  CHECK(a[0] == 1.0f);
  CHECK(std::isnan(a[1]));
  CHECK(a[2] == 2.5f);
  CHECK(texts(column(table, "s")) == std::vector<std::string>{"x", "y", "<missing>"});
  CHECK(texts(column(table, "b")) == std::vector<std::string>{"<missing>", "true", "false"});
  CHECK(column(table, "c").kind == FeatureKind::kNumeric);
}

TEST_CASE("JSONL string in a column expected numeric names line and column", "[table][unit]") {
  ReadOptions options;
  options.expected_kinds = {{"age", FeatureKind::kNumeric}};
  CHECK_THROWS_WITH(jsonl("{\"age\":1}\n{\"age\":\"n/a\"}\n", options),
                    Equals("data.jsonl:2: column 'age' is numeric but holds the string 'n/a'"));
}

TEST_CASE("JSONL categorical columns take numbers as written", "[table][unit]") {
  ReadOptions options;
  options.categorical = {"k"};
  options.expected_kinds = {{"e", FeatureKind::kCategorical}};
  const Table table =
      jsonl("{\"k\":3,\"e\":1.50}\n{\"k\":\"3\",\"e\":\"x\"}\n{\"k\":2.5}\n", options);
  CHECK(texts(column(table, "k")) == std::vector<std::string>{"3", "3", "2.5"});
  CHECK(texts(column(table, "e")) == std::vector<std::string>{"1.50", "x", "<missing>"});
  options.categorical = {"nope"};
  CHECK_THROWS_WITH(jsonl("{\"k\":3}\n", options), Contains("nope"));
}

TEST_CASE("JSONL nested values are rejected with line and key", "[table][unit]") {
  CHECK_THROWS_WITH(jsonl("{\"a\":1}\n{\"a\":2,\"b\":{\"c\":1}}\n"),
                    Contains("data.jsonl:2:") && Contains("'b'") && Contains("object"));
  CHECK_THROWS_WITH(jsonl("{\"a\":[1]}\n"), Contains("data.jsonl:1:") && Contains("array"));
}

TEST_CASE("JSONL column mixing numbers and strings is an error at the first conflict",
          "[table][unit]") {
  CHECK_THROWS_WITH(
      jsonl("{\"x\":1}\n{\"x\":null}\n{\"y\":2}\n{\"x\":\"a\"}\n{\"x\":\"b\"}\n"),
      Equals("data.jsonl:4: column 'x' mixes numbers and strings (a number on line 1, a string "
             "here)"));
  // The first problem in the file wins over a later invalid line.
  CHECK_THROWS_WITH(jsonl("{\"x\":1}\n{\"x\":\"a\"}\n{oops\n"),
                    Contains("data.jsonl:2: column 'x' mixes"));
  CHECK_THROWS_WITH(jsonl("{\"x\":true}\n{\"x\":3}\n"),
                    Contains("data.jsonl:2: column 'x' mixes numbers and strings"));
}

TEST_CASE("JSONL invalid lines are errors with their line", "[table][unit]") {
  CHECK_THROWS_WITH(jsonl("{\"a\":1}\n{\"a\":}\n"), Contains("data.jsonl:2: invalid JSON"));
  CHECK_THROWS_WITH(jsonl("{\"a\":1}\n\n[1,2]\n"), Contains("data.jsonl:3:"));
  CHECK_THROWS_WITH(jsonl("{\"a\":-inf}\n"), Contains("data.jsonl:1: invalid JSON"));
  CHECK_THROWS_WITH(jsonl("{\"a\":1,\"a\":2}\n"), Contains("data.jsonl:1: duplicate key 'a'"));
  CHECK_THROWS_WITH(jsonl(""), Contains("no data rows"));
  CHECK_THROWS_WITH(jsonl("\n \n"), Contains("no data rows"));
}

TEST_CASE("Large inputs split across chunks read the same with one and two threads",
          "[table][unit]") {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> uniform(-1000.0f, 1000.0f);
  std::string csv_text = "num,cat,note,late\n";
  std::string bare_quotes = "num,height,note\n";
  std::string json_text;
  constexpr int kRows = 60000;
  for (int i = 0; i < kRows; ++i) {
    const std::string num = i % 97 == 0 ? std::string() : std::to_string(uniform(rng));
    const std::string cat = std::to_string(rng() % 50);
    // Numeric but for one text near the end: every chunk must learn the column is categorical.
    const std::string late = i == kRows - 3 ? std::string("oops") : std::to_string(i % 11);
    csv_text += num;
    csv_text += ",c";
    csv_text += cat;
    csv_text += i % 5 == 0 ? ",\"multi\nline, \"\"quoted\"\"\"," : ",n,";
    csv_text += late;
    csv_text += '\n';
    bare_quotes += num;
    bare_quotes += ",5'";
    bare_quotes += std::to_string(i % 12);
    bare_quotes += "\",\"two\nlines\"\n";
    json_text += "{\"num\":";
    json_text += num.empty() ? std::string("null") : num;
    json_text += ",\"cat\":\"c";
    json_text += cat;
    json_text += i % 3 == 0 ? "\",\"flag\":true}\n" : "\"}\n";
  }
  // Well past the reader's smallest chunk (256 KiB): two threads split it into several chunks.
  REQUIRE(csv_text.size() > 1024 * 1024);

  ReadOptions one;
  one.threads = 1;
  ReadOptions two;
  two.threads = 2;
  const Table csv_one = csv(csv_text, one);
  const Table csv_two = csv(csv_text, two);
  CHECK(csv_one.rows == static_cast<std::size_t>(kRows));
  CHECK(column(csv_one, "late").kind == FeatureKind::kCategorical);
  CHECK(column(csv_one, "num").kind == FeatureKind::kNumeric);
  CHECK(same_table(csv_one, csv_two));

  // A '"' inside unquoted fields fools the quote-parity split: the reader must notice.
  const Table bare_one = csv(bare_quotes, one);
  const Table bare_two = csv(bare_quotes, two);
  CHECK(bare_one.rows == static_cast<std::size_t>(kRows));
  CHECK(column(bare_one, "height").dictionary.size() == 12);
  CHECK(same_table(bare_one, bare_two));

  const Table json_one = jsonl(json_text, one);
  const Table json_two = jsonl(json_text, two);
  CHECK(json_one.rows == static_cast<std::size_t>(kRows));
  CHECK(same_table(json_one, json_two));

  // Errors deep in the file report the same line whatever the split.
  const std::string broken = csv_text + "1,2\n";
  const auto line = std::count(csv_text.begin(), csv_text.end(), '\n') + 1;
  const std::string expected =
      "data.csv:" + std::to_string(line) + ": row has 2 fields, header has 4";
  CHECK_THROWS_WITH(csv(broken, one), Equals(expected));
  CHECK_THROWS_WITH(csv(broken, two), Equals(expected));
}

TEST_CASE("read_table reads CSV and JSONL files by extension", "[table][unit]") {
  const TempDir dir;
  const auto csv_file = dir.write("ref.csv", "a,b\n1,x\n2,y\n");
  const auto jsonl_file = dir.write("cur.jsonl", "{\"a\":1,\"b\":\"x\"}\n{\"a\":3,\"b\":\"z\"}\n");
  const auto ndjson_file = dir.write("cur.NDJSON", "{\"a\":5}\n");
  const auto text_file = dir.write("data.txt", "a\n7\n");

  const Table from_csv = read_table(csv_file, {});
  CHECK(column(from_csv, "a").values == std::vector<float>{1.0f, 2.0f});
  const Table from_jsonl = read_table(jsonl_file, {});
  CHECK(column(from_jsonl, "a").values == std::vector<float>{1.0f, 3.0f});
  CHECK(texts(column(from_jsonl, "b")) == std::vector<std::string>{"x", "z"});
  CHECK(column(read_table(ndjson_file, {}), "a").values == std::vector<float>{5.0f});
  CHECK(column(read_table(text_file, {}), "a").values == std::vector<float>{7.0f});

  const auto bad = dir.write("bad.csv", "a,b\n1,2\n3\n");
  CHECK_THROWS_WITH(read_table(bad, {}),
                    Equals(bad.string() + ":3: row has 1 field, header has 2"));
  CHECK_THROWS_WITH(read_table(dir.write("empty.csv", ""), {}), Contains("no data rows"));
  CHECK_THROWS_WITH(read_table(csv_file.parent_path() / "missing.csv", {}),
                    Contains("missing.csv") && Contains("cannot open"));
}
