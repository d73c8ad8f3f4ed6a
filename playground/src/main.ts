/**
 * The playground page: a header (views, the engine's path), a sidebar (the problem, the optimizer
 * cards, the engine's options, a share link) and the current view with the update-rule panel. The
 * settings object is the one source of truth; every change is written to the URL.
 */
import { sharedMemorySupported, wasmSimdSupported } from '../../src/index.js';
import { ClassifyView } from './classify-view.js';
import { h } from './dom.js';
import { FunctionsView, type ViewHost } from './functions-view.js';
import { renderMath } from './math-panel.js';
import { renderRunCards, showRunErrors } from './run-cards.js';
import { BACKENDS, type BackendChoice, RUN_COLORS, type Settings, settingsFromHash, settingsToHash } from './settings.js';
import './style.css';

const settings: Settings = settingsFromHash(location.hash);
const problemBox = document.getElementById('problem')!;
const runsBox = document.getElementById('runs')!;
const engineBox = document.getElementById('engine-options')!;
const viewBox = document.getElementById('view')!;
const mathBox = document.getElementById('math')!;
const engineStatus = document.getElementById('engine-status')!;

let view: FunctionsView | ClassifyView;
let mathQueued = false;

const host: ViewHost = {
  settings,
  changed(structural) {
    writeUrl();
    if (structural) renderSidebar();
    view.update(structural);
  },
  showErrors: (errors) => showRunErrors(runsBox, errors),
  mathChanged() {
    // Coalesced: training and replay redraw every frame, the panel at most once per frame.
    if (mathQueued) return;
    mathQueued = true;
    requestAnimationFrame(() => {
      mathQueued = false;
      renderMath(mathBox, view.mathSnapshot(), settings.view === 'functions' ? 'This run has no result (see its card).' : 'Train a step to see the values.');
      if (view instanceof ClassifyView) host.engineChanged(view.enginePaths());
    });
  },
  engineChanged(paths) {
    const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
    const facts = [
      `cross-origin isolated: ${isolated ? 'yes' : 'no'}`,
      `shared memory: ${sharedMemorySupported() ? 'yes' : 'no'}`,
      `WebAssembly SIMD: ${wasmSimdSupported() ? 'yes' : 'no'}`,
      `${navigator.hardwareConcurrency ?? 1} logical cores`,
    ];
    const runs = paths.map((p, i) => (p
      ? `Run ${String.fromCharCode(65 + i)}: ${p.backend === 'reference' ? 'reference path' : p.backend}, ${p.threads} thread${p.threads > 1 ? 's' : ''}`
      : `Run ${String.fromCharCode(65 + i)}: —`));
    const key = runs.join() + paths.map((p) => p?.note ?? '').join();
    if (engineStatus.dataset.key === key) return;
    engineStatus.dataset.key = key;
    engineStatus.replaceChildren(
      h('div', { class: 'engine-runs' }, h('span', { class: 'engine-label', text: 'compile():' }), ...runs.map((text, i) => h('span', {
        class: 'engine-run', style: `--run-color:${RUN_COLORS[i]}`, title: paths[i]?.note ? `Not fused: ${paths[i]!.note}` : 'Fused: one pass over memory per step',
      }, h('span', { class: 'chip' }), text, paths[i]?.note ? h('sup', { text: '?' }) : null))),
      h('div', { class: 'engine-facts', text: facts.join(' · ') }),
    );
  },
};

function writeUrl(): void {
  history.replaceState(null, '', settingsToHash(settings));
}

function engineOptions(): HTMLElement {
  const backend = h('select', { name: 'backend', id: 'backend' }, ...BACKENDS.map((b) => h('option', { value: b, text: b === 'reference' ? 'pure tx.update (no engine)' : b === 'auto' ? 'auto (fastest available)' : b })));
  backend.value = settings.backend;
  backend.addEventListener('change', () => { settings.backend = backend.value as BackendChoice; host.changed(false); });
  const threads = h('select', { name: 'threads', id: 'threads' }, ...[0, 1, 2, 4].map((t) => h('option', { value: t, text: t === 0 ? "engine's choice" : String(t) })));
  threads.value = String(settings.threads);
  threads.addEventListener('change', () => { settings.threads = Number(threads.value); host.changed(false); });
  const share = h('button', { type: 'button', class: 'ghost', id: 'share', text: 'Copy a link to this view' });
  share.addEventListener('click', () => {
    navigator.clipboard?.writeText(location.href).then(() => { share.textContent = 'Link copied'; }, () => { share.textContent = 'The URL holds this view'; });
  });
  return h('section', {},
    h('h2', { text: 'Engine' }),
    h('div', { class: 'grid2' },
      h('label', { class: 'field' }, h('span', { text: 'backend (compile)' }), backend),
      h('label', { class: 'field' }, h('span', { text: 'threads (network view)' }), threads)),
    h('p', { class: 'hint', text: 'Every backend gives bit-identical results. A chain the engine cannot fuse runs on its reference path (the header says why).' }),
    share,
  );
}

function renderSidebar(): void {
  problemBox.replaceChildren(view.controls());
  renderRunCards(runsBox, settings, (structural) => host.changed(structural));
  engineBox.replaceChildren(engineOptions());
  document.querySelectorAll<HTMLButtonElement>('nav button[data-view]').forEach((b) => b.setAttribute('aria-selected', String(b.dataset.view === settings.view)));
}

function mount(): void {
  view?.destroy();
  view = settings.view === 'functions' ? new FunctionsView(host) : new ClassifyView(host);
  viewBox.replaceChildren(view.element);
  document.body.dataset.view = settings.view;
  renderSidebar();
  view.update(true);
}

document.querySelectorAll<HTMLButtonElement>('nav button[data-view]').forEach((b) => b.addEventListener('click', () => {
  if (settings.view === b.dataset.view) return;
  settings.view = b.dataset.view as Settings['view'];
  writeUrl();
  mount();
}));

window.addEventListener('hashchange', () => {
  if (location.hash === settingsToHash(settings)) return;
  Object.assign(settings, settingsFromHash(location.hash));
  mount();
});

let resizeTimer = 0;
window.addEventListener('resize', () => {
  clearTimeout(resizeTimer);
  resizeTimer = window.setTimeout(() => view.update(true), 150);
});

mount();
writeUrl();
document.body.dataset.ready = 'true';
