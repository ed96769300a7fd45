// The portal's entry point: sign-in (token from the form or from the URL fragment `#token=...` that `mica up`
// prints), hash routing between views, and the life cycle of each view's timers.

import {h, field, errorBox, replace} from './dom.js';
import {get, token, setToken, handleUnauthorized, describe} from './api.js';
import {renderClusters} from './clusters.js';

const main = document.getElementById('main');
const signOut = document.getElementById('sign-out');

/**
 * What a view gets: the element to draw into, its route parameters, and `every`/`onLeave` to register work
 * that must stop when the user navigates away. `active()` turns false once the view is left.
 */
function makeContext() {
  const timers = [];
  const leaves = [];
  let alive = true;
  return {
    main,
    every(ms, fn) {
      timers.push(setInterval(() => { if (alive) fn(); }, ms));
    },
    onLeave(fn) {
      leaves.push(fn);
    },
    active: () => alive,
    leave() {
      alive = false;
      timers.forEach(clearInterval);
      leaves.forEach((fn) => fn());
    },
  };
}

let current = null;

/** Takes `#token=...` out of the URL (into sessionStorage) so it is neither bookmarked nor shown. */
function adoptFragmentToken() {
  const match = /^#token=([^&]+)/.exec(location.hash);
  if (match) {
    setToken(decodeURIComponent(match[1]));
    history.replaceState(null, '', `${location.pathname}#/`);
  }
}

function renderLogin(message) {
  signOut.hidden = true;
  const input = h('input', {type: 'password', name: 'token', autocomplete: 'current-password', required: true,
    spellcheck: 'false'});
  const status = h('div', {'aria-live': 'polite'}, message ? errorBox(message) : null);
  const form = h('form', {class: 'card narrow', onsubmit: async (event) => {
    event.preventDefault();
    setToken(input.value);
    try {
      await get('/clusters');
      route();
    } catch (e) {
      setToken(null);
      replace(status, errorBox(e.status === 401 ? 'That token is not valid for this server.' : describe(e)));
      input.focus();
    }
  }},
  h('h1', {}, 'Sign in'),
  h('p', {}, 'Enter the API token `mica server` printed at first start (saved in <state dir>/api.token), or open the Portal URL that `mica up` prints.'),
  field('API token', input),
  status,
  h('button', {type: 'submit'}, 'Sign in'));
  replace(main, form);
  input.focus();
}

async function route() {
  adoptFragmentToken();
  current?.leave();
  current = null;
  if (!token()) {
    renderLogin();
    return;
  }
  signOut.hidden = false;
  const path = (location.hash.replace(/^#/, '') || '/').split('/').filter(Boolean).map(decodeURIComponent);
  const ctx = makeContext();
  current = ctx;
  try {
    if (path.length === 0 || path[0] === 'clusters' && path.length === 1) {
      await renderClusters(ctx);
    } else if (path[0] === 'create') {
      const {renderCreate} = await import('./create.js');
      await renderCreate(ctx);
    } else if (path[0] === 'clusters') {
      const {renderCluster} = await import('./cluster.js');
      await renderCluster(ctx, path[1], path[2] || 'overview');
    } else {
      replace(main, h('h1', {}, 'Not found'), h('p', {}, h('a', {href: '#/'}, 'Back to clusters')));
    }
  } catch (e) {
    if (ctx.active()) replace(main, errorBox(describe(e)));
  }
}

handleUnauthorized(() => {
  setToken(null);
  current?.leave();
  current = null;
  renderLogin('The server refused the API token; sign in again.');
});

signOut.addEventListener('click', () => {
  setToken(null);
  location.hash = '#/';
  route();
});

window.addEventListener('hashchange', () => {
  // A route change moves focus to the content, so keyboard users start at the new view.
  route().then(() => main.focus({preventScroll: true}));
});
route();
