#pragma once
/// The reference side of every test, built once per reference sample and reused by every
/// evaluation; serializes to a versioned, checksummed binary blob.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "drift/detectors/binary_codec.h"
#include "drift/detectors/column.h"
#include "drift/detectors/mmd.h"

namespace drift {

/// How a profile is built.
struct ProfileOptions {
  int psi_bins = 10;       ///< quantile bins for numeric PSI
  bool build_mmd = false;  ///< also prepare the multivariate test
  MmdOptions mmd;
};

/// Reference summary of one numeric feature.
struct NumericProfile {
  std::vector<float> sorted;        ///< non-missing values, ascending
  std::vector<double> inner_edges;  ///< PSI quantile edges (duplicates dropped)
  std::vector<double> proportions;  ///< reference share per quantile bin
};

/// Reference summary of one categorical feature.
struct CategoricalProfile {
  std::vector<std::string> categories;  ///< distinct non-missing categories, in dictionary order
  std::vector<std::uint64_t> counts;    ///< occurrences per category
};

/// One feature of the reference.
struct FeatureProfile {
  std::string name;
  FeatureKind kind = FeatureKind::kNumeric;
  std::uint64_t rows = 0;          ///< all rows, missing included
  std::uint64_t missing = 0;       ///< missing values (excluded from every test)
  NumericProfile numeric;          ///< kind == kNumeric
  CategoricalProfile categorical;  ///< kind == kCategorical
};

/// Everything the detectors need from the reference. Immutable once built; safe to share
/// between threads.
class ReferenceProfile {
 public:
  /// Current binary format version (bumped on any layout change).
  static constexpr std::uint32_t kFormatVersion = 1;

  /// Sorts, bins and summarizes `reference`. Parallel over features (oneTBB).
  static ReferenceProfile build(const SampleView& reference, const ProfileOptions& options);

  /// Binary form: magic, version, payload length, payload, CRC-32 of the payload.
  std::string serialize() const;
  /// Parses serialize()'s output; throws ProfileFormatError on a bad magic, an unknown
  /// version, truncation, a checksum mismatch or an inconsistent payload.
  static ReferenceProfile deserialize(std::span<const std::byte> bytes);

  const std::vector<FeatureProfile>& features() const { return features_; }
  const FeatureProfile* find(std::string_view name) const;
  const ProfileOptions& options() const { return options_; }
  std::uint64_t rows() const { return rows_; }
  const std::optional<MmdReference>& mmd() const { return mmd_; }

  bool operator==(const ReferenceProfile& other) const;

  /// Unique to each profile built or deserialized in this process (copies share it: profiles
  /// are immutable). Caches of derived state (the GPU's resident reference) key on it, so a
  /// new profile at a reused address is never mistaken for the old one. Not part of ==.
  std::uint64_t instance_id() const { return instance_id_; }

 private:
  static ReferenceProfile parse(std::span<const std::byte> payload);
  static std::uint64_t next_instance_id();

  ProfileOptions options_;
  std::uint64_t rows_ = 0;
  std::vector<FeatureProfile> features_;
  std::optional<MmdReference> mmd_;
  std::uint64_t instance_id_ = next_instance_id();
};

/// A serialized profile that cannot be read back.
class ProfileFormatError : public FormatError {
 public:
  using FormatError::FormatError;
};

}  // namespace drift
