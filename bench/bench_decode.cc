/// Decode throughput of drift::daemon::Decoder on one thread. Three cases:
///  - flat: prediction records of 20 numeric + 4 categorical features (~450 bytes each, like
///    `{"model":"fraud","ts":1764237600123,"features":{"f0":0.123,...,"c3":"web"},
///    "prediction":0.87}`), routed by a pointer match on /model; the target case.
///  - kserve-v1: requests of 32 instances (arrays of 20 numbers) joined to 32 predictions,
///    routed by the ce-inferenceservicename header.
///  - kserve-v2: the same rows as an FP32 tensor [32, 20] and an output tensor [32].
///  - ondemand-only, dom-only: the two simdjson front ends the decoder chose between, alone on
///    the flat records (parse and visit every field; no conversion, no routing, no output).
/// Records are generated (seeded) into one buffer, like a Kafka fetch; they are decoded in
/// batches of --batch records, the rows cleared after each batch as the pipeline would. Prints
/// the median over --repeats passes (after one warm-up pass) of records/s, rows/s and MB/s
/// (MB = 10^6 bytes of request + response bodies), by wall clock, and records per second of the
/// thread's CPU time (steadier on a busy machine).
///
///   bench_decode [--records N] [--messages N] [--batch N] [--repeats N] [--seed N]
///                [--cases flat,kserve-v1,kserve-v2,ondemand-only,dom-only] [--json FILE]

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "bench_common.h"
#include "decode/decoder.h"

namespace {

using drift::daemon::DecodeCounts;
using drift::daemon::DecodedRows;
using drift::daemon::Decoder;
using drift::daemon::FeatureConfig;
using drift::daemon::FeatureOrigin;
using drift::daemon::Header;
using drift::daemon::MatchRule;
using drift::daemon::ModelConfig;
using drift::daemon::RawRecord;
using drift::daemon::RecordFormat;

struct Options {
  std::size_t records = 200'000;  ///< flat records
  std::size_t messages = 10'000;  ///< KServe messages (32 rows each)
  std::size_t batch = 1000;
  int repeats = 5;
  std::uint64_t seed = 7;
  std::string cases = "flat,kserve-v1,kserve-v2,ondemand-only,dom-only";
  std::string json;
};

constexpr std::size_t kNumeric = 20;
constexpr std::size_t kCategorical = 4;
constexpr std::size_t kRowsPerMessage = 32;

[[noreturn]] void usage(const char* message) {
  std::fprintf(stderr,
               "bench_decode: %s\nusage: bench_decode [--records N] [--messages N] [--batch N] "
               "[--repeats N] [--seed N] [--cases LIST] [--json FILE]\n",
               message);
  std::exit(2);
}

std::size_t parse_count(std::string_view text) {
  return drift::bench::parse_positive(text, [](const char* message) { usage(message); });
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string_view flag = argv[i];
    if (i + 1 >= argc) usage("missing value after a flag");
    const std::string_view value = argv[++i];
    if (flag == "--records") {
      options.records = parse_count(value);
    } else if (flag == "--messages") {
      options.messages = parse_count(value);
    } else if (flag == "--batch") {
      options.batch = parse_count(value);
    } else if (flag == "--repeats") {
      options.repeats = static_cast<int>(parse_count(value));
    } else if (flag == "--seed") {
      options.seed = parse_count(value);
    } else if (flag == "--cases") {
      options.cases = value;
    } else if (flag == "--json") {
      options.json = value;
    } else {
      usage("unknown flag");
    }
  }
  return options;
}

/// A feature value as a producer would print it: about 8 significant digits.
void append_number(std::string& out, float value) {
  char buffer[32];
  const auto end =
      std::to_chars(buffer, buffer + sizeof buffer, value, std::chars_format::general, 8).ptr;
  out.append(buffer, end);
}

std::string feature_name(char prefix, std::size_t k) {
  std::string name(1, prefix);
  name += std::to_string(k);
  return name;
}

