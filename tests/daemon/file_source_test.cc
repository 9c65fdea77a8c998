// Tests of the file source on real files in a fresh temporary directory each: appends,
// partial lines, rotation, truncation, resume, a missing file, over-long lines.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "process.h"
#include "sources/file_source.h"

using drift::daemon::FileSource;
using drift::daemon::RawRecord;
using drift::daemon::RecordSink;
using drift::daemon::SourceConfig;
using drift::daemon::SourcePosition;
using drift::daemon::SourceType;
using drift::test::TempDir;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

bool eventually(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// Copies bodies and keeps the latest position per stream (the views die after deliver).
class CollectingSink final : public RecordSink {
 public:
  void deliver(std::string_view source, std::span<const RawRecord> records,
               std::span<const SourcePosition> positions) override {
    std::lock_guard lock(mu_);
    CHECK(!records.empty());
    for (const RawRecord& r : records) {
      CHECK(r.headers.empty());
      CHECK(r.arrival_ms > 0);
      bodies_.emplace_back(r.body);
    }
    REQUIRE(positions.size() == 1);
    CHECK(positions[0].source == source);
    last_ = positions[0];
  }
  std::vector<std::string> bodies() const {
    std::lock_guard lock(mu_);
    return bodies_;
  }
  std::size_t size() const {
    std::lock_guard lock(mu_);
    return bodies_.size();
  }
  SourcePosition last() const {
    std::lock_guard lock(mu_);
    return last_;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> bodies_;
  SourcePosition last_;
};

SourceConfig file_config(const std::string& path) {
  SourceConfig c;
  c.name = "tail";
  c.type = SourceType::kFile;
  c.path = path;
  c.poll_interval = std::chrono::milliseconds(10);
  return c;
}

void append(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::app);
  out << text;
  REQUIRE(out.good());
}

std::string identity(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
}

std::int64_t size_of(const std::string& path) {
  return static_cast<std::int64_t>(std::filesystem::file_size(path));
}

std::string line(int i) { return "{\"i\":" + std::to_string(i) + "}"; }

std::vector<std::string> lines(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(line(i));
  return out;
}

std::string text(int from, int to) {
  std::string out;
  for (int i = from; i <= to; ++i) out += line(i) + "\n";
  return out;
}

}  // namespace

TEST_CASE("File source delivers appended lines and a partial last line only once complete",
          "[file][integration]") {
  TempDir dir;
  const std::string path = dir.write("preds.jsonl", text(1, 2));
  FileSource source(file_config(path));
  CollectingSink sink;
  source.start(sink, {});
  REQUIRE(eventually([&] { return sink.size() == 2; }));
  CHECK(sink.last() == SourcePosition{"tail", identity(path), size_of(path)});

  append(path, "\n  \n" + line(3));  // blank lines are skipped; line 3 has no newline yet
  const auto partial_size = size_of(path);
  std::this_thread::sleep_for(100ms);  // ten polls: nothing may be delivered
  CHECK(sink.size() == 2);
  append(path, "\r\n" + line(4) + "\r\n");
  REQUIRE(eventually([&] { return sink.size() == 4; }));
  CHECK(sink.bodies() == lines(1, 4));
  CHECK(sink.last().offset == size_of(path));
  CHECK(partial_size < size_of(path));

  const auto status = source.status();
  CHECK(status.type == "file");
  CHECK(status.connected);
  CHECK(status.records_received == 4);
  CHECK(status.bytes_received == 4 * line(1).size());
  CHECK(status.last_error.empty());
  source.stop();
  CHECK_FALSE(source.status().connected);
}

TEST_CASE("File source reads a rotated file to its end before switching, losing nothing",
          "[file][integration]") {
  TempDir dir;
  const std::string path = dir.write("preds.jsonl", text(1, 3));
  const std::string old_identity = identity(path);
  FileSource source(file_config(path));
  CollectingSink sink;
  source.start(sink, {});
  REQUIRE(eventually([&] { return sink.size() == 3; }));

  // A writer appends, the file is renamed away, the writer (still holding it) appends more,
  // then a new file takes the name.
  append(path, line(4) + "\n");
  std::filesystem::rename(path, path + ".1");
  append(path + ".1", line(5) + "\n" + line(6));  // its last line never gets a newline
  std::this_thread::sleep_for(30ms);              // polls see the name missing for a while
  append(path, text(7, 8));
  REQUIRE(eventually([&] { return sink.size() == 8; }));
  CHECK(sink.bodies() == lines(1, 8));
  CHECK(identity(path) != old_identity);
  CHECK(sink.last() == SourcePosition{"tail", identity(path), size_of(path)});

  append(path, text(9, 9));
  REQUIRE(eventually([&] { return sink.size() == 9; }));
  source.stop();
}

