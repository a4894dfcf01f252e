import { DomainError } from '../../domain/errors.ts';
import type { User, UserStore } from '../../domain/ports/users.ts';

export function getInMemoryUserStore(): UserStore {
  const byId = new Map<string, User>();
  const byName = new Map<string, User>();
  return {
    async create(user, nameKey = user.username) {
      if (byName.has(nameKey)) throw new DomainError('USERNAME_TAKEN', 409, `username ${user.username} is taken`);
      byId.set(user.userId, user);
      byName.set(nameKey, user);
    },
    async findByUsername(username) {
      return byName.get(username) ?? null;
    },
    async findById(userId) {
      return byId.get(userId) ?? null;
    },
    async exists(userId) {
      return byId.has(userId);
    },
  };
}
