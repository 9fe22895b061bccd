// The facegate console: Preact with htm templates (no build step; both from their npm packages,
// served by the daemon). Pages: live view, recent attempts, people, events, tuning. Every state
// change sends the session's CSRF token.
import { h, render } from '/vendor/preact.js';
import { useEffect, useState } from '/vendor/preact-hooks.js';
import htm from '/vendor/htm.js';

const html = htm.bind(h);
let csrf = null;

async function api(path, { method = 'GET', body, raw } = {}) {
  const headers = {};
  if (method !== 'GET' && csrf) headers['x-csrf-token'] = csrf;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (raw) return res;
  const value = await res.json().catch(() => ({}));
  if (!res.ok) throw Object.assign(new Error(value.error ?? res.statusText), { status: res.status });
  return value;
}

/** The API's answer at `path`, fetched when shown and again by `reload`: [value, reload]. */
function useApi(path) {
  const [value, setValue] = useState([]);
  const reload = () => api(path).then(setValue);
  useEffect(() => {
    reload();
  }, [path]);
  return [value, reload];
}

function useHash() {
  const [hash, setHash] = useState(location.hash || '#/live');
  useEffect(() => {
    const on = () => setHash(location.hash || '#/live');
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return hash;
}

function Login({ onLogin }) {
  const [error, setError] = useState(null);
  const submit = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    try {
      const r = await api('/login', {
        method: 'POST',
        body: { user: form.get('user'), password: form.get('password') },
      });
      csrf = r.csrf;
      onLogin(r.user);
    } catch (err) {
      setError(err.message);
    }
  };
  return html`<form class="login" onSubmit=${submit}>
    <h2>facegate</h2>
    <input name="user" placeholder="user" autocomplete="username" value="admin" />
    <input name="password" type="password" placeholder="password" autocomplete="current-password" />
    <button class="primary" type="submit">Log in</button>
    ${error && html`<div class="error">${error}</div>`}
  </form>`;
}

function Live() {
  const [cameras] = useApi('/cameras');
  return html`<section>
    <h2>Live view</h2>
    <p class="note">The frames facegate analyses, with the faces it found and what it decided.</p>
    <div class="cameras">
      ${cameras.map(
        (c) =>
          html`<div class="camera">
            <b>${c.name}</b> <span class="note">${c.state}${c.reason ? `: ${c.reason}` : ''}</span>
            <img
              src=${`/api/v1/cameras/${encodeURIComponent(c.name)}/live.mjpeg`}
              alt=${`live view of ${c.name}`}
            />
          </div>`,
      )}
    </div>
  </section>`;
}

function AttemptRow({ a, people, reload }) {
  const [error, setError] = useState(null);
  const enroll = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    try {
      await api(`/attempts/${a.id}/enroll`, {
        method: 'POST',
        body: { id: form.get('id'), name: form.get('name') },
      });
      reload();
    } catch (err) {
      setError(err.message);
    }
  };
  const wrong = async (truth) => {
    try {
      await api(`/attempts/${a.id}/wrong`, { method: 'POST', body: { truth } });
      reload();
    } catch (err) {
      setError(err.message);
    }
  };
  const who = a.person ?? (a.nearest ? `nearest ${a.nearest.id}` : '');
  return html`<tr data-attempt=${a.id}>
    <td>
      ${a.snapshot ? html`<img class="crop" src=${`/api/v1/attempts/${a.id}/crop`} alt="face" />` : '—'}
    </td>
    <td>${new Date(a.at).toLocaleTimeString()}</td>
    <td>${a.camera}</td>
    <td class=${`kind-${a.kind}`}>${a.kind}</td>
    <td>${who}</td>
    <td>
      ${a.nearest ? a.nearest.distance.toFixed(3) : ''}
      ${a.threshold ? html`<span class="note">/ ${a.threshold.toFixed(3)}</span>` : ''}
    </td>
    <td>
      ${a.reason ?? (a.liveness && a.liveness.mode !== 'off' ? `live: ${a.liveness.live} (${a.liveness.reason})` : '')}
    </td>
    <td>
      ${
        a.enrolledAs
          ? html`<span>enrolled as ${a.enrolledAs}</span>`
          : a.kind === 'unknown' && a.snapshot
            ? html`<form class="inline" onSubmit=${enroll}>
                <input name="id" placeholder="id" size="8" required />
                <input name="name" placeholder="name" size="10" required />
                <button type="submit">Enroll</button>
              </form>`
            : ''
      }
      ${
        a.wrong
          ? html`<span class="note"> marked wrong</span>`
          : a.kind === 'match'
            ? html` <button onClick=${() => wrong(null)}>Wrong: a stranger</button>`
            : a.kind === 'unknown' && people.length
              ? html` <select onChange=${(e) => e.target.value && wrong(e.target.value)}>
                  <option value="">Wrong: it was…</option>
                  ${people.map((p) => html`<option value=${p.id}>${p.name}</option>`)}
                </select>`
              : ''
      }
      ${error && html`<div class="error">${error}</div>`}
    </td>
  </tr>`;
}

