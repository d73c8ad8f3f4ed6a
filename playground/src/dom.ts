/** A few DOM helpers: elements from a tag, attributes and children; labelled inputs bound to a setter. */
import type { Field, FieldValue } from './schedules.js';

type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | number | boolean | undefined> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === 'text') el.textContent = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
}

/** An input for a field, calling `set` with a value of the field's type on each change. */
export function fieldInput(f: Field, value: FieldValue, set: (v: FieldValue) => void, name: string): HTMLElement {
  let input: HTMLInputElement | HTMLSelectElement;
  if (f.type === 'bool') {
    input = h('input', { type: 'checkbox', name });
    input.checked = value as boolean;
    input.addEventListener('change', () => set((input as HTMLInputElement).checked));
  } else if (f.type === 'choice') {
    input = h('select', { name }, ...f.options.map((o) => h('option', { value: o, text: o })));
    input.value = value as string;
    input.addEventListener('change', () => set(input.value));
  } else if (f.type === 'text') {
    input = h('input', { type: 'text', name, placeholder: f.hint, value: value as string });
    input.addEventListener('change', () => set(input.value));
  } else {
    input = h('input', { type: 'number', name, value: String(value), step: f.step ?? 'any', min: f.min, max: f.max });
    input.addEventListener('change', () => {
      const v = (input as HTMLInputElement).valueAsNumber;
      if (Number.isFinite(v)) set(f.type === 'int' ? Math.round(v) : v);
    });
  }
  return h('label', { class: f.type === 'bool' ? 'field check' : 'field' }, h('span', { text: f.label }), input);
}

/** Formats a number for the panels: short, but with the digits that matter. */
export function fmt(x: number | undefined, digits = 5): string {
  if (x === undefined || Number.isNaN(x)) return '—';
  if (!Number.isFinite(x)) return x > 0 ? '∞' : '−∞';
  if (x === 0) return Object.is(x, -0) ? '−0' : '0';
  const a = Math.abs(x);
  const s = a >= 1e-3 && a < 1e5 ? x.toPrecision(digits).replace(/(\.\d*?)0+$/, '$1').replace(/\.$/, '') : x.toExponential(digits - 2);
  return s.replace(/-/g, '−');
}
