import { describe, expect, it } from 'vitest';
import { frobeniusNorm, logSlope, spectralNorm } from '../../src/training/linalg.js';

describe('spectralNorm', () => {
  it('is the largest singular value of a diagonal matrix', () => {
    const m = [3, 0, 0, 0, -5, 0, 0, 0, 1];
    expect(spectralNorm(m, 0, 3, 3, new Float64Array(3).fill(1))).toBeCloseTo(5, 10);
    expect(frobeniusNorm(m, 0, 3, 3)).toBeCloseTo(Math.sqrt(35), 12);
  });

  it('matches the closed form for a 2×2 matrix', () => {
    // σ_max² = (s + √(s² − 4 det²)) / 2 with s = ‖M‖_F²
    const [a, b, c, d] = [1.5, -0.3, 0.7, 2.2];
    const s = a * a + b * b + c * c + d * d;
    const det = a * d - b * c;
    const expected = Math.sqrt((s + Math.sqrt(s * s - 4 * det * det)) / 2);
    expect(spectralNorm([a, b, c, d], 0, 2, 2, new Float64Array([1, 0]))).toBeCloseTo(expected, 10);
  });

  it('handles the zero matrix and a start vector orthogonal to the row space', () => {
    expect(spectralNorm([0, 0, 0, 0], 0, 2, 2, new Float64Array([1, 1]))).toBe(0);
    expect(spectralNorm([0, 0, 0, 2], 0, 2, 2, new Float64Array([1, 0]))).toBeCloseTo(2, 10);
  });
});

describe('logSlope', () => {
  it('recovers the rate of an exponential', () => {
    const xs = [1, 2, 3, 4, 5];
    expect(
      logSlope(
        xs,
        xs.map((x) => 3 * Math.exp(-0.7 * x)),
      ),
    ).toBeCloseTo(-0.7, 12);
  });
  it('skips zeros and needs two points', () => {
    expect(logSlope([1, 2, 3], [Math.exp(-1), 0, Math.exp(-3)])).toBeCloseTo(-1, 12);
    expect(logSlope([1], [1])).toBeNull();
  });
});
