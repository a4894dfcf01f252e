import type RBush from 'rbush';
import rbushKnn from 'rbush-knn';

interface Box {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

interface Node extends Box {
  children: (Node | Box)[];
  leaf: boolean;
}

/** A k-nearest search over one tree: (x, y, at most n, accept, max distance in tree units; 0 = none). */
export type KnnSearch<T> = (x: number, y: number, n: number, accept: ((t: T) => boolean) | undefined, maxDistance: number) => T[];

/** The same search by the rbush-knn library (a tinyqueue and an object per candidate). */
export const makeLibraryKnn =
  <T extends Box>(tree: RBush<T>): KnnSearch<T> =>
  (x, y, n, accept, maxDistance) =>
    rbushKnn(tree, x, y, n, accept, maxDistance);

/**
 * Best-first k-nearest search over an rbush tree (the algorithm of rbush-knn), without its per
 * candidate allocation: the queue is a binary heap over parallel arrays that one searcher reuses
 * for every query, and items are kept as they are (our items are their own boxes). `accept` runs
 * only on items popped nearest first, so at most `n` pass and the search stops.
 */
export function makeKnn<T extends Box>(tree: RBush<T>): KnnSearch<T> {
  let dist = new Float64Array(256);
  let ref: (Node | Box)[] = new Array(256);
  let item = new Uint8Array(256);
  let size = 0;

  const grow = () => {
    const d = new Float64Array(dist.length * 2);
    d.set(dist);
    dist = d;
    const it = new Uint8Array(item.length * 2);
    it.set(item);
    item = it;
    ref.length = dist.length;
  };

  const push = (r: Node | Box, isItem: number, d: number) => {
    if (size === dist.length) grow();
    let i = size++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (dist[parent]! <= d) break;
      dist[i] = dist[parent]!;
      ref[i] = ref[parent]!;
      item[i] = item[parent]!;
      i = parent;
    }
    dist[i] = d;
    ref[i] = r;
    item[i] = isItem;
  };

  /** Removes the head (read it from index 0 first). */
  const pop = () => {
    const last = --size;
    if (last <= 0) return;
    const d = dist[last]!;
    const r = ref[last]!;
    const it = item[last]!;
    let i = 0;
    const half = last >> 1;
    while (i < half) {
      let child = 2 * i + 1;
      if (child + 1 < last && dist[child + 1]! < dist[child]!) child++;
      if (dist[child]! >= d) break;
      dist[i] = dist[child]!;
      ref[i] = ref[child]!;
      item[i] = item[child]!;
      i = child;
    }
    dist[i] = d;
    ref[i] = r;
    item[i] = it;
  };

  return function knn(x: number, y: number, n: number, accept: ((t: T) => boolean) | undefined, maxDistance: number): T[] {
    const result: T[] = [];
    const max2 = maxDistance > 0 ? maxDistance * maxDistance : Infinity; // 0: no limit, as rbush-knn
    size = 0;
    let node: Node | undefined = (tree as unknown as { data: Node }).data;
    while (node) {
      const children = node.children;
      const leaf = node.leaf ? 1 : 0;
      for (let i = 0; i < children.length; i++) {
        const b = children[i]!;
        const dx = x < b.minX ? b.minX - x : x <= b.maxX ? 0 : x - b.maxX;
        const dy = y < b.minY ? b.minY - y : y <= b.maxY ? 0 : y - b.maxY;
        const d = dx * dx + dy * dy;
        if (d <= max2) push(b, leaf, d);
      }
      node = undefined;
      while (size > 0) {
        const head = ref[0]!;
        const isItem = item[0]!;
        pop();
        if (!isItem) {
          node = head as Node;
          break;
        }
        if (!accept || accept(head as T)) {
          result.push(head as T);
          if (result.length === n) {
            ref.fill(undefined as never, 0, size + 1); // let go of what the queue still points at
            return result;
          }
        }
      }
    }
    return result;
  };
}
