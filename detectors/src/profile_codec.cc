// ReferenceProfile's binary form. Layout (little-endian):
//   "DRIFTPRF" | u32 version | u32 flags (0) | u64 payload length | payload | u32 CRC-32(payload)
// The payload writes every field in declaration order; vectors and strings are a u64 count
// followed by their elements. Readers check every count against the bytes left, so a corrupt
// file can neither crash nor make us allocate more than its own size.
#include <bit>
#include <boost/crc.hpp>
#include <cstring>
#include <string>
#include <type_traits>

#include "drift/detectors/reference_profile.h"

namespace drift {

namespace {

static_assert(std::endian::native == std::endian::little, "the profile format is little-endian");

constexpr char kMagic[8] = {'D', 'R', 'I', 'F', 'T', 'P', 'R', 'F'};
constexpr std::size_t kHeaderBytes = sizeof(kMagic) + 4 + 4 + 8;
constexpr std::size_t kTrailerBytes = 4;

std::uint32_t crc32(const char* data, std::size_t size) {
  boost::crc_32_type crc;
  crc.process_bytes(data, size);
  return crc.checksum();
}

class Writer {
 public:
  template <typename T>
  void scalar(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_.append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  void text(const std::string& s) {
    scalar<std::uint64_t>(s.size());
    out_.append(s);
  }
  template <typename T>
  void array(const std::vector<T>& v) {
    scalar<std::uint64_t>(v.size());
    out_.append(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
  }
  void texts(const std::vector<std::string>& v) {
    scalar<std::uint64_t>(v.size());
    for (const auto& s : v) text(s);
  }
  std::string& bytes() { return out_; }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> bytes) : bytes_(bytes) {}

  template <typename T>
  T scalar() {
    T value;
    std::memcpy(&value, take(sizeof(T)), sizeof(T));
    return value;
  }
  std::string text() {
    const std::size_t n = count(1);
    return std::string(reinterpret_cast<const char*>(take(n)), n);
  }
  template <typename T>
  std::vector<T> array() {
    const std::size_t n = count(sizeof(T));
    std::vector<T> v(n);
    if (n > 0) std::memcpy(v.data(), take(n * sizeof(T)), n * sizeof(T));
    return v;
  }
  std::vector<std::string> texts() {
    // Each string costs at least its 8-byte length.
    const std::size_t n = count(sizeof(std::uint64_t));
    std::vector<std::string> v;
    v.reserve(n);
    for (std::size_t k = 0; k < n; ++k) v.push_back(text());
    return v;
  }
  bool done() const { return pos_ == bytes_.size(); }

 private:
  std::size_t count(std::size_t element_bytes) {
    const auto n = scalar<std::uint64_t>();
    if (n > (bytes_.size() - pos_) / element_bytes) {
      throw ProfileFormatError("profile payload is inconsistent: a count of " + std::to_string(n) +
                               " exceeds the bytes left at offset " + std::to_string(pos_));
    }
    return static_cast<std::size_t>(n);
  }
  const std::byte* take(std::size_t n) {
    if (n > bytes_.size() - pos_) {
      throw ProfileFormatError("profile payload is truncated at offset " + std::to_string(pos_));
    }
    const std::byte* p = bytes_.data() + pos_;
    pos_ += n;
    return p;
  }

  std::span<const std::byte> bytes_;
  std::size_t pos_ = 0;
};

void write_mmd_options(Writer& w, const MmdOptions& o) {
  w.texts(o.features);
  w.scalar<std::uint8_t>(o.standardize ? 1 : 0);
  w.scalar<std::uint64_t>(o.max_rows);
  w.scalar<std::uint8_t>(o.sigma ? 1 : 0);
  w.scalar<double>(o.sigma.value_or(0.0));
  w.scalar<std::uint64_t>(o.sigma_rows);
  w.scalar<std::uint64_t>(o.seed);
}

MmdOptions read_mmd_options(Reader& r) {
  MmdOptions o;
  o.features = r.texts();
  o.standardize = r.scalar<std::uint8_t>() != 0;
  o.max_rows = r.scalar<std::uint64_t>();
  const bool has_sigma = r.scalar<std::uint8_t>() != 0;
  const double sigma = r.scalar<double>();
  if (has_sigma) o.sigma = sigma;
  o.sigma_rows = r.scalar<std::uint64_t>();
  o.seed = r.scalar<std::uint64_t>();
  return o;
}

}  // namespace

std::string ReferenceProfile::serialize() const {
  Writer w;
  w.scalar<std::int32_t>(options_.psi_bins);
  w.scalar<std::uint8_t>(options_.build_mmd ? 1 : 0);
  write_mmd_options(w, options_.mmd);
  w.scalar<std::uint64_t>(rows_);
  w.scalar<std::uint64_t>(features_.size());
  for (const auto& f : features_) {
    w.text(f.name);
    w.scalar<std::uint8_t>(static_cast<std::uint8_t>(f.kind));
    w.scalar<std::uint64_t>(f.rows);
    w.scalar<std::uint64_t>(f.missing);
    w.array(f.numeric.sorted);
    w.array(f.numeric.inner_edges);
    w.array(f.numeric.proportions);
    w.texts(f.categorical.categories);
    w.array(f.categorical.counts);
  }
  w.scalar<std::uint8_t>(mmd_ ? 1 : 0);
  if (mmd_) {
    w.texts(mmd_->features);
    w.array(mmd_->mean);
    w.array(mmd_->scale);
    w.scalar<std::uint64_t>(static_cast<std::uint64_t>(mmd_->rows.rows()));
    w.scalar<std::uint64_t>(static_cast<std::uint64_t>(mmd_->rows.cols()));
    w.array(std::vector<float>(mmd_->rows.data(), mmd_->rows.data() + mmd_->rows.size()));
    w.scalar<std::uint64_t>(mmd_->rows_available);
    w.scalar<double>(mmd_->sigma);
    w.scalar<double>(mmd_->reference_kernel_sum);
  }
  const std::string& payload = w.bytes();

  Writer out;
  out.bytes().append(kMagic, sizeof(kMagic));
  out.scalar<std::uint32_t>(kFormatVersion);
  out.scalar<std::uint32_t>(0);
  out.scalar<std::uint64_t>(payload.size());
  out.bytes().append(payload);
  out.scalar<std::uint32_t>(crc32(payload.data(), payload.size()));
  return std::move(out.bytes());
}

ReferenceProfile ReferenceProfile::deserialize(std::span<const std::byte> bytes) {
  if (bytes.size() < kHeaderBytes + kTrailerBytes) {
    throw ProfileFormatError("not a driftd profile: " + std::to_string(bytes.size()) +
                             " bytes is shorter than the header");
  }
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) {
    throw ProfileFormatError("not a driftd profile: bad magic");
  }
  Reader header(bytes.subspan(sizeof(kMagic), kHeaderBytes - sizeof(kMagic)));
  const auto version = header.scalar<std::uint32_t>();
  if (version != kFormatVersion) {
    throw ProfileFormatError("unsupported profile format version " + std::to_string(version) +
                             " (this build reads version " + std::to_string(kFormatVersion) + ")");
  }
  (void)header.scalar<std::uint32_t>();
  const auto payload_size = header.scalar<std::uint64_t>();
  if (payload_size != bytes.size() - kHeaderBytes - kTrailerBytes) {
    throw ProfileFormatError("profile is truncated or has trailing bytes: header says " +
                             std::to_string(payload_size) + " payload bytes, file has " +
                             std::to_string(bytes.size() - kHeaderBytes - kTrailerBytes));
  }
  const auto payload = bytes.subspan(kHeaderBytes, static_cast<std::size_t>(payload_size));
  std::uint32_t stored_crc;
  std::memcpy(&stored_crc, bytes.data() + kHeaderBytes + payload_size, sizeof(stored_crc));
  if (crc32(reinterpret_cast<const char*>(payload.data()), payload.size()) != stored_crc) {
    throw ProfileFormatError("profile checksum mismatch: the file is corrupt");
  }

