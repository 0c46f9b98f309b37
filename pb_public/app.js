// The reference page: a thin UI over dailyreps-backup.js (protocol v1, the
// view of backups without an account) and, when the server speaks protocol
// v2, app-v2.js over dailyreps-v2.js (accounts). All cryptography happens in
// those modules; these files only gather input and explain outcomes.
// app-v2.js takes the shared pieces (messages, progress, busy state, focus,
// formatting, previews) from the exports below.

import { createClient, BackupError, ERROR_CODES } from './dailyreps-backup.js';
import { describeJsonError } from './json-errors.js';

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
};

const ui = {
  serverInfo: $('server-info'),
  form: $('account-form'),
  modeField: $('mode-field'),
  modeUse: $('mode-use'),
  modeRegister: $('mode-register'),
  check: $('check'),
  backupForm: $('backup-form'),
  saveLimits: $('save-limits'),
  confirmDialog: $('confirm-dialog'),
  confirmCancel: $('confirm-cancel'),
  confirmNew: $('confirm-new-backup'),
  username: $('username'),
  password: $('password'),
  inviteField: $('invite-field'),
  inviteCode: $('invite-code'),
  secretField: $('secret-field'),
  secret: $('signing-secret'),
  register: $('register'),
  progress: $('progress'),
  progressLabel: $('progress-label'),
  progressBar: $('progress-bar'),
  viewSwitch: $('view-switch'),
  viewAccount: $('view-account'),
  viewV1: $('view-v1'),
  v1View: $('v1-view'),
  v1Note: $('v1-note'),
  v2View: $('v2-view'),
  document: $('document'),
  sizeLimit: $('size-limit'),
  file: $('file'),
  save: $('save'),
  restore: $('restore'),
  download: $('download'),
  restoredMeta: $('restored-meta'),
  restored: $('restored'),
  versionsLoad: $('versions-load'),
  versionsTable: $('versions-table'),
  versionsList: $('versions-list'),
  versionsEmpty: $('versions-empty'),
  activityLoad: $('activity-load'),
  activityTable: $('activity-table'),
  activityList: $('activity-list'),
  activityEmpty: $('activity-empty'),
  deleteConfirm: $('delete-confirm'),
  delete: $('delete'),
};

const metaSecret = document.querySelector('meta[name="dailyreps-signing-secret"]')?.getAttribute('content')?.trim() ?? '';

let info = null;
let client = null;
let clientSecret;
// Key derivation costs 100 000 PBKDF2 rounds; do it once per username and
// password pair instead of once per button press.
let cachedAccount = null;
let busy = false;

// Storage keys known to hold a backup on the server, and users this page
// registered (who hold none yet). A save under any other key asks first:
// under v1 a mistyped password silently starts a second backup.
const knownKeys = new Set();
const registeredHere = new Set();

// A restored document above this size is previewed, not shown whole: a text
// area holding megabytes blocks the tab for seconds while it lays them out.
const PREVIEW_LIMIT = 256 * 1024;
const PREVIEW_CHARS = 6000;

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------
// Formatting

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
// Activity is kept per minute, so seconds would claim a precision it lacks.
export const minuteFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
export const timeFormat = new Intl.DateTimeFormat(undefined, { timeStyle: 'short' });

export function formatDate(iso, format = dateFormat) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : format.format(d);
}

/** round: 'down' for a limit (never promise more), 'up' for what is over one. */
export function formatBytes(n, round = 'nearest') {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  const [unit, size] = n < 1024 * 1024 ? ['KiB', 1024] : ['MiB', 1024 * 1024];
  const f = round === 'down' ? Math.floor : round === 'up' ? Math.ceil : Math.round;
  return `${(f((n / size) * 10) / 10).toFixed(1)} ${unit}`;
}

