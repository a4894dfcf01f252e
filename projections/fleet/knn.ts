/**
 * k nearest points of an rbush tree that pass a filter, within a radius, nearest first.
 *
 * Why not rbush-knn (the library, used until issue 15's fourth pass): it pushes every child of every
 * node it opens into one priority queue, items included, one object per push, and pops items one by
 * one in order. At 100k drivers a 1 km query opened a handful of leaves and paid a heap push + pop per
 * item in them (bench match: 2/3 of a query's CPU in `knn`). Here the queue holds nodes only (keys in
 * a Float64Array, reused), and a leaf's items go straight into a bounded, sorted list of the best k
 * that passed the filter. Once k are kept, their farthest is the bound: an item or node no nearer is
 * not looked at, and the search ends when the nearest node left is no nearer. The filter is asked
 * only of items nearer than the bound, so it is asked a little more often than the library did (items
 * in a leaf arrive out of order) and never of items farther than the radius.
 *
 * Same answer as rbush-knn: the nearest k passing `filter` with distance² ≤ maxDistance², ordered by
 * distance. Where two items tie at the k-th place, which one is kept is the tree's order (the library
 * left it to its heap's order). Unlike the library, `k < 1` finds nothing and a radius of 0 finds only
 * items at that point (the library read both as "no limit"; the API never sends either).
 */
export interface KnnNode<T> {
  children: (KnnNode<T> | T)[];
  leaf: boolean;
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

export interface KnnPoint {
  minX: number;
  minY: number;
}

/**
 * One searcher per index: its buffers are reused by every query (a query allocates only its answer).
 * Not reentrant: a filter must not search the same index again (none does: filters read the driver).
 */
export function makeKnn<T extends KnnPoint>() {
  let nodeKey = new Float64Array(64);
  let nodes: (KnnNode<T> | undefined)[] = new Array(64);
  let bestKey = new Float64Array(16);
  let best: (T | undefined)[] = new Array(16);

  return function nearest<R>(root: KnnNode<T>, x: number, y: number, k: number, maxDistance: number, filter: ((item: T) => boolean) | undefined, out: (item: T) => R): R[] {
    if (!(k >= 1) || !(maxDistance >= 0)) return [];
    if (bestKey.length < k) (bestKey = new Float64Array(k)), (best = new Array(k));
    let kept = 0;
    let queued = 0;
    // An item or node is worth a look while nearer than the bound: the radius (inclusive) until k are
    // kept, then the k-th kept (exclusive: a tie with the k-th does not displace it).
    let bound = maxDistance * maxDistance;
    let node: KnnNode<T> | undefined = root;
    let nodeDist = 0;
    while (node) {
      if (kept === k ? nodeDist >= bound : nodeDist > bound) break;
      const children = node.children;
      if (node.leaf) {
        for (let i = 0; i < children.length; i++) {
          const item = children[i] as T;
          const dx = item.minX - x;
          const dy = item.minY - y;
          const d = dx * dx + dy * dy;
          if (kept === k ? d >= bound : d > bound) continue;
          if (filter && !filter(item)) continue;
          // Insertion into the sorted best-k (k is small: 10 for nearby, 20 for the matcher).
          let j = kept < k ? kept++ : k - 1;
          while (j > 0 && bestKey[j - 1]! > d) {
            bestKey[j] = bestKey[j - 1]!;
            best[j] = best[j - 1];
            j--;
          }
          bestKey[j] = d;
          best[j] = item;
          if (kept === k) bound = bestKey[k - 1]!;
        }
      } else {
        for (let i = 0; i < children.length; i++) {
          const child = children[i] as KnnNode<T>;
          const dx = x < child.minX ? child.minX - x : x > child.maxX ? x - child.maxX : 0;
          const dy = y < child.minY ? child.minY - y : y > child.maxY ? y - child.maxY : 0;
          const d = dx * dx + dy * dy;
          if (kept === k ? d >= bound : d > bound) continue;
          if (queued === nodeKey.length) {
            const grown = new Float64Array(queued * 2);
            grown.set(nodeKey);
            nodeKey = grown;
          }
          // Sift up in the min-heap of nodes by distance to their box.
          let p = queued++;
          while (p > 0) {
            const parent = (p - 1) >> 1;
            if (nodeKey[parent]! <= d) break;
            nodeKey[p] = nodeKey[parent]!;
            nodes[p] = nodes[parent];
            p = parent;
          }
          nodeKey[p] = d;
          nodes[p] = child;
        }
      }
      if (queued === 0) break;
      node = nodes[0];
      nodeDist = nodeKey[0]!;
      // Pop: the last node sifts down from the top.
      const lastKey = nodeKey[--queued]!;
      const last = nodes[queued];
      nodes[queued] = undefined;
      if (queued > 0) {
        let p = 0;
        for (;;) {
          let c = 2 * p + 1;
          if (c >= queued) break;
          if (c + 1 < queued && nodeKey[c + 1]! < nodeKey[c]!) c++;
          if (nodeKey[c]! >= lastKey) break;
          nodeKey[p] = nodeKey[c]!;
          nodes[p] = nodes[c];
          p = c;
        }
        nodeKey[p] = lastKey;
        nodes[p] = last;
      }
    }
    // Let go of what this query held, so the buffers keep no driver alive.
    for (let i = 0; i < queued; i++) nodes[i] = undefined;
    const found = new Array<R>(kept);
    for (let i = 0; i < kept; i++) {
      found[i] = out(best[i]!);
      best[i] = undefined;
    }
    return found;
  };
}
