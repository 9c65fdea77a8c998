// The CUDA engine: device-resident reference columns, the window upload, and the KS, PSI and
// MMD kernels. Statistics are finished on the host by the detectors' code (gpu_backend.cc);
// these kernels produce exact integer counts (KS ranks, PSI bins) and the batched MMD sums.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <cub/block/block_reduce.cuh>
#include <cub/device/device_radix_sort.cuh>
#include <cuda/functional>
#include <string>

#include "device_engine.h"
#include "tiling.h"

namespace drift::gpu::detail {

namespace {

void check(cudaError_t err, const char* what) {
  if (err != cudaSuccess) {
    // Clear a sticky-free error so later calls on a healthy device are not poisoned.
    (void)cudaGetLastError();
    throw DeviceError(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(err));
  }
}

std::atomic<std::uint64_t> g_device_bytes{0};

/// A device allocation that grows and never shrinks.
template <typename T>
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }
  T* reserve(std::size_t count) {
    if (count > capacity_) {
      release();
      check(cudaMalloc(reinterpret_cast<void**>(&ptr_), std::max<std::size_t>(count, 1) * sizeof(T)),
            "cudaMalloc");
      capacity_ = count;
      g_device_bytes += bytes();
    }
    return ptr_;
  }
  T* get() const { return ptr_; }
  std::size_t bytes() const { return capacity_ * sizeof(T); }
  void swap(DeviceBuffer& other) {
    std::swap(ptr_, other.ptr_);
    std::swap(capacity_, other.capacity_);
  }

 private:
  void release() {
    if (ptr_ != nullptr) {
      cudaFree(ptr_);
      g_device_bytes -= bytes();
    }
    ptr_ = nullptr;
    capacity_ = 0;
  }

  T* ptr_ = nullptr;
  std::size_t capacity_ = 0;
};

/// Page-locked host staging memory for asynchronous uploads.
class PinnedBuffer {
 public:
  PinnedBuffer() = default;
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  ~PinnedBuffer() { if (ptr_ != nullptr) cudaFreeHost(ptr_); }
  void* reserve(std::size_t bytes) {
    if (bytes > capacity_) {
      if (ptr_ != nullptr) cudaFreeHost(ptr_);
      ptr_ = nullptr;
      capacity_ = 0;
      check(cudaHostAlloc(&ptr_, std::max<std::size_t>(bytes, 1), cudaHostAllocDefault),
            "cudaHostAlloc");
      capacity_ = bytes;
    }
    return ptr_;
  }

 private:
  void* ptr_ = nullptr;
  std::size_t capacity_ = 0;
};

constexpr int kThreads = 256;
constexpr int kMaxBlocksPerFeature = 1024;

__device__ inline bool finite_value(float x) { return isfinite(x); }

// ---- window preparation: missing values become +NaN (sorted last), counted per feature -------
__global__ void prepare_kernel(const float* __restrict__ in, float* __restrict__ keys,
                               const unsigned long long* __restrict__ offsets,
                               unsigned long long* __restrict__ finite) {
  const int f = blockIdx.y;
  const unsigned long long begin = offsets[f];
  const unsigned long long end = offsets[f + 1];
  unsigned int count = 0;
  for (unsigned long long i = begin + blockIdx.x * blockDim.x + threadIdx.x; i < end;
       i += static_cast<unsigned long long>(gridDim.x) * blockDim.x) {
    const float x = in[i];
    const bool ok = finite_value(x);
    count += ok ? 1u : 0u;
    keys[i] = ok ? x + 0.0f : __int_as_float(0x7fc00000);  // -0 -> +0, missing -> +NaN
  }
  using Reduce = cub::BlockReduce<unsigned int, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  const unsigned int total = Reduce(storage).Sum(count);
  if (threadIdx.x == 0 && total != 0) atomicAdd(finite + f, static_cast<unsigned long long>(total));
}

__device__ inline unsigned long long lower_rank(const float* a, unsigned long long n, float v) {
  unsigned long long lo = 0, hi = n;
  while (lo < hi) {
    const unsigned long long mid = (lo + hi) / 2;
    if (a[mid] < v) lo = mid + 1; else hi = mid;
  }
  return lo;
}

