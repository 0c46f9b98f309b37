// The account view of the page (protocol v2, docs/protocol-v2.md): a thin UI
// over the v2 client of dailyreps-v2.js. app.js loads it only from a server
// that lists "v2" in /api/info, and lends it the shared pieces: one busy state,
// messages next to the control used, progress, focus, formatting, previews.

import { ERROR_CODES_V2, createClientV2, formatRecoveryCode, parseRecoveryCode } from './dailyreps-v2.js';
import { BackupError, ERROR_CODES } from './dailyreps-backup.js';
import {
  EVENT_LABELS,
  PHASE_LABELS,
  clearMessages,
  describeError,
  formatBytes,
  formatDate,
  formatWait,
  inputError,
  isBusy,
  jsonProblem,
  minuteFormat,
  onClearMessages,
  plural,
  restoredView,
  run,
  setProgress,
  showError,
  showStatus,
  timeFormat,
  yieldToEventLoop,
} from './app.js';

const $ = (id) => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`missing element #${id}`);
  return el;
};

const ui = {
  signinCard: $('signin-card'),
  signinHeading: $('signin-heading'),
  modeField: $('v2-mode-field'),
  modeRegisterLabel: $('v2-mode-register-label'),
  modes: [...document.querySelectorAll('input[name="v2-mode"]')],
  forms: {
    login: $('login-form'),
    register: $('register-form'),
    recover: $('recover-form'),
    upgrade: $('upgrade-form'),
  },
  usernames: {
    login: $('login-username'),
    register: $('register-username'),
    recover: $('recover-username'),
    upgrade: $('upgrade-username'),
  },
  loginPassword: $('login-password'),
  registerPassword: $('register-password'),
  registerRepeat: $('register-repeat'),
  inviteField: $('v2-invite-field'),
  inviteCode: $('v2-invite-code'),
  recoverCode: $('recover-code'),
  recoverPassword: $('recover-password'),
  recoverRepeat: $('recover-repeat'),
  upgradePassword: $('upgrade-password'),
  secretField: $('v2-secret-field'),
  secret: $('v2-signing-secret'),

  recoveryCard: $('recovery-card'),
  recoveryHeading: $('recovery-heading'),
  recoveryShow: $('recovery-show'),
  recoveryCode: $('recovery-code'),
  recoveryCopy: $('recovery-copy'),
  recoveryDownload: $('recovery-download'),
  recoverySaved: $('recovery-saved'),
  recoveryConfirmForm: $('recovery-confirm-form'),
  recoveryGroups: [$('recovery-group-a'), $('recovery-group-b')],
  recoveryGroupLabels: [$('recovery-group-a-label'), $('recovery-group-b-label')],
  recoveryShowAgain: $('recovery-show-again'),

  signedIn: $('signed-in'),
  sessionHeading: $('session-heading'),
  sessionInfo: $('session-info'),
  backupChoiceField: $('backup-choice-field'),
  backupChoice: $('backup-choice'),
  accountLoad: $('account-load'),
  adopt: $('adopt'),
  adoptForm: $('adopt-form'),
  adoptPassword: $('adopt-password'),
  logout: $('logout'),
  usage: $('usage'),
  activityTable: $('v2-activity-table'),
  activityList: $('v2-activity-list'),

  backupForm: $('v2-backup-form'),
  document: $('v2-document'),
  sizeLimit: $('v2-size-limit'),
  file: $('v2-file'),
  saveLimits: $('v2-save-limits'),

  restore: $('v2-restore'),
  download: $('v2-download'),
  restoredMeta: $('v2-restored-meta'),
  restored: $('v2-restored'),

  versionsLoad: $('v2-versions-load'),
  versionsTable: $('v2-versions-table'),
  versionsList: $('v2-versions-list'),
  versionsEmpty: $('v2-versions-empty'),

  passwordForm: $('password-form'),
  passwordUsername: $('password-username'),
  passwordCurrent: $('password-current'),
  passwordNew: $('password-new'),
  passwordRepeat: $('password-repeat'),

  deleteForm: $('delete-account-form'),
  deleteUsername: $('delete-account-username'),
  deletePassword: $('delete-account-password'),
};

// Plain words for the slow step: what a person waits for, not how it works.
Object.assign(PHASE_LABELS, {
  'v2-login': 'Checking your password on this device; this takes a few seconds…',
  'v2-keys': 'Making your keys on this device; this takes a few seconds…',
  'v2-confirm': 'Checking your password on this device; this takes a few seconds…',
  'v2-recover': 'Checking the recovery code and making your new keys; this takes a few seconds…',
  'v2-upgrade': 'Opening your old backup and making the account; this takes a few seconds…',
  'v2-opening': 'Opening your account…',
  'v2-saving': 'Encrypting and sending the backup…',
  'v2-logout': 'Logging out…',
  'v2-adopt': 'Opening the other backup…',
});

