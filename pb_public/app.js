// The reference page: a thin UI over dailyreps-backup.js. All cryptography
// happens in that module; this file only gathers input and explains outcomes.

import { createClient, BackupError, ERROR_CODES } from './dailyreps-backup.js';

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
};

const ui = {
  serverInfo: $('server-info'),
  form: $('account-form'),
  username: $('username'),
  password: $('password'),
  inviteField: $('invite-field'),
  inviteCode: $('invite-code'),
  secretField: $('secret-field'),
  secret: $('signing-secret'),
  register: $('register'),
  progress: $('progress'),
  progressLabel: $('progress-label'),
  status: $('status'),
  error: $('error'),
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
let downloadUrl = null;
let busy = false;

// ---------------------------------------------------------------------------
// Formatting

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });

function formatDate(iso) {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : dateFormat.format(d);
}

function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function formatWait(seconds) {
  if (!Number.isFinite(seconds)) return 'a little while';
  if (seconds < 90) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  const minutes = Math.ceil(seconds / 60);
  return `${minutes} minutes`;
}

const EVENT_LABELS = {
  saved: 'Backup saved',
  restored: 'Backup restored',
  failed_attempt: 'Failed attempt with a wrong password',
  deleted_version: 'Old version removed',
};

// ---------------------------------------------------------------------------
// Messages

/**
 * Turns a failure into a sentence a person can act on. `action` matters
 * because the same status means different things: a 404 on save is an
 * unregistered name, on restore it is "no backup for these credentials".
 */
