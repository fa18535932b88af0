/**
 * Student's t distribution, for confidence intervals over seeds, in float64 with no tables.
 *
 * The CDF is a regularized incomplete beta function (Abramowitz & Stegun, ch. 26):
 *   F(t; ν) = 1 − ½ I_x(ν/2, ½),   x = ν / (ν + t²),   t ≥ 0;   F(−t) = 1 − F(t)
 * and, with y = 1 − x = t² / (ν + t²) and I_x(a, b) = 1 − I_{1−x}(b, a),
 *   F(t; ν) = ½ + ½ I_y(½, ν/2).
 * I is evaluated by its continued fraction (A&S 26.5.8) with the modified Lentz method. The
 * quantile inverts whichever form keeps its unknown below ½ (x beyond |t| = √ν, y within), where
 * doubles are dense, by bisection to the last bit, so it is as accurate as I itself. ν = ∞ is the normal
 * distribution: Φ(z) = ½ (1 + P(½, z²/2)) for z ≥ 0 (as erf(u) = P(½, u²)), P the regularized lower
 * incomplete gamma function, by its series or its continued fraction (A&S 6.5.29, 6.5.31).
 * Accuracy: t quantiles to about 1e-14 relative for ν ≤ 10⁴ (the continued fraction needs about √ν
 * terms, and its rounding grows with them: 1e-12 at ν = 10⁶); Φ to about 1e-16 absolute, so normal
 * quantiles far out in the tails (p < 1e-10) lose digits.
 */

const EPS = 1e-16;
const TINY = 1e-300; // keeps Lentz's denominators off zero
const MAX_TERMS = 100_000;

// Lanczos's approximation with g = 7 and nine coefficients (relative error below 1e-15 for x > 0)
const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0. */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x); // reflection
  const z = x - 1;
  const t = z + LANCZOS_G + 0.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(lanczosSum(z));
}

function lanczosSum(z: number): number {
  let sum = LANCZOS[0];
  for (let i = 1; i < LANCZOS.length; i++) sum += LANCZOS[i] / (z + i);
  return sum;
}

/**
 * ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b). For a large argument the two big logarithms would
 * cancel (ln Γ(500) ≈ 2605 holds only 12 decimals of the difference), so with a ≥ b (B is symmetric),
 * T = a + g − ½, and Lanczos's form ln Γ(z + 1) = ½ ln 2π + (z + ½) ln(z + g + ½) − (z + g + ½) + ln S(z):
 *   ln Γ(a + b) − ln Γ(a) = (a − ½) ln(1 + b/T) + b ln(T + b) − b + ln(S(a + b − 1) / S(a − 1)).
 */
export function logBeta(a: number, b: number): number {
  const [big, small] = a >= b ? [a, b] : [b, a];
  if (big < 8) return logGamma(a) + logGamma(b) - logGamma(a + b);
  const t = big + LANCZOS_G - 0.5;
  const ratio =
    (big - 0.5) * Math.log1p(small / t) +
    small * Math.log(t + small) -
    small +
    Math.log(lanczosSum(big + small - 1) / lanczosSum(big - 1));
  return logGamma(small) - ratio;
}

/** The continued fraction of I_x(a, b) (A&S 26.5.8), good for x < (a + 1) / (a + b + 2). */
function betaFraction(x: number, a: number, b: number): number {
  // 1 / (1 + d₁ / (1 + d₂ / (1 + …))), with
  //   d_{2m+1} = −(a + m)(a + b + m) x / ((a + 2m)(a + 2m + 1)),  d_{2m} = m (b − m) x / ((a + 2m − 1)(a + 2m))
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = 1 / (Math.abs(d) < TINY ? TINY : d);
  let f = d;
  for (let m = 1; m <= MAX_TERMS; m++) {
    for (const coef of [
      (m * (b - m) * x) / ((a + 2 * m - 1) * (a + 2 * m)),
      -((a + m) * (a + b + m) * x) / ((a + 2 * m) * (a + 2 * m + 1)),
    ]) {
      d = 1 + coef * d;
      d = 1 / (Math.abs(d) < TINY ? TINY : d);
      c = 1 + coef / c;
      if (Math.abs(c) < TINY) c = TINY;
      f *= c * d;
      if (Math.abs(c * d - 1) < EPS) return f;
    }
  }
  throw new Error(`incomplete beta: no convergence for x=${x}, a=${a}, b=${b}`);
}

/** The regularized incomplete beta function I_x(a, b) = B(x; a, b) / B(a, b), for a, b > 0 and 0 ≤ x ≤ 1. */
export function betaRegularized(x: number, a: number, b: number): number {
  if (!(a > 0 && b > 0) || !(x >= 0 && x <= 1)) throw new Error(`betaRegularized(${x}, ${a}, ${b}) is undefined`);
  if (x === 0 || x === 1) return x;
  // x^a (1 − x)^b / B(a, b), in logs; log1p keeps (1 − x) exact for small x
  const front = Math.exp(a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b));
  if (x < (a + 1) / (a + b + 2)) return (front * betaFraction(x, a, b)) / a;
  return 1 - (front * betaFraction(1 - x, b, a)) / b;
}

