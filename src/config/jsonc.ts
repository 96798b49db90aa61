// The config file's syntax: JSON with comments and trailing commas (JSONC, as VS Code's
// own settings files), read by jsonc-parser, VS Code's parser. Its visitor builds the
// value here rather than its parse(), so that every key is an own property (a
// "__proto__" key stays a key, and is then refused as unknown), keys given twice are
// found (a plain parse keeps the last one silently), and a syntax error is told in our
// words with its line and column, never quoting the file (it may hold a token).
import { printParseErrorCode, visit, type ParseErrorCode } from 'jsonc-parser';

type Path = (string | number)[];

export interface Duplicate {
  path: Path;
  offset: number;
}

export type Parsed =
  | { value: unknown; duplicates: Duplicate[] }
  | { error: { offset: number; problem: string } | null };

interface Container {
  value: Record<string, unknown> | unknown[];
  /** The object's keys so far, or null for an array. */
  seen: Set<string> | null;
  path: Path;
  /** The key the next value goes under. */
  key: string | null;
}

export function parseJsonc(text: string): Parsed {
  if (text.trim() === '') return { error: { offset: 0, problem: 'the file is empty' } };
  const stack: Container[] = [];
  const duplicates: Duplicate[] = [];
  let root: { value: unknown } | null = null;
  let error: { code: ParseErrorCode; offset: number; length: number; next: ParseErrorCode | undefined; inObject: boolean; afterValue: boolean } | null = null;
  const put = (value: unknown): void => {
    const top = stack.at(-1);
    if (top === undefined) root ??= { value };
    else if (Array.isArray(top.value)) top.value.push(value);
    else if (top.key !== null) Object.defineProperty(top.value, top.key, { value, enumerable: true, writable: true, configurable: true });
  };
  const open = (value: Container['value'], path: Path): void => {
    put(value);
    stack.push({ value, seen: Array.isArray(value) ? null : new Set(), path, key: null });
  };
  const pathOf = (): Path => {
    const top = stack.at(-1);
    if (top === undefined) return [];
    return [...top.path, Array.isArray(top.value) ? top.value.length : top.key ?? ''];
  };
  try {
    visit(text, {
      onObjectBegin: () => open({}, pathOf()),
      onArrayBegin: () => open([], pathOf()),
      onObjectEnd: () => void stack.pop(),
      onArrayEnd: () => void stack.pop(),
      onObjectProperty: (key, offset) => {
        const top = stack.at(-1)!;
        if (top.seen!.has(key)) duplicates.push({ path: [...top.path, key], offset });
        top.seen!.add(key);
        top.key = key;
      },
      onLiteralValue: (value) => put(value),
      onError: (code, offset, length) => {
        if (error === null) error = { code, offset, length, next: undefined, inObject: stack.at(-1)?.seen != null, afterValue: root !== null && stack.length === 0 };
        else error.next ??= code;
      },
    }, { allowTrailingComma: true, disallowComments: false, allowEmptyContent: false });
  } catch {
    // Nesting deeper than the stack: no position, but still one problem.
    return { error: null };
  }
  if (error !== null) return { error: describe(text, error) };
  return { value: root!.value, duplicates };
}

/** A syntax error in words, at the character it is about. */
function describe(text: string, e: { code: ParseErrorCode; offset: number; length: number; next: ParseErrorCode | undefined; inObject: boolean; afterValue: boolean }): { offset: number; problem: string } {
  const at = (problem: string, offset = e.offset) => ({ offset, problem });
  const eof = e.offset >= text.length;
  if (e.afterValue) return at('unexpected text after the JSON value');
  const token = text.slice(e.offset, e.offset + e.length);
  switch (printParseErrorCode(e.code)) {
    case 'InvalidSymbol':
      if (e.next !== undefined && printParseErrorCode(e.next) === 'PropertyNameExpected') return at('keys need double quotes');
      return at(text[e.offset] === "'" ? 'strings need double quotes' : 'expected a value (a string in double quotes, a number, true, false, null, an object or an array)');
    case 'PropertyNameExpected': return at('expected a key in double quotes');
    case 'ValueExpected': return at(eof ? 'unexpected end of file, expected a value' : 'expected a value');
    case 'ColonExpected': return at('expected ":" after the key');
    case 'CommaExpected': return at(e.inObject ? 'expected "," or "}"' : 'expected "," or "]"');
    case 'CloseBraceExpected': return at(`${eof ? 'unexpected end of file, ' : ''}expected "," or "}"`);
    case 'CloseBracketExpected': return at(`${eof ? 'unexpected end of file, ' : ''}expected "," or "]"`);
    case 'EndOfFileExpected': return at('unexpected text after the JSON value');
    case 'InvalidCommentToken': case 'UnexpectedEndOfComment': return at('comment never closed ("/*" without "*/")');
    case 'InvalidNumberFormat': case 'UnexpectedEndOfNumber': return at('invalid number');
    case 'InvalidUnicode': case 'InvalidEscapeCharacter': return at('invalid escape in string', badEscape(token) + e.offset);
    case 'UnexpectedEndOfString': case 'InvalidCharacter': {
      // A string ends at a line break: a control character in it is the real problem.
      const control = text.slice(e.offset + 1).search(/[\u0000-\u001f]/);
      const closed = text.slice(e.offset + 1).search(/"/);
      if (control >= 0 && (closed < 0 || control < closed)) return at('control character in string (write it escaped, e.g. \\n)', e.offset + 1 + control);
      return at('string never closed');
    }
    default: return at('not valid JSON here');
  }
}

/** Where in a string token the first invalid escape starts (0 when none is found). */
function badEscape(token: string): number {
  for (let i = 1; i < token.length; i++) {
    if (token[i] !== '\\') continue;
    const e = token[i + 1];
    if (e !== undefined && '"\\/bfnrt'.includes(e)) i++;
    else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(token.slice(i + 2, i + 6))) i += 5;
    else return i;
  }
  return 0;
}
