// PathTree's two walkers — ondemand (KServe rows, flat arrays) and the structural-index walk
// (flat records) — must capture the same values from the same text, and the index walk may
// reject only what is not JSON. Checked on hand-written cases and on thousands of mutations
// of realistic records, with simdjson's DOM parser (which validates everything) as the judge.
#include <simdjson.h>

#include <catch2/catch.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "decode/path_tree.h"
#include "decode/structural_index.h"

namespace {

using drift::daemon::decode::PathTree;
using drift::daemon::decode::split_pointer;
using drift::daemon::decode::StructuralIndex;
using drift::daemon::decode::Value;
using drift::daemon::decode::ValueType;

const std::vector<std::string> kPointers = {
    "",           "/model",        "/ts",          "/features/f0", "/features/f1",
    "/features/country", "/features/tags/1", "/list/0/x", "/list/2",   "/prediction",
    "/missing",   "/a~1b",         "/nested/deep/deeper/leaf"};

PathTree make_tree() {
  PathTree tree;
  std::vector<std::string> tokens;
  for (const std::string& pointer : kPointers) {
    REQUIRE(split_pointer(pointer, tokens));
    tree.add(tokens);
  }
  return tree;
}

struct Captured {
  bool ok = false;
  std::vector<std::pair<ValueType, std::string>> values;  // per slot; kAbsent when not reached
};

std::vector<std::pair<ValueType, std::string>> read_slots(const PathTree& tree,
                                                           const std::vector<Value>& values,
                                                           std::uint32_t generation) {
  std::vector<std::pair<ValueType, std::string>> out;
  for (std::uint32_t slot = 0; slot < tree.slot_count(); ++slot) {
    const Value& v = values[slot];
    if (v.generation != generation) {
      out.emplace_back(ValueType::kAbsent, "");
    } else {
      out.emplace_back(v.type, std::string(v.data == nullptr ? "" : v.text()));
    }
  }
  return out;
}

std::vector<char> padded(std::string_view json) {
  std::vector<char> buffer(json.begin(), json.end());
  buffer.resize(json.size() + simdjson::SIMDJSON_PADDING, ' ');
  return buffer;
}

Captured walk_ondemand(const PathTree& tree, std::string_view json) {
  std::vector<char> buffer = padded(json);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document document;
  Captured result;
  if (parser.iterate(buffer.data(), json.size(), buffer.size()).get(document)) return result;
  simdjson::ondemand::object object;
  std::vector<Value> values(tree.slot_count());
  if (document.get_object().get(object) || tree.walk_root_object(object, values.data(), 1)) {
    return result;
  }
  const char* location = nullptr;
  if (document.current_location().get(location) == simdjson::SUCCESS) return result;  // trailing
  result.ok = true;
  result.values = read_slots(tree, values, 1);
  return result;
}

PathTree::Walked walk_indexed(const PathTree& tree, std::string_view json, Captured& result) {
  std::vector<char> buffer = padded(json);
  StructuralIndex index;
  if (index.index(buffer.data(), json.size()) != simdjson::SUCCESS) {
    return PathTree::Walked::kInvalid;
  }
  std::vector<char> unescaped(json.size() + simdjson::SIMDJSON_PADDING);
  std::vector<Value> values(tree.slot_count());
  const PathTree::Walked walked =
      tree.walk_indexed(buffer.data(), index, unescaped.data(), values.data(), 1);
  if (walked == PathTree::Walked::kDone) {
    result.ok = true;
    result.values = read_slots(tree, values, 1);
  }
  return walked;
}

bool valid_json(std::string_view json) {
  simdjson::dom::parser parser;
  simdjson::dom::element element;
  return parser.parse(json.data(), json.size()).get(element) == simdjson::SUCCESS;
}

/// Checks the contract between the walkers on one text; returns what the index walk said.
PathTree::Walked check_same(const PathTree& tree, const std::string& json) {
  INFO(json);
  Captured indexed;
  const PathTree::Walked walked = walk_indexed(tree, json, indexed);
  const Captured ondemand = walk_ondemand(tree, json);
  switch (walked) {
    case PathTree::Walked::kDone:
      // Accepted: ondemand accepts it too, with the same values in every slot.
      REQUIRE(ondemand.ok);
      REQUIRE(indexed.values == ondemand.values);
      break;
    case PathTree::Walked::kInvalid:
      // Rejected: only text that is not JSON (stricter than ondemand, which does not check
      // the values it skips).
      REQUIRE_FALSE(valid_json(json));
      break;
    case PathTree::Walked::kUnsupported:
      break;  // the decoder hands these to ondemand
  }
  return walked;
}

std::string realistic_record(std::mt19937_64& rng) {
  std::normal_distribution<double> normal(0.0, 1.0);
  const char* countries[] = {"US", "GB", "D\\u00c9", "F\\\"R", "BR"};
  std::string r = R"({"model":"fraud","id":)" + std::to_string(rng() % 100000) + R"(,"ts":)" +
                  std::to_string(1764230000000LL + static_cast<long long>(rng() % 100000)) +
                  R"(,"features":{"f0":)";
  char number[32];
  std::snprintf(number, sizeof number, "%.6f", normal(rng));
  r += number;
  r += R"(,"skip":{"a":[1,2,{"b":null}],"c":"x"},"f1":true,"country":")";
  r += countries[rng() % 5];
  r += R"(","tags":["t0",  "t1" ,"t2"]}, "list":[{"x":1.5e3},{"y":2},[3]],"prediction":)";
  std::snprintf(number, sizeof number, "%.5f", std::uniform_real_distribution<double>()(rng));
  r += number;
  r += R"(, "nested":{"deep":{"deeper":{"leaf":"ok"}}}})";
  return r;
}

}  // namespace

