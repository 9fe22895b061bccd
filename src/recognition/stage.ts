// The recognition stage of one camera: a frame in, the decisions it completed out. It finds and
// encodes every face (the engine), gates each on quality, looks it up in the gallery once (with
// the mirror pass only where it could turn a decision over), and feeds the tracker, whose votes,
// fused means and liveness verdicts become decisions. The composition root (src/daemon.ts) only
// hands it frames and publishes what it decides.
import type { Frame } from '../camera/frame-parser.js';
import type { Config } from '../config/schema.js';
import { decideFrom, nearDecision, type GallerySearch, type MatchResult } from '../gallery/matcher.js';
import type { Face, FaceEngine, StageTimings } from '../inference/faces.js';
import { faceCrop } from '../events/snapshots.js';
import type { RgbImage } from '../vision/image.js';
import { checkGates } from '../vision/quality.js';
import { FaceTracker, type Observation, type TrackDecision, type TrackerOptions } from './tracker.js';

/** What a track keeps of its best frame for the event (not the frame itself: 2.7 MB at 720p). */
export type Evidence = {
  face: Face;
  /** The face with a margin, raw pixels: the decision's snapshot. */
  crop: RgbImage;
  distance: number;
  margin: number | null;
  nearest?: { id: string; name: string; distance: number };
};

export type Decision = TrackDecision<Evidence>;

/** The settings the stage reads on every frame: SIGHUP may change them. */
export type RecognitionSettings = Pick<Config, 'match' | 'quality' | 'detector' | 'recognition'>;

export type FrameResult = {
  faces: Face[];
  /** Faces that failed a quality gate. */
  unusable: number;
  decisions: Decision[];
  /** Milliseconds per stage (detector, landmarks, encoder, match). */
  timings: StageTimings;
};

export class CameraRecognition {
  private readonly tracker: FaceTracker<Evidence>;

  constructor(
    private readonly o: {
      engine: FaceEngine;
      /** The gallery search as it is now (rebuilt by the caller when the gallery changes). */
      gallery: () => Promise<GallerySearch>;
      settings: () => RecognitionSettings;
      /** The decision threshold of the configured comparator. */
      threshold: () => number;
      tracker: TrackerOptions;
    },
  ) {
    this.tracker = new FaceTracker<Evidence>(o.tracker);
  }

  /** Tracks that still wait for frames to decide: motion gating must not skip their frames. */
  get pendingTracks(): number {
    return this.tracker.pendingTracks;
  }

  /**
   * A frame motion gating skipped: the picture the last analysis saw, whose `faces` still stand.
   * Where it showed none, the tracks miss this frame as they would have, so they end in time.
   */
  unchanged(capturedAt: number, faces: number): void {
    if (faces === 0) this.tracker.update([], capturedAt);
    else this.tracker.stillSeen(capturedAt);
  }

  async analyze(frame: Frame): Promise<FrameResult> {
    const c = this.o.settings();
    const threshold = this.o.threshold();
    const timings: StageTimings = {};
    const matcher = await this.o.gallery();
    // Each face is looked up once. With 'near-threshold' a usable face is looked up after its
    // first encoder pass, and encoded again with its mirror when its decision is close (a new
    // face, looked up anew); the others keep that lookup.
    const lookedUp = new Map<Face, Promise<MatchResult | undefined>>();
    const lookUp = (face: Face) => {
      let found = lookedUp.get(face);
      if (!found) lookedUp.set(face, (found = matcher.nearest(face.embedding)));
      return found;
    };
    const nearThreshold = async (face: Face) =>
      !checkGates(face.quality, c.quality).length &&
      nearDecision(await lookUp(face), threshold, c.match.minMargin, c.recognition.mirrorBand);
    const faces = await this.o.engine.analyze(frame, {
      select: 'all',
      detector: c.detector,
      mirror: c.recognition.mirror === 'near-threshold' ? nearThreshold : c.recognition.mirror === 'always',
      timings,
    });
    const matchStarted = performance.now();
    const observations: Observation<Evidence>[] = [];
    let unusable = 0;
    for (const face of faces) {
      const failed = checkGates(face.quality, c.quality);
      if (failed[0]) {
        unusable++;
        observations.push({ box: face.box, unusable: { gate: failed[0].gate, reason: failed[0].reason } });
        continue;
      }
      const decision = decideFrom(await lookUp(face), threshold, c.match.minMargin);
      const nearest = decision.known ? decision.match : decision.nearest;
      observations.push({
        box: face.box,
        vote: decision.known ? decision.match.personId : null,
        nearest: nearest?.personId ?? null,
        fusion: { embedding: face.embedding, weight: face.quality.score },
        landmarks: face.landmarks,
        distance: nearest?.distance ?? Infinity,
        evidence: {
          face,
          crop: faceCrop(frame, face.box),
          distance: nearest?.distance ?? Infinity,
          margin: nearest && Number.isFinite(nearest.margin) ? nearest.margin : null,
          ...(nearest
            ? { nearest: { id: nearest.personId, name: nearest.name, distance: nearest.distance } }
            : {}),
        },
      });
    }
    const decisions = this.tracker.update(observations, frame.capturedAt);
    // Tracks not decided by their votes: the mean of their faces, looked up as one probe.
    for (const { track, probe } of this.tracker.fusionProbes()) {
      const fused = decideFrom(await matcher.nearest(probe), threshold, c.match.minMargin);
      const d = this.tracker.fusedResult(track, fused.known ? fused.match.personId : null, frame.capturedAt);
      if (d?.kind === 'match' && d.evidence && fused.known) {
        const { distance, margin } = fused.match;
        d.evidence = { ...d.evidence, distance, margin: Number.isFinite(margin) ? margin : null };
      }
      if (d) decisions.push(d);
    }
    if (faces.length) timings.match = performance.now() - matchStarted;
    return { faces, unusable, decisions, timings };
  }
}