__device__ inline unsigned long long upper_rank(const float* a, unsigned long long lo,
                                                unsigned long long n, float v) {
  unsigned long long hi = n;
  while (lo < hi) {
    const unsigned long long mid = (lo + hi) / 2;
    if (!(v < a[mid])) lo = mid + 1; else hi = mid;
  }
  return lo;
}

// ---- KS: the CPU's rank walk (detectors/src/ks.cc) with one thread per current value ---------
// For v = c_j (sorted current, m finite values) with L = #{r < v}, U = #{r <= v}: after v's
// ties |U·m - (j+1)·n|, just below v |L·m - j·n|; D·n·m is the largest, an exact integer.
__global__ void ks_kernel(const float* __restrict__ sorted_keys,
                          const unsigned long long* __restrict__ offsets,
                          const unsigned long long* __restrict__ finite,
                          const float* __restrict__ reference,
                          const unsigned long long* __restrict__ reference_offsets,
                          unsigned long long* __restrict__ best) {
  const int f = blockIdx.y;
  const float* c = sorted_keys + offsets[f];
  const unsigned long long m = finite[f];
  const float* r = reference + reference_offsets[f];
  const unsigned long long n = reference_offsets[f + 1] - reference_offsets[f];
  long long local = 0;
  for (unsigned long long j = blockIdx.x * blockDim.x + threadIdx.x; j < m;
       j += static_cast<unsigned long long>(gridDim.x) * blockDim.x) {
    const float v = c[j];
    const bool last = j + 1 == m || c[j + 1] != v;
    const bool first = j == 0 || c[j - 1] != v;
    if (!last && !first) continue;
    const unsigned long long l = lower_rank(r, n, v);
    const long long mi = static_cast<long long>(m);
    const long long ni = static_cast<long long>(n);
    const long long ji = static_cast<long long>(j);
    if (last) {
      const unsigned long long u = upper_rank(r, l, n, v);
      const long long at = static_cast<long long>(u) * mi - (ji + 1) * ni;
      local = max(local, at < 0 ? -at : at);
    }
    if (first) {
      const long long below = static_cast<long long>(l) * mi - ji * ni;
      local = max(local, below < 0 ? -below : below);
    }
  }
  using Reduce = cub::BlockReduce<long long, kThreads>;
  __shared__ typename Reduce::TempStorage storage;
  const long long block_best = Reduce(storage).Reduce(local, ::cuda::maximum<long long>{});
  if (threadIdx.x == 0) atomicMax(best + f, static_cast<unsigned long long>(block_best));
}

// ---- PSI: privatized shared-memory histograms against the reference's inner edges -----------
// Bin of x = #{edges e : e < x} (bins (-inf, e1], (e1, e2], ..., (e_{B-1}, inf)), compared in
// double exactly as count_in_upper_closed_bins does.
__device__ inline unsigned int bin_of(const double* edges, unsigned int count, float x) {
  const double v = static_cast<double>(x);
  unsigned int lo = 0, hi = count;
  while (lo < hi) {
    const unsigned int mid = (lo + hi) / 2;
    if (edges[mid] < v) lo = mid + 1; else hi = mid;
  }
  return lo;
}

__global__ void psi_kernel(const float* __restrict__ keys,
                           const unsigned long long* __restrict__ offsets,
                           const double* __restrict__ edges,
                           const unsigned long long* __restrict__ edge_offsets,
                           const unsigned long long* __restrict__ bin_offsets,
                           unsigned long long* __restrict__ counts, int shared_bins) {
  extern __shared__ unsigned int histogram[];
  const int f = blockIdx.y;
  const double* e = edges + edge_offsets[f];
  const unsigned int edge_count = static_cast<unsigned int>(edge_offsets[f + 1] - edge_offsets[f]);
  const unsigned int bins = edge_count + 1;
  unsigned long long* out = counts + bin_offsets[f];
  const bool privatized = bins <= static_cast<unsigned int>(shared_bins);
  if (privatized) {
    for (unsigned int b = threadIdx.x; b < bins; b += blockDim.x) histogram[b] = 0;
    __syncthreads();
  }
  const unsigned long long begin = offsets[f];
  const unsigned long long end = offsets[f + 1];
  for (unsigned long long i = begin + blockIdx.x * blockDim.x + threadIdx.x; i < end;
       i += static_cast<unsigned long long>(gridDim.x) * blockDim.x) {
    const float x = keys[i];
    if (!finite_value(x)) continue;
    const unsigned int b = bin_of(e, edge_count, x);
    if (privatized) atomicAdd(histogram + b, 1u); else atomicAdd(out + b, 1ull);
  }
  if (privatized) {
    __syncthreads();
    for (unsigned int b = threadIdx.x; b < bins; b += blockDim.x) {
      if (histogram[b] != 0) atomicAdd(out + b, static_cast<unsigned long long>(histogram[b]));
    }
  }
}

