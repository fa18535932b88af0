import { describe, expect, it } from 'vitest';
import {
  betaRegularized,
  logBeta,
  gammaRegularized,
  logGamma,
  normalCdf,
  studentTCdf,
  studentTQuantile,
} from '../../src/report/student-t.js';

// Student's t against closed forms (ν = 1, 2, 3, 4), printed tables, and quantiles that
// test/reference/student_t.py finds with mpmath at 40 digits by integrating the density
// (not through the incomplete beta function the code uses).

const relErr = (got: number, want: number) => Math.abs(got - want) / Math.abs(want);

describe('special functions', () => {
  it('ln Γ: factorials, Γ(½) = √π, Γ(x + 1) = x Γ(x)', () => {
    let factorial = 1;
    for (let n = 1; n <= 20; n++) {
      if (n > 1) factorial *= n - 1;
      expect(relErr(Math.exp(logGamma(n)), factorial)).toBeLessThan(1e-14);
    }
    expect(logGamma(0.5)).toBeCloseTo(0.5 * Math.log(Math.PI), 14);
    for (const x of [0.1, 0.3, 0.7, 2.5, 10.25, 100.5])
      expect(logGamma(x + 1) - logGamma(x)).toBeCloseTo(Math.log(x), 12);
  });

  it('ln B: B(a, 1) = 1/a and B(a, 2) = 1/(a(a + 1)) up to a = 10⁶, and ln Γ sums where they do not cancel', () => {
    for (const a of [0.5, 3, 9, 77.5, 1e3, 123456.5, 1e6]) {
      expect(relErr(logBeta(a, 1), -Math.log(a))).toBeLessThan(1e-14);
      expect(relErr(logBeta(2, a), -Math.log(a) - Math.log(a + 1))).toBeLessThan(1e-14);
    }
    for (const [a, b] of [
      [0.5, 0.5],
      [2.5, 9],
      [12, 0.5],
      [20, 30],
    ])
      expect(logBeta(a, b)).toBeCloseTo(logGamma(a) + logGamma(b) - logGamma(a + b), 12);
  });

  it('I_x(a, b): x^a, 1 − (1 − x)^b, (2/π) asin √x, and I_x(a, b) = 1 − I_{1−x}(b, a)', () => {
    // dyadic x, so that 1 − x is exact too
    for (const x of [2 ** -30, 1 / 64, 0.25, 0.5, 0.75, 1 - 2 ** -10]) {
      for (const a of [0.5, 1, 3.5, 40]) {
        const power = x ** a; // 0 when it underflows, and so must I be
        expect(power === 0 ? betaRegularized(x, a, 1) : relErr(betaRegularized(x, a, 1), power)).toBeLessThan(1e-13);
        expect(betaRegularized(x, 1, a)).toBeCloseTo(-Math.expm1(a * Math.log1p(-x)), 14);
        for (const b of [0.5, 2, 17])
          expect(betaRegularized(x, a, b)).toBeCloseTo(1 - betaRegularized(1 - x, b, a), 13);
      }
      expect(betaRegularized(x, 0.5, 0.5)).toBeCloseTo((2 / Math.PI) * Math.asin(Math.sqrt(x)), 14);
    }
    expect([betaRegularized(0, 2, 3), betaRegularized(1, 2, 3)]).toEqual([0, 1]);
  });

  it('P(a, x): 1 − e^{−x}, 1 − (1 + x) e^{−x}, and erf(√x) at erf(0.5), erf(1), erf(2)', () => {
    for (const x of [1e-6, 0.3, 1, 2.5, 9, 40]) {
      expect(gammaRegularized(1, x)).toBeCloseTo(-Math.expm1(-x), 14);
      expect(gammaRegularized(2, x)).toBeCloseTo(1 - (1 + x) * Math.exp(-x), 14);
    }
    // erf values printed by test/reference/student_t.py
    const erf: [number, number][] = [
      [0.5, 0.5204998778130465],
      [1, 0.8427007929497149],
      [2, 0.9953222650189527],
    ];
    for (const [u, want] of erf) expect(relErr(gammaRegularized(0.5, u * u), want)).toBeLessThan(1e-15);
  });

  it('Φ: Φ(0) = ½, symmetry, and Φ(z_0.975) = 0.975', () => {
    expect(normalCdf(0)).toBe(0.5);
    for (const z of [0.1, 1, 2.5, 6]) expect(normalCdf(-z) + normalCdf(z)).toBeCloseTo(1, 15);
    expect(normalCdf(1.9599639845400543)).toBeCloseTo(0.975, 15);
  });
});

describe("Student's t CDF", () => {
  // closed forms: ν = 1 Cauchy, ν = 2, ν = 3
  const closed: [number, (t: number) => number][] = [
    [1, (t) => 0.5 + Math.atan(t) / Math.PI],
    [2, (t) => 0.5 + t / (2 * Math.sqrt(2 + t * t))],
    [3, (t) => 0.5 + (t / Math.sqrt(3) / (1 + (t * t) / 3) + Math.atan(t / Math.sqrt(3))) / Math.PI],
  ];
  for (const [nu, cdf] of closed)
    it(`equals the closed form for ν = ${nu}`, () => {
      for (const t of [-50, -3, -1, -0.2, 0, 1e-4, 0.5, 1.7, 4, 30, 1e4])
        expect(studentTCdf(t, nu)).toBeCloseTo(cdf(t), 14);
    });

  it('is 0 and 1 at ∓∞ and the normal CDF for ν = ∞', () => {
    expect([studentTCdf(-Infinity, 5), studentTCdf(Infinity, 5)]).toEqual([0, 1]);
    expect(studentTCdf(1.3, Infinity)).toBe(normalCdf(1.3));
  });
});

