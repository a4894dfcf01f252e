// Two instances on a real 3-master Redis Cluster: live push across instances, and the 20-ride race under each dispatch
// setting (test/support/scale-out-redis.ts).
import { describeTwoInstancesOn, redisCluster } from './support/scale-out-redis.ts';

describeTwoInstancesOn(redisCluster);
