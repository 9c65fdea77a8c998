#include "drift/detectors/ks_distribution.h"

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

#if defined(__SSE2__)
#include <xmmintrin.h>
#endif

#include "ks_distribution_internal.h"

// Written from the published algorithms; where scipy picks an algorithm per region (and, for
// the approximations, the approximation itself), the same choice is made here so results agree
// with scipy 1.10.1 to rounding. References:
//  - Hodges (1958), Viehmann (2021, arXiv:2102.08037): two-sample exact tail.
//  - Simard & L'Ecuyer (2011): region choice for the one-sample two-sided distribution.
//  - Marsaglia, Tsang & Wang (2003): Durbin matrix.  Pelz & Good (1976).
//  - Birnbaum & Tingey (1951): one-sided tail; Loader (2000), "Fast and accurate computation of
//    binomial probabilities": the saddle-point form of each term.
//  - Miller (1956): the one-sided approximation scipy uses above n = 10^6.

namespace drift::ks {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kPi = 3.14159265358979323846264338327950288;
constexpr double kLn2 = 0.69314718055994530941723212145817657;
constexpr double kHalfLog2Pi = 0.91893853320467274178032973640561764;  // log(sqrt(2 pi))
constexpr double kSqrt2Pi = 2.50662827463100050241576528481104525;
constexpr double kSqrt3 = 1.73205080756887729352744634150587237;
// cephes' MINLOG (log 2^-1075): scipy's smirnov answers 0 when -2 n d^2 is below it.
constexpr double kCephesMinLog = -7.451332191019412076235E2;
// scipy.special.smirnov switches to Miller's approximation above this n.
constexpr std::uint64_t kSmirnovMaxExactN = 1000000;

double clip01(double p) { return std::clamp(p, 0.0, 1.0); }

/// Flushes subnormals to zero for the lifetime of the guard (x86 MXCSR FTZ and DAZ), restoring
/// the caller's mode afterwards. The exact two-sample recursion walks through many values that
/// underflow; subnormal arithmetic would make it an order of magnitude slower, and values below
/// 2^-1022 cannot move a result that matters (each step is a weighted average).
class FlushSubnormals {
 public:
  FlushSubnormals() {
#if defined(__SSE2__)
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | 0x8040u);
#endif
  }
  ~FlushSubnormals() {
#if defined(__SSE2__)
    _mm_setcsr(saved_);
#endif
  }
  FlushSubnormals(const FlushSubnormals&) = delete;
  FlushSubnormals& operator=(const FlushSubnormals&) = delete;

