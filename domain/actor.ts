export type Role = 'admin' | 'rider' | 'driver' | 'service';
export const ROLES: readonly Role[] = ['admin', 'rider', 'driver', 'service'];

/** Who issues a command: the authenticated user, or the system itself (matcher, timers). */
export interface Actor {
  readonly userId: string;
  readonly role: Role;
}

export const systemActor: Actor = { userId: 'system', role: 'service' };
export const isStaff = (actor: Actor) => actor.role === 'admin' || actor.role === 'service';
