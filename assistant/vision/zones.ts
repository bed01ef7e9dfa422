/**
 * Camera zones: named polygons over a camera's picture, in normalised image coordinates (0..1 of the width
 * and height), so a zone drawn on a 640x480 snapshot still covers the same part of the scene at 1280x960.
 *
 * A detection is in a zone when the bottom-centre of its box (where the object touches the surface it stands
 * on) lies inside the polygon, edges included: Frigate's rule. Polygons may be concave; they may not cross
 * themselves. Where zones overlap, the smallest one containing the point wins ("desk" inside "office").
 * Pure functions, no I/O.
 */
import type { Box } from '../../store/types.js';

export type Point = [number, number];

export interface ZoneShape {
  id: number;
  points: readonly Point[];
}

export const MIN_ZONE_POINTS = 3;
export const MAX_ZONE_POINTS = 64;
/** a point this close to an edge (in image fractions) counts as on it */
const EDGE_EPS = 1e-9;

/** the point of a box the zone rule looks at: the middle of its bottom edge */
export function anchorOf(box: Box): Point {
  return [box.x + box.w / 2, box.y + box.h];
}

function onSegment(p: Point, a: Point, b: Point): boolean {
  const cross = (b[0] - a[0]) * (p[1] - a[1]) - (b[1] - a[1]) * (p[0] - a[0]);
  const len = Math.hypot(b[0] - a[0], b[1] - a[1]);
  if (Math.abs(cross) > EDGE_EPS * Math.max(1, len)) return false;
  return (
    p[0] >= Math.min(a[0], b[0]) - EDGE_EPS &&
    p[0] <= Math.max(a[0], b[0]) + EDGE_EPS &&
    p[1] >= Math.min(a[1], b[1]) - EDGE_EPS &&
    p[1] <= Math.max(a[1], b[1]) + EDGE_EPS
  );
}

/** true when `p` is inside the polygon or on its boundary (even-odd rule; concave polygons work) */
export function pointInPolygon(p: Point, poly: readonly Point[]): boolean {
  const n = poly.length;
  if (n < 3) return false;
  for (let i = 0, j = n - 1; i < n; j = i++) if (onSegment(p, poly[j], poly[i])) return true;
  let inside = false;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const [xi, yi] = poly[i];
    const [xj, yj] = poly[j];
    if (yi > p[1] !== yj > p[1] && p[0] < ((xj - xi) * (p[1] - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** the polygon's area (shoelace), always positive */
export function polygonArea(poly: readonly Point[]): number {
  let a = 0;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) a += (poly[j][0] + poly[i][0]) * (poly[j][1] - poly[i][1]);
  return Math.abs(a) / 2;
}

/** the zone the box is in (smallest containing zone), or null */
export function zoneOfBox<Z extends ZoneShape>(box: Box, zones: readonly Z[]): Z | null {
  if (zones.length === 0) return null;
  const p = anchorOf(box);
  let best: Z | null = null;
  let bestArea = Infinity;
  for (const z of zones) {
    if (!pointInPolygon(p, z.points)) continue;
    const a = polygonArea(z.points);
    if (a < bestArea) {
      best = z;
      bestArea = a;
    }
  }
  return best;
}

function orientation(a: Point, b: Point, c: Point): number {
  const v = (b[1] - a[1]) * (c[0] - b[0]) - (b[0] - a[0]) * (c[1] - b[1]);
  return Math.abs(v) < 1e-15 ? 0 : v > 0 ? 1 : 2;
}

/** proper crossing of segments ab and cd (shared endpoints of neighbouring edges do not count) */
function segmentsCross(a: Point, b: Point, c: Point, d: Point): boolean {
  const o1 = orientation(a, b, c);
  const o2 = orientation(a, b, d);
  const o3 = orientation(c, d, a);
  const o4 = orientation(c, d, b);
  if (o1 !== o2 && o3 !== o4) return true;
  return (o1 === 0 && onSegment(c, a, b)) || (o2 === 0 && onSegment(d, a, b)) || (o3 === 0 && onSegment(a, c, d)) || (o4 === 0 && onSegment(b, c, d));
}

/**
 * Why the points do not make a usable zone, or null when they do: 3..64 points inside the image, a real area
 * (not a line), and edges that do not cross each other.
 */
export function polygonProblem(points: readonly Point[]): string | null {
  if (points.length < MIN_ZONE_POINTS) return `a zone needs at least ${MIN_ZONE_POINTS} points`;
  if (points.length > MAX_ZONE_POINTS) return `a zone has at most ${MAX_ZONE_POINTS} points`;
  for (const [x, y] of points) {
    if (!Number.isFinite(x) || !Number.isFinite(y) || x < 0 || x > 1 || y < 0 || y > 1)
      return 'zone points are fractions of the image: x and y from 0 to 1';
  }
  const n = points.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      // neighbouring edges share a point; skip them
      if (j === i + 1 || (i === 0 && j === n - 1)) continue;
      if (segmentsCross(points[i], points[(i + 1) % n], points[j], points[(j + 1) % n])) return 'the zone\u2019s edges cross each other; draw its outline in order';
    }
  }
  if (polygonArea(points) < 1e-6) return 'the zone has no area (its points lie on a line)';
  return null;
}

/** rounds points to 5 decimals (a tenth of a pixel at 10k pixels), the stored precision */
export function tidyPoints(points: readonly Point[]): Point[] {
  return points.map(([x, y]) => [Math.round(x * 1e5) / 1e5, Math.round(y * 1e5) / 1e5]);
}
