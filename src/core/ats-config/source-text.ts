// Accepts the bytes of one configuration file as text, or refuses it: over 1 MiB (a ConfigMap
// holds at most 1 MiB in all, so a bigger file is not configuration), not UTF-8, or holding
// control characters no ATS configuration file contains (binary data). Refusals name the file
// and the line where the offending byte sits, never the content.
import { ConfigUnparseable } from './problems.ts';

export const MAX_CONFIG_FILE_BYTES = 1024 * 1024;

// C0 controls other than \t \n \v \f \r, and DEL: binary data, never configuration.
// eslint-disable-next-line no-control-regex
const BINARY_CHAR = /[\x00-\x08\x0e-\x1f\x7f]/;
const LINE_BREAK = /\r\n|\n|\r/;

export function lineOfOffset(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) line += 1;
    else if (c === 13 && text.charCodeAt(i + 1) !== 10) line += 1;
  }
  return line;
}

/** The file's text, without a leading byte-order mark; throws ConfigUnparseable. */
export function configText(file: string, content: string | Uint8Array): string {
  const size = typeof content === 'string' ? Buffer.byteLength(content, 'utf8') : content.byteLength;
  if (size > MAX_CONFIG_FILE_BYTES) {
    throw new ConfigUnparseable(file, undefined, `the file is ${size} bytes; configuration files larger than ${MAX_CONFIG_FILE_BYTES} bytes (1 MiB) are refused`);
  }
  let text: string;
  if (typeof content === 'string') {
    text = content;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(content);
    } catch {
      const lossy = new TextDecoder('utf-8', { ignoreBOM: true }).decode(content);
      const at = lossy.indexOf('\uFFFD');
      throw new ConfigUnparseable(file, lineOfOffset(lossy, at), 'binary content: the bytes are not UTF-8 text');
    }
  }
  const binary = BINARY_CHAR.exec(text);
  if (binary) {
    const code = binary[0].charCodeAt(0).toString(16).padStart(2, '0');
    throw new ConfigUnparseable(file, lineOfOffset(text, binary.index), `binary content: control character 0x${code} in a text file`);
  }
  return text.startsWith('\uFEFF') ? text.slice(1) : text;
}

/** Lines as editors number them (CRLF, LF or CR ends a line). */
export function configLines(text: string): string[] {
  return text.split(LINE_BREAK);
}