// ---- MMD: fused tiles. Block J (largest first) visits row tiles I = 0..J: builds K_IJ in
// shared memory (zero diagonal), then for every indicator column adds a_I·K_IJ·a_J (twice off
// the diagonal) to `within` and a_I·(K_IJ·1) + a_J·(K_IJ^T·1) (off the diagonal) to `cross`,
// and 1·K_IJ·1 to the total. Sums are float64 per tile pair and added in a fixed order, so the
// result does not depend on scheduling. Never more than one T x T tile per block in memory.
template <typename S>
__global__ void __launch_bounds__(256) mmd_kernel(const float* __restrict__ z, int rows, int d, S gamma,
                           const unsigned long long* __restrict__ bits, int words, int columns,
                           double* __restrict__ within_part, double* __restrict__ cross_part,
                           double* __restrict__ total_part) {
  constexpr int T = static_cast<int>(tiling::kMmdTile);
  extern __shared__ unsigned char raw[];
  S* k = reinterpret_cast<S*>(raw);  // T x (T + 1)
  S* zi = k + T * (T + 1);
  S* zj = zi + T * d;
  S* rs = zj + T * d;
  S* cs = rs + T;
  double* within = reinterpret_cast<double*>(cs + T);
  double* cross = within + columns;

  const int tiles = static_cast<int>(gridDim.x);
  const int jt = tiles - 1 - static_cast<int>(blockIdx.x);
  const int j0 = jt * T;
  const int tj = min(T, rows - j0);
  for (int c = threadIdx.x; c < columns; c += blockDim.x) {
    within[c] = 0.0;
    cross[c] = 0.0;
  }
  for (int e = threadIdx.x; e < T * d; e += blockDim.x) {
    const int r = e / d;
    zj[e] = r < tj ? static_cast<S>(z[static_cast<long long>(j0 + r) * d + e % d]) : S(0);
  }
  double total = 0.0;
  for (int it = 0; it <= jt; ++it) {
    const int i0 = it * T;
    const int ti = min(T, rows - i0);
    __syncthreads();
    for (int e = threadIdx.x; e < T * d; e += blockDim.x) {
      const int r = e / d;
      zi[e] = r < ti ? static_cast<S>(z[static_cast<long long>(i0 + r) * d + e % d]) : S(0);
    }
    __syncthreads();
    for (int e = threadIdx.x; e < T * T; e += blockDim.x) {
      const int i = e / T;
      const int j = e % T;
      S v = S(0);
      if (i < ti && j < tj && !(it == jt && i == j)) {
        S dist = S(0);
        for (int q = 0; q < d; ++q) {
          const S diff = zi[i * d + q] - zj[j * d + q];
          dist += diff * diff;
        }
        v = exp(-dist * gamma);
      }
      k[i * (T + 1) + j] = v;
    }
    __syncthreads();
    if (threadIdx.x < T) {
      S s = S(0);
      for (int j = 0; j < T; ++j) s += k[threadIdx.x * (T + 1) + j];
      rs[threadIdx.x] = s;
    } else if (threadIdx.x < 2 * T) {
      const int j = static_cast<int>(threadIdx.x) - T;
      S s = S(0);
      for (int i = 0; i < T; ++i) s += k[i * (T + 1) + j];
      cs[j] = s;
    }
    __syncthreads();
    const double weight = it == jt ? 1.0 : 2.0;
    if (threadIdx.x == 0) {
      double s = 0.0;
      for (int i = 0; i < T; ++i) s += static_cast<double>(rs[i]);
      total += weight * s;
    }
    for (int c = threadIdx.x; c < columns; c += blockDim.x) {
      const unsigned long long ai = bits[static_cast<long long>(c) * words + it];
      const unsigned long long aj = bits[static_cast<long long>(c) * words + jt];
      double acc = 0.0;
      double x = 0.0;
      if (ai != 0 && aj != 0) {
        for (int i = 0; i < T; ++i) {
          if (((ai >> i) & 1ull) == 0) continue;
          S t = S(0);
          const S* row = k + i * (T + 1);
          for (int j = 0; j < T; ++j) t += ((aj >> j) & 1ull) ? row[j] : S(0);
          acc += static_cast<double>(t);
        }
      }
      for (int i = 0; i < T; ++i) {
        if ((ai >> i) & 1ull) x += static_cast<double>(rs[i]);
      }
      if (it != jt) {
        for (int j = 0; j < T; ++j) {
          if ((aj >> j) & 1ull) x += static_cast<double>(cs[j]);
        }
      }
      within[c] += weight * acc;
      cross[c] += x;
    }
  }
  __syncthreads();
  for (int c = threadIdx.x; c < columns; c += blockDim.x) {
    within_part[static_cast<long long>(jt) * columns + c] = within[c];
    cross_part[static_cast<long long>(jt) * columns + c] = cross[c];
  }
  if (threadIdx.x == 0) total_part[jt] = total;
}

