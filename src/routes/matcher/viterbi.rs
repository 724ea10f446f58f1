//! The HMM's scores and the Viterbi pass over the samples: emission (Gaussian in the
//! distance from sample to candidate, weighted by the length of route the sample stands
//! for), transition (exponential in the difference between the network distance and the
//! straight distance, plus a one-off cost for entering a service road), and the lattice
//! of the chain being built. Samples without candidates, or transitions with no path,
//! break the chain and are reported.

use super::candidates::Sample;
use super::search::{Scratch, State, Targets};
use super::{
    BEAM, BETA_M, EVIDENCE_STEP_M, MAX_CANDIDATES, MAX_STATES, SEARCH_RADIUS_M, SERVICE_ENTRY_PENALTY, SIGMA_M,
    TIGHT_DETOUR, problem, problem_at, wide_bound,
};
use crate::routes::network::{Candidate, RouteNetwork};
use crate::routes::project::dist;
use crate::routes::{MatchProblem, MatchProblemKind};

/// Samples a chain may leave out where it would break: enough to go back past a stretch
/// drawn between two parallel roads, where the far one fell out of the beam and is the one
/// that goes on (a few hundred metres at the usual spacing of samples).
const MAX_SKIPPED: usize = 12;

/// Layers a chain scores again without a beam where it would break: enough for a
/// drawing that ran nearer the wrong one of two parallel roads for a kilometre or two,
/// until they part (at the usual spacing of samples).
const MAX_REPLAYED: usize = 64;

/// The Viterbi lattice of the chain being built, stored flat (no allocation per step):
/// layer `l` is sample `sample[l]` with states, scores and back pointers (indices
/// into layer `l - 1`) at `start[l]..start[l + 1]`.
struct Lattice {
    sample: Vec<usize>,
    start: Vec<usize>,
    cands: Vec<State>,
    scores: Vec<f64>,
    back: Vec<usize>,
}

impl Lattice {
    /// Sized for `layers` layers of full state lists: growing five vectors step by
    /// step cost dozens of reallocations per match.
    fn new(layers: usize) -> Lattice {
        let n = layers * MAX_STATES;
        let mut start = Vec::with_capacity(layers + 1);
        start.push(0);
        Lattice {
            sample: Vec::with_capacity(layers),
            start,
            cands: Vec::with_capacity(n),
            scores: Vec::with_capacity(n),
            back: Vec::with_capacity(n),
        }
    }

    /// The last layer: sample index, states, scores.
    fn last(&self) -> Option<(usize, &[State], &[f64])> {
        self.back_by(0)
    }

    /// The layer `k` before the last (0: the last), as [`Self::last`].
    fn back_by(&self, k: usize) -> Option<(usize, &[State], &[f64])> {
        Some(self.layer(self.len().checked_sub(k + 1)?))
    }

    /// How many layers the chain has.
    fn len(&self) -> usize {
        self.sample.len()
    }

    /// Layer `l`: sample index, states, scores.
    fn layer(&self, l: usize) -> (usize, &[State], &[f64]) {
        let r = self.start[l]..self.start[l + 1];
        (self.sample[l], &self.cands[r.clone()], &self.scores[r])
    }

    /// Replaces layer `l`'s scores and back pointers (as many as it has states).
    fn rescore(&mut self, l: usize, scores: &[f64], back: &[usize]) {
        let r = self.start[l]..self.start[l + 1];
        self.scores[r.clone()].copy_from_slice(scores);
        self.back[r].copy_from_slice(back);
    }

    /// Drops the last layer; its sample index.
    fn pop(&mut self) -> Option<usize> {
        let sample = self.sample.pop()?;
        self.start.pop();
        let n = self.start.last().copied().unwrap_or(0);
        self.cands.truncate(n);
        self.scores.truncate(n);
        self.back.truncate(n);
        Some(sample)
    }

    /// Appends a layer; `back` is empty at the start of a chain.
    fn push(&mut self, sample: usize, cands: &[State], scores: &[f64], back: &[usize]) {
        self.sample.push(sample);
        self.cands.extend_from_slice(cands);
        self.scores.extend_from_slice(scores);
        if back.len() == cands.len() {
            self.back.extend_from_slice(back);
        } else {
            self.back.extend(std::iter::repeat_n(0, cands.len()));
        }
        self.start.push(self.cands.len());
    }

