// Records how JavaScript lower-cases usernames, for the Go client's parity
// test (client/lowercase_test.go). The web app derives every id from
// username.toLowerCase(), so a client in another language must reproduce it
// exactly or its users get different accounts. The table holds:
//
//   usernames    tricky names, their lower case and their userId
//   mappings     every code point whose lower case is not itself
//   sigma        which code points count as cased, and which as
//                case-ignorable, when deciding whether a capital sigma ends
//                a word (the one context-dependent rule toLowerCase applies)
//   unassigned   the code points this engine's Unicode version leaves
//                unassigned, which the comparison skips
//
//   node web/tools/js-lowercase-table.mjs          rewrites the table
//   node web/tools/js-lowercase-table.mjs --stdout prints it instead
//
// web/test/protocol.test.mjs checks that the committed table is what this
// script produces, so the table cannot drift from Node by hand edits.

import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const TABLE_PATH = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'client', 'testdata', 'js-lowercase.json');

// Each one exercises a rule where a naive lower-casing (Go's
// strings.ToLower, Python's str.lower with a locale, ...) would differ, or a
// script a test could otherwise forget.
export const USERNAMES = [
  // ASCII and everyday Latin.
  'alice', 'Alice@Example.COM', 'José.García', 'Straße', 'ÆSIR-Øre', 'Łukasz', 'ĲSSEL', 'Mc\'DONALD',
  // Capital I with a dot: JavaScript keeps the dot as U+0307.
  'İ', 'İstanbul', 'DİYARBAKIR', 'i\u0307', 'İ\u0307', 'IıİiI',
  // Capital sigma: final at the end of a word, medial inside one.
  'Σ', 'ΣΑ', 'ΑΣ', 'ΑΣΑ', 'ΣΣΣ', 'ΟΔΥΣΣΕΥΣ', 'ΣΑΣ ΣΑΣ', 'Α Σ', 'ΑΣ Β', '1Σ', 'Σ1', 'ΑΣ1', 'Α1Σ',
  // Case-ignorable characters around the sigma are looked through.
  'ΑΣ.', 'Α.Σ', 'ΑΣ.Β', 'Α\'Σ', 'ΑΣ\'Β', 'ΑΣ\u2019', 'Α:Σ', 'ΑΣ:Β', 'Α\u0301Σ', 'ΑΣ\u0301', 'ΑΣ\u0301Β',
  'ΑΣ\u00ADΒ', 'ΑΣ\u200D', 'ΑΣ\u200DΒ', 'Α\u{1D165}Σ', 'ΑΣ\u{E0001}', 'ΑΣ\u{E0001}Β',
  // Letters that are both cased and case-ignorable count as ignorable.
  'ʰΣ', 'ΑΣʰ', 'AΣʰB', 'ªΣ', 'ΑΣª',
  // Cased letters that are not Lu or Ll.
  'ⒶΣ', 'ⅫΣ', 'ǅΣ', 'ΣⓐΣ', '𐐀Σ', 'Σ𐐨',
  // Non-ASCII mappings, including characters from Unicode 16 and 17.
  'ǅ', 'Ǆ', 'ᾈ', 'ẞ', '\u212A', '\u2126', '\u212B', 'ϴ', 'Ⅻ', 'Ⓐ', '𐐀', '𞤀', 'Ꭰ', 'ＡＢＣ', 'ﬁ', 'ΐ', 'ŉ',
  'Ⰰ', 'Ა', 'Ⴀ', 'Ᲊ', 'Ꟊ', 'Ꟛ', '𐵐', 'ΜΑΡΙΑ', 'ИВАН', 'ÜNAL', 'Emoji💪USER', '  spaced  ',
];

const sha256Hex = (text) => createHash('sha256').update(text, 'utf8').digest('hex');

// Lone surrogates cannot occur in a Go string, so they are not compared.
function* codePoints() {
  for (let cp = 0; cp <= 0x10ffff; cp++) {
    if (cp < 0xd800 || cp > 0xdfff) yield cp;
  }
}

function ranges(predicate) {
  const out = [];
  for (const cp of codePoints()) {
    if (!predicate(cp)) continue;
    const last = out.at(-1);
    if (last && last[1] === cp - 1) last[1] = cp;
    else out.push([cp, cp]);
  }
  return out;
}

/**
 * Classifies a code point for the final-sigma rule by asking toLowerCase
 * itself: a following cased letter keeps "AΣx" medial, and anything that is
 * neither cased nor ignorable makes "AxΣ" medial.
 */
function sigmaClass(cp) {
  const x = String.fromCodePoint(cp);
  if ([...`AΣ${x}`.toLowerCase()][1] === 'σ') return 'cased';
  if ([...`A${x}Σ`.toLowerCase()].at(-1) === 'σ') return 'other';
  return 'ignorable';
}

export function buildTable() {
  const mappings = [];
  for (const cp of codePoints()) {
    const x = String.fromCodePoint(cp);
    const lower = x.toLowerCase();
    if (lower !== x) mappings.push([cp, [...lower].map((c) => c.codePointAt(0))]);
  }
  const classes = new Map();
  for (const cp of codePoints()) classes.set(cp, sigmaClass(cp));
  return {
    generator: 'web/tools/js-lowercase-table.mjs',
    unicode: process.versions.unicode,
    usernames: USERNAMES.map((username) => {
      const lowercase = username.toLowerCase();
      return { username, lowercase, userId: sha256Hex(lowercase) };
    }),
    mappings,
    sigma: {
      cased: ranges((cp) => classes.get(cp) === 'cased'),
      ignorable: ranges((cp) => classes.get(cp) === 'ignorable'),
    },
    unassigned: ranges((cp) => /\p{Cn}/u.test(String.fromCodePoint(cp))),
  };
}

/** The table as committed: one entry per line, so that diffs stay readable. */
export function formatTable(table) {
  const lines = (items) => items.map((item) => `    ${JSON.stringify(item)}`).join(',\n');
  return `{
  "generator": ${JSON.stringify(table.generator)},
  "unicode": ${JSON.stringify(table.unicode)},
  "usernames": [
${lines(table.usernames)}
  ],
  "mappings": [
${lines(table.mappings)}
  ],
  "sigma": {
    "cased": ${JSON.stringify(table.sigma.cased)},
    "ignorable": ${JSON.stringify(table.sigma.ignorable)}
  },
  "unassigned": ${JSON.stringify(table.unassigned)}
}
`;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const text = formatTable(buildTable());
  if (process.argv.includes('--stdout')) process.stdout.write(text);
  else {
    writeFileSync(TABLE_PATH, text);
    console.log(`wrote ${TABLE_PATH}`);
  }
}
