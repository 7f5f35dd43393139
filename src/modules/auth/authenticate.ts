import { jwtVerify } from 'jose';
import { ANONYMOUS, type Viewer } from '../../context.ts';
import { prisma } from '../../db.ts';
import { unauthenticated } from '../../errors.ts';

export interface AuthConfig {
  /** HS256 secret (development). */
  jwtSecret: Uint8Array | null;
}

/**
 * Turns a request's credentials into a Viewer. Absent credentials are anonymous;
 * present but invalid ones are UNAUTHENTICATED, with no detail.
 */
export async function authenticate(request: Request, config: AuthConfig): Promise<Viewer> {
  const header = request.headers.get('authorization');
  if (!header) return ANONYMOUS;
  const match = /^Bearer\s+(\S+)$/i.exec(header);
  if (!match || !config.jwtSecret) throw unauthenticated();
  try {
    const { payload } = await jwtVerify(match[1]!, config.jwtSecret, {
      algorithms: ['HS256'],
      requiredClaims: ['exp', 'sub'],
    });
    const user = await prisma.user.findUnique({
      where: { authSubject: payload.sub! },
      select: { id: true, isSystemAdmin: true },
    });
    if (!user) throw unauthenticated();
    return { kind: 'user', userId: user.id, isSystemAdmin: user.isSystemAdmin, boundOrganizationId: null };
  } catch {
    throw unauthenticated();
  }
}