/// Record bodies in one buffer; views are made once the buffer stops growing.
struct Corpus {
  std::string bytes;
  std::vector<std::pair<std::size_t, std::size_t>> bodies;     ///< offset, size
  std::vector<std::pair<std::size_t, std::size_t>> responses;  ///< empty for flat
  std::vector<RawRecord> records;
  std::vector<Header> headers;
  std::size_t rows_per_record = 1;
  std::size_t total_bytes = 0;

  void add(std::string_view body, std::string_view response = {}) {
    bodies.emplace_back(bytes.size(), body.size());
    bytes.append(body);
    responses.emplace_back(bytes.size(), response.size());
    bytes.append(response);
    total_bytes += body.size() + response.size();
  }
  void finish() {
    records.resize(bodies.size());
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      records[i].body = std::string_view(bytes).substr(bodies[i].first, bodies[i].second);
      records[i].response_body =
          std::string_view(bytes).substr(responses[i].first, responses[i].second);
      records[i].headers = headers;
      records[i].arrival_ms = 1764237600000;
    }
  }
};

const char* const kCategories[kCategorical][4] = {{"US", "DE", "FR", "BR"},
                                                  {"visa", "mastercard", "amex", "discover"},
                                                  {"new", "returning", "vip", "guest"},
                                                  {"web", "ios", "android", "pos"}};

Corpus flat_corpus(const Options& options) {
  drift::bench::NormalSource normal(options.seed);
  std::mt19937_64 rng(options.seed);
  Corpus corpus;
  std::string body;
  for (std::size_t i = 0; i < options.records; ++i) {
    body = "{\"model\":\"fraud\",\"ts\":";
    body += std::to_string(1764237600123 + static_cast<std::int64_t>(i) * 7);
    body += ",\"features\":{";
    for (std::size_t k = 0; k < kNumeric; ++k) {
      body += '"';
      body += feature_name('f', k);
      body += "\":";
      append_number(body, normal.next(0.0f, 100.0f));
      body += ',';
    }
    for (std::size_t k = 0; k < kCategorical; ++k) {
      body += '"';
      body += feature_name('c', k);
      body += "\":\"";
      body += kCategories[k][rng() % 4];
      body += k + 1 == kCategorical ? "\"}" : "\",";
    }
    body += ",\"prediction\":";
    append_number(body, static_cast<float>(rng() % 100000) / 100000.0f);
    body += '}';
    corpus.add(body);
  }
  corpus.finish();
  return corpus;
}

Corpus kserve_corpus(const Options& options, bool v2) {
  drift::bench::NormalSource normal(options.seed);
  std::mt19937_64 rng(options.seed);
  Corpus corpus;
  corpus.rows_per_record = kRowsPerMessage;
  corpus.headers = {{"ce-inferenceservicename", "fraud"},
                    {"ce-time", "2026-11-27T10:00:00.123Z"},
                    {"ce-type", "org.kubeflow.serving.inference.request"}};
  std::string body;
  std::string response;
  for (std::size_t i = 0; i < options.messages; ++i) {
    const std::string id = "\"" + std::to_string(i) + "\"";
    if (v2) {
      body = "{\"id\":" + id + ",\"inputs\":[{\"name\":\"features\",\"shape\":[";
      body += std::to_string(kRowsPerMessage);
      body += ",";
      body += std::to_string(kNumeric);
      body += "],\"datatype\":\"FP32\",\"data\":[";
      response = "{\"model_name\":\"fraud\",\"id\":" + id +
                 ",\"outputs\":[{\"name\":\"score\",\"shape\":[" + std::to_string(kRowsPerMessage) +
                 "],\"datatype\":\"FP32\",\"data\":[";
    } else {
      body = "{\"instances\":[";
      response = "{\"predictions\":[";
    }
    for (std::size_t r = 0; r < kRowsPerMessage; ++r) {
      if (!v2) body += '[';
      for (std::size_t k = 0; k < kNumeric; ++k) {
        append_number(body, normal.next(0.0f, 100.0f));
        if (k + 1 != kNumeric) body += ',';
      }
      if (!v2) body += ']';
      if (r + 1 != kRowsPerMessage) body += ',';
      append_number(response, static_cast<float>(rng() % 100000) / 100000.0f);
      if (r + 1 != kRowsPerMessage) response += ',';
    }
    body += v2 ? "]}]}" : "]}";
    response += v2 ? "]}]}" : "]}";
    corpus.add(body, response);
  }
  corpus.finish();
  return corpus;
}

