// Two instances on one Redis server: live push across instances, and the 20-ride race under each dispatch
// setting (test/support/scale-out-redis.ts).
import { describeTwoInstancesOn, oneRedis } from './support/scale-out-redis.ts';

describeTwoInstancesOn(oneRedis);