describe("Student's t quantile", () => {
  it('matches the closed forms for ν = 1, 2 and 4', () => {
    for (const p of [1e-9, 0.01, 0.025, 0.3, 0.6, 0.975, 0.995]) {
      // ν = 1: tan(π (p − ½)), written as −cot(π p) so that p − ½ is not rounded for small p
      const cauchy = p < 0.5 ? -1 / Math.tan(Math.PI * p) : Math.tan(Math.PI * (p - 0.5));
      expect(relErr(studentTQuantile(p, 1), cauchy)).toBeLessThan(1e-12);
      // ν = 2: t = (2p − 1) √(2 / (4p(1 − p)))
      expect(relErr(studentTQuantile(p, 2), (2 * p - 1) * Math.sqrt(2 / (4 * p * (1 - p))))).toBeLessThan(1e-12);
      // ν = 4: α = 4p(1 − p), q = cos(⅓ arccos √α) / √α, t = sign(p − ½) · 2 √(q − 1)
      const alpha = 4 * p * (1 - p);
      const q = Math.cos(Math.acos(Math.sqrt(alpha)) / 3) / Math.sqrt(alpha);
      expect(relErr(studentTQuantile(p, 4), Math.sign(p - 0.5) * 2 * Math.sqrt(q - 1))).toBeLessThan(1e-11);
    }
  });

  it('gives the printed table values of t_{0.975, ν}', () => {
    const table: [number, number][] = [
      [1, 12.706],
      [2, 4.303],
      [4, 2.776],
      [9, 2.262],
      [19, 2.093],
      [Infinity, 1.96],
    ];
    for (const [nu, t] of table) expect(studentTQuantile(0.975, nu)).toBeCloseTo(t, 3);
  });

  it('matches the mpmath reference to 1e-13', () => {
    // [p, ν, t_{p,ν}] printed by test/reference/student_t.py
    const reference: [number, number, number][] = [
      [0.975, 0.5, 164.55767348048855],
      [0.995, 0.5, 4113.964588804181],
      [0.9, 0.5, 10.270324410234506],
      [0.6, 0.5, 0.3979754267847907],
      [0.975, 3, 3.1824463052837095],
      [0.995, 3, 5.840909309733357],
      [0.9, 3, 1.6377443536962102],
      [0.6, 3, 0.2766706623326899],
      [0.975, 7, 2.3646242515927853],
      [0.995, 7, 3.499483297350494],
      [0.9, 7, 1.4149239276505086],
      [0.6, 7, 0.26316686135202283],
      [0.975, 9, 2.2621571627982053],
      [0.995, 9, 3.2498355415921263],
      [0.9, 9, 1.3830287383966322],
      [0.6, 9, 0.260955336473911],
      [0.975, 19, 2.0930240544083096],
      [0.995, 19, 2.860934606464979],
      [0.9, 19, 1.3277282090267983],
      [0.6, 19, 0.2569228197961547],
      [0.975, 29, 2.0452296421327043],
      [0.995, 29, 2.7563859036706053],
      [0.9, 29, 1.311433647301551],
      [0.6, 29, 0.25568363457125615],
      [0.975, 99, 1.9842169515864174],
      [0.995, 99, 2.6264054572808275],
      [0.9, 99, 1.2901614420344851],
      [0.6, 99, 0.25402901215180673],
      [0.975, 999, 1.96234146113345],
      [0.995, 999, 2.580759637267637],
      [0.9, 999, 1.2823995700373974],
      [0.6, 999, 0.25341458333036737],
    ];
    for (const [p, nu, t] of reference) {
      expect(relErr(studentTQuantile(p, nu), t), `p=${p} ν=${nu}`).toBeLessThan(1e-13);
      expect(relErr(studentTQuantile(1 - p, nu), -t), `p=${1 - p} ν=${nu}`).toBeLessThan(1e-12);
    }
    expect(relErr(studentTQuantile(0.975, Infinity), 1.9599639845400543)).toBeLessThan(1e-14);
  });

  it('inverts the CDF, and is 0 at p = ½', () => {
    for (const nu of [0.3, 1.5, 6, 60, 600])
      for (const p of [1e-6, 0.05, 0.4, 0.5, 0.55, 0.9, 0.999])
        expect(studentTCdf(studentTQuantile(p, nu), nu)).toBeCloseTo(p, 13);
    expect(studentTQuantile(0.5, 7)).toBe(0);
  });

  it('refuses p outside (0, 1) and ν ≤ 0', () => {
    for (const p of [0, 1, -0.1, NaN]) expect(() => studentTQuantile(p, 3)).toThrow(/p must be in \(0, 1\)/);
    for (const nu of [0, -2, NaN]) expect(() => studentTQuantile(0.9, nu)).toThrow(/degrees of freedom must be > 0/);
  });
});
