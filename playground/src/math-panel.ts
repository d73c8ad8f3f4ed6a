/**
 * The update-rule panel: Adamax's equations, then the numbers of the selected run at the shown step
 * (the step count t, 1 - b1^t, the learning rate, and m, v, the corrected m and the update of each
 * shown parameter), with the first parameter's equations written out with its values substituted.
 */
import { fmt, h } from './dom.js';
import { RUN_COLORS } from './settings.js';

export interface ElementValues {
  readonly name: string;
  /** The parameter after the step, and before it. */
  readonly p: number;
  readonly pPrev: number;
  /** The gradient given at this step. */
  readonly g: number;
  /** The gradient Adamax received (after clipping / MultiSteps), or undefined when Adamax did not run at this step. */
  readonly gSeen: number | undefined;
  readonly mPrev: number;
  readonly vPrev: number;
  readonly m: number;
  readonly v: number;
  /** The update tx.update returned, when known. */
  readonly u?: number;
}

export interface MathSnapshot {
  readonly run: number;
  readonly describe: string;
  /** The step shown (mini-steps under MultiSteps). */
  readonly step: number;
  /** Adamax's count after the step. */
  readonly t: number;
  readonly lr: number;
  readonly b1: number;
  readonly b2: number;
  readonly eps: number;
  readonly weightDecay?: number;
  readonly bias: number;
  readonly elements: readonly ElementValues[];
  readonly notes: readonly string[];
  /** Whether the chain changes the gradient before Adamax (clipping, MultiSteps): then both are shown. */
  readonly transformed: boolean;
}

/** A number inside a formula: negative ones in parentheses. */
const arg = (x: number, digits = 5): string => (x < 0 || Object.is(x, -0) ? `(${fmt(x, digits)})` : fmt(x, digits));

const sub = (base: string, s: string): HTMLElement => h('span', {}, base, h('sub', { text: s }));

export function renderMath(root: HTMLElement, snap: MathSnapshot | undefined, emptyText: string): void {
  root.replaceChildren();
  root.append(h('h2', {}, 'Update rule ', h('small', { text: 'optax.adamax / adamaxw, step by step' })));
  if (!snap) {
    root.append(h('p', { class: 'muted', text: emptyText }));
    return;
  }
  const wd = snap.weightDecay !== undefined;
  root.append(h('p', { class: 'describe', style: `--run-color:${RUN_COLORS[snap.run]}` }, h('span', { class: 'chip' }), h('code', { text: snap.describe })));
  root.append(h('div', { class: 'rule' },
    h('div', {}, 'm', h('sub', { text: 't' }), ' = b1·m', h('sub', { text: 't−1' }), ' + (1 − b1)·g', h('sub', { text: 't' })),
    h('div', {}, 'v', h('sub', { text: 't' }), ' = max(|g', h('sub', { text: 't' }), '| + ε, b2·v', h('sub', { text: 't−1' }), ')'),
    h('div', {}, 'u', h('sub', { text: 't' }), ' = −η', h('sub', { text: 't' }), '·(m', h('sub', { text: 't' }), ' / (1 − b1', h('sup', { text: 't' }), ')) / v', h('sub', { text: 't' }), wd ? h('span', {}, ' − η', h('sub', { text: 't' }), '·λ·p', h('sub', { text: 't−1' })) : null),
    h('div', {}, 'p', h('sub', { text: 't' }), ' = p', h('sub', { text: 't−1' }), ' + u', h('sub', { text: 't' })),
  ));
  const scalars = h('dl', { class: 'scalars' },
    h('dt', { text: 'step' }), h('dd', { 'data-k': 'step', text: String(snap.step) }),
    h('dt', { text: 't (count)' }), h('dd', { 'data-k': 't', text: String(snap.t) }),
    h('dt', {}, '1 − b1', h('sup', { text: 't' })), h('dd', { 'data-k': 'bias', text: fmt(snap.bias, 7) }),
    h('dt', {}, 'η', h('sub', { text: 't' })), h('dd', { 'data-k': 'lr', text: fmt(snap.lr, 6) }),
    h('dt', { text: 'b1, b2, ε' }), h('dd', { text: `${snap.b1}, ${snap.b2}, ${snap.eps}` }),
    wd ? h('dt', { text: 'λ (weight decay)' }) : null, wd ? h('dd', { text: String(snap.weightDecay) }) : null,
  );
  root.append(scalars);

  const columns = snap.transformed ? ['', 'g given', 'g to Adamax', 'mₜ', 'vₜ', 'm / (1 − b1^t)', 'u', 'p'] : ['', 'gₜ', 'mₜ', 'vₜ', 'm / (1 − b1^t)', 'u', 'p'];
  const head = h('tr', {}, ...columns.map((c) => h('th', { text: c })));
  const rows = snap.elements.map((e) => h('tr', {},
    h('th', { text: e.name }), h('td', { text: fmt(e.g) }), snap.transformed ? h('td', { text: fmt(e.gSeen) }) : null, h('td', { text: fmt(e.m) }), h('td', { text: fmt(e.v) }),
    h('td', { text: snap.t > 0 ? fmt(e.m / snap.bias) : '—' }), h('td', { text: e.u === undefined ? '—' : fmt(e.u) }), h('td', { text: fmt(e.p) }),
  ));
  root.append(h('table', { class: 'values' }, h('thead', {}, head), h('tbody', {}, ...rows)));

  const e = snap.elements[0];
  if (e && snap.t > 0 && e.gSeen === undefined) {
    root.append(h('p', { class: 'muted', text: 'Adamax did not run at this mini-step: MultiSteps only accumulated the gradient, so m, v and t are unchanged.' }));
  } else if (e && snap.t > 0 && e.gSeen !== undefined) {
    root.append(h('div', { class: 'substituted' },
      h('div', {}, sub('m', 't'), ` = ${snap.b1}·${arg(e.mPrev)} + ${fmt(1 - snap.b1, 4)}·${arg(e.gSeen)} = `, h('b', { text: fmt(e.m) })),
      h('div', {}, sub('v', 't'), ` = max(${fmt(Math.abs(e.gSeen))} + ${snap.eps}, ${snap.b2}·${arg(e.vPrev)}) = `, h('b', { text: fmt(e.v) })),
      h('div', {}, sub('u', 't'), ` = −${fmt(snap.lr)}·(${fmt(e.m)} / ${fmt(snap.bias, 7)}) / ${fmt(e.v)}${wd ? ` − ${fmt(snap.lr)}·${snap.weightDecay}·${arg(e.pPrev)}` : ''} = `, h('b', { text: e.u === undefined ? '—' : fmt(e.u) })),
      h('p', { class: 'muted', text: `(${e.name}; shown to 5 digits, computed in float32 exactly as optax does)` }),
    ));
  }
  for (const note of snap.notes) root.append(h('p', { class: 'note', text: note }));
}
