// A gallery that grows from the door (gallery/door-captures.ts), simulated on a labelled set: does
// it learn the residents, and does it drift toward other people? Everyone with a second photo is
// enrolled from their first (one-shot); then the door sees visits in a random order: each
// resident's photos but the last (as the door would see them on other days), and half of the
// strangers. A visit the gallery matches, and that the capture rule takes, joins the person's
// photos as a door capture would (at most maxPerPerson, the oldest replaced). Afterwards the
// residents' last photos and the other half of the strangers (with every resident's last photo
// again, that resident left out) are searched in the gallery as enrolled and as grown.
// LFW's photos of one person are days apart, not one door's light: what this measures is drift,
// and the gain from more photos of a person; a door's own captures should gain more.
import { galleryRows, type GalleryEntry, type PersonAggregation } from '../gallery/matcher.js';
import { captureRefusal, type DoorCapturePolicy } from '../gallery/door-captures.js';
import { seededRandom, shuffle } from '../training/random.js';
import type { EmbeddedFile } from './embed-files.js';
import { pick, rank } from './passes.js';
import {
  leaveOneOutStrangers,
  measurable,
  REPORTED_FARS,
  shareUnder,
  thresholdAtFpir,
  tpirAt,
} from './evaluate.js';

type Labelled = { identity: string; path: string };
type Visit = { identity: string; embedding: Float32Array };

export type GrowthOptions = {
  threshold: number;
  /** match.minMargin: a visit is a match only this far ahead of the runner-up. */
  minMargin: number;
  aggregation: PersonAggregation;
  policy: DoorCapturePolicy;
  seed?: number;
};

/** One gallery's rows per person (the matcher's aggregation), searched as eval/passes.ts searches. */
class SimulatedGallery {
  private readonly rows = new Map<string, GalleryEntry[]>();
  /** Every person's rows in one list, made again after a person's rows change. */
  private all: GalleryEntry[] | undefined;

  constructor(
    private readonly photos: Map<string, Float32Array[]>,
    private readonly aggregation: PersonAggregation,
  ) {
    for (const id of photos.keys()) this.refresh(id);
  }

  refresh(personId: string): void {
    const entries = this.photos.get(personId)!.map((embedding) => ({ personId, name: personId, embedding }));
    const rows = galleryRows(entries, this.aggregation).rows;
    this.rows.set(
      personId,
      rows.map((r) => ({ personId, name: personId, embedding: r.v })),
    );
    this.all = undefined;
  }

  /** The nearest person (other than `except`), its distance and the margin to the next. */
  nearest(
    face: Float32Array,
    except?: string,
  ): { personId: string; distance: number; margin: number } | undefined {
    this.all ??= [...this.rows.values()].flat();
    return pick(rank(this.all, face), except);
  }
}

export function growthReport(
  enrolled: readonly GalleryEntry[],
  mated: readonly Labelled[],
  nonMated: readonly Labelled[],
  live: Map<string, EmbeddedFile>,
  o: GrowthOptions,
) {
  const face = (path: string) => {
    const f = live.get(path);
    return f?.ok ? f.face.embedding : undefined;
  };
  const random = seededRandom(o.seed ?? 1);
  // Each resident's probe photos in path order: the last is the test, the others visit the door.
  const byIdentity = new Map<string, string[]>();
  for (const m of mated) byIdentity.set(m.identity, [...(byIdentity.get(m.identity) ?? []), m.path]);
  const residentVisits: Visit[] = [];
  const tests: Visit[] = [];
  for (const [identity, paths] of byIdentity) {
    const sorted = [...paths].sort();
    const last = face(sorted.at(-1)!);
    if (last) tests.push({ identity, embedding: last });
    for (const p of sorted.slice(0, -1)) {
      const e = face(p);
      if (e) residentVisits.push({ identity, embedding: e });
    }
  }
  // Strangers, by identity: half come to the door while it learns, half are held out.
  const strangerIds = shuffle([...new Set(nonMated.map((n) => n.identity))].sort(), random);
  const visiting = new Set(strangerIds.slice(0, Math.floor(strangerIds.length / 2)));
  const strangers = nonMated.flatMap((n) => {
    const e = face(n.path);
    return e ? [{ identity: n.identity, embedding: e }] : [];
  });
  const strangerVisits = strangers.filter((s) => visiting.has(s.identity));
  const heldOut = strangers.filter((s) => !visiting.has(s.identity));

  const enrolledPhotos = new Map<string, Float32Array[]>();
  for (const e of enrolled)
    enrolledPhotos.set(e.personId, [...(enrolledPhotos.get(e.personId) ?? []), e.embedding]);
  const asEnrolled = new SimulatedGallery(enrolledPhotos, o.aggregation);
  const grownPhotos = new Map([...enrolledPhotos].map(([id, photos]) => [id, [...photos]]));
  const grown = new SimulatedGallery(grownPhotos, o.aggregation);
  const captures = new Map<string, Float32Array[]>();
  let added = 0;
  let wrongPerson = 0;
  const visits = shuffle([...residentVisits, ...strangerVisits], random);
  for (const visit of visits) {
    const match = grown.nearest(visit.embedding);
    if (!match || !(match.distance < o.threshold) || match.margin < o.minMargin) continue;
    const refusal = captureRefusal(
      { ...match, embedding: visit.embedding, live: true, enrolled: enrolledPhotos.get(match.personId)! },
      o.policy,
      o.threshold,
    );
    if (refusal) continue;
    added++;
    if (visit.identity !== match.personId) wrongPerson++;
    const kept = [...(captures.get(match.personId) ?? []), visit.embedding].slice(-o.policy.maxPerPerson);
    captures.set(match.personId, kept);
    grownPhotos.set(match.personId, [...enrolledPhotos.get(match.personId)!, ...kept]);
    grown.refresh(match.personId);
  }

  const searched = (gallery: SimulatedGallery) => {
    const mat = tests.map((t) => {
      const r = gallery.nearest(t.embedding);
      const own = r?.personId === t.identity;
      const others = own ? gallery.nearest(t.embedding, t.identity)?.distance : r?.distance;
      return { correct: own, distance: r?.distance ?? Infinity, othersDistance: others ?? Infinity };
    });
    const non = heldOut.map((s) => gallery.nearest(s.embedding)?.distance ?? Infinity);
    const all = leaveOneOutStrangers(mat, non);
    return {
      tpirAtThreshold: tpirAt(mat, o.threshold),
      fpirAtThreshold: shareUnder(all, o.threshold),
      tpirAtFpir: REPORTED_FARS.map((fpir) => {
        const t = thresholdAtFpir(all, fpir);
        return { fpir, threshold: t, tpir: tpirAt(mat, t), measurable: measurable(fpir, all.length) };
      }),
    };
  };
  return {
    policy: o.policy,
    threshold: o.threshold,
    visits: { residents: residentVisits.length, strangers: strangerVisits.length },
    captures: { added, people: captures.size, wrongPerson },
    test: { residents: tests.length, strangers: heldOut.length + tests.length },
    enrolled: searched(asEnrolled),
    grown: searched(grown),
  };
}

export type GrowthReport = ReturnType<typeof growthReport>;