let info = null;
let metaSecret = '';
let v1Secret = () => '';
let client = null;
let clientSecret;
let session = null;
let expiryTimer;
// The backup that save, restore and versions use, and the account's list.
let backupId;
let backups = [];
// A registration, recovery or upgrade whose recovery code is on screen: the
// session starts only once the person has shown they kept the code.
let pending = null;
let recoveryUrl = null;

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------
// Client

function currentSecret() {
  return metaSecret || ui.secret.value.trim() || v1Secret() || undefined;
}

function getClient() {
  const secret = currentSecret();
  if (!client || secret !== clientSecret) {
    // The module keeps the newest version seen of each backup in localStorage, for rollback warnings.
    client = createClientV2({ baseUrl: location.origin, signingSecret: secret });
    clientSecret = secret;
  }
  return client;
}

/** The module's progress in the page's words: `derive` is the slow step of this action. */
function progressFor(derivePhase) {
  const phases = { derive: derivePhase, upload: 'uploading', download: 'downloading' };
  return ({ phase, done, total } = {}) => setProgress(phases[phase] ?? phase, { done, total });
}

// ---------------------------------------------------------------------------
// Errors in plain words

const codeOf = (error) => error?.code;
const serverSays = (error, re) => re.test(error?.serverMessage ?? '');

/** The session is gone (expired, logged out elsewhere, ended by a password change). */
function sessionEnded(error) {
  return codeOf(error) === ERROR_CODES_V2.auth;
}

function wrongPassword(error) {
  return codeOf(error) === ERROR_CODES_V2.wrongPassword;
}

function nameTaken(error) {
  return codeOf(error) === ERROR_CODES_V2.nameTaken;
}

function describeV2(error, action) {
  // The page's own checks already speak plainly; only the module's errors need words.
  if (!(error instanceof BackupError)) return error instanceof Error ? error.message : String(error);
  if (wrongPassword(error)) {
    switch (action) {
      case 'login':
        return 'Wrong username or password. Both are checked together, and the password is case-sensitive. Forgot it? Choose "I forgot my password" and use your recovery code. Backed up here before accounts existed? Choose "Upgrade a backup made without an account".';
      case 'recover':
        return 'This recovery code does not open the account of this username. Check both: the code is the one shown when the account was created, or at its last recovery. Nothing was changed.';
      case 'password':
        return 'The current password is wrong. Nothing was changed.';
      case 'delete-account':
        return 'The password is wrong. Nothing was deleted.';
      default:
        return 'Wrong username or password.';
    }
  }
  if (nameTaken(error)) {
    if (action === 'upgrade') {
      return 'This username already has an account, made with another password. Log in with that password instead.';
    }
    return 'This username is taken. If it is yours, log in instead. If you backed up under it before accounts existed, choose "Upgrade a backup made without an account".';
  }
  switch (codeOf(error)) {
    case ERROR_CODES.notFound:
      if (action === 'upgrade') {
        return 'No backup made without an account was found for this username and password. Check both: the password is case-sensitive. If you already upgraded it, log in instead.';
      }
      if (action === 'adopt') {
        return 'No backup made without an account was found under this username with that password. Check it: it is case-sensitive. Nothing was changed.';
      }
      if (['save', 'restore', 'versions'].includes(action)) return 'This backup is no longer on the server: it was deleted, perhaps from another device.';
      break;
    case ERROR_CODES.decrypt:
      return 'The backup could not be decrypted: it was changed on the server, or it does not belong to this account.';
    case ERROR_CODES.stale:
      return 'This backup was saved from another device since this page last saw it. Restore it first (or look under Versions), then save again.';
    case ERROR_CODES.tooLarge:
      if (serverSays(error, /quota/i)) {
        const quota = info?.userQuotaBytes ? ` of ${formatBytes(info.userQuotaBytes, 'down')}` : '';
        return `This save would take the account over the server's storage quota${quota} (every kept version counts). Delete a backup you no longer need, or save a smaller document.`;
      }
      return limitText() ? `The backup is too large: a backup on this server can hold at most ${limitText()}.` : 'The backup is too large for this server.';
    case ERROR_CODES.rateLimited:
      if (['login', 'recover', 'upgrade', 'register'].includes(action)) {
        return `Too many attempts. Please wait ${formatWait(error.retryAfter)} and try again.`;
      }
      break;
    case ERROR_CODES.forbidden:
      if (action === 'register') {
        return info?.registration === 'invite' ? 'Creating an account on this server needs a valid invite code.' : 'Creating accounts is closed on this server.';
      }
      break;
    default:
  }
  return describeError(error, action);
}

