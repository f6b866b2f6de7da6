//! The one way a roster is read: streamed when its members are grouped by
//! household, put in household order first when they are not, read whole
//! only when it must be. Whichever way is taken, every household, accepted
//! or refused, reaches the same [`Work`], and the results are the same.

use std::path::Path;

use hhrisk_model::expr::Columns;
use hhrisk_model::Model;

use crate::checked::{Checked, Entry};
use crate::roster::{ReadOptions, Roster, RosterError};
use crate::stream::{stream_as, MemberOrder, StreamError, Work, WorkError, BATCH};

/// How a roster was read by [`read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum How {
    /// Streamed as it is: members grouped by household in the order of
    /// households.csv, memory that does not grow with the file.
    Streamed,
    /// Members were not grouped that way: put in household order first,
    /// holding `bytes`, then streamed.
    Regrouped {
        /// Bytes held to put the members in order.
        bytes: usize,
    },
    /// Read whole: a member of a household not in households.csv, or a
    /// repeated id, which the whole-file read names row by row.
    Whole,
}

/// What [`read`] found, besides what the work collected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Data rows in households.csv.
    pub household_rows: usize,
    /// Data rows in members.csv.
    pub member_rows: usize,
    /// Households that passed every check.
    pub accepted: usize,
    /// Households refused (each with at least one [`Issue`](crate::Issue)).
    pub refused: usize,
    /// How the roster was read.
    pub how: How,
}

/// Reads the roster in `dir` (a folder with households.csv and
/// members.csv, or a workbook) against `model` on `threads` threads,
/// handing every household to `work` and every batch's output, in file
/// order, to `collect`, which adds it to a state made by `fresh`.
///
/// The roster is streamed when its members are grouped by household in the
/// order of households.csv; when they are not, they are put in that order
/// first and the roster streams all the same. Only a roster that cannot be
/// streamed either way (a member of a household not in households.csv, a
/// repeated id) is read whole, and its households then go to `work` in
/// batches as a stream would hand them. A new state is made for each
/// attempt, so that nothing an abandoned attempt collected remains.
pub fn read<W, S>(
    model: &Model,
    dir: &Path,
    options: &ReadOptions,
    threads: usize,
    work: &W,
    mut fresh: impl FnMut() -> Result<S, WorkError>,
    mut collect: impl FnMut(&mut S, W::Output) -> Result<(), WorkError> + Send,
) -> Result<(Summary, S), RosterError>
where
    W: Work,
    S: Send,
{
    for order in [MemberOrder::AsItIs, MemberOrder::Regrouped] {
        let mut state = fresh()?;
        let collect = |output| collect(&mut state, output);
        match stream_as(model, dir, options, threads, work, collect, order) {
            Ok(s) => {
                let how = match order {
                    MemberOrder::AsItIs => How::Streamed,
                    MemberOrder::Regrouped => How::Regrouped { bytes: s.regrouped_bytes },
                };
                let summary = Summary {
                    household_rows: s.household_rows,
                    member_rows: s.member_rows,
                    accepted: s.accepted,
                    refused: s.refused,
                    how,
                };
                return Ok((summary, state));
            }
            Err(StreamError::NotAligned(_)) => continue,
            Err(StreamError::Repeated(_)) => break,
            Err(StreamError::Roster(e)) => return Err(e),
            Err(StreamError::Consumer(e)) => return Err(RosterError::Work(e)),
        }
    }
    let roster = Roster::read(model, dir, options)?;
    let mut state = fresh()?;
    work_whole(&roster, work, |output| collect(&mut state, output))?;
    let summary = Summary {
        household_rows: roster.household_rows,
        member_rows: roster.member_rows,
        accepted: roster.households.len(),
        refused: roster.rejected_households(),
        how: How::Whole,
    };
    Ok((summary, state))
}

/// Hands a roster read whole to `work`, as a stream would: the accepted
/// households in batches of [`BATCH`], in file order, then the refused
/// ones, each with its problems in the order the read found them.
fn work_whole<W: Work>(
    roster: &Roster,
    work: &W,
    mut collect: impl FnMut(W::Output) -> Result<(), WorkError>,
) -> Result<(), WorkError> {
    let mut state = work.state();
    let (h_stride, m_stride) = (roster.household_stride, roster.member_stride);
    for chunk in roster.households.chunks(BATCH) {
        let (mut h_values, mut m_values) = (Vec::new(), Vec::new());
        let (mut starts, mut owner, mut member_ids) = (vec![0], Vec::new(), Vec::new());
        for (k, h) in chunk.iter().enumerate() {
            let inputs = roster.inputs(h);
            h_values.extend_from_slice(inputs.household);
            m_values.extend_from_slice(inputs.members);
            owner.extend(std::iter::repeat_n(k, h.member_count()));
            starts.push(owner.len());
            member_ids.extend(roster.members_of(h).map(|(id, _)| id));
        }
        let entries: Vec<Entry> = (0..chunk.len()).map(Entry::Accepted).collect();
        let checked = Checked {
            columns: Columns {
                household: &h_values,
                household_stride: h_stride,
                members: &m_values,
                member_stride: m_stride,
                starts: &starts,
                owner: &owner,
            },
            ids: chunk.iter().map(|h| h.id.as_str()).collect(),
            villages: chunk.iter().map(|h| h.village.as_str()).collect(),
            lines: chunk.iter().map(|h| h.line).collect(),
            member_ids,
            entries: &entries,
            issues: &[],
        };
        work.batch(&mut state, &checked)?;
        collect(work.output(&mut state))?;
    }
    // the refused: a household's problems follow one another
    let issues = &roster.issues;
    let mut entries = Vec::new();
    let mut start = 0;
    for end in 1..=issues.len() {
        let same = |a: &crate::Issue, b: &crate::Issue| {
            (&a.household_id, a.household_line) == (&b.household_id, b.household_line)
        };
        if end == issues.len() || !same(&issues[start], &issues[end]) {
            entries.push(Entry::Refused(start..end));
            start = end;
        }
    }
    for chunk in entries.chunks(BATCH) {
        let checked = Checked {
            columns: Columns {
                household: &[],
                household_stride: h_stride,
                members: &[],
                member_stride: m_stride,
                starts: &[0],
                owner: &[],
            },
            ids: Vec::new(),
            villages: Vec::new(),
            lines: Vec::new(),
            member_ids: Vec::new(),
            entries: chunk,
            issues,
        };
        work.batch(&mut state, &checked)?;
        collect(work.output(&mut state))?;
    }
    Ok(())
}

/// The optional columns (declared `optional = true`) that the roster in
/// `dir` lacks, as `file: column`, in the model's order: every row of that
/// file takes the column's default. Reads the two headers only.
pub fn absent_columns(model: &Model, dir: &Path, options: &ReadOptions) -> Result<Vec<String>, RosterError> {
    use crate::layout::RowReader;
    use hhrisk_model::expr::Scope;
    let workbook = hhrisk_tables::is_workbook(dir);
    let mut absent = Vec::new();
    for (file, sheet) in [(Scope::Household, "households"), (Scope::Member, "members")] {
        if !model.columns_of(file).any(|c| c.optional) {
            continue;
        }
        let path = if workbook { dir.to_path_buf() } else { dir.join(format!("{sheet}.csv")) };
        let reader = RowReader::open(model, &path, sheet, file, options)?;
        absent.extend(reader.layout.absent.iter().map(|c| format!("{sheet}: {c}")));
    }
    Ok(absent)
}
