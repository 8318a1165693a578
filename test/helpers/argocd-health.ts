// Runs the shipped Argo CD health check (deploy/argocd/.../health.lua) with a real Lua interpreter
// (Debian's lua5.4; Argo CD itself runs gopher-lua, Lua 5.1, and health.lua keeps to that subset).
// The object goes in as a Lua table literal (generated here: no JSON decoder in Lua needed), set
// as the global `obj` Argo CD provides; the script's returned table comes back as status + message.
import { execFile } from 'node:child_process';
import { writeFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const HEALTH_DIR = resolve(import.meta.dirname, '../../deploy/argocd/resource_customizations/ticketkeys.dev/TicketKeySet');
export const HEALTH_LUA = join(HEALTH_DIR, 'health.lua');
export const LUA = process.env.TKO_LUA ?? 'lua5.4';

export interface HealthStatus {
  status: string;
  message: string;
}

/** A Lua literal for a JSON value; strings byte-escaped (valid in Lua 5.1 to 5.4), null dropped. */
export function luaLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'nil';
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a JSON number: ${value}`);
    return String(value);
  }
  if (typeof value === 'string') {
    let out = '"';
    for (const byte of Buffer.from(value, 'utf8')) {
      const printable = byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
      out += printable ? String.fromCharCode(byte) : `\\${byte.toString().padStart(3, '0')}`;
    }
    return `${out}"`;
  }
  if (Array.isArray(value)) return `{${value.map(luaLiteral).join(', ')}}`;
  if (typeof value === 'object') {
    const fields = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => `[${luaLiteral(k)}] = ${luaLiteral(v)}`);
    return `{${fields.join(', ')}}`;
  }
  throw new Error(`cannot express ${typeof value} in Lua`);
}

/** Argo CD's view of `obj`: runs health.lua on it and returns {status, message}. */
export async function argoHealth(obj: unknown, script = HEALTH_LUA): Promise<HealthStatus> {
  const dir = await mkdtemp(join(tmpdir(), 'tko-argocd-health-'));
  try {
    const harness = join(dir, 'harness.lua');
    await writeFile(
      harness,
      `obj = ${luaLiteral(obj)}\n` +
        `local hs = dofile(${luaLiteral(script)})\n` +
        // Status on the first line, the message (which may span lines) after it.
        'io.write(tostring(hs.status), "\\n", tostring(hs.message))\n',
    );
    const { stdout } = await promisify(execFile)(LUA, [harness], { timeout: 10_000, maxBuffer: 1 << 20 });
    const nl = stdout.indexOf('\n');
    return { status: stdout.slice(0, nl), message: stdout.slice(nl + 1) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