// ---------------------------------------------------------------------------
// Size limit

// The server bounds the stored envelope, {"v":2,"nonce":"<16 characters>",
// "ct":"<base64 of the document and its 16-byte tag>","z":"gzip"}: 53
// characters around base64 that is 4/3 of the ciphertext (42 without "z").
function maxBytes(compressed) {
  if (!info?.maxBackupBytes) return undefined;
  return Math.max(0, Math.floor((info.maxBackupBytes - (compressed ? 53 : 42)) / 4) * 3 - 16);
}

function limitText() {
  const max = maxBytes(true);
  return max === undefined ? undefined : `${formatBytes(max, 'down')} of compressed JSON`;
}

async function gzipSize(text) {
  const stream = new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'));
  let size = 0;
  for (const reader = stream.getReader(); ; ) {
    const { done, value } = await reader.read();
    if (done) return size;
    size += value.length;
  }
}

/** Why a document cannot be backed up here, or null; `what` names it in the sentence. */
async function sizeProblem(text, what) {
  const raw = maxBytes(false);
  const bytes = encoder.encode(text).length;
  if (raw === undefined || bytes <= raw) return null;
  const z = await gzipSize(text);
  if (z <= maxBytes(true)) return null;
  return `${what} is ${formatBytes(bytes, 'up')}, ${formatBytes(z, 'up')} compressed; a backup on this server can hold at most ${limitText()}.`;
}

function showLimits() {
  if (limitText()) {
    ui.sizeLimit.textContent = `A backup can hold up to ${limitText()}; a DailyReps export usually compresses to a small part of its size.`;
  }
  const l = info?.limits ?? {};
  const parts = [];
  if (l.savesPerHour > 0 || l.savesPerDay > 0) {
    const n = (v) => v.toLocaleString();
    const rates = [l.savesPerHour > 0 ? `${n(l.savesPerHour)} saves an hour` : '', l.savesPerDay > 0 ? `${n(l.savesPerDay)} a day` : ''].filter(Boolean);
    parts.push(`Up to ${rates.join(' and ')} for each backup.`);
  }
  if (limitText()) parts.push(`Each backup holds up to ${limitText()}.`);
  if (info?.userQuotaBytes) parts.push(`An account holds up to ${formatBytes(info.userQuotaBytes, 'down')} in all, every kept version included.`);
  ui.saveLimits.textContent = parts.join(' ');
  ui.saveLimits.hidden = parts.length === 0;
}

// ---------------------------------------------------------------------------
// Signing in

let mode = 'login';

function currentUsername() {
  return ui.usernames[mode].value;
}

function setMode(next, { focus = false } = {}) {
  const name = currentUsername();
  mode = next;
  for (const radio of ui.modes) radio.checked = radio.value === next;
  for (const [m, form] of Object.entries(ui.forms)) form.hidden = m !== next;
  // One name across the forms: switching from a refused login to recovery keeps it.
  if (name && !ui.usernames[next].value) ui.usernames[next].value = name;
  ui.inviteField.hidden = !(next === 'register' && info?.registration === 'invite');
  if (focus) (ui.usernames[next].value ? passwordFieldOf(next) : ui.usernames[next]).focus();
}

function passwordFieldOf(m) {
  return { login: ui.loginPassword, register: ui.registerPassword, recover: ui.recoverCode, upgrade: ui.upgradePassword }[m];
}

function readUsername(field) {
  const username = field.value;
  if (username.trim() === '') {
    field.focus();
    throw inputError('Enter a username.');
  }
  if (username !== username.trim()) {
    // The account id hashes the name exactly; a stray space would silently be another account.
    field.focus();
    throw inputError('The username starts or ends with a space; remove it.');
  }
  return username;
}

function readPassword(field, what = 'a password') {
  if (field.value === '') {
    field.focus();
    throw inputError(`Enter ${what}.`);
  }
  return field.value;
}

function readNewPassword(field, repeat) {
  const password = readPassword(field, 'a new password');
  if (repeat.value !== password) {
    repeat.focus();
    throw inputError(repeat.value === '' ? 'Repeat the new password in the field below it.' : 'The two passwords differ; type the same password twice.');
  }
  return password;
}

/** Empties a field the server refused and puts the focus in it. */
function refocus(field) {
  field.value = '';
  field.focus();
}

