// Where each driver sits in the fleet's rbush tree, so a GPS point within its leaf's box moves it in
// place (projections/fleet/index.ts, settle and moveDriver), and the room left around each leaf's box.
import type { FleetDriver } from './index.ts';
import type { KnnNode } from './knn.ts';

/** A point in the fleet's rbush tree, with the leaf that held it when last seen. */
export interface Item {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
  driver: FleetDriver;
  /** The leaf that held the item when last seen, and where in its children (checked before use: rbush splits and sorts leaves). */
  leaf: KnnNode<Item> | null;
  slot: number;
}

export const newItem = (driver: FleetDriver): Item => ({ minX: 0, minY: 0, maxX: 0, maxY: 0, driver, leaf: null, slot: 0 });

/** Does `leaf` still hold `item` (and where)? Compares pointers only: touches no other item. */
export function holds(leaf: KnnNode<Item>, item: Item): boolean {
  if (leaf.children[item.slot] === item) return true;
  item.slot = leaf.children.indexOf(item);
  return item.slot >= 0;
}

/**
 * After a bulk load: records, for every item, the leaf that holds it, and widens every leaf's box by
 * SLACK of its size on each side (the boxes above grow to hold them). A point sits on the edge of a
 * tight box as often as not, and its next GPS point would leave the box; with room around it, most
 * moves stay in place (settle). A wider box only makes a search's lower bound lower, never wrong.
 */
export function noteLeaves(node: KnnNode<Item>, slack: number): void {
  if (node.leaf) {
    for (let i = 0; i < node.children.length; i++) ((node.children[i] as Item).leaf = node), ((node.children[i] as Item).slot = i);
    const margin = ((node.maxX - node.minX + (node.maxY - node.minY)) / 2) * slack;
    node.minX -= margin;
    node.minY -= margin;
    node.maxX += margin;
    node.maxY += margin;
    return;
  }
  node.minX = node.minY = Infinity;
  node.maxX = node.maxY = -Infinity;
  for (const child of node.children as KnnNode<Item>[]) {
    noteLeaves(child, slack);
    node.minX = Math.min(node.minX, child.minX);
    node.minY = Math.min(node.minY, child.minY);
    node.maxX = Math.max(node.maxX, child.maxX);
    node.maxY = Math.max(node.maxY, child.maxY);
  }
}

/**
 * Finds the leaf that holds `item` (after rbush inserted it), down the nodes whose box holds its point,
 * and makes room around the point as noteLeaves does: rbush stretched the boxes just to reach it, so
 * without room the driver's next point, onward, would leave the box again. The boxes on the way back up
 * grow to hold the leaf's.
 */
export function findLeaf(node: KnnNode<Item>, item: Item, slack: number): boolean {
  if (node.leaf) {
    if (!holds(node, item)) return false;
    item.leaf = node;
    const margin = ((node.maxX - node.minX + (node.maxY - node.minY)) / 2) * slack;
    node.minX = Math.min(node.minX, item.minX - margin);
    node.minY = Math.min(node.minY, item.minY - margin);
    node.maxX = Math.max(node.maxX, item.maxX + margin);
    node.maxY = Math.max(node.maxY, item.maxY + margin);
    return true;
  }
  for (const child of node.children as KnnNode<Item>[]) {
    if (item.minX < child.minX || item.minX > child.maxX || item.minY < child.minY || item.minY > child.maxY || !findLeaf(child, item, slack)) continue;
    node.minX = Math.min(node.minX, child.minX);
    node.minY = Math.min(node.minY, child.minY);
    node.maxX = Math.max(node.maxX, child.maxX);
    node.maxY = Math.max(node.maxY, child.maxY);
    return true;
  }
  return false;
}
