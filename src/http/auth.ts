/**
 * Bearer tokens. Write tokens guard pushes, read tokens guard /metrics and the API,
 * admin tokens guard destructive endpoints. A higher role implies the lower ones.
 * Reads and writes are open while no token of their own role is configured; the admin
 * role is never open (its endpoints are disabled without admin tokens).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { UnauthorizedError } from '../domain/errors.js';

export type Role = 'read' | 'write' | 'admin';

export interface AuthConfig {
  read_tokens: string[];
  write_tokens: string[];
  admin_tokens: string[];
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

export interface Auth {
  require(role: Role): MiddlewareHandler;
  allows(role: Role, authorization: string | undefined): boolean;
  /** The bare token (no `Bearer `), e.g. from a ping URL's `?token=`; same constant-time compare. */
  allowsToken(role: Role, token: string | undefined): boolean;
  /** Throws the UnauthorizedError `require` answers with (for handlers outside Hono). */
  check(role: Role, authorization: string | undefined): void;
}

export function createAuth(cfg: AuthConfig): Auth {
  const admin = cfg.admin_tokens.map(digest);
  const write = [...cfg.write_tokens.map(digest), ...admin];
  const read = [...cfg.read_tokens.map(digest), ...write];
  const byRole: Record<Role, { open: boolean; tokens: Buffer[] }> = {
    admin: { open: false, tokens: admin },
    // Each role opens or closes by its own list alone: turning on the admin endpoints (job
    // deletion, wipe) must not lock out every pusher and pinger, nor write tokens close reads.
    write: { open: cfg.write_tokens.length === 0, tokens: write },
    read: { open: cfg.read_tokens.length === 0, tokens: read },
  };

  const allowsToken = (role: Role, token: string | undefined): boolean => {
    const r = byRole[role];
    if (r.open) return true;
    if (token === undefined || token === '') return false;
    // Digests have one length, so timingSafeEqual never throws and the compare time does not depend on the token.
    const d = digest(token);
    return r.tokens.some((t) => timingSafeEqual(t, d));
  };

  const allows = (role: Role, authorization: string | undefined): boolean => {
    if (byRole[role].open) return true;
    const m = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
    return m ? allowsToken(role, (m[1] as string).trim()) : false;
  };

  const check = (role: Role, authorization: string | undefined): void => {
    if (!allows(role, authorization)) {
      throw new UnauthorizedError(
        byRole[role].tokens.length === 0 && role === 'admin'
          ? 'admin endpoint disabled: set auth.admin_tokens to use it'
          : `a bearer token with ${role} access is required`,
      );
    }
  };

  return {
    allows,
    allowsToken,
    check,
    require: (role) => async (c, next) => {
      check(role, c.req.header('authorization'));
      await next();
    },
  };
}