function checkSecret() {
  if (info?.signatureRequired && !currentSecret()) {
    ui.secret.focus();
    throw inputError('This server requires a signing secret; enter the one provided by its operator.');
  }
}

function clearPasswords() {
  for (const field of [ui.adoptPassword, ui.loginPassword, ui.registerPassword, ui.registerRepeat, ui.recoverCode, ui.recoverPassword, ui.recoverRepeat, ui.upgradePassword, ui.passwordCurrent, ui.passwordNew, ui.passwordRepeat, ui.deletePassword]) {
    field.value = '';
  }
}

async function onLogin() {
  await run(
    'login',
    'signin',
    async () => {
      const username = readUsername(ui.usernames.login);
      const password = readPassword(ui.loginPassword);
      checkSecret();
      setProgress('v2-login');
      let s;
      try {
        s = await getClient().login(username, password, { onProgress: progressFor('v2-login') });
      } catch (error) {
        // The next try starts from an empty password field.
        if (wrongPassword(error)) refocus(ui.loginPassword);
        throw error;
      }
      await startSession(s, { greeting: 'login' });
    },
    describeV2,
  );
}

async function onRegister() {
  await run(
    'register',
    'signin',
    async () => {
      const username = readUsername(ui.usernames.register);
      const password = readNewPassword(ui.registerPassword, ui.registerRepeat);
      checkSecret();
      setProgress('v2-keys');
      const inviteCode = ui.inviteCode.value.trim() || undefined;
      try {
        const { session: s, recoveryCode } = await getClient().register(username, password, { inviteCode, onProgress: progressFor('v2-keys') });
        showRecovery({ session: s, recoveryCode, username, why: 'register' });
      } catch (error) {
        if (nameTaken(error)) offerLogin(username);
        throw error;
      }
    },
    describeV2,
  );
  // Right under run's message, and cleared with it.
  if (loginOffer) document.querySelector('#signin-feedback [data-testid="error"]')?.after(loginOffer);
}

// A taken name is most likely the person's own: one press takes them to log in.
let loginOffer = null;

function offerLogin(username) {
  dropLoginOffer();
  const p = document.createElement('p');
  p.className = 'actions';
  const button = document.createElement('button');
  button.type = 'button';
  button.dataset.testid = 'login-instead';
  button.textContent = `Log in as ${username}`;
  button.addEventListener('click', () => {
    ui.usernames.login.value = username;
    dropLoginOffer();
    clearMessages();
    setMode('login');
    ui.loginPassword.focus();
  });
  p.append(button);
  loginOffer = p;
}

function dropLoginOffer() {
  loginOffer?.remove();
  loginOffer = null;
}

async function onRecover() {
  await run(
    'recover',
    'signin',
    async () => {
      const username = readUsername(ui.usernames.recover);
      const typed = ui.recoverCode.value;
      if (typed.trim() === '') {
        ui.recoverCode.focus();
        throw inputError('Enter the recovery code.');
      }
      try {
        parseRecoveryCode(typed);
      } catch {
        ui.recoverCode.focus();
        const n = typed.replace(/[\s-]/g, '').length;
        throw inputError(`A recovery code has 32 letters and digits, in eight groups of four; this one has ${n}. Check it against what you saved.`);
      }
      const password = readNewPassword(ui.recoverPassword, ui.recoverRepeat);
      checkSecret();
      setProgress('v2-recover');
      const { session: s, recoveryCode } = await getClient().recover(username, typed, password, { onProgress: progressFor('v2-recover') });
      showRecovery({ session: s, recoveryCode, username, why: 'recover' });
    },
    describeV2,
  );
}

async function onUpgrade() {
  await run(
    'upgrade',
    'signin',
    async () => {
      const username = readUsername(ui.usernames.upgrade);
      const password = readPassword(ui.upgradePassword, 'the password of the backup');
      checkSecret();
      setProgress('v2-upgrade');
      const result = await getClient().upgrade(username, password, { onProgress: progressFor('v2-upgrade') });
      showRecovery({ session: result.session, recoveryCode: result.recoveryCode, username, why: 'upgrade', backupId: result.backupId });
    },
    describeV2,
  );
}

// ---------------------------------------------------------------------------
// The recovery code, shown once and confirmed

function normalizeCode(text) {
  return String(text).toUpperCase().replace(/[\s-]/g, '').replace(/[IL]/g, '1').replace(/O/g, '0');
}

function groupsOf(code) {
  const text = code instanceof Uint8Array ? formatRecoveryCode(code) : code;
  return normalizeCode(text).match(/.{1,4}/g) ?? [];
}