ModelConfig flat_model() {
  ModelConfig model;
  model.name = "fraud";
  model.match.kind = MatchRule::Kind::kPointer;
  model.match.key = "/model";
  model.match.equals = "fraud";
  model.timestamp_pointer = "/ts";
  for (std::size_t k = 0; k < kNumeric; ++k) {
    FeatureConfig feature;
    feature.name = feature_name('f', k);
    feature.pointer = "/features/" + feature.name;
    model.features.push_back(feature);
  }
  for (std::size_t k = 0; k < kCategorical; ++k) {
    FeatureConfig feature;
    feature.name = feature_name('c', k);
    feature.pointer = "/features/" + feature.name;
    feature.kind = drift::FeatureKind::kCategorical;
    model.features.push_back(feature);
  }
  return model;
}

ModelConfig kserve_model(bool v2) {
  ModelConfig model;
  model.name = "fraud";
  model.match.kind = MatchRule::Kind::kHeader;
  model.match.key = "ce-inferenceservicename";
  model.match.equals = "fraud";
  for (std::size_t k = 0; k < kNumeric; ++k) {
    FeatureConfig feature;
    feature.name = feature_name('f', k);
    feature.pointer = (v2 ? "/features/" : "/") + std::to_string(k);
    model.features.push_back(feature);
  }
  FeatureConfig score;
  score.name = "score";
  score.pointer = v2 ? "/score" : "";
  score.from = FeatureOrigin::kPrediction;
  model.features.push_back(score);
  return model;
}

struct Result {
  std::string name;
  std::size_t records = 0;
  std::size_t rows = 0;
  std::size_t bytes = 0;
  std::vector<double> seconds;
  std::vector<double> cpu_seconds;
  double median = 0.0;
  double median_cpu = 0.0;
};

double thread_cpu_seconds() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) * 1e-9;
}

bool wanted(const Options& options, std::string_view name) {
  std::string_view cases = options.cases;
  while (!cases.empty()) {
    const std::size_t comma = std::min(cases.find(','), cases.size());
    if (cases.substr(0, comma) == name) return true;
    cases.remove_prefix(std::min(comma + 1, cases.size()));
  }
  return false;
}

/// Times `pass` (which returns the rows it produced) over the corpus: one warm-up pass, then
/// --repeats timed passes.
template <class Pass>
Result measure(std::string name, const Corpus& corpus, const Options& options, Pass pass) {
  Result result;
  result.name = std::move(name);
  result.records = corpus.records.size();
  result.rows = corpus.records.size() * corpus.rows_per_record;
  result.bytes = corpus.total_bytes;
  for (int repeat = 0; repeat <= options.repeats; ++repeat) {
    const double cpu_start = thread_cpu_seconds();
    const auto start = std::chrono::steady_clock::now();
    const std::size_t rows = pass();
    const double seconds = drift::bench::seconds_since(start);
    const double cpu_seconds = thread_cpu_seconds() - cpu_start;
    if (rows != result.rows) {
      throw std::runtime_error(result.name + ": decoded " + std::to_string(rows) +
                               " rows, expected " + std::to_string(result.rows));
    }
    if (repeat > 0) {  // the first pass warms up
      result.seconds.push_back(seconds);
      result.cpu_seconds.push_back(cpu_seconds);
    }
  }
  result.median = drift::bench::median(result.seconds);
  result.median_cpu = drift::bench::median(result.cpu_seconds);
  return result;
}

