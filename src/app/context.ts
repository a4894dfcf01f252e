import type { Claims } from '../../domain/ports/claims.ts';
import type { EventLog } from '../../domain/ports/event-log.ts';
import type { PaymentGateway } from '../../domain/ports/payment.ts';
import type { RideReadModel } from '../../domain/ports/read-model.ts';
import type { UserStore } from '../../domain/ports/users.ts';
import type { Tariff } from '../../domain/fare.ts';
import type { MatchPolicy } from '../../domain/matching/policy.ts';
import type { Fleet } from '../../projections/fleet/index.ts';
import type { Metrics } from './metrics.ts';
import type { Logger } from '../../domain/ports/logger.ts';

/** What the application services share: the ports, made real by the composition root. */
export interface Context {
  readonly log: EventLog;
  readonly claims: Claims;
  readonly readModel: RideReadModel;
  readonly users: UserStore;
  readonly payments: PaymentGateway;
  readonly fleet: Fleet;
  readonly metrics: Metrics;
  readonly tariff: Tariff;
  readonly matchPolicy: MatchPolicy;
  readonly now: () => number;
  readonly newId: (prefix: string) => string;
  readonly logger: Logger;
}