const RECOVERY_INTRO = {
  register: 'Account created. Before you continue, save your recovery code.',
  recover: 'New password set; every backup and version is kept, and other devices were signed out. Your old recovery code no longer works: save the new one before you continue.',
  upgrade: 'Your backup is now in an account, with every version. Before you continue, save your recovery code.',
};

function showRecovery({ session: s, recoveryCode, username, why, backupId: upgraded }) {
  const code = groupsOf(recoveryCode).join('-');
  // Two different groups, drawn at random: typing them back shows the code was kept, not just seen.
  const picks = [];
  while (picks.length < 2) {
    const i = crypto.getRandomValues(new Uint8Array(1))[0] % 8;
    if (!picks.includes(i)) picks.push(i);
  }
  picks.sort((a, b) => a - b);
  pending = { session: s, code, username, why, picks, backupId: upgraded };
  clearPasswords();
  ui.signinCard.hidden = true;
  ui.recoveryCard.hidden = false;
  ui.recoveryShow.hidden = false;
  ui.recoveryConfirmForm.hidden = true;
  ui.recoveryCode.textContent = code;
  picks.forEach((i, k) => {
    ui.recoveryGroupLabels[k].textContent = `Group ${i + 1} of 8`;
    ui.recoveryGroups[k].value = '';
    ui.recoveryGroups[k].removeAttribute('aria-invalid');
  });
  if (recoveryUrl) URL.revokeObjectURL(recoveryUrl);
  const text = [
    'DailyReps Backup: recovery code',
    '',
    `Server:   ${location.origin}`,
    `Username: ${username}`,
    `Code:     ${code}`,
    `Saved:    ${new Date().toISOString()}`,
    '',
    'If you forget your password, this code sets a new one and keeps every backup.',
    'Keep it away from the device you back up, and from anyone else.',
    '',
  ].join('\n');
  recoveryUrl = URL.createObjectURL(new Blob([text], { type: 'text/plain' }));
  ui.recoveryDownload.href = recoveryUrl;
  showStatus('recovery', RECOVERY_INTRO[why]);
  ui.recoveryHeading.focus();
}

function onRecoverySaved() {
  if (!pending) return;
  clearMessages();
  ui.recoveryShow.hidden = true;
  ui.recoveryConfirmForm.hidden = false;
  ui.recoveryGroups[0].focus();
}

function onRecoveryShowAgain() {
  if (!pending) return;
  clearMessages();
  ui.recoveryConfirmForm.hidden = true;
  ui.recoveryShow.hidden = false;
  ui.recoveryCode.focus();
}

async function onRecoveryCopy() {
  if (!pending) return;
  try {
    await navigator.clipboard.writeText(pending.code);
    showStatus('recovery', 'Copied. Paste it somewhere safe, such as a password manager, then press "I have saved it".');
  } catch {
    showError('recovery', 'This browser did not allow copying. Select the code and copy it, write it down, or use "Download as a file".', 'input');
  }
}

async function onRecoveryConfirm() {
  await run(
    'continue',
    'recovery',
    async () => {
      if (!pending) return;
      const want = groupsOf(pending.code);
      for (const field of ui.recoveryGroups) field.removeAttribute('aria-invalid');
      for (const [k, field] of ui.recoveryGroups.entries()) {
        const i = pending.picks[k];
        if (normalizeCode(field.value) !== want[i]) {
          field.setAttribute('aria-invalid', 'true');
          field.focus();
          throw inputError(
            field.value.trim() === ''
              ? `Type group ${i + 1} of your recovery code.`
              : `Group ${i + 1} does not match your recovery code. Check what you saved; "Show the code again" shows it while this page is open.`,
          );
        }
      }
      const { session: s, why, backupId: upgraded } = pending;
      // The code stays on screen until the account has opened: a failure here can be retried.
      await startSession(s, { greeting: why, backupId: upgraded });
      pending = null;
      // Shown once: the code leaves the page with its download.
      ui.recoveryCode.textContent = '';
      for (const field of ui.recoveryGroups) field.value = '';
      if (recoveryUrl) URL.revokeObjectURL(recoveryUrl);
      recoveryUrl = null;
      ui.recoveryDownload.removeAttribute('href');
    },
    describeV2,
  );
}

// ---------------------------------------------------------------------------
// The session

function describeBackup(b) {
  return b ? `version ${b.version}, saved ${formatDate(b.updatedAt)}` : '';
}

function renderBackupChoice() {
  ui.backupChoice.replaceChildren(
    ...backups.map((b, i) => {
      const option = document.createElement('option');
      option.value = b.id;
      option.textContent = `Backup ${i + 1}: ${describeBackup(b)}`;
      option.selected = b.id === backupId;
      return option;
    }),
  );
  ui.backupChoiceField.hidden = backups.length < 2;
}