/// Adds the per-tile partial sums in tile order (deterministic).
__global__ void mmd_reduce_kernel(const double* within_part, const double* cross_part,
                                  const double* total_part, int tiles, int columns, double* out) {
  const int c = blockIdx.x * blockDim.x + threadIdx.x;
  if (c < columns) {
    double w = 0.0, x = 0.0;
    for (int t = 0; t < tiles; ++t) {
      w += within_part[static_cast<long long>(t) * columns + c];
      x += cross_part[static_cast<long long>(t) * columns + c];
    }
    out[c] = w;
    out[columns + c] = x;
  }
  if (c == 0) {
    double s = 0.0;
    for (int t = 0; t < tiles; ++t) s += total_part[t];
    out[2 * columns] = s;
  }
}

class CudaEngine final : public Engine {
 public:
  CudaEngine(int device, std::uint64_t memory_limit) : device_(device) {
    check(cudaSetDevice(device), "cudaSetDevice");
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
    name_ = prop.name;
    sms_ = prop.multiProcessorCount;
    std::size_t free_bytes = 0, total_bytes = 0;
    check(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
    limit_ = memory_limit == 0 ? free_bytes : std::min<std::uint64_t>(memory_limit, free_bytes);
    check(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking), "cudaStreamCreate");
    // Tests set DRIFT_GPU_POISON=1: work buffers are filled with 0xFF before each pass, so a
    // result that a kernel failed to write cannot pass as a plausible value.
    const char* poison = std::getenv("DRIFT_GPU_POISON");
    poison_ = poison != nullptr && poison[0] == '1';
  }
  ~CudaEngine() override { if (stream_ != nullptr) cudaStreamDestroy(stream_); }

  std::string device_name() const override { return name_; }

  void load_reference(std::uint64_t key, const std::vector<NumericReference>& features) override {
    select();
    if (has_reference_ && key == reference_key_) return;
    has_reference_ = false;
    const std::size_t f = features.size();
    std::vector<unsigned long long> offsets(f + 1, 0), edge_offsets(f + 1, 0);
    for (std::size_t k = 0; k < f; ++k) {
      offsets[k + 1] = offsets[k] + features[k].rows;
      edge_offsets[k + 1] = edge_offsets[k] + features[k].edge_count;
    }
    const std::uint64_t bytes = sizeof(float) * offsets[f] + sizeof(double) * edge_offsets[f] +
                                2 * sizeof(unsigned long long) * (f + 1);
    budget(bytes, "the reference profile (" + std::to_string(f) + " numeric features, " +
                      std::to_string(offsets[f]) + " values)");
    float* values = reference_.reserve(offsets[f]);
    double* edges = edges_.reserve(edge_offsets[f]);
    for (std::size_t k = 0; k < f; ++k) {
      if (features[k].rows != 0) {
        check(cudaMemcpyAsync(values + offsets[k], features[k].sorted, sizeof(float) * features[k].rows,
                              cudaMemcpyHostToDevice, stream_), "reference upload");
      }
      if (features[k].edge_count != 0) {
        check(cudaMemcpyAsync(edges + edge_offsets[k], features[k].edges,
                              sizeof(double) * features[k].edge_count, cudaMemcpyHostToDevice, stream_),
              "edge upload");
      }
    }
    upload(reference_offsets_, offsets);
    upload(edge_offsets_, edge_offsets);
    check(cudaStreamSynchronize(stream_), "reference upload");
    features_ = f;
    host_edge_offsets_ = edge_offsets;
    reference_bytes_ = bytes;
    reference_key_ = key;
    has_reference_ = true;
    window_stream_ = 0;  // a new reference may order features differently: no reuse
  }