    /// Backtracks the best path into a chain of (sample index, chosen state) and
    /// empties the lattice.
    fn finish(&mut self, chains: &mut Vec<Vec<(usize, State)>>) {
        if let Some((_, _, scores)) = self.last() {
            let mut best = 0;
            for (i, s) in scores.iter().enumerate() {
                if *s > scores[best] {
                    best = i;
                }
            }
            let layers = self.sample.len();
            let mut chain = Vec::with_capacity(layers);
            for l in (0..layers).rev() {
                let at = self.start[l] + best;
                chain.push((self.sample[l], self.cands[at]));
                best = self.back[at];
            }
            chain.reverse();
            chains.push(chain);
        }
        self.sample.clear();
        self.start.truncate(1);
        self.cands.clear();
        self.scores.clear();
        self.back.clear();
    }
}

/// Keeps the move from candidate `from` into candidate `to` scored `score` if it beats
/// the best move into `to` so far.
#[inline]
fn keep_best(scores: &mut [f64], back: &mut [usize], from: usize, to: usize, score: f64) {
    if score > scores[to] {
        scores[to] = score;
        back[to] = from;
    }
}

/// The layer a step starts from: its states and their scores, the straight distance
/// from its sample to the next, and how far below its best score a state is still
/// followed ([`BEAM`], or infinite where a chain is scored again).
struct Layer<'a> {
    states: &'a [State],
    scores: &'a [f64],
    straight: f64,
    beam: f64,
}

/// One step's buffers, reused between samples: the best score of each state of the new
/// layer and its back pointer, and the searches' working lists.
#[derive(Default)]
struct Step {
    scores: Vec<f64>,
    back: Vec<usize>,
    entries: Vec<(u32, f64)>,
    ds: Vec<f64>,
    limits: Vec<f64>,
    order: Vec<usize>,
}

impl Step {
    fn connected(&self) -> bool {
        self.scores.iter().any(|s| s.is_finite())
    }
}

impl RouteNetwork {
    /// Log-probability of observing a sample at a candidate: Gaussian in the distance.
    fn emission(&self, c: &Candidate) -> f64 {
        -0.5 * (c.dist / SIGMA_M).powi(2)
    }

    /// Each state's emission, weighted by the observations its sample stands for, into `out`.
    fn emissions_into(&self, cands: &[State], weight: f64, out: &mut Vec<f64>) {
        out.clear();
        out.extend(cands.iter().map(|s| weight * self.emission(&s.c)));
    }

    /// A small prior against entering a service road (driveway, parking aisle), which
    /// often runs a few metres beside a street and is rarely a permit route: paid once
    /// per entry (`from` is `None` at the start of a chain), not per sample, so that a
    /// service road the route clearly follows (closer at every sample) still wins.
    fn entry_cost(&self, from: Option<u32>, to: u32) -> f64 {
        if self.is_service(to) && from.is_none_or(|f| !self.is_service(f)) { SERVICE_ENTRY_PENALTY } else { 0.0 }
    }

    /// Scores of the first sample of a chain.
    fn chain_start(&self, states: &[State], emissions: &[f64]) -> Vec<f64> {
        states.iter().zip(emissions).map(|(s, e)| e - self.entry_cost(None, s.c.way)).collect()
    }

    /// Log-probability of the chain ending at candidate `a` (scored `from_score`) going on
    /// to candidate `b` (emission `emission`) over `d` metres of road, where the two
    /// samples lie `straight` metres apart: exponential in the detour, plus the cost of
    /// entering a service road.
    #[inline]
    fn transition(&self, from_score: f64, a: &State, d: f64, straight: f64, emission: f64, b: &State) -> f64 {
        from_score - (d - straight).abs() / BETA_M + emission - self.entry_cost(Some(a.c.way), b.c.way)
    }