function Attempts() {
  const [list, setList] = useState([]);
  const [people, setPeople] = useState([]);
  const [kind, setKind] = useState('');
  const load = () => {
    api(`/attempts?limit=100${kind ? `&kind=${kind}` : ''}`).then(setList);
    api('/people').then(setPeople);
  };
  useEffect(() => {
    load();
    const t = setInterval(load, 3000);
    return () => clearInterval(t);
  }, [kind]);
  return html`<section>
    <h2>Recent attempts</h2>
    <p>
      <select value=${kind} onChange=${(e) => setKind(e.target.value)}>
        <option value="">every decision</option>
        ${['match', 'unknown', 'spoof', 'unusable'].map((k) => html`<option value=${k}>${k}</option>`)}
      </select>
    </p>
    <table>
      <thead>
        <tr>
          <th>face</th>
          <th>time</th>
          <th>camera</th>
          <th>decision</th>
          <th>who</th>
          <th>distance / threshold</th>
          <th>why</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        ${list.map((a) => html`<${AttemptRow} key=${a.id} a=${a} people=${people} reload=${load} />`)}
      </tbody>
    </table>
  </section>`;
}

/** Where the API serves one of a person's photos (enrolled, or captured at the door). */
const photoUrl = (p, sha) => `/api/v1/people/${encodeURIComponent(p.id)}/photos/${sha}`;

function People() {
  const [people, load] = useApi('/people');
  const [error, setError] = useState(null);
  const add = async (e) => {
    e.preventDefault();
    const form = new FormData(e.target);
    const file = form.get('photo');
    const bytes = new Uint8Array(await file.arrayBuffer());
    let binary = '';
    for (let i = 0; i < bytes.length; i += 0x8000)
      binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    try {
      await api('/people', {
        method: 'POST',
        body: { id: form.get('id'), name: form.get('name'), photos: [btoa(binary)] },
      });
      setError(null);
      e.target.reset();
      load();
    } catch (err) {
      setError(err.message);
    }
  };
  const remove = async (p) => {
    if (!confirm(`Remove ${p.name} with their photos and snapshots?`)) return;
    await api(`/people/${encodeURIComponent(p.id)}`, { method: 'DELETE' });
    load();
  };
  return html`<section>
    <h2>People (${people.length})</h2>
    <form class="inline" onSubmit=${add}>
      <input name="id" placeholder="id" required />
      <input name="name" placeholder="name" required />
      <input name="photo" type="file" accept="image/jpeg,image/png,image/webp" required />
      <button class="primary" type="submit">Add from a photo</button>
    </form>
    ${error && html`<p class="error">${error}</p>`}
    <p class="note">Add from a recent attempt on the Attempts page.</p>
    <div class="cards">
      ${people.map(
        (p) =>
          html`<div class="card" data-person=${p.id}>
            ${p.photos[0] && html`<img src=${photoUrl(p, p.photos[0])} alt=${p.name} />`}
            <b>${p.name}</b> <span class="note">${p.id}, ${p.images} photo${p.images === 1 ? '' : 's'}</span>
            ${
              p.doorCaptures.length > 0 &&
              html`<div class="captures">
                <span class="note">from the door:</span>
                ${p.doorCaptures.map((sha) => html`<img src=${photoUrl(p, sha)} alt="${p.name} at the door" />`)}
              </div>`
            }
            <div><button onClick=${() => remove(p)}>Remove</button></div>
          </div>`,
      )}
    </div>
  </section>`;
}

