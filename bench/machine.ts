import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { relaxedMaddFused } from '../src/engine/wasm/relaxed-madd.js';

/** What the numbers were measured on. */
export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly l3: string;
  readonly memory: string;
  /** Node's version, V8's, and how the engine's WebAssembly kernels compute a fused multiply-add
   * (one relaxed-SIMD instruction, or the exact emulation: the combinators' rows depend on it). */
  readonly node: string;
  readonly gcc: string;
  readonly date: string;
}

function readOr(file: string, fallback: string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return fallback;
  }
}

/** Describes this machine: CPU model from /proc/cpuinfo, logical cores, caches, versions, date. */
export function describeMachine(): Machine {
  const cpuinfo = readOr('/proc/cpuinfo', '');
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown CPU';
  const hypervisor = /^flags\s*:.*\bhypervisor\b/m.test(cpuinfo) ? ' (virtual machine)' : '';
  const gcc = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
  return {
    cpu: model.trim() + hypervisor,
    cores: availableParallelism(),
    l3: readOr('/sys/devices/system/cpu/cpu0/cache/index3/size', 'unknown'),
    memory: `${Math.round(totalmem() / 2 ** 30)} GiB`,
    node: `${process.version} (V8 ${process.versions.v8}; wasm fma: ${relaxedMaddFused() ? 'relaxed SIMD, fused' : 'emulated (no fused relaxed SIMD)'})`,
    gcc: gcc.error || gcc.status !== 0 ? 'none' : gcc.stdout.split('\n')[0],
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
  };
}

/** CPU ticks: the whole machine's busy time, and this process's own (its threads and waited-for children). */
function ticks(): { busy: number; own: number } | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    const [user, nice, system, idle, iowait, irq, softirq, steal] = cpu;
    // Fields 14-17 of /proc/self/stat (utime, stime, cutime, cstime), after the parenthesised name.
    const self = readFileSync('/proc/self/stat', 'utf8');
    const f = self.slice(self.lastIndexOf(')') + 2).split(' ').map(Number);
    void idle; void iowait;
    return { busy: user + nice + system + irq + softirq + steal, own: f[11] + f[12] + f[13] + f[14] };
  } catch {
    return undefined;
  }
}

/**
 * Measures how busy the machine is with *other* work while the bench runs (in cores, averaged): the
 * numbers of a run that shared its cores with another job are worth less, and the report says so.
 */
export function startLoadMeter(): () => number | undefined {
  const t0 = performance.now();
  const a = ticks();
  return () => {
    const b = ticks();
    if (!a || !b) return undefined;
    const seconds = (performance.now() - t0) / 1e3;
    return (b.busy - a.busy - (b.own - a.own)) / 100 / seconds;
  };
}
