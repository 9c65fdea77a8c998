#include "drift/daemon/table.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace drift::daemon {
namespace {

/// A file's bytes: mapped when it is a regular file, read in full otherwise (a pipe).
class FileContents {
 public:
  explicit FileContents(const std::filesystem::path& path) : source_(path.string()) {
    fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ < 0) fail("cannot open");
    struct stat info {};
    if (::fstat(fd_, &info) != 0) fail("cannot stat");
    if (S_ISDIR(info.st_mode)) {
      errno = EISDIR;
      fail("cannot read");
    }
    if (S_ISREG(info.st_mode) && info.st_size > 0) {
      size_ = static_cast<std::size_t>(info.st_size);
      void* mapping = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd_, 0);
      if (mapping == MAP_FAILED) fail("cannot map");
      mapping_ = mapping;
      return;
    }
    char block[1 << 16];
    while (true) {
      const ssize_t got = ::read(fd_, block, sizeof block);
      if (got < 0 && errno == EINTR) continue;
      if (got < 0) fail("cannot read");
      if (got == 0) break;
      buffer_.append(block, static_cast<std::size_t>(got));
    }
  }

  FileContents(const FileContents&) = delete;
  FileContents& operator=(const FileContents&) = delete;

  ~FileContents() { release(); }

  std::string_view text() const {
    return mapping_ != nullptr ? std::string_view(static_cast<const char*>(mapping_), size_)
                               : std::string_view(buffer_);
  }

 private:
  [[noreturn]] void fail(std::string_view what) {
    const std::string reason = std::strerror(errno);
    release();
    throw TableError(source_ + ": " + std::string(what) + ": " + reason);
  }

  void release() {
    if (mapping_ != nullptr) ::munmap(mapping_, size_);
    mapping_ = nullptr;
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  std::string source_;
  int fd_ = -1;
  void* mapping_ = nullptr;
  std::size_t size_ = 0;
  std::string buffer_;
};

bool is_jsonl(const std::filesystem::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".jsonl" || extension == ".ndjson";
}

}  // namespace

SampleView Table::view() const {
  SampleView sample;
  sample.columns.reserve(columns.size());
  for (const auto& column : columns) {
    ColumnView view;
    view.name = column.name;
    view.kind = column.kind;
    view.values = column.values;
    view.codes = column.codes;
    view.dictionary = column.dictionary;
    sample.columns.push_back(std::move(view));
  }
  return sample;
}

const Column* Table::find(std::string_view name) const {
  for (const auto& column : columns) {
    if (column.name == name) return &column;
  }
  return nullptr;
}

Table read_table(const std::filesystem::path& path, const ReadOptions& options) {
  const FileContents file(path);
  const std::string source = path.string();
  return is_jsonl(path) ? parse_jsonl(file.text(), options, source)
                        : parse_csv(file.text(), options, source);
}

}  // namespace drift::daemon
