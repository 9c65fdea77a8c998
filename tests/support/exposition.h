#pragma once
/// Test helpers for Prometheus text exposition: a strict reader of format 0.0.4, METRICS.md's
/// catalogue table, gunzip, and PATH look-up (promtool, prometheus).

#include <unistd.h>
#include <zlib.h>

#include <catch2/catch.hpp>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace drift::test {

using Labels = std::map<std::string, std::string>;

// ---------------------------------------------------------------------------------------------
// A strict reader of text exposition format 0.0.4 (what the tests look at).

struct Sample {
  std::string name;
  Labels labels;
  double value = 0.0;
};

struct Exposition {
  std::vector<Sample> samples;
  std::map<std::string, std::string> help;  // family -> text
  std::map<std::string, std::string> type;  // family -> counter|gauge|histogram|...

  /// The family a sample belongs to (histogram samples carry _bucket/_sum/_count).
  std::string family_of(const std::string& sample) const {
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      const std::string s(suffix);
      if (sample.size() > s.size() && sample.ends_with(s)) {
        const std::string base = sample.substr(0, sample.size() - s.size());
        const auto it = type.find(base);
        if (it != type.end() && it->second == "histogram") return base;
      }
    }
    return sample;
  }

  std::optional<double> value(const std::string& name, const Labels& labels) const {
    for (const Sample& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nullopt;
  }

  std::size_t count(const std::string& name, const Labels& subset = {}) const {
    std::size_t n = 0;
    for (const Sample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : subset) {
        const auto it = s.labels.find(k);
        match = match && it != s.labels.end() && it->second == v;
      }
      n += match ? 1 : 0;
    }
    return n;
  }
};

inline Exposition parse_exposition(const std::string& text) {
  Exposition e;
  REQUIRE((text.empty() || text.back() == '\n'));
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    INFO(line);
    REQUIRE(!line.empty());
    if (line.starts_with("# HELP ") || line.starts_with("# TYPE ")) {
      const std::string rest = line.substr(7);
      const std::size_t space = rest.find(' ');
      REQUIRE(space != std::string::npos);
      auto& target = line[2] == 'H' ? e.help : e.type;
      REQUIRE(target.emplace(rest.substr(0, space), rest.substr(space + 1)).second);
      continue;
    }
    REQUIRE(line[0] != '#');
    Sample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') s.name += line[i++];
    REQUIRE(i < line.size());
    if (line[i] == '{') {
      ++i;
      while (line.at(i) != '}') {
        std::string key;
        while (line.at(i) != '=') key += line[i++];
        REQUIRE(line.at(++i) == '"');
        ++i;
        std::string value;
        while (line.at(i) != '"') {
          if (line[i] == '\\') {
            const char c = line.at(++i);
            REQUIRE((c == '\\' || c == '"' || c == 'n'));
            value += c == 'n' ? '\n' : c;
          } else {
            value += line[i];
          }
          ++i;
        }
        ++i;
        REQUIRE(s.labels.emplace(key, value).second);
        if (line.at(i) == ',') ++i;
      }
      ++i;
    }
    REQUIRE(line.at(i) == ' ');
    const std::string number = line.substr(i + 1);
    char* end = nullptr;
    s.value = std::strtod(number.c_str(), &end);
    REQUIRE(end == number.c_str() + number.size());
    e.samples.push_back(std::move(s));
  }
  return e;
}

inline std::filesystem::path metrics_md() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() /
         "exporters" / "METRICS.md";
}

/// METRICS.md's catalogue table: name -> (type, label names).
inline std::map<std::string, std::pair<std::string, std::set<std::string>>> documented_catalogue() {
  std::ifstream in(metrics_md());
  REQUIRE(in.good());
  std::map<std::string, std::pair<std::string, std::set<std::string>>> out;
  std::string line;
  const std::regex code("`([^`]*)`");
  while (std::getline(in, line)) {
    if (!line.starts_with("| `drift_")) continue;
    std::vector<std::string> cells;
    std::size_t start = 1;
    for (std::size_t bar = line.find('|', start); bar != std::string::npos;
         bar = line.find('|', start)) {
      cells.push_back(line.substr(start, bar - start));
      start = bar + 1;
    }
    INFO(line);
    REQUIRE(cells.size() >= 4);
    std::smatch m;
    REQUIRE(std::regex_search(cells[0], m, code));
    const std::string name = m[1];
    std::string type = cells[1];
    type.erase(0, type.find_first_not_of(' '));
    type.erase(type.find_last_not_of(' ') + 1);
    std::set<std::string> labels;
    for (auto it = std::sregex_iterator(cells[2].begin(), cells[2].end(), code);
         it != std::sregex_iterator(); ++it) {
      labels.insert((*it)[1]);
    }
    REQUIRE(out.emplace(name, std::make_pair(type, labels)).second);
  }
  return out;
}

/// The program's path on PATH, else in /usr/bin (Debian's packages), else "".
inline std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream in(std::string(path != nullptr ? path : "") + ":/usr/bin");
  std::string dir;
  while (std::getline(in, dir, ':')) {
    if (dir.empty()) continue;
    const std::filesystem::path candidate = std::filesystem::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

/// Percent-encoding of a query parameter value (RFC 3986 unreserved characters kept).
inline std::string url_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

inline std::string gunzip(const std::string& data) {
  z_stream zs{};
  REQUIRE(inflateInit2(&zs, 15 + 16) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buffer[65536];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buffer);
    zs.avail_out = sizeof buffer;
    rc = inflate(&zs, Z_NO_FLUSH);
    REQUIRE((rc == Z_OK || rc == Z_STREAM_END));
    out.append(buffer, sizeof buffer - zs.avail_out);
  }
  inflateEnd(&zs);
  return out;
}

}  // namespace drift::test
