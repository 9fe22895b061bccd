// From per-frame faces to decisions a door can act on. Faces are followed across frames by box
// overlap (IoU); each track votes frame by frame, and decides once:
//   - match: at least `minVotes` of its last `window` usable frames name the same person (each
//     vote already under the threshold with the margin), or, with fusion, the mean of its last
//     usable faces (recognition/fusion.ts), looked up by the caller, names the person this
//     frame's face is nearest to; unless that person matched at this camera within `cooldownMs`;
//   - unknown: `unknownAfter` usable frames in a row matched nobody (and, with fusion, neither did
//     their mean: the caller's fusedResult then decides);
//   - unusable: `unusableAfter` frames in a row failed the quality gates (with the most common
//     reason), since users ask why a person was not recognised;
//   - with liveness on, a match waits until the track is live (recognition/liveness.ts), at most
//     `liveness.maxFrames` usable frames; a track still not live then is a spoof (mode 'require')
//     or a match that says it is not live (mode 'report').
// A single lucky frame never opens a door, and one person standing in view gives one event.
import type { Config } from '../config/schema.js';
import { iou, type Rect } from '../vision/warp.js';
import { euclidean } from '../inference/faces.js';
import type { Point } from '../vision/alignment.js';
import { fusedEmbedding, type FusionFrame } from './fusion.js';
import { livenessVerdict, type LivenessPolicy, type LivenessVerdict } from './liveness.js';

/** One face in one frame, as the pipeline saw it. */
export type Observation<E = unknown> = {
  box: Rect;
  /** Undefined when the face passed the gates; else which gate failed first, and how. */
  unusable?: { gate: string; reason: string };
  /** The person this frame's face matched (under the threshold, with the margin), or null. */
  vote?: string | null;
  /** Distance to the matched (or nearest) person: the best frame is the event's evidence. */
  distance?: number;
  /** The nearest person whatever the distance: a fused match must name the face seen now. */
  nearest?: string | null;
  /** The face's embedding and its weight in the track's fused probe (with fusion on). */
  fusion?: FusionFrame;
  /** The face's 68 landmarks, for the liveness verdict (usable faces only). */
  landmarks?: readonly Point[];
  /** Anything the caller wants back with the decision (match details, quality, a snapshot). */
  evidence?: E;
};

export type TrackerOptions = {
  iou: number;
  /** Frames a track may go unseen before it ends. */
  maxMissed: number;
  /**
   * Time a track may go without a frame showing it before it ends, whatever the frame count: a
   * camera that stalls, or repeats one picture (not handed on), sends no frames to miss, and the
   * next face in the same place may be somebody else. Undefined: no limit.
   */
  maxGapMs?: number;
  window: number;
  minVotes: number;
  unknownAfter: number;
  unusableAfter: number;
  cooldownMs: number;
  /**
   * Fused decisions: from `minFrames` usable faces on, the mean of the last `maxFrames` is a
   * probe (fusionProbes); undefined leaves the votes alone.
   */
  fusion?: {
    minFrames: number;
    maxFrames: number;
    /**
     * A face farther than this from the mean of its track's last faces is somebody else in the
     * same place (the next person at the door, or a track that jumped between people): it starts a
     * track of its own. The encoder's same-person (pairs) threshold suits: one person turning
     * their head stays within it.
     */
    maxSpread?: number;
  };
  /** Liveness before a match (mode 'report' or 'require'); undefined: off. */
  liveness?: LivenessPolicy;
};

/** How faces are followed from frame to frame: by box overlap, through a few frames without them. */
const FOLLOWING = { iou: 0.3, maxMissed: 5 };

/**
 * A track seen in no frame for this long ends. Longer than motion gating's longest skip
 * (pipeline.motion.maxSkipMs, 2 s, during which an unchanged picture keeps its tracks seen: stillSeen)
 * and than a slow analysis; shorter than a person takes to leave and another to step in.
 */
export const TRACK_GAP_MS = 2500;

/**
 * fusion.maxSpread for a decision threshold: the encoder's same-person (pairs) threshold, or the
 * decision threshold where that is looser (a face the threshold would accept is the same person).
 */
export const sameFaceSpread = (threshold: number, pairsThreshold: number): number =>
  Math.max(threshold, pairsThreshold);