function Events() {
  const [events] = useApi('/events?limit=200');
  return html`<section>
    <h2>Access decisions</h2>
    <table>
      <thead>
        <tr>
          <th>time</th>
          <th>door</th>
          <th>result</th>
          <th>reason</th>
          <th>person</th>
          <th>camera</th>
        </tr>
      </thead>
      <tbody>
        ${events.map(
          (e) =>
            html`<tr>
              <td>${new Date(e.at).toLocaleString()}</td>
              <td>${e.subject}</td>
              <td class=${e.details.result === 'granted' ? 'kind-match' : 'kind-spoof'}>
                ${e.details.result}
              </td>
              <td>${e.details.reason ?? ''}</td>
              <td>${e.details.person ?? ''}</td>
              <td>${e.details.camera}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </section>`;
}

function Tuning() {
  const [t, setT] = useState(null);
  const [view, setView] = useState(null);
  const [saved, setSaved] = useState(null);
  useEffect(() => {
    api('/tuning').then((v) => {
      setT(v.threshold);
      setView(v);
    });
  }, []);
  useEffect(() => {
    if (t !== null) api(`/tuning?threshold=${t}`).then(setView);
  }, [t]);
  if (!view) return html`<section>Loading…</section>`;
  const save = async () => {
    const r = await api('/tuning', { method: 'POST', body: { threshold: t } });
    setSaved(`saved: ${r.threshold.toFixed(3)} is in effect`);
    setView(await api(`/tuning?threshold=${t}`));
  };
  return html`<section>
    <h2>Tuning</h2>
    <p class="note">
      What each threshold would have decided on the recent attempts and on the pairs marked wrong.
    </p>
    <label
      >threshold <b id="threshold">${t.toFixed(3)}</b> (in effect ${view.current.toFixed(3)})<br />
      <input
        type="range"
        min="0.05"
        max="1.6"
        step="0.005"
        value=${t}
        onInput=${(e) => setT(Number(e.target.value))}
      />
    </label>
    <div class="counts">
      <div><b id="count-match">${view.attempts.match}</b> matches</div>
      <div><b id="count-unknown">${view.attempts.unknown}</b> unknown</div>
      <div><b id="count-changed">${view.attempts.changed}</b> decided otherwise than they were</div>
      <div><b id="count-marked">${view.marked.right}/${view.marked.pairs}</b> marked pairs decided right</div>
    </div>
    <button class="primary" onClick=${save}>Save and reload</button> <span id="saved">${saved ?? ''}</span>
  </section>`;
}

function App() {
  const [user, setUser] = useState(undefined);
  const hash = useHash();
  useEffect(() => {
    api('/session')
      .then((s) => {
        csrf = s.csrf;
        setUser(s.user);
      })
      .catch(() => setUser(null));
  }, []);
  if (user === undefined) return html`<p>Loading…</p>`;
  if (user === null) return html`<${Login} onLogin=${setUser} />`;
  const pages = {
    '#/live': Live,
    '#/attempts': Attempts,
    '#/people': People,
    '#/events': Events,
    '#/tuning': Tuning,
  };
  const Page = pages[hash] ?? Live;
  const logout = async () => {
    await api('/logout', { method: 'POST' });
    setUser(null);
  };
  return html`<header>
      <strong>facegate</strong>
      ${Object.keys(pages).map(
        (p) => html`<a href=${p} class=${p === hash ? 'active' : ''}>${p.slice(2)}</a>`,
      )}
      <span class="who">${user} <button onClick=${logout}>Log out</button></span>
    </header>
    <${Page} />`;
}

const root = document.getElementById('app');
root.textContent = ''; // the page's "Loading…", before Preact takes the element over
render(html`<${App} />`, root);