  void upload_window(const std::vector<const float*>& columns, const std::vector<std::size_t>& rows,
                     std::uint64_t stream, std::uint64_t end) override {
    select();
    if (!has_reference_ || columns.size() != features_) {
      throw DeviceError("window upload without a matching resident reference");
    }
    std::vector<unsigned long long> offsets(features_ + 1, 0);
    for (std::size_t k = 0; k < features_; ++k) offsets[k + 1] = offsets[k] + rows[k];
    const std::uint64_t elements = offsets[features_];
    if (elements > 0x7fffffffull) {
      throw DeviceError("window of " + std::to_string(elements) +
                        " values exceeds the 2^31 values one GPU pass sorts");
    }
    std::size_t max_rows = 1;
    for (const std::size_t r : rows) max_rows = std::max(max_rows, r);
    std::size_t scratch = 0;
    check(cub::DeviceRadixSort::SortKeys(nullptr, scratch, static_cast<const float*>(nullptr),
                                         static_cast<float*>(nullptr), static_cast<int>(max_rows)),
          "sort scratch query");
    // raw_ and its spare (the previous window, for reuse) besides what the pass needs.
    const std::uint64_t needed =
        reference_bytes_ + 2 * sizeof(float) * elements +
        tiling::numeric_window_bytes(elements, features_, host_edge_offsets_[features_] + features_,
                                     scratch);
    budget(needed, "a window of " + std::to_string(elements) + " values over " +
                       std::to_string(features_) + " features");
    // Rows the previous window of this stream holds are copied on the device; only the newest
    // rows cross PCIe.
    std::vector<tiling::WindowReuse> reuse(features_);
    const bool same_stream = stream != 0 && stream == window_stream_;
    for (std::size_t k = 0; k < features_ && same_stream; ++k) {
      reuse[k] = tiling::plan_window_reuse(window_end_, window_rows_[k], end, rows[k]);
    }
    std::uint64_t sent = 0;
    for (std::size_t k = 0; k < features_; ++k) sent += rows[k] - reuse[k].kept;
    auto* staging = static_cast<float*>(pinned_.reserve(sizeof(float) * std::max<std::uint64_t>(sent, 1)));
    float* next = spare_.reserve(elements);
    std::uint64_t at = 0;
    for (std::size_t k = 0; k < features_; ++k) {
      const std::size_t kept = reuse[k].kept;
      if (kept != 0) {
        check(cudaMemcpyAsync(next + offsets[k], raw_.get() + window_offsets_host_[k] + reuse[k].from,
                              sizeof(float) * kept, cudaMemcpyDeviceToDevice, stream_),
              "window reuse");
      }
      const std::size_t fresh = rows[k] - kept;
      if (fresh != 0) {
        std::memcpy(staging + at, columns[k] + kept, sizeof(float) * fresh);
        check(cudaMemcpyAsync(next + offsets[k] + kept, staging + at, sizeof(float) * fresh,
                              cudaMemcpyHostToDevice, stream_), "window upload");
        at += fresh;
      }
    }
    upload(window_offsets_, offsets);
    keys_.reserve(elements);
    sorted_.reserve(elements);
    scratch_.reserve(scratch);
    scratch_bytes_ = scratch;
    // The copies must finish before the pinned buffer is reused by the next call (upload()
    // above synchronized the stream).
    check(cudaStreamSynchronize(stream_), "window upload");
    raw_.swap(spare_);
    window_offsets_host_ = offsets;
    window_stream_ = stream;
    window_end_ = end;
    window_rows_ = rows;
    values_uploaded_ += sent;
  }

