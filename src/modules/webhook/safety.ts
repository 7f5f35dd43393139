import { lookup } from 'node:dns/promises';
import http from 'node:http';
import https from 'node:https';
import { BlockList, isIP } from 'node:net';
import type { WebhookSettings } from '../../config.ts';

// What keeps webhooks from being a way into the server's network (SSRF): endpoints
// must be https in production and may not resolve to loopback, link-local, private or
// other non-public addresses unless the allow-list names them; the address checked is
// the one connected to (no second lookup a rebinding DNS server could answer
// differently); redirects are never followed; responses are read up to a cap.

const NON_PUBLIC = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) NON_PUBLIC.addSubnet(net, bits, 'ipv4');
for (const [net, bits] of [['::', 128], ['::1', 128], ['fc00::', 7], ['fe80::', 10], ['ff00::', 8], ['64:ff9b::', 96]] as const) {
  NON_PUBLIC.addSubnet(net, bits, 'ipv6');
}

/** Whether an address is loopback, link-local, private, or otherwise not a public unicast address. */
export function isNonPublicAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return NON_PUBLIC.check(mapped[1]!, 'ipv4');
  const family = isIP(address);
  if (family === 0) return true;
  return NON_PUBLIC.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

function allowListed(settings: WebhookSettings, hostname: string, address: string): boolean {
  return settings.allowedHosts.some((entry) => {
    if (entry.toLowerCase() === hostname.toLowerCase() || entry === address) return true;
    const [net, bits] = entry.split('/');
    const family = isIP(net ?? '');
    if (!family || bits === undefined || family !== isIP(address)) return false;
    const range = new BlockList();
    range.addSubnet(net!, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
    return range.check(address, family === 4 ? 'ipv4' : 'ipv6');
  });
}

/** Why `url` cannot be an endpoint's URL, or null when it can (checked when it is saved). */
export function urlProblem(url: string, settings: WebhookSettings): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'must be an absolute URL';
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && !settings.production)) {
    return settings.production ? 'must be an https URL' : 'must be an http or https URL';
  }
  if (parsed.username || parsed.password) return 'must not contain credentials';
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (settings.production && isIP(host) && isNonPublicAddress(host) && !allowListed(settings, host, host)) {
    return 'must not name a loopback, link-local or private address';
  }
  return null;
}

/** A refused destination: never sent to, retried like any failure. */
export class UnsafeDestinationError extends Error {}

/**
 * The address to connect to for `url`: the first its host resolves to. In production
 * every address it resolves to must be public or allow-listed.
 */
export async function resolveDestination(url: URL, settings: WebhookSettings): Promise<{ address: string; family: number }> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await lookup(host, { all: true, verbatim: true });
  if (!addresses.length) throw new UnsafeDestinationError(`${host} does not resolve`);
  if (settings.production) {
    const refused = addresses.find((a) => isNonPublicAddress(a.address) && !allowListed(settings, host, a.address));
    if (refused) throw new UnsafeDestinationError(`${host} resolves to ${refused.address}, a non-public address`);
  }
  return addresses[0]!;
}

export interface Response {
  status: number;
  /** The first `responseBytes` of the body. */
  body: string;
}

/**
 * POSTs `body` to `url` at the checked address, without following redirects (a 3xx is
 * an answer like any other), reading at most `settings.responseBytes` of the answer and
 * giving up after `settings.timeoutMs` in all.
 */
export async function post(url: string, headers: Record<string, string>, body: string, settings: WebhookSettings): Promise<Response> {
  const target = new URL(url);
  const signal = AbortSignal.timeout(settings.timeoutMs);
  const destination = await Promise.race([
    resolveDestination(target, settings),
    new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(new Error(`timed out after ${settings.timeoutMs} ms`)))),
  ]);
  const transport = target.protocol === 'https:' ? https : http;
  return new Promise<Response>((resolve, reject) => {
    const request = transport.request(
      target,
      {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), 'user-agent': 'identity-graph-webhooks' },
        signal,
        // The connection goes to the address checked above, whatever DNS answers now.
        lookup: (_host, options, callback) => {
          if ((options as { all?: boolean }).all) callback(null, [destination] as never);
          else callback(null, destination.address, destination.family);
        },
        agent: false,
      },
      (response) => {
        const chunks: Buffer[] = [];
        let size = 0;
        const finish = () => {
          response.destroy();
          resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).subarray(0, settings.responseBytes).toString('utf8') });
        };
        response.on('data', (chunk: Buffer) => {
          chunks.push(chunk);
          size += chunk.length;
          if (size >= settings.responseBytes) finish();
        });
        response.on('end', finish);
        response.on('error', (err) => (size >= settings.responseBytes ? finish() : reject(err)));
      },
    );
    request.on('error', (err) => reject(signal.aborted ? new Error(`timed out after ${settings.timeoutMs} ms`) : err));
    request.end(body);
  });
}