 private:
  unsigned int saved_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Two-sample exact tail.

/// n == m: P(D >= h/n) = 2 sum_{j>=1} (-1)^(j-1) C(2n, n - j h) / C(2n, n), nested Horner-style
/// as P = 2 A_0 (1 - A_1 (1 - A_2 (...))), A_k = C(2n, n - (k+1) h) / C(2n, n - k h) a product of
/// h simple fractions. The operations are in scipy's order, so results agree to the last bit
/// (including the rounding just above 1 that makes scipy fall back to the asymptotic path).
double square_outside(std::uint64_t n, std::uint64_t h) {
  double outside = 0.0;
  for (std::uint64_t k = n / h + 1; k-- > 0;) {
    double ratio = 1.0;
    const auto base = static_cast<std::int64_t>(n) - static_cast<std::int64_t>(k * h);
    for (std::uint64_t j = 0; j < h; ++j) {
      const auto ij = static_cast<std::int64_t>(j);
      ratio = static_cast<double>(base - ij) * ratio /
              static_cast<double>(static_cast<std::int64_t>(n + k * h) + ij + 1);
    }
    outside = ratio * (1.0 - outside);
  }
  return 2.0 * outside;
}

std::int64_t floor_div(std::int64_t a, std::int64_t b) {  // b > 0
  const std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

/// n != m: Hodges' inside method over one sliding column of the (m+1) x (n+1) lattice, with the
/// recursion run on the proportion of paths that have already left the band
/// |i n/g - j m/g| < h (Viehmann): A(i, j) = (i A(i-1, j) + j A(i, j-1)) / (i + j), A = 1 outside
/// the band. Every entry is a weighted average of entries in [0, 1]: no overflow, no big
/// binomials, and no final 1 - x.
double band_outside(std::uint64_t n, std::uint64_t m, std::uint64_t h) {
  if (m < n) std::swap(m, n);  // m >= n: columns i = 0..m, each of length n + 1
  const std::uint64_t g = std::gcd(n, m);
  const auto mg = static_cast<std::int64_t>(m / g);
  const auto ng = static_cast<std::int64_t>(n / g);
  const auto hh = static_cast<std::int64_t>(h);
  const auto len = static_cast<std::int64_t>(n) + 1;

  std::vector<double> inv(n + m + 1, 0.0);  // 1 / (i + j)
  for (std::size_t k = 1; k < inv.size(); ++k) inv[k] = 1.0 / static_cast<double>(k);
  std::vector<double> rows(static_cast<std::size_t>(len));  // j as a double
  for (std::size_t j = 0; j < rows.size(); ++j) rows[j] = static_cast<double>(j);

  // Column 0: (0, j) is inside while j m/g < h.
  std::vector<double> col(static_cast<std::size_t>(len), 1.0);
  const std::int64_t first_hi = std::min((hh + mg - 1) / mg, len);
  std::fill(col.begin(), col.begin() + first_hi, 0.0);

  // Column i is the linear recurrence A(i, j) = a_j + b_j A(i, j-1) with
  // a_j = A(i-1, j) i/(i+j) and b_j = j/(i+j). The coefficients are computed for the whole
  // window first (vectorizes); the recurrence then advances four rows per dependent step:
  // A(i, j+k) = Q_k + P_k A(i, j) with P_k = b_{j+1}..b_{j+k} and Q_k built from the a's.
  // All quantities are non-negative, so the reassociation costs no accuracy.
  std::vector<double> coef_a(static_cast<std::size_t>(len) + 4, 0.0);
  std::vector<double> coef_b(static_cast<std::size_t>(len) + 4, 0.0);

  FlushSubnormals flush;
  const auto mm = static_cast<std::int64_t>(m);
  for (std::int64_t i = 1; i <= mm; ++i) {
    // Band rows of column i: (ng i - h)/mg < j < (ng i + h)/mg. Both ends only move up with i,
    // so rows above the previous window still hold 1 (never written) and rows below lo are not
    // read again.
    const std::int64_t lo = std::min(std::max(floor_div(ng * i - hh, mg) + 1, std::int64_t{0}),
                                     static_cast<std::int64_t>(n));
    const std::int64_t hi = std::min((ng * i + hh + mg - 1) / mg, len);
    if (hi <= lo) return 1.0;  // the band is closed: every path leaves it
    const auto count = static_cast<std::size_t>(hi - lo);
    const double di = static_cast<double>(i);
    {
      const double* c = col.data() + lo;
      const double* r = inv.data() + i + lo;
      const double* jr = rows.data() + lo;
      double* a = coef_a.data();
      double* b = coef_b.data();
      for (std::size_t k = 0; k < count; ++k) {
        const double w = r[k];
        a[k] = c[k] * (di * w);
        b[k] = jr[k] * w;
      }
    }
    double val = lo == 0 ? 0.0 : 1.0;  // the entry below the window is outside
    double* out = col.data() + lo;
    const double* a = coef_a.data();
    const double* b = coef_b.data();
    std::size_t k = 0;
    for (; k + 4 <= count; k += 4) {
      const double p2 = b[k + 1] * b[k];
      const double q2 = std::fma(b[k + 1], a[k], a[k + 1]);
      const double p3 = b[k + 2] * p2;
      const double q3 = std::fma(b[k + 2], q2, a[k + 2]);
      const double p4 = b[k + 3] * p3;
      const double q4 = std::fma(b[k + 3], q3, a[k + 3]);
      out[k] = std::fma(val, b[k], a[k]);
      out[k + 1] = std::fma(val, p2, q2);
      out[k + 2] = std::fma(val, p3, q3);
      val = std::fma(val, p4, q4);
      out[k + 3] = val;
    }
    for (; k < count; ++k) {
      val = std::fma(val, b[k], a[k]);
      out[k] = val;
    }
  }
  return col[static_cast<std::size_t>(n)];
}

// ---------------------------------------------------------------------------------------------
// One-sided tail (Birnbaum–Tingey), terms in Loader's saddle-point form.

/// stirlerr(k) = log(k!) - (k + 1/2) log k + k - log sqrt(2 pi).
double stirlerr(std::uint64_t k) {
  static constexpr std::array<double, 16> kTable = {0.0,
                                                    0.08106146679532726,
                                                    0.0413406959554093,
                                                    0.02767792568499834,
                                                    0.020790672103765093,
                                                    0.016644691189821193,
                                                    0.013876128823070748,
                                                    0.01189670994589177,
                                                    0.010411265261972096,
                                                    0.009255462182712733,
                                                    0.00833056343336287,
                                                    0.007573675487951841,
                                                    0.00694284010720953,
                                                    0.006408994188004207,
                                                    0.0059513701127588475,
                                                    0.005554733551962801};
  if (k < kTable.size()) return kTable[k];
  constexpr double s0 = 1.0 / 12.0, s1 = 1.0 / 360.0, s2 = 1.0 / 1260.0, s3 = 1.0 / 1680.0,
                   s4 = 1.0 / 1188.0;
  const double x = static_cast<double>(k);
  const double x2 = x * x;
  if (k > 500) return (s0 - s1 / x2) / x;
  if (k > 80) return (s0 - (s1 - s2 / x2) / x2) / x;
  if (k > 35) return (s0 - (s1 - (s2 - s3 / x2) / x2) / x2) / x;
  return (s0 - (s1 - (s2 - (s3 - s4 / x2) / x2) / x2) / x2) / x;
}

/// Loader's deviance bd0(x, M) = x log(x/M) + M - x, given diff = x - M exactly.
double bd0(double x, double big_m, double diff) {
  const double total = x + big_m;
  if (std::fabs(diff) < 0.1 * total) {
    const double v = diff / total;
    const double v2 = v * v;
    double s = diff * v;
    double ej = 2.0 * x * v;
    for (int j = 1; j < 200; ++j) {
      ej *= v2;
      const double s1 = s + ej / static_cast<double>(2 * j + 1);
      if (s1 == s) return s1;
      s = s1;
    }
    return s;
  }
  return x * std::log1p(diff / big_m) - diff;
}

/// Sum of positive terms given by their logarithms, kept as exp(ref) * acc.
struct LogSum {
  double ref = -std::numeric_limits<double>::infinity();
  double acc = 0.0;
  void add(double log_term) {
    if (!(log_term > -std::numeric_limits<double>::infinity())) return;
    if (log_term > ref) {
      acc = acc * std::exp(ref - log_term) + 1.0;
      ref = log_term;
    } else {
      acc += std::exp(log_term - ref);
    }
  }
  void merge(const LogSum& o) {
    if (o.acc == 0.0) return;
    if (acc == 0.0) {
      *this = o;
    } else if (o.ref > ref) {
      acc = acc * std::exp(ref - o.ref) + o.acc;
      ref = o.ref;
    } else {
      acc += o.acc * std::exp(o.ref - ref);
    }
  }
  /// acc measured on the scale exp(to_ref).
  double at(double to_ref) const { return acc == 0.0 ? 0.0 : acc * std::exp(ref - to_ref); }
  double log_value() const {
    return acc == 0.0 ? -std::numeric_limits<double>::infinity() : ref + std::log(acc);
  }
  double value(double scale = 1.0) const {
    if (acc == 0.0) return 0.0;
    if (ref > -700.0) return acc * scale * std::exp(ref);
    return std::ldexp(acc * scale * std::exp(ref + 256.0 * kLn2), -256);
  }
};

/// Terms T_v = d C(n, v) p_v^(v-1) q_v^(n-v), p_v = (c + v)/n, q_v = (n - c - v)/n, c = n d,
/// for v = 0..last, last = n - floor(c) - 1 (the term with q = 0, when c is an integer, is 0).
/// T_v = (d / p_v) b(v; n, p_v) with b the binomial probability in Loader's form
///   b = sqrt(n / (2 pi v (n-v))) exp(stirlerr(n) - stirlerr(v) - stirlerr(n-v)
///                                    - bd0(v, n p_v) - bd0(n-v, n q_v)),
/// every piece of which is O(log n) or a small deviance, so log T_v is accurate to ~1e-13
/// absolute even at n = 10^6 (adding up v log p_v and (n-v) log q_v directly would not be).
class BirnbaumTingey {
 public:
  BirnbaumTingey(std::uint64_t n, double d, std::uint64_t nd_floor, double nd_frac)
      : n_(n),
        nn_(static_cast<double>(n)),
        d_(d),
        floor_(nd_floor),
        frac_(nd_frac),
        c_(static_cast<double>(nd_floor) + nd_frac),
        last_(n - nd_floor - 1),
        stirlerr_n_(stirlerr(n)) {}

  std::uint64_t last() const { return last_; }

  double log_term(std::uint64_t v) const {
    if (v == 0) return nn_ * std::log1p(-d_);  // (1 - d)^n
    const double dv = static_cast<double>(v);
    const double rest = static_cast<double>(n_ - v);
    const double np = static_cast<double>(floor_ + v) + frac_;       // c + v
    const double nq = static_cast<double>(n_ - v - floor_) - frac_;  // n - v - c > 0
    return -std::log1p(dv / c_) + stirlerr_n_ - stirlerr(v) - stirlerr(n_ - v) - bd0(dv, np, -c_) -
           bd0(rest, nq, c_) + 0.5 * std::log(nn_ / (dv * rest)) - kHalfLog2Pi;
  }

 private:
  std::uint64_t n_;
  double nn_;
  double d_;
  std::uint64_t floor_;
  double frac_;
  double c_;
  std::uint64_t last_;
  double stirlerr_n_;
};

/// Below this many terms the sum is always taken term by term.
constexpr std::uint64_t kSubsampleMinTerms = 4096;

/// The Birnbaum–Tingey sum. Term by term it costs O(n). As a function of v the terms are
/// smooth (analytic, varying on a scale of order n / sqrt(1 + n d^2)) and, once n d is large,
/// negligible at both ends, so the sum over every h-th term times h (a trapezoidal rule of step
/// h on the integers) converges to the full sum faster than any power of h. The step is halved
/// (each level adds only the terms between the previous ones) until two successive levels agree
/// to 1e-14 and the end terms are negligible; the level accepted then differs from the full sum
/// by far less than that. Where the terms are not smooth enough the halving simply reaches
/// step 1, i.e. the full sum.
double birnbaum_tingey_sum(const BirnbaumTingey& bt, bool subsample) {
  const std::uint64_t last = bt.last();
  const std::uint64_t count = last + 1;
  LogSum all;
  if (!subsample || count < kSubsampleMinTerms) {
    for (std::uint64_t v = 0; v <= last; ++v) all.add(bt.log_term(v));
    return all.value();
  }
  const double log_ends = std::max(bt.log_term(0), bt.log_term(last));
  std::uint64_t step = 1;
  while (count / (2 * step) >= 128) step *= 2;
  for (std::uint64_t v = 0; v <= last; v += step) all.add(bt.log_term(v));
  while (step > 1) {
    const std::uint64_t half = step / 2;
    LogSum fresh;
    for (std::uint64_t v = half; v <= last; v += step) fresh.add(bt.log_term(v));
    const double ref = std::max(all.ref, fresh.ref);
    const double t_old = all.at(ref);
    const double t_new = fresh.at(ref);
    all.merge(fresh);
    step = half;
    if (t_old > 0.0 && std::fabs(t_new - t_old) <= 1e-14 * (t_new + t_old)) {
      // Accept when the end terms are negligible against the sum, too.
      const double log_sum = all.log_value() + std::log(static_cast<double>(step));
      if (log_ends + std::log(static_cast<double>(step)) < log_sum - 40.0) {
        return all.value(static_cast<double>(step));
      }
    }
  }
  return all.value();
}

struct SmirnovPrep {
  std::uint64_t nd_floor;
  double nd_frac;  // n d - floor(n d), exact up to one rounding
};

/// floor(n d) and the fractional part, with n d formed exactly (fma gives the rounding error).
SmirnovPrep split_nd(std::uint64_t n, double d) {
  const double nn = static_cast<double>(n);
  const double p = nn * d;
  const double err = std::fma(nn, d, -p);
  double fl = std::floor(p);
  double frac = (p - fl) + err;
  if (frac < 0.0) {
    fl -= 1.0;
    frac += 1.0;
  }
  if (frac >= 1.0) {
    fl += 1.0;
    frac -= 1.0;
  }
  return {static_cast<std::uint64_t>(fl), frac};
}

double smirnov_impl(std::uint64_t n, double d, bool subsample) {
  if (std::isnan(d) || n == 0 || d < 0.0 || d > 1.0) return kNaN;
  const double nn = static_cast<double>(n);
  if (n == 1) return 1.0 - d;
  if (d == 0.0) return 1.0;
  if (d == 1.0) return 0.0;
  const SmirnovPrep nd = split_nd(n, d);
  // d <= 1/n: cdf = d (1 + d)^(n-1).
  if (nd.nd_floor == 0 || (nd.nd_floor == 1 && nd.nd_frac == 0.0)) {
    const double cdf = d * std::exp((nn - 1.0) * std::log1p(d));
    return clip01(1.0 - cdf);
  }
  if (-2.0 * nn * d * d < kCephesMinLog) return 0.0;
  // d >= 1 - 1/n: sf = (1 - d)^n (1 - d is exact here).
  if (nd.nd_floor >= n - 1) return std::pow(1.0 - d, nn);
  if (n > kSmirnovMaxExactN) {
    // scipy's choice: Miller's approximation p = exp(-(6 n d + 1)^2 / (18 n)).
    const double y = 6.0 * nn * d + 1.0;
    return std::exp(-(y * y) / 18.0 / nn);
  }
  const BirnbaumTingey bt(n, d, nd.nd_floor, nd.nd_frac);
  return clip01(birnbaum_tingey_sum(bt, subsample));
}

// ---------------------------------------------------------------------------------------------
// Two-sided one-sample distribution (kstwo), scipy's regions.

using Matrix = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic>;

/// Scales m by a power of two so its largest entry lies in [0.5, 1); the power goes to expo.
void renormalize(Matrix& m, std::int64_t& expo) {
  const double biggest = m.cwiseAbs().maxCoeff();
  if (!(biggest > 0.0) || !std::isfinite(biggest)) return;
  int e = 0;
  std::frexp(biggest, &e);
  m *= std::ldexp(1.0, -e);
  expo += e;
}

double durbin_cdf(std::uint64_t n, double d) {
  const double nn = static_cast<double>(n);
  if (d >= 1.0) return 1.0;
  const double nd = nn * d;
  if (nd <= 0.5) return 0.0;
  const auto k = static_cast<Eigen::Index>(std::ceil(nd));
  const double h = static_cast<double>(k) - nd;
  const Eigen::Index m = 2 * k - 1;

  std::vector<double> inv_fact(static_cast<std::size_t>(m) + 1, 1.0);  // 1/j!
  for (std::size_t j = 1; j < inv_fact.size(); ++j) {
    inv_fact[j] = inv_fact[j - 1] / static_cast<double>(j);
  }
  Matrix big_h = Matrix::Zero(m, m);
  for (Eigen::Index i = 0; i < m; ++i) {
    for (Eigen::Index j = 0; j <= std::min(i + 1, m - 1); ++j) {
      big_h(i, j) = inv_fact[static_cast<std::size_t>(i - j + 1)];
    }
  }
  for (Eigen::Index i = 0; i < m; ++i) {
    const auto e = static_cast<std::size_t>(i + 1);
    big_h(i, 0) = (1.0 - std::pow(h, static_cast<double>(i + 1))) * inv_fact[e];
    big_h(m - 1, m - 1 - i) = big_h(i, 0);
  }
  const double corner_extra = h > 0.5 ? std::pow(2.0 * h - 1.0, static_cast<double>(m)) : 0.0;
  big_h(m - 1, 0) = (1.0 - 2.0 * std::pow(h, static_cast<double>(m)) + corner_extra) *
                    inv_fact[static_cast<std::size_t>(m)];

  Matrix result = Matrix::Identity(m, m);
  std::int64_t result_exp = 0;
  Matrix base = big_h;
  std::int64_t base_exp = 0;
  for (std::uint64_t e = n;;) {
    if (e & 1u) {
      result = (result * base).eval();
      result_exp += base_exp;
      renormalize(result, result_exp);
    }
    e >>= 1;
    if (e == 0) break;
    base = (base * base).eval();
    base_exp *= 2;
    renormalize(base, base_exp);
  }
  double p = result(k - 1, k - 1);
  // Multiply by n!/n^n.
  std::int64_t expo = result_exp;
  const double tiny = std::ldexp(1.0, -128);
  const double big = std::ldexp(1.0, 128);
  for (std::uint64_t i = 1; i <= n; ++i) {
    p = static_cast<double>(i) * p / nn;
    if (std::fabs(p) < tiny) {
      p *= big;
      expo -= 128;
    }
  }
  expo = std::clamp<std::int64_t>(expo, -100000, 100000);
  return clip01(std::ldexp(p, static_cast<int>(expo)));
}

double pelz_good(std::uint64_t n, double x) {
  if (x <= 0.0) return 0.0;
  if (x >= 1.0) return 1.0;
  const double nn = static_cast<double>(n);
  const double z = std::sqrt(nn) * x;
  const double z2 = z * z;
  const double z3 = z2 * z;
  const double z4 = z2 * z2;
  const double z6 = z4 * z2;
  const double z7 = z6 * z;
  const double z8 = z4 * z4;
  const double z10 = z8 * z2;
  const double pi2 = kPi * kPi;
  const double pi4 = pi2 * pi2;
  const double pi6 = pi4 * pi2;

  const double qlog = -pi2 / 8.0 / z2;
  if (qlog < -708.0) return 0.0;
  const double q = std::exp(qlog);

  // Coefficients of the sums over odd m = 2k - 1 of c_j(m) q^(m^2) for K0..K3.
  const double k1a = -z2;
  const double k1b = pi2 / 4.0;
  const double k2a = 6.0 * z6 + 2.0 * z4;
  const double k2b = (2.0 * z4 - 5.0 * z2) * pi2 / 4.0;
  const double k2c = pi4 * (1.0 - 2.0 * z2) / 16.0;
  const double k3d = pi6 * (5.0 - 30.0 * z2) / 64.0;
  const double k3c = pi4 * (-60.0 * z2 + 212.0 * z4) / 16.0;
  const double k3b = pi2 * (135.0 * z4 - 96.0 * z6) / 4.0;
  const double k3a = -30.0 * z6 - 90.0 * z8;

  std::array<double, 4> kk = {0.0, 0.0, 0.0, 0.0};
  const auto maxk = static_cast<std::int64_t>(std::ceil(16.0 * z / kPi));
  // Horner in q^(8k): (2k+1)^2 - (2k-1)^2 = 8k.
  for (std::int64_t k = maxk; k >= 1; --k) {
    const double m = static_cast<double>(2 * k - 1);
    const double m2 = m * m;
    const double m4 = m2 * m2;
    const double m6 = m4 * m2;
    const double qpower = std::pow(q, static_cast<double>(8 * k));
    kk[0] = kk[0] * qpower + 1.0;
    kk[1] = kk[1] * qpower + (k1a + k1b * m2);
    kk[2] = kk[2] * qpower + (k2a + k2b * m2 + k2c * m4);
    kk[3] = kk[3] * qpower + (k3a + k3b * m2 + k3c * m4 + k3d * m6);
  }
  const std::array<double, 4> denom = {z, 6.0 * z4, 72.0 * z7, 6480.0 * z10};
  for (std::size_t j = 0; j < 4; ++j) kk[j] = kk[j] * q * kSqrt2Pi / denom[j];

  // The sums over all k >= 1 of q2^(k^2) terms in K2 and K3.
  const double q2 = std::exp(-pi2 / 2.0 / z2);
  double k2extra = 0.0;
  double k3extra = 0.0;
  const double sqrt3z = kSqrt3 * z;
  for (std::int64_t k = maxk; k >= 1; --k) {
    const double dk = static_cast<double>(k);
    const double k2 = dk * dk;
    const double qk = std::pow(q2, k2);
    const double kpi = kPi * dk;
    k2extra += k2 * qk;
    k3extra += (sqrt3z + kpi) * (sqrt3z - kpi) * k2 * qk;
  }
  kk[2] += k2extra * (pi2 * kSqrt2Pi / (-36.0 * z3));
  kk[3] += k3extra * (pi2 * kSqrt2Pi / (216.0 * z6));

  const double rn = std::sqrt(nn);
  return kk[0] + kk[1] / rn + kk[2] / nn + kk[3] / (nn * rn);
}

/// log(n!/n^n) by Stirling's series with n log n taken out (as scipy evaluates it for n > 140).
double log_nfactorial_div_n_pow_n(double n) {
  static constexpr std::array<double, 8> kCoeffs = {
      -2.955065359477124183e-2,  6.4102564102564102564e-3, -1.9175269175269175269e-3,
      8.4175084175084175084e-4,  -5.952380952380952381e-4, 7.9365079365079365079e-4,
      -2.7777777777777777778e-3, 8.3333333333333333333e-2};
  const double rn = 1.0 / n;
  const double x = rn / n;
  double poly = 0.0;
  for (const double c : kCoeffs) poly = poly * x + c;
  return std::log(n) / 2.0 - n + kHalfLog2Pi + rn * poly;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

double two_sample_exact_sf(std::uint64_t n, std::uint64_t m, std::uint64_t h) {
  if (n == 0 || m == 0) return kNaN;
  if (h == 0) return 1.0;
  const std::uint64_t g = std::gcd(n, m);
  // The band arithmetic (n/g) i +- h must fit in int64.
  constexpr std::uint64_t kLimit = std::uint64_t{1} << 61;
  if (n / g > kLimit / m || h > kLimit) return kNaN;
  if (h > (n / g) * m) return 0.0;  // D <= 1 always
  const double p = n == m ? square_outside(n, h) : band_outside(n, m, h);
  if (!std::isfinite(p) || p < 0.0 || p > 1.0) return kNaN;
  return p;
}

double smirnov_sf(std::uint64_t n, double d) { return smirnov_impl(n, d, true); }

double kolmogorov_sf(double d, std::uint64_t n) {
  if (n == 0 || std::isnan(d)) return kNaN;
  const double nn = static_cast<double>(n);
  // kstwo's support is [1/(2n), 1]: rv_continuous answers 1 at or below it, 0 at or above 1.
  if (d >= 1.0) return 0.0;
  if (d <= 0.5 / nn) return 1.0;

  const double t = nn * d;
  if (t <= 1.0) {  // Ruben–Gambino: cdf = n!/n^n (2t - 1)^n
    if (t <= 0.5) return 1.0;
    double cdf = 1.0;
    if (n <= 140) {
      const double step = 1.0 / nn;
      const double w = 2.0 * t - 1.0;
      for (std::uint64_t i = 1; i <= n; ++i) cdf *= static_cast<double>(i) * step * w;
    } else {
      cdf = std::exp(log_nfactorial_div_n_pow_n(nn) + nn * std::log(2.0 * t - 1.0));
    }
    return clip01(1.0 - cdf);
  }
  if (t >= nn - 1.0) return clip01(2.0 * std::pow(1.0 - d, nn));  // Ruben–Gambino
  if (d >= 0.5) return clip01(2.0 * smirnov_sf(n, d));            // exact: D+ and D- exclusive

  const double s = t * d;  // n d^2
  if (n <= 140) {
    // Durbin's matrix is exact everywhere; scipy uses it for s <= 0.754693 and Pomeranz's
    // (equally exact) recursion up to s = 4. Both give the cdf; the tail is 1 - cdf.
    if (s <= 4.0) return clip01(1.0 - durbin_cdf(n, d));
    return clip01(2.0 * smirnov_sf(n, d));  // Miller: 2 P(D+ >= d)
  }
  if (s >= 370.0) return 0.0;
  if (s >= 2.2) return clip01(2.0 * smirnov_sf(n, d));
  double cdf = 1.0;
  if (s >= 18.0) {
    cdf = 1.0;
  } else if (n <= 100000 && nn * std::pow(d, 1.5) <= 1.4) {
    cdf = durbin_cdf(n, d);
  } else {
    cdf = pelz_good(n, d);
  }
  return clip01(1.0 - cdf);
}

double round_half_even(double x) {
  if (!std::isfinite(x)) return x;
  const double r = std::round(x);  // halves away from zero
  if (std::fabs(x - r) == 0.5) return 2.0 * std::round(0.5 * x);
  return r;
}

namespace internal {

double smirnov_sum(std::uint64_t n, double d, bool subsample) {
  return smirnov_impl(n, d, subsample);
}

double durbin_matrix_cdf(std::uint64_t n, double d) { return durbin_cdf(n, d); }

double pelz_good_cdf(std::uint64_t n, double d) { return pelz_good(n, d); }

}  // namespace internal

}  // namespace drift::ks