export function formatWait(seconds) {
  if (!Number.isFinite(seconds)) return 'a little while';
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

export const plural = (n, one, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

export const EVENT_LABELS = {
  saved: 'Backup saved',
  restored: 'Backup restored',
  failed_attempt: 'Failed attempt with a wrong password',
  deleted_version: 'Old version removed',
};

// ---------------------------------------------------------------------------
// Size limit

// The server bounds the sealed document, {"encrypted":"<base64 of the
// document and its 16-byte tag>","nonce":"<16 characters>"}: 43 characters
// around base64 that is 4/3 of the ciphertext. This is the largest document
// that fits, the one figure the page names.
function maxDocumentBytes() {
  if (!info?.maxBackupBytes) return undefined;
  return Math.max(0, Math.floor((info.maxBackupBytes - 43) / 4) * 3 - 16);
}

function limitText() {
  const max = maxDocumentBytes();
  return max === undefined ? undefined : `${formatBytes(max, 'down')} of JSON`;
}

function tooLargeMessage(what, bytes) {
  return `${what} is ${formatBytes(bytes, 'up')}; a backup on this server can hold at most ${limitText()}.`;
}

export function inputError(message, code = 'input') {
  return Object.assign(new Error(message), { code });
}

/** Why text is not JSON in plain words, or null when it is JSON. */
export function jsonProblem(text) {
  if (text.trim() === '') return 'it is empty';
  try {
    JSON.parse(text);
    return null;
  } catch {
    return describeJsonError(text) ?? 'it is not JSON';
  }
}

// ---------------------------------------------------------------------------
// Messages, next to the control used

/**
 * Turns a failure into a sentence a person can act on. `action` matters
 * because the same status means different things: a 404 on save is an
 * unregistered name, on restore it is "no backup for these credentials".
 */
export function describeError(error, action) {
  if (!(error instanceof BackupError)) {
    return error instanceof Error ? error.message : String(error);
  }
  switch (error.code) {
    case ERROR_CODES.alreadyRegistered:
      if (/protocol v2|account/i.test(error.serverMessage ?? '')) {
        return 'This username now has an account (its backup was upgraded). Log in under "Account" at the top of the page to back up and restore.';
      }
      return 'This username is already registered. If it is yours, choose "I have an account here" and back up or restore with your password; otherwise choose another username.';
    case ERROR_CODES.notFound:
      if (action === 'save') return 'This username is not registered yet. Register it first, then back up.';
      return servesAccounts()
        ? 'No backup found for this username and password. Check both: the password is case-sensitive. If you upgraded this backup to an account, log in under "Account" at the top of the page.'
        : 'No backup found for this username and password. Check both: the password is case-sensitive.';
    case ERROR_CODES.tooLarge:
      // The server names the reason; only a quota refusal is about the quota.
      if (/quota/i.test(error.serverMessage ?? '')) {
        const quota = info?.userQuotaBytes ? ` of ${formatBytes(info.userQuotaBytes, 'down')}` : '';
        return `This save would take the backups of this username over the server's storage quota${quota} (every kept version counts). Delete a backup you no longer need, or save a smaller document.`;
      }
      return limitText() ? `The backup is too large: a backup on this server can hold at most ${limitText()}.` : 'The backup is too large for this server.';
    case ERROR_CODES.rateLimited: {
      const period = /saves per (hour|day)/.exec(error.serverMessage ?? '')?.[1];
      if (action === 'save' && period) {
        return `This backup has used all its saves for this ${period}. Try again in ${formatWait(error.retryAfter)}.`;
      }
      return `Too many requests. Please wait ${formatWait(error.retryAfter)} and try again.`;
    }
    case ERROR_CODES.unauthorized:
      if (error.serverTime !== undefined) {
        const skew = Math.round(error.serverTime - Date.now() / 1000);
        return `The server refused the request because this device's clock is off by about ${formatWait(Math.abs(skew))}. Correct the clock and try again.`;
      }
      return 'The server refused the request signature. The signing secret is missing or wrong; ask the operator of this server for the correct one.';
    case ERROR_CODES.forbidden:
      if (action === 'register') {
        return info?.registration === 'invite'
          ? 'Registration needs a valid invite code.'
          : 'Registration is closed on this server.';
      }
      return 'The server refused this request for this account.';
    case ERROR_CODES.stale:
      return 'The backup changed on the server since you last loaded it. Restore it first, then save again.';
    case ERROR_CODES.invalid:
      return `The server rejected the request: ${error.message}`;
    case ERROR_CODES.unavailable:
      return error.retryAfter
        ? `The backup server is temporarily unavailable. Try again in ${formatWait(error.retryAfter)}.`
        : 'The backup server is temporarily unavailable. Try again later.';
    case ERROR_CODES.server:
      return 'The backup server failed to handle the request. Try again later.';
    case ERROR_CODES.network:
      return `${error.message} Check your connection and try again.`;
    case ERROR_CODES.decrypt:
      return 'The backup could not be decrypted with this password.';
    case ERROR_CODES.corrupt:
      return 'The stored backup is damaged or was not written by a DailyReps client.';
    default:
      return error.message;
  }
}

// Every card of both views has a polite region for results and an assertive one for
// errors, present from the start so that screen readers announce changes.
const feedback = {};
for (const el of document.querySelectorAll('.feedback')) {
  const status = document.createElement('div');
  status.setAttribute('role', 'status');
  const alert = document.createElement('div');
  alert.setAttribute('role', 'alert');
  el.append(status, alert);
  feedback[el.id.replace(/-feedback$/, '')] = { el, status, alert };
}

// One message at a time, in the card of the last action.
let message = null;

function showMessage(section, kind, text, code) {
  clearMessages();
  const p = document.createElement('p');
  p.className = `banner ${kind === 'error' ? 'error' : 'ok'}`;
  p.dataset.testid = kind;
  if (kind === 'error') p.dataset.code = code ?? '';
  p.tabIndex = -1;
  p.textContent = text;
  feedback[section][kind === 'error' ? 'alert' : 'status'].append(p);
  message = p;
  return p;
}

export const showStatus = (section, text) => showMessage(section, 'status', text);
export const showError = (section, text, code) => showMessage(section, 'error', text, code);

const clearHooks = [clearFileError];

/** fn runs whenever the messages are cleared (a field's error state goes with its message). */
export function onClearMessages(fn) {
  clearHooks.push(fn);
}

export function clearMessages() {
  for (const f of Object.values(feedback)) {
    f.status.replaceChildren();
    f.alert.replaceChildren();
  }
  message = null;
  for (const fn of clearHooks) fn();
}

// Plain words; 'derived' and 'done' are too brief to be worth a label.
export const PHASE_LABELS = {
  deriving: 'Turning your password into an encryption key (this takes a moment)…',
  checking: 'Checking whether this username and password have a backup…',
  encrypting: 'Encrypting on this device…',
  uploading: 'Sending the encrypted backup…',
  downloading: 'Fetching your encrypted backup…',
  decrypting: 'Decrypting on this device…',
  preparing: 'Preparing the preview…',
  registering: 'Registering the username…',
  deleting: 'Deleting…',
  loading: 'Loading…',
};

/** Shows a phase; with `total`, the bar shows `done` of it, else it only moves. */
export function setProgress(phase, { done, total } = {}) {
  if (!phase) {
    ui.progress.hidden = true;
    ui.progress.dataset.phase = '';
    return;
  }
  if (!PHASE_LABELS[phase]) return;
  ui.progress.hidden = false;
  ui.progress.dataset.phase = phase;
  ui.progressLabel.textContent = PHASE_LABELS[phase];
  if (Number.isFinite(total) && total > 0 && Number.isFinite(done)) {
    ui.progressBar.max = total;
    ui.progressBar.value = Math.min(done, total);
  } else {
    ui.progressBar.removeAttribute('value');
  }
}

const onProgress = ({ phase }) => setProgress(phase);

// ---------------------------------------------------------------------------
// Client and account

function currentSecret() {
  return metaSecret || ui.secret.value.trim() || undefined;
}

function getClient() {
  const secret = currentSecret();
  if (!client || secret !== clientSecret) {
    client = createClient({ baseUrl: location.origin, signingSecret: secret });
    clientSecret = secret;
  }
  return client;
}

function readCredentials() {
  const username = ui.username.value;
  const password = ui.password.value;
  if (username.trim() === '') {
    ui.username.focus();
    throw inputError('Enter a username.');
  }
  if (username !== username.trim()) {
    // The protocol hashes the name exactly; a stray space would silently make a different account.
    ui.username.focus();
    throw inputError('The username starts or ends with a space; remove it.');
  }
  if (password === '') {
    ui.password.focus();
    throw inputError('Enter a password.');
  }
  if (info?.signatureRequired && !currentSecret()) {
    ui.secret.focus();
    throw inputError('This server requires a signing secret; enter the one provided by its operator.');
  }
  return { username, password };
}

async function getAccount() {
  const { username, password } = readCredentials();
  const c = getClient();
  if (cachedAccount && cachedAccount.username === username && cachedAccount.password === password && cachedAccount.client === c) {
    return cachedAccount.account;
  }
  cachedAccount = null;
  const account = await c.account(username, password, { onProgress });
  cachedAccount = { username, password, client: c, account };
  return account;
}

function forgetAccount() {
  cachedAccount = null;
}

function setMode(mode) {
  const register = mode === 'register';
  ui.modeRegister.checked = register;
  ui.modeUse.checked = !register;
  // Password managers offer a new password when registering, the saved one otherwise.
  ui.password.setAttribute('autocomplete', register ? 'new-password' : 'current-password');
  // The visible button is the form's default one: Enter runs it.
  ui.register.hidden = !register;
  ui.register.type = register ? 'submit' : 'button';
  ui.check.hidden = register;
  ui.check.type = register ? 'button' : 'submit';
  ui.inviteField.hidden = !(register && info?.registration === 'invite');
}

// ---------------------------------------------------------------------------
// Actions

// Every button of both views but those of a dialog, which asks a question in
// the middle of an action.
function actionButtons() {
  return [...document.querySelectorAll('main button')].filter((b) => !b.closest('dialog'));
}

// Busy buttons are aria-disabled, not disabled: a disabled button drops the
// keyboard focus to the body.
export const isBusy = () => busy;

function setBusy(value) {
  busy = value;
  document.body.setAttribute('aria-busy', String(value));
  for (const b of actionButtons()) {
    if (value) b.setAttribute('aria-disabled', 'true');
    else b.removeAttribute('aria-disabled');
  }
  ui.delete.disabled = !ui.deleteConfirm.checked;
}

function inView(el) {
  const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight;
}

function usable(el) {
  return el instanceof HTMLElement && el.isConnected && !el.disabled && el.getClientRects().length > 0;
}

/**
 * After an action: a field at fault keeps the focus it took; otherwise the
 * result is scrolled into view, and focus stays on the control used while
 * that is still in view and usable, or else moves to the result.
 */
function settleFocus(control) {
  const active = document.activeElement;
  if (active && active !== control && active !== document.body && usable(active)) return;
  if (!message) return;
  if (!inView(message)) message.scrollIntoView({ block: 'nearest' });
  if (usable(control) && inView(control)) {
    if (document.activeElement !== control) control.focus({ preventScroll: true });
  } else {
    message.focus({ preventScroll: true });
  }
}

/**
 * Runs one user action with a single busy state and one place for its
 * outcome; `describe` turns a failure into words (the v1 sentences unless given).
 */
export async function run(action, section, fn, describe = describeError) {
  if (busy) return;
  const control = document.activeElement;
  setBusy(true);
  clearMessages();
  feedback[section].el.prepend(ui.progress);
  try {
    await fn();
  } catch (error) {
    showError(section, describe(error, action), error instanceof BackupError ? error.code : (error?.code ?? 'input'));
  } finally {
    setProgress(null);
    setBusy(false);
    settleFocus(control);
  }
}

async function onCheck() {
  await run('check', 'account', async () => {
    const account = await getAccount();
    setProgress('checking');
    const versions = await account.versions();
    knownKeys.add(account.storageKey);
    renderVersions(versions);
    const latest = versions[0];
    showStatus(
      'account',
      latest
        ? `Found your backup: ${plural(versions.length, 'version')} kept, the latest (version ${latest.version}) saved ${formatDate(latest.updatedAt)}.`
        : 'Found your backup.',
    );
  });
}

async function onRegister() {
  await run('register', 'account', async () => {
    const account = await getAccount();
    setProgress('registering');
    await account.register({ inviteCode: ui.inviteCode.value.trim() || undefined });
    registeredHere.add(account.userId);
    setMode('use');
    showStatus('account', 'Registered. You can now back up your data. Keep the password: nothing can reset it.');
  });
}

async function hasBackup(account) {
  try {
    await account.versions();
    return true;
  } catch (error) {
    if (error instanceof BackupError && error.code === ERROR_CODES.notFound) return false;
    throw error;
  }
}

/** Asks in a modal dialog whether to start a new backup; resolves to the answer. */
function confirmNewBackup() {
  const d = ui.confirmDialog;
  return new Promise((resolve) => {
    const answer = (value) => () => {
      ui.confirmNew.removeEventListener('click', yes);
      ui.confirmCancel.removeEventListener('click', no);
      d.removeEventListener('close', no);
      if (d.open) d.close();
      resolve(value);
    };
    const yes = answer(true);
    const no = answer(false);
    ui.confirmNew.addEventListener('click', yes);
    ui.confirmCancel.addEventListener('click', no);
    d.addEventListener('close', no); // Escape
    d.showModal();
  });
}

let saveLimitTimer;

function showSaveLimits(refusal) {
  clearTimeout(saveLimitTimer);
  const l = info?.limits ?? {};
  const parts = [];
  if (l.savesPerHour > 0 || l.savesPerDay > 0) {
    const n = (v) => v.toLocaleString();
    const rates = [l.savesPerHour > 0 ? `${n(l.savesPerHour)} saves an hour` : '', l.savesPerDay > 0 ? `${n(l.savesPerDay)} a day` : ''].filter(Boolean);
    parts.push(`Up to ${rates.join(' and ')} for each backup.`);
  }
  if (limitText()) parts.push(`Each backup holds up to ${limitText()}.`);
  if (refusal) {
    const at = new Date(Date.now() + refusal.seconds * 1000);
    parts.unshift(`No saves left this ${refusal.period}: next save possible at ${timeFormat.format(at)}, in about ${formatWait(refusal.seconds)}.`);
    saveLimitTimer = setTimeout(() => showSaveLimits(), refusal.seconds * 1000);
  }
  ui.saveLimits.textContent = parts.join(' ');
  ui.saveLimits.hidden = parts.length === 0;
}

async function onSave() {
  await run('save', 'backup', async () => {
    const text = ui.document.value;
    if (text.trim() === '') {
      ui.document.focus();
      throw inputError('Paste a JSON document or pick a file to back up.');
    }
    const max = maxDocumentBytes();
    const bytes = encoder.encode(text).length;
    if (max !== undefined && bytes > max) {
      ui.document.focus();
      throw inputError(`${tooLargeMessage('This document', bytes)} Nothing was sent.`, 'too_large');
    }
    const problem = jsonProblem(text);
    if (problem) {
      ui.document.focus();
      throw inputError(`This is not valid JSON, so it was not backed up: ${problem}.`);
    }
    const account = await getAccount();
    let isNew = false;
    if (!knownKeys.has(account.storageKey) && !registeredHere.has(account.userId)) {
      setProgress('checking');
      if (!(await hasBackup(account))) {
        setProgress(null);
        if (!(await confirmNewBackup())) {
          showStatus('backup', 'Nothing was saved. Check the password above, or save again and choose "Save as a new backup".');
          return;
        }
        isNew = true;
      }
    }
    let saved;
    try {
      saved = await account.save(text, { onProgress });
    } catch (error) {
      const period = /saves per (hour|day)/.exec(error?.serverMessage ?? '')?.[1];
      if (error?.code === ERROR_CODES.rateLimited && period && Number.isFinite(error.retryAfter)) {
        showSaveLimits({ period, seconds: error.retryAfter });
      }
      throw error;
    }
    knownKeys.add(account.storageKey);
    const { version, updatedAt } = saved;
    showStatus('backup', `Backed up as version ${version} at ${formatDate(updatedAt)}${isNew ? ', the first version of a new backup under this password' : ''}.`);
  });
}

/**
 * The start of a JSON text, indented, without parsing the rest: a preview of
 * a large document costs what the preview shows, not what the document holds.
 */
function indentedStart(text, limit) {
  let out = '';
  let depth = 0;
  let inString = false;
  let escaped = false;
  const newline = () => `\n${'  '.repeat(depth)}`;
  for (let i = 0; i < text.length && out.length < limit; i++) {
    const c = text[i];
    if (inString) {
      out += c;
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
    } else if (c === '"') {
      out += c;
      inString = true;
    } else if (c === '{' || c === '[') {
      depth++;
      out += c + newline();
    } else if (c === '}' || c === ']') {
      depth = Math.max(0, depth - 1);
      out += newline() + c;
    } else if (c === ',') {
      out += c + newline();
    } else if (c === ':') {
      out += ': ';
    } else if (!/\s/.test(c)) {
      out += c;
    }
  }
  return out;
}

/** Yields to the event loop (input, painting) between slices of long work. */
export function yieldToEventLoop() {
  // Not a timer or an animation frame: both are throttled or paused in a
  // background tab, where the work would then take minutes.
  const s = globalThis.scheduler;
  if (typeof s?.yield === 'function') return s.yield();
  if (typeof MessageChannel !== 'function') return new Promise((resolve) => setTimeout(resolve, 0));
  return new Promise((resolve) => {
    const { port1, port2 } = new MessageChannel();
    port1.onmessage = () => {
      port1.close();
      resolve();
    };
    port2.postMessage(null);
  });
}

/**
 * The exact text as a Blob, encoded a slice at a time: encoding megabytes at
 * once blocks the page. A slice never ends inside a surrogate pair, which
 * would turn into U+FFFD.
 */
async function textBlob(text) {
  const parts = [];
  for (let i = 0; i < text.length; ) {
    let end = Math.min(i + PREVIEW_LIMIT, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end++;
    parts.push(new Blob([text.slice(i, end)]));
    i = end;
    if (i < text.length) await yieldToEventLoop();
  }
  return new Blob(parts, { type: 'application/json' });
}

/**
 * A restored document's view: its preview, what it is, and the download of
 * the exact text. Both views of the page (v1 and the account) use one, each
 * over its own elements ({restored, restoredMeta, download}).
 */
export function restoredView(els) {
  let downloadUrl = null;
  const clear = () => {
    els.restored.value = '';
    els.restored.hidden = true;
    els.restoredMeta.hidden = true;
    els.download.hidden = true;
    els.download.removeAttribute('href');
    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = null;
  };
  const show = async ({ text, version, updatedAt }) => {
    const meta = `Version ${version}, saved ${formatDate(updatedAt)}`;
    // The download is the exact decrypted text, not the pretty-printed view.
    const blob = await textBlob(text);
    if (text.length > PREVIEW_LIMIT) {
      els.restored.value = /^\s*[[{]/.test(text) ? `${indentedStart(text, PREVIEW_CHARS)}\n…` : `${text.slice(0, PREVIEW_CHARS)}…`;
      els.restoredMeta.textContent = `${meta}, ${formatBytes(blob.size)}: only its beginning is shown here. Use Download for the whole document.`;
    } else {
      let display = text;
      try {
        display = JSON.stringify(JSON.parse(text), null, 2);
      } catch {
        // Not JSON (another client may store plain text): show it as it is.
      }
      els.restored.value = display;
      els.restoredMeta.textContent = `${meta}. Download saves the exact text.`;
    }
    els.restored.hidden = false;
    els.restoredMeta.hidden = false;

    if (downloadUrl) URL.revokeObjectURL(downloadUrl);
    downloadUrl = URL.createObjectURL(blob);
    els.download.href = downloadUrl;
    els.download.download = `dailyreps-backup-v${version}.json`;
    els.download.hidden = false;
  };
  return { show, clear };
}

const restoredDocument = restoredView(ui);
const showRestored = restoredDocument.show;
const clearRestored = restoredDocument.clear;

async function restore(version) {
  await run('restore', 'restore', async () => {
    clearRestored();
    const account = await getAccount();
    setProgress('downloading');
    const result = await account.restore(version === undefined ? {} : { version });
    knownKeys.add(account.storageKey);
    setProgress('preparing');
    await yieldToEventLoop();
    await showRestored(result);
    showStatus('restore', version === undefined ? `Restored the latest backup (version ${result.version}).` : `Restored version ${result.version}.`);
  });
}

function renderVersions(versions) {
  ui.versionsList.replaceChildren(
    ...versions.map((v) => {
      const row = document.createElement('tr');
      row.dataset.version = String(v.version);
      for (const text of [String(v.version), formatDate(v.updatedAt), formatBytes(v.size)]) {
        const td = document.createElement('td');
        td.textContent = text;
        row.append(td);
      }
      const td = document.createElement('td');
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = 'Restore';
      button.setAttribute('aria-label', `Restore version ${v.version}`);
      button.dataset.testid = `restore-version-${v.version}`;
      button.addEventListener('click', () => restore(v.version));
      td.append(button);
      row.append(td);
      return row;
    }),
  );
  ui.versionsTable.hidden = versions.length === 0;
  ui.versionsEmpty.hidden = versions.length !== 0;
}

async function onVersions() {
  await run('versions', 'versions', async () => {
    const account = await getAccount();
    setProgress('loading');
    const versions = await account.versions();
    knownKeys.add(account.storageKey);
    renderVersions(versions);
    showStatus('versions', `${plural(versions.length, 'version')} stored.`);
  });
}

async function onActivity() {
  await run('activity', 'activity', async () => {
    const account = await getAccount();
    setProgress('loading');
    const events = await account.activity();
    ui.activityList.replaceChildren(
      ...events.map((e) => {
        const row = document.createElement('tr');
        row.dataset.type = String(e.type);
        for (const text of [formatDate(e.at, minuteFormat), EVENT_LABELS[e.type] ?? String(e.type), String(e.count)]) {
          const td = document.createElement('td');
          td.textContent = text;
          row.append(td);
        }
        if (e.type === 'failed_attempt') row.classList.add('warn');
        return row;
      }),
    );
    ui.activityTable.hidden = events.length === 0;
    ui.activityEmpty.hidden = events.length !== 0;
    showStatus('activity', `${plural(events.length, 'activity record')}.`);
  });
}

function deletedMessage(remaining) {
  const gone = 'The backup of this username and password was deleted, with every stored version.';
  if (remaining === undefined) return `${gone} Backups saved under other passwords, if any, were not touched.`;
  if (remaining === 0) return `${gone} No backup remains under this username, so it is no longer registered.`;
  return `${gone} ${plural(remaining, 'other backup')} ${remaining === 1 ? 'remains' : 'remain'} under this username: saved with another password, ${remaining === 1 ? 'it is' : 'they are'} still on the server.`;
}

async function onDelete() {
  if (!ui.deleteConfirm.checked) return;
  await run('delete', 'delete', async () => {
    const account = await getAccount();
    setProgress('deleting');
    const { remainingBackups } = await account.delete({ details: true });
    knownKeys.delete(account.storageKey);
    if (remainingBackups === 0) registeredHere.delete(account.userId);
    forgetAccount();
    clearRestored();
    ui.versionsList.replaceChildren();
    ui.versionsTable.hidden = true;
    ui.activityList.replaceChildren();
    ui.activityTable.hidden = true;
    ui.deleteConfirm.checked = false;
    showStatus('delete', deletedMessage(remainingBackups));
  });
}

function clearFileError() {
  ui.file.removeAttribute('aria-invalid');
  ui.file.setAttribute('aria-describedby', 'file-hint');
}

/** Checks a picked file before it replaces anything; a bad one leaves the text area as it was. */
async function onFile() {
  const file = ui.file.files?.[0];
  if (!file || busy) return;
  clearMessages();
  const refuse = (text, code = 'input') => {
    ui.file.value = '';
    const p = showError('backup', `${text} The text area was left as it was.`, code);
    p.id = 'file-error';
    ui.file.setAttribute('aria-invalid', 'true');
    ui.file.setAttribute('aria-describedby', 'file-hint file-error');
  };
  const max = maxDocumentBytes();
  if (max !== undefined && file.size > max) {
    refuse(tooLargeMessage(file.name, file.size), 'too_large');
    return;
  }
  let text;
  try {
    text = await file.text();
  } catch {
    refuse(`Could not read ${file.name}.`);
    return;
  }
  const problem = jsonProblem(text);
  if (problem) {
    const named = /\.json$/i.test(file.name) || /json/i.test(file.type);
    refuse(named ? `${file.name} is not valid JSON: ${problem}.` : `${file.name} is not a JSON file: ${problem}.`);
    return;
  }
  ui.document.value = text;
  showStatus('backup', `Loaded ${file.name} (${formatBytes(file.size)}) into the text area. Press "Encrypt and back up" to save it.`);
}

// ---------------------------------------------------------------------------
// Views: accounts (protocol v2) and backups without an account (v1)

function servesAccounts() {
  return Array.isArray(info?.protocols) && info.protocols.includes('v2');
}

/** Shows the view the address names: #v1 the backups without an account, anything else the account. */
function showView() {
  if (!servesAccounts()) return;
  const v1 = location.hash === '#v1';
  ui.v1View.hidden = !v1;
  ui.v2View.hidden = v1;
  for (const [link, current] of [[ui.viewV1, v1], [ui.viewAccount, !v1]]) {
    if (current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

/**
 * Loads the account view. It is a module of its own, loaded only from a
 * server that speaks v2, so that the page of backups without an account
 * works whatever becomes of it.
 */
async function startAccounts() {
  ui.viewSwitch.hidden = false;
  ui.v1Note.hidden = false;
  showView();
  window.addEventListener('hashchange', showView);
  try {
    const { startV2 } = await import('./app-v2.js');
    await startV2({ info, metaSecret, v1Secret: () => ui.secret.value.trim() });
  } catch (error) {
    showError('signin', `The account part of this page failed to load (${error?.message ?? error}). Backups without an account still work under "Backups without an account".`, 'unexpected');
  }
}

// ---------------------------------------------------------------------------
// Start-up

async function loadInfo() {
  try {
    info = await getClient().info();
  } catch (error) {
    showError('account', describeError(error, 'info'), error instanceof BackupError ? error.code : 'input');
    return;
  }
  const parts = [];
  if (info.registration === 'closed') parts.push('Registration is closed on this server.');
  if (info.registration === 'invite') parts.push('Registration on this server is by invite.');
  if (typeof info.historyDepth === 'number') parts.push(`Keeps your last ${info.historyDepth} versions.`);
  ui.serverInfo.textContent = parts.join(' ');
  ui.serverInfo.hidden = parts.length === 0;
  ui.modeField.hidden = info.registration === 'closed';
  setMode(info.registration === 'closed' ? 'use' : ui.modeRegister.checked ? 'register' : 'use');
  ui.secretField.hidden = !(info.signatureRequired && !metaSecret);
  if (limitText()) ui.sizeLimit.textContent = `A backup can hold up to ${limitText()}.`;
  showSaveLimits();
  if (servesAccounts()) await startAccounts();
}

ui.form.addEventListener('submit', (e) => {
  e.preventDefault();
  if (ui.modeRegister.checked) onRegister();
  else onCheck();
});
ui.backupForm.addEventListener('submit', (e) => {
  e.preventDefault();
  onSave();
});
ui.modeUse.addEventListener('change', () => setMode('use'));
ui.modeRegister.addEventListener('change', () => setMode('register'));
ui.username.addEventListener('input', forgetAccount);
ui.password.addEventListener('input', forgetAccount);
ui.restore.addEventListener('click', () => restore(undefined));
ui.versionsLoad.addEventListener('click', onVersions);
ui.activityLoad.addEventListener('click', onActivity);
ui.deleteConfirm.addEventListener('change', () => {
  ui.delete.disabled = !ui.deleteConfirm.checked;
});
ui.delete.addEventListener('click', onDelete);
ui.file.addEventListener('change', onFile);
setMode('use');

loadInfo().finally(() => {
  // Marks the end of start-up, whatever its outcome, for automated checks of the page.
  document.body.dataset.ready = 'true';
});