/** The tracker the daemon runs for each camera, from the recognition settings (fusion.maxSpread: `spread`). */
export function trackerOptionsFrom(
  r: Config['recognition'],
  spread: number,
  liveness?: LivenessPolicy,
): TrackerOptions {
  return {
    ...FOLLOWING,
    maxGapMs: TRACK_GAP_MS,
    window: r.window,
    minVotes: r.minVotes,
    unknownAfter: r.unknownAfter,
    unusableAfter: r.unusableAfter,
    cooldownMs: r.cooldownSeconds * 1000,
    ...(r.fusion.enabled
      ? { fusion: { minFrames: r.fusion.minFrames, maxFrames: r.fusion.maxFrames, maxSpread: spread } }
      : {}),
    ...(liveness && liveness.mode !== 'off' ? { liveness } : {}),
  };
}

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = {
  ...FOLLOWING,
  window: 5,
  minVotes: 3,
  unknownAfter: 5,
  unusableAfter: 10,
  cooldownMs: 60_000,
};

export type TrackDecision<E = unknown> =
  | {
      kind: 'match';
      track: number;
      personId: string;
      votes: number;
      frames: number;
      /** Which rule decided: enough agreeing frames, or the track's fused probe. */
      by: 'votes' | 'fusion';
      /** With liveness on: the verdict on the track's frames (with 'require', always live). */
      liveness?: LivenessVerdict;
      evidence: E | undefined;
    }
  | {
      kind: 'spoof';
      track: number;
      /** Whom the face looked like: the person the match would have named. */
      personId: string;
      frames: number;
      by: 'votes' | 'fusion';
      liveness: LivenessVerdict;
      evidence: E | undefined;
    }
  | { kind: 'unknown'; track: number; frames: number; evidence: E | undefined }
  | { kind: 'unusable'; track: number; frames: number; gate: string; reason: string; box: Rect };

type Track<E> = {
  id: number;
  box: Rect;
  missed: number;
  /** When a frame last showed this track's face (or an unchanged picture of it). */
  seenAt: number;
  frames: number;
  votes: (string | null)[];
  /** Usable frames in a row that matched nobody. */
  strangerRun: number;
  unusableRun: number;
  /** Failed gate -> count and its latest reason. */
  reasons: Map<string, { count: number; reason: string }>;
  best: { distance: number; evidence: E | undefined } | undefined;
  bestByPerson: Map<string, { distance: number; evidence: E | undefined }>;
  /** The last usable faces, and their mean: the fused probe. */
  fusion: FusionFrame[];
  probe: Float32Array | undefined;
  /** A usable face arrived in the latest update: the fused probe changed. */
  fusionDue: boolean;
  /** The frames matched nobody: unknown, unless the fused probe matches (fusedResult). */
  unknownDue: boolean;
  latest: { nearest: string | null; evidence: E | undefined } | undefined;
  /** Landmarks of the latest usable faces (at most liveness.maxFrames), oldest first. */
  landmarks: (readonly Point[])[];
  /** A match that waits for the liveness verdict (mode 'require'). */
  held: { personId: string; by: 'votes' | 'fusion' } | undefined;
  decided: boolean;
  reportedUnusable: boolean;
};

export class FaceTracker<E = unknown> {
  private tracks: Track<E>[] = [];
  private nextId = 1;
  private readonly lastMatch = new Map<string, number>();

  constructor(private readonly o: TrackerOptions = DEFAULT_TRACKER_OPTIONS) {}

  get activeTracks(): number {
    return this.tracks.length;
  }

  /**
   * Tracks still waiting for a decision, which need frames to vote (a face already reported
   * unusable waits for a change in the picture instead).
   */
  get pendingTracks(): number {
    return this.tracks.filter((t) => !t.decided && !t.reportedUnusable).length;
  }

