// Says where a JSON document is broken in words a person can act on. The
// parser's own messages differ between browsers and often give no place at
// all ("Unexpected token ']'"), so the place is found by a small scanner of
// the JSON grammar (RFC 8259), run only once JSON.parse has refused.

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const HEX4 = /[0-9a-fA-F]{4}/y;

/** The offset of the first character that breaks the JSON grammar, or -1 when text is valid. */
export function jsonErrorOffset(text) {
  let i = 0;
  const fail = () => {
    throw new SyntaxError(String(i));
  };
  const ws = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i++;
  };
  const string = () => {
    i++;
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) fail();
      if (c === 0x5c) {
        i++;
        if (text[i] === 'u') {
          HEX4.lastIndex = i + 1;
          if (!HEX4.test(text)) fail();
          i += 5;
        } else if (i < text.length && '"\\/bfnrt'.includes(text[i])) {
          i++;
        } else {
          fail();
        }
      } else {
        i++;
      }
    }
    fail();
  };
  const value = () => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      ws();
      if (text[i] === '}') {
        i++;
        return;
      }
      for (;;) {
        ws();
        if (text[i] !== '"') fail();
        string();
        ws();
        if (text[i] !== ':') fail();
        i++;
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === '}') {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '[') {
      i++;
      ws();
      if (text[i] === ']') {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (text[i] === ',') i++;
        else if (text[i] === ']') {
          i++;
          return;
        } else fail();
      }
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return;
      }
    }
    NUMBER.lastIndex = i;
    if (!NUMBER.test(text)) fail();
    i = NUMBER.lastIndex;
  };
  try {
    value();
    ws();
    if (i < text.length) fail();
    return -1;
  } catch (e) {
    if (e instanceof SyntaxError) return Number(e.message);
    return text.length; // nested too deeply to scan: no better place to name
  }
}

/**
 * Why text is not JSON, in plain words with the line and column, or null
 * when it is valid JSON.
 */
export function describeJsonError(text) {
  const at = jsonErrorOffset(text);
  if (at < 0) return null;
  const before = text.slice(0, at);
  const line = before.split('\n').length;
  const column = at - (before.lastIndexOf('\n') + 1) + 1;
  if (at >= text.length) {
    return `it ends too early, at line ${line}, column ${column}: a closing bracket, brace or quotation mark may be missing`;
  }
  const ch = String.fromCodePoint(text.codePointAt(at));
  const shown = /\s/.test(ch) ? 'a line break or space' : `“${ch}”`;
  return `there is ${shown} that does not belong at line ${line}, column ${column}`;
}
