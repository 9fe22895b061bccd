// From per-frame faces to decisions a door can act on. Faces are followed across frames by box
// overlap (IoU); each track votes frame by frame, and decides once:
//   - match: at least `minVotes` of its last `window` usable frames name the same person (each
//     vote already under the threshold with the margin), unless that person matched at this
//     camera within `cooldownMs`;
//   - unknown: `unknownAfter` usable frames in a row matched nobody;
//   - unusable: `unusableAfter` frames in a row failed the quality gates (with the most common
//     reason), since users ask why a person was not recognised.
// A single lucky frame never opens a door, and one person standing in view gives one event.
import { iou, type Rect } from '../vision/warp.js';

/** One face in one frame, as the pipeline saw it. */
export type Observation<E = unknown> = {
  box: Rect;
  /** Undefined when the face passed the gates; else which gate failed first, and how. */
  unusable?: { gate: string; reason: string };
  /** The person this frame's face matched (under the threshold, with the margin), or null. */
  vote?: string | null;
  /** Distance to the matched (or nearest) person: the best frame is the event's evidence. */
  distance?: number;
  /** Anything the caller wants back with the decision (match details, quality, a snapshot). */
  evidence?: E;
};

export type TrackerOptions = {
  iou: number;
  /** Frames a track may go unseen before it ends. */
  maxMissed: number;
  window: number;
  minVotes: number;
  unknownAfter: number;
  unusableAfter: number;
  cooldownMs: number;
};

export const DEFAULT_TRACKER_OPTIONS: TrackerOptions = {
  iou: 0.3,
  maxMissed: 5,
  window: 5,
  minVotes: 3,
  unknownAfter: 5,
  unusableAfter: 10,
  cooldownMs: 60_000,
};

export type TrackDecision<E = unknown> =
  | { kind: 'match'; track: number; personId: string; votes: number; frames: number; evidence: E | undefined }
  | { kind: 'unknown'; track: number; frames: number; evidence: E | undefined }
  | { kind: 'unusable'; track: number; frames: number; gate: string; reason: string; box: Rect };

type Track<E> = {
  id: number;
  box: Rect;
  missed: number;
  frames: number;
  votes: (string | null)[];
  usableRun: number;
  unusableRun: number;
  /** Failed gate -> count and its latest reason. */
  reasons: Map<string, { count: number; reason: string }>;
  best: { distance: number; evidence: E | undefined } | undefined;
  bestByPerson: Map<string, { distance: number; evidence: E | undefined }>;
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
    observations.forEach((obs, i) => {
      let track = assigned.get(i);
      if (!track) {
        track = this.newTrack(obs.box);
        this.tracks.push(track);
      }
      track.box = obs.box;
      track.missed = 0;
      track.frames++;
      const decision = this.observe(track, obs, now);
      if (decision) decisions.push(decision);
    });
    for (const t of unmatched) t.missed++;
    this.tracks = this.tracks.filter((t) => t.missed <= this.o.maxMissed);
    return decisions;
  }

  private newTrack(box: Rect): Track<E> {
    return {
      id: this.nextId++,
      box,
      missed: 0,
      frames: 0,
      votes: [],
      usableRun: 0,
      unusableRun: 0,
      reasons: new Map(),
      best: undefined,
      bestByPerson: new Map(),
      decided: false,
      reportedUnusable: false,
    };
  }

  private observe(t: Track<E>, obs: Observation<E>, now: number): TrackDecision<E> | undefined {
    if (obs.unusable !== undefined) {
      t.unusableRun++;
      t.usableRun = 0;
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
    t.usableRun++;
    const vote = obs.vote ?? null;
    t.votes.push(vote);
    if (t.votes.length > this.o.window) t.votes.shift();
    const d = obs.distance ?? Infinity;
    if (!t.best || d < t.best.distance) t.best = { distance: d, evidence: obs.evidence };
    if (vote !== null) {
      const prev = t.bestByPerson.get(vote);
      if (!prev || d < prev.distance) t.bestByPerson.set(vote, { distance: d, evidence: obs.evidence });
    }
    if (t.decided) return undefined;

    const counts = new Map<string, number>();
    for (const v of t.votes) if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
    const [leader, votes] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? [undefined, 0];
    if (leader !== undefined && votes >= this.o.minVotes) {
      t.decided = true;
      const last = this.lastMatch.get(leader);
      if (last !== undefined && now - last < this.o.cooldownMs) return undefined;
      this.lastMatch.set(leader, now);
      return {
        kind: 'match',
        track: t.id,
        personId: leader,
        votes,
        frames: t.frames,
        evidence: t.bestByPerson.get(leader)?.evidence,
      };
    }
    const recent = t.votes.slice(-this.o.unknownAfter);
    if (
      t.usableRun >= this.o.unknownAfter &&
      recent.length >= this.o.unknownAfter &&
      recent.every((v) => v === null)
    ) {
      t.decided = true;
      return { kind: 'unknown', track: t.id, frames: t.frames, evidence: t.best?.evidence };
    }
    return undefined;
  }
}