Result measure_decoder(std::string name, const Corpus& corpus, const Decoder& decoder,
                       const Options& options) {
  std::vector<DecodedRows> out;
  const std::span<const RawRecord> all(corpus.records);
  return measure(std::move(name), corpus, options, [&] {
    DecodeCounts counts;
    for (std::size_t at = 0; at < all.size(); at += options.batch) {
      decoder.decode(all.subspan(at, std::min(options.batch, all.size() - at)), out, counts);
      for (auto& rows : out) rows.clear();
    }
    return static_cast<std::size_t>(counts.accepted_rows.at(0));
  });
}

/// `body` in a padded copy, as the decoder parses it.
const char* padded(std::vector<char>& buffer, std::string_view body) {
  if (buffer.size() < body.size() + simdjson::SIMDJSON_PADDING) {
    buffer.resize(body.size() + simdjson::SIMDJSON_PADDING);
  }
  std::memcpy(buffer.data(), body.data(), body.size());
  std::memset(buffer.data() + body.size(), ' ', simdjson::SIMDJSON_PADDING);
  return buffer.data();
}

/// The parsers the decoder chose between, alone (parse, visit every field of the flat records
/// two levels deep, no conversion, no output): simdjson ondemand reading raw tokens, and DOM.
Result measure_ondemand(const Corpus& corpus, const Options& options) {
  simdjson::ondemand::parser parser;
  std::vector<char> buffer;
  std::size_t sink = 0;
  Result result = measure("ondemand-only", corpus, options, [&] {
    std::size_t rows = 0;
    for (const RawRecord& record : corpus.records) {
      const char* const json = padded(buffer, record.body);  // before buffer.size() is read
      simdjson::ondemand::document document;
      if (parser.iterate(json, record.body.size(), buffer.size()).get(document)) continue;
      simdjson::ondemand::object root;
      if (document.get_object().get(root)) continue;
      bool valid = true;
      for (auto field : root) {
        simdjson::ondemand::value value;
        if (field.value().get(value)) {
          valid = false;
          break;
        }
        simdjson::ondemand::object inner;
        if (value.get_object().get(inner) == simdjson::SUCCESS) {
          for (auto inner_field : inner) {
            simdjson::ondemand::value inner_value;
            if (inner_field.value().get(inner_value)) {
              valid = false;
              break;
            }
            sink += inner_value.raw_json_token().size();
          }
        } else {
          sink += value.raw_json_token().size();
        }
      }
      if (!valid) continue;
      ++rows;
    }
    return rows;
  });
  if (sink == 0) throw std::runtime_error("ondemand-only read nothing");
  return result;
}

Result measure_dom(const Corpus& corpus, const Options& options) {
  simdjson::dom::parser parser;
  std::vector<char> buffer;
  std::size_t sink = 0;
  Result result = measure("dom-only", corpus, options, [&] {
    std::size_t rows = 0;
    for (const RawRecord& record : corpus.records) {
      simdjson::dom::element root;
      if (parser.parse(padded(buffer, record.body), record.body.size(), false).get(root)) {
        continue;
      }
      simdjson::dom::object object;
      if (root.get_object().get(object)) continue;
      for (const auto field : object) {
        simdjson::dom::object inner;
        if (field.value.get_object().get(inner) == simdjson::SUCCESS) {
          for (const auto inner_field : inner) sink += inner_field.key.size();
        }
        sink += field.key.size();
      }
      ++rows;
    }
    return rows;
  });
  if (sink == 0) throw std::runtime_error("dom-only read nothing");
  return result;
}