TEST_CASE("indexed walk: captures what the ondemand walk captures", "[decode][indexed]") {
  const PathTree tree = make_tree();
  const std::vector<std::string> cases = {
      R"({})",
      R"(  {"model" : "fraud" , "ts" : 1764237600 }  )",
      R"({"model":"fr\"aud\u00e9\n","ts":"2026-11-27T10:00:00Z"})",
      R"({"features":{"f0":-1.5e-3,"f1":false,"country":null,"tags":["a","b\tc"]}})",
      R"({"features":{"f0":{"x":1},"f1":[1,[2]],"tags":{"1":"object, not array"}}})",
      R"({"list":[{"x":"first"},[],{"x":"third"}],"prediction":[0.2,0.8]})",
      R"({"model":"a","model":"b"})",  // the last duplicate wins in both walkers
      R"({"features":{"tags":[]}, "list":[]})",
      R"({"nested":{"deep":{"deeper":{"leaf":{"more":[1,2,3]}}}}})",
      R"({"prediction":1e400,"ts":-0,"model":12345678901234567890})",
  };
  for (const std::string& json : cases) {
    CHECK(check_same(tree, json) == PathTree::Walked::kDone);
  }
}

TEST_CASE("indexed walk: rejects what is not JSON", "[decode][indexed]") {
  const PathTree tree = make_tree();
  const std::vector<std::string> invalid = {
      R"({"model":"fraud")",           R"({"model" "fraud"})",      R"({"model":})",
      R"({"model":"a",})",             R"({,"model":"a"})",         R"({"model":"a"} x)",
      R"({"model":"a"}{})",            R"({"features":{"f0":1,}})", R"({"skip":[1 2]})",
      R"({"skip":[1,]})",              R"({"skip":{"a" 1}})",       R"({"skip":{"a":1]})",
      R"({"skip":[}])",                R"({"f1":tru})",             R"({"features":{"f1":tru}})",
      R"({"model":nul})",              R"({"model":"a"]})",         R"({"model":"bad \x escape"})",
      R"({"skip":,})",                 R"({"skip":})",              R"({:1})",
  };
  for (const std::string& json : invalid) {
    INFO(json);
    Captured captured;
    CHECK(walk_indexed(tree, json, captured) == PathTree::Walked::kInvalid);
    CHECK_FALSE(valid_json(json));
  }
  // Deeper than simdjson's limit, in a field no pointer reads.
  std::string deep = R"({"skip":)" + std::string(1100, '[') + std::string(1100, ']') + "}";
  Captured captured;
  CHECK(walk_indexed(tree, deep, captured) == PathTree::Walked::kInvalid);
}

TEST_CASE("indexed walk: leaves escaped keys and other roots to ondemand", "[decode][indexed]") {
  const PathTree tree = make_tree();
  for (const std::string json : {R"({"a\/b":1})", R"({"mo\u0064el":"fraud"})", R"([{"model":1}])",
                                 R"("text")", R"(12)"}) {
    INFO(json);
    Captured captured;
    CHECK(walk_indexed(tree, json, captured) == PathTree::Walked::kUnsupported);
  }
}

TEST_CASE("indexed walk: agrees with ondemand on mutated records", "[decode][indexed]") {
  const PathTree tree = make_tree();
  std::mt19937_64 rng(2026);
  const std::string alphabet = "{}[],:\" \\0123456789.-eEtrufalsn";
  int accepted = 0;
  int rejected = 0;
  for (int i = 0; i < 4000; ++i) {
    std::string json = realistic_record(rng);
    const int edits = static_cast<int>(rng() % 3);  // 0: the record itself
    for (int e = 0; e < edits; ++e) {
      const std::size_t at = rng() % json.size();
      switch (rng() % 3) {
        case 0:
          json.erase(at, 1);
          break;
        case 1:
          json.insert(json.begin() + static_cast<std::ptrdiff_t>(at), alphabet[rng() % alphabet.size()]);
          break;
        default:
          json[at] = alphabet[rng() % alphabet.size()];
          break;
      }
    }
    const PathTree::Walked walked = check_same(tree, json);
    if (walked == PathTree::Walked::kDone) ++accepted;
    if (walked == PathTree::Walked::kInvalid) ++rejected;
  }
  // Both outcomes occur often enough for the comparison to mean something.
  CHECK(accepted > 1000);
  CHECK(rejected > 1000);
}
