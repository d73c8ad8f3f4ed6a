// Every `kind: "schedule"` case of conformance/public_f32.json and public_f64.json, bit for bit.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Dtype } from '../../src/core/dtype.js';
import type { Schedule } from '../../src/core/schedule.js';
import * as S from '../../src/schedules/index.js';

interface Spec { name: string; args: Record<string, unknown> }
interface ScheduleCase {
  kind: 'schedule';
  schedule: Spec;
  steps: number[];
  native_dtype: Dtype;
  values: { $array: string; shape: number[]; b64: string };
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** base64 -> little-endian float64 values. */
function decodeFloat64(b64: string): Float64Array {
  const clean = b64.replace(/=+$/, '');
  const bytes = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let acc = 0;
  let o = 0;
  for (const ch of clean) {
    acc = (acc << 6) | B64.indexOf(ch);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[o++] = (acc >> bits) & 0xff;
    }
  }
  const view = new DataView(bytes.buffer);
  const out = new Float64Array(bytes.length / 8);
  for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(i * 8, true);
  return out;
}

const camel = (s: string) => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function camelArgs(args: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(args).map(([k, v]) => [camel(k), v]));
}

/** Builds the optax-ts schedule for a recorded optax spec. */
function build(spec: Spec, dtype: Dtype): Schedule {
  const a = camelArgs(spec.args);
  switch (spec.name) {
    case 'constant_schedule': return S.constantSchedule({ ...(a as any), dtype });
    case 'linear_schedule': return S.linearSchedule({ ...(a as any), dtype });
    case 'polynomial_schedule': return S.polynomialSchedule({ ...(a as any), dtype });
    case 'exponential_decay': return S.exponentialDecay({ ...(a as any), dtype });
    case 'cosine_decay_schedule': return S.cosineDecaySchedule({ ...(a as any), dtype });
    case 'warmup_cosine_decay_schedule': return S.warmupCosineDecaySchedule({ ...(a as any), dtype });
    case 'warmup_exponential_decay_schedule': return S.warmupExponentialDecaySchedule({ ...(a as any), dtype });
    case 'warmup_constant_schedule': return S.warmupConstantSchedule({ ...(a as any), dtype });
    case 'piecewise_constant_schedule': return S.piecewiseConstantSchedule({ ...(a as any), dtype });
    case 'piecewise_interpolate_schedule': return S.piecewiseInterpolateSchedule({ ...(a as any), dtype });
    case 'cosine_onecycle_schedule': return S.cosineOnecycleSchedule({ ...(a as any), dtype });
    case 'linear_onecycle_schedule': return S.linearOnecycleSchedule({ ...(a as any), dtype });
    case 'join_schedules':
      return S.joinSchedules({
        schedules: (a.schedules as Spec[]).map((s) => build(s, dtype)),
        boundaries: a.boundaries as number[],
        dtype,
      });
    case 'sgdr_schedule':
      return S.sgdrSchedule({ cosineKwargs: (a.cosineKwargs as Record<string, unknown>[]).map(camelArgs) as any, dtype });
    default:
      throw new Error(`no optax-ts schedule for ${spec.name}`);
  }
}

const hex = (x: number) => {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x);
  return v.getBigUint64(0).toString(16).padStart(16, '0');
};

for (const [file, dtype] of [['public_f32', 'float32'], ['public_f64', 'float64']] as const) {
  const json = JSON.parse(readFileSync(new URL(`../../conformance/${file}.json`, import.meta.url), 'utf8')) as { cases: { kind: string }[] };
  const cases = json.cases.filter((c): c is ScheduleCase => c.kind === 'schedule');
  test(`${file}: has the 21 schedule cases`, () => assert.equal(cases.length, 21));
  cases.forEach((c, index) => {
    test(`${file} #${index} ${c.schedule.name} ${JSON.stringify(c.schedule.args)} (native ${c.native_dtype})`, () => {
      assert.equal(c.values.$array, 'float64');
      const expected = decodeFloat64(c.values.b64);
      assert.equal(expected.length, c.steps.length);
      const schedule = build(c.schedule, dtype);
      const mismatches: string[] = [];
      c.steps.forEach((step, i) => {
        const got = schedule(step);
        if (!Object.is(got, expected[i])) mismatches.push(`step ${step}: got ${got} (${hex(got)}), want ${expected[i]} (${hex(expected[i])})`);
        // The recorded native dtype: a float32 result must be a float32 value.
        if (c.native_dtype === 'float32') assert.ok(Object.is(Math.fround(got), got), `step ${step}: ${got} is not a float32`);
      });
      assert.deepEqual(mismatches, []);
    });
  });
}