async function loadBackups(preferred) {
  setProgress('v2-opening');
  backups = await session.backups();
  const ids = backups.map((b) => b.id);
  backupId = [preferred, backupId].find((id) => id && ids.includes(id)) ?? ids[0];
  renderBackupChoice();
}

const GREETINGS = {
  login: 'Logged in.',
  register: 'Your account is ready.',
  recover: 'Logged in with your new password.',
  upgrade: 'Logged in to your new account.',
  again: 'Logged in again. The document you were editing is still below.',
};

async function startSession(s, { greeting, backupId: preferred }) {
  session = s;
  clearPasswords();
  dropLoginOffer();
  await loadBackups(preferred);
  ui.passwordUsername.value = s.username;
  ui.deleteUsername.value = s.username;
  const until = s.expiresAt ? new Date(s.expiresAt) : null;
  ui.sessionInfo.textContent = `Signed in as ${s.username}${until && !Number.isNaN(until.getTime()) ? ` until ${timeFormat.format(until)}; then log in again` : ''}.`;
  clearTimeout(expiryTimer);
  if (until && until.getTime() > Date.now()) {
    // Timers wait at least this long; a late one is harmless, an action fails first.
    expiryTimer = setTimeout(() => onExpired(s), Math.min(until.getTime() - Date.now(), 2 ** 31 - 1));
  }
  ui.signinCard.hidden = true;
  ui.recoveryCard.hidden = true;
  ui.signedIn.hidden = false;
  const resumed = ui.signedIn.dataset.ended === 'true';
  delete ui.signedIn.dataset.ended;
  const current = backups.find((b) => b.id === backupId);
  const words = resumed ? GREETINGS.again : GREETINGS[greeting] ?? GREETINGS.login;
  showStatus(
    'session',
    `${words} ${current ? `Your backup: ${describeBackup(current)}.` : 'No backup yet: paste a document or pick a file below, then back up.'}${backups.length > 1 ? ` This account holds ${backups.length} backups.` : ''}`,
  );
}

/** Back to the login form; what the person was editing stays where it is. */
function endSession({ ended = false, keepDocument = ended } = {}) {
  session = null;
  clearTimeout(expiryTimer);
  ui.signedIn.hidden = true;
  if (ended) ui.signedIn.dataset.ended = 'true';
  else delete ui.signedIn.dataset.ended;
  if (!keepDocument) {
    ui.document.value = '';
    clearRestored();
    clearVersions();
    backups = [];
    backupId = undefined;
    ui.usage.hidden = true;
    ui.activityList.replaceChildren();
    ui.activityTable.hidden = true;
  }
  clearPasswords();
  setMode('login');
  ui.signinCard.hidden = false;
}

const ENDED = 'Your session has ended (a session lasts an hour, and a password change ends it on every device). Log in again: the document you were editing is kept.';

function onSessionEnded() {
  const username = session?.username ?? ui.usernames.login.value;
  endSession({ ended: true });
  ui.usernames.login.value = username;
  showError('signin', ENDED, 'auth');
  ui.loginPassword.focus();
}

function onExpired(s) {
  if (session !== s || isBusy()) return;
  onSessionEnded();
}

/** run() for actions that need the session: a session that ended brings back the login form. */
async function runSigned(action, section, fn) {
  let ended = false;
  await run(
    action,
    section,
    async () => {
      if (!session) {
        ended = true;
        return;
      }
      try {
        await fn(session);
      } catch (error) {
        if (!sessionEnded(error)) throw error;
        ended = true;
      }
    },
    describeV2,
  );
  if (ended) onSessionEnded();
}

// ---------------------------------------------------------------------------
// Save, restore, versions

async function onSave() {
  await runSigned('save', 'v2-backup', async (s) => {
    const text = ui.document.value;
    if (text.trim() === '') {
      ui.document.focus();
      throw inputError('Paste a JSON document or pick a file to back up.');
    }
    const problem = jsonProblem(text);
    if (problem) {
      ui.document.focus();
      throw inputError(`This is not valid JSON, so it was not backed up: ${problem}.`);
    }
    const tooLarge = await sizeProblem(text, 'This document');
    if (tooLarge) {
      ui.document.focus();
      throw inputError(`${tooLarge} Nothing was sent.`, 'too_large');
    }
    setProgress('v2-saving');
    const saved = await s.save(text, { backupId, onProgress: progressFor('v2-saving') });
    const first = !backupId;
    backupId = saved.backupId ?? backupId;
    const entry = { id: backupId, version: saved.version, updatedAt: saved.updatedAt };
    const i = backups.findIndex((b) => b.id === backupId);
    if (i >= 0) backups[i] = { ...backups[i], ...entry };
    else backups.unshift(entry);
    renderBackupChoice();
    showStatus('v2-backup', `Backed up as version ${saved.version} at ${formatDate(saved.updatedAt)}${first ? ', the first version of your backup' : ''}.`);
  });
}