    /// Scores each of `cands` (emissions `emissions`) by its best move from `from` into
    /// `step.scores` and `step.back` (`NEG_INFINITY` where none connects).
    fn connect(&self, from: &Layer, cands: &[State], emissions: &[f64], scratch: &mut Scratch, step: &mut Step) {
        let Layer { states: prev, scores: prev_scores, straight, beam: from_beam } = *from;
        let Step { scores, back, entries, ds, limits, order } = step;
        entries.clear();
        entries.extend(cands.iter().map(|b| self.entry(b)));
        let top = prev_scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        scores.clear();
        scores.resize(cands.len(), f64::NEG_INFINITY);
        back.clear();
        back.resize(cands.len(), 0);
        // A tight bound first (a detour costing more than TIGHT_DETOUR in
        // log-probability loses to a path within it when both reach candidates about
        // as close to the drawing); then the wide bound, for every candidate where
        // nothing connected, else only for those the tight pass left unreached that
        // would still win the layer after such a detour (a driveway just beyond the
        // bound, where the only road reached within it lies 25 m off the drawing).
        for wide in [false, true] {
            let cap = if wide { wide_bound(straight) } else { straight + TIGHT_DETOUR * BETA_M };
            let connected = scores.iter().any(|s| s.is_finite());
            if wide {
                let best = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let could_win = |bi: usize| scores[bi].is_infinite() && top + emissions[bi] - TIGHT_DETOUR > best;
                if connected && !(0..cands.len()).any(could_win) {
                    break;
                }
            }
            order.clear();
            // The wide pass where nothing connected tries every candidate.
            let beam = if wide && !connected { f64::INFINITY } else { from_beam };
            order.extend((0..prev.len()).filter(|&ai| prev_scores[ai] >= top - beam));
            order.sort_by(|&x, &y| prev_scores[y].total_cmp(&prev_scores[x]));
            // Moves along one way need no search: score them first, so that the
            // searches below know what they have to beat.
            for &ai in order.iter() {
                for (bi, b) in cands.iter().enumerate() {
                    if let Some(d) = self.same_way(&prev[ai], b).filter(|&d| d <= cap) {
                        let s = self.transition(prev_scores[ai], &prev[ai], d, straight, emissions[bi], b);
                        keep_best(scores, back, ai, bi, s);
                    }
                }
            }
            for &ai in order.iter() {
                // Longest path to each target that could still beat its best score
                // (Viterbi keeps the maximum, so longer paths cannot matter) and keep
                // it within the beam of this layer's best (else it is dropped anyway).
                let floor = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max) - from_beam;
                limits.clear();
                limits.extend(
                    emissions
                        .iter()
                        .zip(scores.iter())
                        .map(|(e, best)| (straight + BETA_M * (prev_scores[ai] + e - best.max(floor))).min(cap)),
                );
                let targets = Targets { states: cands, entries, limits };
                if targets.bound() < 0.0 {
                    continue;
                }
                self.distances(&prev[ai], targets, scratch, ds);
                for (bi, &d) in ds.iter().enumerate() {
                    if d.is_finite() {
                        let s = self.transition(prev_scores[ai], &prev[ai], d, straight, emissions[bi], &cands[bi]);
                        keep_best(scores, back, ai, bi, s);
                    }
                }
            }
        }
    }

    /// `others`, candidates beyond the nearest few, scored from `from`
    /// [`MAX_CANDIDATES`] at a time (one search settles at most [`MAX_STATES`] targets):
    /// the states that connect, with their scores and back pointers.
    fn connect_beyond(
        &self,
        from: &Layer,
        others: &[Candidate],
        drawn: Option<[f64; 2]>,
        weight: f64,
        scratch: &mut Scratch,
        step: &mut Step,
    ) -> (Vec<State>, Vec<f64>, Vec<usize>) {
        let (mut states, mut scores, mut back) = (Vec::new(), Vec::new(), Vec::new());
        let (mut cands, mut emissions) = (Vec::new(), Vec::new());
        for chunk in others.chunks(MAX_CANDIDATES) {
            cands.clear();
            chunk.iter().for_each(|&c| self.states_of(c, drawn, &mut cands));
            self.emissions_into(&cands, weight, &mut emissions);
            self.connect(from, &cands, &emissions, scratch, step);
            for (k, s) in cands.iter().enumerate().filter(|&(k, _)| step.scores[k].is_finite()) {
                states.push(*s);
                scores.push(step.scores[k]);
                back.push(step.back[k]);
            }
        }
        (states, scores, back)
    }

    /// The step from `layer` (sample index, states, scores) to sample `to`, whose states
    /// are `cands`: the layer to connect from, followed within `beam`, and the states'
    /// emissions weighted by the stretch between the two samples, into `emissions`.
    fn step_to<'a>(
        &self,
        (from, states, scores): (usize, &'a [State], &'a [f64]),
        samples: &[Sample],
        to: usize,
        cands: &[State],
        beam: f64,
        emissions: &mut Vec<f64>,
    ) -> Layer<'a> {
        self.emissions_into(cands, evidence_weight(&samples[from], &samples[to]), emissions);
        Layer { states, scores, straight: dist(samples[from].xy, samples[to].xy), beam }
    }

    /// Scores the chain's last [`MAX_REPLAYED`] layers again with no beam, so that every
    /// state that connects keeps its best score: where the drawing ran nearer the wrong
    /// one of two parallel roads, the right one fell out of the beam, and where the two
    /// part it is the one that goes on (`evidence`: a buffer for the emissions).
    fn replay(
        &self,
        lattice: &mut Lattice,
        samples: &[Sample],
        scratch: &mut Scratch,
        step: &mut Step,
        evidence: &mut Vec<f64>,
    ) {
        for l in lattice.len().saturating_sub(MAX_REPLAYED).max(1)..lattice.len() {
            let (i, cands, _) = lattice.layer(l);
            let from = self.step_to(lattice.layer(l - 1), samples, i, cands, f64::INFINITY, evidence);
            self.connect(&from, cands, evidence, scratch, step);
            // Every layer connected with the beam, and no state scores less without it.
            if step.connected() {
                lattice.rescore(l, &step.scores, &step.back);
            }
        }
    }

    /// Viterbi over chains of samples that have candidates and connect: the most likely
    /// state of each sample, chain by chain, with what broke the chains in
    /// `problems` and the samples a chain left out in `skipped`. Stops once the searches
    /// have settled more than `budget` nodes.
    pub(super) fn viterbi(
        &self,
        samples: &[Sample],
        scratch: &mut Scratch,
        budget: u64,
        problems: &mut Vec<MatchProblem>,
        skipped: &mut Vec<usize>,
    ) -> Vec<Vec<(usize, State)>> {
        let mut chains: Vec<Vec<(usize, State)>> = Vec::new();
        let mut lattice = Lattice::new(samples.len());
        let mut found: Vec<Candidate> = Vec::with_capacity(16);
        let mut cands: Vec<State> = Vec::with_capacity(MAX_STATES);
        let mut emissions: Vec<f64> = Vec::new();
        // The emissions of a step from further back, where samples are left out.
        let mut evidence: Vec<f64> = Vec::new();
        let mut last_kind: Option<MatchProblemKind> = None;
        let mut step = Step::default();
        for (i, smp) in samples.iter().enumerate() {
            if scratch.settled > budget {
                problems.push(problem_at(
                    MatchProblemKind::WorkLimit,
                    smp,
                    format!(
                        "matching stopped at km {:.2}: following this drawing on the road network takes more work than one review may spend, so the rest of the route is unchecked",
                        smp.km
                    ),
                ));
                break;
            }
            let inside = self.covers(smp.xy, SEARCH_RADIUS_M);
            found.clear();
            if inside {
                self.candidates_into(smp.xy, &mut found);
            }
            cands.clear();
            let drawn = drawn_direction(samples, i);
            found.iter().for_each(|&c| self.states_of(c, drawn, &mut cands));
            if cands.is_empty() {
                let kind = if inside { MatchProblemKind::OffNetwork } else { MatchProblemKind::OutsideCoverage };
                if last_kind != Some(kind) {
                    problems.push(problem(kind, smp));
                }
                last_kind = Some(kind);
                lattice.finish(&mut chains);
                continue;
            }
            last_kind = None;

            // Each sample stands for the stretch of route since the previous one, so its
            // evidence counts in proportion (the result does not depend on thinning).
            let weight = if i == 0 { 1.0 } else { evidence_weight(&samples[i - 1], smp) };
            self.emissions_into(&cands, weight, &mut emissions);
            if lattice.last().is_none() {
                let start = self.chain_start(&cands, &emissions);
                lattice.push(i, &cands, &start, &[]);
                continue;
            }
            let mut replayed = false;
            let resumed = loop {
                let Some((pi, prev, prev_scores)) = lattice.last() else { break false };
                let from =
                    Layer { states: prev, scores: prev_scores, straight: dist(samples[pi].xy, smp.xy), beam: BEAM };
                self.connect(&from, &cands, &emissions, scratch, &mut step);
                if step.connected() {
                    lattice.push(i, &cands, &step.scores, &step.back);
                    break true;
                }
                if inside {
                    // Where many roads meet (service tunnels under the streets, the links of
                    // a junction) the nearest few may all be the wrong ones: before breaking
                    // the chain, every other road within the radius. Only here, so a match
                    // that connects pays nothing for it.
                    let mut others = Vec::new();
                    self.candidates_near(smp.xy, SEARCH_RADIUS_M, &mut others);
                    others.retain(|c| !found.iter().any(|t| t.way == c.way && t.seg == c.seg));
                    let (states, scores, back) = self.connect_beyond(&from, &others, drawn, weight, scratch, &mut step);
                    if !states.is_empty() {
                        lattice.push(i, &states, &scores, &back);
                        break true;
                    }
                }
                // Samples whose every state leads nowhere (the drawing strays there, an earlier
                // wrong turn left only far roads, or the road that goes on fell out of the beam
                // beside a nearer one) are left out: the chain goes on from
                // the last sample before them that connects. The path found must still pass
                // near them (`match_route_with` checks), else the match is low confidence.
                let skip = (1..=MAX_SKIPPED).find(|&k| {
                    let Some(layer) = lattice.back_by(k) else { return false };
                    let from = self.step_to(layer, samples, i, &cands, BEAM, &mut evidence);
                    self.connect(&from, &cands, &evidence, scratch, &mut step);
                    step.connected()
                });
                if let Some(k) = skip {
                    skipped.extend((0..k).filter_map(|_| lattice.pop()));
                    lattice.push(i, &cands, &step.scores, &step.back);
                    break true;
                }
                // Last, the chain's recent layers scored again with no beam: the road that
                // goes on may have fallen out of it further back than samples are left out.
                // A chain no longer than that was tried from its first layer, where every
                // state is held, so a drawing that jumps about pays for no replays.
                if replayed || lattice.len() <= MAX_SKIPPED + 1 {
                    break false;
                }
                self.replay(&mut lattice, samples, scratch, &mut step, &mut evidence);
                replayed = true;
            };
            if resumed {
                continue;
            }
            problems.push(problem_at(
                MatchProblemKind::Gap,
                smp,
                format!(
                    "the route cannot be followed on the road network near km {:.2} (no connected road in the drawn direction)",
                    smp.km
                ),
            ));
            lattice.finish(&mut chains);
            let start = self.chain_start(&cands, &emissions);
            lattice.push(i, &cands, &start, &[]);
        }
        lattice.finish(&mut chains);
        chains
    }
}

