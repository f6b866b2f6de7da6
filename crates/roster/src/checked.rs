//! A batch of households checked, as a [`Work`](crate::Work) sees it.

use std::hash::BuildHasher;
use std::ops::Range;

use hhrisk_model::expr::Columns;
use hhrisk_tables::Fields;

use crate::cell::same;
use crate::roster::{Issue, Known, Layout};
use crate::stream::{Batch, Done, StreamError, Work};
use crate::workers::Seen;

/// A worker's buffers, kept from batch to batch, and the keys it has seen.
pub(crate) struct Scratch {
    /// Household and person ids, as fingerprints (none without the check).
    pub(crate) seen: [Seen; 2],
    pub(crate) h_values: Vec<f64>,
    pub(crate) m_values: Vec<f64>,
    pub(crate) starts: Vec<usize>,
    pub(crate) owner: Vec<usize>,
    pub(crate) issues: Vec<Issue>,
    pub(crate) entries: Vec<Entry>,
}

impl Scratch {
    pub(crate) fn new(check: bool) -> Scratch {
        Scratch {
            seen: [Seen::new(check), Seen::new(check)],
            h_values: Vec::new(),
            m_values: Vec::new(),
            starts: Vec::new(),
            owner: Vec::new(),
            issues: Vec::new(),
            entries: Vec::new(),
        }
    }
}

/// One household of a checked batch, in file order.
#[derive(Debug, Clone)]
pub(crate) enum Entry {
    /// The `k`th household accepted.
    Accepted(usize),
    /// A household refused, with these problems.
    Refused(Range<usize>),
}

/// A batch of households checked: the accepted ones' inputs side by side
/// (for evaluating conditions over the whole batch at once), and every
/// household in file order, accepted or refused.
#[derive(Debug)]
pub struct Checked<'a> {
    /// The accepted households' inputs.
    pub columns: Columns<'a>,
    pub(crate) ids: Vec<&'a str>,
    pub(crate) villages: Vec<&'a str>,
    pub(crate) lines: Vec<u64>,
    /// The accepted households' members' `person_id`s, member row by
    /// member row (as `columns.owner`).
    pub(crate) member_ids: Vec<&'a str>,
    pub(crate) entries: &'a [Entry],
    pub(crate) issues: &'a [Issue],
}

/// A household of a checked batch, as [`Checked::households`] gives it.
#[derive(Debug)]
pub enum CheckedHousehold<'a> {
    /// The `index`th accepted household (its inputs are
    /// `columns.inputs(index)`).
    Accepted {
        /// Index among the accepted households of the batch.
        index: usize,
        /// `household_id`.
        id: &'a str,
        /// `village`.
        village: &'a str,
        /// Line in households.csv.
        line: u64,
        /// Its members' `person_id`s, in file order (trimmed, unmasked).
        members: &'a [&'a str],
    },
    /// A household refused, with every problem found in its rows.
    Refused(&'a [Issue]),
}

impl<'a> Checked<'a> {
    /// Every household of the batch, in file order.
    pub fn households(&self) -> impl Iterator<Item = CheckedHousehold<'_>> + '_ {
        self.entries.iter().map(|e| match e {
            &Entry::Accepted(index) => CheckedHousehold::Accepted {
                index,
                id: self.ids[index],
                village: self.villages[index],
                line: self.lines[index],
                members: &self.member_ids[self.columns.span(index)],
            },
            Entry::Refused(issues) => CheckedHousehold::Refused(&self.issues[issues.clone()]),
        })
    }

    /// Households in the batch, accepted or refused.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the batch is empty.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Checks a batch's rows and hands its households to `work`.
pub(crate) fn work_batch<W: Work>(
    h: &Layout,
    m: &Layout,
    work: &W,
    state: &mut W::State,
    scratch: &mut Scratch,
    batch: &Batch,
    hasher: &foldhash::quality::RandomState,
) -> Result<Done<W::Output>, StreamError> {
    let (mut accepted, mut refused) = (0, 0);
    let stride = m.stride();
    let Scratch { h_values, m_values, starts, owner, issues, entries, seen } = scratch;
    let check = !seen[0].buckets.is_empty();
    for v in [&mut *h_values, &mut *m_values] {
        v.clear();
    }
    for v in [&mut *starts, &mut *owner] {
        v.clear();
    }
    starts.push(0);
    issues.clear();
    entries.clear();
    let n = batch.spans.len();
    let (mut ids, mut villages, mut lines) =
        (Vec::with_capacity(n), Vec::with_capacity(n), Vec::with_capacity(n));
    let mut member_ids = Vec::with_capacity(batch.members.len());
    let mut last_village: Option<(&[u8], &str)> = None;
    for (i, span) in batch.spans.iter().enumerate() {
        let (h_kept, m_kept, before) = (h_values.len(), m_values.len(), issues.len());
        let ids_kept = member_ids.len();
        let (line, data, ends) = batch.households.get(i);
        let fields = Fields { data, ends };
        // households of a village follow one another: its name, read
        // once, is known for the next row with the same bytes
        let raw_village = fields.get(h.key_at);
        let village = match (last_village, raw_village) {
            (Some((raw, text)), Some(now)) if same(raw, now) => Some(text),
            _ => None,
        };
        let household =
            h.check_known(fields, line, Known { household: None, key: village }, h_values, issues);
        if let (Some(raw), true) = (raw_village, household.ok) {
            last_village = Some((raw, household.key));
        }
        let (mut ok, id) = (household.ok, household.household);
        if check {
            // folded: ids that differ only by case or width look like a
            // repeat, and the whole-file read names them
            seen[0].push(hasher.hash_one(crate::roster::fold_id(id)));
        }
        for r in span.clone() {
            let (m_line, data, ends) = batch.members.get(r);
            let m_fields = Fields { data, ends };
            // the splitter matched this row's household_id to `id`
            let known = Known { household: Some(id), key: None };
            let member = m.check_known(m_fields, m_line, known, m_values, issues);
            ok &= member.ok;
            member_ids.push(member.key);
            if check {
                seen[1].push(hasher.hash_one(crate::privacy::person_key(member.key)));
            }
        }
        for issue in &mut issues[before..] {
            issue.household_line.get_or_insert(line);
        }
        if span.is_empty() {
            // No members here. If the files are in different orders, some
            // member is never taken and the stream ends in NotAligned.
            issues.push(Issue::no_members(&h.path, line, id));
            ok = false;
        }
        if ok {
            entries.push(Entry::Accepted(accepted));
            owner.extend(std::iter::repeat_n(accepted, span.len()));
            starts.push(owner.len());
            ids.push(id);
            villages.push(household.key);
            lines.push(line);
            accepted += 1;
        } else {
            h_values.truncate(h_kept);
            m_values.truncate(m_kept);
            member_ids.truncate(ids_kept);
            entries.push(Entry::Refused(before..issues.len()));
            refused += 1;
        }
    }
    let checked = Checked {
        columns: Columns {
            household: h_values,
            household_stride: h.stride(),
            members: m_values,
            member_stride: stride,
            starts,
            owner,
        },
        ids,
        villages,
        lines,
        member_ids,
        entries,
        issues,
    };
    work.batch(state, &checked).map_err(StreamError::Consumer)?;
    Ok(Done { seq: batch.seq, output: work.output(state), accepted, refused })
}