/** The regularized lower incomplete gamma function P(a, x) = γ(a, x) / Γ(a), for a > 0 and x ≥ 0. */
export function gammaRegularized(a: number, x: number): number {
  if (!(a > 0) || !(x >= 0)) throw new Error(`gammaRegularized(${a}, ${x}) is undefined`);
  if (x === 0) return 0;
  if (x === Infinity) return 1;
  const front = Math.exp(a * Math.log(x) - x - logGamma(a));
  if (x < a + 1) {
    // series: γ(a, x) = x^a e^{−x} Σ_n x^n / (a (a+1) … (a+n))
    let term = 1 / a;
    let sum = term;
    for (let n = 1; n <= MAX_TERMS; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * EPS) return front * sum;
    }
    throw new Error(`incomplete gamma: no convergence for a=${a}, x=${x}`);
  }
  // continued fraction of the upper function:
  //   Γ(a, x) = x^a e^{−x} / (x + 1 − a − 1·(1 − a) / (x + 3 − a − 2·(2 − a) / (x + 5 − a − …)))
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let f = d;
  for (let n = 1; n <= MAX_TERMS; n++) {
    const coef = -n * (n - a);
    b += 2;
    d = coef * d + b;
    d = 1 / (Math.abs(d) < TINY ? TINY : d);
    c = b + coef / c;
    if (Math.abs(c) < TINY) c = TINY;
    f *= c * d;
    if (Math.abs(c * d - 1) < EPS) return 1 - front * f;
  }
  throw new Error(`incomplete gamma: no convergence for a=${a}, x=${x}`);
}

/** Φ(z), the standard normal CDF. */
export function normalCdf(z: number): number {
  const half = 0.5 * gammaRegularized(0.5, (z * z) / 2);
  return z >= 0 ? 0.5 + half : 0.5 - half;
}

/** F(t; ν), the CDF of Student's t with ν > 0 degrees of freedom (ν = Infinity: the normal). */
export function studentTCdf(t: number, nu: number): number {
  checkNu(nu);
  if (nu === Infinity) return normalCdf(t);
  if (Number.isNaN(t)) return NaN;
  if (Math.abs(t) === Infinity) return t > 0 ? 1 : 0;
  const t2 = t * t;
  // the smaller of x and y as the argument, so neither is a difference of nearly equal numbers
  const tail =
    t2 < nu
      ? 0.5 - 0.5 * betaRegularized(t2 / (nu + t2), 0.5, nu / 2)
      : 0.5 * betaRegularized(nu / (nu + t2), nu / 2, 0.5);
  return t >= 0 ? 1 - tail : tail;
}

/** The largest-to-the-last-bit argument in [lo, hi] where the increasing `f` is still below `target`. */
function bisect(f: (u: number) => number, target: number, lo: number, hi: number): number {
  for (;;) {
    const mid = lo + (hi - lo) / 2;
    if (mid <= lo || mid >= hi) return f(hi) - target < target - f(lo) ? hi : lo;
    if (f(mid) < target) lo = mid;
    else hi = mid;
  }
}

/** t_{p, ν}: the t with F(t; ν) = p, for 0 < p < 1 and ν > 0 (ν = Infinity: the normal quantile). */
export function studentTQuantile(p: number, nu: number): number {
  checkNu(nu);
  if (!(p > 0 && p < 1)) throw new Error(`studentTQuantile: p must be in (0, 1), got ${p}`);
  if (p === 0.5) return 0;
  const q = Math.min(p, 1 - p); // the tail beyond |t|
  let t: number;
  if (nu === Infinity) {
    // Φ(−|z|) = q; |z| < 40 for every q a double can hold
    t = bisect((z) => 0.5 * gammaRegularized(0.5, (z * z) / 2), 0.5 - q, 0, 40);
  } else if (q < 0.5 * betaRegularized(0.5, nu / 2, 0.5)) {
    // beyond |t| = √ν (x = y = ½): ½ I_x(ν/2, ½) = q, decreasing in |t|, solved for x < ½
    const x = bisect((u) => betaRegularized(u, nu / 2, 0.5), 2 * q, 0, 1);
    t = Math.sqrt(nu / x) * Math.sqrt(1 - x);
  } else {
    // within |t| ≤ √ν: ½ I_y(½, ν/2) = ½ − q, increasing in |t|, solved for y ≤ ½
    const y = bisect((u) => betaRegularized(u, 0.5, nu / 2), 1 - 2 * q, 0, 1);
    t = Math.sqrt((nu * y) / (1 - y));
  }
  return p < 0.5 ? -t : t;
}

function checkNu(nu: number): void {
  if (!(nu > 0)) throw new Error(`Student's t: degrees of freedom must be > 0, got ${nu}`);
}
