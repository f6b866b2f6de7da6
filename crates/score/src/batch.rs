//! Scoring a streamed roster on every core: the [`Work`] that scores the
//! households of a batch and writes their rows, on a worker thread.

use hhrisk_roster::stream::{Checked, CheckedHousehold, Work};
use hhrisk_roster::Issue;

use crate::output::{ScoreColumns, ScoreWriter};
use crate::score::{BatchScores, Scorer};

/// Scores batches of households into rows of a scores file.
#[derive(Debug, Clone)]
pub struct ScoreBatches<'m> {
    scorer: Scorer<'m>,
    columns: ScoreColumns,
}

impl<'m> ScoreBatches<'m> {
    /// Scoring with `scorer`, writing `columns`.
    pub fn new(scorer: Scorer<'m>, columns: ScoreColumns) -> Self {
        ScoreBatches { scorer, columns }
    }
}

/// A worker's buffers.
pub struct BatchState {
    scores: BatchScores,
    writer: Option<ScoreWriter<Vec<u8>>>,
    capacity: usize,
    batch: ScoredBatch,
}

/// What a batch of households gives.
#[derive(Debug, Default)]
pub struct ScoredBatch {
    /// Rows of the scores file (no header), in file order.
    pub rows: Vec<u8>,
    /// Problems of the households refused.
    pub issues: Vec<Issue>,
    /// Households alerted, per level of the bands.
    pub alerts: Vec<usize>,
    /// Households in the batch (scored or refused).
    pub households: usize,
}

impl Work for ScoreBatches<'_> {
    type State = BatchState;
    type Output = ScoredBatch;

    fn state(&self) -> BatchState {
        BatchState { scores: BatchScores::default(), writer: None, capacity: 1 << 16, batch: self.empty() }
    }

    /// Scores the whole batch at once (`Scorer::score_batch`), then writes
    /// the rows in file order.
    fn batch(&self, state: &mut BatchState, batch: &Checked<'_>) -> Result<(), hhrisk_roster::WorkError> {
        let BatchState { scores, writer, capacity, batch: out, .. } = state;
        let model = self.scorer.model();
        let scores = self.scorer.score_batch(&batch.columns, scores);
        let (capacity, columns) = (*capacity, self.columns);
        let writer =
            writer.get_or_insert_with(|| ScoreWriter::rows(Vec::with_capacity(capacity), model, columns));
        for household in batch.households() {
            out.households += 1;
            match household {
                CheckedHousehold::Accepted { index, id, village, .. } => {
                    let score = &scores[index];
                    if let Some(level) = score.alert {
                        out.alerts[level] += 1;
                    }
                    writer
                        .write(model, self.scorer.bands(), id, village, score)
                        .map_err(|e| hhrisk_roster::WorkError::Work(e.into()))?;
                }
                CheckedHousehold::Refused(issues) => out.issues.extend_from_slice(issues),
            }
        }
        Ok(())
    }

    fn output(&self, state: &mut BatchState) -> ScoredBatch {
        let mut batch = std::mem::replace(&mut state.batch, self.empty());
        if let Some(writer) = state.writer.take() {
            // writing into memory cannot fail
            batch.rows = writer.finish().unwrap_or_default();
            state.capacity = state.capacity.max(batch.rows.len() + batch.rows.len() / 8);
        }
        batch
    }
}

impl ScoreBatches<'_> {
    fn empty(&self) -> ScoredBatch {
        ScoredBatch { alerts: vec![0; self.scorer.bands().levels.len()], ..ScoredBatch::default() }
    }
}
