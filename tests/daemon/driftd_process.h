#pragma once
/// A running `driftd run` child process for integration tests: the real binary, its port read
/// from its first stdout line, and small HTTP helpers.

#include <catch2/catch.hpp>

#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <string>
#include <vector>

#include "http_client.h"
#include "process.h"

namespace drift::test {

// A running `driftd run`, its port read from its first stdout line.
class Driftd {
 public:
  Driftd(const std::string& config, const std::string& log_dir)
      : out_(log_dir + "/stdout.log"), err_(log_dir + "/stderr.log") {
    std::ofstream(out_, std::ios::trunc).flush();
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{DRIFTD_BINARY, "run", "--config", config}, out_, err_);
    const std::regex listening("listening on http://127\\.0\\.0\\.1:([0-9]+)");
    REQUIRE(wait_until([&] {
      std::smatch m;
      const std::string text = drift::test::read_file(out_);
      if (!std::regex_search(text, m, listening)) return false;
      port_ = static_cast<std::uint16_t>(std::stoi(m[1].str()));
      return true;
    }, 20000));
  }

  nlohmann::json get_json(const std::string& target) const {
    HttpClient client(port_);
    const auto reply = client.request("GET", target);
    REQUIRE(reply.status == 200);
    return nlohmann::json::parse(reply.body);
  }
  std::string get_text(const std::string& target) const {
    HttpClient client(port_);
    return client.request("GET", target).body;
  }
  int post(const std::string& target, std::string body) const {
    HttpClient client(port_);
    return client.request("POST", target, std::move(body), {{"content-type", "application/x-ndjson"}}).status;
  }
  nlohmann::json model() const { return get_json("/v1/models")["models"][0]; }
  ChildProcess& process() { return *process_; }
  std::uint16_t port() const { return port_; }
  std::string stderr_text() const { return drift::test::read_file(err_); }

 private:
  std::string out_;
  std::string err_;
  std::unique_ptr<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

}  // namespace drift::test