const { show: showRestored, clear: clearRestored } = restoredView(ui);

async function restore(version) {
  await runSigned('restore', 'v2-restore', async (s) => {
    clearRestored();
    if (!backupId) throw inputError('There is no backup to restore yet: back up a document first.', 'not_found');
    setProgress('downloading');
    const result = await s.restore({ backupId, version, onProgress: progressFor('downloading') });
    setProgress('preparing');
    await yieldToEventLoop();
    await showRestored(result);
    if (result.rollbackFrom !== undefined && result.rollbackFrom !== null) {
      showError(
        'v2-restore',
        `Warning: the server gave version ${result.version} as the newest, but this browser has already seen version ${result.rollbackFrom}. The server may be serving an old copy; the document below is version ${result.version}. Check it before you save over it.`,
        'rollback',
      );
      return;
    }
    showStatus('v2-restore', version === undefined ? `Restored the latest backup (version ${result.version}).` : `Restored version ${result.version}.`);
  });
}

function clearVersions() {
  ui.versionsList.replaceChildren();
  ui.versionsTable.hidden = true;
  ui.versionsEmpty.hidden = true;
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
      button.dataset.testid = `v2-restore-version-${v.version}`;
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
  await runSigned('versions', 'v2-versions', async (s) => {
    if (!backupId) {
      renderVersions([]);
      showStatus('v2-versions', 'No versions yet: back up a document first.');
      return;
    }
    setProgress('loading');
    const versions = await s.versions({ backupId });
    renderVersions(versions);
    showStatus('v2-versions', `${plural(versions.length, 'version')} stored.`);
  });
}

async function onAccount() {
  await runSigned('account', 'session', async (s) => {
    setProgress('loading');
    const a = await s.account();
    const quota = a.quotaBytes ? ` of ${formatBytes(a.quotaBytes, 'down')}` : '';
    ui.usage.textContent = `Using ${formatBytes(a.bytesUsed)}${quota} in ${plural(a.backups ?? backups.length, 'backup')} with ${plural(a.versions ?? 0, 'version')} in all.`;
    ui.usage.hidden = false;
    const events = Array.isArray(a.events) ? a.events : [];
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
    showStatus('session', `${plural(events.length, 'activity record')}. A failed attempt you did not make may mean someone is guessing your password.`);
  });
}

/** Brings another v1 backup of the username (an older password's) into the account. */
async function onAdopt() {
  await runSigned('adopt', 'session', async (s) => {
    const password = readPassword(ui.adoptPassword, 'the password of that backup');
    setProgress('v2-adopt');
    const { backupId: adopted } = await s.adoptV1(s.username, password);
    clearPasswords();
    await loadBackups(adopted);
    clearRestored();
    clearVersions();
    ui.adopt.open = false;
    showStatus(
      'session',
      `Brought in, with every version: this account now holds ${plural(backups.length, 'backup')}. It is the one chosen under "Backup" above; restore it, or choose another.`,
    );
  });
}

// ---------------------------------------------------------------------------
// Password, deletion, logout

async function onChangePassword() {
  await runSigned('password', 'password', async (s) => {
    const current = readPassword(ui.passwordCurrent, 'your current password');
    const next = readNewPassword(ui.passwordNew, ui.passwordRepeat);
    if (next === current) {
      ui.passwordNew.focus();
      throw inputError('The new password is the same as the current one.');
    }
    setProgress('v2-keys');
    let result;
    try {
      result = await s.changePassword(current, next, { onProgress: progressFor('v2-keys') });
    } catch (error) {
      if (wrongPassword(error)) refocus(ui.passwordCurrent);
      throw error;
    }
    // The server starts a new session and ends every other one.
    if (result && typeof result.save === 'function') session = result;
    clearPasswords();
    showStatus('password', 'Password changed. Your backups are as they were; other devices were signed out and log in with the new password. Your recovery code keeps working.');
  });
}

async function onDeleteAccount() {
  await runSigned('delete-account', 'delete-account', async (s) => {
    const password = readPassword(ui.deletePassword, 'your password to confirm');
    setProgress('v2-confirm');
    const count = backups.length;
    try {
      await s.deleteAccount(password, { onProgress: progressFor('v2-confirm') });
    } catch (error) {
      if (wrongPassword(error)) refocus(ui.deletePassword);
      throw error;
    }
    const name = s.username;
    endSession();
    ui.usernames.login.value = '';
    showStatus(
      'signin',
      `The account ${name} was deleted, with ${count ? `its ${plural(count, 'backup')} and every stored version` : 'everything in it'}, and its recovery code. The username is free again.`,
    );
  });
}