  /** Feeds one frame's faces; returns the decisions this frame completed. */
  update(observations: readonly Observation<E>[], now = Date.now()): TrackDecision<E>[] {
    const gap = this.o.maxGapMs;
    if (gap !== undefined) this.tracks = this.tracks.filter((t) => now - t.seenAt <= gap);
    const unmatched = new Set(this.tracks);
    const pairs = observations
      .flatMap((obs, i) => this.tracks.map((t) => ({ i, t, overlap: iou(obs.box, t.box) })))
      .filter((p) => p.overlap >= this.o.iou)
      .sort((a, b) => b.overlap - a.overlap);
    const assigned = new Map<number, Track<E>>();
    for (const p of pairs) {
      if (assigned.has(p.i) || !unmatched.has(p.t)) continue;
      assigned.set(p.i, p.t);
      unmatched.delete(p.t);
    }
    const decisions: TrackDecision<E>[] = [];
    for (const t of this.tracks) t.fusionDue = false;
    observations.forEach((obs, i) => {
      let track = assigned.get(i);
      if (track && this.somebodyElse(track, obs)) {
        // The box is where the last person stood, the face is not theirs: the person who stepped
        // in gets a track (votes, mean, liveness, decision) of their own.
        this.tracks = this.tracks.filter((t) => t !== track);
        unmatched.delete(track);
        track = undefined;
      }
      if (!track) {
        track = this.newTrack(obs.box);
        this.tracks.push(track);
      }
      track.box = obs.box;
      track.missed = 0;
      track.seenAt = now;
      track.frames++;
      const decision = this.observe(track, obs, now);
      if (decision) decisions.push(decision);
    });
    for (const t of unmatched) t.missed++;
    this.tracks = this.tracks.filter((t) => t.missed <= this.o.maxMissed);
    return decisions;
  }

  /**
   * A usable face farther than fusion.maxSpread from the mean of its track's last faces: somebody
   * else in the same place (a track decided long ago included), not the same person turning.
   */
  private somebodyElse(t: Track<E>, obs: Observation<E>): boolean {
    const spread = this.o.fusion?.maxSpread;
    return (
      spread !== undefined && !!obs.fusion && !!t.probe && euclidean(obs.fusion.embedding, t.probe) > spread
    );
  }

  /**
   * A frame with the picture of the last analysed one (motion gating skipped it): the faces that
   * analysis saw are still there.
   */
  stillSeen(now = Date.now()): void {
    for (const t of this.tracks) if (t.missed === 0) t.seenAt = now;
  }

  private newTrack(box: Rect): Track<E> {
    return {
      id: this.nextId++,
      box,
      missed: 0,
      seenAt: 0,
      frames: 0,
      votes: [],
      strangerRun: 0,
      unusableRun: 0,
      reasons: new Map(),
      best: undefined,
      bestByPerson: new Map(),
      fusion: [],
      probe: undefined,
      fusionDue: false,
      unknownDue: false,
      latest: undefined,
      landmarks: [],
      held: undefined,
      decided: false,
      reportedUnusable: false,
    };
  }

  private observe(t: Track<E>, obs: Observation<E>, now: number): TrackDecision<E> | undefined {
    if (obs.unusable !== undefined) {
      t.unusableRun++;
      t.strangerRun = 0;
      const { gate, reason } = obs.unusable;
      t.reasons.set(gate, { count: (t.reasons.get(gate)?.count ?? 0) + 1, reason });
      if (!t.decided && !t.reportedUnusable && t.unusableRun >= this.o.unusableAfter) {
        t.reportedUnusable = true;
        const [gate, common] = [...t.reasons].sort((a, b) => b[1].count - a[1].count)[0]!;
        return { kind: 'unusable', track: t.id, frames: t.frames, gate, reason: common.reason, box: t.box };
      }
      return undefined;
    }
    t.unusableRun = 0;
    t.strangerRun = obs.vote ? 0 : t.strangerRun + 1;
    const vote = obs.vote ?? null;
    t.votes.push(vote);
    if (t.votes.length > this.o.window) t.votes.shift();
    const d = obs.distance ?? Infinity;
    if (!t.best || d < t.best.distance) t.best = { distance: d, evidence: obs.evidence };
    if (vote !== null) {
      const prev = t.bestByPerson.get(vote);
      if (!prev || d < prev.distance) t.bestByPerson.set(vote, { distance: d, evidence: obs.evidence });
    }
    t.latest = { nearest: obs.nearest ?? vote, evidence: obs.evidence };
    if (this.o.fusion && obs.fusion) {
      // Kept after the decision too, so that the mean follows the person's slow changes and
      // somebodyElse() sees only a jump to another face.
      t.fusion.push(obs.fusion);
      if (t.fusion.length > this.o.fusion.maxFrames) t.fusion.shift();
      t.probe = fusedEmbedding(t.fusion); // once per face: the next face's spread, and the probe
      t.fusionDue = !t.decided && !t.held && t.fusion.length >= this.o.fusion.minFrames;
    }
    if (t.decided) return undefined;
    if (this.o.liveness && obs.landmarks) {
      t.landmarks.push(obs.landmarks);
      if (t.landmarks.length > this.o.liveness.maxFrames) t.landmarks.shift();
    }
    if (t.held) return this.matched(t, t.held.personId, t.held.by, now);

    const counts = new Map<string, number>();
    for (const v of t.votes) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
    const [leader, votes] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? [undefined, 0];
    if (leader !== undefined && votes >= this.o.minVotes) return this.matched(t, leader, 'votes', now);
    // Counted apart from the votes, which keep only `window` frames: unknownAfter may be more.
    if (t.strangerRun >= this.o.unknownAfter) {
      if (t.fusionDue) {
        t.unknownDue = true; // the mean of these faces has the last word (fusedResult)
        return undefined;
      }
      return this.unknown(t);
    }
    return undefined;
  }