TEST_CASE("File source restarts at the start of a truncated file", "[file][integration]") {
  TempDir dir;
  const std::string path = dir.write("preds.jsonl", text(100, 104));
  FileSource source(file_config(path));
  CollectingSink sink;
  source.start(sink, {});
  REQUIRE(eventually([&] { return sink.size() == 5; }));
  const std::string id = identity(path);

  dir.write("preds.jsonl", text(1, 1));  // truncates in place (copytruncate-like)
  REQUIRE(identity(path) == id);
  REQUIRE(eventually([&] { return sink.size() == 6; }));
  CHECK(sink.bodies().back() == line(1));
  CHECK(sink.last() == SourcePosition{"tail", id, size_of(path)});
  source.stop();
}

TEST_CASE("File source resumes at a checkpointed offset of the same file", "[file][integration]") {
  TempDir dir;
  const std::string path = dir.write("preds.jsonl", text(1, 3));
  const auto after_two = static_cast<std::int64_t>(text(1, 2).size());
  FileSource source(file_config(path));
  CollectingSink sink;
  const std::vector<SourcePosition> resume = {{"other", identity(path), 0},
                                              {"tail", identity(path), after_two}};
  source.start(sink, resume);
  REQUIRE(eventually([&] { return sink.size() == 1; }));
  append(path, text(4, 4));
  REQUIRE(eventually([&] { return sink.size() == 2; }));
  CHECK(sink.bodies() == lines(3, 4));
  source.stop();
}

TEST_CASE("File source finishes a file rotated while it was down, then reads the new one",
          "[file][integration]") {
  TempDir dir;
  const std::string path = dir.write("preds.jsonl", text(1, 3));
  const SourcePosition checkpoint{"tail", identity(path),
                                  static_cast<std::int64_t>(text(1, 1).size())};
  std::filesystem::rename(path, path + ".1");
  append(path + ".1", text(4, 4));
  append(path, text(5, 6));

  SECTION("the old file is still in the directory: nothing is lost") {
    FileSource source(file_config(path));
    CollectingSink sink;
    source.start(sink, std::vector<SourcePosition>{checkpoint});
    REQUIRE(eventually([&] { return sink.size() == 5; }));
    CHECK(sink.bodies() == lines(2, 6));
    CHECK(sink.last() == SourcePosition{"tail", identity(path), size_of(path)});
    source.stop();
  }
  SECTION("the old file is gone: the new file is read from its start") {
    std::filesystem::remove(path + ".1");
    FileSource source(file_config(path));
    CollectingSink sink;
    source.start(sink, std::vector<SourcePosition>{checkpoint});
    REQUIRE(eventually([&] { return sink.size() == 2; }));
    CHECK(sink.bodies() == lines(5, 6));
    source.stop();
  }
}

TEST_CASE("File source waits for a missing file and reads it once created", "[file][integration]") {
  TempDir dir;
  const std::string path = dir.path() + "/later.jsonl";
  FileSource source(file_config(path));
  CollectingSink sink;
  source.start(sink, {});
  REQUIRE(eventually([&] { return !source.status().last_error.empty(); }));
  auto status = source.status();
  CHECK_FALSE(status.connected);
  CHECK(status.last_error.find(path) != std::string::npos);
  CHECK(status.last_error.find("waiting") != std::string::npos);

  append(path, text(1, 2));
  REQUIRE(eventually([&] { return sink.size() == 2; }));
  CHECK(source.status().connected);
  source.stop();
}

TEST_CASE("File source skips over-long lines and counts them", "[file][integration]") {
  TempDir dir;
  const std::string path = dir.path() + "/preds.jsonl";
  FileSource source(file_config(path), /*max_line_bytes=*/100);
  CollectingSink sink;

  SECTION("a long line that arrives whole") {
    append(path, line(1) + "\n" + std::string(1000, 'x') + "\n" + line(2) + "\n");
    source.start(sink, {});
    REQUIRE(eventually([&] { return sink.size() == 2; }));
  }
  SECTION("a long line that outgrows the buffer before its newline arrives") {
    append(path, line(1) + "\n" + std::string(150000, 'x'));
    source.start(sink, {});
    REQUIRE(eventually([&] { return source.lines_skipped() == 1; }));
    append(path, std::string(50000, 'y') + "\n" + line(2) + "\n");
    REQUIRE(eventually([&] { return sink.size() == 2; }));
  }
  CHECK(sink.bodies() == lines(1, 2));
  CHECK(source.lines_skipped() == 1);
  CHECK(sink.last().offset == size_of(path));
  CHECK(source.status().last_error.find("longer than 100 bytes") != std::string::npos);
  source.stop();
}
