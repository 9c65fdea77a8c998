#pragma once
/// The standalone mock Kafka cluster (tests/support/mockkafka.c) as a child process, with a
/// producer, for integration tests of the real driftd binary. DRIFTD_BINARY locates it.

#include <catch2/catch.hpp>

#include <librdkafka/rdkafka.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "process.h"

namespace drift::test {

// The standalone mock cluster (tests/support/mockkafka.c) with one single-partition topic: one
// partition keeps the record order, and so the windows, identical between runs.
class MockKafka {
 public:
  explicit MockKafka(const std::string& log_dir, std::vector<std::string> topics = {"preds:1"}) {
    const auto program =
        std::filesystem::path(DRIFTD_BINARY).parent_path().parent_path() / "tests" / "mockkafka";
    const std::string out = log_dir + "/mockkafka.out";
    std::vector<std::string> argv = {program.string(), "--brokers", "1"};
    for (const auto& topic : topics) argv.insert(argv.end(), {"--topic", topic});
    process_ = std::make_unique<ChildProcess>(argv, out, log_dir + "/mockkafka.err");
    REQUIRE(drift::test::wait_until([&] {
      const std::string text = drift::test::read_file(out);
      if (text.find('\n') == std::string::npos) return false;
      bootstraps_ = text.substr(0, text.find('\n'));
      return true;
    }, 10000));
    char error[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstraps_.c_str(), error, sizeof error);
    producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, error, sizeof error);
    REQUIRE(producer_ != nullptr);
    topic_ = rd_kafka_topic_new(producer_, "preds", nullptr);
  }
  ~MockKafka() {
    rd_kafka_topic_destroy(topic_);
    rd_kafka_destroy(producer_);
    process_->signal(SIGTERM);
    process_->wait(5000);
  }
  const std::string& bootstraps() const { return bootstraps_; }
  /// Messages in partition 0 of `topic` (its high watermark).
  std::int64_t messages_in(const std::string& topic) {
    std::int64_t low = 0;
    std::int64_t high = 0;
    if (rd_kafka_query_watermark_offsets(producer_, topic.c_str(), 0, &low, &high, 5000) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
      return -1;
    }
    return high;
  }
  MockKafka(const MockKafka&) = delete;
  MockKafka& operator=(const MockKafka&) = delete;
  /// Produces lines[begin, end) to partition 0 of "preds" and waits until they are acknowledged.
  void produce(const std::vector<std::string>& lines, std::size_t begin, std::size_t end) {
    for (std::size_t k = begin; k < end; ++k) {
      while (rd_kafka_produce(topic_, 0, RD_KAFKA_MSG_F_COPY, const_cast<char*>(lines[k].data()),
                              lines[k].size(), nullptr, 0, nullptr) != 0) {
        rd_kafka_poll(producer_, 10);
      }
    }
    REQUIRE(rd_kafka_flush(producer_, 10000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  void produce(const std::vector<std::string>& lines) { produce(lines, 0, lines.size()); }

 private:
  std::unique_ptr<ChildProcess> process_;
  std::string bootstraps_;
  rd_kafka_t* producer_ = nullptr;
  rd_kafka_topic_t* topic_ = nullptr;
};

}  // namespace drift::test