function describeError(error, action) {
  if (!(error instanceof BackupError)) {
    return error instanceof Error ? error.message : String(error);
  }
  switch (error.code) {
    case ERROR_CODES.alreadyRegistered:
      return 'This username is already registered. If it is yours, back up or restore with your password; otherwise choose another username.';
    case ERROR_CODES.notFound:
      if (action === 'save') return 'This username is not registered yet. Register it first, then back up.';
      return 'No backup found for this username and password. Check both: the password is case-sensitive.';
    case ERROR_CODES.tooLarge: {
      const limit = info?.maxBackupBytes ? ` (at most ${formatBytes(info.maxBackupBytes)} per backup after encryption)` : '';
      return `The backup is too large${limit}, or your storage quota is full.`;
    }
    case ERROR_CODES.rateLimited:
      return `Too many requests. Please wait ${formatWait(error.retryAfter)} and try again.`;
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

function showError(message, code) {
  ui.status.hidden = true;
  ui.error.textContent = message;
  ui.error.dataset.code = code ?? '';
  ui.error.hidden = false;
}

function showStatus(message) {
  ui.error.hidden = true;
  ui.error.dataset.code = '';
  ui.status.textContent = message;
  ui.status.hidden = false;
}

function clearMessages() {
  ui.error.hidden = true;
  ui.error.dataset.code = '';
  ui.status.hidden = true;
}

const PHASE_LABELS = {
  deriving: 'Deriving your encryption key (100,000 PBKDF2 rounds)…',
  derived: 'Key ready.',
  encrypting: 'Encrypting in this browser…',
  uploading: 'Uploading the encrypted backup…',
  downloading: 'Downloading…',
  decrypting: 'Decrypting in this browser…',
  registering: 'Registering…',
  deleting: 'Deleting…',
  loading: 'Loading…',
};

function setProgress(phase) {
  if (!phase) {
    ui.progress.hidden = true;
    ui.progress.dataset.phase = '';
    return;
  }
  ui.progress.hidden = false;
  ui.progress.dataset.phase = phase;
  ui.progressLabel.textContent = PHASE_LABELS[phase] ?? phase;
}

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
    throw new Error('Enter a username.');
  }
  if (username !== username.trim()) {
    // The protocol hashes the name exactly; a stray space would silently make a different account.
    ui.username.focus();
    throw new Error('The username starts or ends with a space; remove it.');
  }
  if (password === '') {
    ui.password.focus();
    throw new Error('Enter a password.');
  }
  if (info?.signatureRequired && !currentSecret()) {
    ui.secret.focus();
    throw new Error('This server requires a signing secret; enter the one provided by its operator.');
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
  const account = await c.account(username, password, { onProgress: ({ phase }) => setProgress(phase) });
  cachedAccount = { username, password, client: c, account };
  return account;
}

function forgetAccount() {
  cachedAccount = null;
}

// ---------------------------------------------------------------------------
// Actions

const actionButtons = [ui.register, ui.save, ui.restore, ui.versionsLoad, ui.activityLoad, ui.delete];

function setBusy(value) {
  busy = value;
  document.body.setAttribute('aria-busy', String(value));
  for (const b of actionButtons) b.disabled = value;
  if (!value) ui.delete.disabled = !ui.deleteConfirm.checked;
  for (const b of ui.versionsList.querySelectorAll('button')) b.disabled = value;
}

/** Runs one user action with a single busy state and one place for errors. */
async function run(action, fn) {
  if (busy) return;
  setBusy(true);
  clearMessages();
  try {
    await fn();
  } catch (error) {
    showError(describeError(error, action), error instanceof BackupError ? error.code : 'input');
  } finally {
    setProgress(null);
    setBusy(false);
  }
}

async function onRegister() {
  await run('register', async () => {
    const account = await getAccount();
    setProgress('registering');
    await account.register({ inviteCode: ui.inviteCode.value.trim() || undefined });
    showStatus('Registered. You can now back up your data.');
  });
}

async function onSave() {
  await run('save', async () => {
    const text = ui.document.value;
    if (text.trim() === '') {
      ui.document.focus();
      throw new Error('Paste a JSON document or pick a file to back up.');
    }
    try {
      JSON.parse(text);
    } catch (e) {
      ui.document.focus();
      throw new Error(`This is not valid JSON, so it was not backed up (${e.message}).`);
    }
    const account = await getAccount();
    const { version, updatedAt } = await account.save(text, { onProgress: ({ phase }) => setProgress(phase) });
    showStatus(`Backed up as version ${version} at ${formatDate(updatedAt)}.`);
  });
}

function showRestored({ text, version, updatedAt }) {
  let display = text;
  try {
    display = JSON.stringify(JSON.parse(text), null, 2);
  } catch {
    // Not JSON (another client may store plain text): show it as it is.
  }
  ui.restored.value = display;
  ui.restored.hidden = false;
  ui.restoredMeta.textContent = `Version ${version}, saved ${formatDate(updatedAt)}.`;
  ui.restoredMeta.hidden = false;

  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  // The download is the exact decrypted text, not the pretty-printed view.
  downloadUrl = URL.createObjectURL(new Blob([text], { type: 'application/json' }));
  ui.download.href = downloadUrl;
  ui.download.download = `dailyreps-backup-v${version}.json`;
  ui.download.hidden = false;
}

function clearRestored() {
  ui.restored.value = '';
  ui.restored.hidden = true;
  ui.restoredMeta.hidden = true;
  ui.download.hidden = true;
  ui.download.removeAttribute('href');
  if (downloadUrl) URL.revokeObjectURL(downloadUrl);
  downloadUrl = null;
}

async function restore(version) {
  await run('restore', async () => {
    clearRestored();
    const account = await getAccount();
    setProgress('downloading');
    const result = await account.restore(version === undefined ? {} : { version });
    showRestored(result);
    showStatus(version === undefined ? `Restored the latest backup (version ${result.version}).` : `Restored version ${result.version}.`);
  });
}

async function onVersions() {
  await run('versions', async () => {
    const account = await getAccount();
    setProgress('loading');
    const versions = await account.versions();
    ui.versionsList.replaceChildren(
      ...versions.map((v) => {
        const row = document.createElement('tr');
        row.dataset.version = String(v.version);
        const cells = [String(v.version), formatDate(v.updatedAt), formatBytes(v.size)];
        for (const text of cells) {
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
    showStatus(`${versions.length} version${versions.length === 1 ? '' : 's'} stored.`);
  });
}

async function onActivity() {
  await run('activity', async () => {
    const account = await getAccount();
    setProgress('loading');
    const events = await account.activity();
    ui.activityList.replaceChildren(
      ...events.map((e) => {
        const row = document.createElement('tr');
        row.dataset.type = String(e.type);
        for (const text of [formatDate(e.at), EVENT_LABELS[e.type] ?? String(e.type), String(e.count)]) {
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
    showStatus(`${events.length} activity record${events.length === 1 ? '' : 's'}.`);
  });
}

async function onDelete() {
  if (!ui.deleteConfirm.checked) return;
  await run('delete', async () => {
    const account = await getAccount();
    setProgress('deleting');
    await account.delete();
    forgetAccount();
    clearRestored();
    ui.versionsList.replaceChildren();
    ui.versionsTable.hidden = true;
    ui.activityList.replaceChildren();
    ui.activityTable.hidden = true;
    ui.deleteConfirm.checked = false;
    showStatus('Your account and every stored version were deleted from the server.');
  });
}

async function onFile() {
  const file = ui.file.files?.[0];
  if (!file) return;
  clearMessages();
  if (info?.maxBackupBytes && file.size > info.maxBackupBytes) {
    showError(`This file is ${formatBytes(file.size)}; the server accepts at most ${formatBytes(info.maxBackupBytes)} per backup.`, 'too_large');
    ui.file.value = '';
    return;
  }
  try {
    ui.document.value = await file.text();
    showStatus(`Loaded ${file.name} (${formatBytes(file.size)}). Press "Encrypt and back up" to save it.`);
  } catch {
    showError(`Could not read ${file.name}.`, 'input');
  }
}

// ---------------------------------------------------------------------------
// Start-up

async function loadInfo() {
  try {
    info = await getClient().info();
  } catch (error) {
    showError(describeError(error, 'info'), error instanceof BackupError ? error.code : 'input');
    return;
  }
  const parts = [];
  if (info.registration === 'closed') parts.push('Registration is closed on this server.');
  if (info.registration === 'invite') parts.push('Registration on this server is by invite.');
  if (typeof info.historyDepth === 'number') parts.push(`Keeps your last ${info.historyDepth} versions.`);
  ui.serverInfo.textContent = parts.join(' ');
  ui.serverInfo.hidden = parts.length === 0;
  ui.inviteField.hidden = info.registration !== 'invite';
  ui.register.hidden = info.registration === 'closed';
  ui.secretField.hidden = !(info.signatureRequired && !metaSecret);
  if (info.maxBackupBytes) {
    // base64 makes the ciphertext about a third larger than the document.
    ui.sizeLimit.textContent = `Up to about ${formatBytes(Math.floor((info.maxBackupBytes * 3) / 4) - 64)} of JSON.`;
  }
}

ui.form.addEventListener('submit', (e) => e.preventDefault());
ui.username.addEventListener('input', forgetAccount);
ui.password.addEventListener('input', forgetAccount);
ui.register.addEventListener('click', onRegister);
ui.save.addEventListener('click', onSave);
ui.restore.addEventListener('click', () => restore(undefined));
ui.versionsLoad.addEventListener('click', onVersions);
ui.activityLoad.addEventListener('click', onActivity);
ui.deleteConfirm.addEventListener('change', () => {
  if (!busy) ui.delete.disabled = !ui.deleteConfirm.checked;
});
ui.delete.addEventListener('click', onDelete);
ui.file.addEventListener('change', onFile);

loadInfo().finally(() => {
  // Marks the end of start-up, whatever its outcome, for automated checks of the page.
  document.body.dataset.ready = 'true';
});