async function onLogout() {
  await run(
    'logout',
    'session',
    async () => {
      const s = session;
      if (!s) return;
      setProgress('v2-logout');
      let problem = null;
      try {
        await s.logout();
      } catch (error) {
        // An ended session is logged out already; anything else is said.
        if (!sessionEnded(error)) problem = error;
      }
      endSession();
      if (problem) {
        const until = s.expiresAt ? ` It ends by itself at ${timeFormat.format(new Date(s.expiresAt))}.` : '';
        showError('signin', `Logged out on this page, but the server could not be told (${describeV2(problem, 'logout')}).${until}`, codeOf(problem) ?? 'network');
        return;
      }
      showStatus('signin', 'Logged out. The document and anything restored were cleared from this page.');
    },
    describeV2,
  );
}

// ---------------------------------------------------------------------------
// File

function clearFileError() {
  ui.file.removeAttribute('aria-invalid');
  ui.file.setAttribute('aria-describedby', 'v2-file-hint');
}

async function onFile() {
  const file = ui.file.files?.[0];
  if (!file || isBusy()) return;
  clearMessages();
  const refuse = (text, why = 'input') => {
    ui.file.value = '';
    const p = showError('v2-backup', `${text} The text area was left as it was.`, why);
    p.id = 'v2-file-error';
    ui.file.setAttribute('aria-invalid', 'true');
    ui.file.setAttribute('aria-describedby', 'v2-file-hint v2-file-error');
  };
  // Far past what any compression could bring under the limit: not read at all.
  const raw = maxBytes(false);
  if (raw !== undefined && file.size > raw * 64) {
    refuse(`${file.name} is ${formatBytes(file.size, 'up')}; a backup on this server can hold at most ${limitText()}.`, 'too_large');
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
  const tooLarge = await sizeProblem(text, file.name);
  if (tooLarge) {
    refuse(tooLarge, 'too_large');
    return;
  }
  ui.document.value = text;
  showStatus('v2-backup', `Loaded ${file.name} (${formatBytes(file.size)}) into the text area. Press "Encrypt and back up" to save it.`);
}

// ---------------------------------------------------------------------------
// Start-up

export async function startV2(options) {
  ({ info, metaSecret = '', v1Secret = () => '' } = options);
  onClearMessages(clearFileError);
  ui.modeRegisterLabel.hidden = info?.registration === 'closed';
  ui.secretField.hidden = !(info?.signatureRequired && !metaSecret);
  showLimits();
  setMode('login');

  for (const radio of ui.modes) radio.addEventListener('change', () => radio.checked && setMode(radio.value));
  const submit = (form, fn) =>
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      fn();
    });
  submit(ui.forms.login, onLogin);
  submit(ui.forms.register, onRegister);
  submit(ui.forms.recover, onRecover);
  submit(ui.forms.upgrade, onUpgrade);
  submit(ui.recoveryConfirmForm, onRecoveryConfirm);
  submit(ui.backupForm, onSave);
  submit(ui.passwordForm, onChangePassword);
  submit(ui.deleteForm, onDeleteAccount);
  submit(ui.adoptForm, onAdopt);
  ui.recoverySaved.addEventListener('click', onRecoverySaved);
  ui.recoveryShowAgain.addEventListener('click', onRecoveryShowAgain);
  ui.recoveryCopy.addEventListener('click', onRecoveryCopy);
  ui.restore.addEventListener('click', () => restore(undefined));
  ui.versionsLoad.addEventListener('click', onVersions);
  ui.accountLoad.addEventListener('click', onAccount);
  ui.logout.addEventListener('click', onLogout);
  ui.file.addEventListener('change', onFile);
  ui.backupChoice.addEventListener('change', () => {
    backupId = ui.backupChoice.value;
    clearRestored();
    clearVersions();
  });
  ui.signinCard.hidden = false;
  // #upgrade (the link in the other view) opens the account view on the upgrade form.
  const fromAddress = () => {
    if (location.hash === '#upgrade' && !session && !pending) setMode('upgrade', { focus: true });
  };
  window.addEventListener('hashchange', fromAddress);
  fromAddress();
  // Leaving while a recovery code waits to be confirmed would lose the only sight of it.
  window.addEventListener('beforeunload', (e) => {
    if (pending) e.preventDefault();
  });
}