  Reader r(payload);
  ReferenceProfile p;
  p.options_.psi_bins = r.scalar<std::int32_t>();
  p.options_.build_mmd = r.scalar<std::uint8_t>() != 0;
  p.options_.mmd = read_mmd_options(r);
  p.rows_ = r.scalar<std::uint64_t>();
  const auto feature_count = r.scalar<std::uint64_t>();
  if (feature_count > payload.size()) throw ProfileFormatError("profile payload is inconsistent");
  for (std::uint64_t k = 0; k < feature_count; ++k) {
    FeatureProfile f;
    f.name = r.text();
    const auto kind = r.scalar<std::uint8_t>();
    if (kind > static_cast<std::uint8_t>(FeatureKind::kCategorical)) {
      throw ProfileFormatError("profile feature '" + f.name + "' has an unknown kind");
    }
    f.kind = static_cast<FeatureKind>(kind);
    f.rows = r.scalar<std::uint64_t>();
    f.missing = r.scalar<std::uint64_t>();
    f.numeric.sorted = r.array<float>();
    f.numeric.inner_edges = r.array<double>();
    f.numeric.proportions = r.array<double>();
    f.categorical.categories = r.texts();
    f.categorical.counts = r.array<std::uint64_t>();
    if (f.categorical.categories.size() != f.categorical.counts.size()) {
      throw ProfileFormatError("profile feature '" + f.name + "' has mismatched category counts");
    }
    p.features_.push_back(std::move(f));
  }
  if (r.scalar<std::uint8_t>() != 0) {
    MmdReference m;
    m.features = r.texts();
    m.mean = r.array<double>();
    m.scale = r.array<double>();
    const auto rows = r.scalar<std::uint64_t>();
    const auto cols = r.scalar<std::uint64_t>();
    const auto values = r.array<float>();
    if (cols != m.features.size() || m.mean.size() != cols || m.scale.size() != cols ||
        (cols != 0 && values.size() / cols != rows) || values.size() != rows * cols) {
      throw ProfileFormatError("profile MMD section has inconsistent shapes");
    }
    m.rows = Eigen::Map<const RowMatrixF>(values.data(), static_cast<Eigen::Index>(rows),
                                          static_cast<Eigen::Index>(cols));
    m.rows_available = r.scalar<std::uint64_t>();
    m.sigma = r.scalar<double>();
    m.reference_kernel_sum = r.scalar<double>();
    p.mmd_ = std::move(m);
  }
  if (!r.done()) throw ProfileFormatError("profile payload has unread trailing bytes");
  return p;
}

}  // namespace drift
