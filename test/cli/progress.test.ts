import { describe, expect, it } from 'vitest';
import { formatSeconds } from '../../src/cli/progress.js';

describe('formatSeconds', () => {
  it('rounds once: mm:ss never shows 60 seconds', () => {
    expect(formatSeconds(119.6)).toBe('02:00');
    expect(formatSeconds(59.4)).toBe('00:59');
    expect(formatSeconds(3725)).toBe('62:05');
    expect(formatSeconds(Infinity)).toBe('--:--');
  });
});