  private unknown(t: Track<E>): TrackDecision<E> {
    t.decided = true;
    t.fusionDue = false;
    return { kind: 'unknown', track: t.id, frames: t.frames, evidence: t.best?.evidence };
  }

  /**
   * The fused probes to look up after an update: tracks still undecided that saw a usable face
   * in it and have at least fusion.minFrames of them.
   */
  fusionProbes(): { track: number; probe: Float32Array }[] {
    return this.tracks.flatMap((t) =>
      t.fusionDue && !t.decided && t.probe ? [{ track: t.id, probe: t.probe }] : [],
    );
  }

  /**
   * What the gallery said of a track's fused probe: the person it matched (under the threshold,
   * with the margin) or null. A match decides the track when this frame's face is nearest to the
   * same person, so a pass whose track jumped to someone else is not decided by the mean. Without
   * one, a track whose frames have matched nobody for long enough is unknown.
   */
  fusedResult(track: number, personId: string | null, now = Date.now()): TrackDecision<E> | undefined {
    const t = this.tracks.find((x) => x.id === track);
    if (!t || t.decided || !t.fusionDue) return undefined;
    t.fusionDue = false;
    if (personId !== null && t.latest?.nearest === personId) return this.matched(t, personId, 'fusion', now);
    return t.unknownDue ? this.unknown(t) : undefined;
  }

  private matched(
    t: Track<E>,
    personId: string,
    by: 'votes' | 'fusion',
    now: number,
  ): TrackDecision<E> | undefined {
    const policy = this.o.liveness;
    const liveness = policy && livenessVerdict(t.landmarks, policy);
    t.fusionDue = false;
    if (policy && !liveness!.live) {
      // Not shown to be a head yet: wait for more frames, up to maxFrames. The frames keep coming
      // (a held track is pending), so a photo is judged on all of them.
      if (t.landmarks.length < policy.maxFrames) {
        t.held = { personId, by };
        return undefined;
      }
      if (policy.mode === 'require') {
        t.decided = true;
        const evidence = t.bestByPerson.get(personId)?.evidence ?? t.latest?.evidence;
        return { kind: 'spoof', track: t.id, personId, frames: t.frames, by, liveness: liveness!, evidence };
      }
    }
    t.decided = true;
    const last = this.lastMatch.get(personId);
    if (last !== undefined && now - last < this.o.cooldownMs) return undefined;
    // A match a door refuses (not live) must not hold back the live person's match behind it.
    if (liveness?.live !== false) this.lastMatch.set(personId, now);
    return {
      kind: 'match',
      track: t.id,
      personId,
      votes: t.votes.filter((v) => v === personId).length,
      frames: t.frames,
      by,
      ...(liveness ? { liveness } : {}),
      evidence: t.bestByPerson.get(personId)?.evidence ?? t.latest?.evidence,
    };
  }
}