  std::uint64_t values_uploaded() const override { return values_uploaded_; }

  NumericOutput run_numeric(bool ks, bool psi) override {
    select();
    const std::size_t f = features_;
    NumericOutput out;
    out.finite.assign(f, 0);
    if (f == 0) {
      out.bin_offsets.assign(1, 0);
      return out;
    }
    unsigned long long* finite = counters_.reserve(2 * f);
    unsigned long long* best = finite + f;
    check(cudaMemsetAsync(counters_.get(), 0, sizeof(unsigned long long) * 2 * f, stream_), "memset");
    if (poison_) {
      check(cudaMemsetAsync(sorted_.get(), 0xff, sorted_.bytes(), stream_), "poison");
      check(cudaMemsetAsync(keys_.get(), 0xff, keys_.bytes(), stream_), "poison");
    }
    std::size_t max_rows = 0;
    for (std::size_t k = 0; k < f; ++k) {
      max_rows = std::max<std::size_t>(max_rows, window_offsets_host_[k + 1] - window_offsets_host_[k]);
    }
    // Enough blocks over all features to fill the device (grid-stride loops do the rest).
    const std::size_t cap = std::clamp<std::size_t>(16 * sms_ / f, 1, kMaxBlocksPerFeature);
    const dim3 grid(static_cast<unsigned>(tiling::blocks_per_feature(max_rows, kThreads, cap)),
                    static_cast<unsigned>(f));
    if (max_rows > 0) {
      prepare_kernel<<<grid, kThreads, 0, stream_>>>(raw_.get(), keys_.get(), window_offsets_.get(), finite);
      check(cudaGetLastError(), "prepare kernel");
    }
    if (ks && max_rows > 0) {
      // One onesweep radix sort per feature: large columns keep the whole device busy (a
      // segmented sort gives each segment a single block).
      for (std::size_t k = 0; k < f; ++k) {
        const auto begin = window_offsets_host_[k];
        const int count = static_cast<int>(window_offsets_host_[k + 1] - begin);
        if (count == 0) continue;
        std::size_t scratch = scratch_bytes_;
        check(cub::DeviceRadixSort::SortKeys(scratch_.get(), scratch, keys_.get() + begin,
                                             sorted_.get() + begin, count, 0, 32, stream_),
              "radix sort");
      }
      ks_kernel<<<grid, kThreads, 0, stream_>>>(sorted_.get(), window_offsets_.get(), finite,
                                                reference_.get(), reference_offsets_.get(), best);
      check(cudaGetLastError(), "KS kernel");
    }
    std::vector<unsigned long long> bin_offsets(f + 1, 0);
    for (std::size_t k = 0; k < f; ++k) {
      bin_offsets[k + 1] = bin_offsets[k] + (host_edge_offsets_[k + 1] - host_edge_offsets_[k]) + 1;
    }
    if (psi) {
      upload(bin_offsets_, bin_offsets);
      unsigned long long* counts = bins_.reserve(bin_offsets[f]);
      check(cudaMemsetAsync(counts, 0, sizeof(unsigned long long) * bin_offsets[f], stream_), "memset");
      std::size_t widest = 1;
      for (std::size_t k = 0; k < f; ++k) widest = std::max<std::size_t>(widest, bin_offsets[k + 1] - bin_offsets[k]);
      // Every feature privatizes when the widest fits; otherwise none does (the kernel gets the
      // shared capacity it may use, 0 then, not the constant).
      const std::size_t shared = widest <= tiling::kPsiSharedBins ? widest * sizeof(unsigned int) : 0;
      if (max_rows > 0) {
        psi_kernel<<<grid, kThreads, shared, stream_>>>(
            keys_.get(), window_offsets_.get(), edges_.get(), edge_offsets_.get(), bin_offsets_.get(),
            counts, static_cast<int>(shared / sizeof(unsigned int)));
        check(cudaGetLastError(), "PSI kernel");
      }
      std::vector<unsigned long long> host(bin_offsets[f]);
      check(cudaMemcpyAsync(host.data(), counts, sizeof(unsigned long long) * host.size(),
                            cudaMemcpyDeviceToHost, stream_), "PSI download");
      check(cudaStreamSynchronize(stream_), "PSI");
      out.bin_counts.assign(host.begin(), host.end());
    }
    out.bin_offsets.assign(bin_offsets.begin(), bin_offsets.end());
    std::vector<unsigned long long> host(2 * f);
    check(cudaMemcpyAsync(host.data(), counters_.get(), sizeof(unsigned long long) * 2 * f,
                          cudaMemcpyDeviceToHost, stream_), "counter download");
    check(cudaStreamSynchronize(stream_), "numeric pass");
    out.finite.assign(host.begin(), host.begin() + static_cast<std::ptrdiff_t>(f));
    if (ks) {
      out.ks_scaled.resize(f);
      for (std::size_t k = 0; k < f; ++k) out.ks_scaled[k] = static_cast<std::int64_t>(host[f + k]);
    }
    return out;
  }

