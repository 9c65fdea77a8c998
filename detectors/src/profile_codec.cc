// ReferenceProfile's binary form. Layout (little-endian):
//   "DRIFTPRF" | u32 version | u32 flags (0) | u64 payload length | payload | u32 CRC-32(payload)
// The payload writes every field in declaration order; vectors and strings are a u64 count
// followed by their elements. Readers check every count against the bytes left, so a corrupt
// file can neither crash nor make us allocate more than its own size.
#include <string>

#include "drift/detectors/binary_codec.h"
#include "drift/detectors/reference_profile.h"

namespace drift {

namespace {

constexpr std::string_view kMagic = "DRIFTPRF";
using Writer = BinaryWriter;
using Reader = BinaryReader;

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
  return seal(kMagic, kFormatVersion, w.bytes());
}

ReferenceProfile ReferenceProfile::deserialize(std::span<const std::byte> bytes) {
  try {
    return parse(unseal(bytes, kMagic, kFormatVersion, "profile"));
  } catch (const FormatError& e) {
    throw ProfileFormatError(e.what());
  }
}

ReferenceProfile ReferenceProfile::parse(std::span<const std::byte> payload) {
  Reader r(payload, "profile");
  ReferenceProfile p;
  p.options_.psi_bins = r.scalar<std::int32_t>();
  p.options_.build_mmd = r.scalar<std::uint8_t>() != 0;
  p.options_.mmd = read_mmd_options(r);
  p.rows_ = r.scalar<std::uint64_t>();
  const auto feature_count = r.scalar<std::uint64_t>();
  if (feature_count > payload.size()) r.fail("more features than bytes");
  for (std::uint64_t k = 0; k < feature_count; ++k) {
    FeatureProfile f;
    f.name = r.text();
    const auto kind = r.scalar<std::uint8_t>();
    if (kind > static_cast<std::uint8_t>(FeatureKind::kCategorical)) {
      r.fail("feature '" + f.name + "' has an unknown kind");
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
      r.fail("feature '" + f.name + "' has mismatched category counts");
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
      r.fail("the MMD section has inconsistent shapes");
    }
    m.rows = Eigen::Map<const RowMatrixF>(values.data(), static_cast<Eigen::Index>(rows),
                                          static_cast<Eigen::Index>(cols));
    m.rows_available = r.scalar<std::uint64_t>();
    m.sigma = r.scalar<double>();
    m.reference_kernel_sum = r.scalar<double>();
    p.mmd_ = std::move(m);
  }
  if (!r.done()) r.fail("unread trailing bytes");
  return p;
}

}  // namespace drift
