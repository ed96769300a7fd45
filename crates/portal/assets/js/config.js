// Cassandra Configuration pane: per datacenter, the overridden cassandra.yaml values (the decoded
// base64EncodedCassandraYamlFragment). Update opens a YAML editor; forbidden and unknown keys are shown as errors
// while typing, and the API's full check runs before the update is submitted.

import {h, badge, replace, errorBox, fromBase64, toBase64} from './dom.js';
import {get, put, enc, describe, trackOperation, validate, writableDataCenter} from './api.js';
import {keyProblems} from './yaml.js';

const REFRESH_MS = 5000;

export async function renderConfiguration(ctx, name, body) {
  const base = `/clusters/${enc(name)}`;
  const operation = h('div', {class: 'op-area'});
  const message = h('div', {'aria-live': 'polite'});
  const list = h('div', {});
  replace(body, h('p', {class: 'hint'}, 'Only overridden values are shown. The service manages cluster names, seeds, ports, addresses, directories, encryption and authentication itself.'),
    operation, message, list);
  let editing = false;
  let busy = false;

  function editor(dc, current) {
    const area = h('textarea', {name: 'yaml', rows: 10, spellcheck: 'false', class: 'mono',
      'aria-describedby': `yaml-errors-${dc.name}`}, current);
    area.value = current;
    const errors = h('div', {id: `yaml-errors-${dc.name}`, class: 'yaml-errors', 'aria-live': 'polite'});
    const submit = h('button', {type: 'submit'}, 'Update');
    const check = () => {
      const problems = keyProblems(area.value);
      replace(errors, problems.length ? h('ul', {class: 'error', role: 'alert'}, problems.map((p) => h('li', {}, p))) : null);
      submit.disabled = problems.length > 0;
      area.setAttribute('aria-invalid', String(problems.length > 0));
    };
    area.addEventListener('input', check);
    check();
    return h('form', {class: 'card', 'aria-label': `Update configuration of ${dc.name}`, onsubmit: async (e) => {
      e.preventDefault();
      check();
      if (submit.disabled) return;
      const properties = {...writableDataCenter(dc.properties),
        base64EncodedCassandraYamlFragment: toBase64(area.value)};
      const problem = await validate({dataCenter: properties});
      if (problem) {
        replace(errors, errorBox(problem.detail));
        return;
      }
      editing = false;
      busy = true;
      replace(message);
      try {
        const op = await put(`${base}/dataCenters/${enc(dc.name)}`, {properties});
        const done = await trackOperation(operation, op, () => !ctx.active());
        if (done.status !== 'Succeeded') replace(message, errorBox(`${done.name} ${done.status}: ${done.error?.message || ''}`));
      } catch (err) {
        replace(message, errorBox(describe(err)));
      } finally {
        busy = false;
        await refresh();
      }
    }},
    h('label', {for: area.id = `yaml-${dc.name}`}, `cassandra.yaml overrides for ${dc.name}`),
    area, errors,
    h('div', {class: 'actions'}, submit,
      h('button', {type: 'button', class: 'secondary', onclick: () => { editing = false; refresh(); }}, 'Cancel')));
  }

  async function refresh() {
    if (editing || busy || !ctx.active()) return;
    try {
      const dcs = (await get(`${base}/dataCenters`)).value;
      if (!ctx.active() || editing) return;
      replace(list, dcs.length ? dcs.map((dc) => {
        let yaml = '';
        try {
          yaml = dc.properties.base64EncodedCassandraYamlFragment ? fromBase64(dc.properties.base64EncodedCassandraYamlFragment) : '';
        } catch {
          yaml = '(the stored fragment is not valid base64)';
        }
        const area = h('div', {});
        const update = h('button', {type: 'button', onclick: () => {
          editing = true;
          replace(area, editor(dc, yaml));
          area.querySelector('textarea').focus();
        }}, 'Update');
        return h('section', {class: 'card', dataset: {dc: dc.name}},
          h('div', {class: 'page-head'}, h('h2', {}, dc.name, ' ', badge(dc.properties.provisioningState)), update),
          yaml.trim() ? h('pre', {class: 'code yaml-current', tabindex: 0}, yaml) : h('p', {class: 'muted yaml-current'}, 'No overridden values.'),
          area);
      }) : h('p', {}, 'No datacenters yet.'));
    } catch (e) {
      if (ctx.active()) replace(message, errorBox(describe(e)));
    }
  }

  await refresh();
  ctx.every(REFRESH_MS, refresh);
}