  void load_pooled(const float* rows, std::size_t count, std::size_t dimensions) override {
    select();
    if (dimensions == 0 || dimensions > tiling::kMmdMaxDimensions) {
      throw DeviceError("MMD with " + std::to_string(dimensions) + " features: the GPU kernel takes 1.." +
                        std::to_string(tiling::kMmdMaxDimensions));
    }
    if (count > 0x7fffffffull) throw DeviceError("MMD: too many rows for the GPU kernel");
    budget(reference_bytes_ + tiling::mmd_pass_bytes(count, dimensions, tiling::kMmdMaxColumns),
           "MMD over " + std::to_string(count) + " pooled rows");
    float* z = pooled_.reserve(count * dimensions);
    check(cudaMemcpyAsync(z, rows, sizeof(float) * count * dimensions, cudaMemcpyHostToDevice, stream_),
          "pooled upload");
    check(cudaStreamSynchronize(stream_), "pooled upload");
    pooled_rows_ = count;
    dimensions_ = dimensions;
  }

  MmdSums mmd_sums(double sigma, const std::vector<std::uint64_t>& bits, std::size_t columns,
                   bool float64) override {
    select();
    const std::size_t tiles = tiling::mmd_tiles(pooled_rows_);
    if (columns == 0 || columns > tiling::kMmdMaxColumns || bits.size() != tiles * columns) {
      throw DeviceError("MMD pass with inconsistent indicator columns");
    }
    auto* d_bits = bits_.reserve(bits.size());
    check(cudaMemcpyAsync(d_bits, bits.data(), sizeof(std::uint64_t) * bits.size(),
                          cudaMemcpyHostToDevice, stream_), "indicator upload");
    double* within = partials_.reserve(tiles * (2 * columns + 1));
    double* cross = within + tiles * columns;
    double* total = cross + tiles * columns;
    double* result = result_.reserve(2 * columns + 1);
    if (poison_) {
      check(cudaMemsetAsync(within, 0xff, sizeof(double) * tiles * (2 * columns + 1), stream_), "poison");
      check(cudaMemsetAsync(result, 0xff, sizeof(double) * (2 * columns + 1), stream_), "poison");
    }
    const int c = static_cast<int>(columns);
    const int w = static_cast<int>(tiles);
    const int rows = static_cast<int>(pooled_rows_);
    const int d = static_cast<int>(dimensions_);
    const double gamma = 1.0 / (2.0 * sigma * sigma);
    if (float64) {
      const std::size_t shared = tiling::mmd_shared_bytes(sizeof(double), dimensions_, columns);
      check(cudaFuncSetAttribute(mmd_kernel<double>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(shared)), "shared memory attribute");
      mmd_kernel<double><<<w, static_cast<unsigned>(tiling::kMmdThreads), shared, stream_>>>(
          pooled_.get(), rows, d, gamma, reinterpret_cast<const unsigned long long*>(d_bits), w, c,
          within, cross, total);
    } else {
      const std::size_t shared = tiling::mmd_shared_bytes(sizeof(float), dimensions_, columns);
      check(cudaFuncSetAttribute(mmd_kernel<float>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                 static_cast<int>(shared)), "shared memory attribute");
      mmd_kernel<float><<<w, static_cast<unsigned>(tiling::kMmdThreads), shared, stream_>>>(
          pooled_.get(), rows, d, static_cast<float>(gamma),
          reinterpret_cast<const unsigned long long*>(d_bits), w, c, within, cross, total);
    }
    check(cudaGetLastError(), "MMD kernel");
    mmd_reduce_kernel<<<static_cast<unsigned>(tiling::ceil_div(columns, 256)), 256, 0, stream_>>>(
        within, cross, total, w, c, result);
    check(cudaGetLastError(), "MMD reduce kernel");
    std::vector<double> host(2 * columns + 1);
    check(cudaMemcpyAsync(host.data(), result, sizeof(double) * host.size(), cudaMemcpyDeviceToHost,
                          stream_), "MMD download");
    check(cudaStreamSynchronize(stream_), "MMD pass");
    MmdSums sums;
    sums.within.assign(host.begin(), host.begin() + c);
    sums.cross.assign(host.begin() + c, host.begin() + 2 * c);
    sums.total = host[2 * columns];
    return sums;
  }

