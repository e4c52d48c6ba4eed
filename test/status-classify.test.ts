// classify maps one pair's facts, its cadence and an instant to its state, without a store.
import { describe, expect, it } from 'vitest';
import { MS } from '../src/core/duration.js';
import { ageResolution, classify, type PairFacts } from '../src/core/status/classify.js';

const ROTATED = Date.parse('2026-01-01T00:00:00Z');
/** 90 days, warned 14 days ahead: due on day 90, overdue from day 91. */
const NINETY = { targetMs: 90 * MS.d, warnMs: 14 * MS.d, maxMs: 90 * MS.d };
/** The runbook's database password: due at 180 days, overdue after 365. */
const DB_PASSWORD = { targetMs: 180 * MS.d, warnMs: 14 * MS.d, maxMs: 365 * MS.d };

const facts = (over: Partial<PairFacts> = {}): PairFacts => ({
  rotatedAt: ROTATED,
  graceUntil: null,
  rotation: null,
  ...over,
});
const day = (n: number) => ROTATED + n * MS.d;

describe('classify', () => {
  it('counts a 90-day secret ok, due soon from day 76, due on day 90 and overdue on day 91', () => {
    expect(classify(facts(), NINETY, day(75)).state).toBe('ok');
    expect(classify(facts(), NINETY, day(76)).state).toBe('due-soon');
    expect(classify(facts(), NINETY, day(90)).state).toBe('due');
    expect(classify(facts(), NINETY, day(91) - 1).state).toBe('due');
    expect(classify(facts(), NINETY, day(91)).state).toBe('overdue');
  });

  it('answers the age and the three instants it crosses', () => {
    expect(classify(facts(), NINETY, day(10))).toEqual({
      state: 'ok',
      ageState: 'ok',
      ageMs: 10 * MS.d,
      dueSoonAt: day(76),
      nextDueAt: day(90),
      overdueAt: day(91),
    });
  });

  it('keeps a 180-365 day secret due, not overdue, until day 366', () => {
    expect(classify(facts(), DB_PASSWORD, day(180)).state).toBe('due');
    expect(classify(facts(), DB_PASSWORD, day(365)).state).toBe('due');
    expect(classify(facts(), DB_PASSWORD, day(366)).state).toBe('overdue');
  });

  it('says unknown, with no dates, when the rotation date is unknown', () => {
    expect(classify(facts({ rotatedAt: null }), NINETY, day(500))).toEqual({
      state: 'unknown',
      ageState: 'unknown',
      ageMs: null,
      dueSoonAt: null,
      nextDueAt: null,
      overdueAt: null,
    });
  });

  it('shows an open grace window only when the cadence is ok', () => {
    const inGrace = facts({ graceUntil: day(11) });
    expect(classify(inGrace, NINETY, day(10)).state).toBe('in-grace');
    const dueInGrace = classify(inGrace, NINETY, day(90));
    expect([dueInGrace.state, dueInGrace.ageState]).toEqual(['due', 'due']);
  });

  it('puts a failed or rolled-back rotation first, then a running or waiting one, keeping the age state', () => {
    for (const state of ['failed', 'rolled_back'] as const) {
      const c = classify(facts({ rotation: { state } }), NINETY, day(91));
      expect([c.state, c.ageState]).toEqual(['failed', 'overdue']);
    }
    for (const state of ['running', 'waiting'] as const) {
      const c = classify(facts({ rotation: { state }, graceUntil: day(11) }), NINETY, day(10));
      expect([c.state, c.ageState]).toEqual(['rotating', 'ok']);
    }
    const unknownFailed = classify(
      facts({ rotatedAt: null, rotation: { state: 'failed' } }),
      NINETY,
      day(1),
    );
    expect(unknownFailed.state).toBe('failed');
  });
});

describe('ageResolution', () => {
  it('counts ages in the largest whole unit of the maximum age', () => {
    expect(ageResolution(90 * MS.d)).toBe(MS.d);
    expect(ageResolution(36 * MS.h)).toBe(MS.h);
    expect(ageResolution(90 * MS.m)).toBe(MS.m);
    expect(ageResolution(1500)).toBe(1);
  });
});