/// How many observations sample `to` stands for: the stretch of route since `from`, in
/// units of [`EVIDENCE_STEP_M`].
fn evidence_weight(from: &Sample, to: &Sample) -> f64 {
    (to.km - from.km) * 1000.0 / EVIDENCE_STEP_M
}

/// The drawing's direction at sample `i`: from the sample before to the one after, `None`
/// at either end of the drawing (its last metres may turn back by a few metres of noise)
/// or where it turns back there (the two halves disagree).
fn drawn_direction(samples: &[Sample], i: usize) -> Option<[f64; 2]> {
    let (before, at, after) = (samples[i.checked_sub(1)?].xy, samples[i].xy, samples.get(i + 1)?.xy);
    let (p, q) = ([at[0] - before[0], at[1] - before[1]], [after[0] - at[0], after[1] - at[1]]);
    (p[0] * q[0] + p[1] * q[1] > 0.0).then_some([after[0] - before[0], after[1] - before[1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples(points: &[[f64; 2]]) -> Vec<Sample> {
        points.iter().map(|&xy| Sample { xy, lonlat: [0.0, 0.0], km: 0.0 }).collect()
    }

    /// The drawing's direction prunes states only where it is plain: between two samples
    /// that go on the same way, not at an end (the last metres may step back) nor at the
    /// tip of a turn back.
    #[test]
    fn the_drawn_direction_is_known_only_where_the_drawing_goes_on() {
        let line = samples(&[[0.0, 0.0], [40.0, 0.0], [80.0, 5.0], [40.0, 10.0]]);
        assert_eq!(drawn_direction(&line, 1), Some([80.0, 5.0]));
        assert_eq!(drawn_direction(&line, 0), None, "the start");
        assert_eq!(drawn_direction(&line, 3), None, "the end");
        assert_eq!(drawn_direction(&line, 2), None, "the tip of a turn back");
    }
}
