/**
 * The optimizer cards: one per run (up to three), each an editable RunConfig: adamax or adamaxw and
 * their options, the learning rate (a number or any schedule), clipping, MultiSteps.
 */
import { fieldInput, h } from './dom.js';
import { type Field, SCHEDULES, defaultValues } from './schedules.js';
import { CLIPPING, MAX_RUNS, RUN_COLORS, type RunConfig, type Settings, defaultRun } from './settings.js';

const num = (name: string, label: string, value: number, extra: Partial<Field> = {}): Field => ({ name, label, type: 'number', value, ...extra }) as Field;

export function renderRunCards(root: HTMLElement, settings: Settings, changed: (structural: boolean) => void): void {
  root.replaceChildren();
  settings.runs.forEach((run, i) => root.append(runCard(run, i, settings, changed)));
  if (settings.runs.length < MAX_RUNS) {
    const add = h('button', { class: 'add-run', type: 'button', text: '+ add an optimizer' });
    add.addEventListener('click', () => {
      settings.runs.push(defaultRun(settings.runs.length));
      changed(true);
    });
    root.append(add);
  }
}

function runCard(run: RunConfig, i: number, settings: Settings, changed: (structural: boolean) => void): HTMLElement {
  const set = (apply: () => void, structural = false) => () => { apply(); changed(structural); };
  const card = h('section', { class: `run-card${settings.selected === i ? ' selected' : ''}`, 'data-run': i, style: `--run-color:${RUN_COLORS[i]}` });
  const title = h('h3', {}, h('span', { class: 'chip' }), `Run ${String.fromCharCode(65 + i)}`);
  const select = h('button', { type: 'button', class: 'ghost', title: 'Show this run in the update-rule panel', text: settings.selected === i ? 'in the panel' : 'show in panel' });
  select.addEventListener('click', set(() => { settings.selected = i; }, true));
  const remove = h('button', { type: 'button', class: 'ghost', title: 'Remove this run', text: '✕' });
  remove.disabled = settings.runs.length <= 1;
  remove.addEventListener('click', set(() => {
    settings.runs.splice(i, 1);
    settings.selected = Math.min(settings.selected, settings.runs.length - 1);
  }, true));
  card.append(h('header', {}, title, select, remove));

  const optimizer = h('select', { name: `run${i}-optimizer` }, h('option', { value: 'adamax', text: 'adamax' }), h('option', { value: 'adamaxw', text: 'adamaxw' }));
  optimizer.value = run.optimizer;
  optimizer.addEventListener('change', set(() => { run.optimizer = optimizer.value as RunConfig['optimizer']; }, true));
  const schedule = h('select', { name: `run${i}-lr` }, ...Object.entries(SCHEDULES).map(([k, s]) => h('option', { value: k, text: s.label })));
  schedule.value = run.lr.kind;
  schedule.addEventListener('change', set(() => { run.lr = { kind: schedule.value, values: defaultValues(schedule.value) }; }, true));
  card.append(h('div', { class: 'grid2' }, h('label', { class: 'field' }, h('span', { text: 'optimizer' }), optimizer), h('label', { class: 'field' }, h('span', { text: 'learning rate' }), schedule)));

  const lrFields = h('div', { class: 'grid3 schedule' });
  for (const f of SCHEDULES[run.lr.kind].fields) {
    lrFields.append(fieldInput(f, run.lr.values[f.name], (v) => { run.lr.values[f.name] = v; changed(false); }, `run${i}-lr-${f.name}`));
  }
  card.append(lrFields);

  const hyper = h('div', { class: 'grid3' });
  const numbers: [keyof RunConfig, Field][] = [
    ['b1', num('b1', 'b1', run.b1, { step: 0.01 })],
    ['b2', num('b2', 'b2', run.b2, { step: 0.001 })],
    ['eps', num('eps', 'eps', run.eps)],
  ];
  if (run.optimizer === 'adamaxw') numbers.push(['weightDecay', num('weightDecay', 'weight decay', run.weightDecay, { step: 0.01 })]);
  for (const [key, f] of numbers) hyper.append(fieldInput(f, run[key] as number, (v) => { (run as unknown as Record<string, unknown>)[key] = v; changed(false); }, `run${i}-${key}`));
  card.append(hyper);

  const clipping = h('select', { name: `run${i}-clipping` }, ...CLIPPING.map((c) => h('option', { value: c, text: c === 'none' ? 'none' : c === 'clip' ? 'clip' : 'global norm' })));
  clipping.value = run.clipping;
  clipping.addEventListener('change', set(() => { run.clipping = clipping.value as RunConfig['clipping']; }, true));
  const extra = h('div', { class: 'grid3' }, h('label', { class: 'field' }, h('span', { text: 'clipping' }), clipping));
  if (run.clipping !== 'none') extra.append(fieldInput(num('clipValue', run.clipping === 'clip' ? 'max delta' : 'max norm', run.clipValue, { step: 0.1 }), run.clipValue, (v) => { run.clipValue = v as number; changed(false); }, `run${i}-clipValue`));
  extra.append(fieldInput({ name: 'multiSteps', label: 'MultiSteps k', type: 'int', value: run.multiSteps, min: 1, max: 64, step: 1 }, run.multiSteps, (v) => { run.multiSteps = Math.min(64, Math.max(1, v as number)); changed(true); }, `run${i}-multiSteps`));
  if (run.multiSteps > 1) extra.append(fieldInput({ name: 'useGradMean', label: 'mean of grads', type: 'bool', value: run.useGradMean }, run.useGradMean, (v) => { run.useGradMean = v as boolean; changed(false); }, `run${i}-useGradMean`));
  card.append(extra);
  card.append(h('p', { class: 'error', role: 'alert', hidden: true }));
  return card;
}

/** Shows each run's error (the library's message for an invalid option) on its card, or hides it. */
export function showRunErrors(root: HTMLElement, errors: readonly (string | undefined)[]): void {
  root.querySelectorAll<HTMLElement>('.run-card').forEach((card) => {
    const p = card.querySelector<HTMLElement>('.error')!;
    const error = errors[Number(card.dataset.run)];
    p.hidden = !error;
    p.textContent = error ?? '';
  });
}