 private:
  void select() { check(cudaSetDevice(device_), "cudaSetDevice"); }

  void budget(std::uint64_t bytes, const std::string& what) const {
    if (bytes > limit_) {
      throw DeviceError(what + " needs " + std::to_string(bytes >> 20) +
                        " MiB of device memory; the budget (gpu.memory_limit or free memory) is " +
                        std::to_string(limit_ >> 20) + " MiB");
    }
  }

  void upload(DeviceBuffer<unsigned long long>& buffer, const std::vector<unsigned long long>& host) {
    unsigned long long* d = buffer.reserve(host.size());
    check(cudaMemcpyAsync(d, host.data(), sizeof(unsigned long long) * host.size(),
                          cudaMemcpyHostToDevice, stream_), "offset upload");
    // Host vectors are temporaries: wait before they go away.
    check(cudaStreamSynchronize(stream_), "offset upload");
  }

  int device_;
  std::string name_;
  std::size_t sms_ = 1;
  std::uint64_t limit_ = 0;
  cudaStream_t stream_ = nullptr;
  bool poison_ = false;

  bool has_reference_ = false;
  std::uint64_t reference_key_ = 0;
  std::uint64_t reference_bytes_ = 0;
  std::size_t features_ = 0;
  std::vector<unsigned long long> host_edge_offsets_;
  DeviceBuffer<float> reference_;
  DeviceBuffer<double> edges_;
  DeviceBuffer<unsigned long long> reference_offsets_;
  DeviceBuffer<unsigned long long> edge_offsets_;

  PinnedBuffer pinned_;
  std::vector<unsigned long long> window_offsets_host_;
  DeviceBuffer<float> raw_;
  DeviceBuffer<float> spare_;  // the next window is assembled here, then swapped with raw_
  std::uint64_t window_stream_ = 0;
  std::uint64_t window_end_ = 0;
  std::vector<std::size_t> window_rows_;
  std::uint64_t values_uploaded_ = 0;
  DeviceBuffer<float> keys_;
  DeviceBuffer<float> sorted_;
  DeviceBuffer<unsigned char> scratch_;
  std::size_t scratch_bytes_ = 0;
  DeviceBuffer<unsigned long long> window_offsets_;
  DeviceBuffer<unsigned long long> counters_;
  DeviceBuffer<unsigned long long> bin_offsets_;
  DeviceBuffer<unsigned long long> bins_;

  DeviceBuffer<float> pooled_;
  std::size_t pooled_rows_ = 0;
  std::size_t dimensions_ = 0;
  DeviceBuffer<std::uint64_t> bits_;
  DeviceBuffer<double> partials_;
  DeviceBuffer<double> result_;
};

}  // namespace

std::uint64_t device_bytes_in_use() { return g_device_bytes.load(); }

std::unique_ptr<Engine> make_device_engine(int device, std::uint64_t memory_limit) {
  int count = 0;
  check(cudaGetDeviceCount(&count), "cudaGetDeviceCount");
  if (device < 0 || device >= count) {
    throw DeviceError("CUDA device " + std::to_string(device) + " does not exist (" +
                      std::to_string(count) + " present)");
  }
  return std::make_unique<CudaEngine>(device, memory_limit);
}

}  // namespace drift::gpu::detail
