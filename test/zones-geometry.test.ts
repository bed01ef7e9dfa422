/** Zone containment (Frigate's rule: the bottom-centre of the box) on the edge cases that matter. */
import { describe, expect, it } from 'vitest';
import { anchorOf, pointInPolygon, polygonArea, polygonProblem, tidyPoints, zoneOfBox, type Point } from '../dist/assistant/vision/zones.js';

const square: Point[] = [[0.2, 0.2], [0.6, 0.2], [0.6, 0.6], [0.2, 0.6]];
// a U shape (concave): the notch in the middle, 0.4..0.6 wide, from the top down to y = 0.6
const u: Point[] = [[0.2, 0.2], [0.4, 0.2], [0.4, 0.6], [0.6, 0.6], [0.6, 0.2], [0.8, 0.2], [0.8, 0.9], [0.2, 0.9]];

describe('pointInPolygon', () => {
  it.each<[string, Point, boolean]>([
    ['inside', [0.4, 0.4], true],
    ['outside', [0.7, 0.4], false],
    ['on a vertical edge', [0.2, 0.4], true],
    ['on a horizontal edge', [0.4, 0.6], true],
    ['on a vertex', [0.6, 0.2], true],
    ['just outside an edge', [0.6000001, 0.4], false],
    ['just inside an edge', [0.5999999, 0.4], true],
    ['on the line of an edge, beyond it', [0.8, 0.2], false],
  ])('square: %s', (_what, p, expected) => {
    expect(pointInPolygon(p, square)).toBe(expected);
  });

  it.each<[string, Point, boolean]>([
    ['in the left arm', [0.3, 0.3], true],
    ['in the right arm', [0.7, 0.3], true],
    ['in the notch (outside)', [0.5, 0.3], false],
    ['on the notch floor (edge)', [0.5, 0.6], true],
    ['below the notch (inside)', [0.5, 0.7], true],
    ['on the notch wall', [0.4, 0.4], true],
    ['outside below', [0.5, 0.95], false],
    ['a ray through a vertex', [0.1, 0.2], false],
  ])('concave U: %s', (_what, p, expected) => {
    expect(pointInPolygon(p, u)).toBe(expected);
  });

  it('degenerate input is never inside', () => {
    expect(pointInPolygon([0.5, 0.5], [])).toBe(false);
    expect(pointInPolygon([0.5, 0.5], [[0, 0], [1, 1]])).toBe(false);
  });
});

describe('zoneOfBox', () => {
  const desk = { id: 1, points: square };
  const office = { id: 2, points: [[0, 0], [1, 0], [1, 1], [0, 1]] as Point[] };
  const shelf = { id: 3, points: u };

  it('uses the bottom-centre of the box, not its centre', () => {
    // centre (0.4, 0.1) is above the desk; the bottom-centre (0.4, 0.3) is on it
    const box = { x: 0.35, y: -0.1 + 0.1, w: 0.1, h: 0.3 };
    const [ax, ay] = anchorOf(box);
    expect(ax).toBeCloseTo(0.4, 12);
    expect(ay).toBeCloseTo(0.3, 12);
    expect(zoneOfBox(box, [desk])?.id).toBe(1);
    // a box whose top is on the desk but whose foot is below it is not on the desk
    expect(zoneOfBox({ x: 0.3, y: 0.5, w: 0.1, h: 0.3 }, [desk])).toBeNull();
  });

  it('a foot exactly on the edge counts', () => {
    expect(zoneOfBox({ x: 0.35, y: 0.4, w: 0.1, h: 0.2 }, [desk])?.id).toBe(1); // foot (0.4, 0.6) on the bottom edge
  });

  it('the smallest containing zone wins where zones overlap', () => {
    expect(zoneOfBox({ x: 0.35, y: 0.3, w: 0.1, h: 0.1 }, [office, desk])?.id).toBe(1);
    expect(zoneOfBox({ x: 0.75, y: 0.7, w: 0.1, h: 0.1 }, [office, desk])?.id).toBe(2);
  });

  it('concave zones: an item in the notch is not in the zone', () => {
    expect(zoneOfBox({ x: 0.45, y: 0.2, w: 0.1, h: 0.15 }, [shelf])).toBeNull(); // foot (0.5, 0.35) in the notch
    expect(zoneOfBox({ x: 0.25, y: 0.2, w: 0.1, h: 0.15 }, [shelf])?.id).toBe(3);
  });

  it('normalised zones survive a change of camera resolution (same scene, more pixels)', () => {
    // the same mug at 640x480 and at 1920x1080 (a wider picture of the same scene: boxes are fractions of the image)
    const at640 = { x: 200 / 640, y: 150 / 480, w: 40 / 640, h: 60 / 480 };
    const at1920 = { x: 600 / 1920, y: (150 / 480) * 1, w: 120 / 1920, h: 60 / 480 };
    expect(zoneOfBox(at640, [desk])?.id).toBe(1);
    expect(zoneOfBox(at1920, [desk])?.id).toBe(1);
  });
});

describe('polygonProblem', () => {
  it.each<[string, Point[], RegExp | null]>([
    ['a square', square, null],
    ['a concave U', u, null],
    ['two points', [[0, 0], [1, 1]], /at least 3/],
    ['points on a line', [[0, 0], [0.5, 0.5], [1, 1]], /no area/],
    ['a bow tie (edges cross)', [[0.1, 0.1], [0.9, 0.9], [0.9, 0.1], [0.1, 0.9]], /cross/],
    ['outside the image', [[0, 0], [1.2, 0], [1, 1]], /0 to 1/],
    ['not a number', [[0, 0], [Number.NaN, 0], [1, 1]], /0 to 1/],
    ['too many points', Array.from({ length: 65 }, (_, i) => [0.5 + 0.4 * Math.cos(i / 10.4), 0.5 + 0.4 * Math.sin(i / 10.4)] as Point), /at most 64/],
  ])('%s', (_what, pts, problem) => {
    const p = polygonProblem(pts);
    if (problem) expect(p).toMatch(problem);
    else expect(p).toBeNull();
  });

  it('area and rounding', () => {
    expect(polygonArea(square)).toBeCloseTo(0.16, 10);
    expect(tidyPoints([[0.123456789, 0.987654321]])).toEqual([[0.12346, 0.98765]]);
  });
});
