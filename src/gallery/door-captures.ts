// Captures from the door: a live match with a wide margin adds the face, as this camera saw it,
// to the person's photos, so that the gallery learns how a resident looks at the door (its light,
// its angle) beyond the one enrollment photo. At most `maxPerPerson` captures per person, the
// oldest replaced, each in the audit log. Guarded against drift toward somebody else: a capture
// must be live, well under the threshold, ahead of the runner-up by a margin, and within the
// threshold of the person's *enrolled* photos, so that a chain of captures, each near the last,
// cannot walk away from the person enrolled. Measured in bench/RESULTS.md (gallery growth).
import type { Config } from '../config/schema.js';
import { euclidean } from '../inference/faces.js';

export type DoorCapturePolicy = Config['enrollment']['doorCaptures'];

export type CaptureCandidate = {
  /** The matched face's embedding. */
  embedding: Float32Array;
  /** Its distance to the person as the gallery searched it (captures included). */
  distance: number;
  /** How much nearer than the runner-up (Infinity with one person enrolled). */
  margin: number;
  /** The liveness verdict: false refuses; null (liveness off) does not. */
  live: boolean | null;
  /** The person's enrolled photos' embeddings, without their door captures. */
  enrolled: readonly Float32Array[];
};

/** Why a match's face is not added to the person's photos, or undefined when it is. */
export function captureRefusal(
  c: CaptureCandidate,
  policy: DoorCapturePolicy,
  threshold: number,
): string | undefined {
  if (!policy.enabled) return 'door captures are off';
  if (c.live === false) return 'not live';
  if (!(c.distance < policy.maxDistance * threshold))
    return `distance ${c.distance.toFixed(3)} not under ${policy.maxDistance} x threshold`;
  if (!(c.margin >= policy.minMargin * threshold))
    return `margin ${c.margin.toFixed(3)} under ${policy.minMargin} x threshold`;
  const fromEnrolled = Math.min(...c.enrolled.map((e) => euclidean(e, c.embedding)));
  if (!(fromEnrolled < threshold))
    return c.enrolled.length
      ? `distance ${fromEnrolled.toFixed(3)} from the enrolled photos not under the threshold`
      : 'no enrolled photo to compare with';
  return undefined;
}