void write_json(const std::string& file, const Options& options,
                const std::vector<Result>& results) {
  std::FILE* out = std::fopen(file.c_str(), "w");
  if (out == nullptr) throw std::runtime_error("cannot write " + file);
  std::fprintf(out,
               "{\n  \"benchmark\": \"decode\",\n  \"threads\": 1,\n  \"batch\": %zu,\n"
               "  \"repeats\": %d,\n  \"seed\": %llu,\n  \"results\": [\n",
               options.batch, options.repeats, static_cast<unsigned long long>(options.seed));
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Result& r = results[i];
    std::fprintf(out,
                 "    {\"case\": \"%s\", \"records\": %zu, \"rows\": %zu, \"bytes\": %zu, "
                 "\"median_seconds\": %.6f, \"records_per_s\": %.0f, \"rows_per_s\": %.0f, "
                 "\"mb_per_s\": %.1f, \"median_cpu_seconds\": %.6f, "
                 "\"records_per_cpu_s\": %.0f, \"seconds\": [",
                 r.name.c_str(), r.records, r.rows, r.bytes, r.median,
                 static_cast<double>(r.records) / r.median, static_cast<double>(r.rows) / r.median,
                 static_cast<double>(r.bytes) / 1e6 / r.median, r.median_cpu,
                 static_cast<double>(r.records) / r.median_cpu);
    for (std::size_t k = 0; k < r.seconds.size(); ++k) {
      std::fprintf(out, "%s%.6f", k == 0 ? "" : ", ", r.seconds[k]);
    }
    std::fprintf(out, "]}%s\n", i + 1 == results.size() ? "" : ",");
  }
  std::fprintf(out, "  ]\n}\n");
  if (std::fclose(out) != 0) throw std::runtime_error("cannot write " + file);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options options = parse_options(argc, argv);
    std::vector<Result> results;
    if (wanted(options, "flat") || wanted(options, "ondemand-only") ||
        wanted(options, "dom-only")) {
      const Corpus corpus = flat_corpus(options);
      if (wanted(options, "flat")) {
        const Decoder decoder({flat_model()}, RecordFormat::kFlat);
        results.push_back(measure_decoder("flat", corpus, decoder, options));
      }
      if (wanted(options, "ondemand-only")) results.push_back(measure_ondemand(corpus, options));
      if (wanted(options, "dom-only")) results.push_back(measure_dom(corpus, options));
    }
    if (wanted(options, "kserve-v1")) {
      const Corpus corpus = kserve_corpus(options, false);
      const Decoder decoder({kserve_model(false)}, RecordFormat::kKserveV1);
      results.push_back(measure_decoder("kserve-v1", corpus, decoder, options));
    }
    if (wanted(options, "kserve-v2")) {
      const Corpus corpus = kserve_corpus(options, true);
      const Decoder decoder({kserve_model(true)}, RecordFormat::kKserveV2);
      results.push_back(measure_decoder("kserve-v2", corpus, decoder, options));
    }
    std::printf("decode, 1 thread, batches of %zu records, median of %d passes\n", options.batch,
                options.repeats);
    std::printf("%-13s %9s %9s %9s %12s %12s %9s %14s\n", "case", "records", "rows", "bytes/rec",
                "records/s", "rows/s", "MB/s", "records/cpu-s");
    for (const Result& r : results) {
      std::printf("%-13s %9zu %9zu %9.0f %12.0f %12.0f %9.1f %14.0f\n", r.name.c_str(), r.records,
                  r.rows, static_cast<double>(r.bytes) / static_cast<double>(r.records),
                  static_cast<double>(r.records) / r.median, static_cast<double>(r.rows) / r.median,
                  static_cast<double>(r.bytes) / 1e6 / r.median,
                  static_cast<double>(r.records) / r.median_cpu);
    }
    if (!options.json.empty()) write_json(options.json, options, results);
  } catch (const std::exception& error) {
    std::fprintf(stderr, "bench_decode: %s\n", error.what());
    return 1;
  }
  return 0;
}
